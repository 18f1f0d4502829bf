#include "arithmetic.hpp"

#include "grader.hpp"      // plugins/math: coral_raw_answer, grade_answer, parse_answer
#include "math_domain.hpp" // plugins/math: normalise_llm, last_boxed_content

#include <parley/common/jsonl.hpp>
#include <parley/common/pytext.hpp>

#include <charconv>
#include <regex>
#include <set>

namespace parley::arithmetic {

using common::ojson;
using common::RowError;

namespace {

int64_t int_in(const ojson &j, const std::string &where, const char *key) {
    if (!j.is_number_integer()) throw Error(PARLEY_ERR_PARSE, where + ": field '" + key + "': expected an integer");
    return j.get<int64_t>();
}

// [lo, hi] or a single integer (lo = hi).
std::pair<int64_t, int64_t> range_in(const ojson &j, const std::string &where, const char *key) {
    if (j.is_number_integer()) return {j.get<int64_t>(), j.get<int64_t>()};
    if (!j.is_array() || j.size() != 2 || !j[0].is_number_integer() || !j[1].is_number_integer())
        throw Error(PARLEY_ERR_PARSE, where + ": field '" + key + "': expected [min, max] (integers)");
    return {j[0].get<int64_t>(), j[1].get<int64_t>()};
}

std::optional<int64_t> to_int(std::string_view s) {
    s = common::py_strip(s);
    int64_t v;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

} // namespace

Spec parse_spec(const std::string &text, const std::string &where) {
    ojson j;
    try {
        j = ojson::parse(text);
    } catch (const nlohmann::json::parse_error &e) {
        throw Error(PARLEY_ERR_PARSE, where + ": invalid JSON (byte " + std::to_string(e.byte) + "): " + e.what());
    }
    if (!j.is_object()) throw Error(PARLEY_ERR_PARSE, where + ": expected a JSON object (a generator spec)");
    Spec s;
    for (auto &[key, v] : j.items()) {
        const std::string w = where;
        if (key == "split") {
            const std::string name = v.is_string() ? v.get<std::string>() : "";
            if (name == "train") s.split = Split::Train;
            else if (name == "heldout") s.split = Split::Heldout;
            else throw Error(PARLEY_ERR_PARSE, w + ": field 'split': expected \"train\" or \"heldout\"");
        } else if (key == "count") s.count = int_in(v, w, "count");
        else if (key == "seed") {
            if (int_in(v, w, "seed") < 0) throw Error(PARLEY_ERR_PARSE, w + ": field 'seed': must be >= 0");
            s.seed = static_cast<uint64_t>(v.get<int64_t>());
        } else if (key == "steps") {
            auto [lo, hi] = range_in(v, w, "steps");
            s.min_steps = static_cast<int>(lo);
            s.max_steps = static_cast<int>(hi);
        } else if (key == "operands") std::tie(s.operand_min, s.operand_max) = range_in(v, w, "operands");
        else if (key == "ops") {
            if (!v.is_string()) throw Error(PARLEY_ERR_PARSE, w + ": field 'ops': expected a string such as \"+-\"");
            s.ops = v.get<std::string>();
        } else if (key == "nonnegative") {
            if (!v.is_boolean()) throw Error(PARLEY_ERR_PARSE, w + ": field 'nonnegative': expected true or false");
            s.nonnegative = v.get<bool>();
        } else if (key == "heldout_percent") s.heldout_percent = static_cast<int>(int_in(v, w, "heldout_percent"));
        else if (key == "comment") continue;
        else
            throw Error(PARLEY_ERR_PARSE, w + ": field '" + key +
                                              "': unknown (split, count, seed, steps, operands, ops, nonnegative, heldout_percent, comment)");
    }
    try {
        generate(Spec{s.split, 0, s.seed, s.min_steps, s.max_steps, s.operand_min, s.operand_max, s.ops, s.nonnegative,
                      s.heldout_percent}); // validates the fields, draws nothing
    } catch (const Error &e) {
        throw Error(PARLEY_ERR_PARSE, where + ": field " + e.what());
    }
    return s;
}

std::string rule_belief(std::string_view text) {
    if (auto boxed = math::last_boxed_content(text); boxed && !common::py_strip(*boxed).empty())
        return "The answer is $\\boxed{" + *boxed + "}$.";
    static const std::regex stated(R"(answer is\s*(-?\d+))", std::regex::icase);
    std::string s(text), last;
    for (std::sregex_iterator it(s.begin(), s.end(), stated), end; it != end; ++it) last = (*it)[1];
    return last.empty() ? std::string(common::kNotSure) : answer_sentence(*to_int(last));
}

ArithmeticDomain::ArithmeticDomain(const parley::Config &cfg) : profile_(common::parse_profile(cfg)) {}

void ArithmeticDomain::set_problems(std::vector<Problem> problems) {
    items.clear();
    for (const Problem &p : problems) {
        Item it;
        it.id = p.id;
        it.gold = std::to_string(p.answer);
        it.category = std::to_string(p.steps.size()) + "-step";
        it.text = question(p);
        ojson m = {{"expression", p.expression}, {"answer", it.gold}, {"steps", p.steps.size()}};
        it.metadata_json = common::dump(m);
        items.push_back(std::move(it));
    }
    problems_ = std::move(problems);
}

void ArithmeticDomain::load(const std::string &path, parley::LoadContext &ctx) {
    const std::string text = common::read_file(path);
    if (path.size() < 6 || path.substr(path.size() - 6) != ".jsonl") {
        set_problems(generate(parse_spec(text, path)));
        return;
    }
    std::vector<Problem> problems;
    std::set<std::string> ids;
    size_t row = 0;
    common::for_each_line(text, [&](size_t line, std::string_view l) {
        const size_t k = row++;
        try {
            ojson j = common::parse_row(path, line, l);
            const std::string where = common::at(path, line);
            std::string id = j.contains("id") ? common::string_field(j, where, "id") : std::to_string(k);
            Problem p;
            try {
                p = parse_expression(common::string_field(j, where, "expression"));
            } catch (const Error &e) {
                throw RowError(where + ": field 'expression': " + e.what());
            }
            if (j.contains("answer") && common::int_field(j, where, "answer") != p.answer)
                throw RowError(where + ": field 'answer': " + std::to_string(j["answer"].get<int64_t>()) + " is not the value of '" +
                               p.expression + "' (" + std::to_string(p.answer) + ")");
            if (!ids.insert(id).second) throw RowError(where + ": field 'id': duplicate '" + id + "'");
            p.id = std::move(id);
            problems.push_back(std::move(p));
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    });
    if (problems.empty() && ctx.skipped() == 0) throw Error(PARLEY_ERR_PARSE, path + ": no problems found");
    set_problems(std::move(problems));
}

// One of Coral's prompt templates with this domain's task name and instruction.
static std::string coral_text(const char *coral_template) {
    return parley::Template(coral_template).render({{"task_name", kTaskName}, {"task_specific_inst", kTaskInst}});
}

std::string ArithmeticDomain::render(size_t index, int what, std::string_view input) {
    const std::string q = question(problems_.at(index));
    switch (what) {
    case PARLEY_TEXT_TASK: return "I'm trying to solve this arithmetic problem: \"" + q + "\"";
    case PARLEY_TEXT_TASK_TEACHER_FIRST: return "I would like you to try and solve this arithmetic problem: \"" + q + "\"";
    case PARLEY_TEXT_SYSTEM_COLLABORATE: return coral_text(parley::coral::kAssistantSbsShort);
    case PARLEY_TEXT_SYSTEM_COT: return coral_text(parley::coral::kSimpleCot);
    case PARLEY_TEXT_EXTRACTOR_SYSTEM: return coral_text(parley::coral::kExtractorSystem);
    case PARLEY_TEXT_EXTRACTOR_PROMPT: // MATH's extractor prompt, with the arithmetic question
        return common::extractor_prompt("**This is the original question:**\n" + q + "\n\n" +
                                        "**This is the response you need to extract answer from:**\n\n" + std::string(input) +
                                        "\n\n**Extract the answer in $\\boxed{}$ format, or say \"not sure yet\".**");
    default: throw Error(PARLEY_ERR_UNSUPPORTED, "unknown text kind " + std::to_string(what));
    }
}

parley::Belief ArithmeticDomain::extract(size_t index, int mode, std::string_view text) {
    (void)problems_.at(index);
    common::require_mode(mode);
    parley::Belief b;
    b.text = mode == PARLEY_EXTRACT_LLM_OUTPUT ? math::normalise_llm(text) : rule_belief(text);
    b.valid = common::valid_belief(b.text, profile_);
    return b;
}

std::optional<int64_t> ArithmeticDomain::fixed_answer(std::string_view belief) const {
    if (!common::valid_belief(belief, common::Profile::Fixed)) return std::nullopt;
    if (auto boxed = math::parse_answer(belief)) return to_int(*boxed);
    std::string_view s = common::py_strip(belief);
    if (!common::starts_with(s, "The answer is ")) return std::nullopt;
    s = common::remove_suffix(common::remove_prefix(s, "The answer is "), ".");
    return to_int(s);
}

double ArithmeticDomain::score(size_t index, std::string_view belief) {
    const std::string &gold = items.at(index).gold;
    if (profile_ == common::Profile::Coral) return math::grade_answer(math::coral_raw_answer(belief), gold) ? 1.0 : 0.0;
    auto v = fixed_answer(belief);
    return v && std::to_string(*v) == gold ? 1.0 : 0.0;
}

parley::DomainInfo ArithmeticDomain::info() const {
    parley::DomainInfo d;
    d.task_name = kTaskName;
    d.task_specific_inst = kTaskInst;
    d.matcher_name = "MATHMatchEvaluator";
    d.extractor_name = "MATHExtractionPromptingEvaluator";
    d.score_json_type = PARLEY_SCORE_JSON_FLOAT;
    d.sensitive_text = false;
    return d;
}

} // namespace parley::arithmetic
