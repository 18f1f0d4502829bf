// Admission control for the conversation scheduler: "may I start one more conversation now?"
//
// Policy. A new conversation starts only when all of these hold:
//   1. cap:     live conversations < max_conversations.
//   2. tokens:  (when max_tokens_in_flight > 0) the resident tokens of the live conversations
//               (the scheduler's own estimates: on_start, on_grow, on_finish) plus the new one's
//               estimate stay within max_tokens_in_flight.
//   3. backlog: for every watched backend that reports its load (ABI 1.2 get_load),
//               queued + conversations started since the last poll <= max_queued. The default
//               max_queued is the backend's max_parallel: a queue of one batch lets the batch
//               refill as requests finish, without an unbounded queue in front of it. With
//               max_parallel unknown (0) the limit follows the backend's running count.
//   4. KV:      for every watched backend reporting both kv_used and kv_capacity,
//               kv_used + estimates started since the last poll + the new estimate <= kv_capacity.
// A backend that reports nothing (an older plugin, the scripted test double, an error) adds no
// condition: it is admitted by the cap and the token budget alone. When no conversation is live
// the next one is always admitted, so a budget smaller than one conversation cannot stall a run.
//
// Cost. Backend loads are polled at most every poll_interval (2 ms by default) and cached; the
// conversations started since the poll are counted against the cached numbers, so a burst of
// starts inside one interval cannot overshoot. may_start() is a few comparisons, plus one clock
// read when some backend is watched (none with backends that report nothing).
//
// Not thread-safe: the scheduler's thread owns it (the load sources it calls are thread-safe).
//
// Use, in the scheduler's loop:
//   AdmissionController adm({max_conversations, max_tokens_in_flight});
//   adm.watch(*teacher_backend); adm.watch(*student_backend);
//   while (next < total && adm.may_start(estimate(next))) { adm.on_start(estimate(next)); start(next++); }
//   ... after a turn: adm.on_grow(delta_tokens); when it ends: adm.on_finish(its_tokens);
#pragma once

#include <parley/core/components.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

namespace parley::core {

class AdmissionController {
  public:
    // Returns a backend's load now, or nullopt when it reports none. Called from poll() only.
    using LoadSource = std::function<std::optional<BackendLoad>()>;
    // Monotonic time in nanoseconds (tests substitute a fake clock).
    using NowFn = std::function<int64_t()>;

    struct Limits {
        int64_t max_conversations = 64;   // hard cap; values < 1 count as 1
        int64_t max_tokens_in_flight = 0; // budget of resident tokens over live conversations; <= 0: none
        std::chrono::nanoseconds poll_interval = std::chrono::milliseconds(2);
    };

    // Why check() said no (or Admit).
    enum class Verdict { Admit, Cap, TokenBudget, Backlog, KvFull };

    static int64_t steady_now_ns();

    explicit AdmissionController(Limits limits, NowFn now = &steady_now_ns);

    // Backend feedback. `max_queued` >= 0: the queue length above which nothing new starts;
    // < 0: the backend's running count at the last poll (at least 1).
    void watch(LoadSource source, int64_t max_queued);
    // A backend of the graph: watched only if its plugin has get_load (once per backend);
    // max_queued = its max_parallel, or -1 (automatic) when unknown. `backend` must outlive this.
    void watch(const Backend &backend);
    size_t watched() const { return sources_.size(); }

    // The hot path: may one more conversation, of `estimate` resident tokens, start now?
    bool may_start(int64_t estimate = 0) { return check(estimate) == Verdict::Admit; }
    Verdict check(int64_t estimate = 0) {
        if (live_ >= cap_) return Verdict::Cap;
        if (live_ == 0) return Verdict::Admit; // progress: one conversation always runs
        if (budget_ > 0 && tokens_ + estimate > budget_) return Verdict::TokenBudget;
        if (sources_.empty()) return Verdict::Admit;
        const int64_t t = now_();
        if (t - last_poll_ >= interval_ns_) poll_at(t);
        if (started_since_poll_ > queue_room_) return Verdict::Backlog;
        if (kv_since_poll_ + estimate > kv_room_) return Verdict::KvFull;
        return Verdict::Admit;
    }

    // The scheduler's bookkeeping. `estimate`/`tokens` are resident tokens (prompt + history).
    void on_start(int64_t estimate) {
        ++live_;
        tokens_ += estimate;
        ++started_since_poll_;
        kv_since_poll_ += estimate;
    }
    void on_grow(int64_t delta_tokens) { tokens_ += delta_tokens; } // a live conversation grew (or shrank)
    void on_finish(int64_t tokens) {                                 // its resident tokens at the end
        if (live_ > 0) --live_;
        tokens_ -= tokens;
        if (live_ == 0 || tokens_ < 0) tokens_ = 0;
    }

    // Polls every watched backend now (may_start() does it when the interval has passed).
    void poll() { poll_at(now_()); }

    int64_t live() const { return live_; }
    int64_t tokens_in_flight() const { return tokens_; }
    const Limits &limits() const { return limits_; }
    uint64_t polls() const { return polls_; }
    // The loads the last poll saw, one per watched backend (nullopt: it reported none).
    const std::vector<std::optional<BackendLoad>> &last_loads() const { return last_; }

  private:
    static constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max() / 4;

    struct Source {
        LoadSource load;
        int64_t max_queued;
        const Backend *backend; // for watch(const Backend &) dedup; null otherwise
    };

    void poll_at(int64_t t);

    Limits limits_;
    NowFn now_;
    int64_t cap_;
    int64_t budget_;
    int64_t interval_ns_;
    std::vector<Source> sources_;
    std::vector<std::optional<BackendLoad>> last_;

    int64_t live_ = 0;
    int64_t tokens_ = 0;
    // From the last poll: the smallest headroom over the watched backends.
    int64_t last_poll_ = std::numeric_limits<int64_t>::min() / 2; // never: the first check polls
    int64_t queue_room_ = kUnlimited; // max_queued - queued
    int64_t kv_room_ = kUnlimited;    // kv_capacity - kv_used
    int64_t started_since_poll_ = 0;
    int64_t kv_since_poll_ = 0;
    uint64_t polls_ = 0;
};

} // namespace parley::core
