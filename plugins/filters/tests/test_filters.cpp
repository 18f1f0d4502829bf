// Tests of the filters plugin: hand-worked Coral records and training rows through each filter
// (through the C++ classes with a TestHost config) and one pass through the built .so's C ABI.
#include <catch2/catch.hpp>

#include "filters.hpp"

#include <parley/testing.hpp>

#include <dlfcn.h>

#include <sstream>

using parley::testing::TestHost;
using namespace parley::filters;
using ojson = nlohmann::ordered_json;

namespace {

// ---- builders -----------------------------------------------------------------------------------

// An answer turn in Coral's shape; annotation keys are deliberately not the usual names (the
// filters find them by shape).
ojson turn(const std::string &role, const std::string &content, const std::string &belief, bool valid, bool em,
           bool agreement = false, int tokens = 5, ojson sibs = nullptr) {
    ojson t;
    t["role"] = role;
    t["content"] = content;
    t["info"]["status_ok"] = true;
    t["info"]["usage"] = {{"prompt_tokens", 10}, {"completion_tokens", tokens}};
    t["info"]["annotation"]["Zed-SomeExtractor"] = {
        {"score", valid},
        {"info", {{"prompt", ""}, {"response", ""}, {"extracted_answer", belief}, {"agreement", agreement}, {"status_ok", true}}}};
    t["info"]["annotation"]["AMatcher"] = {{"score", em}, {"info", {{"metrics", {{"em", em}}}, {"status_ok", true}}}};
    t["info"]["extracted_answer"] = belief;
    if (!sibs.is_null()) {
        t["info"]["siblings"] = sibs;
        t["info"]["stop_conv"] = agreement;
    }
    return t;
}

ojson turn0(const std::string &prompt) {
    return {{"role", "student"}, {"content", prompt},
            {"info", {{"usage", {{"prompt_tokens", 0}, {"total_tokens", 0}, {"completion_tokens", 0}}}}}};
}

// A record; `ac` is written as the extractor's agreement_correctness metric unless null.
std::string record(const std::string &domain, const std::string &id, int trial, std::vector<ojson> turns,
                   ojson ac, bool with_parley = true) {
    ojson r;
    r["conv_result"] = ojson::array();
    r["conv_result"].push_back(turn0("Question " + id + "?"));
    for (auto &t : turns) r["conv_result"].push_back(t);
    r["metadata"] = {{"init_prompt", "Question " + id + "?"}, {"teacher_inst", "T"}, {"student_inst", "S"}};
    r["metrics"] = {{"conv_err", false}, {"total_turns", turns.size() + 1}};
    if (!ac.is_null()) {
        r["metrics"]["Zed-SomeExtractor-agreement"] = true;
        r["metrics"]["Zed-SomeExtractor-agreement_correctness"] = ac;
        r["metrics"]["AMatcher-final_success_rate"] = 0.0;
    }
    if (with_parley)
        r["parley"] = {{"id", id}, {"trial", trial}, {"domain", domain}, {"seed", 11640265938738708428ull}, {"gold", "B"}, {"profile", "coral"}};
    return r.dump();
}

std::string simple(const std::string &id, int trial, bool ac) {
    return record("mmlu_pro", id, trial,
                  {turn("teacher", "The answer is (B).", "The answer is (B).", true, ac),
                   turn("student", "Agreed, (B).", "The answer is (B).", true, ac, true)},
                  ac);
}

std::string pair(const std::string &src, const std::string &c, const std::string &r, ojson parley = nullptr) {
    ojson j = {{"src", src}, {"tgt_chosen", c}, {"tgt_rejected", r}, {"pairwise", true}};
    if (!parley.is_null()) j["parley"] = parley;
    return j.dump();
}

struct Run {
    std::vector<std::string> lines; // everything emitted, push and finish together
    size_t during_push = 0;         // lines emitted before finish
    ojson report;
};

std::vector<std::string> split_lines(const std::string &s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
}

Run run(parley::Filter &f, const std::vector<std::string> &rows) {
    std::string buf;
    parley::Emitter em(TestHost::buffer(buf));
    for (auto &r : rows) f.push(r, em);
    Run out;
    out.during_push = split_lines(buf).size();
    f.finish(em);
    out.lines = split_lines(buf);
    out.report = ojson::parse(f.report());
    return out;
}

ojson reasons(std::initializer_list<std::pair<const char *, int>> rs) {
    ojson j = ojson::object();
    for (auto &[k, v] : rs) j[k] = v;
    return j;
}

void check_report(const Run &r, int kept, int dropped, const ojson &why) {
    CHECK(r.report["kept"] == kept);
    CHECK(r.report["dropped"] == dropped);
    CHECK(r.report["reasons"] == why);
    CHECK(r.lines.size() == static_cast<size_t>(kept));
    // The report's key order is the documented one.
    REQUIRE(r.report.size() == 3);
    CHECK(r.report.begin().key() == "kept");
}

} // namespace

