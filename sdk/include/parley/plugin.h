/*
 * parley/plugin.h — Parley's plugin ABI. Plain C99; the only contract between the host and a plugin.
 *
 * A plugin is a shared library `libparley-<name>.so` exporting one symbol, `parley_plugin_init`.
 * The host passes its services in as a table (logging, configuration getters, output sinks), so a
 * plugin links nothing of the host and can be built out of tree against this header alone.
 *
 * Versioning. PARLEY_ABI_MAJOR changes only when something below changes meaning or layout.
 * Within a major, every struct and function table only grows at its end, and each one starts with
 * `struct_size`, so either side reads a member only when `offsetof + sizeof <= struct_size`.
 * The host accepts a plugin whose major equals its own and whose minor is not newer.
 *
 * Ownership, stated once for the whole header and repeated where it differs:
 *   - "borrowed": valid only for the duration of the call (or callback); copy what you keep.
 *   - strings in descriptors (names, docs, params) are static in the plugin: valid until unload.
 *   - results go into host-owned sinks (`parley_buffer`) through host functions, so no side ever
 *     frees memory allocated by the other.
 *   - every string is UTF-8; `parley_str` is not NUL-terminated unless stated.
 *
 * Errors. A fallible call returns `parley_status` (0 = PARLEY_OK) and takes a caller-owned
 * `parley_error *` that the callee fills with a message on failure (never on success). On failure,
 * out-parameters are left untouched. No exception, abort() or longjmp crosses this boundary.
 *
 * Threads. Unless a member says otherwise, the host calls a component instance from one thread at
 * a time. Backend `submit`/`cancel` are thread-safe; completion callbacks may arrive on any thread.
 * Plugins may own threads, but must join them in `destroy`.
 *
 * The numbered rules a plugin must follow, and which ones the host enforces, are in sdk/CONTRACT.md.
 */
#ifndef PARLEY_PLUGIN_H
#define PARLEY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define PARLEY_ABI_MAJOR 1
#define PARLEY_ABI_MINOR 5

#if defined(_WIN32)
#define PARLEY_EXPORT __declspec(dllexport)
#else
#define PARLEY_EXPORT __attribute__((visibility("default")))
#endif

/* The one symbol a plugin exports. */
#define PARLEY_PLUGIN_ENTRY "parley_plugin_init"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Basic types
 * ------------------------------------------------------------------------------------------- */

typedef int32_t parley_status;
enum {
    PARLEY_OK = 0,
    PARLEY_ERR_INVALID_ARGUMENT = 1, /* a caller mistake: bad config value, index out of range   */
    PARLEY_ERR_NOT_FOUND = 2,        /* missing file, key or id                                    */
    PARLEY_ERR_IO = 3,               /* read/write/network failure                                 */
    PARLEY_ERR_PARSE = 4,            /* malformed input; the message names file, line and field    */
    PARLEY_ERR_UNSUPPORTED = 5,      /* feature not offered by this plugin or this input           */
    PARLEY_ERR_RUNTIME = 6,          /* anything else that went wrong inside the plugin            */
    PARLEY_ERR_OUT_OF_MEMORY = 7,
    PARLEY_ERR_CANCELLED = 8,        /* a request was cancelled before it finished                 */
    PARLEY_ERR_TYPE = 9,             /* a config key holds a value of another type                 */
    PARLEY_ERR_UNAVAILABLE = 10,     /* a server or resource is (temporarily) unreachable          */
    PARLEY_ERR_CONTEXT_OVERFLOW = 11 /* a prompt does not fit the model's context                  */
};

#define PARLEY_ERROR_MESSAGE_SIZE 1024
/* Caller-owned; filled by the callee with snprintf on failure. Needs no heap, works under OOM. */
typedef struct parley_error {
    int32_t code;
    char message[PARLEY_ERROR_MESSAGE_SIZE];
} parley_error;

/* A borrowed UTF-8 string view. `data` may be NULL when `size` is 0. */
typedef struct parley_str {
    const char *data;
    size_t size;
} parley_str;

enum {
    PARLEY_LOG_TRACE = 1,
    PARLEY_LOG_DEBUG = 2,
    PARLEY_LOG_INFO = 3,
    PARLEY_LOG_WARN = 4,
    PARLEY_LOG_ERROR = 5
};

/* Opaque host objects. */
typedef struct parley_config parley_config; /* a component's configuration (a TOML table)   */
typedef struct parley_buffer parley_buffer; /* a growable text sink the host owns            */

