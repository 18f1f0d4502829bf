#include "hitom.hpp"

#include <parley/common/jsonl.hpp>
#include <parley/common/mc.hpp>
#include <parley/common/tom.hpp>

#include <set>

namespace parley::hitom {

using common::ojson;
using common::RowError;

std::optional<Choices> parse_choices(std::string_view s) {
    Choices out;
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(", ", i);
        if (j == std::string_view::npos) j = s.size();
        std::string_view part = s.substr(i, j - i);
        size_t dot = part.find(". ");
        if (dot != 1 || part[0] < 'A' || part[0] > 'Z') return std::nullopt;
        out.emplace_back(part[0], std::string(part.substr(3)));
        i = j + 2;
    }
    if (out.empty()) return std::nullopt;
    return out;
}

static bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::optional<char> resolve_choice(std::string_view b, const Choices &choices) {
    // 1. the choice texts named in the belief (bounded by non-alphanumerics); a text that is part
    //    of another named text does not count ("drawer" inside "green_drawer"); exactly one must
    //    remain.
    std::vector<std::pair<char, std::string>> named;
    for (auto &[label, text] : choices) {
        const std::string t = common::py_lower(text);
        if (t.empty()) continue;
        for (size_t i = b.find(t); i != std::string_view::npos; i = b.find(t, i + 1)) {
            const size_t j = i + t.size();
            if ((i == 0 || !alnum(b[i - 1])) && (j == b.size() || !alnum(b[j]))) {
                named.emplace_back(label, t);
                break;
            }
        }
    }
    std::optional<char> only;
    size_t kept = 0;
    for (auto &[label, t] : named) {
        bool inside_other = false;
        for (auto &[l2, t2] : named)
            if (l2 != label && t2 != t && t2.find(t) != std::string::npos) inside_other = true;
        if (inside_other) continue;
        if (!only || *only != label) ++kept;
        only = label;
    }
    if (kept == 1) return only;
    if (kept > 1) return std::nullopt;
    // 2. a bare letter: "k", "(k)", "k.", "k)", or "k." / "k)" followed by more text
    std::string_view s = b;
    bool paren = false;
    if (!s.empty() && s.front() == '(') {
        s.remove_prefix(1);
        paren = true;
    }
    if (s.empty()) return std::nullopt;
    const char l = s.front();
    const char upper = (l >= 'a' && l <= 'z') ? char(l - 32) : l;
    bool known = false;
    for (auto &c : choices) known = known || c.first == upper;
    if (!known) return std::nullopt;
    s.remove_prefix(1);
    if (s.empty()) return paren ? std::nullopt : std::optional<char>(upper);
    if (s.front() == ')' || s.front() == '.' || s.front() == ':') {
        s.remove_prefix(1);
        if (paren && !s.empty() && s.front() == '.') s.remove_prefix(1);
        return upper;
    }
    return std::nullopt;
}

static parley::DomainInfo hitom_info() {
    parley::DomainInfo d;
    d.task_name = common::tom::kTaskName;
    d.task_specific_inst = common::tom::kTaskInst;
    d.matcher_name = "ExploreTOMMatchEvaluator";          // ts_hi_tom.yaml reuses it
    d.extractor_name = "HiTOMExtractionPromptingEvaluator"; // ts_hi_tom.yaml's extractor class
    d.score_json_type = PARLEY_SCORE_JSON_INT;
    return d;
}

HiTom::HiTom(const parley::Config &cfg)
    : TableDomain(cfg, hitom_info(), common::tom::prompts(), {"story", "question"}, "field 'data': no items"),
      profile_(common::parse_profile(cfg)), mc_(cfg.get<bool>(kMultipleChoice)) {}

static std::string locate(const std::string &file, std::string_view text, size_t byte) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
        if (text[i] == '\n') { ++line; col = 1; }
        else ++col;
    }
    return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

