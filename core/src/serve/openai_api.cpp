#include "openai_api.hpp"

#include <parley/core/hash.hpp>

#include <fmt/format.h>

namespace parley::serve {

using json = nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string &message) { throw ApiError(400, "invalid_request_error", message); }

double number(const json &body, const char *key, double fallback) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_number()) bad(fmt::format("'{}' must be a number", key));
    return it->get<double>();
}

int64_t integer(const json &body, const char *key, int64_t fallback) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_number_integer() && !(it->is_number() && it->get<double>() == static_cast<double>(it->get<int64_t>())))
        bad(fmt::format("'{}' must be an integer", key));
    return it->get<int64_t>();
}

// A message's content: a string, or an array of {"type": "text", "text": ...} parts.
std::string content_text(const json &content, size_t index) {
    if (content.is_string()) return content.get<std::string>();
    if (content.is_null()) return {};
    if (!content.is_array()) bad(fmt::format("messages[{}].content must be a string or an array of text parts", index));
    std::string text;
    for (auto &part : content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
            bad(fmt::format("messages[{}].content: only text parts are supported", index));
        text += part["text"].get<std::string>();
    }
    return text;
}

void parse_messages(ApiRequest &r, const json &body) {
    auto it = body.find("messages");
    if (it == body.end() || !it->is_array() || it->empty()) bad("'messages' must be a non-empty array");
    for (size_t i = 0; i < it->size(); ++i) {
        const json &m = (*it)[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            bad(fmt::format("messages[{}].role must be a string", i));
        r.messages.push_back({m["role"].get<std::string>(), content_text(m.value("content", json()), i)});
    }
}

void parse_prompt(ApiRequest &r, const json &body) {
    auto it = body.find("prompt");
    if (it != body.end() && it->is_array() && it->size() == 1 && (*it)[0].is_string()) r.gen.prompt = (*it)[0].get<std::string>();
    else if (it != body.end() && it->is_string()) r.gen.prompt = it->get<std::string>();
    else bad("'prompt' must be a string (or an array of one string)");
    if (r.gen.prompt.empty()) bad("'prompt' is empty");
}

void parse_sampling(ApiRequest &r, const json &body) {
    auto &g = r.gen;
    g.temperature = number(body, "temperature", 1.0);
    g.top_p = number(body, "top_p", 1.0);
    g.top_k = static_cast<int32_t>(integer(body, "top_k", 0));
    g.min_p = number(body, "min_p", 0.0);
    if (body.contains("seed") && !body["seed"].is_null()) g.seed = static_cast<uint64_t>(integer(body, "seed", 0));
    int64_t max_tokens = integer(body, "max_completion_tokens", integer(body, "max_tokens", 0));
    if (max_tokens < 0) bad("'max_tokens' must not be negative");
    g.max_tokens = static_cast<int32_t>(max_tokens);
    int64_t n = integer(body, "n", 1);
    if (n < 1 || n > 128) bad("'n' must be between 1 and 128");
    g.n = static_cast<int32_t>(n);
    if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
        if (it->is_string()) g.stop.push_back(it->get<std::string>());
        else if (it->is_array())
            for (auto &s : *it) {
                if (!s.is_string()) bad("'stop' must be a string or an array of strings");
                g.stop.push_back(s.get<std::string>());
            }
        else bad("'stop' must be a string or an array of strings");
    }
    if (auto it = body.find("logprobs"); it != body.end() && ((it->is_boolean() && it->get<bool>()) || it->is_number()))
        throw ApiError(400, "invalid_request_error", "'logprobs' is not supported by parley serve");
}

} // namespace

const core::GenerationRequest &ApiRequest::generation() {
    gen.messages.clear();
    for (auto &m : messages) gen.messages.push_back({m.role, m.content});
    return gen;
}

ApiRequest parse_request(Endpoint endpoint, const std::string &body_text) {
    json body = json::parse(body_text, nullptr, false);
    if (body.is_discarded()) bad("the request body is not a JSON object");
    return parse_request_json(endpoint, body);
}

ApiRequest parse_request_json(Endpoint endpoint, const json &body) {
    if (!body.is_object()) bad("the request body is not a JSON object");
    ApiRequest r;
    r.endpoint = endpoint;
    if (auto it = body.find("model"); it != body.end() && it->is_string()) r.model = it->get<std::string>();
    if (endpoint == Endpoint::Chat) parse_messages(r, body);
    else parse_prompt(r, body);
    parse_sampling(r, body);
    r.stream = body.value("stream", json(false)).is_boolean() && body.value("stream", false);
    if (auto it = body.find("stream_options"); it != body.end() && it->is_object())
        r.include_usage = it->value("include_usage", json(false)).is_boolean() && it->value("include_usage", false);
    if (auto it = body.find("conversation_id"); it != body.end() && !it->is_null())
        r.gen.conversation = affinity_id(it->is_string() ? it->get<std::string>() : it->dump());
    if (auto it = body.find("agent_id"); it != body.end() && it->is_number_integer()) r.gen.agent = it->get<uint32_t>();
    return r;
}

