// libparley-llama_cpp.so: the `llama_cpp/backend` component over parley::llama_cpp::Engine.
#include "engine.hpp"

#include <parley/sdk.hpp>

#include <string>

namespace {

const parley_param kParams[] = {
    {"model", PARLEY_TYPE_PATH, PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST, nullptr, "GGUF model file"},
    {"chat_template", PARLEY_TYPE_STRING, 0, "auto",
     "\"auto\" (the GGUF's own Jinja template as Hugging Face renders it, else chatml), \"chatml\", a path to a "
     "tokenizer_config.json or a .jinja file, Jinja source, or a llama.cpp built-in name (llama2, phi3, gemma, ...)"},
    {"n_ctx", PARLEY_TYPE_INT, 0, "0",
     "KV cache cells in all; each sequence gets n_ctx / n_parallel (or all of it with kv_unified); "
     "0 = n_parallel x min(the model's training context, 8192)"},
    {"kv_unified", PARLEY_TYPE_BOOL, 0, "false",
     "one KV buffer for all sequences (attention then spans every cell in use: slower with many long conversations)"},
    {"n_parallel", PARLEY_TYPE_INT, 0, "16", "sequence slots: requests decoded together or kept resident (<= 256)"},
    {"n_batch", PARLEY_TYPE_INT, 0, "2048", "tokens per decode step (one per running sequence + prefill chunks)"},
    {"n_ubatch", PARLEY_TYPE_INT, 0, "512", "physical micro-batch size"},
    {"threads", PARLEY_TYPE_INT, 0, "physical cores", "CPU threads for decoding and prefill"},
    {"max_tokens", PARLEY_TYPE_INT, 0, "512", "tokens to generate when a request leaves max_tokens unset"},
    {"flash_attn", PARLEY_TYPE_STRING, 0, "auto", "flash attention: auto, on or off"},
    {"lora", PARLEY_TYPE_PATH, PARLEY_PARAM_MUST_EXIST, nullptr, "a LoRA adapter GGUF applied to every request"},
    {"lora_scale", PARLEY_TYPE_FLOAT, 0, "1.0", "the adapter's scale"},
    {"reasoning_markers", PARLEY_TYPE_STRING, 0, "auto",
     "think blocks split off chat replies as reasoning: \"auto\" (the chat template's own markers, e.g. <think>), "
     "\"none\", or \"OPEN|CLOSE\""},
};

int positive(const parley::Config &cfg, const char *key, int fallback, bool zero_ok = false) {
    const int64_t v = cfg.get(key, static_cast<int64_t>(fallback));
    if (v < (zero_ok ? 0 : 1) || v > (int64_t{1} << 30))
        throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT,
                            std::string("llama_cpp: '") + key + "' must be " + (zero_ok ? ">= 0" : "> 0") + ", got " +
                                std::to_string(v));
    return static_cast<int>(v);
}

parley::llama_cpp::EngineOptions options(const parley::Config &cfg) {
    parley::llama_cpp::EngineOptions o;
    o.model = cfg.get("model", "");
    if (o.model.empty()) throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, "llama_cpp: 'model' is required");
    o.chat_template = cfg.get("chat_template", "auto");
    o.n_ctx = positive(cfg, "n_ctx", o.n_ctx, true);
    o.n_parallel = positive(cfg, "n_parallel", o.n_parallel);
    o.n_batch = positive(cfg, "n_batch", o.n_batch);
    o.n_ubatch = positive(cfg, "n_ubatch", o.n_ubatch);
    o.threads = positive(cfg, "threads", 0, true); // 0: physical cores
    o.max_tokens = positive(cfg, "max_tokens", o.max_tokens);
    o.kv_unified = cfg.get("kv_unified", false);
    o.flash_attn = cfg.get("flash_attn", "auto");
    o.lora = cfg.get("lora", "");
    o.lora_scale = static_cast<float>(cfg.get("lora_scale", 1.0));
    o.reasoning_markers = cfg.get("reasoning_markers", "auto");
    return o;
}

class LlamaBackend final : public parley::Backend {
  public:
    explicit LlamaBackend(const parley::Config &cfg) : engine_(options(cfg)) {}

    uint64_t submit(parley::Request request, Done done) override { return engine_.submit(std::move(request), std::move(done)); }
    bool cancel(uint64_t id) override { return engine_.cancel(id); }
    parley::BackendInfo info() override { return {engine_.model_path(), engine_.context_size(), engine_.n_parallel()}; }
    std::string apply_template(const std::vector<parley::Message> &messages) override {
        return engine_.apply_template(messages);
    }
    std::optional<parley::BackendLoad> load() override { return engine_.load(); }

  private:
    parley::llama_cpp::Engine engine_;
};

} // namespace

PARLEY_PLUGIN("llama_cpp", "0.1.0", "Embedded llama.cpp inference (continuous batching, prefix reuse)",
              parley::backend<LlamaBackend>("backend", 2,
                                            "llama.cpp engine: one model, continuous batching over n_parallel "
                                            "sequences, per-conversation KV reuse",
                                            kParams));
