// plugins/math — the MATH domain (Hendrycks et al., Coral's ts_math). Answer equivalence is
// grader.hpp (parley::math::grade_answer, the PRM800K/[mft] grader Coral uses).
#pragma once

#include <parley/common/coral.hpp>

#include <parley/sdk.hpp>

#include <string>
#include <vector>

namespace parley::math {

inline constexpr parley_param kParams[] = {
    {"profile", PARLEY_TYPE_STRING, 0, "coral",
     "coral: reproduce the official scoring quirks; fixed: each quirk corrected (see README)"},
};

inline constexpr const char *kTaskName = "math";
inline constexpr const char *kTaskInst =
    "To give a final answer to the question (e.g., \"\\sqrt{3}\"), put your answer in an LaTex box like $\\boxed{\\sqrt{3}}$";

// The argument of the last \boxed{...} / \fbox{...} of `s` (brace-matched), if any.
std::optional<std::string> last_boxed_content(std::string_view s);

// Coral's MATHExtractionPromptingEvaluator.normalize_answer (both profiles).
std::string normalise_llm(std::string_view response);

class MathDomain final : public parley::Domain {
  public:
    struct Row {
        std::string problem;
    };

    explicit MathDomain(const parley::Config &cfg);

    // `path`: a directory tree .../<subject>/<n>.json (the release layout), or a JSON Lines file
    // with the same fields.
    void load(const std::string &path, parley::LoadContext &ctx) override;
    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;
    parley::DomainInfo info() const override;
    std::string render(size_t index, int what, std::string_view input) override;

    common::Profile profile() const { return profile_; }

    // The answer string handed to grade_answer for a belief (profile-dependent); nullopt when
    // the belief cannot score (fixed profile, invalid belief).
    std::optional<std::string> raw_answer(std::string_view belief) const;

  private:
    void load_dir(const std::string &path, parley::LoadContext &ctx, std::vector<Item> &items, std::vector<Row> &rows);
    void load_jsonl(const std::string &path, parley::LoadContext &ctx, std::vector<Item> &items, std::vector<Row> &rows);
    common::Profile profile_;
    std::vector<Row> rows_;
};

} // namespace parley::math
