// `parley serve`'s counters, exposed at /metrics in Prometheus' text format (version 0.0.4).
// Lock-free on the request path except for the per-(endpoint, status) request counter.
#pragma once

#include <parley/core/components.hpp>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace parley::serve {

// Cumulative buckets over seconds, as Prometheus histograms are.
class Histogram {
  public:
    static constexpr std::array<double, 14> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1, 2.5, 5, 10, 30, 60, 120};
    void observe(double seconds);
    // `# TYPE` line, one `_bucket` line per bound and +Inf, `_sum`, `_count`.
    std::string render(const std::string &name, const std::string &help) const;

  private:
    std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};
    std::atomic<uint64_t> sum_micros_{0};
};

class Metrics {
  public:
    // One request answered (any status), with what the backend reported when it ran.
    void record(const std::string &endpoint, int status, const core::GenerationResult *result, double latency_s);
    // The exposition; `load` is the backend's load now (absent: its gauges are left out).
    std::string render(const std::optional<core::BackendLoad> &load, int64_t in_flight) const;

  private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, uint64_t> requests_; // (endpoint, status) -> count
    std::atomic<uint64_t> prompt_tokens_{0}, cached_tokens_{0}, completion_tokens_{0}, prefix_hits_{0};
    Histogram latency_, queue_, ttft_;
};

} // namespace parley::serve
