// GPQA tests. The GPQA authors ask that questions never be shown in plain text: these tests
// print record ids only. Comparisons of item text are reduced to a bool before CHECK, so a
// failure prints "false", never the text; nothing here CAPTUREs question or answer text.
#include "gpqa.hpp"

#include <parley/common/csv.hpp>
#include <parley/common/jsonl.hpp>
#include <parley/common/mc.hpp>
#include "common/test_util.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

using parley::gpqa::Gpqa;
using namespace parley::test_util;
using Catch::Matchers::Contains;

static const std::string kSample = PARLEY_SHARED_DIR "/data/gpqa/gpqa_diamond_sample_60.csv";

// A CSV cell, quoted when needed (RFC 4180).
static std::string cell(const std::string &v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string q = "\"";
    for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}
static std::string csv_line(const std::vector<std::string> &cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i) s += ',';
        s += cell(cells[i]);
    }
    return s + "\n";
}

static const std::vector<std::string> kCols = {"Pre-Revision Question", "Question", "Correct Answer",
                                               "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
                                               "Record ID", "High-level domain"};
static std::vector<std::string> tiny_row(const std::string &id, const std::string &q = "SECRET-QUESTION-TEXT") {
    return {"SECRET-PRE", q, "SECRET-RIGHT", "SECRET-WRONG-1", "SECRET-WRONG-2", "SECRET-WRONG-3", id, "Physics"};
}

// Splits the sample file into header and data records (each with its raw text), using the same
// reader the plugin uses; raw text lets a test write the rows back in another order.
struct RawCsv {
    std::string header;
    std::vector<std::string> records;
};
static RawCsv split_records(const std::string &data) {
    RawCsv out;
    parley::common::CsvReader r(data);
    parley::common::CsvRecord rec;
    std::vector<std::string> texts;
    while (r.next(rec)) {
        std::string t;
        for (size_t i = 0; i < rec.fields.size(); ++i) {
            if (i) t += ',';
            t += cell(rec.fields[i]);
        }
        texts.push_back(t + "\n");
    }
    out.header = texts.at(0);
    out.records.assign(texts.begin() + 1, texts.end());
    return out;
}

TEST_CASE("gpqa: csv reader handles RFC-4180 quoting", "[gpqa][csv]") {
    using namespace parley::common;
    const std::string data = "\xEF\xBB\xBF" "a,b,c\r\n"
                             "1,\"x, y\",\"multi\nline \"\"quoted\"\"\"\r\n"
                             "\n"
                             ",,\n"
                             "last,\"\",z";
    CsvReader r(data);
    CsvRecord rec;
    REQUIRE(r.next(rec));
    CHECK(rec.fields == std::vector<std::string>{"a", "b", "c"});
    CHECK(rec.line == 1);
    REQUIRE(r.next(rec));
    CHECK(rec.fields == std::vector<std::string>{"1", "x, y", "multi\nline \"quoted\""});
    CHECK(rec.line == 2);
    CHECK(rec.end_line == 3);
    REQUIRE(r.next(rec));
    CHECK(rec.fields == std::vector<std::string>{"", "", ""});
    CHECK(rec.line == 5);
    REQUIRE(r.next(rec));
    CHECK(rec.fields == std::vector<std::string>{"last", "", "z"});
    CHECK_FALSE(r.next(rec));
}

TEST_CASE("gpqa: csv reader rejects broken quotes with line and field", "[gpqa][csv]") {
    using namespace parley::common;
    CsvRecord rec;
    {
        CsvReader r("a,b\n1,\"open\n2,3\n");
        REQUIRE(r.next(rec));
        try {
            r.next(rec);
            FAIL("no error");
        } catch (const CsvSyntaxError &e) {
            CHECK(e.line == 2);
            CHECK(e.field == 2);
        }
    }
    {
        CsvReader r("a,b\n1,\"x\"y\n4,5\n");
        REQUIRE(r.next(rec));
        CHECK_THROWS_AS(r.next(rec), CsvSyntaxError);
        REQUIRE(r.next(rec)); // resynchronised at the next line
        CHECK(rec.fields == std::vector<std::string>{"4", "5"});
    }
    {
        CsvReader r("a,b\n1,x\"y\n");
        REQUIRE(r.next(rec));
        CHECK_THROWS_AS(r.next(rec), CsvSyntaxError);
    }
}

