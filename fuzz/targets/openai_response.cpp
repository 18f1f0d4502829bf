// OpenAI-compatible response bodies as the openai backend reads them (plugins/openai/src/
// response.hpp): a completion, an error body, llama-server's /props, the /v1/models listing.
// (The backend asks for whole responses, `stream: false`; it has no SSE reader. The SSE that
// `parley serve` writes is its output, not input.)
#include "fuzz_entry.hpp"
#include "response.hpp"

PARLEY_FUZZ_ENTRY(openai_response) {
    namespace oa = parley::openai;
    const std::string body(parley::fuzz::bytes(data, size));
    parley::Completion c;
    std::string err;
    (void)oa::parse_success(body, c, err);
    (void)oa::mentions_context_overflow(oa::server_message(body));
    (void)oa::total_slots(body);
    (void)oa::first_model(body);
    return 0;
}
