// libparley-trainer.so: component `trainer/train` (PARLEY_KIND_TRAINER): DPO or SFT with libtorch
// on a llama-family GGUF, exported as a GGUF model or a LoRA adapter. No torch include here.
#include "trainer.hpp"

#include <parley/sdk.hpp>

namespace {

using parley::Error;
using parley::training::Method;
using parley::training::TrainOptions;

namespace ps = parley::param;

// A spec with allowed values but no typed default (the component works the default out).
constexpr parley_param with_choices(parley_param p, const char *const *choices, size_t n) {
    p.choices = choices;
    p.n_choices = n;
    return p;
}

// Defaults are TrainOptions' (trainer.hpp); test_trainer checks that the two agree.
constexpr const char *kMethods[] = {"dpo", "sft"};
constexpr const char *kSchedules[] = {"cosine", "linear", "constant"};
constexpr const char *kExports[] = {"gguf", "lora"};
constexpr const char *kDevices[] = {"auto", "cpu", "cuda"};
constexpr parley_param kModel = ps::path("model", PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST, "base model GGUF (llama or qwen2 architecture)");
constexpr parley_param kMethod = ps::choice("method", kMethods, "dpo", "dpo (sigmoid preference loss) or sft (loss on target tokens only)");
constexpr parley_param kBeta = ps::number("beta", 0.1, "DPO temperature (> 0)");
constexpr parley_param kNllScale = ps::number("nll_scale", 0.0, "DPO: weight of the chosen replies' per-token NLL", parley::at_least(0));
constexpr parley_param kLengthNormalize = ps::flag("length_normalize", false, "DPO: average sequence log-probs over target tokens");
constexpr parley_param kLr = ps::computed("lr", PARLEY_TYPE_FLOAT, "1e-6 (dpo), 1e-7 (sft)", "AdamW peak learning rate (> 0)");
constexpr parley_param kFinalLrScale = ps::number("final_lr_scale", 0.1, "lr at the last step, as a fraction of lr", parley::at_least(0));
constexpr parley_param kLrSchedule = ps::choice("lr_schedule", kSchedules, "cosine", "decay after warm-up");
constexpr parley_param kWarmupSteps = ps::integer("warmup_steps", 50, "linear warm-up steps", parley::at_least(0));
constexpr parley_param kSteps = ps::integer("steps", 1000, "optimizer steps", parley::at_least(1));
constexpr parley_param kBatchSize = ps::integer("batch_size", 1, "rows (pairs for DPO) per micro-batch", parley::at_least(1));
constexpr parley_param kGradAccum = ps::integer("grad_accum", 1, "micro-batches per optimizer step", parley::at_least(1));
constexpr parley_param kMaxSeqLen = ps::integer("max_seq_len", 4096, "prompt + target tokens (the prompt keeps its end); <= 0: no limit");
constexpr parley_param kGradClip = ps::number("grad_clip", 1.0, "max gradient L2 norm; <= 0: off");
constexpr parley_param kWeightDecay = ps::number("weight_decay", 0.1, "AdamW decoupled weight decay (betas 0.9/0.95, eps 1e-8)");
constexpr parley_param kSeed = ps::integer("seed", 2, "data order and LoRA initialisation", parley::at_least(0));
constexpr parley_param kLoraRank = ps::integer("lora_rank", 0, "LoRA rank on attention and MLP projections; 0: full fine-tune", parley::at_least(0));
constexpr parley_param kLoraAlpha = ps::number("lora_alpha", 16.0, "LoRA alpha (scale alpha / rank)");
constexpr parley_param kExport = with_choices(ps::computed("export", PARLEY_TYPE_STRING, "gguf (full), lora (LoRA)",
                                                       "gguf: the trained model as a GGUF; lora: an adapter GGUF"),
                                          kExports, 2);
constexpr parley_param kThreads = ps::integer("threads", 0, "torch threads; 0: all cores", parley::at_least(0));
constexpr parley_param kDevice = ps::choice("device", kDevices, "auto", "where to train");
constexpr parley_param kCheckpointEvery =
    ps::integer("checkpoint_every", 200, "steps between checkpoints in output_dir/checkpoints; 0: only at the end", parley::at_least(0));
constexpr parley_param kLogEvery = ps::integer("log_every", 10, "steps between progress lines");

constexpr parley_param kParams[] = {kModel,     kMethod,     kBeta,      kNllScale,  kLengthNormalize, kLr,      kFinalLrScale,
                                kLrSchedule, kWarmupSteps, kSteps,   kBatchSize, kGradAccum,       kMaxSeqLen, kGradClip,
                                kWeightDecay, kSeed,      kLoraRank,  kLoraAlpha, kExport,          kThreads, kDevice,
                                kCheckpointEvery, kLogEvery};

class TrainComponent final : public parley::Trainer {
  public:
    explicit TrainComponent(const parley::Config &c) {
        o_.model = c.get<std::string>(kModel);
        o_.method = c.get<std::string>(kMethod) == "sft" ? Method::Sft : Method::Dpo; // one of kMethods
        o_.beta = c.get<double>(kBeta);
        o_.nll_scale = c.get<double>(kNllScale);
        o_.length_normalize = c.get<bool>(kLengthNormalize);
        o_.lr = c.get(kLr.key, o_.lr); // unset: validate() picks the method's
        o_.final_lr_scale = c.get<double>(kFinalLrScale);
        o_.lr_schedule = c.get<std::string>(kLrSchedule);
        o_.warmup_steps = c.get<int64_t>(kWarmupSteps);
        o_.steps = c.get<int64_t>(kSteps);
        o_.batch_size = c.get<int>(kBatchSize);
        o_.grad_accum = c.get<int>(kGradAccum);
        o_.max_seq_len = c.get<int>(kMaxSeqLen);
        o_.grad_clip = c.get<double>(kGradClip);
        o_.weight_decay = c.get<double>(kWeightDecay);
        o_.seed = c.get<uint64_t>(kSeed);
        o_.lora_rank = c.get<int>(kLoraRank);
        o_.lora_alpha = c.get<double>(kLoraAlpha);
        o_.export_format = c.get(kExport.key, ""); // unset: by lora_rank (validate())
        o_.threads = c.get<int>(kThreads);
        o_.device = c.get<std::string>(kDevice);
        o_.checkpoint_every = c.get<int64_t>(kCheckpointEvery);
        o_.log_every = c.get<int64_t>(kLogEvery);
        // Fail at create time on what the specs cannot say and train() would reject (validate runs again there).
        if (o_.model.empty()) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: 'model' is required");
        if (o_.export_format == "lora" && o_.lora_rank <= 0)
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: export = \"lora\" needs lora_rank > 0");
        if (!o_.export_format.empty() && o_.export_format != "gguf" && o_.export_format != "lora")
            throw Error(PARLEY_ERR_INVALID_ARGUMENT, "trainer/train: export must be gguf or lora");
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