TEST_CASE("gpqa: every shared sample row loads; the gold letter points at the correct answer", "[gpqa][data]") {
    parley::testing::TestHost host;
    Gpqa d(host.config());
    auto o = try_load(d, kSample);
    REQUIRE(o.ok);
    REQUIRE(d.size() == 60);

    const std::string data = read_text(kSample);
    parley::common::CsvReader r(data);
    parley::common::CsvRecord rec;
    REQUIRE(r.next(rec));
    REQUIRE(rec.fields.size() == 78);
    parley::common::CsvHeader h(rec.fields);
    std::map<int, int> label_counts;
    size_t i = 0;
    while (r.next(rec)) {
        REQUIRE(rec.fields.size() == 78);
        const auto &it = d.item(i);
        const auto &row = d.row(i);
        const std::string id = rec.fields[h.find("Record ID")];
        CAPTURE(id);
        CHECK(it.id == id);
        REQUIRE(it.gold.size() == 1);
        const int label = it.gold[0] - 'A';
        CHECK(label == row.gold - 'A');
        label_counts[label]++;
        const std::string correct(parley::common::py_strip(rec.fields[h.find("Correct Answer")]));
        const bool gold_is_correct = row.options[label] == correct;
        CHECK(gold_is_correct);
        // the other three are the incorrect answers, each once
        std::vector<std::string> wrong, shown;
        for (int k = 1; k <= 3; ++k)
            wrong.emplace_back(parley::common::py_strip(rec.fields[h.find("Incorrect Answer " + std::to_string(k))]));
        for (int k = 0; k < 4; ++k)
            if (k != label) shown.push_back(row.options[k]);
        std::sort(wrong.begin(), wrong.end());
        std::sort(shown.begin(), shown.end());
        const bool distractors_ok = wrong == shown;
        CHECK(distractors_ok);
        auto meta = nlohmann::json::parse(it.metadata_json);
        CHECK(meta["label"].get<int>() == label);
        CHECK(meta["choices"].size() == 4);
        const bool meta_question_ok = meta["Question"].get<std::string>() == rec.fields[h.find("Question")];
        CHECK(meta_question_ok);
        CHECK(meta.size() == 78 + 3); // the 78 columns + choices, label, shuffle_seed
        CHECK(it.category == rec.fields[h.find("High-level domain")]);
        ++i;
    }
    CHECK(i == 60);
    CHECK(label_counts.size() == 4); // the shuffle uses every position
}

TEST_CASE("gpqa: the shuffle is deterministic, seeded and independent of row order", "[gpqa][shuffle]") {
    using parley::gpqa::shuffle_order;
    // Reference values computed independently (Python) from the documented algorithm.
    CHECK(shuffle_order(0, "recAAAA") == std::array<int, 4>{0, 1, 3, 2});
    CHECK(shuffle_order(0, "recBBBB") == std::array<int, 4>{2, 0, 3, 1});
    CHECK(shuffle_order(7, "recAAAA") == std::array<int, 4>{0, 3, 1, 2});
    CHECK(shuffle_order(-3, "rec06pnAkLOr2t2mp") == std::array<int, 4>{1, 0, 3, 2});

    parley::testing::TestHost host;
    Gpqa a(host.config()), b(host.config()), rev(host.config()), other(host.config({{"shuffle_seed", int64_t{12345}}}));
    REQUIRE(try_load(a, kSample).ok);
    REQUIRE(try_load(b, kSample).ok);
    REQUIRE(try_load(other, kSample).ok);

    TempDir tmp;
    RawCsv raw = split_records(read_text(kSample));
    REQUIRE(raw.records.size() == 60);
    std::string reversed = raw.header;
    for (auto it = raw.records.rbegin(); it != raw.records.rend(); ++it) reversed += *it;
    REQUIRE(try_load(rev, tmp.file("reversed.csv", reversed)).ok);
    REQUIRE(rev.size() == 60);

    size_t differs_with_other_seed = 0;
    for (size_t i = 0; i < 60; ++i) {
        const size_t j = 59 - i;
        CAPTURE(a.item(i).id);
        CHECK(a.item(i).id == rev.item(j).id);
        CHECK(a.item(i).gold == b.item(i).gold);
        CHECK(a.item(i).gold == rev.item(j).gold);
        const bool same_order = a.row(i).options == rev.row(j).options && a.row(i).options == b.row(i).options;
        CHECK(same_order);
        const bool same_meta = a.item(i).metadata_json == rev.item(j).metadata_json;
        CHECK(same_meta);
        if (a.row(i).options != other.row(i).options) ++differs_with_other_seed;
    }
    CHECK(differs_with_other_seed > 30); // 23 of 24 permutations differ from any given one
    CHECK(nlohmann::json::parse(other.item(0).metadata_json)["shuffle_seed"].get<int64_t>() == 12345);
}

