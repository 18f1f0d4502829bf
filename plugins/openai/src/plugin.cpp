// libparley-openai.so: component `openai/backend`.
#include "openai_backend.hpp"
#include "params.hpp"

using parley::openai::kParams;

PARLEY_PLUGIN("openai", "1.0.0", "OpenAI-compatible HTTP backend (vLLM, SGLang, llama-server, hosted APIs)",
              parley::backend<parley::openai::OpenAIBackend>(
                  "backend", 3, "Chat/text completions over HTTP with replica routing, affinity, retries and rate limits", kParams));
