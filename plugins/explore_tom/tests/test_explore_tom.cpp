#include "explore_tom.hpp"

#include <parley/common/csv.hpp>
#include <parley/common/jsonl.hpp>
#include <parley/common/tom.hpp>
#include "common/test_util.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using parley::explore_tom::ExploreTom;
using namespace parley::test_util;
using Catch::Matchers::Contains;
using parley::common::Profile;

static const std::string kCsv = PARLEY_SHARED_DIR "/data/explore_tom/ExploreToM-data-sample_sample_60.csv";
static const std::string kIndex = PARLEY_SHARED_DIR "/data/explore_tom/ExploreToM-data-sample_sample_60.row_index.txt";

static std::vector<std::vector<std::string>> read_csv(const std::string &path) {
    const std::string data = read_text(path);
    parley::common::CsvReader r(data);
    parley::common::CsvRecord rec;
    std::vector<std::vector<std::string>> out;
    while (r.next(rec)) out.push_back(rec.fields);
    return out;
}

// A value that is wrong for `gold` under both profiles.
static std::string wrong_for(const std::string &gold) {
    if (gold == "yes") return "no";
    if (gold == "no") return "yes";
    if (gold.rfind("knows about", 0) == 0) return "does not know about it";
    if (gold.find("does not know") != std::string::npos) return "knows about it";
    return "purple submarine";
}

TEST_CASE("explore_tom: every shared sample row loads with its gold; ids from the row-index file", "[explore_tom][data]") {
    parley::testing::TestHost host;
    ExploreTom plain(host.config()), indexed(host.config({{"row_index", kIndex}}));
    REQUIRE(try_load(plain, kCsv).ok);
    REQUIRE(try_load(indexed, kCsv).ok);
    auto rows = read_csv(kCsv);
    REQUIRE(rows.size() == 61);
    REQUIRE(rows[0].size() == 18);
    parley::common::CsvHeader h(rows[0]);
    auto index = parley::explore_tom::read_row_index(kIndex);
    REQUIRE(index.size() == 60);
    REQUIRE(plain.size() == 60);
    REQUIRE(indexed.size() == 60);
    for (size_t i = 0; i < 60; ++i) {
        const auto &row = rows[i + 1];
        CAPTURE(i);
        CHECK(plain.item(i).id == std::to_string(i));
        CHECK(indexed.item(i).id == std::to_string(index[i]));
        CHECK(plain.item(i).gold == row[h.find("expected_answer")]);
        CHECK(indexed.item(i).gold == plain.item(i).gold);
        CHECK_FALSE(plain.item(i).gold.empty());
        CHECK(plain.row(i).story == row[h.find("story_structure")]);
        CHECK(plain.item(i).category == row[h.find("param=story_type")]);
        auto meta = nlohmann::json::parse(indexed.item(i).metadata_json);
        CHECK(meta.size() == 19);
        CHECK(meta["expected_answer"] == row[h.find("expected_answer")]);
        CHECK(meta["row_index"].get<uint64_t>() == index[i]);
    }
    ExploreTom infilled(host.config({{"story_field", std::string("infilled_story")}}));
    REQUIRE(try_load(infilled, kCsv).ok);
    for (size_t i = 0; i < 60; ++i) CHECK(infilled.row(i).story == rows[i + 1][h.find("infilled_story")]);
    CHECK_THROWS_AS(ExploreTom(host.config({{"story_field", std::string("story")}})), parley::Error);
}

