// scripted/backend — a TEST DOUBLE for inference backends (no model).
//
// Answers each request from rules: the first `match` substring found in the last message selects
// the `reply` at the same index, otherwise `default_reply`. Replies may contain {turn} (number of
// messages in the request), {agent}, {conversation}, {n} (the sample index) and {letter} ('A' + n). Completions come
// from a worker thread, after an optional fixed latency, exactly as from a real asynchronous
// backend; token counts are whitespace-separated words. `requests_log` writes what each request
// asked for (sampling, seed, n, agent) as JSON lines, so tests can check what the host sends.
//
// It is written straight against the C ABI (of the SDK only the constexpr parameter specs) and
// copies only what it needs from a request (the last message and a few numbers), so orchestration
// benchmarks measure the host, not this.
#include <parley/plugin.h>
#include <parley/sdk.hpp> // parley::param only: the specs are constexpr

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

const parley_host_api *g_host = nullptr;

// Words = positions where a non-space follows a space (or the start). Written without a carried
// state so the compiler vectorises it: this runs on every request of an orchestration benchmark.
int64_t count_words(std::string_view s) {
    auto space = [](unsigned char c) -> unsigned { return (c == ' ') | (c == '\n') | (c == '\t'); };
    if (s.empty()) return 0;
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    uint64_t n = !space(p[0]);
    for (size_t i = 1; i < s.size(); ++i) n += space(p[i - 1]) & !space(p[i]);
    return static_cast<int64_t>(n);
}

void fail(parley_error *err, parley_status code, const std::string &msg) {
    if (!err) return;
    err->code = code;
    std::snprintf(err->message, sizeof err->message, "%s", msg.c_str());
}

std::string view(parley_str s) { return s.size ? std::string(s.data, s.size) : std::string(); }

struct Reply {
    std::string text;
    int64_t tokens = 0;
    bool templated = false; // has {placeholders}
};

struct Pending {
    uint64_t id;
    parley_completion_fn done;
    void *user;
    Reply *reply; // chosen at submit (rules read the last message there)
    size_t n_messages;
    uint64_t conversation;
    uint32_t agent;
    int32_t n;
    int64_t prompt_tokens;
    std::chrono::steady_clock::time_point submitted;
};

class Scripted {
  public:
    std::string default_text = "The correct answer is (A).";
    std::vector<std::string> match;
    std::vector<Reply> replies;
    Reply fallback;
    std::chrono::microseconds latency{0};
    int64_t fail_every = 0;
    std::string reasoning; // (ABI 1.5) every choice's reasoning, as a thinking model's; empty: none
    bool choice_tokens = true; // false: -1 per choice when n > 1, as an OpenAI-compatible server
    std::FILE *requests_log = nullptr;

    void start() {
        fallback.text = default_text;
        for (Reply *r : all_replies()) {
            r->tokens = count_words(r->text);
            r->templated = r->text.find('{') != std::string::npos;
        }
        worker_ = std::thread([this] { loop(); });
    }

