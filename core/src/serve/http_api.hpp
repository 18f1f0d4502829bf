// The HTTP routes of `parley serve`: /v1/chat/completions, /v1/completions, /v1/models, /health,
// /metrics. With an API key, /v1/* wants `Authorization: Bearer <key>` (/health and /metrics stay
// open, as in vLLM).
#pragma once

#include "http_server.hpp"
#include "service.hpp"

#include <string>

namespace parley::serve {

Handler make_http_handler(Service &service, std::string api_key);

// The affinity hint a request's headers carry: `X-Conversation-Id`, else Ray Serve's
// `serve_multiplexed_model_id` (what Coral and Matrix send for sticky routing). Empty if none.
std::string affinity_header(const HttpRequest &request);

} // namespace parley::serve
