// data.hpp — training rows (JSONL) into token sequences.
//
// Accepted rows:
//   Coral  {"src", "tgt_chosen", "tgt_rejected", "pairwise"}   (DPO; SFT trains on tgt_chosen)
//          {"src", "tgt"}                                       (SFT)
//   TRL    {"prompt": [msgs], "chosen": [msgs], "rejected": [msgs]} (DPO; strings accepted too)
//          {"messages": [msgs]}   (SFT on the last assistant message)
//          {"prompt": [msgs] | str, "completion": [msgs] | str}    (SFT)
// `src` is already templated: it is tokenised with add_special (BOS added only if the vocabulary
// adds one and the text does not already start with it) and parse_special, as the llama_cpp
// backend tokenises prompts. Coral targets are raw turn text and get the end-of-turn token
// (EOT, else EOS) appended, as fairseq2 appends EOS. Message rows are rendered with the model's
// chat template (chatml when it has none); their target is the rendered suffix after the prompt.
// Target tokens are those of tokenize(src + tgt) past tokenize(src) when that is a prefix (the
// tokens the model sees at inference), else tokenize(tgt) on its own.
#pragma once

#include "tokenizer.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace parley::training {

enum class Method { Dpo, Sft };

struct Example {
    std::vector<int32_t> prompt;   // >= 1 token
    std::vector<int32_t> chosen;   // the target (SFT) or the chosen reply (DPO), >= 1 token
    std::vector<int32_t> rejected; // DPO only
    size_t line = 0;               // 1-based line in the JSONL file
};

struct DataStats {
    size_t rows = 0;      // examples kept
    size_t truncated = 0; // examples cut to max_seq_len
    size_t prompt_tokens = 0, target_tokens = 0;
};

// Truncates prompt + target to at most max_seq_len tokens (<= 0: no limit): the prompt keeps its
// end (and its leading BOS), the targets keep their start; the prompt keeps at least
// min(len, max_seq_len / 2) tokens. Returns whether anything was cut.
bool truncate_example(Example &ex, int max_seq_len, int32_t bos);

std::vector<Example> load_examples(const std::string &path, const Tokenizer &tok, Method method, int max_seq_len,
                                   DataStats *stats = nullptr);

} // namespace parley::training
