#include "gpqa.hpp"

#include "common/csv.hpp"
#include "common/jsonl.hpp"
#include "common/mc.hpp"

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

Gpqa::Gpqa(const parley::Config &cfg)
    : profile_(common::parse_profile(cfg)), seed_(cfg.get<int64_t>(kShuffleSeed)) {}

static const char *const kAnswerCols[4] = {"Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"};

void Gpqa::load(const std::string &path, parley::LoadContext &ctx) {
    const std::string data = common::read_file(path);
    common::CsvReader reader(data);
    const common::CsvHeader h = common::read_csv_header(
        path, reader, {"Question", kAnswerCols[0], kAnswerCols[1], kAnswerCols[2], kAnswerCols[3], "Record ID"});
    const size_t c_question = h.find("Question"), c_id = h.find("Record ID");
    size_t c_ans[4];
    for (int k = 0; k < 4; ++k) c_ans[k] = h.find(kAnswerCols[k]);
    const size_t c_domain = h.find("High-level domain");

    std::vector<Item> items;
    std::vector<Row> rows;
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

            Row r;
            r.question = rec.fields[c_question];
            if (common::py_strip(r.question).empty()) throw RowError(where + ": field 'Question': empty");
            std::array<std::string, 4> answers;
            for (int k = 0; k < 4; ++k) {
                answers[k] = std::string(common::py_strip(rec.fields[c_ans[k]]));
                if (answers[k].empty())
                    throw RowError(where + ": field '" + kAnswerCols[k] + "': empty" + (k == 0 ? " (no gold answer)" : ""));
            }
            const auto order = shuffle_order(seed_, id);
            for (int k = 0; k < 4; ++k) {
                r.choices[k] = answers[order[k]];
                if (order[k] == 0) r.label = k;
            }

            ojson j = ojson::object();
            for (size_t k = 0; k < h.size(); ++k) j[h.names()[k]] = rec.fields[k];
            j["choices"] = ojson::array({r.choices[0], r.choices[1], r.choices[2], r.choices[3]});
            j["label"] = r.label;
            j["shuffle_seed"] = seed_;

            Item it;
            it.id = id;
            it.gold = std::string(1, char('A' + r.label));
            it.category = c_domain != common::CsvHeader::npos ? rec.fields[c_domain] : "";
            it.metadata_json = common::dump(j);
            it.text = r.question;
            ids.insert(id);
            items.push_back(std::move(it));
            rows.push_back(std::move(r));
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    }
    if (items.empty() && ctx.skipped() == 0) throw Error(PARLEY_ERR_PARSE, path + ": no data rows");
    this->items = std::move(items);
    rows_ = std::move(rows);
}

std::string Gpqa::options_block(size_t index) const {
    const Row &r = rows_.at(index);
    return "(A) " + r.choices[0] + "\n(B) " + r.choices[1] + "\n(C) " + r.choices[2] + "\n(D) " + r.choices[3];
}

std::string Gpqa::render(size_t index, int what, std::string_view input) {
    const Row &r = rows_.at(index);
    switch (what) {
    case PARLEY_TEXT_TASK:
        return "I'm trying to solve this problem: \"" + r.question + "\"\n" + "And the choices are:\n" + options_block(index);
    case PARLEY_TEXT_TASK_TEACHER_FIRST:
        throw Error(PARLEY_ERR_UNSUPPORTED, "GPQA has no teacher-first task message (Coral asserts first_role == student)");
    case PARLEY_TEXT_SYSTEM_COLLABORATE: return parley::coral::assistant_sbs(kTaskName, kTaskInst); // ts_gpqa.yaml
    case PARLEY_TEXT_SYSTEM_COT: return parley::coral::simple_cot(kTaskName, kTaskInst);
    case PARLEY_TEXT_EXTRACTOR_SYSTEM: return parley::coral::extractor_system();
    case PARLEY_TEXT_EXTRACTOR_PROMPT:
        return common::extractor_prompt("**This is the original question:**\n" + r.question + "\n\n" +
                                        "\n\n**And the options are:**\n" + options_block(index) + "\n\n" +
                                        "**This is the response you need to extract answer from:**\n\n" +
                                        std::string(input) +
                                        "\n\n**Extract the answer in ([A-Z]) format, or say \"not sure yet\".**");
    default: throw Error(PARLEY_ERR_UNSUPPORTED, "unknown text kind " + std::to_string(what));
    }
}

parley::Belief Gpqa::extract(size_t index, int mode, std::string_view text) {
    (void)rows_.at(index);
    return common::mc::extract(mode, text, 4, profile_);
}

double Gpqa::score(size_t index, std::string_view belief) {
    return common::mc::correct(belief, static_cast<char>('A' + rows_.at(index).label), profile_) ? 1.0 : 0.0;
}

parley::DomainInfo Gpqa::info() const {
    parley::DomainInfo d;
    d.task_name = kTaskName;
    d.task_specific_inst = kTaskInst;
    d.matcher_name = "GPQAMatchEvaluator";
    d.extractor_name = "GPQAExtractionPromptingEvaluator";
    d.score_json_type = PARLEY_SCORE_JSON_BOOL;
    d.sensitive_text = true;
    return d;
}

} // namespace parley::gpqa
