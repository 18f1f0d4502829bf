// libparley-trainer.so: component `trainer/train` (PARLEY_KIND_TRAINER): DPO or SFT with libtorch
// on a llama-family GGUF, exported as a GGUF model or a LoRA adapter. No torch include here.
#include "trainer.hpp"

#include <parley/sdk.hpp>

namespace {

using parley::Error;
using parley::training::Method;
using parley::training::TrainOptions;

const parley_param kParams[] = {
    {"model", PARLEY_TYPE_PATH, PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST, nullptr, "base model GGUF (llama or qwen2 architecture)"},
    {"method", PARLEY_TYPE_STRING, 0, "dpo", "dpo (sigmoid preference loss) or sft (loss on target tokens only)"},
    {"beta", PARLEY_TYPE_FLOAT, 0, "0.1", "DPO temperature"},
    {"nll_scale", PARLEY_TYPE_FLOAT, 0, "0.0", "DPO: weight of the chosen replies' per-token NLL"},
    {"length_normalize", PARLEY_TYPE_BOOL, 0, "false", "DPO: average sequence log-probs over target tokens"},
    {"lr", PARLEY_TYPE_FLOAT, 0, "1e-6 (dpo), 1e-7 (sft)", "AdamW peak learning rate"},
    {"final_lr_scale", PARLEY_TYPE_FLOAT, 0, "0.1", "lr at the last step, as a fraction of lr"},
    {"lr_schedule", PARLEY_TYPE_STRING, 0, "cosine", "decay after warm-up: cosine, linear or constant"},
    {"warmup_steps", PARLEY_TYPE_INT, 0, "50", "linear warm-up steps"},
    {"steps", PARLEY_TYPE_INT, 0, "1000", "optimizer steps"},
    {"batch_size", PARLEY_TYPE_INT, 0, "1", "rows (pairs for DPO) per micro-batch"},
    {"grad_accum", PARLEY_TYPE_INT, 0, "1", "micro-batches per optimizer step"},
    {"max_seq_len", PARLEY_TYPE_INT, 0, "4096", "prompt + target tokens (the prompt keeps its end); <= 0: no limit"},
    {"grad_clip", PARLEY_TYPE_FLOAT, 0, "1.0", "max gradient L2 norm; <= 0: off"},
    {"weight_decay", PARLEY_TYPE_FLOAT, 0, "0.1", "AdamW decoupled weight decay (betas 0.9/0.95, eps 1e-8)"},
    {"seed", PARLEY_TYPE_INT, 0, "2", "data order and LoRA initialisation"},
    {"lora_rank", PARLEY_TYPE_INT, 0, "0", "LoRA rank on attention and MLP projections; 0: full fine-tune"},
    {"lora_alpha", PARLEY_TYPE_FLOAT, 0, "16", "LoRA alpha (scale alpha / rank)"},
    {"export", PARLEY_TYPE_STRING, 0, "gguf (full), lora (LoRA)", "gguf: the trained model as a GGUF; lora: an adapter GGUF"},
    {"threads", PARLEY_TYPE_INT, 0, "0", "torch threads; 0: all cores"},
    {"device", PARLEY_TYPE_STRING, 0, "auto", "auto, cpu or cuda"},
    {"checkpoint_every", PARLEY_TYPE_INT, 0, "200", "steps between checkpoints in output_dir/checkpoints; 0: only at the end"},
    {"log_every", PARLEY_TYPE_INT, 0, "10", "steps between progress lines"},
};

class TrainComponent final : public parley::Trainer {
  public:
    explicit TrainComponent(const parley::Config &c) {
        o_.model = c.get("model", "");
        if (o_.model.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: 'model' is required");
        const std::string method = c.get("method", "dpo");
        if (method == "dpo") o_.method = Method::Dpo;
        else if (method == "sft") o_.method = Method::Sft;
        else throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: method must be dpo or sft (got '" + method + "')");
        o_.beta = c.get("beta", o_.beta);
        o_.nll_scale = c.get("nll_scale", o_.nll_scale);
        o_.length_normalize = c.get("length_normalize", o_.length_normalize);
        o_.lr = c.get("lr", o_.lr);
        o_.final_lr_scale = c.get("final_lr_scale", o_.final_lr_scale);
        o_.lr_schedule = c.get("lr_schedule", o_.lr_schedule);
        o_.warmup_steps = c.get("warmup_steps", o_.warmup_steps);
        o_.steps = c.get("steps", o_.steps);
        o_.batch_size = c.get("batch_size", o_.batch_size);
        o_.grad_accum = c.get("grad_accum", o_.grad_accum);
        o_.max_seq_len = c.get("max_seq_len", o_.max_seq_len);
        o_.grad_clip = c.get("grad_clip", o_.grad_clip);
        o_.weight_decay = c.get("weight_decay", o_.weight_decay);
        o_.seed = static_cast<uint64_t>(c.get("seed", static_cast<int64_t>(o_.seed)));
        o_.lora_rank = c.get("lora_rank", o_.lora_rank);
        o_.lora_alpha = c.get("lora_alpha", o_.lora_alpha);
        o_.export_format = c.get("export", "");
        o_.threads = c.get("threads", o_.threads);
        o_.device = c.get("device", o_.device);
        o_.checkpoint_every = c.get("checkpoint_every", o_.checkpoint_every);
        o_.log_every = c.get("log_every", o_.log_every);
        // Fail at create time on values train() would reject (validate runs again there).
        if (o_.steps < 1 || o_.batch_size < 1 || o_.grad_accum < 1)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: steps, batch_size and grad_accum must be >= 1");
        if (o_.export_format == "lora" && o_.lora_rank <= 0)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: export = \"lora\" needs lora_rank > 0");
        if (!o_.export_format.empty() && o_.export_format != "gguf" && o_.export_format != "lora")
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: export must be gguf or lora");
        if (o_.device != "auto" && o_.device != "cpu" && o_.device != "cuda")
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: device must be auto, cpu or cuda");
    }

    std::string train(const parley::TrainJob &job) override {
        if (job.data_path.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: the job has no data_path");
        return parley::training::run_training(o_, job.data_path, job.output_dir).to_json();
    }

    const TrainOptions &options() const { return o_; }

  private:
    TrainOptions o_;
};

} // namespace

PARLEY_PLUGIN("trainer", "1.0.0", "DPO/SFT training of llama-family GGUF models with libtorch",
              parley::trainer<TrainComponent>("train", 1,
                                              "DPO or SFT on preference/SFT rows; exports a GGUF model or a LoRA adapter",
                                              kParams));
