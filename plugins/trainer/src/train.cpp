// train.cpp — the DPO/SFT training loop over LlamaModel (torch).
#include "model.hpp"
#include "trainer.hpp"

#include <parley/sdk.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <random>
#include <thread>

namespace parley::training {

using parley::Error;
namespace fs = std::filesystem;

namespace {

constexpr const char *kLog = "trainer";
using Clock = std::chrono::steady_clock;

double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

void set_threads(int threads) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
}

std::string fmt(const char *f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string duration(double s) {
    if (s < 0 || !std::isfinite(s)) return "?";
    const auto t = static_cast<int64_t>(s + 0.5);
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(t / 3600), static_cast<long long>(t / 60 % 60));
    else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
    else std::snprintf(buf, sizeof buf, "%.1fs", s);
    return buf;
}

// ---------------------------------------------------------------------------------------------
// Batches: sequences right-padded to a common length. With right padding the causal mask alone
// keeps every real token from seeing a pad, so no key-padding mask is needed; pad positions are
// never selected for the loss. Only target positions reach the output projection.
// ---------------------------------------------------------------------------------------------

struct Seq {
    const std::vector<int32_t> *prompt;
    const std::vector<int32_t> *target;
};

struct Batch {
    torch::Tensor ids;    // [S, T] int64: prompt + target minus the last token
    torch::Tensor sel;    // [N] flat indices (s * T + t) of positions that predict a target token
    torch::Tensor labels; // [N] the target tokens
    torch::Tensor seg;    // [N] sequence index of each selected position
    torch::Tensor counts; // [S] float: target tokens per sequence
    int64_t n_seq = 0;
    int64_t tokens = 0;   // real (non-pad) input tokens
};

Batch make_batch(const std::vector<Seq> &seqs, torch::Device dev) {
    Batch b;
    b.n_seq = static_cast<int64_t>(seqs.size());
    int64_t T = 1;
    for (auto &s : seqs) T = std::max<int64_t>(T, static_cast<int64_t>(s.prompt->size() + s.target->size()) - 1);
    std::vector<int64_t> ids(static_cast<size_t>(b.n_seq * T), 0), sel, labels, seg;
    std::vector<float> counts;
    for (int64_t i = 0; i < b.n_seq; ++i) {
        const auto &p = *seqs[static_cast<size_t>(i)].prompt;
        const auto &t = *seqs[static_cast<size_t>(i)].target;
        const int64_t P = static_cast<int64_t>(p.size()), L = P + static_cast<int64_t>(t.size());
        for (int64_t j = 0; j < L - 1; ++j) ids[static_cast<size_t>(i * T + j)] = j < P ? p[static_cast<size_t>(j)] : t[static_cast<size_t>(j - P)];
        for (int64_t j = P - 1; j < L - 1; ++j) {
            sel.push_back(i * T + j);
            labels.push_back(t[static_cast<size_t>(j + 1 - P)]);
            seg.push_back(i);
        }
        counts.push_back(static_cast<float>(t.size()));
        b.tokens += L - 1;
    }
    auto i64 = torch::TensorOptions().dtype(torch::kInt64);
    b.ids = torch::from_blob(ids.data(), {b.n_seq, T}, i64).clone().to(dev);
    const auto N = static_cast<int64_t>(sel.size());
    b.sel = torch::from_blob(sel.data(), {N}, i64).clone().to(dev);
    b.labels = torch::from_blob(labels.data(), {N}, i64).clone().to(dev);
    b.seg = torch::from_blob(seg.data(), {N}, i64).clone().to(dev);
    b.counts = torch::from_blob(counts.data(), {b.n_seq}, torch::kFloat32).clone().to(dev);
    return b;
}

struct LogpOut {
    torch::Tensor seq;   // [S] summed log-probs of the target tokens
    torch::Tensor token; // [N] per-token log-probs
};

LogpOut seq_logps(LlamaModel &m, const Batch &b) {
    torch::Tensor h = m.hidden(b.ids);
    torch::Tensor hs = h.reshape({-1, h.size(2)}).index_select(0, b.sel);
    torch::Tensor lp = torch::log_softmax(m.logits(hs), -1).gather(1, b.labels.unsqueeze(1)).squeeze(1);
    torch::Tensor seq = torch::zeros({b.n_seq}, lp.options()).index_add(0, b.seg, lp);
    return {seq, lp};
}

std::vector<Seq> dpo_seqs(const std::vector<Example> &ex, const std::vector<size_t> &idx) {
    std::vector<Seq> s;
    for (size_t i : idx) s.push_back({&ex[i].prompt, &ex[i].chosen});
    for (size_t i : idx) s.push_back({&ex[i].prompt, &ex[i].rejected});
    return s;
}

std::vector<Seq> sft_seqs(const std::vector<Example> &ex, const std::vector<size_t> &idx) {
    std::vector<Seq> s;
    for (size_t i : idx) s.push_back({&ex[i].prompt, &ex[i].chosen});
    return s;
}

// Reference log-probs (summed) of chosen and rejected replies for every example, no grad.
std::pair<torch::Tensor, torch::Tensor> reference_logps(LlamaModel &m, const std::vector<Example> &ex, int batch) {
    torch::NoGradGuard ng;
    std::vector<float> c(ex.size()), r(ex.size());
    for (size_t i = 0; i < ex.size(); i += static_cast<size_t>(batch)) {
        std::vector<size_t> idx;
        for (size_t j = i; j < std::min(ex.size(), i + static_cast<size_t>(batch)); ++j) idx.push_back(j);
        torch::Tensor s = seq_logps(m, make_batch(dpo_seqs(ex, idx), m.device())).seq.to(torch::kCPU);
        const auto n = static_cast<int64_t>(idx.size());
        for (int64_t k = 0; k < n; ++k) {
            c[idx[static_cast<size_t>(k)]] = s[k].item<float>();
            r[idx[static_cast<size_t>(k)]] = s[n + k].item<float>();
        }
    }
    auto n = static_cast<int64_t>(ex.size());
    return {torch::from_blob(c.data(), {n}, torch::kFloat32).clone(), torch::from_blob(r.data(), {n}, torch::kFloat32).clone()};
}

struct DpoTerms {
    torch::Tensor loss;                // scalar
    torch::Tensor chosen_r, rejected_r; // [B] implicit rewards (detached)
};

// Sigmoid DPO: -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), mean over pairs,
// + nll_scale * mean per-token NLL of the chosen replies.
DpoTerms dpo_loss(const LogpOut &pol, const Batch &b, const torch::Tensor &ref_c, const torch::Tensor &ref_r, double beta,
                  double nll_scale, bool length_normalize) {
    const int64_t B = b.n_seq / 2;
    torch::Tensor pc = pol.seq.narrow(0, 0, B), pr = pol.seq.narrow(0, B, B);
    torch::Tensor rc = ref_c, rr = ref_r;
    if (length_normalize) {
        torch::Tensor nc = b.counts.narrow(0, 0, B), nr = b.counts.narrow(0, B, B);
        pc = pc / nc, pr = pr / nr, rc = rc / nc, rr = rr / nr;
    }
    torch::Tensor cr = beta * (pc - rc), rj = beta * (pr - rr);
    torch::Tensor loss = -torch::log_sigmoid(cr - rj).mean();
    if (nll_scale > 0.0) {
        torch::Tensor chosen_mask = b.seg < B;
        torch::Tensor nll = -(pol.token * chosen_mask).sum() / b.counts.narrow(0, 0, B).sum();
        loss = loss + nll_scale * nll;
    }
    return {loss, cr.detach(), rj.detach()};
}

double lr_at(const TrainOptions &o, double base, int64_t step) {
    if (o.warmup_steps > 0 && step < o.warmup_steps) return base * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
    if (o.lr_schedule == "constant") return base;
    const int64_t span = o.steps - std::max<int64_t>(o.warmup_steps, 0) - 1;
    const double progress = span > 0 ? std::clamp(static_cast<double>(step - std::max<int64_t>(o.warmup_steps, 0)) / static_cast<double>(span), 0.0, 1.0) : 1.0;
    const double f = o.final_lr_scale;
    if (o.lr_schedule == "linear") return base * (1.0 - (1.0 - f) * progress);
    return base * (f + (1.0 - f) * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

std::string key_of(const std::string &name) {
    std::string k = name;
    std::replace(k.begin(), k.end(), '.', '_');
    return k;
}

uint64_t fingerprint(const std::vector<Example> &ex, const TrainOptions &o) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](uint64_t v) {
        h ^= v;
        h *= 1099511628211ull;
    };
    for (auto &e : ex) {
        for (auto *v : {&e.prompt, &e.chosen, &e.rejected}) {
            mix(v->size());
            for (int32_t t : *v) mix(static_cast<uint32_t>(t));
        }
    }
    for (char c : fs::absolute(o.model).string()) mix(static_cast<unsigned char>(c));
    std::error_code ec;
    mix(static_cast<uint64_t>(fs::file_size(o.model, ec)));
    return h;
}

fs::path checkpoint_dir(const std::string &out) { return fs::path(out) / "checkpoints"; }

// Checkpoints are checkpoints/step-<8 digits>.pt; returns the newest, or "" if none.
std::pair<std::string, int64_t> latest_checkpoint(const std::string &out) {
    std::error_code ec;
    std::pair<std::string, int64_t> best{"", -1};
    for (auto &e : fs::directory_iterator(checkpoint_dir(out), ec)) {
        const std::string n = e.path().filename().string();
        if (n.size() != 16 || n.rfind("step-", 0) != 0 || n.substr(13) != ".pt") continue;
        const int64_t s = std::atoll(n.substr(5, 8).c_str());
        if (s > best.second) best = {e.path().string(), s};
    }
    return best;
}

void save_checkpoint(const std::string &out, int64_t step, const std::vector<std::pair<std::string, torch::Tensor>> &params,
                     torch::optim::Optimizer &opt, const TrainOptions &o) {
    fs::create_directories(checkpoint_dir(out));
    char name[32];
    std::snprintf(name, sizeof name, "step-%08lld.pt", static_cast<long long>(step));
    const fs::path path = checkpoint_dir(out) / name;
    torch::serialize::OutputArchive ar, pa, oa;
    ar.write("step", torch::tensor(static_cast<int64_t>(step)));
    ar.write("lora_rank", torch::tensor(static_cast<int64_t>(o.lora_rank)));
    for (auto &[n, t] : params) pa.write(key_of(n), t.detach().to(torch::kCPU));
    ar.write("params", pa);
    opt.save(oa);
    ar.write("optimizer", oa);
    const std::string tmp = path.string() + ".tmp";
    ar.save_to(tmp);
    fs::rename(tmp, path);
    // Keep the newest keep_checkpoints.
    std::vector<std::pair<int64_t, fs::path>> all;
    std::error_code ec;
    for (auto &e : fs::directory_iterator(checkpoint_dir(out), ec)) {
        const std::string n = e.path().filename().string();
        if (n.size() == 16 && n.rfind("step-", 0) == 0 && n.substr(13) == ".pt") all.emplace_back(std::atoll(n.substr(5, 8).c_str()), e.path());
    }
    std::sort(all.begin(), all.end());
    const size_t keep = static_cast<size_t>(std::max(1, o.keep_checkpoints));
    for (size_t i = 0; i + keep < all.size(); ++i) fs::remove(all[i].second, ec);
    parley::log_info(kLog, "checkpoint " + path.string());
}

int64_t load_checkpoint(const std::string &path, const std::vector<std::pair<std::string, torch::Tensor>> &params,
                        torch::optim::Optimizer &opt, const TrainOptions &o) {
    torch::serialize::InputArchive ar, pa, oa;
    ar.load_from(path);
    torch::Tensor step, rank;
    ar.read("step", step);
    ar.read("lora_rank", rank);
    if (rank.item<int64_t>() != o.lora_rank)
        throw Error(PARLEY_ERR_INVALID_ARGUMENT, "checkpoint '" + path + "' was made with lora_rank " +
                                                     std::to_string(rank.item<int64_t>()) + ", this run has " + std::to_string(o.lora_rank));
    ar.read("params", pa);
    {
        torch::NoGradGuard ng;
        for (auto &[n, t] : params) {
            torch::Tensor v;
            pa.read(key_of(n), v);
            if (v.sizes() != t.sizes()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "checkpoint '" + path + "': '" + n + "' has another shape");
            t.copy_(v);
        }
    }
    ar.read("optimizer", oa);
    opt.load(oa);
    return step.item<int64_t>();
}

// Sample order: one permutation of the examples per epoch (seeded by seed + epoch), read
// batch_size at a time across epoch boundaries: micro-batch k holds samples k*bs .. k*bs+bs-1.
class Sampler {
  public:
    Sampler(size_t n, uint64_t seed) : n_(n), seed_(seed) {}
    std::vector<size_t> micro_batch(int64_t k, int bs) {
        std::vector<size_t> out;
        for (int j = 0; j < bs; ++j) {
            const uint64_t s = static_cast<uint64_t>(k) * static_cast<uint64_t>(bs) + static_cast<uint64_t>(j);
            out.push_back(perm(s / n_)[s % n_]);
        }
        return out;
    }

