// See engine.hpp for the design.
#include "engine.hpp"

#include "chat_template.hpp"
#include "reasoning.hpp"
#include "state_cache.hpp"

#include <llama.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace parley::llama_cpp {

namespace {

constexpr const char *kLog = "llama_cpp";
constexpr int kMaxSeq = 256; // LLAMA_MAX_SEQ in llama.cpp's src/llama-cparams.h (not in its public header)
using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::string fmt_s(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", s);
    return buf;
}

// ---------------------------------------------------------------------------------------------
// llama.cpp's log, forwarded through the host's log (WARN and ERROR only).
// ---------------------------------------------------------------------------------------------

thread_local std::string t_last_error; // the last llama.cpp error on this thread (model loading)
std::mutex g_log_mu;
int g_log_users = 0;

void forward_log(ggml_log_level level, const char *text, void *) {
    if (level != GGML_LOG_LEVEL_WARN && level != GGML_LOG_LEVEL_ERROR) return; // drop CONT, debug, info
    std::string msg(text ? text : "");
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    if (msg.empty()) return;
    if (level == GGML_LOG_LEVEL_ERROR) t_last_error = msg;
    parley::log(level == GGML_LOG_LEVEL_ERROR ? PARLEY_LOG_ERROR : PARLEY_LOG_WARN, kLog, msg);
}

void acquire_log() {
    static std::once_flag once;
    std::call_once(once, [] { llama_backend_init(); });
    std::lock_guard<std::mutex> lock(g_log_mu);
    if (g_log_users++ == 0) llama_log_set(&forward_log, nullptr);
}

void release_log() {
    std::lock_guard<std::mutex> lock(g_log_mu);
    if (--g_log_users == 0) {
        // Leave no pointer into this library behind once the last engine is gone (the plugin may
        // be unloaded while libllama stays), but only if the callback is still ours.
        ggml_log_callback cb = nullptr;
        void *ud = nullptr;
        llama_log_get(&cb, &ud);
        if (cb == &forward_log) llama_log_set(nullptr, nullptr);
    }
}

// ---------------------------------------------------------------------------------------------
// UTF-8
// ---------------------------------------------------------------------------------------------

constexpr const char *kReplacement = "\xEF\xBF\xBD"; // U+FFFD

// Length of the sequence a lead byte starts (0: not a lead byte).
int utf8_len(unsigned char b) {
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
}

// Whether byte k (1-based) of a sequence led by `lead` may be `b` (RFC 3629 table).
bool utf8_cont_ok(unsigned char lead, int k, unsigned char b) {
    if (k == 1) {
        if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
        if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
        if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
        if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
    }
    return b >= 0x80 && b <= 0xBF;
}

// Moves the complete, valid UTF-8 prefix of `pending` to `out`; invalid bytes become U+FFFD and
// an incomplete (so far valid) tail stays in `pending` for the next piece.
void drain_utf8(std::string &pending, std::string &out) {
    size_t i = 0;
    const size_t n = pending.size();
    while (i < n) {
        const auto lead = static_cast<unsigned char>(pending[i]);
        const int len = utf8_len(lead);
        if (len == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        int k = 1;
        while (k < len && i + k < n && utf8_cont_ok(lead, k, static_cast<unsigned char>(pending[i + k]))) ++k;
        if (k == len) {
            out.append(pending, i, len);
            i += len;
        } else if (i + k == n) {
            break; // incomplete but valid so far: wait for more bytes
        } else {
            out += kReplacement; // broken sequence: replace the lead, resynchronise on the next byte
            ++i;
        }
    }
    pending.erase(0, i);
}

} // namespace

int physical_cores() {
    std::ifstream in("/proc/cpuinfo");
    std::set<std::pair<std::string, std::string>> cores;
    std::string line, physical = "0";
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, colon);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (key == "physical id") physical = value;
        else if (key == "core id") cores.emplace(physical, value);
    }
    if (!cores.empty()) return static_cast<int>(cores.size());
    unsigned hc = std::thread::hardware_concurrency();
    return hc > 0 ? static_cast<int>(hc) : 1;
}

// =============================================================================================
// Engine::Impl
// =============================================================================================

struct Engine::Impl {
    // One sample of a request (n > 1 gives several), decoded in its own sequence.
    struct Choice {
        int slot = -1;
        llama_sampler *smpl = nullptr;
        llama_token pending = LLAMA_TOKEN_NULL; // sampled, not yet in the KV cache
        bool finished = false;
        int32_t finish_reason = PARLEY_FINISH_NONE;
        int64_t n_gen = 0;
        std::string text;    // valid UTF-8 so far
        std::string partial; // bytes of an incomplete UTF-8 sequence
        int batch_idx = -1;  // where its logits are in the current batch
        // Reasoning split (Req::split): where the answer begins in `text` once known, and the
        // tokens generated when the closing marker appeared.
        std::optional<size_t> answer_from;
        int64_t close_at = 0;
    };

    struct Req {
        uint64_t id = 0;
        parley::Request q;
        Done done;
        std::vector<llama_token> prompt;
        int max_tokens = 0;
        uint64_t seed = 0;
        size_t max_stop = 0;
        bool keyed = false;
        bool split = false, prompt_opens = false; // reasoning markers apply; the prompt opened a think block
        Clock::time_point t_submit, t_start, t_first;
        std::optional<Clock::time_point> deadline;
        bool started = false, got_first = false;
        parley_status prefail = PARLEY_OK; // fails as soon as the worker sees it
        std::string prefail_msg;
        std::atomic<bool> cancel{false};

        enum class Phase { Queued, Prefill, Generate } phase = Phase::Queued;
        int64_t n_past = 0; // prompt tokens in the primary sequence
        int64_t cached = 0; // of those, reused from a resident sequence
        int prefill_idx = -1;
        // Started beside a running request whose prompt shares its first `follow` tokens and has
        // not computed them all yet: they are copied from it once it has (follow_leaders).
        std::shared_ptr<Req> leader;
        int64_t follow = 0;
        std::vector<Choice> choices;
        // Streaming (q.on_delta): bytes of each choice's text already sent. Kept across a
        // preemption, so the regenerated text (same seed) is not sent twice.
        std::vector<size_t> streamed;
    };
    using ReqPtr = std::shared_ptr<Req>;

    struct Slot {
        enum class State { Free, Idle, Busy } state = State::Free;
        bool keyed = false;
        uint64_t conversation = 0;
        uint32_t agent = 0;
        std::vector<llama_token> tokens; // what the KV cache holds for this sequence, at positions 0..
        size_t shared = 0;               // leading tokens whose cells belong to another sequence too
        uint64_t last_used = 0;
    };

    // --- fixed after construction ---
    EngineOptions opt;
    std::string model_path;
    std::string tmpl; // resolved chat template: "chatml", a built-in name, or Jinja source
    std::optional<parley::chat::Template> jinja; // set unless `tmpl` is a llama.cpp built-in name
    ReasoningMarkers markers;                    // think-block markers of the template (reasoning_markers)
    llama_model *model = nullptr;
    llama_context *ctx = nullptr;
    const llama_vocab *vocab = nullptr;
    llama_memory_t mem = nullptr;
    llama_batch batch{};
    int n_batch = 0;
    int64_t n_ctx = 0;
    bool log_acquired = false;
    StateCache host{0}; // worker-owned: states dropped from the sequences (cache_ram_mib)
    StateBytes move_buf[2]; // worker-owned scratch of swap_sequences, kept: fresh pages fault slowly

    // --- shared with callers, under mu ---
    mutable std::mutex mu;
    std::condition_variable cv;
    bool stop = false;
    bool cancel_pending = false;
    uint64_t next_id = 1;
    std::deque<ReqPtr> incoming;
    std::unordered_map<uint64_t, ReqPtr> live; // submitted, not yet delivered
    EngineStats stats;

    // --- load report (Engine::load): written by the worker, read by any thread ---
    std::atomic<int64_t> pub_waiting{0};  // waiting.size(); stored under mu when incoming moves over
    std::atomic<int64_t> pub_running{0};  // running.size()
    std::atomic<int64_t> pub_kv_busy{0};  // cells of busy sequences
    int64_t kv_total = 0;                 // llama_n_ctx: all sequences' cells