    ~Scripted() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (worker_.joinable()) worker_.join();
        if (requests_log) std::fclose(requests_log);
    }

    uint64_t submit(const parley_request *r, parley_completion_fn done, void *user) {
        std::string_view last;
        if (r->prompt.size) last = std::string_view(r->prompt.data, r->prompt.size);
        else if (r->n_messages) last = std::string_view(r->messages[r->n_messages - 1].content.data, r->messages[r->n_messages - 1].content.size);
        Reply *chosen = &fallback;
        for (size_t i = 0; i < match.size(); ++i)
            if (last.find(match[i]) != std::string_view::npos) {
                chosen = &replies[i];
                break;
            }
        int64_t prompt_tokens = count_words(last);
        std::lock_guard<std::mutex> lock(mu_);
        uint64_t id = ++next_id_;
        if (requests_log) log_request(id, r);
        queue_.push_back({id, done, user, chosen, r->n_messages, r->conversation, r->agent, r->n < 1 ? 1 : r->n, prompt_tokens,
                          std::chrono::steady_clock::now()});
        if (queue_.size() == 1) cv_.notify_one();
        return id;
    }

    // A request not yet answered (queued, or in the batch waiting out `latency_ms`) completes
    // with PARLEY_ERR_CANCELLED: at once while the batch waits, else when its batch is answered.
    bool cancel(uint64_t id) {
        std::lock_guard<std::mutex> lock(mu_);
        bool known = waiting_.count(id) > 0;
        for (auto &p : queue_) known = known || p.id == id;
        if (!known) return false;
        cancelled_.insert(id);
        if (waiting_.count(id)) {
            cancel_waiting_ = true;
            cv_.notify_all();
        }
        return true;
    }

  private:
    // One JSON line per request: what it asked for, and the first words of its system message
    // (instructions, never an item's text).
    void log_request(uint64_t id, const parley_request *r) {
        std::string system;
        if (r->n_messages && view(r->messages[0].role) == "system")
            for (char ch : view(r->messages[0].content).substr(0, 40))
                if (ch >= ' ' && ch != '"' && ch != '\\') system += ch;
        std::fprintf(requests_log,
                     "{\"id\":%llu,\"agent\":%u,\"conversation\":%llu,\"n\":%d,\"messages\":%zu,\"system\":\"%s\","
                     "\"temperature\":%.17g,\"top_p\":%.17g,\"top_k\":%d,\"min_p\":%.17g,\"has_seed\":%s,\"seed\":%llu,"
                     "\"max_tokens\":%d}\n",
                     static_cast<unsigned long long>(id), r->agent, static_cast<unsigned long long>(r->conversation), r->n,
                     r->n_messages, system.c_str(), r->temperature, r->top_p, r->top_k, r->min_p, r->has_seed ? "true" : "false",
                     static_cast<unsigned long long>(r->seed), r->max_tokens);
        std::fflush(requests_log);
    }

    std::vector<Reply *> all_replies() {
        std::vector<Reply *> v{&fallback};
        for (auto &r : replies) v.push_back(&r);
        return v;
    }

    static void substitute(std::string &s, std::string_view key, const std::string &value) {
        for (size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + value.size())) s.replace(p, key.size(), value);
    }

    void loop() {
        std::vector<Pending> batch;
        std::vector<parley_choice> choices;
        std::vector<std::string> texts;
        std::vector<parley_str> reasonings;
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty() && stopping_) return;
            batch.clear();
            batch.swap(queue_);
            if (latency.count() > 0) wait_out_latency(batch, lock);
            std::unordered_set<uint64_t> cancelled; // this batch's (later requests' stay for theirs)
            for (auto &p : batch)
                if (cancelled_.erase(p.id)) cancelled.insert(p.id);
            const bool stopping = stopping_;
            lock.unlock();
            for (auto &p : batch) {
                parley_completion c{};
                c.struct_size = sizeof c;
                c.request_id = p.id;
                c.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.submitted).count();
                if (stopping || cancelled.count(p.id)) {
                    c.status = PARLEY_ERR_CANCELLED;
                    c.error_message = {"cancelled", 9};
                } else if (fail_every > 0 && p.id % static_cast<uint64_t>(fail_every) == 0) {
                    static const char msg[] = "scripted failure (fail_every)";
                    c.status = PARLEY_ERR_UNAVAILABLE;
                    c.error_message = {msg, sizeof msg - 1};
                } else {
                    choices.clear();
                    texts.clear();
                    texts.reserve(static_cast<size_t>(p.n));
                    for (int i = 0; i < p.n; ++i) {
                        const std::string *text = &p.reply->text;
                        if (p.reply->templated) {
                            texts.push_back(p.reply->text);
                            substitute(texts.back(), "{turn}", std::to_string(p.n_messages));
                            substitute(texts.back(), "{agent}", std::to_string(p.agent));
                            substitute(texts.back(), "{conversation}", std::to_string(p.conversation));
                            substitute(texts.back(), "{n}", std::to_string(i));
                            substitute(texts.back(), "{letter}", std::string(1, static_cast<char>('A' + i % 26)));
                            text = &texts.back();
                        }
                        int64_t toks = p.reply->templated ? count_words(*text) : p.reply->tokens;
                        choices.push_back({{text->data(), text->size()}, PARLEY_FINISH_STOP, choice_tokens || p.n == 1 ? toks : -1});
                        c.completion_tokens += toks;
                    }
                    c.choices = choices.data();
                    c.n_choices = choices.size();
                    c.prompt_tokens = p.prompt_tokens;
                    if (!reasoning.empty()) {
                        reasonings.assign(choices.size(), {reasoning.data(), reasoning.size()});
                        c.reasoning = reasonings.data();
                        c.reasoning_tokens = count_words(reasoning) * static_cast<int64_t>(choices.size());
                        c.completion_tokens += c.reasoning_tokens;
                    }
                }
                p.done(p.user, &c);
            }
            lock.lock();
        }
    }

    // Holds `batch` for `latency` (lock held on entry and exit), answering each request cancelled
    // meanwhile at once and dropping it from the batch.
    void wait_out_latency(std::vector<Pending> &batch, std::unique_lock<std::mutex> &lock) {
        for (auto &p : batch) waiting_.insert(p.id);
        const auto until = std::chrono::steady_clock::now() + latency;
        while (!stopping_ && cv_.wait_until(lock, until, [&] { return stopping_ || cancel_waiting_; })) {
            cancel_waiting_ = false;
            std::vector<Pending> gone;
            for (auto it = batch.begin(); it != batch.end();)
                if (cancelled_.erase(it->id)) {
                    waiting_.erase(it->id);
                    gone.push_back(*it);
                    it = batch.erase(it);
                } else {
                    ++it;
                }
            lock.unlock();
            for (auto &p : gone) {
                parley_completion c{};
                c.struct_size = sizeof c;
                c.request_id = p.id;
                c.status = PARLEY_ERR_CANCELLED;
                c.error_message = {"cancelled", 9};
                p.done(p.user, &c);
            }
            lock.lock();
            if (batch.empty()) break; // all cancelled: nothing left to wait for
        }
        waiting_.clear();
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Pending> queue_;
    std::unordered_set<uint64_t> cancelled_;
    std::unordered_set<uint64_t> waiting_; // the batch waiting out `latency`
    bool cancel_waiting_ = false;          // one of them was cancelled
    uint64_t next_id_ = 0;
    bool stopping_ = false;
    std::thread worker_;
};

