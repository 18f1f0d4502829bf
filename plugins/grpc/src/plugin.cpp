// libparley-grpc.so: the `grpc/backend` component over parley::grpc_backend::GrpcBackend.
#include "grpc_backend.hpp"
#include "params.hpp"

PARLEY_PLUGIN("grpc", "0.1.0", "Matrix's gRPC OpenaiService as a backend (replicas, discovery, retries, affinity)",
              parley::backend<parley::grpc_backend::GrpcBackend>("backend", 1,
                                                                  "chat and text completions over Matrix's OpenaiService gRPC "
                                                                  "(Matrix deployments, parley serve --grpc-port)",
                                                                  parley::grpc_backend::kParams));
