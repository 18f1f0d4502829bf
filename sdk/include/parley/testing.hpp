// parley/testing.hpp — a stand-in host for unit-testing a plugin's C++ classes without the Parley
// host: it implements parley_host_api over an in-memory configuration and collects log lines.
//
//   parley::testing::TestHost host;                       // installs itself for the SDK
//   auto cfg = host.config({{"profile", "coral"}, {"seed", int64_t{7}}});
//   MyDomain d(cfg);
//
// This is a test double of the host services only; plugins under test are the real ones.
// PARLEY_SKIP(reason) (parley/test_skip.hpp) reports a test that cannot run here as skipped.
#pragma once

#include <parley/sdk.hpp>
#include <parley/test_skip.hpp>

#include <dlfcn.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h> // environ (glibc, _GNU_SOURCE)

#include <map>
#include <mutex>
#include <optional>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

namespace parley::testing {

using Value = std::variant<std::string, int64_t, double, bool, std::vector<std::string>>;

class TestHost {
  public:
    struct Table {
        std::map<std::string, Value> values;
    };

    TestHost() {
        api_.struct_size = sizeof api_;
        api_.abi_major = PARLEY_ABI_MAJOR;
        api_.abi_minor = PARLEY_ABI_MINOR;
        api_.host_ctx = this;
        api_.log = &TestHost::log_fn;
        api_.config_get_string = [](const parley_config *c, const char *k, parley_str *out) -> parley_status {
            auto *v = find(c, k);
            if (!v) return PARLEY_ERR_NOT_FOUND;
            auto *s = std::get_if<std::string>(v);
            if (!s) return PARLEY_ERR_TYPE;
            *out = parley_str{s->data(), s->size()};
            return PARLEY_OK;
        };
        api_.config_get_int = [](const parley_config *c, const char *k, int64_t *out) -> parley_status {
            auto *v = find(c, k);
            if (!v) return PARLEY_ERR_NOT_FOUND;
            auto *i = std::get_if<int64_t>(v);
            if (!i) return PARLEY_ERR_TYPE;
            *out = *i;
            return PARLEY_OK;
        };
        api_.config_get_float = [](const parley_config *c, const char *k, double *out) -> parley_status {
            auto *v = find(c, k);
            if (!v) return PARLEY_ERR_NOT_FOUND;
            if (auto *d = std::get_if<double>(v)) { *out = *d; return PARLEY_OK; }
            if (auto *i = std::get_if<int64_t>(v)) { *out = static_cast<double>(*i); return PARLEY_OK; }
            return PARLEY_ERR_TYPE;
        };
        api_.config_get_bool = [](const parley_config *c, const char *k, int32_t *out) -> parley_status {
            auto *v = find(c, k);
            if (!v) return PARLEY_ERR_NOT_FOUND;
            auto *b = std::get_if<bool>(v);
            if (!b) return PARLEY_ERR_TYPE;
            *out = *b ? 1 : 0;
            return PARLEY_OK;
        };
        api_.config_get_array_size = [](const parley_config *c, const char *k, size_t *out) -> parley_status {
            auto *v = find(c, k);
            if (!v) return PARLEY_ERR_NOT_FOUND;
            auto *a = std::get_if<std::vector<std::string>>(v);
            if (!a) return PARLEY_ERR_TYPE;
            *out = a->size();
            return PARLEY_OK;
        };
        api_.config_get_array_string = [](const parley_config *c, const char *k, size_t i, parley_str *out) -> parley_status {
            auto *v = find(c, k);
            if (!v) return PARLEY_ERR_NOT_FOUND;
            auto *a = std::get_if<std::vector<std::string>>(v);
            if (!a) return PARLEY_ERR_TYPE;
            if (i >= a->size()) return PARLEY_ERR_INVALID_ARGUMENT;
            *out = parley_str{(*a)[i].data(), (*a)[i].size()};
            return PARLEY_OK;
        };
        api_.config_get_json = [](const parley_config *c, const char *k, parley_buffer *out) -> parley_status {
            auto *v = find(c, k);
            if (!v) return PARLEY_ERR_NOT_FOUND;
            auto *s = std::get_if<std::string>(v); // a string holding JSON stands for a table here
            if (!s) return PARLEY_ERR_UNSUPPORTED;
            reinterpret_cast<std::string *>(out)->append(*s);
            return PARLEY_OK;
        };
        api_.buffer_append = [](parley_buffer *b, const char *d, size_t n) { reinterpret_cast<std::string *>(b)->append(d, n); };
        api_.buffer_clear = [](parley_buffer *b) { reinterpret_cast<std::string *>(b)->clear(); };
        api_.buffer_create = []() { return reinterpret_cast<parley_buffer *>(new std::string()); };
        api_.buffer_destroy = [](parley_buffer *b) { delete reinterpret_cast<std::string *>(b); };
        api_.buffer_data = [](const parley_buffer *b, size_t *n) {
            auto *s = reinterpret_cast<const std::string *>(b);
            if (n) *n = s->size();
            return s->c_str();
        };
        parley::detail::host_slot() = &api_;
    }
    ~TestHost() {
        if (parley::detail::host_slot() == &api_) parley::detail::host_slot() = nullptr; // no dangling host
    }
    TestHost(const TestHost &) = delete;
    TestHost &operator=(const TestHost &) = delete;