parley_status create(const parley_host_api *host, const parley_config *cfg, void **self, parley_error *err) {
    try {
        auto s = std::make_unique<Scripted>();
        parley_str str;
        if (host->config_get_string(cfg, "default_reply", &str) == PARLEY_OK) s->default_text = view(str);
        if (host->config_get_string(cfg, "reasoning", &str) == PARLEY_OK) s->reasoning = view(str);
        double latency_ms = 0;
        if (host->config_get_float(cfg, "latency_ms", &latency_ms) == PARLEY_OK)
            s->latency = std::chrono::microseconds(static_cast<int64_t>(latency_ms * 1000));
        host->config_get_int(cfg, "fail_every", &s->fail_every);
        int32_t flag = 1;
        if (host->config_get_bool(cfg, "choice_tokens", &flag) == PARLEY_OK) s->choice_tokens = flag != 0;
        if (host->config_get_string(cfg, "requests_log", &str) == PARLEY_OK && str.size) {
            std::string path = view(str);
            s->requests_log = std::fopen(path.c_str(), "w");
            if (!s->requests_log) {
                fail(err, PARLEY_ERR_IO, "requests_log: cannot open " + path);
                return PARLEY_ERR_IO;
            }
        }
        auto strings = [&](const char *key) {
            std::vector<std::string> out;
            size_t n = 0;
            if (host->config_get_array_size(cfg, key, &n) != PARLEY_OK) return out;
            for (size_t i = 0; i < n; ++i)
                if (host->config_get_array_string(cfg, key, i, &str) == PARLEY_OK) out.push_back(view(str));
            return out;
        };
        s->match = strings("match");
        for (auto &r : strings("reply")) s->replies.push_back({r, 0, false});
        if (s->match.size() != s->replies.size()) {
            fail(err, PARLEY_ERR_INVALID_ARGUMENT, "`match` and `reply` must have the same length");
            return PARLEY_ERR_INVALID_ARGUMENT;
        }
        s->start();
        *self = s.release();
        return PARLEY_OK;
    } catch (const std::exception &e) {
        fail(err, PARLEY_ERR_RUNTIME, e.what());
        return PARLEY_ERR_RUNTIME;
    }
}

