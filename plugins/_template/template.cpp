#include "template.hpp"

#include <parley/common/jsonl.hpp>
#include <parley/common/pytext.hpp>

#include <set>

namespace parley::template_domain {

using common::RowError;

// STEP 5: the task name and instruction fill {task_name} / {task_specific_inst} of Coral's system
// prompts; the record labels are optional.
static parley::DomainInfo template_info() {
    parley::DomainInfo d;
    d.task_name = "short-answer";
    d.task_specific_inst = "End your reply with \"Final answer: <answer>\".";
    return d;
}

// STEP 6: the prompts' defaults ({question}, {response} in the extractor; Coral's generic texts
// when left alone). Nodes override them with prompts.<key> or prompts_file.
TemplateDomain::TemplateDomain(const parley::Config &cfg) : TableDomain(cfg, template_info(), parley::Prompts::Defaults{}, {"question"}) {}

// STEP 7: read the release's own format; name file:line and the field in every error.
void TemplateDomain::read(const std::string &path, parley::LoadContext &ctx, Table &out) {
    const std::string data = common::read_file(path);
    std::set<std::string> ids;
    common::for_each_line(data, [&](size_t line, std::string_view text) {
        try {
            const auto j = common::parse_row(path, line, text);
            const std::string where = common::at(path, line);
            Item it;
            it.id = common::string_field(j, where, "id");
            if (!ids.insert(it.id).second) throw RowError(where + ": field 'id': duplicate id");
            it.gold = common::string_field(j, where, "answer");
            it.metadata_json = common::dump(j);
            Row r{common::string_field(j, where, "question")};
            it.text = r.question;
            out.push_back({std::move(it), std::move(r)});
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    });
}

// STEP 8: a belief from an agent's turn (RULE) or the extractor's reply (LLM_OUTPUT).
parley::Belief TemplateDomain::extract(size_t, int mode, std::string_view text) {
    if (mode != PARLEY_EXTRACT_RULE && mode != PARLEY_EXTRACT_LLM_OUTPUT)
        throw Error(PARLEY_ERR_INVALID_ARGUMENT, "unknown extract mode " + std::to_string(mode));
    std::string_view t = text;
    if (mode == PARLEY_EXTRACT_RULE) {
        const size_t k = t.rfind("Final answer:");
        if (k == std::string_view::npos) return {"not sure yet", false};
        t = t.substr(k + 13);
    }
    const std::string b(common::py_strip(t));
    return {b, !b.empty() && common::py_lower(b).find("not sure yet") == std::string::npos};
}

double TemplateDomain::score(size_t index, std::string_view belief) {
    return common::py_strip(belief) == common::py_strip(item(index).gold) ? 1.0 : 0.0;
}

} // namespace parley::template_domain
