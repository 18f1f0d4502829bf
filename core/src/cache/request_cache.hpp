// The request cache of a backend node (`cache = "path"`): completions stored under a
// content address — SHA-256 of the model's identity and every request field that decides the
// completion — in an append-only JSON-lines file that several processes share. A re-run, a new
// trial, a changed extractor or metric re-sends the same requests and gets them back from here;
// see core/src/cache/README.md.
#pragma once

#include <parley/core/components.hpp>

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

namespace parley::core {

// usage.cache in results.json: {"path", "hits", "misses", "stored", "entries", "prompt_tokens_saved",
// "completion_tokens_saved"}.
nlohmann::json to_json(const CacheUsage &u);

// What the key says about the model besides the request: the backend component, the model name
// it reports, a hash of its chat template's rendering of a fixed conversation (when it has one),
// and the node's `cache_salt`.
nlohmann::json model_identity(const std::string &use, const std::string &model, const std::optional<std::string> &probe_rendering,
                              const std::string &salt);
// The fixed conversation model_identity's template hash renders.
std::vector<ChatMessage> template_probe();

class RequestCache {
  public:
    // Opens (creating it and its folder) the cache file and reads every complete entry; a torn
    // last line (a writer killed mid-line) is ignored. `identity` names the model: what the key
    // covers besides the request. Throws ComponentError naming `node` when the file cannot be used.
    RequestCache(const std::string &node, const std::filesystem::path &path, nlohmann::json identity);
    ~RequestCache(); // delivers what is still queued, then joins its thread
    RequestCache(const RequestCache &) = delete;
    RequestCache &operator=(const RequestCache &) = delete;

    // The content address of a request (hex SHA-256). Routing hints (conversation, agent) and the
    // deadline are not part of it.
    std::string key(const GenerationRequest &q) const;
    // The stored completion, counted as a hit; else a miss. A miss first reads what other
    // processes appended since.
    std::optional<GenerationResult> find(const std::string &key);
    // Appends a successful completion (one write under an exclusive file lock) and indexes it.
    void store(const std::string &key, const GenerationResult &r);
    // Runs `done(r)` on the cache's own thread (a hit is never answered inside submit).
    void deliver_later(Backend::Callback done, GenerationResult r);
    CacheUsage usage() const;

  private:
    void read_new_entries(); // mu_ held
    void deliver_loop();

    std::string node_;
    std::filesystem::path path_;
    nlohmann::json identity_; // the model part of every key
    int fd_ = -1;
    mutable std::mutex mu_;
    std::unordered_map<std::string, GenerationResult> index_;
    uint64_t read_offset_ = 0; // the file is indexed up to here (the end of its last complete line)
    CacheUsage usage_;
    bool write_failed_ = false; // logged once

    std::mutex q_mu_;
    std::condition_variable q_cv_;
    std::deque<std::pair<Backend::Callback, GenerationResult>> queue_;
    bool stopping_ = false;
    std::thread deliverer_;
};

// Whether a completion may be stored: it succeeded and no choice was cut by an error or a cancel.
bool cacheable(const GenerationResult &r);

} // namespace parley::core
