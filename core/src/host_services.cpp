#include <parley/core/host_services.hpp>
#include <parley/core/log.hpp>

#include <nlohmann/json.hpp>

namespace parley::core {
namespace {

const toml::table &table(const parley_config *c) { return *reinterpret_cast<const toml::table *>(c); }

template <class T> const auto *value(const parley_config *c, const char *key, parley_status &st) {
    const toml::node *n = c && key ? table(c).get(key) : nullptr;
    if (!n) {
        st = PARLEY_ERR_NOT_FOUND;
        return static_cast<decltype(n->as<T>())>(nullptr);
    }
    auto *v = n->as<T>();
    st = v ? PARLEY_OK : PARLEY_ERR_TYPE;
    return v;
}

void host_log(void *, int32_t level, const char *component, const char *message) {
    logger().log(to_spdlog_level(level), "[{}] {}", component ? component : "?", message ? message : "");
}

parley_status get_string(const parley_config *c, const char *key, parley_str *out) {
    parley_status st;
    auto *v = value<std::string>(c, key, st);
    if (v) *out = parley_str{v->get().data(), v->get().size()};
    return st;
}

parley_status get_int(const parley_config *c, const char *key, int64_t *out) {
    parley_status st;
    auto *v = value<int64_t>(c, key, st);
    if (v) *out = v->get();
    return st;
}

parley_status get_float(const parley_config *c, const char *key, double *out) {
    parley_status st;
    if (auto *v = value<double>(c, key, st)) {
        *out = v->get();
        return st;
    }
    if (st == PARLEY_ERR_TYPE) { // an integer literal where a float is expected is fine
        parley_status st2;
        if (auto *i = value<int64_t>(c, key, st2)) {
            *out = static_cast<double>(i->get());
            return PARLEY_OK;
        }
    }
    return st;
}

parley_status get_bool(const parley_config *c, const char *key, int32_t *out) {
    parley_status st;
    auto *v = value<bool>(c, key, st);
    if (v) *out = v->get() ? 1 : 0;
    return st;
}

parley_status get_array_size(const parley_config *c, const char *key, size_t *out) {
    parley_status st;
    auto *v = value<toml::array>(c, key, st);
    if (v) *out = v->size();
    return st;
}

parley_status get_array_string(const parley_config *c, const char *key, size_t i, parley_str *out) {
    parley_status st;
    auto *v = value<toml::array>(c, key, st);
    if (!v) return st;
    if (i >= v->size()) return PARLEY_ERR_INVALID_ARGUMENT;
    auto *s = v->get(i)->as<std::string>();
    if (!s) return PARLEY_ERR_TYPE;
    *out = parley_str{s->get().data(), s->get().size()};
    return PARLEY_OK;
}

parley_status get_json(const parley_config *c, const char *key, parley_buffer *out) {
    const toml::node *n = c && key ? table(c).get(key) : nullptr;
    if (!n) return PARLEY_ERR_NOT_FOUND;
    reinterpret_cast<std::string *>(out)->append(toml_to_json(*n));
    return PARLEY_OK;
}

void buffer_append(parley_buffer *b, const char *data, size_t size) {
    if (b && data && size) reinterpret_cast<std::string *>(b)->append(data, size);
}

void buffer_clear(parley_buffer *b) {
    if (b) reinterpret_cast<std::string *>(b)->clear();
}

parley_buffer *buffer_create() {
    try {
        return reinterpret_cast<parley_buffer *>(new std::string());
    } catch (...) {
        return nullptr;
    }
}

void buffer_destroy(parley_buffer *b) { delete reinterpret_cast<std::string *>(b); }

const char *buffer_data(const parley_buffer *b, size_t *size) {
    auto *s = reinterpret_cast<const std::string *>(b);
    if (size) *size = s ? s->size() : 0;
    return s ? s->c_str() : "";
}

nlohmann::json to_json(const toml::node &n) {
    if (auto *t = n.as_table()) {
        nlohmann::json j = nlohmann::json::object();
        for (auto &[k, v] : *t) j[std::string(k.str())] = to_json(v);
        return j;
    }
    if (auto *a = n.as_array()) {
        nlohmann::json j = nlohmann::json::array();
        for (auto &v : *a) j.push_back(to_json(v));
        return j;
    }
    if (auto *s = n.as_string()) return s->get();
    if (auto *i = n.as_integer()) return i->get();
    if (auto *d = n.as_floating_point()) return d->get();
    if (auto *b = n.as_boolean()) return b->get();
    std::ostringstream os; // dates and times: their TOML text
    n.visit([&](auto &&v) { os << v; });
    return os.str();
}

} // namespace

std::string toml_to_json(const toml::node &node) { return to_json(node).dump(); }

const parley_host_api *host_api() {
    static const parley_host_api api = [] {
        parley_host_api a{};
        a.struct_size = sizeof a;
        a.abi_major = PARLEY_ABI_MAJOR;
        a.abi_minor = PARLEY_ABI_MINOR;
        a.host_ctx = nullptr;
        a.log = &host_log;
        a.config_get_string = &get_string;
        a.config_get_int = &get_int;
        a.config_get_float = &get_float;
        a.config_get_bool = &get_bool;
        a.config_get_array_size = &get_array_size;
        a.config_get_array_string = &get_array_string;
        a.config_get_json = &get_json;
        a.buffer_append = &buffer_append;
        a.buffer_clear = &buffer_clear;
        a.buffer_create = &buffer_create;
        a.buffer_destroy = &buffer_destroy;
        a.buffer_data = &buffer_data;
        return a;
    }();
    return &api;
}

} // namespace parley::core
