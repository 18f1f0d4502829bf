// core/pairs on hand-made tree-sampled records: the expectations are what the official
// data-creation code (collaborative-reasoner finetuning/data_creation/ts_correctness_filtering.py
// and filtering_utils.py) makes of the same records under profile = "coral", worked out from that
// code; "fixed" where it differs.
#include <parley/core/run.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <unistd.h>

using namespace parley::core;
using json = nlohmann::json;

namespace {

// A candidate turn as coral_eval writes it: matcher and extractor annotations, usage, stop_conv.
struct Cand {
    bool gold = false;
    int tokens = 10; // < 0: a failed request (no usage, the error text as content)
    bool agree = false;
    std::string text = "";
};

json turn(const std::string &role, const Cand &c) {
    json info = {{"status_ok", c.tokens >= 0}};
    if (c.tokens >= 0) info["usage"] = {{"prompt_tokens", 5}, {"completion_tokens", c.tokens}};
    else info["error"] = c.text;
    info["annotation"] = {
        {"MMLUProExtractionPromptingEvaluator",
         {{"score", true}, {"info", {{"extracted_answer", "x"}, {"agreement", c.agree}, {"status_ok", true}}}}},
        {"MMLUProMatchEvaluator", {{"score", c.gold}, {"info", {{"metrics", {{"em", c.gold}}}, {"status_ok", true}}}}}};
    info["stop_conv"] = false; // as for a failed candidate: only the annotation says it agreed
    return {{"role", role}, {"content", c.text}, {"info", info}};
}

// One tree: turns[t - 1] = {chosen, siblings...} for t = 1.. (teacher answers first).
json record(const std::string &id, int trial, const std::string &init_prompt, const std::vector<std::vector<Cand>> &turns,
            bool success = false) {
    json conv = json::array({{{"role", "student"}, {"content", init_prompt}, {"info", json::object()}}});
    for (size_t t = 0; t < turns.size(); ++t) {
        const std::string role = t % 2 == 0 ? "teacher" : "student";
        json chosen = turn(role, turns[t][0]);
        json sib = json::array();
        for (size_t k = 1; k < turns[t].size(); ++k) sib.push_back(turn(role, turns[t][k]));
        if (!sib.empty()) chosen["info"]["siblings"] = sib;
        conv.push_back(chosen);
    }
    return {{"conv_result", conv},
            {"metadata", {{"init_prompt", init_prompt}, {"teacher_inst", "T"}, {"student_inst", "S"}}},
            {"metrics", {{"ts_mmlu_pro-agreement_correctness", success}}},
            {"parley", {{"domain", "mmlu_pro"}, {"id", id}, {"trial", trial}}}};
}

struct Output {
    std::vector<json> pairs, sft;
};

std::vector<json> read_rows(const fs::path &p) {
    std::vector<json> rows;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) rows.push_back(json::parse(line));
    return rows;
}

// Runs core/pairs (chatml rendering, no backend) on `records` with the extra TOML `config`.
Output run_pairs_on(const std::vector<json> &records, const std::string &config) {
    fs::path dir = fs::temp_directory_path() / ("parley-test-pairs-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    {
        std::ofstream out(dir / "records.jsonl");
        for (auto &r : records) out << r.dump() << "\n";
    }
    Graph graph;
    NodeSpec node;
    node.name = "pairs";
    node.inputs["records"] = {"trees.records"};
    node.config = toml::parse("chat_template = \"chatml\"\n" + config);
    NodeOutputs outputs;
    outputs["trees"]["records"] = {dir / "records.jsonl"};
    RunContext ctx{graph, node, dir / "pairs", {}, {}, {}, outputs, std::nullopt};
    find_core_node("pairs")->run(ctx);
    Output o{read_rows(dir / "pairs/pairs.jsonl"), read_rows(dir / "pairs/sft.jsonl")};
    fs::remove_all(dir);
    return o;
}

std::vector<std::string> targets(const std::vector<json> &sft) {
    std::vector<std::string> v;
    for (auto &r : sft) v.push_back(r["tgt"].get<std::string>());
    return v;
}

} // namespace

