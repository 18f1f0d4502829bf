// parley/sdk.hpp — the C++ side of a Parley plugin, header-only, compiled into each plugin.
//
// It turns the C ABI of parley/plugin.h into a few abstract classes (Domain, Backend, Filter),
// fills the C function tables with noexcept trampolines that convert every exception into a
// parley_status plus message, and emits the entry point with PARLEY_PLUGIN(...). None of its C++
// types crosses the boundary. A minimal domain plugin (its items in Domain::items):
//
//   #include <parley/sdk.hpp>
//   class Arithmetic final : public parley::Domain {
//     public:
//       explicit Arithmetic(const parley::Config &) {}
//       void load(const std::string &path, parley::LoadContext &ctx) override { ... items.push_back(...) }
//       parley::Belief extract(size_t, int, std::string_view text) override { ... }
//       double score(size_t i, std::string_view belief) override { return belief == items[i].gold; }
//       parley::DomainInfo info() const override { return {"arithmetic", "...", ...}; }
//   };
//   PARLEY_PLUGIN("arithmetic", "1.0.0", "Sums", parley::domain<Arithmetic>("domain", 1, "Sums"));
//
// Domains with rows of their own, configurable prompts or multiple choice build on
// parley/domain.hpp (TableDomain<Row>) and parley/mc_domain.hpp (MultipleChoiceDomain).
#pragma once

#include <parley/error.hpp>
#include <parley/plugin.h>
#include <parley/prompt_template.hpp>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace parley {

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

// parley::Error (parley/error.hpp): throw it from plugin code; the boundary turns it into its
// status code and message.

namespace detail {

inline void set_error(parley_error *err, parley_status code, const char *message) noexcept {
    if (!err) return;
    err->code = code;
    std::snprintf(err->message, sizeof err->message, "%s", message ? message : "");
}

// Runs `fn` and converts any exception into a status: the ABI boundary (ORT's API_IMPL_BEGIN/END).
template <class Fn> parley_status guard(parley_error *err, Fn &&fn) noexcept {
    try {
        fn();
        return PARLEY_OK;
    } catch (const Error &e) {
        set_error(err, e.code(), e.what());
        return e.code();
    } catch (const std::bad_alloc &) {
        set_error(err, PARLEY_ERR_OUT_OF_MEMORY, "out of memory");
        return PARLEY_ERR_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        set_error(err, PARLEY_ERR_RUNTIME, e.what());
        return PARLEY_ERR_RUNTIME;
    } catch (...) {
        set_error(err, PARLEY_ERR_RUNTIME, "unknown exception");
        return PARLEY_ERR_RUNTIME;
    }
}

inline const parley_host_api *&host_slot() noexcept {
    static const parley_host_api *host = nullptr; // one per plugin: the SDK is compiled into it
    return host;
}

inline std::string_view view(parley_str s) noexcept { return s.size ? std::string_view(s.data, s.size) : std::string_view(); }
inline parley_str str(std::string_view s) noexcept { return parley_str{s.data(), s.size()}; }

// Writes a member of a host-provided, size-versioned struct only if the host's struct has it.
#define PARLEY_SDK_SET(OUT, MEMBER, VALUE)                                                         \
    do {                                                                                           \
        if (offsetof(std::remove_pointer_t<decltype(OUT)>, MEMBER) + sizeof((OUT)->MEMBER) <=      \
            (OUT)->struct_size)                                                                    \
            (OUT)->MEMBER = (VALUE);                                                               \
    } while (0)

} // namespace detail

// ---------------------------------------------------------------------------------------------
// Host services
// ---------------------------------------------------------------------------------------------

inline const parley_host_api &host() {
    auto *h = detail::host_slot();
    if (!h) throw Error(PARLEY_ERR_RUNTIME, "parley SDK used before parley_plugin_init");
    return *h;
}

// Logs through the host's sink (one log format, one destination for the whole process).
inline void log(int32_t level, std::string_view component, std::string_view message) {
    auto *h = detail::host_slot();
    if (!h || !h->log) return;
    std::string c(component), m(message);
    h->log(h->host_ctx, level, c.c_str(), m.c_str());
}
inline void log_info(std::string_view component, std::string_view message) { log(PARLEY_LOG_INFO, component, message); }
inline void log_warn(std::string_view component, std::string_view message) { log(PARLEY_LOG_WARN, component, message); }
inline void log_debug(std::string_view component, std::string_view message) { log(PARLEY_LOG_DEBUG, component, message); }

// Appends text to a host-owned sink.
inline void append(parley_buffer *out, std::string_view text) {
    if (!text.empty()) host().buffer_append(out, text.data(), text.size());
}

// ---------------------------------------------------------------------------------------------
// Parameter specs (ABI 1.4): one line per key, with its type, typed default, range or choices and
// doc. The host checks every value of a graph against them before any instance is created, and
// puts the default into the configuration when the graph leaves the key out:
//
//   inline constexpr const char *kProfiles[] = {"coral", "fixed"};
//   inline constexpr parley_param kProfile = parley::param::choice("profile", kProfiles, "coral", "...");
//   inline constexpr parley_param kSlots = parley::param::integer("n_parallel", 16, "...", parley::between(1, 256));
//   inline constexpr parley_param kParams[] = {kProfile, kSlots};
//   ... cfg.get<std::string>(kProfile), cfg.get<int>(kSlots)   // always a value: no fallback to repeat
// ---------------------------------------------------------------------------------------------

