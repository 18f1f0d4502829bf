#include "openai_backend.hpp"
#include "params.hpp"
#include "response.hpp"

#include "common/replica_list.hpp"
#include "rate_limit.hpp"
#include "request_body.hpp"
#include "router.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <queue>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace parley::openai {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr const char *kLog = "openai";

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
Clock::duration to_duration(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::string fmt_s(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", s);
    return b;
}

[[noreturn]] void bad_config(const std::string &what) {
    throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, "openai/backend: " + what);
}

// The string form of a config key that may be a string or an array of strings.
std::vector<std::string> read_urls(const parley::Config &cfg, bool allow_empty) {
    const parley_host_api &h = parley::host();
    std::vector<std::string> raw;
    size_t n = 0;
    parley_status st = h.config_get_array_size(cfg.raw(), "url", &n);
    if (st == PARLEY_OK) {
        for (size_t i = 0; i < n; ++i) {
            parley_str s{};
            if (h.config_get_array_string(cfg.raw(), "url", i, &s) != PARLEY_OK) bad_config("`url` must be a string or an array of strings");
            raw.emplace_back(s.data ? std::string(s.data, s.size) : std::string());
        }
    } else if (st == PARLEY_ERR_TYPE) {
        parley_str s{};
        if (h.config_get_string(cfg.raw(), "url", &s) != PARLEY_OK) bad_config("`url` must be a string or an array of strings");
        // One string may list several replicas separated by commas or spaces.
        std::string all = s.data ? std::string(s.data, s.size) : std::string();
        std::string cur;
        for (char c : all + ",") {
            if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
                if (!cur.empty()) raw.push_back(cur);
                cur.clear();
            } else {
                cur += c;
            }
        }
    } else {
        bad_config("`url` is required (a replica base URL such as http://127.0.0.1:8080, or an array of them)");
    }
    std::vector<std::string> out;
    for (auto u : raw) {
        while (!u.empty() && u.back() == '/') u.pop_back();
        if (u.size() >= 3 && u.compare(u.size() - 3, 3, "/v1") == 0) u.resize(u.size() - 3); // an OpenAI base_url
        if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
            bad_config("`url` entry '" + u + "' must start with http:// or https://");
        if (std::find(out.begin(), out.end(), u) != out.end()) bad_config("`url` lists '" + u + "' twice");
        out.push_back(u);
    }
    if (out.empty() && !allow_empty) bad_config("`url` lists no replica (or give `replicas_from`)");
    return out;
}

// `extra_body`, `chat_template_kwargs`: a JSON object as a string, or (with the Parley host) a TOML table.
json read_json_object(const parley::Config &cfg, const char *key) {
    const parley_host_api &h = parley::host();
    const std::string name = std::string("`") + key + "`";
    parley_str s{};
    parley_status st = h.config_get_string(cfg.raw(), key, &s);
    std::string text;
    if (st == PARLEY_OK) {
        text.assign(s.data ? s.data : "", s.size);
    } else if (st == PARLEY_ERR_NOT_FOUND) {
        return json::object();
    } else {
        auto table = cfg.json(key); // a TOML table, through a host-made buffer (ABI 1.1)
        if (!table) bad_config(name + " must be a JSON object (string) or a table");
        text = *table;
    }
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) bad_config(name + " is not a JSON object");
    return j;
}

// `extra_body` with `chat_template_kwargs` (vLLM's and SGLang's body field, e.g. enable_thinking)
// folded in: the node's kwargs over any that extra_body already names.
json read_extra_body(const parley::Config &cfg) {
    json body = read_json_object(cfg, "extra_body");
    json kwargs = read_json_object(cfg, "chat_template_kwargs");
    if (kwargs.empty()) return body;
    json &into = body["chat_template_kwargs"];
    if (!into.is_object()) into = json::object();
    for (auto &[k, v] : kwargs.items()) into[k] = v;
    return body;
}

bool retryable_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_WEIRD_SERVER_REPLY:
        return true;
    default:
        return false;
    }
}

// Failures that say the replica itself is unreachable or broken (not just busy or this stream).
bool replica_fault(CURLcode rc) { return rc != CURLE_HTTP2_STREAM && rc != CURLE_SEND_FAIL_REWIND; }

size_t write_to_string(char *ptr, size_t size, size_t nmemb, void *user) {
    static_cast<std::string *>(user)->append(ptr, size * nmemb);
    return size * nmemb;
}

void curl_global() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Tag {
    enum Kind { REQUEST, PROBE, MODELS, PROPS } kind;
    int replica = -1;
};

struct Job : Tag {
    Job() : Tag{REQUEST, -1} {}
    uint64_t id = 0;
    parley::Backend::Done done;
    std::string body_text;  // the POST body, kept for retries
    bool needs_model = false; // written before the server named the model: the first attempt adds it
    json body;              // extra fields merged before the model was known: rendered at the first attempt
    const char *path = "/v1/chat/completions";
    uint64_t conversation = 0;
    Clock::time_point submitted, started, deadline, next_at;
    bool has_deadline = false, has_started = false, waiting = false;
    int attempts = 0;
    int last_failed = -1;
    double est_tokens = 0; // the rate limiter's estimate of one attempt (prompt + max_tokens x n)
    CURL *easy = nullptr;
    std::string response;
    std::string last_error;     // for the completion: may quote the server's message
    std::string last_error_log; // for the log: status and URL only (P14: no server text)
    char errbuf[CURL_ERROR_SIZE] = {0};
};

struct Replica {
    explicit Replica(std::string u) : url(std::move(u)) {}
    std::string url;
    std::atomic<int64_t> outstanding{0};
    std::atomic<uint64_t> sent{0}, succeeded{0}, failed{0};
    std::atomic<bool> up{true};
    std::atomic<int64_t> limit{0};        // max_in_flight for this replica
    std::atomic<bool> props_pending{false}; // asking llama-server's /props; no dispatch meanwhile
    std::atomic<bool> retired{false};       // gone from `replicas_from`: no new requests
    // Worker-only.
    Clock::time_point down_until{};
    Clock::time_point paused_until{}; // a 429/503 said Retry-After: nothing is sent to it before
    int strikes = 0;
    Tag probe_tag{Tag::PROBE, -1};
    CURL *probe = nullptr;
    std::string probe_body;
    Tag models_tag{Tag::MODELS, -1};
    CURL *models = nullptr;
    std::string models_body;
    Tag props_tag{Tag::PROPS, -1};
    CURL *props = nullptr;
    std::string props_body;
    bool props_startup = false; // this query gates the first dispatch
};

// The longest Retry-After honoured (a bogus value must not stall a run).
constexpr double kMaxRetryAfterS = 60;

