// plugins/math/grader.cpp — MATH answer equivalence (see grader.hpp).
//
// Reference sources followed (behaviour re-implemented in C++, no code copied):
//  * openai/prm800k prm800k/grading/grader.py — grade_answer, _normalize, split_tuple, _is_frac,
//    _str_is_int/_str_to_int, _strip_properly_formatted_commas, _inject_implicit_mixed_number,
//    should_allow_eval (letter count / "^{" "^(" / exponent regex guards), _sympy_parse, _parse_latex.
//    Coral's [mft] libs/multiagent_ft/grader.py (vsubramaniam851/multiagent-ft) is this grader; the mft
//    copy itself was not available, so the PRM800K originals were followed.
//  * openai/prm800k prm800k/grading/math_normalize.py — normalize_answer (enclosing \text{} + _strip_string).
//  * hendrycks/math modeling/math_equivalence.py — _strip_string, _fix_fracs, _fix_sqrt, _fix_a_slash_b,
//    _remove_right_units; modeling/dataset/util.py — last_boxed_only_string; modeling/eval_math_gpt.py —
//    remove_boxed. The "\boxed 5" form follows the Minerva / lm-evaluation-harness variant.
//  * pylatexenc 2.10 (the library grader.py calls through latex2text.LatexNodes2Text().latex_to_text):
//    latexwalker tokenisation and macro-argument parsing, latex2text's default macro/specials/environment
//    conversions (fractions to "a/b" without parentheses, \sqrt{x} to "√(x)", unknown macros dropped, ...).
//  * sympy parse_expr with standard_transformations + implicit_multiplication_application (number
//    tokenisation, symbol splitting, implicit multiplication) — emulated by a small parser; the decision
//    sympy.simplify(gt - given) == 0 is replaced by exact rational arithmetic when both sides are rational,
//    a small polynomial normal form with 53-bit Float coefficients when a float literal is involved (sympy
//    only cancels Float terms exactly), and numeric identity testing at random complex points otherwise.
//
// Differences from the Python grader that are known and accepted are listed in the test file.

#include "grader.hpp"

#include <parley/common/pytext.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <numbers>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::math {
namespace {

// Stands for a Python exception raised inside a try/except of the reference code.
struct PyError {};

constexpr size_t kMaxLatexDepth = 200;   // nested groups / arguments before the conversion "fails"
constexpr size_t kMaxLatexSteps = 200000; // tokens read by one LaTeX conversion before it "fails"
constexpr size_t kMaxExprLen = 4000;     // longer element pairs are not evaluated (sympy would be slow too)
constexpr size_t kMaxExprDepth = 200;    // parser recursion bound

// ------------------------------------------------------------------------------------------------
// UTF-8 and Python str helpers
// ------------------------------------------------------------------------------------------------

size_t cp_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1; // stray continuation / invalid byte: one "character"
}

// Decodes the code point at s[i]; returns it and sets len (bytes, clipped to the string end).
char32_t decode_at(std::string_view s, size_t i, size_t &len) {
    auto c = static_cast<unsigned char>(s[i]);
    len = std::min(cp_len(c), s.size() - i);
    if (len == 1) return c;
    char32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < len; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) { // malformed: treat the lead byte alone
            len = 1;
            return c;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    return cp;
}

using parley::common::py_isspace;
using parley::common::utf8_append;


bool ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }

// Python str.isalpha(), approximated outside ASCII by the scripts that can occur in answers.
bool py_isalpha(char32_t c) {
    if (c < 0x80) return ascii_alpha(c);
    if (c == 0xAA || c == 0xB5 || c == 0xBA) return true;
    if (c >= 0xC0 && c <= 0x24F) return c != 0xD7 && c != 0xF7;
    if (c >= 0x250 && c <= 0x2C1) return true;
    if (c >= 0x370 && c <= 0x3FF)
        return c != 0x375 && c != 0x37E && c != 0x384 && c != 0x385 && c != 0x387 && c != 0x3F6 && c != 0x378 &&
               c != 0x379 && !(c >= 0x380 && c <= 0x383) && c != 0x38B && c != 0x38D && c != 0x3A2;
    if (c >= 0x400 && c <= 0x52F) return !(c >= 0x482 && c <= 0x489);
    if (c >= 0x5D0 && c <= 0x5EA) return true; // Hebrew letters (\aleph etc.)
    if (c == 0x2102 || c == 0x2107 || (c >= 0x210A && c <= 0x2113) || c == 0x2115 || (c >= 0x2119 && c <= 0x211D) ||
        c == 0x2124 || c == 0x2126 || c == 0x2128 || (c >= 0x212A && c <= 0x212D) || (c >= 0x212F && c <= 0x2139) ||
        (c >= 0x213C && c <= 0x213F) || (c >= 0x2145 && c <= 0x2149) || c == 0x214E)
        return true;
    if (c >= 0x1D400 && c <= 0x1D7CB) // mathematical alphanumerics (letters; the few symbols are rare)
        return !(c == 0x1D6C1 || c == 0x1D6DB || c == 0x1D6FB || c == 0x1D715 || c == 0x1D735 || c == 0x1D74F ||
                 c == 0x1D76F || c == 0x1D789 || c == 0x1D7A9 || c == 0x1D7C3);
    if (c >= 0x1E00 && c <= 0x1FFF) return true;
    if (c >= 0x4E00 && c <= 0x9FFF) return true;
    return false;
}

// Python str.lower() for the scripts that occur.
char32_t py_lower_cp(char32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0x80) return c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x100 && c <= 0x137 && (c % 2 == 0)) return c + 1;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

std::string py_lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        size_t len;
        char32_t c = decode_at(s, i, len);
        if (c < 0x80) {
            out += static_cast<char>(py_lower_cp(c));
        } else {
            char32_t l = py_lower_cp(c);
            if (l == c) out.append(s.substr(i, len));
            else utf8_append(out, l);
        }
        i += len;
    }
    return out;
}

size_t py_len(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++n) {
        size_t len;
        decode_at(s, i, len);
        i += len;
    }
    return n;
}

// Python str.strip()
std::string_view py_strip_view(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e) {
        size_t len;
        char32_t c = decode_at(s, b, len);
        if (!py_isspace(c)) break;
        b += len;
    }
    while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t len;
        char32_t c = decode_at(s, k, len);
        if (k + len != e || !py_isspace(c)) break;
        e = k;
    }
    return s.substr(b, e - b);
}
std::string py_strip(std::string_view s) { return std::string(py_strip_view(s)); }

// Python str.replace(a, b)
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    return parley::common::py_replace(s, from, to);
}

// Python str.split(sep)
std::vector<std::string> split_str(std::string_view s, std::string_view sep) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (true) {
        size_t j = s.find(sep, i);
        if (j == std::string_view::npos) break;
        parts.emplace_back(s.substr(i, j - i));
        i = j + sep.size();
    }
    parts.emplace_back(s.substr(i));
    return parts;
}

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// First code point of s as a string (Python s[0]); s must be non-empty.
std::string first_cp(std::string_view s) {
    size_t len;
    decode_at(s, 0, len);
    return std::string(s.substr(0, len));
}

// Python re.search("^\\text\{(?P<text>.+?)\}$", s): the group, if it matches.
std::optional<std::string> match_text_wrapper(std::string_view s) {
    constexpr std::string_view pre = "\\text{";
    if (s.substr(0, pre.size()) != pre) return std::nullopt;
    std::string_view rest = s.substr(pre.size());
    // '$' matches at the very end or before a final "\n"; the lazy group takes the earliest '}' that works.
    std::vector<size_t> ends;
    if (rest.size() >= 2 && rest.back() == '\n' && rest[rest.size() - 2] == '}') ends.push_back(rest.size() - 2);
    if (!rest.empty() && rest.back() == '}') ends.push_back(rest.size() - 1);
    for (size_t k : ends) {
        if (k == 0) continue; // ".+" needs one character
        std::string_view g = rest.substr(0, k);
        if (g.find('\n') != std::string_view::npos) continue;
        return std::string(g);
    }
    return std::nullopt;
}

// Python float(s) (ASCII forms: sign, digits with single underscores, '.', exponent, inf/infinity/nan).
std::optional<double> py_float(std::string_view raw) {
    std::string_view s = py_strip_view(raw);
    if (s.empty()) return std::nullopt;
    size_t i = 0;
    bool neg = false;
    if (s[i] == '+' || s[i] == '-') {
        neg = s[i] == '-';
        ++i;
    }
    std::string_view body = s.substr(i);
    std::string low = py_lower(body);
    if (low == "inf" || low == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
    if (low == "nan") return std::numeric_limits<double>::quiet_NaN();
    std::string clean;
    auto digitpart = [&](size_t &p) -> bool { // [0-9](_?[0-9])*
        if (p >= s.size() || !ascii_digit(s[p])) return false;
        clean += s[p++];
        while (p < s.size()) {
            if (ascii_digit(s[p])) {
                clean += s[p++];
            } else if (s[p] == '_' && p + 1 < s.size() && ascii_digit(s[p + 1])) {
                ++p;
            } else {
                break;
            }
        }
        return true;
    };
    size_t p = i;
    bool int_part = digitpart(p);
    bool frac_part = false;
    if (p < s.size() && s[p] == '.') {
        clean += '.';
        ++p;
        frac_part = digitpart(p);
    }
    if (!int_part && !frac_part) return std::nullopt;
    if (p < s.size() && (s[p] == 'e' || s[p] == 'E')) {
        clean += 'e';
        ++p;
        if (p < s.size() && (s[p] == '+' || s[p] == '-')) clean += s[p++];
        if (!digitpart(p)) return std::nullopt;
    }
    if (p != s.size()) return std::nullopt;
    double v = std::strtod(clean.c_str(), nullptr);
    return neg ? -v : v;
}

// Python str(int(x)) for an integral double.
std::string int_string(double x) {
    if (x == 0) return "0";
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.0f", x);
    return buf;
}

// Python `abs(x - int(round(x))) <= 1e-7` with the OverflowError/ValueError of inf/nan counted as false.
bool py_is_int(double x) {
    if (!std::isfinite(x)) return false;
    return std::fabs(x - std::nearbyint(x)) <= 1e-7;
}

} // namespace

// ------------------------------------------------------------------------------------------------
// \boxed extraction (Hendrycks util.py / eval_math_gpt.py; "\boxed 5" as in Minerva / lm-eval)
// ------------------------------------------------------------------------------------------------