// ---- helpers ----------------------------------------------------------------------------------------

TEST_CASE("rows are classified by shape", "[filters]") {
    TestHost host;
    CHECK(parse_row(simple("1", 0, true)).kind == RowKind::Record);
    CHECK(parse_row(pair("s", "c", "r")).kind == RowKind::CoralPair);
    CHECK(parse_row(R"({"src":"s","tgt":"t"})").kind == RowKind::CoralSft);
    CHECK(parse_row(R"({"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]})").kind == RowKind::TrlPair);
    CHECK(parse_row(R"({"messages":[{"role":"user","content":"q"}]})").kind == RowKind::TrlSft);
    CHECK(parse_row("{not json").kind == RowKind::Unreadable);
    CHECK(parse_row("[1,2]").kind == RowKind::Unreadable);
    CHECK(parse_row(R"({"hello":1})").kind == RowKind::Unreadable);
    CHECK(parse_row(R"({"conv_result":"x"})").kind == RowKind::Unreadable);
    CHECK(parse_row(R"({"src":"s","tgt_chosen":1,"tgt_rejected":"r"})").kind == RowKind::Unreadable);
}

TEST_CASE("annotations are found by shape; beliefs validated as Coral does", "[filters]") {
    TestHost host;
    auto t = turn("teacher", "x", "The answer is (B).", true, true);
    REQUIRE(extractor_annotation(t) != nullptr);
    CHECK((*extractor_annotation(t))["info"]["extracted_answer"] == "The answer is (B).");
    REQUIRE(matcher_annotation(t) != nullptr);
    CHECK(matcher_score(t) == 1.0);
    CHECK(turn_correctness(t) == 1.0);
    CHECK(belief_valid(t));
    CHECK_FALSE(belief_valid(turn("teacher", "x", "not sure yet", false, false)));
    CHECK_FALSE(belief_valid(turn("teacher", "x", "Error: no letter", false, false)));
    CHECK_FALSE(belief_valid(turn("teacher", "x", "The answer is (B).", false, false))); // score 0: None
    CHECK_FALSE(belief_valid(turn0("q")));
    CHECK_FALSE(matcher_score(turn0("q")).has_value());
    // A float matcher score (MATH) and an int one (ToM).
    auto m = turn("teacher", "x", "b", true, false);
    m["info"]["annotation"]["AMatcher"]["score"] = 1.0;
    CHECK(turn_correctness(m) == 1.0);
    m["info"]["annotation"]["AMatcher"]["score"] = 0;
    CHECK(turn_correctness(m) == 0.0);
    CHECK(utf8_chars("h\xC3\xA9llo") == 5);
    CHECK(normalize_ws("  a \t\n b  ") == "a b");
}

// ---- filters/question ---------------------------------------------------------------------------

TEST_CASE("question: mean agreement_correctness per question, whole set, order kept", "[filters][question]") {
    TestHost host;
    // q1: [1,1] mean 1; q2: [1,0] mean 0.5; q3: [0,0] mean 0. Interleaved.
    std::vector<std::string> rows = {simple("q1", 0, true), simple("q2", 0, true), simple("q3", 0, false),
                                     simple("q2", 1, false), simple("q1", 1, true), simple("q3", 1, false)};
    SECTION("defaults keep all, in order") {
        QuestionFilter f(host.config());
        Run r = run(f, rows);
        CHECK(r.during_push == 0); // whole-set: nothing before finish
        CHECK(r.lines == rows);
        check_report(r, 6, 0, reasons({}));
    }
    SECTION("hard_threshold 0.5 drops q1") {
        QuestionFilter f(host.config({{"hard_threshold", 0.5}}));
        Run r = run(f, rows);
        CHECK(r.during_push == 0);
        CHECK(r.lines == std::vector<std::string>{rows[1], rows[2], rows[3], rows[5]});
        check_report(r, 4, 2, reasons({{"above_hard_threshold", 2}}));
    }
    SECTION("min_threshold 0.25 drops q3; int thresholds accepted") {
        QuestionFilter f(host.config({{"hard_threshold", int64_t{1}}, {"min_threshold", 0.25}}));
        Run r = run(f, rows);
        CHECK(r.lines == std::vector<std::string>{rows[0], rows[1], rows[3], rows[4]});
        check_report(r, 4, 2, reasons({{"below_min_threshold", 2}}));
    }
    SECTION("a band keeps only the mixed question") {
        QuestionFilter f(host.config({{"hard_threshold", 0.5}, {"min_threshold", 0.5}}));
        Run r = run(f, rows);
        CHECK(r.lines == std::vector<std::string>{rows[1], rows[3]});
        check_report(r, 2, 4, reasons({{"above_hard_threshold", 2}, {"below_min_threshold", 2}}));
    }
    SECTION("finish twice emits nothing more") {
        QuestionFilter f(host.config({{"hard_threshold", 0.5}}));
        Run r = run(f, rows);
        std::string buf;
        parley::Emitter em(TestHost::buffer(buf));
        f.finish(em);
        CHECK(buf.empty());
        CHECK(ojson::parse(f.report())["kept"] == 4);
    }
}

