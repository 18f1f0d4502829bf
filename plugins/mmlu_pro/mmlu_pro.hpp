// plugins/mmlu_pro — the MMLU-Pro domain (TIGER-Lab/MMLU-Pro, Coral's ts_mmlu_pro).
#pragma once

#include "common/coral.hpp"

#include <parley/sdk.hpp>

#include <string>
#include <vector>

namespace parley::mmlu_pro {

inline constexpr parley_param kParams[] = {
    common::kProfileParam,
};

inline constexpr const char *kTaskName = "reasoning-focused question answering";
inline constexpr const char *kTaskInst =
    "To give a final answer, do it in the format of \"The correct answer is (insert answer here)\", such as "
    "\"The correct answer is (B)\"";

class MmluPro final : public parley::Domain {
  public:
    struct Row {
        std::string question;
        std::vector<std::string> options; // displayed options (fixed: trailing "N/A" padding removed)
        char gold = 0;                     // 'A'..
    };

    explicit MmluPro(const parley::Config &cfg);

    // `path`: a JSON Lines file with the original parquet's fields, one row per line.
    void load(const std::string &path, parley::LoadContext &ctx) override;
    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;
    parley::DomainInfo info() const override;
    std::string render(size_t index, int what, std::string_view input) override;

    common::Profile profile() const { return profile_; }
    const Row &row(size_t index) const { return rows_.at(index); }

  private:
    std::string options_block(size_t index) const;
    common::Profile profile_;
    std::vector<Row> rows_;
};

} // namespace parley::mmlu_pro
