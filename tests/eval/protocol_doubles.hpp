// Test doubles for driving protocol episodes by hand: an Outbox that records what an episode
// asks for, an Item with rule-like extraction, and canned GenerationResults. No threads, no
// backends, no plugins.
#pragma once

#include "eval/item.hpp"
#include "eval/protocol.hpp"

#include <parley/core/components.hpp>

#include <string>
#include <vector>

namespace parley::test {

using namespace parley::core;
using namespace parley::core::eval;

// Stand-ins for backends: the episodes only pass their address on to the Outbox, which compares
// it; nothing ever calls them (a Backend cannot be built without its plugin).
struct BackendDoubles {
    alignas(Backend) unsigned char storage[4][sizeof(Backend)];
    Backend &operator[](size_t i) { return *reinterpret_cast<Backend *>(storage[i]); }
};

// A request as sent, with its messages copied (the views point into the episode).
struct SentRequest {
    const Backend *backend = nullptr;
    uint32_t key = 0;
    std::vector<ChatMessage> messages;
    GenerationRequest request; // its `messages` views are cleared
};

class OutboxDouble final : public Outbox {
  public:
    void submit(Backend &backend, const GenerationRequest &q, uint32_t key) override {
        SentRequest s;
        s.backend = &backend;
        s.key = key;
        for (auto &m : q.messages) s.messages.push_back({std::string(m.role), std::string(m.content)});
        s.request = q;
        s.request.messages.clear();
        sent.push_back(std::move(s));
    }
    void grow(int64_t delta) override { grown += delta; }
    // The requests sent since the last call.
    std::vector<SentRequest> take() { return std::exchange(sent, {}); }

    std::vector<SentRequest> sent;
    int64_t grown = 0;
};

// An item whose answers say "answer: X": the belief is "X" (valid unless empty), gold is `gold`.
// The LLM extractor's reply is read the same way.
class ItemDouble final : public Item {
  public:
    explicit ItemDouble(std::string gold) : gold_(std::move(gold)) {}
    std::string render(int32_t what, std::string_view input) const override {
        switch (what) {
        case PARLEY_TEXT_TASK: return "TASK";
        case PARLEY_TEXT_SYSTEM_COT: return "SYSTEM-COT";
        case PARLEY_TEXT_EXTRACTOR_SYSTEM: return "EXTRACTOR-SYSTEM";
        case PARLEY_TEXT_EXTRACTOR_PROMPT: return "EXTRACT FROM: " + std::string(input);
        default: return "?";
        }
    }
    std::pair<std::string, bool> extract(int32_t, std::string_view text) const override {
        auto at = text.rfind("answer: ");
        if (at == std::string_view::npos) return {"", false};
        std::string belief(text.substr(at + 8));
        return {belief, !belief.empty()};
    }
    double score(std::string_view belief) const override { return belief == gold_ ? 1.0 : 0.0; }

  private:
    std::string gold_;
};

inline GenerationResult reply(const std::string &text, int64_t completion_tokens = 10, int64_t prompt_tokens = 20) {
    GenerationResult r;
    r.choices.push_back({text, PARLEY_FINISH_STOP, completion_tokens, {}});
    r.completion_tokens = completion_tokens;
    r.prompt_tokens = prompt_tokens;
    return r;
}

inline GenerationResult failure(const std::string &error) {
    GenerationResult r;
    r.status = PARLEY_ERR_UNAVAILABLE;
    r.error = error;
    return r;
}

} // namespace parley::test
