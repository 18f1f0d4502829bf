#include <parley/core/plugin_loader.hpp>
#include <parley/core/schema.hpp>

#include <fmt/format.h>

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

ParamSpec ParamSpec::one_of(std::vector<std::string> allowed) const {
    ParamSpec s = *this;
    s.choices = std::move(allowed);
    return s;
}
ParamSpec ParamSpec::at_least(double lo) const {
    ParamSpec s = *this;
    s.min = lo;
    return s;
}
ParamSpec ParamSpec::at_most(double hi) const {
    ParamSpec s = *this;
    s.max = hi;
    return s;
}

std::string value_text(const ParamValue &v) {
    struct Text {
        std::string operator()(const std::string &s) const { return fmt::format("\"{}\"", s); }
        std::string operator()(int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const { return fmt::format("{}", d); }
        std::string operator()(bool b) const { return b ? "true" : "false"; }
    };
    return std::visit(Text{}, v);
}

std::string ParamSpec::shown_default() const {
    if (!value) return default_text;
    if (auto *s = std::get_if<std::string>(&*value)) return *s; // as written, unquoted (as before 1.4)
    return value_text(*value);
}

std::string ParamSpec::range_text() const {
    if (!min && !max) return {};
    auto num = [&](double d) { return type == PARLEY_TYPE_INT ? fmt::format("{}", static_cast<int64_t>(d)) : fmt::format("{}", d); };
    return fmt::format("[{}, {}]", min ? num(*min) : "...", max ? num(*max) : "...");
}

namespace {
// A spec without choices, range or typed default (the members a 1.0 parley_param has).
ParamSpec plain(std::string key, int32_t type, uint32_t flags, std::string shown, std::string doc) {
    ParamSpec s;
    s.key = std::move(key);
    s.type = type;
    s.flags = flags;
    s.default_text = std::move(shown);
    s.doc = std::move(doc);
    return s;
}
ParamSpec typed(std::string key, int32_t type, ParamValue value, std::string doc) {
    ParamSpec s = plain(std::move(key), type, 0, "", std::move(doc));
    s.value = std::move(value);
    return s;
}
} // namespace

ParamSpec text(std::string key, std::string value, std::string doc) {
    return typed(std::move(key), PARLEY_TYPE_STRING, std::move(value), std::move(doc));
}
ParamSpec integer(std::string key, int64_t value, std::string doc) {
    return typed(std::move(key), PARLEY_TYPE_INT, value, std::move(doc));
}
ParamSpec number(std::string key, double value, std::string doc) {
    return typed(std::move(key), PARLEY_TYPE_FLOAT, value, std::move(doc));
}
ParamSpec flag(std::string key, bool value, std::string doc) {
    return typed(std::move(key), PARLEY_TYPE_BOOL, value, std::move(doc));
}
ParamSpec computed(std::string key, int32_t type, std::string shown, std::string doc) {
    return plain(std::move(key), type, 0, std::move(shown), std::move(doc));
}

bool params_have_specs(const parley_component &c) {
    const size_t covers = offsetof(parley_component, param_size) + sizeof(c.param_size);
    return c.struct_size >= covers && c.param_size >= offsetof(parley_param, default_float) + sizeof(double);
}

const parley_param &param_at(const parley_component &c, size_t i) {
    const size_t covers = offsetof(parley_component, param_size) + sizeof(c.param_size);
    const size_t stride = c.struct_size >= covers && c.param_size ? c.param_size : kParamSize10;
    return *reinterpret_cast<const parley_param *>(reinterpret_cast<const char *>(c.params) + i * stride);
}

namespace {
// A plugin's parley_param as the host's ParamSpec: the 1.0 members always, the 1.4 ones when the
// component's param_size covers them.
ParamSpec spec_of(const parley_component &c, const parley_param &p) {
    ParamSpec s = plain(p.key, p.type, p.flags, p.default_text ? p.default_text : "", p.doc ? p.doc : "");
    if (!params_have_specs(c)) return s;
    for (size_t i = 0; p.choices && i < p.n_choices; ++i)
        if (p.choices[i]) s.choices.emplace_back(p.choices[i]);
    if (p.flags & PARLEY_PARAM_HAS_MIN) s.min = p.min_value;
    if (p.flags & PARLEY_PARAM_HAS_MAX) s.max = p.max_value;
    if (p.flags & PARLEY_PARAM_HAS_DEFAULT) switch (p.type) {
        case PARLEY_TYPE_STRING:
        case PARLEY_TYPE_PATH: s.value = std::string(p.default_string ? p.default_string : ""); break;
        case PARLEY_TYPE_INT: s.value = p.default_int; break;
        case PARLEY_TYPE_BOOL: s.value = p.default_int != 0; break;
        case PARLEY_TYPE_FLOAT: s.value = p.default_float; break;
        default: break; // arrays and ANY take no typed default
        }
    return s;
}
} // namespace

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
        const parley_param &p = param_at(c, i);
        if (!p.key) continue;
        s.params.push_back(spec_of(c, p));
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
        s.params.push_back(plain("cache", PARLEY_TYPE_PATH, 0, "",
                            "request cache file: completions stored by content (model, template, sampling, messages, seed, n), "
                            "shared by runs and processes; empty: none (host key)"));
        s.params.push_back(plain("cache_salt", PARLEY_TYPE_STRING, 0, "",
                            "added to every cache key: change it when something outside the request changes the model's answers (host key)"));
    }
    if (c.kind == PARLEY_KIND_DOMAIN) {
        s.params.push_back(plain("data", PARLEY_TYPE_PATH, PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST, "",
                            "the release file or folder to evaluate (host key)"));
        s.params.push_back(integer("limit", 0, "evaluate only the first N items; 0 = all (host key)").at_least(0));
        s.params.push_back(flag("skip_malformed", false, "skip and count malformed rows instead of failing (host key)"));
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