TEST_CASE("gpqa: the gold answer in the final-answer format scores correct, a wrong letter does not", "[gpqa][data]") {
    parley::testing::TestHost host;
    for (const char *profile : {"coral", "fixed"}) {
        Gpqa d(host.config({{"profile", std::string(profile)}}));
        REQUIRE(try_load(d, kSample).ok);
        for (size_t i = 0; i < d.size(); ++i) {
            const auto &it = d.item(i);
            CAPTURE(profile, it.id);
            const char gold = it.gold[0];
            const char wrong = gold == 'D' ? 'C' : 'D';
            auto b = d.extract(i, PARLEY_EXTRACT_RULE, std::string("Working through it...\nThe correct answer is (") + gold + ")");
            CHECK(b.valid);
            CHECK(d.score(i, b.text) == 1.0);
            auto w = d.extract(i, PARLEY_EXTRACT_RULE, std::string("The correct answer is (") + wrong + ")");
            CHECK(d.score(i, w.text) == 0.0);
            auto l = d.extract(i, PARLEY_EXTRACT_LLM_OUTPUT, std::string("(") + gold + ")");
            CHECK(l.text == b.text);
            CHECK(d.score(i, l.text) == 1.0);
            CHECK(d.score(i, "not sure yet") == 0.0);
        }
    }
}

TEST_CASE("gpqa: prompts and info", "[gpqa][prompts]") {
    parley::testing::TestHost host;
    TempDir tmp;
    auto f = tmp.file("t.csv", csv_line(kCols) + csv_line(tiny_row("recAAAA", "Q \"x\"?")));
    Gpqa d(host.config());
    REQUIRE(try_load(d, f).ok);
    // order for (0, recAAAA) is [0,1,3,2]: Correct, Incorrect 1, Incorrect 3, Incorrect 2
    CHECK(d.item(0).gold == "A");
    const std::string opts = "(A) SECRET-RIGHT\n(B) SECRET-WRONG-1\n(C) SECRET-WRONG-3\n(D) SECRET-WRONG-2";
    CHECK(d.render(0, PARLEY_TEXT_TASK, "") == "I'm trying to solve this problem: \"Q \"x\"?\"\nAnd the choices are:\n" + opts);
    const std::string name = "PhD-level biology, physics, and chemistry";
    const std::string inst =
        "To give a final answer, do it in the format of \"The correct answer is (insert answer here)\", such as \"The correct answer is (B)\"";
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COLLABORATE, "") == jinja(kAssistantSbs, name, inst)); // ts_gpqa uses assistant_sbs
    CHECK(d.render(0, PARLEY_TEXT_SYSTEM_COT, "") == jinja(kSimpleCot, name, inst));
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_SYSTEM, "") == kExtractorSystem);
    const std::string resp(400, 'r');
    CHECK(d.render(0, PARLEY_TEXT_EXTRACTOR_PROMPT, resp) ==
          "**This is the original question:**\nQ \"x\"?\n\n\n\n**And the options are:**\n" + opts +
              "\n\n**This is the response you need to extract answer from:**\n\n" + resp +
              "\n\n**Extract the answer in ([A-Z]) format, or say \"not sure yet\".**");
    CHECK_THROWS_AS(d.render(0, PARLEY_TEXT_TASK_TEACHER_FIRST, ""), parley::Error);
    auto info = d.info();
    CHECK(info.sensitive_text);
    CHECK(info.matcher_name == "GPQAMatchEvaluator");
    CHECK(info.extractor_name == "GPQAExtractionPromptingEvaluator");
    CHECK(info.score_json_type == PARLEY_SCORE_JSON_BOOL);
    CHECK(info.task_name == name);
}

