// plugins/explore_tom — the ExploreToM domain (facebook/ExploreToM, Coral's ts_explore_tom).
#pragma once

#include <parley/common/coral.hpp>
#include <parley/domain.hpp>

#include <optional>
#include <string>
#include <vector>

namespace parley::explore_tom {

inline constexpr const char *kStoryFields[] = {"story_structure", "infilled_story"};
inline constexpr parley_param kStoryField = parley::param::choice(
    "story_field", kStoryFields, "story_structure", "the story column shown to the agents: story_structure (as Coral) or infilled_story");
inline constexpr parley_param kParams[] = {
    common::kProfileParam,
    kStoryField,
    parley::param::path("row_index", PARLEY_PARAM_MUST_EXIST,
                        "optional file of original 0-based row indices, one per data row ('#' comments); they become the item ids"),
    PARLEY_PROMPT_PARAMS,
};

// Reads a row-index file: one non-negative integer per line; blank lines and lines starting
// with '#' are skipped. PARLEY_ERR_PARSE "file:line: ..." on anything else or a repeated index.
std::vector<uint64_t> read_row_index(const std::string &path);

struct Story {
    std::string story, question;
};

class ExploreTom final : public parley::TableDomain<Story> {
  public:
    explicit ExploreTom(const parley::Config &cfg);

    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;

    common::Profile profile() const { return profile_; }

  protected:
    // `path`: the original CSV (ExploreToM-data-sample.csv, 18 columns).
    void read(const std::string &path, parley::LoadContext &ctx, Table &out) override;
    std::vector<std::string> values(size_t index) const override { return {row(index).story, row(index).question}; }

  private:
    common::Profile profile_;
    std::string story_field_;
    std::optional<std::string> row_index_;
};

} // namespace parley::explore_tom