/* ---------------------------------------------------------------------------------------------
 * Host services, passed to `parley_plugin_init` and to every `create`. Valid until unload.
 * ------------------------------------------------------------------------------------------- */

typedef struct parley_host_api {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    void *host_ctx; /* pass back as the first argument of `log` */

    /* Thread-safe. `component` and `message` are borrowed NUL-terminated strings. Never log
     * sensitive item text (GPQA questions): log item ids. */
    void (*log)(void *host_ctx, int32_t level, const char *component, const char *message);

    /* Configuration getters. `config` is valid only during the `create` call that received it;
     * strings it yields are borrowed for that call. Keys are TOML keys of the component's table.
     * Return PARLEY_OK, PARLEY_ERR_NOT_FOUND (key absent; *out untouched) or PARLEY_ERR_TYPE. */
    parley_status (*config_get_string)(const parley_config *config, const char *key, parley_str *out);
    parley_status (*config_get_int)(const parley_config *config, const char *key, int64_t *out);
    parley_status (*config_get_float)(const parley_config *config, const char *key, double *out);
    parley_status (*config_get_bool)(const parley_config *config, const char *key, int32_t *out);
    /* Arrays of strings: size, then each element. */
    parley_status (*config_get_array_size)(const parley_config *config, const char *key, size_t *out);
    parley_status (*config_get_array_string)(const parley_config *config, const char *key,
                                             size_t index, parley_str *out);
    /* Any value (tables and arrays included) rendered as JSON into `out`. */
    parley_status (*config_get_json)(const parley_config *config, const char *key, parley_buffer *out);

    /* Text sinks. `data` is borrowed; the host copies it. */
    void (*buffer_append)(parley_buffer *buffer, const char *data, size_t size);
    void (*buffer_clear)(parley_buffer *buffer);

    /* since 1.1: buffers a plugin owns (e.g. to read config_get_json). A buffer made here is
     * freed with buffer_destroy by the plugin; buffer_data's pointer is valid until the next
     * change of the buffer and is NUL-terminated. */
    parley_buffer *(*buffer_create)(void);
    void (*buffer_destroy)(parley_buffer *buffer);
    const char *(*buffer_data)(const parley_buffer *buffer, size_t *size);
} parley_host_api;

/* ---------------------------------------------------------------------------------------------
 * Descriptors: what a plugin offers. All static in the plugin, valid until unload.
 * ------------------------------------------------------------------------------------------- */

enum {
    PARLEY_KIND_INVALID = 0,
    PARLEY_KIND_DOMAIN = 1,  /* a benchmark: loads items, renders prompts, extracts, scores */
    PARLEY_KIND_BACKEND = 2, /* an inference engine: asynchronous chat completions          */
    PARLEY_KIND_FILTER = 3,  /* a record filter in a data pipeline                           */
    PARLEY_KIND_TRAINER = 4  /* trains a model on preference pairs or SFT rows (since 1.1)   */
};

/* Types of configuration values, used by the host to validate a graph before anything runs. */
enum {
    PARLEY_TYPE_INVALID = 0,
    PARLEY_TYPE_STRING = 1,
    PARLEY_TYPE_INT = 2,
    PARLEY_TYPE_FLOAT = 3, /* an integer literal is accepted too */
    PARLEY_TYPE_BOOL = 4,
    PARLEY_TYPE_STRING_ARRAY = 5,
    PARLEY_TYPE_PATH = 6, /* a string; relative paths are resolved against the graph file's folder */
    PARLEY_TYPE_ANY = 7   /* any TOML value, read with config_get_json */
};

/* Parameter flags. */
enum {
    PARLEY_PARAM_REQUIRED = 1u << 0,    /* the key must be present                              */
    PARLEY_PARAM_MUST_EXIST = 1u << 1,  /* PATH: the host checks the file or folder exists      */
    /* since 1.4: the members they name are set (read only when param_size covers them) */
    PARLEY_PARAM_HAS_MIN = 1u << 2,     /* INT/FLOAT: `min_value` is the smallest value allowed  */
    PARLEY_PARAM_HAS_MAX = 1u << 3,     /* INT/FLOAT: `max_value` is the largest value allowed   */
    PARLEY_PARAM_HAS_DEFAULT = 1u << 4  /* the host applies the typed default below              */
};