    const parley_host_api *api() const { return &api_; }

    // A configuration handle for a component's constructor; it lives as long as this host.
    parley::Config config(std::map<std::string, Value> values = {}) {
        tables_.push_back(std::make_unique<Table>(Table{std::move(values)}));
        return parley::Config(reinterpret_cast<const parley_config *>(tables_.back().get()));
    }

    std::vector<std::string> logs() const {
        std::lock_guard<std::mutex> lock(mu_);
        return logs_;
    }

    // A sink for C-level calls: pass buffer(s) where a parley_buffer* is expected.
    static parley_buffer *buffer(std::string &s) { return reinterpret_cast<parley_buffer *>(&s); }

  private:
    static const Value *find(const parley_config *c, const char *k) {
        auto *t = reinterpret_cast<const Table *>(c);
        auto it = t->values.find(k);
        return it == t->values.end() ? nullptr : &it->second;
    }
    static void log_fn(void *ctx, int32_t level, const char *component, const char *message) {
        auto *self = static_cast<TestHost *>(ctx);
        std::lock_guard<std::mutex> lock(self->mu_);
        self->logs_.push_back(std::to_string(level) + " " + component + ": " + message);
    }

    parley_host_api api_{};
    std::vector<std::unique_ptr<Table>> tables_;
    mutable std::mutex mu_;
    std::vector<std::string> logs_;
};

// A built plugin library opened as a host opens it (dlopen, then its parley_plugin_init with
// `host`): its descriptor, or null with the reason in `why`. The library stays loaded unless the
// caller takes its `handle` and dlclose()s it (a test that a plugin unloads cleanly).
inline const parley_plugin_desc *load_plugin(const std::string &path, const TestHost &host, std::string *why = nullptr,
                                             void **handle = nullptr) {
    void *lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) *handle = lib;
    if (!lib) {
        if (why) *why = ::dlerror();
        return nullptr;
    }
    auto init = reinterpret_cast<parley_plugin_init_fn>(::dlsym(lib, PARLEY_PLUGIN_ENTRY));
    if (!init) {
        if (why) *why = path + ": no " PARLEY_PLUGIN_ENTRY;
        return nullptr;
    }
    parley_error err{};
    const parley_plugin_desc *desc = init(host.api(), &err);
    if (!desc && why) *why = err.message;
    return desc;
}

// A component's parameter by key, or null.
inline const parley_param *find_param(const parley_component *c, const std::string &key) {
    for (size_t i = 0; i < c->n_params; ++i)
        if (key == parley::param_at(*c, i).key) return &parley::param_at(*c, i);
    return nullptr;
}

// A backend's load through its C table as a host reads it (ABI 1.2 get_load): nullopt when the
// table is too old to have it, leaves it NULL, or the call reports none.
inline std::optional<parley_backend_load> query_load(const parley_backend_vtable *vt, void *self) {
    if (vt->struct_size < offsetof(parley_backend_vtable, get_load) + sizeof(vt->get_load) || !vt->get_load) return std::nullopt;
    parley_backend_load load{};
    load.struct_size = sizeof load;
    load.kv_used = load.kv_capacity = -1;
    if (vt->get_load(self, &load) != PARLEY_OK) return std::nullopt;
    return load;
}

// Starts a server (or any helper program) for a test: `args[0]` looked up in PATH, stdout and
// stderr to `log_path`, in a process group of its own (kill(-pid, ...) stops it and its children).
// Returns the pid, or -1 when it could not be started.
inline pid_t spawn_logged(std::vector<std::string> args, const std::string &log_path) {
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv.data(), ::environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc == 0 ? pid : -1;
}

struct HttpReply {
    int status = 0; // 0: no answer
    std::string body;
};

// One blocking HTTP/1.1 exchange over a raw loopback socket (Connection: close).
inline HttpReply http_exchange(int port, const std::string &method, const std::string &path, const std::string &body = "") {
    HttpReply out;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        ::close(fd);
        return out;
    }
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (method == "POST") req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string resp;
    char buf[8192];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<size_t>(n));
    ::close(fd);
    if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12) return out;
    out.status = std::atoi(resp.c_str() + 9);
    if (auto k = resp.find("\r\n\r\n"); k != std::string::npos) out.body = resp.substr(k + 4);
    return out;
}

} // namespace parley::testing
