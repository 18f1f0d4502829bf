// What the host knows about a component before instantiating it: its parameters (to validate a
// graph) and, for the host's own nodes, its input ports. Plugin components and built-in core
// nodes share this shape so one validator serves both.
#pragma once

#include <parley/plugin.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace parley::core {

struct LoadedPlugin;
struct NodeSpec;

// Host-private kind for the built-in nodes ("core/..."); never crosses the ABI.
inline constexpr int32_t kKindCore = 1000;
// A port kind meaning "rows from any node that writes them" (evaluations, pairs, filters).
inline constexpr int32_t kKindRows = 1001;

const char *kind_name(int32_t kind);

struct ParamSpec {
    std::string key;
    int32_t type = PARLEY_TYPE_STRING;
    uint32_t flags = 0;
    std::string default_text;
    std::string doc;
};

struct PortSpec {
    std::string name;
    int32_t kind = PARLEY_KIND_INVALID; // kind of the node it must connect to
    bool multiple = false;
    bool required = true;
    std::string doc;
};

struct ComponentSchema {
    std::string plugin;
    std::string name;
    int32_t kind = PARLEY_KIND_INVALID;
    uint32_t version = 1;
    std::string plugin_version;
    std::string abi_version;
    std::string description;
    std::vector<ParamSpec> params;
    std::vector<PortSpec> inputs;
    std::vector<std::string> outputs; // row files a node writes, referred to as "node.output"; first = default
    const parley_component *component = nullptr; // nullptr for core nodes
    const LoadedPlugin *loaded = nullptr;
    // (core nodes, optional) Nodes whose output this node reads although they are not its inputs,
    // named in its config: {config key, node}. Validation checks they exist; they run first.
    std::vector<std::pair<std::string, std::string>> (*reads_nodes)(const NodeSpec &node) = nullptr;

    std::string id() const { return plugin + "/" + name; }
    const ParamSpec *param(std::string_view key) const;
    const PortSpec *port(std::string_view name) const;
};

// The schema of a plugin component, with the keys the host itself owns for that kind added
// (a domain node's `data`, `limit`, `skip_malformed`).
ComponentSchema schema_of(const LoadedPlugin &plugin, const parley_component &component);

// The start of a built-in node's schema ("core/<name>", version 1); the node adds its params,
// inputs and outputs (run.hpp: CoreNode).
ComponentSchema core_schema(const char *name, const char *description);

const char *type_name(int32_t type);

} // namespace parley::core
