// STEP 10: test only what is special to your domain; tests/conformance checks every domain's
// loading, ids, gold/wrong scoring, text kinds, file:line errors and sensitive text, given a
// sample in ../shared/data/<name>/ (a file whose name holds "sample").
#include "template.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

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

// The prompts machinery itself (parley/prompt_template.hpp, parley/prompts.hpp), through this domain.
TEST_CASE("prompts: prompts_file applies, the inline table wins, errors name the key or file:line:column", "[template][prompts]") {
    parley::testing::TestHost host;
    const std::string dir = PARLEY_BINARY_DIR "/template-prompts";
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/p.toml") << "task = \"File: {question}\"\nsystem = \"Be brief about {task_name}.\"\n";
    TemplateDomain d(host.config({{"prompts_file", dir + "/p.toml"}, {"prompts", std::string(R"({"system": "Inline."})")}}));
    parley::LoadContext ctx("domain", false);
    d.load(kSample, ctx);
    CHECK(d.render(0, PARLEY_TEXT_TASK, "") == "File: What is the capital of France?");
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COLLABORATE, "") == "Inline.");

    auto error_of = [&](std::map<std::string, parley::testing::Value> cfg) {
        try {
            TemplateDomain bad(host.config(std::move(cfg)));
        } catch (const parley::Error &e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(error_of({{"prompts", std::string(R"({"task": "Q: {questoin}"})")}}) ==
          "prompts.task: unknown placeholder {questoin} (known: {question}, {task_name}, {task_specific_inst}; write {{ for a literal brace)");
    CHECK(error_of({{"prompts", std::string(R"({"tsak": "x"})")}}).rfind("prompts.tsak: unknown prompt 'tsak' (known: task, ", 0) == 0);
    std::ofstream(dir + "/bad.toml") << "task = \"ok\"\nsystem = 3\n";
    CHECK(error_of({{"prompts_file", dir + "/bad.toml"}}) == dir + "/bad.toml:2:10: system: expected a string");
    std::ofstream(dir + "/broken.toml") << "task = \"unterminated\n";
    CHECK(error_of({{"prompts_file", dir + "/broken.toml"}}).rfind(dir + "/broken.toml:1:", 0) == 0);
}

TEST_CASE("prompts: one pass, literal braces, the extractor written over its system prompt", "[template][prompts]") {
    parley::Template t("{{question} is {question}; \\boxed{} and {x y} stay");
    CHECK(t.render({{"question", "{question}"}}) == "{question} is {question}; \\boxed{} and {x y} stay");
    CHECK_THROWS_AS(parley::Template("{nope}").render({}), parley::Error);
    parley::Prompts::Defaults d;
    d.extractor_system = "0123456789";
    d.extractor = "ab{response}";
    parley::Prompts p(d, {});
    CHECK(p.render(PARLEY_TEXT_EXTRACTOR_PROMPT, {}, "c") == "abc3456789"); // Coral's StringIO overwrite
    CHECK(p.render(PARLEY_TEXT_EXTRACTOR_PROMPT, {}, "cdefghijkl") == "abcdefghijkl");
}
