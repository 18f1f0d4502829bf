// Coral's conversation metrics (collaborative-reasoner: tree_sampling_utils.py, base_evaluator.py,
// extraction_evaluators.py, eval_utils.social_behavior_metrics), computed from a conversation
// record in Coral's own JSON format. The engine and `parley metrics` share this code, so a run's
// metrics can always be recomputed from its records — Parley's or the official code's.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace parley::core {

enum class AgreementProfile {
    Coral,  // official: the last two turns carry equal valid beliefs; total_turns counts turn 0
    Matrix  // Matrix P2P: each role's latest valid belief; turn 0 not counted
};

AgreementProfile parse_profile(const std::string &name); // throws on an unknown name

// Extractor and matcher annotation keys of a record (found by their shape, not their names).
struct RaterNames {
    std::string extractor; // annotation carrying info.extracted_answer
    std::string matcher;   // annotation carrying info.metrics.em
};
RaterNames find_rater_names(const nlohmann::json &record);

// Is a normalised belief usable? (not None, not "Error…", not "not sure yet")
bool is_valid_answer(const nlohmann::json &extracted_answer);

// Agreement of the turns conv_result[0, end) (Coral's stop_conv, or Matrix's rule).
bool beliefs_agree(const nlohmann::json &conv_result, size_t end, const std::string &extractor, AgreementProfile profile);
// The first turn after which the agents agree, or -1.
int agreement_turn(const nlohmann::json &conv_result, const std::string &extractor, AgreementProfile profile);

// The per-conversation metrics dict, with Coral's key names and JSON types.
nlohmann::json conversation_metrics(const nlohmann::json &record, int max_turns, AgreementProfile profile);

// Means (and standard errors) of metric dicts over conversations; bools count as 0/1.
class MetricsAccumulator {
  public:
    void add(const nlohmann::json &metrics);
    size_t count() const { return n_; }
    nlohmann::json means() const;   // metrics.json
    nlohmann::json stderrs() const; // same keys, standard error of each mean
    double mean(const std::string &key) const;

  private:
    struct Sum {
        double sum = 0, sumsq = 0;
        size_t n = 0;
    };
    std::map<std::string, Sum> sums_;
    size_t n_ = 0;
};

} // namespace parley::core