TEST_CASE("gpqa: coral vs fixed", "[gpqa][profiles]") {
    parley::testing::TestHost host;
    TempDir tmp;
    // With four options the "Error: ..." -> "E" quirk cannot score; the character-set strip can.
    auto f = tmp.file("t.csv", csv_line(kCols) + csv_line(tiny_row("recAAAA")));
    Gpqa coral(host.config()), fixed(host.config({{"profile", std::string("fixed")}}));
    REQUIRE(try_load(coral, f).ok);
    REQUIRE(try_load(fixed, f).ok);
    REQUIRE(coral.item(0).gold == "A");
    CHECK(coral.score(0, "This is (A)") == 1.0); // character-set lstrip
    CHECK(fixed.score(0, "This is (A)") == 0.0);
    CHECK(coral.score(0, "Error: A") == 0.0);    // "EA"
    CHECK(coral.score(0, "The answer is (A).") == 1.0);
    CHECK(fixed.score(0, "The answer is (A).") == 1.0);
    CHECK(coral.extract(0, PARLEY_EXTRACT_LLM_OUTPUT, "").text == "Error: ");
    CHECK_FALSE(coral.extract(0, PARLEY_EXTRACT_LLM_OUTPUT, "").valid);
}

TEST_CASE("gpqa: malformed files fail with file, line, field and record id, never question text", "[gpqa][errors]") {
    parley::testing::TestHost host;
    TempDir tmp;
    const std::string head = csv_line(kCols);
    const std::string good = csv_line(tiny_row("recGOOD1"));
    struct Case {
        std::string name, content, expect_loc, expect_field;
        bool fatal; // not skippable
    };
    auto no_gold = tiny_row("recNOGOLD");
    no_gold[2] = "  \n";
    auto no_id = tiny_row("");
    auto short_row = tiny_row("recSHORT");
    short_row.pop_back();
    std::vector<std::string> cols_missing = kCols;
    cols_missing.erase(cols_missing.begin() + 2); // no "Correct Answer" column
    auto row_missing = tiny_row("recX");
    row_missing.erase(row_missing.begin() + 2);
    const Case cases[] = {
        {"missing column", csv_line(cols_missing) + csv_line(row_missing), ":1", "field 'Correct Answer'", true},
        {"broken quote", head + good + "SECRET-PRE,\"SECRET-QUESTION-TEXT never closed,a,b,c,d,recQ,Physics\n", ":3",
         "field 'Question'", true},
        {"no gold", head + good + csv_line(no_gold), ":3", "field 'Correct Answer'", false},
        {"no id", head + good + csv_line(no_id), ":3", "field 'Record ID'", false},
        {"short row", head + good + csv_line(short_row), ":3", "field 'High-level domain'", false},
        {"duplicate", head + good + good, ":3", "duplicate", false},
    };
    for (auto &c : cases) {
        CAPTURE(c.name);
        auto f = tmp.file("bad.csv", c.content);
        Gpqa d(host.config());
        auto o = try_load(d, f);
        CHECK_FALSE(o.ok);
        CHECK(o.code == PARLEY_ERR_PARSE);
        CHECK_THAT(o.message, Contains(f + c.expect_loc));
        CHECK_THAT(o.message, Contains(c.expect_field));
        const bool leaks = o.message.find("SECRET") != std::string::npos;
        CHECK_FALSE(leaks);
        if (c.name == "no gold") CHECK_THAT(o.message, Contains("recNOGOLD"));

        Gpqa s(host.config());
        auto so = try_load(s, f, true);
        CHECK(so.ok == !c.fatal);
        if (!c.fatal) {
            CHECK(so.skipped == 1);
            CHECK(s.size() == 1);
        }
    }
    for (auto &line : host.logs()) {
        const bool leaks = line.find("SECRET") != std::string::npos;
        CHECK_FALSE(leaks);
    }
}
