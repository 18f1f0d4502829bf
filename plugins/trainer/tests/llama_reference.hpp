// What the trainer's model is checked against (tests and bench/training): llama.cpp's logits for
// every position of one sequence, computed as exactly as llama.cpp does on a CPU (F32 KV cache,
// flash attention off).
#pragma once

#include <llama.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace parley::llama_reference {

// A context that decodes `n_tokens` at once; null if llama.cpp refuses it.
inline llama_context *context_for(llama_model *m, size_t n_tokens, int threads) {
    llama_context_params cp = llama_context_default_params();
    const auto T = static_cast<uint32_t>(n_tokens);
    cp.n_ctx = std::max<uint32_t>(256, T);
    cp.n_batch = cp.n_ubatch = T;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    return llama_init_from_model(m, cp);
}

// Decodes `tokens` as one sequence from position 0; the logits, position-major (T x vocab).
inline std::vector<float> all_logits(llama_context *ctx, const std::vector<int32_t> &tokens) {
    const auto T = static_cast<int32_t>(tokens.size());
    llama_batch b = llama_batch_init(T, 0, 1);
    for (int32_t i = 0; i < T; ++i) {
        b.token[i] = tokens[static_cast<size_t>(i)];
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = 1;
    }
    b.n_tokens = T;
    if (llama_decode(ctx, b) != 0) {
        llama_batch_free(b);
        throw std::runtime_error("llama_decode failed");
    }
    const int64_t V = llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(ctx)));
    std::vector<float> out(static_cast<size_t>(T * V));
    for (int32_t i = 0; i < T; ++i) {
        const float *l = llama_get_logits_ith(ctx, i);
        std::copy(l, l + V, out.begin() + static_cast<std::ptrdiff_t>(i * V));
    }
    llama_batch_free(b);
    return out;
}

} // namespace parley::llama_reference
