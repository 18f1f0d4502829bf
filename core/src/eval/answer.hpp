// One generated answer of a protocol (a debate agent's turn, a self-consistency sample) with its
// extracted belief, and how both become JSON in records. Shared by debate and self-consistency.
#pragma once

#include "agent.hpp"
#include "item.hpp"
#include "majority_vote.hpp"

#include <parley/core/components.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace parley::core::eval {

struct Answer {
    std::string user;     // the user message it replies to (a debate message; empty where the protocol keeps the
                          // message once for all, e.g. the task: records write it from there)
    std::string response; // the completion; empty when the request failed
    std::string error;    // the failure's text; empty when it succeeded
    bool ok = false, received = false;
    int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
    int32_t finish = PARLEY_FINISH_NONE;
    uint64_t seed = 0;
    // The belief: by rule, or from the extractor's reply (LLM extraction).
    std::string belief;
    bool valid = false, extracted = false;
    double score = 0.0;
    std::string extractor_prompt, extractor_response, extractor_error; // LLM extraction only

    // Takes a finished request's result.
    void take(GenerationResult &&r);
    // The belief by rule (a failed answer has none).
    void extract_by_rule(const Item &item);
    // The belief from the extractor's result.
    void extract_from(const Item &item, const GenerationResult &r);
    // Builds the extractor request for this answer (its prompt is kept here: the request's
    // views point at it and at `system`, which the caller keeps alive).
    void extractor_request(const Item &item, const std::string &system, const ExtractionSpec &x, GenerationRequest &q);
};

// The answer as a record field: messages, belief, score, tokens, errors. Without `texts` (a run
// keeping no records tallies its metrics from this) no message or extractor text is copied.
nlohmann::json answer_json(const Answer &a, bool texts = true);

// A majority vote as a record field; `score` is the winning belief's.
nlohmann::json vote_json(const VoteOutcome &v, double score);

} // namespace parley::core::eval
