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
    }
    return g;
}

json Results::document(const std::vector<std::string> &domains, json config, json usage, double elapsed_s) const {
    json doc = {{"results", results_},
                {"groups", {{"macro_avg", macro(domains)}}},
                {"configs", configs_},
                {"versions", versions_},
                {"n-samples", n_samples_},
                {"config", std::move(config)},
                {"usage", std::move(usage)},
                {"total_evaluation_time_seconds", elapsed_s}};
    doc.update(provenance());
    return doc;
}

} // namespace parley::core