// The range of a number parameter.
struct Range {
    uint32_t flags = 0; // PARLEY_PARAM_HAS_MIN / _HAS_MAX
    double lo = 0, hi = 0;
};
constexpr Range at_least(double lo) { return {PARLEY_PARAM_HAS_MIN, lo, 0}; }
constexpr Range at_most(double hi) { return {PARLEY_PARAM_HAS_MAX, 0, hi}; }
constexpr Range between(double lo, double hi) { return {PARLEY_PARAM_HAS_MIN | PARLEY_PARAM_HAS_MAX, lo, hi}; }

namespace param {

constexpr parley_param make(const char *key, int32_t type, uint32_t flags, const char *doc) {
    parley_param p{};
    p.key = key;
    p.type = type;
    p.flags = flags;
    p.doc = doc;
    return p;
}
// A string with a default (shown by `parley inspect` as written).
constexpr parley_param string(const char *key, const char *value, const char *doc) {
    parley_param p = make(key, PARLEY_TYPE_STRING, PARLEY_PARAM_HAS_DEFAULT, doc);
    p.default_text = value;
    p.default_string = value;
    return p;
}
// A string that must be one of `choices` (a static array), with a default among them.
template <size_t N>
constexpr parley_param choice(const char *key, const char *const (&choices)[N], const char *value, const char *doc) {
    parley_param p = string(key, value, doc);
    p.choices = choices;
    p.n_choices = N;
    return p;
}
constexpr parley_param integer(const char *key, int64_t value, const char *doc, Range r = {}) {
    parley_param p = make(key, PARLEY_TYPE_INT, PARLEY_PARAM_HAS_DEFAULT | r.flags, doc);
    p.default_int = value;
    p.min_value = r.lo;
    p.max_value = r.hi;
    return p;
}
constexpr parley_param number(const char *key, double value, const char *doc, Range r = {}) {
    parley_param p = make(key, PARLEY_TYPE_FLOAT, PARLEY_PARAM_HAS_DEFAULT | r.flags, doc);
    p.default_float = value;
    p.min_value = r.lo;
    p.max_value = r.hi;
    return p;
}
constexpr parley_param flag(const char *key, bool value, const char *doc) {
    parley_param p = make(key, PARLEY_TYPE_BOOL, PARLEY_PARAM_HAS_DEFAULT, doc);
    p.default_int = value ? 1 : 0;
    return p;
}
// A file or folder: PARLEY_PARAM_REQUIRED and/or PARLEY_PARAM_MUST_EXIST in `flags`; no default.
constexpr parley_param path(const char *key, uint32_t flags, const char *doc) { return make(key, PARLEY_TYPE_PATH, flags, doc); }
// The same spec, required: the host refuses a graph without the key.
constexpr parley_param required(parley_param p) {
    p.flags |= PARLEY_PARAM_REQUIRED;
    return p;
}
// A key whose default the component computes: `shown` tells `parley inspect` how ("physical cores").
constexpr parley_param computed(const char *key, int32_t type, const char *shown, const char *doc, Range r = {}) {
    parley_param p = make(key, type, r.flags, doc);
    p.default_text = shown;
    p.min_value = r.lo;
    p.max_value = r.hi;
    return p;
}

} // namespace param

// Element `i` of a component's parameter array, walked by its stride (ABI 1.4 param_size; the 1.0
// size for older components).
inline const parley_param &param_at(const parley_component &c, size_t i) {
    const size_t covers = offsetof(parley_component, param_size) + sizeof(c.param_size);
    const size_t stride = c.struct_size >= covers && c.param_size ? c.param_size : offsetof(parley_param, doc) + sizeof(const char *);
    return *reinterpret_cast<const parley_param *>(reinterpret_cast<const char *>(c.params) + i * stride);
}

// A component's configuration, valid during construction only: copy what you keep.
class Config {
  public:
    explicit Config(const parley_config *cfg) : cfg_(cfg) {}

