#include <parley/core/agreement.hpp>
#include <parley/core/coral_metrics.hpp>
#include <parley/core/run_dir.hpp>
#include <parley/coral_record.hpp>

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>

namespace parley::core {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string EvalRun::label() const {
    const fs::path d = fs::weakly_canonical(dir);
    return d.parent_path().filename().string() + "/" + d.filename().string();
}

fs::path EvalRun::samples_file(const std::string &domain) const {
    return dir / fmt::format("{}_{}.jsonl", conversations ? "records" : "samples", domain);
}

std::vector<fs::path> evaluation_dirs(const fs::path &dir) {
    if (fs::exists(dir / "results.json")) return {dir};
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (auto &e : fs::directory_iterator(dir))
        if (e.is_directory() && fs::exists(e.path() / "results.json")) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

EvalRun open_run(const fs::path &given) {
    if (!fs::is_directory(given)) throw std::runtime_error(fmt::format("{}: no such folder", given.string()));
    const auto dirs = evaluation_dirs(given);
    if (dirs.empty()) throw std::runtime_error(fmt::format("{}: no results.json here nor in a folder below", given.string()));
    if (dirs.size() > 1) {
        std::string names;
        for (auto &d : dirs) names += "\n  " + d.string();
        throw std::runtime_error(fmt::format("{} holds {} evaluations; name one:{}", given.string(), dirs.size(), names));
    }
    EvalRun run;
    run.dir = dirs.front();
    const fs::path file = run.dir / "results.json";
    std::ifstream in(file);
    try {
        run.results = json::parse(in);
    } catch (const json::exception &e) {
        throw std::runtime_error(fmt::format("{}: not JSON ({})", file.string(), e.what()));
    }
    if (!run.results.contains("results") || !run.results["results"].is_object())
        throw std::runtime_error(fmt::format("{}: field 'results' is missing", file.string()));
    run.evaluation = run.results.value("/config/evaluation"_json_pointer, std::string());
    for (auto &[domain, r] : run.results["results"].items()) run.domains.push_back(domain);
    // The protocol by what it wrote: conversation records or samples.
    run.conversations = run.evaluation == "core/coral_eval";
    if (run.evaluation.empty() && !run.domains.empty())
        run.conversations = fs::exists(run.dir / fmt::format("records_{}.jsonl", run.domains.front()));
    run.headline = run.conversations ? "agreement_correctness" : "final_success_rate";
    run.filter = "none";
    if (!run.domains.empty())
        for (auto &[key, v] : run.results["results"][run.domains.front()].items())
            if (key.rfind(run.headline + ",", 0) == 0) run.filter = key.substr(run.headline.size() + 1);
    return run;
}

void for_each_row(const EvalRun &run, const std::string &domain, const std::function<void(const SampleRow &)> &fn) {
    const fs::path file = run.samples_file(domain);
    std::ifstream in(file);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot read (was the run made with records = false?)", file.string()));
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json row = json::parse(line, nullptr, false);
        if (row.is_discarded()) continue; // a line torn by a crash (resume drops it too)
        const json &keys = run.conversations ? coral_record::field(row, "parley") : row;
        const std::string *id = coral_record::string_of(coral_record::field(keys, "id"));
        if (!id)
            throw std::runtime_error(fmt::format("{}:{}: field '{}id' is missing (rows are paired by domain, id and trial)",
                                                 file.string(), line_no, run.conversations ? "parley." : ""));
        SampleRow s;
        s.domain = domain;
        s.id = *id;
        s.trial = coral_record::number(coral_record::field(keys, "trial")).value_or(0.0);
        s.row = &row;
        s.line = line_no;
        fn(s);
    }
}

std::optional<double> outcome(const EvalRun &run, const json &row, const std::string &metric_name) {
    const std::string metric = metric_name.empty() ? run.headline : metric_name;
    if (!run.conversations) {
        const std::string key = metric == "final_success_rate" ? "correct" : metric;
        const json &v = coral_record::field(row, key.c_str());
        return coral_record::number(v);
    }
    if (const json *m = coral_record::find_metric(row, metric)) return coral_record::number(*m);
    const json &p = coral_record::field(row, "parley");
    const int max_turns = static_cast<int>(coral_record::number(coral_record::field(p, "max_turns")).value_or(20));
    const auto profile = parse_profile(run.results.value("/config/profile"_json_pointer, std::string("coral")));
    const json metrics = conversation_metrics(row, max_turns, profile);
    for (auto &[k, v] : metrics.items())
        if (k == metric || (k.size() > metric.size() && k.compare(k.size() - metric.size() - 1, std::string::npos, "-" + metric) == 0))
            return coral_record::number(v);
    return std::nullopt;
}

} // namespace parley::core
