// The completion inbox: backends call back on their own threads; the scheduler's thread takes
// everything queued at once (one wake-up per batch of completions, not per completion).
#pragma once

#include <parley/core/components.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

namespace parley::core::eval {

class Inbox {
  public:
    using Batch = std::deque<std::pair<uint64_t, GenerationResult>>; // (tag, result)

    // Any thread.
    void push(uint64_t tag, GenerationResult &&r) {
        bool was_empty;
        {
            std::lock_guard<std::mutex> lock(mu_);
            was_empty = ready_.empty();
            ready_.emplace_back(tag, std::move(r));
        }
        if (was_empty) cv_.notify_one(); // the consumer takes everything queued at once
    }

    // The consumer: waits up to `timeout` for a completion, then swaps all that are queued into
    // `batch` (cleared first; its storage is reused).
    void take(Batch &batch, std::chrono::milliseconds timeout) {
        batch.clear();
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, timeout, [&] { return !ready_.empty(); });
        batch.swap(ready_);
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    Batch ready_;
};

} // namespace parley::core::eval
