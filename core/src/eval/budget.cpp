#include "budget.hpp"


#include <fmt/format.h>

namespace parley::core::eval {

using json = nlohmann::json;

namespace {

double number(const toml::table &t, const std::string &where, const char *key, double fallback) {
    const toml::node *n = t.get(key);
    if (!n) return fallback;
    if (auto i = n->value_exact<int64_t>()) return static_cast<double>(*i);
    if (auto d = n->value_exact<double>()) return *d;
    throw std::runtime_error(fmt::format("{}.{}: expected a number", where, key));
}

} // namespace

ParamSpec budget_param(const std::string &episodes) {
    return computed("budget", PARLEY_TYPE_ANY, "none",
                    fmt::format("stop starting {} once spent: {{tokens = N}} (prompt + completion, every role) or "
                                "{{cost = X, prices = {{prompt = P, completion = C, cached = K}}}} (per million tokens); a re-run resumes",
                                episodes));
}

Budget Budget::read(const RunContext &ctx) {
    Budget b;
    const toml::node *node = ctx.node.config.get("budget");
    if (!node) return b;
    const std::string where = "nodes." + ctx.node.name + ".budget";
    const toml::table *t = node->as_table();
    if (!t) throw std::runtime_error(where + ": expected a table, e.g. { tokens = 1000000 } or { cost = 5.0, prices = { prompt = 3.0, completion = 15.0 } }");
    for (auto &[k, v] : *t)
        if (k.str() != "tokens" && k.str() != "cost" && k.str() != "prices")
            throw std::runtime_error(fmt::format("{}.{}: not a budget key (tokens, cost, prices)", where, k.str()));
    const double tokens = number(*t, where, "tokens", 0);
    b.cost_ = number(*t, where, "cost", 0);
    if (tokens < 0 || b.cost_ < 0) throw std::runtime_error(where + ": tokens and cost must be positive");
    if (tokens > 0 && b.cost_ > 0) throw std::runtime_error(where + ": give tokens or cost, not both");
    if (tokens == 0 && b.cost_ == 0) throw std::runtime_error(where + ": give tokens or cost (a positive number)");
    b.tokens_ = static_cast<int64_t>(tokens);
    const toml::table *prices = t->get("prices") ? t->get("prices")->as_table() : nullptr;
    if (t->get("prices") && !prices) throw std::runtime_error(where + ".prices: expected a table { prompt = ..., completion = ..., cached = ... }");
    if (b.cost_ > 0) {
        if (!prices || !prices->get("prompt") || !prices->get("completion"))
            throw std::runtime_error(where + ".prices: a cost budget needs prices.prompt and prices.completion (per million tokens)");
        for (auto &[k, v] : *prices)
            if (k.str() != "prompt" && k.str() != "completion" && k.str() != "cached")
                throw std::runtime_error(fmt::format("{}.prices.{}: not a price (prompt, completion, cached)", where, k.str()));
        b.prompt_ = number(*prices, where + ".prices", "prompt", 0);
        b.completion_ = number(*prices, where + ".prices", "completion", 0);
        b.cached_ = number(*prices, where + ".prices", "cached", b.prompt_);
        if (b.prompt_ < 0 || b.completion_ < 0 || b.cached_ < 0) throw std::runtime_error(where + ".prices: prices must not be negative");
    }
    return b;
}

double Budget::cost_of(const TokenCount &s) const {
    const int64_t cached = std::min(s.cached, s.prompt);
    return (static_cast<double>(s.prompt - cached) * prompt_ + static_cast<double>(cached) * cached_ +
            static_cast<double>(s.completion) * completion_) / 1e6;
}

bool Budget::reached(const TokenCount &s) const {
    if (tokens_ > 0) return s.total() >= tokens_;
    if (cost_ > 0) return cost_of(s) >= cost_;
    return false;
}

json Budget::to_json(const TokenCount &s, bool stopped_early) const {
    json j = {{"stopped_early", stopped_early}, {"spent_tokens", s.total()}};
    if (tokens_ > 0) j["tokens"] = tokens_;
    if (cost_ > 0) {
        j["cost"] = cost_;
        j["spent_cost"] = cost_of(s);
        j["prices_per_million"] = {{"prompt", prompt_}, {"cached", cached_}, {"completion", completion_}};
    }
    return j;
}

} // namespace parley::core::eval
