// Coral's metrics on hand-worked conversations (doc §3), in both agreement profiles.
#include <parley/core/coral_metrics.hpp>

#include <catch2/catch.hpp>

#include <sstream>

using nlohmann::json;
using parley::core::AgreementProfile;
using parley::core::conversation_metrics;

namespace {

const std::string E = "Model-MMLUProExtractionPromptingEvaluator";
const std::string M = "MMLUProMatchEvaluator";

// A turn with a belief ("A", "B", ... -> "The answer is (X)."; "?" -> not sure yet; "" -> error)
// scored against gold `gold`.
json turn(const std::string &role, const std::string &belief, const std::string &gold, int tokens = 10) {
    std::string extracted = belief == "?" ? "not sure yet" : belief.empty() ? "Error: no answer" : "The answer is (" + belief + ").";
    bool valid = belief != "?" && !belief.empty();
    bool em = valid && belief == gold;
    return {{"role", role},
            {"content", "..."},
            {"info",
             {{"status_ok", true},
              {"usage", {{"prompt_tokens", 100}, {"completion_tokens", tokens}}},
              {"annotation",
               {{E, {{"score", valid}, {"info", {{"extracted_answer", extracted}, {"agreement", false}, {"status_ok", true}}}}},
                {M, {{"score", em}, {"info", {{"metrics", {{"em", em}}}, {"status_ok", true}}}}}}},
              {"extracted_answer", extracted}}}};
}

json turn0() {
    return {{"role", "student"},
            {"content", "question"},
            {"info", {{"usage", {{"prompt_tokens", 0}, {"total_tokens", 0}, {"completion_tokens", 0}}}}}};
}

json conv(std::initializer_list<std::string> beliefs, const std::string &gold = "A") {
    json c = json::array({turn0()});
    int i = 0;
    for (auto &b : beliefs) {
        ++i; // turn i: teacher on odd turns, 10 + i completion tokens
        c.push_back(turn(i % 2 == 1 ? "teacher" : "student", b, gold, 10 + i));
    }
    return {{"conv_result", c}, {"metadata", json::object()}};
}

double num(const json &m, const std::string &k) {
    REQUIRE(m.contains(k));
    return m[k].is_boolean() ? (m[k].get<bool>() ? 1.0 : 0.0) : m[k].get<double>();
}

} // namespace

TEST_CASE("agreement on the last two turns, correct", "[metrics]") {
    // S0, T1:A, S2:A -> agree at turn 2 on the gold answer
    auto m = conversation_metrics(conv({"A", "A"}), 20, AgreementProfile::Coral);
    CHECK(num(m, E + "-agreement") == 1.0);
    CHECK(num(m, E + "-agreement_correctness") == 1.0);
    CHECK(num(m, "total_turns") == 3);
    CHECK(num(m, M + "-n_turns_to_success") == 1);
    CHECK(num(m, M + "-final_success_rate") == 1.0);
    CHECK(num(m, E + "-valid_answer_rate") == 1.0);
    CHECK(num(m, E + "-rated_turns") == 2);
    CHECK(num(m, "conv_err") == 0.0);
    // t_len/s_len: completion tokens of teacher (11) and student (12) turns
    CHECK(num(m, "t_len") == 11);
    CHECK(num(m, "s_len") == 12);
    CHECK(num(m, "conv_len") == 23);
}

TEST_CASE("coral and matrix agreement differ when an unsure turn intervenes", "[metrics]") {
    // T:A, S:B, T:unsure, S:A — Matrix takes each role's latest valid belief (T:A, S:A): agree.
    // Coral needs the last two turns to be valid and equal: no agreement.
    auto r = conv({"A", "B", "?", "A"});
    auto coral = conversation_metrics(r, 20, AgreementProfile::Coral);
    auto matrix = conversation_metrics(r, 20, AgreementProfile::Matrix);
    CHECK(num(coral, E + "-agreement") == 0.0);
    CHECK(num(matrix, E + "-agreement") == 1.0);
    CHECK(num(matrix, E + "-agreement_correctness") == 1.0);
    CHECK(num(coral, "total_turns") == 5);  // counts turn 0
    CHECK(num(matrix, "total_turns") == 4); // does not
}

