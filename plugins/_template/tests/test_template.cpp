// STEP 10: test only what is special to your domain; tests/conformance checks every domain's
// loading, ids, gold/wrong scoring, text kinds, file:line errors and sensitive text, given a
// sample in ../shared/data/<name>/ (a file whose name holds "sample").
#include "template.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>

using parley::template_domain::TemplateDomain;

static const std::string kSample = PARLEY_SOURCE_DIR "/plugins/_template/tests/sample.jsonl";

TEST_CASE("template: a row loads, renders with Coral's generic prompts, and scores its answer", "[template]") {
    parley::testing::TestHost host;
    TemplateDomain d(host.config());
    parley::LoadContext ctx("domain", false);
    d.load(kSample, ctx);
    REQUIRE(d.size() == 2);
    CHECK(d.render(0, PARLEY_TEXT_TASK, "") == "I'm trying to solve this problem: \"What is the capital of France?\"");
    auto b = d.extract(0, PARLEY_EXTRACT_RULE, "It is the city of light. Final answer: Paris");
    CHECK(b.valid);
    CHECK(d.score(0, b.text) == 1.0);
    CHECK(d.score(1, b.text) == 0.0);
}

TEST_CASE("template: a node's prompts override the defaults", "[template]") {
    parley::testing::TestHost host;
    TemplateDomain d(host.config({{"prompts", std::string(R"({"task": "Q: {question}"})")}}));
    parley::LoadContext ctx("domain", false);
    d.load(kSample, ctx);
    CHECK(d.render(1, PARLEY_TEXT_TASK, "") == "Q: What colour is a clear daytime sky?");
}
