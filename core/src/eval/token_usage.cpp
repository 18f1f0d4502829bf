#include "token_usage.hpp"

#include "../cache/request_cache.hpp"

namespace parley::core::eval {

using json = nlohmann::json;

void TokenCount::add(const GenerationResult &r) {
    ++requests;
    if (r.status != PARLEY_OK) ++failed;
    prompt += r.prompt_tokens;
    cached += r.cached_tokens;
    completion += r.completion_tokens;
    if (r.reasoning_tokens >= 0) reasoning += r.reasoning_tokens;
    else ++reasoning_unknown;
}

void TokenCount::add(const TokenCount &o) {
    requests += o.requests, failed += o.failed, prompt += o.prompt, cached += o.cached, completion += o.completion;
    reasoning += o.reasoning, reasoning_unknown += o.reasoning_unknown;
}

json TokenCount::to_json() const {
    json j = {{"requests", requests},          {"failed_requests", failed},     {"prompt_tokens", prompt},
              {"cached_tokens", cached},       {"completion_tokens", completion}, {"reasoning_tokens", reasoning}};
    if (reasoning_unknown) j["reasoning_tokens_unknown_requests"] = reasoning_unknown; // (a server that did not count them)
    return j;
}

TokenCount RoleUsage::total() const {
    TokenCount t;
    for (auto &[role, c] : roles_) t.add(c);
    return t;
}

json RoleUsage::to_json() const {
    json j = json::object();
    for (auto &[role, c] : roles_) j[role] = c.to_json();
    return j;
}

json cache_usage_json(const std::vector<const Backend *> &backends) {
    json j = json::object();
    for (const Backend *b : backends)
        if (b && !j.contains(b->node()))
            if (std::optional<CacheUsage> u = b->cache_usage()) j[b->node()] = to_json(*u);
    return j.empty() ? json(nullptr) : j;
}

} // namespace parley::core::eval
