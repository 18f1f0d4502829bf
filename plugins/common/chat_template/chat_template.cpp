#include "chat_template.hpp"

#include "jinja/lexer.h"
#include "jinja/parser.h"
#include "jinja/runtime.h"
#include "jinja/value.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace parley::chat {

const char *const kChatmlSource =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

struct Template::Program {
    std::string source;
    jinja::program program;
    mutable std::mutex mutex; // one render at a time: the AST's thread safety is not part of the engine's contract
};

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// "option: " before a message, or nothing when the caller names the option itself.
std::string prefix(const std::string &option) { return option.empty() ? option : option + ": "; }

std::string read_file(const fs::path &p, const std::string &option) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error(prefix(option) + "cannot read '" + p.string() + "'");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// tokenizer_config.json stores special tokens as "text" or as {"content": "text", ...}.
std::string token_text(const json &config, const char *key) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
    return {};
}

// chat_template is a string, or a list of {"name", "template"} of which transformers uses "default".
std::string config_template(const json &config, const std::string &where) {
    auto it = config.find("chat_template");
    if (it != config.end() && it->is_string()) return it->get<std::string>();
    if (it != config.end() && it->is_array())
        for (auto &t : *it)
            if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
                return t["template"].get<std::string>();
    throw std::runtime_error(where + ": no chat_template (a string, or a list with a \"default\" entry)");
}

json parse_config(const fs::path &p, const std::string &option) {
    try {
        return json::parse(read_file(p, option));
    } catch (const json::exception &e) {
        throw std::runtime_error(prefix(option) + "'" + p.string() + "' is not valid JSON: " + e.what());
    }
}

} // namespace

Template::Template(const std::string &source, std::string bos_token, std::string eos_token, std::string origin)
    : bos_(std::move(bos_token)), eos_(std::move(eos_token)), origin_(std::move(origin)) {
    auto p = std::make_shared<Program>();
    try {
        jinja::lexer lexer;
        auto tokens = lexer.tokenize(source);
        p->program = jinja::parse_from_tokens(tokens);
        p->source = source; // as written (the lexer drops a final newline, as Jinja does)
    } catch (const std::exception &e) {
        throw std::runtime_error(origin_ + ": the chat template does not parse: " + e.what());
    }
    program_ = std::move(p);
}

bool Template::is_inline(const std::string &value) {
    return value == "chatml" || value.find("{{") != std::string::npos || value.find("{%") != std::string::npos;
}

Template Template::from_option(const std::string &value, const std::string &option) {
    if (value == "chatml") return Template(kChatmlSource, "", "", "chatml");
    if (is_inline(value)) return Template(value, "", "", option.empty() ? "the inline chat template" : option);
    const fs::path path(value);
    if (!fs::is_regular_file(path))
        throw std::runtime_error(prefix(option) + "'" + value +
                                 "' is neither \"chatml\", Jinja source, nor an existing .jinja file or tokenizer_config.json");
    const std::string where = option.empty() ? value : option + " (" + value + ")";
    if (path.extension() == ".json") {
        json config = parse_config(path, option);
        return Template(config_template(config, where), token_text(config, "bos_token"), token_text(config, "eos_token"), where);
    }
    // A Jinja file, as newer Hugging Face repositories ship it (chat_template.jinja), with the
    // special tokens of the tokenizer_config.json beside it.
    json config = json::object();
    if (fs::path beside = path.parent_path() / "tokenizer_config.json"; fs::is_regular_file(beside)) config = parse_config(beside, option);
    return Template(read_file(path, option), token_text(config, "bos_token"), token_text(config, "eos_token"), where);
}

Template Template::with_special_tokens(std::string bos_token, std::string eos_token) const {
    Template t;
    t.program_ = program_;
    t.bos_ = std::move(bos_token);
    t.eos_ = std::move(eos_token);
    t.origin_ = origin_;
    return t;
}

const std::string &Template::source() const { return program_->source; }

std::string Template::render(const std::vector<Turn> &messages, bool add_generation_prompt, std::optional<std::time_t> now) const {
    using namespace jinja;
    std::lock_guard lock(program_->mutex);
    context ctx(program_->source);
    if (now) ctx.current_time = *now;
    auto list = mk_val<value_array>();
    for (auto &m : messages) {
        auto o = mk_val<value_object>();
        o->insert("role", mk_val<value_string>(m.role));
        o->insert("content", mk_val<value_string>(m.content));
        list->push_back(o);
    }
    ctx.set_val("messages", list);
    ctx.set_val("bos_token", mk_val<value_string>(bos_));
    ctx.set_val("eos_token", mk_val<value_string>(eos_));
    ctx.set_val("add_generation_prompt", mk_val<value_bool>(add_generation_prompt));
    // transformers passes these as None when the call has none (templates test `tools is none`).
    ctx.set_val("tools", mk_val<value_none>());
    ctx.set_val("documents", mk_val<value_none>());
    try {
        runtime rt(ctx);
        return runtime::gather_string_parts(rt.execute(program_->program))->as_string().str();
    } catch (const std::exception &e) {
        throw std::runtime_error(origin_ + ": the chat template failed to render the messages: " + e.what());
    }
}

} // namespace parley::chat