  private:
    const std::vector<size_t> &perm(uint64_t epoch) {
        if (epoch != epoch_ || cache_.empty()) {
            cache_.resize(n_);
            std::iota(cache_.begin(), cache_.end(), size_t{0});
            std::mt19937_64 rng(seed_ * 1000003ull + epoch);
            std::shuffle(cache_.begin(), cache_.end(), rng);
            epoch_ = epoch;
        }
        return cache_;
    }
    size_t n_;
    uint64_t seed_;
    uint64_t epoch_ = ~0ull;
    std::vector<size_t> cache_;
};

void validate(TrainOptions &o) {
    auto bad = [](const std::string &m) { throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer: " + m); };
    if (o.model.empty()) bad("'model' is required");
    if (o.lr < 0) o.lr = o.method == Method::Dpo ? 1e-6 : 1e-7;
    if (o.lr == 0 || !std::isfinite(o.lr)) bad("lr must be > 0");
    if (o.steps < 1) bad("steps must be >= 1");
    if (o.batch_size < 1) bad("batch_size must be >= 1");
    if (o.grad_accum < 1) bad("grad_accum must be >= 1");
    if (o.beta <= 0) bad("beta must be > 0");
    if (o.nll_scale < 0) bad("nll_scale must be >= 0");
    if (o.warmup_steps < 0) bad("warmup_steps must be >= 0");
    if (o.final_lr_scale < 0) bad("final_lr_scale must be >= 0");
    if (o.lr_schedule != "cosine" && o.lr_schedule != "linear" && o.lr_schedule != "constant")
        bad("lr_schedule must be cosine, linear or constant");
    if (o.lora_rank < 0) bad("lora_rank must be >= 0");
    if (o.lora_rank > 0 && o.lora_alpha <= 0) bad("lora_alpha must be > 0");
    if (o.export_format.empty()) o.export_format = o.lora_rank > 0 ? "lora" : "gguf";
    if (o.export_format != "gguf" && o.export_format != "lora") bad("export must be gguf or lora");
    if (o.export_format == "lora" && o.lora_rank == 0) bad("export 'lora' needs lora_rank > 0");
    if (o.max_seq_len == 1) bad("max_seq_len must be >= 2 (or <= 0 for no limit)");
    if (o.log_every < 1) o.log_every = 1;
}

torch::optim::AdamW make_optimizer(const std::vector<torch::Tensor> &params, const TrainOptions &o) {
    return torch::optim::AdamW(params, torch::optim::AdamWOptions(o.lr)
                                           .betas({o.adam_beta1, o.adam_beta2})
                                           .eps(o.adam_eps)
                                           .weight_decay(o.weight_decay));
}

void set_lr(torch::optim::Optimizer &opt, double lr) {
    for (auto &g : opt.param_groups()) static_cast<torch::optim::AdamWOptions &>(g.options()).lr(lr);
}

} // namespace

std::string TrainResult::to_json() const {
    nlohmann::json j;
    j["model"] = model_path;
    j["adapter"] = adapter;
    j["base_model"] = base_model;
    j["metrics"] = {{"final_loss", metrics.final_loss},         {"reward_margin", metrics.reward_margin},
                    {"reward_accuracy", metrics.reward_accuracy}, {"tokens_per_s", metrics.tokens_per_s},
                    {"steps", metrics.steps},                     {"first_loss", metrics.first_loss},
                    {"resumed_from", metrics.resumed_from},       {"seconds", metrics.seconds}};
    return j.dump();
}

TrainResult run_training(const TrainOptions &options, const std::string &data_path, const std::string &output_dir) {
    TrainOptions o = options;
    validate(o);
    if (output_dir.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer: the job has no output_dir");
    fs::create_directories(output_dir);
    set_threads(o.threads);
    const torch::Device dev = select_device(o.device);
    torch::manual_seed(o.seed);
    if (torch::get_num_threads() > 1 && !std::getenv("OMP_WAIT_POLICY"))
        parley::log_info(kLog, "hint: OMP_WAIT_POLICY is unset; on a shared or oversubscribed machine start parley with "
                               "OMP_WAIT_POLICY=PASSIVE (libgomp's spin-waiting can slow training many-fold)");
    const bool dpo = o.method == Method::Dpo;

    Tokenizer tok(o.model);
    DataStats ds;
    std::vector<Example> ex = load_examples(data_path, tok, o.method, o.max_seq_len, &ds);
    parley::log_info(kLog, std::string(dpo ? "DPO" : "SFT") + " on " + std::to_string(ds.rows) + " rows of '" + data_path +
                               "' (" + std::to_string(ds.prompt_tokens) + " prompt / " + std::to_string(ds.target_tokens) +
                               " target tokens, " + std::to_string(ds.truncated) + " truncated to " +
                               std::to_string(o.max_seq_len) + ")");

    GgufFile gguf(o.model);
    LlamaModel model(gguf, dev);
    const ModelConfig &cfg = model.config();
    parley::log_info(kLog, "model '" + o.model + "': " + cfg.arch + ", " + std::to_string(cfg.n_layer) + " layers, n_embd " +
                               std::to_string(cfg.n_embd) + ", heads " + std::to_string(cfg.n_head) + "/" +
                               std::to_string(cfg.n_head_kv) + ", vocab " + std::to_string(cfg.n_vocab) + ", device " +
                               (dev.is_cuda() ? "cuda" : "cpu") + ", threads " + std::to_string(torch::get_num_threads()));

    // Reference log-probs from the frozen initial model, computed once and cached in output_dir.
    torch::Tensor ref_c, ref_r;
    if (dpo) {
        const fs::path cache = fs::path(output_dir) / "ref_logps.pt";
        const auto fp = static_cast<int64_t>(fingerprint(ex, o));
        bool loaded = false;
        std::error_code ec;
        if (fs::exists(cache, ec)) {
            try {
                torch::serialize::InputArchive ar;
                ar.load_from(cache.string());
                torch::Tensor f;
                ar.read("fingerprint", f);
                if (f.item<int64_t>() == fp) {
                    ar.read("chosen", ref_c);
                    ar.read("rejected", ref_r);
                    loaded = ref_c.numel() == static_cast<int64_t>(ex.size());
                }
            } catch (const std::exception &) {
                loaded = false;
            }
        }
        if (!loaded) {
            const auto t0 = Clock::now();
            std::tie(ref_c, ref_r) = reference_logps(model, ex, std::max(1, o.batch_size));
            torch::serialize::OutputArchive ar;
            ar.write("fingerprint", torch::tensor(fp));
            ar.write("chosen", ref_c);
            ar.write("rejected", ref_r);
            ar.save_to(cache.string());
            parley::log_info(kLog, "reference log-probs of " + std::to_string(ex.size()) + " pairs in " + duration(secs(t0, Clock::now())));
        } else {
            parley::log_info(kLog, "reference log-probs from " + cache.string());
        }
        ref_c = ref_c.to(dev);
        ref_r = ref_r.to(dev);
    }

    if (o.lora_rank > 0) model.enable_lora(o.lora_rank, o.lora_alpha);
    auto named = model.trainable();
    std::vector<torch::Tensor> params;
    int64_t n_params = 0;
    for (auto &[n, t] : named) {
        t.set_requires_grad(true);
        params.push_back(t);
        n_params += t.numel();
    }
    torch::optim::AdamW opt = make_optimizer(params, o);

    TrainMetrics m;
    int64_t start = 0;
    if (auto [path, step] = latest_checkpoint(output_dir); !path.empty()) {
        start = load_checkpoint(path, named, opt, o);
        m.resumed_from = start;
        parley::log_info(kLog, "resumed from " + path + " (step " + std::to_string(start) + ")");
    }
    parley::log_info(kLog, std::string(o.lora_rank > 0 ? "LoRA rank " + std::to_string(o.lora_rank) : "full fine-tune") + ": " +
                               std::to_string(n_params) + " trainable parameters; steps " + std::to_string(o.steps) +
                               ", batch " + std::to_string(o.batch_size) + " x accum " + std::to_string(o.grad_accum) +
                               ", lr " + fmt("%.3g", o.lr));

    Sampler sampler(ex.size(), o.seed);
    const auto t_start = Clock::now();
    double train_s = 0.0;
    int64_t train_tokens = 0;
    // Logging window.
    double w_loss = 0, w_margin = 0, w_acc = 0;
    int64_t w_steps = 0, w_pairs = 0, w_tokens = 0;
    double w_s = 0.0;
    bool first = true;
    for (int64_t step = start; step < o.steps; ++step) {
        const auto t0 = Clock::now();
        const double lr = lr_at(o, o.lr, step);
        set_lr(opt, lr);
        opt.zero_grad();
        double step_loss = 0.0;
        int64_t step_tokens = 0;
        for (int a = 0; a < o.grad_accum; ++a) {
            const std::vector<size_t> idx = sampler.micro_batch(step * o.grad_accum + a, o.batch_size);
            Batch b = make_batch(dpo ? dpo_seqs(ex, idx) : sft_seqs(ex, idx), dev);
            LogpOut pol = seq_logps(model, b);
            torch::Tensor loss;
            if (dpo) {
                std::vector<int64_t> iv(idx.begin(), idx.end());
                torch::Tensor ii = torch::from_blob(iv.data(), {static_cast<int64_t>(iv.size())}, torch::kInt64).clone().to(dev);
                DpoTerms d = dpo_loss(pol, b, ref_c.index_select(0, ii), ref_r.index_select(0, ii), o.beta, o.nll_scale, o.length_normalize);
                loss = d.loss;
                torch::Tensor diff = (d.chosen_r - d.rejected_r).to(torch::kCPU);
                w_margin += diff.sum().item<double>();
                w_acc += (diff > 0).sum().item<double>();
                w_pairs += diff.numel();
            } else {
                loss = -pol.token.sum() / static_cast<double>(std::max<int64_t>(1, pol.token.numel()));
            }
            (loss / static_cast<double>(o.grad_accum)).backward();
            step_loss += loss.item<double>() / o.grad_accum;
            step_tokens += b.tokens;
        }
        if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, o.grad_clip);
        opt.step();
        const double dt = secs(t0, Clock::now());
        train_s += dt;
        train_tokens += step_tokens;
        if (!std::isfinite(step_loss)) throw Error(PARLEY_ERR_RUNTIME, "trainer: loss is not finite at step " + std::to_string(step + 1));
        if (first) m.first_loss = step_loss, first = false;
        w_loss += step_loss;
        w_steps += 1;
        w_tokens += step_tokens;
        w_s += dt;
        const int64_t done = step + 1;
        if (done % o.log_every == 0 || done == o.steps) {
            m.final_loss = w_loss / w_steps;
            if (dpo && w_pairs > 0) m.reward_margin = w_margin / w_pairs, m.reward_accuracy = w_acc / w_pairs;
            const double tps = w_s > 0 ? w_tokens / w_s : 0.0;
            const double eta = (train_s / static_cast<double>(done - start)) * static_cast<double>(o.steps - done);
            std::string line = "step " + std::to_string(done) + "/" + std::to_string(o.steps) + " (" +
                               fmt("%.1f", 100.0 * done / o.steps) + "%) loss " + fmt("%.4f", m.final_loss);
            if (dpo) line += " margin " + fmt("%.4f", m.reward_margin) + " acc " + fmt("%.2f", m.reward_accuracy);
            line += " lr " + fmt("%.3g", lr) + " tok/s " + fmt("%.0f", tps) + " elapsed " + duration(secs(t_start, Clock::now())) +
                    " eta " + duration(eta);
            parley::log_info(kLog, line);
            w_loss = w_margin = w_acc = 0;
            w_steps = w_pairs = w_tokens = 0;
            w_s = 0;
        }
        if ((o.checkpoint_every > 0 && done % o.checkpoint_every == 0) || done == o.steps)
            save_checkpoint(output_dir, done, named, opt, o);
    }
    m.steps = o.steps;
    m.tokens_per_s = train_s > 0 ? train_tokens / train_s : 0.0;
    m.seconds = secs(t_start, Clock::now());
    if (start >= o.steps) parley::log_info(kLog, "training already complete at step " + std::to_string(start));

    TrainResult r;
    r.base_model = o.model;
    r.metrics = m;
    for (auto &p : params) p.set_requires_grad(false);
    if (o.export_format == "lora") {
        r.adapter = true;
        r.model_path = (fs::path(output_dir) / "adapter.gguf").string();
        std::string name = gguf.get_string("general.name");
        write_lora_adapter(r.model_path, cfg.arch, static_cast<float>(o.lora_alpha), model.export_lora(), name);
    } else {
        r.model_path = (fs::path(output_dir) / "model.gguf").string();
        export_full_gguf(o.model, r.model_path, model.export_weights());
    }
    parley::log_info(kLog, "exported " + r.model_path + " (" + std::to_string(m.steps) + " steps, " +
                               fmt("%.0f", m.tokens_per_s) + " tok/s)");
    const std::string summary = r.to_json();
    if (FILE *f = std::fopen((fs::path(output_dir) / "summary.json").c_str(), "w")) {
        std::fputs(summary.c_str(), f);
        std::fputc('\n', f);
        std::fclose(f);
    }
    return r;
}

// ---------------------------------------------------------------------------------------------
// Utilities
// ---------------------------------------------------------------------------------------------

std::vector<float> torch_logits(const std::string &model_path, const std::vector<int32_t> &tokens, int threads,
                                const std::string &lora_adapter) {
    set_threads(threads);
    GgufFile g(model_path);
    LlamaModel m(g, torch::kCPU);
    if (!lora_adapter.empty()) m.load_lora(read_lora_adapter(lora_adapter));
    torch::NoGradGuard ng;
    std::vector<int64_t> ids(tokens.begin(), tokens.end());
    torch::Tensor t = torch::from_blob(ids.data(), {1, static_cast<int64_t>(ids.size())}, torch::kInt64).clone();
    torch::Tensor lg = m.logits(m.hidden(t)).contiguous();
    return {lg.data_ptr<float>(), lg.data_ptr<float>() + lg.numel()};
}

DpoEval evaluate_dpo(const std::string &policy, const std::string &policy_adapter, const std::string &reference,
                     const std::string &data_path, double beta, int max_seq_len, int threads) {
    set_threads(threads);
    Tokenizer tok(reference);
    std::vector<Example> ex = load_examples(data_path, tok, Method::Dpo, max_seq_len);
    GgufFile gr(reference), gp(policy);
    LlamaModel ref(gr, torch::kCPU), pol(gp, torch::kCPU);
    if (!policy_adapter.empty()) pol.load_lora(read_lora_adapter(policy_adapter));
    auto [rc, rr] = reference_logps(ref, ex, 8);
    auto [pc, pr] = reference_logps(pol, ex, 8);
    torch::Tensor diff = beta * ((pc - rc) - (pr - rr));
    DpoEval e;
    e.pairs = ex.size();
    e.loss = (-torch::log_sigmoid(diff)).mean().item<double>();
    e.margin = diff.mean().item<double>();
    e.accuracy = (diff > 0).to(torch::kFloat64).mean().item<double>();
    return e;
}

StepBench bench_dpo_steps(const std::string &model_path, int pairs, int prompt_len, int target_len, int warmup, int steps,
                          int threads, double lr, int lora_rank) {
    set_threads(threads);
    torch::manual_seed(0);
    GgufFile g(model_path);
    LlamaModel m(g, torch::kCPU);
    const int64_t V = m.config().n_vocab;
    std::vector<Example> ex(static_cast<size_t>(pairs));
    for (int i = 0; i < pairs; ++i) {
        auto tokf = [&](int j, int side) { return static_cast<int32_t>((7LL * i + 13LL * j + 5LL * side) % V); };
        for (int j = 0; j < prompt_len; ++j) ex[static_cast<size_t>(i)].prompt.push_back(tokf(j, 0));
        for (int j = 0; j < target_len; ++j) {
            ex[static_cast<size_t>(i)].chosen.push_back(tokf(prompt_len + j, 0));
            ex[static_cast<size_t>(i)].rejected.push_back(tokf(prompt_len + j, 1));
        }
    }
    auto [rc, rr] = reference_logps(m, ex, pairs);
    if (lora_rank > 0) m.enable_lora(lora_rank, 2.0 * lora_rank);
    std::vector<torch::Tensor> params;
    for (auto &[n, t] : m.trainable()) {
        t.set_requires_grad(true);
        params.push_back(t);
    }
    TrainOptions o;
    o.lr = lr;
    torch::optim::AdamW opt = make_optimizer(params, o);
    std::vector<size_t> idx(static_cast<size_t>(pairs));
    std::iota(idx.begin(), idx.end(), size_t{0});
    StepBench r;
    std::vector<double> times;
    for (int s = 0; s < warmup + steps; ++s) {
        const auto t0 = Clock::now();
        opt.zero_grad();
        Batch b = make_batch(dpo_seqs(ex, idx), torch::kCPU);
        LogpOut pol = seq_logps(m, b);
        DpoTerms d = dpo_loss(pol, b, rc, rr, 0.1, 0.0, false);
        d.loss.backward();
        torch::nn::utils::clip_grad_norm_(params, 1.0);
        opt.step();
        const double loss = d.loss.item<double>();
        const double dt = secs(t0, Clock::now());
        r.losses.push_back(loss);
        r.tokens_per_step = b.tokens;
        if (s >= warmup) times.push_back(dt);
    }
    for (auto &p : params) p.set_requires_grad(false);
    std::sort(times.begin(), times.end());
    r.seconds_per_step = times.empty() ? 0.0 : times[times.size() / 2];
    r.tokens_per_s = r.seconds_per_step > 0 ? static_cast<double>(r.tokens_per_step) / r.seconds_per_step : 0.0;
    return r;
}

} // namespace parley::training