TEST_CASE("explore_tom: the gold answer as a Short Answer scores correct, a wrong value does not", "[explore_tom][data]") {
    parley::testing::TestHost host;
    for (const char *profile : {"coral", "fixed"}) {
        ExploreTom d(host.config({{"profile", std::string(profile)}}));
        REQUIRE(try_load(d, kCsv).ok);
        for (size_t i = 0; i < d.size(); ++i) {
            const std::string gold = d.item(i).gold;
            CAPTURE(profile, d.item(i).id, gold);
            // coral removes every "the" from the belief but not from the gold, so a gold such as
            // "back office of the vet shop" cannot be matched there (a documented quirk).
            const bool quirk = std::string(profile) == "coral" && gold.find("the") != std::string::npos;
            auto r = d.extract(i, PARLEY_EXTRACT_RULE, "Let me trace where everyone was.\n...\nShort Answer: " + gold);
            CHECK(r.valid);
            if (!quirk) CHECK(d.score(i, r.text) == 1.0);
            auto l = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, "Short Answer: " + gold);
            CHECK(l.text == r.text);
            if (!quirk) CHECK(d.score(i, l.text) == 1.0);
            auto bare = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, gold);
            if (!quirk) CHECK(d.score(i, bare.text) == 1.0);
            auto w = d.extract(i, PARLEY_EXTRACT_RULE, "Short Answer: " + wrong_for(gold));
            CHECK(w.valid);
            CHECK(d.score(i, w.text) == 0.0);
        }
    }
}

TEST_CASE("explore_tom: LLM-output normalisation, coral vs fixed", "[explore_tom][extract][profiles]") {
    using parley::common::tom::normalise_llm;
    struct Case {
        const char *reply, *coral, *fixed;
    };
    const Case cases[] = {
        {"Short Answer: The final answer is the wooden drawer.", "wooden drawer", "wooden drawer"},
        {"The final answer is Yes.", "yes", "yes"},
        {"Short Answer: mother's bag", "mor's bag", "mother's bag"},        // every "the" vs the word
        {"green box\nShort Answer: red box", "green box", "green box"},      // first line only
        {"  Short Answer: box", "short answer: box", "short answer: box"},  // prefix only at the start
        {"drawer. ", "drawer.", "drawer"},                                   // rstrip('.') before strip()
        {"in the box", "in  box", "in box"},
        {"", "", ""},
        {"\nbox", "", ""},
        {"I'm NOT sure yet", "not sure yet", "not sure yet"},
        {"Not sure yet", "not sure yet", "not sure yet"},
    };
    for (auto &c : cases) {
        CAPTURE(c.reply);
        CHECK(normalise_llm(c.reply, false, Profile::Coral) == c.coral);
        CHECK(normalise_llm(c.reply, false, Profile::Fixed) == c.fixed);
    }
    // validity: an empty belief is valid in coral only
    CHECK(parley::common::valid_belief("", Profile::Coral));
    CHECK_FALSE(parley::common::valid_belief("", Profile::Fixed));
    CHECK_FALSE(parley::common::valid_belief("not sure yet", Profile::Coral));
}

TEST_CASE("explore_tom: rule extraction from an agent turn", "[explore_tom][extract]") {
    using parley::common::tom::rule_belief;
    struct Case {
        const char *turn, *belief;
    };
    const Case cases[] = {
        {"Reasoning...\nShort Answer: Metal locker", "metal locker"},
        {"Short Answer: yes\nWait, no.\nShort Answer: no", "no"},          // last occurrence
        {"**Short Answer:** The wooden chest.", "wooden chest"},
        {"short answer: {knows about it}", "knows about it"},
        {"Short Answer:\n\nstaff room", "staff room"},                     // answer on the next line
        {"Short Answer: \"does not know about it\"", "does not know about it"},
        {"I think it is in the box.", "not sure yet"},
        {"Short Answer: not sure yet", "not sure yet"},
    };
    for (auto &c : cases) {
        CAPTURE(c.turn);
        CHECK(rule_belief(c.turn, false, Profile::Coral) == c.belief);
    }
}

