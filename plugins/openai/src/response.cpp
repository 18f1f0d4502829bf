// What the OpenAI-compatible servers answer, read: a completion body, an error body, llama-server's
// /props and the /v1/models listing (response.hpp).
#include "response.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace parley::openai {
namespace {

using json = nlohmann::json;

// A choice's reasoning, as vLLM (`reasoning_content`; `reasoning` from v0.10.2 on), SGLang and
// DeepSeek's API (`reasoning_content`) return it beside the content.
std::string reasoning_of(const json &message) {
    for (const char *k : {"reasoning_content", "reasoning"})
        if (message.contains(k) && message[k].is_string()) return message[k].get<std::string>();
    return {};
}

bool is_number(const json &j, const char *k) { return j.is_object() && j.contains(k) && j[k].is_number(); }

// A count the server sent: an integer, or a float within int64_t's range (truncated, as before).
// nullopt otherwise: converting 1e300 to an integer is undefined behaviour (found by fuzz/).
std::optional<int64_t> count(const json &j, const char *k) {
    if (!is_number(j, k)) return std::nullopt;
    const json &v = j[k];
    if (v.is_number_integer()) return v.get<int64_t>();
    const double d = v.get<double>();
    if (!(d > -9.2e18 && d < 9.2e18)) return std::nullopt; // also NaN
    return static_cast<int64_t>(d);
}

std::string truncate(std::string s, size_t n) {
    if (s.size() > n) {
        s.resize(n);
        s += "...";
    }
    return s;
}

// FastAPI's own validation body: {"detail": [{"loc": [...], "msg": ...}, ...]} -> "loc.path: msg; ...".
std::string fastapi_detail(const json &detail) {
    std::string out;
    for (const json &d : detail) {
        if (!d.is_object() || !d.contains("msg") || !d["msg"].is_string()) return detail.dump();
        std::string loc;
        if (d.contains("loc") && d["loc"].is_array())
            for (const json &part : d["loc"]) loc += (loc.empty() ? "" : ".") + (part.is_string() ? part.get<std::string>() : part.dump());
        out += (out.empty() ? "" : "; ") + (loc.empty() ? "" : loc + ": ") + d["msg"].get<std::string>();
    }
    return out;
}

int finish_code(const json &fr) {
    if (!fr.is_string()) return PARLEY_FINISH_NONE;
    const auto &s = fr.get_ref<const std::string &>();
    if (s == "length") return PARLEY_FINISH_LENGTH;
    if (s == "abort") return PARLEY_FINISH_CANCELLED; // vLLM V1: the engine aborted the sequence
    if (s == "error") return PARLEY_FINISH_ERROR;     // vLLM V1: the engine failed it
    return PARLEY_FINISH_STOP; // "stop", "eos", "tool_calls", "content_filter", ...
}

} // namespace

// The server's own error text from an error body: vLLM >= 0.10.1 and OpenAI
// {"error": {"message", "type", "param", "code"}}, older vLLM and SGLang
// {"object": "error", "message", ...}, llama-server {"error": {"code", "message", "type"}},
// FastAPI {"detail": ...}, or plain text. Trimmed and capped (a validation message may quote the
// whole request).
std::string server_message(const std::string &body) {
    std::string m;
    json j = json::parse(body, nullptr, false);
    if (j.is_object()) {
        const json *e = j.contains("error") ? &j["error"] : nullptr;
        if (e && e->is_object() && e->contains("message") && (*e)["message"].is_string()) m = (*e)["message"].get<std::string>();
        else if (e && e->is_string()) m = e->get<std::string>();
        else if (j.contains("message") && j["message"].is_string()) m = j["message"].get<std::string>();
        else if (j.contains("detail") && j["detail"].is_string()) m = j["detail"].get<std::string>();
        else if (j.contains("detail") && j["detail"].is_array()) m = fastapi_detail(j["detail"]);
        else if (j.contains("detail")) m = j["detail"].dump();
    }
    if (m.empty()) m = body;
    while (!m.empty() && std::isspace(static_cast<unsigned char>(m.back()))) m.pop_back();
    return m.empty() ? std::string("(empty body)") : truncate(m, 2000);
}

