#include "arithmetic.hpp"
#include "dialogue.hpp"

#include "common/test_util.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace parley::arithmetic;
using namespace parley::test_util;
using Catch::Matchers::Contains;
using parley::common::Profile;

static Spec spec(Split s, int64_t count, uint64_t seed = 1) {
    Spec x;
    x.split = s;
    x.count = count;
    x.seed = seed;
    return x;
}

TEST_CASE("arithmetic: the generator is seeded, chains + and - left to right, and a larger count extends a smaller one",
          "[arithmetic][generator]") {
    auto a = generate(spec(Split::Train, 300, 7)), b = generate(spec(Split::Train, 100, 7)), c = generate(spec(Split::Train, 100, 8));
    REQUIRE(a.size() == 300);
    for (size_t i = 0; i < b.size(); ++i) CHECK(a[i].expression == b[i].expression);
    size_t same = 0;
    for (size_t i = 0; i < c.size(); ++i) same += c[i].expression == b[i].expression;
    CHECK(same < 20);
    std::set<size_t> steps;
    for (const Problem &p : a) {
        Problem q = parse_expression(p.expression);
        CHECK(q.answer == p.answer);
        CHECK(p.answer >= 0);
        for (const Step &s : p.steps) CHECK((s.b >= 0 && s.b <= 9 && s.result >= 0));
        steps.insert(p.steps.size());
    }
    CHECK(steps == std::set<size_t>{1, 2});
    CHECK(parse_expression("12 - 5 + 3").answer == 10);
    CHECK(solution(parse_expression("3 + 4 - 2")) == "3 + 4 = 7. 7 - 2 = 5. The answer is $\\boxed{5}$.");
}

TEST_CASE("arithmetic: train and held-out problems never share an expression, whatever the seeds", "[arithmetic][generator]") {
    std::set<std::string> train;
    for (uint64_t seed : {1, 2, 3})
        for (const Problem &p : generate(spec(Split::Train, 1500, seed))) train.insert(p.expression);
    size_t heldout = 0;
    for (uint64_t seed : {1, 9})
        for (const Problem &p : generate(spec(Split::Heldout, 300, seed))) {
            CHECK(train.count(p.expression) == 0);
            CHECK(split_of(p.expression, 20) == Split::Heldout);
            ++heldout;
        }
    CHECK(heldout == 600);
    // Asking for more problems than the split has is an error, not a hang.
    Spec tiny = spec(Split::Heldout, 1000);
    tiny.max_steps = 1;
    tiny.operand_max = 3;
    CHECK_THROWS_WITH(generate(tiny), Contains("count") && Contains("distinct heldout problems"));
}

TEST_CASE("arithmetic: a generator spec or a JSON Lines file loads; bad input names the file, line and field",
          "[arithmetic][load]") {
    TempDir t;
    parley::testing::TestHost host;
    ArithmeticDomain d(host.config());
    auto o = try_load(d, t.file("h.json", R"({"split": "heldout", "count": 40, "seed": 3, "steps": [2, 3], "operands": [1, 5]})"));
    REQUIRE(o.ok);
    REQUIRE(d.items.size() == 40);
    CHECK(d.items[0].id == "heldout-0");
    CHECK(d.items[0].text == "What is " + d.problem(0).expression + "?");
    CHECK(d.items[0].gold == std::to_string(d.problem(0).answer));
    CHECK(d.problem(0).steps.size() >= 2);

    o = try_load(d, t.file("bad.json", R"({"split": "test", "count": 4})"));
    CHECK_FALSE(o.ok);
    CHECK_THAT(o.message, Contains("bad.json") && Contains("field 'split'"));
    o = try_load(d, t.file("bad2.json", R"({"count": 4, "operand": [1, 2]})"));
    CHECK_THAT(o.message, Contains("bad2.json") && Contains("field 'operand'") && Contains("unknown"));
    o = try_load(d, t.file("bad3.json", R"({"count": 4, "steps": [3, 1]})"));
    CHECK_THAT(o.message, Contains("bad3.json") && Contains("steps"));

    o = try_load(d, t.file("items.jsonl", "{\"id\": \"a\", \"expression\": \"3 + 4 - 2\", \"answer\": 5}\n"
                                          "{\"id\": \"b\", \"expression\": \"9 - 9\"}\n"));
    REQUIRE(o.ok);
    CHECK(d.items.size() == 2);
    CHECK(d.items[1].gold == "0");
    o = try_load(d, t.file("wrong.jsonl", "{\"id\": \"a\", \"expression\": \"3 + 4\"}\n{\"id\": \"b\", \"expression\": \"3 + 4\", \"answer\": 8}\n"));
    CHECK_THAT(o.message, Contains("wrong.jsonl:2") && Contains("field 'answer'"));
    o = try_load(d, t.file("shape.jsonl", "{\"id\": \"a\", \"expression\": \"3 * 4\"}\n"));
    CHECK_THAT(o.message, Contains("shape.jsonl:1") && Contains("field 'expression'"));
}

