// The single-agent chain-of-thought sample (Coral's simple_cot baseline) as a protocol: one
// answer request per (item, trial), then, with LLM extraction, one extractor request; the belief
// is read (by the extractor's reply or by rule) and scored by the domain. A plain state machine
// (protocol.hpp): tests drive it with a recording Outbox and canned results.
//
// profile "coral": a failed answer's error text is the response, extracted and scored like an
// answer (the official loop keeps the error as the turn's content); "fixed": a failed answer has
// no belief and scores 0.
#pragma once

#include "common.hpp"
#include "protocol.hpp"
#include "token_usage.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace parley::core::eval {

struct CotConfig {
    Backend *backend = nullptr, *extractor = nullptr;
    bool coral = true;          // profile "coral" (else "fixed")
    bool llm_extraction = true; // extraction "llm" (else "rule")
    bool system_prompt = true;  // send the domain's simple_cot system prompt
    double temperature = 0.2, top_p = 0.9, min_p = 0.0;
    int32_t top_k = 0, max_tokens = 1024, extractor_max_tokens = 32;
    std::vector<std::string> stop;
};

// What every sample of a run shares: its configuration and the failure log.
struct CotShared {
    CotConfig config;
    FailureLog failures;
    RoleUsage usage; // tokens by role: "agent", "extractor"
};

class CotEpisode {
  public:
    CotEpisode() = default;
    CotEpisode(CotShared &shared, const std::string &domain_node, Domain &domain, size_t index, int trial, uint64_t seed);

    void start(Outbox &out);
    void on_result(uint32_t key, GenerationResult &&r, Outbox &out);
    bool done() const { return stage_ == Stage::Done; }

    // The sample, once done.
    const std::string &domain_node() const { return *domain_node_; }
    size_t index() const { return index_; }
    int trial() const { return trial_; }
    uint64_t seed() const { return seed_; }
    const ItemInfo &item() const { return item_; }
    const std::vector<ChatMessage> &messages() const { return messages_; }
    const GenerationResult &answer() const { return answer_; }
    const std::string &response() const { return response_; }
    const std::string &belief() const { return belief_; }
    bool valid() const { return valid_; }
    double score() const { return score_; }
    const std::optional<std::string> &extractor_response() const { return extractor_response_; }
    const std::optional<std::string> &extractor_error() const { return extractor_error_; }

  private:
    enum class Stage { Idle, Answering, Extracting, Done };
    void finish(const GenerationResult *extractor_result);
    std::string where() const;

    CotShared *shared_ = nullptr;
    const std::string *domain_node_ = nullptr;
    Domain *domain_ = nullptr;
    size_t index_ = 0;
    int trial_ = 0;
    uint64_t seed_ = 0;
    Stage stage_ = Stage::Idle;
    ItemInfo item_;
    std::vector<ChatMessage> messages_;
    std::string extractor_system_, extractor_prompt_; // the extractor request's texts (its views point here)
    GenerationResult answer_;
    std::string response_, belief_;
    bool valid_ = false;
    double score_ = 0.0;
    std::optional<std::string> extractor_response_, extractor_error_;
};

// A finished sample as a row of samples_<domain>.jsonl.
nlohmann::json cot_sample_row(const CotEpisode &e);

} // namespace parley::core::eval
