// Running a graph: parse and validate it, open only the plugins it names, instantiate its
// components in dependency order, and execute its core nodes (evaluations).
#pragma once

#include <parley/core/components.hpp>
#include <parley/core/graph.hpp>
#include <parley/core/plugin_loader.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace parley::core {

struct RunOptions {
    std::vector<fs::path> plugin_paths;  // --plugin-path
    std::vector<std::string> overrides;  // key=value
    bool validate_only = false;          // stop after validation
    bool whole = false;                  // the whole graph, whatever graph.shard or a Slurm array task says (parley merge)
};

// Files each node wrote, by output name: outputs[node][output] = files.
using NodeOutputs = std::map<std::string, std::map<std::string, std::vector<fs::path>>>;

// What a core node sees when it runs.
struct RunContext {
    const Graph &graph;
    const NodeSpec &node;
    fs::path output_dir; // <graph output_dir>/<node name>
    std::map<std::string, Domain *> domains;
    std::map<std::string, Backend *> backends;
    std::map<std::string, std::string> plugin_versions; // node -> "plugin@version (component vN)"
    NodeOutputs &outputs;
    std::optional<std::pair<int, int>> shard; // (index, count) when this run is one shard of many

    // The files behind an input port ("node" = its first output, or "node.output").
    std::vector<fs::path> input_files(const std::string &port) const;
    // Is this item this shard's to run? (always, unsharded)
    bool owns(const std::string &domain_node, const std::string &item_id) const;
};

// "i/n" -> (i, n); the graph's `shard`, else a Slurm array task's environment.
std::optional<std::pair<int, int>> resolve_shard(const std::string &spec);

// Resolves "plugin/component" through `loader` (and core nodes). The schemas it returns live as
// long as the resolver (copies share them).
SchemaResolver make_resolver(PluginLoader &loader);

// Returns the process exit code; errors are logged.
int run_graph(const fs::path &file, const RunOptions &options);

// A node the host runs itself ("core/<name>"): its schema (validation, `parley inspect`) and
// what running it does. Each node's file defines its descriptor; core_nodes() lists them
// (nodes.cpp: adding a node is its file plus one entry there).
struct CoreNode {
    ComponentSchema schema; // core_schema(name, description) with its params, inputs, outputs
    void (*run)(RunContext &ctx);
};
const std::vector<const CoreNode *> &core_nodes();
const CoreNode *find_core_node(std::string_view name);

} // namespace parley::core