TEST_CASE("pairs: coral groups questions by metadata.init_prompt, fixed by domain and id", "[pairs]") {
    // Two items with the same initial prompt (a duplicated question): one question officially.
    std::vector<Cand> turn1 = {{true, 10, false, "right"}, {false, 10, false, "wrong"}};
    std::vector<json> recs = {record("1", 0, "same prompt", {turn1}), record("2", 0, "same prompt", {turn1})};
    CHECK(run_pairs_on(recs, "pairs_per_question = 1").pairs.size() == 1);
    CHECK(run_pairs_on(recs, "pairs_per_question = 1\nprofile = \"fixed\"").pairs.size() == 2);
}

TEST_CASE("pairs: coral penalties are exclusive - agreement_penalty wins over length_penalty", "[pairs]") {
    // Two gold candidates tie at 1 without the length term; the wrong one agreed (-0.1). The
    // official `if discourage_agreement / elif discourage_length` ignores the lengths, so the tie
    // goes to the first pair in (i, j) order: the long gold candidate. Both terms (fixed) prefer
    // the short one.
    std::vector<json> recs = {record("1", 0, "q", {{{true, 90, false, "gold long"}, {true, 10, false, "gold short"}, {false, 50, true, "wrong"}}})};
    auto coral = run_pairs_on(recs, "agreement_penalty = 0.1\nlength_penalty = 0.1");
    REQUIRE(coral.pairs.size() == 1);
    CHECK(coral.pairs[0]["tgt_chosen"] == "gold long");
    CHECK(coral.pairs[0]["tgt_rejected"] == "wrong");
    CHECK(coral.pairs[0]["parley"]["rejected_score"].get<double>() == -0.1);
    auto fixed = run_pairs_on(recs, "agreement_penalty = 0.1\nlength_penalty = 0.1\nprofile = \"fixed\"");
    REQUIRE(fixed.pairs.size() == 1);
    CHECK(fixed.pairs[0]["tgt_chosen"] == "gold short");
    // Under coral the weight is the official constant.
    CHECK_THROWS_WITH(run_pairs_on(recs, "agreement_penalty = 0.2"), Catch::Contains("nodes.pairs.agreement_penalty"));
    CHECK_NOTHROW(run_pairs_on(recs, "agreement_penalty = 0.2\nprofile = \"fixed\""));
}

TEST_CASE("pairs: coral reads agreement from the extractor annotation and counts a turn without usage as 1 token", "[pairs]") {
    // stop_conv is false, the annotation says the wrong candidate agreed: penalised (get_agreement).
    std::vector<json> recs = {record("1", 0, "q", {{{true, 10, false, "gold"}, {false, 10, true, "wrong"}}})};
    auto agree = run_pairs_on(recs, "agreement_penalty = 0.1");
    REQUIRE(agree.pairs.size() == 1);
    CHECK(agree.pairs[0]["parley"]["rejected_score"].get<double>() == -0.1);
    // A failed candidate has no usage: get_turn_length's fallback is 1.
    std::vector<json> failed = {record("1", 0, "q", {{{true, 5, false, "gold"}, {false, -1, false, "Error: timeout"}}})};
    auto len = run_pairs_on(failed, "length_penalty = 0.1");
    REQUIRE(len.pairs.size() == 1);
    CHECK(len.pairs[0]["parley"]["rejected_tokens"].get<double>() == 1);
    CHECK(len.pairs[0]["parley"]["chosen_score"].get<double>() == 1 - 0.1 * (4.0 / 5.0));
}

TEST_CASE("pairs: coral computes the length term in the official order - 2 pairs per turn break a tie its way", "[pairs]") {
    // scores x - 0.1*((len-min)/(1+max-min)) for lengths 5, 11, 11, 17 and gold 0, 0, 1, 1:
    // the gaps (2,1) > (2,0) == (3,1) in this order of operations; 0.1*(len-min)/(...) makes
    // (3,1) the larger and picks it instead (found by enumerating small cases in Python).
    std::vector<json> recs = {record("1", 0, "q", {{{false, 5, false, "w5"}, {false, 11, false, "w11"}, {true, 11, false, "g11"}, {true, 17, false, "g17"}}})};
    auto o = run_pairs_on(recs, "length_penalty = 0.1\npairs_per_turn = 2");
    REQUIRE(o.pairs.size() == 2);
    std::set<std::pair<std::string, std::string>> got;
    for (auto &p : o.pairs) got.insert({p["tgt_chosen"].get<std::string>(), p["tgt_rejected"].get<std::string>()});
    CHECK(got == std::set<std::pair<std::string, std::string>>{{"g11", "w11"}, {"g11", "w5"}});
}