std::optional<std::string> last_boxed_only_string(std::string_view s) {
    try {
        size_t idx = s.rfind("\\boxed");
        bool boxed = idx != std::string_view::npos;
        if (!boxed) {
            idx = s.rfind("\\fbox");
            if (idx == std::string_view::npos) return std::nullopt;
        }
        if (boxed) {
            size_t j = idx + 6;
            if (j < s.size() && s[j] == ' ') {
                size_t k = j;
                while (k < s.size() && s[k] == ' ') ++k;
                if (k < s.size() && s[k] != '{') {
                    size_t e = k;
                    while (e < s.size() && s[e] != '$' && s[e] != '\n') ++e;
                    std::string content = py_strip(s.substr(k, e - k));
                    if (content.empty()) return std::nullopt;
                    return "\\boxed " + content;
                }
            }
        }
        long open = 0;
        for (size_t i = idx; i < s.size(); ++i) {
            if (s[i] == '{') {
                ++open;
            } else if (s[i] == '}') {
                --open;
                if (open == 0) return std::string(s.substr(idx, i - idx + 1));
            }
        }
        return std::nullopt;
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::string> remove_boxed(std::string_view s) {
    try {
        std::string_view rest;
        if (s.substr(0, 6) == "\\boxed") rest = s.substr(6);
        else if (s.substr(0, 5) == "\\fbox") rest = s.substr(5);
        else return std::nullopt;
        size_t k = 0;
        while (k < rest.size() && rest[k] == ' ') ++k;
        if (k < rest.size() && rest[k] == '{') {
            if (rest.back() != '}' || rest.size() < k + 2) return std::nullopt;
            return std::string(rest.substr(k + 1, rest.size() - k - 2));
        }
        if (k == 0 || k == rest.size()) return std::nullopt;
        return py_strip(rest.substr(k));
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::string> parse_answer(std::string_view s) {
    auto b = last_boxed_only_string(s);
    if (!b) return std::nullopt;
    return remove_boxed(*b);
}

std::string coral_raw_answer(std::string_view s) {
    try {
        auto raw = parse_answer(s);
        if (raw && !raw->empty()) return *raw;
        constexpr std::string_view left = "The answer is $\\boxed{";
        constexpr std::string_view right = "}$.";
        size_t b = 0, e = s.size();
        while (b < e && left.find(s[b]) != std::string_view::npos) ++b;
        while (e > b && right.find(s[e - 1]) != std::string_view::npos) --e;
        return std::string(s.substr(b, e - b));
    } catch (...) {
        return std::string();
    }
}

// ------------------------------------------------------------------------------------------------
// mathd normalisation: PRM800K math_normalize.py = Hendrycks math_equivalence._strip_string
// ------------------------------------------------------------------------------------------------

namespace {

std::string fix_fracs(const std::string &string) {
    auto substrs = split_str(string, "\\frac");
    std::string new_str = substrs[0];
    for (size_t i = 1; i < substrs.size(); ++i) {
        const std::string &substr = substrs[i];
        new_str += "\\frac";
        if (substr.empty()) throw PyError{}; // substr[0] -> IndexError
        if (substr[0] == '{') {
            new_str += substr;
            continue;
        }
        if (py_len(substr) < 2) return string; // the caught `assert len(substr) >= 2`
        std::string a = first_cp(substr);
        std::string_view after_a = std::string_view(substr).substr(a.size());
        std::string b = first_cp(after_a);
        std::string_view post = after_a.substr(b.size());
        if (b != "{") new_str += "{" + a + "}{" + b + "}" + std::string(post);
        else new_str += "{" + a + "}" + b + std::string(post);
    }
    return new_str;
}

// Python: str(int(x)) == x, i.e. x is how Python prints an int.
bool canonical_int(std::string_view x) {
    if (!x.empty() && x[0] == '-') x.remove_prefix(1);
    if (x.empty()) return false;
    if (!std::all_of(x.begin(), x.end(), [](char c) { return ascii_digit(c); })) return false;
    return x.size() == 1 || x[0] != '0';
}

std::string fix_a_slash_b(const std::string &string) {
    auto parts = split_str(string, "/");
    if (parts.size() != 2) return string;
    const std::string &a = parts[0], &b = parts[1];
    // int(a), int(b) and string == "{a}/{b}": both must already be canonical integers ("-0" is not).
    if (!canonical_int(a) || !canonical_int(b) || a == "-0" || b == "-0") return string;
    return "\\frac{" + a + "}{" + b + "}";
}

std::string remove_right_units(const std::string &string) {
    if (contains(string, "\\text{ ")) {
        auto splits = split_str(string, "\\text{ ");
        if (splits.size() != 2) throw PyError{}; // assert len(splits) == 2
        return splits[0];
    }
    return string;
}

std::string fix_sqrt(const std::string &string) {
    if (!contains(string, "\\sqrt")) return string;
    auto splits = split_str(string, "\\sqrt");
    std::string new_string = splits[0];
    for (size_t i = 1; i < splits.size(); ++i) {
        const std::string &split = splits[i];
        if (split.empty()) throw PyError{}; // split[0] -> IndexError
        if (split[0] != '{') {
            std::string a = first_cp(split);
            new_string += "\\sqrt{" + a + "}" + split.substr(a.size());
        } else {
            new_string += "\\sqrt" + split;
        }
    }
    return new_string;
}

std::string strip_string(std::string string) {
    string = replace_all(string, "\n", "");
    string = replace_all(string, "\\!", "");
    string = replace_all(string, "\\\\", "\\");
    string = replace_all(string, "tfrac", "frac");
    string = replace_all(string, "dfrac", "frac");
    string = replace_all(string, "\\left", "");
    string = replace_all(string, "\\right", "");
    string = replace_all(string, "^{\\circ}", "");
    string = replace_all(string, "^\\circ", "");
    string = replace_all(string, "\\$", "");
    string = remove_right_units(string);
    string = replace_all(string, "\\%", "");
    string = replace_all(string, "\\%", ""); // the Python does it twice ("\\%" and "\%")
    string = replace_all(string, " .", " 0.");
    string = replace_all(string, "{.", "{0.");
    if (string.empty()) return string;
    if (string[0] == '.') string = "0" + string;
    {
        auto parts = split_str(string, "=");
        if (parts.size() == 2 && py_len(parts[0]) <= 2) string = parts[1];
    }
    string = fix_sqrt(string);
    string = replace_all(string, " ", "");
    string = fix_fracs(string);
    if (string == "0.5") string = "\\frac{1}{2}";
    string = fix_a_slash_b(string);
    return string;
}

} // namespace

std::string mathd_normalize(std::string_view answer_in) {
    std::string answer;
    try {
        answer = py_strip(answer_in);
        if (auto g = match_text_wrapper(answer)) answer = py_strip(*g);
        return strip_string(answer);
    } catch (...) {
        return answer;
    }
}

// ------------------------------------------------------------------------------------------------
// LaTeX to text: the parts of pylatexenc 2.10 (LatexWalker in tolerant mode + LatexNodes2Text with its
// default options) that grader._parse_latex exercises.
// ------------------------------------------------------------------------------------------------

namespace {

// LaTeX macros that pylatexenc 2.10's LatexNodes2Text replaces by a fixed text (its default latex context:
// categories latex-base, latex-approximations, advanced-symbols, nonascii-specials), restricted to the
// mathematical and punctuation ones. Sorted by name for binary search.
constexpr std::pair<std::string_view, std::string_view> kMacroText[] = {
    {" ", " "},
    {"!", ""},
    {"#", "#"},
    {"$", "$"},
    {"&", "&"},
    {",", " "},
    {"-", "\xC2\xAD"},
    {":", " "},
    {";", " "},
    {"Alpha", "\xCE\x91"},
    {"Angle", "\xE2\xA6\x9C"},
    {"Beta", "\xCE\x92"},
    {"Bumpeq", "\xE2\x89\x8E"},
    {"Cap", "\xE2\x8B\x92"},
    {"Chi", "\xCE\xA7"},
    {"Colon", "\xE2\x88\xB7"},
    {"Cup", "\xE2\x8B\x93"},
    {"Delta", "\xCE\x94"},
    {"Digamma", "\xCF\x9C"},
    {"DownArrowBar", "\xE2\xA4\x93"},
    {"DownArrowUpArrow", "\xE2\x87\xB5"},
    {"DownLeftRightVector", "\xE2\xA5\x90"},
    {"DownLeftTeeVector", "\xE2\xA5\x9E"},
    {"DownLeftVectorBar", "\xE2\xA5\x96"},
    {"DownRightTeeVector", "\xE2\xA5\x9F"},
    {"DownRightVectorBar", "\xE2\xA5\x97"},
    {"Downarrow", "\xE2\x87\x93"},
    {"Epsilon", "\xCE\x95"},
    {"Equal", "\xE2\xA9\xB5"},
    {"Eta", "\xCE\x97"},
    {"Gamma", "\xCE\x93"},
    {"Iota", "\xCE\x99"},
    {"Kappa", "\xCE\x9A"},
    {"Koppa", "\xCF\x9E"},
    {"Lambda", "\xCE\x9B"},
    {"LeftDownTeeVector", "\xE2\xA5\xA1"},
    {"LeftDownVectorBar", "\xE2\xA5\x99"},
    {"LeftRightVector", "\xE2\xA5\x8E"},
    {"LeftTeeVector", "\xE2\xA5\x9A"},
    {"LeftTriangleBar", "\xE2\xA7\x8F"},
    {"LeftUpDownVector", "\xE2\xA5\x91"},
    {"LeftUpTeeVector", "\xE2\xA5\xA0"},
    {"LeftUpVectorBar", "\xE2\xA5\x98"},
    {"LeftVectorBar", "\xE2\xA5\x92"},
    {"Leftarrow", "\xE2\x87\x90"},
    {"Leftrightarrow", "\xE2\x87\x94"},
    {"Lleftarrow", "\xE2\x87\x9A"},
    {"Longleftarrow", "\xE2\x9F\xB8"},
    {"Longleftrightarrow", "\xE2\x9F\xBA"},
    {"Longrightarrow", "\xE2\x9F\xB9"},
    {"Lsh", "\xE2\x86\xB0"},
    {"Mu", "\xCE\x9C"},
    {"NestedGreaterGreater", "\xE2\xAA\xA2"},
    {"NestedLessLess", "\xE2\xAA\xA1"},
    {"Nu", "\xCE\x9D"},
    {"Omega", "\xCE\xA9"},
    {"Omicron", "\xCE\x9F"},
    {"Phi", "\xCE\xA6"},
    {"Pi", "\xCE\xA0"},
    {"Psi", "\xCE\xA8"},
    {"ReverseUpEquilibrium", "\xE2\xA5\xAF"},
    {"Rho", "\xCE\xA1"},
    {"RightDownTeeVector", "\xE2\xA5\x9D"},
    {"RightDownVectorBar", "\xE2\xA5\x95"},
    {"RightTeeVector", "\xE2\xA5\x9B"},
    {"RightTriangleBar", "\xE2\xA7\x90"},
    {"RightUpDownVector", "\xE2\xA5\x8F"},
    {"RightUpTeeVector", "\xE2\xA5\x9C"},
    {"RightUpVectorBar", "\xE2\xA5\x94"},
    {"RightVectorBar", "\xE2\xA5\x93"},
    {"Rightarrow", "\xE2\x87\x92"},
    {"RoundImplies", "\xE2\xA5\xB0"},
    {"Rrightarrow", "\xE2\x87\x9B"},
    {"Rsh", "\xE2\x86\xB1"},
    {"RuleDelayed", "\xE2\xA7\xB4"},
    {"Sampi", "\xCF\xA0"},
    {"Sigma", "\xCE\xA3"},
    {"Stigma", "\xCF\x9A"},
    {"Subset", "\xE2\x8B\x90"},
    {"Supset", "\xE2\x8B\x91"},
    {"Tau", "\xCE\xA4"},
    {"Theta", "\xCE\x98"},
    {"UpArrowBar", "\xE2\xA4\x92"},
    {"UpEquilibrium", "\xE2\xA5\xAE"},
    {"Uparrow", "\xE2\x87\x91"},
    {"Updownarrow", "\xE2\x87\x95"},
    {"Upsilon", "\xCE\xA5"},
    {"VDash", "\xE2\x8A\xAB"},
    {"Vdash", "\xE2\x8A\xA9"},
    {"Vert", "\xE2\x80\x96"},
    {"Vvdash", "\xE2\x8A\xAA"},
    {"Xi", "\xCE\x9E"},
    {"Zeta", "\xCE\x96"},
    {"\\", "\x0A"},
    {"_", "_"},
    {"aleph", "\xE2\x84\xB5"},
    {"allequal", "\xE2\x89\x8C"},
    {"alpha", "\xCE\xB1"},
    {"amalg", "\xE2\xA8\xBF"},
    {"angle", "\xE2\x88\xA0"},
    {"approx", "\xE2\x89\x88"},
    {"approxeq", "\xE2\x89\x8A"},
    {"approxnotequal", "\xE2\x89\x86"},
    {"arccos", "arccos"},
    {"arccosh", "arccosh"},
    {"arcsin", "arcsin"},
    {"arcsinh", "arcsinh"},
    {"arctan", "arctan"},
    {"arctanh", "arctanh"},
    {"arrowwaveleft", "\xE2\x86\x9C"},
    {"arrowwaveright", "\xE2\x86\x9D"},
    {"ast", "\xE2\x88\x97"},
    {"asymp", "\xE2\x89\x8D"},
    {"backepsilon", "\xCF\xB6"},
    {"backprime", "\xE2\x80\xB5"},
    {"backsim", "\xE2\x88\xBD"},
    {"backsimeq", "\xE2\x8B\x8D"},
    {"backslash", "\x5C"},
    {"barwedge", "\xE2\x8C\x85"},
    {"because", "\xE2\x88\xB5"},
    {"beta", "\xCE\xB2"},
    {"beth", "\xE2\x84\xB6"},
    {"between", "\xE2\x89\xAC"},
    {"bigcap", "\xE2\x8B\x82"},
    {"bigcirc", "\xE2\x97\xAF"},
    {"bigcup", "\xE2\x8B\x83"},
    {"bigoplus", "\xE2\x8A\x95"},
    {"bigotimes", "\xE2\x8A\x97"},
    {"bigtriangledown", "\xE2\x96\xBD"},
    {"bigtriangleup", "\xE2\x96\xB3"},
    {"bigvee", "\xE2\x8B\x81"},
    {"bigwedge", "\xE2\x8B\x80"},
    {"blacklozenge", "\xE2\xA7\xAB"},
    {"blacksquare", "\xE2\x96\xAA"},
    {"blacktriangle", "\xE2\x96\xB4"},
    {"blacktriangledown", "\xE2\x96\xBE"},
    {"blacktriangleleft", "\xE2\x97\x82"},
    {"blacktriangleright", "\xE2\x96\xB8"},
    {"bowtie", "\xE2\x8B\x88"},
    {"boxdot", "\xE2\x8A\xA1"},
    {"boxminus", "\xE2\x8A\x9F"},
    {"boxplus", "\xE2\x8A\x9E"},
    {"boxtimes", "\xE2\x8A\xA0"},
    {"bullet", "\xE2\x88\x99"},
    {"bumpeq", "\xE2\x89\x8F"},
    {"cap", "\xE2\x88\xA9"},
    {"cdot", "\xC2\xB7"},
    {"cdots", "\xE2\x8B\xAF"},
    {"chi", "\xCF\x87"},
    {"circ", "\xE2\x88\x98"},
    {"circeq", "\xE2\x89\x97"},
    {"circlearrowleft", "\xE2\x86\xBA"},
    {"circlearrowright", "\xE2\x86\xBB"},
    {"circledS", "\xE2\x93\x88"},
    {"circledast", "\xE2\x8A\x9B"},
    {"circledcirc", "\xE2\x8A\x9A"},
    {"circleddash", "\xE2\x8A\x9D"},
    {"clockoint", "\xE2\xA8\x8F"},
    {"clwintegral", "\xE2\x88\xB1"},
    {"complement", "\xE2\x88\x81"},
    {"cong", "\xE2\x89\x85"},
    {"coprod", "\xE2\x88\x90"},
    {"cos", "cos"},
    {"cosh", "cosh"},
    {"cup", "\xE2\x88\xAA"},
    {"curlyeqprec", "\xE2\x8B\x9E"},
    {"curlyeqsucc", "\xE2\x8B\x9F"},
    {"curlyvee", "\xE2\x8B\x8E"},
    {"curlywedge", "\xE2\x8B\x8F"},
    {"curvearrowleft", "\xE2\x86\xB6"},
    {"curvearrowright", "\xE2\x86\xB7"},
    {"dag", "\xE2\x80\xA0"},
    {"dagger", "\xE2\x80\xA0"},
    {"daleth", "\xE2\x84\xB8"},
    {"dashv", "\xE2\x8A\xA3"},
    {"dblarrowupdown", "\xE2\x87\x85"},
    {"ddddot", "\xE2\x83\x9C"},
    {"dddot", "\xE2\x83\x9B"},
    {"ddots", "\xE2\x8B\xB1"},
    {"delta", "\xCE\xB4"},
    {"diagup", "\xE2\x95\xB1"},
    {"diamond", "\xE2\x99\xA2"},
    {"digamma", "\xCF\x9D"},
    {"div", "\xC3\xB7"},
    {"divideontimes", "\xE2\x8B\x87"},
    {"doteq", "\xE2\x89\x90"},
    {"doteqdot", "\xE2\x89\x91"},
    {"dotplus", "\xE2\x88\x94"},
    {"dots", "\xE2\x80\xA6"},
    {"dotsb", "\xE2\x80\xA6"},
    {"dotsc", "\xE2\x80\xA6"},
    {"dotsi", "\xE2\x80\xA6"},
    {"dotsm", "\xE2\x80\xA6"},
    {"dotso", "\xE2\x80\xA6"},
    {"downarrow", "\xE2\x86\x93"},
    {"downdownarrows", "\xE2\x87\x8A"},
    {"downharpoonleft", "\xE2\x87\x83"},
    {"downharpoonright", "\xE2\x87\x82"},
    {"downslopeellipsis", "\xE2\x8B\xB1"},
    {"ell", "\xE2\x84\x93"},
    {"emptyset", "\xE2\x88\x85"},
    {"epsilon", "\xCF\xB5"},
    {"eqcirc", "\xE2\x89\x96"},
    {"eqslantgtr", "\xE2\xAA\x96"},
    {"eqslantless", "\xE2\xAA\x95"},
    {"equiv", "\xE2\x89\xA1"},
    {"eta", "\xCE\xB7"},
    {"eth", "\xC6\xAA"},
    {"exists", "\xE2\x88\x83"},
    {"exp", "exp"},
    {"fallingdotseq", "\xE2\x89\x92"},
    {"flat", "\xE2\x99\xAD"},
    {"forall", "\xE2\x88\x80"},
    {"frown", "\xE2\x8C\xA2"},
    {"gamma", "\xCE\xB3"},
    {"ge", "\xE2\x89\xA5"},
    {"geq", "\xE2\x89\xA5"},
    {"geqq", "\xE2\x89\xA7"},
    {"geqslant", "\xE2\xA9\xBE"},
    {"gg", "\xE2\x89\xAB"},
    {"gimel", "\xE2\x84\xB7"},
    {"gnapprox", "\xE2\xAA\x8A"},
    {"gneq", "\xE2\xAA\x88"},
    {"gneqq", "\xE2\x89\xA9"},
    {"gnsim", "\xE2\x8B\xA7"},
    {"greaterequivlnt", "\xE2\x89\xB3"},
    {"gtrapprox", "\xE2\xAA\x86"},
    {"gtrdot", "\xE2\x8B\x97"},
    {"gtreqless", "\xE2\x8B\x9B"},
    {"gtreqqless", "\xE2\xAA\x8C"},
    {"gtrless", "\xE2\x89\xB7"},
    {"gtrsim", "\xE2\x89\xB3"},
    {"hbar", "\xC4\xA7"},
    {"hookleftarrow", "\xE2\x86\xA9"},
    {"hookrightarrow", "\xE2\x86\xAA"},
    {"hslash", "\xE2\x84\x8F"},
    {"iddots", "\xE2\x8B\xB0"},
    {"iiint", "\xE2\x88\xAD"},
    {"iint", "\xE2\x88\xAC"},
    {"image", "\xE2\x8A\xB7"},
    {"in", "\xE2\x88\x88"},
    {"inf", "inf"},
    {"infty", "\xE2\x88\x9E"},
    {"int", "\xE2\x88\xAB"},
    {"intercal", "\xE2\x8A\xBA"},
    {"iota", "\xCE\xB9"},
    {"kappa", "\xCE\xBA"},
    {"lVert", "\xE2\x80\x96"},
    {"lambda", "\xCE\xBB"},
    {"langle", "\xE2\x9F\xA8"},
    {"lbrace", "{"},
    {"lceil", "\xE2\x8C\x88"},
    {"ldots", "\xE2\x80\xA6"},
    {"le", "\xE2\x89\xA4"},
    {"leftarrow", "\xE2\x86\x90"},
    {"leftarrowtail", "\xE2\x86\xA2"},
    {"leftharpoondown", "\xE2\x86\xBD"},
    {"leftharpoonup", "\xE2\x86\xBC"},
    {"leftleftarrows", "\xE2\x87\x87"},
    {"leftrightarrow", "\xE2\x86\x94"},
    {"leftrightarrows", "\xE2\x87\x86"},
    {"leftrightharpoons", "\xE2\x87\x8B"},
    {"leftrightsquigarrow", "\xE2\x86\xAD"},
    {"leftthreetimes", "\xE2\x8B\x8B"},
    {"leq", "\xE2\x89\xA4"},
    {"leqq", "\xE2\x89\xA6"},
    {"leqslant", "\xE2\xA9\xBD"},
    {"lessapprox", "\xE2\xAA\x85"},
    {"lessdot", "\xE2\x8B\x96"},
    {"lesseqgtr", "\xE2\x8B\x9A"},
    {"lesseqqgtr", "\xE2\xAA\x8B"},
    {"lessequivlnt", "\xE2\x89\xB2"},
    {"lessgtr", "\xE2\x89\xB6"},
    {"lesssim", "\xE2\x89\xB2"},
    {"lfloor", "\xE2\x8C\x8A"},
    {"lim", "lim"},
    {"liminf", "lim inf"},
    {"limsup", "lim sup"},
    {"ll", "\xE2\x89\xAA"},
    {"llcorner", "\xE2\x8C\x9E"},
    {"lmoustache", "\xE2\x8E\xB0"},
    {"ln", "ln"},
    {"lnapprox", "\xE2\xAA\x89"},
    {"lneq", "\xE2\xAA\x87"},
    {"lneqq", "\xE2\x89\xA8"},
    {"lnot", "\xC2\xAC"},
    {"lnsim", "\xE2\x8B\xA6"},
    {"log", "log"},
    {"longleftarrow", "\xE2\x9F\xB5"},
    {"longleftrightarrow", "\xE2\x9F\xB7"},
    {"longmapsto", "\xE2\x9F\xBC"},
    {"longrightarrow", "\xE2\x9F\xB6"},
    {"looparrowleft", "\xE2\x86\xAB"},
    {"looparrowright", "\xE2\x86\xAC"},
    {"lozenge", "\xE2\x97\x8A"},
    {"lrcorner", "\xE2\x8C\x9F"},
    {"ltimes", "\xE2\x8B\x89"},
    {"lvert", "|"},
    {"mapsto", "\xE2\x86\xA6"},
    {"max", "max"},
    {"measuredangle", "\xE2\x88\xA1"},
    {"mho", "\xE2\x84\xA7"},
    {"mid", "|"},
    {"min", "min"},
    {"mp", "\xE2\x88\x93"},
    {"mu", "\xCE\xBC"},
    {"multimap", "\xE2\x8A\xB8"},
    {"nLeftarrow", "\xE2\x87\x8D"},
    {"nLeftrightarrow", "\xE2\x87\x8E"},
    {"nRightarrow", "\xE2\x87\x8F"},
    {"nVDash", "\xE2\x8A\xAF"},
    {"nVdash", "\xE2\x8A\xAE"},
    {"nabla", "\xE2\x88\x87"},
    {"natural", "\xE2\x99\xAE"},
    {"nearrow", "\xE2\x86\x97"},
    {"neq", "\xE2\x89\xA0"},
    {"nexists", "\xE2\x88\x84"},
    {"ngeq", "\xE2\x89\xB1"},
    {"ngtr", "\xE2\x89\xAF"},
    {"ni", "\xE2\x88\x8B"},
    {"nleftarrow", "\xE2\x86\x9A"},
    {"nleftrightarrow", "\xE2\x86\xAE"},
    {"nleq", "\xE2\x89\xB0"},
    {"nless", "\xE2\x89\xAE"},
    {"nmid", "\xE2\x88\xA4"},
    {"notgreaterless", "\xE2\x89\xB9"},
    {"notin", "\xE2\x88\x89"},
    {"notlessgreater", "\xE2\x89\xB8"},
    {"nparallel", "\xE2\x88\xA6"},
    {"nprec", "\xE2\x8A\x80"},
    {"nrightarrow", "\xE2\x86\x9B"},
    {"nsubseteq", "\xE2\x8A\x88"},
    {"nsucc", "\xE2\x8A\x81"},
    {"nsupseteq", "\xE2\x8A\x89"},
    {"ntriangleleft", "\xE2\x8B\xAA"},
    {"ntrianglelefteq", "\xE2\x8B\xAC"},
    {"ntriangleright", "\xE2\x8B\xAB"},
    {"ntrianglerighteq", "\xE2\x8B\xAD"},
    {"nu", "\xCE\xBD"},
    {"nvDash", "\xE2\x8A\xAD"},
    {"nvdash", "\xE2\x8A\xAC"},
    {"nwarrow", "\xE2\x86\x96"},
    {"odot", "\xE2\x8A\x99"},
    {"oint", "\xE2\x88\xAE"},
    {"omega", "\xCF\x89"},
    {"omicron", "\xCE\xBF"},
    {"ominus", "\xE2\x8A\x96"},
    {"openbracketleft", "\xE3\x80\x9A"},
    {"openbracketright", "\xE3\x80\x9B"},
    {"oplus", "\xE2\x8A\x95"},
    {"oslash", "\xE2\x8A\x98"},
    {"otimes", "\xE2\x8A\x97"},
    {"parallel", "\xE2\x88\xA5"},
    {"partial", "\xE2\x88\x82"},
    {"perp", "\xE2\x8A\xA5"},
    {"phi", "\xCF\x95"},
    {"pi", "\xCF\x80"},
    {"pitchfork", "\xE2\x8B\x94"},
    {"pm", "\xC2\xB1"},
    {"prec", "\xE2\x89\xBA"},
    {"precapprox", "\xE2\xAA\xB7"},
    {"preccurlyeq", "\xE2\x89\xBC"},
    {"precedesnotsimilar", "\xE2\x8B\xA8"},
    {"preceq", "\xE2\x89\xBC"},
    {"precnapprox", "\xE2\xAA\xB9"},
    {"precneqq", "\xE2\xAA\xB5"},
    {"precsim", "\xE2\x89\xBE"},
    {"prime", "'"},
    {"prod", "\xE2\x88\x8F"},
    {"propto", "\xE2\x88\x9D"},
    {"psi", "\xCF\x88"},
    {"qquad", "    "},
    {"quad", "  "},
    {"rVert", "\xE2\x80\x96"},
    {"rangle", "\xE2\x9F\xA9"},
    {"rbrace", "}"},
    {"rceil", "\xE2\x8C\x89"},
    {"rfloor", "\xE2\x8C\x8B"},
    {"rho", "\xCF\x81"},
    {"rightangle", "\xE2\x88\x9F"},
    {"rightanglearc", "\xE2\x8A\xBE"},
    {"rightarrow", "\xE2\x86\x92"},
    {"rightarrowtail", "\xE2\x86\xA3"},
    {"rightharpoondown", "\xE2\x87\x81"},
    {"rightharpoonup", "\xE2\x87\x80"},
    {"rightleftarrows", "\xE2\x87\x84"},
    {"rightleftharpoons", "\xE2\x87\x8C"},
    {"rightrightarrows", "\xE2\x87\x89"},
    {"rightsquigarrow", "\xE2\x87\x9D"},
    {"rightthreetimes", "\xE2\x8B\x8C"},
    {"risingdotseq", "\xE2\x89\x93"},
    {"rmoustache", "\xE2\x8E\xB1"},
    {"rtimes", "\xE2\x8B\x8A"},
    {"rvert", "|"},
    {"searrow", "\xE2\x86\x98"},
    {"setminus", "\xE2\x88\x96"},
    {"sharp", "\xE2\x99\xAF"},
    {"sigma", "\xCF\x83"},
    {"sim", "\xE2\x88\xBC"},
    {"simeq", "\xE2\x89\x83"},
    {"sin", "sin"},
    {"sinh", "sinh"},
    {"smallsetminus", "\xE2\x88\x96"},
    {"smile", "\xE2\x8C\xA3"},
    {"sphericalangle", "\xE2\x88\xA2"},
    {"sqcap", "\xE2\x8A\x93"},
    {"sqcup", "\xE2\x8A\x94"},
    {"sqrint", "\xE2\xA8\x96"},
    {"sqsubset", "\xE2\x8A\x8F"},
    {"sqsubseteq", "\xE2\x8A\x91"},
    {"sqsupset", "\xE2\x8A\x90"},
    {"sqsupseteq", "\xE2\x8A\x92"},
    {"square", "\xE2\x96\xA1"},
    {"star", "\xE2\x8B\x86"},
    {"starequal", "\xE2\x89\x9B"},
    {"subset", "\xE2\x8A\x82"},
    {"subseteq", "\xE2\x8A\x86"},
    {"subseteqq", "\xE2\xAB\x85"},
    {"subsetneq", "\xE2\x8A\x8A"},
    {"subsetneqq", "\xE2\xAB\x8B"},
    {"succ", "\xE2\x89\xBB"},
    {"succapprox", "\xE2\xAA\xB8"},
    {"succcurlyeq", "\xE2\x89\xBD"},
    {"succeq", "\xE2\x89\xBD"},
    {"succnapprox", "\xE2\xAA\xBA"},
    {"succneqq", "\xE2\xAA\xB6"},
    {"succnsim", "\xE2\x8B\xA9"},
    {"succsim", "\xE2\x89\xBF"},
    {"sum", "\xE2\x88\x91"},
    {"sup", "sup"},
    {"supset", "\xE2\x8A\x83"},
    {"supseteq", "\xE2\x8A\x87"},
    {"supseteqq", "\xE2\xAB\x86"},
    {"supsetneq", "\xE2\x8A\x8B"},
    {"supsetneqq", "\xE2\xAB\x8C"},
    {"surd", "\xE2\x88\x9A"},
    {"surfintegral", "\xE2\x88\xAF"},
    {"swarrow", "\xE2\x86\x99"},
    {"tan", "tan"},
    {"tanh", "tanh"},
    {"tau", "\xCF\x84"},
    {"therefore", "\xE2\x88\xB4"},
    {"theta", "\xCE\xB8"},
    {"tildetrpl", "\xE2\x89\x8B"},
    {"times", "\xC3\x97"},
    {"to", "\xE2\x86\x92"},
    {"top", "\xE2\x8A\xA4"},
    {"triangledown", "\xE2\x96\xBF"},
    {"triangleleft", "\xE2\x97\x83"},
    {"trianglelefteq", "\xE2\x8A\xB4"},
    {"triangleq", "\xE2\x89\x9C"},
    {"triangleright", "\xE2\x96\xB9"},
    {"trianglerighteq", "\xE2\x8A\xB5"},
    {"twoheadleftarrow", "\xE2\x86\x9E"},
    {"twoheadrightarrow", "\xE2\x86\xA0"},
    {"udots", "\xE2\x8B\xB0"},
    {"ulcorner", "\xE2\x8C\x9C"},
    {"uparrow", "\xE2\x86\x91"},
    {"updownarrow", "\xE2\x86\x95"},
    {"upharpoonleft", "\xE2\x86\xBF"},
    {"upharpoonright", "\xE2\x86\xBE"},
    {"uplus", "\xE2\x8A\x8E"},
    {"upsilon", "\xCF\x85"},
    {"upslopeellipsis", "\xE2\x8B\xB0"},
    {"upuparrows", "\xE2\x87\x88"},
    {"urcorner", "\xE2\x8C\x9D"},
    {"varepsilon", "\xCE\xB5"},
    {"varkappa", "\xCF\xB0"},
    {"varnothing", "\xE2\x88\x85"},
    {"varphi", "\xCF\x86"},
    {"varpi", "\xCF\x96"},
    {"varrho", "\xCF\xB1"},
    {"varsigma", "\xCF\x82"},
    {"vartheta", "\xCF\x91"},
    {"vartriangle", "\xE2\x96\xB5"},
    {"vartriangleleft", "\xE2\x8A\xB2"},
    {"vartriangleright", "\xE2\x8A\xB3"},
    {"vdash", "\xE2\x8A\xA2"},
    {"vdots", "\xE2\x8B\xAE"},
    {"vee", "\xE2\x88\xA8"},
    {"veebar", "\xE2\x8A\xBB"},
    {"vert", "|"},
    {"verymuchgreater", "\xE2\x8B\x99"},
    {"verymuchless", "\xE2\x8B\x98"},
    {"volintegral", "\xE2\x88\xB0"},
    {"wedge", "\xE2\x88\xA7"},
    {"wp", "\xE2\x84\x98"},
    {"wr", "\xE2\x89\x80"},
    {"xi", "\xCE\xBE"},
    {"zeta", "\xCE\xB6"},
    {"{", "{"},
    {"}", "}"},
};

constexpr bool symbols_sorted() {
    for (size_t i = 1; i < std::size(kMacroText); ++i)
        if (!(kMacroText[i - 1].first < kMacroText[i].first)) return false;
    return true;
}
static_assert(symbols_sorted(), "kMacroText must be sorted by name");

const std::string_view *macro_text(std::string_view name) {
    auto it = std::lower_bound(std::begin(kMacroText), std::end(kMacroText), name,
                               [](const auto &e, std::string_view n) { return e.first < n; });
    if (it != std::end(kMacroText) && it->first == name) return &it->second;
    return nullptr;
}

// Argument specs of the latexwalker default context ('{' mandatory, '[' optional, '*' star).
std::string_view walker_argspec(std::string_view m) {
    static const std::map<std::string_view, std::string_view> specs = [] {
        std::map<std::string_view, std::string_view> s;
        for (auto n : {"frac", "nicefrac", "braket", "ketbra", "texorpdfstring", "defcitealias"}) s[n] = "{{";
        for (auto n : {"sqrt", "footnote", "hphantom", "vphantom", "includegraphics", "usepackage", "documentclass",
                       "RequirePackage", "selectlanguage", "color", "pagecolor", "xleftarrow", "xrightarrow"})
            s[n] = "[{";
        for (auto n : {"text", "textbf", "textit", "textrm", "textsc", "textsf", "textsl", "texttt", "textup", "textmd",
                       "emph", "mbox", "mathrm", "mathbb", "mathbf", "mathit", "mathsf", "mathtt", "mathcal", "mathscr",
                       "mathfrak", "ensuremath", "label", "ref", "autoref", "cref", "Cref", "eqref", "url",
                       "hypersetup", "keywords", "overline", "underline", "widehat", "widetilde", "wideparen",
                       "overleftarrow", "overrightarrow", "overleftrightarrow", "underleftarrow", "underrightarrow",
                       "underleftrightarrow", "overbrace", "underbrace", "overgroup", "undergroup", "overbracket",
                       "underbracket", "overlinesegment", "underlinesegment", "overleftharpoon", "overrightharpoon",
                       "ket", "bra", "vec", "dot", "hat", "check", "breve", "acute", "grave", "tilde", "bar", "ddot",
                       "not", "'", "`", "\"", "c", "^", "~", "H", "k", "=", "b", ".", "d", "r", "u", "v", "title",
                       "author", "date", "bibliography", "include", "input", "citetext", "citenum", "hint", "hints",
                       "hinweis", "hinweise", "subexercise", "subuebung", "exenumfulllabel"})
            s[n] = "{";
        for (auto n : {"hspace", "vspace"}) s[n] = "*{";
        for (auto n : {"textcolor", "colorbox", "setlength", "addlength", "setcounter", "addcounter"}) s[n] = "[{{";
        s["fcolorbox"] = "[{[{{";
        s["boxframe"] = "{{{";
        for (auto n : {"newcommand", "renewcommand", "providecommand"}) s[n] = "*{[[{";
        for (auto n : {"newenvironment", "renewenvironment", "provideenvironment"}) s[n] = "*{[[{{";
        s["DeclareMathOperator"] = "*{{";
        s["item"] = "[";
        for (auto n : {"chapter", "section", "subsection", "subsubsection", "pagagraph", "subparagraph"}) s[n] = "*[{";
        for (auto n : {"cite", "citet", "citep", "citealt", "citealp", "citeauthor", "Citet", "Citep", "Citealt",
                       "Citealp", "Citeauthor"})
            s[n] = "*[[{";
        for (auto n : {"citefullauthor", "citeyear", "citeyearpar", "citepalias", "citetalias"}) s[n] = "[[{";
        for (auto n : {"definecolor", "providecolor"}) s[n] = "[{{{";
        s["colorlet"] = "[{[{";
        s["rowcolors"] = "*[{{{";
        for (auto n : {"exercise", "uebung"}) s[n] = "{[";
        s["\\"] = "*[";
        return s;
    }();
    auto it = specs.find(m);
    return it == specs.end() ? std::string_view() : it->second;
}

std::string_view env_argspec(std::string_view e) {
    if (e == "array") return "[{";
    if (e == "tabular" || e == "alignat" || e == "alignat*" || e == "verbatim") return "{";
    if (e == "tabular*") return "{{";
    if (e == "tabularx") return "{[{";
    static const std::set<std::string_view> opt = {"figure", "figure*", "table", "table*", "theorem", "proposition",
                                                    "lemma", "corollary", "definition", "conjecture", "remark",
                                                    "proof", "thm", "prop", "lem", "cor", "conj", "rem", "defn",
                                                    "enumerate", "itemize", "description"};
    return opt.count(e) ? "[" : "";
}

struct LNode {
    enum Kind { Chars, Group, Macro, Specials, Math, Env } kind = Chars;
    std::string text;              // chars / macro name / specials / environment name
    std::vector<LNode> nodes;      // group, math and environment bodies
    std::vector<LNode> args;       // parsed arguments (macro / environment)
    std::vector<char> arg_present; // false: an optional argument that was absent (Python None)
    bool args_parsed = false;      // Python: nodeargd is not None
    std::string post_space;        // macro_post_space
    bool display = false;          // math node display type
    char open = '{';               // group delimiter
};

LNode chars_node(std::string s) {
    LNode n;
    n.kind = LNode::Chars;
    n.text = std::move(s);
    return n;
}

struct EndOfStream {
    std::string final_space;
};

class Walker {
  public:
    explicit Walker(std::string_view s) : s_(s) {}

    std::vector<LNode> parse() {
        size_t end = 0;
        return get_nodes(0, Stop{}, 0, end);
    }

  private:
    struct Tok {
        enum K { Char, Macro, BraceOpen, BraceClose, MathInline, MathDisplay, BeginEnv, EndEnv, Specials } k;
        std::string arg;
        size_t pos = 0, len = 0;
        std::string pre_space, post_space;
    };
    struct Stop {
        char open = 0, close = 0;        // stop upon this closing brace
        std::optional<std::string> env;  // stop upon \end{env}
        std::optional<std::string> math; // stop upon this closing math delimiter
        bool any() const { return close != 0 || env || math; }
    };

    std::string_view s_;
    mutable size_t steps_ = 0;

    char32_t cp_at(size_t i, size_t &len) const { return decode_at(s_, i, len); }

    Tok get_token(size_t pos, char xopen = 0, char xclose = 0, bool environments = true) const {
        // Failed macro arguments are re-parsed as plain content, which nests: bound the total work.
        if (++steps_ > kMaxLatexSteps) throw PyError{};
        std::string space;
        while (pos < s_.size()) {
            size_t len;
            char32_t c = cp_at(pos, len);
            if (!py_isspace(c)) break;
            space.append(s_.substr(pos, len));
            pos += len;
            if (space.size() >= 2 && space.compare(space.size() - 2, 2, "\n\n") == 0) {
                Tok t{Tok::Char, "\n\n", pos - 2, 2, space.substr(0, space.size() - 2), ""};
                return t;
            }
        }
        if (pos >= s_.size()) throw EndOfStream{space};
        char c0 = s_[pos];
        if (c0 == '\\') {
            if (pos + 1 >= s_.size()) throw EndOfStream{""};
            size_t len;
            char32_t c1 = cp_at(pos + 1, len);
            std::string macro(s_.substr(pos + 1, len));
            size_t i = 1 + len;
            bool alpha = py_isalpha(c1);
            if (alpha) {
                while (pos + i < s_.size()) {
                    size_t l2;
                    char32_t c = cp_at(pos + i, l2);
                    if (!py_isalpha(c)) break;
                    macro.append(s_.substr(pos + i, l2));
                    i += l2;
                }
            }
            if (macro == "[" || macro == "]") return Tok{Tok::MathDisplay, "\\" + macro, pos, i, space, ""};
            if (macro == "(" || macro == ")") return Tok{Tok::MathInline, "\\" + macro, pos, i, space, ""};
            if (environments && (macro == "begin" || macro == "end")) {
                // ^\s*\{([\w* ._-]+)\}
                size_t p = pos + i;
                while (p < s_.size() && py_isspace(static_cast<unsigned char>(s_[p]))) ++p;
                size_t name_b = p + 1, q = name_b;
                bool ok = p < s_.size() && s_[p] == '{';
                if (ok) {
                    while (q < s_.size()) {
                        char c = s_[q];
                        if (ascii_alpha(static_cast<unsigned char>(c)) || ascii_digit(c) ||
                            std::strchr("_* .-", c) != nullptr)
                            ++q;
                        else
                            break;
                    }
                    ok = q > name_b && q < s_.size() && s_[q] == '}';
                }
                if (!ok) return Tok{Tok::Char, "\\" + macro, pos, i, space, ""}; // tolerant parse error
                return Tok{macro == "begin" ? Tok::BeginEnv : Tok::EndEnv, std::string(s_.substr(name_b, q - name_b)),
                           pos, q + 1 - pos, space, ""};
            }
            std::string post;
            if (alpha) {
                while (pos + i < s_.size()) {
                    size_t l2;
                    char32_t c = cp_at(pos + i, l2);
                    if (!py_isspace(c)) break;
                    post.append(s_.substr(pos + i, l2));
                    i += l2;
                    if (post.size() >= 2 && post.compare(post.size() - 2, 2, "\n\n") == 0) {
                        post.resize(post.size() - 2);
                        i -= 2;
                        break;
                    }
                }
            }
            return Tok{Tok::Macro, macro, pos, i, space, post};
        }
        if (c0 == '%') { // comment up to the end of the line (only reachable without the '%' removal)
            size_t e = s_.find('\n', pos);
            if (e == std::string_view::npos) e = s_.size();
            // represent as an empty char token so it vanishes
            return Tok{Tok::Char, "", pos, e - pos, space, ""};
        }
        if (c0 == '{' || (xopen && c0 == xopen)) return Tok{Tok::BraceOpen, std::string(1, c0), pos, 1, space, ""};
        if (c0 == '}' || (xclose && c0 == xclose)) return Tok{Tok::BraceClose, std::string(1, c0), pos, 1, space, ""};
        if (s_.substr(pos, 2) == "$$") return Tok{Tok::MathDisplay, "$$", pos, 2, space, ""};
        if (c0 == '$') return Tok{Tok::MathInline, "$", pos, 1, space, ""};
        for (std::string_view sp : {"---", "--", "``", "''", "!`", "?`", "~", "&"})
            if (s_.substr(pos, sp.size()) == sp) return Tok{Tok::Specials, std::string(sp), pos, sp.size(), space, ""};
        size_t len;
        cp_at(pos, len);
        return Tok{Tok::Char, std::string(s_.substr(pos, len)), pos, len, space, ""};
    }

    // get_latex_expression: one argument token.
    LNode get_expression(size_t pos, size_t depth, size_t &end) const {
        Tok tok = get_token(pos, 0, 0, false);
        switch (tok.k) {
        case Tok::Macro: {
            if (tok.arg == "end") {
                end = tok.pos;
                return chars_node("");
            }
            LNode n;
            n.kind = LNode::Macro;
            n.text = tok.arg;
            n.post_space = tok.post_space;
            end = tok.pos + tok.len;
            return n;
        }
        case Tok::Specials: {
            LNode n;
            n.kind = LNode::Specials;
            n.text = tok.arg;
            end = tok.pos + tok.len;
            return n;
        }
        case Tok::BraceOpen: return braced_group(tok.pos, '{', depth + 1, end);
        case Tok::BraceClose: end = tok.pos; return chars_node("");
        case Tok::MathInline:
        case Tok::MathDisplay:
            end = tok.pos + tok.len;
            if (!tok.arg.empty() && tok.arg[0] == '\\') {
                LNode n;
                n.kind = LNode::Macro;
                n.text = tok.arg;
                return n;
            }
            return chars_node(tok.arg);
        default: end = tok.pos + tok.len; return chars_node(tok.arg);
        }
    }

    LNode braced_group(size_t pos, char open, size_t depth, size_t &end) const {
        if (depth > kMaxLatexDepth) throw PyError{};
        char close = open == '[' ? ']' : '}';
        Tok first = get_token(pos, open == '[' ? '[' : 0, open == '[' ? ']' : 0);
        LNode g;
        g.kind = LNode::Group;
        g.open = open;
        Stop st;
        st.open = open;
        st.close = close;
        g.nodes = get_nodes(first.pos + first.len, st, depth + 1, end);
        return g;
    }

    // MacroStandardArgsParser.parse_args; throws EndOfStream like the Python.
    void parse_args(LNode &n, std::string_view spec, bool opt_no_space, size_t pos, size_t depth, size_t &end) const {
        size_t p = pos;
        for (char a : spec) {
            if (a == '{') {
                size_t e;
                n.args.push_back(get_expression(p, depth, e));
                n.arg_present.push_back(1);
                p = e;
            } else if (a == '[') {
                if (opt_no_space && p < s_.size() && py_isspace(static_cast<unsigned char>(s_[p]))) {
                    n.args.push_back(chars_node(""));
                    n.arg_present.push_back(0);
                    continue;
                }
                bool got = false;
                try {
                    Tok t = get_token(p, '[', ']', false);
                    got = t.k == Tok::BraceOpen && t.arg == "[";
                } catch (const EndOfStream &) {
                    got = false;
                }
                if (!got) {
                    n.args.push_back(chars_node(""));
                    n.arg_present.push_back(0);
                    continue;
                }
                size_t e;
                n.args.push_back(braced_group(p, '[', depth + 1, e));
                n.arg_present.push_back(1);
                p = e;
            } else if (a == '*') {
                Tok t = get_token(p);
                if (t.k == Tok::Char && !t.arg.empty() && t.arg[0] == '*') {
                    n.args.push_back(chars_node("*"));
                    n.arg_present.push_back(1);
                    p = t.pos + 1;
                } else {
                    n.args.push_back(chars_node(""));
                    n.arg_present.push_back(0);
                }
            }
        }
        n.args_parsed = true;
        end = p;
    }

    std::vector<LNode> get_nodes(size_t pos, const Stop &stop, size_t depth, size_t &end_out) const {
        if (depth > kMaxLatexDepth) throw PyError{};
        std::vector<LNode> nodes;
        std::string lastchars;
        char xo = 0, xc = 0;
        if (stop.close && stop.close != '}') {
            xo = stop.open;
            xc = stop.close;
        }
        size_t p = pos;
        while (true) {
            Tok tok;
            try {
                tok = get_token(p, xo, xc);
            } catch (EndOfStream &e) {
                if (!stop.any()) {
                    lastchars += e.final_space;
                    p += e.final_space.size();
                }
                break;
            }
            p = tok.pos + tok.len;
            if (tok.k == Tok::Char) {
                lastchars += tok.pre_space + tok.arg;
                continue;
            }
            if (!lastchars.empty()) {
                nodes.push_back(chars_node(lastchars + tok.pre_space));
                lastchars.clear();
            } else if (!tok.pre_space.empty()) {
                nodes.push_back(chars_node(tok.pre_space));
            }
            bool finish = false;
            switch (tok.k) {
            case Tok::BraceClose:
                if (tok.arg[0] == stop.close) finish = true; // else: mismatching brace, ignored (tolerant)
                break;
            case Tok::EndEnv:
                if (stop.env && tok.arg == *stop.env) finish = true;
                break;
            case Tok::MathInline:
            case Tok::MathDisplay: {
                if (stop.math) {
                    if (tok.arg == *stop.math) {
                        finish = true;
                        break;
                    }
                    if (tok.arg == "\\)" || tok.arg == "\\]") break;
                } else if (tok.arg == "\\)" || tok.arg == "\\]") {
                    break;
                }
                std::string closing = tok.arg == "\\(" ? "\\)" : tok.arg == "\\[" ? "\\]" : tok.arg;
                Stop ms;
                ms.math = closing;
                LNode m;
                m.kind = LNode::Math;
                m.display = !(tok.arg == "\\(" || tok.arg == "$");
                size_t e;
                m.nodes = get_nodes(p, ms, depth + 1, e);
                p = e;
                nodes.push_back(std::move(m));
                break;
            }
            case Tok::BraceOpen: {
                size_t e;
                nodes.push_back(braced_group(tok.pos, tok.arg[0], depth + 1, e));
                p = e;
                break;
            }
            case Tok::BeginEnv: {
                LNode env;
                env.kind = LNode::Env;
                env.text = tok.arg;
                size_t q = tok.pos + tok.len;
                std::string_view spec = env_argspec(tok.arg);
                try {
                    size_t e;
                    parse_args(env, spec, false, q, depth + 1, e);
                    q = e;
                } catch (const EndOfStream &) {
                    env.args.clear();
                    env.arg_present.clear();
                    env.args_parsed = false;
                }
                Stop es;
                es.env = tok.arg;
                size_t e;
                env.nodes = get_nodes(q, es, depth + 1, e);
                p = e;
                nodes.push_back(std::move(env));
                break;
            }
            case Tok::Macro: {
                LNode m;
                m.kind = LNode::Macro;
                m.text = tok.arg;
                m.post_space = tok.post_space;
                std::string_view spec = walker_argspec(tok.arg);
                try {
                    size_t e;
                    parse_args(m, spec, tok.arg == "\\", tok.pos + tok.len, depth + 1, e);
                    p = e;
                } catch (const EndOfStream &) {
                    m.args.clear();
                    m.arg_present.clear();
                    m.args_parsed = false;
                    p = tok.pos + tok.len;
                }
                nodes.push_back(std::move(m));
                break;
            }
            case Tok::Specials: {
                LNode sp;
                sp.kind = LNode::Specials;
                sp.text = tok.arg;
                nodes.push_back(std::move(sp));
                break;
            }
            default: break;
            }
            if (finish) break;
        }
        if (!lastchars.empty()) nodes.push_back(chars_node(lastchars));
        end_out = p;
        return nodes;
    }
};

// ---- LatexNodes2Text ----

const std::map<std::string_view, std::pair<char32_t, char32_t>> &math_styles() {
    // style -> (offset of 'A', offset of 'a') in the mathematical alphanumeric block
    static const std::map<std::string_view, std::pair<char32_t, char32_t>> m = {
        {"mathbf", {0x1D400, 0x1D41A}}, {"mathit", {0x1D434, 0x1D44E}},   {"mathcal", {0x1D49C, 0x1D4B6}},
        {"mathscr", {0x1D49C, 0x1D4B6}}, {"mathfrak", {0x1D504, 0x1D51E}}, {"mathbb", {0x1D538, 0x1D552}},
        {"mathsf", {0x1D5A0, 0x1D5BA}},  {"mathtt", {0x1D670, 0x1D68A}},
    };
    return m;
}

char32_t math_style_exception(std::string_view style, char32_t c) {
    static const std::map<std::pair<std::string_view, char32_t>, char32_t> ex = {
        {{"mathit", 'h'}, 0x210E},    {{"mathcal", 'B'}, 0x212C},  {{"mathcal", 'E'}, 0x2130},
        {{"mathcal", 'F'}, 0x2131},   {{"mathcal", 'H'}, 0x210B},  {{"mathcal", 'I'}, 0x2110},
        {{"mathcal", 'L'}, 0x2112},   {{"mathcal", 'M'}, 0x2133},  {{"mathcal", 'R'}, 0x211B},
        {{"mathcal", 'e'}, 0x212F},   {{"mathcal", 'g'}, 0x210A},  {{"mathcal", 'o'}, 0x2134},
        {{"mathscr", 'B'}, 0x212C},   {{"mathscr", 'E'}, 0x2130},  {{"mathscr", 'F'}, 0x2131},
        {{"mathscr", 'H'}, 0x210B},   {{"mathscr", 'I'}, 0x2110},  {{"mathscr", 'L'}, 0x2112},
        {{"mathscr", 'M'}, 0x2133},   {{"mathscr", 'R'}, 0x211B},  {{"mathscr", 'e'}, 0x212F},
        {{"mathscr", 'g'}, 0x210A},   {{"mathscr", 'o'}, 0x2134},  {{"mathfrak", 'C'}, 0x212D},
        {{"mathfrak", 'H'}, 0x210C},  {{"mathfrak", 'I'}, 0x2111}, {{"mathfrak", 'R'}, 0x211C},
        {{"mathfrak", 'Z'}, 0x2128},  {{"mathbb", 'C'}, 0x2102},   {{"mathbb", 'H'}, 0x210D},
        {{"mathbb", 'N'}, 0x2115},    {{"mathbb", 'P'}, 0x2119},   {{"mathbb", 'Q'}, 0x211A},
        {{"mathbb", 'R'}, 0x211D},    {{"mathbb", 'Z'}, 0x2124},
    };
    auto it = ex.find({style, c});
    return it == ex.end() ? 0 : it->second;
}

std::string apply_math_style(std::string_view style, std::string_view text) {
    auto off = math_styles().at(style);
    std::string out;
    for (size_t i = 0; i < text.size();) {
        size_t len;
        char32_t c = decode_at(text, i, len);
        if (char32_t e = math_style_exception(style, c)) utf8_append(out, e);
        else if (c >= 'A' && c <= 'Z') utf8_append(out, off.first + (c - 'A'));
        else if (c >= 'a' && c <= 'z') utf8_append(out, off.second + (c - 'a'));
        else out.append(text.substr(i, len));
        i += len;
    }
    return out;
}

// NFC composition of a character and one combining accent (what unicodedata.normalize('NFC', ch + accent)
// yields as a single code point), for the characters LaTeX accents are put on. Sorted.
constexpr std::array<std::array<char32_t, 3>, 341> kCompose = {{
    {0x3C, 0x338, 0x226E}, {0x3D, 0x338, 0x2260}, {0x3E, 0x338, 0x226F}, {0x41, 0x300, 0xC0}, {0x41, 0x301, 0xC1},
    {0x41, 0x302, 0xC2}, {0x41, 0x303, 0xC3}, {0x41, 0x304, 0x100}, {0x41, 0x306, 0x102}, {0x41, 0x307, 0x226},
    {0x41, 0x308, 0xC4}, {0x41, 0x30A, 0xC5}, {0x41, 0x30C, 0x1CD}, {0x41, 0x323, 0x1EA0}, {0x41, 0x328, 0x104},
    {0x42, 0x307, 0x1E02}, {0x42, 0x323, 0x1E04}, {0x42, 0x331, 0x1E06}, {0x43, 0x301, 0x106}, {0x43, 0x302, 0x108},
    {0x43, 0x307, 0x10A}, {0x43, 0x30C, 0x10C}, {0x43, 0x327, 0xC7}, {0x44, 0x307, 0x1E0A}, {0x44, 0x30C, 0x10E},
    {0x44, 0x323, 0x1E0C}, {0x44, 0x327, 0x1E10}, {0x44, 0x331, 0x1E0E}, {0x45, 0x300, 0xC8}, {0x45, 0x301, 0xC9},
    {0x45, 0x302, 0xCA}, {0x45, 0x303, 0x1EBC}, {0x45, 0x304, 0x112}, {0x45, 0x306, 0x114}, {0x45, 0x307, 0x116},
    {0x45, 0x308, 0xCB}, {0x45, 0x30C, 0x11A}, {0x45, 0x323, 0x1EB8}, {0x45, 0x327, 0x228}, {0x45, 0x328, 0x118},
    {0x46, 0x307, 0x1E1E}, {0x47, 0x301, 0x1F4}, {0x47, 0x302, 0x11C}, {0x47, 0x304, 0x1E20}, {0x47, 0x306, 0x11E},
    {0x47, 0x307, 0x120}, {0x47, 0x30C, 0x1E6}, {0x47, 0x327, 0x122}, {0x48, 0x302, 0x124}, {0x48, 0x307, 0x1E22},
    {0x48, 0x308, 0x1E26}, {0x48, 0x30C, 0x21E}, {0x48, 0x323, 0x1E24}, {0x48, 0x327, 0x1E28}, {0x49, 0x300, 0xCC},
    {0x49, 0x301, 0xCD}, {0x49, 0x302, 0xCE}, {0x49, 0x303, 0x128}, {0x49, 0x304, 0x12A}, {0x49, 0x306, 0x12C},
    {0x49, 0x307, 0x130}, {0x49, 0x308, 0xCF}, {0x49, 0x30C, 0x1CF}, {0x49, 0x323, 0x1ECA}, {0x49, 0x328, 0x12E},
    {0x4A, 0x302, 0x134}, {0x4B, 0x301, 0x1E30}, {0x4B, 0x30C, 0x1E8}, {0x4B, 0x323, 0x1E32}, {0x4B, 0x327, 0x136},
    {0x4B, 0x331, 0x1E34}, {0x4C, 0x301, 0x139}, {0x4C, 0x30C, 0x13D}, {0x4C, 0x323, 0x1E36}, {0x4C, 0x327, 0x13B},
    {0x4C, 0x331, 0x1E3A}, {0x4D, 0x301, 0x1E3E}, {0x4D, 0x307, 0x1E40}, {0x4D, 0x323, 0x1E42}, {0x4E, 0x300, 0x1F8},
    {0x4E, 0x301, 0x143}, {0x4E, 0x303, 0xD1}, {0x4E, 0x307, 0x1E44}, {0x4E, 0x30C, 0x147}, {0x4E, 0x323, 0x1E46},
    {0x4E, 0x327, 0x145}, {0x4E, 0x331, 0x1E48}, {0x4F, 0x300, 0xD2}, {0x4F, 0x301, 0xD3}, {0x4F, 0x302, 0xD4},
    {0x4F, 0x303, 0xD5}, {0x4F, 0x304, 0x14C}, {0x4F, 0x306, 0x14E}, {0x4F, 0x307, 0x22E}, {0x4F, 0x308, 0xD6},
    {0x4F, 0x30B, 0x150}, {0x4F, 0x30C, 0x1D1}, {0x4F, 0x323, 0x1ECC}, {0x4F, 0x328, 0x1EA}, {0x50, 0x301, 0x1E54},
    {0x50, 0x307, 0x1E56}, {0x52, 0x301, 0x154}, {0x52, 0x307, 0x1E58}, {0x52, 0x30C, 0x158}, {0x52, 0x323, 0x1E5A},
    {0x52, 0x327, 0x156}, {0x52, 0x331, 0x1E5E}, {0x53, 0x301, 0x15A}, {0x53, 0x302, 0x15C}, {0x53, 0x307, 0x1E60},
    {0x53, 0x30C, 0x160}, {0x53, 0x323, 0x1E62}, {0x53, 0x327, 0x15E}, {0x54, 0x307, 0x1E6A}, {0x54, 0x30C, 0x164},
    {0x54, 0x323, 0x1E6C}, {0x54, 0x327, 0x162}, {0x54, 0x331, 0x1E6E}, {0x55, 0x300, 0xD9}, {0x55, 0x301, 0xDA},
    {0x55, 0x302, 0xDB}, {0x55, 0x303, 0x168}, {0x55, 0x304, 0x16A}, {0x55, 0x306, 0x16C}, {0x55, 0x308, 0xDC},
    {0x55, 0x30A, 0x16E}, {0x55, 0x30B, 0x170}, {0x55, 0x30C, 0x1D3}, {0x55, 0x323, 0x1EE4}, {0x55, 0x328, 0x172},
    {0x56, 0x303, 0x1E7C}, {0x56, 0x323, 0x1E7E}, {0x57, 0x300, 0x1E80}, {0x57, 0x301, 0x1E82}, {0x57, 0x302, 0x174},
    {0x57, 0x307, 0x1E86}, {0x57, 0x308, 0x1E84}, {0x57, 0x323, 0x1E88}, {0x58, 0x307, 0x1E8A}, {0x58, 0x308, 0x1E8C},
    {0x59, 0x300, 0x1EF2}, {0x59, 0x301, 0xDD}, {0x59, 0x302, 0x176}, {0x59, 0x303, 0x1EF8}, {0x59, 0x304, 0x232},
    {0x59, 0x307, 0x1E8E}, {0x59, 0x308, 0x178}, {0x59, 0x323, 0x1EF4}, {0x5A, 0x301, 0x179}, {0x5A, 0x302, 0x1E90},
    {0x5A, 0x307, 0x17B}, {0x5A, 0x30C, 0x17D}, {0x5A, 0x323, 0x1E92}, {0x5A, 0x331, 0x1E94}, {0x61, 0x300, 0xE0},
    {0x61, 0x301, 0xE1}, {0x61, 0x302, 0xE2}, {0x61, 0x303, 0xE3}, {0x61, 0x304, 0x101}, {0x61, 0x306, 0x103},
    {0x61, 0x307, 0x227}, {0x61, 0x308, 0xE4}, {0x61, 0x30A, 0xE5}, {0x61, 0x30C, 0x1CE}, {0x61, 0x323, 0x1EA1},
    {0x61, 0x328, 0x105}, {0x62, 0x307, 0x1E03}, {0x62, 0x323, 0x1E05}, {0x62, 0x331, 0x1E07}, {0x63, 0x301, 0x107},
    {0x63, 0x302, 0x109}, {0x63, 0x307, 0x10B}, {0x63, 0x30C, 0x10D}, {0x63, 0x327, 0xE7}, {0x64, 0x307, 0x1E0B},
    {0x64, 0x30C, 0x10F}, {0x64, 0x323, 0x1E0D}, {0x64, 0x327, 0x1E11}, {0x64, 0x331, 0x1E0F}, {0x65, 0x300, 0xE8},
    {0x65, 0x301, 0xE9}, {0x65, 0x302, 0xEA}, {0x65, 0x303, 0x1EBD}, {0x65, 0x304, 0x113}, {0x65, 0x306, 0x115},
    {0x65, 0x307, 0x117}, {0x65, 0x308, 0xEB}, {0x65, 0x30C, 0x11B}, {0x65, 0x323, 0x1EB9}, {0x65, 0x327, 0x229},
    {0x65, 0x328, 0x119}, {0x66, 0x307, 0x1E1F}, {0x67, 0x301, 0x1F5}, {0x67, 0x302, 0x11D}, {0x67, 0x304, 0x1E21},
    {0x67, 0x306, 0x11F}, {0x67, 0x307, 0x121}, {0x67, 0x30C, 0x1E7}, {0x67, 0x327, 0x123}, {0x68, 0x302, 0x125},
    {0x68, 0x307, 0x1E23}, {0x68, 0x308, 0x1E27}, {0x68, 0x30C, 0x21F}, {0x68, 0x323, 0x1E25}, {0x68, 0x327, 0x1E29},
    {0x68, 0x331, 0x1E96}, {0x69, 0x300, 0xEC}, {0x69, 0x301, 0xED}, {0x69, 0x302, 0xEE}, {0x69, 0x303, 0x129},
    {0x69, 0x304, 0x12B}, {0x69, 0x306, 0x12D}, {0x69, 0x308, 0xEF}, {0x69, 0x30C, 0x1D0}, {0x69, 0x323, 0x1ECB},
    {0x69, 0x328, 0x12F}, {0x6A, 0x302, 0x135}, {0x6A, 0x30C, 0x1F0}, {0x6B, 0x301, 0x1E31}, {0x6B, 0x30C, 0x1E9},
    {0x6B, 0x323, 0x1E33}, {0x6B, 0x327, 0x137}, {0x6B, 0x331, 0x1E35}, {0x6C, 0x301, 0x13A}, {0x6C, 0x30C, 0x13E},
    {0x6C, 0x323, 0x1E37}, {0x6C, 0x327, 0x13C}, {0x6C, 0x331, 0x1E3B}, {0x6D, 0x301, 0x1E3F}, {0x6D, 0x307, 0x1E41},
    {0x6D, 0x323, 0x1E43}, {0x6E, 0x300, 0x1F9}, {0x6E, 0x301, 0x144}, {0x6E, 0x303, 0xF1}, {0x6E, 0x307, 0x1E45},
    {0x6E, 0x30C, 0x148}, {0x6E, 0x323, 0x1E47}, {0x6E, 0x327, 0x146}, {0x6E, 0x331, 0x1E49}, {0x6F, 0x300, 0xF2},
    {0x6F, 0x301, 0xF3}, {0x6F, 0x302, 0xF4}, {0x6F, 0x303, 0xF5}, {0x6F, 0x304, 0x14D}, {0x6F, 0x306, 0x14F},
    {0x6F, 0x307, 0x22F}, {0x6F, 0x308, 0xF6}, {0x6F, 0x30B, 0x151}, {0x6F, 0x30C, 0x1D2}, {0x6F, 0x323, 0x1ECD},
    {0x6F, 0x328, 0x1EB}, {0x70, 0x301, 0x1E55}, {0x70, 0x307, 0x1E57}, {0x72, 0x301, 0x155}, {0x72, 0x307, 0x1E59},
    {0x72, 0x30C, 0x159}, {0x72, 0x323, 0x1E5B}, {0x72, 0x327, 0x157}, {0x72, 0x331, 0x1E5F}, {0x73, 0x301, 0x15B},
    {0x73, 0x302, 0x15D}, {0x73, 0x307, 0x1E61}, {0x73, 0x30C, 0x161}, {0x73, 0x323, 0x1E63}, {0x73, 0x327, 0x15F},
    {0x74, 0x307, 0x1E6B}, {0x74, 0x308, 0x1E97}, {0x74, 0x30C, 0x165}, {0x74, 0x323, 0x1E6D}, {0x74, 0x327, 0x163},
    {0x74, 0x331, 0x1E6F}, {0x75, 0x300, 0xF9}, {0x75, 0x301, 0xFA}, {0x75, 0x302, 0xFB}, {0x75, 0x303, 0x169},
    {0x75, 0x304, 0x16B}, {0x75, 0x306, 0x16D}, {0x75, 0x308, 0xFC}, {0x75, 0x30A, 0x16F}, {0x75, 0x30B, 0x171},
    {0x75, 0x30C, 0x1D4}, {0x75, 0x323, 0x1EE5}, {0x75, 0x328, 0x173}, {0x76, 0x303, 0x1E7D}, {0x76, 0x323, 0x1E7F},
    {0x77, 0x300, 0x1E81}, {0x77, 0x301, 0x1E83}, {0x77, 0x302, 0x175}, {0x77, 0x307, 0x1E87}, {0x77, 0x308, 0x1E85},
    {0x77, 0x30A, 0x1E98}, {0x77, 0x323, 0x1E89}, {0x78, 0x307, 0x1E8B}, {0x78, 0x308, 0x1E8D}, {0x79, 0x300, 0x1EF3},
    {0x79, 0x301, 0xFD}, {0x79, 0x302, 0x177}, {0x79, 0x303, 0x1EF9}, {0x79, 0x304, 0x233}, {0x79, 0x307, 0x1E8F},
    {0x79, 0x308, 0xFF}, {0x79, 0x30A, 0x1E99}, {0x79, 0x323, 0x1EF5}, {0x7A, 0x301, 0x17A}, {0x7A, 0x302, 0x1E91},
    {0x7A, 0x307, 0x17C}, {0x7A, 0x30C, 0x17E}, {0x7A, 0x323, 0x1E93}, {0x7A, 0x331, 0x1E95}, {0x2190, 0x338, 0x219A},
    {0x2192, 0x338, 0x219B}, {0x2194, 0x338, 0x21AE}, {0x21D0, 0x338, 0x21CD}, {0x21D2, 0x338, 0x21CF}, {0x21D4, 0x338, 0x21CE},
    {0x2203, 0x338, 0x2204}, {0x2208, 0x338, 0x2209}, {0x220B, 0x338, 0x220C}, {0x2223, 0x338, 0x2224}, {0x2225, 0x338, 0x2226},
    {0x223C, 0x338, 0x2241}, {0x2243, 0x338, 0x2244}, {0x2245, 0x338, 0x2247}, {0x2248, 0x338, 0x2249}, {0x2261, 0x338, 0x2262},
    {0x2264, 0x338, 0x2270}, {0x2265, 0x338, 0x2271}, {0x227A, 0x338, 0x2280}, {0x227B, 0x338, 0x2281}, {0x2282, 0x338, 0x2284},
    {0x2283, 0x338, 0x2285}, {0x2286, 0x338, 0x2288}, {0x2287, 0x338, 0x2289}, {0x22A2, 0x338, 0x22AC}, {0x22A8, 0x338, 0x22AD},
    {0x22A9, 0x338, 0x22AE}, {0x22AB, 0x338, 0x22AF}, {0x22B2, 0x338, 0x22EA}, {0x22B3, 0x338, 0x22EB}, {0x22B4, 0x338, 0x22EC},
    {0x22B5, 0x338, 0x22ED},
}};

char32_t compose(char32_t base, char32_t accent) {
    std::array<char32_t, 3> key{base, accent, 0};
    auto it = std::lower_bound(kCompose.begin(), kCompose.end(), key,
                               [](const auto &a, const auto &b) { return a[0] != b[0] ? a[0] < b[0] : a[1] < b[1]; });
    return (it != kCompose.end() && (*it)[0] == base && (*it)[1] == accent) ? (*it)[2] : 0;
}

const std::map<std::string_view, std::string_view> &accent_macros() {
    static const std::map<std::string_view, std::string_view> m = {
        {"'", "\xCC\x81"},     {"`", "\xCC\x80"},    {"\"", "\xCC\x88"},    {"c", "\xCC\xA7"},    {"^", "\xCC\x82"},
        {"~", "\xCC\x83"},     {"H", "\xCC\x8B"},    {"k", "\xCC\xA8"},     {"=", "\xCC\x84"},    {"b", "\xCC\xB1"},
        {".", "\xCC\x87"},     {"d", "\xCC\xA3"},    {"r", "\xCC\x8A"},     {"u", "\xCC\x86"},    {"v", "\xCC\x8C"},
        {"vec", "\xE2\x83\x97"}, {"dot", "\xCC\x87"}, {"hat", "\xCC\x82"},  {"check", "\xCC\x8C"}, {"breve", "\xCC\x86"},
        {"acute", "\xCC\x81"}, {"grave", "\xCC\x80"}, {"tilde", "\xCC\x83"}, {"bar", "\xCC\x85"},  {"ddot", "\xCC\x88"},
        {"not", "\xCC\xB8"},
    };
    return m;
}

class ToText {
  public:
    std::string nodes_to_text(const std::vector<LNode> &nodes) {
        std::string s;
        const LNode *prev = nullptr;
        for (const auto &n : nodes) {
            if (in_equation_ && prev && is_bare_macro(*prev) && n.kind == LNode::Chars) s += prev->post_space;
            s += node_to_text(n);
            prev = &n;
        }
        return s;
    }

  private:
    bool in_equation_ = false; // strict_latex_spaces 'in-equations' = 'based-on-source'

    static bool is_bare_macro(const LNode &n) {
        if (n.kind != LNode::Macro) return false;
        if (!n.args_parsed || n.args.empty()) return true;
        // legacy nodeoptarg/nodeargs: "[{..." specs (after '*'s) have an optarg; bare iff no optarg and no args
        std::string_view spec = walker_argspec(n.text);
        size_t nskip = 0;
        while (nskip < spec.size() && spec[nskip] == '*') ++nskip;
        std::string_view rest = spec.substr(nskip);
        if (!rest.empty() && rest[0] == '[' &&
            std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c == '{'; })) {
            bool optarg = nskip < n.args.size() && n.arg_present[nskip];
            return !optarg && n.args.size() <= nskip + 1;
        }
        return false;
    }

    std::string arg_text(const LNode &n, size_t k) {
        if (k >= n.args.size() || !n.arg_present[k]) return "";
        const LNode &a = n.args[k];
        if (a.kind == LNode::Group) return nodes_to_text(a.nodes);
        return node_to_text(a);
    }

    std::string node_to_text(const LNode &n) {
        switch (n.kind) {
        case LNode::Chars:
            if (in_equation_ && py_strip_view(n.text).empty()) return "";
            return n.text;
        case LNode::Group: return nodes_to_text(n.nodes);
        case LNode::Macro: return macro_to_text(n);
        case LNode::Specials: return specials_to_text(n.text);
        case LNode::Math: return math_to_text(n.nodes, n.display);
        case LNode::Env: return env_to_text(n);
        }
        return "";
    }

    static std::string specials_to_text(std::string_view sp) {
        if (sp == "&") return "   ";
        if (sp == "~") return "\xC2\xA0";
        if (sp == "``") return "\xE2\x80\x9C";
        if (sp == "''") return "\xE2\x80\x9D";
        if (sp == "--") return "\xE2\x80\x93";
        if (sp == "---") return "\xE2\x80\x94";
        if (sp == "!`") return "\xC2\xA1";
        if (sp == "?`") return "\xC2\xBF";
        return std::string(sp);
    }

    std::string math_to_text(const std::vector<LNode> &nodes, bool display) {
        bool saved = in_equation_;
        in_equation_ = true;
        std::string content = py_strip(nodes_to_text(nodes));
        in_equation_ = saved;
        if (display) return "\n    " + replace_all(content, "\n", "\n    ") + "\n";
        return content;
    }

    // "%s"-style replacement: a tuple of all arguments; a count mismatch keeps the template (TypeError).
    std::string percent_s(const LNode &n, std::string_view tmpl, size_t nargs) {
        size_t have = n.args_parsed ? n.args.size() : 0;
        if (have != nargs) return std::string(tmpl);
        std::string out;
        size_t k = 0;
        for (size_t i = 0; i < tmpl.size(); ++i) {
            if (tmpl[i] == '%' && i + 1 < tmpl.size() && tmpl[i + 1] == 's') {
                out += arg_text(n, k++);
                ++i;
            } else {
                out += tmpl[i];
            }
        }
        return out;
    }

    // "%(k)s"-style replacement: a missing argument raises KeyError.
    std::string keyed_arg(const LNode &n, size_t k1) {
        size_t have = n.args_parsed ? n.args.size() : 0;
        if (k1 == 0 || k1 > have) throw PyError{};
        return arg_text(n, k1 - 1);
    }

    std::string macro_to_text(const LNode &n) {
        const std::string &m = n.text;
        if (m == "frac" || m == "nicefrac" || m == "textfrac") return percent_s(n, "%s/%s", 2);
        if (m == "sqrt") return "\xE2\x88\x9A(" + keyed_arg(n, 2) + ")";
        if (m == "overline" || m == "underline" || m == "widehat" || m == "widetilde" || m == "wideparen" ||
            m == "overleftarrow" || m == "overrightarrow" || m == "overleftrightarrow" || m == "underleftarrow" ||
            m == "underrightarrow" || m == "underleftrightarrow" || m == "overbrace" || m == "underbrace" ||
            m == "overgroup" || m == "undergroup" || m == "overbracket" || m == "underbracket" ||
            m == "overlinesegment" || m == "underlinesegment" || m == "overleftharpoon" || m == "overrightharpoon")
            return percent_s(n, "%s", 1);
        if (m == "url") return percent_s(n, "<%s>", 1);
        if (m == "ket") return percent_s(n, "|%s\xE2\x9F\xA9", 1);
        if (m == "bra") return percent_s(n, "\xE2\x9F\xA8%s|", 1);
        if (m == "braket") return percent_s(n, "\xE2\x9F\xA8%s|%s\xE2\x9F\xA9", 2);
        if (m == "ketbra") return percent_s(n, "|%s\xE2\x9F\xA9\xE2\x9F\xA8%s|", 2);
        if (m == "hint") return percent_s(n, "Hint: %s", 1);
        if (m == "hints") return percent_s(n, "Hints: %s", 1);
        if (m == "hinweis") return percent_s(n, "Hinweis: %s", 1);
        if (m == "hinweise") return percent_s(n, "Hinweise: %s", 1);
        if (m == "footnote") return "[" + keyed_arg(n, 2) + "]";
        if (m == "textcolor" || m == "colorbox") return keyed_arg(n, 3);
        if (m == "fcolorbox") return keyed_arg(n, 5);
        if (m == "texorpdfstring") return arg_text(n, 1);
        if (m == "%") return "%";
        if (m == "emph" || m == "textrm" || m == "textit" || m == "textbf" || m == "textsc" || m == "textsl" ||
            m == "text" || m == "mathrm") {
            std::string out;
            if (n.args_parsed)
                for (size_t k = 0; k < n.args.size(); ++k) out += arg_text(n, k);
            return out;
        }
        if (math_styles().count(m)) return apply_math_style(m, n.args_parsed ? arg_text(n, 0) : std::string());
        if (auto it = accent_macros().find(m); it != accent_macros().end()) {
            std::string c = " ";
            if (n.args_parsed && !n.args.empty()) {
                const LNode &a = n.args[0];
                c = py_strip(a.kind == LNode::Group ? nodes_to_text(a.nodes) : node_to_text(a));
            }
            size_t alen;
            char32_t accent = decode_at(it->second, 0, alen);
            std::string out;
            for (size_t i = 0; i < c.size();) {
                size_t len;
                char32_t ch = decode_at(c, i, len);
                if (ch == 0x131) ch = 'i';
                else if (ch == 0x237) ch = 'j';
                if (char32_t composed = compose(ch, accent)) {
                    utf8_append(out, composed);
                } else {
                    if (ch == 'i' || ch == 'j') out += static_cast<char>(ch);
                    else out.append(c, i, len);
                    out += it->second;
                }
                i += len;
            }
            return out;
        }
        if (const std::string_view *t = macro_text(m)) return std::string(*t);
        return ""; // unknown macros (and \title, \input, ...) are dropped with their arguments
    }

    std::string env_to_text(const LNode &n) {
        const std::string &e = n.text;
        if (e == "array" || e == "pmatrix" || e == "bmatrix" || e == "smallmatrix" || e == "psmallmatrix" ||
            e == "bsmallmatrix")
            return matrix_to_text(n.nodes);
        if (e == "equation" || e == "equation*" || e == "eqnarray" || e == "eqnarray*" || e == "align" ||
            e == "multline" || e == "gather" || e == "align*" || e == "multline*" || e == "gather*" || e == "dmath" ||
            e == "dmath*")
            return math_to_text(n.nodes, true);
        if (e == "center" || e == "flushleft" || e == "flushright") return "\n" + nodes_to_text(n.nodes) + "\n";
        return nodes_to_text(n.nodes);
    }

    std::string matrix_to_text(const std::vector<LNode> &body) {
        std::vector<std::vector<std::string>> rows;
        std::vector<std::string> cols;
        std::vector<LNode> buffer;
        auto new_column = [&] {
            if (!buffer.empty()) cols.push_back(py_strip(nodes_to_text(buffer)));
            buffer.clear();
        };
        auto new_row = [&] {
            new_column();
            rows.push_back(cols);
            cols.clear();
        };
        for (const auto &n : body) {
            if (n.kind == LNode::Specials && n.text == "&") {
                new_column();
                continue;
            }
            if (n.kind == LNode::Macro && n.text == "\\") {
                new_row();
                continue;
            }
            buffer.push_back(n);
        }
        new_row();
        size_t width = 0;
        bool any = false;
        for (const auto &r : rows)
            for (const auto &x : r) {
                width = std::max(width, py_len(x));
                any = true;
            }
        if (!any) throw PyError{}; // max() of an empty sequence
        std::string out = "[ ";
        for (size_t i = 0; i < rows.size(); ++i) {
            if (i) out += "; ";
            for (size_t j = 0; j < rows[i].size(); ++j) {
                if (j) out += " ";
                out += std::string(width - py_len(rows[i][j]), ' ') + rows[i][j];
            }
        }
        return out + " ]";
    }
};

std::string latex_to_text(std::string_view latex) {
    Walker w(latex);
    std::vector<LNode> nodes = w.parse();
    ToText t;
    return t.nodes_to_text(nodes);
}

} // namespace

// ------------------------------------------------------------------------------------------------
// PRM800K grader._normalize
// ------------------------------------------------------------------------------------------------

namespace {

// re.sub(f"{unit}(es)?(s)? *(\^[0-9]+)?", "", expr)
std::string remove_unit(std::string_view s, std::string_view unit) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        if (s.substr(i, unit.size()) != unit) {
            out += s[i++];
            continue;
        }
        size_t j = i + unit.size();
        if (s.substr(j, 2) == "es") j += 2;
        if (j < s.size() && s[j] == 's') ++j;
        while (j < s.size() && s[j] == ' ') ++j;
        if (j + 1 < s.size() && s[j] == '^' && ascii_digit(s[j + 1])) {
            ++j;
            while (j < s.size() && ascii_digit(s[j])) ++j;
        }
        i = j;
    }
    return out;
}

// re.sub("\^ *\\\\circ", "", expr)
std::string remove_circ(std::string_view s) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        if (s[i] == '^') {
            size_t j = i + 1;
            while (j < s.size() && s[j] == ' ') ++j;
            if (s.substr(j, 5) == "\\circ") {
                i = j + 5;
                continue;
            }
        }
        out += s[i++];
    }
    return out;
}

