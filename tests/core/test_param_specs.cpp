// Parameter specs (ABI 1.4): choices, ranges and typed defaults, checked by `validate_graph`
// before any component instance exists, with file:line:column, the allowed values and a
// did-you-mean; defaults the host applies; a 1.2 plugin's parameters read with the old stride.
#include "graph_test_util.hpp"

#include <parley/core/graph.hpp>
#include <parley/core/plugin_loader.hpp>
#include <parley/core/run.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <unistd.h>

namespace core = parley::core;
namespace fs = std::filesystem;

namespace {

using graph_test::problems_of;

struct TempDir : graph_test::TempDir {
    TempDir() : graph_test::TempDir("specs") {}
};

// A Coral node over the fixture_specs backend; `extra` goes into the coral node (line 12 on).
std::string coral_graph(const std::string &extra, const std::string &backend_extra = "") {
    return "[graph]\nname = \"t\"\n\n[nodes.questions]\nuse = \"fixture_good/domain\"\ndata = \"data.jsonl\"\n\n"
           "[nodes.coral]\nuse = \"core/coral_eval\"\ninputs = { domains = [\"questions\"], teacher = \"model\" }\n" +
           extra + "\n[nodes.model]\nuse = \"fixture_specs/backend\"\nmarker = \"m.txt\"\n" + backend_extra;
}

const core::ComponentSchema &schema_of(core::PluginLoader &loader, const std::string &plugin, const std::string &component) {
    static std::vector<std::unique_ptr<core::ComponentSchema>> keep;
    const core::LoadedPlugin *p = loader.load(plugin);
    REQUIRE(p);
    const parley_component *c = p->find(component);
    REQUIRE(c);
    keep.push_back(std::make_unique<core::ComponentSchema>(core::schema_of(*p, *c)));
    return *keep.back();
}

} // namespace

TEST_CASE("a value that is not one of a core node's choices fails at its file:line:column with a did-you-mean", "[graph][specs]") {
    TempDir d;
    d.write("data.jsonl", "");
    auto p = problems_of(d.write("graph.toml", coral_graph("\nextraction = \"LLM\"\n")));
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("graph.toml:12:14: nodes.coral.extraction: \"LLM\" is not one of \"rule\", \"llm\" (did you mean \"llm\"?)") !=
          std::string::npos);
}

TEST_CASE("a value out of a core node's range fails at its file:line:column with the range", "[graph][specs]") {
    TempDir d;
    d.write("data.jsonl", "");
    auto p = problems_of(d.write("graph.toml", coral_graph("\nmax_turns = -3\nbeam = 256\ntop_p = 1.5\n")));
    REQUIRE(p.size() == 3); // (keys in a node's table come in alphabetical order)
    CHECK(p[0].find("graph.toml:13:8: nodes.coral.beam: 256 is out of range [1, 255]") != std::string::npos);
    CHECK(p[1].find("graph.toml:12:13: nodes.coral.max_turns: -3 is out of range [1, ...]") != std::string::npos);
    CHECK(p[2].find("graph.toml:14:9: nodes.coral.top_p: 1.5 is out of range [0, 1]") != std::string::npos);
    // The same from the command line.
    auto q = problems_of(d.path / "graph.toml", {"nodes.coral.max_turns=0", "nodes.coral.beam=3", "nodes.coral.top_p=0.5"});
    REQUIRE(q.size() == 1);
    CHECK(q[0] == "command line: nodes.coral.max_turns: 0 is out of range [1, ...]");
}

TEST_CASE("a plugin's 1.4 specs: choices with a did-you-mean, ranges, and the values in range pass", "[graph][specs]") {
    TempDir d;
    d.write("data.jsonl", "");
    auto p = problems_of(d.write("graph.toml", coral_graph("", "mode = \"Exact\"\nslots = 100\n")));
    REQUIRE(p.size() == 2);
    CHECK(p[0].find("graph.toml:15:8: nodes.model.mode: \"Exact\" is not one of \"fast\", \"exact\" (did you mean \"exact\"?)") !=
          std::string::npos);
    CHECK(p[1].find("graph.toml:16:9: nodes.model.slots: 100 is out of range [1, 64]") != std::string::npos);
    CHECK(problems_of(d.path / "graph.toml", {"nodes.model.mode=fast", "nodes.model.slots=64"}).empty());
    // A choice nowhere near any allowed value gets the list and no guess.
    auto far = problems_of(d.path / "graph.toml", {"nodes.model.mode=quantum", "nodes.model.slots=1"});
    REQUIRE(far.size() == 1);
    CHECK(far[0] == "command line: nodes.model.mode: \"quantum\" is not one of \"fast\", \"exact\"");
}

