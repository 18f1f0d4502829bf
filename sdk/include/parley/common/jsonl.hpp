// parley/common/jsonl.hpp — file reading, JSON Lines iteration and line-located errors for the
// domain plugins (header-only, plugin-side). Uses nlohmann_json.
#pragma once

#include <parley/sdk.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parley::common {

using ojson = nlohmann::ordered_json;

// A malformed row: thrown by row-level helpers, caught by the load loop and passed to
// LoadContext::malformed (which rethrows as PARLEY_ERR_PARSE unless skipping).
class RowError : public std::runtime_error {
  public:
    explicit RowError(const std::string &what) : std::runtime_error(what) {}
};

// "file:line"
inline std::string at(const std::string &file, size_t line) { return file + ":" + std::to_string(line); }

// Reads a whole file; NOT_FOUND / IO errors name the path.
inline std::string read_file(const std::string &path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error(PARLEY_ERR_NOT_FOUND, path + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw Error(PARLEY_ERR_INVALID_ARGUMENT, path + ": is a directory, expected a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(PARLEY_ERR_IO, path + ": cannot open: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw Error(PARLEY_ERR_IO, path + ": read error");
    return ss.str();
}

// Calls fn(line_number, line) for every non-blank line of a JSON Lines text (1-based numbers;
// a trailing "\r" is dropped).
inline void for_each_line(std::string_view data, const std::function<void(size_t, std::string_view)> &fn) {
    size_t line = 1, i = 0;
    if (data.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
    while (i < data.size()) {
        size_t j = data.find('\n', i);
        if (j == std::string_view::npos) j = data.size();
        std::string_view l = data.substr(i, j - i);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        bool blank = l.find_first_not_of(" \t") == std::string_view::npos;
        if (!blank) fn(line, l);
        i = j + 1;
        ++line;
    }
}

// Parses one JSON Lines row as an object; RowError "file:line: invalid JSON ..." otherwise.
inline ojson parse_row(const std::string &file, size_t line, std::string_view text) {
    ojson j;
    try {
        j = ojson::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error &e) {
        throw RowError(at(file, line) + ": invalid JSON (byte " + std::to_string(e.byte) + "): " + e.what());
    }
    if (!j.is_object()) throw RowError(at(file, line) + ": invalid row: expected a JSON object");
    return j;
}

// Field accessors: RowError "<where>: field 'name': ..." when missing or of the wrong type.
inline const ojson &field(const ojson &row, const std::string &where, const char *name) {
    auto it = row.find(name);
    if (it == row.end() || it->is_null()) throw RowError(where + ": field '" + name + "': missing");
    return *it;
}
inline std::string string_field(const ojson &row, const std::string &where, const char *name, bool non_empty = true) {
    const ojson &v = field(row, where, name);
    if (!v.is_string()) throw RowError(where + ": field '" + name + "': expected a string");
    std::string s = v.get<std::string>();
    if (non_empty && s.empty()) throw RowError(where + ": field '" + name + "': empty");
    return s;
}
inline int64_t int_field(const ojson &row, const std::string &where, const char *name) {
    const ojson &v = field(row, where, name);
    if (!v.is_number_integer()) throw RowError(where + ": field '" + name + "': expected an integer");
    return v.get<int64_t>();
}

// Serialises metadata; invalid UTF-8 in source text is replaced rather than failing.
inline std::string dump(const ojson &j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// Line numbers (1-based) of the elements of the array stored under `key` in the top-level object
// of a JSON text, found by a light scan that tracks strings and nesting. Returns an empty vector
// when the text does not have that shape; a full parse reports the real error.
inline std::vector<size_t> array_element_lines(std::string_view s, std::string_view key) {
    std::vector<size_t> lines;
    size_t line = 1, depth = 0, i = 0;
    bool in_target = false;       // inside the target array (depth 2)
    bool expect_value = false;    // just read the target key and ':' at depth 1
    std::string last_key;
    bool after_key = false;
    auto skip_string = [&](std::string *out) {
        ++i; // opening quote
        while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\' && i + 1 < s.size()) {
                if (out) *out += s[i + 1];
                i += 2;
                continue;
            }
            if (s[i] == '\n') ++line;
            if (out) *out += s[i];
            ++i;
        }
        ++i; // closing quote
    };
    while (i < s.size()) {
        char c = s[i];
        if (c == '\n') { ++line; ++i; continue; }
        if (c == ' ' || c == '\t' || c == '\r') { ++i; continue; }
        if (in_target && depth == 2 && c != ',' && c != ']') {
            lines.push_back(line);
            // skip this element entirely
            size_t start_depth = depth;
            if (c == '"') { skip_string(nullptr); continue; }
            if (c == '{' || c == '[') {
                ++depth;
                ++i;
                while (i < s.size() && depth > start_depth) {
                    char d = s[i];
                    if (d == '"') { skip_string(nullptr); continue; }
                    if (d == '\n') ++line;
                    if (d == '{' || d == '[') ++depth;
                    if (d == '}' || d == ']') --depth;
                    ++i;
                }
                continue;
            }
            while (i < s.size() && s[i] != ',' && s[i] != ']' && s[i] != '\n') ++i; // scalar
            continue;
        }
        if (c == '"') {
            if (depth == 1 && !after_key) {
                last_key.clear();
                skip_string(&last_key);
                after_key = true;
            } else {
                skip_string(nullptr);
                after_key = false;
            }
            continue;
        }
        if (c == ':') {
            if (depth == 1 && after_key && last_key == key) expect_value = true;
            after_key = false;
            ++i;
            continue;
        }
        if (c == '{' || c == '[') {
            ++depth;
            if (depth == 2 && expect_value && c == '[') in_target = true;
            expect_value = false;
            after_key = false;
            ++i;
            continue;
        }
        if (c == '}' || c == ']') {
            if (depth == 2 && in_target) in_target = false;
            if (depth > 0) --depth;
            after_key = false;
            ++i;
            continue;
        }
        if (c == ',') { after_key = false; expect_value = false; ++i; continue; }
        expect_value = false;
        after_key = false;
        ++i;
    }
    return lines;
}

} // namespace parley::common
