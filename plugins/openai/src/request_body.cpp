#include "request_body.hpp"

#include <parley/core/json_writer.hpp>

namespace parley::openai {

std::string write_body(const parley::Request &req, std::string_view model) {
    std::string out;
    size_t size = 256 + req.prompt.size();
    for (auto &m : req.messages) size += m.role.size() + m.content.size() + 32;
    out.reserve(size + size / 16); // a little room for escapes
    parley::core::JsonWriter w(out);
    w.begin_object();
    if (!model.empty()) w.key("model").value(model);
    if (!req.prompt.empty()) {
        w.key("prompt").value(req.prompt);
    } else {
        w.key("messages").begin_array();
        for (auto &m : req.messages) w.begin_object().key("role").value(m.role).key("content").value(m.content).end_object();
        w.end_array();
    }
    w.key("temperature").value(req.temperature < 0 ? 0.0 : req.temperature);
    if (req.top_p > 0 && req.top_p < 1) w.key("top_p").value(req.top_p);
    if (req.top_k > 0) w.key("top_k").value(static_cast<int64_t>(req.top_k)); // vLLM, SGLang, llama-server extension
    if (req.min_p > 0) w.key("min_p").value(req.min_p);                        // likewise
    if (req.seed) w.key("seed").value(static_cast<uint64_t>(*req.seed));
    if (req.max_tokens > 0) w.key("max_tokens").value(static_cast<int64_t>(req.max_tokens));
    if (req.n > 1) w.key("n").value(static_cast<int64_t>(req.n));
    if (!req.stop.empty()) {
        w.key("stop").begin_array();
        for (auto &s : req.stop) w.value(s);
        w.end_array();
    }
    w.key("stream").value(false);
    w.end_object();
    return out;
}

std::string with_model(std::string_view body, std::string_view model) {
    std::string out;
    out.reserve(body.size() + model.size() + 16);
    parley::core::JsonWriter w(out);
    w.begin_object().key("model").value(model);
    if (body.size() > 2) out += ',';  // "{}" has no member to follow
    out.append(body.substr(1));       // the members and the closing brace
    return out;
}

} // namespace parley::openai
