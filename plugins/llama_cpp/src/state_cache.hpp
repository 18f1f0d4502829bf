// Host-memory copies of KV states the engine dropped from its sequences: the second level of its
// prefix cache (as llama-server's --cache-ram). Each entry is a sequence's tokens and its state as
// llama_state_seq_get_data serialises it. A later prompt that shares a long prefix with an entry
// has that prefix restored instead of prefilled. Bounded in bytes: the entry stored longest ago
// goes first. Pure bookkeeping: the llama.cpp calls stay in the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <vector>

#include "huge_pages.hpp"

namespace parley::llama_cpp {

class StateCache {
  public:
    struct Entry {
        uint64_t id = 0;
        uint64_t conversation = 0;   // whose state: a keyed request's conversation id, 0 for unkeyed ones
        std::vector<int32_t> tokens; // positions 0..n-1 of the saved sequence
        StateBytes state;            // llama_state_seq_get_data's bytes
    };
    struct Match {
        uint64_t id = 0;
        int64_t shared = 0;      // leading prompt tokens the entry holds
        int64_t entry_tokens = 0;
    };

    explicit StateCache(size_t limit_bytes) : limit_(limit_bytes) {}

    bool enabled() const { return limit_ > 0; }
    // Whether a state of `bytes` could be kept at all.
    bool fits(size_t bytes) const { return bytes > 0 && bytes <= limit_; }

    // Keeps `tokens` with their state, as `conversation`'s. Nothing is stored when an entry of the
    // same conversation already holds all of these tokens (and more); its entries holding only a
    // prefix of them are dropped, this one has it all. The oldest entries go until it fits. False
    // when nothing was stored.
    bool put(std::vector<int32_t> tokens, StateBytes state, uint64_t conversation = 0);

    // Of `conversation`'s entries, the one sharing the longest prefix with the first `limit`
    // tokens of `prompt`, when it shares at least `min_shared`. (The engine's keyed requests reuse
    // only their own conversation's states, so that what they compute never depends on other
    // conversations; unkeyed ones share among themselves.)
    std::optional<Match> best(const std::vector<int32_t> &prompt, size_t limit, int64_t min_shared,
                              uint64_t conversation = 0) const;

    // The entry `id` (from best()); take() removes it, get() leaves it for other prompts.
    Entry take(uint64_t id);
    const Entry &get(uint64_t id) const;

    size_t bytes() const { return bytes_; }
    size_t size() const { return entries_.size(); }

  private:
    std::list<Entry>::iterator find(uint64_t id);
    size_t limit_;
    size_t bytes_ = 0;
    uint64_t next_id_ = 1;
    std::list<Entry> entries_; // oldest first
};

} // namespace parley::llama_cpp