using TimedId = std::pair<Clock::time_point, uint64_t>;
using MinHeap = std::priority_queue<TimedId, std::vector<TimedId>, std::greater<TimedId>>;

} // namespace

struct OpenAIBackend::Impl {
    // ---- configuration (immutable after construction) ----
    std::string configured_model;
    std::string api_key;
    double timeout_s = 600, connect_timeout_s = 10, backoff_initial_s = 0.5, backoff_factor = 2.0;
    double load_factor = 1.25, cooldown_s = 1.0;
    int max_retries = 3;
    int64_t max_in_flight = 256, max_host_connections = 256;
    bool affinity = true;
    bool auto_limit = false; // max_in_flight not configured: llama-server replicas get total_slots
    json extra_body = json::object();
    RateLimiter limiter; // requests_per_minute, tokens_per_minute (worker-only after construction)

    // Append-only: `replicas_from` adds replicas while running (and retires those it drops), so
    // indices stay valid; capacity is reserved, so other threads read the first n_replicas
    // entries without a lock.
    static constexpr size_t kMaxReplicas = 4096;
    std::vector<std::unique_ptr<Replica>> replicas;
    std::atomic<size_t> n_replicas{0};
    std::shared_ptr<const Ring> ring; // std::atomic_load/atomic_store: replica_of() reads it from any thread
    std::vector<std::string> configured_urls;
    std::string replicas_from;
    double discovery_interval_s = 1;
    Clock::time_point next_rescan{};
    CURLM *multi = nullptr;
    // libcurl's socket interface: curl tells which sockets to watch (on_socket) and when to call
    // back (on_timer); the worker waits in epoll and runs only the transfers whose sockets are
    // ready. curl_multi_perform instead visits every transfer on every wake-up (a poll() per
    // transfer), which made the client's CPU per request grow with the requests in flight.
    int epoll_fd = -1, wake_fd = -1;
    std::optional<Clock::time_point> curl_timer; // when curl wants CURL_SOCKET_TIMEOUT
    // Per socket (indexed by fd): what epoll watches, whether curl wants it now, and whether it is
    // a connection curl opened through on_open_socket. Such a keep-alive connection stays
    // registered for reading between requests, so reusing it costs no epoll_ctl (three calls a
    // request before); an event on it while curl does not want it (the server closed it)
    // removes it then, and on_close_socket forgets it when curl closes it (its number comes
    // back). Other sockets (a resolver's) are removed as soon as curl lets go of them.
    std::vector<uint8_t> watched;
    // The worker is about to wait in epoll, and whether submit/cancel left work since it last
    // looked: a submit wakes the worker (an eventfd write, and a read back) only when it sleeps.
    // Completion callbacks submit the next request on the worker's own thread: no wake-up at all.
    std::atomic<bool> sleeping{false}, work_pending{false};
    curl_slist *headers = nullptr;     // POST
    curl_slist *get_headers = nullptr; // GET (probes, models)

    // ---- shared with submit/cancel/info ----
    mutable std::mutex mu;
    std::condition_variable model_cv;
    std::vector<std::unique_ptr<Job>> incoming;
    std::vector<uint64_t> cancels;
    std::unordered_set<uint64_t> live;
    std::mutex causes_mu;                           // guards causes_logged
    std::unordered_set<std::string> causes_logged; // failure causes already in the log (fail)
    std::atomic<int64_t> n_live{0}; // live.size(), for load() without the lock
    uint64_t next_id = 0;
    bool stopping = false;
    bool model_ready = false;
    std::string model;
    std::atomic<bool> model_published{false}; // `model` is final: read without the lock

    int64_t context_size = 0;

    // ---- worker-only ----
    std::unordered_map<uint64_t, std::unique_ptr<Job>> jobs;
    std::deque<uint64_t> ready;
    MinHeap retry_heap, deadline_heap;
    std::vector<CURL *> spare_easy;
    std::vector<std::pair<CURL *, CURLcode>> done_msgs; // drain()'s batch
    uint64_t rr = 0;
    std::mt19937_64 rng{std::random_device{}()};
    bool model_known = false;        // worker's copy of model_ready
    int props_startup_left = 0;      // startup GET /props still out: nothing is dispatched before
    int discovery_round = 0;
    int discovery_pending = 0;
    bool discovery_answered = false; // some replica answered HTTP in this round
    bool discovery_done = false;
    Clock::time_point discovery_next{};

    std::thread worker;

