// plugins/gpqa — the GPQA domain (idavidrein/gpqa, Coral's ts_gpqa). Question text is sensitive:
// it never appears in logs or error messages (errors name file, line, field and record id).
#pragma once

#include "common/coral.hpp"

#include <parley/sdk.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::gpqa {

inline constexpr parley_param kShuffleSeed =
    parley::param::integer("shuffle_seed", 0, "seed of the per-record choice shuffle (with the Record ID; independent of row order)");
inline constexpr parley_param kParams[] = {
    common::kProfileParam,
    kShuffleSeed,
};

inline constexpr const char *kTaskName = "PhD-level biology, physics, and chemistry";
inline constexpr const char *kTaskInst =
    "To give a final answer, do it in the format of \"The correct answer is (insert answer here)\", such as "
    "\"The correct answer is (B)\"";

// The choice order for one record: perm[k] is the source answer shown at position k, where source
// 0 = "Correct Answer" and 1..3 = "Incorrect Answer 1..3". Deterministic in (seed, record_id):
// state = FNV-1a-64("<seed>:<record_id>"), then a Fisher-Yates shuffle of [0,1,2,3] drawing
// j = splitmix64(state) % (i + 1) for i = 3, 2, 1.
std::array<int, 4> shuffle_order(int64_t seed, std::string_view record_id);
uint64_t fnv1a64(std::string_view s);
uint64_t splitmix64(uint64_t &state);

class Gpqa final : public parley::Domain {
  public:
    struct Row {
        std::string question;
        std::array<std::string, 4> choices; // displayed order (trimmed)
        int label = 0;                       // index of the correct answer in choices
    };

    explicit Gpqa(const parley::Config &cfg);

    // `path`: the original CSV (gpqa_main.csv / gpqa_diamond.csv / gpqa_extended.csv).
    void load(const std::string &path, parley::LoadContext &ctx) override;
    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;
    parley::DomainInfo info() const override;
    std::string render(size_t index, int what, std::string_view input) override;

    common::Profile profile() const { return profile_; }
    int64_t seed() const { return seed_; }
    const Row &row(size_t index) const { return rows_.at(index); }

  private:
    std::string options_block(size_t index) const;
    common::Profile profile_;
    int64_t seed_;
    std::vector<Row> rows_;
};

} // namespace parley::gpqa
