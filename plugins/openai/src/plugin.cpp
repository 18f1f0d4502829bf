// libparley-openai.so: component `openai/backend`.
#include "openai_backend.hpp"

namespace {

const parley_param kParams[] = {
    {"url", PARLEY_TYPE_ANY, PARLEY_PARAM_REQUIRED, nullptr,
     "replica base URL(s): a string or an array of strings, e.g. \"http://127.0.0.1:8080\" (a trailing /v1 is dropped); [] with replicas_from"},
    {"replicas_from", PARLEY_TYPE_PATH, 0, "", "a file (one URL per line) or folder (one file per replica, as `parley serve --register` writes) re-read while running: new replicas join, dropped ones retire"},
    {"discovery_interval_s", PARLEY_TYPE_FLOAT, 0, "1", "how often replicas_from is re-read"},
    {"model", PARLEY_TYPE_STRING, 0, "", "model name sent in each body; empty: the first id of GET /v1/models, else \"default\""},
    {"api_key_env", PARLEY_TYPE_STRING, 0, "OPENAI_API_KEY", "environment variable holding the API key (Authorization: Bearer); unset: none"},
    {"timeout_s", PARLEY_TYPE_FLOAT, 0, "600", "deadline per request, retries included (a request's deadline_s overrides); <= 0: none"},
    {"connect_timeout_s", PARLEY_TYPE_FLOAT, 0, "10", "TCP/TLS connect timeout per attempt"},
    {"max_retries", PARLEY_TYPE_INT, 0, "3", "retries after the first attempt on 408/429/5xx, timeouts and connection errors"},
    {"backoff_initial_s", PARLEY_TYPE_FLOAT, 0, "0.5", "retry k (k = 0, 1, ...) waits backoff_initial_s * (backoff_factor^k + U(0,1))"},
    {"backoff_factor", PARLEY_TYPE_FLOAT, 0, "2", "exponential backoff base (>= 1)"},
    {"requests_per_minute", PARLEY_TYPE_FLOAT, 0, "0", "client-side limit over all replicas: attempts leave evenly spaced at this rate; 0: none"},
    {"tokens_per_minute", PARLEY_TYPE_FLOAT, 0, "0",
     "client-side limit on prompt + completion tokens (estimated at 4 characters a token + max_tokens x n, corrected by the reply's usage); 0: none"},
    {"max_in_flight", PARLEY_TYPE_INT, 0, "256", "requests outstanding per replica; more wait in the plugin's queue"},
    {"max_host_connections", PARLEY_TYPE_INT, 0, "0", "keep-alive connections per replica (CURLMOPT_MAX_HOST_CONNECTIONS); 0: max_in_flight"},
    {"extra_body", PARLEY_TYPE_ANY, 0, "{}", "fields merged into every request body: a JSON object string or a TOML table"},
    {"chat_template_kwargs", PARLEY_TYPE_ANY, 0, "{}",
     "the body's chat_template_kwargs (vLLM, SGLang), e.g. {enable_thinking = false}: a JSON object string or a TOML table"},
    {"affinity", PARLEY_TYPE_BOOL, 0, "true", "route all turns of a conversation to one replica (consistent hashing with bounded loads)"},
    {"load_factor", PARLEY_TYPE_FLOAT, 0, "1.25", "affinity spills to the next replica on the ring above load_factor x mean outstanding"},
    {"cooldown_s", PARLEY_TYPE_FLOAT, 0, "1", "a failed replica rests this long (doubling per failed probe, max 30 s) before GET /health"},
    {"chat_template", PARLEY_TYPE_STRING, 0, "",
     "the served model's chat template, for rendering only (core/pairs `src`): a tokenizer_config.json or .jinja "
     "path, Jinja source, or \"chatml\"; empty: none (apply_template unsupported)"},
};

} // namespace

PARLEY_PLUGIN("openai", "1.0.0", "OpenAI-compatible HTTP backend (vLLM, SGLang, llama-server, hosted APIs)",
              parley::backend<parley::openai::OpenAIBackend>(
                  "backend", 3, "Chat/text completions over HTTP with replica routing, affinity, retries and rate limits", kParams));
