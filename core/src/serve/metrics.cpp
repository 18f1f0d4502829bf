#include "metrics.hpp"

#include <fmt/format.h>

namespace parley::serve {

void Histogram::observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e6), std::memory_order_relaxed);
}

std::string Histogram::render(const std::string &name, const std::string &help) const {
    std::string out = fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kBounds.size(); ++i) {
        cumulative += counts_[i].load(std::memory_order_relaxed);
        std::string le = i < kBounds.size() ? fmt::format("{}", kBounds[i]) : "+Inf";
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, le, cumulative);
    }
    out += fmt::format("{}_sum {}\n{}_count {}\n", name, static_cast<double>(sum_micros_.load()) / 1e6, name, cumulative);
    return out;
}

void Metrics::record(const std::string &endpoint, int status, const core::GenerationResult *r, double latency_s) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        ++requests_[{endpoint, status}];
    }
    latency_.observe(latency_s);
    if (!r) return;
    prompt_tokens_ += static_cast<uint64_t>(r->prompt_tokens);
    cached_tokens_ += static_cast<uint64_t>(r->cached_tokens);
    completion_tokens_ += static_cast<uint64_t>(r->completion_tokens);
    if (r->cached_tokens > 0) ++prefix_hits_;
    queue_.observe(r->queue_s);
    ttft_.observe(r->queue_s + r->prefill_s);
}

namespace {
std::string metric(const char *type, const std::string &name, const std::string &help, double value) {
    return fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}
} // namespace

std::string Metrics::render(const std::optional<core::BackendLoad> &load, int64_t in_flight) const {
    std::string out = "# HELP parley_requests_total Requests answered, by endpoint and HTTP status.\n"
                      "# TYPE parley_requests_total counter\n";
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto &[key, n] : requests_)
            out += fmt::format("parley_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
    }
    out += metric("counter", "parley_prompt_tokens_total", "Prompt tokens of answered requests.", static_cast<double>(prompt_tokens_.load()));
    out += metric("counter", "parley_completion_tokens_total", "Generated tokens.", static_cast<double>(completion_tokens_.load()));
    out += metric("counter", "parley_prefix_cache_hit_tokens_total", "Prompt tokens reused from the KV cache, not recomputed.",
                  static_cast<double>(cached_tokens_.load()));
    out += metric("counter", "parley_prefix_cache_hits_total", "Requests that reused at least one cached prompt token.",
                  static_cast<double>(prefix_hits_.load()));
    out += metric("gauge", "parley_requests_in_flight", "Requests received and not yet answered.", static_cast<double>(in_flight));
    if (load) {
        out += metric("gauge", "parley_queue_depth", "Requests accepted by the backend, not yet running.", static_cast<double>(load->queued));
        out += metric("gauge", "parley_requests_running", "Requests the backend is serving now.", static_cast<double>(load->running));
        if (load->kv_capacity > 0) {
            out += metric("gauge", "parley_kv_cells_used", "KV cells held for running requests.", static_cast<double>(load->kv_used));
            out += metric("gauge", "parley_kv_cells_capacity", "KV cells in all.", static_cast<double>(load->kv_capacity));
            out += metric("gauge", "parley_kv_usage_ratio", "parley_kv_cells_used / parley_kv_cells_capacity.",
                          static_cast<double>(load->kv_used) / static_cast<double>(load->kv_capacity));
        }
    }
    out += latency_.render("parley_request_duration_seconds", "Receipt to answer, per request.");
    out += queue_.render("parley_queue_duration_seconds", "Time a request waited in the backend before running.");
    out += ttft_.render("parley_time_to_first_token_seconds", "Queue plus prefill time (the first generated token).");
    return out;
}

} // namespace parley::serve
