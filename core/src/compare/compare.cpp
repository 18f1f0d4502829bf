#include <parley/core/compare.hpp>
#include <parley/core/run_dir.hpp>

#include <fmt/format.h>

#include <iostream>
#include <map>
#include <tuple>

namespace parley::core {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using Key = std::pair<std::string, int64_t>; // (item id, trial)
using Outcomes = std::map<std::string, std::map<Key, double>>; // domain -> key -> 0/1

Outcomes read_outcomes(const EvalRun &run, const std::string &metric) {
    Outcomes out;
    for (auto &domain : run.domains) {
        auto &rows = out[domain];
        for_each_row(run, domain, [&](const SampleRow &s) {
            auto v = outcome(run, *s.row, metric);
            if (!v)
                throw std::runtime_error(fmt::format("{}:{}: no '{}' in this row", run.samples_file(domain).string(), s.line,
                                                     metric.empty() ? run.headline : metric));
            rows[{s.id, s.trial}] = *v; // a resumed run's later line wins, as resume keeps it
        });
    }
    return out;
}

double mean(const std::vector<double> &v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / v.size();
}

json side(const EvalRun &run, const std::string &metric) {
    return {{"dir", run.dir.string()}, {"label", run.label()}, {"evaluation", run.evaluation},
            {"metric", metric.empty() ? run.headline : metric}};
}

// One B against the baseline A.
json compare_pair(const EvalRun &a, const Outcomes &oa, const EvalRun &b, const Outcomes &ob, const CompareOptions &o) {
    json domains = json::object();
    std::vector<std::vector<double>> draws; // per domain: resampled mean differences
    std::vector<double> ma, mb;
    size_t paired_total = 0, a_only_total = 0, b_only_total = 0, unpaired_a_total = 0, unpaired_b_total = 0;
    std::vector<std::string> names;
    for (auto &[d, rows] : oa) names.push_back(d);
    for (auto &[d, rows] : ob)
        if (!oa.count(d)) names.push_back(d);
    for (auto &d : names) {
        static const std::map<Key, double> none;
        const auto &ra = oa.count(d) ? oa.at(d) : none, &rb = ob.count(d) ? ob.at(d) : none;
        std::vector<double> xa, xb;
        size_t unpaired_a = 0, unpaired_b = 0;
        for (auto &[k, v] : ra) {
            auto it = rb.find(k);
            if (it == rb.end()) ++unpaired_a;
            else xa.push_back(v), xb.push_back(it->second);
        }
        for (auto &[k, v] : rb) unpaired_b += !ra.count(k);
        unpaired_a_total += unpaired_a, unpaired_b_total += unpaired_b;
        json r = {{"paired", xa.size()}, {"unpaired_a", unpaired_a}, {"unpaired_b", unpaired_b}};
        if (!xa.empty()) {
            std::vector<double> diff(xa.size());
            for (size_t i = 0; i < xa.size(); ++i) diff[i] = xb[i] - xa[i];
            auto dd = stats::bootstrap_means(diff, 1, o.bootstrap.resamples, stats::seed_for(o.bootstrap, d));
            const auto ci = stats::percentile(dd, o.bootstrap.level);
            const auto m = stats::mcnemar_exact(xa, xb);
            r.update({{"a", mean(xa)}, {"b", mean(xb)}, {"diff", mean(xb) - mean(xa)}, {"ci_lo", ci.lo}, {"ci_hi", ci.hi},
                      {"a_only", m.a_only}, {"b_only", m.b_only}, {"mcnemar_p", m.p}});
            draws.push_back(std::move(dd));
            ma.push_back(mean(xa)), mb.push_back(mean(xb));
            paired_total += xa.size(), a_only_total += m.a_only, b_only_total += m.b_only;
        }
        domains[d] = r;
    }
    json macro = {{"domains", ma.size()}, {"paired", paired_total}, {"unpaired_a", unpaired_a_total}, {"unpaired_b", unpaired_b_total}};
    if (!draws.empty()) {
        std::vector<double> avg(draws.front().size(), 0.0);
        for (auto &dd : draws)
            for (size_t r = 0; r < avg.size(); ++r) avg[r] += dd[r] / draws.size();
        const auto ci = stats::percentile(avg, o.bootstrap.level);
        macro.update({{"a", mean(ma)}, {"b", mean(mb)}, {"diff", mean(mb) - mean(ma)}, {"ci_lo", ci.lo}, {"ci_hi", ci.hi},
                      {"a_only", a_only_total}, {"b_only", b_only_total}, {"mcnemar_p", stats::mcnemar_p(a_only_total, b_only_total)}});
    }
    return {{"a", side(a, o.metric)}, {"b", side(b, o.metric)}, {"domains", domains}, {"macro", macro}};
}

} // namespace

