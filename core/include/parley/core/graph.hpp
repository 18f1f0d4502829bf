// A run described in TOML: a [graph] table and named nodes ([nodes.<name>]) that say which
// component they use, how they connect (`inputs`) and how they are configured (every other key).
// The whole file is validated against the components' schemas before anything is instantiated.
#pragma once

#include <parley/core/schema.hpp>

#include <toml++/toml.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::core {

namespace fs = std::filesystem;

// One or more problems found in a graph, each "file:line:column: key: what".
class GraphError : public std::runtime_error {
  public:
    explicit GraphError(std::vector<std::string> problems);
    const std::vector<std::string> &problems() const { return problems_; }

  private:
    std::vector<std::string> problems_;
};

struct NodeSpec {
    std::string name;
    std::string use;       // "plugin/component[@version]"
    std::string plugin;
    std::string component;
    std::optional<uint32_t> pinned_version;
    bool enabled = true;
    std::map<std::string, std::vector<std::string>> inputs; // port -> node names
    toml::table config;    // the component's keys, paths resolved (reserved keys removed)
    const ComponentSchema *schema = nullptr; // set by validate()
};

struct Graph {
    fs::path file;          // absolute
    std::string display_file; // as the user named it, for messages
    std::set<std::string> overridden; // dotted keys set on the command line
    std::string name;
    fs::path output_dir;    // absolute
    std::vector<fs::path> plugin_path;
    std::string log_level;
    std::string shard; // "i/n": run shard i of n (items split by id); empty: Slurm's array, else all
    std::vector<NodeSpec> nodes; // in file order
    toml::table document;   // the resolved document (overrides applied), for the run record

    const NodeSpec *find(std::string_view node) const;
    NodeSpec *find(std::string_view node);
};

// Parses `file`, expands ${VAR} and ${VAR:-default} in strings, applies `key=value` overrides
// (e.g. "nodes.model.model=/m.gguf", "graph.output_dir=out"). Throws GraphError.
Graph parse_graph(const fs::path &file, const std::vector<std::string> &overrides = {});

// Resolves a node's component schema: returns nullptr and sets *why when it cannot.
using SchemaResolver = std::function<const ComponentSchema *(const std::string &plugin, const std::string &component,
                                                             std::string *why)>;

// Checks every node against its schema: unknown components and keys (with a did-you-mean),
// types, required keys, files that must exist, input ports and their kinds, cycles. Resolves
// PATH values against the graph file's folder. Throws GraphError listing every problem.
void validate_graph(Graph &graph, const SchemaResolver &resolve);

// The node's configuration with its schema's typed defaults filled in for the keys the graph
// leaves out: what a component's create() and a core node's binding read (ABI 1.4: the host
// applies defaults). `config` itself stays as written: results record it.
toml::table with_defaults(const NodeSpec &node);
// The same for a configuration and the schema it is read by (a core node binding itself).
toml::table with_defaults(const toml::table &config, const ComponentSchema &schema);

// A key of a with_defaults() table whose spec has a typed default: present by construction.
// Throws std::logic_error when it is not (a schema entry lacking its default).
template <class T> T bound(const toml::table &config, const char *key) {
    if (auto v = config[key].value<T>()) return *v;
    throw std::logic_error(std::string("configuration key '") + key + "' has no value: its spec lacks a typed default");
}
// A string-array key; absent: empty.
std::vector<std::string> bound_strings(const toml::table &config, const char *key);

// Nodes in an order where inputs come first.
std::vector<const NodeSpec *> topological_order(const Graph &graph);

// Closest candidate by edit distance, if near enough to suggest.
std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string> &candidates);

} // namespace parley::core
