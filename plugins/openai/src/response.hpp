// plugins/openai/src/response.hpp — reading what an OpenAI-compatible server answers (vLLM,
// SGLang, llama-server, OpenAI): each function takes the body as received and never throws.
// Apart from the backend's transport so that tests and fuzz/ drive them directly.
#pragma once

#include <parley/sdk.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace parley::openai {

// A 2xx completion body -> `c` (choices in `index` order, token counts, cached tokens, prefill
// time). false with `err` set when the body is unusable.
bool parse_success(const std::string &text, parley::Completion &c, std::string &err);

// The server's own error text from an error body (see response.cpp for the shapes), trimmed and
// capped at 2000 characters; "(empty body)" for nothing.
std::string server_message(const std::string &body);

// Whether an error message says the prompt did not fit the context.
bool mentions_context_overflow(std::string m);

// llama-server's GET /props: `total_slots` when it is a number.
std::optional<int64_t> total_slots(const std::string &body);

// GET /v1/models: the first listed model's id and context length (vLLM's max_model_len,
// llama-server's meta.n_ctx; 0 when neither), when the first entry has a string id.
struct ListedModel {
    std::string id;
    int64_t context = 0;
};
std::optional<ListedModel> first_model(const std::string &body);

} // namespace parley::openai
