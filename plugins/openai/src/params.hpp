// The openai/backend's configuration keys: type, default, range and doc, one place each (ABI 1.4
// parameter specs). The host checks a graph's values against them before anything starts and
// applies the defaults; the backend reads them with cfg.get<T>(spec).
#pragma once

#include <parley/sdk.hpp>

namespace parley::openai {

namespace ps = parley::param;

inline constexpr parley_param kUrl = ps::required(ps::computed(
    "url", PARLEY_TYPE_ANY, nullptr,
    "replica base URL(s): a string or an array of strings, e.g. \"http://127.0.0.1:8080\" (a trailing /v1 is dropped); [] with replicas_from"));
inline constexpr parley_param kReplicasFrom = ps::path("replicas_from", 0,
                                                   "a file (one URL per line) or folder (one file per replica, as `parley serve --register` "
                                                   "writes) re-read while running: new replicas join, dropped ones retire");
inline constexpr parley_param kDiscoveryInterval =
    ps::number("discovery_interval_s", 1.0, "how often replicas_from is re-read (> 0)", parley::at_least(1e-3));
inline constexpr parley_param kModel =
    ps::string("model", "", "model name sent in each body; empty: the first id of GET /v1/models, else \"default\"");
inline constexpr parley_param kApiKeyEnv =
    ps::string("api_key_env", "OPENAI_API_KEY", "environment variable holding the API key (Authorization: Bearer); unset: none");
inline constexpr parley_param kTimeout =
    ps::number("timeout_s", 600.0, "deadline per request, retries included (a request's deadline_s overrides); <= 0: none");
inline constexpr parley_param kConnectTimeout = ps::number("connect_timeout_s", 10.0, "TCP/TLS connect timeout per attempt", parley::at_least(1e-3));
inline constexpr parley_param kMaxRetries =
    ps::integer("max_retries", 3, "retries after the first attempt on 408/429/5xx, timeouts and connection errors", parley::at_least(0));
inline constexpr parley_param kBackoffInitial = ps::number(
    "backoff_initial_s", 0.5, "retry k (k = 0, 1, ...) waits backoff_initial_s * (backoff_factor^k + U(0,1))", parley::at_least(0));
inline constexpr parley_param kBackoffFactor = ps::number("backoff_factor", 2.0, "exponential backoff base", parley::at_least(1));
inline constexpr parley_param kRequestsPerMinute = ps::number(
    "requests_per_minute", 0.0, "client-side limit over all replicas: attempts leave evenly spaced at this rate; 0: none", parley::at_least(0));
inline constexpr parley_param kTokensPerMinute =
    ps::number("tokens_per_minute", 0.0,
           "client-side limit on prompt + completion tokens (estimated at 4 characters a token + max_tokens x n, corrected by the "
           "reply's usage); 0: none",
           parley::at_least(0));
inline constexpr parley_param kMaxInFlight =
    ps::computed("max_in_flight", PARLEY_TYPE_INT, "256; a llama-server replica's total_slots",
             "requests outstanding per replica; more wait in the plugin's queue. Unset: a llama-server replica gets its "
             "total_slots (GET /props), others 256",
             parley::at_least(1));
inline constexpr parley_param kMaxHostConnections = ps::integer(
    "max_host_connections", 0, "keep-alive connections per replica (CURLMOPT_MAX_HOST_CONNECTIONS); 0: max_in_flight", parley::at_least(0));
inline constexpr parley_param kExtraBody =
    ps::computed("extra_body", PARLEY_TYPE_ANY, "{}", "fields merged into every request body: a JSON object string or a TOML table");
inline constexpr parley_param kChatTemplateKwargs = ps::computed(
    "chat_template_kwargs", PARLEY_TYPE_ANY, "{}",
    "the body's chat_template_kwargs (vLLM, SGLang), e.g. {enable_thinking = false}: a JSON object string or a TOML table");
inline constexpr parley_param kAffinity =
    ps::flag("affinity", true, "route all turns of a conversation to one replica (consistent hashing with bounded loads)");
inline constexpr parley_param kLoadFactor = ps::number(
    "load_factor", 1.25, "affinity spills to the next replica on the ring above load_factor x mean outstanding", parley::at_least(1));
inline constexpr parley_param kCooldown = ps::number(
    "cooldown_s", 1.0, "a failed replica rests this long (doubling per failed probe, max 30 s) before GET /health", parley::at_least(0));
inline constexpr parley_param kChatTemplate =
    ps::string("chat_template", "",
           "the served model's chat template, for rendering only (core/pairs `src`): a tokenizer_config.json or .jinja path, "
           "Jinja source, or \"chatml\"; empty: none (apply_template unsupported)");

inline constexpr parley_param kParams[] = {
    kUrl,
    kReplicasFrom, kDiscoveryInterval, kModel, kApiKeyEnv, kTimeout, kConnectTimeout, kMaxRetries, kBackoffInitial,
    kBackoffFactor, kRequestsPerMinute, kTokensPerMinute, kMaxInFlight, kMaxHostConnections, kExtraBody, kChatTemplateKwargs, kAffinity,
    kLoadFactor, kCooldown, kChatTemplate,
};

} // namespace parley::openai