    bool has(const char *key) const {
        int64_t i;
        parley_str s;
        double d;
        int32_t b;
        size_t n;
        auto &h = host();
        return h.config_get_string(cfg_, key, &s) != PARLEY_ERR_NOT_FOUND ||
               h.config_get_int(cfg_, key, &i) != PARLEY_ERR_NOT_FOUND ||
               h.config_get_float(cfg_, key, &d) != PARLEY_ERR_NOT_FOUND ||
               h.config_get_bool(cfg_, key, &b) != PARLEY_ERR_NOT_FOUND ||
               h.config_get_array_size(cfg_, key, &n) != PARLEY_ERR_NOT_FOUND;
    }
    std::string get(const char *key, std::string_view fallback) const {
        parley_str s;
        return check(host().config_get_string(cfg_, key, &s), key) ? std::string(detail::view(s)) : std::string(fallback);
    }
    std::string get(const char *key, const char *fallback) const { return get(key, std::string_view(fallback)); }
    int64_t get(const char *key, int64_t fallback) const {
        int64_t v;
        return check(host().config_get_int(cfg_, key, &v), key) ? v : fallback;
    }
    int get(const char *key, int fallback) const { return static_cast<int>(get(key, static_cast<int64_t>(fallback))); }
    double get(const char *key, double fallback) const {
        double v;
        return check(host().config_get_float(cfg_, key, &v), key) ? v : fallback;
    }
    bool get(const char *key, bool fallback) const {
        int32_t v;
        return check(host().config_get_bool(cfg_, key, &v), key) ? v != 0 : fallback;
    }
    std::vector<std::string> get(const char *key, std::vector<std::string> fallback) const {
        size_t n = 0;
        if (!check(host().config_get_array_size(cfg_, key, &n), key)) return fallback;
        std::vector<std::string> out;
        for (size_t i = 0; i < n; ++i) {
            parley_str s;
            check(host().config_get_array_string(cfg_, key, i, &s), key);
            out.emplace_back(detail::view(s));
        }
        return out;
    }
    // Any value (a table, an array, ...) as JSON text; nullopt if absent. Needs a 1.1 host.
    std::optional<std::string> json(const char *key) const {
        const parley_host_api &h = host();
        if (offsetof(parley_host_api, buffer_data) + sizeof(h.buffer_data) > h.struct_size || !h.buffer_create)
            throw Error(PARLEY_ERR_UNSUPPORTED, "reading a table needs a host with ABI 1.1 or later");
        parley_buffer *b = h.buffer_create();
        if (!b) throw std::bad_alloc();
        struct Free {
            const parley_host_api &h;
            parley_buffer *b;
            ~Free() { h.buffer_destroy(b); }
        } guard{h, b};
        parley_status st = h.config_get_json(cfg_, key, b);
        if (st == PARLEY_ERR_NOT_FOUND) return std::nullopt;
        if (st != PARLEY_OK) throw Error(st, std::string("config key '") + key + "' cannot be read as JSON");
        size_t n = 0;
        const char *d = h.buffer_data(b, &n);
        return std::string(d, n);
    }
    const parley_config *raw() const { return cfg_; }

    // The value of a key declared with parley::param: the host has applied its default and checked
    // it against the spec (ABI 1.4); where no host did (a test host), the spec's own default stands
    // in and its choices and range are checked here. T: std::string, an integer type, a floating
    // type, bool. A key with no value and no default throws.
    template <class T> T get(const parley_param &p) const {
        const bool has_default = (p.flags & PARLEY_PARAM_HAS_DEFAULT) != 0;
        if (!has_default && !has(p.key)) throw Error(PARLEY_ERR_INVALID_ARGUMENT, std::string("config key '") + p.key + "' is required");
        if constexpr (std::is_same_v<T, std::string>) {
            std::string v = get(p.key, std::string_view(has_default && p.default_string ? p.default_string : ""));
            check_choice(p, v);
            return v;
        } else if constexpr (std::is_same_v<T, bool>) {
            return get(p.key, has_default && p.default_int != 0);
        } else if constexpr (std::is_integral_v<T>) {
            const int64_t v = get(p.key, has_default ? p.default_int : int64_t{0});
            check_range(p, static_cast<double>(v));
            return static_cast<T>(v);
        } else {
            static_assert(std::is_floating_point_v<T>, "Config::get<T>(param): T is a string, an integer, a float or bool");
            const double v = get(p.key, has_default ? p.default_float : 0.0);
            check_range(p, v);
            return static_cast<T>(v);
        }
    }

  private:
    static void check_choice(const parley_param &p, const std::string &v) {
        if (!p.choices || !p.n_choices) return;
        std::string allowed;
        for (size_t i = 0; i < p.n_choices; ++i) {
            if (v == p.choices[i]) return;
            allowed += std::string(i ? ", \"" : "\"") + p.choices[i] + "\"";
        }
        throw Error(PARLEY_ERR_INVALID_ARGUMENT, std::string("config key '") + p.key + "': \"" + v + "\" is not one of " + allowed);
    }
    static void check_range(const parley_param &p, double v) {
        if (((p.flags & PARLEY_PARAM_HAS_MIN) && !(v >= p.min_value)) || ((p.flags & PARLEY_PARAM_HAS_MAX) && !(v <= p.max_value)))
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, std::string("config key '") + p.key + "': " + std::to_string(v) + " is out of range");
    }
    static bool check(parley_status st, const char *key) {
        if (st == PARLEY_OK) return true;
        if (st == PARLEY_ERR_NOT_FOUND) return false;
        throw Error(st, std::string("config key '") + key + "' has the wrong type");
    }
    const parley_config *cfg_;
};


// ---------------------------------------------------------------------------------------------
// Domains
// ---------------------------------------------------------------------------------------------