TEST_CASE("arithmetic: Coral's prompts with MATH's numeric-answer instruction", "[arithmetic][prompts]") {
    ArithmeticDomain d(Profile::Coral);
    d.set_problems({parse_expression("3 + 4 - 2")});
    const std::string inst = kTaskInst;
    CHECK(d.render(0, PARLEY_TEXT_TASK, {}) == "I'm trying to solve this arithmetic problem: \"What is 3 + 4 - 2?\"");
    CHECK(d.render(0, PARLEY_TEXT_TASK_TEACHER_FIRST, {}) == "I would like you to try and solve this arithmetic problem: \"What is 3 + 4 - 2?\"");
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COLLABORATE, {}) == jinja(kAssistantSbsShort, "arithmetic", inst));
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COT, {}) == jinja(kSimpleCot, "arithmetic", inst));
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_SYSTEM, {}) == kExtractorSystem);
    const std::string ex = d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, "r");
    CHECK(ex.rfind("**This is the original question:**\nWhat is 3 + 4 - 2?\n\n**This is the response you need to extract "
                   "answer from:**\n\nr\n\n**Extract the answer in $\\boxed{}$ format, or say \"not sure yet\".**",
                   0) == 0);
    CHECK(ex.size() == std::string(kExtractorSystem).size()); // shorter than the system prompt: StringIO keeps its tail
}

TEST_CASE("arithmetic: rule and LLM extraction give MATH's normalised belief", "[arithmetic][extract]") {
    ArithmeticDomain d(Profile::Coral);
    d.set_problems({parse_expression("3 + 4 - 2")});
    auto rule = [&](const char *t) { return d.extract(0, PARLEY_EXTRACT_RULE, t); };
    auto llm = [&](const char *t) { return d.extract(0, PARLEY_EXTRACT_LLM_OUTPUT, t); };
    CHECK(rule("3 + 4 = 7. 7 - 2 = 5. The answer is $\\boxed{5}$.").text == "The answer is $\\boxed{5}$.");
    CHECK(rule("First \\boxed{4}, then \\boxed{5}").text == "The answer is $\\boxed{5}$.");
    CHECK(rule("so the answer is 12. Or the answer is -3").text == "The answer is $\\boxed{-3}$.");
    CHECK(rule("3 + 4 = 7.").text == "not sure yet");
    CHECK_FALSE(rule("3 + 4 = 7.").valid);
    CHECK(rule("The answer is $\\boxed{}$.").text == "not sure yet");
    CHECK(llm("$\\boxed{5}$").text == "The answer is $\\boxed{5}$.");
    CHECK(llm("Not sure yet.").text == "not sure yet");
    CHECK(llm("5").text == "Error: 5");
    CHECK_FALSE(llm("5").valid);
}

TEST_CASE("arithmetic: profiles score as MATH's matcher (coral) or by exact integers of valid beliefs (fixed)",
          "[arithmetic][score]") {
    ArithmeticDomain coral(Profile::Coral), fixed(Profile::Fixed);
    coral.set_problems({parse_expression("3 + 4 - 2")});
    fixed.set_problems({parse_expression("3 + 4 - 2")});
    for (auto *d : {&coral, &fixed}) {
        CHECK(d->score(0, "The answer is $\\boxed{5}$.") == 1.0);
        CHECK(d->score(0, "The answer is $\\boxed{6}$.") == 0.0);
        CHECK(d->score(0, "The answer is 5.") == 1.0);
        CHECK(d->score(0, "not sure yet") == 0.0);
    }
    CHECK(coral.score(0, "Error: \\boxed{5}") == 1.0); // Coral's matcher grades invalid beliefs too
    CHECK(fixed.score(0, "Error: \\boxed{5}") == 0.0);
    CHECK(coral.score(0, "The answer is $\\boxed{5.5}$.") == 0.0);
    CHECK(fixed.score(0, "The answer is $\\boxed{05}$.") == 1.0);
    CHECK(fixed.score(0, "The answer is $\\boxed{ 5 }$.") == 1.0);
}

TEST_CASE("arithmetic: synthetic SFT rows train only right turns, in coral_eval's perspective", "[arithmetic][sft]") {
    ArithmeticDomain d(Profile::Coral);
    d.set_problems(generate(spec(Split::Train, 200)));
    SftOptions o;
    o.seed = 5;
    auto rows = make_sft_rows(d, 600, o);
    REQUIRE(rows.size() == 600);
    size_t cot = 0, challenged = 0, stood = 0, agreed = 0, revised = 0;
    for (const SftRow &r : rows) {
        REQUIRE(r.size() >= 3);
        CHECK(r.front().role == "system");
        CHECK(r.back().role == "assistant");
        // The question is the task message's; the trained turn's answer is the gold.
        const std::string &task = r[1].content;
        size_t i = 0;
        while (i < d.items.size() && d.render(i, PARLEY_TEXT_TASK, {}) != task) ++i;
        REQUIRE(i < d.items.size());
        CHECK(d.score(i, rule_belief(r.back().content)) == 1.0);
        if (r.front().content == d.render(i, PARLEY_TEXT_SYSTEM_COT, {})) {
            ++cot;
            CHECK(r.size() == 3);
            continue;
        }
        // Collaboration: turn 0 is the student's; its rows show it as the assistant's.
        CHECK(r[1].role == (r.size() % 2 == 1 ? "user" : "assistant")); // the teacher speaks at odd turns
        const std::string &t = r.back().content;
        challenged += t.rfind("I think there is a mistake.", 0) == 0;
        stood += t.rfind("I checked it again", 0) == 0;
        agreed += t.rfind("I agree.", 0) == 0;
        revised += t.rfind("You are right", 0) == 0;
    }
    CHECK(cot > 80); // 35% of the draws; a dialogue gives 2 or 3 rows
    CHECK(cot < 200);
    CHECK(challenged > 0);
    CHECK(stood > 0);
    CHECK(agreed > 0);
    CHECK(revised > 0);
    std::mt19937_64 rng(1);
    const Problem p = parse_expression("3 + 4 - 2");
    for (int k = 0; k < 50; ++k) {
        Problem w = corrupt(p, rng);
        CHECK(w.answer != p.answer);
        CHECK(w.steps.back().result >= 0);
    }
}
