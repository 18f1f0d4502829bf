// Reasoning ("thinking") output split off a generated text by the model's template markers
// (`<think>` … `</think>` for DeepSeek-R1, Qwen3, QwQ; other families use other pairs), so the
// completion carries it apart from the text (ABI 1.5). Pure functions on text: the engine calls
// them as tokens arrive (to stream only the answer) and once more when a choice ends.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::llama_cpp {

struct ReasoningMarkers {
    std::string open, close;
    bool active() const { return !close.empty(); }
};

// The markers a chat template's source uses (the first known pair whose closing marker it
// contains); none for a template without any (chatml, llama.cpp built-in names).
ReasoningMarkers markers_in_template(std::string_view template_source);

// The engine option: "auto" (markers_in_template), "none", or "OPEN|CLOSE". Throws
// std::invalid_argument naming the option on anything else.
ReasoningMarkers markers_from_option(const std::string &option, std::string_view template_source);

// Where a choice's answer begins in `text`: after the closing marker and the whitespace after
// it; 0 when the text has no reasoning; text.size() when all of it is reasoning (the prompt
// opened a think block, or the text did, and it never closed). nullopt while that is not decided
// yet (`finished` false: more text may still close or open a block). `prompt_opens`: the rendered
// prompt ends with the opening marker (DeepSeek-R1's and Qwen3's generation prompts).
std::optional<size_t> answer_start(std::string_view text, const ReasoningMarkers &m, bool prompt_opens, bool finished);

// The reasoning in text[0, answer_start): without the markers, trimmed.
std::string reasoning_before(std::string_view text, size_t answer_start, const ReasoningMarkers &m);

// Whether `prompt` (a rendered chat prompt) ends with the opening marker, whitespace aside.
bool prompt_opens_block(std::string_view prompt, const ReasoningMarkers &m);

} // namespace parley::llama_cpp
