// parley/common/tom.hpp — theory-of-mind beliefs and scoring shared by ExploreToM and Hi-ToM
// (Coral's ExploreTOMExtractionPromptingEvaluator / HiTOMExtractionPromptingEvaluator
// normalize_answer and ExploreTOMMatchEvaluator.em_match).
#pragma once

#include <parley/common/coral.hpp>
#include <parley/common/pytext.hpp>

#include <string>
#include <string_view>

namespace parley::common::tom {

// Coral's theory-of-mind texts (ts_explore_tom, ts_hi_tom): placeholders {story}, {question}.
inline constexpr const char *kTaskName = "theory-of-mind reasoning";
inline constexpr const char *kTaskInst = "Put your final answer to the question at the end as \"Short Answer: {answer}\"";

inline parley::Prompts::Defaults prompts() {
    parley::Prompts::Defaults p;
    p.task = "I'm trying to answer this question based on the following story:\nStory: {story}\nQuestion: {question}";
    p.task_teacher_first = "I would like you to try to answer a question based on the following story: \nStory: {story}\nQuestion: {question}";
    p.extractor = "**This is the original story and question:**\nStory: {story}\nQuestion: {question}\n\n"
                  "**This is the response you need to extract an answer from:**\n\n{response}\n\n"
                  "**Extract the final answer which should be less than five words, or say \"not sure yet\".**";
    return p;
}

inline bool word_byte(char c) {
    auto u = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || u >= 0x80;
}

// `needle` occurs in `hay` with a non-word character (or an end) on both sides. With
// `underscore_separates`, '_' also counts as a separator (Hi-ToM beliefs join words with '_').
inline bool contains_token(std::string_view hay, std::string_view needle, bool underscore_separates = false) {
    if (needle.empty()) return false;
    auto word = [&](char c) { return word_byte(c) && !(underscore_separates && c == '_'); };
    for (size_t i = hay.find(needle); i != std::string_view::npos; i = hay.find(needle, i + 1)) {
        const size_t j = i + needle.size();
        if ((i == 0 || !word(hay[i - 1])) && (j == hay.size() || !word(hay[j]))) return true;
    }
    return false;
}

// Removes "the" as a whole word and collapses the runs of spaces that leaves.
inline std::string remove_word_the(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        if (s.substr(i, 3) == "the" && (i == 0 || !word_byte(s[i - 1])) && (i + 3 == s.size() || !word_byte(s[i + 3]))) {
            i += 3;
            continue;
        }
        out += s[i++];
    }
    std::string collapsed;
    for (char c : out)
        if (!(c == ' ' && !collapsed.empty() && collapsed.back() == ' ')) collapsed += c;
    return collapsed;
}

// The extractor reply -> belief (coral.md §1.6):
//   "not sure yet" in response.lower()  -> "not sure yet"
//   m = re.findall(r"(?:Short Answer: (?:The final answer is )?|The final answer is )?(.*)", response)[0]
//       (the first line, with those prefixes removed only at its start)
//   m.lower().replace('the', '').rstrip('.').strip()          [+ .replace(' ', '_') for Hi-ToM]
// fixed: "the" is removed as a whole word (spaces collapsed), and whitespace is stripped before
// the trailing '.' too ("drawer. " -> "drawer").
inline std::string normalise_llm(std::string_view response, bool hitom, Profile p) {
    if (contains(py_lower(response), kNotSure)) return kNotSure;
    std::string_view line = response.substr(0, response.find('\n'));
    if (starts_with(line, "Short Answer: ")) {
        line.remove_prefix(14);
        if (starts_with(line, "The final answer is ")) line.remove_prefix(20);
    } else if (starts_with(line, "The final answer is ")) {
        line.remove_prefix(20);
    }
    std::string s = py_lower(line);
    if (p == Profile::Coral) {
        s = py_replace(s, "the", "");
        s = std::string(py_strip(py_rstrip_chars(s, ".")));
    } else {
        s = remove_word_the(s);
        s = std::string(py_strip(py_rstrip_chars(py_strip(s), ".")));
    }
    if (hitom) s = py_replace(s, " ", "_");
    return s;
}

