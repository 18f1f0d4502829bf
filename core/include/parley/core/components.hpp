// Host-side handles over plugin component instances: they call through the C function tables,
// turn statuses into exceptions with the node's name in the message, and copy what crosses back.
#pragma once

#include <parley/core/graph.hpp>
#include <parley/plugin.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parley::core {

// A failure inside a component, with the node and the plugin's own message.
class ComponentError : public std::runtime_error {
  public:
    ComponentError(parley_status code, const std::string &message) : std::runtime_error(message), code_(code) {}
    parley_status code() const { return code_; }

  private:
    parley_status code_;
};

struct ItemInfo {
    std::string id, gold, category, metadata_json;
};

struct DomainInfo {
    std::string task_name, matcher_name, extractor_name;
    int32_t score_json_type = PARLEY_SCORE_JSON_FLOAT;
    bool sensitive_text = false;
};

class Domain {
  public:
    static std::unique_ptr<Domain> create(const NodeSpec &node);
    ~Domain();
    Domain(const Domain &) = delete;
    Domain &operator=(const Domain &) = delete;

    const std::string &node() const { return node_; }
    // Loads the node's `data`; returns {items, skipped}.
    std::pair<size_t, size_t> load(const std::string &path, bool skip_malformed);
    size_t size() const { return n_items_; }
    // Use only the first n items (0 = all).
    void limit(size_t n) {
        if (n && n < n_items_) n_items_ = n;
    }
    ItemInfo item(size_t index) const;
    std::string render(size_t index, int32_t what, std::string_view input = {}) const;
    // {belief, valid}
    std::pair<std::string, bool> extract(size_t index, int32_t mode, std::string_view text) const;
    double score(size_t index, std::string_view belief) const;
    const DomainInfo &info() const { return info_; }

  private:
    Domain() = default;
    [[noreturn]] void fail(const char *what, parley_status st, const parley_error &err) const;

    std::string node_;
    const parley_domain_vtable *vt_ = nullptr;
    void *self_ = nullptr;
    size_t n_items_ = 0;
    DomainInfo info_;
};

struct ChatMessage {
    std::string role, content;
};

// A message borrowed for the duration of `submit` (the backend copies what it keeps).
struct MessageView {
    std::string_view role, content;
};

struct GenerationRequest {
    std::vector<MessageView> messages; // borrowed: must outlive submit()
    std::string prompt; // raw prompt (no template) when set
    double temperature = 0.0, top_p = 1.0, min_p = 0.0;
    int32_t top_k = 0;
    std::optional<uint64_t> seed;
    int32_t max_tokens = 0;
    int32_t n = 1;
    std::vector<std::string> stop;
    uint64_t conversation = 0;
    uint32_t agent = 0;
    double deadline_s = 0;
    std::string extra_json;
    // Streaming (ABI 1.3): each final piece of choice `index`'s text, from a backend thread,
    // before the completion; a backend that cannot stream never calls it.
    std::function<void(uint32_t index, std::string_view text)> on_delta;
};

struct GenerationChoice {
    std::string text;
    int32_t finish_reason = PARLEY_FINISH_NONE;
    int64_t completion_tokens = 0;
    std::string reasoning; // (ABI 1.5) thinking output apart from the text; empty: none
};

struct GenerationResult {
    parley_status status = PARLEY_OK;
    std::string error;
    std::vector<GenerationChoice> choices;
    int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
    double queue_s = 0, prefill_s = 0, total_s = 0;
    int64_t reasoning_tokens = 0; // (ABI 1.5) of completion_tokens, spent on reasoning; -1 unknown
};

// How busy a backend is now (parley_backend_load, ABI 1.2).
struct BackendLoad {
    int64_t queued = 0;       // requests accepted, not yet running
    int64_t running = 0;      // requests being served
    int64_t kv_used = -1;     // KV cells held for requests being served; -1 unknown
    int64_t kv_capacity = -1; // KV cells in all; -1 unknown
};

// What a backend node's request cache (`cache = "path"`) did this run.
struct CacheUsage {
    std::string path;
    uint64_t hits = 0, misses = 0, stored = 0, entries = 0;
    int64_t prompt_tokens_saved = 0, completion_tokens_saved = 0; // what the hits cost when first computed
};

class RequestCache;

class Backend {
  public:
    using Callback = std::function<void(GenerationResult &&)>;

    static std::unique_ptr<Backend> create(const NodeSpec &node);
    ~Backend();
    Backend(const Backend &) = delete;
    Backend &operator=(const Backend &) = delete;

    const std::string &node() const { return node_; }
    // Thread-safe. The callback runs exactly once, on any thread. Throws if the request is refused.
    uint64_t submit(const GenerationRequest &request, Callback done);
    bool cancel(uint64_t id);
    std::string model() const { return model_; }
    int64_t context_size() const { return context_size_; }
    int32_t max_parallel() const { return max_parallel_; }
    // Renders messages with the model's chat template (empty optional if the backend cannot).
    std::optional<std::string> apply_template(const std::vector<ChatMessage> &messages) const;
    // Thread-safe, cheap. The backend's load now; nullopt when the plugin does not report it
    // (older than ABI 1.2, no get_load, or it returned an error).
    std::optional<BackendLoad> load() const;
    // Whether the plugin has get_load at all (it may still answer nullopt per call).
    bool reports_load() const;
    // The request cache's counts so far (for results.json's usage.cache); nullopt without a cache.
    std::optional<CacheUsage> cache_usage() const;

  private:
    Backend() = default;
    uint64_t submit_to_plugin(const GenerationRequest &request, Callback done);
    std::unique_ptr<RequestCache> cache_; // `cache = "path"`: answers repeated requests
    std::atomic<uint64_t> cached_ids_{0};
    std::string node_;
    const parley_backend_vtable *vt_ = nullptr;
    void *self_ = nullptr;
    std::string model_;
    int64_t context_size_ = 0;
    int32_t max_parallel_ = 0;
};

class Filter {
  public:
    static std::unique_ptr<Filter> create(const NodeSpec &node);
    ~Filter();
    Filter(const Filter &) = delete;
    Filter &operator=(const Filter &) = delete;
    // Rows the filter passes on are appended to `out`, one JSON object per line.
    void push(std::string_view row, std::string &out);
    void finish(std::string &out);
    std::string report();

  private:
    Filter() = default;
    std::string node_;
    const parley_filter_vtable *vt_ = nullptr;
    void *self_ = nullptr;
};

class Trainer {
  public:
    static std::unique_ptr<Trainer> create(const NodeSpec &node);
    ~Trainer();
    Trainer(const Trainer &) = delete;
    Trainer &operator=(const Trainer &) = delete;
    // Returns the trainer's JSON summary ({"model": ..., ...}).
    std::string train(const std::string &data_path, const std::string &output_dir);

  private:
    Trainer() = default;
    std::string node_;
    const parley_trainer_vtable *vt_ = nullptr;
    void *self_ = nullptr;
};

} // namespace parley::core
