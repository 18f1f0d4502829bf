// plugins/hitom — the Hi-ToM domain (ying-hui-he/Hi-ToM_dataset, Coral's ts_hi_tom).
#pragma once

#include <parley/common/coral.hpp>

#include <parley/sdk.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley::hitom {

inline constexpr parley_param kParams[] = {
    {"profile", PARLEY_TYPE_STRING, 0, "coral",
     "coral: reproduce the official scoring quirks; fixed: each quirk corrected (see README)"},
    {"multiple_choice", PARLEY_TYPE_BOOL, 0, "false",
     "false: free-form answer scored as Coral does; true: the item's 15 lettered choices, gold = letter"},
};

inline constexpr const char *kTaskName = "theory-of-mind reasoning";
inline constexpr const char *kTaskInst = "Put your final answer to the question at the end as \"Short Answer: {answer}\"";

using Choices = std::vector<std::pair<char, std::string>>; // (label, text)

// Splits Hi-ToM's choices string "A. x, B. y, ..." on ", " and then on the first ". ".
// nullopt when a part has no ". " or its label is not one capital letter.
std::optional<Choices> parse_choices(std::string_view s);

// The choice a normalised belief names (multiple-choice variant): the longest choice text it
// contains (bounded by non-alphanumerics; ambiguous ties give none), else a bare letter
// ("k", "(k)", "k.", "k) ...", "k. ...").
std::optional<char> resolve_choice(std::string_view belief, const Choices &choices);

class HiTom final : public parley::Domain {
  public:
    struct Row {
        std::string story, question, answer;
        Choices choices;      // empty if the choices string does not parse (free-form only)
        char gold_letter = 0; // multiple-choice gold (0 if unknown)
    };

    explicit HiTom(const parley::Config &cfg);

    // `path`: the original JSON {"data": [ ... ]} (Hi-ToM_data.json).
    void load(const std::string &path, parley::LoadContext &ctx) override;
    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;
    parley::DomainInfo info() const override;
    std::string render(size_t index, int what, std::string_view input) override;

    common::Profile profile() const { return profile_; }
    bool multiple_choice() const { return mc_; }
    const Row &row(size_t index) const { return rows_.at(index); }
    // The question as the prompts show it (with "\nChoices: ..." in the multiple-choice variant).
    std::string shown_question(size_t index) const;

  private:
    common::Profile profile_;
    bool mc_;
    std::vector<Row> rows_;
};

} // namespace parley::hitom
