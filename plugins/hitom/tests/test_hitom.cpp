#include "hitom.hpp"

#include <parley/common/jsonl.hpp>
#include <parley/common/tom.hpp>
#include "common/test_util.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using parley::hitom::HiTom;
using namespace parley::test_util;
using Catch::Matchers::Contains;
using parley::common::Profile;

static const std::string kJson = PARLEY_SHARED_DIR "/data/hitom/Hi-ToM_data_sample_60.json";

static nlohmann::json sample() { return nlohmann::json::parse(read_text(kJson))["data"]; }

static std::string item_json(int sid, const char *answer, const char *choices = "A. red_box, B. green_drawer, C. blue_crate") {
    nlohmann::ordered_json j;
    j["prompting_type"] = "VP";
    j["deception"] = false;
    j["story_length"] = 1;
    j["question_order"] = 0;
    j["sample_id"] = sid;
    j["story"] = "1 Emma entered the hall.\n2 The apple is in the green_drawer.\n\n";
    j["question"] = "Where is the apple really?";
    if (choices) j["choices"] = choices;
    if (answer) j["answer"] = answer;
    return j.dump(4);
}
static std::string doc(const std::vector<std::string> &items) {
    std::string s = "{\n    \"data\": [\n";
    for (size_t i = 0; i < items.size(); ++i) s += (i ? ",\n" : "") + items[i];
    return s + "\n    ]\n}";
}

TEST_CASE("hitom: every shared sample item loads with its gold (free-form and multiple choice)", "[hitom][data]") {
    parley::testing::TestHost host;
    HiTom free(host.config()), mc(host.config({{"multiple_choice", true}}));
    REQUIRE(try_load(free, kJson).ok);
    REQUIRE(try_load(mc, kJson).ok);
    auto data = sample();
    REQUIRE(data.size() == 60);
    REQUIRE(free.size() == 60);
    REQUIRE(mc.size() == 60);
    for (size_t i = 0; i < 60; ++i) {
        const auto &e = data[i];
        CAPTURE(e["sample_id"].get<int>());
        CHECK(free.item(i).id == std::to_string(e["sample_id"].get<int>()));
        CHECK(free.item(i).gold == e["answer"].get<std::string>());
        CHECK(mc.item(i).id == free.item(i).id);
        // the gold letter labels the answer text in the choices string
        const std::string choices = e["choices"].get<std::string>();
        const std::string needle = mc.item(i).gold + ". " + e["answer"].get<std::string>();
        const bool labelled = choices.find(needle + ",") != std::string::npos ||
                              choices.size() >= needle.size() && choices.compare(choices.size() - needle.size(), needle.size(), needle) == 0;
        CHECK(labelled);
        CHECK(mc.row(i).choices.size() == 15);
        auto meta = nlohmann::json::parse(free.item(i).metadata_json);
        CHECK(meta["expected_answer"] == e["answer"]);
        CHECK(meta["story"] == e["story"]);
        CHECK(meta["label"].get<int>() == mc.item(i).gold[0] - 'A');
    }
}

TEST_CASE("hitom: the gold answer scores correct, a wrong one does not", "[hitom][data]") {
    parley::testing::TestHost host;
    auto data = sample();
    for (const char *profile : {"coral", "fixed"}) {
        HiTom d(host.config({{"profile", std::string(profile)}}));
        HiTom mc(host.config({{"profile", std::string(profile)}, {"multiple_choice", true}}));
        REQUIRE(try_load(d, kJson).ok);
        REQUIRE(try_load(mc, kJson).ok);
        for (size_t i = 0; i < d.size(); ++i) {
            const std::string gold = d.item(i).gold;
            CAPTURE(profile, d.item(i).id, gold);
            std::string spaced = gold;
            std::replace(spaced.begin(), spaced.end(), '_', ' ');
            // a wrong choice that is no substring of the gold (nor the reverse)
            std::string wrong;
            for (auto &[l, t] : mc.row(i).choices)
                if (gold.find(t) == std::string::npos && t.find(gold) == std::string::npos) wrong = t;
            REQUIRE_FALSE(wrong.empty());

            // free-form, as Coral scores it
            auto r = d.extract(i, PARLEY_EXTRACT_RULE, "Thinking about who saw what...\nShort Answer: " + spaced);
            CHECK(r.valid);
            CHECK(r.text == gold);
            CHECK(d.score(i, r.text) == 1.0);
            CHECK(d.score(i, d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, "Short Answer: The " + gold).text) == 1.0);
            CHECK(d.score(i, d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, spaced).text) == 1.0);
            CHECK(d.score(i, d.extract(i, PARLEY_EXTRACT_RULE, "Short Answer: " + wrong).text) == 0.0);

            // multiple choice
            const std::string letter = mc.item(i).gold;
            for (const std::string &turn : {"Short Answer: " + letter, "Short Answer: " + letter + ". " + gold,
                                            "Short Answer: " + spaced, "The correct answer is (" + letter + ")"}) {
                CAPTURE(turn);
                auto b = mc.extract(i, PARLEY_EXTRACT_RULE, turn);
                CHECK(b.valid);
                CHECK(b.text == "The answer is (" + letter + ").");
                CHECK(mc.score(i, b.text) == 1.0);
            }
            auto l = mc.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, letter);
            CHECK(l.text == "The answer is (" + letter + ").");
            CHECK(mc.score(i, l.text) == 1.0);
            auto w = mc.extract(i, PARLEY_EXTRACT_RULE, "Short Answer: " + wrong);
            CHECK(w.valid);
            CHECK(mc.score(i, w.text) == 0.0);
            const char other = letter[0] == 'A' ? 'B' : 'A';
            CHECK(mc.score(i, std::string("The answer is (") + other + ").") == 0.0);
        }
    }
}

