// parley/mc_domain.hpp — MultipleChoiceDomain: a TableDomain whose rows are a question, lettered
// options and a gold letter (MMLU-Pro, GPQA, any CSV quiz). It renders the options block
// "(A) ...\n(B) ...", reads beliefs with Coral's multiple-choice rules (parley/common/mc.hpp: the
// extractor's "(X)", the rule-based "The correct answer is (X)"), scores by letter under the node's
// `profile` ("coral": the official matcher's quirks; "fixed": corrected), and defaults to Coral's
// multiple-choice prompts. Placeholders: {question}, {options}. A subclass writes read() only.
#pragma once

#include <parley/common/coral.hpp>
#include <parley/common/mc.hpp>
#include <parley/domain.hpp>

#include <string>
#include <vector>

namespace parley {

struct Choices {
    std::string question;
    std::vector<std::string> options; // shown as (A), (B), ...
    char gold = 0;                     // 'A'..
};

namespace coral {
inline constexpr const char *kMcTask = "I'm trying to solve this problem: \"{question}\"\nAnd the choices are:\n{options}";
inline constexpr const char *kMcExtractor =
    "**This is the original question:**\n{question}\n\n\n\n**And the options are:**\n{options}\n\n"
    "**This is the response you need to extract answer from:**\n\n{response}\n\n"
    "**Extract the answer in ([A-Z]) format, or say \"not sure yet\".**";
inline constexpr const char *kMcInst = "To give a final answer, do it in the format of \"The correct answer is (insert answer here)\", "
                                       "such as \"The correct answer is (B)\"";
} // namespace coral

class MultipleChoiceDomain : public TableDomain<Choices> {
  public:
    // "(A) first\n(B) second..."
    static std::string options_block(const std::vector<std::string> &options) {
        std::string s;
        for (size_t k = 0; k < options.size(); ++k) {
            if (k) s += '\n';
            s += '(';
            s += char('A' + k);
            s += ") ";
            s += options[k];
        }
        return s;
    }

    Belief extract(size_t index, int mode, std::string_view text) override {
        return common::mc::extract(mode, text, static_cast<int>(row(index).options.size()), profile_);
    }
    double score(size_t index, std::string_view belief) override {
        return common::mc::correct(belief, row(index).gold, profile_) ? 1.0 : 0.0;
    }
    common::Profile profile() const { return profile_; }

  protected:
    // `info.task_specific_inst` empty: Coral's "The correct answer is (X)" instruction. `system`:
    // the collaboration's system prompt (Coral's assistant_sbs_short unless given).
    MultipleChoiceDomain(const Config &cfg, DomainInfo info, const char *system = coral::kAssistantSbsShort,
                         std::string no_rows = "no rows")
        : TableDomain(cfg, with_defaults(std::move(info)), defaults(system), {"question", "options"}, std::move(no_rows)),
          profile_(common::parse_profile(cfg)) {}

    std::vector<std::string> values(size_t index) const override {
        const Choices &c = row(index);
        return {c.question, options_block(c.options)};
    }

  private:
    static DomainInfo with_defaults(DomainInfo info) {
        if (info.task_specific_inst.empty()) info.task_specific_inst = coral::kMcInst;
        info.score_json_type = PARLEY_SCORE_JSON_BOOL; // Coral's multiple-choice matchers give a bool
        return info;
    }
    static Prompts::Defaults defaults(const char *system) {
        Prompts::Defaults d;
        d.task = coral::kMcTask;
        d.task_teacher_first.reset();
        d.refusal = "no teacher-first task message for a multiple-choice domain (Coral asserts first_role == student)";
        d.system = system;
        d.extractor = coral::kMcExtractor;
        return d;
    }
    common::Profile profile_;
};

// The parameters of a MultipleChoiceDomain (append a domain's own).
#define PARLEY_MC_PARAMS parley::common::kProfileParam, PARLEY_PROMPT_PARAMS

} // namespace parley