TEST_CASE("question: grouping falls back to init_prompt; metric fallback and choice", "[filters][question]") {
    TestHost host;
    // Same domain+id in two domains are different questions.
    std::string a = record("math", "7", 0, {turn("teacher", "x", "b", true, true, true)}, true);
    std::string b = record("gpqa", "7", 0, {turn("teacher", "x", "b", true, false, true)}, false);
    // No parley: grouped by metadata.init_prompt ("Question 9?").
    std::string c = record("", "9", 0, {turn("teacher", "x", "b", true, true, true)}, true, false);
    std::string d = record("", "9", 1, {turn("teacher", "x", "b", true, false, true)}, false, false);
    // No metrics: agreement_correctness computed from the turns (agreeing turn is gold).
    std::string e = record("hitom", "1", 0, {turn("teacher", "x", "b", true, false), turn("student", "y", "b", true, true, true)}, nullptr);
    {
        QuestionFilter f(host.config({{"hard_threshold", 0.6}}));
        Run r = run(f, {a, b, c, d, e});
        // a: mean 1 -> dropped; b: 0 kept; c,d: mean 0.5 kept; e: computed 1 -> dropped
        CHECK(r.lines == std::vector<std::string>{b, c, d});
        check_report(r, 3, 2, reasons({{"above_hard_threshold", 2}}));
    }
    {
        // The metric by its suffix: final_success_rate is 0.0 in the metrics of a, b, c, d; e has
        // no metrics and is computed (a gold turn -> 1).
        QuestionFilter f(host.config({{"metric", "final_success_rate"}, {"hard_threshold", 0.5}}));
        Run r = run(f, {a, b, c, d, e});
        CHECK(r.lines == std::vector<std::string>{a, b, c, d});
        check_report(r, 4, 1, reasons({{"above_hard_threshold", 1}}));
    }
    {
        // An exact key (conv_len absent -> unreadable: no fallback for it).
        QuestionFilter f(host.config({{"metric", "total_turns"}, {"hard_threshold", 2.0}}));
        Run r = run(f, {a, e});
        CHECK(r.lines == std::vector<std::string>{a}); // a: 2 turns; e: 3 turns
        QuestionFilter g(host.config({{"metric", "conv_len"}}));
        Run s = run(g, {a});
        check_report(s, 0, 1, reasons({{"unreadable", 1}}));
    }
}

TEST_CASE("question: unreadable rows and bad configuration", "[filters][question]") {
    TestHost host;
    QuestionFilter f(host.config());
    Run r = run(f, {"{oops", simple("q", 0, true), pair("s", "c", "r"), "", R"({"conv_result":[]})"});
    CHECK(r.lines == std::vector<std::string>{simple("q", 0, true)});
    check_report(r, 1, 4, reasons({{"unreadable", 4}}));
    auto logs = host.logs();
    REQUIRE(logs.size() >= 4);
    CHECK(logs[0].find("row 1 dropped as unreadable: not valid JSON") != std::string::npos);
    CHECK(logs[1].find("row 3") != std::string::npos);
    CHECK(logs[1].find("pair") != std::string::npos);
    CHECK_THROWS_AS(QuestionFilter(host.config({{"min_threshold", 0.8}, {"hard_threshold", 0.2}})), parley::Error);
    CHECK_THROWS_AS(QuestionFilter(host.config({{"hard_threshold", "high"}})), parley::Error);
}

// ---- filters/belief ---------------------------------------------------------------------------------

