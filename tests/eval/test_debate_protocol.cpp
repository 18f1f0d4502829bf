// Multi-agent debate and self-consistency as state machines, driven by hand through an Outbox
// double with canned results (no threads, no backends).
#include "protocol_doubles.hpp"

#include "eval/debate_protocol.hpp"
#include "eval/debate_record.hpp"
#include "eval/majority_vote.hpp"
#include "eval/common.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace parley::test;
using json = nlohmann::json;

namespace {

DebateConfig debate_config(BackendDoubles &b, size_t agents, int32_t rounds, bool llm = false) {
    DebateConfig c;
    for (size_t a = 0; a < agents; ++a) {
        AgentSpec s;
        s.backend = &b[a % 3];
        s.backend_node = "model" + std::to_string(a % 3);
        s.temperature = 0.5 + 0.1 * static_cast<double>(a);
        s.max_tokens = 100;
        c.agents.push_back(s);
    }
    c.rounds = rounds;
    if (llm) c.extraction.backend = &b[3];
    c.check();
    return c;
}

EpisodeId episode_id() { return EpisodeId{"dom", "q1", "B", 0, 0, 1234, 0}; } // (domain, id, gold, index, trial, seed, unit)

// Answers every request in `sent` that is an agent's (even key) with the agent's text for it.
void answer(DebateEpisode &e, OutboxDouble &out, std::vector<SentRequest> sent, const std::vector<std::string> &texts) {
    for (size_t i = 0; i < sent.size(); ++i) e.on_result(sent[i].key, reply(texts.at(i)), out);
}

} // namespace

TEST_CASE("majority_vote: only valid beliefs vote; ties go to the lowest voter index", "[eval][debate]") {
    auto vote = [](std::vector<Ballot> b) { return majority_vote(b); };
    CHECK(vote({{"A", true}, {"B", true}, {"B", true}}).belief == "B");
    CHECK(vote({{"A", true}, {"B", true}, {"C", true}}).belief == "A");
    CHECK(vote({{"A", true}, {"B", true}, {"B", true}, {"A", true}}).belief == "A"); // 2-2: A voted first
    auto v = vote({{"A", false}, {"B", true}, {"A", false}});
    CHECK(v.belief == "B");
    CHECK(v.votes == 1);
    CHECK(v.voters == 1);
    CHECK(v.winner == 1);
    CHECK_FALSE(v.unanimous);
    CHECK_FALSE(vote({{"", false}, {"", false}}).valid);
    CHECK(vote({{"C", true}, {"C", true}}).unanimous);
}

TEST_CASE("debate: round 0 is independent, round r quotes the others' answers of round r-1", "[eval][debate]") {
    BackendDoubles b;
    const DebateConfig c = debate_config(b, 3, 2);
    ItemDouble item("B");
    DebateEpisode e(c, item, episode_id());
    OutboxDouble out;
    e.start(out);
    auto r0 = out.take();
    REQUIRE(r0.size() == 3);
    std::set<uint64_t> seeds;
    for (size_t a = 0; a < 3; ++a) {
        CHECK(r0[a].key == (a << 1));
        CHECK(r0[a].backend == &b[a]);
        REQUIRE(r0[a].messages.size() == 2);
        CHECK(r0[a].messages[0].content == "SYSTEM-COT");
        CHECK(r0[a].messages[1].content == "TASK");
        CHECK(r0[a].request.temperature == Approx(0.5 + 0.1 * a));
        CHECK(r0[a].request.agent == a);
        CHECK(r0[a].request.seed == request_seed(1234, a));
        CHECK(*r0[a].request.seed <= kMaxSeed);
        seeds.insert(*r0[a].request.seed);
    }
    CHECK(seeds.size() == 3);
    // Rounds are simultaneous: nothing more until every round-0 answer is in.
    e.on_result(r0[2].key, reply("third: answer: B"), out);
    e.on_result(r0[0].key, reply("first: answer: A"), out);
    CHECK(out.sent.empty());
    e.on_result(r0[1].key, reply("second: answer: C"), out);
    auto r1 = out.take();
    REQUIRE(r1.size() == 3);
    CHECK_FALSE(e.done());
    // Agent 0 sees its own chat and the others' round-0 answers, in agent order, not its own.
    REQUIRE(r1[0].messages.size() == 4);
    CHECK(r1[0].messages[2].role == "assistant");
    CHECK(r1[0].messages[2].content == "first: answer: A");
    const std::string &msg = r1[0].messages[3].content;
    CHECK(msg.rfind("These are the solutions to the problem from other agents: \n\n One agent solution: ```second: answer: C```"
                    "\n\n One agent solution: ```third: answer: B```\n\n Using the reasoning from other agents",
                    0) == 0);
    CHECK(msg.find("first: answer: A") == std::string::npos);
    CHECK(r1[1].messages[3].content.find("```first: answer: A```\n\n One agent solution: ```third: answer: B```") != std::string::npos);
    CHECK(r1[2].key == ((3 + 2) << 1));
    CHECK(r1[2].request.seed == request_seed(1234, 5));
    answer(e, out, r1, {"answer: B", "answer: B", "answer: A"});
    CHECK(out.sent.empty());
    CHECK(e.done());
    CHECK(e.majority(0).belief == "A"); // A, C, B: a three-way tie goes to agent 0
    CHECK(e.majority(1).belief == "B");
    CHECK(e.completion_tokens() == 60);
    CHECK(out.grown == 3 * (20 + 10)); // each agent's chat: its latest prompt + completion
}

