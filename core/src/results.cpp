#include <parley/core/records.hpp>
#include <parley/core/results.hpp>

#include <cmath>
#include <stdexcept>

namespace parley::core {

using json = nlohmann::json;

Estimate estimate_of(const std::vector<double> &values) {
    double sum = 0;
    for (double x : values) sum += x;
    return {values.empty() ? 0.0 : sum / values.size(), mean_stderr(values)};
}

Estimate macro_average(const std::vector<Estimate> &domains) {
    if (domains.empty()) return {};
    double m = 0, se2 = 0;
    for (const Estimate &e : domains) {
        m += e.mean;
        se2 += e.error * e.error;
    }
    const double k = static_cast<double>(domains.size());
    return {m / k, std::sqrt(se2) / k};
}

void Results::add(const std::string &domain, const std::string &metric, Estimate e, bool macro) {
    json &r = results_[domain];
    r["alias"] = domain;
    r[key(metric)] = e.mean;
    r[key(metric + "_stderr")] = e.error;
    if (macro) macro_[metric].push_back(e);
}

void Results::add_with_interval(const std::string &domain, const std::string &metric, const std::vector<double> &values,
                                size_t cluster, bool macro) {
    add(domain, metric, estimate_of(values), macro);
    if (values.empty()) return;
    std::vector<double> draws =
        stats::bootstrap_means(values, cluster, bootstrap_.resamples, stats::seed_for(bootstrap_, domain + "\x1f" + metric));
    const stats::Interval ci = stats::percentile(draws, bootstrap_.level);
    json &r = results_[domain];
    r[key(metric + "_ci_lo")] = ci.lo;
    r[key(metric + "_ci_hi")] = ci.hi;
    if (macro) draws_[metric].push_back(std::move(draws));
}

void Results::add_samples(const std::string &domain, const std::string &metric, const std::vector<double> &values, bool macro) {
    // Trials of an item are resampled together (they are not independent); a count that is not
    // items x trials (a partial run) falls back to independent samples.
    const size_t k = trials_ > 1 && values.size() % trials_ == 0 ? trials_ : 1;
    add_with_interval(domain, metric, values, k, macro);
    if (k == 1 || values.empty()) return;
    for (double v : values)
        if (v != 0.0 && v != 1.0) return; // pass@k and consistency are for 0/1 outcomes
    for (size_t j : stats::pass_ks(k))
        add_with_interval(domain, metric + "_pass@" + std::to_string(j), stats::pass_at_k_per_item(values, k, j), 1, macro);
    add_with_interval(domain, metric + "_consistency", stats::consistency_per_item(values, k), 1, macro);
}

void Results::add_votes(const std::string &domain, const std::string &metric, const std::vector<std::string> &answers,
                        const std::vector<double> &correct, bool macro) {
    if (trials_ < 2 || answers.empty() || answers.size() % trials_ != 0) return;
    add_with_interval(domain, metric + "_maj@" + std::to_string(trials_), stats::majority_per_item(answers, correct, trials_), 1,
                      macro);
}

void Results::describe(const std::string &domain, const std::string &count_key, size_t original, size_t effective,
                       int64_t version, json config) {
    json &r = results_[domain];
    r["alias"] = domain;
    r[count_key] = effective;
    n_samples_[domain] = {{"original", original}, {"effective", effective}};
    versions_[domain] = version;
    configs_[domain] = std::move(config);
}

const json &Results::domain(const std::string &name) const {
    auto it = results_.find(name);
    if (it == results_.end()) throw std::out_of_range("results: no domain '" + name + "'");
    return *it;
}

json Results::macro(const std::vector<std::string> &domains) const {
    json g = {{"alias", "macro average over domains"}, {"domains", domains}};
    for (auto &[metric, estimates] : macro_) {
        const Estimate e = macro_average(estimates);
        g[key(metric)] = e.mean;
        g[key(metric + "_stderr")] = e.error;
        // An interval when every domain in the average gave its samples: the mean of the
        // domains' resampled means, draw by draw (independent domains).
        auto d = draws_.find(metric);
        if (d == draws_.end() || d->second.size() != estimates.size()) continue;
        std::vector<double> mean(d->second.front().size(), 0.0);
        for (auto &domain_draws : d->second)
            for (size_t r = 0; r < mean.size(); ++r) mean[r] += domain_draws[r] / static_cast<double>(d->second.size());
        const stats::Interval ci = stats::percentile(std::move(mean), bootstrap_.level);
        g[key(metric + "_ci_lo")] = ci.lo;
        g[key(metric + "_ci_hi")] = ci.hi;
    }
    return g;
}

json Results::statistics() const {
    return {{"interval", "percentile bootstrap"},
            {"level", bootstrap_.level},
            {"resamples", bootstrap_.resamples},
            {"seed", bootstrap_.seed},
            {"seed_per_metric", "seed ^ fnv1a(domain + '\\x1f' + metric)"},
            {"unit", trials_ > 1 ? "item (its trials resampled together)" : "sample"},
            {"trials", trials_}};
}

json Results::document(const std::vector<std::string> &domains, json config, json usage, double elapsed_s) const {
    json doc = {{"results", results_},
                {"groups", {{"macro_avg", macro(domains)}}},
                {"configs", configs_},
                {"versions", versions_},
                {"n-samples", n_samples_},
                {"config", std::move(config)},
                {"usage", std::move(usage)},
                {"total_evaluation_time_seconds", elapsed_s},
                {"statistics", statistics()}};
    doc.update(provenance());
    return doc;
}

} // namespace parley::core