TEST_CASE("the host applies typed defaults; the configuration as written is what results record", "[graph][specs]") {
    TempDir d;
    d.write("data.jsonl", "");
    core::PluginLoader loader({PARLEY_FIXTURE_DIR});
    auto g = core::parse_graph(d.write("graph.toml", coral_graph("max_turns = 3\n", "slots = 8\n")));
    const core::SchemaResolver resolver = core::make_resolver(loader); // owns the schemas the nodes point at
    core::validate_graph(g, resolver);
    const core::NodeSpec &model = *g.find("model");
    const toml::table applied = core::with_defaults(model);
    CHECK(applied["mode"].value<std::string>() == "exact"); // the plugin's typed default
    CHECK(applied["slots"].value<int64_t>() == 8);           // as written
    CHECK_FALSE(applied.contains("reply"));                  // no default: stays absent
    CHECK_FALSE(model.config.contains("mode"));              // the node's own config is untouched
    const toml::table coral = core::with_defaults(*g.find("coral"));
    CHECK(coral["max_turns"].value<int64_t>() == 3);
    CHECK(coral["extraction"].value<std::string>() == "llm");
    CHECK(coral["temperature"].value<double>() == 0.2);
    CHECK_FALSE(coral.contains("max_conversations")); // a computed default: the node decides
}

TEST_CASE("a plugin's specs read through the ABI: choices, range, typed default; inspect's text", "[abi][specs]") {
    core::PluginLoader loader({PARLEY_FIXTURE_DIR});
    const core::ComponentSchema &s = schema_of(loader, "fixture_specs", "backend");
    const core::ParamSpec *mode = s.param("mode");
    const core::ParamSpec *slots = s.param("slots");
    REQUIRE(mode);
    REQUIRE(slots);
    CHECK(mode->choices == std::vector<std::string>{"fast", "exact"});
    CHECK(mode->shown_default() == "exact");
    CHECK(slots->range_text() == "[1, 64]");
    CHECK(slots->shown_default() == "4");
    CHECK(s.param("marker")->flags == PARLEY_PARAM_REQUIRED);
}

TEST_CASE("an ABI 1.2 plugin's parameters are walked with the 1.0 stride", "[abi][specs]") {
    core::PluginLoader loader({PARLEY_FIXTURE_DIR});
    const core::ComponentSchema &s = schema_of(loader, "fixture_abi12", "backend");
    REQUIRE(s.abi_version == "1.2");
    std::vector<std::string> keys;
    for (auto &p : s.params) keys.push_back(p.key);
    // Its three own keys (then the host's backend keys), each with its 1.0 members only.
    REQUIRE(keys.size() >= 3);
    CHECK(std::vector<std::string>(keys.begin(), keys.begin() + 3) == std::vector<std::string>{"reply", "latency_ms", "note"});
    CHECK(s.param("note")->doc.find("third parameter") != std::string::npos);
    CHECK(s.param("reply")->shown_default() == "The correct answer is (A).");
    CHECK_FALSE(s.param("reply")->value.has_value());
    CHECK(s.param("latency_ms")->choices.empty());
}

TEST_CASE("every core node's typed default lies within its own choices and range", "[specs]") {
    for (const core::CoreNode *n : core::core_nodes())
        for (const core::ParamSpec &p : n->schema.params) {
            INFO(n->schema.id() << "." << p.key);
            CHECK((p.value.has_value() || !p.default_text.empty() || p.type == PARLEY_TYPE_PATH));
            if (!p.value) continue;
            if (auto *s = std::get_if<std::string>(&*p.value); s && !p.choices.empty())
                CHECK(std::find(p.choices.begin(), p.choices.end(), *s) != p.choices.end());
            double v = 0;
            if (auto *i = std::get_if<int64_t>(&*p.value)) v = static_cast<double>(*i);
            else if (auto *f = std::get_if<double>(&*p.value)) v = *f;
            else continue;
            if (p.min) CHECK(v >= *p.min);
            if (p.max) CHECK(v <= *p.max);
        }
}

TEST_CASE("did-you-mean ignores case", "[graph][specs]") {
    CHECK(core::did_you_mean("LLM", {"rule", "llm"}) == std::optional<std::string>("llm"));
    CHECK(core::did_you_mean("Max_Turns", {"max_turns", "beam"}) == std::optional<std::string>("max_turns"));
}
