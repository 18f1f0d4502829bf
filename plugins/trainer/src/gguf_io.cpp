#include "gguf_io.hpp"

#include <parley/sdk.hpp>

#include <ggml.h>
#include <gguf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <random>
#include <tuple>
#include <system_error>

namespace parley::training {

using parley::Error;

namespace {

struct File {
    FILE *f = nullptr;
    File(const std::string &path, const char *mode) : f(std::fopen(path.c_str(), mode)) {}
    ~File() {
        if (f) std::fclose(f);
    }
    File(const File &) = delete;
    File &operator=(const File &) = delete;
};

void read_at(FILE *f, uint64_t offset, void *dst, size_t n, const std::string &path) {
    if (fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(dst, 1, n, f) != n)
        throw Error(PARLEY_ERR_IO, "cannot read " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
                                       " of '" + path + "'");
}

void write_at(FILE *f, uint64_t offset, const void *src, size_t n, const std::string &path) {
    if (fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fwrite(src, 1, n, f) != n)
        throw Error(PARLEY_ERR_IO, "cannot write " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
                                       " of '" + path + "'");
}

// float32 -> the tensor's own type.
std::vector<uint8_t> from_f32(const float *src, const TensorInfo &t) {
    std::vector<uint8_t> out(t.nbytes);
    const int64_t n = t.numel();
    const auto type = static_cast<ggml_type>(t.type);
    switch (type) {
    case GGML_TYPE_F32: std::memcpy(out.data(), src, static_cast<size_t>(n) * sizeof(float)); break;
    case GGML_TYPE_F16: ggml_fp32_to_fp16_row(src, reinterpret_cast<ggml_fp16_t *>(out.data()), n); break;
    case GGML_TYPE_BF16: ggml_fp32_to_bf16_row(src, reinterpret_cast<ggml_bf16_t *>(out.data()), n); break;
    default: {
        if (!ggml_is_quantized(type) || ggml_quantize_requires_imatrix(type))
            throw Error(PARLEY_ERR_UNSUPPORTED, "cannot write tensor '" + t.name + "' back as " + ggml_type_label(t.type) +
                                                    " (needs an importance matrix or is not quantisable); export a LoRA adapter instead");
        const int64_t n_per_row = t.ne.empty() ? n : t.ne[0];
        const size_t written = ggml_quantize_chunk(type, src, out.data(), 0, n / n_per_row, n_per_row, nullptr);
        if (written != out.size())
            throw Error(PARLEY_ERR_RUNTIME, "quantising '" + t.name + "' produced " + std::to_string(written) +
                                                " bytes, expected " + std::to_string(out.size()));
    }
    }
    return out;
}

} // namespace

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (auto d : ne) n *= d;
    return n;
}

std::vector<int64_t> TensorInfo::shape() const { return {ne.rbegin(), ne.rend()}; }

std::string ggml_type_label(int type) {
    const char *n = ggml_type_name(static_cast<ggml_type>(type));
    std::string s = n ? n : "?";
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

GgufFile::GgufFile(const std::string &path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw Error(PARLEY_ERR_NOT_FOUND, "model file not found: '" + path + "'");
    gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
    ctx_ = gguf_init_from_file(path.c_str(), params);
    if (!ctx_) throw Error(PARLEY_ERR_PARSE, "'" + path + "' is not a GGUF file gguf can read");
    const uint64_t data_offset = gguf_get_data_offset(ctx_);
    const int64_t n = gguf_get_n_tensors(ctx_);
    tensors_.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        TensorInfo t;
        t.name = gguf_get_tensor_name(ctx_, i);
        t.type = gguf_get_tensor_type(ctx_, i);
        const int64_t *ne = gguf_get_tensor_ne(ctx_, i);
        int nd = GGML_MAX_DIMS;
        while (nd > 1 && ne[nd - 1] == 1) --nd;
        t.ne.assign(ne, ne + nd);
        t.file_offset = data_offset + gguf_get_tensor_offset(ctx_, i);
        t.nbytes = gguf_get_tensor_size(ctx_, i);
        index_[t.name] = tensors_.size();
        tensors_.push_back(std::move(t));
    }
}

