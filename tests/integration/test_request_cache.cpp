// The request cache of a backend node (`cache = "path"`, core/src/cache): a second run answers
// every request from it with identical records; a resumed run gets the requests of unfinished
// conversations back from it; a run SIGKILLed mid-write leaves a torn line that the next run skips;
// two processes share one file. The backend is the scripted TEST DOUBLE, whose requests_log shows
// what reached the backend.
#include "cli_test_util.hpp"

#include <parley/test_skip.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <regex>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

using namespace cli_test;

namespace {


std::vector<std::string> lines_of(const fs::path &p) {
    std::vector<std::string> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

// Records keyed by (id, trial), without what differs between any two runs (timings).
std::map<std::string, json> records_of(const fs::path &p) {
    std::map<std::string, json> out;
    for (auto &line : lines_of(p)) {
        json r = json::parse(line);
        std::string key = r["parley"]["id"].get<std::string>() + "/" + std::to_string(r["parley"]["trial"].get<int>());
        r.erase("timings");
        r["parley"].erase("timings");
        out[key] = std::move(r);
    }
    return out;
}

// Coral over 12 MMLU-Pro items x 2 trials on the scripted double (replies that differ per turn,
// LLM extraction on the same backend), the backend node caching into `cache`.
std::string graph(const fs::path &cache, const fs::path &requests_log, const std::string &coral_extra = "", const std::string &model_extra = "") {
    return "[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() + "/data/mmlu_pro/test_sample_60.jsonl\"\nlimit = 12\n\n"
           "[nodes.model]\nuse = \"scripted/backend\"\ndefault_reply = \"Turn {turn}: the correct answer is (A).\"\n" +
           (cache.empty() ? std::string() : "cache = \"" + cache.string() + "\"\n") + "requests_log = \"" + requests_log.string() + "\"\n" + model_extra + "\n"
           "[nodes.coral]\nuse = \"core/coral_eval\"\ninputs = { domains = [\"mmlu_pro\"], teacher = \"model\" }\n"
           "max_turns = 4\ntrials = 2\n" + coral_extra;
}

// "request cache ...: H hits, M misses" from the log.
std::pair<long, long> hits_misses(const std::string &log) {
    std::smatch m;
    static const std::regex re("request cache [^:]+: ([0-9]+) hits, ([0-9]+) misses");
    REQUIRE(std::regex_search(log, m, re));
    return {std::stol(m[1]), std::stol(m[2])};
}

std::string parley_run(const fs::path &g, const fs::path &out) {
    return std::string(PARLEY_EXE) + " --plugin-path " + PARLEY_PLUGIN_DIR + " run " + quote(g) + " graph.output_dir=" + quote(out);
}

} // namespace

TEST_CASE("a second run answers every request from the cache, with identical records", "[e2e][cache]") {
    TempDir d("rerun");
    const fs::path cache = d.path / "cache/requests.jsonl";
    std::ofstream(d.path / "g.toml") << graph(cache, d.path / "log1.jsonl");
    auto first = run(parley_run(d.path / "g.toml", d.path / "out1"));
    INFO(first.output);
    REQUIRE(first.code == 0);
    // Every miss reached the backend and was stored; identical requests within the run (the
    // extractor asked about the same text in two trials, at temperature 0) are already hits.
    const auto [hits1, misses1] = hits_misses(first.output);
    const long asked = hits1 + misses1;
    REQUIRE(asked >= 48);
    CHECK(static_cast<size_t>(misses1) == lines_of(d.path / "log1.jsonl").size());
    CHECK(lines_of(cache).size() == static_cast<size_t>(misses1));

    std::ofstream(d.path / "g.toml") << graph(cache, d.path / "log2.jsonl");
    auto second = run(parley_run(d.path / "g.toml", d.path / "out2"));
    INFO(second.output);
    REQUIRE(second.code == 0);
    CHECK(hits_misses(second.output) == std::pair<long, long>(asked, 0));
    CHECK(lines_of(d.path / "log2.jsonl").empty());                 // nothing reached the backend
    CHECK(lines_of(cache).size() == static_cast<size_t>(misses1)); // nothing stored twice
    const auto a = records_of(d.path / "out1/coral/records_mmlu_pro.jsonl"), b = records_of(d.path / "out2/coral/records_mmlu_pro.jsonl");
    REQUIRE(a.size() == 24);
    CHECK(a == b);

    // A changed extraction (rule instead of the LLM extractor) re-uses every agent turn.
    std::ofstream(d.path / "g.toml") << graph(cache, d.path / "log3.jsonl", "extraction = \"rule\"\n");
    auto third = run(parley_run(d.path / "g.toml", d.path / "out3"));
    INFO(third.output);
    REQUIRE(third.code == 0);
    CHECK(lines_of(d.path / "log3.jsonl").empty());
    CHECK(hits_misses(third.output).second == 0);
    // Another salt is another cache: every distinct request misses (at least) once. (Repeats within
    // the run may hit or miss, depending on whether their twin is still in flight: timing.)
    std::set<std::string> keys;
    for (auto &line : lines_of(cache)) keys.insert(nlohmann::json::parse(line).at("key").get<std::string>());
    std::ofstream(d.path / "g.toml") << graph(cache, d.path / "log4.jsonl", "", "cache_salt = \"other\"\n");
    auto fourth = run(parley_run(d.path / "g.toml", d.path / "out4"));
    REQUIRE(fourth.code == 0);
    const auto [hits4, misses4] = hits_misses(fourth.output);
    CHECK(hits4 + misses4 == asked);
    CHECK(static_cast<size_t>(misses4) >= keys.size());
    CHECK(static_cast<size_t>(misses4) == lines_of(d.path / "log4.jsonl").size());
}

TEST_CASE("a resumed run gets the finished requests of unfinished conversations from the cache", "[e2e][cache]") {
    TempDir d("resume");
    const fs::path cache = d.path / "requests.jsonl";
    std::ofstream(d.path / "g.toml") << graph(cache, d.path / "log1.jsonl");
    REQUIRE(run(parley_run(d.path / "g.toml", d.path / "out")).code == 0);
    const fs::path records = d.path / "out/coral/records_mmlu_pro.jsonl";
    const auto full = records_of(records);
    const auto lines = lines_of(records);
    REQUIRE(lines.size() == 24);
    {
        // As if killed after 15 conversations were written, with a torn record and a torn cache line.
        std::ofstream out(records, std::ios::trunc);
        for (size_t i = 0; i < 15; ++i) out << lines[i] << "\n";
        out << lines[15].substr(0, 80);
        std::ofstream(cache, std::ios::app) << R"({"format":1,"key":"0123)";
    }
    std::ofstream(d.path / "g.toml") << graph(cache, d.path / "log2.jsonl");
    auto r = run(parley_run(d.path / "g.toml", d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto [hits, misses] = hits_misses(r.output);
    CHECK(hits > 0);
    CHECK(misses == 0); // every request of the 9 unfinished conversations had finished before the "kill"
    CHECK(lines_of(d.path / "log2.jsonl").empty());
    CHECK(records_of(records) == full);
}

TEST_CASE("a SIGKILLed run resumes: finished requests are hits, the records equal an uninterrupted run's", "[e2e][cache]") {
    TempDir d("kill");
    // The uninterrupted run, without a cache.
    const std::string slow = "max_conversations = 2\n", latency = "latency_ms = 20\n";
    std::ofstream(d.path / "ref.toml") << graph("", d.path / "ref.jsonl", slow, latency);
    REQUIRE(run(parley_run(d.path / "ref.toml", d.path / "ref")).code == 0);
    const auto reference = records_of(d.path / "ref/coral/records_mmlu_pro.jsonl");
    const size_t requests = lines_of(d.path / "ref.jsonl").size();
    REQUIRE(reference.size() == 24);

    const fs::path cache = d.path / "requests.jsonl";
    std::ofstream(d.path / "g.toml") << graph(cache, d.path / "log1.jsonl", slow, latency);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const std::string cmd = "exec " + parley_run(d.path / "g.toml", d.path / "out") + " > " + quote(d.path / "run1.log") + " 2>&1";
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char *>(nullptr));
        ::_exit(127);
    }
    // Kill it once about a third of the requests are stored.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (lines_of(cache).size() < requests / 3 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const size_t stored = lines_of(cache).size();
    INFO("stored before the kill: " << stored << " of " << requests);
    REQUIRE(stored >= requests / 3);
    REQUIRE(stored < requests);

