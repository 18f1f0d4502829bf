// The JSON body of a chat (`messages`) or raw-completion (`prompt`) request, written straight to
// text with the host's JsonWriter. At thousands of requests a second, building a nlohmann DOM
// and serialising it cost more than a sixth of the plugin's own CPU (bench/client_overhead).
#pragma once

#include <parley/sdk.hpp>

#include <string>
#include <string_view>

namespace parley::openai {

// Everything the request maps to (README, "Request mapping"), "model" first when given (empty:
// none yet; with_model adds it once the server named it). `extra_body` and the request's
// `extra_json` are merged by the caller.
std::string write_body(const parley::Request &req, std::string_view model);

// `body` (written without a model) with "model" in front.
std::string with_model(std::string_view body, std::string_view model);

} // namespace parley::openai