/* One configuration key of a component. The host checks a graph's values against these specs
 * before any instance is created (`parley validate` and `parley run`), so a component never sees
 * a value of the wrong type, out of its range or outside its choices.
 *
 * Arrays of parley_param are walked with the stride `parley_component.param_size` (since 1.4):
 * this struct grows at its end like every other, and a 1.0-1.3 component (whose struct_size ends
 * before param_size) is read with the 1.0 stride and members. */
typedef struct parley_param {
    const char *key;
    int32_t type;          /* PARLEY_TYPE_* */
    uint32_t flags;        /* PARLEY_PARAM_* */
    /* Shown by `parley inspect`; NULL if none. Before 1.4 the plugin applied it itself; since 1.4
     * it may describe a default the component computes ("4 x backend slots"), and with
     * PARLEY_PARAM_HAS_DEFAULT NULL means "show the typed default". */
    const char *default_text;
    const char *doc;       /* one line */

    /* since 1.4 */
    /* STRING, PATH, STRING_ARRAY (each element): the allowed values, compared exactly (a near
     * miss gets a did-you-mean); NULL or n_choices 0: any. Static, like every descriptor string. */
    const char *const *choices;
    size_t n_choices;
    double min_value;           /* with PARLEY_PARAM_HAS_MIN (INT values compare as numbers) */
    double max_value;           /* with PARLEY_PARAM_HAS_MAX                                  */
    /* With PARLEY_PARAM_HAS_DEFAULT: the value the host puts into the configuration when the
     * graph leaves the key out, so `config_get_*` always finds it. The member of the param's type
     * is read: STRING/PATH default_string (applied as written, not resolved), INT default_int,
     * BOOL default_int (0 or 1), FLOAT default_float. Other types take no default. */
    const char *default_string;
    int64_t default_int;
    double default_float;
} parley_param;

typedef struct parley_component {
    uint32_t struct_size;
    int32_t kind;            /* PARLEY_KIND_* */
    const char *name;        /* "domain" -> a graph refers to it as "<plugin>/domain"        */
    uint32_t version;        /* behaviour version; bump when results would change             */
    const char *description; /* one line */
    const parley_param *params; /* n_params elements, param_size bytes apart (see parley_param) */
    size_t n_params;
    const void *vtable; /* parley_domain_vtable*, parley_backend_vtable* or parley_filter_vtable* */
    /* since 1.4: sizeof(parley_param) at the plugin's build time, the stride of `params`. Must be
     * set (non-zero) by every component whose struct_size covers it. */
    uint32_t param_size;
} parley_component;

typedef struct parley_plugin_desc {
    uint32_t struct_size;
    uint32_t abi_major; /* PARLEY_ABI_MAJOR at the plugin's build time */
    uint32_t abi_minor; /* PARLEY_ABI_MINOR at the plugin's build time */
    const char *name;   /* must equal <name> in libparley-<name>.so                         */
    const char *version; /* the plugin's semver, e.g. "1.2.0"                                */
    const char *description;
    /* An array of pointers (not of structs) so a newer, larger parley_component stays indexable. */
    const parley_component *const *components;
    size_t n_components;
    /* (optional) Called once before the host exits, after every instance is destroyed. */
    void (*shutdown)(void);
} parley_plugin_desc;

/* The entry point. Returns NULL and fills `err` if the plugin cannot work with this host.
 * `host` stays valid until unload; the plugin may keep the pointer. */
typedef const parley_plugin_desc *(*parley_plugin_init_fn)(const parley_host_api *host,
                                                           parley_error *err);

/* ---------------------------------------------------------------------------------------------
 * Domains
 * ------------------------------------------------------------------------------------------- */

/* Texts a domain renders for the runtime. */
enum {
    PARLEY_TEXT_INVALID = 0,
    PARLEY_TEXT_TASK = 1,               /* turn 0: the task message, asked by the first role     */
    PARLEY_TEXT_TASK_TEACHER_FIRST = 2, /* turn 0 when the teacher asks (MATH and ToM only)      */
    PARLEY_TEXT_SYSTEM_COLLABORATE = 3, /* the agents' system prompt in a collaboration          */
    PARLEY_TEXT_SYSTEM_COT = 4,         /* the single-agent chain-of-thought system prompt       */
    PARLEY_TEXT_EXTRACTOR_SYSTEM = 5,   /* the LLM belief extractor's system prompt              */
    PARLEY_TEXT_EXTRACTOR_PROMPT = 6    /* its user prompt; `input` is the turn to read          */
};

