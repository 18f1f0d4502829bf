// The OpenAI-compatible wire format of `parley serve` (the subset vLLM and llama-server speak):
// request bodies in, Parley generation requests out, and completions back as JSON bodies or as
// server-sent events. No I/O here, so every shape is unit-tested.
#pragma once

#include <parley/core/components.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::serve {

// A request the API refuses: HTTP status, OpenAI error type, message.
class ApiError : public std::runtime_error {
  public:
    ApiError(int status, std::string type, const std::string &message)
        : std::runtime_error(message), status_(status), type_(std::move(type)) {}
    int status() const { return status_; }
    const std::string &type() const { return type_; }

  private:
    int status_;
    std::string type_;
};

enum class Endpoint { Chat, Completion };

// One parsed request. `generation()` points the request's message views at `messages`, so call it
// where the object will stay (it is not copyable in any useful way afterwards).
struct ApiRequest {
    Endpoint endpoint = Endpoint::Chat;
    std::string model;
    std::vector<core::ChatMessage> messages; // chat
    core::GenerationRequest gen;             // sampling, prompt (completions), affinity
    bool stream = false;
    bool include_usage = false; // stream_options.include_usage

    const core::GenerationRequest &generation();
};

// Parses a /v1/chat/completions or /v1/completions body. Throws ApiError (400) naming the field.
ApiRequest parse_request(Endpoint endpoint, const std::string &body);
ApiRequest parse_request_json(Endpoint endpoint, const nlohmann::json &body);

// Affinity: a conversation id from the body's `conversation_id` (or the header/metadata value
// `hint`, e.g. Ray Serve's `serve_multiplexed_model_id` that Coral sends), hashed when a string.
// `agent` from the body's `agent_id`. No hint leaves conversation 0: the backend matches prefixes.
void apply_affinity(ApiRequest &request, const std::string &body_affinity_hint);
uint64_t affinity_id(const std::string &hint);

// A finished request as the OpenAI JSON body (`id` like "chatcmpl-..." / "cmpl-...").
nlohmann::json response_json(const ApiRequest &request, const core::GenerationResult &result, const std::string &id,
                             int64_t created, const std::string &model);
// The same as server-sent events, all at once (a backend that does not stream): per choice a role
// chunk (chat) and one content chunk, then sse_tail().
std::string response_sse(const ApiRequest &request, const core::GenerationResult &result, const std::string &id,
                         int64_t created, const std::string &model);

// Server-sent events one at a time (streaming): `data: {chunk envelope, choices, usage}\n\n`.
std::string sse_event(const ApiRequest &request, const std::string &id, int64_t created, const std::string &model,
                      nlohmann::json choices, nlohmann::json usage = nullptr);
// A choice's text piece: chat `delta.content` (with `role` on a choice's first), completion `text`.
nlohmann::json sse_text_choice(const ApiRequest &request, size_t index, std::string_view text, bool first);
// A choice's finish chunk: empty delta/text and its finish_reason.
nlohmann::json sse_finish_choice(const ApiRequest &request, size_t index, int32_t finish_reason);
// What ends every stream: a finish chunk per choice, the usage chunk when asked, `data: [DONE]`.
std::string sse_tail(const ApiRequest &request, const core::GenerationResult &result, const std::string &id,
                     int64_t created, const std::string &model);

// {"error": {"message", "type", "param": null, "code"}}
std::string error_body(int status, const std::string &type, const std::string &message);

// How a backend's failure reaches the client: HTTP status and OpenAI error type.
std::pair<int, std::string> http_status_of(parley_status status);

// "stop" / "length" / null-ish "error" names of PARLEY_FINISH_*.
const char *finish_reason_name(int32_t finish_reason);

} // namespace parley::serve