struct Item {
    std::string id;            // stable id
    std::string gold;          // gold answer (letter for multiple choice)
    std::string category;      // may be empty
    std::string metadata_json; // source row as a JSON object; may be empty
    std::string text;          // the question as the task message shows it (used by default prompts)
};

struct Belief {
    std::string text; // canonical normalised form, e.g. "The answer is (B)."
    bool valid = false;
};

struct DomainInfo {
    std::string task_name;           // the prompts' {task_name} (Coral's {{ task_name }})
    std::string task_specific_inst;  // the prompts' {task_specific_inst}; SDK-side only
    std::string matcher_name;        // (optional) a label for records, e.g. Coral's "MMLUProMatchEvaluator"
    std::string extractor_name;      // (optional) e.g. Coral's "MMLUProExtractionPromptingEvaluator"
    int score_json_type = PARLEY_SCORE_JSON_FLOAT;
    bool sensitive_text = false;     // never log item text
};

// Passed to Domain::load: says whether malformed rows fail the load or are skipped and counted.
class LoadContext {
  public:
    LoadContext(std::string component, bool skip) : component_(std::move(component)), skip_(skip) {}
    // Report a malformed row. Throws PARLEY_ERR_PARSE unless skipping; returns when skipped.
    void malformed(const std::string &message) {
        if (!skip_) throw Error(PARLEY_ERR_PARSE, message);
        ++skipped_;
        log_warn(component_, "skipped: " + message);
    }
    size_t skipped() const { return skipped_; }
    bool skipping() const { return skip_; }

  private:
    std::string component_;
    bool skip_;
    size_t skipped_ = 0;
};

// What every domain implements. Where the items live is the subclass's business: Domain keeps a
// plain vector of them (below); TableDomain<Row> (parley/domain.hpp) keeps each item with its row.
class DomainBase {
  public:
    virtual ~DomainBase() = default;

    // Read `path` in the release's original format. Call ctx.malformed(...) with
    // "file:line: field 'x': what" for a bad row. On failure the items loaded before stay.
    virtual void load(const std::string &path, LoadContext &ctx) = 0;
    // Extract a belief from an agent turn (PARLEY_EXTRACT_RULE) or from the LLM extractor's
    // reply (PARLEY_EXTRACT_LLM_OUTPUT).
    virtual Belief extract(size_t index, int mode, std::string_view text) = 0;
    virtual double score(size_t index, std::string_view belief) = 0;
    virtual DomainInfo info() const = 0;
    virtual size_t size() const = 0;
    virtual const Item &item(size_t index) const = 0; // throws std::out_of_range past size()

    // Prompts. The default: Coral's generic forms with {question} = Item::text and info()'s task
    // name and instruction.
    virtual std::string render(size_t index, int what, std::string_view input) {
        const DomainInfo di = info();
        Prompts::Defaults d;
        d.task_name = di.task_name;
        d.task_specific_inst = di.task_specific_inst;
        return Prompts(std::move(d), {"question"}).render(what, {{"question", item(index).text}}, input);
    }

    // What the host's load calls: load(), leaving the previous items in place on failure.
    virtual void reload(const std::string &path, LoadContext &ctx) { load(path, ctx); }

    DomainInfo info_cache_; // SDK-internal: keeps get_info's strings alive
};

// A domain that keeps its items in `items` (fill it in load()).
class Domain : public DomainBase {
  public:
    size_t size() const override { return items.size(); }
    const Item &item(size_t index) const override { return items.at(index); }
    void reload(const std::string &path, LoadContext &ctx) override {
        std::vector<Item> previous;
        previous.swap(items);
        try {
            load(path, ctx);
        } catch (...) {
            items.swap(previous);
            throw;
        }
    }

    std::vector<Item> items;
};

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

struct Message {
    std::string role;
    std::string content;
};

struct Request {
    std::vector<Message> messages;
    std::string prompt; // raw completion prompt; when non-empty, messages are ignored
    double temperature = 0.0;
    double top_p = 1.0;
    int32_t top_k = 0;
    double min_p = 0.0;
    std::optional<uint64_t> seed;
    int32_t max_tokens = 0;
    int32_t n = 1;
    std::vector<std::string> stop;
    uint64_t conversation = 0;
    uint32_t agent = 0;
    double deadline_s = 0;
    std::string extra_json;
    // (ABI 1.3) Streaming, when the caller asked for it: call with each final piece of choice
    // `index`'s text (valid UTF-8, no part of a stop string), in order, before `done`. Empty: the
    // caller does not stream. A backend that cannot stream never calls it.
    std::function<void(uint32_t index, std::string_view text)> on_delta;
};

struct Choice {
    std::string text;
    int32_t finish_reason = PARLEY_FINISH_NONE;
    int64_t completion_tokens = 0;
    std::string reasoning; // (ABI 1.5) thinking output, never part of `text`; empty: none
};

struct Completion {
    parley_status status = PARLEY_OK;
    std::string error;
    std::vector<Choice> choices;
    int64_t prompt_tokens = 0;
    int64_t cached_tokens = 0;
    int64_t completion_tokens = 0;
    double queue_s = 0, prefill_s = 0, total_s = 0;
    int64_t reasoning_tokens = 0; // (ABI 1.5) of completion_tokens, spent on reasoning; -1 unknown
};

