// Chat templates as the model's authors wrote them: a Hugging Face Jinja chat template
// (tokenizer_config.json's `chat_template`, a .jinja file, or a GGUF's tokenizer.chat_template)
// rendered as transformers' apply_chat_template renders it (trim_blocks, lstrip_blocks,
// loop controls, raise_exception, strftime_now; bos_token/eos_token from the tokenizer).
// The engine is llama.cpp's own (common/jinja), compiled into this static library without
// libllama or ggml, so the host, the llama_cpp and the openai plugins share one renderer.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace parley::chat {

struct Turn {
    std::string role, content;
};

class Template {
  public:
    // `source` is Jinja; bos/eos are the tokenizer's special tokens as text. `origin` names the
    // template in error messages (a path, "the GGUF's tokenizer.chat_template", ...).
    Template(const std::string &source, std::string bos_token, std::string eos_token, std::string origin);

    // `value` of a `chat_template` option: "chatml" (transformers' ChatML), a path to a Hugging
    // Face tokenizer_config.json (its chat_template, bos_token, eos_token), a path to a Jinja file
    // (bos/eos from a tokenizer_config.json beside it, if any, else empty), or Jinja source itself
    // (it contains "{{" or "{%"). Throws std::runtime_error naming `option` (unless empty) and the value.
    static Template from_option(const std::string &value, const std::string &option);
    // Is `value` one from_option accepts without reading anything (chatml or inline Jinja)?
    static bool is_inline(const std::string &value);

    // messages -> text; add_generation_prompt appends the assistant header. `now` pins the
    // clock strftime_now reads (default: the current time). Throws std::runtime_error with the
    // template's origin on a template error or raise_exception().
    std::string render(const std::vector<Turn> &messages, bool add_generation_prompt = true,
                       std::optional<std::time_t> now = std::nullopt) const;
    template <class Messages>
    std::string render_messages(const Messages &messages, bool add_generation_prompt = true) const {
        std::vector<Turn> turns;
        turns.reserve(messages.size());
        for (auto &m : messages) turns.push_back({m.role, m.content});
        return render(turns, add_generation_prompt);
    }

    // The same template with other special tokens (e.g. a model's, for a bare Jinja file).
    Template with_special_tokens(std::string bos_token, std::string eos_token) const;

    const std::string &source() const;
    const std::string &bos_token() const { return bos_; }
    const std::string &eos_token() const { return eos_; }
    const std::string &origin() const { return origin_; }

  private:
    struct Program;
    Template() = default;
    std::shared_ptr<const Program> program_;
    std::string bos_, eos_, origin_;
};

// transformers' ChatML template (the default of its chat-template docs).
extern const char *const kChatmlSource;

} // namespace parley::chat
