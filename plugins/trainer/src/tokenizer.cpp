#include "tokenizer.hpp"

#include <parley/sdk.hpp>

#include <llama.h>

#include <climits>
#include <filesystem>
#include <mutex>
#include <system_error>

namespace parley::training {

using parley::Error;

namespace {

constexpr const char *kLog = "trainer";
thread_local std::string t_last_error;

void quiet_log(ggml_log_level level, const char *text, void *) {
    if (level != GGML_LOG_LEVEL_WARN && level != GGML_LOG_LEVEL_ERROR) return;
    std::string msg(text ? text : "");
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    if (msg.empty()) return;
    if (level == GGML_LOG_LEVEL_ERROR) t_last_error = msg;
    parley::log(level == GGML_LOG_LEVEL_ERROR ? PARLEY_LOG_ERROR : PARLEY_LOG_WARN, kLog, msg);
}

// Swaps in quiet_log for the scope of a model load and puts the previous callback back (the
// llama_cpp plugin may have installed its own; we never leave a pointer into this library).
struct QuietLog {
    ggml_log_callback prev = nullptr;
    void *prev_ud = nullptr;
    QuietLog() {
        llama_log_get(&prev, &prev_ud);
        llama_log_set(&quiet_log, nullptr);
        t_last_error.clear();
    }
    ~QuietLog() { llama_log_set(prev, prev_ud); }
};

// A special token as text, as Hugging Face's tokenizer writes it into the template's context.
std::string token_text(const llama_vocab *vocab, llama_token t) {
    if (t == LLAMA_TOKEN_NULL) return {};
    char buf[256];
    int32_t n = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, true);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

} // namespace

void llama_quiet_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        QuietLog q;
        llama_backend_init();
        if (ggml_backend_dev_count() == 0) ggml_backend_load_all();
    });
}

Tokenizer::Tokenizer(const std::string &model_path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(model_path, ec))
        throw Error(PARLEY_ERR_NOT_FOUND, "model file not found: '" + model_path + "'");
    llama_quiet_init();
    {
        QuietLog q;
        llama_model_params mp = llama_model_default_params();
        mp.vocab_only = true;
        model_ = llama_model_load_from_file(model_path.c_str(), mp);
        if (!model_)
            throw Error(PARLEY_ERR_UNSUPPORTED, "cannot load the vocabulary of '" + model_path + "': " +
                                                    (t_last_error.empty() ? "not a GGUF llama.cpp can load" : t_last_error));
    }
    vocab_ = llama_model_get_vocab(model_);
    const char *own = llama_model_chat_template(model_, nullptr);
    if (own) {
        try {
            parley::chat::Template t(own, token_text(vocab_, llama_vocab_bos(vocab_)), token_text(vocab_, llama_vocab_eos(vocab_)),
                                     "'" + model_path + "': tokenizer.chat_template");
            t.render({{"system", "s"}, {"user", "u"}, {"assistant", "a"}, {"user", "u"}}, true);
            jinja_ = std::move(t);
            template_ = own;
        } catch (const std::exception &e) {
            parley::log_warn(kLog, std::string(e.what()) + "; message rows use chatml");
        }
    } else {
        parley::log_debug(kLog, "'" + model_path + "': no chat template; message rows use chatml");
    }
    if (!jinja_) {
        jinja_ = parley::chat::Template::from_option("chatml", "");
        template_ = "chatml";
    }
}

Tokenizer::~Tokenizer() {
    if (model_) llama_model_free(model_);
}

std::vector<int32_t> Tokenizer::tokenize(std::string_view text, bool add_special, bool parse_special) const {
    if (text.size() > static_cast<size_t>(INT32_MAX / 2)) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "text too long to tokenize");
    const auto len = static_cast<int32_t>(text.size());
    std::vector<llama_token> toks(static_cast<size_t>(len) + 8);
    int32_t n = llama_tokenize(vocab_, text.data(), len, toks.data(), static_cast<int32_t>(toks.size()), add_special, parse_special);
    if (n < 0) {
        if (n == INT32_MIN) throw Error(PARLEY_ERR_INVALID_ARGUMENT, "text too long to tokenize");
        toks.resize(static_cast<size_t>(-n));
        n = llama_tokenize(vocab_, text.data(), len, toks.data(), static_cast<int32_t>(toks.size()), add_special, parse_special);
        if (n < 0) throw Error(PARLEY_ERR_RUNTIME, "tokenization failed");
    }
    toks.resize(static_cast<size_t>(n));
    const llama_token b = llama_vocab_bos(vocab_);
    if (add_special && toks.size() >= 2 && b != LLAMA_TOKEN_NULL && toks[0] == b && toks[1] == b) toks.erase(toks.begin());
    return {toks.begin(), toks.end()};
}

std::string Tokenizer::detokenize(const std::vector<int32_t> &tokens, bool special) const {
    // Pieces concatenated as a generation loop would (llama_detokenize drops an SPM leading space).
    std::string out;
    std::vector<char> buf(256);
    for (int32_t t : tokens) {
        int32_t n = llama_token_to_piece(vocab_, t, buf.data(), static_cast<int32_t>(buf.size()), 0, special);
        if (n < 0) {
            buf.resize(static_cast<size_t>(-n));
            n = llama_token_to_piece(vocab_, t, buf.data(), static_cast<int32_t>(buf.size()), 0, special);
        }
        if (n > 0) out.append(buf.data(), static_cast<size_t>(n));
    }
    return out;
}

std::string Tokenizer::apply_template(const std::vector<ChatMessage> &messages, bool add_assistant) const {
    try {
        return jinja_->render_messages(messages, add_assistant);
    } catch (const std::exception &e) {
        throw Error(PARLEY_ERR_UNSUPPORTED, std::string("the chat template failed to render the messages: ") + e.what());
    }
}

int32_t Tokenizer::bos() const {
    const llama_token b = llama_vocab_bos(vocab_);
    return b == LLAMA_TOKEN_NULL ? -1 : b;
}

int32_t Tokenizer::end_of_turn() const {
    llama_token t = llama_vocab_eot(vocab_);
    if (t == LLAMA_TOKEN_NULL) t = llama_vocab_eos(vocab_);
    return t == LLAMA_TOKEN_NULL ? -1 : t;
}

bool Tokenizer::adds_bos() const { return llama_vocab_get_add_bos(vocab_); }

int64_t Tokenizer::n_vocab() const { return llama_vocab_n_tokens(vocab_); }

} // namespace parley::training