// re.sub(",\\\\! *", "", expr)
std::string remove_comma_negspace(std::string_view s) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        if (s.substr(i, 3) == ",\\!") {
            i += 3;
            while (i < s.size() && s[i] == ' ') ++i;
            continue;
        }
        out += s[i++];
    }
    return out;
}

// re.sub("- *", "-", expr)
std::string tighten_minus(std::string_view s) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        out += s[i];
        if (s[i++] == '-')
            while (i < s.size() && s[i] == ' ') ++i;
    }
    return out;
}

// _inject_implicit_mixed_number: re.sub("([0-9]) +([0-9])", "\\1+\\2", step)
std::string inject_mixed_number(std::string_view s) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        if (ascii_digit(s[i])) {
            size_t j = i + 1;
            while (j < s.size() && s[j] == ' ') ++j;
            if (j > i + 1 && j < s.size() && ascii_digit(s[j])) {
                out += s[i];
                out += '+';
                out += s[j];
                i = j + 1;
                continue;
            }
        }
        out += s[i++];
    }
    return out;
}

// _strip_properly_formatted_commas: re (\d)(,)(\d\d\d)($|\D) -> \1\3\4 until stable
std::string strip_properly_formatted_commas(std::string expr) {
    while (true) {
        std::string next;
        size_t i = 0, n = expr.size();
        while (i < n) {
            if (ascii_digit(expr[i]) && i + 4 < n && expr[i + 1] == ',' && ascii_digit(expr[i + 2]) &&
                ascii_digit(expr[i + 3]) && ascii_digit(expr[i + 4])) {
                size_t k = i + 5;
                bool at_end = k == n || (k + 1 == n && expr[k] == '\n');
                if (at_end || !ascii_digit(expr[k])) {
                    next += expr[i];
                    next.append(expr, i + 2, 3);
                    i = k;
                    if (!at_end) { // \D consumed one character (a whole code point)
                        size_t len = std::min(cp_len(static_cast<unsigned char>(expr[k])), n - k);
                        next.append(expr, k, len);
                        i = k + len;
                    }
                    continue;
                }
            }
            next += expr[i++];
        }
        if (next == expr) return next;
        expr = std::move(next);
    }
}