TEST_CASE("agreement on a wrong answer is not correct, but any-turn success still counts", "[metrics]") {
    auto m = conversation_metrics(conv({"A", "B", "B"}), 20, AgreementProfile::Coral);
    CHECK(num(m, E + "-agreement") == 1.0);
    CHECK(num(m, E + "-agreement_correctness") == 0.0);
    CHECK(num(m, M + "-final_success_rate") == 1.0); // turn 1 was right
    CHECK(num(m, M + "-n_turns_to_success") == 1);
}

TEST_CASE("no success gives max_turns as turns to success", "[metrics]") {
    auto m = conversation_metrics(conv({"B", "C"}), 20, AgreementProfile::Coral);
    CHECK(num(m, M + "-n_turns_to_success") == 20);
    CHECK(num(m, M + "-final_success_rate") == 0.0);
    CHECK(num(m, E + "-agreement") == 0.0);
}

TEST_CASE("social behaviour: persuasion and assertion, hand-worked", "[metrics]") {
    // gold A. ans: [nsy, B, A, B, A]  (T1:B, S2:A, T3:B, S4:A)
    // i=1: self_prev=0.5 (float) -> never assertive; partner_prev=nsy, partner_next=A: ans[1]=B != A -> no
    // i=2: self_prev=nsy(ans0), partner_prev=B, ans[2]=A != nsy -> no assert; partner_next=B(ans3):
    //      partner_prev == partner_next -> no persuade
    // i=3: self_prev=B(ans1), partner_prev=A != B, ans[3]=B == self_prev -> ASSERT (sc 0);
    //      partner_next=A(ans4) == partner_prev -> no persuade
    // i=4 (last): self_prev=A(ans2), partner_prev=B != A, ans[4]=A == self_prev -> ASSERT (sc 1);
    //      partner_next = ans[3] = partner_prev -> never persuasive
    auto m = conversation_metrics(conv({"B", "A", "B", "A"}), 20, AgreementProfile::Coral);
    CHECK(num(m, E + "-assert_rate") == Approx(2.0 / 4.0));
    CHECK(num(m, E + "-correct_assert_rate") == Approx(0.5));
    CHECK(num(m, E + "-incorrect_assert_rate") == Approx(0.5));
    CHECK(num(m, E + "-persuade_rate") == 0.0);
    CHECK(num(m, E + "-persuasion_quality") == 0.0);

    // ans: [nsy, B, A, A] gold A: i=1: partner_prev=nsy, partner_next=A, ans[1]=B -> no
    // i=2: partner_prev=B, partner_next=A(ans3) != B, ans[2]=A == A -> PERSUADE sc=1, quality = sc[3]-sc[1] = 1-0 = 1
    auto p = conversation_metrics(conv({"B", "A", "A"}), 20, AgreementProfile::Coral);
    CHECK(num(p, E + "-persuade_rate") == Approx(1.0 / 3.0));
    CHECK(num(p, E + "-correct_persuade_rate") == 1.0);
    CHECK(num(p, E + "-persuasion_quality") == Approx(1.0));
}

TEST_CASE("a failed last turn is a conversation error", "[metrics]") {
    auto r = conv({"A"});
    r["conv_result"].push_back({{"role", "student"}, {"content", "timeout"}, {"info", {{"status_ok", false}, {"error", "timeout"}}}});
    auto m = conversation_metrics(r, 20, AgreementProfile::Coral);
    CHECK(num(m, "conv_err") == 1.0);
    CHECK(num(m, "s_len") == 0.0); // error turns are skipped
    CHECK(num(m, E + "-rated_turns") == 1);
}

TEST_CASE("unsure turns score 0.5 in social metrics and block agreement", "[metrics]") {
    auto m = conversation_metrics(conv({"?", "?"}), 20, AgreementProfile::Coral);
    CHECK(num(m, E + "-agreement") == 0.0);
    CHECK(num(m, E + "-valid_answer_rate") == 0.0);
}

