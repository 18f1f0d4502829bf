// A finished evaluation node's output folder, read back: its results.json and its per-sample
// files (CoT: samples_<domain>.jsonl; Coral: records_<domain>.jsonl in Coral's record format,
// read through parley/coral_record.hpp). `parley compare` and `parley report` read runs here.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace parley::core {

struct EvalRun {
    std::filesystem::path dir;
    std::string evaluation;          // config.evaluation: "core/cot_eval", "core/coral_eval"
    bool conversations = false;      // records_<domain>.jsonl (Coral's format) rather than samples
    std::string filter;              // results.json's filter suffix ("none", "rule_extract", ...)
    std::string headline;            // the 0/1 metric runs are compared on
    nlohmann::json results;          // results.json
    std::vector<std::string> domains;
    std::string label() const;       // "<parent>/<node>"
    std::filesystem::path samples_file(const std::string &domain) const;
};

// The evaluation node folders (those holding a results.json) under a graph's output folder, in
// name order; `dir` itself when it holds one.
std::vector<std::filesystem::path> evaluation_dirs(const std::filesystem::path &dir);
// Opens an evaluation node's folder; a graph's folder with one evaluation node opens that node,
// with several it is an error naming them. Throws with the file and field on bad input.
EvalRun open_run(const std::filesystem::path &dir);

// One row of a per-sample file: (domain, id, trial) and the row itself.
struct SampleRow {
    std::string domain, id;
    int64_t trial = 0;
    const nlohmann::json *row = nullptr;
    size_t line = 0;
};
// Every row of a domain's per-sample file, in file order (a line torn by a crash is skipped).
void for_each_row(const EvalRun &run, const std::string &domain, const std::function<void(const SampleRow &)> &fn);

// A row's 0/1 outcome on `metric` (empty: the run's headline): CoT's `correct`, a Coral record's
// metrics.<...-metric> (recomputed from the turns when the record carries none).
std::optional<double> outcome(const EvalRun &run, const nlohmann::json &row, const std::string &metric = "");

} // namespace parley::core
