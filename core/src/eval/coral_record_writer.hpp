// The writer half of the Coral record codec (the reader: sdk/include/parley/coral_record.hpp):
// a finished CoralEpisode as one JSON line in Coral's record format — conv_result turns with
// their extractor and matcher annotations, metadata (the item's source row plus Coral's
// init_prompt, teacher_inst, student_inst), metrics, and Parley's own block — and the TurnFacts
// the metrics are computed from (the same facts `parley metrics` reads back from the JSON).
// Written straight to the line (prepared fragments, no JSON tree): a tree-sampled record holds
// a hundred turns, and this is the record thread's hot loop.
#pragma once

#include "coral_protocol.hpp"

#include <parley/core/coral_metrics.hpp>

#include <string>
#include <vector>

namespace parley::core::eval {

// The raters of one domain's records and the fixed fragments around their names.
class CoralRecordFormat {
  public:
    // `extractor_model`: the extractor backend's model (LLM extraction), or "" (rule-based).
    CoralRecordFormat(const DomainInfo &domain, const std::string &extractor_model, const CoralConfig &config);
    const RaterNames &names() const { return names_; }

    // The conversation's turns as the metrics read them.
    void facts(const CoralEpisode &e, std::vector<TurnFacts> &out) const;
    // Appends the record (no newline) to `line`.
    void write(const CoralEpisode &e, const ItemInfo &item, const Metrics &metrics, std::string &line) const;

  private:
    void write_turn(const CoralTurn &t, bool first, std::string &o) const;
    void write_annotation(const CoralTurn &t, std::string &o) const;
    void put_score(std::string &o, float score) const;

    const CoralConfig &config_;
    RaterNames names_;
    int32_t score_type_ = PARLEY_SCORE_JSON_FLOAT;
    std::string annotation_open_, matcher_open_; // ,"annotation":{"<extractor>":{"score":  /  }},"<matcher>":{"score":
    std::vector<std::string> role_open_;         // {"role":"<name>","content":
};

// "stories260K.gguf" -> "stories260K_gguf": Coral's model_name.split("/")[-1] with - and . replaced.
std::string short_model_name(const std::string &model);

} // namespace parley::core::eval
