#include "mmlu_pro.hpp"

#include <parley/common/jsonl.hpp>
#include <parley/common/mc.hpp>
#include "common/test_util.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using parley::mmlu_pro::MmluPro;
using namespace parley::test_util;
using Catch::Matchers::Contains;

static const std::string kSample = PARLEY_SHARED_DIR "/data/mmlu_pro/test_sample_60.jsonl";
static const std::string kValidation = PARLEY_SHARED_DIR "/data/mmlu_pro/validation.jsonl";

static std::string row_json(int qid, const std::string &question, std::vector<std::string> options, const char *answer,
                            int answer_index) {
    nlohmann::ordered_json j;
    j["question_id"] = qid;
    j["question"] = question;
    j["options"] = options;
    if (answer) j["answer"] = answer;
    if (answer_index >= 0) j["answer_index"] = answer_index;
    j["cot_content"] = "";
    j["category"] = "math";
    j["src"] = "ori_mmlu-high_school_mathematics";
    return j.dump();
}

TEST_CASE("mmlu_pro: every shared sample row loads with its gold letter", "[mmlu_pro][data]") {
    parley::testing::TestHost host;
    MmluPro d(host.config());
    auto o = try_load(d, kSample);
    REQUIRE(o.ok);
    REQUIRE(d.size() == 60);

    // Independent reading of the same file.
    std::ifstream in(kSample);
    std::string line;
    size_t i = 0;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line);
        const auto &it = d.item(i);
        CAPTURE(it.id);
        CHECK(it.id == std::to_string(j["question_id"].get<int64_t>()));
        CHECK(it.gold == j["answer"].get<std::string>());
        CHECK(it.gold[0] - 'A' == j["answer_index"].get<int>());
        CHECK(it.category == j["category"].get<std::string>());
        auto meta = nlohmann::json::parse(it.metadata_json);
        CHECK(meta["question"] == j["question"]);
        CHECK(meta["choices"].size() == j["options"].size());
        CHECK(meta["choices"][it.gold] == j["options"][j["answer_index"].get<int>()]);
        ++i;
    }
    CHECK(i == 60);
}

TEST_CASE("mmlu_pro: the gold answer in the final-answer format scores correct, a wrong letter does not",
          "[mmlu_pro][data]") {
    parley::testing::TestHost host;
    for (const char *profile : {"coral", "fixed"}) {
        MmluPro d(host.config({{"profile", std::string(profile)}}));
        REQUIRE(try_load(d, kSample).ok);
        for (size_t i = 0; i < d.size(); ++i) {
            const auto &it = d.item(i);
            CAPTURE(profile, it.id);
            const char gold = it.gold[0];
            const char wrong = gold == 'A' ? 'B' : 'A';
            auto turn = [](char l) {
                return std::string("Let me work through this step by step.\nOption (A) is tempting but wrong.\n") +
                       "The correct answer is (" + l + ")";
            };
            auto b = d.extract(i, PARLEY_EXTRACT_RULE, turn(gold));
            CHECK(b.valid);
            CHECK(b.text == std::string("The answer is (") + gold + ").");
            CHECK(d.score(i, b.text) == 1.0);
            auto w = d.extract(i, PARLEY_EXTRACT_RULE, turn(wrong));
            CHECK(w.valid);
            CHECK(d.score(i, w.text) == 0.0);

            // A typical extractor reply, normalised by the official regex.
            auto l = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, std::string("The answer is (") + gold + ")");
            CHECK(l.valid);
            CHECK(l.text == b.text); // same canonical form on both paths
            CHECK(d.score(i, l.text) == 1.0);
            auto lw = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, std::string("(") + wrong + ")");
            CHECK(d.score(i, lw.text) == 0.0);
        }
    }
}