    // --- worker-owned; slots also read by resident_tokens() under slots_mu ---
    mutable std::mutex slots_mu;
    std::vector<Slot> slots;
    std::deque<ReqPtr> waiting;
    std::vector<ReqPtr> running; // in admission order
    uint64_t tick = 0;
    bool admission_blocked = false; // after a preemption, until some request finishes
    std::vector<std::pair<ReqPtr, Completion>> finished;
    // One step's draws and a candidate buffer per sampling thread (kept: a vocabulary each).
    struct Draw {
        Req *r;
        Choice *c;
        const float *logits;
        llama_token token = LLAMA_TOKEN_NULL;
    };
    std::vector<Draw> draws;
    std::vector<std::vector<llama_token_data>> sample_buf;
    int32_t n_vocab = 0;
    std::thread worker;

    // -----------------------------------------------------------------------------------------
    explicit Impl(EngineOptions o) : opt(std::move(o)) {}

    ~Impl() {
        if (worker.joinable()) {
            {
                std::lock_guard<std::mutex> lock(mu);
                stop = true;
            }
            cv.notify_all();
            worker.join();
            if (stats.decode_calls)
                parley::log_info(kLog, "engine: " + std::to_string(stats.decode_calls) + " decode steps (" + std::to_string(stats.batch_runs) + " runs of sequence ids, " +
                                           std::to_string(stats.moves) + " histories moved), " + fmt_s(stats.decode_s) +
                                           " s decoding, " + fmt_s(stats.sample_s) + " s sampling, " +
                                           std::to_string(stats.evictions) + " evictions, " + std::to_string(stats.preemptions) +
                                           " preemptions, " + std::to_string(stats.host_restores) + " prompts restored from host memory (" +
                                           std::to_string(stats.host_saves) + " states saved)");
        }
        if (batch.token) llama_batch_free(batch);
        if (ctx) llama_free(ctx);
        if (model) llama_model_free(model);
        if (log_acquired) release_log();
    }

    void load() {
        model_path = opt.model;
        std::error_code ec;
        if (opt.model.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: no model path given");
        if (!std::filesystem::is_regular_file(opt.model, ec))
            throw Error(PARLEY_ERR_NOT_FOUND, "llama_cpp: model file not found: '" + opt.model + "'");
        if (opt.n_parallel < 1 || opt.n_parallel > kMaxSeq)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: n_parallel must be in 1.." + std::to_string(kMaxSeq));
        if (opt.n_ctx != 0 && opt.n_ctx < 16) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: n_ctx must be 0 (auto) or >= 16");
        if (opt.cache_ram_mib < 0) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: cache_ram_mib must be >= 0");
        if (opt.n_batch < 1 || opt.n_ubatch < 1)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: n_batch and n_ubatch must be >= 1");
        if (opt.max_tokens < 1) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: max_tokens must be >= 1");
        if (opt.threads <= 0) opt.threads = physical_cores();

        acquire_log();
        log_acquired = true;
        if (ggml_backend_dev_count() == 0) ggml_backend_load_all(); // a GGML_BACKEND_DL build

        t_last_error.clear();
        llama_model_params mp = llama_model_default_params();
        model = llama_model_load_from_file(opt.model.c_str(), mp);
        if (!model) {
            std::string why = t_last_error.empty() ? "not a GGUF model llama.cpp can load" : t_last_error;
            throw Error(PARLEY_ERR_UNSUPPORTED, "llama_cpp: cannot load model '" + opt.model + "': " + why);
        }
        vocab = llama_model_get_vocab(model);
        n_vocab = llama_vocab_n_tokens(vocab);

        n_batch = std::max(opt.n_batch, opt.n_parallel); // one decode token per sequence always fits
        llama_context_params cp = llama_context_default_params();
        // n_ctx 0: every sequence gets the model's training context (at most 8192 cells).
        int n_ctx_total = opt.n_ctx;
        if (n_ctx_total == 0) {
            const int per_seq = std::min<int>(std::max<int>(llama_model_n_ctx_train(model), 256), 8192);
            n_ctx_total = opt.kv_unified ? per_seq * std::min(opt.n_parallel, 4) : per_seq * opt.n_parallel;
        }
        cp.n_ctx = static_cast<uint32_t>(n_ctx_total);
        cp.n_batch = static_cast<uint32_t>(n_batch);
        cp.n_ubatch = static_cast<uint32_t>(std::min(opt.n_ubatch, n_batch));
        cp.n_seq_max = static_cast<uint32_t>(opt.n_parallel);
        cp.n_threads = opt.threads;
        cp.n_threads_batch = opt.threads;
        cp.kv_unified = opt.kv_unified;
        if (opt.flash_attn == "on") cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
        else if (opt.flash_attn == "off") cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        else if (opt.flash_attn == "auto") {
            // llama.cpp's "auto" picks flash attention on CPU. With tiny heads (stories260K has 8
            // dims) its per-score exp dominates and plain attention is ~3x faster; keep FA for
            // real models.
            const int32_t head_dim = llama_model_n_head(model) > 0 ? llama_model_n_embd(model) / llama_model_n_head(model) : 0;
            cp.flash_attn_type = head_dim > 0 && head_dim < 32 ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_AUTO;
        }
        else throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: flash_attn must be auto, on or off, not '" + opt.flash_attn + "'");
        cp.no_perf = true;
        t_last_error.clear();
        ctx = llama_init_from_model(model, cp);
        if (!ctx) {
            std::string why = t_last_error.empty() ? "llama_init_from_model failed" : t_last_error;
            throw Error(PARLEY_ERR_OUT_OF_MEMORY, "llama_cpp: cannot create a context for '" + opt.model +
                                                      "' (n_ctx " + std::to_string(opt.n_ctx) + "): " + why);
        }
        if (!opt.lora.empty()) {
            // A trained adapter (e.g. from the trainer plugin); llama.cpp frees it with the model.
            llama_adapter_lora *adapter = llama_adapter_lora_init(model, opt.lora.c_str());
            if (!adapter)
                throw Error(PARLEY_ERR_UNSUPPORTED, "llama_cpp: cannot load the LoRA adapter '" + opt.lora + "' for '" + opt.model + "'");
            float scale = opt.lora_scale;
            if (llama_set_adapters_lora(ctx, &adapter, 1, &scale) != 0)
                throw Error(PARLEY_ERR_RUNTIME, "llama_cpp: cannot apply the LoRA adapter '" + opt.lora + "'");
        }
        mem = llama_get_memory(ctx);
        n_ctx = llama_n_ctx_seq(ctx); // = llama_n_ctx with a unified cache
        kv_total = llama_n_ctx(ctx);
        if (n_ctx > llama_model_n_ctx_train(model))
            parley::log_warn(kLog, "n_ctx " + std::to_string(n_ctx) + " exceeds the model's training context (" +
                                       std::to_string(llama_model_n_ctx_train(model)) +
                                       "); long prompts may degrade");
        batch = llama_batch_init(n_batch, 0, 1);
        slots.resize(static_cast<size_t>(opt.n_parallel));
        host = StateCache(static_cast<size_t>(opt.cache_ram_mib) << 20);

        resolve_template();
        try {
            markers = markers_from_option(opt.reasoning_markers, tmpl);
        } catch (const std::invalid_argument &e) {
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, e.what());
        }
        if (markers.active()) parley::log_info(kLog, "reasoning: " + markers.open + " ... " + markers.close + " split off the text");

        char desc[256] = {0};
        llama_model_desc(model, desc, sizeof desc);
        parley::log_info(kLog, "loaded '" + opt.model + "' (" + desc + "), n_ctx " + std::to_string(n_ctx) +
                                   ", n_parallel " + std::to_string(opt.n_parallel) + ", n_batch " +
                                   std::to_string(n_batch) + ", threads " + std::to_string(opt.threads));
        worker = std::thread([this] { run(); });
    }

    // --- chat template ------------------------------------------------------------------------
    // Jinja templates (the GGUF's own, a file, inline source, chatml) render as transformers does
    // (parley_chat_template); a llama.cpp built-in name (llama2, phi3, ...) keeps its formatter.

    // llama_chat_apply_template with a built-in template name; rc < 0: not a name llama.cpp knows.
    static std::string render_builtin(const std::string &name, const std::vector<parley::Message> &messages, bool add_ass,
                                      int32_t *rc_out = nullptr) {
        std::vector<llama_chat_message> chat;
        chat.reserve(messages.size());
        size_t total = 0;
        for (auto &m : messages) {
            chat.push_back({m.role.c_str(), m.content.c_str()});
            total += m.role.size() + m.content.size();
        }
        std::string buf(2 * total + 512, '\0');
        int32_t n = llama_chat_apply_template(name.c_str(), chat.data(), chat.size(), add_ass, buf.data(),
                                              static_cast<int32_t>(buf.size()));
        if (n > static_cast<int32_t>(buf.size())) {
            buf.assign(static_cast<size_t>(n), '\0');
            n = llama_chat_apply_template(name.c_str(), chat.data(), chat.size(), add_ass, buf.data(),
                                          static_cast<int32_t>(buf.size()));
        }
        if (rc_out) *rc_out = n;
        if (n < 0) return {};
        buf.resize(static_cast<size_t>(n));
        return buf;
    }

