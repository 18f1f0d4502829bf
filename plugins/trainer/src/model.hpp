// model.hpp — a libtorch llama-family model (llama.cpp's `llama` and `qwen2` graphs) whose weights
// come from a GGUF file. Internal: includes torch, so only model.cpp and train.cpp include it.
//
// The forward pass follows llama.cpp's graph (src/models/llama.cpp, qwen2.cpp) op for op:
// RMSNorm (x * 1/sqrt(mean(x^2) + eps) * w), RoPE as ggml_rope_ext applies it (NORM: adjacent
// pairs for llama, whose Q/K rows convert_hf_to_gguf permuted; NEOX: halves for qwen2; the
// cos/sin table built with ggml's float recurrence theta *= base^(-2/n_rot), with freq_scale and
// llama3's rope_freqs factors), grouped-query attention (query head h reads KV head
// h / (n_head / n_head_kv)) scaled by 1/sqrt(head_dim) with a causal mask, SwiGLU
// (down(silu(gate x) * up x)), the output projection (token_embd when tied) and qwen2's biases.
// GGUF tensors are ggml-ordered (ne[0] fastest), so a weight with ne {n_in, n_out} is the
// row-major [n_out, n_in] matrix torch::nn::functional::linear expects: no transposes.
#pragma once

#include "gguf_io.hpp"

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace parley::training {

struct Linear {
    std::string name;      // GGUF name of the weight, e.g. "blk.0.attn_q.weight"
    std::string bias_name; // "" when there is no bias
    torch::Tensor w, b;    // b undefined without bias
    torch::Tensor lora_a, lora_b; // [r, n_in], [n_out, r]; undefined without LoRA
    double lora_scale = 0.0;      // alpha / r

    torch::Tensor operator()(const torch::Tensor &x) const;
    bool has_lora() const { return lora_a.defined(); }
};

struct Layer {
    torch::Tensor attn_norm, ffn_norm;
    Linear q, k, v, o, gate, up, down;
    std::vector<Linear *> linears() { return {&q, &k, &v, &o, &gate, &up, &down}; }
};

class LlamaModel {
  public:
    LlamaModel(const GgufFile &gguf, torch::Device device);

    const ModelConfig &config() const { return cfg_; }
    torch::Device device() const { return device_; }

    // ids [B, T] (int64) -> final-normed hidden states [B, T, n_embd]; positions 0..T-1.
    torch::Tensor hidden(const torch::Tensor &ids);
    // [..., n_embd] -> logits [..., n_vocab]
    torch::Tensor logits(const torch::Tensor &hidden) const;

    // LoRA on q/k/v/o/gate/up/down: A ~ U(-1/sqrt(n_in), 1/sqrt(n_in)), B = 0 (PEFT's init).
    void enable_lora(int rank, double alpha);
    void load_lora(const LoraAdapter &adapter);
    bool lora() const { return lora_rank_ > 0; }
    int lora_rank() const { return lora_rank_; }
    double lora_alpha() const { return lora_alpha_; }

    // What training updates: the LoRA matrices with LoRA, else every weight. Stable order.
    std::vector<std::pair<std::string, torch::Tensor>> trainable();

    // Export: GGUF tensor name -> row-major float32 values (LoRA merged into the base weights).
    std::map<std::string, std::vector<float>> export_weights();
    std::vector<LoraPair> export_lora();

  private:
    void ensure_rope(int64_t n_pos);
    torch::Tensor rope(const torch::Tensor &x) const; // x [B, T, H, hd]
    torch::Tensor attention(Layer &l, const torch::Tensor &x, const torch::Tensor &mask);

    ModelConfig cfg_;
    torch::Device device_;
    torch::Tensor tok_embd_, output_norm_, output_, output_b_;
    std::vector<Layer> layers_;
    std::vector<float> freq_factors_;
    torch::Tensor rope_cos_, rope_sin_; // [n_pos, head_dim / 2]
    int64_t rope_n_pos_ = 0;
    int lora_rank_ = 0;
    double lora_alpha_ = 0.0;
    // Every trainable base tensor by GGUF name (biases and norms included; rope_freqs excluded).
    std::vector<std::pair<std::string, torch::Tensor>> named_;
};

torch::Device select_device(const std::string &device);

} // namespace parley::training
