#include <parley/core/log.hpp>
#include <parley/core/progress.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <unistd.h>

namespace parley::core {

std::string format_duration(double s) {
    if (s < 0 || s > 1e7) return "--:--";
    auto t = static_cast<long>(s + 0.5);
    return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60) : fmt::format("{:02}:{:02}", t / 60, t % 60);
}

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::update(size_t done, size_t in_flight, int64_t tokens) {
    auto now = std::chrono::steady_clock::now();
    auto interval = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(10000);
    if (now - last_ < interval) return;
    last_ = now;
    print(done, in_flight, tokens, false);
}

void Progress::finish(size_t done, int64_t tokens) { print(done, 0, tokens, true); }

void Progress::print(size_t done, size_t in_flight, int64_t tokens, bool final) {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double rate = elapsed > 0 ? tokens / elapsed : 0;
    double eta = done > 0 && total_ > done ? elapsed / done * (total_ - done) : 0;
    std::string line = fmt::format("[{}] {}/{} done | {} in flight | {:.1f} tok/s | elapsed {} | ETA {}", label_, done,
                                   total_, in_flight, rate, format_duration(elapsed), format_duration(eta));
    if (tty_) {
        std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
        std::fflush(stderr);
    } else {
        logger().info("{}", line);
    }
}

} // namespace parley::core