    auto r = run(parley_run(d.path / "g.toml", d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(records_of(d.path / "out/coral/records_mmlu_pro.jsonl") == reference);
    // Over both runs the backend computed each request once, but for those in flight at the kill
    // (at most max_conversations of them).
    const size_t computed = lines_of(d.path / "log1.jsonl").size();
    CHECK(computed <= requests + 2);
    // Everything is in the cache now: another run computes nothing.
    auto again = run(parley_run(d.path / "g.toml", d.path / "out_again"));
    REQUIRE(again.code == 0);
    CHECK(hits_misses(again.output).second == 0);
}

TEST_CASE("two processes share one cache file: each sees what the other stored", "[e2e][cache]") {
    TempDir d("shared");
    const fs::path cache = d.path / "requests.jsonl";
    std::ofstream(d.path / "a.toml") << graph(cache, d.path / "a.jsonl", "", "latency_ms = 5\n");
    std::ofstream(d.path / "b.toml") << graph(cache, d.path / "b.jsonl", "", "latency_ms = 5\n");
    Result a, b;
    std::thread ta([&] { a = run(parley_run(d.path / "a.toml", d.path / "out_a")); });
    std::thread tb([&] { b = run(parley_run(d.path / "b.toml", d.path / "out_b")); });
    ta.join();
    tb.join();
    INFO(a.output << "\n----\n" << b.output);
    REQUIRE(a.code == 0);
    REQUIRE(b.code == 0);
    // Every line of the shared file is a whole entry, and a third run finds every request in it.
    for (auto &line : lines_of(cache)) CHECK(json::parse(line, nullptr, false).is_object());
    std::ofstream(d.path / "c.toml") << graph(cache, d.path / "c.jsonl");
    auto c = run(parley_run(d.path / "c.toml", d.path / "out_c"));
    REQUIRE(c.code == 0);
    CHECK(hits_misses(c.output).second == 0);
    CHECK(records_of(d.path / "out_a/coral/records_mmlu_pro.jsonl") == records_of(d.path / "out_c/coral/records_mmlu_pro.jsonl"));
}
