// The gRPC face of `parley serve`: Matrix's `matrix.app_server.llm.OpenaiService`
// (proto/openai.proto, Matrix's own file), so Matrix's client (query_llm.make_request with a
// non-http URL) and anything generated from that proto talk to Parley unchanged.
#pragma once

#include "service.hpp"

#include <memory>
#include <string>

namespace parley::serve {

// gRPC status code (grpc::StatusCode's value) for an HTTP status, as Matrix's GrpcDeployment
// maps them: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED,
// 500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, other UNKNOWN.
int grpc_code_of(int http_status);

class GrpcServer {
  public:
    // Serves `service` on host:port (0: any free port). Throws std::runtime_error when it cannot bind.
    GrpcServer(Service &service, const std::string &host, int port, std::string api_key);
    ~GrpcServer();
    int port() const;
    // Stops accepting calls and waits (up to `grace_s`) for those running.
    void shutdown(double grace_s);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace parley::serve
