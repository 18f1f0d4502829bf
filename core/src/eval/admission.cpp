#include "admission.hpp"

#include <algorithm>

namespace parley::core {

int64_t AdmissionController::steady_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

AdmissionController::AdmissionController(Limits limits, NowFn now)
    : limits_(limits), now_(now ? std::move(now) : NowFn(&steady_now_ns)), cap_(std::max<int64_t>(1, limits.max_conversations)),
      budget_(limits.max_tokens_in_flight > 0 ? limits.max_tokens_in_flight : 0),
      interval_ns_(std::max<int64_t>(0, static_cast<int64_t>(limits.poll_interval.count()))) {}

void AdmissionController::watch(LoadSource source, int64_t max_queued) {
    if (!source) return;
    sources_.push_back({std::move(source), max_queued, nullptr});
    last_.emplace_back();
    last_poll_ = std::numeric_limits<int64_t>::min() / 2; // poll the new source on the next check
}

void AdmissionController::watch(const Backend &backend) {
    if (!backend.reports_load()) return; // admitted by the cap and the token budget alone
    for (auto &s : sources_)
        if (s.backend == &backend) return;
    const int64_t max_queued = backend.max_parallel() > 0 ? backend.max_parallel() : -1;
    watch([&backend] { return backend.load(); }, max_queued);
    sources_.back().backend = &backend;
}

void AdmissionController::poll_at(int64_t t) {
    int64_t queue_room = kUnlimited, kv_room = kUnlimited;
    for (size_t i = 0; i < sources_.size(); ++i) {
        std::optional<BackendLoad> l = sources_[i].load();
        last_[i] = l;
        if (!l) continue;
        const int64_t queued = std::max<int64_t>(0, l->queued);
        const int64_t limit = sources_[i].max_queued >= 0 ? sources_[i].max_queued : std::max<int64_t>(1, l->running);
        queue_room = std::min(queue_room, limit - queued);
        if (l->kv_used >= 0 && l->kv_capacity > 0) kv_room = std::min(kv_room, l->kv_capacity - l->kv_used);
    }
    queue_room_ = queue_room;
    kv_room_ = kv_room;
    started_since_poll_ = 0;
    kv_since_poll_ = 0;
    last_poll_ = t;
    ++polls_;
}

} // namespace parley::core
