#include "request_cache.hpp"

#include <parley/core/log.hpp>

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace parley::core {
namespace {

using json = nlohmann::json;
constexpr int kFormat = 1; // bump when the key or the entry changes meaning

std::string sha256_hex(const std::string &text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha256(), nullptr) != 1)
        throw ComponentError(PARLEY_ERR_RUNTIME, "request cache: SHA-256 failed");
    static const char *hex = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (unsigned int i = 0; i < n; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

json result_to_json(const GenerationResult &r) {
    json choices = json::array();
    for (auto &c : r.choices) {
        json o = {{"text", c.text}, {"finish_reason", c.finish_reason}, {"completion_tokens", c.completion_tokens}};
        if (!c.reasoning.empty()) o["reasoning"] = c.reasoning; // (absent in entries of older runs: none)
        choices.push_back(std::move(o));
    }
    json j = {{"choices", std::move(choices)},
              {"prompt_tokens", r.prompt_tokens},
              {"cached_tokens", r.cached_tokens},
              {"completion_tokens", r.completion_tokens}};
    if (r.reasoning_tokens != 0) j["reasoning_tokens"] = r.reasoning_tokens;
    return j;
}

GenerationResult result_from_json(const json &j) {
    GenerationResult r;
    for (auto &c : j.at("choices"))
        r.choices.push_back({c.at("text").get<std::string>(), c.at("finish_reason").get<int32_t>(), c.at("completion_tokens").get<int64_t>(),
                             c.value("reasoning", std::string())});
    r.prompt_tokens = j.at("prompt_tokens").get<int64_t>();
    r.cached_tokens = j.at("cached_tokens").get<int64_t>();
    r.completion_tokens = j.at("completion_tokens").get<int64_t>();
    r.reasoning_tokens = j.value("reasoning_tokens", int64_t{0});
    return r;
}

bool write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// An exclusive flock for the scope: one writer at a time across processes.
struct FileLock {
    int fd;
    explicit FileLock(int f) : fd(f) {
        while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
        }
    }
    ~FileLock() { ::flock(fd, LOCK_UN); }
};

} // namespace

json to_json(const CacheUsage &u) {
    return {{"path", u.path},
            {"hits", u.hits},
            {"misses", u.misses},
            {"stored", u.stored},
            {"entries", u.entries},
            {"prompt_tokens_saved", u.prompt_tokens_saved},
            {"completion_tokens_saved", u.completion_tokens_saved}};
}

json model_identity(const std::string &use, const std::string &model, const std::optional<std::string> &probe_rendering, const std::string &salt) {
    return {{"backend", use.substr(0, use.find('@'))},
            {"model", model},
            {"chat_template", probe_rendering ? json(sha256_hex(*probe_rendering)) : json(nullptr)},
            {"salt", salt}};
}

std::vector<ChatMessage> template_probe() {
    return {{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}};
}

bool cacheable(const GenerationResult &r) {
    if (r.status != PARLEY_OK || r.choices.empty()) return false;
    for (auto &c : r.choices)
        if (c.finish_reason == PARLEY_FINISH_ERROR || c.finish_reason == PARLEY_FINISH_CANCELLED) return false;
    return true;
}

RequestCache::RequestCache(const std::string &node, const std::filesystem::path &path, json identity)
    : node_(node), path_(path), identity_(std::move(identity)) {
    usage_.path = path.string();
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw ComponentError(PARLEY_ERR_IO, fmt::format("node '{}': cache = \"{}\": cannot open: {}", node, path.string(), std::strerror(errno)));
    {
        std::lock_guard<std::mutex> lock(mu_);
        read_new_entries();
    }
    deliverer_ = std::thread([this] { deliver_loop(); });
}

RequestCache::~RequestCache() {
    {
        std::lock_guard<std::mutex> lock(q_mu_);
        stopping_ = true;
    }
    q_cv_.notify_all();
    if (deliverer_.joinable()) deliverer_.join();
    if (fd_ >= 0) ::close(fd_);
}