TEST_CASE("pairs: first_n_turns limits SFT rows too", "[pairs][sft]") {
    std::vector<Cand> a = {{true, 10, false, "t1"}}, b = {{false, 10, false, "t2"}}, c = {{true, 10, false, "t3"}};
    std::vector<json> recs = {record("1", 0, "q", {a, b, c}, true)};
    const std::vector<std::string> two = {"t1", "t2"}, gold = {"t1"}; // turn 3 is past the limit
    for (const char *mode : {"all", "success", "correct_turns"}) {
        CAPTURE(mode);
        auto o = run_pairs_on(recs, std::string("first_n_turns = 3\nsft_mode = \"") + mode + "\"");
        CHECK(targets(o.sft) == (std::string(mode) == "correct_turns" ? gold : two));
    }
}

TEST_CASE("pairs: coral correct_turns re-adds earlier turns for every later gold turn, fixed once", "[pairs][sft]") {
    // Gold at turns 1 and 3: the official filter_by_turns adds turns 1..1, then 1..3.
    std::vector<Cand> a = {{true, 10, false, "t1"}}, b = {{false, 10, false, "t2"}}, c = {{true, 10, false, "t3"}};
    std::vector<json> recs = {record("1", 0, "q", {a, b, c})};
    CHECK(targets(run_pairs_on(recs, "sft_mode = \"correct_turns\"").sft) == std::vector<std::string>{"t1", "t1", "t2", "t3"});
    CHECK(targets(run_pairs_on(recs, "sft_mode = \"correct_turns\"\nprofile = \"fixed\"").sft) ==
          std::vector<std::string>{"t1", "t2", "t3"});
    // add_prev_turns = 1: turns 1..1, then 2..3.
    CHECK(targets(run_pairs_on(recs, "sft_mode = \"correct_turns\"\nadd_prev_turns = 1").sft) ==
          std::vector<std::string>{"t1", "t2", "t3"});
}

TEST_CASE("pairs: coral keeps failed turns as SFT targets, fixed drops them", "[pairs][sft]") {
    std::vector<Cand> a = {{false, 10, false, "t1"}}, b = {{false, -1, false, "Error: HTTP 500"}}, c = {{true, 10, false, "t3"}};
    std::vector<json> recs = {record("1", 0, "q", {a, b, c})};
    CHECK(targets(run_pairs_on(recs, "").sft) == std::vector<std::string>{"t1", "Error: HTTP 500", "t3"});
    CHECK(targets(run_pairs_on(recs, "profile = \"fixed\"").sft) == std::vector<std::string>{"t1", "t3"});
}

TEST_CASE("pairs: tree candidates carry the request's usage - coral compares it, fixed compares their own counts", "[pairs]") {
    // Two gold candidates and a wrong one from one n = 3 request: info.usage is the request's 150
    // tokens on each (as Coral records it), info.parley.completion_tokens their own 90, 10, 50.
    std::vector<json> recs = {record("1", 0, "q", {{{true, 150, false, "gold long"}, {true, 150, false, "gold short"}, {false, 150, false, "wrong"}}})};
    json &conv = recs[0]["conv_result"];
    conv[1]["info"]["parley"] = {{"completion_tokens", 90}};
    conv[1]["info"]["siblings"][0]["info"]["parley"] = {{"completion_tokens", 10}};
    conv[1]["info"]["siblings"][1]["info"]["parley"] = {{"completion_tokens", 50}};
    auto coral = run_pairs_on(recs, "length_penalty = 0.1");
    REQUIRE(coral.pairs.size() == 1);
    CHECK(coral.pairs[0]["tgt_chosen"] == "gold long"); // equal lengths: the first pair in (i, j) order
    CHECK(coral.pairs[0]["parley"]["chosen_tokens"].get<double>() == 150);
    auto fixed = run_pairs_on(recs, "length_penalty = 0.1\nprofile = \"fixed\"");
    REQUIRE(fixed.pairs.size() == 1);
    CHECK(fixed.pairs[0]["tgt_chosen"] == "gold short");
    CHECK(fixed.pairs[0]["parley"]["chosen_tokens"].get<double>() == 10);
}
