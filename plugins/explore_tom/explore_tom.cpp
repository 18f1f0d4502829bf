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

static parley::DomainInfo explore_tom_info() {
    parley::DomainInfo d;
    d.task_name = common::tom::kTaskName;
    d.task_specific_inst = common::tom::kTaskInst;
    d.matcher_name = "ExploreTOMMatchEvaluator";
    d.extractor_name = "ExploreTOMExtractionPromptingEvaluator";
    d.score_json_type = PARLEY_SCORE_JSON_INT;
    return d;
}

ExploreTom::ExploreTom(const parley::Config &cfg)
    : TableDomain(cfg, explore_tom_info(), common::tom::prompts(), {"story", "question"}, "no data rows"),
      profile_(common::parse_profile(cfg)), story_field_(cfg.get<std::string>(kStoryField)) { // choices: the spec's
    std::string ri = cfg.get("row_index", "");
    if (!ri.empty()) row_index_ = ri;
}

void ExploreTom::read(const std::string &path, parley::LoadContext &ctx, Table &out) {
    std::vector<uint64_t> index;
    if (row_index_) index = read_row_index(*row_index_);
    const std::string data = common::read_file(path);
    common::CsvReader reader(data);
    const common::CsvHeader h = common::read_csv_header(path, reader, {story_field_, "question", "expected_answer"});
    const size_t c_story = h.find(story_field_), c_q = h.find("question"), c_gold = h.find("expected_answer");
    const size_t c_type = h.find("param=story_type");

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
            Story r;
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
            out.push_back({std::move(it), std::move(r)});
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    }
    if (row_index_ && data_row != index.size())
        throw Error(PARLEY_ERR_PARSE, *row_index_ + ": has " + std::to_string(index.size()) + " row indices, " + path + " has " +
                                          std::to_string(data_row) + " data rows");
}

parley::Belief ExploreTom::extract(size_t index, int mode, std::string_view text) {
    (void)row(index);
    return common::tom::extract(mode, text, false, profile_);
}

double ExploreTom::score(size_t index, std::string_view belief) {
    return common::tom::match(belief, item(index).gold, profile_) ? 1.0 : 0.0;
}

} // namespace parley::explore_tom
