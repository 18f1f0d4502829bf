// parley/common/pytext.hpp — Python `str` semantics that Coral's scoring code relies on, for
// UTF-8 std::string: strip()/lstrip(chars)/rstrip(chars), lower(), isupper() per character,
// replace(), len() in code points, and io.StringIO's overwrite-from-0 behaviour.
//
// Header-only, shared by the domain plugins (not core code). Unicode coverage: str.strip()'s
// whitespace set is exact; lower()/isupper() are exact for ASCII, Latin-1, Latin Extended-A,
// Latin Extended Additional, Greek, Cyrillic, Armenian, fullwidth Latin, Roman numerals,
// circled and mathematical alphanumeric capitals, and treat other scripts as uncased (an
// approximation of Python's full Unicode tables, documented in plugins/common/README.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::common {

// Decodes one code point at s[i]; sets `len` to its byte length. Invalid UTF-8 yields the byte
// value itself (as Python would see a surrogate-escaped byte) with length 1.
inline char32_t utf8_decode(std::string_view s, size_t i, size_t &len) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    auto cont = [&](size_t k) -> int {
        if (i + k >= s.size()) return -1;
        auto b = static_cast<unsigned char>(s[i + k]);
        return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
    };
    if (b0 < 0x80) { len = 1; return b0; }
    if ((b0 & 0xE0) == 0xC0 && b0 >= 0xC2) {
        int c1 = cont(1);
        if (c1 >= 0) { len = 2; return (char32_t(b0 & 0x1F) << 6) | char32_t(c1); }
    } else if ((b0 & 0xF0) == 0xE0) {
        int c1 = cont(1), c2 = cont(2);
        if (c1 >= 0 && c2 >= 0) {
            char32_t cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(c1) << 6) | char32_t(c2);
            if (cp >= 0x800) { len = 3; return cp; }
        }
    } else if ((b0 & 0xF8) == 0xF0) {
        int c1 = cont(1), c2 = cont(2), c3 = cont(3);
        if (c1 >= 0 && c2 >= 0 && c3 >= 0) {
            char32_t cp = (char32_t(b0 & 0x07) << 18) | (char32_t(c1) << 12) | (char32_t(c2) << 6) | char32_t(c3);
            if (cp >= 0x10000 && cp <= 0x10FFFF) { len = 4; return cp; }
        }
    }
    len = 1;
    return b0;
}

inline void utf8_append(std::string &out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Python's len(): number of code points.
inline size_t py_len(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0, len = 0; i < s.size(); i += len, ++n) utf8_decode(s, i, len);
    return n;
}

// Byte offset of the code point with index `cp_index` (s.size() if beyond the end).
inline size_t py_offset(std::string_view s, size_t cp_index) {
    size_t i = 0, len = 0;
    for (size_t n = 0; i < s.size() && n < cp_index; ++n) {
        utf8_decode(s, i, len);
        i += len;
    }
    return i;
}

// str.isspace() for one code point (exact set).
inline bool py_isspace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// str.strip() / lstrip() / rstrip() with no argument.
inline std::string_view py_lstrip(std::string_view s) {
    size_t i = 0, len = 0;
    while (i < s.size()) {
        char32_t c = utf8_decode(s, i, len);
        if (!py_isspace(c)) break;
        i += len;
    }
    return s.substr(i);
}
inline std::string_view py_rstrip(std::string_view s) {
    // Walk forward remembering the end of the last non-space code point.
    size_t i = 0, len = 0, end = 0;
    while (i < s.size()) {
        char32_t c = utf8_decode(s, i, len);
        i += len;
        if (!py_isspace(c)) end = i;
    }
    return s.substr(0, end);
}
inline std::string_view py_strip(std::string_view s) { return py_rstrip(py_lstrip(s)); }

// str.lstrip(chars) / rstrip(chars) for an ASCII character set: strips a *set*, not a prefix.
inline std::string_view py_lstrip_chars(std::string_view s, std::string_view chars) {
    size_t i = 0;
    while (i < s.size() && chars.find(s[i]) != std::string_view::npos) ++i;
    return s.substr(i);
}
inline std::string_view py_rstrip_chars(std::string_view s, std::string_view chars) {
    size_t n = s.size();
    while (n > 0 && chars.find(s[n - 1]) != std::string_view::npos) --n;
    return s.substr(0, n);
}

// Plain prefix/suffix removal (what the "fixed" profile uses instead of the character sets).
inline std::string_view remove_prefix(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p ? s.substr(p.size()) : s;
}
inline std::string_view remove_suffix(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && s.substr(s.size() - p.size()) == p ? s.substr(0, s.size() - p.size()) : s;
}

