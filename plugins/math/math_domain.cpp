#include "math_domain.hpp"

#include "grader.hpp"

#include <parley/common/jsonl.hpp>
#include <parley/common/pytext.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

namespace parley::math {

namespace fs = std::filesystem;
using common::ojson;
using common::RowError;

std::optional<std::string> last_boxed_content(std::string_view s) {
    auto box = last_boxed_only_string(s);
    if (!box) return std::nullopt;
    return remove_boxed(*box);
}

std::string normalise_llm(std::string_view response) {
    if (common::contains(common::py_lower(response), common::kNotSure)) return common::kNotSure;
    // re.findall(r"\$\\boxed\{.*\}\$", response)[0]: the leftmost "$\boxed{" from which the
    // greedy ".*" (no newline) reaches a "}$" on the same line; the match ends at the last one.
    static constexpr std::string_view open = "$\\boxed{";
    for (size_t i = response.find(open); i != std::string_view::npos; i = response.find(open, i + 1)) {
        size_t eol = response.find('\n', i);
        if (eol == std::string_view::npos) eol = response.size();
        const size_t from = i + open.size();
        std::string_view line = response.substr(from, eol - from);
        size_t close = line.rfind("}$");
        if (close == std::string_view::npos) continue;
        return "The answer is " + std::string(response.substr(i, open.size() + close + 2)) + ".";
    }
    return "Error: " + std::string(response);
}

static parley::DomainInfo math_info() {
    parley::DomainInfo d;
    d.task_name = "math";
    d.task_specific_inst =
        "To give a final answer to the question (e.g., \"\\sqrt{3}\"), put your answer in an LaTex box like $\\boxed{\\sqrt{3}}$";
    d.matcher_name = "MATHMatchEvaluator";
    d.extractor_name = "MATHExtractionPromptingEvaluator";
    d.score_json_type = PARLEY_SCORE_JSON_FLOAT;
    return d;
}

static parley::Prompts::Defaults math_prompts() {
    parley::Prompts::Defaults p;
    p.task = "I'm trying to solve this math problem: \"{question}\"";
    p.task_teacher_first = "I would like you to try and solve this math problem: \"{question}\"";
    p.extractor = "**This is the original question:**\n{question}\n\n**This is the response you need to extract answer from:**\n\n"
                  "{response}\n\n**Extract the answer in $\\boxed{}$ format, or say \"not sure yet\".**";
    return p;
}

MathDomain::MathDomain(const parley::Config &cfg)
    : TableDomain(cfg, math_info(), math_prompts(), {"question"}, "no problems found"), profile_(common::parse_profile(cfg)) {}

// "file:line:col" for a byte offset.
static std::string locate(const std::string &file, std::string_view text, size_t byte) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
        if (text[i] == '\n') { ++line; col = 1; }
        else ++col;
    }
    return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

// Builds an item from one problem object; `where` locates it in messages. Gold: the row's own
// "answer" when it has one (Coral's jsonl does), else the last \boxed{} of "solution".
static void make_item(ojson &j, const std::string &where, std::string id, MathDomain::Table &out) {
    Problem r;
    r.problem = common::string_field(j, where, "problem");
    std::string gold;
    if (auto a = j.find("answer"); a != j.end() && !a->is_null()) {
        if (!a->is_string()) throw RowError(where + ": field 'answer': expected a string");
        gold = a->get<std::string>();
        if (common::py_strip(gold).empty()) throw RowError(where + ": field 'answer': empty (no gold answer)");
    } else {
        std::string solution = common::string_field(j, where, "solution");
        auto boxed = last_boxed_content(solution);
        if (!boxed) throw RowError(where + ": field 'solution': no \\boxed{...} answer (no gold answer)");
        if (common::py_strip(*boxed).empty()) throw RowError(where + ": field 'solution': empty \\boxed{} (no gold answer)");
        gold = *boxed;
        j["answer"] = gold; // Coral's metadata["answer"]
    }
    for (const char *f : {"level", "type"})
        if (auto v = j.find(f); v != j.end() && !v->is_null() && !v->is_string())
            throw RowError(where + ": field '" + f + "': expected a string");
    Item it;
    it.id = std::move(id);
    it.gold = gold;
    if (auto t = j.find("type"); t != j.end() && t->is_string()) it.category = t->get<std::string>();
    else if (auto s = j.find("subject"); s != j.end() && s->is_string()) it.category = s->get<std::string>();
    it.metadata_json = common::dump(j);
    it.text = r.problem;
    out.push_back({std::move(it), std::move(r)});
}

