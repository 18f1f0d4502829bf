// The openai backend against tests/servers/vllm_strict.py, a strict vLLM-shaped TEST DOUBLE: the
// requests the plugin builds pass vLLM's validation, vLLM's response shape is parsed, and a
// refused request fails at once (no retry) carrying "HTTP 400: <vLLM's own error text>".
#include "openai_backend.hpp"

#include "vllm_strict.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <future>
#include <limits>
#include <set>

using parley::Completion;
using parley::Request;
using parley::openai::OpenAIBackend;
using parley::testing::VllmStrictServer;
using json = nlohmann::json;

namespace {

Completion complete(OpenAIBackend &b, Request r) {
    auto p = std::make_shared<std::promise<Completion>>();
    auto f = p->get_future();
    b.submit(std::move(r), [p](Completion &&c) { p->set_value(std::move(c)); });
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    return f.get();
}

// A Coral agent turn as core/coral_eval builds it (Coral's sampling: T 0.2, top_p 0.9).
Request agent_turn(const std::string &question) {
    Request r;
    r.messages = {{"system", "You are a helpful assistant. To give a final answer, do it in the format of \"The correct answer is (B)\""},
                  {"user", question}};
    r.temperature = 0.2;
    r.top_p = 0.9;
    r.seed = 42;
    r.max_tokens = 64;
    r.conversation = 7;
    return r;
}

OpenAIBackend backend(parley::testing::TestHost &host, const VllmStrictServer &server) {
    return OpenAIBackend(host.config({{"url", server.url()}, {"backoff_initial_s", 0.05}}));
}

const uint64_t kUint64Max = std::numeric_limits<uint64_t>::max();
const std::string kSeedTooLarge = "Input should be less than or equal to 9223372036854775807";

} // namespace

TEST_CASE("vllm strict: Parley's requests pass vLLM's checks and vLLM's reply shape is parsed", "[openai][vllm]") {
    parley::testing::TestHost host;
    VllmStrictServer server({"--reasoning"});
    OpenAIBackend b(host.config({{"url", server.url()}}));
    CHECK(b.info().model == "vllm-strict/test-model"); // from GET /v1/models

    Completion first = complete(b, agent_turn("Which option? (A) 1 (B) 2"));
    INFO(first.error);
    REQUIRE(first.status == PARLEY_OK);
    REQUIRE(first.choices.size() == 1);
    // message.content as the text; reasoning_content apart (ABI 1.5), its tokens unknown (vLLM
    // does not count them)
    CHECK(first.choices[0].text.find("The correct answer is (") != std::string::npos);
    CHECK(first.choices[0].text.find("I should check each step") == std::string::npos);
    CHECK(first.choices[0].reasoning == "I should check each step before answering.");
    CHECK(first.reasoning_tokens == -1);
    CHECK(first.choices[0].finish_reason == PARLEY_FINISH_STOP);
    CHECK(first.prompt_tokens > 0);
    CHECK(first.completion_tokens > 0);
    CHECK(first.cached_tokens == 0);
    // The same prompt again: usage.prompt_tokens_details.cached_tokens
    Completion again = complete(b, agent_turn("Which option? (A) 1 (B) 2"));
    REQUIRE(again.status == PARLEY_OK);
    CHECK(again.cached_tokens > 0);

    Request tree = agent_turn("Which option? (A) 1 (B) 2 (C) 3");
    tree.temperature = 0.8;
    tree.n = 4;
    Completion candidates = complete(b, tree);
    REQUIRE(candidates.status == PARLEY_OK);
    REQUIRE(candidates.choices.size() == 4);
    std::set<std::string> distinct;
    for (auto &c : candidates.choices) distinct.insert(c.text);
    CHECK(distinct.size() == 4);

    Request shortened = agent_turn("Which option?");
    shortened.max_tokens = 3;
    Completion cut = complete(b, shortened);
    REQUIRE(cut.status == PARLEY_OK);
    CHECK(cut.choices[0].finish_reason == PARLEY_FINISH_LENGTH);
    CHECK(cut.completion_tokens == 3);

    Request raw;
    raw.prompt = "Once upon a time";
    raw.max_tokens = 8;
    raw.top_k = 40;
    raw.min_p = 0.05;
    raw.stop = {"\n\n"};
    Completion text = complete(b, raw);
    INFO(text.error);
    REQUIRE(text.status == PARLEY_OK);
    CHECK_FALSE(text.choices[0].text.empty());

    json stats = server.stats();
    INFO(parley::testing::refusal_summary(stats));
    CHECK(stats["refused"] == 0);
    CHECK(stats["served"] == 5);
    CHECK(stats["requests_with_n_gt_1"] == 1);
}