TEST_CASE("belief success: Coral's success_conv_only", "[filters][belief]") {
    TestHost host;
    std::string ok = simple("1", 0, true), bad = simple("2", 0, false);
    std::string computed = record("m", "3", 0, {turn("teacher", "x", "b", true, true), turn("student", "y", "b", true, true, true)}, nullptr);
    std::string computed_bad = record("m", "4", 0, {turn("teacher", "x", "b", true, true), turn("student", "y", "b", true, false, true)}, nullptr);
    std::string as_number = record("m", "5", 0, {turn("teacher", "x", "b", true, true)}, 1);
    BeliefFilter f(host.config()); // default mode success
    Run r = run(f, {ok, bad, computed, computed_bad, as_number, R"({"src":"s","tgt":"t"})"});
    CHECK(r.during_push == 3); // streaming
    CHECK(r.lines == std::vector<std::string>{ok, computed, as_number});
    check_report(r, 3, 3, reasons({{"not_success", 2}, {"unreadable", 1}}));
}

TEST_CASE("belief any_correct and contrastive over chosen turns and siblings", "[filters][belief]") {
    TestHost host;
    auto wrong = [](const std::string &r) { return turn(r, "w", "The answer is (A).", true, false); };
    auto gold = [](const std::string &r) { return turn(r, "g", "The answer is (B).", true, true); };
    auto unsure = [](const std::string &r) { return turn(r, "u", "not sure yet", false, false); };
    auto with_sibs = [](ojson t, std::vector<ojson> s) {
        t["info"]["siblings"] = s;
        t["info"]["stop_conv"] = false;
        return t;
    };
    // A: chosen path all wrong, a gold sibling at turn 2 -> any_correct, contrastive.
    std::string A = record("m", "A", 0, {with_sibs(wrong("teacher"), {wrong("teacher")}), with_sibs(wrong("student"), {gold("student"), unsure("student")})}, false);
    // B: gold everywhere -> any_correct, not contrastive.
    std::string B = record("m", "B", 0, {with_sibs(gold("teacher"), {gold("teacher")}), with_sibs(gold("student"), {gold("student")})}, true);
    // C: wrong/unsure everywhere -> neither.
    std::string C = record("m", "C", 0, {with_sibs(wrong("teacher"), {unsure("teacher")}), with_sibs(unsure("student"), {wrong("student")})}, false);
    // D: a gold chosen turn, no siblings (not tree-sampled) -> any_correct, not contrastive.
    std::string D = record("m", "D", 0, {gold("teacher")}, false);
    // E: siblings at the turn's top level ("siblings" beside "info") are read too.
    ojson e = ojson::parse(record("m", "E", 0, {gold("teacher")}, false));
    e["conv_result"][1]["siblings"] = ojson::array({wrong("teacher")});
    std::string E = e.dump();
    // Pair rows: contrastive reads parley.chosen_score/rejected_score (gap > 0.5).
    std::string P1 = pair("s", "c", "r", {{"chosen_score", 1.0}, {"rejected_score", 0.0}});
    std::string P2 = pair("s", "c", "r", {{"chosen_score", 0.95}, {"rejected_score", 0.45}}); // gap 0.5: no
    std::string P3 = pair("s", "c", "r");
    SECTION("any_correct") {
        BeliefFilter f(host.config({{"mode", "any_correct"}}));
        Run r = run(f, {A, B, C, D, E, P1});
        CHECK(r.lines == std::vector<std::string>{A, B, D, E});
        check_report(r, 4, 2, reasons({{"no_correct_turn", 1}, {"unreadable", 1}}));
    }
    SECTION("contrastive") {
        BeliefFilter f(host.config({{"mode", "contrastive"}}));
        Run r = run(f, {A, B, C, D, E, P1, P2, P3});
        CHECK(r.lines == std::vector<std::string>{A, E, P1});
        check_report(r, 3, 5, reasons({{"not_contrastive", 4}, {"unreadable", 1}}));
    }
}

TEST_CASE("belief valid: the final turn's belief", "[filters][belief]") {
    TestHost host;
    std::string v = record("m", "1", 0, {turn("teacher", "x", "not sure yet", false, false), turn("student", "y", "The answer is (C).", true, false)}, false);
    std::string unsure = record("m", "2", 0, {turn("teacher", "x", "The answer is (C).", true, false), turn("student", "y", "not sure yet", false, false)}, false);
    std::string err = record("m", "3", 0, {turn("teacher", "x", "Error: extraction network error", false, false)}, false);
    std::string zero = record("m", "4", 0, {turn("teacher", "x", "The answer is (C).", false, false)}, false);
    std::string only0 = record("m", "5", 0, {}, false);
    BeliefFilter f(host.config({{"mode", "valid"}}));
    Run r = run(f, {v, unsure, err, zero, only0});
    CHECK(r.lines == std::vector<std::string>{v});
    check_report(r, 1, 4, reasons({{"invalid_final_belief", 4}}));
    CHECK_THROWS_AS(BeliefFilter(host.config({{"mode", "nope"}})), parley::Error);
}

