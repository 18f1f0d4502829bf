// The results module: per-domain estimates, the macro average and its error, one document shape.
#include <parley/core/results.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace parley::core;

TEST_CASE("results: estimates, the macro average over the domains that have a metric", "[results]") {
    const Estimate a = estimate_of({1, 0, 1, 1}); // mean 0.75, sd 0.5, se 0.25
    CHECK(a.mean == 0.75);
    CHECK(a.error == Approx(0.25));
    CHECK(estimate_of({}).mean == 0.0);
    CHECK(estimate_of({1}).error == 0.0);

    Results r("rule_extract");
    r.add("math", "final_success_rate", a);
    r.add("math", "valid_answer_rate", {1.0, 0.0}, /*macro=*/false);
    r.add("gpqa", "final_success_rate", {0.25, 0.1});
    r.add("gpqa", "persuade_rate", {0.5, 0.2}); // only gpqa has it
    r.describe("math", "samples", 10, 4, 1, {{"use", "math/domain"}});
    r.describe("gpqa", "samples", 8, 8, 2, {{"use", "gpqa/domain"}});

    const auto &math = r.domain("math");
    CHECK(math["alias"] == "math");
    CHECK(math["final_success_rate,rule_extract"] == 0.75);
    CHECK(math["valid_answer_rate_stderr,rule_extract"] == 0.0);
    CHECK(math["samples"] == 4);
    CHECK_THROWS(r.domain("nope"));

    auto g = r.macro({"math", "gpqa"});
    CHECK(g["domains"] == nlohmann::json::array({"math", "gpqa"}));
    CHECK(g["final_success_rate,rule_extract"].get<double>() == Approx(0.5));
    CHECK(g["final_success_rate_stderr,rule_extract"].get<double>() == Approx(std::sqrt(0.25 * 0.25 + 0.1 * 0.1) / 2));
    CHECK(g["persuade_rate,rule_extract"] == 0.5);  // over the one domain that has it
    CHECK(g["persuade_rate_stderr,rule_extract"] == 0.2);
    CHECK_FALSE(g.contains("valid_answer_rate,rule_extract"));

    auto doc = r.document({"math", "gpqa"}, {{"evaluation", "core/test"}}, {{"turns", 3}}, 1.5);
    for (const char *k : {"results", "groups", "configs", "versions", "n-samples", "config", "usage",
                          "total_evaluation_time_seconds", "parley_version", "git_hash", "date", "host"})
        CHECK(doc.contains(k));
    CHECK(doc["n-samples"]["math"] == nlohmann::json({{"original", 10}, {"effective", 4}}));
    CHECK(doc["versions"]["gpqa"] == 2);
    CHECK(doc["groups"]["macro_avg"] == g);
}
