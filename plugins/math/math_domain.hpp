// plugins/math — the MATH domain (Hendrycks et al., Coral's ts_math). Answer equivalence is
// grader.hpp (parley::math::grade_answer, the PRM800K/[mft] grader Coral uses).
#pragma once

#include <parley/common/coral.hpp>
#include <parley/domain.hpp>

#include <string>
#include <vector>

namespace parley::math {

inline constexpr parley_param kParams[] = {
    common::kProfileParam,
    PARLEY_PROMPT_PARAMS,
};

// The argument of the last \boxed{...} / \fbox{...} of `s` (brace-matched), if any.
std::optional<std::string> last_boxed_content(std::string_view s);

// Coral's MATHExtractionPromptingEvaluator.normalize_answer (both profiles).
std::string normalise_llm(std::string_view response);

struct Problem {
    std::string problem;
};

class MathDomain final : public parley::TableDomain<Problem> {
  public:
    explicit MathDomain(const parley::Config &cfg);

    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;

    common::Profile profile() const { return profile_; }

    // The answer string handed to grade_answer for a belief (profile-dependent); nullopt when
    // the belief cannot score (fixed profile, invalid belief).
    std::optional<std::string> raw_answer(std::string_view belief) const;

  protected:
    // `path`: a directory tree .../<subject>/<n>.json (the release layout), or a JSON Lines file
    // with the same fields.
    void read(const std::string &path, parley::LoadContext &ctx, Table &out) override;
    std::vector<std::string> values(size_t index) const override { return {row(index).problem}; }

  private:
    void load_dir(const std::string &path, parley::LoadContext &ctx, Table &out);
    void load_jsonl(const std::string &path, parley::LoadContext &ctx, Table &out);
    common::Profile profile_;
};

} // namespace parley::math
