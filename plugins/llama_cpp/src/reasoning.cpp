#include "reasoning.hpp"

#include <stdexcept>

namespace parley::llama_cpp {
namespace {

bool space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

std::string_view ltrim(std::string_view s) {
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    return s;
}

std::string_view rtrim(std::string_view s) {
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

// Known pairs: DeepSeek-R1 / Qwen3 / QwQ / Granite / Phi-4-reasoning, ByteDance Seed-OSS,
// Cohere Command-A reasoning, Kimi (llama.cpp's common/chat.cpp knows the same ones).
const ReasoningMarkers kKnown[] = {
    {"<think>", "</think>"},
    {"<seed:think>", "</seed:think>"},
    {"<|START_THINKING|>", "<|END_THINKING|>"},
    {"\xe2\x97\x81think\xe2\x96\xb7", "\xe2\x97\x81/think\xe2\x96\xb7"}, // ◁think▷ … ◁/think▷
};

} // namespace

ReasoningMarkers markers_in_template(std::string_view source) {
    for (const ReasoningMarkers &m : kKnown)
        if (source.find(m.close) != std::string_view::npos) return m;
    return {};
}

ReasoningMarkers markers_from_option(const std::string &option, std::string_view template_source) {
    if (option.empty() || option == "auto") return markers_in_template(template_source);
    if (option == "none") return {};
    const size_t bar = option.find('|');
    if (bar == std::string::npos || bar == 0 || bar + 1 >= option.size() || option.find('|', bar + 1) != std::string::npos)
        throw std::invalid_argument("llama_cpp: reasoning_markers '" + option +
                                    "' is neither \"auto\", \"none\" nor \"OPEN|CLOSE\" (e.g. \"<think>|</think>\")");
    return {option.substr(0, bar), option.substr(bar + 1)};
}

std::optional<size_t> answer_start(std::string_view text, const ReasoningMarkers &m, bool prompt_opens, bool finished) {
    if (!m.active()) return 0;
    if (size_t p = text.find(m.close); p != std::string_view::npos) {
        size_t s = p + m.close.size();
        while (s < text.size() && space(text[s])) ++s;
        if (s == text.size() && !finished) return std::nullopt; // the answer's first character is still to come
        return s;
    }
    if (prompt_opens) return finished ? std::optional<size_t>(text.size()) : std::nullopt;
    const std::string_view t = ltrim(text);
    if (!m.open.empty() && t.substr(0, m.open.size()) == m.open) return finished ? std::optional<size_t>(text.size()) : std::nullopt;
    if (!finished && (m.open.empty() ? t.empty() : std::string_view(m.open).substr(0, t.size()) == t)) return std::nullopt;
    return 0;
}

std::string reasoning_before(std::string_view text, size_t answer_start, const ReasoningMarkers &m) {
    std::string_view r = text.substr(0, answer_start);
    if (size_t p = r.find(m.close); p != std::string_view::npos) r = r.substr(0, p);
    r = ltrim(r);
    if (!m.open.empty() && r.substr(0, m.open.size()) == m.open) r.remove_prefix(m.open.size());
    return std::string(rtrim(ltrim(r)));
}

bool prompt_opens_block(std::string_view prompt, const ReasoningMarkers &m) {
    if (!m.active() || m.open.empty()) return false;
    const std::string_view p = rtrim(prompt);
    return p.size() >= m.open.size() && p.substr(p.size() - m.open.size()) == m.open;
}

} // namespace parley::llama_cpp
