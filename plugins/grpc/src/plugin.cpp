// libparley-grpc.so: the `grpc/backend` component over parley::grpc_backend::GrpcBackend.
#include "grpc_backend.hpp"

namespace {

const parley_param kParams[] = {
    {"url", PARLEY_TYPE_STRING_ARRAY, 0, "[]", "replicas: \"host:port\" or \"grpc://host:port\" (http(s):// entries are skipped)"},
    {"replicas_from", PARLEY_TYPE_PATH, 0, "", "a file (one URL per line) or folder (one file per replica, as `parley serve --register` writes) re-read while running"},
    {"discovery_interval_s", PARLEY_TYPE_FLOAT, 0, "1", "how often replicas_from is re-read and channel health looked at"},
    {"model", PARLEY_TYPE_STRING, 0, "", "model name sent in each request"},
    {"application", PARLEY_TYPE_STRING, 0, "", "`application` metadata (Ray Serve's gRPC routing to a Matrix app)"},
    {"api_key_env", PARLEY_TYPE_STRING, 0, "PARLEY_API_KEY", "environment variable holding the API key (metadata authorization: Bearer)"},
    {"timeout_s", PARLEY_TYPE_FLOAT, 0, "600", "deadline per request, retries included (a request's deadline_s overrides); <= 0: none"},
    {"max_retries", PARLEY_TYPE_INT, 0, "3", "retries after the first attempt on UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN"},
    {"backoff_initial_s", PARLEY_TYPE_FLOAT, 0, "0.5", "retry k waits backoff_initial_s * (backoff_factor^k + U(0,1))"},
    {"backoff_factor", PARLEY_TYPE_FLOAT, 0, "2", "exponential backoff base (>= 1)"},
    {"max_in_flight", PARLEY_TYPE_INT, 0, "256", "calls outstanding per replica; more wait in the plugin"},
    {"affinity", PARLEY_TYPE_BOOL, 0, "true", "route a conversation's turns to one replica (consistent hashing with bounded loads)"},
    {"load_factor", PARLEY_TYPE_FLOAT, 0, "1.25", "affinity spills to the next replica on the ring above load_factor x mean outstanding"},
    {"cooldown_s", PARLEY_TYPE_FLOAT, 0, "1", "a replica answering UNAVAILABLE rests this long (doubling per strike, max 30 s)"},
};

} // namespace

PARLEY_PLUGIN("grpc", "0.1.0", "Matrix's gRPC OpenaiService as a backend (replicas, discovery, retries, affinity)",
              parley::backend<parley::grpc_backend::GrpcBackend>("backend", 1,
                                                                  "chat and text completions over Matrix's OpenaiService gRPC "
                                                                  "(Matrix deployments, parley serve --grpc-port)",
                                                                  kParams));