/* How `extract` reads `text`. */
enum {
    PARLEY_EXTRACT_INVALID = 0,
    PARLEY_EXTRACT_RULE = 1,         /* read the final answer straight from an agent's turn   */
    PARLEY_EXTRACT_LLM_OUTPUT = 2    /* normalise the LLM extractor's reply (official regexes) */
};

/* JSON type of the matcher score in Coral records (Coral writes float for MATH, bool for
 * multiple choice, int for ToM). */
enum {
    PARLEY_SCORE_JSON_FLOAT = 0,
    PARLEY_SCORE_JSON_BOOL = 1,
    PARLEY_SCORE_JSON_INT = 2
};

/* One item, as the plugin holds it. Every string is plugin-owned and valid until `destroy`. */
typedef struct parley_item_info {
    uint32_t struct_size; /* set by the host to its own sizeof; the plugin fills what fits */
    parley_str id;        /* stable across runs and row orders                                */
    parley_str gold;      /* the gold answer (the letter for multiple choice)                 */
    parley_str category;  /* subject/category/level; may be empty                             */
    parley_str metadata_json; /* the source row (plus derived fields) as a JSON object         */
} parley_item_info;

typedef struct parley_domain_info {
    uint32_t struct_size; /* set by the host */
    /* Strings are borrowed until the next get_info call on the instance or its destroy. */
    parley_str task_name;      /* e.g. "reasoning-focused question answering"                  */
    parley_str matcher_name;   /* Coral's class name, e.g. "MMLUProMatchEvaluator"             */
    parley_str extractor_name; /* e.g. "MMLUProExtractionPromptingEvaluator"                   */
    int32_t score_json_type;   /* PARLEY_SCORE_JSON_* */
    int32_t sensitive_text;    /* nonzero: item text must never be logged (GPQA)               */
} parley_domain_info;

typedef struct parley_load_result {
    uint32_t struct_size; /* set by the host */
    size_t n_items;       /* items now held */
    size_t n_skipped;     /* malformed rows skipped (only when skip_malformed was set) */
} parley_load_result;

typedef struct parley_domain_vtable {
    uint32_t struct_size;
    /* Create an instance from its configuration. `config` is borrowed for this call. */
    parley_status (*create)(const parley_host_api *host, const parley_config *config, void **self,
                            parley_error *err);
    /* Must not fail. Invalidates every string the instance handed out. */
    void (*destroy)(void *self);
    /* Read items from `path` (the release's original format). Replaces any items held. Malformed
     * input fails with a message naming file, line/row and field, unless `skip_malformed` is set:
     * then such rows are logged, counted and skipped. */
    parley_status (*load)(void *self, parley_str path, int32_t skip_malformed,
                          parley_load_result *out, parley_error *err);
    /* Item `index` < n_items. */
    parley_status (*get_item)(void *self, size_t index, parley_item_info *out, parley_error *err);
    /* Render PARLEY_TEXT_* for item `index` into `out` (appended). `input` is borrowed. */
    parley_status (*render)(void *self, size_t index, int32_t what, parley_str input,
                            parley_buffer *out, parley_error *err);
    /* Extract a belief from `text` (PARLEY_EXTRACT_*), normalised to the domain's canonical
     * form (e.g. "The answer is (B)."), appended to `belief`. `*valid` is 1 for a usable
     * answer, 0 for "not sure yet", an error or nothing found. */
    parley_status (*extract)(void *self, size_t index, int32_t mode, parley_str text,
                             parley_buffer *belief, int32_t *valid, parley_error *err);
    /* Score a normalised belief against item `index`'s gold: 1.0 correct, 0.0 wrong. */
    parley_status (*score)(void *self, size_t index, parley_str belief, double *score,
                           parley_error *err);
    parley_status (*get_info)(void *self, parley_domain_info *out, parley_error *err);
} parley_domain_vtable;

/* ---------------------------------------------------------------------------------------------
 * Backends: asynchronous chat completions
 * ------------------------------------------------------------------------------------------- */

typedef struct parley_message {
    parley_str role;    /* "system" | "user" | "assistant" */
    parley_str content;
} parley_message;

