// One results.json shape for every evaluation node (lm-evaluation-harness style):
//   {"results":   {<domain>: {"alias": <domain>, "<metric>,<filter>": mean,
//                             "<metric>_stderr,<filter>": standard error, <count key>: n}},
//    "groups":    {"macro_avg": {"alias": "macro average over domains", "domains": [...],
//                                "<metric>,<filter>": mean of the domains' means,
//                                "<metric>_stderr,<filter>": sqrt(sum of their squared errors) / k}},
//    "configs":   {<domain>: {"use", "plugin", ..., "config"}},
//    "versions":  {<domain>: component version},
//    "n-samples": {<domain>: {"original", "effective"}},
//    "config": {...the evaluation's own...}, "usage": {...},
//    "total_evaluation_time_seconds": s, "parley_version", "git_hash", "date", "host",
//    "statistics": {"interval", "level", "resamples", "seed", "unit", "trials"}}
// A metric given by its samples (add_samples) also gets "<metric>_ci_lo,<filter>" and
// "<metric>_ci_hi,<filter>": a seeded percentile-bootstrap interval (items resampled with their
// trials; the macro interval from the domains' resampled means averaged). With trials > 1, a
// 0/1 metric also gets "<metric>_pass@<k>" (Chen et al.'s unbiased estimator, k = 1, 2, 4, ...,
// trials) and "<metric>_consistency" (share of items whose trials all agree), add_votes()
// "<metric>_maj@<trials>"; each with its error and interval, per item.
// An evaluation adds each domain's estimates and description; the module does the macro
// arithmetic and the provenance. `filter` is lm-eval's filter name: "none" (Coral),
// "rule_extract" or "llm_extract" (CoT).
#pragma once

#include <parley/core/stats.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace parley::core {

// A mean and its standard error (`stderr` is a macro).
struct Estimate {
    double mean = 0, error = 0;
};

// lm-eval's estimate of a mean over samples (records.hpp: mean_stderr).
Estimate estimate_of(const std::vector<double> &values);

// Mean of k domain means, its error sqrt(sum se^2) / k (independent domains); {0, 0} when empty.
Estimate macro_average(const std::vector<Estimate> &domains);

class Results {
  public:
    explicit Results(std::string filter, stats::Bootstrap bootstrap = {})
        : filter_(std::move(filter)), bootstrap_(bootstrap) {}

    // Samples given to add_samples() come as items of `k` consecutive trials (the work plan's
    // order); 1 by default.
    void trials(size_t k) { trials_ = k ? k : 1; }

    // A domain's metric; `macro` enters it into groups.macro_avg (over the domains that have it).
    void add(const std::string &domain, const std::string &metric, Estimate e, bool macro = true);
    // The same from its per-sample values (one per item and trial, in the work plan's order):
    // evaluation nodes call this, so that statistics needing the samples (intervals, #16) are
    // computed here, in one place.
    void add_samples(const std::string &domain, const std::string &metric, const std::vector<double> &values,
                     bool macro = true);
    // maj@k of a metric (trials > 1): each sample's answer (empty: none) and its 0/1 outcome.
    void add_votes(const std::string &domain, const std::string &metric, const std::vector<std::string> &answers,
                   const std::vector<double> &correct, bool macro = true);
    // A domain's count ("samples", "conversations"), its n-samples, version and configs entry.
    void describe(const std::string &domain, const std::string &count_key, size_t original, size_t effective,
                  int64_t version, nlohmann::json config);

    const nlohmann::json &domain(const std::string &name) const; // results.<name>
    nlohmann::json macro(const std::vector<std::string> &domains) const;
    // The whole document: `config` and `usage` are the evaluation's own; provenance is added.
    nlohmann::json document(const std::vector<std::string> &domains, nlohmann::json config, nlohmann::json usage,
                            double elapsed_s) const;

  private:
    std::string key(const std::string &metric) const { return metric + "," + filter_; }
    // mean, error and interval of per-unit values (clusters of `cluster` values per item)
    void add_with_interval(const std::string &domain, const std::string &metric, const std::vector<double> &values,
                           size_t cluster, bool macro);
    nlohmann::json statistics() const;
    std::string filter_;
    stats::Bootstrap bootstrap_;
    size_t trials_ = 1;
    std::map<std::string, std::vector<std::vector<double>>> draws_; // metric -> its macro domains' resampled means
    nlohmann::json results_ = nlohmann::json::object(), configs_ = nlohmann::json::object();
    nlohmann::json versions_ = nlohmann::json::object(), n_samples_ = nlohmann::json::object();
    std::map<std::string, std::vector<Estimate>> macro_; // metric -> its domains' estimates
};

} // namespace parley::core
