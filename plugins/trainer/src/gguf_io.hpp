// gguf_io.hpp — reading llama-family GGUF files (hyper-parameters, tensors dequantised to float)
// and writing trained weights back: a full GGUF (the original file with the trained tensors'
// bytes replaced, same types) or a LoRA adapter GGUF that llama_adapter_lora_init loads.
// No torch here: this TU compiles fast and is shared by the tests and the benchmark.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct gguf_context;

namespace parley::training {

enum class RopeType { Norm, Neox }; // llama.cpp's LLAMA_ROPE_TYPE_NORM / _NEOX

// Hyper-parameters of a llama-family model, read the way llama.cpp reads them.
struct ModelConfig {
    std::string arch;       // "llama" | "qwen2"
    int n_layer = 0;
    int n_embd = 0;
    int n_ff = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int head_dim = 0;       // n_embd_head_k (== n_embd_head_v == n_rot)
    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;
    float rms_eps = 1e-5f;
    float rope_freq_base = 10000.0f;
    float rope_freq_scale = 1.0f; // 1 / rope.scaling.factor (linear scaling)
    RopeType rope_type = RopeType::Norm;
    bool tied_output = false; // no output.weight: the token embedding is reused
};

struct TensorInfo {
    std::string name;
    int type = 0;              // ggml_type
    std::vector<int64_t> ne;   // ggml order: ne[0] is the fastest dimension
    uint64_t file_offset = 0;  // absolute offset of the data in the file
    uint64_t nbytes = 0;
    int64_t numel() const;
    // The row-major (torch) shape: ne reversed.
    std::vector<int64_t> shape() const;
};

class GgufFile {
  public:
    explicit GgufFile(const std::string &path); // metadata only; tensor data is read on demand
    ~GgufFile();
    GgufFile(const GgufFile &) = delete;
    GgufFile &operator=(const GgufFile &) = delete;

    const std::string &path() const { return path_; }
    const std::vector<TensorInfo> &tensors() const { return tensors_; }
    const TensorInfo *find(const std::string &name) const;
    const TensorInfo &at(const std::string &name) const; // throws when absent

    // Tensor data as float32, row-major with shape() (F32 copied, F16/BF16/quantised converted
    // with ggml's to_float). Throws for types ggml cannot convert.
    std::vector<float> read_f32(const std::string &name) const;
    // Raw bytes as stored.
    std::vector<uint8_t> read_raw(const std::string &name) const;

    // Metadata.
    bool has_key(const std::string &key) const;
    std::string get_string(const std::string &key, const std::string &fallback = "") const;
    int64_t get_int(const std::string &key, int64_t fallback) const; // any integer type
    double get_float(const std::string &key, double fallback) const;

    // The model's hyper-parameters (llama / qwen2 only; anything else throws with a message).
    ModelConfig model_config() const;

  private:
    std::string path_;
    ::gguf_context *ctx_ = nullptr;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t> index_;
};

// Writes `out`: a byte copy of `base` whose tensors named in `replacements` get new data,
// converted from float32 to each tensor's own type (F32, F16, BF16 or a quantised type ggml can
// quantise without an importance matrix). Metadata and every other tensor stay bit-identical.
// Each replacement holds numel() floats in row-major order.
void export_full_gguf(const std::string &base, const std::string &out,
                      const std::map<std::string, std::vector<float>> &replacements);

// One LoRA pair for `base_name` (e.g. "blk.0.attn_q.weight"): A is [rank, n_in], B is [n_out, rank]
// (row-major), as in PEFT. llama.cpp computes W x + (alpha / rank) * B (A x).
struct LoraPair {
    std::string base_name;
    int64_t rank = 0, n_in = 0, n_out = 0;
    std::vector<float> a; // rank * n_in
    std::vector<float> b; // n_out * rank
};

// Writes a LoRA adapter GGUF (general.type=adapter, adapter.type=lora, adapter.lora.alpha,
// tensors "<base>.lora_a" with ne {n_in, rank} and "<base>.lora_b" with ne {rank, n_out}, F32).
void write_lora_adapter(const std::string &out, const std::string &arch, float alpha,
                        const std::vector<LoraPair> &pairs, const std::string &base_model_name = "");

// Reads an adapter written by write_lora_adapter (or convert_lora_to_gguf.py, F32/F16/BF16).
struct LoraAdapter {
    std::string arch;
    float alpha = 0.0f;
    std::vector<LoraPair> pairs;
};
LoraAdapter read_lora_adapter(const std::string &path);

// A random-weight llama/qwen2 GGUF with the tokenizer (every tokenizer.* key) of another GGUF:
// for parity tests of the other architecture and for benchmark shapes. Weights ~ N(0, 1/n_in),
// norms ~ 1 + N(0, 0.1^2), biases ~ N(0, 0.1^2).
struct SyntheticSpec {
    std::string arch = "llama"; // llama | qwen2
    int n_layer = 2, n_embd = 64, n_ff = 172, n_head = 8, n_head_kv = 4;
    bool tied = false;          // omit output.weight
    bool qkv_bias = false;      // attn_q/k/v biases (qwen2 has them)
    int type = 0;               // ggml_type of the 2-D weights (F32, F16, BF16); norms/biases stay F32
    float rope_freq_base = 10000.0f;
    uint64_t seed = 1;
};
void write_synthetic_gguf(const std::string &out, const std::string &tokenizer_from, const SyntheticSpec &spec);

// "F32", "F16", "Q8_0", ...
std::string ggml_type_label(int type);

} // namespace parley::training
