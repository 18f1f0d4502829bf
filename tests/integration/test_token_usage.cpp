// Token accounting by role, reasoning in records, and a run's budget (core/src/eval/token_usage.hpp, budget.hpp), through
// the `parley` executable on the scripted TEST DOUBLE: results.json's usage.by_role and
// usage.cache; a budgeted run stops starting conversations, ends cleanly and says so; re-runs
// resume it to the end, and the final records equal an unbudgeted run's.
#include "cli_test_util.hpp"

#include <parley/test_skip.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

using namespace cli_test;

namespace {


// Records keyed by (id, trial), without timings.
std::map<std::string, json> records_of(const fs::path &p) {
    std::map<std::string, json> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        json r = json::parse(line);
        const std::string key = r["parley"]["id"].get<std::string>() + "/" + std::to_string(r["parley"]["trial"].get<int>());
        r.erase("timings");
        r["parley"].erase("timings");
        out[key] = std::move(r);
    }
    return out;
}

// Coral over 12 MMLU-Pro items x 2 trials on the scripted double, two conversations at a time
// (so a budget is checked between starts), LLM extraction on the same backend.
std::string graph(const std::string &coral_extra, const std::string &model_extra = "") {
    return "[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() + "/data/mmlu_pro/test_sample_60.jsonl\"\nlimit = 12\n\n"
           "[nodes.model]\nuse = \"scripted/backend\"\ndefault_reply = \"Turn {turn}: the correct answer is (A).\"\n" + model_extra + "\n"
           "[nodes.coral]\nuse = \"core/coral_eval\"\ninputs = { domains = [\"mmlu_pro\"], teacher = \"model\" }\n"
           "max_turns = 4\ntrials = 2\nmax_conversations = 2\n" + coral_extra;
}

std::string parley(const std::string &verb, const fs::path &g, const fs::path &out) {
    return std::string(PARLEY_EXE) + " --plugin-path " + PARLEY_PLUGIN_DIR + " " + verb + " " + quote(g) + " graph.output_dir=" + quote(out);
}

json results_of(const fs::path &out) { return json::parse(std::ifstream(out / "coral/results.json")); }

// Runs `cmd` again (at most 30 times) until `count()` reaches `want`, checking each run adds to it;
// returns the final count.
template <class Count> size_t rerun_until(const std::string &cmd, size_t have, size_t want, Count count) {
    for (int i = 0; i < 30 && have < want; ++i) {
        auto again = run(cmd);
        INFO(again.output);
        REQUIRE(again.code == 0);
        const size_t now = count();
        CHECK(now > have);
        have = now;
    }
    return have;
}

} // namespace

