// parley/common/mc.hpp — multiple-choice beliefs and scoring shared by MMLU-Pro and GPQA
// (Coral's MMLUProExtractionPromptingEvaluator.normalize_answer and extract_letter_answer).
#pragma once

#include <algorithm>
#include <cstring>

#include <parley/common/coral.hpp>
#include <parley/common/pytext.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace parley::common::mc {

inline std::string canonical(char letter) { return std::string("The answer is (") + letter + ")."; }

inline bool is_upper_ascii(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_alnum_ascii(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Normalises the LLM extractor's reply (coral.md §1.6, identical in both profiles):
//   "not sure yet" in response.lower()      -> "not sure yet"
//   re.findall(r"\([A-Z]\)", response)[0]   -> "The answer is (X)."
//   otherwise                               -> "Error: <response>"
inline std::string normalise_llm(std::string_view response) {
    if (contains(py_lower(response), kNotSure)) return kNotSure;
    for (size_t i = 0; i + 2 < response.size(); ++i)
        if (response[i] == '(' && is_upper_ascii(response[i + 1]) && response[i + 2] == ')')
            return canonical(response[i + 1]);
    return "Error: " + std::string(response);
}

// Rule-based reading of an agent turn. Three tiers, the last occurrence of the best tier wins:
//   1. "correct answer is (X)"           (the format the system prompt asks for)
//   2. "answer is (X)" / "answer: (X)"
//   3. "answer is X" / "answer: X"       (a bare capital letter that names one of the options)
// Words are matched case-insensitively; the letter must be a capital. Markdown emphasis ('*',
// '_') and spaces may sit between the parts, e.g. "**The correct answer is: (B)**".
inline std::optional<char> rule_letter(std::string_view text, int n_options) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; };
    auto word_at = [&](size_t i, std::string_view w) {
        if (i + w.size() > text.size()) return false;
        for (size_t k = 0; k < w.size(); ++k)
            if (lower(text[i + k]) != w[k]) return false;
        return true;
    };
    auto skip_fill = [&](size_t i) { // spaces and markdown emphasis
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '*' || text[i] == '_')) ++i;
        return i;
    };
    std::optional<char> best[3];
    // Candidates start at an 'a' or 'A': jump between them with memchr (vectorised) rather than
    // testing every position — this runs on every turn of every conversation. The next 'a' and
    // the next 'A' are each searched again only once passed (a rare 'A' is not looked for
    // again after every 'a': that made the scan quadratic).
    size_t next_lower = 0, next_upper = 0; // positions not before which the next is searched
    bool have_lower = false, have_upper = false;
    auto find = [&](char c, size_t from) {
        const void *x = from < text.size() ? std::memchr(text.data() + from, c, text.size() - from) : nullptr;
        return x ? static_cast<size_t>(static_cast<const char *>(x) - text.data()) : text.size();
    };
    auto next_a = [&](size_t from) {
        if (!have_lower || next_lower < from) next_lower = find('a', from), have_lower = true;
        if (!have_upper || next_upper < from) next_upper = find('A', from), have_upper = true;
        return std::min(next_lower, next_upper);
    };
    for (size_t p = next_a(0); p + 6 <= text.size(); p = next_a(p + 1)) {
        if (!word_at(p, "answer")) continue;
        if (p > 0 && is_alnum_ascii(text[p - 1])) continue;
        // "correct" before it?
        bool correct = false;
        {
            size_t q = p;
            while (q > 0 && (text[q - 1] == ' ' || text[q - 1] == '*' || text[q - 1] == '_')) --q;
            if (q >= 7 && word_at(q - 7, "correct") && (q == 7 || !is_alnum_ascii(text[q - 8]))) correct = true;
        }
        size_t i = skip_fill(p + 6);
        bool linked = false;
        if (word_at(i, "is") && (i + 2 >= text.size() || !is_alnum_ascii(text[i + 2]))) {
            i = skip_fill(i + 2);
            linked = true;
        }
        if (i < text.size() && text[i] == ':') {
            i = skip_fill(i + 1);
            linked = true;
        }
        if (!linked) continue;
        if (i + 2 < text.size() && text[i] == '(' && is_upper_ascii(text[i + 1]) && text[i + 2] == ')') {
            best[correct ? 0 : 1] = text[i + 1];
            continue;
        }
        if (i < text.size() && is_upper_ascii(text[i]) && (i + 1 >= text.size() || !is_alnum_ascii(text[i + 1])) &&
            (i + 1 >= text.size() || text[i + 1] != '\'') && text[i] - 'A' < n_options) {
            best[2] = text[i];
        }
    }
    for (auto &b : best)
        if (b) return b;
    return std::nullopt;
}

// Coral's extract_letter_answer: "".join(x for x in s.lstrip("The answer is ").strip() if x.isupper())
// (lstrip removes a character *set*, so "Error: ..." keeps its "E").
inline std::string extract_letter_coral(std::string_view belief) {
    std::string_view s = py_strip(py_lstrip_chars(belief, "The answer is "));
    std::string out;
    for (size_t i = 0, len = 0; i < s.size(); i += len) {
        char32_t c = utf8_decode(s, i, len);
        if (py_isupper(c)) out.append(s.substr(i, len));
    }
    return out;
}

// Fixed: only a valid belief of the form "The answer is (X)." (prefix removed, not a character
// set) yields a letter.
inline std::string extract_letter_fixed(std::string_view belief) {
    if (!valid_belief(belief, Profile::Fixed)) return "";
    std::string_view s = py_strip(remove_prefix(py_strip(belief), "The answer is "));
    s = remove_suffix(s, ".");
    if (s.size() == 3 && s[0] == '(' && is_upper_ascii(s[1]) && s[2] == ')') return std::string(1, s[1]);
    return "";
}

inline bool correct(std::string_view belief, char gold, Profile p) {
    std::string l = p == Profile::Coral ? extract_letter_coral(belief) : extract_letter_fixed(belief);
    return l.size() == 1 && l[0] == gold;
}

// The belief for extract(): LLM_OUTPUT normalises the extractor's reply; RULE reads the turn and
// yields the same canonical form, or "not sure yet" when it states no answer.
inline parley::Belief extract(int mode, std::string_view text, int n_options, Profile p) {
    require_mode(mode);
    parley::Belief b;
    if (mode == PARLEY_EXTRACT_LLM_OUTPUT) {
        b.text = normalise_llm(text);
    } else {
        auto l = rule_letter(text, n_options);
        b.text = l ? canonical(*l) : std::string(kNotSure);
    }
    b.valid = valid_belief(b.text, p);
    return b;
}

} // namespace parley::common::mc