// str.isupper() for a single character (uppercase letters and Other_Uppercase symbols).
inline bool py_isupper(char32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z';
    if (c >= 0xC0 && c <= 0xDE) return c != 0xD7;
    if (c >= 0x100 && c <= 0x137) return (c % 2) == 0;
    if (c >= 0x139 && c <= 0x148) return (c % 2) == 1;
    if (c >= 0x14A && c <= 0x177) return (c % 2) == 0;
    if (c == 0x178 || c == 0x179 || c == 0x17B || c == 0x17D) return true;
    if (c == 0x1C4 || c == 0x1C7 || c == 0x1CA || c == 0x1F1) return true; // DŽ LJ NJ DZ (not the titlecase forms)
    if (c >= 0x1CD && c <= 0x1DC) return (c % 2) == 1;
    if ((c >= 0x1DE && c <= 0x1EF) || (c >= 0x1F8 && c <= 0x21F) || (c >= 0x222 && c <= 0x233)) return (c % 2) == 0;
    if (c == 0x1F4) return true;
    if (c == 0x386 || (c >= 0x388 && c <= 0x38A) || c == 0x38C || c == 0x38E || c == 0x38F) return true;
    if (c >= 0x391 && c <= 0x3AB) return c != 0x3A2;
    if (c == 0x3CF || (c >= 0x3D2 && c <= 0x3D4)) return true;
    if (c >= 0x3D8 && c <= 0x3EE) return (c % 2) == 0;
    if (c == 0x3F4 || c == 0x3F7 || c == 0x3F9 || c == 0x3FA || (c >= 0x3FD && c <= 0x3FF)) return true;
    if (c >= 0x400 && c <= 0x42F) return true;
    if (c >= 0x460 && c <= 0x480) return (c % 2) == 0;
    if (c >= 0x48A && c <= 0x4BE) return (c % 2) == 0;
    if (c == 0x4C0) return true;
    if (c >= 0x4C1 && c <= 0x4CD) return (c % 2) == 1;
    if (c >= 0x4D0 && c <= 0x52E) return (c % 2) == 0;
    if (c >= 0x531 && c <= 0x556) return true;
    if (c >= 0x1E00 && c <= 0x1E94) return (c % 2) == 0;
    if (c == 0x1E9E) return true;
    if (c >= 0x1EA0 && c <= 0x1EFE) return (c % 2) == 0;
    if (c == 0x2102 || c == 0x2107 || (c >= 0x210B && c <= 0x210D) || (c >= 0x2110 && c <= 0x2112) ||
        c == 0x2115 || (c >= 0x2119 && c <= 0x211D) || c == 0x2124 || c == 0x2126 || c == 0x2128 ||
        (c >= 0x212A && c <= 0x212D) || (c >= 0x2130 && c <= 0x2133) || c == 0x213E || c == 0x213F || c == 0x2145)
        return true;
    if (c >= 0x2160 && c <= 0x216F) return true; // Roman numerals (Other_Uppercase)
    if (c >= 0x24B6 && c <= 0x24CF) return true; // circled capitals (Other_Uppercase)
    if (c >= 0xFF21 && c <= 0xFF3A) return true; // fullwidth A-Z
    if (c >= 0x1D400 && c <= 0x1D6A3) return ((c - 0x1D400) % 52) < 26; // math alphanumeric Latin capitals
    if ((c >= 0x1D6A8 && c <= 0x1D6C0) || (c >= 0x1D6E2 && c <= 0x1D6FA) || (c >= 0x1D71C && c <= 0x1D734) ||
        (c >= 0x1D756 && c <= 0x1D76E) || (c >= 0x1D790 && c <= 0x1D7A8))
        return true; // math Greek capitals
    return false;
}