GgufFile::~GgufFile() {
    if (ctx_) gguf_free(ctx_);
}

const TensorInfo *GgufFile::find(const std::string &name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo &GgufFile::at(const std::string &name) const {
    auto *t = find(name);
    if (!t) throw Error(PARLEY_ERR_PARSE, "'" + path_ + "' has no tensor '" + name + "'");
    return *t;
}

std::vector<uint8_t> GgufFile::read_raw(const std::string &name) const {
    const TensorInfo &t = at(name);
    // The header's claim is checked against the file before allocating (fuzz/: a corrupt size
    // asked for petabytes and escaped as std::bad_alloc).
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path_, ec);
    if (ec || t.nbytes > size || t.file_offset > size - t.nbytes)
        throw Error(PARLEY_ERR_PARSE, "'" + path_ + "': tensor '" + name + "' claims " + std::to_string(t.nbytes) +
                                          " bytes at offset " + std::to_string(t.file_offset) + ", past the end of the file (" +
                                          std::to_string(size) + " bytes)");
    std::vector<uint8_t> buf(t.nbytes);
    File f(path_, "rb");
    if (!f.f) throw Error(PARLEY_ERR_IO, "cannot open '" + path_ + "'");
    read_at(f.f, t.file_offset, buf.data(), buf.size(), path_);
    return buf;
}

std::vector<float> GgufFile::read_f32(const std::string &name) const {
    const TensorInfo &t = at(name);
    const auto type = static_cast<ggml_type>(t.type);
    std::vector<uint8_t> raw = read_raw(name);
    std::vector<float> out(static_cast<size_t>(t.numel()));
    if (type == GGML_TYPE_F32) {
        std::memcpy(out.data(), raw.data(), out.size() * sizeof(float));
        return out;
    }
    const ggml_type_traits *tr = ggml_get_type_traits(type);
    if (!tr || !tr->to_float)
        throw Error(PARLEY_ERR_UNSUPPORTED, "tensor '" + name + "' of '" + path_ + "' has type " + ggml_type_label(t.type) +
                                                ", which ggml cannot convert to float");
    tr->to_float(raw.data(), out.data(), t.numel());
    return out;
}

bool GgufFile::has_key(const std::string &key) const { return gguf_find_key(ctx_, key.c_str()) >= 0; }

std::string GgufFile::get_string(const std::string &key, const std::string &fallback) const {
    const int64_t id = gguf_find_key(ctx_, key.c_str());
    if (id < 0) return fallback;
    if (gguf_get_kv_type(ctx_, id) != GGUF_TYPE_STRING)
        throw Error(PARLEY_ERR_PARSE, "'" + path_ + "': key '" + key + "' is not a string");
    return gguf_get_val_str(ctx_, id);
}

int64_t GgufFile::get_int(const std::string &key, int64_t fallback) const {
    const int64_t id = gguf_find_key(ctx_, key.c_str());
    if (id < 0) return fallback;
    switch (gguf_get_kv_type(ctx_, id)) {
    case GGUF_TYPE_UINT8: return gguf_get_val_u8(ctx_, id);
    case GGUF_TYPE_INT8: return gguf_get_val_i8(ctx_, id);
    case GGUF_TYPE_UINT16: return gguf_get_val_u16(ctx_, id);
    case GGUF_TYPE_INT16: return gguf_get_val_i16(ctx_, id);
    case GGUF_TYPE_UINT32: return gguf_get_val_u32(ctx_, id);
    case GGUF_TYPE_INT32: return gguf_get_val_i32(ctx_, id);
    case GGUF_TYPE_UINT64: return static_cast<int64_t>(gguf_get_val_u64(ctx_, id));
    case GGUF_TYPE_INT64: return gguf_get_val_i64(ctx_, id);
    case GGUF_TYPE_ARRAY: {
        // Per-layer arrays (e.g. feed_forward_length): accepted only when every entry is equal.
        const size_t n = gguf_get_arr_n(ctx_, id);
        const auto at = gguf_get_arr_type(ctx_, id);
        if (n == 0 || (at != GGUF_TYPE_UINT32 && at != GGUF_TYPE_INT32)) break;
        const auto *d = static_cast<const int32_t *>(gguf_get_arr_data(ctx_, id));
        for (size_t i = 1; i < n; ++i)
            if (d[i] != d[0])
                throw Error(PARLEY_ERR_UNSUPPORTED, "'" + path_ + "': per-layer values of '" + key + "' differ; not supported");
        return d[0];
    }
    default: break;
    }
    throw Error(PARLEY_ERR_PARSE, "'" + path_ + "': key '" + key + "' is not an integer");
}