    // ------------------------------------------------------------------------------------------
    explicit Impl(const parley::Config &cfg) {
        // Types, defaults and ranges: the specs in params.hpp, checked and applied by the host.
        replicas_from = cfg.get("replicas_from", "");
        discovery_interval_s = cfg.get<double>(kDiscoveryInterval);
        configured_urls = read_urls(cfg, !replicas_from.empty());
        auto urls = listed_urls();
        configured_model = cfg.get<std::string>(kModel);
        std::string key_env = cfg.get<std::string>(kApiKeyEnv);
        if (!key_env.empty())
            if (const char *k = std::getenv(key_env.c_str()); k && *k) api_key = k;
        timeout_s = cfg.get<double>(kTimeout);
        connect_timeout_s = cfg.get<double>(kConnectTimeout);
        max_retries = cfg.get<int>(kMaxRetries);
        backoff_initial_s = cfg.get<double>(kBackoffInitial);
        backoff_factor = cfg.get<double>(kBackoffFactor);
        max_in_flight = cfg.get("max_in_flight", int64_t{256}); // computed default: absent means "adapt" (auto_limit)
        auto_limit = !cfg.has("max_in_flight");
        max_host_connections = cfg.get<int64_t>(kMaxHostConnections);
        extra_body = read_extra_body(cfg);
        affinity = cfg.get<bool>(kAffinity);
        load_factor = cfg.get<double>(kLoadFactor);
        cooldown_s = cfg.get<double>(kCooldown);
        limiter = RateLimiter(cfg.get<double>(kRequestsPerMinute), cfg.get<double>(kTokensPerMinute), Clock::now());
        if (max_host_connections <= 0) max_host_connections = max_in_flight;

        replicas.reserve(kMaxReplicas);
        for (auto &u : urls) add_replica(u);
        std::atomic_store(&ring, std::shared_ptr<const Ring>(std::make_shared<Ring>(urls)));
        if (!configured_model.empty()) {
            model = configured_model;
            model_ready = model_known = true;
            model_published.store(true, std::memory_order_release);
        }

        curl_global();
        multi = curl_multi_init();
        if (!multi) throw parley::Error(PARLEY_ERR_RUNTIME, "openai/backend: curl_multi_init failed");
        epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (epoll_fd < 0 || wake_fd < 0) throw parley::Error(PARLEY_ERR_RUNTIME, "openai/backend: epoll/eventfd failed");
        epoll_event wev{};
        wev.events = EPOLLIN;
        wev.data.fd = wake_fd;
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &wev);
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
        curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
        curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
        curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(max_host_connections));
        curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(max_host_connections * static_cast<int64_t>(std::max<size_t>(replicas.size(), 4))));
        curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, "Accept: application/json");
        headers = curl_slist_append(headers, "Expect:"); // no 100-continue round trip for long prompts
        if (!api_key.empty()) {
            headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key).c_str());
            get_headers = curl_slist_append(get_headers, ("Authorization: Bearer " + api_key).c_str());
        }
        get_headers = curl_slist_append(get_headers, "Accept: application/json");

        std::string list;
        for (auto &r : replicas) list += (list.empty() ? "" : ", ") + r->url;
        parley::log_info(kLog, "replicas: " + list + (api_key.empty() ? "" : " (with API key)") +
                                   "; max_in_flight " + std::to_string(max_in_flight) + " per replica");
        worker = std::thread([this] { run(); });
    }

    ~Impl() {
        {
            std::lock_guard<std::mutex> lock(mu);
            stopping = true;
        }
        wake();
        if (worker.joinable()) worker.join();
        for (CURL *e : spare_easy) curl_easy_cleanup(e);
        if (multi) curl_multi_cleanup(multi);
        if (epoll_fd >= 0) ::close(epoll_fd);
        if (wake_fd >= 0) ::close(wake_fd);
        curl_slist_free_all(headers);
        curl_slist_free_all(get_headers);
    }

    // ---- the calling side ---------------------------------------------------------------------
    uint64_t submit(parley::Request &&req, parley::Backend::Done &&done) {
        auto job = std::make_unique<Job>();
        if (!req.prompt.empty()) job->path = "/v1/completions";
        else if (req.messages.empty()) throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, "openai/backend: a request needs messages or a prompt");
        const std::string_view known_model = model_published.load(std::memory_order_acquire) ? std::string_view(model) : std::string_view();
        job->body_text = write_body(req, known_model);
        job->needs_model = known_model.empty();
        size_t prompt_chars = req.prompt.size();
        for (auto &m : req.messages) prompt_chars += m.role.size() + m.content.size();
        job->est_tokens = estimate_tokens(prompt_chars, req.max_tokens, req.n);
        if (!extra_body.empty() || !req.extra_json.empty()) {
            // extra_body, then the request's extra_json, override the mapped fields.
            json b = json::parse(job->body_text, nullptr, false);
            for (auto &[k, v] : extra_body.items()) b[k] = v;
            if (!req.extra_json.empty()) {
                json x = json::parse(req.extra_json, nullptr, false);
                if (x.is_discarded() || !x.is_object())
                    throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, "openai/backend: the request's extra_json is not a JSON object");
                for (auto &[k, v] : x.items()) b[k] = v;
            }
            if (job->needs_model) {
                job->body = std::move(b);
                job->body_text.clear();
            } else {
                job->body_text = b.dump(-1, ' ', false, json::error_handler_t::replace);
            }
        }
        job->conversation = req.conversation;
        job->done = std::move(done);
        job->submitted = Clock::now();
        double d = req.deadline_s > 0 ? req.deadline_s : timeout_s;
        if (d > 0) {
            job->has_deadline = true;
            job->deadline = job->submitted + to_duration(d);
        }
        uint64_t id;
        {
            std::lock_guard<std::mutex> lock(mu);
            if (stopping) throw parley::Error(PARLEY_ERR_UNAVAILABLE, "openai/backend: shutting down");
            id = ++next_id;
            job->id = id;
            live.insert(id);
            n_live.store(static_cast<int64_t>(live.size()), std::memory_order_relaxed);
            incoming.push_back(std::move(job));
            work_pending.store(true);
        }
        if (sleeping.load()) wake();
        return id;
    }

    bool cancel(uint64_t id) {
        {
            std::lock_guard<std::mutex> lock(mu);
            if (!live.count(id)) return false;
            cancels.push_back(id);
            work_pending.store(true);
        }
        wake();
        return true;
    }

    parley::BackendInfo info() {
        std::unique_lock<std::mutex> lock(mu);
        // The first call may wait briefly for the model name the worker asks the server for.
        model_cv.wait_for(lock, std::chrono::duration<double>(connect_timeout_s + 5), [&] { return model_ready || stopping; });
        return {model, context_size, 0};
    }

    // ---- replica discovery --------------------------------------------------------------------
    // `url` plus the http(s) URLs `replicas_from` lists now.
    std::vector<std::string> listed_urls() const {
        std::vector<std::string> urls = configured_urls;
        if (!replicas_from.empty())
            for (auto &u : parley::common::http_urls(parley::common::read_replica_list(replicas_from)))
                if (std::find(urls.begin(), urls.end(), u) == urls.end()) urls.push_back(u);
        return urls;
    }

    void add_replica(const std::string &url) {
        if (replicas.size() >= kMaxReplicas) bad_config("more than 4096 replicas");
        const int i = static_cast<int>(replicas.size());
        replicas.push_back(std::make_unique<Replica>(url));
        replicas.back()->probe_tag.replica = replicas.back()->models_tag.replica = replicas.back()->props_tag.replica = i;
        replicas.back()->limit = max_in_flight;
        n_replicas.store(replicas.size(), std::memory_order_release);
    }

    // Worker: re-reads `replicas_from`; new URLs become replicas (probed like any), dropped ones
    // are retired (their requests in flight finish), and a URL listed again comes back.
    void rescan_replicas(Clock::time_point now) {
        if (replicas_from.empty() || now < next_rescan) return;
        next_rescan = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(discovery_interval_s));
        const auto urls = listed_urls();
        bool changed = false;
        for (auto &u : urls)
            if (std::none_of(replicas.begin(), replicas.end(), [&](auto &r) { return r->url == u; })) {
                add_replica(u);
                if (auto_limit) start_props(static_cast<int>(replicas.size()) - 1, false);
                changed = true;
            }
        for (auto &r : replicas) {
            const bool gone = std::find(urls.begin(), urls.end(), r->url) == urls.end();
            if (r->retired.exchange(gone) != gone) changed = true;
        }
        if (!changed) return;
        std::vector<std::string> all, live;
        for (auto &r : replicas) {
            all.push_back(r->url);
            if (!r->retired) live.push_back(r->url);
        }
        std::atomic_store(&ring, std::shared_ptr<const Ring>(std::make_shared<Ring>(all)));
        std::string list;
        for (auto &u : live) list += (list.empty() ? "" : ", ") + u;
        parley::log_info(kLog, "replicas: " + std::to_string(live.size()) + " (" + list + ")");
    }

    // Lock-free: attempts on the wire over all replicas (running); the other accepted requests
    // wait in the plugin for a replica below max_in_flight, a retry's backoff or the model name
    // (queued). The servers' KV caches are not visible from here.
    parley::BackendLoad load() const {
        parley::BackendLoad l;
        for (size_t i = 0, n = n_replicas.load(std::memory_order_acquire); i < n; ++i)
            l.running += replicas[i]->outstanding.load(std::memory_order_relaxed);
        l.queued = std::max<int64_t>(0, n_live.load(std::memory_order_relaxed) - l.running);
        l.kv_used = -1;
        l.kv_capacity = -1;
        return l;
    }

    // ---- the worker ---------------------------------------------------------------------------
    void run() {
        start_discovery(Clock::now());
        if (auto_limit)
            for (size_t i = 0; i < replicas.size(); ++i)
                if (start_props(static_cast<int>(i), true)) ++props_startup_left;
        for (;;) {
            std::vector<std::unique_ptr<Job>> in;
            std::vector<uint64_t> cx;
            bool stop;
            {
                std::lock_guard<std::mutex> lock(mu);
                in.swap(incoming);
                cx.swap(cancels);
                stop = stopping;
                work_pending.store(false);
            }
            for (auto &j : in) {
                uint64_t id = j->id;
                if (j->has_deadline) deadline_heap.emplace(j->deadline, id);
                ready.push_back(id);
                jobs.emplace(id, std::move(j));
            }
            if (stop) break;
            for (uint64_t id : cx) {
                auto it = jobs.find(id);
                if (it != jobs.end()) fail(*it->second, PARLEY_ERR_CANCELLED, "cancelled");
            }
            auto now = Clock::now();
            expire(now);
            promote(now);
            rescan_replicas(now);
            probe_replicas(now);
            discovery_tick(now);
            if (model_known && props_startup_left == 0) dispatch(now);
            wait_and_transfer();
            drain();
        }
        // Shutting down: everything outstanding is cancelled, exactly once.
        std::vector<uint64_t> ids;
        for (auto &[id, j] : jobs) ids.push_back(id);
        std::sort(ids.begin(), ids.end());
        for (uint64_t id : ids) fail(*jobs.at(id), PARLEY_ERR_CANCELLED, "cancelled: backend destroyed");
        for (auto &r : replicas) {
            for (CURL **h : {&r->probe, &r->models, &r->props})
                if (*h) {
                    curl_multi_remove_handle(multi, *h);
                    curl_easy_cleanup(*h);
                    *h = nullptr;
                }
        }
        {
            std::lock_guard<std::mutex> lock(mu);
            model_ready = true;
        }
        model_cv.notify_all();
    }

    // ---- libcurl's socket interface ------------------------------------------------------------
    void wake() {
        if (wake_fd < 0) return;
        const uint64_t one = 1;
        (void)!::write(wake_fd, &one, sizeof one);
    }

    // `watched` bits: what epoll has registered, whether curl wants the socket now, and whether
    // it is a connection opened by on_open_socket (closed through on_close_socket).
    static constexpr uint8_t kIn = 1, kOut = 2, kWanted = 4, kConnection = 8;

    static int on_socket(CURL *, curl_socket_t s, int what, void *userp, void *) {
        static_cast<Impl *>(userp)->watch(s, what);
        return 0;
    }

    void watch(int fd, int what) {
        if (fd < 0) return;
        if (static_cast<size_t>(fd) >= watched.size()) watched.resize(static_cast<size_t>(fd) + 1, 0);
        uint8_t &w = watched[static_cast<size_t>(fd)];
        // Not wanted any more: a connection stays registered for reading (a keep-alive connection
        // is usually asked for again soon), but never for writing, which would fire at once.
        const uint8_t want = what == CURL_POLL_REMOVE ? (w & kConnection ? (w & kIn) : 0)
                                                      : static_cast<uint8_t>((what & CURL_POLL_IN ? kIn : 0) | (what & CURL_POLL_OUT ? kOut : 0));
        const uint8_t registered = w & (kIn | kOut);
        if (want != registered) {
            epoll_event ev{};
            ev.events = (want & kIn ? EPOLLIN : 0u) | (want & kOut ? EPOLLOUT : 0u);
            ev.data.fd = fd;
            if (want == 0) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
            else if (epoll_ctl(epoll_fd, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) // the table was wrong: either way works
                epoll_ctl(epoll_fd, registered ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
        }
        w = static_cast<uint8_t>(want | (what == CURL_POLL_REMOVE ? 0 : kWanted) | (w & kConnection));
    }

    // Every connection's socket: opened here (as curl would) so that its entry starts afresh.
    static curl_socket_t on_open_socket(void *userp, curlsocktype, curl_sockaddr *addr) {
        auto *self = static_cast<Impl *>(userp);
        const curl_socket_t fd = ::socket(addr->family, addr->socktype, addr->protocol);
        if (fd >= 0) {
            if (static_cast<size_t>(fd) >= self->watched.size()) self->watched.resize(static_cast<size_t>(fd) + 1, 0);
            self->watched[static_cast<size_t>(fd)] = kConnection;
        }
        return fd;
    }

    // Every socket curl closes: epoll drops a closed descriptor by itself; forget it here.
    static int on_close_socket(void *userp, curl_socket_t fd) {
        auto *self = static_cast<Impl *>(userp);
        if (fd >= 0 && static_cast<size_t>(fd) < self->watched.size()) self->watched[static_cast<size_t>(fd)] = 0;
        return ::close(fd);
    }

    static int on_timer(CURLM *, long timeout_ms, void *userp) {
        auto *self = static_cast<Impl *>(userp);
        if (timeout_ms < 0) self->curl_timer.reset();
        else self->curl_timer = Clock::now() + std::chrono::milliseconds(timeout_ms);
        return 0;
    }

    // Waits for a ready socket, a wake-up (submit, cancel, shutdown), curl's timer or the plugin's
    // own next deadline, then lets curl run the transfers that are ready.
    void wait_and_transfer() {
        auto now = Clock::now();
        int wait_ms = next_timeout_ms(now);
        if (curl_timer) wait_ms = std::min(wait_ms, std::max(0, static_cast<int>(std::ceil(seconds(*curl_timer - now) * 1000))));
        sleeping.store(true);
        if (work_pending.load()) wait_ms = 0; // a submit came in meanwhile (and did not wake us)
        epoll_event events[256];
        const int n = epoll_wait(epoll_fd, events, 256, wait_ms);
        sleeping.store(false);
        int running = 0;
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == wake_fd) {
                uint64_t v;
                (void)!::read(wake_fd, &v, sizeof v);
                continue;
            }
            if (static_cast<size_t>(fd) < watched.size() && !(watched[static_cast<size_t>(fd)] & kWanted)) {
                // An idle keep-alive connection became readable (the server closed it): stop
                // watching it; curl finds it dead when it next looks.
                epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
                watched[static_cast<size_t>(fd)] &= kConnection;
                continue;
            }
            int flags = 0;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) flags |= CURL_CSELECT_IN;
            if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
            if (events[i].events & EPOLLERR) flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(multi, events[i].data.fd, flags, &running);
        }
        if (curl_timer && Clock::now() >= *curl_timer) {
            curl_timer.reset();
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
    }

    int next_timeout_ms(Clock::time_point now) {
        double t = 1.0;
        if (model_known && props_startup_left == 0 && !ready.empty() && can_dispatch(now)) t = std::min(t, seconds(rate_limited_until(now) - now));
        for (auto &r : replicas)
            if (r->paused_until > now) t = std::min(t, seconds(r->paused_until - now));
        if (!retry_heap.empty()) t = std::min(t, seconds(retry_heap.top().first - now));
        if (!replicas_from.empty()) t = std::min(t, seconds(next_rescan - now));
        if (!deadline_heap.empty()) t = std::min(t, seconds(deadline_heap.top().first - now));
        for (auto &r : replicas)
            if (!r->up.load() && !r->probe) t = std::min(t, seconds(r->down_until - now));
        if (!model_known && discovery_pending == 0) t = std::min(t, seconds(discovery_next - now));
        if (t <= 0) return 0;
        return static_cast<int>(std::ceil(t * 1000));
    }

    // Whether a replica can take no request now: at its limit, being asked its slot count,
    // retired, or paused by a Retry-After.
    bool is_full(const Replica &r, Clock::time_point now) const {
        return r.outstanding.load() >= r.limit.load() || r.props_pending.load() || r.retired.load() || now < r.paused_until;
    }

    // When the rate limiter lets the first queued request go (now when it does, or no limit).
    Clock::time_point rate_limited_until(Clock::time_point now) {
        if (!limiter.enabled() || ready.empty()) return now;
        auto it = jobs.find(ready.front());
        return limiter.ready_at(now, it == jobs.end() ? 0.0 : it->second->est_tokens);
    }

    // Whether choose_replica would find a replica now (same rule: healthy ones while any is).
    bool can_dispatch(Clock::time_point now) const {
        bool any_up = false, open_up = false, open_any = false;
        for (auto &r : replicas) {
            bool open = !is_full(*r, now);
            bool up = r->up.load();
            any_up = any_up || up;
            open_up = open_up || (open && up);
            open_any = open_any || open;
        }
        return any_up ? open_up : open_any;
    }

    void expire(Clock::time_point now) {
        while (!deadline_heap.empty() && deadline_heap.top().first <= now) {
            uint64_t id = deadline_heap.top().second;
            deadline_heap.pop();
            auto it = jobs.find(id);
            if (it == jobs.end()) continue;
            Job &j = *it->second;
            fail(j, PARLEY_ERR_UNAVAILABLE, deadline_message(j, now), deadline_message(j, now, true));
        }
    }

    std::string deadline_message(const Job &j, Clock::time_point now, bool for_log = false) const {
        std::string m = "deadline exceeded after " + fmt_s(seconds(now - j.submitted)) + " s (" + std::to_string(j.attempts) + " attempt" +
                        (j.attempts == 1 ? "" : "s");
        const std::string &last = for_log ? j.last_error_log : j.last_error;
        if (!last.empty()) m += "; last error: " + last;
        return m + ")";
    }

    void promote(Clock::time_point now) {
        std::vector<uint64_t> due;
        while (!retry_heap.empty() && retry_heap.top().first <= now) {
            auto [t, id] = retry_heap.top();
            retry_heap.pop();
            auto it = jobs.find(id);
            if (it == jobs.end() || !it->second->waiting || it->second->next_at != t) continue;
            it->second->waiting = false;
            due.push_back(id);
        }
        // Retries go ahead of first attempts, oldest first.
        for (auto it = due.rbegin(); it != due.rend(); ++it) ready.push_front(*it);
    }

    void dispatch(Clock::time_point now) {
        if (replicas.empty()) return; // `replicas_from` lists none yet
        const std::shared_ptr<const Ring> ring_now = std::atomic_load(&ring);
        std::vector<ReplicaLoad> loads(replicas.size());
        for (size_t i = 0; i < replicas.size(); ++i) {
            loads[i].outstanding = replicas[i]->outstanding.load();
            loads[i].up = replicas[i]->up.load();
            loads[i].full = is_full(*replicas[i], now);
        }
        while (!ready.empty()) {
            auto it = jobs.find(ready.front());
            if (it == jobs.end() || it->second->easy || it->second->waiting) {
                ready.pop_front();
                continue;
            }
            Job &j = *it->second;
            RouteInput in;
            in.conversation = j.conversation;
            in.affinity = affinity;
            in.load_factor = load_factor;
            in.avoid = j.last_failed;
            int r = choose_replica(*ring_now, loads, in, rr);
            if (r < 0) break; // every replica is full: wait for a completion
            if (!limiter.admit(now, j.est_tokens)) break; // over requests/tokens per minute: wait for refill
            ready.pop_front();
            if (start_attempt(j, r, now)) {
                loads[r].outstanding++;
                loads[r].full = loads[r].outstanding >= replicas[r]->limit.load();
            }
        }
    }

    CURL *acquire_easy() {
        if (!spare_easy.empty()) {
            CURL *e = spare_easy.back();
            spare_easy.pop_back();
            curl_easy_reset(e);
            return e;
        }
        return curl_easy_init();
    }
    void release_easy(CURL *e) {
        if (spare_easy.size() < 1024) spare_easy.push_back(e);
        else curl_easy_cleanup(e);
    }

    void common_options(CURL *e, const std::string &url, long timeout_ms) {
        curl_easy_setopt(e, CURLOPT_URL, url.c_str());
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_s * 1000));
        if (timeout_ms >= 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, std::max(1L, timeout_ms)); // < 0: none
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        if (url.rfind("http://", 0) == 0) curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &write_to_string);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Impl::on_open_socket);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::on_close_socket);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    }

    bool start_attempt(Job &j, int r, Clock::time_point now) {
        Replica &rep = *replicas[r];
        if (j.needs_model) {
            if (j.body_text.empty()) { // extra fields were merged: they may name the model themselves
                if (!j.body.contains("model")) j.body["model"] = model;
                j.body_text = j.body.dump(-1, ' ', false, json::error_handler_t::replace);
                j.body = json();
            } else {
                j.body_text = with_model(j.body_text, model);
            }
            j.needs_model = false;
        }
        if (!j.has_started) {
            j.started = now;
            j.has_started = true;
        }
        long timeout_ms = j.has_deadline ? std::max(1L, static_cast<long>(std::ceil(seconds(j.deadline - now) * 1000))) : -1;
        CURL *e = acquire_easy();
        if (!e) {
            fail(j, PARLEY_ERR_OUT_OF_MEMORY, "curl_easy_init failed");
            return false;
        }
        std::string url = rep.url + j.path;
        common_options(e, url, timeout_ms);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, j.body_text.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(j.body_text.size()));
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &j.response);
        curl_easy_setopt(e, CURLOPT_PRIVATE, static_cast<Tag *>(&j));
        j.errbuf[0] = 0;
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j.errbuf);
        j.response.clear();
        j.replica = r;
        ++j.attempts;
        if (curl_multi_add_handle(multi, e) != CURLM_OK) {
            release_easy(e);
            j.replica = -1;
            fail(j, PARLEY_ERR_RUNTIME, "curl_multi_add_handle failed");
            return false;
        }
        j.easy = e;
        rep.outstanding++;
        rep.sent++;
        return true;
    }

    // Takes an in-flight request off the wire (cancel, deadline, or after it finished).
    void detach(Job &j) {
        if (!j.easy) return;
        curl_multi_remove_handle(multi, j.easy);
        release_easy(j.easy);
        j.easy = nullptr;
        if (j.replica >= 0) replicas[j.replica]->outstanding--;
    }

    void deliver(Job &j, parley::Completion &&c) {
        detach(j);
        auto now = Clock::now();
        c.queue_s = seconds((j.has_started ? j.started : now) - j.submitted);
        c.total_s = seconds(now - j.submitted);
        uint64_t id = j.id;
        {
            std::lock_guard<std::mutex> lock(mu);
            live.erase(id);
            n_live.store(static_cast<int64_t>(live.size()), std::memory_order_relaxed);
        }
        parley::Backend::Done done = std::move(j.done);
        jobs.erase(id); // `j` is gone from here on
        try {
            if (done) done(std::move(c));
        } catch (...) {
            parley::log_warn(kLog, "request " + std::to_string(id) + ": completion callback threw; ignored");
        }
    }

    // `log_text` replaces `message` in the log when the message quotes the server. Each distinct
    // cause is logged once (a refusing server would otherwise log every request); the completion
    // carries the message every time, and the host counts failures by cause.
    void fail(Job &j, parley_status st, const std::string &message, const std::string &log_text = {}) {
        if (st != PARLEY_ERR_CANCELLED) {
            const std::string &cause = log_text.empty() ? message : log_text;
            bool first;
            {
                std::lock_guard<std::mutex> lock(causes_mu);
                first = causes_logged.size() < 256 && causes_logged.insert(cause).second;
            }
            if (first)
                parley::log_warn(kLog, "request " + std::to_string(j.id) + " failed: " + cause +
                                           " (logged once; later requests failing the same way are not)");
        }
        parley::Completion c;
        c.status = st;
        c.error = message;
        deliver(j, std::move(c));
    }

    void mark_down(int r, const std::string &why, Clock::time_point now) {
        Replica &rep = *replicas[r];
        if (!rep.up.load()) return;
        rep.up = false;
        rep.strikes = 1;
        rep.down_until = now + to_duration(cooldown_s);
        parley::log_warn(kLog, "replica " + rep.url + " marked down (" + why + "); health probe in " + fmt_s(cooldown_s) + " s");
    }

    void pause(int r, double retry_after_s, Clock::time_point now) {
        Replica &rep = *replicas[r];
        const Clock::time_point until = now + to_duration(std::min(retry_after_s, kMaxRetryAfterS));
        if (until <= rep.paused_until) return;
        if (rep.paused_until <= now)
            parley::log_info(kLog, "replica " + rep.url + " asked for a pause (Retry-After " + fmt_s(retry_after_s) + " s); holding its requests");
        rep.paused_until = until;
    }

    void mark_up(int r, const char *how) {
        Replica &rep = *replicas[r];
        if (rep.up.load()) return;
        rep.up = true;
        rep.strikes = 0;
        parley::log_info(kLog, "replica " + rep.url + " is back (" + how + ")");
    }

    // Schedules another attempt, or gives up.
    void retry(Job &j, const std::string &error, const std::string &log_error, double retry_after_s, Clock::time_point now) {
        j.last_error = error;
        j.last_error_log = log_error;
        j.last_failed = j.replica;
        j.replica = -1;
        if (j.attempts > max_retries) {
            std::string head = "gave up after " + std::to_string(j.attempts) + " attempts: ";
            fail(j, PARLEY_ERR_UNAVAILABLE, head + error, head + log_error);
            return;
        }
        std::uniform_real_distribution<double> jitter(0.0, 1.0);
        double delay = backoff_initial_s * (std::pow(backoff_factor, j.attempts - 1) + jitter(rng));
        if (retry_after_s > delay) delay = std::min(retry_after_s, kMaxRetryAfterS);
        Clock::time_point at = now + to_duration(delay);
        if (j.has_deadline && at >= j.deadline) {
            fail(j, PARLEY_ERR_UNAVAILABLE, deadline_message(j, now), deadline_message(j, now, true));
            return;
        }
        parley::log_info(kLog, "request " + std::to_string(j.id) + ": " + log_error + "; retry " + std::to_string(j.attempts) + "/" +
                                   std::to_string(max_retries) + " in " + fmt_s(delay) + " s");
        j.next_at = at;
        j.waiting = true;
        retry_heap.emplace(at, j.id);
    }

    // Reads every finished transfer's message first, then handles them: handling one removes
    // its easy handle, and curl_multi_remove_handle scans the messages still queued (O(n^2) for a
    // batch of n completions, 3 % of the client's CPU at 1,000 in flight).
    void drain() {
        CURLMsg *m;
        int left = 0;
        done_msgs.clear();
        while ((m = curl_multi_info_read(multi, &left)))
            if (m->msg == CURLMSG_DONE) done_msgs.emplace_back(m->easy_handle, m->data.result);
        for (auto [e, rc] : done_msgs) {
            char *priv = nullptr;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
            Tag *tag = reinterpret_cast<Tag *>(priv);
            if (!tag) continue;
            switch (tag->kind) {
            case Tag::REQUEST: on_request_done(*static_cast<Job *>(tag), rc); break;
            case Tag::PROBE: on_probe_done(tag->replica, rc); break;
            case Tag::MODELS: on_models_done(tag->replica, rc); break;
            case Tag::PROPS: on_props_done(tag->replica, rc); break;
            }
        }
    }

    void on_request_done(Job &j, CURLcode rc) {
        auto now = Clock::now();
        long http = 0;
        curl_off_t retry_after = 0;
        curl_easy_getinfo(j.easy, CURLINFO_RESPONSE_CODE, &http);
        curl_easy_getinfo(j.easy, CURLINFO_RETRY_AFTER, &retry_after);
        int r = j.replica;
        Replica &rep = *replicas[r];
        detach(j);
        j.replica = r; // detach keeps it; retry() reads it
        const std::string where = rep.url + j.path;

        if (rc != CURLE_OK || http < 200 || http >= 300) limiter.settle(j.est_tokens, 0); // refused: its tokens were not spent
        if (rc != CURLE_OK) {
            rep.failed++;
            std::string err = std::string(curl_easy_strerror(rc));
            if (j.errbuf[0]) err = j.errbuf;
            err = where + ": " + err;
            if (rc == CURLE_OPERATION_TIMEDOUT && j.has_deadline && now + std::chrono::milliseconds(5) >= j.deadline) {
                j.last_error = j.last_error_log = err;
                fail(j, PARLEY_ERR_UNAVAILABLE, deadline_message(j, now), deadline_message(j, now, true));
            } else if (retryable_curl(rc)) {
                if (replica_fault(rc)) mark_down(r, curl_easy_strerror(rc), now);
                retry(j, err, err, 0, now);
            } else {
                fail(j, PARLEY_ERR_IO, err);
            }
            return;
        }
        if (http >= 200 && http < 300) {
            parley::Completion c;
            std::string err;
            if (parse_success(j.response, c, err)) {
                rep.succeeded++;
                limiter.settle(j.est_tokens, c.prompt_tokens + c.completion_tokens > 0 ? static_cast<double>(c.prompt_tokens + c.completion_tokens) : j.est_tokens);
                if (!rep.up.load()) mark_up(r, "answered a request");
                c.status = PARLEY_OK;
                deliver(j, std::move(c));
            } else {
                rep.failed++;
                std::string status = "HTTP " + std::to_string(http);
                retry(j, status + ": " + err, status + " from " + where + ": unusable body", 0, now);
            }
            return;
        }
        rep.failed++;
        // The completion carries "HTTP <code>: <the server's own text>" (the same text for the
        // same cause on every replica); the log names the status and the URL only (P14).
        std::string head = "HTTP " + std::to_string(http) + " from " + where;
        std::string msg = "HTTP " + std::to_string(http) + ": " + server_message(j.response);
        if (http == 429 || http == 408 || (http == 503 && retry_after > 0)) {
            // Rate limited or overloaded, not broken: a Retry-After (seconds or an HTTP date, which
            // libcurl turns into seconds) holds every request to this replica until then.
            if (retry_after > 0) pause(r, static_cast<double>(retry_after), now);
            retry(j, msg, head, static_cast<double>(retry_after), now);
        } else if (http >= 500) {
            mark_down(r, "HTTP " + std::to_string(http), now);
            retry(j, msg, head, static_cast<double>(retry_after), now);
        } else {
            parley_status st = PARLEY_ERR_RUNTIME;
            if (http == 404) st = PARLEY_ERR_NOT_FOUND;
            else if (http == 400 || http == 413 || http == 422)
                st = mentions_context_overflow(msg) ? PARLEY_ERR_CONTEXT_OVERFLOW : PARLEY_ERR_INVALID_ARGUMENT;
            fail(j, st, msg, head);
        }
    }

    // A GET on the multi handle (health probes, model discovery): the body lands in `body`, the
    // handle carries `tag`. Null if it could not be started.
    template <class Tag> CURL *start_get(const std::string &url, double timeout_s, std::string &body, Tag *tag, bool fresh_connection) {
        CURL *e = curl_easy_init();
        if (!e) return nullptr;
        body.clear();
        common_options(e, url, static_cast<long>(timeout_s * 1000));
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, get_headers);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(e, CURLOPT_PRIVATE, tag);
        if (fresh_connection) curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        if (curl_multi_add_handle(multi, e) != CURLM_OK) {
            curl_easy_cleanup(e);
            return nullptr;
        }
        return e;
    }

    // ---- health probes ------------------------------------------------------------------------
    void probe_replicas(Clock::time_point now) {
        for (size_t i = 0; i < replicas.size(); ++i) {
            Replica &rep = *replicas[i];
            if (rep.up.load() || rep.probe || now < rep.down_until || rep.retired.load()) continue;
            CURL *e = start_get(rep.url + "/health", connect_timeout_s + 5, rep.probe_body, &rep.probe_tag, true);
            if (!e) continue;
            rep.probe = e;
        }
    }

    void on_probe_done(int r, CURLcode rc) {
        Replica &rep = *replicas[r];
        long http = 0;
        curl_easy_getinfo(rep.probe, CURLINFO_RESPONSE_CODE, &http);
        curl_multi_remove_handle(multi, rep.probe);
        curl_easy_cleanup(rep.probe);
        rep.probe = nullptr;
        // Any HTTP answer below 500 means the server is serving (a hosted API may 404 /health).
        if (rc == CURLE_OK && http > 0 && http < 500) {
            mark_up(r, "health probe");
            if (auto_limit) start_props(r); // it may have restarted with another -np
            return;
        }
        auto now = Clock::now();
        if (rep.up.load()) {
            mark_down(r, "health probe failed", now);
            return;
        }
        rep.strikes = std::min(rep.strikes + 1, 16);
        double wait = std::min(std::max(cooldown_s, 0.05) * std::pow(2.0, rep.strikes - 1), 30.0);
        rep.down_until = now + to_duration(wait);
        parley::log_debug(kLog, "replica " + rep.url + " still down (" +
                                    (rc == CURLE_OK ? "HTTP " + std::to_string(http) : std::string(curl_easy_strerror(rc))) +
                                    "); next probe in " + fmt_s(wait) + " s");
    }

    // ---- llama-server's slot count: GET /props ------------------------------------------------
    // llama-server decodes at most total_slots sequences, and its HTTP thread pool (about
    // total_slots + 4 threads) holds each idle keep-alive connection for its keep-alive timeout
    // (5 s): more connections than threads stall for seconds. Unless `max_in_flight` is set, a
    // replica that reports total_slots gets that as its limit. vLLM and SGLang have no /props
    // (404) and keep max_in_flight.
    bool start_props(int r, bool startup = false) {
        Replica &rep = *replicas[r];
        if (rep.props) return false;
        CURL *e = curl_easy_init();
        if (!e) return false;
        rep.props_body.clear();
        common_options(e, rep.url + "/props", 5000);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, get_headers);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &rep.props_body);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &rep.props_tag);
        if (curl_multi_add_handle(multi, e) != CURLM_OK) {
            curl_easy_cleanup(e);
            return false;
        }
        rep.props = e;
        rep.props_pending = true;
        rep.props_startup = startup;
        return true;
    }

    void on_props_done(int r, CURLcode rc) {
        Replica &rep = *replicas[r];
        long http = 0;
        curl_easy_getinfo(rep.props, CURLINFO_RESPONSE_CODE, &http);
        curl_multi_remove_handle(multi, rep.props);
        curl_easy_cleanup(rep.props);
        rep.props = nullptr;
        if (rc == CURLE_OK && http == 200) {
            if (auto total = total_slots(rep.props_body)) {
                int64_t slots = *total;
                if (slots > 0 && slots != rep.limit.load()) {
                    rep.limit = std::min(slots, max_in_flight);
                    parley::log_info(kLog, "replica " + rep.url + ": llama-server with " + std::to_string(slots) +
                                               " slots; max_in_flight " + std::to_string(rep.limit.load()));
                }
            }
        }
        rep.props_pending = false;
        if (rep.props_startup) {
            rep.props_startup = false;
            --props_startup_left;
        }
    }

    // ---- model discovery: GET /v1/models once at startup ---------------------------------------
    void start_discovery(Clock::time_point now) {
        discovery_pending = 0;
        discovery_answered = false;
        ++discovery_round;
        for (size_t i = 0; i < replicas.size(); ++i) {
            Replica &rep = *replicas[i];
            CURL *e = start_get(rep.url + "/v1/models", connect_timeout_s + 10, rep.models_body, &rep.models_tag, false);
            if (!e) continue;
            rep.models = e;
            ++discovery_pending;
        }
        (void)now;
        if (discovery_pending == 0) settle_model("default", 0, "could not start GET /v1/models");
    }

    void discovery_tick(Clock::time_point now) {
        if (model_known || discovery_done || discovery_pending > 0 || now < discovery_next) return;
        start_discovery(now);
    }

    void settle_model(const std::string &name, int64_t ctx, const std::string &why) {
        discovery_done = true;
        bool announce = !model_known;
        {
            std::lock_guard<std::mutex> lock(mu);
            if (!model_ready) model = name;
            if (ctx > 0) context_size = ctx;
            model_ready = true;
            model_published.store(true, std::memory_order_release);
        }
        model_known = true;
        model_cv.notify_all();
        if (announce) {
            if (why.empty()) parley::log_info(kLog, "model: " + name + " (from GET /v1/models)");
            else parley::log_warn(kLog, "model: using '" + name + "' (" + why + "); set `model` to choose one");
        }
    }

    void on_models_done(int r, CURLcode rc) {
        Replica &rep = *replicas[r];
        long http = 0;
        curl_easy_getinfo(rep.models, CURLINFO_RESPONSE_CODE, &http);
        curl_multi_remove_handle(multi, rep.models);
        curl_easy_cleanup(rep.models);
        rep.models = nullptr;
        --discovery_pending;
        if (discovery_done) return;
        if (rc == CURLE_OK && http > 0) discovery_answered = true;
        if (rc == CURLE_OK && http >= 200 && http < 300) {
            if (auto m = first_model(rep.models_body)) {
                settle_model(m->id, m->context, "");
                return;
            }
        }
        if (discovery_pending > 0) return;
        // Every replica has answered or failed in this round.
        if (!configured_model.empty()) {
            discovery_done = true; // only wanted the context size
            return;
        }
        if (discovery_answered || discovery_round > max_retries) {
            settle_model("default", 0, discovery_answered ? "GET /v1/models listed no model" : "no replica answered GET /v1/models");
            return;
        }
        std::uniform_real_distribution<double> jitter(0.0, 1.0);
        double delay = std::max(backoff_initial_s, 0.05) * (std::pow(backoff_factor, discovery_round - 1) + jitter(rng));
        discovery_next = Clock::now() + to_duration(delay);
        parley::log_info(kLog, "no replica answered GET /v1/models yet; asking again in " + fmt_s(delay) + " s");
    }
};

