#include "model.hpp"

#include <parley/sdk.hpp>

#include <cmath>
#include <limits>

namespace parley::training {

using parley::Error;
namespace F = torch::nn::functional;

torch::Device select_device(const std::string &device) {
    if (device == "cpu") return torch::kCPU;
    if (device == "cuda") {
        if (!torch::cuda::is_available())
            throw Error(PARLEY_ERR_UNAVAILABLE, "device 'cuda' requested but libtorch sees no CUDA device");
        return torch::kCUDA;
    }
    if (device == "auto" || device.empty()) return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU;
    throw Error(PARLEY_ERR_INVALID_ARGUMENT, "device must be auto, cpu or cuda (got '" + device + "')");
}

torch::Tensor Linear::operator()(const torch::Tensor &x) const {
    torch::Tensor y = F::linear(x, w, b.defined() ? b : torch::Tensor());
    if (lora_a.defined()) y = y + F::linear(F::linear(x, lora_a), lora_b) * lora_scale;
    return y;
}

namespace {

torch::Tensor load(const GgufFile &g, const TensorInfo &t, torch::Device device) {
    std::vector<float> v = g.read_f32(t.name);
    auto shape = t.shape();
    torch::Tensor cpu = torch::from_blob(v.data(), shape, torch::kFloat32).clone();
    return cpu.to(device);
}

std::vector<float> to_vector(const torch::Tensor &t) {
    torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

} // namespace

LlamaModel::LlamaModel(const GgufFile &g, torch::Device device) : cfg_(g.model_config()), device_(device) {
    auto req = [&](const std::string &name, std::vector<int64_t> shape) {
        const TensorInfo &t = g.at(name);
        if (t.shape() != shape) {
            std::string want, got;
            auto dims = [](const std::vector<int64_t> &v) {
                std::string s;
                for (size_t i = 0; i < v.size(); ++i) {
                    if (i) s += 'x';
                    s += std::to_string(v[i]);
                }
                return s;
            };
            want = dims(shape);
            got = dims(t.shape());
            throw Error(PARLEY_ERR_PARSE, "'" + g.path() + "': tensor '" + name + "' is " + got + ", expected " + want);
        }
        torch::Tensor x = load(g, t, device_);
        named_.emplace_back(name, x);
        return x;
    };
    auto opt = [&](const std::string &name, std::vector<int64_t> shape) -> torch::Tensor {
        if (!g.find(name)) return {};
        return req(name, std::move(shape));
    };
    const int64_t D = cfg_.n_embd, V = cfg_.n_vocab, hd = cfg_.head_dim;
    const int64_t nq = hd * cfg_.n_head, nkv = hd * cfg_.n_head_kv, ff = cfg_.n_ff;
    tok_embd_ = req("token_embd.weight", {V, D});
    output_norm_ = req("output_norm.weight", {D});
    if (!cfg_.tied_output) output_ = req("output.weight", {V, D});
    output_b_ = opt("output.bias", {V});
    layers_.resize(static_cast<size_t>(cfg_.n_layer));
    for (int i = 0; i < cfg_.n_layer; ++i) {
        Layer &l = layers_[static_cast<size_t>(i)];
        const std::string p = "blk." + std::to_string(i) + ".";
        auto lin = [&](Linear &L, const std::string &base, int64_t n_out, int64_t n_in) {
            L.name = p + base + ".weight";
            L.w = req(L.name, {n_out, n_in});
            if (g.find(p + base + ".bias")) {
                L.bias_name = p + base + ".bias";
                L.b = req(L.bias_name, {n_out});
            }
        };
        l.attn_norm = req(p + "attn_norm.weight", {D});
        lin(l.q, "attn_q", nq, D);
        lin(l.k, "attn_k", nkv, D);
        lin(l.v, "attn_v", nkv, D);
        lin(l.o, "attn_output", D, nq);
        l.ffn_norm = req(p + "ffn_norm.weight", {D});
        lin(l.gate, "ffn_gate", ff, D);
        lin(l.up, "ffn_up", ff, D);
        lin(l.down, "ffn_down", D, ff);
    }
    if (auto *rf = g.find("rope_freqs.weight")) { // llama3 frequency factors (not trained)
        freq_factors_ = g.read_f32(rf->name);
        if (static_cast<int64_t>(freq_factors_.size()) != hd / 2)
            throw Error(PARLEY_ERR_PARSE, "'" + g.path() + "': rope_freqs.weight must hold head_dim/2 values");
    }
}

void LlamaModel::ensure_rope(int64_t n_pos) {
    if (n_pos <= rope_n_pos_) return;
    n_pos = std::max<int64_t>(n_pos, 2 * rope_n_pos_);
    const int64_t half = cfg_.head_dim / 2;
    std::vector<float> c(static_cast<size_t>(n_pos * half)), s(c.size());
    // ggml_rope_cache_init: theta = p; per pair, theta/ff scaled by freq_scale; theta *= theta_scale.
    const float theta_scale = powf(cfg_.rope_freq_base, -2.0f / static_cast<float>(cfg_.head_dim));
    for (int64_t p = 0; p < n_pos; ++p) {
        float theta = static_cast<float>(p);
        for (int64_t i = 0; i < half; ++i) {
            const float ff = freq_factors_.empty() ? 1.0f : freq_factors_[static_cast<size_t>(i)];
            const float th = cfg_.rope_freq_scale * (theta / ff);
            c[static_cast<size_t>(p * half + i)] = cosf(th);
            s[static_cast<size_t>(p * half + i)] = sinf(th);
            theta *= theta_scale;
        }
    }
    rope_cos_ = torch::from_blob(c.data(), {n_pos, half}, torch::kFloat32).clone().to(device_);
    rope_sin_ = torch::from_blob(s.data(), {n_pos, half}, torch::kFloat32).clone().to(device_);
    rope_n_pos_ = n_pos;
}

torch::Tensor LlamaModel::rope(const torch::Tensor &x) const {
    const int64_t B = x.size(0), T = x.size(1), H = x.size(2), hd = x.size(3), half = hd / 2;
    torch::Tensor c = rope_cos_.narrow(0, 0, T).view({1, T, 1, half});
    torch::Tensor s = rope_sin_.narrow(0, 0, T).view({1, T, 1, half});
    if (cfg_.rope_type == RopeType::Norm) { // pairs (2i, 2i+1)
        torch::Tensor xv = x.reshape({B, T, H, half, 2});
        torch::Tensor x0 = xv.select(-1, 0), x1 = xv.select(-1, 1);
        return torch::stack({x0 * c - x1 * s, x0 * s + x1 * c}, -1).view({B, T, H, hd});
    }
    torch::Tensor x0 = x.narrow(-1, 0, half), x1 = x.narrow(-1, half, half); // NEOX: (i, i + hd/2)
    return torch::cat({x0 * c - x1 * s, x0 * s + x1 * c}, -1);
}

torch::Tensor LlamaModel::attention(Layer &l, const torch::Tensor &x, const torch::Tensor &mask) {
    const int64_t B = x.size(0), T = x.size(1), hd = cfg_.head_dim, H = cfg_.n_head, Hkv = cfg_.n_head_kv;
    const int64_t rep = H / Hkv;
    torch::Tensor q = rope(l.q(x).view({B, T, H, hd}));
    torch::Tensor k = rope(l.k(x).view({B, T, Hkv, hd}));
    torch::Tensor v = l.v(x).view({B, T, Hkv, hd});
    // Query heads grouped by their KV head: [B, Hkv, rep*T, hd]; K/V are never copied per head.
    q = q.view({B, T, Hkv, rep, hd}).permute({0, 2, 3, 1, 4}).reshape({B, Hkv, rep * T, hd});
    k = k.permute({0, 2, 1, 3});
    v = v.permute({0, 2, 1, 3});
    torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)).mul_(1.0 / std::sqrt(static_cast<double>(hd)));
    torch::Tensor probs = torch::softmax(scores.view({B, Hkv, rep, T, T}) + mask, -1);
    torch::Tensor out = torch::matmul(probs.view({B, Hkv, rep * T, T}), v); // [B, Hkv, rep*T, hd]
    out = out.view({B, Hkv, rep, T, hd}).permute({0, 3, 1, 2, 4}).reshape({B, T, H * hd});
    return l.o(out);
}