TEST_CASE("explore_tom: matcher, coral vs fixed", "[explore_tom][profiles]") {
    using parley::common::tom::match;
    struct Case {
        const char *pred, *target;
        bool coral, fixed;
    };
    const Case cases[] = {
        {"does not know about it", "does not know about it", true, true},
        {"knows about it", "knows about it", true, true},
        {"wooden drawer", "knows about it", true, false},       // no " not " -> "knows"
        {"not sure yet", "knows about it", true, false},        // invalid beliefs score in coral
        {"", "metal locker", true, false},                      // empty pred is a substring of anything
        {"locker", "metal locker", true, true},
        {"l", "metal locker", true, false},                     // substring, not a word
        {"yes, he does", "yes", true, true},
        {"yes. he does", "yes", true, true},
        {"no, yesterday it was", "yes", true, false},           // falls through to "yes" in pred
        {"yes", "no", false, false},
        {"he does not know", "does not know about it", true, true},
        {"not know about it", "does not know about it", true, true}, // coral: falls through to substring
        {"know", "does not know about it", true, false},
        {"the hallway", "hallway", true, true},
        {"Metal Locker", "metal locker", false, true},          // fixed compares lower-case
        {"back office of vet shop", "back office of the vet shop", false, true}, // and without "the"
        {"back office of  vet shop", "back office of the vet shop", false, true},
    };
    for (auto &c : cases) {
        CAPTURE(c.pred, c.target);
        CHECK(match(c.pred, c.target, Profile::Coral) == c.coral);
        CHECK(match(c.pred, c.target, Profile::Fixed) == c.fixed);
    }
}

TEST_CASE("explore_tom: prompts and info", "[explore_tom][prompts]") {
    parley::testing::TestHost host;
    TempDir tmp;
    auto f = tmp.file("t.csv", "story_structure,infilled_story,question,expected_answer\n"
                               "\"A entered.\nA left.\",Prose.,Where is A?,hall\n");
    ExploreTom d(host.config()), inf(host.config({{"story_field", std::string("infilled_story")}}));
    REQUIRE(try_load(d, f).ok);
    REQUIRE(try_load(inf, f).ok);
    CHECK(d.render(0, PARLEY_TEXT_TASK, "") ==
          "I'm trying to answer this question based on the following story:\nStory: A entered.\nA left.\nQuestion: Where is A?");
    CHECK(d.render(0, PARLEY_TEXT_TASK_TEACHER_FIRST, "") ==
          "I would like you to try to answer a question based on the following story: \nStory: A entered.\nA left.\nQuestion: Where is A?");
    CHECK(inf.render(0, PARLEY_TEXT_TASK, "") ==
          "I'm trying to answer this question based on the following story:\nStory: Prose.\nQuestion: Where is A?");
    const std::string name = "theory-of-mind reasoning";
    const std::string inst = "Put your final answer to the question at the end as \"Short Answer: {answer}\"";
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COLLABORATE, "") == jinja(kAssistantSbsShort, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COT, "") == jinja(kSimpleCot, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_SYSTEM, "") == kExtractorSystem);
    const std::string resp(300, 'r');
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, resp) ==
          "**This is the original story and question:**\nStory: A entered.\nA left.\nQuestion: Where is A?\n\n"
          "**This is the response you need to extract an answer from:**\n\n" + resp +
              "\n\n**Extract the final answer which should be less than five words, or say \"not sure yet\".**");
    const std::string body = "**This is the original story and question:**\nStory: A entered.\nA left.\nQuestion: Where is A?\n\n"
                             "**This is the response you need to extract an answer from:**\n\nhall"
                             "\n\n**Extract the final answer which should be less than five words, or say \"not sure yet\".**";
    REQUIRE(body.size() < 307);
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, "hall") == body + std::string(kExtractorSystem).substr(body.size()));
    auto info = d.info();
    CHECK(info.task_name == name);
    CHECK(info.task_specific_inst == inst);
    CHECK(info.matcher_name == "ExploreTOMMatchEvaluator");
    CHECK(info.extractor_name == "ExploreTOMExtractionPromptingEvaluator");
    CHECK(info.score_json_type == PARLEY_SCORE_JSON_INT);
}