// ---- filters/dedupe ---------------------------------------------------------------------------------

TEST_CASE("dedupe: default keys per row kind", "[filters][dedupe]") {
    TestHost host;
    std::string p1 = pair("S", "good", "bad", {{"id", "1"}, {"trial", 0}});
    std::string p1b = pair("S", "good", "bad", {{"id", "1"}, {"trial", 3}}); // same texts: duplicate
    std::string p2 = pair("S", "good", "worse");
    std::string s1 = R"({"src":"S","tgt":"good"})";
    std::string s2 = R"({"tgt":"good","src":"S"})"; // key order differs: still a duplicate
    std::string amb1 = R"({"src":"ab","tgt":"c"})";
    std::string amb2 = R"({"src":"a","tgt":"bc"})"; // concatenation-equal, not a duplicate
    std::string t1 = R"({"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]})";
    std::string t2 = R"({"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"b"}],"rejected":[{"role":"assistant","content":"a"}]})";
    std::string m1 = R"({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]})";
    std::string m2 = R"({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}],"x":1})";
    std::string r1 = simple("1", 0, true), r1b = simple("1", 5, true), r2 = simple("2", 0, true);
    std::vector<std::string> rows = {p1, p1b, p2, s1, s2, amb1, amb2, t1, t2, t1, m1, m2, r1, r1b, r2, "nope", p1};
    for (bool exact : {true, false}) {
        DedupeFilter f(host.config({{"exact", exact}}));
        Run r = run(f, rows);
        CHECK(r.during_push == r.lines.size());
        CHECK(r.lines == std::vector<std::string>{p1, p2, s1, amb1, amb2, t1, t2, m1, r1, r2});
        check_report(r, 10, 7, reasons({{"duplicate", 6}, {"unreadable", 1}}));
    }
}

TEST_CASE("dedupe: normalize_whitespace and explicit fields", "[filters][dedupe]") {
    TestHost host;
    std::string a = pair("Q:  what\n", "A  b", "c", {{"id", "1"}});
    std::string b = pair("Q: what", " A b ", "c", {{"id", "2"}});
    std::string c = pair("Q: other", "A b", "c", {{"id", "1"}});
    {
        DedupeFilter f(host.config());
        Run r = run(f, {a, b});
        check_report(r, 2, 0, reasons({}));
    }
    {
        DedupeFilter f(host.config({{"normalize_whitespace", true}}));
        Run r = run(f, {a, b, c});
        CHECK(r.lines == std::vector<std::string>{a, c});
        check_report(r, 2, 1, reasons({{"duplicate", 1}}));
    }
    {
        // Dotted path into the parley fields: one row per id.
        DedupeFilter f(host.config({{"fields", std::vector<std::string>{"parley.id"}}}));
        Run r = run(f, {a, b, c, R"({"src":"s","tgt":"t"})"});
        CHECK(r.lines == std::vector<std::string>{a, b});
        check_report(r, 2, 2, reasons({{"duplicate", 1}, {"unreadable", 1}}));
    }
    {
        // Fields work on any object, missing ones are part of the key.
        DedupeFilter f(host.config({{"fields", std::vector<std::string>{"k", "v"}}}));
        Run r = run(f, {R"({"k":1})", R"({"k":1,"v":null})", R"({"k":1})", R"({"v":1})", R"({"k":"1"})"});
        CHECK(r.lines == std::vector<std::string>{R"({"k":1})", R"({"k":1,"v":null})", R"({"v":1})", R"({"k":"1"})"});
        check_report(r, 4, 1, reasons({{"duplicate", 1}}));
    }
    CHECK_THROWS_AS(DedupeFilter(host.config({{"fields", std::vector<std::string>{""}}})), parley::Error);
}

TEST_CASE("dedupe: 128-bit digest is deterministic and separates near keys", "[filters][dedupe]") {
    auto d1 = digest128("hello world"), d2 = digest128("hello world");
    CHECK(d1 == d2);
    CHECK_FALSE(digest128("hello world") == digest128("hello worle"));
    CHECK_FALSE(digest128("") == digest128(std::string(1, '\0')));
    CHECK_FALSE(digest128("12345678") == digest128("123456789"));
}