void HiTom::read(const std::string &path, parley::LoadContext &ctx, Table &out) {
    const std::string text = common::read_file(path);
    ojson doc;
    try {
        doc = ojson::parse(text);
    } catch (const nlohmann::json::parse_error &e) {
        throw Error(PARLEY_ERR_PARSE, locate(path, text, e.byte ? e.byte - 1 : 0) + ": invalid JSON: " + e.what());
    }
    if (!doc.is_object() || !doc.contains("data") || !doc["data"].is_array())
        throw Error(PARLEY_ERR_PARSE, path + ":1: field 'data': missing, expected {\"data\": [ ... ]}");
    const ojson &data = doc["data"];
    const std::vector<size_t> lines = common::array_element_lines(text, "data");

    std::set<std::string> ids;
    for (size_t k = 0; k < data.size(); ++k) {
        try {
            std::string where = path + ":" + (k < lines.size() && lines.size() == data.size() ? std::to_string(lines[k]) : std::string("?")) +
                                ": data[" + std::to_string(k) + "]";
            const ojson &e = data[k];
            if (!e.is_object()) throw RowError(where + ": expected an object");
            const int64_t sid = common::int_field(e, where, "sample_id");
            const std::string id = std::to_string(sid);
            where += " (sample_id " + id + ")";
            if (ids.count(id)) throw RowError(where + ": field 'sample_id': duplicate id");
            Question r;
            r.story = common::string_field(e, where, "story");
            r.question = common::string_field(e, where, "question");
            r.answer = common::string_field(e, where, "answer");
            if (common::py_strip(r.answer).empty()) throw RowError(where + ": field 'answer': empty (no gold answer)");
            ojson meta = e;
            meta["expected_answer"] = r.answer;
            auto ch = e.find("choices");
            if (ch != e.end() && ch->is_string()) {
                if (auto parsed = parse_choices(ch->get<std::string>())) r.choices = std::move(*parsed);
            }
            if (!r.choices.empty()) {
                int hits = 0;
                for (size_t c = 0; c < r.choices.size(); ++c)
                    if (r.choices[c].second == r.answer) {
                        ++hits;
                        r.gold_letter = r.choices[c].first;
                        meta["label"] = c;
                    }
                if (hits != 1) {
                    r.gold_letter = 0;
                    meta.erase("label");
                }
            }
            if (mc_) {
                if (ch == e.end() || ch->is_null()) throw RowError(where + ": field 'choices': missing");
                if (!ch->is_string()) throw RowError(where + ": field 'choices': expected a string");
                if (r.choices.empty()) throw RowError(where + ": field 'choices': expected \"A. x, B. y, ...\"");
                if (!r.gold_letter)
                    throw RowError(where + ": field 'choices': the answer is not exactly one of the choices (no gold letter)");
            }
            Item it;
            it.id = id;
            it.gold = mc_ ? std::string(1, r.gold_letter) : r.answer;
            if (auto o = e.find("question_order"); o != e.end() && o->is_number_integer())
                it.category = "order_" + std::to_string(o->get<int64_t>());
            it.metadata_json = common::dump(meta);
            it.text = r.question;
            ids.insert(id);
            out.push_back({std::move(it), std::move(r)});
        } catch (const RowError &err) {
            ctx.malformed(err.what());
        }
    }
}

std::string HiTom::shown_question(size_t index) const {
    const Question &r = row(index);
    if (!mc_) return r.question;
    std::string q = r.question + "\nChoices: ";
    for (size_t c = 0; c < r.choices.size(); ++c) {
        if (c) q += ", ";
        q += r.choices[c].first;
        q += ". ";
        q += r.choices[c].second;
    }
    return q;
}

parley::Belief HiTom::extract(size_t index, int mode, std::string_view text) {
    const Question &r = row(index);
    parley::Belief b = common::tom::extract(mode, text, true, profile_);
    if (!mc_) return b;
    // Multiple choice: a belief naming one choice becomes "The answer is (X).".
    if (b.text == common::kNotSure) {
        if (mode == PARLEY_EXTRACT_RULE) {
            if (auto l = common::mc::rule_letter(text, static_cast<int>(r.choices.size()))) {
                b.text = common::mc::canonical(*l);
                b.valid = true;
            }
        }
        return b;
    }
    if (auto l = resolve_choice(b.text, r.choices)) {
        b.text = common::mc::canonical(*l);
        b.valid = true;
    }
    return b;
}

double HiTom::score(size_t index, std::string_view belief) {
    const Question &r = row(index);
    if (!mc_) return common::tom::match(belief, r.answer, profile_) ? 1.0 : 0.0;
    if (!common::valid_belief(belief, profile_) && profile_ == common::Profile::Fixed) return 0.0;
    std::string_view s = common::py_strip(belief);
    if (s.size() == 18 && common::starts_with(s, "The answer is (") && s.substr(16) == ").")
        return s[15] == r.gold_letter ? 1.0 : 0.0;
    auto l = resolve_choice(belief, r.choices);
    return l && *l == r.gold_letter ? 1.0 : 0.0;
}

} // namespace parley::hitom