std::string RequestCache::key(const GenerationRequest &q) const {
    json messages = json::array();
    for (auto &m : q.messages) messages.push_back({std::string(m.role), std::string(m.content)});
    json k = {{"format", kFormat},
              {"model", identity_},
              {"messages", std::move(messages)},
              {"prompt", q.prompt},
              {"temperature", q.temperature},
              {"top_p", q.top_p},
              {"top_k", q.top_k},
              {"min_p", q.min_p},
              {"seed", q.seed ? json(*q.seed) : json(nullptr)},
              {"max_tokens", q.max_tokens},
              {"n", q.n},
              {"stop", q.stop},
              {"extra_json", q.extra_json}};
    return sha256_hex(k.dump(-1, ' ', false, json::error_handler_t::replace));
}

// Parses the complete lines appended since read_offset_. A line that does not parse (torn by a
// writer killed mid-line and completed by the next writer's newline) is skipped; an incomplete
// last line is left for a later read.
void RequestCache::read_new_entries() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || static_cast<uint64_t>(st.st_size) <= read_offset_) return;
    std::string buf(static_cast<size_t>(st.st_size - static_cast<off_t>(read_offset_)), '\0');
    ssize_t got = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(read_offset_));
    if (got <= 0) return;
    buf.resize(static_cast<size_t>(got));
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (nl == start) continue;
        json j = json::parse(buf.begin() + static_cast<std::ptrdiff_t>(start), buf.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
        if (j.is_discarded() || !j.is_object() || j.value("format", 0) != kFormat || !j.contains("key") || !j["key"].is_string()) continue;
        try {
            index_.insert_or_assign(j["key"].get<std::string>(), result_from_json(j.at("result")));
        } catch (const std::exception &) {
            continue; // a line of another shape: not ours
        }
    }
    read_offset_ += start;
    usage_.entries = index_.size();
}

std::optional<GenerationResult> RequestCache::find(const std::string &key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
        read_new_entries(); // another process may have answered it meanwhile
        it = index_.find(key);
    }
    if (it == index_.end()) {
        ++usage_.misses;
        return std::nullopt;
    }
    ++usage_.hits;
    usage_.prompt_tokens_saved += it->second.prompt_tokens;
    usage_.completion_tokens_saved += it->second.completion_tokens;
    return it->second;
}

void RequestCache::store(const std::string &key, const GenerationResult &r) {
    const std::string line = json{{"format", kFormat}, {"key", key}, {"result", result_to_json(r)}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    {
        FileLock file_lock(fd_);
        // A writer killed mid-line left no newline: end its line, so this entry stands on its own.
        struct stat st {};
        char last = '\n';
        if (::fstat(fd_, &st) == 0 && st.st_size > 0) (void)::pread(fd_, &last, 1, st.st_size - 1);
        bool ok = (last == '\n' || write_all(fd_, "\n", 1)) && write_all(fd_, line.data(), line.size());
        if (!ok) {
            if (!write_failed_) logger().warn("node '{}': cannot append to the request cache {}: {}", node_, path_.string(), std::strerror(errno));
            write_failed_ = true;
            return;
        }
    }
    index_.insert_or_assign(key, r);
    ++usage_.stored;
    usage_.entries = index_.size();
}

void RequestCache::deliver_later(Backend::Callback done, GenerationResult r) {
    {
        std::lock_guard<std::mutex> lock(q_mu_);
        queue_.emplace_back(std::move(done), std::move(r));
    }
    q_cv_.notify_one();
}

void RequestCache::deliver_loop() {
    std::unique_lock<std::mutex> lock(q_mu_);
    for (;;) {
        q_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return; // stopping, nothing left
        auto [done, r] = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        try {
            done(std::move(r));
        } catch (const std::exception &e) {
            logger().warn("node '{}': a cached completion's callback threw: {}", node_, e.what());
        }
        lock.lock();
    }
}

CacheUsage RequestCache::usage() const {
    std::lock_guard<std::mutex> lock(mu_);
    return usage_;
}

} // namespace parley::core