bool mentions_context_overflow(std::string m) {
    std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char *k : {"context length", "context_length", "exceed_context", "context size", "maximum context",
                          "context window", "too many tokens", "prompt is too long"})
        if (m.find(k) != std::string::npos) return true;
    return false;
}

bool parse_success(const std::string &text, parley::Completion &c, std::string &err) {
    try {
        json j = json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            err = "malformed JSON body";
            return false;
        }
        if (!j.contains("choices") || !j["choices"].is_array()) {
            err = j.contains("error") ? server_message(text) : "no `choices` in the response";
            return false;
        }
        std::vector<std::pair<int64_t, parley::Choice>> got;
        int64_t pos = 0;
        for (const json &ch : j["choices"]) {
            parley::Choice choice;
            choice.completion_tokens = -1; // unknown: servers count tokens per request, not per choice
            if (ch.contains("message") && ch["message"].is_object()) {
                const json &m = ch["message"];
                if (m.contains("content") && m["content"].is_string()) choice.text = m["content"].get<std::string>();
                choice.reasoning = reasoning_of(m);
            } else if (ch.contains("text") && ch["text"].is_string()) {
                choice.text = ch["text"].get<std::string>();
            }
            choice.finish_reason = ch.contains("finish_reason") ? finish_code(ch["finish_reason"]) : PARLEY_FINISH_NONE;
            int64_t idx = count(ch, "index").value_or(pos);
            got.emplace_back(idx, std::move(choice));
            ++pos;
        }
        std::stable_sort(got.begin(), got.end(), [](auto &a, auto &b) { return a.first < b.first; });
        for (auto &g : got) c.choices.push_back(std::move(g.second));

        const json empty = json::object();
        const json &usage = j.contains("usage") && j["usage"].is_object() ? j["usage"] : empty;
        const json &timings = j.contains("timings") && j["timings"].is_object() ? j["timings"] : empty;
        if (auto n = count(usage, "prompt_tokens")) c.prompt_tokens = *n;
        if (auto n = count(usage, "completion_tokens")) c.completion_tokens = *n;
        // Reasoning tokens: OpenAI's and SGLang's completion_tokens_details; a server that
        // returns reasoning without counting it leaves them unknown, one without reasoning 0.
        bool any_reasoning = false;
        for (auto &ch : c.choices) any_reasoning |= !ch.reasoning.empty();
        const json &completion_details = usage.contains("completion_tokens_details") ? usage["completion_tokens_details"] : empty;
        if (auto n = count(completion_details, "reasoning_tokens"))
            c.reasoning_tokens = *n;
        else
            c.reasoning_tokens = any_reasoning ? -1 : 0;
        const json &prompt_details = usage.contains("prompt_tokens_details") ? usage["prompt_tokens_details"] : empty;
        if (auto n = count(prompt_details, "cached_tokens"))
            c.cached_tokens = *n;
        else if (auto n = count(timings, "cache_n"))
            c.cached_tokens = *n;
        else if (auto n = count(usage, "tokens_cached"))
            c.cached_tokens = *n;
        else if (auto n = count(j, "tokens_cached"))
            c.cached_tokens = *n;
        if (is_number(timings, "prompt_ms")) c.prefill_s = timings["prompt_ms"].get<double>() / 1000.0;
        if (c.choices.size() == 1) c.choices[0].completion_tokens = c.completion_tokens;
        return true;
    } catch (const std::exception &e) {
        err = std::string("unexpected response shape: ") + e.what();
        return false;
    }
}

std::optional<int64_t> total_slots(const std::string &body) {
    json j = json::parse(body, nullptr, false);
    return count(j, "total_slots");
}

std::optional<ListedModel> first_model(const std::string &body) {
    json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array() || j["data"].empty() || !j["data"][0].is_object())
        return std::nullopt;
    const json &m = j["data"][0];
    if (!m.contains("id") || !m["id"].is_string()) return std::nullopt;
    ListedModel out{m["id"].get<std::string>(), 0};
    const json none = json::object();
    if (auto n = count(m, "max_model_len")) out.context = *n;                                        // vLLM
    else if (auto n = count(m.contains("meta") ? m["meta"] : none, "n_ctx")) out.context = *n; // llama-server
    return out;
}

} // namespace parley::openai
