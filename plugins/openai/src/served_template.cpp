// The served model's chat template (`chat_template`): how core/pairs renders `src` for a remote
// model. The server applies its own template to chat requests; this one is only for rendering.
#include "openai_backend.hpp"

#include "chat_template.hpp"

namespace parley::openai {

std::shared_ptr<const chat::Template> OpenAIBackend::load_template(const parley::Config &config) {
    const std::string value = config.get("chat_template", "");
    if (value.empty()) return nullptr;
    try {
        return std::make_shared<const chat::Template>(chat::Template::from_option(value, "openai: chat_template"));
    } catch (const std::exception &e) {
        throw parley::Error(PARLEY_ERR_INVALID_ARGUMENT, e.what());
    }
}

std::string OpenAIBackend::apply_template(const std::vector<parley::Message> &messages) {
    if (!template_)
        throw parley::Error(PARLEY_ERR_UNSUPPORTED, "openai: no chat_template configured (the served model's "
                                                    "tokenizer_config.json or .jinja file, Jinja source, or chatml)");
    try {
        return template_->render_messages(messages);
    } catch (const std::exception &e) {
        throw parley::Error(PARLEY_ERR_UNSUPPORTED, std::string("openai: ") + e.what());
    }
}

} // namespace parley::openai
