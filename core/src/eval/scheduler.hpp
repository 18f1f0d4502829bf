// The scheduler: runs episodes of one protocol (protocol.hpp) over the graph's backends.
//
//   - slots: live episodes sit in a deque (stable addresses: a request's message views point
//     into its episode), freed slots are reused;
//   - the completion inbox (inbox.hpp): a result is routed to its episode by tag (slot << 16 | key);
//   - batched submits: requests an episode makes while a batch of results is handled are sent
//     together at the end of the batch, so a backend's worker wakes once per batch;
//   - admission (admission.hpp): a new episode starts only while the AdmissionController has
//     room (cap, token budget, the backends' reported load); live episodes always come first,
//     so work goes depth-first;
//   - a finished episode is handed to the caller (a record writer) and its slot freed.
// It has no per-turn cost beyond the request copy into the staging buffer (whose vectors keep
// their capacity) and one inbox entry; the protocol is a template parameter (no virtual call on it).
//
// Use:
//   Scheduler<CoralEpisode> s(admission, {node_name, first_turn_tokens});
//   s.run(plan.size(), [&](size_t i) { return CoralEpisode(shared, plan[i]); },
//         [&](CoralEpisode &&e) { writer.push(std::move(e)); }, [&] { return shared.tokens; });
#pragma once

#include "admission.hpp"
#include "inbox.hpp"
#include "protocol.hpp"

#include <parley/core/progress.hpp>

#include <deque>
#include <memory>
#include <functional>
#include <string>
#include <vector>

namespace parley::core::eval {

struct SchedulerOptions {
    std::string label;        // the progress line's (the node's name)
    int64_t first_tokens = 0; // admission's estimate of an episode's resident tokens before its first reply
    // (optional) A budget (budget.hpp) reached: start no new episode; run() returns once those
    // in flight are done, and stopped_early() says so.
    std::function<bool()> spent;
};

template <class E> class Scheduler final : public Outbox {
  public:
    Scheduler(AdmissionController &admission, SchedulerOptions options) : admission_(admission), options_(std::move(options)) {}

    // Runs `total` episodes: make(i) builds the i-th (in the work plan's order) when admission lets
    // it start; finished(E &&) takes each one done; tokens() is the completion tokens so far (progress).
    template <class Make, class Finished, class Tokens> void run(size_t total, Make &&make, Finished &&finished, Tokens &&tokens) {
        Progress progress(options_.label, total);
        Inbox::Batch batch;
        size_t next = 0;
        while (finished_ < total) {
            if (!stopped_early_ && next < total && options_.spent && options_.spent()) stopped_early_ = true;
            if (stopped_early_ && live_ == 0) break;
            while (!stopped_early_ && next < total && admission_.may_start(options_.first_tokens)) {
                admission_.on_start(options_.first_tokens);
                start(make(next++), finished);
            }
            peak_live_ = std::max(peak_live_, live_);
            send_staged();
            inbox_->take(batch, std::chrono::milliseconds(250));
            for (auto &[tag, result] : batch) deliver(tag, std::move(result), finished);
            send_staged();
            progress.update(finished_, live_, tokens());
        }
        progress.finish(finished_, tokens());
    }

    size_t peak_live() const { return peak_live_; }
    bool stopped_early() const { return stopped_early_; }

    // Outbox, for the episode being started or handed a result.
    void submit(Backend &backend, const GenerationRequest &q, uint32_t key) override {
        if (n_staged_ == staged_.size()) staged_.emplace_back();
        Staged &s = staged_[n_staged_++];
        s.backend = &backend;
        s.tag = (static_cast<uint64_t>(current_) << 16) | key;
        s.q = q; // the copy keeps the staging buffer's capacity
    }
    void grow(int64_t delta) override {
        admission_.on_grow(delta);
        resident_[current_] += delta;
    }

  private:
    struct Staged {
        Backend *backend = nullptr;
        uint64_t tag = 0;
        GenerationRequest q;
    };

    template <class Finished> void start(E &&episode, Finished &finished) {
        if (!free_.empty()) {
            current_ = free_.back();
            free_.pop_back();
            slots_[current_] = std::move(episode);
        } else {
            current_ = slots_.size();
            slots_.push_back(std::move(episode));
            resident_.push_back(0);
        }
        resident_[current_] = options_.first_tokens;
        ++live_;
        slots_[current_].start(*this);
        if (slots_[current_].done()) retire(finished);
    }

    template <class Finished> void deliver(uint64_t tag, GenerationResult &&result, Finished &finished) {
        current_ = static_cast<size_t>(tag >> 16);
        slots_[current_].on_result(static_cast<uint32_t>(tag & 0xffff), std::move(result), *this);
        if (slots_[current_].done()) retire(finished);
    }

    template <class Finished> void retire(Finished &finished) {
        admission_.on_finish(resident_[current_]);
        finished(std::move(slots_[current_]));
        slots_[current_] = E{};
        free_.push_back(current_);
        --live_;
        ++finished_;
    }

    // A backend that refuses a request at submit answers it through the inbox like any other.
    void send_staged() {
        for (size_t i = 0; i < n_staged_; ++i) {
            const uint64_t tag = staged_[i].tag;
            try {
                staged_[i].backend->submit(staged_[i].q, [inbox = inbox_, tag](GenerationResult &&r) { inbox->push(tag, std::move(r)); });
            } catch (const ComponentError &e) {
                GenerationResult r;
                r.status = e.code();
                r.error = e.what();
                inbox_->push(tag, std::move(r));
            }
        }
        n_staged_ = 0;
    }

    AdmissionController &admission_;
    SchedulerOptions options_;
    std::deque<E> slots_;
    std::vector<int64_t> resident_; // per slot: the tokens admission counts for its episode
    std::vector<size_t> free_;
    std::vector<Staged> staged_;
    size_t n_staged_ = 0, current_ = 0, live_ = 0, finished_ = 0, peak_live_ = 0;
    bool stopped_early_ = false;
    // Shared with every request's callback: when a run ends by an error (a full disk under the
    // record writer), the scheduler unwinds while the backends still answer requests in flight
    // (they are cancelled when the graph's backends are destroyed, later); those answers land here.
    std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
};

} // namespace parley::core::eval