// -----------------------------------------------------------------------------------------------

namespace {
int32_t ext_replica_of(void *self, uint64_t conversation) {
    try {
        return static_cast<OpenAIBackend *>(self)->replica_of(conversation);
    } catch (...) {
        return -1;
    }
}
parley_status ext_replica_stats(void *self, parley_buffer *out) {
    parley_error err{};
    return parley::detail::guard(&err, [&] { parley::append(out, static_cast<OpenAIBackend *>(self)->stats_json()); });
}
} // namespace

OpenAIBackend::OpenAIBackend(const parley::Config &config)
    : template_(load_template(config)), impl_(std::make_unique<Impl>(config)) {}
OpenAIBackend::~OpenAIBackend() = default;

uint64_t OpenAIBackend::submit(parley::Request request, Done done) { return impl_->submit(std::move(request), std::move(done)); }
bool OpenAIBackend::cancel(uint64_t request_id) { return impl_->cancel(request_id); }
parley::BackendInfo OpenAIBackend::info() { return impl_->info(); }
std::optional<parley::BackendLoad> OpenAIBackend::load() { return impl_->load(); }

void *OpenAIBackend::proc_address(const char *name) {
    if (!name) return nullptr;
    if (std::strcmp(name, PARLEY_OPENAI_REPLICA_OF) == 0) return reinterpret_cast<void *>(&ext_replica_of);
    if (std::strcmp(name, PARLEY_OPENAI_REPLICA_STATS) == 0) return reinterpret_cast<void *>(&ext_replica_stats);
    return nullptr;
}

std::vector<ReplicaStats> OpenAIBackend::replica_stats() const {
    std::vector<ReplicaStats> out;
    for (size_t i = 0, n = impl_->n_replicas.load(std::memory_order_acquire); i < n; ++i) {
        auto &r = impl_->replicas[i];
        out.push_back({r->url, r->up.load() && !r->retired.load(), r->outstanding.load(), r->limit.load(), r->sent.load(),
                       r->succeeded.load(), r->failed.load()});
    }
    return out;
}

int OpenAIBackend::replica_of(uint64_t conversation) const {
    auto ring = std::atomic_load(&impl_->ring);
    return ring->size() ? ring->preferred(mix64(conversation)) : -1;
}

std::string OpenAIBackend::stats_json() const {
    nlohmann::json a = nlohmann::json::array();
    for (auto &s : replica_stats())
        a.push_back({{"url", s.url}, {"up", s.up}, {"outstanding", s.outstanding}, {"max_in_flight", s.max_in_flight}, {"sent", s.sent}, {"succeeded", s.succeeded}, {"failed", s.failed}});
    return a.dump();
}

} // namespace parley::openai