bool str_is_int(std::string_view x) {
    auto f = py_float(strip_properly_formatted_commas(std::string(x)));
    return f && py_is_int(*f);
}

std::string str_to_int(std::string_view x) {
    auto f = py_float(replace_all(x, ",", ""));
    if (!f || !std::isfinite(*f)) throw PyError{};
    return int_string(std::trunc(*f));
}

std::string parse_latex(std::string expr) {
    expr = replace_all(expr, "\\tfrac", "\\frac");
    expr = replace_all(expr, "\\dfrac", "\\frac");
    expr = replace_all(expr, "\\frac", " \\frac"); // "Play nice with mixed numbers."
    expr = latex_to_text(expr);
    expr = replace_all(expr, "\xE2\x88\x9A", "sqrt"); // √
    expr = replace_all(expr, "\xCF\x80", "pi");       // π
    expr = replace_all(expr, "\xE2\x88\x9E", "inf");  // ∞
    expr = replace_all(expr, "\xE2\x88\xAA", "U");    // ∪
    expr = replace_all(expr, "\xC2\xB7", "*");        // ·
    expr = replace_all(expr, "\xC3\x97", "*");        // ×
    return py_strip(expr);
}

std::string normalize_impl(std::string_view in) {
    std::string expr(in);
    if (auto g = match_text_wrapper(expr)) expr = *g;
    expr = replace_all(expr, "\\%", "%");
    expr = replace_all(expr, "\\$", "$");
    expr = replace_all(expr, "$", "");
    expr = replace_all(expr, "%", "");
    expr = replace_all(expr, " or ", " , ");
    expr = replace_all(expr, " and ", " , ");
    expr = replace_all(expr, "million", "*10^6");
    expr = replace_all(expr, "billion", "*10^9");
    expr = replace_all(expr, "trillion", "*10^12");
    for (std::string_view unit : {"degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day",
                                  "week", "month", "year", "foot", "feet", "inch", "yard"})
        expr = remove_unit(expr, unit);
    expr = remove_circ(expr);
    if (!expr.empty() && expr.front() == '{' && expr.back() == '}') expr = expr.substr(1, expr.size() - 2);
    expr = remove_comma_negspace(expr);
    if (auto f = py_float(expr); f && py_is_int(*f)) expr = int_string(std::nearbyint(*f));
    if (contains(expr, "\\")) {
        try {
            expr = parse_latex(expr);
        } catch (const PyError &) {
        } catch (const EndOfStream &) {
        }
    }
    expr = tighten_minus(expr);
    expr = inject_mixed_number(expr);
    expr = replace_all(expr, " ", "");
    expr = replace_all(expr, "{", "");
    expr = replace_all(expr, "}", "");
    expr = py_lower(expr);
    if (str_is_int(expr)) expr = str_to_int(expr);
    return expr;
}

} // namespace

