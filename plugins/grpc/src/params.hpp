// The grpc/backend's configuration keys: type, default, range and doc, one place each (ABI 1.4
// parameter specs). The host checks a graph's values against them and applies the defaults; the
// backend reads them with cfg.get<T>(spec).
#pragma once

#include <parley/sdk.hpp>

namespace parley::grpc_backend {

namespace ps = parley::param;

inline constexpr parley_param kUrl = ps::computed("url", PARLEY_TYPE_STRING_ARRAY, "[]",
                                                  "replicas: \"host:port\" or \"grpc://host:port\" (http(s):// entries are skipped)");
inline constexpr parley_param kReplicasFrom =
    ps::path("replicas_from", 0,
             "a file (one URL per line) or folder (one file per replica, as `parley serve --register` writes) re-read while running");
inline constexpr parley_param kDiscoveryInterval = ps::number(
    "discovery_interval_s", 1.0, "how often replicas_from is re-read and channel health looked at (> 0)", parley::at_least(1e-3));
inline constexpr parley_param kModel = ps::string("model", "", "model name sent in each request");
inline constexpr parley_param kApplication =
    ps::string("application", "", "`application` metadata (Ray Serve's gRPC routing to a Matrix app)");
inline constexpr parley_param kApiKeyEnv =
    ps::string("api_key_env", "PARLEY_API_KEY", "environment variable holding the API key (metadata authorization: Bearer)");
inline constexpr parley_param kTimeout =
    ps::number("timeout_s", 600.0, "deadline per request, retries included (a request's deadline_s overrides); <= 0: none");
inline constexpr parley_param kMaxRetries = ps::integer(
    "max_retries", 3, "retries after the first attempt on UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN",
    parley::at_least(0));
inline constexpr parley_param kBackoffInitial =
    ps::number("backoff_initial_s", 0.5, "retry k waits backoff_initial_s * (backoff_factor^k + U(0,1))", parley::at_least(0));
inline constexpr parley_param kBackoffFactor = ps::number("backoff_factor", 2.0, "exponential backoff base", parley::at_least(1));
inline constexpr parley_param kMaxInFlight =
    ps::integer("max_in_flight", 256, "calls outstanding per replica; more wait in the plugin", parley::at_least(1));
inline constexpr parley_param kAffinity =
    ps::flag("affinity", true, "route a conversation's turns to one replica (consistent hashing with bounded loads)");
inline constexpr parley_param kLoadFactor = ps::number(
    "load_factor", 1.25, "affinity spills to the next replica on the ring above load_factor x mean outstanding", parley::at_least(1));
inline constexpr parley_param kCooldown = ps::number(
    "cooldown_s", 1.0, "a replica answering UNAVAILABLE rests this long (doubling per strike, max 30 s)", parley::at_least(0));

inline constexpr parley_param kParams[] = {
    kUrl,       kReplicasFrom,   kDiscoveryInterval, kModel,       kApplication, kApiKeyEnv, kTimeout,
    kMaxRetries, kBackoffInitial, kBackoffFactor,     kMaxInFlight, kAffinity,    kLoadFactor, kCooldown,
};

} // namespace parley::grpc_backend