TEST_CASE("debate: LLM extraction runs beside the next round; the episode ends when every belief is in", "[eval][debate]") {
    BackendDoubles b;
    const DebateConfig c = debate_config(b, 2, 2, /*llm*/ true);
    ItemDouble item("B");
    DebateEpisode e(c, item, episode_id());
    OutboxDouble out;
    e.start(out);
    auto r0 = out.take();
    e.on_result(r0[0].key, reply("I think B"), out);
    auto x0 = out.take();
    REQUIRE(x0.size() == 1); // agent 0's extractor call
    CHECK(x0[0].key == 1);
    CHECK(x0[0].backend == &b[3]);
    CHECK(x0[0].messages[0].content == "EXTRACTOR-SYSTEM");
    CHECK(x0[0].messages[1].content == "EXTRACT FROM: I think B");
    CHECK(x0[0].request.temperature == 0.0);
    CHECK(x0[0].request.max_tokens == 32);
    CHECK(x0[0].request.agent == kExtractorAgent);
    e.on_result(r0[1].key, reply("maybe A"), out);
    auto next = out.take();
    REQUIRE(next.size() == 3); // agent 1's extractor call, then round 1 without waiting for beliefs
    CHECK(next[0].key == 3);
    CHECK(next[1].key == (2 << 1));
    CHECK(next[2].key == (3 << 1));
    e.on_result(x0[0].key, reply("answer: B", 3), out);
    e.on_result(next[0].key, failure("extractor down"), out);
    e.on_result(next[1].key, reply("B then"), out);
    e.on_result(next[2].key, reply("B too"), out);
    auto x1 = out.take();
    REQUIRE(x1.size() == 2);
    CHECK_FALSE(e.done());
    e.on_result(x1[1].key, reply("answer: B", 3), out);
    e.on_result(x1[0].key, reply("answer: B", 3), out);
    CHECK(e.done());
    CHECK(e.answer(0, 1).extractor_error == "extractor down");
    CHECK_FALSE(e.answer(0, 1).valid);
    CHECK(e.majority(0).belief == "B");
    CHECK(e.majority(1).unanimous);
    CHECK(e.extractor_tokens() == 9);
    CHECK(e.completion_tokens() == 40);
}

TEST_CASE("debate: a failed answer abstains, is not quoted and costs no extractor call", "[eval][debate]") {
    BackendDoubles b;
    const DebateConfig c = debate_config(b, 3, 2, /*llm*/ true);
    ItemDouble item("B");
    DebateEpisode e(c, item, episode_id());
    OutboxDouble out;
    e.start(out);
    auto r0 = out.take();
    e.on_result(r0[0].key, failure("HTTP 500: boom"), out);
    CHECK(out.sent.empty());
    e.on_result(r0[1].key, reply("answer one"), out);
    e.on_result(r0[2].key, reply("answer two"), out);
    auto sent = out.take();
    REQUIRE(sent.size() == 5); // two extractor calls, three round-1 answers
    CHECK(e.answer(0, 0).error == "HTTP 500: boom");
    CHECK_FALSE(e.answer(0, 0).valid);
    const std::string &to1 = sent[3].messages.back().content;
    CHECK(to1.find("answer two") != std::string::npos);
    CHECK(to1.find("boom") == std::string::npos);
    CHECK(to1.find("One agent solution") == to1.rfind("One agent solution")); // only agent 2's
    // Agent 0's own chat holds an empty assistant turn for the failure.
    CHECK(sent[2].messages[2].role == "assistant");
    CHECK(sent[2].messages[2].content.empty());
}

