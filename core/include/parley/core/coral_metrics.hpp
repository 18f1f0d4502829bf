// Coral's conversation metrics (collaborative-reasoner: tree_sampling_utils.py, base_evaluator.py,
// extraction_evaluators.py, eval_utils.social_behavior_metrics). One implementation over a flat
// view of a conversation's turns (TurnFacts), fed either from a record in Coral's JSON format
// (`parley metrics`, resume) or straight from the engine's memory, so both always agree.
#pragma once

#include <parley/core/agreement.hpp>
#include <parley/coral_record.hpp>

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::core {

// Extractor and matcher annotation keys of a record (found by their shape, not their names;
// parley/coral_record.hpp).
using RaterNames = coral_record::RaterNames;
inline RaterNames find_rater_names(const nlohmann::json &record) { return coral_record::rater_names(record); }

// What the metrics read of one turn. Views point into the record or the engine's turns.
struct TurnFacts {
    std::string_view role;
    int8_t status_ok = -1;         // info.status_ok: -1 absent, 0 false, 1 true
    double completion_tokens = 0;  // info.parley.completion_tokens, else info.usage's; -1 unknown
    bool has_answer = false;       // info.extracted_answer present (social metrics read it)
    std::string_view answer;
    bool ext_annotated = false;    // extractor annotation present
    double ext_score = 0;          // its score (valid belief)
    int8_t ext_status_ok = -1;
    bool ext_has_answer = false;   // its info.extracted_answer (agreement reads it)
    std::string_view ext_answer;
    bool m_annotated = false;      // matcher annotation present
    double m_score = 0;
    int8_t m_status_ok = -1;
};

// A record's turns read through parley/coral_record.hpp (raters by `names`; absent values as the
// zeros and -1s above).
std::vector<TurnFacts> facts_of(const nlohmann::json &record, const RaterNames &names);

// The first turn after which the agents agree (agree_after), or -1.
int agreement_turn(const std::vector<TurnFacts> &turns, AgreementProfile profile);

// A conversation's metrics: Coral's keys, in a fixed order per rater-name pair, with JSON types.
struct Metrics {
    enum Kind : uint8_t { Bool, Int, Float, Null }; // Null: unknown (a length without token counts)
    const std::vector<std::string> *keys = nullptr;
    std::vector<std::pair<Kind, double>> values; // parallel to *keys

    nlohmann::json to_json() const;
    void append_json(std::string &out) const;
};

Metrics compute_metrics(const std::vector<TurnFacts> &turns, const RaterNames &names, int max_turns, AgreementProfile profile);

// The per-conversation metrics dict of a Coral record.
nlohmann::json conversation_metrics(const nlohmann::json &record, int max_turns, AgreementProfile profile);

class MetricsAccumulator;

// `parley metrics`: the conversations of a file of Coral records (Parley's or the official code's),
// one JSON object per line, into `acc`. No `max_turns`: each record's parley.max_turns, else
// Coral's 20. Blank lines are skipped; a line that is not a Coral record throws
// std::runtime_error "<file>:<line>: ...". Returns the number of records read.
size_t add_records(std::istream &in, const std::string &file, std::optional<int> max_turns, AgreementProfile profile, MetricsAccumulator &acc);

// Means (and standard errors) of metric dicts over conversations; bools count as 0/1.
class MetricsAccumulator {
  public:
    // Also keep each conversation's value (in the order added), for Results::add_samples: the
    // intervals of agreement correctness, agreement rate and the persuade/assert rates.
    explicit MetricsAccumulator(bool keep_values = false) : keep_values_(keep_values) {}
    void add(const nlohmann::json &metrics);
    void add(const Metrics &metrics);
    size_t count() const { return n_; }
    nlohmann::json means() const;   // metrics.json (null where no conversation had a value)
    nlohmann::json stderrs() const; // same keys, standard error of each mean
    double mean(const std::string &key) const;
    // The values of `key`, one per conversation that had one (empty unless keep_values).
    const std::vector<double> &values(const std::string &key) const;

  private:
    struct Sum {
        double sum = 0, sumsq = 0;
        size_t n = 0;
        std::vector<double> values;
    };
    bool keep_values_ = false;
    void add_value(const std::string &key, double v);
    std::map<std::string, Sum> sums_;
    std::map<const std::vector<std::string> *, std::vector<Sum *>> slots_; // fast path per key set
    size_t n_ = 0;
};

} // namespace parley::core
