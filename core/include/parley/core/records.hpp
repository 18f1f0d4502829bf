// Crash-safe output files: JSONL appended a whole line at a time (and re-read on resume, dropping
// a torn last line), and JSON documents written to a temporary file then renamed into place.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <chrono>
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
    // Lines are written whole and in batches: a line is in the file at most `max_delay` after it
    // was appended (or as soon as `max_bytes` are pending), so a killed run loses at most that
    // much finished work, which a resumed run redoes. Large writes keep the kernel's per-write
    // costs (a syscall, zeroing partly written blocks) off the hot path of a 100k-conversation run.
    explicit JsonlAppender(const fs::path &path, std::chrono::milliseconds max_delay = std::chrono::milliseconds(200),
                           size_t max_bytes = size_t{4} << 20);
    ~JsonlAppender(); // writes what is pending
    JsonlAppender(const JsonlAppender &) = delete;
    JsonlAppender &operator=(const JsonlAppender &) = delete;
    void append(const nlohmann::json &row);
    // One already-serialised JSON object (no newline).
    void append_line(std::string_view json);
    // Writes pending lines if the oldest has waited `max_delay`; cheap, call it often.
    void poll();
    // Writes every pending line now.
    void flush();

  private:
    fs::path path_;
    int fd_ = -1;
    std::string pending_;
    std::chrono::steady_clock::time_point oldest_;
    std::chrono::milliseconds max_delay_;
    size_t max_bytes_;
};

void write_json_atomic(const fs::path &path, const nlohmann::json &doc);

// lm-evaluation-harness's standard error of a mean (sample standard deviation / sqrt(n)).
double mean_stderr(const std::vector<double> &values);

// The Parley version, git commit (if built from a checkout) and the time, for result files.
nlohmann::json provenance();

} // namespace parley::core