namespace {
torch::Tensor rms_norm(const torch::Tensor &x, const torch::Tensor &w, double eps) {
    return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}
} // namespace

torch::Tensor LlamaModel::hidden(const torch::Tensor &ids) {
    const int64_t T = ids.size(1);
    ensure_rope(T);
    // Causal mask, added to the scaled scores as ggml_soft_max_ext adds its mask.
    const torch::Tensor mask = torch::full({T, T}, -std::numeric_limits<float>::infinity(),
                                           torch::TensorOptions().dtype(torch::kFloat32).device(device_))
                                   .triu_(1);
    torch::Tensor h = F::embedding(ids, tok_embd_);
    for (auto &l : layers_) {
        h = h + attention(l, rms_norm(h, l.attn_norm, cfg_.rms_eps), mask);
        torch::Tensor xn = rms_norm(h, l.ffn_norm, cfg_.rms_eps);
        h = h + l.down(torch::silu(l.gate(xn)) * l.up(xn));
    }
    return rms_norm(h, output_norm_, cfg_.rms_eps);
}

torch::Tensor LlamaModel::logits(const torch::Tensor &hidden) const {
    return F::linear(hidden, cfg_.tied_output ? tok_embd_ : output_, output_b_.defined() ? output_b_ : torch::Tensor());
}