TEST_CASE("means over conversations count booleans as 0/1", "[metrics]") {
    parley::core::MetricsAccumulator acc;
    acc.add(conversation_metrics(conv({"A", "A"}), 20, AgreementProfile::Coral));
    acc.add(conversation_metrics(conv({"B", "C"}), 20, AgreementProfile::Coral));
    CHECK(acc.mean(E + "-agreement_correctness") == 0.5);
    CHECK(acc.means()[M + "-n_turns_to_success"].get<double>() == Approx(10.5));
    CHECK(acc.stderrs()[E + "-agreement_correctness"].get<double>() == Approx(0.5));
}

TEST_CASE("lengths read a tree candidate's own count from Parley's block, not the request's usage", "[metrics]") {
    // Tree sampling records every candidate with the whole request's usage (as Coral does) and
    // its own count in info.parley.completion_tokens.
    auto r = conv({"A", "B"});
    r["conv_result"][1]["info"]["usage"]["completion_tokens"] = 90; // three candidates of 30
    r["conv_result"][1]["info"]["parley"] = {{"completion_tokens", 30}};
    auto m = conversation_metrics(r, 20, AgreementProfile::Coral);
    CHECK(num(m, "t_len") == 30.0);
    CHECK(num(m, "s_len") == 12.0);
    CHECK(num(m, "conv_len") == 42.0);
}

TEST_CASE("an unknown per-candidate count makes the lengths null, never 0", "[metrics]") {
    // An OpenAI-compatible server answering n > 1 gives no per-choice counts: Parley writes null.
    auto r = conv({"A", "B", "C"});
    r["conv_result"][1]["info"]["parley"] = {{"completion_tokens", nullptr}};
    auto m = conversation_metrics(r, 20, AgreementProfile::Coral);
    CHECK(m["t_len"].is_null());
    CHECK(m["conv_len"].is_null());
    CHECK(num(m, "s_len") == 12.0); // the student's counts are known

    // The engine's path (TurnFacts with -1) gives the same, and means skip the unknown.
    auto names = parley::core::find_rater_names(r);
    auto facts = parley::core::facts_of(r, names);
    CHECK(facts[1].completion_tokens == -1.0);
    parley::core::MetricsAccumulator acc, from_json;
    acc.add(parley::core::compute_metrics(facts, names, 20, AgreementProfile::Coral));
    from_json.add(m);
    CHECK(acc.means()["t_len"].is_null());
    CHECK(from_json.means()["t_len"].is_null());
    acc.add(conversation_metrics(conv({"A", "B"}), 20, AgreementProfile::Coral));
    CHECK(acc.means()["t_len"].get<double>() == 11.0); // only the conversation that knew it
    CHECK(acc.means()["s_len"].get<double>() == 12.0);
}

TEST_CASE("parley metrics' reader: a record's max_turns that is not a whole number is an error naming file and line", "[metrics][fuzz]") {
    // Found with fuzz/targets/coral_records.cpp: a string escaped as nlohmann's type_error (no
    // file, no line) and 1e30 converted to int was undefined behaviour.
    using parley::core::add_records;
    for (const char *bad : {R"("x")", "1e30", "-3", "2.5", "4294967296"}) {
        std::istringstream in(std::string("{\"conv_result\": []}\n{\"conv_result\": [], \"parley\": {\"max_turns\": ") + bad + "}}\n");
        parley::core::MetricsAccumulator acc;
        INFO(bad);
        CHECK_THROWS_WITH(add_records(in, "r.jsonl", std::nullopt, AgreementProfile::Coral, acc),
                          Catch::Matchers::StartsWith("r.jsonl:2: field 'parley.max_turns'"));
    }
    std::istringstream ok("{\"conv_result\": [], \"parley\": {\"max_turns\": 4}}\n\n");
    parley::core::MetricsAccumulator acc;
    CHECK(add_records(ok, "r.jsonl", std::nullopt, AgreementProfile::Coral, acc) == 1);
}