struct BackendInfo {
    std::string model;
    int64_t context_size = 0;
    int32_t max_parallel = 0;
};

// What Backend::load() reports (ABI 1.2, parley_backend_load): how busy the backend is now.
struct BackendLoad {
    int64_t queued = 0;       // accepted, not yet running
    int64_t running = 0;      // being served now
    int64_t kv_used = -1;     // KV cells held for requests being served (not droppable caches); -1 unknown
    int64_t kv_capacity = -1; // KV cells in all; -1 unknown
};

class Backend {
  public:
    // Called exactly once per accepted request, from any thread, never from inside submit().
    using Done = std::function<void(Completion &&)>;

    virtual ~Backend() = default; // must cancel outstanding requests and join threads
    virtual uint64_t submit(Request request, Done done) = 0;
    virtual bool cancel(uint64_t request_id) = 0; // false: unknown id
    virtual BackendInfo info() = 0;
    virtual std::string apply_template(const std::vector<Message> &) {
        throw Error(PARLEY_ERR_UNSUPPORTED, "this backend does not render chat templates");
    }
    virtual void *proc_address(const char *) { return nullptr; }
    // (optional, ABI 1.2) Thread-safe and cheap: called often, from any thread, while requests
    // run. nullopt: not reported (get_load answers PARLEY_ERR_UNSUPPORTED).
    virtual std::optional<BackendLoad> load() { return std::nullopt; }
    BackendInfo info_cache_; // SDK-internal: keeps get_info's strings alive
};

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

class Emitter {
  public:
    explicit Emitter(parley_buffer *out) : out_(out) {}
    void emit(std::string_view record_json) {
        append(out_, record_json);
        append(out_, "\n");
    }

  private:
    parley_buffer *out_;
};

class Filter {
  public:
    virtual ~Filter() = default;
    virtual void push(std::string_view record_json, Emitter &out) = 0;
    virtual void finish(Emitter &) {}
    virtual std::string report() = 0; // {"kept":n,"dropped":n,"reasons":{...}}
};

// ---------------------------------------------------------------------------------------------
// Trainers (ABI 1.1)
// ---------------------------------------------------------------------------------------------

struct TrainJob {
    std::string data_path;
    std::string output_dir;
};

class Trainer {
  public:
    virtual ~Trainer() = default;
    // Returns the JSON summary {"model": path, "adapter": bool, "metrics": {...}}.
    virtual std::string train(const TrainJob &job) = 0;
};

