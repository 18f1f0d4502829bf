// parley/common/csv.hpp — a small, strict RFC-4180 CSV reader (header-only, plugin-side).
//
// Fields are separated by ',' and records by "\n" or "\r\n" (a lone "\r" also ends a record).
// A field that starts with '"' is quoted: it may hold ',', '"' (written "") and line breaks, and
// must be followed by ',', a line break or the end of the file. A '"' anywhere inside an unquoted
// field is an error, as is a quoted field left open at the end of the file. A UTF-8 BOM at the
// start is skipped; empty lines are skipped.
//
// Error messages name line numbers and 1-based field positions only, never cell contents, so a
// caller with sensitive text (GPQA) can pass them on unchanged.
#pragma once

#include <parley/common/jsonl.hpp>
#include <parley/sdk.hpp>

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parley::common {

struct CsvRecord {
    std::vector<std::string> fields;
    size_t line = 0;     // 1-based line where the record starts
    size_t end_line = 0; // 1-based line where it ends (records may span lines)
};

class CsvSyntaxError : public std::runtime_error {
  public:
    CsvSyntaxError(size_t line, size_t field, const std::string &what)
        : std::runtime_error(what), line(line), field(field) {}
    size_t line;  // where the problem is
    size_t field; // 1-based field position in the record
};

class CsvReader {
  public:
    // `data` must outlive the reader.
    explicit CsvReader(std::string_view data) : s_(data) {
        if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    }

    // Reads the next record into `rec`; false at the end of the data. Throws CsvSyntaxError on a
    // malformed record; the reader then resumes at the line after the error, so a caller that
    // skips malformed rows can go on calling next().
    bool next(CsvRecord &rec) {
        rec.fields.clear();
        for (;;) {
            if (pos_ >= s_.size()) return false;
            // Skip empty lines.
            if (s_[pos_] == '\n') { ++pos_; ++line_; continue; }
            if (s_[pos_] == '\r') {
                ++pos_;
                if (pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
                ++line_;
                continue;
            }
            break;
        }
        rec.line = line_;
        std::string field;
        for (;;) {
            field.clear();
            const size_t field_no = rec.fields.size() + 1;
            if (pos_ < s_.size() && s_[pos_] == '"') {
                const size_t open_line = line_;
                ++pos_;
                bool closed = false;
                while (pos_ < s_.size()) {
                    char c = s_[pos_];
                    if (c == '"') {
                        if (pos_ + 1 < s_.size() && s_[pos_ + 1] == '"') {
                            field += '"';
                            pos_ += 2;
                            continue;
                        }
                        ++pos_;
                        closed = true;
                        break;
                    }
                    if (c == '\n') ++line_;
                    field += c;
                    ++pos_;
                }
                if (!closed)
                    fail(open_line, field_no,
                         "broken quote: quoted field " + std::to_string(field_no) + " opened at line " +
                             std::to_string(open_line) + " is never closed");
                if (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '\n' && s_[pos_] != '\r')
                    fail(line_, field_no,
                         "broken quote: unexpected character after the closing quote of field " + std::to_string(field_no));
            } else {
                while (pos_ < s_.size()) {
                    char c = s_[pos_];
                    if (c == ',' || c == '\n' || c == '\r') break;
                    if (c == '"')
                        fail(line_, field_no, "broken quote: stray '\"' inside unquoted field " + std::to_string(field_no));
                    field += c;
                    ++pos_;
                }
            }
            rec.fields.push_back(field);
            if (pos_ >= s_.size()) break;
            char c = s_[pos_];
            if (c == ',') {
                ++pos_;
                continue;
            }
            // end of record
            ++pos_;
            if (c == '\r' && pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
            rec.end_line = line_;
            ++line_;
            return true;
        }
        rec.end_line = line_;
        return true;
    }

    size_t line() const { return line_; }

  private:
    [[noreturn]] void fail(size_t at_line, size_t field_no, const std::string &msg) {
        // Resynchronise: skip to the start of the next line.
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
        if (pos_ < s_.size()) {
            ++pos_;
            ++line_;
        }
        throw CsvSyntaxError(at_line, field_no, msg);
    }

    std::string_view s_;
    size_t pos_ = 0;
    size_t line_ = 1;
};

// The header of a CSV file: column name -> index.
class CsvHeader {
  public:
    CsvHeader() = default;
    explicit CsvHeader(std::vector<std::string> names) : names_(std::move(names)) {
        for (size_t i = 0; i < names_.size(); ++i) index_.emplace(names_[i], i);
    }
    // Index of `name`, or npos.
    size_t find(const std::string &name) const {
        auto it = index_.find(name);
        return it == index_.end() ? npos : it->second;
    }
    bool duplicated(std::string &which) const {
        if (index_.size() == names_.size()) return false;
        std::map<std::string, int> seen;
        for (auto &n : names_)
            if (++seen[n] == 2) { which = n; return true; }
        return false;
    }
    const std::vector<std::string> &names() const { return names_; }
    size_t size() const { return names_.size(); }
    static constexpr size_t npos = static_cast<size_t>(-1);

  private:
    std::vector<std::string> names_;
    std::map<std::string, size_t> index_;
};

// Reads the header record and checks that every `required` column is present (once). Any
// problem is fatal for the file: PARLEY_ERR_PARSE "file:line: field 'x': missing column in header".
inline CsvHeader read_csv_header(const std::string &file, CsvReader &reader, const std::vector<std::string> &required) {
    CsvRecord rec;
    try {
        if (!reader.next(rec)) throw Error(PARLEY_ERR_PARSE, file + ": empty file, expected a CSV header");
    } catch (const CsvSyntaxError &e) {
        throw Error(PARLEY_ERR_PARSE, file + ":" + std::to_string(e.line) + ": header: " + e.what());
    }
    CsvHeader h(rec.fields);
    std::string dup;
    if (h.duplicated(dup)) throw Error(PARLEY_ERR_PARSE, file + ":" + std::to_string(rec.line) + ": field '" + dup + "': duplicate column in header");
    for (auto &name : required)
        if (h.find(name) == CsvHeader::npos)
            throw Error(PARLEY_ERR_PARSE, file + ":" + std::to_string(rec.line) + ": field '" + name + "': missing column in header");
    return h;
}

// Reads the next data record. A syntax error (broken quote) is fatal even when skipping malformed
// rows, because the record boundaries after it are unknown: PARLEY_ERR_PARSE
// "file:line: field 'x' (column k): broken quote: ...".
inline bool next_csv_record(const std::string &file, CsvReader &reader, const CsvHeader &h, CsvRecord &rec) {
    try {
        return reader.next(rec);
    } catch (const CsvSyntaxError &e) {
        std::string col = e.field >= 1 && e.field <= h.size() ? "field '" + h.names()[e.field - 1] + "' (column " + std::to_string(e.field) + ")"
                                                             : "column " + std::to_string(e.field);
        throw Error(PARLEY_ERR_PARSE, file + ":" + std::to_string(e.line) + ": " + col + ": " + e.what());
    }
}

// Empty when `rec` has as many fields as the header; otherwise the message for a RowError naming
// the first missing (or the first extra) column.
inline std::string csv_width_problem(const CsvHeader &h, const CsvRecord &rec) {
    const size_t n = rec.fields.size(), m = h.size();
    if (n == m) return "";
    if (n < m)
        return "field '" + h.names()[n] + "' (column " + std::to_string(n + 1) + "): missing, the row has " +
               std::to_string(n) + " of " + std::to_string(m) + " fields";
    return "column " + std::to_string(m + 1) + ": unexpected, the row has " + std::to_string(n) + " fields, the header " +
           std::to_string(m);
}

// One data row of a CSV file: its cells by column name, and "file:line" for messages.
struct CsvRow {
    const CsvHeader &header;
    const CsvRecord &record;
    std::string where;
    // The cell of `column` (a column of the header; another throws std::out_of_range).
    const std::string &operator[](const std::string &column) const { return record.fields.at(header.find(column)); }
};

// Reads `path` — a header naming every `required` column, then data rows — and calls fn(row) for
// each row. A row of the wrong width, or a RowError that fn throws, goes to ctx.malformed.
template <class Fn>
void for_each_csv_row(const std::string &path, const std::vector<std::string> &required, LoadContext &ctx, Fn &&fn) {
    const std::string data = read_file(path);
    CsvReader reader(data);
    const CsvHeader h = read_csv_header(path, reader, required);
    CsvRecord rec;
    while (next_csv_record(path, reader, h, rec)) {
        try {
            const std::string where = at(path, rec.line);
            if (std::string w = csv_width_problem(h, rec); !w.empty()) throw RowError(where + ": " + w);
            fn(CsvRow{h, rec, where});
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    }
}

} // namespace parley::common
