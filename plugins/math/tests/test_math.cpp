#include "math_domain.hpp"

#include "grader.hpp"

#include <parley/common/jsonl.hpp>
#include "common/test_util.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>

using parley::math::MathDomain;
using namespace parley::test_util;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

static const std::string kDir = PARLEY_SHARED_DIR "/data/math";
static const std::string kManifest = PARLEY_SHARED_DIR "/data/math/MANIFEST.txt";

// An independent reading of the gold answer: the last "\boxed{" (or "\fbox{"), brace-matched.
static std::string boxed_gold(const std::string &solution) {
    size_t i = solution.rfind("\\boxed{");
    size_t open = 7;
    if (i == std::string::npos) {
        i = solution.rfind("\\fbox{");
        open = 6;
    }
    REQUIRE(i != std::string::npos);
    int depth = 0;
    for (size_t k = i + open - 1; k < solution.size(); ++k) {
        if (solution[k] == '{') ++depth;
        if (solution[k] == '}' && --depth == 0) return solution.substr(i + open, k - i - open);
    }
    FAIL("unbalanced box");
    return "";
}

static std::vector<std::string> manifest() {
    std::vector<std::string> out;
    std::ifstream in(kManifest);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(line);
    return out;
}

static std::string id_of(const std::string &rel) { // "test/algebra/116.json" -> "algebra/116"
    fs::path p(rel);
    return p.parent_path().filename().string() + "/" + p.stem().string();
}

TEST_CASE("math: every shared sample problem loads from the directory tree with its boxed gold", "[math][data]") {
    parley::testing::TestHost host;
    MathDomain d(host.config());
    auto o = try_load(d, kDir);
    REQUIRE(o.ok);
    auto files = manifest();
    REQUIRE(files.size() == 60);
    REQUIRE(d.size() == 60);
    std::map<std::string, size_t> by_id;
    for (size_t i = 0; i < d.size(); ++i) by_id[d.item(i).id] = i;
    for (auto &rel : files) {
        const std::string id = id_of(rel);
        CAPTURE(id);
        REQUIRE(by_id.count(id));
        const auto &it = d.item(by_id[id]);
        auto j = nlohmann::json::parse(read_text(kDir + "/" + rel));
        CHECK(it.gold == boxed_gold(j["solution"].get<std::string>()));
        CHECK(it.category == j["type"].get<std::string>());
        auto meta = nlohmann::json::parse(it.metadata_json);
        CHECK(meta["problem"] == j["problem"]);
        CHECK(meta["level"] == j["level"]);
        CHECK(meta["answer"].get<std::string>() == it.gold);
    }
    // Loading the split folder itself gives the same ids and order.
    MathDomain d2(host.config());
    REQUIRE(try_load(d2, kDir + "/test").ok);
    REQUIRE(d2.size() == 60);
    for (size_t i = 0; i < 60; ++i) CHECK(d2.item(i).id == d.item(i).id);
    // sorted by subject, then numerically
    for (size_t i = 1; i < 60; ++i) {
        auto a = d.item(i - 1).id, b = d.item(i).id;
        auto sa = a.substr(0, a.find('/')), sb = b.substr(0, b.find('/'));
        if (sa == sb) CHECK(std::stoll(a.substr(a.find('/') + 1)) < std::stoll(b.substr(b.find('/') + 1)));
        else CHECK(sa < sb);
    }
}