// ---- filters/length ---------------------------------------------------------------------------------

TEST_CASE("length: pair and SFT rows by parley token counts and characters", "[filters][length]") {
    TestHost host;
    auto tp = [](int c, int r) { return ojson{{"chosen_tokens", c}, {"rejected_tokens", r}}; };
    std::string ok = pair("s", "abc", "abcd", tp(5, 10));
    std::string too_long = pair("s", "abc", "abcd", tp(5, 12));
    std::string too_short = pair("s", "abc", "abcd", tp(2, 5));
    std::string no_tokens = pair("s", "abc", "abcd");
    std::string sft = R"({"src":"s","tgt":"t","parley":{"tgt_tokens":4}})";
    std::string sft_long = R"({"src":"s","tgt":"t","parley":{"tgt_tokens":40}})";
    std::string trl = R"({"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}],"parley":{"chosen_tokens":3,"rejected_tokens":3}})";
    {
        LengthFilter f(host.config({{"min_tokens", int64_t{3}}, {"max_tokens", int64_t{10}}}));
        Run r = run(f, {ok, too_long, too_short, no_tokens, sft, sft_long, trl, "[]"});
        CHECK(r.lines == std::vector<std::string>{ok, sft, trl});
        check_report(r, 3, 5, reasons({{"max_tokens", 2}, {"min_tokens", 1}, {"no_token_counts", 1}, {"unreadable", 1}}));
    }
    {
        // Characters are code points: "h\u00e9llo!" is 6 (7 bytes).
        std::string five = pair("s", "h\xC3\xA9llo", "abcde");
        std::string six = pair("s", "abcde", "h\xC3\xA9llo!");
        std::string one = pair("s", "a", "abcde");
        std::string msgs = R"({"messages":[{"role":"user","content":"a long question here"},{"role":"assistant","content":"abc"}]})";
        LengthFilter f(host.config({{"min_chars", int64_t{2}}, {"max_chars", int64_t{5}}}));
        Run r = run(f, {five, six, one, msgs, no_tokens});
        CHECK(r.lines == std::vector<std::string>{five, msgs, no_tokens});
        check_report(r, 3, 2, reasons({{"max_chars", 1}, {"min_chars", 1}}));
    }
}

TEST_CASE("length: records by turn completion tokens (all or mean) and turns", "[filters][length]") {
    TestHost host;
    // Answer turns with 2 and 10 completion tokens; turn 0 (0 tokens) is not counted.
    std::string rec = record("m", "1", 0, {turn("teacher", "abcd", "b", true, true, false, 2), turn("student", "abcdefgh", "b", true, true, true, 10)}, true);
    std::string three = record("m", "2", 0, {turn("teacher", "x", "b", true, true, false, 5), turn("student", "x", "b", true, true, false, 5), turn("teacher", "x", "b", true, true, true, 5)}, true);
    {
        LengthFilter f(host.config({{"min_tokens", int64_t{4}}}));
        Run r = run(f, {rec, three});
        CHECK(r.lines == std::vector<std::string>{three});
        check_report(r, 1, 1, reasons({{"min_tokens", 1}}));
    }
    {
        LengthFilter f(host.config({{"min_tokens", int64_t{4}}, {"max_tokens", int64_t{6}}, {"mode", "mean"}}));
        Run r = run(f, {rec, three}); // rec's mean is 6
        check_report(r, 2, 0, reasons({}));
    }
    {
        LengthFilter f(host.config({{"max_turns", int64_t{2}}}));
        Run r = run(f, {rec, three});
        CHECK(r.lines == std::vector<std::string>{rec});
        check_report(r, 1, 1, reasons({{"max_turns", 1}}));
    }
    {
        LengthFilter f(host.config({{"min_turns", int64_t{3}}, {"max_chars", int64_t{4}}}));
        Run r = run(f, {rec, three}); // rec: turns first; three: all contents 1 char
        CHECK(r.lines == std::vector<std::string>{three});
        check_report(r, 1, 1, reasons({{"min_turns", 1}}));
    }
    {
        LengthFilter f(host.config({{"max_chars", int64_t{6}}, {"mode", "mean"}}));
        Run r = run(f, {rec}); // chars 4 and 8: mean 6
        check_report(r, 1, 0, reasons({}));
    }
    CHECK_THROWS_AS(LengthFilter(host.config({{"min_tokens", int64_t{9}}, {"max_tokens", int64_t{3}}})), parley::Error);
    CHECK_THROWS_AS(LengthFilter(host.config({{"mode", "median"}})), parley::Error);
    CHECK_THROWS_AS(LengthFilter(host.config({{"max_chars", int64_t{-1}}})), parley::Error);
}

