// TOML graph validation (`parley validate`: core::parse_graph + core::validate_graph): the input
// as a graph file, its components' schemas resolved by the real plugin loader over the build's
// plugins (loaded once) and the built-in core nodes; then once more with a command-line override.
// A GraphError (the problems, each naming file:line:column and key) is the refusal.
#include "fuzz_entry.hpp"

#include <parley/core/graph.hpp>
#include <parley/core/log.hpp>
#include <parley/core/plugin_loader.hpp>
#include <parley/core/run.hpp>

namespace {

void validate(const std::string &file, const std::vector<std::string> &overrides) {
    namespace core = parley::core;
    static core::PluginLoader loader({PARLEY_FUZZ_PLUGIN_DIR});
    static const core::SchemaResolver resolve = core::make_resolver(loader);
    try {
        core::Graph g = core::parse_graph(file, overrides);
        core::validate_graph(g, resolve);
        for (const core::NodeSpec &n : g.nodes)
            if (n.schema) (void)core::with_defaults(n);
    } catch (const core::GraphError &) {
    }
}

} // namespace

PARLEY_FUZZ_ENTRY(graph_validate) {
    static const bool quiet = (parley::core::configure_logging("off"), true);
    (void)quiet;
    const std::string file = parley::fuzz::write_file("graph/graph.toml", parley::fuzz::bytes(data, size));
    validate(file, {});
    validate(file, {"graph.output_dir=out", "nodes.model.max_tokens=8"});
    return 0;
}