// ---------------------------------------------------------------------------------------------
// Trampolines: C function tables over the C++ classes
// ---------------------------------------------------------------------------------------------
namespace detail {

template <class T> parley_status create(const parley_host_api *h, const parley_config *cfg, void **self, parley_error *err) noexcept {
    return guard(err, [&] {
        if (h) host_slot() = h;
        Config config(cfg);
        *self = static_cast<void *>(new T(config));
    });
}

template <class Base, class T> void destroy(void *self) noexcept {
    try {
        delete static_cast<Base *>(static_cast<T *>(self));
    } catch (...) {
        // A destructor must not throw; nothing sensible is left to do.
    }
}

template <class T> struct DomainTable {
    static DomainBase *self(void *p) { return static_cast<T *>(p); }
    static parley_status load(void *p, parley_str path, int32_t skip, parley_load_result *out, parley_error *err) noexcept {
        return guard(err, [&] {
            DomainBase *d = self(p);
            LoadContext ctx(std::string("domain"), skip != 0);
            d->reload(std::string(view(path)), ctx); // state and out-parameters untouched on failure
            PARLEY_SDK_SET(out, n_items, d->size());
            PARLEY_SDK_SET(out, n_skipped, ctx.skipped());
        });
    }
    static parley_status get_item(void *p, size_t index, parley_item_info *out, parley_error *err) noexcept {
        return guard(err, [&] {
            DomainBase *d = self(p);
            if (index >= d->size())
                throw Error(PARLEY_ERR_INVALID_ARGUMENT, "item index " + std::to_string(index) + " out of range");
            const Item &it = d->item(index);
            PARLEY_SDK_SET(out, id, str(it.id));
            PARLEY_SDK_SET(out, gold, str(it.gold));
            PARLEY_SDK_SET(out, category, str(it.category));
            PARLEY_SDK_SET(out, metadata_json, str(it.metadata_json));
        });
    }
    static parley_status render(void *p, size_t index, int32_t what, parley_str input, parley_buffer *out, parley_error *err) noexcept {
        return guard(err, [&] {
            DomainBase *d = self(p);
            if (index >= d->size()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "item index out of range");
            append(out, d->render(index, what, view(input)));
        });
    }
    static parley_status extract(void *p, size_t index, int32_t mode, parley_str text, parley_buffer *belief, int32_t *valid, parley_error *err) noexcept {
        return guard(err, [&] {
            DomainBase *d = self(p);
            if (index >= d->size()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "item index out of range");
            Belief b = d->extract(index, mode, view(text));
            append(belief, b.text);
            *valid = b.valid ? 1 : 0;
        });
    }
    static parley_status score(void *p, size_t index, parley_str belief, double *out, parley_error *err) noexcept {
        return guard(err, [&] {
            DomainBase *d = self(p);
            if (index >= d->size()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "item index out of range");
            *out = d->score(index, view(belief));
        });
    }
    static parley_status get_info(void *p, parley_domain_info *out, parley_error *err) noexcept {
        return guard(err, [&] {
            DomainInfo &keep = self(p)->info_cache_; // strings live as long as the instance
            keep = self(p)->info();
            PARLEY_SDK_SET(out, task_name, str(keep.task_name));
            PARLEY_SDK_SET(out, matcher_name, str(keep.matcher_name));
            PARLEY_SDK_SET(out, extractor_name, str(keep.extractor_name));
            PARLEY_SDK_SET(out, score_json_type, keep.score_json_type);
            PARLEY_SDK_SET(out, sensitive_text, keep.sensitive_text ? 1 : 0);
        });
    }
    static const parley_domain_vtable *table() {
        static const parley_domain_vtable vt = {
            /* .struct_size = */ sizeof(parley_domain_vtable),
            /* .create      = */ &detail::create<T>,
            /* .destroy     = */ &detail::destroy<DomainBase, T>,
            /* .load        = */ &load,
            /* .get_item    = */ &get_item,
            /* .render      = */ &render,
            /* .extract     = */ &extract,
            /* .score       = */ &score,
            /* .get_info    = */ &get_info,
        };
        return &vt;
    }
};

template <class T> struct BackendTable {
    static Backend *self(void *p) { return static_cast<T *>(p); }
    static Request to_request(const parley_request *r) {
        Request q;
        auto has = [&](size_t off, size_t sz) { return off + sz <= r->struct_size; };
#define PARLEY_SDK_HAS(M) has(offsetof(parley_request, M), sizeof(r->M))
        if (PARLEY_SDK_HAS(n_messages))
            for (size_t i = 0; i < r->n_messages; ++i)
                q.messages.push_back({std::string(view(r->messages[i].role)), std::string(view(r->messages[i].content))});
        if (PARLEY_SDK_HAS(prompt)) q.prompt = std::string(view(r->prompt));
        if (PARLEY_SDK_HAS(temperature)) q.temperature = r->temperature;
        if (PARLEY_SDK_HAS(top_p)) q.top_p = r->top_p;
        if (PARLEY_SDK_HAS(top_k)) q.top_k = r->top_k;
        if (PARLEY_SDK_HAS(min_p)) q.min_p = r->min_p;
        if (PARLEY_SDK_HAS(has_seed) && r->has_seed) q.seed = r->seed;
        if (PARLEY_SDK_HAS(max_tokens)) q.max_tokens = r->max_tokens;
        if (PARLEY_SDK_HAS(n)) q.n = r->n < 1 ? 1 : r->n;
        if (PARLEY_SDK_HAS(n_stop))
            for (size_t i = 0; i < r->n_stop; ++i) q.stop.emplace_back(view(r->stop[i]));
        if (PARLEY_SDK_HAS(agent)) {
            q.conversation = r->conversation;
            q.agent = r->agent;
        }
        if (PARLEY_SDK_HAS(deadline_s)) q.deadline_s = r->deadline_s;
        if (PARLEY_SDK_HAS(extra_json)) q.extra_json = std::string(view(r->extra_json));
#undef PARLEY_SDK_HAS
        return q;
    }
    static void deliver(parley_completion_fn fn, void *user, uint64_t id, Completion &&c) noexcept {
        try {
            std::vector<parley_choice> choices;
            std::vector<parley_str> reasoning;
            choices.reserve(c.choices.size());
            bool any_reasoning = false;
            for (auto &ch : c.choices) {
                choices.push_back({str(ch.text), ch.finish_reason, ch.completion_tokens});
                reasoning.push_back(str(ch.reasoning));
                any_reasoning |= !ch.reasoning.empty();
            }
            parley_completion out{};
            out.struct_size = sizeof out;
            out.request_id = id;
            out.status = c.status;
            out.error_message = str(c.error);
            out.choices = choices.data();
            out.n_choices = choices.size();
            out.prompt_tokens = c.prompt_tokens;
            out.cached_tokens = c.cached_tokens;
            out.completion_tokens = c.completion_tokens;
            out.queue_s = c.queue_s;
            out.prefill_s = c.prefill_s;
            out.total_s = c.total_s;
            out.reasoning = any_reasoning ? reasoning.data() : nullptr;
            out.reasoning_tokens = c.reasoning_tokens;
            fn(user, &out);
        } catch (...) {
            parley_completion out{};
            out.struct_size = sizeof out;
            out.request_id = id;
            out.status = PARLEY_ERR_OUT_OF_MEMORY;
            out.error_message = str("out of memory delivering a completion");
            fn(user, &out);
        }
    }
    static parley_status submit(void *p, const parley_request *r, parley_completion_fn fn, void *user, uint64_t *id, parley_error *err) noexcept {
        return guard(err, [&] {
            if (!r || !fn) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "submit needs a request and a callback");
            // The id is only known once the backend's submit returns; the callback may fire
            // before that on another thread, so it waits (a few instructions at most) for the id
            // to be published. On the submitting thread itself (a backend breaking the
            // never-inside-submit rule) it cannot wait, and delivers without one.
            struct Slot {
                std::atomic<uint64_t> id{0};
                std::atomic<bool> ready{false};
                std::thread::id submitter = std::this_thread::get_id();
            };
            auto slot = std::make_shared<Slot>();
            Request q = to_request(r);
            if (offsetof(parley_request, on_delta) + sizeof(r->on_delta) <= r->struct_size && r->on_delta)
                q.on_delta = [delta = r->on_delta, user](uint32_t index, std::string_view text) { delta(user, index, str(text)); };
            uint64_t rid = self(p)->submit(std::move(q), [fn, user, slot](Completion &&c) {
                if (std::this_thread::get_id() != slot->submitter)
                    while (!slot->ready.load(std::memory_order_acquire)) std::this_thread::yield();
                deliver(fn, user, slot->id.load(std::memory_order_relaxed), std::move(c));
            });
            slot->id.store(rid, std::memory_order_relaxed);
            slot->ready.store(true, std::memory_order_release);
            *id = rid;
        });
    }
    static parley_status cancel(void *p, uint64_t id) noexcept {
        parley_error err;
        parley_status st = PARLEY_OK;
        parley_status g = guard(&err, [&] { st = self(p)->cancel(id) ? PARLEY_OK : PARLEY_ERR_NOT_FOUND; });
        return g != PARLEY_OK ? g : st;
    }
    static parley_status get_info(void *p, parley_backend_info *out, parley_error *err) noexcept {
        return guard(err, [&] {
            BackendInfo &keep = self(p)->info_cache_;
            keep = self(p)->info();
            PARLEY_SDK_SET(out, model, str(keep.model));
            PARLEY_SDK_SET(out, context_size, keep.context_size);
            PARLEY_SDK_SET(out, max_parallel, keep.max_parallel);
        });
    }
    static parley_status apply_template(void *p, const parley_message *m, size_t n, parley_buffer *out, parley_error *err) noexcept {
        return guard(err, [&] {
            std::vector<Message> msgs;
            for (size_t i = 0; i < n; ++i) msgs.push_back({std::string(view(m[i].role)), std::string(view(m[i].content))});
            append(out, self(p)->apply_template(msgs));
        });
    }
    static void *proc_address(void *p, const char *name) noexcept {
        try {
            return self(p)->proc_address(name);
        } catch (...) {
            return nullptr;
        }
    }
    static parley_status get_load(void *p, parley_backend_load *out) noexcept {
        if (!out) return PARLEY_ERR_INVALID_ARGUMENT;
        parley_error err; // get_load has no error out-parameter: the status is the answer
        std::optional<BackendLoad> l;
        parley_status st = guard(&err, [&] { l = self(p)->load(); });
        if (st != PARLEY_OK) return st;
        if (!l) return PARLEY_ERR_UNSUPPORTED;
        PARLEY_SDK_SET(out, queued, l->queued);
        PARLEY_SDK_SET(out, running, l->running);
        PARLEY_SDK_SET(out, kv_used, l->kv_used);
        PARLEY_SDK_SET(out, kv_capacity, l->kv_capacity);
        return PARLEY_OK;
    }
    static const parley_backend_vtable *table() {
        static const parley_backend_vtable vt = {
            /* .struct_size      = */ sizeof(parley_backend_vtable),
            /* .create           = */ &detail::create<T>,
            /* .destroy          = */ &detail::destroy<Backend, T>,
            /* .submit           = */ &submit,
            /* .cancel           = */ &cancel,
            /* .get_info         = */ &get_info,
            /* .apply_template   = */ &apply_template,
            /* .get_proc_address = */ &proc_address,
            /* .get_load         = */ &get_load,
        };
        return &vt;
    }
};

