#include "mmlu_pro.hpp"

#include <parley/common/jsonl.hpp>

#include <set>

namespace parley::mmlu_pro {

using common::ojson;
using common::RowError;

static parley::DomainInfo mmlu_pro_info() {
    parley::DomainInfo d;
    d.task_name = "reasoning-focused question answering";
    d.matcher_name = "MMLUProMatchEvaluator";
    d.extractor_name = "MMLUProExtractionPromptingEvaluator";
    return d;
}

MmluPro::MmluPro(const parley::Config &cfg) : MultipleChoiceDomain(cfg, mmlu_pro_info()) {}

static bool ends_with(const std::string &s, const char *suffix) {
    std::string_view x(suffix);
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

void MmluPro::read(const std::string &path, parley::LoadContext &ctx, Table &out) {
    if (ends_with(path, ".parquet"))
        throw Error(PARLEY_ERR_UNSUPPORTED, path + ": parquet is not read directly; convert it to JSON Lines (one row per line, same fields)");
    const std::string data = common::read_file(path);

    std::set<std::string> ids;
    common::for_each_line(data, [&](size_t line, std::string_view text) {
        try {
            ojson j = common::parse_row(path, line, text);
            std::string where = common::at(path, line);

            // id = question_id
            const ojson &qid = common::field(j, where, "question_id");
            std::string id;
            if (qid.is_number_integer()) id = std::to_string(qid.get<int64_t>());
            else if (qid.is_string() && !qid.get<std::string>().empty()) id = qid.get<std::string>();
            else throw RowError(where + ": field 'question_id': expected an integer");
            where += ": question_id " + id;
            if (ids.count(id)) throw RowError(where + ": field 'question_id': duplicate id");

            Choices r;
            r.question = common::string_field(j, where, "question");

            const ojson &opts = common::field(j, where, "options");
            if (!opts.is_array()) throw RowError(where + ": field 'options': expected a list of strings");
            for (size_t k = 0; k < opts.size(); ++k) {
                if (!opts[k].is_string())
                    throw RowError(where + ": field 'options': element " + std::to_string(k) + " is not a string");
                r.options.push_back(opts[k].get<std::string>());
            }
            // Older revisions and the validation split pad to 10 options with "N/A". coral shows
            // them, as Coral's dataset class does (prompts, choices, letters); fixed drops them, as
            // MMLU-Pro's own evaluator does. Only trailing padding goes, so letters never shift.
            size_t real = r.options.size();
            while (real > 0 && r.options[real - 1] == "N/A") --real;
            if (profile() == common::Profile::Fixed) r.options.resize(real);
            if (real < 2)
                throw RowError(where + ": field 'options': " + std::to_string(real) +
                               " options besides \"N/A\" padding, expected at least 2");
            if (r.options.size() > 26)
                throw RowError(where + ": field 'options': " + std::to_string(r.options.size()) + " options, expected at most 26");

            // gold = answer (a letter), checked against answer_index when present
            int gold_index = -1;
            auto ans = j.find("answer");
            if (ans != j.end() && !ans->is_null()) {
                if (!ans->is_string()) throw RowError(where + ": field 'answer': expected a letter");
                std::string a = ans->get<std::string>();
                if (a.empty()) throw RowError(where + ": field 'answer': empty (no gold answer)");
                if (a.size() != 1 || a[0] < 'A' || a[0] > 'Z')
                    throw RowError(where + ": field 'answer': expected a single letter A-Z");
                gold_index = a[0] - 'A';
            }
            auto aidx = j.find("answer_index");
            if (aidx != j.end() && !aidx->is_null()) {
                if (!aidx->is_number_integer()) throw RowError(where + ": field 'answer_index': expected an integer");
                int64_t ai = aidx->get<int64_t>();
                if (gold_index < 0) gold_index = ai < 0 || ai > 25 ? 26 : static_cast<int>(ai);
                else if (ai != gold_index)
                    throw RowError(where + ": field 'answer_index': " + std::to_string(ai) + " disagrees with 'answer'");
            }
            if (gold_index < 0) throw RowError(where + ": field 'answer': missing (no gold answer)");
            if (static_cast<size_t>(gold_index) >= r.options.size())
                throw RowError(where + ": field 'answer': option " + std::string(1, char('A' + std::min(gold_index, 25))) +
                               " does not exist (" + std::to_string(r.options.size()) + " options)");
            r.gold = static_cast<char>('A' + gold_index);

            std::string category;
            if (auto c = j.find("category"); c != j.end() && c->is_string()) category = c->get<std::string>();

            ojson choices = ojson::object();
            for (size_t k = 0; k < r.options.size(); ++k) choices[std::string(1, char('A' + k))] = r.options[k];
            j["choices"] = choices;

            Item it;
            it.id = id;
            it.gold = std::string(1, r.gold);
            it.category = category;
            it.metadata_json = common::dump(j);
            it.text = r.question;
            ids.insert(id);
            out.push_back({std::move(it), std::move(r)});
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    });
}

} // namespace parley::mmlu_pro