void LlamaModel::enable_lora(int rank, double alpha) {
    if (rank <= 0) return;
    torch::NoGradGuard ng;
    lora_rank_ = rank;
    lora_alpha_ = alpha;
    for (auto &l : layers_)
        for (Linear *L : l.linears()) {
            const int64_t n_out = L->w.size(0), n_in = L->w.size(1);
            const double bound = 1.0 / std::sqrt(static_cast<double>(n_in));
            L->lora_a = torch::empty({rank, n_in}, L->w.options()).uniform_(-bound, bound);
            L->lora_b = torch::zeros({n_out, rank}, L->w.options());
            L->lora_scale = alpha / rank;
        }
}

void LlamaModel::load_lora(const LoraAdapter &adapter) {
    torch::NoGradGuard ng;
    if (adapter.arch != cfg_.arch) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "LoRA adapter is for '" + adapter.arch + "', model is '" + cfg_.arch + "'");
    std::map<std::string, Linear *> by_name;
    for (auto &l : layers_)
        for (Linear *L : l.linears()) by_name[L->name] = L;
    for (auto &p : adapter.pairs) {
        auto it = by_name.find(p.base_name);
        if (it == by_name.end()) throw Error(PARLEY_ERR_UNSUPPORTED, "LoRA adapter targets '" + p.base_name + "', not supported");
        Linear &L = *it->second;
        if (L.w.size(0) != p.n_out || L.w.size(1) != p.n_in) throw Error(PARLEY_ERR_PARSE, "LoRA pair '" + p.base_name + "' does not fit the model");
        L.lora_a = torch::from_blob(const_cast<float *>(p.a.data()), {p.rank, p.n_in}, torch::kFloat32).clone().to(device_);
        L.lora_b = torch::from_blob(const_cast<float *>(p.b.data()), {p.n_out, p.rank}, torch::kFloat32).clone().to(device_);
        L.lora_scale = adapter.alpha != 0.0f ? adapter.alpha / static_cast<double>(p.rank) : 1.0; // llama.cpp's get_scale
        lora_rank_ = static_cast<int>(p.rank);
        lora_alpha_ = adapter.alpha;
    }
}

std::vector<std::pair<std::string, torch::Tensor>> LlamaModel::trainable() {
    if (!lora()) return named_;
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto &l : layers_)
        for (Linear *L : l.linears()) {
            const std::string base = L->name;
            out.emplace_back(base + ".lora_a", L->lora_a);
            out.emplace_back(base + ".lora_b", L->lora_b);
        }
    return out;
}

std::map<std::string, std::vector<float>> LlamaModel::export_weights() {
    torch::NoGradGuard ng;
    std::map<std::string, std::vector<float>> out;
    if (!lora()) {
        for (auto &[name, t] : named_) out[name] = to_vector(t);
        return out;
    }
    for (auto &l : layers_) // with LoRA only the adapted projections changed
        for (Linear *L : l.linears())
            out[L->name] = to_vector(L->w + torch::matmul(L->lora_b, L->lora_a) * L->lora_scale);
    return out;
}

std::vector<LoraPair> LlamaModel::export_lora() {
    if (!lora()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "export 'lora' needs lora_rank > 0");
    std::vector<LoraPair> out;
    for (auto &l : layers_)
        for (Linear *L : l.linears()) {
            LoraPair p;
            p.base_name = L->name;
            p.rank = L->lora_a.size(0);
            p.n_in = L->lora_a.size(1);
            p.n_out = L->lora_b.size(0);
            p.a = to_vector(L->lora_a);
            p.b = to_vector(L->lora_b);
            out.push_back(std::move(p));
        }
    return out;
}

} // namespace parley::training
