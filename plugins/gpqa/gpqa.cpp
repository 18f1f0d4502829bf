#include "gpqa.hpp"

#include <parley/common/csv.hpp>
#include <parley/common/jsonl.hpp>

#include <set>

namespace parley::gpqa {

using common::ojson;
using common::RowError;

uint64_t fnv1a64(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t splitmix64(uint64_t &state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

std::array<int, 4> shuffle_order(int64_t seed, std::string_view record_id) {
    std::string key = std::to_string(seed);
    key += ':';
    key += record_id;
    uint64_t state = fnv1a64(key);
    std::array<int, 4> order{0, 1, 2, 3};
    for (int i = 3; i >= 1; --i) {
        int j = static_cast<int>(splitmix64(state) % static_cast<uint64_t>(i + 1));
        std::swap(order[i], order[j]);
    }
    return order;
}

static parley::DomainInfo gpqa_info() {
    parley::DomainInfo d;
    d.task_name = "PhD-level biology, physics, and chemistry";
    d.matcher_name = "GPQAMatchEvaluator";
    d.extractor_name = "GPQAExtractionPromptingEvaluator";
    d.sensitive_text = true;
    return d;
}

// ts_gpqa.yaml's collaboration prompt is assistant_sbs, not assistant_sbs_short.
Gpqa::Gpqa(const parley::Config &cfg)
    : MultipleChoiceDomain(cfg, gpqa_info(), parley::coral::kAssistantSbs, "no data rows"), seed_(cfg.get<int64_t>(kShuffleSeed)) {}

static const char *const kAnswerCols[4] = {"Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"};

void Gpqa::read(const std::string &path, parley::LoadContext &ctx, Table &out) {
    const std::string data = common::read_file(path);
    common::CsvReader reader(data);
    const common::CsvHeader h = common::read_csv_header(
        path, reader, {"Question", kAnswerCols[0], kAnswerCols[1], kAnswerCols[2], kAnswerCols[3], "Record ID"});
    const size_t c_question = h.find("Question"), c_id = h.find("Record ID");
    size_t c_ans[4];
    for (int k = 0; k < 4; ++k) c_ans[k] = h.find(kAnswerCols[k]);
    const size_t c_domain = h.find("High-level domain");

    std::set<std::string> ids;
    common::CsvRecord rec;
    while (common::next_csv_record(path, reader, h, rec)) {
        try {
            // Never put cell text other than the record id into a message.
            // A row of the wrong width may have its cells shifted, so not even the id cell is
            // trusted then: the message names the line only.
            std::string where = common::at(path, rec.line);
            if (std::string w = common::csv_width_problem(h, rec); !w.empty()) throw RowError(where + ": " + w);
            if (!rec.fields[c_id].empty()) where += ": record " + rec.fields[c_id];
            const std::string &id = rec.fields[c_id];
            if (id.empty()) throw RowError(where + ": field 'Record ID': empty");
            if (ids.count(id)) throw RowError(where + ": field 'Record ID': duplicate id");

            Choices r;
            r.question = rec.fields[c_question];
            if (common::py_strip(r.question).empty()) throw RowError(where + ": field 'Question': empty");
            std::array<std::string, 4> answers;
            for (int k = 0; k < 4; ++k) {
                answers[k] = std::string(common::py_strip(rec.fields[c_ans[k]]));
                if (answers[k].empty())
                    throw RowError(where + ": field '" + kAnswerCols[k] + "': empty" + (k == 0 ? " (no gold answer)" : ""));
            }
            const auto order = shuffle_order(seed_, id);
            int label = 0;
            for (int k = 0; k < 4; ++k) {
                r.options.push_back(answers[order[k]]);
                if (order[k] == 0) label = k;
            }
            r.gold = static_cast<char>('A' + label);

            ojson j = ojson::object();
            for (size_t k = 0; k < h.size(); ++k) j[h.names()[k]] = rec.fields[k];
            j["choices"] = r.options;
            j["label"] = label;
            j["shuffle_seed"] = seed_;

            Item it;
            it.id = id;
            it.gold = std::string(1, r.gold);
            it.category = c_domain != common::CsvHeader::npos ? rec.fields[c_domain] : "";
            it.metadata_json = common::dump(j);
            it.text = r.question;
            ids.insert(id);
            out.push_back({std::move(it), std::move(r)});
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    }
}

} // namespace parley::gpqa