// ---- cross-cutting -------------------------------------------------------------------------------

TEST_CASE("rows are emitted as given, one per line; runs are deterministic", "[filters]") {
    TestHost host;
    std::string pretty = "\n  {\"src\": \"s\",\n   \"tgt\": \"a\\nb\"}\r\n";
    std::string seed = R"({"src":"s2","tgt":"t","parley":{"seed":11640265938738708428,"x":1.0000000000000002}})";
    DedupeFilter f(host.config());
    Run r = run(f, {pretty, seed});
    CHECK(r.lines == std::vector<std::string>{"{\"src\": \"s\",    \"tgt\": \"a\\nb\"}", seed});
    CHECK(ojson::parse(r.lines[0])["tgt"] == "a\nb");

    std::vector<std::string> rows;
    for (int i = 0; i < 40; ++i) {
        std::string id = "q";
        id += std::to_string(i % 7);
        rows.push_back(simple(id, i, (i * 7) % 3 == 0));
    }
    auto once = [&] {
        QuestionFilter q(host.config({{"hard_threshold", 0.5}, {"min_threshold", 0.1}}));
        return run(q, rows);
    };
    Run a = once(), b = once();
    CHECK(a.lines == b.lines);
    CHECK(a.report == b.report);
    CHECK(a.report["kept"].get<int>() + a.report["dropped"].get<int>() == 40);
}

TEST_CASE("a record in Parley's coral_eval shape", "[filters]") {
    TestHost host;
    // The shape of core/coral_eval's records_<domain>.jsonl (mmlu_pro, rule extraction).
    std::string rec = R"({"conv_result":[{"role":"student","content":"I'm trying to solve this problem: \"Q\"\nAnd the choices are:\n(A) x\n(B) y","info":{"usage":{"prompt_tokens":0,"total_tokens":0,"completion_tokens":0}}},{"role":"teacher","content":"The correct answer is (C).","info":{"status_ok":true,"usage":{"prompt_tokens":66,"completion_tokens":5},"parley":{"cached_tokens":0,"finish_reason":"stop"},"annotation":{"RuleBased-MMLUProExtractionPromptingEvaluator":{"score":true,"info":{"prompt":"","response":"","extracted_answer":"The answer is (C).","agreement":false,"status_ok":true}},"MMLUProMatchEvaluator":{"score":true,"info":{"metrics":{"em":true},"status_ok":true}}},"extracted_answer":"The answer is (C)."}},{"role":"student","content":"The correct answer is (C).","info":{"status_ok":true,"usage":{"prompt_tokens":5,"completion_tokens":5},"parley":{"cached_tokens":0,"finish_reason":"stop"},"annotation":{"RuleBased-MMLUProExtractionPromptingEvaluator":{"score":true,"info":{"prompt":"","response":"","extracted_answer":"The answer is (C).","agreement":true,"status_ok":true}},"MMLUProMatchEvaluator":{"score":true,"info":{"metrics":{"em":true},"status_ok":true}}},"extracted_answer":"The answer is (C)."}}],"metadata":{"question_id":351,"answer":"C","init_prompt":"I'm trying to solve this problem: \"Q\"","teacher_inst":"t","student_inst":"s"},"metrics":{"conv_err":false,"total_turns":3,"t_len":5.0,"s_len":5.0,"conv_len":10.0,"RuleBased-MMLUProExtractionPromptingEvaluator-agreement":true,"RuleBased-MMLUProExtractionPromptingEvaluator-agreement_correctness":true,"MMLUProMatchEvaluator-n_turns_to_success":1,"MMLUProMatchEvaluator-final_success_rate":1.0},"parley":{"id":"351","trial":0,"domain":"mmlu_pro","seed":11640265938738708428,"gold":"C","profile":"coral"}})";
    CHECK(record_metric(ojson::parse(rec), "agreement_correctness") == 1.0);
    CHECK(question_key(ojson::parse(rec)) == std::string("p\x1fmmlu_pro\x1f" "351"));
    BeliefFilter s(host.config({{"mode", "success"}}));
    CHECK(run(s, {rec}).lines.size() == 1);
    BeliefFilter v(host.config({{"mode", "valid"}}));
    CHECK(run(v, {rec}).lines.size() == 1);
    BeliefFilter c(host.config({{"mode", "contrastive"}}));
    CHECK(run(c, {rec}).lines.empty()); // no siblings: no pair
    LengthFilter l(host.config({{"min_tokens", int64_t{5}}, {"max_tokens", int64_t{5}}, {"max_turns", int64_t{2}}}));
    CHECK(run(l, {rec}).lines.size() == 1);
}