TEST_CASE("mmlu_pro: validation split with N/A padding - coral shows the padding, fixed drops it", "[mmlu_pro][data]") {
    parley::testing::TestHost host;
    MmluPro coral(host.config()), fixed(host.config({{"profile", std::string("fixed")}}));
    REQUIRE(try_load(coral, kValidation).ok);
    REQUIRE(try_load(fixed, kValidation).ok);
    REQUIRE(coral.size() == 70);
    REQUIRE(fixed.size() == 70);
    size_t padded = 0;
    for (size_t i = 0; i < coral.size(); ++i) {
        CAPTURE(coral.item(i).id);
        CHECK(coral.row(i).options.size() == 10); // the release pads every row to 10
        for (auto &o : fixed.row(i).options) CHECK(o != "N/A");
        CHECK(size_t(fixed.item(i).gold[0] - 'A') < fixed.row(i).options.size());
        CHECK(fixed.render(i, PARLEY_TEXT_TASK, "").find("N/A") == std::string::npos);
        padded += coral.render(i, PARLEY_TEXT_TASK, "").find(") N/A") != std::string::npos;
    }
    CHECK(padded == 21);
}

TEST_CASE("mmlu_pro: trailing N/A options are shown, lettered and extractable under coral only", "[mmlu_pro][data]") {
    parley::testing::TestHost host;
    TempDir tmp;
    auto f = tmp.file("q.jsonl", row_json(7, "What is 1+1?", {"1", "2", "3", "N/A", "N/A"}, "B", 1) + "\n");
    const std::string shown = "(A) 1\n(B) 2\n(C) 3\n(D) N/A\n(E) N/A", real = "(A) 1\n(B) 2\n(C) 3";
    // Coral's MMLUProTSPromptingDataset: choices = {chr(65+i): option for every option}, and the
    // task and extractor prompts list them all.
    MmluPro coral(host.config());
    REQUIRE(try_load(coral, f).ok);
    CHECK(coral.render(0, PARLEY_TEXT_TASK, "") ==
          "I'm trying to solve this problem: \"What is 1+1?\"\nAnd the choices are:\n" + shown);
    CHECK_THAT(coral.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, std::string(400, 'x')), Contains(shown + "\n\n"));
    auto meta = nlohmann::ordered_json::parse(coral.item(0).metadata_json);
    CHECK(meta["choices"].dump() == R"({"A":"1","B":"2","C":"3","D":"N/A","E":"N/A"})");
    CHECK(coral.extract(0, PARLEY_EXTRACT_RULE, "So the answer is E").text == "The answer is (E)."); // a shown letter

    MmluPro fixed(host.config({{"profile", std::string("fixed")}}));
    REQUIRE(try_load(fixed, f).ok);
    CHECK(fixed.render(0, PARLEY_TEXT_TASK, "") ==
          "I'm trying to solve this problem: \"What is 1+1?\"\nAnd the choices are:\n" + real);
    CHECK(nlohmann::ordered_json::parse(fixed.item(0).metadata_json)["choices"].size() == 3);
    CHECK(fixed.extract(0, PARLEY_EXTRACT_RULE, "So the answer is E").text == "not sure yet"); // not an option

    // Padding alone is not options, in either profile.
    auto g = tmp.file("pad.jsonl", row_json(8, "Q?", {"1", "N/A", "N/A"}, "A", 0) + "\n");
    MmluPro d(host.config());
    auto o = try_load(d, g);
    CHECK_FALSE(o.ok);
    CHECK_THAT(o.message, Contains("1 options besides \"N/A\" padding"));
}

