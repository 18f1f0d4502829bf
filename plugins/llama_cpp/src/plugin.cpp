// libparley-llama_cpp.so: the `llama_cpp/backend` component over parley::llama_cpp::Engine.
#include "engine.hpp"

#include <parley/sdk.hpp>

#include <string>

namespace {

// One place per key: type, default, range or choices, doc. The host checks a graph's values
// against these before the model loads and applies the defaults (ABI 1.4).
using namespace parley::param;
constexpr int64_t kMaxCells = int64_t{1} << 30;
constexpr const char *kFlashAttn[] = {"auto", "on", "off"};
constexpr parley_param kModel = path("model", PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST, "GGUF model file");
constexpr parley_param kChatTemplate = string(
    "chat_template", "auto",
    "\"auto\" (the GGUF's own Jinja template as Hugging Face renders it, else chatml), \"chatml\", a path to a "
    "tokenizer_config.json or a .jinja file, Jinja source, or a llama.cpp built-in name (llama2, phi3, gemma, ...)");
constexpr parley_param kNCtx = integer("n_ctx", 0,
                                       "KV cache cells in all; each sequence gets n_ctx / n_parallel (or all of it with kv_unified); "
                                       "0 = n_parallel x min(the model's training context, 8192)",
                                       parley::between(0, kMaxCells));
constexpr parley_param kKvUnified =
    flag("kv_unified", false, "one KV buffer for all sequences (attention then spans every cell in use: slower with many long conversations)");
constexpr parley_param kNParallel = integer("n_parallel", 16, "sequence slots: requests decoded together or kept resident", parley::between(1, 256));
constexpr parley_param kCacheRam = integer("cache_ram_mib", 8192,
                                           "host memory (MiB) for the KV states of sequences dropped from the cache: a later prompt sharing "
                                           "their prefix restores it instead of prefilling it (llama-server's --cache-ram); 0 = off",
                                           parley::between(0, kMaxCells));
constexpr parley_param kNBatch = integer("n_batch", 2048, "tokens per decode step (one per running sequence + prefill chunks)", parley::between(1, kMaxCells));
constexpr parley_param kNUbatch = integer("n_ubatch", 512, "physical micro-batch size", parley::between(1, kMaxCells));
constexpr parley_param kThreads = computed("threads", PARLEY_TYPE_INT, "physical cores", "CPU threads for decoding and prefill; 0 = physical cores",
                                           parley::between(0, 4096));
constexpr parley_param kMaxTokens = integer("max_tokens", 512, "tokens to generate when a request leaves max_tokens unset", parley::between(1, kMaxCells));
constexpr parley_param kFlashAttnParam = choice("flash_attn", kFlashAttn, "auto", "flash attention: auto, on or off");
constexpr parley_param kLora = path("lora", PARLEY_PARAM_MUST_EXIST, "a LoRA adapter GGUF applied to every request");
constexpr parley_param kLoraScale = number("lora_scale", 1.0, "the adapter's scale");
constexpr parley_param kReasoningMarkers = string(
    "reasoning_markers", "auto",
    "think blocks split off chat replies as reasoning: \"auto\" (the chat template's own markers, e.g. <think>), \"none\", or \"OPEN|CLOSE\"");
constexpr parley_param kParams[] = {kModel,     kChatTemplate, kNCtx,           kKvUnified, kNParallel, kNBatch,           kNUbatch,
                                    kThreads,   kMaxTokens,    kFlashAttnParam, kLora,      kLoraScale, kReasoningMarkers, kCacheRam};

parley::llama_cpp::EngineOptions options(const parley::Config &cfg) {
    parley::llama_cpp::EngineOptions o;
    o.model = cfg.get<std::string>(kModel); // required: the host refuses a graph without it
    o.chat_template = cfg.get<std::string>(kChatTemplate);
    o.n_ctx = cfg.get<int>(kNCtx);
    o.n_parallel = cfg.get<int>(kNParallel);
    o.n_batch = cfg.get<int>(kNBatch);
    o.n_ubatch = cfg.get<int>(kNUbatch);
    o.threads = cfg.get("threads", 0); // 0: physical cores
    o.max_tokens = cfg.get<int>(kMaxTokens);
    o.kv_unified = cfg.get<bool>(kKvUnified);
    o.cache_ram_mib = cfg.get<int>(kCacheRam);
    o.flash_attn = cfg.get<std::string>(kFlashAttnParam);
    o.lora = cfg.get("lora", "");
    o.lora_scale = cfg.get<float>(kLoraScale);
    o.reasoning_markers = cfg.get<std::string>(kReasoningMarkers);
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
