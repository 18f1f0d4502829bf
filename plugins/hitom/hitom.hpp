// plugins/hitom — the Hi-ToM domain (ying-hui-he/Hi-ToM_dataset, Coral's ts_hi_tom).
#pragma once

#include <parley/common/coral.hpp>
#include <parley/domain.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley::hitom {

inline constexpr parley_param kMultipleChoice = parley::param::flag(
    "multiple_choice", false, "false: free-form answer scored as Coral does; true: the item's 15 lettered choices, gold = letter");
inline constexpr parley_param kParams[] = {
    common::kProfileParam,
    kMultipleChoice,
    PARLEY_PROMPT_PARAMS,
};

using Choices = std::vector<std::pair<char, std::string>>; // (label, text)

// Splits Hi-ToM's choices string "A. x, B. y, ..." on ", " and then on the first ". ".
// nullopt when a part has no ". " or its label is not one capital letter.
std::optional<Choices> parse_choices(std::string_view s);

// The choice a normalised belief names (multiple-choice variant): the longest choice text it
// contains (bounded by non-alphanumerics; ambiguous ties give none), else a bare letter
// ("k", "(k)", "k.", "k) ...", "k. ...").
std::optional<char> resolve_choice(std::string_view belief, const Choices &choices);

struct Question {
    std::string story, question, answer;
    Choices choices;      // empty if the choices string does not parse (free-form only)
    char gold_letter = 0; // multiple-choice gold (0 if unknown)
};

class HiTom final : public parley::TableDomain<Question> {
  public:
    explicit HiTom(const parley::Config &cfg);

    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;

    common::Profile profile() const { return profile_; }
    bool multiple_choice() const { return mc_; }
    // The question as the prompts show it (with "\nChoices: ..." in the multiple-choice variant).
    std::string shown_question(size_t index) const;

  protected:
    // `path`: the original JSON {"data": [ ... ]} (Hi-ToM_data.json).
    void read(const std::string &path, parley::LoadContext &ctx, Table &out) override;
    // Hi-ToM stories end with a blank line ("...\n\n"); it is trimmed so the prompt reads
    // "Story: ...\nQuestion: ..." like ExploreToM's.
    std::vector<std::string> values(size_t index) const override {
        return {std::string(common::py_rstrip(row(index).story)), shown_question(index)};
    }

  private:
    common::Profile profile_;
    bool mc_;
};

} // namespace parley::hitom
