// The record thread: finished episodes go to a thread of their own, which computes their
// metrics, writes their records (JSON escaping and file writes are most of a fast run's work) and
// keeps the per-domain accumulators; the scheduling thread only hands them over. Bounded: a
// scheduler that outruns the disk waits. `idle` runs after each batch (a writer's poll()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace parley::core::eval {

template <class Job>
class RecordThread {
  public:
    using Work = std::function<void(Job &)>;
    using Idle = std::function<void()>;
    RecordThread(Work work, Idle idle) : work_(std::move(work)), idle_(std::move(idle)), thread_([this] { loop(); }) {}
    ~RecordThread() { stop(); } // (an error already thrown elsewhere wins; this one is dropped)

    void push(Job &&job) {
        std::unique_lock<std::mutex> lock(mu_);
        space_.wait(lock, [&] { return queue_.size() < kCapacity || error_; });
        rethrow_locked();
        queue_.push_back(std::move(job));
        if (queue_.size() == 1) ready_.notify_one();
    }

    // Waits for every record to be written; rethrows what the thread failed with.
    void close() {
        stop();
        std::lock_guard<std::mutex> lock(mu_);
        rethrow_locked();
    }

  private:
    static constexpr size_t kCapacity = 4096;

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            closing_ = true;
        }
        ready_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    void rethrow_locked() {
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

    void loop() {
        std::vector<Job> batch;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mu_);
                ready_.wait_for(lock, std::chrono::milliseconds(100), [&] { return !queue_.empty() || closing_; });
                if (queue_.empty() && closing_) break;
                batch.swap(queue_);
            }
            space_.notify_all();
            bool failed = false;
            try {
                for (auto &job : batch) work_(job);
                idle_();
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu_);
                error_ = std::current_exception();
                closing_ = failed = true;
            }
            batch.clear();
            if (failed) {
                space_.notify_all();
                break;
            }
        }
    }

    Work work_;
    Idle idle_;
    std::mutex mu_;
    std::condition_variable ready_, space_;
    std::vector<Job> queue_;
    bool closing_ = false;
    std::exception_ptr error_;
    std::thread thread_; // last: starts once the rest is built
};

} // namespace parley::core::eval
