// Reading agents from a node's TOML: the node-wide sampling keys, then per-agent overrides
// (`per_agent = [{temperature = 1.0}, ...]`). Errors name the node, the key and the agent.
#pragma once

#include "agent.hpp"

#include <parley/core/run.hpp>

#include <string>
#include <vector>

namespace parley::core::eval {

// The agent keys (temperature, top_p, top_k, min_p, max_tokens, system_prompt, stop) of `t` over
// `base`; `where` prefixes error messages ("nodes.debate" or "nodes.debate.per_agent[1]").
AgentSpec read_agent(const toml::table &t, const std::string &where, AgentSpec base, bool allow_unknown);

// `n` agents of a node: node-wide keys of `config` (the node's configuration with its schema's
// defaults, with_defaults), then `per_agent` (at most n tables), backends from the input port
// `port` (one node for every agent, or one per agent).
std::vector<AgentSpec> read_agents(const RunContext &ctx, const toml::table &config, size_t n, const char *port);

// The extractor: rule-based, or the `extractor` input (default: `fallback`) with LLM extraction.
ExtractionSpec read_extraction(const RunContext &ctx, const toml::table &config, Backend *fallback, const std::string &fallback_node);

// `nodes.<node>.<what>` as an exception.
std::runtime_error node_error(const RunContext &ctx, const std::string &what);

} // namespace parley::core::eval
