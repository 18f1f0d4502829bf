// plugins/_template — a domain to copy (see README.md for the steps). It reads a JSON Lines file
// {"id": ..., "question": ..., "answer": ...} and scores an answer by exact match after trimming.
// STEP 3: rename the namespace, the class and Row; describe your release's format here.
#pragma once

#include <parley/domain.hpp>

namespace parley::template_domain {

// STEP 4: your parameters (keep PARLEY_PROMPT_PARAMS: prompts.* and prompts_file come with it).
inline constexpr parley_param kParams[] = {
    PARLEY_PROMPT_PARAMS,
};

// What the prompts and the scorer need of one row, beside its parley::Item (id, gold, metadata).
struct Row {
    std::string question;
};

class TemplateDomain final : public parley::TableDomain<Row> {
  public:
    explicit TemplateDomain(const parley::Config &cfg);
    parley::Belief extract(size_t index, int mode, std::string_view text) override;
    double score(size_t index, std::string_view belief) override;

  protected:
    void read(const std::string &path, parley::LoadContext &ctx, Table &out) override;
    std::vector<std::string> values(size_t index) const override { return {row(index).question}; }
};

} // namespace parley::template_domain
