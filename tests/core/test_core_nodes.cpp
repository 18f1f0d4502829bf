// The registry of the host's own nodes: each CoreNode {schema, run} is found by name, and the
// graph resolver serves exactly those schemas for "core/<name>".
#include <parley/core/run.hpp>

#include <catch2/catch.hpp>

using namespace parley::core;

TEST_CASE("core nodes: one descriptor per node, schema and run together", "[core_nodes]") {
    std::vector<std::string> names;
    for (const CoreNode *n : core_nodes()) {
        names.push_back(n->schema.name);
        CHECK(n->schema.plugin == "core");
        CHECK(n->schema.kind == kKindCore);
        CHECK(n->run != nullptr);
        CHECK_FALSE(n->schema.outputs.empty());
        CHECK(find_core_node(n->schema.name) == n);
    }
    CHECK(names == std::vector<std::string>{"cot_eval", "coral_eval", "debate_eval", "sc_eval", "pairs"});
    CHECK(find_core_node("sc_eval")->schema.reads_nodes != nullptr); // k = "match:<node>"
    CHECK(find_core_node("nope") == nullptr);
    CHECK(find_core_node("pairs")->schema.param("sft_mode") != nullptr);
    CHECK(find_core_node("coral_eval")->schema.port("teacher")->required);
}

TEST_CASE("core nodes: the graph resolver serves the registry's schemas", "[core_nodes]") {
    PluginLoader loader({});
    auto resolve = make_resolver(loader);
    std::string why;
    CHECK(resolve("core", "pairs", &why) == &find_core_node("pairs")->schema);
    CHECK(resolve("core", "coral_evl", &why) == nullptr);
    CHECK(why == "core has no node 'coral_evl' (did you mean 'core/coral_eval'?)");
}