std::string normalize_answer(std::string_view answer) {
    try {
        return normalize_impl(answer);
    } catch (...) {
        return std::string(answer);
    }
}

// ------------------------------------------------------------------------------------------------
// Stand-in for are_equal_under_sympy: parse "(gt)-(given)" the way sympy's parse_expr with
// standard_transformations + implicit_multiplication_application would, then decide "== 0".
// ------------------------------------------------------------------------------------------------

namespace {

__extension__ typedef __int128 i128;
using cplx = std::complex<double>;

struct Rat {
    i128 n = 0, d = 1; // d > 0, gcd(n, d) == 1
};

i128 i128_abs(i128 v) { return v < 0 ? -v : v; }
i128 gcd128(i128 a, i128 b) {
    a = i128_abs(a);
    b = i128_abs(b);
    while (b != 0) {
        i128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}
__extension__ typedef unsigned __int128 u128;
constexpr i128 kI128Max = static_cast<i128>((~static_cast<u128>(0)) >> 1);

std::optional<Rat> make_rat(i128 n, i128 d) {
    if (d == 0) return std::nullopt;
    if (n == -kI128Max - 1 || d == -kI128Max - 1) return std::nullopt;
    if (d < 0) {
        n = -n;
        d = -d;
    }
    i128 g = gcd128(n, d);
    if (g > 1) {
        n /= g;
        d /= g;
    }
    return Rat{n, d};
}
std::optional<i128> mul_ck(i128 a, i128 b) {
    i128 r;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}
std::optional<i128> add_ck(i128 a, i128 b) {
    i128 r;
    if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
    return r;
}
std::optional<Rat> rat_add(const Rat &a, const Rat &b) {
    auto x = mul_ck(a.n, b.d), y = mul_ck(b.n, a.d), d = mul_ck(a.d, b.d);
    if (!x || !y || !d) return std::nullopt;
    auto n = add_ck(*x, *y);
    if (!n) return std::nullopt;
    return make_rat(*n, *d);
}
std::optional<Rat> rat_mul(const Rat &a, const Rat &b) {
    auto n = mul_ck(a.n, b.n), d = mul_ck(a.d, b.d);
    if (!n || !d) return std::nullopt;
    return make_rat(*n, *d);
}
double rat_to_double(const Rat &r) { return static_cast<double>(static_cast<long double>(r.n) / r.d); }

// A value: exact rational (sympy Integer/Rational), Float-contaminated rational arithmetic (sympy Float,
// compared exactly), or a numeric approximation (irrational / symbolic; compared with a tolerance).
struct Val {
    enum Kind { R, F, C } k = R;
    Rat r;
    double f = 0;
    cplx c;
    bool irr = true; // for C: involves an irrational or a symbol (false: an overflowed rational)
    cplx num() const { return k == R ? cplx(rat_to_double(r)) : k == F ? cplx(f) : c; }
    double fl() const { return k == R ? rat_to_double(r) : f; }
};
Val vrat(const Rat &r) {
    Val v;
    v.k = Val::R;
    v.r = r;
    return v;
}
Val vflt(double f) {
    Val v;
    v.k = Val::F;
    v.f = f;
    return v;
}
Val vnum(cplx c, bool irr = true) {
    Val v;
    v.k = Val::C;
    v.c = c;
    v.irr = irr;
    return v;
}
bool is_irr(const Val &v) { return v.k == Val::C && v.irr; }

struct EvalFail {}; // sympy would raise, or produce zoo/nan: the pair is "not equal"

Val v_add(const Val &a, const Val &b) {
    if (a.k == Val::R && b.k == Val::R) {
        if (auto r = rat_add(a.r, b.r)) return vrat(*r);
        return vnum(a.num() + b.num(), false);
    }
    if (a.k != Val::C && b.k != Val::C) return vflt(a.fl() + b.fl());
    return vnum(a.num() + b.num(), is_irr(a) || is_irr(b));
}
Val v_neg(const Val &a) {
    if (a.k == Val::R) {
        if (a.r.n == -kI128Max - 1) return vnum(-a.num(), false);
        return vrat(Rat{-a.r.n, a.r.d});
    }
    if (a.k == Val::F) return vflt(-a.f);
    return vnum(-a.c, a.irr);
}
Val v_sub(const Val &a, const Val &b) { return v_add(a, v_neg(b)); }
Val v_mul(const Val &a, const Val &b) {
    if (a.k == Val::R && b.k == Val::R) {
        if (auto r = rat_mul(a.r, b.r)) return vrat(*r);
        return vnum(a.num() * b.num(), false);
    }
    if (a.k != Val::C && b.k != Val::C) return vflt(a.fl() * b.fl());
    return vnum(a.num() * b.num(), is_irr(a) || is_irr(b));
}
Val v_div(const Val &a, const Val &b) {
    if (b.k == Val::R && b.r.n == 0) throw EvalFail{}; // zoo
    if (b.k == Val::F && b.f == 0) throw EvalFail{};
    if (a.k == Val::R && b.k == Val::R) {
        if (auto inv = make_rat(b.r.d, b.r.n))
            if (auto r = rat_mul(a.r, *inv)) return vrat(*r);
        return vnum(a.num() / b.num(), false);
    }
    if (a.k != Val::C && b.k != Val::C) { // Float / Number divides directly; Rational / Float is a * (1/b)
        if (a.k == Val::F) return vflt(a.f / b.fl());
        return vflt(a.fl() * (1.0 / b.f));
    }
    return vnum(a.num() / b.num(), is_irr(a) || is_irr(b));
}

// exact integer k-th root of v >= 0, if any
std::optional<i128> exact_root(i128 v, int k) {
    if (v < 0) return std::nullopt;
    if (v < 2) return v;
    long double approx = std::pow(static_cast<long double>(v), 1.0L / k);
    i128 base = static_cast<i128>(std::llround(approx));
    for (i128 cand = std::max<i128>(0, base - 2); cand <= base + 2; ++cand) {
        i128 p = 1;
        bool over = false;
        for (int i = 0; i < k && !over; ++i) {
            auto m = mul_ck(p, cand);
            if (!m) over = true;
            else p = *m;
        }
        if (!over && p == v) return cand;
    }
    return std::nullopt;
}

Val v_pow(const Val &a, const Val &b) {
    if (b.k == Val::R && b.r.d == 1) { // integer exponent
        i128 e = b.r.n;
        if (a.k == Val::R) {
            if (a.r.n == 0 && e < 0) throw EvalFail{}; // zoo
            if (i128_abs(e) <= 4096) {
                Rat base = a.r;
                if (e < 0) {
                    auto inv = make_rat(base.d, base.n);
                    if (!inv) throw EvalFail{};
                    base = *inv;
                }
                Rat acc{1, 1};
                bool over = false;
                for (i128 i = 0; i < i128_abs(e) && !over; ++i) {
                    auto m = rat_mul(acc, base);
                    if (!m) over = true;
                    else acc = *m;
                }
                if (!over) return vrat(acc);
            }
            return vnum(std::pow(a.num(), static_cast<double>(e)), false);
        }
        if (a.k == Val::F) {
            if (a.f == 0 && e < 0) throw EvalFail{};
            return vflt(std::pow(a.f, static_cast<double>(e)));
        }
        return vnum(std::pow(a.c, static_cast<double>(e)), a.irr);
    }
    if (b.k == Val::R && a.k == Val::R) { // rational exponent p/q
        if (a.r.n == 0) {
            if (b.r.n < 0) throw EvalFail{};
            return vrat(Rat{0, 1});
        }
        if (a.r.n > 0 && b.r.d <= 64) {
            auto rn = exact_root(a.r.n, static_cast<int>(b.r.d));
            auto rd = exact_root(a.r.d, static_cast<int>(b.r.d));
            if (rn && rd) return v_pow(vrat(Rat{*rn, *rd}), vrat(Rat{b.r.n, 1}));
        }
        return vnum(std::pow(a.num(), b.num()));
    }
    if (b.k == Val::F && a.k != Val::C) {
        double base = a.fl();
        if (base > 0) return vflt(std::pow(base, b.f));
        if (base == 0) {
            if (b.f < 0) throw EvalFail{};
            return vflt(0.0);
        }
    }
    cplx base = a.num();
    if (base == cplx(0)) {
        if (b.num().real() <= 0) throw EvalFail{};
        return vnum(0);
    }
    return vnum(std::pow(base, b.num()));
}

Val v_sqrt(const Val &a) {
    if (a.k == Val::R) {
        if (a.r.n >= 0) {
            auto rn = exact_root(a.r.n, 2);
            auto rd = exact_root(a.r.d, 2);
            if (rn && rd) return vrat(Rat{*rn, *rd});
        }
        return vnum(std::sqrt(a.num()));
    }
    if (a.k == Val::F && a.f >= 0) return vflt(std::sqrt(a.f));
    return vnum(std::sqrt(a.num()));
}

// ---- tokenizer (Python tokenize NUMBER / NAME / OP subset) ----

struct PTok {
    enum K { Num, Name, Op, End } k = End;
    std::string text;
    enum NumKind { Int, Float, Imag } nk = Int;
};

class Lexer {
  public:
    explicit Lexer(std::string_view s) : s_(s) {}

    std::vector<PTok> run() {
        std::vector<PTok> out;
        while (true) {
            while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r' ||
                                      s_[i_] == '\f'))
                ++i_;
            if (i_ >= s_.size()) break;
            char c = s_[i_];
            if (ascii_digit(c) || (c == '.' && i_ + 1 < s_.size() && ascii_digit(s_[i_ + 1]))) {
                out.push_back(number());
                continue;
            }
            size_t len;
            char32_t cp = decode_at(s_, i_, len);
            if (c == '_' || ascii_alpha(cp) || (cp >= 0x80 && py_isalpha(cp))) {
                size_t b = i_;
                while (i_ < s_.size()) {
                    char32_t q = decode_at(s_, i_, len);
                    if (q == '_' || ascii_alpha(q) || ascii_digit(q) || (q >= 0x80 && py_isalpha(q))) i_ += len;
                    else break;
                }
                out.push_back(PTok{PTok::Name, std::string(s_.substr(b, i_ - b))});
                continue;
            }
            if (s_.substr(i_, 2) == "**" || s_.substr(i_, 2) == "//") {
                out.push_back(PTok{PTok::Op, std::string(s_.substr(i_, 2))});
                i_ += 2;
                continue;
            }
            if (std::strchr("+-*/()!,", c) != nullptr) {
                out.push_back(PTok{PTok::Op, std::string(1, c)});
                ++i_;
                continue;
            }
            throw EvalFail{}; // anything else is a tokenize / syntax error for sympy
        }
        return out;
    }

