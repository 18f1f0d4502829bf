#include "explore_tom.hpp"

#include <parley/common/csv.hpp>
#include <parley/common/jsonl.hpp>
#include <parley/common/tom.hpp>

#include <set>

namespace parley::explore_tom {

using common::ojson;
using common::RowError;

std::vector<uint64_t> read_row_index(const std::string &path) {
    const std::string data = common::read_file(path);
    std::vector<uint64_t> out;
    std::set<uint64_t> seen;
    size_t line = 0, i = 0;
    while (i < data.size()) {
        size_t j = data.find('\n', i);
        if (j == std::string::npos) j = data.size();
        ++line;
        std::string_view l = common::py_strip(std::string_view(data).substr(i, j - i));
        i = j + 1;
        if (l.empty() || l.front() == '#') continue;
        uint64_t v = 0;
        bool ok = l.size() <= 19;
        for (char c : l) ok = ok && c >= '0' && c <= '9';
        if (!ok) throw Error(PARLEY_ERR_PARSE, common::at(path, line) + ": row index: expected a non-negative integer");
        for (char c : l) v = v * 10 + static_cast<uint64_t>(c - '0');
        if (!seen.insert(v).second) throw Error(PARLEY_ERR_PARSE, common::at(path, line) + ": row index: " + std::to_string(v) + " repeated");
        out.push_back(v);
    }
    return out;
}

ExploreTom::ExploreTom(const parley::Config &cfg)
    : profile_(common::parse_profile(cfg)), story_field_(cfg.get("story_field", "story_structure")) {
    if (story_field_ != "story_structure" && story_field_ != "infilled_story")
        throw Error(PARLEY_ERR_INVALID_ARGUMENT,
                    "story_field: expected \"story_structure\" or \"infilled_story\", got \"" + story_field_ + "\"");
    std::string ri = cfg.get("row_index", "");
    if (!ri.empty()) row_index_ = ri;
}

void ExploreTom::load(const std::string &path, parley::LoadContext &ctx) {
    std::vector<uint64_t> index;
    if (row_index_) index = read_row_index(*row_index_);
    const std::string data = common::read_file(path);
    common::CsvReader reader(data);
    const common::CsvHeader h = common::read_csv_header(path, reader, {story_field_, "question", "expected_answer"});
    const size_t c_story = h.find(story_field_), c_q = h.find("question"), c_gold = h.find("expected_answer");
    const size_t c_type = h.find("param=story_type");

    std::vector<Item> items;
    std::vector<Row> rows;
    std::set<std::string> ids;
    common::CsvRecord rec;
    size_t data_row = 0;
    while (common::next_csv_record(path, reader, h, rec)) {
        const size_t k = data_row++;
        try {
            const std::string where = common::at(path, rec.line) + ": row " + std::to_string(k);
            if (std::string w = common::csv_width_problem(h, rec); !w.empty()) throw RowError(where + ": " + w);
            if (row_index_ && k >= index.size())
                throw Error(PARLEY_ERR_PARSE, *row_index_ + ": has " + std::to_string(index.size()) + " row indices, " + path +
                                                  " has more data rows");
            const std::string id = row_index_ ? std::to_string(index[k]) : std::to_string(k);
            Row r;
            r.story = rec.fields[c_story];
            r.question = rec.fields[c_q];
            const std::string &gold = rec.fields[c_gold];
            if (common::py_strip(r.story).empty()) throw RowError(where + ": field '" + story_field_ + "': empty");
            if (common::py_strip(r.question).empty()) throw RowError(where + ": field 'question': empty");
            if (common::py_strip(gold).empty()) throw RowError(where + ": field 'expected_answer': empty (no gold answer)");
            if (ids.count(id)) throw RowError(where + ": duplicate id " + id);

            ojson j = ojson::object();
            for (size_t c = 0; c < h.size(); ++c) j[h.names()[c]] = rec.fields[c];
            j["row_index"] = row_index_ ? index[k] : static_cast<uint64_t>(k);

            Item it;
            it.id = id;
            it.gold = gold;
            it.category = c_type != common::CsvHeader::npos ? rec.fields[c_type] : "";
            it.metadata_json = common::dump(j);
            it.text = r.question;
            ids.insert(id);
            items.push_back(std::move(it));
            rows.push_back(std::move(r));
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    }
    if (row_index_ && data_row != index.size())
        throw Error(PARLEY_ERR_PARSE, *row_index_ + ": has " + std::to_string(index.size()) + " row indices, " + path + " has " +
                                          std::to_string(data_row) + " data rows");
    if (items.empty() && ctx.skipped() == 0) throw Error(PARLEY_ERR_PARSE, path + ": no data rows");
    this->items = std::move(items);
    rows_ = std::move(rows);
}

std::string ExploreTom::render(size_t index, int what, std::string_view input) {
    const Row &r = rows_.at(index);
    switch (what) {
    case PARLEY_TEXT_TASK:
        return "I'm trying to answer this question based on the following story:\nStory: " + r.story + "\nQuestion: " + r.question;
    case PARLEY_TEXT_TASK_TEACHER_FIRST:
        return "I would like you to try to answer a question based on the following story: \nStory: " + r.story +
               "\nQuestion: " + r.question;
    case PARLEY_TEXT_SYSTEM_COLLABORATE: return parley::coral::assistant_sbs_short(kTaskName, kTaskInst);
    case PARLEY_TEXT_SYSTEM_COT: return parley::coral::simple_cot(kTaskName, kTaskInst);
    case PARLEY_TEXT_EXTRACTOR_SYSTEM: return parley::coral::extractor_system();
    case PARLEY_TEXT_EXTRACTOR_PROMPT:
        return common::extractor_prompt("**This is the original story and question:**\nStory: " + r.story + "\nQuestion: " +
                                        r.question + "\n\n" + "**This is the response you need to extract an answer from:**\n\n" +
                                        std::string(input) +
                                        "\n\n**Extract the final answer which should be less than five words, or say \"not sure yet\".**");
    default: throw Error(PARLEY_ERR_UNSUPPORTED, "unknown text kind " + std::to_string(what));
    }
}

parley::Belief ExploreTom::extract(size_t index, int mode, std::string_view text) {
    (void)rows_.at(index);
    return common::tom::extract(mode, text, false, profile_);
}

double ExploreTom::score(size_t index, std::string_view belief) {
    return common::tom::match(belief, items.at(index).gold, profile_) ? 1.0 : 0.0;
}

parley::DomainInfo ExploreTom::info() const {
    parley::DomainInfo d;
    d.task_name = kTaskName;
    d.task_specific_inst = kTaskInst;
    d.matcher_name = "ExploreTOMMatchEvaluator";
    d.extractor_name = "ExploreTOMExtractionPromptingEvaluator";
    d.score_json_type = PARLEY_SCORE_JSON_INT;
    d.sensitive_text = false;
    return d;
}

} // namespace parley::explore_tom