TEST_CASE("vllm strict: a refused request fails at once with vLLM's own error text", "[openai][vllm][retry]") {
    parley::testing::TestHost host;
    SECTION("seed above 2^63 - 1: pydantic's message, in vLLM's nested error body") {
        VllmStrictServer server;
        OpenAIBackend b = backend(host, server);
        Request r = agent_turn("Which option?");
        r.seed = kUint64Max;
        Completion c = complete(b, r);
        CHECK(c.status == PARLEY_ERR_INVALID_ARGUMENT);
        CHECK(c.error.rfind("HTTP 400: [{'type': 'less_than_equal', 'loc': ('body', 'seed')", 0) == 0);
        CHECK(c.error.find(kSeedTooLarge) != std::string::npos);
        CHECK(c.choices.empty());
        json stats = server.stats();
        CHECK(stats["requests"] == 1); // not retried
        CHECK(stats["refused"] == 1);
        // The log names the status and the URL, not the server's text.
        for (auto &line : host.logs()) CHECK(line.find(kSeedTooLarge) == std::string::npos);
        // Every refused request fails with the text; the log names the cause once.
        for (int i = 0; i < 3; ++i) CHECK(complete(b, r).error == c.error);
        size_t logged = 0;
        for (auto &line : host.logs()) logged += line.find("failed: HTTP 400") != std::string::npos;
        CHECK(logged == 1);
    }
    SECTION("the same with the flat error body of older vLLM and SGLang") {
        VllmStrictServer server({"--error-shape", "legacy"});
        OpenAIBackend b = backend(host, server);
        Request r = agent_turn("Which option?");
        r.seed = kUint64Max;
        Completion c = complete(b, r);
        CHECK(c.status == PARLEY_ERR_INVALID_ARGUMENT);
        CHECK(c.error.rfind("HTTP 400: [{'type': 'less_than_equal'", 0) == 0);
        CHECK(server.stats()["requests"] == 1);
    }
    SECTION("SamplingParams checks: top_p 0 and greedy sampling with n > 1") {
        VllmStrictServer server;
        OpenAIBackend b = backend(host, server);
        Request r = agent_turn("Which option?");
        r.extra_json = R"({"top_p": 0})";
        Completion c = complete(b, r);
        CHECK(c.status == PARLEY_ERR_INVALID_ARGUMENT);
        CHECK(c.error == "HTTP 400: top_p must be in (0, 1], got 0.0. (parameter=top_p, value=0.0)");
        Request greedy = agent_turn("Which option?");
        greedy.temperature = 0;
        greedy.n = 3;
        Completion g = complete(b, greedy);
        CHECK(g.error == "HTTP 400: n must be 1 when using greedy sampling, got 3.");
        CHECK(server.stats()["requests"] == 2);
    }
}

TEST_CASE("vllm strict: the server itself refuses what vLLM refuses", "[openai][vllm][server]") {
    VllmStrictServer server;
    auto error_of = [&](const std::string &body) {
        auto r = server.post("/v1/chat/completions", body);
        INFO(r.body);
        CHECK(r.status == 400);
        json j = json::parse(r.body);
        CHECK(j["error"]["code"] == 400);
        return j["error"]["message"].get<std::string>();
    };
    const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
    CHECK(error_of("{" + msgs + R"(,"seed":18446744073709551615})").find(kSeedTooLarge) != std::string::npos);
    CHECK(error_of("{" + msgs + R"(,"seed":-9223372036854775809})").find("Input should be greater than or equal to -9223372036854775808") !=
          std::string::npos);
    CHECK(error_of("{" + msgs + R"(,"top_p":0})").rfind("top_p must be in (0, 1], got 0.0.", 0) == 0);
    CHECK(error_of("{" + msgs + R"(,"n":0})").rfind("n must be at least 1, got 0.", 0) == 0);
    CHECK(error_of("{" + msgs + R"(,"temperature":-0.5})").rfind("temperature must be non-negative, got -0.5.", 0) == 0);
    CHECK(error_of("{" + msgs + R"(,"max_tokens":0})").rfind("max_tokens must be at least 1, got 0.", 0) == 0);
    CHECK(error_of("{" + msgs + R"(,"n":1.5})").find("'type': 'int_from_float', 'loc': ('body', 'n')") != std::string::npos);
    CHECK(error_of(R"({"model":"vllm-strict/test-model"})").find("'type': 'missing', 'loc': ('body', 'messages')") != std::string::npos);
    // Within range, and pydantic's lax mode (an integral float for an int) passes.
    auto ok = server.post("/v1/chat/completions", "{" + msgs + R"(,"seed":9223372036854775807,"n":2.0,"temperature":0.5})");
    CHECK(ok.status == 200);
    json stats = server.stats();
    CHECK(stats["refused"] == 8);
    CHECK(stats["served"] == 1);
}

