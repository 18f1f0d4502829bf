// Progress of long work on the terminal: items done, in flight, tokens/s, ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace parley::core {

class Progress {
  public:
    Progress(std::string label, size_t total);
    // Call often; prints at most every `interval` (a line per update on a TTY, else every 10 s).
    void update(size_t done, size_t in_flight, int64_t tokens);
    void finish(size_t done, int64_t tokens);

  private:
    void print(size_t done, size_t in_flight, int64_t tokens, bool final);
    std::string label_;
    size_t total_;
    bool tty_;
    std::chrono::steady_clock::time_point start_, last_;
};

std::string format_duration(double seconds);

} // namespace parley::core