json compare_runs(const CompareOptions &o) {
    if (o.runs.size() < 2) throw std::runtime_error("usage: parley compare RUN_A RUN_B [RUN ...] (two runs at least)");
    std::vector<EvalRun> runs;
    std::vector<Outcomes> outcomes;
    for (auto &dir : o.runs) {
        runs.push_back(open_run(dir));
        outcomes.push_back(read_outcomes(runs.back(), o.metric));
    }
    json doc = {{"baseline", runs.front().dir.string()},
                {"comparisons", json::array()},
                {"statistics",
                 {{"interval", "paired percentile bootstrap of mean(B - A)"}, {"level", o.bootstrap.level},
                  {"resamples", o.bootstrap.resamples}, {"seed", o.bootstrap.seed},
                  {"macro", "mean over the domains both runs have; interval from the domains' resampled differences; "
                            "McNemar on the pooled discordant pairs"}}}};
    for (size_t i = 1; i < runs.size(); ++i) doc["comparisons"].push_back(compare_pair(runs[0], outcomes[0], runs[i], outcomes[i], o));
    return doc;
}

std::string format_comparison(const json &doc) {
    std::string out;
    for (auto &c : doc["comparisons"]) {
        out += fmt::format("A = {} ({}: {})\nB = {} ({}: {})\n", c["a"]["label"].get<std::string>(), c["a"]["evaluation"].get<std::string>(),
                           c["a"]["metric"].get<std::string>(), c["b"]["label"].get<std::string>(),
                           c["b"]["evaluation"].get<std::string>(), c["b"]["metric"].get<std::string>());
        out += fmt::format("{:<16} {:>7} {:>7} {:>7} {:>8}  {:<18} {:>6} {:>6} {:>10} {:>10}\n", "domain", "paired", "A", "B", "B-A",
                           "95% CI (paired)", "A only", "B only", "McNemar p", "unpaired");
        auto row = [&](const std::string &name, const json &r) {
            const std::string unpaired = fmt::format("{}/{}", r["unpaired_a"].get<size_t>(), r["unpaired_b"].get<size_t>());
            if (!r.contains("diff")) {
                out += fmt::format("{:<16} {:>7} {:>7} {:>7} {:>8}  {:<18} {:>6} {:>6} {:>10} {:>10}\n", name, 0, "-", "-", "-", "-", "-",
                                   "-", "-", unpaired);
                return;
            }
            out += fmt::format("{:<16} {:>7} {:>7.3f} {:>7.3f} {:>+8.3f}  {:<18} {:>6} {:>6} {:>10.4g} {:>10}\n", name,
                               r["paired"].get<size_t>(), r["a"].get<double>(), r["b"].get<double>(), r["diff"].get<double>(),
                               fmt::format("[{:+.3f}, {:+.3f}]", r["ci_lo"].get<double>(), r["ci_hi"].get<double>()),
                               r["a_only"].get<size_t>(), r["b_only"].get<size_t>(), r["mcnemar_p"].get<double>(), unpaired);
        };
        for (auto &[name, r] : c["domains"].items()) row(name, r);
        row("macro", c["macro"]);
        out += "\n";
    }
    out += fmt::format("{} resamples, seed {}; unpaired = (domain, item, trial) in A only / in B only\n",
                       doc["statistics"]["resamples"].get<size_t>(), doc["statistics"]["seed"].get<uint64_t>());
    return out;
}

int run_compare(const CompareOptions &o) {
    const json doc = compare_runs(o);
    // Refused before anything is printed as a result: an unpaired comparison mixes item sets.
    for (auto &c : doc["comparisons"]) {
        const json &m = c["macro"];
        const size_t unpaired = m["unpaired_a"].get<size_t>() + m["unpaired_b"].get<size_t>();
        if (!unpaired || o.allow_unpaired) continue;
        std::string where;
        for (auto &[d, r] : c["domains"].items())
            if (r["unpaired_a"].get<size_t>() + r["unpaired_b"].get<size_t>())
                where += fmt::format("\n  {}: {} in A only, {} in B only, {} paired", d, r["unpaired_a"].get<size_t>(),
                                     r["unpaired_b"].get<size_t>(), r["paired"].get<size_t>());
        std::cerr << fmt::format("parley compare: {} (domain, item, trial) of {} vs {} are in one run only; refusing an "
                                 "unpaired comparison (--allow-unpaired compares the {} shared ones):{}\n",
                                 unpaired, c["a"]["label"].get<std::string>(), c["b"]["label"].get<std::string>(),
                                 m["paired"].get<size_t>(), where);
        return 2;
    }
    if (o.json) std::cout << doc.dump(2) << "\n";
    else std::cout << format_comparison(doc);
    int status = 0;
    for (auto &c : doc["comparisons"]) {
        const json &m = c["macro"];
        if (m.contains("diff") && o.fail_if_worse && m["diff"].get<double>() < -*o.fail_if_worse) {
            std::cerr << fmt::format("parley compare: {} is worse than {} by {:.4f} (macro), more than --fail-if-worse {}\n",
                                     c["b"]["label"].get<std::string>(), c["a"]["label"].get<std::string>(),
                                     -m["diff"].get<double>(), *o.fail_if_worse);
            status = 1;
        }
    }
    return status;
}

} // namespace parley::core
