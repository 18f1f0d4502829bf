// Response bodies read by the openai backend (src/response.hpp), on the shapes fuzz/ found.
#include "response.hpp"

#include <catch2/catch.hpp>

using namespace parley::openai;

TEST_CASE("counts out of int64's range are ignored, not converted", "[openai][fuzz]") {
    // Found with fuzz/targets/openai_response.cpp: 1e300 converted to int64_t was undefined
    // behaviour (UBSan); it gave INT64_MIN token counts here.
    parley::Completion c;
    std::string err;
    REQUIRE(parse_success(R"({"choices":[{"index":1e300,"text":"a"}],"usage":{"prompt_tokens":1e300,"completion_tokens":-1e300},
                              "timings":{"cache_n":1e19}})", c, err));
    CHECK(c.choices.size() == 1);
    CHECK(c.prompt_tokens == 0);
    CHECK(c.completion_tokens == 0);
    CHECK(c.cached_tokens == 0);
    CHECK_FALSE(total_slots(R"({"total_slots":1e300})").has_value());
    auto m = first_model(R"({"data":[{"id":"m","max_model_len":-1e300}]})");
    REQUIRE(m);
    CHECK(m->context == 0);
}

TEST_CASE("integral floats still count, as servers sometimes send them", "[openai]") {
    parley::Completion c;
    std::string err;
    REQUIRE(parse_success(R"({"choices":[{"text":"a"}],"usage":{"prompt_tokens":12.0,"completion_tokens":3}})", c, err));
    CHECK(c.prompt_tokens == 12);
    CHECK(c.completion_tokens == 3);
    CHECK(total_slots(R"({"total_slots":4})") == 4);
}