uint64_t affinity_id(const std::string &hint) {
    if (hint.empty()) return 0;
    uint64_t h = core::splitmix(core::fnv1a(hint));
    return h ? h : 1;
}

void apply_affinity(ApiRequest &request, const std::string &hint) {
    if (request.gen.conversation == 0) request.gen.conversation = affinity_id(hint);
}

const char *finish_reason_name(int32_t finish_reason) {
    switch (finish_reason) {
    case PARLEY_FINISH_LENGTH: return "length";
    case PARLEY_FINISH_STOP: return "stop";
    case PARLEY_FINISH_CANCELLED: return "abort";
    case PARLEY_FINISH_ERROR: return "error";
    default: return "stop";
    }
}

namespace {

json usage_json(const core::GenerationResult &r) {
    return {{"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"total_tokens", r.prompt_tokens + r.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

json envelope(const ApiRequest &q, const std::string &id, int64_t created, const std::string &model, bool chunk) {
    const bool chat = q.endpoint == Endpoint::Chat;
    return {{"id", id},
            {"object", chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
            {"created", created},
            {"model", model}};
}

} // namespace

json response_json(const ApiRequest &q, const core::GenerationResult &r, const std::string &id, int64_t created,
                   const std::string &model) {
    json out = envelope(q, id, created, model, false);
    json choices = json::array();
    for (size_t i = 0; i < r.choices.size(); ++i) {
        const auto &c = r.choices[i];
        json choice = {{"index", i}, {"logprobs", nullptr}, {"finish_reason", finish_reason_name(c.finish_reason)}};
        if (q.endpoint == Endpoint::Chat) {
            choice["message"] = {{"role", "assistant"}, {"content", c.text}};
            if (!c.reasoning.empty()) choice["message"]["reasoning_content"] = c.reasoning; // as vLLM's reasoning parsers
        } else {
            choice["text"] = c.text;
        }
        choices.push_back(std::move(choice));
    }
    out["choices"] = std::move(choices);
    out["usage"] = usage_json(r);
    return out;
}

std::string sse_event(const ApiRequest &q, const std::string &id, int64_t created, const std::string &model, json choices,
                      json usage) {
    json e = envelope(q, id, created, model, true);
    e["choices"] = std::move(choices);
    if (!usage.is_null()) e["usage"] = std::move(usage);
    return "data: " + e.dump() + "\n\n";
}

json sse_text_choice(const ApiRequest &q, size_t index, std::string_view text, bool first) {
    json c = {{"index", index}};
    if (q.endpoint == Endpoint::Chat) {
        c["delta"] = first ? json{{"role", "assistant"}, {"content", text}} : json{{"content", text}};
    } else {
        c["text"] = text;
    }
    c["logprobs"] = nullptr;
    c["finish_reason"] = nullptr;
    return c;
}

json sse_finish_choice(const ApiRequest &q, size_t index, int32_t finish_reason) {
    json c = {{"index", index}};
    if (q.endpoint == Endpoint::Chat) c["delta"] = json::object();
    else c["text"] = "";
    c["logprobs"] = nullptr;
    c["finish_reason"] = finish_reason_name(finish_reason);
    return c;
}

std::string sse_tail(const ApiRequest &q, const core::GenerationResult &r, const std::string &id, int64_t created,
                     const std::string &model) {
    std::string out;
    for (size_t i = 0; i < r.choices.size(); ++i)
        out += sse_event(q, id, created, model, json::array({sse_finish_choice(q, i, r.choices[i].finish_reason)}));
    if (q.include_usage) out += sse_event(q, id, created, model, json::array(), usage_json(r));
    return out + "data: [DONE]\n\n";
}

std::string response_sse(const ApiRequest &q, const core::GenerationResult &r, const std::string &id, int64_t created,
                         const std::string &model) {
    std::string out;
    const bool chat = q.endpoint == Endpoint::Chat;
    for (size_t i = 0; i < r.choices.size(); ++i) {
        if (chat) out += sse_event(q, id, created, model, json::array({sse_text_choice(q, i, "", true)}));
        out += sse_event(q, id, created, model, json::array({sse_text_choice(q, i, r.choices[i].text, !chat)}));
    }
    return out + sse_tail(q, r, id, created, model);
}

std::string error_body(int status, const std::string &type, const std::string &message) {
    return json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", status}}}}.dump();
}

std::pair<int, std::string> http_status_of(parley_status status) {
    switch (status) {
    case PARLEY_ERR_INVALID_ARGUMENT:
    case PARLEY_ERR_PARSE:
    case PARLEY_ERR_TYPE:
    case PARLEY_ERR_UNSUPPORTED:
    case PARLEY_ERR_CONTEXT_OVERFLOW: return {400, "invalid_request_error"};
    case PARLEY_ERR_NOT_FOUND: return {404, "not_found_error"};
    case PARLEY_ERR_UNAVAILABLE:
    case PARLEY_ERR_CANCELLED: return {503, "service_unavailable"};
    case PARLEY_ERR_OUT_OF_MEMORY: return {429, "rate_limit_error"};
    default: return {500, "internal_server_error"};
    }
}

} // namespace parley::serve
