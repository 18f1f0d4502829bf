// Progress of long work on the terminal: items done, in flight, tokens/s, ETA. On a TTY a live
// bar redrawn in place; in logs (not a TTY) a plain line every 10 s. When the graph runner names a
// folder (record_timelines_in), each Progress also appends a sample per second to
// <folder>/<label>/timeline.jsonl — {"t": s, "done", "in_flight", "tokens"} — which
// `parley report` draws as throughput over time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace parley::core {

class Progress {
  public:
    Progress(std::string label, size_t total);
    // Call often; prints at most every `interval` (a line per update on a TTY, else every 10 s).
    void update(size_t done, size_t in_flight, int64_t tokens);
    void finish(size_t done, int64_t tokens);

    // Where Progress objects made from now on record their timelines (empty: nowhere).
    static void record_timelines_in(const std::filesystem::path &root);
    // The text of a progress line (the bar only when `bar`); for tests.
    static std::string line(const std::string &label, size_t done, size_t total, size_t in_flight, int64_t tokens,
                            double elapsed_s, bool bar);

  private:
    void print(size_t done, size_t in_flight, int64_t tokens, bool final);
    void record(size_t done, size_t in_flight, int64_t tokens, bool final);
    std::string label_;
    size_t total_;
    bool tty_;
    std::chrono::steady_clock::time_point start_, last_, last_sample_;
    std::ofstream timeline_;
};

std::string format_duration(double seconds);

} // namespace parley::core