template <class T> struct FilterTable {
    static Filter *self(void *p) { return static_cast<T *>(p); }
    static parley_status push(void *p, parley_str rec, parley_buffer *out, parley_error *err) noexcept {
        return guard(err, [&] {
            Emitter e(out);
            self(p)->push(view(rec), e);
        });
    }
    static parley_status finish(void *p, parley_buffer *out, parley_error *err) noexcept {
        return guard(err, [&] {
            Emitter e(out);
            self(p)->finish(e);
        });
    }
    static parley_status report(void *p, parley_buffer *out, parley_error *err) noexcept {
        return guard(err, [&] { append(out, self(p)->report()); });
    }
    static const parley_filter_vtable *table() {
        static const parley_filter_vtable vt = {
            /* .struct_size = */ sizeof(parley_filter_vtable),
            /* .create      = */ &detail::create<T>,
            /* .destroy     = */ &detail::destroy<Filter, T>,
            /* .push        = */ &push,
            /* .finish      = */ &finish,
            /* .report      = */ &report,
        };
        return &vt;
    }
};

template <class T> struct TrainerTable {
    static parley_status train(void *p, const parley_train_job *job, parley_error *err) noexcept {
        return guard(err, [&] {
            if (!job) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "train needs a job");
            TrainJob j{std::string(view(job->data_path)), std::string(view(job->output_dir))};
            std::string summary = static_cast<Trainer *>(static_cast<T *>(p))->train(j);
            if (job->result_json) append(job->result_json, summary);
        });
    }
    static const parley_trainer_vtable *table() {
        static const parley_trainer_vtable vt = {
            /* .struct_size = */ sizeof(parley_trainer_vtable),
            /* .create      = */ &detail::create<T>,
            /* .destroy     = */ &detail::destroy<Trainer, T>,
            /* .train       = */ &train,
        };
        return &vt;
    }
};

