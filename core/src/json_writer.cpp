#include <parley/core/json_writer.hpp>

#include <fmt/format.h>

#include <cmath>
#include <cstring>

namespace parley::core {

void JsonWriter::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_) out_ += ',';
    first_ = false;
}

JsonWriter &JsonWriter::open(char c) {
    separate();
    out_ += c;
    first_ = true;
    return *this;
}

JsonWriter &JsonWriter::close(char c) {
    out_ += c;
    first_ = false;
    return *this;
}

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
    fmt::format_to(std::back_inserter(out_), "{}", i);
    return *this;
}

JsonWriter &JsonWriter::value(uint64_t u) {
    separate();
    fmt::format_to(std::back_inserter(out_), "{}", u);
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
} // namespace

void JsonWriter::escape(std::string &out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const auto *end = p + s.size();
    while (p < end) {
        // Fast path: a run of plain ASCII, eight bytes at a time (SWAR: a word passes if no byte
        // is a control, '"', '\\' or non-ASCII), then byte by byte.
        const unsigned char *run = p;
        constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
        while (end - p >= 8) {
            uint64_t w;
            std::memcpy(&w, p, 8);
            uint64_t ctrl = (w - ones * 0x20) & ~w;            // bytes < 0x20
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t quote = (q - ones) & ~q, slash = (b - ones) & ~b; // bytes == '"' or '\\'
            if ((ctrl | quote | slash | w) & highs) break;
            p += 8;
        }
        while (p < end && !kSpecial.table[*p]) ++p;
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
