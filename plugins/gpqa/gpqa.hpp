// plugins/gpqa — the GPQA domain (idavidrein/gpqa, Coral's ts_gpqa). Question text is sensitive:
// it never appears in logs or error messages (errors name file, line, field and record id).
#pragma once

#include <parley/mc_domain.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace parley::gpqa {

inline constexpr parley_param kShuffleSeed =
    parley::param::integer("shuffle_seed", 0, "seed of the per-record choice shuffle (with the Record ID; independent of row order)");
inline constexpr parley_param kParams[] = {
    PARLEY_MC_PARAMS,
    kShuffleSeed,
};

// The choice order for one record: perm[k] is the source answer shown at position k, where source
// 0 = "Correct Answer" and 1..3 = "Incorrect Answer 1..3". Deterministic in (seed, record_id):
// state = FNV-1a-64("<seed>:<record_id>"), then a Fisher-Yates shuffle of [0,1,2,3] drawing
// j = splitmix64(state) % (i + 1) for i = 3, 2, 1.
std::array<int, 4> shuffle_order(int64_t seed, std::string_view record_id);
uint64_t fnv1a64(std::string_view s);
uint64_t splitmix64(uint64_t &state);

class Gpqa final : public parley::MultipleChoiceDomain {
  public:
    explicit Gpqa(const parley::Config &cfg);
    int64_t seed() const { return seed_; }

  protected:
    // `path`: the original CSV (gpqa_main.csv / gpqa_diamond.csv / gpqa_extended.csv).
    void read(const std::string &path, parley::LoadContext &ctx, Table &out) override;

  private:
    int64_t seed_;
};

} // namespace parley::gpqa