TEST_CASE("math: a JSONL of the same fields loads the same items", "[math][data]") {
    parley::testing::TestHost host;
    TempDir tmp;
    std::string with_uid, plain;
    for (auto &rel : manifest()) {
        auto j = nlohmann::ordered_json::parse(read_text(kDir + "/" + rel));
        plain += j.dump() + "\n";
        j["unique_id"] = rel;
        with_uid += j.dump() + "\n";
    }
    MathDomain dir(host.config()), a(host.config()), b(host.config());
    REQUIRE(try_load(dir, kDir).ok);
    REQUIRE(try_load(a, tmp.file("uid.jsonl", with_uid)).ok);
    REQUIRE(try_load(b, tmp.file("plain.jsonl", plain)).ok);
    REQUIRE(a.size() == 60);
    REQUIRE(b.size() == 60);
    std::map<std::string, std::string> gold;
    for (size_t i = 0; i < dir.size(); ++i) gold[dir.item(i).id] = dir.item(i).gold;
    auto files = manifest();
    for (size_t i = 0; i < 60; ++i) {
        CAPTURE(files[i]);
        CHECK(a.item(i).id == id_of(files[i]));      // unique_id -> "<subject>/<n>"
        CHECK(a.item(i).gold == gold[a.item(i).id]);
        CHECK(b.item(i).id == std::to_string(i));    // no id field: the data-row index
        CHECK(b.item(i).gold == a.item(i).gold);
    }
    // Coral's own jsonl carries "answer": it is the gold.
    MathDomain c(host.config());
    REQUIRE(try_load(c, tmp.file("answer.jsonl", "{\"problem\": \"p\", \"answer\": \"\\\\frac{1}{2}\", \"id\": 17}\n")).ok);
    CHECK(c.item(0).gold == "\\frac{1}{2}");
    CHECK(c.item(0).id == "17");
}

TEST_CASE("math: stating the gold answer scores correct, a wrong value does not", "[math][data]") {
    parley::testing::TestHost host;
    for (const char *profile : {"coral", "fixed"}) {
        MathDomain d(host.config({{"profile", std::string(profile)}}));
        REQUIRE(try_load(d, kDir).ok);
        for (size_t i = 0; i < d.size(); ++i) {
            const auto &it = d.item(i);
            CAPTURE(profile, it.id, it.gold);
            auto r = d.extract(i, PARLEY_EXTRACT_RULE, "Working it out step by step ... so the final answer is $\\boxed{" + it.gold + "}$.");
            CHECK(r.valid);
            CHECK(r.text == "The answer is $\\boxed{" + it.gold + "}$.");
            CHECK(d.score(i, r.text) == 1.0);
            if (it.gold.find('\n') == std::string::npos) {
                auto l = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, "$\\boxed{" + it.gold + "}$");
                CHECK(l.valid);
                CHECK(l.text == r.text); // the same canonical form on both paths
                CHECK(d.score(i, l.text) == 1.0);
            }
            auto w = d.extract(i, PARLEY_EXTRACT_RULE, "so the answer is \\boxed{-98765.4321}");
            CHECK(w.valid);
            CHECK(d.score(i, w.text) == 0.0);
            CHECK(d.score(i, "not sure yet") == 0.0);
        }
    }
}

TEST_CASE("math: LLM-output normalisation follows the official regex", "[math][extract]") {
    using parley::math::normalise_llm;
    struct Case {
        const char *reply, *belief;
    };
    const Case cases[] = {
        {"$\\boxed{5}$", "The answer is $\\boxed{5}$."},
        {"The answer is $\\boxed{\\frac{1}{2}}$", "The answer is $\\boxed{\\frac{1}{2}}$."},
        {"$\\boxed{1}$ or $\\boxed{2}$", "The answer is $\\boxed{1}$ or $\\boxed{2}$."}, // greedy .*
        {"$\\boxed{1}$\n$\\boxed{2}$", "The answer is $\\boxed{1}$."},                     // one line
        {"x $\\boxed{3\n}$ and $\\boxed{4}$", "The answer is $\\boxed{4}$."},            // first start that matches
        {"$\\boxed{}$", "The answer is $\\boxed{}$."},
        {"\\boxed{5}", "Error: \\boxed{5}"},                                                  // needs the $...$
        {"I am NOT SURE YET", "not sure yet"},
        {"", "Error: "},
    };
    for (auto &c : cases) {
        CAPTURE(c.reply);
        CHECK(normalise_llm(c.reply) == c.belief);
    }
}