TEST_CASE("mmlu_pro: prompts are byte-exact", "[mmlu_pro][prompts]") {
    parley::testing::TestHost host;
    TempDir tmp;
    auto f = tmp.file("q.jsonl", row_json(7, "What is 1+1?", {"1", "2", "3"}, "B", 1) + "\n");
    MmluPro d(host.config());
    REQUIRE(try_load(d, f).ok);

    CHECK(d.render(0, PARLEY_TEXT_TASK, "") ==
          "I'm trying to solve this problem: \"What is 1+1?\"\nAnd the choices are:\n(A) 1\n(B) 2\n(C) 3");
    const std::string name = "reasoning-focused question answering";
    const std::string inst =
        "To give a final answer, do it in the format of \"The correct answer is (insert answer here)\", such as \"The correct answer is (B)\"";
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COLLABORATE, "") == jinja(kAssistantSbsShort, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COT, "") == jinja(kSimpleCot, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_SYSTEM, "") == kExtractorSystem);
    CHECK(std::string(kExtractorSystem).size() == 307);

    // A long response: the prompt is longer than the system prompt, so no StringIO leftover.
    const std::string resp(400, 'x');
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, resp) ==
          "**This is the original question:**\nWhat is 1+1?\n\n\n\n**And the options are:**\n(A) 1\n(B) 2\n(C) 3\n\n"
          "**This is the response you need to extract answer from:**\n\n" +
              resp + "\n\n**Extract the answer in ([A-Z]) format, or say \"not sure yet\".**");

    // A short one: StringIO(sys_prompt).write(prompt) keeps the system prompt's tail.
    const std::string body = "**This is the original question:**\nWhat is 1+1?\n\n\n\n**And the options are:**\n(A) 1\n(B) 2\n(C) 3\n\n"
                             "**This is the response you need to extract answer from:**\n\nB\n\n**Extract the answer in ([A-Z]) format, or say \"not sure yet\".**";
    REQUIRE(body.size() < 307);
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, "B") == body + std::string(kExtractorSystem).substr(body.size()));

    // Non-ASCII: Python counts code points, not bytes.
    const std::string resp2 = "\xC3\xA9\xC3\xA9"; // "éé": 2 code points, 4 bytes
    std::string body2 = body;
    body2.replace(body2.find("\n\nB\n\n") + 2, 1, resp2);
    const size_t cps = body2.size() - 2; // 2 two-byte characters
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, resp2) == body2 + std::string(kExtractorSystem).substr(cps));

    // No teacher-first message for MMLU-Pro.
    CHECK_THROWS_AS(d.render(0, PARLEY_TEXT_TASK_TEACHER_FIRST, ""), parley::Error);

    auto info = d.info();
    CHECK(info.task_name == name);
    CHECK(info.task_specific_inst == inst);
    CHECK(info.matcher_name == "MMLUProMatchEvaluator");
    CHECK(info.extractor_name == "MMLUProExtractionPromptingEvaluator");
    CHECK(info.score_json_type == PARLEY_SCORE_JSON_BOOL);
    CHECK_FALSE(info.sensitive_text);
}

TEST_CASE("mmlu_pro: LLM-output normalisation follows the official regexes", "[mmlu_pro][extract]") {
    parley::testing::TestHost host;
    TempDir tmp;
    auto f = tmp.file("q.jsonl", row_json(7, "Q?", {"a", "b", "c", "d", "e", "f"}, "E", 4) + "\n");
    MmluPro d(host.config());
    REQUIRE(try_load(d, f).ok);
    struct Case {
        const char *reply, *belief;
        bool valid;
    };
    const Case cases[] = {
        {"(B)", "The answer is (B).", true},
        {"The answer is (C).", "The answer is (C).", true},
        {"(A) or (B)", "The answer is (A).", true},       // first match
        {"Not Sure Yet (B)", "not sure yet", false},       // checked first, case-insensitive
        {"B", "Error: B", false},                          // no parenthesised letter
        {"(b)", "Error: (b)", false},                      // capitals only
        {"", "Error: ", false},
        {"( B)", "Error: ( B)", false},
        {"The answer is (Z)", "The answer is (Z).", true}, // any capital, even beyond the options
    };
    for (auto &c : cases) {
        CAPTURE(c.reply);
        auto b = d.extract(0, PARLEY_EXTRACT_LLM_OUTPUT, c.reply);
        CHECK(b.text == c.belief);
        CHECK(b.valid == c.valid);
    }
}

TEST_CASE("mmlu_pro: rule extraction from an agent turn", "[mmlu_pro][extract]") {
    parley::testing::TestHost host;
    TempDir tmp;
    auto f = tmp.file("q.jsonl", row_json(7, "Q?", {"a", "b", "c", "d", "e"}, "C", 2) + "\n");
    MmluPro d(host.config());
    REQUIRE(try_load(d, f).ok);
    struct Case {
        const char *turn, *belief;
    };
    const Case cases[] = {
        {"The correct answer is (C)", "The answer is (C)."},
        {"I first thought the correct answer is (A). On reflection the correct answer is (C).", "The answer is (C)."},
        {"**The correct answer is: (D)**", "The answer is (D)."},
        {"So the answer is (B).", "The answer is (B)."},
        {"The answer is B.", "The answer is (B)."},
        {"Answer: E", "The answer is (E)."},
        {"The correct answer is (C). If the answer is (D) we would need x>0.", "The answer is (C)."}, // tier 1 wins
        {"the answer is I think unclear", "not sure yet"}, // "I" is not one of 5 options
        {"The answer is not A", "not sure yet"},
        {"No conclusion yet, let's check (B) again.", "not sure yet"},
        {"", "not sure yet"},
    };
    for (auto &c : cases) {
        CAPTURE(c.turn);
        auto b = d.extract(0, PARLEY_EXTRACT_RULE, c.turn);
        CHECK(b.text == c.belief);
        CHECK(b.valid == (std::string(c.belief) != "not sure yet"));
    }
}

