// Self-consistency as a state machine, driven by hand (no threads, no backends).
#include "protocol_doubles.hpp"

#include "eval/self_consistency_protocol.hpp"
#include "eval/self_consistency_record.hpp"
#include "eval/common.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace parley::test;
using json = nlohmann::json;

namespace {

SelfConsistencyConfig sc_config(BackendDoubles &b, bool llm) {
    SelfConsistencyConfig c;
    c.sampler.backend = &b[0];
    c.sampler.temperature = 0.7;
    c.sampler.max_tokens = 50;
    if (llm) c.extraction.backend = &b[1];
    return c;
}

EpisodeId episode_id() { return EpisodeId{"dom", "q7", "B", 0, 0, 99, 0}; } // (domain, id, gold, index, trial, seed, unit)

} // namespace

TEST_CASE("self-consistency: k samples of one prompt with their own seeds, majority of the valid beliefs", "[eval][sc]") {
    BackendDoubles b;
    const SelfConsistencyConfig c = sc_config(b, false);
    ItemDouble item("B");
    SelfConsistencyEpisode e(c, item, episode_id(), 4);
    OutboxDouble out;
    CHECK(e.first_tokens() == 200);
    e.start(out);
    auto sent = out.take();
    REQUIRE(sent.size() == 4);
    std::set<uint64_t> seeds;
    for (size_t j = 0; j < 4; ++j) {
        CHECK(sent[j].key == (j << 1));
        CHECK(sent[j].messages.size() == 2);
        CHECK(sent[j].messages[0].content == "SYSTEM-COT");
        CHECK(sent[j].messages[1].content == "TASK");
        CHECK(sent[j].request.seed == request_seed(99, j));
        CHECK(sent[j].request.temperature == 0.7);
        seeds.insert(*sent[j].request.seed);
    }
    CHECK(seeds.size() == 4);
    const std::vector<std::string> texts = {"answer: A", "nothing", "answer: B", "answer: B"};
    for (size_t j = 0; j < 4; ++j) {
        CHECK_FALSE(e.done());
        e.on_result(sent[j].key, reply(texts[j], static_cast<int64_t>(j + 1)), out);
    }
    CHECK(out.sent.empty());
    CHECK(e.done());
    CHECK(e.majority().belief == "B");
    CHECK(e.majority().votes == 2);
    CHECK(e.majority().voters == 3);
    CHECK(e.completion_tokens() == 10);

    const json rec = self_consistency_record(e);
    CHECK(rec["k"] == 4);
    CHECK(rec["prompt"][1]["content"] == "TASK");
    CHECK(rec["samples"].size() == 4);
    CHECK_FALSE(rec["samples"][0].contains("user"));
    CHECK(rec["majority"]["correct"] == true);
    SelfConsistencyTally t;
    t.add(rec);
    std::map<std::string, std::vector<double>> m;
    for (auto &[k, v] : t.metrics()) m[k] = v;
    CHECK(m["final_success_rate"][0] == 1);
    CHECK(m["sample_accuracy"][0] == 0.5);
    CHECK(m["tokens_per_item"][0] == 10);
    CHECK(m["k"][0] == 4);
}

TEST_CASE("self-consistency: LLM extraction, failed samples abstain, ties go to the earliest sample", "[eval][sc]") {
    BackendDoubles b;
    const SelfConsistencyConfig c = sc_config(b, true);
    ItemDouble item("B");
    SelfConsistencyEpisode e(c, item, episode_id(), 3);
    OutboxDouble out;
    e.start(out);
    auto sent = out.take();
    e.on_result(sent[2].key, reply("text two"), out);
    e.on_result(sent[0].key, failure("timeout"), out);
    e.on_result(sent[1].key, reply("text one"), out);
    auto x = out.take();
    REQUIRE(x.size() == 2); // no extractor call for the failed sample
    CHECK(x[0].key == 5);
    CHECK(x[0].backend == &b[1]);
    CHECK(x[0].messages[1].content == "EXTRACT FROM: text two");
    CHECK_FALSE(e.done());
    e.on_result(x[0].key, reply("answer: B"), out);
    e.on_result(x[1].key, reply("answer: C"), out);
    CHECK(e.done());
    CHECK(e.majority().belief == "C"); // 1-1: sample 1 comes before sample 2
    CHECK(e.samples()[0].error == "timeout");
}

TEST_CASE("self-consistency: samples already taken (the match pilot) are not asked again", "[eval][sc]") {
    BackendDoubles b;
    const SelfConsistencyConfig c = sc_config(b, false);
    ItemDouble item("B");
    SelfConsistencyEpisode pilot(c, item, episode_id(), 1);
    OutboxDouble out;
    pilot.start(out);
    auto p = out.take();
    REQUIRE(p.size() == 1);
    pilot.on_result(p[0].key, reply("answer: B", 7), out);
    REQUIRE(pilot.done());
    SelfConsistencyEpisode e(c, item, episode_id(), 3, pilot.take_samples());
    CHECK(e.first_tokens() == 100);
    e.start(out);
    auto sent = out.take();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].key == (1 << 1));
    CHECK(sent[0].request.seed == request_seed(99, 1));
    e.on_result(sent[0].key, reply("answer: A"), out);
    e.on_result(sent[1].key, reply("answer: A"), out);
    CHECK(e.done());
    CHECK(e.majority().belief == "A");
    CHECK(e.completion_tokens() == 27);
    CHECK(e.samples()[0].response == "answer: B");

    SelfConsistencyEpisode all_taken(c, item, episode_id(), 1, e.take_samples()); // k grows to what was taken
    all_taken.start(out);
    CHECK(out.sent.empty());
    CHECK(all_taken.done());
    CHECK(all_taken.k() == 3);
}
