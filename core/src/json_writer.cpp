#include <parley/core/json_writer.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace parley::core {

JsonWriter &JsonWriter::key(std::string_view k) {
    separate();
    escape(out_, k);
    out_ += ':';
    after_key_ = true;
    return *this;
}

JsonWriter &JsonWriter::value(std::string_view s) {
    separate();
    escape(out_, s);
    return *this;
}

JsonWriter &JsonWriter::value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
}

JsonWriter &JsonWriter::value(int64_t i) {
    separate();
    char buf[24];
    out_.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, i).ptr - buf));
    return *this;
}

JsonWriter &JsonWriter::value(uint64_t u) {
    separate();
    char buf[24];
    out_.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, u).ptr - buf));
    return *this;
}

JsonWriter &JsonWriter::value(double d) {
    separate();
    if (!std::isfinite(d)) {
        out_ += "null";
    } else if (d == std::floor(d) && std::fabs(d) < 1e15) {
        fmt::format_to(std::back_inserter(out_), "{:.1f}", d); // keep it a float, as Python writes 2.0
    } else {
        fmt::format_to(std::back_inserter(out_), "{}", d); // shortest round-trip form
    }
    return *this;
}

JsonWriter &JsonWriter::null() {
    separate();
    out_ += "null";
    return *this;
}

JsonWriter &JsonWriter::raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
}

namespace {
// 1 for bytes a JSON string cannot carry as they are (controls, '"', '\\') or that start UTF-8.
struct Special {
    bool table[256];
    constexpr Special() : table() {
        for (int c = 0; c < 256; ++c) table[c] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
    }
};
constexpr Special kSpecial;

// The first byte at or after `p` that must be escaped or starts a UTF-8 sequence (`end` if none).
const unsigned char *plain_run_end(const unsigned char *p, const unsigned char *end) {
#if defined(__SSE2__)
    // Sixteen bytes at a time: a signed compare with 0x20 flags controls and non-ASCII together.
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
        const __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)));
        if (const int mask = _mm_movemask_epi8(bad)) return p + __builtin_ctz(static_cast<unsigned>(mask));
        p += 16;
    }
#else
    // Eight bytes at a time (SWAR: a word passes if no byte is a control, '"', '\\' or non-ASCII).
    constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - p >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        uint64_t ctrl = (w - ones * 0x20) & ~w; // bytes < 0x20
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t quote = (q - ones) & ~q, slash = (b - ones) & ~b; // bytes == '"' or '\\'
        if ((ctrl | quote | slash | w) & highs) break;
        p += 8;
    }
#endif
    while (p < end && !kSpecial.table[*p]) ++p;
    return p;
}

} // namespace

void JsonWriter::escape(std::string &out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const auto *end = p + s.size();
    while (p < end) {
        const unsigned char *run = p;
        p = plain_run_end(p, end);
        out.append(reinterpret_cast<const char *>(run), static_cast<size_t>(p - run));
        if (p >= end) break;
        unsigned char c = *p;
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            }
            ++p;
            continue;
        }
        // A multi-byte sequence: copy it if well-formed, else write U+FFFD for the bad byte.
        int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        bool ok = len > 0 && end - p >= len;
        for (int i = 1; ok && i < len; ++i) ok = (p[i] & 0xC0) == 0x80;
        if (ok && len == 3) ok = !(c == 0xE0 && p[1] < 0xA0) && !(c == 0xED && p[1] >= 0xA0); // overlong, surrogates
        if (ok && len == 4) ok = !(c == 0xF0 && p[1] < 0x90) && !(c == 0xF4 && p[1] >= 0x90);
        if (ok) {
            out.append(reinterpret_cast<const char *>(p), static_cast<size_t>(len));
            p += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++p;
        }
    }
    out += '"';
}

} // namespace parley::core