TEST_CASE("hitom: normaliser and matcher quirks, coral vs fixed", "[hitom][profiles]") {
    using parley::common::tom::match;
    using parley::common::tom::normalise_llm;
    struct N {
        const char *reply, *coral, *fixed;
    };
    const N norm[] = {
        {"Short Answer: green drawer", "green_drawer", "green_drawer"},
        {"Short Answer: The green_drawer.", "green_drawer", "green_drawer"},
        {"in the green drawer", "in__green_drawer", "in_green_drawer"},
        {"green_bathtub", "green_bathtub", "green_bathtub"},
        {"Short Answer: other box", "or_box", "other_box"},
        {"", "", ""},
    };
    for (auto &c : norm) {
        CAPTURE(c.reply);
        CHECK(normalise_llm(c.reply, true, Profile::Coral) == c.coral);
        CHECK(normalise_llm(c.reply, true, Profile::Fixed) == c.fixed);
    }
    struct M {
        const char *pred, *target;
        bool coral, fixed;
    };
    const M cases[] = {
        {"green_drawer", "green_drawer", true, true},
        {"in__green_drawer", "green_drawer", true, true},
        {"in_green_drawer", "green_drawer", true, true},
        {"drawer", "green_drawer", true, false},           // a substring, not the container
        {"", "green_drawer", true, false},                 // empty belief
        {"not sure yet", "green_drawer", false, false},
        {"blue_drawer", "green_drawer", false, false},
    };
    for (auto &c : cases) {
        CAPTURE(c.pred, c.target);
        CHECK(match(c.pred, c.target, Profile::Coral) == c.coral);
        CHECK(match(c.pred, c.target, Profile::Fixed) == c.fixed);
    }
}

TEST_CASE("hitom: choices parsing and resolution", "[hitom][mc]") {
    using parley::hitom::parse_choices;
    using parley::hitom::resolve_choice;
    auto ch = parse_choices("A. red_box, B. green_drawer, C. blue_crate, D. drawer");
    REQUIRE(ch);
    REQUIRE(ch->size() == 4);
    CHECK((*ch)[1] == std::make_pair('B', std::string("green_drawer")));
    CHECK_FALSE(parse_choices("A. x, B y"));
    CHECK_FALSE(parse_choices(""));
    struct R {
        const char *belief;
        char letter; // 0 = none
    };
    const R cases[] = {
        {"green_drawer", 'B'}, {"b", 'B'}, {"(b)", 'B'}, {"b.", 'B'}, {"b._green_drawer", 'B'},
        {"c)_blue_crate", 'C'}, {"in_green_drawer", 'B'}, {"drawer", 'D'}, {"the_green_drawer_i_think", 'B'},
        {"red_box_or_blue_crate", 0}, // two containers named
        {"i_don't_know", 0}, {"z", 0}, {"", 0}, {"(b", 0}, {"bag", 0},
    };
    for (auto &c : cases) {
        CAPTURE(c.belief);
        auto l = resolve_choice(c.belief, *ch);
        CHECK(l.value_or(0) == c.letter);
    }
}

