// plugins/explore_tom — the ExploreToM domain (facebook/ExploreToM, Coral's ts_explore_tom).
#pragma once

#include <parley/common/coral.hpp>

#include <parley/sdk.hpp>

#include <optional>
#include <string>
#include <vector>

namespace parley::explore_tom {

inline constexpr parley_param kParams[] = {
    {"profile", PARLEY_TYPE_STRING, 0, "coral",
     "coral: reproduce the official scoring quirks; fixed: each quirk corrected (see README)"},
    {"story_field", PARLEY_TYPE_STRING, 0, "story_structure",
     "the story column shown to the agents: story_structure (as Coral) or infilled_story"},
    {"row_index", PARLEY_TYPE_PATH, PARLEY_PARAM_MUST_EXIST, nullptr,
     "optional file of original 0-based row indices, one per data row ('#' comments); they become the item ids"},
};

inline constexpr const char *kTaskName = "theory-of-mind reasoning";
inline constexpr const char *kTaskInst = "Put your final answer to the question at the end as \"Short Answer: {answer}\"";

// Reads a row-index file: one non-negative integer per line; blank lines and lines starting
// with '#' are skipped. PARLEY_ERR_PARSE "file:line: ..." on anything else or a repeated index.
std::vector<uint64_t> read_row_index(const std::string &path);

class ExploreTom final : public parley::Domain {
  public:
    struct Row {
        std::string story, question;
    };

    explicit ExploreTom(const parley::Config &cfg);

    // `path`: the original CSV (ExploreToM-data-sample.csv, 18 columns).
    void load(const std::string &path, parley::LoadContext &ctx) override;
    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;
    parley::DomainInfo info() const override;
    std::string render(size_t index, int what, std::string_view input) override;

    common::Profile profile() const { return profile_; }
    const Row &row(size_t index) const { return rows_.at(index); }

  private:
    common::Profile profile_;
    std::string story_field_;
    std::optional<std::string> row_index_;
    std::vector<Row> rows_;
};

} // namespace parley::explore_tom