TEST_CASE("debate: one agent reflects on its own answer", "[eval][debate]") {
    BackendDoubles b;
    const DebateConfig c = debate_config(b, 1, 3);
    ItemDouble item("B");
    DebateEpisode e(c, item, episode_id());
    OutboxDouble out;
    e.start(out);
    for (int r = 0; r < 3; ++r) {
        auto s = out.take();
        REQUIRE(s.size() == 1);
        if (r > 0) CHECK(s[0].messages.back().content == c.prompts.reflect);
        CHECK(s[0].messages.size() == static_cast<size_t>(2 + 2 * r));
        e.on_result(s[0].key, reply("answer: B"), out);
    }
    CHECK(e.done());
}

TEST_CASE("debate: configuration errors name the field", "[eval][debate]") {
    BackendDoubles b;
    DebateConfig c;
    CHECK_THROWS_WITH(c.check(), Catch::Contains("agents"));
    c = debate_config(b, 2, 2);
    c.rounds = 0;
    CHECK_THROWS_WITH(c.check(), Catch::Contains("rounds"));
    c.rounds = 20000;
    CHECK_THROWS_WITH(c.check(), Catch::Contains("agents x rounds"));
    c.rounds = 2;
    c.prompts.debate = "no placeholder";
    CHECK_THROWS_WITH(c.check(), Catch::Contains("{solutions}"));
}

TEST_CASE("debate records: every message and belief; the tally counts changes, consensus and per-agent accuracy",
          "[eval][debate]") {
    BackendDoubles b;
    const DebateConfig c = debate_config(b, 3, 3);
    ItemDouble item("B");
    DebateEpisode e(c, item, episode_id());
    OutboxDouble out;
    e.start(out);
    answer(e, out, out.take(), {"answer: A", "answer: B", "no idea"});     // round 0: A, B, -
    answer(e, out, out.take(), {"answer: B", "answer: A", "answer: B"});   // round 1: B, A, B
    answer(e, out, out.take(), {"answer: B", "answer: B", "answer: B"});   // round 2: B, B, B
    REQUIRE(e.done());
    const json rec = debate_record(e);
    CHECK(rec["id"] == "q1");
    CHECK(rec["seed"] == 1234);
    CHECK(rec["agents"].size() == 3);
    CHECK(rec["agents"][0]["system"] == "SYSTEM-COT");
    REQUIRE(rec["rounds"].size() == 3);
    CHECK(rec["rounds"][0]["answers"][0]["user"] == "TASK");
    CHECK(rec["rounds"][0]["answers"][2]["valid"] == false);
    CHECK(rec["rounds"][1]["answers"][1]["belief"] == "A");
    CHECK(rec["rounds"][1]["answers"][1]["user"].get<std::string>().find("answer: A") != std::string::npos);
    CHECK(rec["rounds"][0]["majority"]["belief"] == "A"); // 1-1 tie: agent 0's
    CHECK(rec["rounds"][0]["majority"]["correct"] == false);
    CHECK(rec["final"]["belief"] == "B");
    CHECK(rec["final"]["consensus"] == true);
    CHECK(rec["tokens"]["completion"] == 90);

    DebateTally tally;
    tally.add(rec);
    tally.add(json::parse(rec.dump())); // records read back from disk count the same
    std::map<std::string, std::vector<double>> m;
    for (auto &[k, v] : tally.metrics()) m[k] = v;
    CHECK(m["final_success_rate"] == std::vector<double>{1, 1});
    CHECK(m["accuracy_round0"][0] == 0);
    CHECK(m["accuracy_round1"][0] == 1);
    CHECK(m["consensus_round1"][0] == 0);
    CHECK(m["consensus_rate"][0] == 1);
    CHECK(m["wrong_to_right_round1"][0] == 2); // agents 0 and 2
    CHECK(m["right_to_wrong_round1"][0] == 1); // agent 1
    CHECK(m["wrong_to_right_round2"][0] == 1);
    CHECK(m["right_to_wrong_round2"][0] == 0);
    CHECK(m["agent1_accuracy"][0] == 1);
    CHECK(m["tokens_per_item"][0] == 90);
    CHECK(tally.count() == 2);
}
