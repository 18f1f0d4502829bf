// The JSONL record of a self-consistency episode (README.md, "Self-consistency records") and the
// per-domain tally of its metrics, read from records (kept and new ones alike).
#pragma once

#include "self_consistency_protocol.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace parley::core::eval {

// Without `texts`: no prompt, sample or extractor text (what the tally reads, for records = false).
nlohmann::json self_consistency_record(const SelfConsistencyEpisode &episode, bool texts = true);

class SelfConsistencyTally {
  public:
    void add(const nlohmann::json &record);
    size_t count() const { return final_.size(); }
    // (metric, per-episode values): final_success_rate (the majority), sample_accuracy (mean
    // correctness of the samples: the CoT estimate), valid_answer_rate, consensus_rate,
    // tokens_per_item, extractor_tokens_per_item, k.
    std::vector<std::pair<std::string, std::vector<double>>> metrics() const;

  private:
    std::vector<double> final_, sample_, valid_, consensus_, tokens_, extractor_tokens_, k_;
};

} // namespace parley::core::eval
