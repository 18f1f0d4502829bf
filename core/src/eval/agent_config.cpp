#include "agent_config.hpp"

#include <fmt/format.h>

#include <set>

namespace parley::core::eval {

std::runtime_error node_error(const RunContext &ctx, const std::string &what) {
    return std::runtime_error(fmt::format("nodes.{}.{}", ctx.node.name, what));
}

namespace {

template <class T> T typed(const toml::table &t, const std::string &where, const char *key, T fallback) {
    const toml::node *n = t.get(key);
    if (!n) return fallback;
    if constexpr (std::is_same_v<T, double>) {
        if (auto i = n->value<int64_t>(); i && n->is_integer()) return static_cast<double>(*i);
    }
    if (auto v = n->value_exact<T>()) return *v;
    throw std::runtime_error(fmt::format("{}.{}: expected {}", where, key,
                                         std::is_same_v<T, std::string> ? "a string" : std::is_same_v<T, bool> ? "true or false" : "a number"));
}

} // namespace

AgentSpec read_agent(const toml::table &t, const std::string &where, AgentSpec a, bool allow_unknown) {
    static const std::set<std::string> keys = {"temperature", "top_p", "top_k", "min_p", "max_tokens", "system_prompt", "stop"};
    if (!allow_unknown)
        for (auto &[k, v] : t)
            if (!keys.count(std::string(k.str())))
                throw std::runtime_error(fmt::format("{}.{}: not an agent setting (temperature, top_p, top_k, min_p, "
                                                     "max_tokens, system_prompt, stop)", where, k.str()));
    a.temperature = typed<double>(t, where, "temperature", a.temperature);
    a.top_p = typed<double>(t, where, "top_p", a.top_p);
    a.min_p = typed<double>(t, where, "min_p", a.min_p);
    a.top_k = static_cast<int32_t>(typed<int64_t>(t, where, "top_k", a.top_k));
    a.max_tokens = static_cast<int32_t>(typed<int64_t>(t, where, "max_tokens", a.max_tokens));
    a.system_prompt = typed<std::string>(t, where, "system_prompt", a.system_prompt);
    if (const toml::node *s = t.get("stop")) {
        const toml::array *arr = s->as_array();
        if (!arr) throw std::runtime_error(fmt::format("{}.stop: expected a list of strings", where));
        a.stop.clear();
        for (auto &x : *arr) {
            if (!x.is_string()) throw std::runtime_error(fmt::format("{}.stop: expected a list of strings", where));
            a.stop.push_back(*x.value<std::string>());
        }
    }
    if (a.max_tokens < 1) throw std::runtime_error(fmt::format("{}.max_tokens: at least 1", where));
    return a;
}

std::vector<AgentSpec> read_agents(const RunContext &ctx, const toml::table &config, size_t n, const char *port) {
    const std::string where = "nodes." + ctx.node.name;
    const AgentSpec base = read_agent(config, where, AgentSpec{}, true); // every agent key has its default there
    const std::vector<std::string> &backends = ctx.node.inputs.at(port);
    if (backends.size() != 1 && backends.size() != n)
        throw node_error(ctx, fmt::format("inputs.{}: {} backends for {} agents (give one for every agent, or one per agent)",
                                          port, backends.size(), n));
    const toml::array *per_agent = nullptr;
    if (const toml::node *p = config.get("per_agent")) {
        per_agent = p->as_array();
        if (!per_agent) throw node_error(ctx, "per_agent: expected a list of tables, one per agent");
        if (per_agent->size() > n)
            throw node_error(ctx, fmt::format("per_agent: {} entries for {} agents", per_agent->size(), n));
    }
    std::vector<AgentSpec> agents;
    for (size_t a = 0; a < n; ++a) {
        AgentSpec spec = base;
        if (per_agent && a < per_agent->size()) {
            const toml::table *t = per_agent->get(a)->as_table();
            const std::string at = fmt::format("{}.per_agent[{}]", where, a);
            if (!t) throw std::runtime_error(at + ": expected a table (e.g. {temperature = 1.0})");
            spec = read_agent(*t, at, base, false);
        }
        spec.backend_node = backends[backends.size() == 1 ? 0 : a];
        spec.backend = ctx.backends.at(spec.backend_node);
        if (n > 1) spec.role = fmt::format("agent_{}", a + 1);
        agents.push_back(std::move(spec));
    }
    return agents;
}

ExtractionSpec read_extraction(const RunContext &ctx, const toml::table &c, Backend *fallback, const std::string &fallback_node) {
    // `extraction` is one of "llm", "rule": the schema's choices, checked before the run
    const std::string mode = bound<std::string>(c, "extraction");
    ExtractionSpec x;
    x.max_tokens = static_cast<int32_t>(bound<int64_t>(c, "extractor_max_tokens"));
    if (mode == "rule") return x;
    auto it = ctx.node.inputs.find("extractor");
    x.backend_node = it == ctx.node.inputs.end() ? fallback_node : it->second.front();
    x.backend = it == ctx.node.inputs.end() ? fallback : ctx.backends.at(x.backend_node);
    return x;
}

} // namespace parley::core::eval
