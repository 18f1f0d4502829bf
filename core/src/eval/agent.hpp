// One answering agent of a protocol (a debate agent, the self-consistency sampler): its backend,
// system prompt and sampling. Protocols keep these in their node-wide config; episodes point at it.
#pragma once

#include "common.hpp"
#include "item.hpp"

#include <parley/core/components.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace parley::core::eval {

struct AgentSpec {
    Backend *backend = nullptr;
    std::string backend_node;          // for records and results
    std::string role = "agent";        // its name in results.json's usage.by_role ("agent_1", ... in a debate)
    std::string system_prompt = "cot"; // "cot" (the domain's simple_cot), "none", or literal text
    double temperature = 0.2, top_p = 0.9, min_p = 0.0;
    int32_t top_k = 0, max_tokens = 1024;
    std::vector<std::string> stop;

    // The system message for `item`; empty with "none".
    std::string system_text(const Item &item) const {
        if (system_prompt == "cot") return item.render(PARLEY_TEXT_SYSTEM_COT);
        if (system_prompt == "none") return {};
        return system_prompt;
    }
    // Sampling fields of a request (messages, seed and ids are the protocol's).
    void apply(GenerationRequest &q) const {
        q.temperature = temperature;
        q.top_p = top_p;
        q.top_k = top_k;
        q.min_p = min_p;
        q.max_tokens = max_tokens;
        q.stop = stop;
    }
};

// How beliefs are read: by rule from the answer, or by the domain's LLM extractor prompt on
// `backend` (sampled as the official harness sends it: common.hpp set_extractor_sampling).
struct ExtractionSpec {
    Backend *backend = nullptr; // nullptr: rule-based
    std::string backend_node;
    int32_t max_tokens = 32;
    bool llm() const { return backend != nullptr; }
};

} // namespace parley::core::eval