  private:
    std::string_view s_;
    size_t i_ = 0;

    bool digitpart(size_t &p) const { // [0-9](?:_?[0-9])*
        if (p >= s_.size() || !ascii_digit(s_[p])) return false;
        ++p;
        while (p < s_.size()) {
            if (ascii_digit(s_[p])) ++p;
            else if (s_[p] == '_' && p + 1 < s_.size() && ascii_digit(s_[p + 1])) p += 2;
            else break;
        }
        return true;
    }
    bool exponent(size_t &p) const { // [eE][-+]?digitpart
        if (p >= s_.size() || (s_[p] != 'e' && s_[p] != 'E')) return false;
        size_t q = p + 1;
        if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
        if (!digitpart(q)) return false;
        p = q;
        return true;
    }
    PTok number() {
        size_t b = i_;
        // Imagnumber: digitpart [jJ]
        {
            size_t p = b;
            if (digitpart(p) && p < s_.size() && (s_[p] == 'j' || s_[p] == 'J')) {
                i_ = p + 1;
                return PTok{PTok::Num, std::string(s_.substr(b, p - b)), PTok::Imag};
            }
        }
        // Floatnumber: Pointfloat | Expfloat
        size_t p = b;
        bool isfloat = false;
        if (digitpart(p) && p < s_.size() && s_[p] == '.') {
            ++p;
            digitpart(p);
            exponent(p);
            isfloat = true;
        } else {
            p = b;
            if (s_[p] == '.') {
                ++p;
                if (digitpart(p)) {
                    exponent(p);
                    isfloat = true;
                }
            } else {
                p = b;
                if (digitpart(p) && exponent(p)) isfloat = true;
            }
        }
        if (isfloat) {
            std::string text(s_.substr(b, p - b));
            if (p < s_.size() && (s_[p] == 'j' || s_[p] == 'J')) {
                i_ = p + 1;
                return PTok{PTok::Num, text, PTok::Imag};
            }
            i_ = p;
            return PTok{PTok::Num, text, PTok::Float};
        }
        // Intnumber: hex | bin | oct | dec
        p = b;
        if (s_[p] == '0' && p + 1 < s_.size() && std::strchr("xXbBoO", s_[p + 1]) != nullptr && s_[p + 1] != 0) {
            char kind = static_cast<char>(std::tolower(static_cast<unsigned char>(s_[p + 1])));
            auto ok = [&](char ch) {
                if (kind == 'x') return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
                if (kind == 'b') return ch == '0' || ch == '1';
                return ch >= '0' && ch <= '7';
            };
            size_t q = p + 2;
            size_t cnt = 0;
            while (q < s_.size()) {
                if (s_[q] == '_' && q + 1 < s_.size() && ok(s_[q + 1])) q += 1;
                if (ok(s_[q])) {
                    ++q;
                    ++cnt;
                } else {
                    break;
                }
            }
            if (cnt > 0) {
                i_ = q;
                return PTok{PTok::Num, std::string(s_.substr(b, q - b)), PTok::Int};
            }
        }
        if (s_[p] == '0') { // 0(?:_?0)*
            ++p;
            while (p < s_.size()) {
                if (s_[p] == '0') ++p;
                else if (s_[p] == '_' && p + 1 < s_.size() && s_[p + 1] == '0') p += 2;
                else break;
            }
        } else {
            digitpart(p);
        }
        i_ = p;
        return PTok{PTok::Num, std::string(s_.substr(b, p - b)), PTok::Int};
    }
};