void destroy(void *self) { delete static_cast<Scripted *>(self); }

parley_status submit(void *self, const parley_request *r, parley_completion_fn done, void *user, uint64_t *id, parley_error *err) {
    if (!r || !done) {
        fail(err, PARLEY_ERR_INVALID_ARGUMENT, "submit needs a request and a callback");
        return PARLEY_ERR_INVALID_ARGUMENT;
    }
    try {
        *id = static_cast<Scripted *>(self)->submit(r, done, user);
        return PARLEY_OK;
    } catch (const std::exception &e) {
        fail(err, PARLEY_ERR_OUT_OF_MEMORY, e.what());
        return PARLEY_ERR_OUT_OF_MEMORY;
    }
}

parley_status cancel(void *self, uint64_t id) { return static_cast<Scripted *>(self)->cancel(id) ? PARLEY_OK : PARLEY_ERR_NOT_FOUND; }

parley_status get_info(void *, parley_backend_info *out, parley_error *) {
    static const char model[] = "scripted (test double)";
    if (offsetof(parley_backend_info, model) + sizeof out->model <= out->struct_size) out->model = {model, sizeof model - 1};
    return PARLEY_OK;
}

parley_status apply_template(void *, const parley_message *m, size_t n, parley_buffer *out, parley_error *) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += "<|" + view(m[i].role) + "|>\n" + view(m[i].content) + "\n";
    s += "<|assistant|>\n";
    g_host->buffer_append(out, s.data(), s.size());
    return PARLEY_OK;
}

namespace ps = parley::param;
// The defaults are Scripted's member initialisers; create() keeps them for a key a test host leaves out.
constexpr parley_param kParams[] = {
    ps::string("default_reply", "The correct answer is (A).", "reply when no rule matches"),
    ps::string("reasoning", "", "every choice's reasoning (a thinking model's, apart from the text; its words counted as reasoning tokens)"),
    ps::computed("match", PARLEY_TYPE_STRING_ARRAY, "[]", "substrings looked for in the last message, in order"),
    ps::computed("reply", PARLEY_TYPE_STRING_ARRAY, "[]", "reply for each entry of `match` ({turn}, {agent}, {conversation}, {n}, {letter})"),
    ps::number("latency_ms", 0.0, "delay before each batch of completions", parley::at_least(0)),
    ps::integer("fail_every", 0, "fail every k-th request with PARLEY_ERR_UNAVAILABLE; 0 = never", parley::at_least(0)),
    ps::flag("choice_tokens", true, "count tokens per choice; false: -1 (unknown) when n > 1, as OpenAI servers"),
    ps::string("requests_log", "", "write each request's sampling, seed, n and agent to this file as JSON lines"),
};

const parley_backend_vtable kVtable = {sizeof(parley_backend_vtable), create, destroy, submit, cancel, get_info, apply_template,
                                       /* get_proc_address */ nullptr, /* get_load: reports no load */ nullptr};
const parley_component kBackend = {sizeof(parley_component), PARLEY_KIND_BACKEND, "backend", 4,
                                   "Instant rule-based replies (test double, no model)", kParams,
                                   sizeof kParams / sizeof kParams[0], &kVtable, sizeof(parley_param)};
const parley_component *const kComponents[] = {&kBackend};
const parley_plugin_desc kDesc = {sizeof(parley_plugin_desc), PARLEY_ABI_MAJOR, 0, "scripted", "3.0.0",
                                  "Test double: an instant backend answering from rules", kComponents, 1, nullptr};

} // namespace

extern "C" PARLEY_EXPORT const parley_plugin_desc *parley_plugin_init(const parley_host_api *host, parley_error *err) {
    if (!host || host->abi_major != PARLEY_ABI_MAJOR) {
        fail(err, PARLEY_ERR_UNSUPPORTED, "host ABI major differs");
        return nullptr;
    }
    g_host = host;
    return &kDesc;
}