TEST_CASE("explore_tom: malformed files name file, line and field", "[explore_tom][errors]") {
    parley::testing::TestHost host;
    TempDir tmp;
    const std::string head = "story_structure,infilled_story,question,expected_answer,param=story_type\n";
    const std::string good = "S.,P.,Q?,box,tomi\n";
    struct Case {
        std::string name, content, loc, field;
        bool fatal;
    };
    const Case cases[] = {
        {"missing column", "story_structure,infilled_story,question,param=story_type\nS.,P.,Q?,tomi\n", ":1", "field 'expected_answer'", true},
        {"broken quote", head + good + "\"S. never closed,P.,Q?,box,tomi\n", ":3", "field 'story_structure'", true},
        {"no gold", head + good + "S.,P.,Q?,,tomi\n", ":3", "field 'expected_answer'", false},
        {"blank gold", head + good + "S.,P.,Q?,\"  \",tomi\n", ":3", "field 'expected_answer'", false},
        {"short row", head + good + "S.,P.,Q?,box\n", ":3", "field 'param=story_type'", false},
        {"no question", head + good + "S.,P.,,box,tomi\n", ":3", "field 'question'", false},
    };
    for (auto &c : cases) {
        CAPTURE(c.name);
        auto f = tmp.file("bad.csv", c.content);
        ExploreTom d(host.config());
        auto o = try_load(d, f);
        CHECK_FALSE(o.ok);
        CHECK(o.code == PARLEY_ERR_PARSE);
        CHECK_THAT(o.message, Contains(f + c.loc));
        CHECK_THAT(o.message, Contains(c.field));
        ExploreTom s(host.config());
        auto so = try_load(s, f, true);
        CHECK(so.ok == !c.fatal);
        if (!c.fatal) {
            CHECK(so.skipped == 1);
            REQUIRE(s.size() == 1);
            CHECK(s.item(0).id == "0");
        }
    }

    // Skipping keeps the ids of the rows after the bad one.
    {
        auto f = tmp.file("skip.csv", head + "S.,P.,Q?,,tomi\n" + good + good);
        auto idx = tmp.file("skip.idx", "# comment\n10\n20\n30\n");
        ExploreTom s(host.config({{"row_index", idx}}));
        auto so = try_load(s, f, true);
        REQUIRE(so.ok);
        REQUIRE(s.size() == 2);
        CHECK(s.item(0).id == "20");
        CHECK(s.item(1).id == "30");
    }
    // Row-index problems.
    {
        auto f = tmp.file("ok.csv", head + good + good);
        auto short_idx = tmp.file("short.idx", "5\n");
        ExploreTom a(host.config({{"row_index", short_idx}}));
        auto o = try_load(a, f);
        CHECK(o.code == PARLEY_ERR_PARSE);
        CHECK_THAT(o.message, Contains(short_idx));
        auto long_idx = tmp.file("long.idx", "5\n6\n7\n");
        ExploreTom b(host.config({{"row_index", long_idx}}));
        CHECK_THAT(try_load(b, f).message, Contains("3 row indices"));
        auto bad_idx = tmp.file("bad.idx", "5\nsix\n");
        ExploreTom c(host.config({{"row_index", bad_idx}}));
        CHECK_THAT(try_load(c, f).message, Contains(bad_idx + ":2"));
        auto dup_idx = tmp.file("dup.idx", "5\n5\n");
        ExploreTom e(host.config({{"row_index", dup_idx}}));
        CHECK_THAT(try_load(e, f).message, Contains(dup_idx + ":2"));
    }
}

TEST_CASE("explore_tom: normaliser and matcher agree with the Python oracle", "[explore_tom][oracle]") {
    // plugins/common/testdata/coral_oracle.json: Coral's formulas run by CPython on fuzzed strings.
    auto cases = nlohmann::json::parse(read_text(PARLEY_COMMON_DIR "/testdata/coral_oracle.json"));
    REQUIRE(cases.size() >= 300);
    for (auto &c : cases) {
        const std::string s = c["s"], t = c["t"];
        CAPTURE(s, t);
        CHECK(parley::common::tom::normalise_llm(s, false, Profile::Coral) == c["tom"].get<std::string>());
        CHECK(parley::common::tom::match_coral(s, t) == (c["match"].get<int>() == 1));
    }
}