TEST_CASE("math: rule extraction reads the last box of the turn", "[math][extract]") {
    parley::testing::TestHost host;
    TempDir tmp;
    MathDomain d(host.config());
    REQUIRE(try_load(d, tmp.file("p.jsonl", "{\"problem\": \"p\", \"solution\": \"\\\\boxed{2}\"}\n")).ok);
    struct Case {
        const char *turn, *belief;
        bool valid;
    };
    const Case cases[] = {
        {"first \\boxed{1}, then \\boxed{\\frac{1}{2}}", "The answer is $\\boxed{\\frac{1}{2}}$.", true},
        {"$\\boxed{x^{2}+1}$", "The answer is $\\boxed{x^{2}+1}$.", true},
        {"no box here", "not sure yet", false},
        {"\\boxed{unbalanced", "not sure yet", false},
        {"\\boxed{}", "not sure yet", false},
    };
    for (auto &c : cases) {
        CAPTURE(c.turn);
        auto b = d.extract(0, PARLEY_EXTRACT_RULE, c.turn);
        CHECK(b.text == c.belief);
        CHECK(b.valid == c.valid);
    }
}

TEST_CASE("math: coral vs fixed scoring quirks", "[math][profiles]") {
    parley::testing::TestHost host;
    TempDir tmp;
    const std::string f = tmp.file("p.jsonl", "{\"problem\": \"p\", \"answer\": \"5\", \"id\": \"five\"}\n"
                                              "{\"problem\": \"q\", \"answer\": \"a+1\", \"id\": \"apl\"}\n");
    MathDomain coral(host.config()), fixed(host.config({{"profile", std::string("fixed")}}));
    REQUIRE(try_load(coral, f).ok);
    REQUIRE(try_load(fixed, f).ok);
    struct Case {
        size_t item;
        const char *belief;
        double coral, fixed;
    };
    const Case cases[] = {
        {0, "The answer is $\\boxed{5}$.", 1, 1},
        {0, "The answer is 5.", 1, 1},               // fallback strip
        {0, "Error: \\boxed{5}", 1, 0},              // an invalid belief scores in coral
        {0, "not sure yet", 0, 0},
        {1, "The answer is a+1.", 0, 1},             // lstrip character set eats the "a"
        {1, "The answer is $\\boxed{a+1}$.", 1, 1},
    };
    for (auto &c : cases) {
        CAPTURE(c.belief);
        CHECK(coral.score(c.item, c.belief) == c.coral);
        CHECK(fixed.score(c.item, c.belief) == c.fixed);
    }
    CHECK(*coral.raw_answer("The answer is a+1.") == "+1");
    CHECK(*fixed.raw_answer("The answer is a+1.") == "a+1");
    CHECK_FALSE(fixed.raw_answer("Error: \\boxed{5}"));
}

TEST_CASE("math: prompts and info", "[math][prompts]") {
    parley::testing::TestHost host;
    TempDir tmp;
    MathDomain d(host.config());
    REQUIRE(try_load(d, tmp.file("p.jsonl", "{\"problem\": \"Find $x$.\", \"solution\": \"\\\\boxed{2}\"}\n")).ok);
    CHECK(d.render(0, PARLEY_TEXT_TASK, "") == "I'm trying to solve this math problem: \"Find $x$.\"");
    CHECK(d.render(0, PARLEY_TEXT_TASK_TEACHER_FIRST, "") == "I would like you to try and solve this math problem: \"Find $x$.\"");
    const std::string name = "math";
    const std::string inst = "To give a final answer to the question (e.g., \"\\sqrt{3}\"), put your answer in an LaTex box like $\\boxed{\\sqrt{3}}$";
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COLLABORATE, "") == jinja(kAssistantSbsShort, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COT, "") == jinja(kSimpleCot, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_SYSTEM, "") == kExtractorSystem);
    const std::string resp(300, 'r');
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, resp) ==
          "**This is the original question:**\nFind $x$.\n\n**This is the response you need to extract answer from:**\n\n" + resp +
              "\n\n**Extract the answer in $\\boxed{}$ format, or say \"not sure yet\".**");
    const std::string body = "**This is the original question:**\nFind $x$.\n\n**This is the response you need to extract answer from:**\n\nok"
                             "\n\n**Extract the answer in $\\boxed{}$ format, or say \"not sure yet\".**";
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, "ok") == body + std::string(kExtractorSystem).substr(body.size()));
    auto info = d.info();
    CHECK(info.task_name == name);
    CHECK(info.task_specific_inst == inst);
    CHECK(info.matcher_name == "MATHMatchEvaluator");
    CHECK(info.extractor_name == "MATHExtractionPromptingEvaluator");
    CHECK(info.score_json_type == PARLEY_SCORE_JSON_FLOAT);
}

