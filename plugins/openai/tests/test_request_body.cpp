// The request body the openai backend writes straight to text (request_body.cpp): every mapped
// field, nothing unset, strings that need escaping, and "model" added in front afterwards.
#include "request_body.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using parley::Request;
using parley::openai::with_model;
using parley::openai::write_body;
using json = nlohmann::json;

TEST_CASE("request body: every mapped field, and nothing that is unset", "[openai][body]") {
    Request r;
    r.messages = {{"system", "Be \"brief\".\n"}, {"user", "tab\there, back\\slash, \x01, caf\xc3\xa9 \xe2\x9c\x93"}};
    r.temperature = 0.2;
    r.top_p = 0.9;
    r.top_k = 20;
    r.min_p = 0.05;
    r.seed = 18446744073709551615ull;
    r.max_tokens = 64;
    r.n = 3;
    r.stop = {"\n\n", "END"};
    const std::string text = write_body(r, "meta/Llama \"3\"");
    CHECK(text.rfind(R"({"model":"meta/Llama \"3\"",)", 0) == 0);
    const json expected = {{"model", "meta/Llama \"3\""},
                           {"messages", json::array({{{"role", "system"}, {"content", r.messages[0].content}},
                                                     {{"role", "user"}, {"content", r.messages[1].content}}})},
                           {"temperature", 0.2},
                           {"top_p", 0.9},
                           {"top_k", 20},
                           {"min_p", 0.05},
                           {"seed", 18446744073709551615ull},
                           {"max_tokens", 64},
                           {"n", 3},
                           {"stop", json::array({"\n\n", "END"})},
                           {"stream", false}};
    CHECK(json::parse(text) == expected);
    CHECK(json::parse(text)["seed"].is_number_unsigned());
    CHECK(json::parse(text)["temperature"].is_number_float());

    // Defaults: top_p 1, no top_k/min_p/seed/max_tokens/stop, n 1; a negative temperature is 0.
    Request d;
    d.messages = {{"user", "hi"}};
    d.temperature = -1;
    const json dj = json::parse(write_body(d, "m"));
    CHECK(dj == json{{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}, {"temperature", 0.0}, {"stream", false}});
    CHECK(dj["temperature"].is_number_float());
}

TEST_CASE("request body: a raw prompt, and the model added once the server named it", "[openai][body]") {
    Request r;
    r.prompt = "Once upon a time";
    r.messages = {{"user", "ignored"}}; // a raw prompt wins
    r.max_tokens = 4;
    const std::string text = write_body(r, "");
    const json j = json::parse(text);
    CHECK_FALSE(j.contains("model"));
    CHECK_FALSE(j.contains("messages"));
    CHECK(j["prompt"] == "Once upon a time");
    const json k = json::parse(with_model(text, "served"));
    CHECK(k["model"] == "served");
    json rest = k;
    rest.erase("model");
    CHECK(rest == j);
    CHECK(json::parse(with_model("{}", "m")) == json{{"model", "m"}});
}