// ---- parser: tokens -> AST, with sympy's symbol splitting and implicit multiplication ----

bool is_greek_name(std::string_view n) {
    static const std::set<std::string_view> g = {"alpha", "beta",  "gamma",   "delta",   "epsilon", "zeta",
                                                 "eta",   "theta", "iota",    "kappa",   "lamda",   "mu",
                                                 "nu",    "xi",    "omicron", "pi",      "rho",     "sigma",
                                                 "tau",   "upsilon", "phi",   "chi",     "psi",     "omega"};
    return g.count(n) > 0;
}

bool is_keyword(std::string_view n) {
    static const std::set<std::string_view> k = {
        "False", "None", "True",  "and",    "as",   "assert", "async",  "await", "break",  "class", "continue",
        "def",   "del",  "elif",  "else",   "except", "finally", "for", "from",  "global", "if",    "import",
        "in",    "is",   "lambda", "nonlocal", "not", "or",    "pass",   "raise", "return", "try",   "while",
        "with",  "yield"};
    return k.count(n) > 0;
}

struct Ast {
    enum Op { Num, Sym, Pi, Add, Sub, Mul, Div, Pow, Neg, Func, Fact } op = Num;
    std::string text; // number literal / symbol name / function name
    PTok::NumKind nk = PTok::Int;
    int a = -1, b = -1;
};

class Parser {
  public:
    explicit Parser(std::vector<PTok> toks) : t_(std::move(toks)) { expand_names(); }

    // Parses the whole stream; returns the root index into nodes().
    int parse() {
        int r = expr(0);
        if (p_ != t_.size()) throw EvalFail{};
        return r;
    }
    const std::vector<Ast> &nodes() const { return n_; }

    std::set<std::string> symbols() const {
        std::set<std::string> out;
        for (const auto &n : n_)
            if (n.op == Ast::Sym) out.insert(n.text);
        return out;
    }
    bool has_float() const {
        for (const auto &n : n_)
            if (n.op == Ast::Num && n.nk != PTok::Int) return true;
        return false;
    }

  private:
    std::vector<PTok> t_;
    std::vector<Ast> n_;
    size_t p_ = 0;

    int add(Ast a) {
        if (n_.size() > 20000) throw EvalFail{};
        n_.push_back(std::move(a));
        return static_cast<int>(n_.size() - 1);
    }
    int bin(Ast::Op op, int a, int b) {
        Ast n;
        n.op = op;
        n.a = a;
        n.b = b;
        return add(std::move(n));
    }

    // auto_symbol + split_symbols: a name is a sympy object (kept), a Python keyword (syntax error),
    // or a Symbol, which is split into one-letter symbols and digit runs unless it contains '_', is a
    // Greek letter name or is one character long.
    void expand_names() {
        static const std::set<std::string_view> known = {"sqrt", "ln", "csc", "re", "im", "pi", "oo", "zoo", "nan",
                                                         "ff",   "rf", "li",  "fu", "fft", "gff", "ntt", "eye",
                                                         "hn1", "hn2", "jn",  "yn", "frac"};
        std::vector<PTok> out;
        for (auto &t : t_) {
            if (t.k != PTok::Name) {
                out.push_back(t);
                continue;
            }
            if (is_keyword(t.text)) throw EvalFail{};
            if (known.count(t.text)) {
                out.push_back(t);
                continue;
            }
            bool split = !contains(t.text, "_") && !is_greek_name(t.text) && py_len(t.text) > 1;
            if (!split) {
                out.push_back(PTok{PTok::Name, "#sym:" + t.text});
                continue;
            }
            std::string_view s = t.text;
            for (size_t i = 0; i < s.size();) {
                if (ascii_digit(s[i])) {
                    size_t j = i;
                    while (j < s.size() && ascii_digit(s[j])) ++j;
                    out.push_back(PTok{PTok::Num, std::string(s.substr(i, j - i)), PTok::Int});
                    i = j;
                    continue;
                }
                size_t len;
                decode_at(s, i, len);
                out.push_back(PTok{PTok::Name, "#sym:" + std::string(s.substr(i, len))});
                i += len;
            }
        }
        t_ = std::move(out);
    }

    const PTok *peek() const { return p_ < t_.size() ? &t_[p_] : nullptr; }
    bool peek_op(std::string_view op) const {
        const PTok *t = peek();
        return t && t->k == PTok::Op && t->text == op;
    }
    bool starts_atom() const { // implicit multiplication joins a following number, name or '('
        const PTok *t = peek();
        if (!t) return false;
        if (t->k == PTok::Num || t->k == PTok::Name) return true;
        return t->k == PTok::Op && t->text == "(";
    }

    int expr(size_t depth) {
        if (depth > kMaxExprDepth) throw EvalFail{};
        int v = term(depth + 1);
        while (peek_op("+") || peek_op("-")) {
            bool plus = t_[p_++].text == "+";
            v = bin(plus ? Ast::Add : Ast::Sub, v, term(depth + 1));
        }
        return v;
    }
    int term(size_t depth) {
        int v = factor(depth + 1);
        while (true) {
            if (peek_op("*")) {
                ++p_;
                v = bin(Ast::Mul, v, factor(depth + 1));
            } else if (peek_op("/")) {
                ++p_;
                v = bin(Ast::Div, v, factor(depth + 1));
            } else if (peek_op("//")) {
                throw EvalFail{};
            } else if (starts_atom()) {
                v = bin(Ast::Mul, v, factor(depth + 1));
            } else {
                break;
            }
        }
        return v;
    }
    int factor(size_t depth) {
        if (depth > kMaxExprDepth) throw EvalFail{};
        if (peek_op("-")) {
            ++p_;
            return bin(Ast::Neg, factor(depth + 1), -1);
        }
        if (peek_op("+")) {
            ++p_;
            return factor(depth + 1);
        }
        return power(depth + 1);
    }
    int power(size_t depth) {
        int base = postfix(depth + 1);
        if (peek_op("**")) {
            ++p_;
            return bin(Ast::Pow, base, factor(depth + 1));
        }
        return base;
    }
    int postfix(size_t depth) {
        int v = primary(depth + 1);
        while (peek_op("!")) {
            ++p_;
            v = bin(Ast::Fact, v, -1);
        }
        return v;
    }
    int primary(size_t depth) {
        if (depth > kMaxExprDepth) throw EvalFail{};
        const PTok *t = peek();
        if (!t) throw EvalFail{};
        if (t->k == PTok::Num) {
            ++p_;
            Ast n;
            n.op = Ast::Num;
            n.text = t->text;
            n.nk = t->nk;
            return add(std::move(n));
        }
        if (t->k == PTok::Op) {
            if (t->text != "(") throw EvalFail{};
            ++p_;
            int v = expr(depth + 1);
            if (!peek_op(")")) throw EvalFail{};
            ++p_;
            return v;
        }
        std::string name = t->text;
        ++p_;
        if (name.rfind("#sym:", 0) == 0) {
            Ast n;
            n.op = Ast::Sym;
            n.text = name.substr(5);
            return add(std::move(n));
        }
        if (name == "pi") {
            Ast n;
            n.op = Ast::Pi;
            return add(std::move(n));
        }
        if (name == "sqrt" || name == "ln" || name == "csc" || name == "re" || name == "im") {
            if (!peek_op("(")) throw EvalFail{}; // a bare function in arithmetic: TypeError
            ++p_;
            int arg = expr(depth + 1);
            if (!peek_op(")")) throw EvalFail{}; // several arguments or unbalanced
            ++p_;
            Ast n;
            n.op = Ast::Func;
            n.text = name;
            n.a = arg;
            return add(std::move(n));
        }
        throw EvalFail{}; // oo, zoo, nan and sympy objects this stand-in does not model
    }
};

// A float literal: sympy's Float(str) keeps max(15, #digits) significant digits. Literals with more than
// 15 digits are therefore compared at a precision above double's; they are modelled as exact decimals.
struct FloatLit {
    double d = 0;
    std::optional<Rat> exact; // set for literals with more than 15 significant digits, when representable
};

FloatLit parse_float_literal(std::string_view text) {
    std::string clean;
    for (char ch : text)
        if (ch != '_') clean += ch;
    FloatLit f;
    f.d = std::strtod(clean.c_str(), nullptr);
    size_t epos = clean.find_first_of("eE");
    std::string mant = clean.substr(0, epos);
    long exp10 = epos == std::string::npos ? 0 : std::strtol(clean.c_str() + epos + 1, nullptr, 10);
    std::string digits;
    long frac_digits = 0;
    bool after_dot = false;
    for (char ch : mant) {
        if (ch == '.') {
            after_dot = true;
            continue;
        }
        digits += ch;
        if (after_dot) ++frac_digits;
    }
    size_t nz = digits.find_first_not_of('0');
    size_t sig = nz == std::string::npos ? 0 : digits.size() - nz;
    if (sig <= 15) return f;
    i128 n = 0;
    for (char ch : digits) {
        auto m = mul_ck(n, 10);
        if (!m) return f;
        auto a = add_ck(*m, ch - '0');
        if (!a) return f;
        n = *a;
    }
    long scale = exp10 - frac_digits;
    i128 num = n, den = 1;
    for (long i = 0; i < std::labs(scale); ++i) {
        auto m = mul_ck(scale > 0 ? num : den, 10);
        if (!m) return f;
        (scale > 0 ? num : den) = *m;
    }
    f.exact = make_rat(num, den);
    return f;
}

Rat int_literal(std::string_view text, bool &overflow) {
    std::string clean;
    for (char ch : text)
        if (ch != '_') clean += ch;
    int base = 10;
    size_t i = 0;
    if (clean.size() > 1 && clean[0] == '0' && std::strchr("xXbBoO", clean[1])) {
        char k = static_cast<char>(std::tolower(static_cast<unsigned char>(clean[1])));
        base = k == 'x' ? 16 : k == 'b' ? 2 : 8;
        i = 2;
    }
    i128 v = 0;
    overflow = false;
    for (; i < clean.size(); ++i) {
        int d = std::isdigit(static_cast<unsigned char>(clean[i]))
                    ? clean[i] - '0'
                    : std::tolower(static_cast<unsigned char>(clean[i])) - 'a' + 10;
        auto m = mul_ck(v, base);
        auto a = m ? add_ck(*m, d) : std::nullopt;
        if (!a) {
            overflow = true;
            return Rat{0, 1};
        }
        v = *a;
    }
    return Rat{v, 1};
}

// ---- numeric evaluation (Val) ----

Val factorial_val(const Val &v) {
    if (v.k == Val::R && v.r.d == 1) {
        if (v.r.n < 0) throw EvalFail{};
        if (v.r.n <= 33) {
            i128 acc = 1;
            for (i128 i = 2; i <= v.r.n; ++i) acc *= i;
            return vrat(Rat{acc, 1});
        }
        double g = std::tgamma(static_cast<double>(v.r.n) + 1);
        if (!std::isfinite(g)) throw EvalFail{};
        return vnum(g, false);
    }
    cplx c = v.num();
    if (std::fabs(c.imag()) > 1e-12) throw EvalFail{};
    double g = std::tgamma(c.real() + 1);
    if (!std::isfinite(g)) throw EvalFail{};
    return vnum(g);
}

Val eval_num(const std::vector<Ast> &nodes, int i, const std::map<std::string, cplx> &vars) {
    const Ast &n = nodes[static_cast<size_t>(i)];
    switch (n.op) {
    case Ast::Num: {
        if (n.nk == PTok::Float) {
            FloatLit f = parse_float_literal(n.text);
            return f.exact ? vrat(*f.exact) : vflt(f.d);
        }
        if (n.nk == PTok::Imag) return vnum(cplx(0, parse_float_literal(n.text).d));
        bool over;
        Rat r = int_literal(n.text, over);
        if (over) return vnum(std::strtod(n.text.c_str(), nullptr), false);
        return vrat(r);
    }
    case Ast::Sym: {
        auto it = vars.find(n.text);
        if (it == vars.end()) throw EvalFail{};
        return vnum(it->second);
    }
    case Ast::Pi: return vnum(cplx(std::numbers::pi));
    case Ast::Add: return v_add(eval_num(nodes, n.a, vars), eval_num(nodes, n.b, vars));
    case Ast::Sub: return v_sub(eval_num(nodes, n.a, vars), eval_num(nodes, n.b, vars));
    case Ast::Mul: return v_mul(eval_num(nodes, n.a, vars), eval_num(nodes, n.b, vars));
    case Ast::Div: return v_div(eval_num(nodes, n.a, vars), eval_num(nodes, n.b, vars));
    case Ast::Pow: return v_pow(eval_num(nodes, n.a, vars), eval_num(nodes, n.b, vars));
    case Ast::Neg: return v_neg(eval_num(nodes, n.a, vars));
    case Ast::Fact: return factorial_val(eval_num(nodes, n.a, vars));
    case Ast::Func: {
        Val a = eval_num(nodes, n.a, vars);
        if (n.text == "sqrt") return v_sqrt(a);
        if (n.text == "ln") {
            if (a.k == Val::R && a.r.n == 1 && a.r.d == 1) return vrat(Rat{0, 1});
            cplx x = a.num();
            if (x == cplx(0)) throw EvalFail{};
            return vnum(std::log(x));
        }
        if (n.text == "csc") {
            cplx s = std::sin(a.num());
            if (s == cplx(0)) throw EvalFail{};
            return vnum(1.0 / s);
        }
        if (n.text == "re") return a.k == Val::C ? vnum(a.c.real(), a.irr) : a;
        if (n.text == "im") return a.k == Val::C ? vnum(a.c.imag(), a.irr) : vrat(Rat{0, 1});
        throw EvalFail{};
    }
    }
    throw EvalFail{};
}

