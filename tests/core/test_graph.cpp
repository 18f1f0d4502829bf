#include "graph_test_util.hpp"

#include <parley/core/graph.hpp>
#include <parley/core/plugin_loader.hpp>
#include <parley/core/run.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

namespace core = parley::core;
namespace fs = std::filesystem;

namespace {

using graph_test::problems_of;

struct TempDir : graph_test::TempDir {
    TempDir() : graph_test::TempDir("graph") {}
};

bool any_contains(const std::vector<std::string> &v, const std::string &needle) {
    for (auto &s : v)
        if (s.find(needle) != std::string::npos) return true;
    return false;
}

const char *kValid = R"([graph]
name = "t"

[nodes.questions]
use = "fixture_good/domain"
data = "data.jsonl"
profile = "coral"

[nodes.eval]
use = "core/cot_eval"
inputs = { domains = ["questions"], backend = "questions" }
)";

} // namespace

TEST_CASE("a misspelt key fails with file:line:column and a suggestion", "[graph]") {
    TempDir d;
    d.write("data.jsonl", "");
    auto f = d.write("g.toml", R"([graph]
name = "t"

[nodes.questions]
use = "fixture_good/domain"
data = "data.jsonl"
profle = "coral"
)");
    auto p = problems_of(f);
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("g.toml:7:1: nodes.questions.profle: unknown key for fixture_good/domain (did you mean 'profile'?)") !=
          std::string::npos);
}

TEST_CASE("every problem is reported, before anything runs", "[graph]") {
    TempDir d;
    auto f = d.write("g.toml", R"([graph]
nmae = "t"

[nodes.questions]
use = "fixture_good/domian"

[nodes.eval]
use = "core/cot_evl"
)");
    auto p = problems_of(f);
    CHECK(any_contains(p, "g.toml:2:1: graph.nmae: unknown key (did you mean 'name'?)"));
    // parse errors stop before schema checks; fix them and the next layer shows
    auto f2 = d.write("g2.toml", R"([nodes.questions]
use = "fixture_good/domian"

[nodes.eval]
use = "core/cot_evl"
)");
    p = problems_of(f2);
    CHECK(any_contains(p, "g2.toml:2:7: nodes.questions.use: plugin 'fixture_good' has no component 'domian' (did you mean 'fixture_good/domain'?)"));
    CHECK(any_contains(p, "g2.toml:5:7: nodes.eval.use: core has no node 'cot_evl' (did you mean 'core/cot_eval'?)"));
}

TEST_CASE("a missing data file names the key and how to set it", "[graph]") {
    TempDir d;
    auto f = d.write("g.toml", kValid);
    auto p = problems_of(f);
    REQUIRE(any_contains(p, "g.toml:6:1: nodes.questions.data: file not found: "));
    CHECK(any_contains(p, "nodes.questions.data=PATH"));
}

TEST_CASE("inputs must name existing nodes of the right kind", "[graph]") {
    TempDir d;
    d.write("data.jsonl", "");
    auto f = d.write("g.toml", kValid);
    auto p = problems_of(f);
    CHECK(any_contains(p, "input 'backend' needs a backend node, but 'questions' is a domain"));
    auto f2 = d.write("g2.toml", std::string(kValid) + "\n[nodes.other]\nuse = \"core/cot_eval\"\ninputs = { domains = [\"qestions\"], backend = \"questions\" }\n");
    p = problems_of(f2);
    CHECK(any_contains(p, "no node named 'qestions' (did you mean 'questions'?)"));
}

TEST_CASE("type mismatches and unknown plugins are reported", "[graph]") {
    TempDir d;
    d.write("data.jsonl", "");
    auto f = d.write("g.toml", R"([nodes.questions]
use = "fixture_good/domain"
data = "data.jsonl"
limit = "ten"

[nodes.m]
use = "no_such_plugin/backend"
)");
    auto p = problems_of(f);
    CHECK(any_contains(p, "g.toml:4:1: nodes.questions.limit: expected integer"));
    CHECK(any_contains(p, "g.toml:7:7: nodes.m.use: no plugin 'no_such_plugin'"));
}

TEST_CASE("a plugin that fails to load is reported where the graph uses it", "[graph]") {
    TempDir d;
    auto f = d.write("g.toml", "[nodes.x]\nuse = \"fixture_newer_major/domain\"\n");
    auto p = problems_of(f);
    CHECK(any_contains(p, "plugin 'fixture_newer_major' could not be loaded: built for ABI 2.0"));
}

TEST_CASE("command-line overrides replace values and are checked too", "[graph]") {
    TempDir d;
    d.write("data.jsonl", "");
    d.write("other.jsonl", "");
    auto f = d.write("g.toml", "[nodes.questions]\nuse = \"fixture_good/domain\"\ndata = \"missing.jsonl\"\n");
    CHECK(!problems_of(f).empty());
    CHECK(problems_of(f, {"nodes.questions.data=other.jsonl"}).empty());
    auto p = problems_of(f, {"nodes.questions.data=other.jsonl", "nodes.questions.limit=x"});
    CHECK(any_contains(p, "command line: nodes.questions.limit: expected integer"));
    p = problems_of(f, {"nodes.questoins.data=x"});
    CHECK(any_contains(p, "there is no node 'questoins'"));
    auto g = core::parse_graph(f, {"nodes.questions.limit=5", "graph.name=renamed"});
    CHECK(g.name == "renamed");
    CHECK(g.find("questions")->config["limit"].value_or(int64_t{0}) == 5);
}

TEST_CASE("environment variables expand in strings", "[graph]") {
    TempDir d;
    ::setenv("PARLEY_TEST_DATA_DIR", d.path.c_str(), 1);
    d.write("data.jsonl", "");
    auto f = d.write("g.toml", "[nodes.q]\nuse = \"fixture_good/domain\"\ndata = \"${PARLEY_TEST_DATA_DIR}/data.jsonl\"\n"
                               "profile = \"${PARLEY_TEST_UNSET_VAR:-fallback}\"\n");
    auto g = core::parse_graph(f);
    CHECK(g.find("q")->config["data"].value_or(std::string()) == (d.path / "data.jsonl").string());
    CHECK(g.find("q")->config["profile"].value_or(std::string()) == "fallback");
}

TEST_CASE("syntax errors point at the line", "[graph]") {
    TempDir d;
    auto f = d.write("g.toml", "[nodes.q]\nuse = \"a/b\"\ndata = \n");
    auto p = problems_of(f);
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("g.toml:3:") != std::string::npos);
}

TEST_CASE("cycles are refused", "[graph]") {
    core::Graph g;
    g.file = "/x/g.toml";
    core::NodeSpec a, b;
    a.name = "a";
    b.name = "b";
    a.inputs["x"] = {"b"};
    b.inputs["x"] = {"a"};
    g.nodes = {a, b};
    CHECK_THROWS_WITH(core::topological_order(g), Catch::Contains("cycle"));
}

TEST_CASE("did-you-mean only suggests near words", "[graph]") {
    CHECK(core::did_you_mean("modle", {"model", "seed"}) == std::optional<std::string>("model"));
    CHECK_FALSE(core::did_you_mean("temperature", {"model", "seed"}).has_value());
}