TEST_CASE("math: malformed input names file, line and field", "[math][errors]") {
    parley::testing::TestHost host;
    TempDir tmp;
    const std::string good = "{\"problem\": \"p\", \"level\": \"Level 1\", \"type\": \"Algebra\", \"solution\": \"so \\\\boxed{1}\"}";
    struct Case {
        std::string name, file_content, loc, field;
    };
    const Case files[] = {
        {"no solution", "{\"problem\": \"p\", \"level\": \"Level 1\", \"type\": \"Algebra\"}", "", "field 'solution'"},
        {"no box", "{\"problem\": \"p\", \"solution\": \"the answer is 3\"}", "", "field 'solution'"},
        {"no problem", "{\"solution\": \"\\\\boxed{3}\"}", "", "field 'problem'"},
        {"bad json", "{\n  \"problem\": \"p\",\n  \"solution\": \n}", ":4:", "invalid JSON"},
        {"bad type", "{\"problem\": \"p\", \"solution\": \"\\\\boxed{3}\", \"level\": 3}", "", "field 'level'"},
    };
    for (auto &c : files) {
        CAPTURE(c.name);
        TempDir t;
        t.file("test/algebra/1.json", good);
        const std::string bad = t.file("test/algebra/2.json", c.file_content);
        MathDomain d(host.config());
        auto o = try_load(d, t.path());
        CHECK_FALSE(o.ok);
        CHECK(o.code == PARLEY_ERR_PARSE);
        CHECK_THAT(o.message, Contains(bad + c.loc));
        CHECK_THAT(o.message, Contains(c.field));
        MathDomain s(host.config());
        auto so = try_load(s, t.path(), true);
        CHECK(so.ok);
        CHECK(so.skipped == 1);
        CHECK(s.size() == 1);
    }
    {
        TempDir t;
        t.file("train/algebra/1.json", good);
        t.file("test/algebra/1.json", good);
        MathDomain d(host.config());
        auto o = try_load(d, t.path());
        CHECK_FALSE(o.ok);
        CHECK_THAT(o.message, Contains("duplicate id 'algebra/1'"));
    }
    {
        auto f = tmp.file("bad.jsonl", good + "\n{\"problem\": \"p\"\n" + good + "\n");
        MathDomain d(host.config());
        auto o = try_load(d, f);
        CHECK_THAT(o.message, Contains(f + ":2"));
        CHECK_THAT(o.message, Contains("invalid JSON"));
        auto f2 = tmp.file("nogold.jsonl", good + "\n{\"problem\": \"p\", \"solution\": \"no box\"}\n");
        auto o2 = try_load(d, f2);
        CHECK_THAT(o2.message, Contains(f2 + ":2"));
        CHECK_THAT(o2.message, Contains("field 'solution'"));
        auto f3 = tmp.file("emptyanswer.jsonl", "{\"problem\": \"p\", \"answer\": \" \"}\n");
        auto o3 = try_load(d, f3);
        CHECK_THAT(o3.message, Contains(f3 + ":1"));
        CHECK_THAT(o3.message, Contains("field 'answer'"));
    }
    MathDomain d(host.config());
    CHECK(try_load(d, tmp.path() + "/missing").code == PARLEY_ERR_NOT_FOUND);
}

TEST_CASE("math: normalisation agrees with the Python oracle", "[math][oracle]") {
    // plugins/common/testdata/coral_oracle.json: Coral's formulas run by CPython on fuzzed strings.
    auto cases = nlohmann::json::parse(read_text(PARLEY_COMMON_DIR "/testdata/coral_oracle.json"));
    REQUIRE(cases.size() >= 300);
    for (auto &c : cases) {
        const std::string s = c["s"];
        CAPTURE(s);
        CHECK(parley::math::normalise_llm(s) == c["math"].get<std::string>());
    }
}