/* A request; every pointer in it is borrowed for the `submit` call (the backend copies). */
typedef struct parley_request {
    uint32_t struct_size;
    const parley_message *messages;
    size_t n_messages;
    /* Raw completion prompt: when size > 0 it is sent as is (no chat template), and `messages`
     * is ignored. */
    parley_str prompt;
    /* Sampling. temperature 0 = greedy. Negative or zero values of top_k, min_p, top_p >= 1 are
     * "off". `seed` is used when `has_seed` is nonzero. */
    double temperature;
    double top_p;
    int32_t top_k;
    double min_p;
    uint64_t seed;
    int32_t has_seed;
    int32_t max_tokens; /* <= 0: the backend's default */
    int32_t n;          /* number of samples of the same prompt (>= 1); they share its prefix */
    const parley_str *stop;
    size_t n_stop;
    /* Routing and caching: a conversation id and the agent speaking in it. Turns with the same
     * (conversation, agent) extend the same history, so a backend may keep it resident.
     * conversation 0 = no affinity. */
    uint64_t conversation;
    uint32_t agent;
    /* Seconds until the request is abandoned with PARLEY_ERR_UNAVAILABLE; <= 0: none. */
    double deadline_s;
    /* Backend-specific extra fields, a JSON object (e.g. passed through to an HTTP body). */
    parley_str extra_json;
    /* since 1.3, (optional) Streaming: when non-NULL, a backend that streams calls it with each
     * piece of a choice's text as soon as the piece is final: valid UTF-8, never a part of a stop
     * string, in order within a choice (`choice` is its index), concatenating to the choice's
     * text, from any thread, never from inside submit, always before the request's `on_done`;
     * `user_data` is submit's. `text` is borrowed for the call. The completion still carries the
     * whole text. A backend that does not stream ignores it (callers must cope with no call). */
    void (*on_delta)(void *user_data, uint32_t choice, parley_str text);
} parley_request;

enum {
    PARLEY_FINISH_NONE = 0,
    PARLEY_FINISH_STOP = 1,   /* end of generation token or a stop string */
    PARLEY_FINISH_LENGTH = 2, /* max_tokens or the context was reached    */
    PARLEY_FINISH_CANCELLED = 3,
    PARLEY_FINISH_ERROR = 4
};

typedef struct parley_choice {
    parley_str text;
    int32_t finish_reason; /* PARLEY_FINISH_* */
    /* Tokens of this choice; -1 = unknown (e.g. an OpenAI-compatible server answering n > 1
     * reports only the request's total, parley_completion.completion_tokens). Never a guessed 0. */
    int64_t completion_tokens;
} parley_choice;

/* Everything here is borrowed for the duration of the callback. */
typedef struct parley_completion {
    uint32_t struct_size;
    uint64_t request_id;
    parley_status status;      /* PARLEY_OK or the failure; choices may then be empty */
    parley_str error_message;  /* set when status != PARLEY_OK */
    const parley_choice *choices;
    size_t n_choices;
    int64_t prompt_tokens;     /* tokens in the prompt                                  */
    int64_t cached_tokens;     /* of those, tokens not recomputed (prefix reuse)        */
    int64_t completion_tokens; /* summed over choices                                   */
    double queue_s;            /* submit -> first work                                  */
    double prefill_s;          /* first work -> first generated token                   */
    double total_s;            /* submit -> completion                                  */
    /* since 1.5: reasoning ("thinking") output, apart from the text. `reasoning` is NULL or an
     * array of n_choices entries: choice i's reasoning (empty: none), never part of its `text`
     * (a server's `reasoning_content`, or a think block split off by the model's template
     * markers). `reasoning_tokens`: of completion_tokens, those spent on reasoning, summed over
     * choices; -1 unknown (the server did not say), 0 none. */
    const parley_str *reasoning;
    int64_t reasoning_tokens;
} parley_completion;

/* Called exactly once per accepted request, from any thread, never from inside `submit`. */
typedef void (*parley_completion_fn)(void *user_data, const parley_completion *completion);

typedef struct parley_backend_info {
    uint32_t struct_size; /* set by the host */
    parley_str model;     /* model name or path (borrowed until the next get_info or destroy) */
    int64_t context_size; /* tokens per context, 0 if unknown */
    int32_t max_parallel; /* sequences decoded together, 0 if unknown */
} parley_backend_info;

/* since 1.2: how busy a backend is now, read by the host's admission control (get_load). */
typedef struct parley_backend_load {
    uint32_t struct_size; /* set by the host to its own sizeof; the plugin fills what fits    */
    int64_t queued;       /* requests accepted but not yet running (waiting for a slot, a
                             connection or a retry)                                           */
    int64_t running;      /* requests being served now (decoding, or in flight to a server)   */
    int64_t kv_used;      /* KV cells (tokens) held for requests being served; caches the
                             backend drops on demand (idle histories kept for prefix reuse) are
                             not counted, so this falls as requests finish. -1: unknown       */
    int64_t kv_capacity;  /* KV cells in all (every sequence's together). -1: unknown          */
} parley_backend_load;

