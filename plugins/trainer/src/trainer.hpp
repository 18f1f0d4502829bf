// trainer.hpp — the trainer library's public API (no torch in this header).
//
// run_training: DPO (sigmoid loss) or SFT on a llama-family GGUF model, full fine-tune or LoRA,
// AdamW with warm-up and cosine/linear decay, gradient accumulation and clipping, checkpoints
// and resume, then export to a GGUF model or a LoRA adapter GGUF.
#pragma once

#include "data.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace parley::training {

struct TrainOptions {
    std::string model;              // base GGUF (llama / qwen2)
    Method method = Method::Dpo;
    double beta = 0.1;              // DPO temperature
    double nll_scale = 0.0;         // DPO: + nll_scale * per-token NLL of the chosen replies
    bool length_normalize = false;  // DPO: sequence log-probs averaged over target tokens
    double lr = -1.0;               // < 0: 1e-6 (DPO) or 1e-7 (SFT), Coral's 8B recipes
    double final_lr_scale = 0.1;    // lr at the last step = lr * final_lr_scale
    std::string lr_schedule = "cosine"; // cosine | linear | constant (after warm-up)
    int64_t warmup_steps = 50;      // linear warm-up from lr/warmup_steps to lr
    int64_t steps = 1000;           // optimizer steps
    int batch_size = 1;             // rows per micro-batch (pairs for DPO)
    int grad_accum = 1;             // micro-batches per optimizer step
    int max_seq_len = 4096;         // prompt + target tokens; <= 0: no limit
    double grad_clip = 1.0;         // max gradient L2 norm; <= 0: off
    double weight_decay = 0.1;
    double adam_beta1 = 0.9, adam_beta2 = 0.95, adam_eps = 1e-8;
    uint64_t seed = 2;
    int lora_rank = 0;              // 0: full fine-tune
    double lora_alpha = 16.0;
    std::string export_format;      // "gguf" | "lora" | "" (gguf for a full fine-tune, lora with LoRA)
    int threads = 0;                // torch intra-op threads; 0: hardware concurrency
    std::string device = "auto";    // auto | cpu | cuda
    int64_t checkpoint_every = 200; // 0: only at the end
    int keep_checkpoints = 2;
    int64_t log_every = 10;
};

struct TrainMetrics {
    double final_loss = 0.0;       // mean loss over the last logging window
    double reward_margin = 0.0;    // DPO: mean beta*((pi_c - ref_c) - (pi_r - ref_r)), last window
    double reward_accuracy = 0.0;  // DPO: share of pairs with chosen reward > rejected reward
    double first_loss = 0.0;       // the first step's loss (this run)
    double tokens_per_s = 0.0;     // tokens through forward+backward per second of training
    int64_t steps = 0;             // optimizer steps done in total (resumed ones included)
    int64_t resumed_from = 0;      // the step restored from a checkpoint (0: fresh)
    double seconds = 0.0;
};

struct TrainResult {
    std::string model_path;   // exported GGUF or adapter
    bool adapter = false;
    std::string base_model;
    TrainMetrics metrics;
    std::string to_json() const;
};

TrainResult run_training(const TrainOptions &opts, const std::string &data_path, const std::string &output_dir);

// --- utilities for tests and benchmarks ------------------------------------------------------

// Logits of every position for one sequence through the libtorch model: T * n_vocab floats.
std::vector<float> torch_logits(const std::string &model, const std::vector<int32_t> &tokens, int threads,
                                const std::string &lora_adapter = "");

// Mean DPO loss / reward margin / reward accuracy of `policy` (optionally with an adapter)
// against `reference` on a data file.
struct DpoEval {
    double loss = 0.0, margin = 0.0, accuracy = 0.0;
    size_t pairs = 0;
};
DpoEval evaluate_dpo(const std::string &policy, const std::string &policy_adapter, const std::string &reference,
                     const std::string &data_path, double beta, int max_seq_len, int threads);

// Times DPO training steps (forward of chosen+rejected, sigmoid loss against cached reference
// log-probs, backward, clip, AdamW) on synthetic token batches: `pairs` pairs of prompt_len
// prompt tokens and target_len target tokens each; token ids (i, j) = (7*i + 13*j + 5*side) % n_vocab
// (side 0 chosen, 1 rejected), the same formula bench/training/pytorch_dpo.py uses.
struct StepBench {
    double seconds_per_step = 0.0; // median over timed steps
    double tokens_per_s = 0.0;     // tokens in the batch / seconds_per_step
    std::vector<double> losses;    // every step's loss (warm-up included)
    int64_t tokens_per_step = 0;
};
StepBench bench_dpo_steps(const std::string &model, int pairs, int prompt_len, int target_len, int warmup, int steps,
                          int threads, double lr, int lora_rank = 0);

} // namespace parley::training