    static bool is_builtin_name(const std::string &name) {
        int32_t rc = 0;
        render_builtin(name, {{"system", "s"}, {"user", "u"}, {"assistant", "a"}, {"user", "u"}}, true, &rc);
        return rc >= 0;
    }

    // A special token as text, as Hugging Face's tokenizer writes it into the template's context.
    std::string token_text(llama_token t) const {
        if (t == LLAMA_TOKEN_NULL) return {};
        char buf[256];
        int32_t n = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, true);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    }

    // The template with the model's bos/eos when its source gave none (inline Jinja, a bare .jinja file).
    parley::chat::Template with_model_tokens(const parley::chat::Template &t) const {
        if (!t.bos_token().empty() || !t.eos_token().empty()) return t;
        return t.with_special_tokens(token_text(llama_vocab_bos(vocab)), token_text(llama_vocab_eos(vocab)));
    }

    void resolve_template() {
        const std::string option = "llama_cpp: chat_template";
        if (opt.chat_template.empty() || opt.chat_template == "auto") {
            const char *own = llama_model_chat_template(model, nullptr);
            if (own) {
                try {
                    jinja = with_model_tokens(parley::chat::Template(own, "", "", "'" + opt.model + "': tokenizer.chat_template"));
                } catch (const std::exception &e) {
                    parley::log_warn(kLog, std::string(e.what()) + "; using chatml");
                }
            } else {
                parley::log_warn(kLog, "'" + opt.model + "': the model has no chat template; using chatml");
            }
            if (!jinja) jinja = parley::chat::Template::from_option("chatml", option);
        } else if (parley::chat::Template::is_inline(opt.chat_template) || std::filesystem::is_regular_file(opt.chat_template)) {
            try {
                jinja = with_model_tokens(parley::chat::Template::from_option(opt.chat_template, option));
            } catch (const std::exception &e) {
                throw Error(PARLEY_ERR_INVALID_ARGUMENT, e.what());
            }
        } else if (!is_builtin_name(opt.chat_template)) {
            throw Error(PARLEY_ERR_INVALID_ARGUMENT,
                        "llama_cpp: chat_template '" + opt.chat_template.substr(0, 80) +
                            "' is none of: auto, chatml, a llama.cpp built-in name, Jinja source, "
                            "a .jinja file, a tokenizer_config.json");
        }
        tmpl = jinja ? (jinja->origin() == "chatml" ? "chatml" : jinja->source()) : opt.chat_template;
    }

    std::string apply_template(const std::vector<parley::Message> &messages) const {
        if (messages.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: no messages to render");
        if (jinja) {
            try {
                return jinja->render_messages(messages);
            } catch (const std::exception &e) {
                throw Error(PARLEY_ERR_UNSUPPORTED, std::string("llama_cpp: ") + e.what());
            }
        }
        int32_t rc = 0;
        std::string out = render_builtin(tmpl, messages, true, &rc);
        if (rc < 0)
            throw Error(PARLEY_ERR_UNSUPPORTED, "llama_cpp: the chat template failed to render the messages");
        return out;
    }

    std::vector<llama_token> tokenize(std::string_view text) const {
        if (text.size() > static_cast<size_t>(INT32_MAX / 2))
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: prompt too long");
        const auto len = static_cast<int32_t>(text.size());
        std::vector<llama_token> toks(static_cast<size_t>(len) + 8);
        int32_t n = llama_tokenize(vocab, text.data(), len, toks.data(), static_cast<int32_t>(toks.size()), true, true);
        if (n < 0) {
            if (n == INT32_MIN) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: prompt too long to tokenize");
            toks.resize(static_cast<size_t>(-n));
            n = llama_tokenize(vocab, text.data(), len, toks.data(), static_cast<int32_t>(toks.size()), true, true);
            if (n < 0) throw Error(PARLEY_ERR_RUNTIME, "llama_cpp: tokenization failed");
        }
        toks.resize(static_cast<size_t>(n));
        // A template that writes BOS itself plus add_special would give two.
        const llama_token bos = llama_vocab_bos(vocab);
        if (toks.size() >= 2 && bos != LLAMA_TOKEN_NULL && toks[0] == bos && toks[1] == bos) toks.erase(toks.begin());
        return toks;
    }

    // --- submit / cancel (caller threads) -----------------------------------------------------

    uint64_t submit(parley::Request q, Done done) {
        if (!done) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: submit needs a callback");
        if (q.n < 1) q.n = 1;
        if (q.n > opt.n_parallel)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: n = " + std::to_string(q.n) +
                                                         " exceeds n_parallel = " + std::to_string(opt.n_parallel));
        if (q.prompt.empty() && q.messages.empty())
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: the request has neither a prompt nor messages");

        auto r = std::make_shared<Req>();
        r->t_submit = Clock::now();
        if (q.prompt.empty()) {
            const std::string rendered = apply_template(q.messages);
            r->split = markers.active(); // chat requests only: a raw prompt's text is the model's, whole
            r->prompt_opens = prompt_opens_block(rendered, markers);
            r->prompt = tokenize(rendered);
        } else {
            r->prompt = tokenize(q.prompt);
        }
        if (r->prompt.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: the prompt has no tokens");
        r->max_tokens = q.max_tokens > 0 ? q.max_tokens : opt.max_tokens;
        r->seed = q.seed ? *q.seed : std::random_device{}();
        for (auto &s : q.stop) r->max_stop = std::max(r->max_stop, s.size());
        q.stop.erase(std::remove_if(q.stop.begin(), q.stop.end(), [](const std::string &s) { return s.empty(); }),
                     q.stop.end());
        r->keyed = q.conversation != 0;
        if (q.deadline_s > 0)
            r->deadline = r->t_submit + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(q.deadline_s));
        const int64_t need = static_cast<int64_t>(r->prompt.size()) + r->max_tokens;
        if (need > n_ctx) {
            r->prefail = PARLEY_ERR_CONTEXT_OVERFLOW;
            r->prefail_msg = "llama_cpp: the prompt (" + std::to_string(r->prompt.size()) + " tokens) plus max_tokens (" +
                             std::to_string(r->max_tokens) + ") exceeds the context size (" + std::to_string(n_ctx) +
                             " tokens)";
        }
        r->q = std::move(q);
        r->done = std::move(done);

        uint64_t id;
        {
            std::lock_guard<std::mutex> lock(mu);
            if (stop) throw Error(PARLEY_ERR_UNAVAILABLE, "llama_cpp: the engine is shutting down");
            id = next_id++;
            r->id = id;
            live.emplace(id, r);
            incoming.push_back(r);
        }
        cv.notify_one();
        return id;
    }

    bool cancel(uint64_t id) {
        {
            std::lock_guard<std::mutex> lock(mu);
            auto it = live.find(id);
            if (it == live.end()) return false;
            it->second->cancel.store(true);
            cancel_pending = true;
        }
        cv.notify_one();
        return true;
    }

    // --- slots --------------------------------------------------------------------------------

    int64_t used_cells() const {
        int64_t used = 0;
        for (auto &s : slots)
            if (s.state != Slot::State::Free) used += static_cast<int64_t>(s.tokens.size() - std::min(s.shared, s.tokens.size()));
        return used;
    }

    void clear_slot(int i) {
        Slot &s = slots[static_cast<size_t>(i)];
        llama_memory_seq_rm(mem, i, -1, -1);
        s.tokens.clear();
        s.shared = 0;
        s.keyed = false;
        s.conversation = 0;
        s.agent = 0;
        s.state = Slot::State::Free;
    }

    // Idle resident sequences, least recently used first.
    std::vector<int> idle_lru(int exclude) const {
        std::vector<int> v;
        for (int i = 0; i < static_cast<int>(slots.size()); ++i)
            if (i != exclude && slots[static_cast<size_t>(i)].state == Slot::State::Idle) v.push_back(i);
        std::sort(v.begin(), v.end(), [&](int a, int b) { return slots[static_cast<size_t>(a)].last_used < slots[static_cast<size_t>(b)].last_used; });
        return v;
    }

    // Copies sequence `i`'s state to host memory, for a later prompt that shares its prefix.
    void save_to_host(int i) {
        const Slot &s = slots[static_cast<size_t>(i)];
        if (!host.enabled() || static_cast<int64_t>(s.tokens.size()) < kMinShared) return;
        const size_t size = llama_state_seq_get_size(ctx, i);
        if (!host.fits(size)) return;
        StateBytes state(size);
        if (llama_state_seq_get_data(ctx, state.data(), size, i) != size) return;
        if (host.put(std::vector<int32_t>(s.tokens.begin(), s.tokens.end()), std::move(state), s.keyed ? s.conversation : 0)) {
            std::lock_guard<std::mutex> lock(mu);
            ++stats.host_saves;
        }
    }

    // Starts `target` (empty) from the first `m.shared` tokens of a state in host memory. The state
    // leaves host memory when it is mostly this prompt's (the next turn of its conversation), and
    // stays for others when only a prefix is (a shared system prompt). Returns the tokens now in
    // `target` (0 if llama.cpp refused the state).
    int64_t restore_from_host(const Req &r, const StateCache::Match &m, int target) {
        const bool own = mostly(m.shared, m.entry_tokens);
        StateCache::Entry taken;
        const StateCache::Entry &e = own ? (taken = host.take(m.id)) : host.get(m.id);
        llama_memory_seq_rm(mem, target, -1, -1);
        Slot &t = slots[static_cast<size_t>(target)];
        t.shared = 0;
        if (llama_state_seq_set_data(ctx, e.state.data(), e.state.size(), target) != e.state.size()) {
            llama_memory_seq_rm(mem, target, -1, -1);
            t.tokens.clear();
            return 0;
        }
        llama_memory_seq_rm(mem, target, static_cast<llama_pos>(m.shared), -1);
        t.tokens.assign(r.prompt.begin(), r.prompt.begin() + m.shared);
        std::lock_guard<std::mutex> lock(mu);
        ++stats.host_restores;
        return m.shared;
    }

    // The state in host memory sharing the longest prefix with `r`'s prompt (less its last token),
    // when that beats `resident` (what a resident sequence offers) by kMinShared tokens: one of its
    // own conversation's for a keyed request, an unkeyed one's for an unkeyed request.
    std::optional<StateCache::Match> host_match(const Req &r, int64_t resident) const {
        if (!host.enabled() || host.size() == 0) return std::nullopt;
        return host.best(r.prompt, r.prompt.size() - 1, resident + kMinShared, r.keyed ? r.q.conversation : 0);
    }

    void evict(int i) {
        save_to_host(i);
        clear_slot(i);
        std::lock_guard<std::mutex> lock(mu);
        ++stats.evictions;
    }

    llama_sampler *make_sampler(const parley::Request &q, uint64_t seed) const {
        llama_sampler *chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
        if (q.temperature <= 0.0) {
            llama_sampler_chain_add(chain, llama_sampler_init_greedy());
            return chain;
        }
        if (q.top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(q.top_k));
        if (q.top_p > 0.0 && q.top_p < 1.0) llama_sampler_chain_add(chain, llama_sampler_init_top_p(static_cast<float>(q.top_p), 1));
        if (q.min_p > 0.0) llama_sampler_chain_add(chain, llama_sampler_init_min_p(static_cast<float>(q.min_p), 1));
        llama_sampler_chain_add(chain, llama_sampler_init_temp(static_cast<float>(q.temperature)));
        auto s32 = static_cast<uint32_t>(seed);
        if (s32 == LLAMA_DEFAULT_SEED) s32 = LLAMA_DEFAULT_SEED - 1; // that value means "random" to llama.cpp
        llama_sampler_chain_add(chain, llama_sampler_init_dist(s32));
        return chain;
    }

    // The longest common prefix of `r`'s prompt (less its last token, always decoded for its
    // logits) with `tokens`.
    static int64_t common_prefix(const Req &r, const std::vector<llama_token> &tokens) {
        const size_t lim = std::min(tokens.size(), r.prompt.size() - 1);
        int64_t l = 0;
        while (static_cast<size_t>(l) < lim && tokens[static_cast<size_t>(l)] == r.prompt[static_cast<size_t>(l)]) ++l;
        return l;
    }
    // ... with what slot `i` holds.
    int64_t common_prefix(const Req &r, int i) const { return common_prefix(r, slots[static_cast<size_t>(i)].tokens); }

    // Starts `target` from the first `n` tokens `donor` holds: copied, not recomputed, and the donor
    // keeps its whole history. Returns the number of tokens now in `target`.
    int64_t copy_prefix(const Req &r, int donor, int target, int64_t n) {
        Slot &t = slots[static_cast<size_t>(target)];
        if (opt.kv_unified) {
            llama_memory_seq_rm(mem, target, -1, -1);
            llama_memory_seq_cp(mem, donor, target, 0, static_cast<llama_pos>(n)); // cells shared, not copied
            t.shared = static_cast<size_t>(n);
        } else {
            // Across slices through the state format: only the donor's cells in use (seq_cp would
            // copy a whole slice), then trimmed to the common prefix.
            seq_state(donor, move_buf[0]);
            llama_memory_seq_rm(mem, target, -1, -1);
            if (move_buf[0].empty() ||
                llama_state_seq_set_data(ctx, move_buf[0].data(), move_buf[0].size(), target) != move_buf[0].size()) {
                llama_memory_seq_rm(mem, target, -1, -1);
                t.tokens.clear();
                return 0;
            }
            llama_memory_seq_rm(mem, target, static_cast<llama_pos>(n), -1);
        }
        t.tokens.assign(r.prompt.begin(), r.prompt.begin() + n);
        return n;
    }

    // An unkeyed request starting beside running ones (a burst of clients, all with the same
    // system prompt and none of it resident yet): the running unkeyed request whose prompt shares
    // the longest prefix with `r`'s, less its last token: {request, shared tokens}, {} when none
    // shares kMinShared more than `have`. The first admitted wins a tie, so followers form no cycle.
    std::pair<ReqPtr, int64_t> running_prefix(const Req &r, int64_t have) const {
        ReqPtr best;
        int64_t most = have + kMinShared - 1;
        for (const auto &o : running) {
            if (o->keyed || o->phase == Req::Phase::Queued) continue;
            if (const int64_t l = common_prefix(r, o->prompt); l > most) most = l, best = o;
        }
        return best ? std::pair<ReqPtr, int64_t>{best, most} : std::pair<ReqPtr, int64_t>{};
    }

    // Followers (Req::leader) whose leader has computed the shared prefix copy it and prefill the
    // rest; a leader gone before that (cancelled, preempted) leaves its followers to prefill it.
    void follow_leaders() {
        for (auto &r : running) {
            if (!r->leader) continue;
            const Req &l = *r->leader;
            const bool gone = l.choices.empty() || l.choices[0].slot < 0; // preempted, or released by finish()
            if (!gone && l.n_past < r->follow) continue;
            if (!gone && r->follow > r->n_past) r->n_past = r->cached = copy_prefix(*r, l.choices[0].slot, r->choices[0].slot, r->follow);
            r->leader.reset();
        }
    }

    static constexpr int64_t kMinShared = 16; // below this a copy costs more than the prefill it saves

    // A conversation's first turn for an agent starts from the longest prompt prefix another agent
    // of the same conversation holds resident (system prompt, task): {donor, shared tokens}, the
    // donor -1 when none shares kMinShared tokens.
    std::pair<int, int64_t> partner_prefix(const Req &r, int target) const {
        int donor = -1;
        int64_t best = 0;
        for (int i = 0; i < static_cast<int>(slots.size()); ++i) {
            const Slot &s = slots[static_cast<size_t>(i)];
            if (i == target || s.state != Slot::State::Idle || !s.keyed || s.conversation != r.q.conversation) continue;
            if (int64_t l = common_prefix(r, i); l > best) best = l, donor = i;
        }
        return best < kMinShared ? std::pair<int, int64_t>{-1, 0} : std::pair<int, int64_t>{donor, best};
    }

    // Whether `part` tokens are most (three quarters) of `whole`: a history the prompt mostly
    // covers is the prompt's own earlier turn.
    static bool mostly(int64_t part, int64_t whole) { return part * 4 >= whole * 3; }

    // A request without a conversation id (a server's client that sends no affinity hint) looks for
    // the idle unkeyed sequence sharing the longest prefix with its prompt, whichever request left it
    // there: {slot, shared tokens}, slot -1 when none shares kMinShared tokens. The caller continues
    // that sequence or copies the shared prefix into another one (continue_in_place).
    std::pair<int, int64_t> longest_prefix_slot(const Req &r) const {
        int best_slot = -1;
        int64_t best = kMinShared - 1;
        for (int i = 0; i < static_cast<int>(slots.size()); ++i) {
            const Slot &s = slots[static_cast<size_t>(i)];
            if (s.state != Slot::State::Idle || s.keyed) continue;
            if (int64_t l = common_prefix(r, i); l > best) best = l, best_slot = i;
        }
        return {best_slot, best_slot < 0 ? 0 : best};
    }

    // An unkeyed request whose best idle sequence `i` shares `shared` tokens with it: continue that
    // sequence (its divergent tail trimmed) rather than copy the shared part into another one?
    // Yes when the prompt covers most of it (three quarters: the next turn of a conversation), and
    // when the tail it drops is shorter than what the copy would evict: nothing while a sequence is
    // free, else the least recently used idle history. (Coral's extractor calls share the system
    // prompt, question and options with their conversation's previous call, about three quarters of
    // it: copying them once every sequence was taken evicted the agents' histories, whose next turns
    // then copied and evicted in turn, so that no agent reused its own history.)
    bool continue_in_place(int i, int64_t shared) const {
        const auto have = static_cast<int64_t>(slots[static_cast<size_t>(i)].tokens.size());
        if (mostly(shared, have)) return true;
        for (const Slot &s : slots)
            if (s.state == Slot::State::Free) return false;
        const std::vector<int> idle = idle_lru(i);
        return idle.empty() || have - shared < static_cast<int64_t>(slots[static_cast<size_t>(idle.front())].tokens.size());
    }

    // Writes the KV cells sequence `i` holds into `out`, in llama.cpp's state format; `out` is
    // left empty when it holds none (or llama.cpp could not write them).
    void seq_state(int i, StateBytes &out) const {
        out.clear();
        if (slots[static_cast<size_t>(i)].tokens.empty()) return;
        out.resize(llama_state_seq_get_size(ctx, i));
        if (llama_state_seq_get_data(ctx, out.data(), out.size(), i) != out.size()) out.clear();
    }

    // Exchanges what sequences `a` and `b` hold, neither running: cells (through the state format,
    // only the cells in use; llama_memory_seq_cp across slices copies a whole slice and overwrites
    // the target) and bookkeeping. A state llama.cpp refuses leaves that sequence empty.
    void swap_sequences(int a, int b) {
        seq_state(a, move_buf[0]);
        seq_state(b, move_buf[1]);
        llama_memory_seq_rm(mem, a, -1, -1);
        llama_memory_seq_rm(mem, b, -1, -1);
        std::swap(slots[static_cast<size_t>(a)], slots[static_cast<size_t>(b)]);
        uint64_t moved = 0;
        for (auto [i, state] : {std::pair<int, const StateBytes *>{a, &move_buf[1]}, {b, &move_buf[0]}}) {
            if (slots[static_cast<size_t>(i)].tokens.empty()) continue;
            if (state->empty() || llama_state_seq_set_data(ctx, state->data(), state->size(), i) != state->size()) clear_slot(i);
            else ++moved;
        }
        std::lock_guard<std::mutex> lock(mu);
        stats.moves += moved;
    }

    // Where an unkeyed request about to run decodes. With per-sequence KV slices llama.cpp decodes
    // only consecutive sequence ids together (build_batch), and the histories a server's clients
    // (no affinity hints) come back to lie anywhere, wherever continuing, copying and evicting left
    // them: 16 running among 48 ran as ~11 micro-batches a step, a third of the speed of one. So
    // what `i` holds moves, when that makes fewer runs of running ids, to the lowest id that makes
    // fewest (a hole between two running ones first), and what that id held moves to `i`.
    // `reserved` (the request's other sequences) follows an id that moved. Returns the id `i`'s
    // contents are at now. Keyed requests (Parley's own graphs) keep their sequences: their
    // conversations advance in step, so their ids stay together by themselves, and moving them
    // only cost time (bench/multiturn: 84-89 % of the ceiling with moves, 92 % without).
    int place(int i, std::vector<int> &reserved, bool keyed) {
        if (opt.kv_unified || keyed) return i; // one buffer: any ids decode together; keyed: see above
        const int n = static_cast<int>(slots.size());
        auto busy = [&](int x) { return x >= 0 && x < n && slots[static_cast<size_t>(x)].state == Slot::State::Busy; };
        auto new_runs = [&](int x) { return 1 - int(busy(x - 1)) - int(busy(x + 1)); }; // runs added by running at x
        int best = i;
        for (int x = 0; x < n; ++x)
            if (!busy(x) && new_runs(x) < new_runs(best)) best = x;
        if (best == i) return i;
        swap_sequences(i, best);
        for (int &x : reserved)
            if (x == best) x = i;
        return best;
    }

    // Try to give `r` its sequences (FIFO admission). False: wait for running requests to finish.
    bool try_admit(const ReqPtr &r) {
        const int n = r->q.n;
        int primary = -1, donor = -1;
        int64_t donor_shared = 0;
        if (!r->keyed) {
            auto [i, shared] = longest_prefix_slot(*r);
            // A state in host memory that shares more: a fresh sequence, restored from it.
            if (i >= 0 && !host_match(*r, shared) && continue_in_place(i, shared)) primary = i;
            else donor = i, donor_shared = shared;
        }
        if (r->keyed) {
            for (int i = 0; i < static_cast<int>(slots.size()); ++i) {
                const Slot &s = slots[static_cast<size_t>(i)];
                if (s.state == Slot::State::Idle && s.keyed && s.conversation == r->q.conversation && s.agent == r->q.agent &&
                    (primary < 0 || s.last_used > slots[static_cast<size_t>(primary)].last_used))
                    primary = i;
            }
        }
        std::vector<int> free_slots;
        for (int i = 0; i < static_cast<int>(slots.size()); ++i)
            if (slots[static_cast<size_t>(i)].state == Slot::State::Free) free_slots.push_back(i);
        const int need = n - (primary >= 0 ? 1 : 0);
        std::vector<int> idle = idle_lru(primary >= 0 ? primary : donor); // a donor is not evicted for its own copy
        if (donor >= 0 && static_cast<int>(free_slots.size() + idle.size()) < need) {
            donor = -1; // unless nothing else makes room
            idle = idle_lru(-1);
        }
        if (static_cast<int>(free_slots.size() + idle.size()) < need) return false;

        // Reusable prefix: at least one prompt token is always decoded, for its logits.
        int64_t lcp = primary >= 0 ? common_prefix(*r, primary) : 0;

        // KV room: what is resident now, less what trimming frees, plus this prompt and a first token each.
        int64_t used = used_cells();
        if (primary >= 0) used -= static_cast<int64_t>(slots[static_cast<size_t>(primary)].tokens.size()) - lcp;
        const int64_t want = static_cast<int64_t>(r->prompt.size()) - lcp + n;
        // Idle sequences taken as siblings are evicted anyway; count them out first.
        size_t idle_pos = 0;
        std::vector<int> take;
        for (int f : free_slots) {
            if (static_cast<int>(take.size()) == need) break;
            take.push_back(f);
        }
        while (static_cast<int>(take.size()) < need) {
            int i = idle[idle_pos++];
            used -= static_cast<int64_t>(slots[static_cast<size_t>(i)].tokens.size());
            take.push_back(i);
        }
        // With per-sequence slices (kv_unified = false) room is per slot and was checked at submit;
        // the pooled count below only applies to one shared cache.
        const bool pooled = opt.kv_unified;
        std::vector<int> extra_evict;
        while (pooled && used + want > n_ctx && idle_pos < idle.size()) {
            int i = idle[idle_pos++];
            used -= static_cast<int64_t>(slots[static_cast<size_t>(i)].tokens.size());
            extra_evict.push_back(i);
        }
        if (pooled && used + want > n_ctx && !running.empty()) return false;

        // Commit.
        for (int i : extra_evict) evict(i);
        for (int i : take)
            if (slots[static_cast<size_t>(i)].state == Slot::State::Idle) evict(i);
        if (primary >= 0) {
            Slot &s = slots[static_cast<size_t>(primary)];
            if (static_cast<size_t>(lcp) < s.tokens.size()) {
                // Another prompt's history cut short (continue_in_place): its tail goes to host memory.
                if (!r->keyed && static_cast<int64_t>(s.tokens.size()) - lcp >= kMinShared) save_to_host(primary);
                if (llama_memory_seq_rm(mem, primary, static_cast<llama_pos>(lcp), -1)) {
                    s.tokens.resize(static_cast<size_t>(lcp));
                } else {
                    llama_memory_seq_rm(mem, primary, -1, -1);
                    s.tokens.clear();
                    lcp = 0;
                }
            }
        } else {
            primary = take.front();
            take.erase(take.begin());
            slots[static_cast<size_t>(primary)].shared = 0;
            const bool donor_kept = donor >= 0 && slots[static_cast<size_t>(donor)].state == Slot::State::Idle; // not evicted for room
            if (r->keyed) std::tie(donor, donor_shared) = partner_prefix(*r, primary); // the partner's system prompt and task
            else if (!donor_kept) donor = -1;
            if (auto m = host_match(*r, donor >= 0 ? donor_shared : 0)) lcp = restore_from_host(*r, *m, primary);
            else if (donor >= 0) lcp = copy_prefix(*r, donor, primary, donor_shared);
        }
        primary = place(primary, take, r->keyed);
        lcp = std::min(lcp, static_cast<int64_t>(slots[static_cast<size_t>(primary)].tokens.size())); // a refused move
        Slot &ps = slots[static_cast<size_t>(primary)];
        ps.state = Slot::State::Busy;
        ps.keyed = r->keyed;
        ps.conversation = r->q.conversation;
        ps.agent = r->q.agent;
        r->choices.assign(static_cast<size_t>(n), Choice{});
        r->choices[0].slot = primary;
        for (int k = 1; k < n; ++k) {
            const int i = place(take[static_cast<size_t>(k - 1)], take, r->keyed);
            Slot &s = slots[static_cast<size_t>(i)];
            s.state = Slot::State::Busy;
            s.keyed = false;
            r->choices[static_cast<size_t>(k)].slot = i;
        }
        for (int k = 0; k < n; ++k) r->choices[static_cast<size_t>(k)].smpl = make_sampler(r->q, r->seed + static_cast<uint64_t>(k));
        r->cached = lcp;
        r->n_past = lcp;
        if (!r->keyed) std::tie(r->leader, r->follow) = running_prefix(*r, lcp);
        r->phase = Req::Phase::Prefill;
        if (!r->started) {
            r->started = true;
            r->t_start = Clock::now();
        }
        running.push_back(r);
        return true;
    }

    // Give back a request's sequences. A finished request keeps its primary sequence resident (an
    // unkeyed one for longest_prefix_slot); idle sequences are evicted, LRU, when room is needed.
    void release(Req &r, bool keep_cache) {
        for (size_t k = 0; k < r.choices.size(); ++k) {
            Choice &c = r.choices[k];
            if (c.smpl) llama_sampler_free(c.smpl);
            c.smpl = nullptr;
            if (c.slot < 0) continue;
            if (k == 0 && keep_cache) {
                // One resident copy per (conversation, agent): drop an older one.
                for (int i = 0; i < static_cast<int>(slots.size()) && r.keyed; ++i) {
                    const Slot &s = slots[static_cast<size_t>(i)];
                    if (i != c.slot && s.state == Slot::State::Idle && s.keyed && s.conversation == r.q.conversation &&
                        s.agent == r.q.agent)
                        clear_slot(i);
                }
                Slot &s = slots[static_cast<size_t>(c.slot)];
                s.state = Slot::State::Idle;
                s.shared = 0;
                s.last_used = ++tick;
            } else {
                clear_slot(c.slot);
            }
            c.slot = -1;
        }
    }

    void finish(const ReqPtr &r, parley_status status, std::string error, bool keep_cache) {
        const auto now = Clock::now();
        Completion c;
        c.status = status;
        c.error = std::move(error);
        c.prompt_tokens = static_cast<int64_t>(r->prompt.size());
        c.cached_tokens = r->cached;
        for (auto &ch : r->choices) {
            const int32_t reason = ch.finished ? ch.finish_reason
                                               : (status == PARLEY_ERR_CANCELLED ? PARLEY_FINISH_CANCELLED : PARLEY_FINISH_ERROR);
            c.completion_tokens += ch.n_gen;
            parley::Choice out{std::move(ch.text), reason, ch.n_gen, {}};
            if (r->split) {
                const size_t from = ch.answer_from ? *ch.answer_from : *answer_start(out.text, markers, r->prompt_opens, true);
                out.reasoning = reasoning_before(out.text, from, markers);
                out.text.erase(0, from);
                if (from > 0) c.reasoning_tokens += ch.close_at > 0 ? ch.close_at : ch.n_gen;
            }
            c.choices.push_back(std::move(out));
        }
        if (status != PARLEY_OK && status != PARLEY_ERR_CANCELLED) c.choices.clear();
        c.total_s = seconds(r->t_submit, now);
        if (r->started) {
            c.queue_s = seconds(r->t_submit, r->t_start);
            c.prefill_s = seconds(r->t_start, r->got_first ? r->t_first : now);
        } else {
            c.queue_s = c.total_s;
        }
        release(*r, keep_cache);
        r->leader.reset();
        running.erase(std::remove(running.begin(), running.end(), r), running.end());
        admission_blocked = false;
        finished.emplace_back(r, std::move(c));
    }

    // Send a running request back to the head of the queue; it restarts from its prompt.
    void preempt(const ReqPtr &r) {
        release(*r, false);
        r->leader.reset();
        r->choices.clear();
        r->phase = Req::Phase::Queued;
        r->n_past = 0;
        r->cached = 0;
        r->got_first = false;
        running.erase(std::remove(running.begin(), running.end(), r), running.end());
        waiting.push_front(r);
        admission_blocked = true;
        std::lock_guard<std::mutex> lock(mu);
        ++stats.preemptions;
    }

    // --- generation ---------------------------------------------------------------------------

    std::string piece(llama_token t) const {
        char buf[256];
        int32_t n = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, false);
        if (n >= 0) return std::string(buf, static_cast<size_t>(n));
        std::string big(static_cast<size_t>(-n), '\0');
        n = llama_token_to_piece(vocab, t, big.data(), static_cast<int32_t>(big.size()), 0, false);
        if (n < 0) return {};
        big.resize(static_cast<size_t>(n));
        return big;
    }

    void end_choice(Choice &c, int32_t reason) {
        c.finished = true;
        c.finish_reason = reason;
        c.pending = LLAMA_TOKEN_NULL;
        c.partial.clear(); // an incomplete UTF-8 sequence at the end is dropped
    }

    // A token sampled for choice `c`, then what of its text is final streamed.
    void accept(Req &r, Choice &c, llama_token tok) {
        accept_token(r, c, tok);
        if (r.split) locate_answer(r, c);
        if (r.q.on_delta) stream(r, static_cast<size_t>(&c - r.choices.data()));
    }

    // Reasoning split: note when the closing marker appears and, once it is decided, where the
    // answer begins (streaming sends only the answer, from there).
    void locate_answer(const Req &r, Choice &c) const {
        if (c.answer_from) return;
        if (c.close_at == 0 && c.text.find(markers.close) != std::string::npos) c.close_at = c.n_gen;
        c.answer_from = answer_start(c.text, markers, r.prompt_opens, c.finished);
    }

    // Sends the final part of choice `k`'s text not sent yet: all of it once the choice has ended;
    // before that, all but the tail a stop string could still begin in (cut on a UTF-8 boundary).
    void stream(Req &r, size_t k) {
        const Choice &c = r.choices[k];
        if (r.streamed.size() <= k) r.streamed.resize(k + 1, 0);
        size_t end = c.text.size();
        if (!c.finished && r.max_stop > 1) {
            end = end > r.max_stop - 1 ? end - (r.max_stop - 1) : 0;
            while (end > 0 && (static_cast<unsigned char>(c.text[end]) & 0xC0) == 0x80) --end;
        }
        size_t &sent = r.streamed[k];
        if (r.split) { // only the answer streams, once it is known where it begins
            if (!c.answer_from) return;
            sent = std::max(sent, *c.answer_from);
        }
        if (end <= sent) return;
        try {
            r.q.on_delta(static_cast<uint32_t>(k), std::string_view(c.text).substr(sent, end - sent));
        } catch (const std::exception &e) {
            parley::log(PARLEY_LOG_ERROR, kLog, std::string("a streaming callback threw: ") + e.what());
        }
        sent = end;
    }

    // A token sampled for choice `c`: end of generation, stop string, length, or the next input.
    void accept_token(Req &r, Choice &c, llama_token tok) {
        if (!r.got_first) {
            r.got_first = true;
            r.t_first = Clock::now();
        }
        if (llama_vocab_is_eog(vocab, tok)) {
            end_choice(c, PARLEY_FINISH_STOP);
            return;
        }
        ++c.n_gen;
        const size_t before = c.text.size();
        c.partial += piece(tok);
        drain_utf8(c.partial, c.text);
        if (!r.q.stop.empty() && c.text.size() > before) {
            const size_t from = before + 1 > r.max_stop ? before + 1 - r.max_stop : 0;
            size_t cut = std::string::npos;
            for (auto &s : r.q.stop) {
                size_t p = c.text.find(s, from);
                if (p < cut) cut = p;
            }
            if (cut != std::string::npos) {
                c.text.resize(cut);
                end_choice(c, PARLEY_FINISH_STOP);
                return;
            }
        }
        const Slot &s = slots[static_cast<size_t>(c.slot)];
        if (c.n_gen >= r.max_tokens || static_cast<int64_t>(s.tokens.size()) >= n_ctx) {
            end_choice(c, PARLEY_FINISH_LENGTH);
            return;
        }
        c.pending = tok;
    }

    void add_token(llama_token t, llama_pos pos, int seq, bool logits) {
        const int i = batch.n_tokens++;
        batch.token[i] = t;
        batch.pos[i] = pos;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = seq;
        batch.logits[i] = logits ? 1 : 0;
    }

    struct Chunk {
        ReqPtr r;
        int64_t take;
    };

    // One batch: a decode token per running sequence, then prefill chunks up to n_batch tokens,
    // laid out in sequence-id order. With per-sequence KV slices llama.cpp puts only ids that follow
    // each other in the batch (5, 6, 7) into one micro-batch (split_equal, sequential), so the order
    // here and the placement of sequences (place()) decide how many micro-batches a step costs.
    std::vector<Chunk> build_batch() {
        batch.n_tokens = 0;
        struct Item {
            int seq;
            Choice *c;        // a decode token, or
            ReqPtr r;         // a prefill chunk of `take` tokens
            int64_t take;
        };
        std::vector<Item> items;
        int64_t budget = n_batch;
        for (auto &r : running) {
            if (r->phase != Req::Phase::Generate) continue;
            for (auto &c : r->choices) {
                c.batch_idx = -1;
                if (c.finished) continue;
                items.push_back({c.slot, &c, nullptr, 1});
                --budget;
            }
        }
        std::vector<Chunk> chunks;
        for (auto &r : running) {
            if (r->phase != Req::Phase::Prefill) continue;
            r->prefill_idx = -1;
            if (budget <= 0 || r->leader) continue;
            const int64_t take = std::min(budget, static_cast<int64_t>(r->prompt.size()) - r->n_past);
            items.push_back({r->choices[0].slot, nullptr, r, take});
            budget -= take;
            chunks.push_back({r, take});
        }
        std::sort(items.begin(), items.end(), [](const Item &a, const Item &b) { return a.seq < b.seq; });
        for (auto &it : items) {
            if (it.c) {
                it.c->batch_idx = batch.n_tokens;
                add_token(it.c->pending, static_cast<llama_pos>(slots[static_cast<size_t>(it.seq)].tokens.size()), it.seq, true);
                continue;
            }
            Req &r = *it.r;
            for (int64_t k = 0; k < it.take; ++k) {
                const int64_t p = r.n_past + k;
                const bool last = p + 1 == static_cast<int64_t>(r.prompt.size());
                if (last) r.prefill_idx = batch.n_tokens;
                add_token(r.prompt[static_cast<size_t>(p)], static_cast<llama_pos>(p), it.seq, last);
            }
        }
        return chunks;
    }

    // Decode one batch, recovering from a full KV cache; then sample.
    void step() {
        std::vector<Chunk> chunks;
        double decode_time = 0;
        follow_leaders();
        for (;;) {
            chunks = build_batch();
            if (batch.n_tokens == 0) return;
            // The cell count is exact for a unified cache (shared prefixes counted once), so a batch
            // that cannot fit is handled here without asking llama_decode (which would log a warning).
            const bool room = !opt.kv_unified || used_cells() + batch.n_tokens <= n_ctx;
            const auto t_decode = Clock::now();
            const int32_t rc = room ? llama_decode(ctx, batch) : 1;
            decode_time += seconds(t_decode, Clock::now());
            if (rc == 0) break;
            if (rc == 1) {
                // No KV room: drop an idle resident sequence, else send the newest request back to
                // the queue, else (alone and still no room) fail it.
                auto idle = idle_lru(-1);
                if (!idle.empty()) {
                    evict(idle.front());
                } else if (running.size() > 1) {
                    preempt(running.back());
                } else {
                    finish(running.back(), PARLEY_ERR_CONTEXT_OVERFLOW,
                           "llama_cpp: the KV cache (" + std::to_string(n_ctx) +
                               " cells) is full; raise n_ctx or lower max_tokens or n",
                           false);
                }
                continue;
            }
            // Fatal: the cache may hold part of the batch; every request in it fails.
            std::vector<ReqPtr> victims = running;
            for (auto &r : victims)
                finish(r, PARLEY_ERR_RUNTIME, "llama_cpp: llama_decode failed (" + std::to_string(rc) + ")", false);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mu);
            ++stats.decode_calls;
            stats.decode_s += decode_time;
            std::set<int> seqs;
            uint64_t runs = 0; // in batch order, as llama.cpp splits it (build_batch)
            for (int i = 0; i < batch.n_tokens; ++i) {
                const int q = batch.seq_id[i][0];
                seqs.insert(q);
                if (i == 0 || (q != batch.seq_id[i - 1][0] && q != batch.seq_id[i - 1][0] + 1)) ++runs;
            }
            stats.max_batch_seqs = std::max<uint64_t>(stats.max_batch_seqs, seqs.size());
            stats.max_batch_runs = std::max(stats.max_batch_runs, runs);
            stats.batch_runs += runs;
        }

        // The decoded tokens are in the cache now.
        for (auto &r : running) {
            if (r->phase != Req::Phase::Generate) continue;
            for (auto &c : r->choices)
                if (c.batch_idx >= 0) slots[static_cast<size_t>(c.slot)].tokens.push_back(c.pending);
        }
        for (auto &ch : chunks) {
            Req &r = *ch.r;
            auto &s = slots[static_cast<size_t>(r.choices[0].slot)];
            s.tokens.insert(s.tokens.end(), r.prompt.begin() + r.n_past, r.prompt.begin() + r.n_past + ch.take);
            r.n_past += ch.take;
        }

        // Sample: gather every choice that draws a token from this batch's logits.
        draws.clear();
        for (auto &rp : running) {
            Req &r = *rp;
            if (r.phase == Req::Phase::Generate) {
                for (auto &c : r.choices)
                    if (c.batch_idx >= 0 && !c.finished) draws.push_back({&r, &c, llama_get_logits_ith(ctx, c.batch_idx)});
            } else if (r.phase == Req::Phase::Prefill && r.prefill_idx >= 0 &&
                       r.n_past == static_cast<int64_t>(r.prompt.size())) {
                // Prompt complete: the other samples share its cells, then every sample draws its
                // first token from the same logits.
                const int primary = r.choices[0].slot;
                for (size_t k = 1; k < r.choices.size(); ++k) {
                    const int seq = r.choices[k].slot;
                    llama_memory_seq_cp(mem, primary, seq, -1, -1);
                    Slot &s = slots[static_cast<size_t>(seq)];
                    s.tokens = r.prompt;
                    s.shared = r.prompt.size();
                }
                r.phase = Req::Phase::Generate;
                for (auto &c : r.choices) draws.push_back({&r, &c, llama_get_logits_ith(ctx, r.prefill_idx)});
            }
        }
        sample_all();
        std::vector<ReqPtr> done_now;
        for (auto &d : draws) accept(*d.r, *d.c, d.token);
        for (auto &rp : running)
            if (rp->phase == Req::Phase::Generate &&
                std::all_of(rp->choices.begin(), rp->choices.end(), [](const Choice &c) { return c.finished; }))
                done_now.push_back(rp);
        for (auto &r : done_now) finish(r, PARLEY_OK, {}, true);
    }

    // Every sampler is its own object, so the draws of one step run in parallel on the threads that
    // just decoded (the CPU would otherwise idle while one thread sorts a vocabulary per sequence).
    void sample_all() {
        const auto t0 = Clock::now();
        const int n = static_cast<int>(draws.size());
        const int threads = std::max(1, std::min(opt.threads, n));
        if (sample_buf.size() < static_cast<size_t>(threads)) sample_buf.resize(static_cast<size_t>(threads));
#if defined(_OPENMP)
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1)
#endif
        for (int i = 0; i < n; ++i) {
#if defined(_OPENMP)
            auto &cur = sample_buf[static_cast<size_t>(omp_get_thread_num())];
#else
            auto &cur = sample_buf[0];
#endif
            Draw &d = draws[static_cast<size_t>(i)];
            d.token = sample_from(d.c->smpl, d.logits, cur);
        }
        std::lock_guard<std::mutex> lock(mu);
        stats.sample_s += seconds(t0, Clock::now());
    }

    // llama_sampler_sample() for CPU logits, with the candidate buffer supplied by the caller.
    llama_token sample_from(llama_sampler *smpl, const float *logits, std::vector<llama_token_data> &cur) const {
        cur.resize(static_cast<size_t>(n_vocab));
        for (llama_token t = 0; t < n_vocab; ++t) cur[static_cast<size_t>(t)] = llama_token_data{t, logits[t], 0.0f};
        llama_token_data_array arr{cur.data(), cur.size(), -1, false};
        llama_sampler_apply(smpl, &arr);
        const llama_token tok = arr.data[arr.selected].id;
        llama_sampler_accept(smpl, tok);
        return tok;
    }

    // --- load report --------------------------------------------------------------------------

    // Worker: what Engine::load() reads. Busy sequences only: idle resident histories are evicted
    // on demand, and the host cannot tell the engine when a conversation is over. A sample's
    // sequence shares its prompt's cells with the request's primary one (counted there).
    void publish_load() {
        int64_t busy = 0;
        for (auto &s : slots)
            if (s.state == Slot::State::Busy)
                busy += static_cast<int64_t>(s.tokens.size() - (s.keyed ? 0 : std::min(s.shared, s.tokens.size())));
        pub_kv_busy.store(busy, std::memory_order_relaxed);
        pub_running.store(static_cast<int64_t>(running.size()), std::memory_order_relaxed);
        pub_waiting.store(static_cast<int64_t>(waiting.size()), std::memory_order_relaxed);
    }

    // Any thread: requests not yet admitted (submitted, or waiting for slots or KV room), running
    // ones, and busy KV cells; at most one worker step old.
    parley::BackendLoad load_report() const {
        parley::BackendLoad l;
        {
            std::lock_guard<std::mutex> lock(mu); // incoming and the waiting count it was moved into
            l.queued = static_cast<int64_t>(incoming.size()) + pub_waiting.load(std::memory_order_relaxed);
        }
        l.running = pub_running.load(std::memory_order_relaxed);
        l.kv_used = pub_kv_busy.load(std::memory_order_relaxed);
        l.kv_capacity = kv_total;
        return l;
    }

    // Cancellations, deadlines and requests that failed at submit.
    void sweep() {
        const auto now = Clock::now();
        auto verdict = [&](const ReqPtr &r, parley_status &st, std::string &msg) {
            if (r->cancel.load()) {
                st = PARLEY_ERR_CANCELLED;
                msg = "llama_cpp: request cancelled";
                return true;
            }
            if (r->prefail != PARLEY_OK) {
                st = r->prefail;
                msg = r->prefail_msg;
                return true;
            }
            if (r->deadline && now >= *r->deadline) {
                st = PARLEY_ERR_UNAVAILABLE;
                msg = "llama_cpp: deadline of " + std::to_string(r->q.deadline_s) + " s exceeded";
                return true;
            }
            return false;
        };
        parley_status st;
        std::string msg;
        for (auto it = waiting.begin(); it != waiting.end();) {
            if (verdict(*it, st, msg)) {
                ReqPtr r = *it;
                it = waiting.erase(it);
                finish(r, st, msg, false);
            } else {
                ++it;
            }
        }
        std::vector<ReqPtr> snapshot = running;
        for (auto &r : snapshot)
            if (verdict(r, st, msg)) finish(r, st, msg, true); // its cache is consistent: keep it
    }

    void deliver() {
        for (auto &[r, c] : finished) {
            {
                // Finished: from now on cancel() says "unknown id", even while the callback runs.
                std::lock_guard<std::mutex> lock(mu);
                live.erase(r->id);
            }
            try {
                r->done(std::move(c));
            } catch (const std::exception &e) {
                parley::log(PARLEY_LOG_ERROR, kLog, std::string("a completion callback threw: ") + e.what());
            } catch (...) {
                parley::log(PARLEY_LOG_ERROR, kLog, "a completion callback threw");
            }
        }
        finished.clear();
    }

    std::optional<Clock::time_point> next_deadline() const {
        std::optional<Clock::time_point> d;
        for (auto &r : waiting)
            if (r->deadline && (!d || *r->deadline < *d)) d = r->deadline;
        return d;
    }

    void run() {
        for (;;) {
            bool stopping = false;
            {
                std::unique_lock<std::mutex> lock(mu);
                auto ready = [&] { return stop || cancel_pending || !incoming.empty() || !running.empty(); };
                if (!ready()) {
                    if (waiting.empty()) {
                        cv.wait(lock, ready);
                    } else {
                        // Nothing runs yet requests wait (should not last): wake for their deadlines.
                        auto until = Clock::now() + std::chrono::milliseconds(50);
                        if (auto d = next_deadline(); d && *d < until) until = *d;
                        cv.wait_until(lock, until, ready);
                    }
                }
                stopping = stop;
                cancel_pending = false;
                while (!incoming.empty()) {
                    waiting.push_back(std::move(incoming.front()));
                    incoming.pop_front();
                }
                pub_waiting.store(static_cast<int64_t>(waiting.size()), std::memory_order_relaxed);
            }
            if (stopping) break;
            {
                std::lock_guard<std::mutex> lock(slots_mu);
                sweep();
                while (!waiting.empty() && (!admission_blocked || running.empty())) {
                    ReqPtr r = waiting.front();
                    if (!try_admit(r)) break;
                    waiting.pop_front();
                }
                if (running.empty()) admission_blocked = false;
                step();
                publish_load();
            }
            deliver();
        }
        // Shutting down: everything outstanding is cancelled.
        {
            std::lock_guard<std::mutex> lock(mu);
            while (!incoming.empty()) {
                waiting.push_back(std::move(incoming.front()));
                incoming.pop_front();
            }
        }
        {
            std::lock_guard<std::mutex> lock(slots_mu);
            std::vector<ReqPtr> all(running.begin(), running.end());
            all.insert(all.end(), waiting.begin(), waiting.end());
            waiting.clear();
            for (auto &r : all) finish(r, PARLEY_ERR_CANCELLED, "llama_cpp: the backend was destroyed", false);
        }
        deliver();
    }
};

