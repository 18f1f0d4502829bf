// The llama.cpp inference engine behind the `llama_cpp/backend` component, as a plain C++ class.
//
// One llama_model, one llama_context (n_seq_max = n_parallel, unified KV cache), one worker thread
// that owns the context. Requests queue up; every loop iteration builds one llama_batch that mixes
// one decode token per running sequence with prefill chunks of newly admitted requests, decodes it
// once and samples where logits were requested (continuous batching). Turns of the same
// (conversation, agent) keep their tokens resident, so the next turn only prefills its new suffix.
//
// llama.h stays out of this header (pimpl); the engine speaks parley::Request / parley::Completion.
#pragma once

#include <parley/sdk.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace parley::llama_cpp {

struct EngineOptions {
    std::string model;                  // GGUF path
    std::string chat_template = "auto"; // "auto" (the GGUF's Jinja, else chatml), chatml, a tokenizer_config.json or
                                        // .jinja path, Jinja source, or a llama.cpp built-in name
    int n_ctx = 0;                      // KV cells in all; 0: n_parallel x min(training context, 8192)
    int n_parallel = 16;                // sequence slots (decoded together, or kept resident)
    int n_batch = 2048;                 // tokens per llama_decode call (decode tokens + prefill chunks)
    int n_ubatch = 512;                 // physical micro-batch
    int threads = 0;                    // 0: physical cores
    int max_tokens = 512;               // when a request leaves max_tokens <= 0
    // One KV buffer shared by all sequences (true), or a slice of n_ctx / n_parallel each (false).
    // Attention runs over every cell of the buffer it uses, so with many long conversations a
    // shared buffer costs O(all tokens) per token: slices are much faster; shared suits few
    // sequences with very different lengths.
    bool kv_unified = false;
    // Host memory (MiB) for the KV states of sequences dropped from the cache (evicted, or cut
    // short for another prompt): a later prompt sharing their prefix restores it instead of
    // prefilling it (llama-server's --cache-ram). 0: off.
    int cache_ram_mib = 8192;
    std::string flash_attn = "auto";    // "auto", "on" or "off"
    std::string lora;                   // a LoRA adapter GGUF applied to every request (empty: none)
    float lora_scale = 1.0f;
    // Think blocks split off chat completions into the choice's reasoning (ABI 1.5): "auto" (the
    // markers the chat template uses, e.g. <think>|</think>), "none", or "OPEN|CLOSE".
    std::string reasoning_markers = "auto";
};

// Physical cores from /proc/cpuinfo (unique physical id/core id pairs), else hardware_concurrency.
int physical_cores();

// Counters for tests and diagnostics (all since construction).
struct EngineStats {
    uint64_t decode_calls = 0;   // successful llama_decode calls
    uint64_t max_batch_seqs = 0; // the most distinct sequences decoded in one call
    // The most runs of consecutive sequence ids (5, 6, 7), in batch order, in one call. With
    // per-sequence KV slices (kv_unified = false) llama.cpp decodes each as its own micro-batch.
    uint64_t max_batch_runs = 0;
    uint64_t batch_runs = 0;     // those runs summed over all calls
    uint64_t moves = 0;          // idle histories moved to another sequence id (placement)
    uint64_t preemptions = 0;    // requests sent back to the queue because the KV cache was full
    uint64_t evictions = 0;      // idle resident sequences dropped for room
    uint64_t host_saves = 0;     // sequence states copied to host memory (cache_ram_mib)
    uint64_t host_restores = 0;  // prompts that started from a state restored from host memory
    double decode_s = 0;         // wall time in llama_decode
    double sample_s = 0;         // wall time drawing tokens (all sequences of a step in parallel)
};

class Engine {
  public:
    using Done = parley::Backend::Done;

    // Throws parley::Error (with the path in the message) when the model cannot be loaded.
    explicit Engine(EngineOptions options);
    // Cancels everything outstanding (callbacks fire with PARLEY_ERR_CANCELLED) and joins the worker.
    ~Engine();
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;

    // Thread-safe. Renders and tokenizes the prompt on the caller's thread; throws parley::Error for
    // a request that can never run (n > n_parallel, empty prompt, template failure). `done` is
    // called exactly once, from the worker thread, never from inside submit().
    uint64_t submit(parley::Request request, Done done);
    // Thread-safe. False for an unknown (or already delivered) id.
    bool cancel(uint64_t id);

    // The chat template applied to `messages` with the assistant prefix appended.
    std::string apply_template(const std::vector<parley::Message> &messages) const;
    // Tokenize as a prompt is tokenized (BOS per the vocabulary, special tokens parsed).
    std::vector<int32_t> tokenize(std::string_view text) const;
    // Tokens resident in the KV cache for (conversation, agent); empty if none.
    std::vector<int32_t> resident_tokens(uint64_t conversation, uint32_t agent) const;

    const std::string &model_path() const;
    const std::string &chat_template() const; // as resolved ("chatml", a built-in name, or Jinja source)
    int64_t context_size() const;             // KV cells (llama_n_ctx)
    int n_parallel() const;
    int threads() const;
    EngineStats stats() const;
    // Thread-safe and cheap (one short lock, no waiting on a decode step): requests waiting for a
    // sequence slot or KV room (queued), requests decoding (running), KV cells held by busy
    // sequences (kv_used; idle resident histories, evicted on demand, are not counted) and all
    // KV cells (kv_capacity = n_ctx of every sequence together). At most one step old.
    parley::BackendLoad load() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace parley::llama_cpp