double GgufFile::get_float(const std::string &key, double fallback) const {
    const int64_t id = gguf_find_key(ctx_, key.c_str());
    if (id < 0) return fallback;
    switch (gguf_get_kv_type(ctx_, id)) {
    case GGUF_TYPE_FLOAT32: return gguf_get_val_f32(ctx_, id);
    case GGUF_TYPE_FLOAT64: return gguf_get_val_f64(ctx_, id);
    default: return static_cast<double>(get_int(key, 0));
    }
}

ModelConfig GgufFile::model_config() const {
    ModelConfig c;
    c.arch = get_string("general.architecture");
    if (c.arch == "llama") {
        c.rope_type = RopeType::Norm; // llama_model_rope_type: LLM_ARCH_LLAMA -> LLAMA_ROPE_TYPE_NORM
    } else if (c.arch == "qwen2") {
        c.rope_type = RopeType::Neox; // LLM_ARCH_QWEN2 -> LLAMA_ROPE_TYPE_NEOX
    } else {
        throw Error(PARLEY_ERR_UNSUPPORTED, "'" + path_ + "': architecture '" + c.arch +
                                                "' is not supported by the trainer (supported: llama, qwen2)");
    }
    const std::string a = c.arch + ".";
    auto need = [&](const std::string &k) {
        const int64_t v = get_int(a + k, -1);
        if (v <= 0) throw Error(PARLEY_ERR_PARSE, "'" + path_ + "': missing or invalid '" + a + k + "'");
        return v;
    };
    c.n_layer = static_cast<int>(need("block_count"));
    c.n_embd = static_cast<int>(need("embedding_length"));
    c.n_ff = static_cast<int>(need("feed_forward_length"));
    c.n_head = static_cast<int>(need("attention.head_count"));
    c.n_head_kv = static_cast<int>(get_int(a + "attention.head_count_kv", c.n_head));
    c.n_ctx_train = get_int(a + "context_length", 0);
    c.rms_eps = static_cast<float>(get_float(a + "attention.layer_norm_rms_epsilon", 1e-5));
    c.rope_freq_base = static_cast<float>(get_float(a + "rope.freq_base", 10000.0));
    const int64_t head_k = get_int(a + "attention.key_length", c.n_embd / c.n_head);
    const int64_t head_v = get_int(a + "attention.value_length", c.n_embd / c.n_head);
    const int64_t n_rot = get_int(a + "rope.dimension_count", head_k);
    if (head_k != head_v || head_k != n_rot)
        throw Error(PARLEY_ERR_UNSUPPORTED, "'" + path_ + "': key/value head sizes and rope dimensions differ (" +
                                                std::to_string(head_k) + "/" + std::to_string(head_v) + "/" +
                                                std::to_string(n_rot) + "); not supported");
    c.head_dim = static_cast<int>(head_k);
    if (c.n_head_kv <= 0 || c.n_head % c.n_head_kv != 0)
        throw Error(PARLEY_ERR_PARSE, "'" + path_ + "': head_count_kv must divide head_count");
    if (get_int(a + "expert_count", 0) > 0)
        throw Error(PARLEY_ERR_UNSUPPORTED, "'" + path_ + "': mixture-of-experts models are not supported");
    const std::string scaling = get_string(a + "rope.scaling.type", "linear");
    if (scaling != "linear" && scaling != "none")
        throw Error(PARLEY_ERR_UNSUPPORTED, "'" + path_ + "': rope scaling '" + scaling + "' is not supported (linear only)");
    double factor = get_float(a + "rope.scaling.factor", 0.0);
    if (factor == 0.0) factor = get_float(a + "rope.scale_linear", 0.0);
    c.rope_freq_scale = factor == 0.0 ? 1.0f : static_cast<float>(1.0 / factor);
    if (find("blk.0.attn_qkv.weight"))
        throw Error(PARLEY_ERR_UNSUPPORTED, "'" + path_ + "': fused attn_qkv tensors are not supported");
    const TensorInfo &emb = at("token_embd.weight");
    if (emb.ne.size() != 2 || emb.ne[0] != c.n_embd)
        throw Error(PARLEY_ERR_PARSE, "'" + path_ + "': token_embd.weight has an unexpected shape");
    c.n_vocab = emb.ne[1];
    c.tied_output = find("output.weight") == nullptr;
    return c;
}

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

