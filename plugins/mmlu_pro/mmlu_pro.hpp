// plugins/mmlu_pro — the MMLU-Pro domain (TIGER-Lab/MMLU-Pro, Coral's ts_mmlu_pro): a
// MultipleChoiceDomain (parley/mc_domain.hpp) that reads the release's rows.
#pragma once

#include <parley/mc_domain.hpp>

namespace parley::mmlu_pro {

inline constexpr parley_param kParams[] = {PARLEY_MC_PARAMS};

class MmluPro final : public parley::MultipleChoiceDomain {
  public:
    explicit MmluPro(const parley::Config &cfg);

  protected:
    // `path`: a JSON Lines file with the original parquet's fields, one row per line.
    void read(const std::string &path, parley::LoadContext &ctx, Table &out) override;
};

} // namespace parley::mmlu_pro
