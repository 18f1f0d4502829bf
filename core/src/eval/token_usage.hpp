// Tokens a run spent, by role (teacher, student, agent_1, ..., extractor, judge): what
// results.json reports under usage.by_role and what a budget (budget.hpp) is checked against.
// Counted on the scheduler's thread, as results arrive (this run's requests only: a resumed run's
// kept records were paid for by the run that wrote them). Cache hits count like any answer (the
// backend's request cache reports itself under usage.cache).
#pragma once

#include <parley/core/components.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace parley::core::eval {

struct TokenCount {
    int64_t requests = 0, failed = 0;
    int64_t prompt = 0, cached = 0, completion = 0;
    int64_t reasoning = 0;     // of completion, reasoning tokens the backends counted
    int64_t reasoning_unknown = 0; // requests with reasoning whose tokens the backend did not count

    void add(const GenerationResult &r);
    void add(const TokenCount &o);
    int64_t total() const { return prompt + completion; }
    nlohmann::json to_json() const;
};

// Role names every protocol shares: the extractor's, and a single agent's (CoT, self-consistency;
// a debate's agents are "agent_1", ...; Coral's roles carry their own names).
inline const std::string kExtractorRole = "extractor";
inline const std::string kAgentRole = "agent";

class RoleUsage {
  public:
    void add(const std::string &role, const GenerationResult &r) { roles_[role].add(r); }
    TokenCount total() const;
    // {"<role>": {requests, failed, prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens}, ...}
    nlohmann::json to_json() const;

  private:
    std::map<std::string, TokenCount> roles_;
};

// usage.cache: each backend node's request cache (hits, misses, stored, tokens saved), for the
// backends that have one; null when none has.
nlohmann::json cache_usage_json(const std::vector<const Backend *> &backends);

} // namespace parley::core::eval