// ---- exact polynomial arithmetic, used when a float literal is involved ----
//
// sympy keeps numeric coefficients separate from symbols and irrational factors and only cancels terms
// whose coefficients cancel exactly, with Float coefficients computed in 53-bit arithmetic. So
// "0.5sqrt(2)" equals "sqrt(2)/2" but "5pi/6." (a Float 6.0) does not equal "5pi/6", and "x^3." (a Float
// exponent) does not equal "x^3". Expressions outside this model (division by a sum, roots of
// non-constants, functions) fall back to numeric testing.

struct CasFallback {};

struct Coef {
    bool is_float = false; // a 53-bit sympy Float
    Rat r;
    double d = 0;
    double dbl() const { return is_float ? d : rat_to_double(r); }
    bool zero() const { return is_float ? d == 0.0 : r.n == 0; }
};
Coef cr(const Rat &r) { return Coef{false, r, 0}; }
Coef cd(double d) { return Coef{true, Rat{}, d}; }
Coef c_add(const Coef &a, const Coef &b) {
    if (!a.is_float && !b.is_float) {
        auto r = rat_add(a.r, b.r);
        if (!r) throw CasFallback{};
        return cr(*r);
    }
    return cd(a.dbl() + b.dbl());
}
Coef c_mul(const Coef &a, const Coef &b) {
    if (!a.is_float && !b.is_float) {
        auto r = rat_mul(a.r, b.r);
        if (!r) throw CasFallback{};
        return cr(*r);
    }
    return cd(a.dbl() * b.dbl());
}
Coef c_inv(const Coef &a) {
    if (a.zero()) throw EvalFail{}; // zoo
    if (!a.is_float) {
        auto r = make_rat(a.r.d, a.r.n);
        if (!r) throw CasFallback{};
        return cr(*r);
    }
    return cd(1.0 / a.d);
}

struct Mono {
    std::vector<std::pair<std::string, long>> atoms; // sorted by name, non-zero exponents
    i128 surd = 1;                                   // square-free; the term carries sqrt(surd)
    bool operator<(const Mono &o) const {
        if (atoms != o.atoms) return atoms < o.atoms;
        return surd < o.surd;
    }
};
using Poly = std::map<Mono, Coef>;

constexpr size_t kMaxTerms = 256;

void poly_add_term(Poly &p, const Mono &m, const Coef &c) {
    auto it = p.find(m);
    if (it == p.end()) {
        if (!c.zero()) p.emplace(m, c);
        return;
    }
    it->second = c_add(it->second, c);
    if (it->second.zero()) p.erase(it);
    if (p.size() > kMaxTerms) throw CasFallback{};
}
Poly poly_const(const Coef &c) {
    Poly p;
    poly_add_term(p, Mono{}, c);
    return p;
}
Poly poly_add(Poly a, const Poly &b) {
    for (const auto &[m, c] : b) poly_add_term(a, m, c);
    return a;
}
Poly poly_neg(Poly a) {
    for (auto &[m, c] : a) c = c_mul(c, cr(Rat{-1, 1}));
    return a;
}
Poly poly_mul(const Poly &a, const Poly &b) {
    if (a.size() * b.size() > kMaxTerms) throw CasFallback{};
    Poly out;
    for (const auto &[ma, ca] : a)
        for (const auto &[mb, cb] : b) {
            Mono m;
            size_t i = 0, j = 0;
            while (i < ma.atoms.size() || j < mb.atoms.size()) {
                if (j == mb.atoms.size() || (i < ma.atoms.size() && ma.atoms[i].first < mb.atoms[j].first)) {
                    m.atoms.push_back(ma.atoms[i++]);
                } else if (i == ma.atoms.size() || mb.atoms[j].first < ma.atoms[i].first) {
                    m.atoms.push_back(mb.atoms[j++]);
                } else {
                    long e = ma.atoms[i].second + mb.atoms[j].second;
                    if (e != 0) m.atoms.emplace_back(ma.atoms[i].first, e);
                    ++i;
                    ++j;
                }
            }
            i128 g = gcd128(ma.surd, mb.surd);
            auto s = mul_ck(ma.surd / g, mb.surd / g);
            if (!s) throw CasFallback{};
            m.surd = *s;
            poly_add_term(out, m, c_mul(c_mul(ca, cb), cr(Rat{g, 1})));
        }
    return out;
}
bool poly_is_const(const Poly &p) { return p.size() <= 1 && (p.empty() || (p.begin()->first.atoms.empty() && p.begin()->first.surd == 1)); }
Coef poly_const_value(const Poly &p) { return p.empty() ? cr(Rat{0, 1}) : p.begin()->second; }

std::string poly_key(const Poly &p);

Poly poly_inv(const Poly &p) {
    if (p.empty()) throw EvalFail{};
    if (p.size() != 1) { // 1/(a+b) stays an opaque power in sympy
        Mono m;
        m.atoms.emplace_back("(" + poly_key(p) + ")**-1", 1);
        Poly out;
        out.emplace(m, cr(Rat{1, 1}));
        return out;
    }
    const auto &[m, c] = *p.begin();
    Mono inv;
    for (const auto &[a, e] : m.atoms) inv.atoms.emplace_back(a, -e);
    inv.surd = m.surd; // 1/(c sqrt(s)) = (1/c) (1/s) sqrt(s)
    auto is = make_rat(1, m.surd);
    if (!is) throw CasFallback{};
    Poly out;
    out.emplace(inv, c_mul(c_inv(c), cr(*is)));
    return out;
}

// Number / Number as sympy evaluates it (Float.__truediv__ divides directly, Rational / Float is
// self * (1/other)); any other quotient is a * b**-1.
Poly poly_div(const Poly &a, const Poly &b) {
    if (poly_is_const(a) && poly_is_const(b) && !b.empty()) {
        Coef x = poly_const_value(a), y = poly_const_value(b);
        if (x.is_float) return poly_const(cd(x.d / y.dbl()));
        if (y.is_float) return poly_const(cd(x.dbl() * (1.0 / y.d)));
    }
    return poly_mul(a, poly_inv(b));
}

// sqrt of a positive rational: k sqrt(s) / d
Poly rat_sqrt(const Rat &r) {
    if (r.n < 0) throw CasFallback{}; // sympy's I
    auto nd = mul_ck(r.n, r.d);
    if (!nd) throw CasFallback{};
    i128 v = *nd, k = 1;
    if (v > (static_cast<i128>(1) << 80)) throw CasFallback{};
    for (i128 f = 2; f * f <= v; ++f) {
        if (f > 2000000) throw CasFallback{};
        while (v % (f * f) == 0) {
            v /= f * f;
            k *= f;
        }
    }
    Mono m;
    m.surd = v;
    Poly out;
    auto c = make_rat(k, r.d);
    if (!c) throw CasFallback{};
    poly_add_term(out, m, cr(*c));
    return out;
}

std::string poly_key(const Poly &p) {
    std::string s = "[";
    for (const auto &[m, c] : p) {
        for (const auto &[a, e] : m.atoms) s += a + "^" + std::to_string(e) + "*";
        s += "r" + std::to_string(static_cast<long long>(m.surd)) + ":";
        char buf[64]; // by value: simplify() cancels 1/(197.0 - 10pi) against 1/(197 - 10pi)
        std::snprintf(buf, sizeof buf, "%.17g;", c.dbl());
        s += buf;
    }
    return s + "]";
}

Poly poly_pow(const Poly &base, const Poly &ex) {
    if (!poly_is_const(ex)) throw CasFallback{};
    Coef e = poly_const_value(ex);
    if (!e.is_float && e.r.d == 1) {
        i128 n = e.r.n;
        if (i128_abs(n) > 64) throw CasFallback{};
        Poly b = n < 0 ? poly_inv(base) : base;
        Poly acc = poly_const(cr(Rat{1, 1}));
        for (i128 k = 0; k < i128_abs(n); ++k) acc = poly_mul(acc, b);
        return acc;
    }
    if (!e.is_float) { // rational exponent p/q
        if (e.r.d == 2 && poly_is_const(base) && !poly_const_value(base).is_float) {
            Coef b = poly_const_value(base);
            return poly_pow(rat_sqrt(b.r), poly_const(cr(Rat{e.r.n, 1})));
        }
        throw CasFallback{};
    }
    // Float exponent
    if (poly_is_const(base)) {
        double b = poly_const_value(base).dbl();
        if (b > 0) return poly_const(cd(std::pow(b, e.d)));
        if (b == 0 && e.d > 0) return Poly{};
        throw CasFallback{};
    }
    Mono m; // an opaque factor: base**Float never combines with base**Integer
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", e.d);
    m.atoms.emplace_back("(" + poly_key(base) + ")**" + buf, 1);
    Poly out;
    out.emplace(m, cr(Rat{1, 1}));
    return out;
}

Poly atom_poly(const std::string &name) {
    Mono m;
    m.atoms.emplace_back(name, 1);
    Poly p;
    p.emplace(m, cr(Rat{1, 1}));
    return p;
}

Poly eval_cas(const std::vector<Ast> &nodes, int i) {
    const Ast &n = nodes[static_cast<size_t>(i)];
    switch (n.op) {
    case Ast::Num: {
        if (n.nk == PTok::Float) {
            FloatLit f = parse_float_literal(n.text);
            return poly_const(f.exact ? cr(*f.exact) : cd(f.d));
        }
        if (n.nk == PTok::Imag) throw CasFallback{};
        bool over;
        Rat r = int_literal(n.text, over);
        if (over) throw CasFallback{};
        return poly_const(cr(r));
    }
    case Ast::Sym: return atom_poly("s:" + n.text);
    case Ast::Pi: return atom_poly("pi");
    case Ast::Add: return poly_add(eval_cas(nodes, n.a), eval_cas(nodes, n.b));
    case Ast::Sub: return poly_add(eval_cas(nodes, n.a), poly_neg(eval_cas(nodes, n.b)));
    case Ast::Mul: return poly_mul(eval_cas(nodes, n.a), eval_cas(nodes, n.b));
    case Ast::Div: return poly_div(eval_cas(nodes, n.a), eval_cas(nodes, n.b));
    case Ast::Pow: return poly_pow(eval_cas(nodes, n.a), eval_cas(nodes, n.b));
    case Ast::Neg: return poly_neg(eval_cas(nodes, n.a));
    case Ast::Func:
        if (n.text == "sqrt") return poly_pow(eval_cas(nodes, n.a), poly_const(cr(Rat{1, 2})));
        throw CasFallback{};
    case Ast::Fact: throw CasFallback{};
    }
    throw CasFallback{};
}

bool finite(cplx c) { return std::isfinite(c.real()) && std::isfinite(c.imag()); }

// Python should_allow_eval on "(gt)-(given)".
bool should_allow_eval(std::string_view expr) {
    std::string e = replace_all(expr, "sqrt", "");
    e = replace_all(e, "frac", "");
    std::set<char32_t> letters;
    for (size_t i = 0; i < e.size();) {
        size_t len;
        char32_t c = decode_at(e, i, len);
        if (py_isalpha(c)) letters.insert(c);
        i += len;
    }
    if (letters.size() > 2) return false;
    if (contains(expr, "^{") || contains(expr, "^(")) return false;
    for (size_t i = 0; i < expr.size(); ++i) {
        if (expr[i] != '^') continue;
        size_t j = i + 1;
        while (j < expr.size() && ascii_digit(expr[j])) ++j;
        size_t nd = j - i - 1;
        if (nd >= 2) return false;                                       // \^[0-9][0-9]+
        if (nd >= 1 && j < expr.size() && expr[j] == '^') return false; // \^[0-9]+\^
    }
    return true;
}

uint64_t splitmix(uint64_t &s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
double unit_rand(uint64_t &s) { return static_cast<double>(splitmix(s) >> 11) * (1.0 / 9007199254740992.0); }

bool are_equal_under_sympy(const std::string &gt, const std::string &given) {
    std::string expr = "(" + gt + ")-(" + given + ")";
    if (expr.size() > kMaxExprLen) return false;
    if (!should_allow_eval(expr)) return false;
    try {
        Parser parser(Lexer(replace_all(expr, "^", "**")).run());
        const int root = parser.parse();
        const std::vector<Ast> &nodes = parser.nodes();
        // root is Sub(gt, given)
        const Ast &top = nodes[static_cast<size_t>(root)];
        const int gt_i = top.op == Ast::Sub ? top.a : root, gv_i = top.op == Ast::Sub ? top.b : root;
        if (parser.has_float()) {
            try {
                return eval_cas(nodes, root).empty();
            } catch (const CasFallback &) {
            }
        }
        std::set<std::string> syms = parser.symbols();
        if (syms.empty()) {
            std::map<std::string, cplx> none;
            Val d = eval_num(nodes, root, none);
            if (d.k == Val::R) return d.r.n == 0;
            if (d.k == Val::F) return d.f == 0.0;
            if (!finite(d.c)) return false;
            Val a = eval_num(nodes, gt_i, none), b = eval_num(nodes, gv_i, none);
            double scale = std::max(std::abs(a.num()), std::abs(b.num()));
            if (!d.irr) return std::abs(d.c) <= 1e-12 * scale; // rationals beyond 128 bits
            return std::abs(d.c) <= 1e-10 * scale + 1e-13;      // relative, with a floor for rounding of zeros
        }
        uint64_t seed = 0x5EEDF00DULL;
        int valid = 0;
        for (int trial = 0; trial < 12 && valid < 5; ++trial) {
            std::map<std::string, cplx> vars;
            for (const auto &s : syms)
                vars[s] = cplx(0.25 + 2.5 * unit_rand(seed), 0.25 + 1.5 * unit_rand(seed)) *
                          (unit_rand(seed) < 0.5 ? -1.0 : 1.0);
            Val d, a, b;
            try {
                d = eval_num(nodes, root, vars);
                a = eval_num(nodes, gt_i, vars);
                b = eval_num(nodes, gv_i, vars);
            } catch (const EvalFail &) {
                continue; // a pole at this point; try another one
            }
            cplx dv = d.num(), av = a.num(), bv = b.num();
            if (!finite(dv) || !finite(av) || !finite(bv)) continue;
            double scale = std::max(std::abs(av), std::abs(bv));
            if (std::abs(dv) > 1e-9 * scale + 1e-13) return false;
            ++valid;
        }
        return valid >= 3;
    } catch (const EvalFail &) {
        return false;
    } catch (const PyError &) {
        return false;
    }
}

// ------------------------------------------------------------------------------------------------
// grade_answer
// ------------------------------------------------------------------------------------------------

std::vector<std::string> split_tuple(std::string expr) {
    expr = strip_properly_formatted_commas(expr);
    if (expr.empty()) return {};
    constexpr std::string_view tuple_chars = "()[]";
    auto is_tc = [&](char c) { return tuple_chars.find(c) != std::string_view::npos; };
    bool inner_clean = true;
    for (size_t i = 1; i + 1 < expr.size(); ++i)
        if (is_tc(expr[i])) inner_clean = false;
    if (expr.size() > 2 && is_tc(expr.front()) && is_tc(expr.back()) && inner_clean) {
        std::vector<std::string> elems;
        for (auto &e : split_str(std::string_view(expr).substr(1, expr.size() - 2), ","))
            elems.push_back(py_strip(e));
        return elems;
    }
    return {expr};
}

// re.search(r"^-?[0-9]+.?/0*[1-9][0-9]*.?$", expr)
bool is_frac(std::string_view s) {
    auto all_digits_nonzero = [](std::string_view t) {
        if (t.empty()) return false;
        bool nz = false;
        for (char c : t) {
            if (!ascii_digit(c)) return false;
            if (c != '0') nz = true;
        }
        return nz;
    };
    auto all_digits = [](std::string_view t) {
        return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return ascii_digit(c); });
    };
    auto drop_last_cp = [](std::string_view t, std::string_view &out) {
        if (t.empty()) return false;
        size_t k = t.size() - 1;
        while (k > 0 && (static_cast<unsigned char>(t[k]) & 0xC0) == 0x80) --k;
        if (t.substr(k) == "\n") return false; // '.' does not match a newline
        out = t.substr(0, k);
        return true;
    };
    auto denom_ok = [&](std::string_view t) { // 0*[1-9][0-9]*.?
        std::string_view u;
        return all_digits_nonzero(t) || (drop_last_cp(t, u) && all_digits_nonzero(u));
    };
    auto numer_ok = [&](std::string_view t) { // -?[0-9]+.?
        if (!t.empty() && t[0] == '-') t.remove_prefix(1);
        std::string_view u;
        return all_digits(t) || (drop_last_cp(t, u) && all_digits(u));
    };
    std::vector<std::string_view> bodies = {s};
    if (!s.empty() && s.back() == '\n') bodies.push_back(s.substr(0, s.size() - 1)); // '$' before a final newline
    for (std::string_view b : bodies)
        for (size_t q = 0; q < b.size(); ++q)
            if (b[q] == '/' && numer_ok(b.substr(0, q)) && denom_ok(b.substr(q + 1))) return true;
    return false;
}

bool grade_impl(std::string_view given_answer, std::string_view ground_truth) {
    if (mathd_normalize(ground_truth) == mathd_normalize(given_answer)) return true;
    std::string gt = normalize_answer(ground_truth);
    std::string given = normalize_answer(given_answer);
    if (gt == given) return true;
    if (given.empty()) return false;
    auto gt_elems = split_tuple(gt);
    auto given_elems = split_tuple(given);
    bool is_correct = false;
    if (gt_elems.size() > 1 && (gt.front() != given.front() || gt.back() != given.back())) {
        is_correct = false;
    } else if (gt_elems.size() != given_elems.size()) {
        is_correct = false;
    } else {
        for (size_t i = 0; i < gt_elems.size(); ++i) {
            const std::string &g = gt_elems[i], &a = given_elems[i];
            if (is_frac(g) && is_frac(a)) is_correct = g == a;
            else if (str_is_int(g) != str_is_int(a)) is_correct = false;
            else is_correct = are_equal_under_sympy(g, a);
            if (!is_correct) break;
        }
    }
    return is_correct;
}

} // namespace

bool grade_answer(std::string_view given, std::string_view ground_truth) {
    try {
        return grade_impl(given, ground_truth);
    } catch (...) {
        return false;
    }
}

} // namespace parley::math
