#include "state_cache.hpp"

#include <algorithm>
#include <stdexcept>

namespace parley::llama_cpp {

namespace {

size_t common_prefix(const std::vector<int32_t> &a, const std::vector<int32_t> &b, size_t limit) {
    const size_t n = std::min({a.size(), b.size(), limit});
    size_t l = 0;
    while (l < n && a[l] == b[l]) ++l;
    return l;
}

} // namespace

bool StateCache::put(std::vector<int32_t> tokens, StateBytes state, uint64_t conversation) {
    if (!fits(state.size()) || tokens.empty()) return false;
    for (const Entry &e : entries_)
        if (e.conversation == conversation && e.tokens.size() >= tokens.size() &&
            common_prefix(e.tokens, tokens, tokens.size()) == tokens.size())
            return false;
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->conversation == conversation && it->tokens.size() < tokens.size() &&
            common_prefix(it->tokens, tokens, it->tokens.size()) == it->tokens.size()) {
            bytes_ -= it->state.size();
            it = entries_.erase(it);
        } else {
            ++it;
        }
    }
    while (!entries_.empty() && bytes_ + state.size() > limit_) {
        bytes_ -= entries_.front().state.size();
        entries_.pop_front();
    }
    bytes_ += state.size();
    entries_.push_back({next_id_++, conversation, std::move(tokens), std::move(state)});
    return true;
}

std::optional<StateCache::Match> StateCache::best(const std::vector<int32_t> &prompt, size_t limit, int64_t min_shared,
                                                  uint64_t conversation) const {
    std::optional<Match> m;
    for (const Entry &e : entries_) {
        if (e.conversation != conversation) continue;
        const auto l = static_cast<int64_t>(common_prefix(e.tokens, prompt, limit));
        if (l >= min_shared && (!m || l > m->shared)) m = Match{e.id, l, static_cast<int64_t>(e.tokens.size())};
    }
    return m;
}

std::list<StateCache::Entry>::iterator StateCache::find(uint64_t id) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [id](const Entry &e) { return e.id == id; });
    if (it == entries_.end()) throw std::logic_error("llama_cpp: no cached state " + std::to_string(id));
    return it;
}

StateCache::Entry StateCache::take(uint64_t id) {
    auto it = find(id);
    Entry e = std::move(*it);
    bytes_ -= e.state.size();
    entries_.erase(it);
    return e;
}

const StateCache::Entry &StateCache::get(uint64_t id) const { return *const_cast<StateCache *>(this)->find(id); }

} // namespace parley::llama_cpp
