// Self-consistency (Wang et al., 2023) as a state machine per episode (one item, one trial): k
// chain-of-thought samples of the same prompt (the domain's simple_cot system prompt and task
// message, as core/cot_eval sends them), each with its own seed, each belief extracted (by rule
// or by the LLM extractor); the episode's answer is the majority vote of the valid beliefs (ties:
// the earliest sample, majority_vote.hpp).
//
// Sample j is seeded request_seed(episode seed, j) and carries key (j << 1) | is_extractor_call;
// all samples carry conversation = episode seed | 1 (their prompt is one prefix) and agent 0.
// An episode can start with samples already taken (`taken`): the pilot of k = "match:<node>"
// (README) runs sample 0 first and hands it on.
#pragma once

#include "agent.hpp"
#include "answer.hpp"
#include "episode_id.hpp"
#include "majority_vote.hpp"
#include "protocol.hpp"
#include "token_usage.hpp"

#include <cstdint>
#include <vector>

namespace parley::core::eval {

struct SelfConsistencyConfig {
    AgentSpec sampler;
    ExtractionSpec extraction;
    RoleUsage *usage = nullptr; // (optional) where every result's tokens are counted, by role (the scheduler's thread)
};

class SelfConsistencyEpisode {
  public:
    SelfConsistencyEpisode() = default; // (the scheduler's empty slots)
    // `k` samples in all, the first `taken.size()` of them already answered and extracted.
    SelfConsistencyEpisode(const SelfConsistencyConfig &config, const Item &item, EpisodeId id, int32_t k,
                           std::vector<Answer> taken = {});

    void start(Outbox &out);
    void on_result(uint32_t key, GenerationResult &&r, Outbox &out);
    bool done() const { return outstanding_ == 0 && started_; }
    int64_t first_tokens() const { return int64_t{config_->sampler.max_tokens} * (k_ - static_cast<int64_t>(first_new_)); }

    const EpisodeId &id() const { return id_; }
    int32_t k() const { return k_; }
    const std::vector<Answer> &samples() const { return samples_; }
    std::vector<Answer> take_samples() { return std::move(samples_); }
    const std::vector<ChatMessage> &prompt() const { return prompt_; }
    VoteOutcome majority() const;
    int64_t completion_tokens() const;
    int64_t extractor_tokens() const { return extractor_tokens_; }

  private:
    const SelfConsistencyConfig *config_ = nullptr;
    const Item *item_ = nullptr;
    EpisodeId id_;
    int32_t k_ = 0;
    size_t first_new_ = 0;
    std::vector<ChatMessage> prompt_; // system (when any) and the task: every sample's messages
    std::vector<Answer> samples_;
    std::string extractor_system_;
    int32_t outstanding_ = 0;
    bool started_ = false;
    int64_t extractor_tokens_ = 0;
};

} // namespace parley::core::eval
