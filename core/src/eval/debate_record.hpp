// The JSONL record of a debate episode (format: README.md, "Debate records") and the per-domain
// tally of its metrics. The tally reads records, not episodes, so a resumed run's kept records and
// its new ones are counted by one code path.
#pragma once

#include "debate_protocol.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace parley::core::eval {

// Without `texts`: no message or extractor text (what the tally reads, for records = false).
nlohmann::json debate_record(const DebateEpisode &episode, bool texts = true);

// Per-episode values of every metric of one domain, in episode order (Results::add_samples).
class DebateTally {
  public:
    void add(const nlohmann::json &record);
    size_t count() const { return episodes_; }
    // (metric, values) in report order: final_success_rate, valid_answer_rate, consensus_rate,
    // tokens_per_item, extractor_tokens_per_item, per round accuracy_round<r>, consensus_round<r>,
    // wrong_to_right_round<r> / right_to_wrong_round<r> (r >= 1), per agent agent<a>_accuracy.
    std::vector<std::pair<std::string, std::vector<double>>> metrics() const;

  private:
    std::vector<double> &at(const std::string &metric);
    std::vector<std::pair<std::string, std::vector<double>>> values_;
    std::map<std::string, size_t> where_;
    size_t episodes_ = 0;
};

} // namespace parley::core::eval
