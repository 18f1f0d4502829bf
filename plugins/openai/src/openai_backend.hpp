// openai/backend — asynchronous chat and text completions against OpenAI-compatible servers
// (vLLM, SGLang, llama-server, hosted APIs), over one or more replicas.
//
// One worker thread drives libcurl's multi interface: persistent keep-alive connections, hundreds
// of requests in flight, routing by outstanding requests with conversation affinity (consistent
// hashing with bounded loads), retries with exponential backoff and jitter on another healthy
// replica, replica cool-down and health probes. See plugins/openai/README.md.
#pragma once

#include <parley/sdk.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

// Extensions reachable through parley_backend_vtable::get_proc_address (`self` is the instance
// pointer `create` returned).
#define PARLEY_OPENAI_REPLICA_OF "openai_replica_of"
// The replica index (position in `url`) a conversation prefers on the hash ring, ignoring load.
typedef int32_t (*parley_openai_replica_of_fn)(void *self, uint64_t conversation);
#define PARLEY_OPENAI_REPLICA_STATS "openai_replica_stats"
// Appends a JSON array, one object per replica:
// {"url","up","outstanding","max_in_flight","sent","succeeded","failed"} (counts of attempts).
typedef parley_status (*parley_openai_replica_stats_fn)(void *self, parley_buffer *out);

namespace parley::chat {
class Template;
}

namespace parley::openai {

struct ReplicaStats {
    std::string url;
    bool up = true;
    int64_t outstanding = 0; // attempts in flight now
    int64_t max_in_flight = 0; // this replica's limit (llama-server: its slot count unless configured)
    uint64_t sent = 0;       // attempts started
    uint64_t succeeded = 0;  // attempts answered with a usable 2xx
    uint64_t failed = 0;     // attempts that failed (transport error, 429, 5xx, 4xx, bad body)
};

class OpenAIBackend final : public parley::Backend {
  public:
    explicit OpenAIBackend(const parley::Config &config);
    ~OpenAIBackend() override;
    OpenAIBackend(const OpenAIBackend &) = delete;
    OpenAIBackend &operator=(const OpenAIBackend &) = delete;

    uint64_t submit(parley::Request request, Done done) override;
    bool cancel(uint64_t request_id) override;
    parley::BackendInfo info() override;
    // running: requests on the wire (outstanding, summed over replicas); queued: accepted ones
    // waiting in the plugin (every replica at max_in_flight, a retry's backoff, model discovery);
    // kv_used and kv_capacity: -1 (unknown).
    std::optional<parley::BackendLoad> load() override;
    void *proc_address(const char *name) override;
    // The `chat_template` option's rendering (served_template.cpp); PARLEY_ERR_UNSUPPORTED without one.
    std::string apply_template(const std::vector<parley::Message> &messages) override;

    // Debugging and tests.
    std::vector<ReplicaStats> replica_stats() const;
    int replica_of(uint64_t conversation) const;
    std::string stats_json() const;

  private:
    static std::shared_ptr<const chat::Template> load_template(const parley::Config &config);
    std::shared_ptr<const chat::Template> template_; // before impl_: a bad template fails before any thread starts
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace parley::openai
