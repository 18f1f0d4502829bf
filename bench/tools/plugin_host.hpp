// plugin_host.hpp: what a benchmark needs to drive a backend plugin exactly as `parley` does —
// dlopen + parley_plugin_init with a small host table (logging, configuration getters over a JSON
// object, text buffers), a Backend wrapper over the C vtable, and process CPU clocks. Header-only;
// used by bench/multiturn and bench/client_overhead.
#pragma once

#include <parley/plugin.h>

#include <nlohmann/json.hpp>

#include <dlfcn.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// =============================================================================================
// Host services for plugins: logging, configuration getters over a JSON object, text buffers.
// =============================================================================================

struct parley_buffer {
    std::string s; // first member: plugins that treat the buffer as a std::string keep working
};
struct parley_config {
    json kv = json::object();
};

namespace host {

inline int g_log_level = PARLEY_LOG_WARN;

inline void log(void *, int32_t level, const char *component, const char *message) {
    if (level < g_log_level) return;
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    std::fprintf(stderr, "[%s] %s\n", component ? component : "?", message ? message : "");
}

inline const json *find(const parley_config *c, const char *key) {
    if (!c || !key) return nullptr;
    auto it = c->kv.find(key);
    return it == c->kv.end() ? nullptr : &*it;
}

inline parley_status get_string(const parley_config *c, const char *key, parley_str *out) {
    const json *v = find(c, key);
    if (!v) return PARLEY_ERR_NOT_FOUND;
    if (!v->is_string()) return PARLEY_ERR_TYPE;
    const std::string &s = v->get_ref<const std::string &>();
    *out = {s.data(), s.size()};
    return PARLEY_OK;
}
inline parley_status get_int(const parley_config *c, const char *key, int64_t *out) {
    const json *v = find(c, key);
    if (!v) return PARLEY_ERR_NOT_FOUND;
    if (!v->is_number_integer()) return PARLEY_ERR_TYPE;
    *out = v->get<int64_t>();
    return PARLEY_OK;
}
inline parley_status get_float(const parley_config *c, const char *key, double *out) {
    const json *v = find(c, key);
    if (!v) return PARLEY_ERR_NOT_FOUND;
    if (!v->is_number()) return PARLEY_ERR_TYPE;
    *out = v->get<double>();
    return PARLEY_OK;
}
inline parley_status get_bool(const parley_config *c, const char *key, int32_t *out) {
    const json *v = find(c, key);
    if (!v) return PARLEY_ERR_NOT_FOUND;
    if (!v->is_boolean()) return PARLEY_ERR_TYPE;
    *out = v->get<bool>() ? 1 : 0;
    return PARLEY_OK;
}
inline parley_status get_array_size(const parley_config *c, const char *key, size_t *out) {
    const json *v = find(c, key);
    if (!v) return PARLEY_ERR_NOT_FOUND;
    if (!v->is_array()) return PARLEY_ERR_TYPE;
    *out = v->size();
    return PARLEY_OK;
}
inline parley_status get_array_string(const parley_config *c, const char *key, size_t i, parley_str *out) {
    const json *v = find(c, key);
    if (!v) return PARLEY_ERR_NOT_FOUND;
    if (!v->is_array()) return PARLEY_ERR_TYPE;
    if (i >= v->size()) return PARLEY_ERR_INVALID_ARGUMENT;
    if (!(*v)[i].is_string()) return PARLEY_ERR_TYPE;
    const std::string &s = (*v)[i].get_ref<const std::string &>();
    *out = {s.data(), s.size()};
    return PARLEY_OK;
}
inline parley_status get_json(const parley_config *c, const char *key, parley_buffer *out) {
    const json *v = find(c, key);
    if (!v) return PARLEY_ERR_NOT_FOUND;
    out->s += v->dump();
    return PARLEY_OK;
}
inline void buffer_append(parley_buffer *b, const char *data, size_t size) {
    if (size) b->s.append(data, size);
}
inline void buffer_clear(parley_buffer *b) { b->s.clear(); }
inline parley_buffer *buffer_create() { return new parley_buffer(); }
inline void buffer_destroy(parley_buffer *b) { delete b; }
inline const char *buffer_data(const parley_buffer *b, size_t *size) {
    if (size) *size = b->s.size();
    return b->s.c_str();
}

inline const parley_host_api *api() {
    static parley_host_api a = [] {
        parley_host_api h{};
        h.struct_size = sizeof(parley_host_api);
        h.abi_major = PARLEY_ABI_MAJOR;
        h.abi_minor = PARLEY_ABI_MINOR;
        h.host_ctx = nullptr;
        h.log = &log;
        h.config_get_string = &get_string;
        h.config_get_int = &get_int;
        h.config_get_float = &get_float;
        h.config_get_bool = &get_bool;
        h.config_get_array_size = &get_array_size;
        h.config_get_array_string = &get_array_string;
        h.config_get_json = &get_json;
        h.buffer_append = &buffer_append;
        h.buffer_clear = &buffer_clear;
        h.buffer_create = &buffer_create;
        h.buffer_destroy = &buffer_destroy;
        h.buffer_data = &buffer_data;
        return h;
    }();
    return &a;
}

} // namespace host