TEST_CASE("hitom: prompts and info", "[hitom][prompts]") {
    parley::testing::TestHost host;
    TempDir tmp;
    auto f = tmp.file("h.json", doc({item_json(7, "green_drawer")}));
    HiTom d(host.config()), mc(host.config({{"multiple_choice", true}}));
    REQUIRE(try_load(d, f).ok);
    REQUIRE(try_load(mc, f).ok);
    const std::string story = "1 Emma entered the hall.\n2 The apple is in the green_drawer.";
    CHECK(d.render(0, PARLEY_TEXT_TASK, "") ==
          "I'm trying to answer this question based on the following story:\nStory: " + story + "\nQuestion: Where is the apple really?");
    CHECK(d.render(0, PARLEY_TEXT_TASK_TEACHER_FIRST, "") ==
          "I would like you to try to answer a question based on the following story: \nStory: " + story +
              "\nQuestion: Where is the apple really?");
    CHECK(mc.render(0, PARLEY_TEXT_TASK, "") ==
          "I'm trying to answer this question based on the following story:\nStory: " + story +
              "\nQuestion: Where is the apple really?\nChoices: A. red_box, B. green_drawer, C. blue_crate");
    CHECK(mc.item(0).gold == "B");
    CHECK(d.item(0).gold == "green_drawer");
    const std::string name = "theory-of-mind reasoning";
    const std::string inst = "Put your final answer to the question at the end as \"Short Answer: {answer}\"";
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COLLABORATE, "") == jinja(kAssistantSbsShort, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COT, "") == jinja(kSimpleCot, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_SYSTEM, "") == kExtractorSystem);
    const std::string resp(300, 'r');
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, resp) ==
          "**This is the original story and question:**\nStory: " + story + "\nQuestion: Where is the apple really?\n\n"
          "**This is the response you need to extract an answer from:**\n\n" + resp +
              "\n\n**Extract the final answer which should be less than five words, or say \"not sure yet\".**");
    auto info = d.info();
    CHECK(info.task_name == name);
    CHECK(info.matcher_name == "ExploreTOMMatchEvaluator");
    CHECK(info.extractor_name == "HiTOMExtractionPromptingEvaluator");
    CHECK(info.score_json_type == PARLEY_SCORE_JSON_INT);
}

TEST_CASE("hitom: malformed input names file, line and field", "[hitom][errors]") {
    parley::testing::TestHost host;
    TempDir tmp;
    const std::string good = item_json(1, "green_drawer");
    // doc() puts the first item at line 3; item_json spans 11 lines, so the second starts at 14.
    struct Case {
        std::string name, content, loc, field;
        bool mc_only;
    };
    const Case cases[] = {
        {"no gold", doc({good, item_json(2, nullptr)}), ":14:", "field 'answer'", false},
        {"empty gold", doc({good, item_json(2, "")}), ":14:", "field 'answer'", false},
        {"no id", doc({good, "{\"story\": \"s\", \"question\": \"q\", \"answer\": \"a\"}"}), ":14:", "field 'sample_id'", false},
        {"duplicate", doc({good, good}), ":14:", "duplicate", false},
        {"answer not a choice", doc({good, item_json(2, "yellow_box")}), ":14:", "field 'choices'", true},
        {"no choices", doc({good, item_json(2, "green_drawer", nullptr)}), ":14:", "field 'choices'", true},
    };
    for (auto &c : cases) {
        CAPTURE(c.name);
        auto f = tmp.file("bad.json", c.content);
        for (bool mc : {false, true}) {
            CAPTURE(mc);
            HiTom d(host.config({{"multiple_choice", mc}}));
            auto o = try_load(d, f);
            if (c.mc_only && !mc) {
                CHECK(o.ok);
                continue;
            }
            CHECK_FALSE(o.ok);
            CHECK(o.code == PARLEY_ERR_PARSE);
            CHECK_THAT(o.message, Contains(f + c.loc));
            CHECK_THAT(o.message, Contains(c.field));
            HiTom s(host.config({{"multiple_choice", mc}}));
            auto so = try_load(s, f, true);
            CHECK(so.ok);
            CHECK(so.skipped == 1);
            CHECK(s.size() == 1);
        }
    }
    HiTom d(host.config());
    auto bad = tmp.file("broken.json", "{\n  \"data\": [\n    {\"sample_id\": 1,}\n  ]\n}");
    auto o = try_load(d, bad);
    CHECK(o.code == PARLEY_ERR_PARSE);
    CHECK_THAT(o.message, Contains(bad + ":3:"));
    CHECK_THAT(o.message, Contains("invalid JSON"));
    auto nodata = tmp.file("nodata.json", "{\"items\": []}");
    CHECK_THAT(try_load(d, nodata).message, Contains("field 'data'"));
}

TEST_CASE("hitom: normaliser agrees with the Python oracle", "[hitom][oracle]") {
    // plugins/common/testdata/coral_oracle.json: Coral's formulas run by CPython on fuzzed strings.
    auto cases = nlohmann::json::parse(read_text(PARLEY_COMMON_DIR "/testdata/coral_oracle.json"));
    REQUIRE(cases.size() >= 300);
    for (auto &c : cases) {
        const std::string s = c["s"];
        CAPTURE(s);
        CHECK(parley::common::tom::normalise_llm(s, true, Profile::Coral) == c["hitom"].get<std::string>());
    }
}
