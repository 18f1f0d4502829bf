// Statistics (#16): bootstrap intervals, McNemar, pass@k / maj@k / consistency, and their place in
// results.json through Results::add_samples.
#include <parley/core/coral_metrics.hpp>
#include <parley/core/results.hpp>
#include <parley/core/stats.hpp>

#include <catch2/catch.hpp>

using namespace parley::core;
namespace st = parley::core::stats;

TEST_CASE("stats: pass@k is Chen et al.'s unbiased estimator", "[stats]") {
    CHECK(st::pass_at_k(5, 2, 1) == Approx(0.4));
    CHECK(st::pass_at_k(5, 2, 2) == Approx(1.0 - 3.0 / 10.0)); // 1 - C(3,2)/C(5,2)
    CHECK(st::pass_at_k(5, 0, 3) == 0.0);
    CHECK(st::pass_at_k(5, 3, 3) == 1.0); // fewer than k wrong samples
    CHECK(st::pass_at_k(10, 1, 10) == 1.0);
    CHECK_THROWS(st::pass_at_k(2, 1, 3));
    CHECK(st::pass_ks(1) == std::vector<size_t>{1});
    CHECK(st::pass_ks(5) == std::vector<size_t>{1, 2, 4, 5});
    CHECK(st::pass_ks(4) == std::vector<size_t>{1, 2, 4});
    // Items of 2 trials: {1,0} {0,0} {1,1}
    CHECK(st::pass_at_k_per_item({1, 0, 0, 0, 1, 1}, 2, 2) == std::vector<double>{1, 0, 1});
    CHECK(st::consistency_per_item({1, 0, 0, 0, 1, 1}, 2) == std::vector<double>{0, 1, 1});
    CHECK_THROWS(st::consistency_per_item({1, 0, 1}, 2));
}

TEST_CASE("stats: maj@k votes over the trials' answers, ties to the first given", "[stats]") {
    // A A B -> A (wrong); B A -> tie, B first (right); "" "" -> no answer (wrong); "" C -> C
    CHECK(st::majority_per_item({"A", "B", "A"}, {0, 1, 0}, 3) == std::vector<double>{0});
    CHECK(st::majority_per_item({"B", "A"}, {1, 0}, 2) == std::vector<double>{1});
    CHECK(st::majority_per_item({"", ""}, {0, 0}, 2) == std::vector<double>{0});
    CHECK(st::majority_per_item({"", "C"}, {0, 1}, 2) == std::vector<double>{1});
}

TEST_CASE("stats: exact McNemar equals the two-sided binomial test", "[stats]") {
    CHECK(st::mcnemar_p(0, 0) == 1.0);
    CHECK(st::mcnemar_p(1, 9) == Approx(2.0 * 11.0 / 1024.0)); // scipy.stats.binomtest(1, 10).pvalue
    CHECK(st::mcnemar_p(9, 1) == Approx(2.0 * 11.0 / 1024.0));
    CHECK(st::mcnemar_p(5, 5) == 1.0);
    CHECK(st::mcnemar_p(0, 30) < 1e-8);
    const auto m = st::mcnemar_exact({1, 1, 0, 0, 1}, {1, 0, 1, 1, 1});
    CHECK(m.a_only == 1);
    CHECK(m.b_only == 2);
    CHECK(m.p == 1.0);
}

TEST_CASE("stats: the bootstrap is seeded, covers the mean and resamples items whole", "[stats]") {
    std::vector<double> v;
    for (int i = 0; i < 400; ++i) v.push_back(i % 2);
    const st::Bootstrap spec{1000, 7, 0.95};
    const auto a = st::bootstrap_ci(v, 1, spec, "x"), b = st::bootstrap_ci(v, 1, spec, "x");
    CHECK(a.lo == b.lo);
    CHECK(a.hi == b.hi);
    CHECK(a.lo < 0.5);
    CHECK(a.hi > 0.5);
    CHECK(a.hi - a.lo == Approx(2 * 1.96 * 0.025).margin(0.015)); // normal approximation: se = 0.025
    const auto other = st::bootstrap_ci(v, 1, spec, "y");
    CHECK((other.lo != a.lo || other.hi != a.hi)); // each key has its own stream
    const auto constant = st::bootstrap_ci(std::vector<double>(50, 1.0), 1, spec, "c");
    CHECK(constant.lo == 1.0);
    CHECK(constant.hi == 1.0);
    // Clusters of two identical trials: twice the samples, no narrower interval.
    std::vector<double> twice;
    for (double x : v) twice.insert(twice.end(), {x, x});
    const auto clustered = st::bootstrap_ci(twice, 2, spec, "x");
    CHECK(clustered.hi - clustered.lo == Approx(a.hi - a.lo).margin(0.01));
    CHECK_THROWS(st::bootstrap_means({1, 0, 1}, 2, 10, 1));
    // Paired: b = a + 1 everywhere, the difference is exactly 1.
    const auto d = st::paired_bootstrap_ci({0, 1, 0}, {1, 2, 1}, spec, "d");
    CHECK(d.lo == 1.0);
    CHECK(d.hi == 1.0);
}