TEST_CASE("results.json counts tokens by role and reports the request cache", "[e2e][budget][usage]") {
    TempDir d("usage");
    std::ofstream(d.path / "g.toml") << graph("", "cache = \"" + (d.path / "cache.jsonl").string() + "\"\n");
    auto r = run(parley("run", d.path / "g.toml", d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const json usage = results_of(d.path / "out")["usage"];
    INFO(usage.dump(1));
    for (const char *role : {"teacher", "student", "extractor"}) {
        REQUIRE(usage["by_role"].contains(role));
        CHECK(usage["by_role"][role]["requests"].get<int64_t>() > 0);
        CHECK(usage["by_role"][role]["prompt_tokens"].get<int64_t>() > 0);
        CHECK(usage["by_role"][role]["completion_tokens"].get<int64_t>() > 0);
        CHECK(usage["by_role"][role]["reasoning_tokens"] == 0);
    }
    // The agents' completion tokens are the run's completion_tokens.
    CHECK(usage["by_role"]["teacher"]["completion_tokens"].get<int64_t>() + usage["by_role"]["student"]["completion_tokens"].get<int64_t>() ==
          usage["completion_tokens"].get<int64_t>());
    const json &cache = usage["cache"]["model"];
    CHECK(cache["misses"].get<int64_t>() > 0);
    CHECK(cache["hits"].get<int64_t>() + cache["misses"].get<int64_t>() ==
          usage["by_role"]["teacher"]["requests"].get<int64_t>() + usage["by_role"]["student"]["requests"].get<int64_t>() +
              usage["by_role"]["extractor"]["requests"].get<int64_t>());
    CHECK_FALSE(usage.contains("budget"));
}

TEST_CASE("a budgeted run stops early and cleanly; re-runs resume it to an unbudgeted run's records", "[e2e][budget]") {
    TempDir d("stop");
    std::ofstream(d.path / "full.toml") << graph("");
    auto full = run(parley("run", d.path / "full.toml", d.path / "full"));
    INFO(full.output);
    REQUIRE(full.code == 0);
    const auto expected = records_of(d.path / "full/coral/records_mmlu_pro.jsonl");
    REQUIRE(expected.size() == 24);
    const int64_t spent_all = results_of(d.path / "full")["usage"]["by_role"]["teacher"]["prompt_tokens"].get<int64_t>();
    REQUIRE(spent_all > 0);

    std::ofstream(d.path / "budget.toml") << graph("budget = { tokens = 2000 }\n");
    auto first = run(parley("run", d.path / "budget.toml", d.path / "b"));
    INFO(first.output);
    REQUIRE(first.code == 0);
    CHECK(first.output.find("budget reached") != std::string::npos);
    const auto part = records_of(d.path / "b/coral/records_mmlu_pro.jsonl");
    CHECK(part.size() >= 2);
    CHECK(part.size() < 24);
    const json b = results_of(d.path / "b")["usage"]["budget"];
    CHECK(b["stopped_early"] == true);
    CHECK(b["tokens"] == 2000);
    CHECK(b["spent_tokens"].get<int64_t>() >= 2000);
    for (auto &[k, rec] : part) CHECK(rec == expected.at(k)); // finished conversations are whole

    // Each re-run with the same budget resumes and adds conversations until the plan is done.
    rerun_until(parley("run", d.path / "budget.toml", d.path / "b"), part.size(), 24,
                [&] { return records_of(d.path / "b/coral/records_mmlu_pro.jsonl").size(); });
    CHECK(records_of(d.path / "b/coral/records_mmlu_pro.jsonl") == expected);
    CHECK(results_of(d.path / "b")["usage"]["budget"]["stopped_early"] == false);
}

TEST_CASE("a cost budget prices tokens per million; a bad budget is refused naming the key", "[e2e][budget]") {
    TempDir d("cost");
    std::ofstream(d.path / "cost.toml") << graph("budget = { cost = 0.002, prices = { prompt = 1.0, completion = 1.0 } }\n");
    auto r = run(parley("run", d.path / "cost.toml", d.path / "c"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const json b = results_of(d.path / "c")["usage"]["budget"];
    CHECK(b["stopped_early"] == true);
    CHECK(b["spent_cost"].get<double>() >= 0.002);
    CHECK(b["spent_cost"].get<double>() == Approx(b["spent_tokens"].get<double>() / 1e6));

    std::ofstream(d.path / "bad.toml") << graph("budget = { cost = 1.0 }\n");
    auto bad = run(parley("run", d.path / "bad.toml", d.path / "x"));
    CHECK(bad.code != 0);
    CHECK(bad.output.find("nodes.coral.budget.prices") != std::string::npos);
}

TEST_CASE("a thinking model's reasoning: kept in records apart from the turn, counted by role", "[e2e][usage][reasoning]") {
    TempDir d("reasoning");
    const std::string thinking = "reasoning = \"Let me check each option first.\"\n";
    std::ofstream(d.path / "g.toml") << graph("", thinking);
    auto r = run(parley("run", d.path / "g.toml", d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const auto records = records_of(d.path / "out/coral/records_mmlu_pro.jsonl");
    REQUIRE(records.size() == 24);
    const json &turn = records.begin()->second["conv_result"][1];
    CHECK(turn["content"].get<std::string>().find("Let me check") == std::string::npos); // the answer only
    CHECK(turn["info"]["parley"]["reasoning"] == "Let me check each option first.");
    CHECK(turn["info"]["parley"]["reasoning_tokens"] == 6);
    const json usage = results_of(d.path / "out")["usage"]["by_role"];
    CHECK(usage["teacher"]["reasoning_tokens"].get<int64_t>() == 6 * usage["teacher"]["requests"].get<int64_t>());

    // reasoning_records = false: the records leave it out; the answer's record is otherwise the same.
    std::ofstream(d.path / "h.toml") << graph("reasoning_records = false\n", thinking);
    auto h = run(parley("run", d.path / "h.toml", d.path / "out2"));
    INFO(h.output);
    REQUIRE(h.code == 0);
    const auto without = records_of(d.path / "out2/coral/records_mmlu_pro.jsonl");
    CHECK_FALSE(without.begin()->second["conv_result"][1]["info"]["parley"].contains("reasoning"));
    CHECK(without.begin()->second["conv_result"][1]["content"] == turn["content"]);
}

namespace {

// Debate (3 agents, 2 rounds) or self-consistency (k 3) over 12 MMLU-Pro items on the scripted
// double, two items at a time, with `extra` keys; the node is named "eval".
std::string protocol_graph(const std::string &node, const std::string &extra) {
    const bool debate = node == "debate_eval";
    return "[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() + "/data/mmlu_pro/test_sample_60.jsonl\"\nlimit = 12\n\n"
           "[nodes.model]\nuse = \"scripted/backend\"\ndefault_reply = \"The correct answer is (A).\"\n\n"
           "[nodes.eval]\nuse = \"core/" + node + "\"\ninputs = { domains = [\"mmlu_pro\"], " +
           (debate ? "backends = [\"model\"] }\nagents = 3\nrounds = 2\n" : "backend = \"model\" }\nk = 3\n") +
           "max_in_flight = 2\nbackend_feedback = false\n" + extra;
}

// A protocol's records keyed by (id, trial).
std::map<std::string, json> protocol_records(const fs::path &p) {
    std::map<std::string, json> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) {
            json r = json::parse(line);
            const std::string key = r["id"].get<std::string>() + "/" + std::to_string(r["trial"].get<int>());
            out[key] = std::move(r); // (the key first: json's operator= takes its argument by value)
        }
    return out;
}

} // namespace

TEST_CASE("debate and self-consistency count tokens by role and stop at a budget, resumably", "[e2e][budget][usage]") {
    for (const std::string node : {"debate_eval", "sc_eval"}) {
        DYNAMIC_SECTION(node) {
            TempDir d("protocol-budget");
            std::ofstream(d.path / "full.toml") << protocol_graph(node, "");
            auto full = run(parley("run", d.path / "full.toml", d.path / "full"));
            INFO(full.output);
            REQUIRE(full.code == 0);
            const json usage = json::parse(std::ifstream(d.path / "full/eval/results.json"))["usage"];
            INFO(usage.dump(1));
            const std::vector<std::string> roles =
                node == "debate_eval" ? std::vector<std::string>{"agent_1", "agent_2", "agent_3", "extractor"} : std::vector<std::string>{"agent", "extractor"};
            int64_t agents_completion = 0;
            for (auto &role : roles) {
                REQUIRE(usage["by_role"].contains(role));
                CHECK(usage["by_role"][role]["requests"].get<int64_t>() > 0);
                CHECK(usage["by_role"][role]["prompt_tokens"].get<int64_t>() > 0);
                if (role != "extractor") agents_completion += usage["by_role"][role]["completion_tokens"].get<int64_t>();
            }
            CHECK(usage["by_role"].size() == roles.size());
            CHECK(agents_completion == usage["completion_tokens"].get<int64_t>());
            CHECK_FALSE(usage.contains("budget"));
            const auto expected = protocol_records(d.path / "full/eval/records_mmlu_pro.jsonl");
            REQUIRE(expected.size() == 12);

            std::ofstream(d.path / "budget.toml") << protocol_graph(node, "budget = { tokens = 3000 }\n");
            auto first = run(parley("run", d.path / "budget.toml", d.path / "b"));
            INFO(first.output);
            REQUIRE(first.code == 0);
            CHECK(first.output.find("budget reached") != std::string::npos);
            const auto part = protocol_records(d.path / "b/eval/records_mmlu_pro.jsonl");
            CHECK(part.size() < 12);
            const json b = json::parse(std::ifstream(d.path / "b/eval/results.json"))["usage"]["budget"];
            CHECK(b["stopped_early"] == true);
            CHECK(b["spent_tokens"].get<int64_t>() >= 3000);
            for (auto &[k, rec] : part) CHECK(rec == expected.at(k));
            rerun_until(parley("run", d.path / "budget.toml", d.path / "b"), part.size(), 12,
                        [&] { return protocol_records(d.path / "b/eval/records_mmlu_pro.jsonl").size(); });
            CHECK(protocol_records(d.path / "b/eval/records_mmlu_pro.jsonl") == expected);
        }
    }
}