// Rule-based reading of an agent turn: the text after the last "Short Answer:" (case-insensitive,
// markdown '*' allowed around it; the next non-empty line when nothing follows on its line),
// with surrounding '*', quotes and braces removed, normalised as an extractor reply
// "Short Answer: <text>" would be. "not sure yet" when the turn has no "Short Answer:".
inline std::string rule_belief(std::string_view turn, bool hitom, Profile p) {
    auto ieq = [](char a, char b) {
        auto l = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; };
        return l(a) == l(b);
    };
    static constexpr std::string_view key = "short answer";
    size_t found = std::string_view::npos;
    for (size_t i = 0; i + key.size() <= turn.size(); ++i) {
        bool ok = true;
        for (size_t k = 0; k < key.size() && ok; ++k) ok = ieq(turn[i + k], key[k]);
        if (!ok) continue;
        size_t j = i + key.size();
        while (j < turn.size() && (turn[j] == '*' || turn[j] == ' ')) ++j;
        if (j < turn.size() && turn[j] == ':') found = j + 1;
    }
    if (found == std::string_view::npos) return kNotSure;
    auto clean = [](std::string_view s) {
        std::string_view t = py_strip(s);
        for (bool changed = true; changed && !t.empty();) {
            changed = false;
            const char f = t.front(), b = t.back();
            if (f == '*' || f == '"' || f == '{' || f == '`') { t.remove_prefix(1); changed = true; }
            else if (b == '*' || b == '"' || b == '}' || b == '`') { t.remove_suffix(1); changed = true; }
            t = py_strip(t);
        }
        return t;
    };
    std::string_view rest = turn.substr(found);
    size_t eol = rest.find('\n');
    std::string_view answer = clean(rest.substr(0, eol));
    while (answer.empty() && eol != std::string_view::npos) {
        rest = rest.substr(eol + 1);
        eol = rest.find('\n');
        answer = clean(rest.substr(0, eol));
    }
    return normalise_llm("Short Answer: " + std::string(answer), hitom, p);
}

// ExploreTOMMatchEvaluator.em_match (coral), with target = expected_answer, pred = belief.
inline bool match_coral(std::string_view pred, std::string_view target) {
    auto first = [](std::string_view s, char sep) { return s.substr(0, s.find(sep)); };
    if (contains(target, "does not know") && contains(pred, " not ")) return true;
    if (starts_with(target, "knows about") && !contains(pred, " not ")) return true; // "knows about" in target[:11]
    if (target == "yes" && (first(pred, ',') == "yes" || first(pred, '.') == "yes")) return true;
    if (target == "no" && (first(pred, ',') == "no" || first(pred, '.') == "no")) return true;
    return contains(target, pred) || contains(pred, target);
}

inline bool negated(std::string_view pred) { return contains_token(pred, "not") || contains(pred, "n't"); }

// fixed: invalid (and empty) beliefs never match; knowledge questions need "know" with the right
// polarity; yes/no questions are decided by the first word only; other answers must contain the
// target (or be contained in it) as whole words. Both sides are compared lower-case with the
// word "the" removed (the belief already is), so "back office of the vet shop" matches.
inline bool match_fixed(std::string_view pred_raw, std::string_view target_raw) {
    if (!valid_belief(pred_raw, Profile::Fixed)) return false;
    const std::string pred = std::string(py_strip(remove_word_the(py_lower(pred_raw))));
    const std::string target = std::string(py_strip(remove_word_the(py_lower(target_raw))));
    if (pred.empty()) return false;
    auto first = [](std::string_view s, char sep) { return py_strip(s.substr(0, s.find(sep))); };
    if (contains(target, "does not know")) return contains(pred, "know") && negated(pred);
    if (starts_with(target, "knows about")) return contains(pred, "know") && !negated(pred);
    if (target == "yes" || target == "no") return first(pred, ',') == target || first(pred, '.') == target || first(pred, ' ') == target;
    // pred inside target: whole words ("drawer" does not name "green_drawer"); target inside
    // pred: '_' may separate it from the surrounding words ("in_green_drawer").
    return contains_token(target, pred) || contains_token(pred, target, true);
}

inline bool match(std::string_view pred, std::string_view target, Profile p) {
    return p == Profile::Coral ? match_coral(pred, target) : match_fixed(pred, target);
}

inline parley::Belief extract(int mode, std::string_view text, bool hitom, Profile p) {
    require_mode(mode);
    parley::Belief b;
    b.text = mode == PARLEY_EXTRACT_LLM_OUTPUT ? normalise_llm(text, hitom, p) : rule_belief(text, hitom, p);
    b.valid = valid_belief(b.text, p);
    return b;
}

} // namespace parley::common::tom