TEST_CASE("vllm strict: hundreds of requests in flight over keep-alive connections", "[openai][vllm][concurrency]") {
    parley::testing::TestHost host;
    VllmStrictServer server({"--delay-ms", "100"}); // each request holds its connection 100 ms
    OpenAIBackend b(host.config({{"url", server.url()}}));
    constexpr int kRequests = 600;
    std::vector<std::future<Completion>> done;
    for (int i = 0; i < kRequests; ++i) {
        auto p = std::make_shared<std::promise<Completion>>();
        done.push_back(p->get_future());
        b.submit(agent_turn("Question " + std::to_string(i) + "? (A) yes (B) no"), [p](Completion &&c) { p->set_value(std::move(c)); });
    }
    int ok = 0;
    for (auto &f : done) {
        REQUIRE(f.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
        ok += f.get().status == PARLEY_OK;
    }
    CHECK(ok == kRequests);
    json stats = server.stats();
    CHECK(stats["served"] == kRequests);
    CHECK(stats["refused"] == 0);
    CHECK(stats["peak_in_flight"].get<int>() >= 100);        // many at once (the plugin allows 256)
    CHECK(stats["connections"].get<int>() <= 256 + 8);        // reused: fewer connections than requests
}

TEST_CASE("vllm strict: chat_template_kwargs and extra_body reach the server as vLLM accepts them", "[openai][vllm][reasoning]") {
    parley::testing::TestHost host;
    VllmStrictServer server({"--reasoning"});
    // Qwen3's switch: with enable_thinking false the model (and the double) does not think.
    OpenAIBackend b(host.config({{"url", server.url()},
                                 {"chat_template_kwargs", R"({"enable_thinking": false})"},
                                 {"extra_body", R"({"repetition_penalty": 1.05, "chat_template_kwargs": {"custom": 1}})"}}));
    Completion c = complete(b, agent_turn("Which option? (A) 1 (B) 2"));
    INFO(c.error);
    REQUIRE(c.status == PARLEY_OK);
    CHECK(c.choices[0].reasoning.empty());
    CHECK(c.reasoning_tokens == 0);
    // A request's own extra_json still goes over both.
    Request thinking = agent_turn("Which option? (A) 1 (B) 2");
    thinking.extra_json = R"({"chat_template_kwargs": {"enable_thinking": true}})";
    Completion t = complete(b, thinking);
    REQUIRE(t.status == PARLEY_OK);
    CHECK(t.choices[0].reasoning == "I should check each step before answering.");

    json stats = server.stats();
    INFO(stats.dump());
    CHECK(stats["refused"] == 0);
    const auto &fields = stats["fields"];
    CHECK(std::find(fields.begin(), fields.end(), "chat_template_kwargs") != fields.end());
    CHECK(std::find(fields.begin(), fields.end(), "repetition_penalty") != fields.end());
    REQUIRE(stats["chat_template_kwargs"].size() == 2);
    CHECK(stats["chat_template_kwargs"][0] == json({{"custom", 1}, {"enable_thinking", false}}));
    CHECK(stats["chat_template_kwargs"][1] == json({{"enable_thinking", true}}));
}

TEST_CASE("vllm strict: chat_template_kwargs that is not an object is refused at create", "[openai][vllm][reasoning]") {
    parley::testing::TestHost host;
    CHECK_THROWS_WITH(OpenAIBackend(host.config({{"url", "http://127.0.0.1:9"}, {"chat_template_kwargs", "[1]"}})),
                      Catch::Contains("`chat_template_kwargs` is not a JSON object"));
}