// ---- the plugin through the C ABI ---------------------------------------------------------------

TEST_CASE("the plugin through the C ABI", "[filters][abi]") {
    TestHost host;
    std::string why;
    void *lib = nullptr;
    const parley_plugin_desc *d = parley::testing::load_plugin(std::string(PARLEY_PLUGIN_DIR) + "/libparley-filters.so", host, &why, &lib);
    INFO(why);
    REQUIRE(d != nullptr);
    parley_error err{};
    CHECK(std::string(d->name) == "filters");
    REQUIRE(d->n_components == 4);
    const char *names[] = {"question", "belief", "dedupe", "length"};
    const parley_component *by_name[4] = {};
    for (size_t i = 0; i < 4; ++i) {
        const parley_component *c = d->components[i];
        CHECK(std::string(c->name) == names[i]);
        CHECK(c->kind == PARLEY_KIND_FILTER);
        CHECK(c->version == 1);
        CHECK(c->n_params > 0);
        for (size_t p = 0; p < c->n_params; ++p) {
            CHECK(c->params[p].key != nullptr);
            CHECK(c->params[p].doc != nullptr);
        }
        auto *vt = static_cast<const parley_filter_vtable *>(c->vtable);
        CHECK(vt->struct_size == sizeof(parley_filter_vtable));
        by_name[i] = c;
    }

    // dedupe: push, finish, report.
    auto *vt = static_cast<const parley_filter_vtable *>(by_name[2]->vtable);
    void *self = nullptr;
    auto cfg = host.config({{"normalize_whitespace", true}});
    REQUIRE(vt->create(host.api(), cfg.raw(), &self, &err) == PARLEY_OK);
    std::string out;
    auto push = [&](const std::string &row) { return vt->push(self, parley_str{row.data(), row.size()}, TestHost::buffer(out), &err); };
    CHECK(push(R"({"src":"a","tgt":"b"})") == PARLEY_OK);
    CHECK(push(R"({"src":"a ","tgt":"b"})") == PARLEY_OK);
    CHECK(push("garbage") == PARLEY_OK); // unreadable rows are counted, not errors
    CHECK(push(R"({"src":"a","tgt":"c"})") == PARLEY_OK);
    CHECK(vt->finish(self, TestHost::buffer(out), &err) == PARLEY_OK);
    CHECK(out == "{\"src\":\"a\",\"tgt\":\"b\"}\n{\"src\":\"a\",\"tgt\":\"c\"}\n");
    std::string rep;
    REQUIRE(vt->report(self, TestHost::buffer(rep), &err) == PARLEY_OK);
    CHECK(rep == R"({"kept":2,"dropped":2,"reasons":{"duplicate":1,"unreadable":1}})");
    vt->destroy(self);

    // question: whole set, emitted at finish.
    auto *qt = static_cast<const parley_filter_vtable *>(by_name[0]->vtable);
    auto qcfg = host.config({{"hard_threshold", 0.5}});
    REQUIRE(qt->create(host.api(), qcfg.raw(), &self, &err) == PARLEY_OK);
    out.clear();
    std::string a = simple("1", 0, true), b = simple("2", 0, false);
    CHECK(qt->push(self, parley_str{a.data(), a.size()}, TestHost::buffer(out), &err) == PARLEY_OK);
    CHECK(qt->push(self, parley_str{b.data(), b.size()}, TestHost::buffer(out), &err) == PARLEY_OK);
    CHECK(out.empty());
    CHECK(qt->finish(self, TestHost::buffer(out), &err) == PARLEY_OK);
    CHECK(out == b + "\n");
    rep.clear();
    REQUIRE(qt->report(self, TestHost::buffer(rep), &err) == PARLEY_OK);
    CHECK(rep == R"({"kept":1,"dropped":1,"reasons":{"above_hard_threshold":1}})");
    qt->destroy(self);

    // A bad configuration fails create with a message.
    auto *bt = static_cast<const parley_filter_vtable *>(by_name[1]->vtable);
    auto bcfg = host.config({{"mode", "sometimes"}});
    self = nullptr;
    CHECK(bt->create(host.api(), bcfg.raw(), &self, &err) == PARLEY_ERR_INVALID_ARGUMENT);
    CHECK(std::string(err.message).find("sometimes") != std::string::npos);
    CHECK(self == nullptr);
    ::dlclose(lib);
}
