// What `parley serve` does with a request, whatever the transport (HTTP, gRPC): admission (not
// while draining), the backend call, status mapping and metrics. Transports only translate.
#pragma once

#include "metrics.hpp"
#include "openai_api.hpp"

#include <parley/core/components.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace parley::serve {

struct Outcome {
    int status = 200;         // HTTP status (gRPC maps it)
    std::string error_type;   // OpenAI error type when status != 200
    std::string error;        // message when status != 200
    core::GenerationResult result;
};

class Service {
  public:
    Service(core::Backend &backend, std::string model_name);

    // What a transport calls when its client has gone before the answer (a closed connection, a
    // cancelled RPC): the backend request is cancelled, so its slot and KV cells go to the requests
    // still wanted; `done` still runs once, and the metrics count it as status 499 (nginx's
    // "client closed request"). Safe to call from any thread, more than once, or after `done`.
    using CancelCall = std::function<void()>;

    // Runs `request` on the backend; `done` is called exactly once, on any thread (possibly
    // before generate returns, for a refusal). `endpoint` labels the metrics.
    CancelCall generate(std::shared_ptr<ApiRequest> request, const std::string &endpoint, std::function<void(Outcome &&)> done);

    // Refuse new requests (503) from now on; answered requests still finish.
    void drain() { draining_ = true; }
    bool draining() const { return draining_; }
    int64_t in_flight() const { return in_flight_; }
    // Waits until nothing is in flight or `timeout_s` passes; true when drained.
    bool wait_idle(double timeout_s) const;

    const std::string &model_name() const { return model_name_; }
    int64_t context_size() const { return backend_.context_size(); }
    Metrics &metrics() { return metrics_; }
    std::string metrics_text() const { return metrics_.render(backend_.load(), in_flight_); }
    // "chatcmpl-<n>" / "cmpl-<n>", unique in this process.
    std::string next_id(Endpoint endpoint);

  private:
    core::Backend &backend_;
    std::string model_name_;
    Metrics metrics_;
    std::atomic<bool> draining_{false};
    std::atomic<int64_t> in_flight_{0};
    std::atomic<uint64_t> next_id_{1};
};

} // namespace parley::serve
