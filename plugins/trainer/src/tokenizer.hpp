// tokenizer.hpp — llama.cpp's own tokenizer and chat templates (the model loaded vocab-only), so
// training tokenises exactly as the llama_cpp backend does at inference.
#pragma once

#include "chat_template.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct llama_model;
struct llama_vocab;

namespace parley::training {

struct ChatMessage {
    std::string role;
    std::string content;
};

class Tokenizer {
  public:
    explicit Tokenizer(const std::string &model_path);
    ~Tokenizer();
    Tokenizer(const Tokenizer &) = delete;
    Tokenizer &operator=(const Tokenizer &) = delete;

    // llama_tokenize. With add_special, a BOS written by the text itself (a template that starts
    // with it) is not doubled: the llama_cpp backend does the same.
    std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;
    std::string detokenize(const std::vector<int32_t> &tokens, bool special = false) const;

    // The template used for message rows: the GGUF's tokenizer.chat_template rendered as Hugging
    // Face renders it (the same renderer as the llama_cpp backend and core/pairs' `src`), or
    // "chatml" when the model has none or it does not render.
    const std::string &chat_template() const { return template_; }
    std::string apply_template(const std::vector<ChatMessage> &messages, bool add_assistant) const;

    int32_t bos() const;           // -1 if none
    int32_t end_of_turn() const;   // EOT if the vocabulary has one, else EOS; -1 if neither
    bool adds_bos() const;         // llama_vocab_get_add_bos
    int64_t n_vocab() const;

  private:
    llama_model *model_ = nullptr;
    const llama_vocab *vocab_ = nullptr;
    std::string template_;
    std::optional<parley::chat::Template> jinja_;
};

// llama_backend_init once, with llama.cpp's log quiet (WARN/ERROR go to the host's log; the
// previous log callback is put back afterwards, as around every model load here).
void llama_quiet_init();

} // namespace parley::training