static bool all_digits(const std::string &s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void MathDomain::load_dir(const std::string &path, parley::LoadContext &ctx, Table &out) {
    struct Entry {
        std::string subject, stem, file;
    };
    std::vector<Entry> entries;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec) || it->path().extension() != ".json") continue;
        entries.push_back({it->path().parent_path().filename().string(), it->path().stem().string(), it->path().string()});
    }
    if (ec) throw Error(PARLEY_ERR_IO, path + ": cannot list: " + ec.message());
    // Deterministic order: subject, then problem number (numerically when it is one).
    std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
        if (a.subject != b.subject) return a.subject < b.subject;
        if (all_digits(a.stem) && all_digits(b.stem) && a.stem.size() != b.stem.size()) return a.stem.size() < b.stem.size();
        if (a.stem != b.stem) return a.stem < b.stem;
        return a.file < b.file;
    });
    std::set<std::string> ids;
    for (auto &e : entries) {
        try {
            const std::string id = e.subject + "/" + e.stem;
            if (ids.count(id))
                throw RowError(e.file + ": duplicate id '" + id + "' (load one split folder, e.g. MATH/test, not its parent)");
            const std::string text = common::read_file(e.file);
            ojson j;
            try {
                j = ojson::parse(text);
            } catch (const nlohmann::json::parse_error &pe) {
                throw RowError(locate(e.file, text, pe.byte ? pe.byte - 1 : 0) + ": invalid JSON: " + pe.what());
            }
            if (!j.is_object()) throw RowError(e.file + ":1: invalid problem file: expected a JSON object");
            make_item(j, e.file, id, out);
            ids.insert(id);
        } catch (const RowError &err) {
            ctx.malformed(err.what());
        }
    }
}

// An id for a JSON Lines row: "unique_id" ("test/algebra/1265.json" -> "algebra/1265", as the
// tree loader names it), else "id", else the 0-based data-row index.
static std::string jsonl_id(const ojson &j, size_t row_index, const std::string &where) {
    if (auto u = j.find("unique_id"); u != j.end() && u->is_string() && !u->get<std::string>().empty()) {
        fs::path p(u->get<std::string>());
        if (p.extension() == ".json" && p.has_parent_path())
            return p.parent_path().filename().string() + "/" + p.stem().string();
        return u->get<std::string>();
    }
    if (auto i = j.find("id"); i != j.end() && !i->is_null()) {
        if (i->is_number_integer()) return std::to_string(i->get<int64_t>());
        if (i->is_string() && !i->get<std::string>().empty()) return i->get<std::string>();
        throw RowError(where + ": field 'id': expected a string or an integer");
    }
    return std::to_string(row_index);
}

void MathDomain::load_jsonl(const std::string &path, parley::LoadContext &ctx, Table &out) {
    const std::string data = common::read_file(path);
    std::set<std::string> ids;
    size_t row_index = 0;
    common::for_each_line(data, [&](size_t line, std::string_view text) {
        const size_t k = row_index++;
        try {
            ojson j = common::parse_row(path, line, text);
            std::string where = common::at(path, line);
            std::string id = jsonl_id(j, k, where);
            where += ": id " + id;
            if (ids.count(id)) throw RowError(where + ": duplicate id");
            make_item(j, where, id, out);
            ids.insert(id);
        } catch (const RowError &e) {
            ctx.malformed(e.what());
        }
    });
}

void MathDomain::read(const std::string &path, parley::LoadContext &ctx, Table &out) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(PARLEY_ERR_NOT_FOUND, path + ": no such file or directory");
    if (fs::is_directory(path, ec)) load_dir(path, ctx, out);
    else load_jsonl(path, ctx, out);
}

parley::Belief MathDomain::extract(size_t index, int mode, std::string_view text) {
    (void)row(index);
    common::require_mode(mode);
    parley::Belief b;
    if (mode == PARLEY_EXTRACT_LLM_OUTPUT) {
        b.text = normalise_llm(text);
    } else {
        auto boxed = last_boxed_content(text);
        b.text = boxed && !common::py_strip(*boxed).empty() ? "The answer is $\\boxed{" + *boxed + "}$." : std::string(common::kNotSure);
    }
    b.valid = common::valid_belief(b.text, profile_);
    return b;
}

std::optional<std::string> MathDomain::raw_answer(std::string_view belief) const {
    if (profile_ == common::Profile::Coral) return coral_raw_answer(belief);
    if (!common::valid_belief(belief, profile_)) return std::nullopt;
    if (auto p = parse_answer(belief); p && !p->empty()) return p;
    // No (complete) box: remove the canonical prefix and suffix as strings, not character sets.
    std::string_view s = common::py_strip(belief);
    s = common::remove_prefix(s, "The answer is ");
    s = common::remove_suffix(s, ".");
    if (common::starts_with(s, "$\\boxed{") && s.size() >= 10 && s.substr(s.size() - 2) == "}$") s = s.substr(8, s.size() - 10);
    else if (s.size() >= 2 && s.front() == '$' && s.back() == '$') s = s.substr(1, s.size() - 2);
    return std::string(common::py_strip(s));
}

double MathDomain::score(size_t index, std::string_view belief) {
    const std::string &gold = item(index).gold;
    auto raw = raw_answer(belief);
    if (!raw) return 0.0;
    return grade_answer(*raw, gold) ? 1.0 : 0.0;
}

} // namespace parley::math