typedef struct parley_backend_vtable {
    uint32_t struct_size;
    parley_status (*create)(const parley_host_api *host, const parley_config *config, void **self,
                            parley_error *err);
    /* Cancels what is outstanding (callbacks fire with PARLEY_ERR_CANCELLED), joins threads. */
    void (*destroy)(void *self);
    /* Thread-safe. Queue a request; on success `*request_id` identifies it and `on_done` will be
     * called exactly once. A request rejected here gets no callback. */
    parley_status (*submit)(void *self, const parley_request *request, parley_completion_fn on_done,
                            void *user_data, uint64_t *request_id, parley_error *err);
    /* Thread-safe. Cancel a request; its callback still fires once (PARLEY_ERR_CANCELLED unless it
     * had already finished). Unknown ids return PARLEY_ERR_NOT_FOUND. */
    parley_status (*cancel)(void *self, uint64_t request_id);
    parley_status (*get_info)(void *self, parley_backend_info *out, parley_error *err);
    /* (optional) Render `messages` with the model's chat template into `out`, as the backend
     * would for a request (generation prompt appended). */
    parley_status (*apply_template)(void *self, const parley_message *messages, size_t n_messages,
                                    parley_buffer *out, parley_error *err);
    /* (optional) Backend-specific extensions, looked up by name; NULL if absent. */
    void *(*get_proc_address)(void *self, const char *name);
    /* since 1.2, (optional) Thread-safe and cheap (no I/O, no waiting on a decode step): the host
     * calls it often, from any thread. Fills `out` (the host sets out->struct_size first; the
     * plugin writes the members that fit). PARLEY_ERR_UNSUPPORTED: this instance reports no load.
     * The host reads the member only when the table's struct_size covers it. */
    parley_status (*get_load)(void *self, parley_backend_load *out);
} parley_backend_vtable;

/* ---------------------------------------------------------------------------------------------
 * Filters: records in, records out (one JSON object per record)
 * ------------------------------------------------------------------------------------------- */

typedef struct parley_filter_vtable {
    uint32_t struct_size;
    parley_status (*create)(const parley_host_api *host, const parley_config *config, void **self,
                            parley_error *err);
    void (*destroy)(void *self);
    /* Offer one record (borrowed JSON). Each record the filter passes on is written to `out` as
     * one JSON object followed by '\n' (zero, one or more per call). */
    parley_status (*push)(void *self, parley_str record_json, parley_buffer *out, parley_error *err);
    /* No more records: write what a whole-set filter held back (same format as `push`). */
    parley_status (*finish)(void *self, parley_buffer *out, parley_error *err);
    /* A JSON object {"kept": n, "dropped": n, "reasons": {"<why>": n, ...}} into `out`. */
    parley_status (*report)(void *self, parley_buffer *out, parley_error *err);
} parley_filter_vtable;

/* ---------------------------------------------------------------------------------------------
 * Trainers (since 1.1): train a model on rows produced by a generation graph
 * ------------------------------------------------------------------------------------------- */

typedef struct parley_train_job {
    uint32_t struct_size;
    /* JSONL training rows: Coral's {"src","tgt_chosen","tgt_rejected","pairwise"} or {"src","tgt"},
     * or TRL's {"prompt": [...], "chosen": [...], "rejected": [...]} / {"messages": [...]}. */
    parley_str data_path;
    parley_str output_dir; /* checkpoints, logs and the exported model go here */
    /* The trainer appends a JSON object summarising the run, at least
     * {"model": "<path of the exported GGUF or adapter>", "adapter": bool, "metrics": {...}}. */
    parley_buffer *result_json;
} parley_train_job;

typedef struct parley_trainer_vtable {
    uint32_t struct_size;
    parley_status (*create)(const parley_host_api *host, const parley_config *config, void **self,
                            parley_error *err);
    void (*destroy)(void *self);
    /* Runs to completion (resuming from output_dir's last checkpoint if one exists). Blocking;
     * progress goes to the host log. */
    parley_status (*train)(void *self, const parley_train_job *job, parley_error *err);
} parley_trainer_vtable;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PARLEY_PLUGIN_H */