// =============================================================================================
// Engine
// =============================================================================================

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) { impl_->load(); }
Engine::~Engine() = default;

uint64_t Engine::submit(parley::Request request, Done done) { return impl_->submit(std::move(request), std::move(done)); }
bool Engine::cancel(uint64_t id) { return impl_->cancel(id); }
std::string Engine::apply_template(const std::vector<parley::Message> &messages) const { return impl_->apply_template(messages); }

std::vector<int32_t> Engine::tokenize(std::string_view text) const {
    auto t = impl_->tokenize(text);
    return {t.begin(), t.end()};
}

std::vector<int32_t> Engine::resident_tokens(uint64_t conversation, uint32_t agent) const {
    std::lock_guard<std::mutex> lock(impl_->slots_mu);
    for (auto &s : impl_->slots)
        if (s.state != Impl::Slot::State::Free && s.keyed && s.conversation == conversation && s.agent == agent)
            return {s.tokens.begin(), s.tokens.end()};
    return {};
}

const std::string &Engine::model_path() const { return impl_->model_path; }
const std::string &Engine::chat_template() const { return impl_->tmpl; }
int64_t Engine::context_size() const { return impl_->n_ctx; }
int Engine::n_parallel() const { return impl_->opt.n_parallel; }
int Engine::threads() const { return impl_->opt.threads; }
parley::BackendLoad Engine::load() const { return impl_->load_report(); }
EngineStats Engine::stats() const {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return impl_->stats;
}

} // namespace parley::llama_cpp
