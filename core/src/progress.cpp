#include <parley/core/log.hpp>
#include <parley/core/progress.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <unistd.h>

namespace parley::core {

namespace {

std::mutex timeline_mu;
std::filesystem::path &timeline_root() {
    static std::filesystem::path root;
    return root;
}

} // namespace

std::string format_duration(double s) {
    if (s < 0 || s > 1e7) return "--:--";
    auto t = static_cast<long>(s + 0.5);
    return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60) : fmt::format("{:02}:{:02}", t / 60, t % 60);
}

void Progress::record_timelines_in(const std::filesystem::path &root) {
    std::lock_guard<std::mutex> lock(timeline_mu);
    timeline_root() = root;
}

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()), last_(start_), last_sample_(start_) {
    std::filesystem::path root;
    {
        std::lock_guard<std::mutex> lock(timeline_mu);
        root = timeline_root();
    }
    if (root.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(root / label_, ec);
    timeline_.open(root / label_ / "timeline.jsonl", std::ios::trunc); // a resumed run starts its own timeline
    record(0, 0, 0, false);
}

void Progress::update(size_t done, size_t in_flight, int64_t tokens) {
    auto now = std::chrono::steady_clock::now();
    if (timeline_.is_open() && now - last_sample_ >= std::chrono::seconds(1)) {
        last_sample_ = now;
        record(done, in_flight, tokens, false);
    }
    auto interval = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(10000);
    if (now - last_ < interval) return;
    last_ = now;
    print(done, in_flight, tokens, false);
}

void Progress::finish(size_t done, int64_t tokens) {
    record(done, 0, tokens, true);
    print(done, 0, tokens, true);
}

void Progress::record(size_t done, size_t in_flight, int64_t tokens, bool final) {
    if (!timeline_.is_open()) return;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    timeline_ << fmt::format("{{\"t\":{:.3f},\"done\":{},\"in_flight\":{},\"tokens\":{}}}\n", t, done, in_flight, tokens);
    if (final) timeline_.flush();
}

std::string Progress::line(const std::string &label, size_t done, size_t total, size_t in_flight, int64_t tokens,
                           double elapsed, bool bar) {
    const double rate = elapsed > 0 ? tokens / elapsed : 0;
    const double eta = done > 0 && total > done ? elapsed / done * (total - done) : 0;
    std::string drawn;
    if (bar) {
        constexpr size_t kWidth = 24;
        const double frac = total ? std::min(1.0, static_cast<double>(done) / total) : 0.0;
        const auto full = static_cast<size_t>(frac * kWidth);
        drawn = fmt::format("|{}{}| {:3.0f}% ", std::string(full, '#'), std::string(kWidth - full, '.'), frac * 100);
    }
    return fmt::format("[{}] {}{}/{} done | {} in flight | {:.1f} tok/s | elapsed {} | ETA {}", label, drawn, done, total,
                       in_flight, rate, format_duration(elapsed), format_duration(eta));
}

void Progress::print(size_t done, size_t in_flight, int64_t tokens, bool final) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const std::string text = line(label_, done, total_, in_flight, tokens, elapsed, tty_);
    if (tty_) {
        std::fprintf(stderr, "\r\033[K%s%s", text.c_str(), final ? "\n" : "");
        std::fflush(stderr);
    } else {
        logger().info("{}", text);
    }
}

} // namespace parley::core
