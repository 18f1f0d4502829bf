// `parley serve`'s wire format without a network: request parsing (fields, defaults, errors that
// name the field), affinity hints, JSON and SSE responses, status mapping, the metrics text.
#include "metrics.hpp"
#include "openai_api.hpp"

#include <catch2/catch.hpp>

using namespace parley;
using nlohmann::json;

namespace {
core::GenerationResult result(std::vector<std::string> texts) {
    core::GenerationResult r;
    for (auto &t : texts) r.choices.push_back({t, PARLEY_FINISH_STOP, 3, {}});
    r.prompt_tokens = 10;
    r.cached_tokens = 4;
    r.completion_tokens = 3 * static_cast<int64_t>(texts.size());
    return r;
}
} // namespace

TEST_CASE("chat requests: messages, sampling fields and OpenAI defaults", "[serve]") {
    auto r = serve::parse_request(serve::Endpoint::Chat, R"({"model":"m","messages":[{"role":"system","content":"s"},
        {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
        "temperature":0,"top_p":0.9,"top_k":5,"seed":42,"max_tokens":7,"n":2,"stop":"X"})");
    const auto &g = r.generation();
    REQUIRE(g.messages.size() == 2);
    CHECK(g.messages[1].content == "ab");
    CHECK(g.temperature == 0.0);
    CHECK(g.top_p == Approx(0.9));
    CHECK(g.top_k == 5);
    CHECK(g.seed == 42u);
    CHECK(g.max_tokens == 7);
    CHECK(g.n == 2);
    CHECK(g.stop == std::vector<std::string>{"X"});
    CHECK(g.conversation == 0);

    auto d = serve::parse_request(serve::Endpoint::Chat, R"({"messages":[{"role":"user","content":"hi"}]})");
    CHECK(d.gen.temperature == 1.0); // OpenAI's default
    CHECK(d.gen.n == 1);
    CHECK(!d.gen.seed);
    CHECK(d.gen.max_tokens == 0);    // the backend's default
}

TEST_CASE("bad requests are refused with 400 naming the field", "[serve]") {
    auto refused = [](serve::Endpoint e, const char *body, const char *field) {
        try {
            serve::parse_request(e, body);
            FAIL("accepted: " << body);
        } catch (const serve::ApiError &err) {
            CHECK(err.status() == 400);
            CHECK_THAT(err.what(), Catch::Contains(field));
        }
    };
    refused(serve::Endpoint::Chat, "not json", "JSON");
    refused(serve::Endpoint::Chat, R"({"messages":[]})", "messages");
    refused(serve::Endpoint::Chat, R"({"messages":[{"content":"x"}]})", "messages[0].role");
    refused(serve::Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],"n":0})", "'n'");
    refused(serve::Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})", "temperature");
    refused(serve::Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],"logprobs":true})", "logprobs");
    refused(serve::Endpoint::Completion, R"({"prompt":["a","b"]})", "prompt");
}

TEST_CASE("affinity comes from the body, else from a header hint", "[serve]") {
    auto r = serve::parse_request(serve::Endpoint::Completion, R"({"prompt":"p","conversation_id":"c-1","agent_id":2})");
    CHECK(r.gen.conversation == serve::affinity_id("c-1"));
    CHECK(r.gen.agent == 2u);
    serve::apply_affinity(r, "other"); // the body wins
    CHECK(r.gen.conversation == serve::affinity_id("c-1"));
    auto h = serve::parse_request(serve::Endpoint::Completion, R"({"prompt":"p"})");
    serve::apply_affinity(h, "conv-7");
    CHECK(h.gen.conversation != 0);
    CHECK(h.gen.conversation == serve::affinity_id("conv-7"));
    CHECK(serve::affinity_id("") == 0);
}

