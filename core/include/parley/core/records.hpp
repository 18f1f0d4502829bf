// Crash-safe output files: JSONL appended a whole line at a time (and re-read on resume, dropping
// a torn last line), and JSON documents written to a temporary file then renamed into place.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace parley::core {

namespace fs = std::filesystem;

// Reads every complete JSON line of `path` (missing file: none). A torn or corrupt last line,
// left by a crash, is cut off the file so appends continue cleanly.
std::vector<nlohmann::json> read_jsonl_for_resume(const fs::path &path);

class JsonlAppender {
  public:
    explicit JsonlAppender(const fs::path &path);
    ~JsonlAppender();
    JsonlAppender(const JsonlAppender &) = delete;
    JsonlAppender &operator=(const JsonlAppender &) = delete;
    // One line, written and flushed in one go.
    void append(const nlohmann::json &row);
    // One already-serialised JSON object (no newline), written and flushed in one go.
    void append_line(std::string_view json);

  private:
    fs::path path_;
    std::FILE *f_ = nullptr;
    std::string buffer_;
};

void write_json_atomic(const fs::path &path, const nlohmann::json &doc);

// lm-evaluation-harness's standard error of a mean (sample standard deviation / sqrt(n)).
double mean_stderr(const std::vector<double> &values);

// The Parley version, git commit (if built from a checkout) and the time, for result files.
nlohmann::json provenance();

} // namespace parley::core
