#include "generator.hpp"

#include <parley/sdk.hpp>

#include <random>
#include <set>
#include <sstream>

namespace parley::arithmetic {

const char *split_name(Split s) { return s == Split::Train ? "train" : "heldout"; }

static uint64_t fnv1a(const std::string &s) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

Split split_of(const std::string &expression, int heldout_percent) {
    return static_cast<int>(fnv1a(expression) % 100) < heldout_percent ? Split::Heldout : Split::Train;
}

static void check(const Spec &s) {
    auto bad = [](const std::string &why) { throw Error(PARLEY_ERR_INVALID_ARGUMENT, why); };
    if (s.count < 0) bad("count: must be >= 0");
    if (s.min_steps < 1 || s.max_steps < s.min_steps || s.max_steps > 16) bad("steps: need 1 <= min_steps <= max_steps <= 16");
    if (s.operand_min > s.operand_max) bad("operands: operand_min > operand_max");
    if (s.operand_min < -1000000 || s.operand_max > 1000000) bad("operands: outside [-1000000, 1000000]");
    if (s.ops.empty() || s.ops.find_first_not_of("+-") != std::string::npos) bad("ops: a non-empty subset of \"+-\"");
    if (s.heldout_percent < 1 || s.heldout_percent > 99) bad("heldout_percent: must be in 1..99");
}

static int64_t apply(int64_t a, char op, int64_t b) { return op == '+' ? a + b : a - b; }

std::vector<Problem> generate(const Spec &spec) {
    check(spec);
    std::mt19937_64 rng(spec.seed);
    std::uniform_int_distribution<int> nsteps(spec.min_steps, spec.max_steps);
    std::uniform_int_distribution<int64_t> operand(spec.operand_min, spec.operand_max);
    std::uniform_int_distribution<size_t> op(0, spec.ops.size() - 1);
    std::vector<Problem> out;
    std::set<std::string> seen;
    // Rejection sampling; the attempt cap turns a split too small for `count` into an error.
    const int64_t max_attempts = 1000 + spec.count * 2000;
    for (int64_t attempt = 0; static_cast<int64_t>(out.size()) < spec.count; ++attempt) {
        if (attempt >= max_attempts)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT,
                        "count: only " + std::to_string(out.size()) + " distinct " + split_name(spec.split) +
                            " problems found for this operand range and number of steps (asked for " +
                            std::to_string(spec.count) + ")");
        Problem p;
        int64_t total = operand(rng);
        const int n = nsteps(rng);
        bool ok = !(spec.nonnegative && total < 0);
        std::string expr = std::to_string(total);
        for (int k = 0; k < n; ++k) {
            Step s{total, spec.ops[op(rng)], operand(rng), 0};
            s.result = apply(s.a, s.op, s.b);
            if (spec.nonnegative && s.result < 0) ok = false;
            expr += std::string(" ") + s.op + " " + std::to_string(s.b);
            total = s.result;
            p.steps.push_back(s);
        }
        if (!ok || split_of(expr, spec.heldout_percent) != spec.split || !seen.insert(expr).second) continue;
        p.expression = std::move(expr);
        p.answer = total;
        p.id = std::string(split_name(spec.split)) + "-" + std::to_string(out.size());
        out.push_back(std::move(p));
    }
    return out;
}

Problem parse_expression(const std::string &expression) {
    std::istringstream in(expression);
    Problem p;
    int64_t total;
    if (!(in >> total)) throw Error(PARLEY_ERR_PARSE, "expression '" + expression + "': expected an integer first");
    char op;
    while (in >> op) {
        int64_t b;
        if ((op != '+' && op != '-') || !(in >> b))
            throw Error(PARLEY_ERR_PARSE, "expression '" + expression + "': expected '+ N' or '- N' steps");
        Step s{total, op, b, apply(total, op, b)};
        total = s.result;
        p.steps.push_back(s);
    }
    if (p.steps.empty()) throw Error(PARLEY_ERR_PARSE, "expression '" + expression + "': no operation");
    p.expression = expression;
    p.answer = total;
    return p;
}

std::string question(const Problem &p) { return "What is " + p.expression + "?"; }

std::string step_text(const Step &s) {
    return std::to_string(s.a) + " " + s.op + " " + std::to_string(s.b) + " = " + std::to_string(s.result) + ".";
}

std::string answer_sentence(int64_t answer) { return "The answer is $\\boxed{" + std::to_string(answer) + "}$."; }

std::string solution(const Problem &p) {
    std::string s;
    for (const Step &st : p.steps) s += step_text(st) + " ";
    return s + answer_sentence(p.answer);
}

} // namespace parley::arithmetic