TEST_CASE("responses have OpenAI's shape, as JSON and as server-sent events", "[serve]") {
    auto chat = serve::parse_request(serve::Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],
        "stream":true,"stream_options":{"include_usage":true}})");
    json j = serve::response_json(chat, result({"one", "two"}), "chatcmpl-1", 5, "m");
    CHECK(j["object"] == "chat.completion");
    CHECK(j["choices"][1]["message"]["content"] == "two");
    CHECK(j["choices"][1]["index"] == 1);
    CHECK(j["choices"][0]["finish_reason"] == "stop");
    CHECK(j["usage"]["total_tokens"] == 16);
    CHECK(j["usage"]["prompt_tokens_details"]["cached_tokens"] == 4);

    std::string sse = serve::response_sse(chat, result({"one"}), "chatcmpl-1", 5, "m");
    CHECK(sse.rfind("data: {", 0) == 0);
    CHECK(sse.size() > 16);
    CHECK(sse.substr(sse.size() - 14) == "data: [DONE]\n\n");
    std::vector<json> chunks;
    for (size_t at = 0; (at = sse.find("data: {", at)) != std::string::npos; at += 6)
        chunks.push_back(json::parse(sse.substr(at + 6, sse.find("\n\n", at) - at - 6)));
    REQUIRE(chunks.size() == 4); // role, content, finish, usage
    CHECK(chunks[0]["choices"][0]["delta"]["role"] == "assistant");
    CHECK(chunks[1]["choices"][0]["delta"]["content"] == "one");
    CHECK(chunks[2]["choices"][0]["finish_reason"] == "stop");
    CHECK(chunks[3]["choices"].empty());
    CHECK(chunks[3]["usage"]["completion_tokens"] == 3);
    for (auto &c : chunks) CHECK(c["object"] == "chat.completion.chunk");

    auto completion = serve::parse_request(serve::Endpoint::Completion, R"({"prompt":["p"]})");
    CHECK(completion.gen.prompt == "p");
    json t = serve::response_json(completion, result({"text"}), "cmpl-1", 5, "m");
    CHECK(t["object"] == "text_completion");
    CHECK(t["choices"][0]["text"] == "text");
}

TEST_CASE("backend failures map to HTTP statuses", "[serve]") {
    CHECK(serve::http_status_of(PARLEY_ERR_CONTEXT_OVERFLOW).first == 400);
    CHECK(serve::http_status_of(PARLEY_ERR_UNAVAILABLE).first == 503);
    CHECK(serve::http_status_of(PARLEY_ERR_OUT_OF_MEMORY).first == 429);
    CHECK(serve::http_status_of(PARLEY_ERR_RUNTIME).first == 500);
    json e = json::parse(serve::error_body(503, "service_unavailable", "busy"));
    CHECK(e["error"]["message"] == "busy");
    CHECK(e["error"]["code"] == 503);
}

TEST_CASE("metrics: Prometheus text with counters, gauges and cumulative histograms", "[serve]") {
    serve::Metrics m;
    auto r = result({"a"});
    r.queue_s = 0.002;
    m.record("chat", 200, &r, 0.3);
    m.record("chat", 400, nullptr, 0.0);
    std::string text = m.render(core::BackendLoad{2, 3, 50, 100}, 1);
    CHECK_THAT(text, Catch::Contains("parley_requests_total{endpoint=\"chat\",status=\"200\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("parley_requests_total{endpoint=\"chat\",status=\"400\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("parley_prefix_cache_hit_tokens_total 4\n"));
    CHECK_THAT(text, Catch::Contains("parley_queue_depth 2\n"));
    CHECK_THAT(text, Catch::Contains("parley_kv_usage_ratio 0.5\n"));
    CHECK_THAT(text, Catch::Contains("parley_request_duration_seconds_bucket{le=\"0.25\"} 1\n")); // the 0.0 one
    CHECK_THAT(text, Catch::Contains("parley_request_duration_seconds_bucket{le=\"0.5\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("parley_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("parley_queue_duration_seconds_count 1\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE parley_time_to_first_token_seconds histogram\n"));
}

#ifdef PARLEY_WITH_GRPC
#include "grpc_api.hpp"

#include <grpcpp/support/status_code_enum.h>

TEST_CASE("gRPC status codes follow Matrix's GrpcDeployment mapping", "[serve]") {
    CHECK(serve::grpc_code_of(200) == grpc::StatusCode::OK);
    CHECK(serve::grpc_code_of(400) == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(serve::grpc_code_of(401) == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(serve::grpc_code_of(429) == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(serve::grpc_code_of(503) == grpc::StatusCode::UNAVAILABLE);
    CHECK(serve::grpc_code_of(504) == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(serve::grpc_code_of(500) == grpc::StatusCode::INTERNAL);
    CHECK(serve::grpc_code_of(418) == grpc::StatusCode::UNKNOWN);
}
#endif