TEST_CASE("mmlu_pro: coral vs fixed scoring quirks", "[mmlu_pro][profiles]") {
    using namespace parley::common;
    // extract_letter_answer: lstrip of a character set, then every capital.
    struct Case {
        const char *belief, *coral, *fixed;
    };
    const Case cases[] = {
        {"The answer is (B).", "B", "B"},
        {"not sure yet", "", ""},
        {"Error: the extractor said nothing", "E", ""},       // coral: an error scores as "E"
        {"Error: Both", "EB", ""},
        {"This is (C)", "C", ""},                              // char-set strip eats "This is "
        {"The answer is The (D)", "D", ""},
        {"The answer is (A) and (B)", "AB", ""},
        {"The answer is (\xC3\x89)", "\xC3\x89", ""},          // 'É'.isupper()
        {"  The answer is (B).  ", "B", "B"},
    };
    for (auto &c : cases) {
        CAPTURE(c.belief);
        CHECK(mc::extract_letter_coral(c.belief) == c.coral);
        CHECK(mc::extract_letter_fixed(c.belief) == c.fixed);
    }

    parley::testing::TestHost host;
    TempDir tmp;
    auto f = tmp.file("q.jsonl", row_json(1, "Q?", {"a", "b", "c", "d", "e"}, "E", 4) + "\n");
    MmluPro coral(host.config({{"profile", std::string("coral")}}));
    MmluPro fixed(host.config({{"profile", std::string("fixed")}}));
    REQUIRE(try_load(coral, f).ok);
    REQUIRE(try_load(fixed, f).ok);
    auto err = coral.extract(0, PARLEY_EXTRACT_LLM_OUTPUT, "no letter here");
    CHECK(err.text == "Error: no letter here");
    CHECK_FALSE(err.valid);
    CHECK(coral.score(0, err.text) == 1.0); // the official quirk: "Error..." -> "E" == gold E
    CHECK(fixed.score(0, err.text) == 0.0);
    CHECK(coral.score(0, "The answer is (E).") == 1.0);
    CHECK(fixed.score(0, "The answer is (E).") == 1.0);

    CHECK_THROWS_AS(MmluPro(host.config({{"profile", std::string("other")}})), parley::Error);
}

TEST_CASE("mmlu_pro: malformed input names file, line and field", "[mmlu_pro][errors]") {
    parley::testing::TestHost host;
    TempDir tmp;
    const std::string good = row_json(1, "Q?", {"a", "b", "c"}, "A", 0);
    struct Case {
        std::string second_line, expect_field;
    };
    const Case cases[] = {
        {"{\"question_id\": 2, \"question\": \"Q\"", "invalid JSON"},
        {row_json(2, "Q?", {"a", "b", "c"}, nullptr, -1), "field 'answer'"},           // no gold
        {row_json(2, "Q?", {"a", "b", "c"}, "", -1), "field 'answer'"},
        {row_json(2, "Q?", {"a", "b", "c"}, "D", -1), "field 'answer'"},               // out of range
        {row_json(2, "Q?", {"a", "b", "c"}, "A", 2), "field 'answer_index'"},
        {"{\"question_id\": 2, \"options\": [\"a\",\"b\"], \"answer\": \"A\"}", "field 'question'"},
        {"{\"question\": \"Q\", \"options\": [\"a\",\"b\"], \"answer\": \"A\"}", "field 'question_id'"},
        {"{\"question_id\": 2, \"question\": \"Q\", \"options\": \"a,b\", \"answer\": \"A\"}", "field 'options'"},
        {row_json(1, "Q?", {"a", "b", "c"}, "A", 0), "duplicate"},
        {"[1, 2]", "expected a JSON object"},
    };
    for (auto &c : cases) {
        CAPTURE(c.second_line);
        auto f = tmp.file("bad.jsonl", good + "\n" + c.second_line + "\n" + row_json(3, "Q3", {"x", "y"}, "B", 1) + "\n");
        MmluPro d(host.config());
        auto o = try_load(d, f);
        CHECK_FALSE(o.ok);
        CHECK(o.code == PARLEY_ERR_PARSE);
        CHECK_THAT(o.message, Contains(f + ":2"));
        CHECK_THAT(o.message, Contains(c.expect_field));
        CHECK(d.size() == 0);

        // Skipping: the bad row is counted and the others are kept.
        MmluPro s(host.config());
        auto so = try_load(s, f, true);
        CHECK(so.ok);
        CHECK(so.skipped == 1);
        CHECK(s.size() == 2);
    }

    MmluPro d(host.config());
    auto missing = try_load(d, tmp.path() + "/nope.jsonl");
    CHECK(missing.code == PARLEY_ERR_NOT_FOUND);
    auto empty = try_load(d, tmp.file("empty.jsonl", "\n\n"));
    CHECK(empty.code == PARLEY_ERR_PARSE);
}

