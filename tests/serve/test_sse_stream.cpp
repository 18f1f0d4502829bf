// `parley serve`'s streamed replies without a network: SseStream over a recording Reply sink (a
// test double standing in for the HTTP session) — pieces as they come, the head sent with the
// first, the tail after the last, refusals before any text as plain errors, failures after it
// as an error event, and a backend that never streams.
#include "sse_stream.hpp"

#include <catch2/catch.hpp>

using namespace parley;
using nlohmann::json;

namespace {

// Records what a handler sends, in order: "whole <status>", "begin <status>", chunks, "end".
struct RecordingSink : serve::Reply::Sink {
    std::vector<std::string> log;
    std::string body; // the chunks, concatenated
    void whole(serve::HttpResponse r) override { log.push_back("whole " + std::to_string(r.status) + " " + r.body); }
    void begin(serve::HttpResponse r) override { log.push_back("begin " + std::to_string(r.status) + " " + r.content_type); }
    void chunk(std::string d) override {
        log.push_back("chunk");
        body += d;
    }
    void end() override { log.push_back("end"); }
};

std::vector<json> events(const std::string &body, bool *done) {
    std::vector<json> out;
    *done = false;
    for (size_t at = 0; at < body.size();) {
        const size_t end = body.find("\n\n", at);
        REQUIRE(end != std::string::npos);
        const std::string e = body.substr(at, end - at);
        REQUIRE(e.rfind("data: ", 0) == 0);
        if (e == "data: [DONE]") *done = true;
        else out.push_back(json::parse(e.substr(6)));
        at = end + 2;
    }
    return out;
}

serve::Outcome ok(std::vector<std::string> texts) {
    serve::Outcome o;
    for (auto &t : texts) o.result.choices.push_back({t, PARLEY_FINISH_STOP, 2, {}});
    o.result.completion_tokens = 2;
    return o;
}

} // namespace

TEST_CASE("a streamed chat reply sends each piece as it comes, then the tail", "[serve]") {
    auto q = std::make_shared<serve::ApiRequest>(serve::parse_request(serve::Endpoint::Chat,
        R"({"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}})"));
    auto sink = std::make_shared<RecordingSink>();
    serve::SseStream s(q, serve::Reply(sink), "chatcmpl-1", 5, "m");
    CHECK(sink->log.empty()); // nothing before the first piece: a refusal could still be a plain error
    s.delta(0, "Once");
    REQUIRE(sink->log.size() == 2);
    CHECK(sink->log[0] == "begin 200 text/event-stream");
    s.delta(0, " upon");
    CHECK(sink->log.size() == 3); // one chunk per piece, at once
    s.finish(ok({"Once upon a time"})); // the backend's final text has a tail not streamed yet
    CHECK(sink->log.back() == "end");
    bool done = false;
    auto ev = events(sink->body, &done);
    CHECK(done);
    REQUIRE(ev.size() == 6); // role, "Once", " upon", " a time", finish, usage
    CHECK(ev[0]["choices"][0]["delta"]["role"] == "assistant");
    std::string text;
    for (auto &e : ev)
        if (!e["choices"].empty() && e["choices"][0]["delta"].contains("content")) text += e["choices"][0]["delta"]["content"];
    CHECK(text == "Once upon a time");
    CHECK(ev[4]["choices"][0]["finish_reason"] == "stop");
    CHECK(ev[5]["usage"]["completion_tokens"] == 2);
}

TEST_CASE("a streamed reply refused before any text is a plain error; after text, an error event", "[serve]") {
    auto q = std::make_shared<serve::ApiRequest>(
        serve::parse_request(serve::Endpoint::Completion, R"({"prompt":"p","stream":true})"));
    serve::Outcome refused;
    refused.status = 503;
    refused.error_type = "service_unavailable";
    refused.error = "draining";
    {
        auto sink = std::make_shared<RecordingSink>();
        serve::SseStream s(q, serve::Reply(sink), "cmpl-1", 5, "m");
        s.finish(refused);
        REQUIRE(sink->log.size() == 1);
        CHECK(sink->log[0].rfind("whole 503 ", 0) == 0);
    }
    {
        auto sink = std::make_shared<RecordingSink>();
        serve::SseStream s(q, serve::Reply(sink), "cmpl-1", 5, "m");
        s.delta(0, "abc");
        s.finish(refused);
        CHECK(sink->log.front() == "begin 200 text/event-stream");
        CHECK(sink->log.back() == "end");
        bool done = false;
        auto ev = events(sink->body, &done);
        CHECK(done);
        CHECK(ev.back()["error"]["code"] == 503);
        CHECK(ev.front()["choices"][0]["text"] == "abc");
    }
}

TEST_CASE("a backend that never streams gets its whole text in one piece per choice", "[serve]") {
    auto q = std::make_shared<serve::ApiRequest>(
        serve::parse_request(serve::Endpoint::Chat, R"({"messages":[{"role":"user","content":"hi"}],"n":2,"stream":true})"));
    auto sink = std::make_shared<RecordingSink>();
    serve::SseStream s(q, serve::Reply(sink), "chatcmpl-2", 5, "m");
    s.finish(ok({"one", "two"}));
    bool done = false;
    auto ev = events(sink->body, &done);
    CHECK(done);
    REQUIRE(ev.size() == 6); // per choice role + content, then a finish chunk each (no usage: not asked)
    CHECK(ev[1]["choices"][0]["delta"]["content"] == "one");
    CHECK(ev[3]["choices"][0]["index"] == 1);
    CHECK(ev[3]["choices"][0]["delta"]["content"] == "two");
    CHECK(ev[5]["choices"][0]["finish_reason"] == "stop");
}
