// plugins/arithmetic — multi-step integer arithmetic, generated (generator.hpp), with Coral's
// prompts and MATH's numeric-answer conventions: the task_specific_inst asks for a
// $\boxed{N}$ answer, the LLM extractor path and the coral matcher are MATH's (linked from
// plugins/math), and a turn ends "The answer is $\boxed{N}$.".
#pragma once

#include "generator.hpp"

#include <parley/common/coral.hpp>

#include <parley/sdk.hpp>

#include <optional>
#include <string>
#include <vector>

namespace parley::arithmetic {

// The domains' `profile` key (common::parse_profile reads it) with this domain's doc.
inline constexpr parley_param kParams[] = {
    parley::param::choice("profile", common::kProfiles, "coral",
                          "coral: MATH's extraction and matcher as Coral has them; fixed: only valid beliefs score, integers compared exactly"),
};

inline constexpr const char *kTaskName = "arithmetic";
inline constexpr const char *kTaskInst =
    "To give a final answer to the question (e.g., \"42\"), put your answer in an LaTex box like $\\boxed{42}$";

// The generator specification in a JSON object (a `data` file ending in .json); errors name
// `where` and the field.
Spec parse_spec(const std::string &json_text, const std::string &where);

// The rule-based belief of a turn: its last non-empty \boxed{X}, else its last "answer is N";
// "The answer is $\boxed{X}$." or "not sure yet".
std::string rule_belief(std::string_view text);

class ArithmeticDomain final : public parley::Domain {
  public:
    explicit ArithmeticDomain(const parley::Config &cfg);
    ArithmeticDomain(common::Profile profile) : profile_(profile) {}

    // `path`: a generator spec (JSON object, any name but *.jsonl) or JSON Lines items
    // {"id", "expression"[, "answer"]} (what `parley-arith-data items` writes).
    void load(const std::string &path, parley::LoadContext &ctx) override;
    // Items from problems directly (the data tool and tests).
    void set_problems(std::vector<Problem> problems);
    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;
    parley::DomainInfo info() const override;
    std::string render(size_t index, int what, std::string_view input) override;

    const Problem &problem(size_t index) const { return problems_.at(index); }
    // The integer a belief states under the fixed profile (nullopt: none, or an invalid belief).
    std::optional<int64_t> fixed_answer(std::string_view belief) const;

  private:
    common::Profile profile_;
    std::vector<Problem> problems_;
};

} // namespace parley::arithmetic
