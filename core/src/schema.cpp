#include <parley/core/plugin_loader.hpp>
#include <parley/core/schema.hpp>

namespace parley::core {

const char *kind_name(int32_t kind) {
    switch (kind) {
    case PARLEY_KIND_DOMAIN: return "domain";
    case PARLEY_KIND_BACKEND: return "backend";
    case PARLEY_KIND_FILTER: return "filter";
    case PARLEY_KIND_TRAINER: return "trainer";
    case kKindCore: return "core";
    case kKindRows: return "rows";
    default: return "invalid";
    }
}

const char *type_name(int32_t type) {
    switch (type) {
    case PARLEY_TYPE_STRING: return "string";
    case PARLEY_TYPE_INT: return "integer";
    case PARLEY_TYPE_FLOAT: return "number";
    case PARLEY_TYPE_BOOL: return "boolean";
    case PARLEY_TYPE_STRING_ARRAY: return "array of strings";
    case PARLEY_TYPE_PATH: return "path";
    case PARLEY_TYPE_ANY: return "any";
    default: return "invalid";
    }
}

const ParamSpec *ComponentSchema::param(std::string_view key) const {
    for (auto &p : params)
        if (p.key == key) return &p;
    return nullptr;
}

const PortSpec *ComponentSchema::port(std::string_view n) const {
    for (auto &p : inputs)
        if (p.name == n) return &p;
    return nullptr;
}

ComponentSchema schema_of(const LoadedPlugin &plugin, const parley_component &c) {
    ComponentSchema s;
    s.plugin = plugin.name;
    s.name = c.name;
    s.kind = c.kind;
    s.version = c.version;
    s.plugin_version = plugin.desc->version;
    s.abi_version = plugin.abi_version();
    s.description = c.description ? c.description : "";
    s.component = &c;
    s.loaded = &plugin;
    for (size_t i = 0; i < c.n_params && c.params; ++i) {
        const parley_param &p = c.params[i];
        if (!p.key) continue;
        s.params.push_back({p.key, p.type, p.flags, p.default_text ? p.default_text : "", p.doc ? p.doc : ""});
    }
    // Ports the host itself wires for plugin kinds.
    if (c.kind == PARLEY_KIND_FILTER) {
        s.inputs.push_back({"rows", kKindRows, true, true, "rows to filter (an evaluation's records, pairs, another filter)"});
        s.outputs = {"rows"};
    }
    if (c.kind == PARLEY_KIND_TRAINER) {
        s.inputs.push_back({"data", kKindRows, true, true, "training rows (pairs or SFT rows)"});
        s.outputs = {"model"};
    }
    if (c.kind == PARLEY_KIND_BACKEND) {
        s.inputs.push_back({"model", PARLEY_KIND_TRAINER, false, false,
                            "serve the model a trainer node exported (sets `model`, and `lora` for adapters)"});
        s.params.push_back({"cache", PARLEY_TYPE_PATH, 0, "",
                            "request cache file: completions stored by content (model, template, sampling, messages, seed, n), "
                            "shared by runs and processes; empty: none (host key)"});
        s.params.push_back({"cache_salt", PARLEY_TYPE_STRING, 0, "",
                            "added to every cache key: change it when something outside the request changes the model's answers (host key)"});
    }
    if (c.kind == PARLEY_KIND_DOMAIN) {
        s.params.push_back({"data", PARLEY_TYPE_PATH, PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST, "",
                            "the release file or folder to evaluate (host key)"});
        s.params.push_back({"limit", PARLEY_TYPE_INT, 0, "0", "evaluate only the first N items; 0 = all (host key)"});
        s.params.push_back({"skip_malformed", PARLEY_TYPE_BOOL, 0, "false",
                            "skip and count malformed rows instead of failing (host key)"});
    }
    return s;
}

ComponentSchema core_schema(const char *name, const char *description) {
    ComponentSchema s;
    s.plugin = "core";
    s.name = name;
    s.kind = kKindCore;
    s.version = 1;
    s.plugin_version = PARLEY_VERSION;
    s.abi_version = std::string(1, '-'); // (not = "-": GCC 12 warns falsely, -Wrestrict, PR 105329)
    s.description = description;
    return s;
}

} // namespace parley::core