TEST_CASE("mmlu_pro: the C ABI table works end to end", "[mmlu_pro][abi]") {
    parley::testing::TestHost host;
    auto cfg = host.config({{"profile", std::string("fixed")}});
    const parley_domain_vtable *vt = parley::detail::DomainTable<MmluPro>::table();
    void *self = nullptr;
    parley_error err{};
    REQUIRE(vt->create(host.api(), cfg.raw(), &self, &err) == PARLEY_OK);
    parley_load_result lr{};
    lr.struct_size = sizeof lr;
    REQUIRE(vt->load(self, parley_str{kSample.data(), kSample.size()}, 0, &lr, &err) == PARLEY_OK);
    CHECK(lr.n_items == 60);
    parley_item_info ii{};
    ii.struct_size = sizeof ii;
    REQUIRE(vt->get_item(self, 0, &ii, &err) == PARLEY_OK);
    const std::string gold(ii.gold.data, ii.gold.size);
    std::string belief;
    int32_t valid = 0;
    const std::string turn = "The correct answer is (" + gold + ")";
    REQUIRE(vt->extract(self, 0, PARLEY_EXTRACT_RULE, parley_str{turn.data(), turn.size()},
                        parley::testing::TestHost::buffer(belief), &valid, &err) == PARLEY_OK);
    CHECK(valid == 1);
    double sc = -1;
    REQUIRE(vt->score(self, 0, parley_str{belief.data(), belief.size()}, &sc, &err) == PARLEY_OK);
    CHECK(sc == 1.0);
    parley_domain_info di{};
    di.struct_size = sizeof di;
    REQUIRE(vt->get_info(self, &di, &err) == PARLEY_OK);
    CHECK(std::string(di.matcher_name.data, di.matcher_name.size) == "MMLUProMatchEvaluator");
    // A failed load leaves the held items untouched.
    const std::string bad = "/nonexistent/file.jsonl";
    CHECK(vt->load(self, parley_str{bad.data(), bad.size()}, 0, &lr, &err) == PARLEY_ERR_NOT_FOUND);
    CHECK(vt->get_item(self, 59, &ii, &err) == PARLEY_OK);
    vt->destroy(self);
}

TEST_CASE("mmlu_pro: normalisation and letter extraction agree with the Python oracle", "[mmlu_pro][oracle]") {
    // plugins/common/testdata/coral_oracle.json: Coral's formulas run by CPython on fuzzed strings.
    auto cases = nlohmann::json::parse(read_text(PARLEY_COMMON_DIR "/testdata/coral_oracle.json"));
    REQUIRE(cases.size() >= 300);
    for (auto &c : cases) {
        const std::string s = c["s"];
        CAPTURE(s);
        CHECK(parley::common::mc::normalise_llm(s) == c["mc"].get<std::string>());
        CHECK(parley::common::mc::extract_letter_coral(s) == c["letter"].get<std::string>());
    }
}