TEST_CASE("results: add_samples writes intervals; with trials, pass@k, consistency and maj@k", "[results][stats]") {
    Results r("none", st::Bootstrap{200, 11, 0.95});
    r.trials(2);
    // Items of two trials: {1,1} {1,0} {0,0} {1,1}
    const std::vector<double> correct = {1, 1, 1, 0, 0, 0, 1, 1};
    r.add_samples("math", "agreement_correctness", correct);
    r.add_votes("math", "agreement_correctness", {"4", "4", "2", "3", "", "", "x", "y"}, correct);
    r.add_samples("gpqa", "agreement_correctness", {0, 0, 1, 1});
    r.add_samples("gpqa", "persuade_rate", {0.25, 0.5, 0.0, 0.5}); // not 0/1: no pass@k
    const auto &m = r.domain("math");
    CHECK(m["agreement_correctness,none"] == 0.625);
    CHECK(m["agreement_correctness_ci_lo,none"].get<double>() <= 0.625);
    CHECK(m["agreement_correctness_ci_hi,none"].get<double>() >= 0.625);
    CHECK(m["agreement_correctness_pass@1,none"].get<double>() == Approx(0.625));
    CHECK(m["agreement_correctness_pass@2,none"].get<double>() == Approx(0.75));
    CHECK(m["agreement_correctness_consistency,none"].get<double>() == Approx(0.75));
    CHECK(m["agreement_correctness_maj@2,none"].get<double>() == Approx(0.75)); // 4, 2 (tie: first), none, x
    CHECK(m.contains("agreement_correctness_maj@2_ci_lo,none"));
    CHECK_FALSE(r.domain("gpqa").contains("persuade_rate_pass@1,none"));
    const auto g = r.macro({"math", "gpqa"});
    CHECK(g["agreement_correctness,none"].get<double>() == Approx((0.625 + 0.5) / 2));
    CHECK(g["agreement_correctness_ci_lo,none"].get<double>() <= g["agreement_correctness,none"].get<double>());
    CHECK(g["agreement_correctness_ci_hi,none"].get<double>() >= g["agreement_correctness,none"].get<double>());
    CHECK(g.contains("persuade_rate_ci_lo,none")); // the one domain that has it gave its samples
    const auto doc = r.document({"math", "gpqa"}, {}, {}, 0);
    CHECK(doc["statistics"]["resamples"] == 200);
    CHECK(doc["statistics"]["seed"] == 11);
    CHECK(doc["statistics"]["trials"] == 2);
    // The same samples give the same document (seeded).
    Results again("none", st::Bootstrap{200, 11, 0.95});
    again.trials(2);
    again.add_samples("math", "agreement_correctness", correct);
    CHECK(again.domain("math")["agreement_correctness_ci_lo,none"] == m["agreement_correctness_ci_lo,none"]);
}

TEST_CASE("coral metrics: the accumulator keeps each conversation's value when asked", "[stats][coral_metrics]") {
    MetricsAccumulator keep(true), plain;
    for (double v : {1.0, 0.0, 1.0}) {
        keep.add(nlohmann::json{{"x-agreement", v == 1.0}, {"t_len", nullptr}});
        plain.add(nlohmann::json{{"x-agreement", v == 1.0}});
    }
    CHECK(keep.values("x-agreement") == std::vector<double>{1, 0, 1});
    CHECK(keep.values("t_len").empty()); // unknown values are not kept
    CHECK(plain.values("x-agreement").empty());
    CHECK(keep.mean("x-agreement") == Approx(2.0 / 3));
}