void export_full_gguf(const std::string &base, const std::string &out,
                      const std::map<std::string, std::vector<float>> &replacements) {
    GgufFile g(base);
    // Convert everything first, so a failure leaves no half-written file.
    std::vector<std::pair<const TensorInfo *, std::vector<uint8_t>>> blobs;
    for (auto &[name, data] : replacements) {
        const TensorInfo &t = g.at(name);
        if (static_cast<int64_t>(data.size()) != t.numel())
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "export: tensor '" + name + "' has " + std::to_string(data.size()) +
                                                         " values, expected " + std::to_string(t.numel()));
        blobs.emplace_back(&t, from_f32(data.data(), t));
    }
    const std::string tmp = out + ".tmp";
    std::error_code ec;
    std::filesystem::copy_file(base, tmp, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) throw Error(PARLEY_ERR_IO, "export: cannot copy '" + base + "' to '" + tmp + "': " + ec.message());
    {
        File f(tmp, "r+b");
        if (!f.f) throw Error(PARLEY_ERR_IO, "export: cannot open '" + tmp + "' for writing");
        for (auto &[t, bytes] : blobs) write_at(f.f, t->file_offset, bytes.data(), bytes.size(), tmp);
        if (std::fflush(f.f) != 0) throw Error(PARLEY_ERR_IO, "export: cannot flush '" + tmp + "'");
    }
    std::filesystem::rename(tmp, out, ec);
    if (ec) throw Error(PARLEY_ERR_IO, "export: cannot rename '" + tmp + "' to '" + out + "': " + ec.message());
}

void write_lora_adapter(const std::string &out, const std::string &arch, float alpha,
                        const std::vector<LoraPair> &pairs, const std::string &base_model_name) {
    size_t data_bytes = 0;
    for (auto &p : pairs) data_bytes += (p.a.size() + p.b.size()) * sizeof(float);
    ggml_init_params ip{/*mem_size=*/(2 * pairs.size() + 1) * ggml_tensor_overhead(), /*mem_buffer=*/nullptr,
                        /*no_alloc=*/true};
    ggml_context *gctx = ggml_init(ip);
    if (!gctx) throw Error(PARLEY_ERR_OUT_OF_MEMORY, "export: ggml_init failed");
    gguf_context *g = gguf_init_empty();
    struct Guard {
        ggml_context *c;
        gguf_context *g;
        ~Guard() {
            gguf_free(g);
            ggml_free(c);
        }
    } guard{gctx, g};
    gguf_set_val_str(g, "general.architecture", arch.c_str());
    gguf_set_val_str(g, "general.type", "adapter");
    gguf_set_val_str(g, "adapter.type", "lora");
    gguf_set_val_f32(g, "adapter.lora.alpha", alpha);
    if (!base_model_name.empty()) gguf_set_val_str(g, "general.base_model.0.name", base_model_name.c_str());
    for (auto &p : pairs) {
        if (static_cast<int64_t>(p.a.size()) != p.rank * p.n_in || static_cast<int64_t>(p.b.size()) != p.n_out * p.rank)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "export: LoRA pair '" + p.base_name + "' has inconsistent sizes");
        ggml_tensor *ta = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, p.n_in, p.rank);
        ggml_tensor *tb = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, p.rank, p.n_out);
        ggml_set_name(ta, (p.base_name + ".lora_a").c_str());
        ggml_set_name(tb, (p.base_name + ".lora_b").c_str());
        ta->data = const_cast<float *>(p.a.data()); // read-only use by gguf_write_to_file
        tb->data = const_cast<float *>(p.b.data());
        gguf_add_tensor(g, ta);
        gguf_add_tensor(g, tb);
    }
    const std::string tmp = out + ".tmp";
    if (!gguf_write_to_file(g, tmp.c_str(), false)) throw Error(PARLEY_ERR_IO, "export: cannot write '" + tmp + "'");
    std::error_code ec;
    std::filesystem::rename(tmp, out, ec);
    if (ec) throw Error(PARLEY_ERR_IO, "export: cannot rename '" + tmp + "' to '" + out + "': " + ec.message());
    (void)data_bytes;
}

