#include "dialogue.hpp"

#include <algorithm>

namespace parley::arithmetic {

Problem corrupt(const Problem &p, std::mt19937_64 &rng) {
    Problem w = p;
    const size_t k = std::uniform_int_distribution<size_t>(0, p.steps.size() - 1)(rng);
    int64_t delta = std::uniform_int_distribution<int>(1, 2)(rng);
    if (std::uniform_int_distribution<int>(0, 1)(rng) && w.steps[k].result - delta >= 0) delta = -delta;
    w.steps[k].result += delta;
    for (size_t i = k + 1; i < w.steps.size(); ++i) {
        w.steps[i].a = w.steps[i - 1].result;
        w.steps[i].result = w.steps[i].op == '+' ? w.steps[i].a + w.steps[i].b : w.steps[i].a - w.steps[i].b;
    }
    w.answer = w.steps.back().result;
    return w;
}

std::string agree_turn(const Problem &right) { return "I agree. " + solution(right); }
std::string challenge_turn(const Problem &right) { return "I think there is a mistake. " + solution(right); }
std::string revise_turn(const Problem &right) { return "You are right, I made a mistake. " + solution(right); }
std::string stand_turn(const Problem &right) { return "I checked it again and my answer is correct. " + solution(right); }

namespace {

// A Coral conversation: turn 0 is the student's (role 1) task message, then the teacher (role 0)
// and the student alternate. `train[k]` marks the turns that become rows.
struct Dialogue {
    std::vector<std::string> turns;
    std::vector<bool> train;
    void add(std::string text, bool trained) {
        turns.push_back(std::move(text));
        train.push_back(trained);
    }
};

int role_of(size_t turn) { return turn % 2 == 1 ? 0 : 1; } // teacher speaks at odd turns

// The row for turn k as its speaker sees the conversation (coral_eval's perspective flip).
SftRow row_for(const Dialogue &d, size_t k, const std::string &system) {
    SftRow r{{"system", system}};
    for (size_t i = 0; i <= k; ++i) r.push_back({role_of(i) == role_of(k) ? "assistant" : "user", d.turns[i]});
    return r;
}

} // namespace

std::vector<SftRow> make_sft_rows(ArithmeticDomain &domain, size_t rows, const SftOptions &opt) {
    std::mt19937_64 rng(opt.seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::uniform_int_distribution<size_t> pick(0, domain.items.size() - 1);
    std::vector<SftRow> out;
    while (out.size() < rows) {
        const size_t i = pick(rng);
        const Problem &p = domain.problem(i);
        if (u(rng) < opt.cot_share) {
            out.push_back({{"system", domain.render(i, PARLEY_TEXT_SYSTEM_COT, {})},
                           {"user", domain.render(i, PARLEY_TEXT_TASK, {})},
                           {"assistant", solution(p)}});
            continue;
        }
        Dialogue d;
        d.add(domain.render(i, PARLEY_TEXT_TASK, {}), false);
        const double x = u(rng);
        if (x < opt.teacher_wrong) { // wrong solution, challenged, revised
            d.add(solution(corrupt(p, rng)), false);
            d.add(challenge_turn(p), true);
            d.add(revise_turn(p), true);
        } else if (x < opt.teacher_wrong + opt.student_wrong) { // right solution, wrongly challenged
            d.add(solution(p), true);
            d.add(challenge_turn(corrupt(p, rng)), false);
            d.add(stand_turn(p), true);
            d.add(agree_turn(p), true);
        } else { // right solution, agreed
            d.add(solution(p), true);
            d.add(agree_turn(p), true);
        }
        const std::string system = domain.render(i, PARLEY_TEXT_SYSTEM_COLLABORATE, {});
        for (size_t k = 1; k < d.turns.size() && out.size() < rows; ++k)
            if (d.train[k]) out.push_back(row_for(d, k, system));
    }
    return out;
}

std::string corpus(ArithmeticDomain &domain) {
    std::string s = "system user assistant\n";
    for (int what : {PARLEY_TEXT_TASK, PARLEY_TEXT_TASK_TEACHER_FIRST, PARLEY_TEXT_SYSTEM_COLLABORATE, PARLEY_TEXT_SYSTEM_COT,
                     PARLEY_TEXT_EXTRACTOR_SYSTEM})
        s += domain.render(0, what, {}) + "\n";
    const Problem &p = domain.problem(0);
    s += domain.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, solution(p)) + "\n";
    for (const std::string &t : {agree_turn(p), challenge_turn(p), revise_turn(p), stand_turn(p)}) s += t + "\n";
    return s + common::kNotSure + "\n";
}

std::vector<std::string> phrases(ArithmeticDomain &domain) {
    const Problem &p = domain.problem(0);
    std::vector<std::string> out;
    for (int what : {PARLEY_TEXT_SYSTEM_COLLABORATE, PARLEY_TEXT_SYSTEM_COT, PARLEY_TEXT_EXTRACTOR_SYSTEM})
        out.push_back(domain.render(0, what, {}));
    for (int what : {PARLEY_TEXT_TASK, PARLEY_TEXT_TASK_TEACHER_FIRST}) { // up to "What is"
        const std::string t = domain.render(0, what, {});
        out.push_back(t.substr(0, t.find(" " + p.expression)));
    }
    const std::string sol = std::string(1, ' ').append(solution(p));
    for (const std::string &t : {agree_turn(p), challenge_turn(p), revise_turn(p), stand_turn(p)})
        out.push_back(t.substr(0, t.size() - sol.size()));
    const std::string a = answer_sentence(7);
    out.push_back(std::string(1, ' ').append(a, 0, a.find('7'))); // not " " + a temporary: GCC 12's bogus -Wrestrict (bug 105651)
    out.push_back(a.substr(a.find('7') + 1));
    return out;
}

} // namespace parley::arithmetic