inline const char *g_program = "bench";
inline pid_t g_child = -1; // a server the program started: stopped on any exit path

[[noreturn]] inline void die(const std::string &msg) {
    std::fprintf(stderr, "%s: %s\n", g_program, msg.c_str());
    if (g_child > 0) kill(g_child, SIGKILL);
    std::exit(1);
}

inline double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

inline double process_cpu_s() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// CPU seconds (user + system) a child process has used so far.
inline double child_cpu_s(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
    }
    return (utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

// =============================================================================================
// A backend plugin, loaded through the C ABI.
// =============================================================================================

struct Message {
    std::string role, content;
};

struct Request {
    std::vector<Message> messages;
    double temperature = 0.0, top_p = 1.0;
    uint64_t seed = 0;
    bool has_seed = false;
    int max_tokens = 0;
    uint64_t conversation = 0;
    uint32_t agent = 0;
    std::string extra_json; // passed through to the HTTP body by the openai plugin
};

struct Result {
    parley_status status = PARLEY_OK;
    std::string error, text;
    int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
    double queue_s = 0, prefill_s = 0, total_s = 0;
};

class Backend {
  public:
    Backend(const std::string &lib, const json &config) {
        handle_ = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle_) die("dlopen " + lib + ": " + dlerror());
        auto init = reinterpret_cast<parley_plugin_init_fn>(dlsym(handle_, PARLEY_PLUGIN_ENTRY));
        if (!init) die(lib + ": no " PARLEY_PLUGIN_ENTRY);
        parley_error err{};
        desc_ = init(host::api(), &err);
        if (!desc_) die(lib + ": init failed: " + err.message);
        for (size_t i = 0; i < desc_->n_components; ++i) {
            const parley_component *c = desc_->components[i];
            if (c->kind == PARLEY_KIND_BACKEND) vt_ = static_cast<const parley_backend_vtable *>(c->vtable);
        }
        if (!vt_) die(lib + ": no backend component");
        parley_config cfg;
        cfg.kv = config;
        if (vt_->create(host::api(), &cfg, &self_, &err) != PARLEY_OK) die(lib + ": create failed: " + err.message);
    }
    ~Backend() {
        if (self_) vt_->destroy(self_);
        // The library stays loaded (libllama's static state outlives the plugin).
    }
    Backend(const Backend &) = delete;
    Backend &operator=(const Backend &) = delete;

    using Done = std::function<void(Result &&)>;

    void submit(const Request &q, Done done) {
        std::vector<parley_message> msgs;
        for (auto &m : q.messages) msgs.push_back({{m.role.data(), m.role.size()}, {m.content.data(), m.content.size()}});
        parley_request r{};
        r.struct_size = sizeof r;
        r.messages = msgs.data();
        r.n_messages = msgs.size();
        r.temperature = q.temperature;
        r.top_p = q.top_p;
        r.top_k = 0;
        r.min_p = 0;
        r.seed = q.seed;
        r.has_seed = q.has_seed ? 1 : 0;
        r.max_tokens = q.max_tokens;
        r.n = 1;
        r.conversation = q.conversation;
        r.agent = q.agent;
        r.extra_json = {q.extra_json.data(), q.extra_json.size()};
        auto *box = new Done(std::move(done));
        uint64_t id = 0;
        parley_error err{};
        if (vt_->submit(self_, &r, &Backend::on_done, box, &id, &err) != PARLEY_OK) {
            delete box;
            die(std::string("submit failed: ") + err.message);
        }
    }

  private:
    static void on_done(void *ud, const parley_completion *c) {
        std::unique_ptr<Done> box(static_cast<Done *>(ud));
        Result r;
        r.status = c->status;
        if (c->status != PARLEY_OK) r.error.assign(c->error_message.data ? c->error_message.data : "", c->error_message.size);
        if (c->n_choices > 0 && c->choices[0].text.data) r.text.assign(c->choices[0].text.data, c->choices[0].text.size);
        r.prompt_tokens = c->prompt_tokens;
        r.cached_tokens = c->cached_tokens;
        r.completion_tokens = c->completion_tokens;
        r.queue_s = c->queue_s;
        r.prefill_s = c->prefill_s;
        r.total_s = c->total_s;
        (*box)(std::move(r));
    }

    void *handle_ = nullptr;
    const parley_plugin_desc *desc_ = nullptr;
    const parley_backend_vtable *vt_ = nullptr;
    void *self_ = nullptr;
};
