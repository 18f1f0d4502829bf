// grpc/backend — chat and text completions over Matrix's gRPC `OpenaiService` (a Matrix
// deployment, or `parley serve --grpc-port`), over one or more replicas that may come and go.
//
// Calls use gRPC's callback API (no thread per call); one worker thread handles retries, deadlines
// and replica discovery. Routing is the openai backend's (plugins/openai/src/router.hpp): least
// outstanding with conversation affinity by consistent hashing with bounded loads. See README.md.
#pragma once

#include <parley/sdk.hpp>

#include <memory>
#include <string>
#include <vector>

namespace parley::grpc_backend {

struct ReplicaStatus {
    std::string target; // host:port
    bool up = true;
    int64_t outstanding = 0;
    uint64_t succeeded = 0, failed = 0;
};

class GrpcBackend final : public parley::Backend {
  public:
    explicit GrpcBackend(const parley::Config &config);
    ~GrpcBackend() override;
    GrpcBackend(const GrpcBackend &) = delete;
    GrpcBackend &operator=(const GrpcBackend &) = delete;

    uint64_t submit(parley::Request request, Done done) override;
    bool cancel(uint64_t request_id) override;
    parley::BackendInfo info() override;
    std::optional<parley::BackendLoad> load() override;

    // Tests and diagnostics.
    std::vector<ReplicaStatus> replicas() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace parley::grpc_backend