// Lower-case mapping of one code point (see the coverage note at the top).
inline void py_lower_append(std::string &out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        return;
    }
    char32_t l = c;
    if (c == 0x130) { out += "i\xCC\x87"; return; } // 'İ'.lower() == 'i̇'
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) l = c + 0x20;
    else if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177) || (c >= 0x460 && c <= 0x480) ||
             (c >= 0x48A && c <= 0x4BE) || (c >= 0x4D0 && c <= 0x52E) || (c >= 0x1E00 && c <= 0x1E94) ||
             (c >= 0x1EA0 && c <= 0x1EFE) || (c >= 0x3D8 && c <= 0x3EE)) {
        if (c % 2 == 0) l = c + 1;
    } else if ((c >= 0x139 && c <= 0x148) || (c >= 0x4C1 && c <= 0x4CD)) {
        if (c % 2 == 1) l = c + 1;
    } else if (c == 0x178) l = 0xFF;
    else if (c == 0x1C4 || c == 0x1C7 || c == 0x1CA || c == 0x1F1) l = c + 2;
    else if (c == 0x1C5 || c == 0x1C8 || c == 0x1CB || c == 0x1F2) l = c + 1;
    else if (c >= 0x1CD && c <= 0x1DC) { if (c % 2 == 1) l = c + 1; }
    else if ((c >= 0x1DE && c <= 0x1EF) || (c >= 0x1F8 && c <= 0x21F) || (c >= 0x222 && c <= 0x233)) { if (c % 2 == 0) l = c + 1; }
    else if (c == 0x1F4) l = 0x1F5;
    else if (c == 0x179 || c == 0x17B || c == 0x17D) l = c + 1;
    else if (c == 0x386) l = 0x3AC;
    else if (c >= 0x388 && c <= 0x38A) l = c + 37;
    else if (c == 0x38C) l = 0x3CC;
    else if (c == 0x38E || c == 0x38F) l = c + 63;
    else if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) l = c + 0x20;
    else if (c >= 0x400 && c <= 0x40F) l = c + 0x50;
    else if (c >= 0x410 && c <= 0x42F) l = c + 0x20;
    else if (c == 0x4C0) l = 0x4CF;
    else if (c >= 0x531 && c <= 0x556) l = c + 0x30;
    else if (c == 0x1E9E) l = 0xDF;
    else if (c >= 0x2160 && c <= 0x216F) l = c + 0x10;
    else if (c >= 0x24B6 && c <= 0x24CF) l = c + 26;
    else if (c >= 0xFF21 && c <= 0xFF3A) l = c + 0x20;
    utf8_append(out, l);
}

// A cased letter (has an upper- or lower-case form), within the coverage above.
inline bool py_iscased(char32_t c) {
    if (py_isupper(c)) return true;
    if (c < 0x80) return c >= 'a' && c <= 'z';
    if (c >= 0xDF && c <= 0xFF) return c != 0xF7;
    if (c >= 0x100 && c <= 0x24F) return true;
    if ((c >= 0x3AC && c <= 0x3CE) || (c >= 0x430 && c <= 0x45F) || (c >= 0x561 && c <= 0x587)) return true;
    if (c >= 0x1E00 && c <= 0x1EFF) return true;
    if ((c >= 0x2170 && c <= 0x217F) || (c >= 0x24D0 && c <= 0x24E9) || (c >= 0xFF41 && c <= 0xFF5A)) return true;
    if (c >= 0xFB00 && c <= 0xFB06) return true; // ligatures ﬀ ﬁ … (lowercase)
    return false;
}

// Case_Ignorable (the common ones): skipped by the Final_Sigma context.
inline bool py_case_ignorable(char32_t c) {
    return c == 0x27 || c == 0x2E || c == 0x3A || c == 0x5E || c == 0x60 || c == 0xA8 || c == 0xAD || c == 0xAF ||
           c == 0xB4 || c == 0xB7 || c == 0xB8 || c == 0x2018 || c == 0x2019 || c == 0x2024 || c == 0x2027 ||
           (c >= 0x300 && c <= 0x36F);
}

// str.lower(), including the Final_Sigma rule: Σ -> ς when a cased letter precedes it and none
// follows it (case-ignorable characters skipped on both sides).
inline std::string py_lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    bool cased_before = false; // a cased letter precedes, ignoring case-ignorables
    for (size_t i = 0, len = 0; i < s.size(); i += len) {
        char32_t c = utf8_decode(s, i, len);
        if (len == 1 && c >= 0x80) {
            out += s[i]; // an invalid byte, kept as is
        } else if (c == 0x3A3 && cased_before) {
            bool cased_after = false;
            for (size_t j = i + len, nlen = 0; j < s.size(); j += nlen) {
                char32_t n = utf8_decode(s, j, nlen);
                if (py_case_ignorable(n)) continue;
                cased_after = py_iscased(n);
                break;
            }
            utf8_append(out, cased_after ? 0x3C3 : 0x3C2);
        } else {
            py_lower_append(out, c);
        }
        if (!py_case_ignorable(c)) cased_before = py_iscased(c);
    }
    return out;
}

// str.replace(old, new): every non-overlapping occurrence, left to right.
inline std::string py_replace(std::string_view s, std::string_view from, std::string_view to) {
    if (from.empty()) return std::string(s);
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (true) {
        size_t j = s.find(from, i);
        if (j == std::string_view::npos) break;
        out.append(s.substr(i, j - i));
        out.append(to);
        i = j + from.size();
    }
    out.append(s.substr(i));
    return out;
}

inline bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }
inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// io.StringIO(initial) followed by write(text): writing starts at position 0 and overwrites, so a
// text shorter than `initial` (in code points) keeps initial's tail. Coral builds its extractor
// prompt this way (coral.md §1.6).
inline std::string stringio_overwrite(std::string_view initial, std::string_view text) {
    const size_t n_text = py_len(text);
    const size_t n_init = py_len(initial);
    std::string out(text);
    if (n_text < n_init) out.append(initial.substr(py_offset(initial, n_text)));
    return out;
}

} // namespace parley::common