LoraAdapter read_lora_adapter(const std::string &path) {
    GgufFile g(path);
    if (g.get_string("general.type") != "adapter" || g.get_string("adapter.type") != "lora")
        throw Error(PARLEY_ERR_PARSE, "'" + path + "' is not a LoRA adapter GGUF");
    LoraAdapter a;
    a.arch = g.get_string("general.architecture");
    a.alpha = static_cast<float>(g.get_float("adapter.lora.alpha", 0.0));
    const std::string sa = ".lora_a";
    for (auto &t : g.tensors()) {
        if (t.name.size() <= sa.size() || t.name.compare(t.name.size() - sa.size(), sa.size(), sa) != 0) continue;
        const std::string base = t.name.substr(0, t.name.size() - sa.size());
        const TensorInfo &tb = g.at(base + ".lora_b");
        if (t.ne.size() != 2 || tb.ne.size() != 2 || t.ne[1] != tb.ne[0])
            throw Error(PARLEY_ERR_PARSE, "'" + path + "': LoRA pair '" + base + "' has unexpected shapes");
        LoraPair p;
        p.base_name = base;
        p.n_in = t.ne[0];
        p.rank = t.ne[1];
        p.n_out = tb.ne[1];
        p.a = g.read_f32(t.name);
        p.b = g.read_f32(tb.name);
        a.pairs.push_back(std::move(p));
    }
    return a;
}

} // namespace parley::training