template <class T, int Kind>
const parley_component *make_component(const char *name, uint32_t version, const char *description,
                                       const parley_param *params, size_t n_params, const void *vtable) {
    static parley_component c{};
    c.struct_size = sizeof(parley_component);
    c.kind = Kind;
    c.name = name;
    c.version = version;
    c.description = description;
    c.params = params;
    c.n_params = n_params;
    c.vtable = vtable;
    c.param_size = sizeof(parley_param); // the stride of `params` (ABI 1.4)
    return &c;
}

inline const parley_plugin_desc *init_plugin(const parley_host_api *h, parley_error *err, const char *name,
                                             const char *version, const char *description,
                                             std::initializer_list<const parley_component *> components) noexcept {
    if (!h || h->abi_major != PARLEY_ABI_MAJOR) {
        set_error(err, PARLEY_ERR_UNSUPPORTED, "host ABI major differs from the plugin's");
        return nullptr;
    }
    host_slot() = h;
    static std::vector<const parley_component *> list;
    static parley_plugin_desc desc{};
    try {
        list.assign(components.begin(), components.end());
    } catch (...) {
        set_error(err, PARLEY_ERR_OUT_OF_MEMORY, "out of memory");
        return nullptr;
    }
    desc.struct_size = sizeof desc;
    desc.abi_major = PARLEY_ABI_MAJOR;
    desc.abi_minor = PARLEY_ABI_MINOR;
    desc.name = name;
    desc.version = version;
    desc.description = description;
    desc.components = list.data();
    desc.n_components = list.size();
    desc.shutdown = nullptr;
    return &desc;
}

} // namespace detail

// Component declarations for PARLEY_PLUGIN. `params` is a static array of parley_param.
template <class T> const parley_component *domain(const char *name, uint32_t version, const char *description) {
    return detail::make_component<T, PARLEY_KIND_DOMAIN>(name, version, description, nullptr, 0, detail::DomainTable<T>::table());
}
template <class T, size_t N>
const parley_component *domain(const char *name, uint32_t version, const char *description, const parley_param (&params)[N]) {
    return detail::make_component<T, PARLEY_KIND_DOMAIN>(name, version, description, params, N, detail::DomainTable<T>::table());
}
template <class T> const parley_component *backend(const char *name, uint32_t version, const char *description) {
    return detail::make_component<T, PARLEY_KIND_BACKEND>(name, version, description, nullptr, 0, detail::BackendTable<T>::table());
}
template <class T, size_t N>
const parley_component *backend(const char *name, uint32_t version, const char *description, const parley_param (&params)[N]) {
    return detail::make_component<T, PARLEY_KIND_BACKEND>(name, version, description, params, N, detail::BackendTable<T>::table());
}
template <class T> const parley_component *filter(const char *name, uint32_t version, const char *description) {
    return detail::make_component<T, PARLEY_KIND_FILTER>(name, version, description, nullptr, 0, detail::FilterTable<T>::table());
}
template <class T, size_t N>
const parley_component *filter(const char *name, uint32_t version, const char *description, const parley_param (&params)[N]) {
    return detail::make_component<T, PARLEY_KIND_FILTER>(name, version, description, params, N, detail::FilterTable<T>::table());
}

template <class T> const parley_component *trainer(const char *name, uint32_t version, const char *description) {
    return detail::make_component<T, PARLEY_KIND_TRAINER>(name, version, description, nullptr, 0, detail::TrainerTable<T>::table());
}
template <class T, size_t N>
const parley_component *trainer(const char *name, uint32_t version, const char *description, const parley_param (&params)[N]) {
    return detail::make_component<T, PARLEY_KIND_TRAINER>(name, version, description, params, N, detail::TrainerTable<T>::table());
}

} // namespace parley

// Emits the plugin's entry point. NAME must match the library file name libparley-NAME.so.
#define PARLEY_PLUGIN(NAME, VERSION, DESCRIPTION, ...)                                              \
    extern "C" PARLEY_EXPORT const parley_plugin_desc *parley_plugin_init(const parley_host_api *host, \
                                                                         parley_error *err) {      \
        return ::parley::detail::init_plugin(host, err, NAME, VERSION, DESCRIPTION, {__VA_ARGS__});  \
    }
