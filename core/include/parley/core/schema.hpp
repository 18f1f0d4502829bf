// What the host knows about a component before instantiating it: its parameters (to validate a
// graph) and, for the host's own nodes, its input ports. Plugin components and built-in core
// nodes share this shape so one validator serves both.
#pragma once

#include <parley/plugin.h>

#include <cstddef>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace parley::core {

struct LoadedPlugin;
struct NodeSpec;

// Host-private kind for the built-in nodes ("core/..."); never crosses the ABI.
inline constexpr int32_t kKindCore = 1000;
// A port kind meaning "rows from any node that writes them" (evaluations, pairs, filters).
inline constexpr int32_t kKindRows = 1001;

const char *kind_name(int32_t kind);

// A default the host applies when a graph leaves a key out (ABI 1.4 typed defaults).
using ParamValue = std::variant<std::string, int64_t, double, bool>;

// One configuration key: its type, default, allowed values and doc, in one place. Plugins declare
// it as a parley_param (schema_of reads it), the host's own nodes with the builders below, e.g.
//   integer("max_turns", 20, "generated turns at most").at_least(1)
//   text("extraction", "llm", "how beliefs are read").one_of({"llm", "rule"})
// validate_graph checks every value against it before any component instance exists, and
// with_defaults() fills in `value` for absent keys, so the code binding a node reads every key.
struct ParamSpec {
    std::string key;
    int32_t type = PARLEY_TYPE_STRING;
    uint32_t flags = 0;
    std::string default_text; // shown by `parley inspect` when there is no typed default (a computed one)
    std::string doc;
    std::vector<std::string> choices;  // STRING, PATH, STRING_ARRAY elements; empty: any
    std::optional<double> min, max;    // INT, FLOAT
    std::optional<ParamValue> value;   // the typed default

    ParamSpec one_of(std::vector<std::string> allowed) const;
    ParamSpec at_least(double lo) const;
    ParamSpec at_most(double hi) const;
    ParamSpec between(double lo, double hi) const { return at_least(lo).at_most(hi); }
    // What `parley inspect` shows as the default: the typed default, else default_text.
    std::string shown_default() const;
    // "[1, ...]", "[0, 1]"; empty without a range.
    std::string range_text() const;
};

// Builders of ParamSpecs with a typed default (core nodes; plugins use parley/sdk.hpp's).
ParamSpec text(std::string key, std::string value, std::string doc);
ParamSpec integer(std::string key, int64_t value, std::string doc);
ParamSpec number(std::string key, double value, std::string doc);
ParamSpec flag(std::string key, bool value, std::string doc);
// A key without a typed default: its default is computed by the node (`shown` says how) or none.
ParamSpec computed(std::string key, int32_t type, std::string shown, std::string doc);

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

// Element `i` of a component's parameter array, walked by its stride: param_size when the
// component's struct_size covers it (ABI 1.4), else the 1.0 parley_param's size.
const parley_param &param_at(const parley_component &component, size_t i);
// Whether the parameter struct of `component` holds the 1.4 members (choices, range, typed default).
bool params_have_specs(const parley_component &component);
// The size of a 1.0-1.3 parley_param (key, type, flags, default_text, doc).
inline constexpr size_t kParamSize10 = offsetof(parley_param, doc) + sizeof(const char *);

// A value as `parley inspect` and error messages write it ("llm" quoted, 20, 0.5, true).
std::string value_text(const ParamValue &v);

} // namespace parley::core