namespace parley::training {

void write_synthetic_gguf(const std::string &out, const std::string &tokenizer_from, const SyntheticSpec &spec) {
    if (spec.arch != "llama" && spec.arch != "qwen2")
        throw Error(PARLEY_ERR_INVALID_ARGUMENT, "synthetic GGUF: arch must be llama or qwen2");
    gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
    gguf_context *src = gguf_init_from_file(tokenizer_from.c_str(), params);
    if (!src) throw Error(PARLEY_ERR_PARSE, "synthetic GGUF: cannot read '" + tokenizer_from + "'");
    gguf_context *g = gguf_init_empty();
    std::vector<std::vector<uint8_t>> blobs;
    const int64_t tok_id = gguf_find_key(src, "tokenizer.ggml.tokens");
    if (tok_id < 0) {
        gguf_free(src);
        gguf_free(g);
        throw Error(PARLEY_ERR_PARSE, "synthetic GGUF: '" + tokenizer_from + "' has no tokenizer");
    }
    const int64_t V = static_cast<int64_t>(gguf_get_arr_n(src, tok_id));
    // Copy tokenizer.* keys: gguf_set_kv copies all, then drop the others.
    gguf_set_kv(g, src);
    for (int64_t i = gguf_get_n_kv(g) - 1; i >= 0; --i) {
        const std::string k = gguf_get_key(g, i);
        if (k.rfind("tokenizer.", 0) != 0) gguf_remove_key(g, k.c_str());
    }
    gguf_free(src);
    const std::string a = spec.arch + ".";
    gguf_set_val_str(g, "general.architecture", spec.arch.c_str());
    gguf_set_val_str(g, "general.name", ("synthetic-" + spec.arch).c_str());
    gguf_set_val_u32(g, (a + "context_length").c_str(), 2048);
    gguf_set_val_u32(g, (a + "embedding_length").c_str(), static_cast<uint32_t>(spec.n_embd));
    gguf_set_val_u32(g, (a + "feed_forward_length").c_str(), static_cast<uint32_t>(spec.n_ff));
    gguf_set_val_u32(g, (a + "block_count").c_str(), static_cast<uint32_t>(spec.n_layer));
    gguf_set_val_u32(g, (a + "attention.head_count").c_str(), static_cast<uint32_t>(spec.n_head));
    gguf_set_val_u32(g, (a + "attention.head_count_kv").c_str(), static_cast<uint32_t>(spec.n_head_kv));
    gguf_set_val_u32(g, (a + "rope.dimension_count").c_str(), static_cast<uint32_t>(spec.n_embd / spec.n_head));
    gguf_set_val_f32(g, (a + "rope.freq_base").c_str(), spec.rope_freq_base);
    gguf_set_val_f32(g, (a + "attention.layer_norm_rms_epsilon").c_str(), 1e-6f);

    std::vector<std::tuple<std::string, ggml_type, std::vector<int64_t>, int>> specs; // name, type, ne, kind
    enum { W = 0, NORM = 1, BIAS = 2 };
    const auto wt = static_cast<ggml_type>(spec.type);
    const int64_t D = spec.n_embd, hd = spec.n_embd / spec.n_head, nkv = hd * spec.n_head_kv, FF = spec.n_ff;
    specs.push_back({"token_embd.weight", wt, {D, V}, W});
    specs.push_back({"output_norm.weight", GGML_TYPE_F32, {D}, NORM});
    if (!spec.tied) specs.push_back({"output.weight", wt, {D, V}, W});
    for (int i = 0; i < spec.n_layer; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        specs.push_back({p + "attn_norm.weight", GGML_TYPE_F32, {D}, NORM});
        specs.push_back({p + "attn_q.weight", wt, {D, D}, W});
        specs.push_back({p + "attn_k.weight", wt, {D, nkv}, W});
        specs.push_back({p + "attn_v.weight", wt, {D, nkv}, W});
        if (spec.qkv_bias) {
            specs.push_back({p + "attn_q.bias", GGML_TYPE_F32, {D}, BIAS});
            specs.push_back({p + "attn_k.bias", GGML_TYPE_F32, {nkv}, BIAS});
            specs.push_back({p + "attn_v.bias", GGML_TYPE_F32, {nkv}, BIAS});
        }
        specs.push_back({p + "attn_output.weight", wt, {D, D}, W});
        specs.push_back({p + "ffn_norm.weight", GGML_TYPE_F32, {D}, NORM});
        specs.push_back({p + "ffn_gate.weight", wt, {D, FF}, W});
        specs.push_back({p + "ffn_up.weight", wt, {D, FF}, W});
        specs.push_back({p + "ffn_down.weight", wt, {FF, D}, W});
    }
    ggml_init_params ip{/*mem_size=*/(specs.size() + 1) * ggml_tensor_overhead(), nullptr, /*no_alloc=*/true};
    ggml_context *gctx = ggml_init(ip);
    std::mt19937_64 rng(spec.seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    blobs.reserve(specs.size());
    for (auto &[name, type, ne, kind] : specs) {
        int64_t n = 1;
        for (auto d : ne) n *= d;
        std::vector<float> v(static_cast<size_t>(n));
        const float sd = kind == W ? 1.0f / std::sqrt(static_cast<float>(ne[0])) : 0.1f;
        for (auto &x : v) x = (kind == NORM ? 1.0f : 0.0f) + sd * nd(rng);
        TensorInfo ti;
        ti.name = name;
        ti.type = type;
        ti.ne = ne;
        ti.nbytes = ggml_row_size(type, ne[0]) * static_cast<size_t>(n / ne[0]);
        blobs.push_back(from_f32(v.data(), ti));
        ggml_tensor *t = ne.size() == 1 ? ggml_new_tensor_1d(gctx, type, ne[0]) : ggml_new_tensor_2d(gctx, type, ne[0], ne[1]);
        ggml_set_name(t, name.c_str());
        t->data = blobs.back().data();
        gguf_add_tensor(g, t);
    }
    const bool ok = gguf_write_to_file(g, out.c_str(), false);
    gguf_free(g);
    ggml_free(gctx);
    if (!ok) throw Error(PARLEY_ERR_IO, "synthetic GGUF: cannot write '" + out + "'");
}

} // namespace parley::training
