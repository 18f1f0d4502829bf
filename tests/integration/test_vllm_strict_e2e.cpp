// End to end against a server that checks requests as vLLM does: the `parley` executable runs a
// Coral evaluation (LLM extraction), Coral tree sampling (beam = k: one request with n = k per
// turn) and the CoT baseline through openai/backend against tests/servers/vllm_strict.py, on a
// few items of three domains, and the server must have refused nothing.
#include "cli_test_util.hpp"
#include "vllm_strict.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;
using parley::testing::VllmStrictServer;
using cli_test::shared_dir;
using cli_test::TempDir;

namespace {

struct Run {
    int code;
    std::string output;
};

Run parley_run(const fs::path &graph, const fs::path &out) {
    std::string cmd = std::string(PARLEY_EXE) + " --plugin-path " + PARLEY_PLUGIN_DIR + " run '" + graph.string() +
                      "' graph.output_dir='" + out.string() + "' 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string text;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) text.append(buf.data(), n);
    int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

json read_json(const fs::path &p) {
    std::ifstream in(p);
    REQUIRE(in);
    return json::parse(in);
}

const char *kDomains[] = {"mmlu_pro", "math", "hitom"};
constexpr int kLimit = 3;

// Three domains (letters, \boxed{} and short answers) and the openai backend on `url`.
std::string domains_and_model(const std::string &url) {
    const std::string d = shared_dir() + "/data";
    return "[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + d + "/mmlu_pro/test_sample_60.jsonl\"\nlimit = " +
           std::to_string(kLimit) + "\n\n[nodes.math]\nuse = \"math/domain\"\ndata = \"" + d + "/math/test\"\nlimit = " +
           std::to_string(kLimit) + "\n\n[nodes.hitom]\nuse = \"hitom/domain\"\ndata = \"" + d +
           "/hitom/Hi-ToM_data_sample_60.json\"\nlimit = " + std::to_string(kLimit) + "\n\n[nodes.model]\nuse = \"openai/backend\"\nurl = \"" +
           url + "\"\n\n";
}

const std::string kInputs = "domains = [\"mmlu_pro\", \"math\", \"hitom\"]";

// Runs the graph and checks the server served every request and refused none.
json run_clean(const VllmStrictServer &server, const std::string &graph, const TempDir &d) {
    std::ofstream(d.path / "g.toml") << graph;
    Run r = parley_run(d.path / "g.toml", d.path / "out");
    INFO(r.output);
    REQUIRE(r.code == 0);
    json stats = server.stats();
    INFO(parley::testing::refusal_summary(stats));
    CHECK(stats["refused"] == 0);
    CHECK(stats["served"] == stats["requests"]);
    CHECK(stats["served"].get<int>() > 0);
    return stats;
}

} // namespace

TEST_CASE("vllm strict: a Coral run with LLM extraction is served without a refusal", "[e2e][vllm][coral]") {
    VllmStrictServer server;
    TempDir d("coral");
    json stats = run_clean(server, domains_and_model(server.url()) + "[nodes.coral]\nuse = \"core/coral_eval\"\ninputs = { " + kInputs +
                                       ", teacher = \"model\" }\nextraction = \"llm\"\nmax_turns = 4\nmax_tokens = 64\n",
                           d);
    json results = read_json(d.path / "out/coral/results.json");
    for (auto *dom : kDomains) CHECK(results["results"][dom]["conversations"] == kLimit);
    // Every turn is a speaker call and an extractor call.
    CHECK(stats["served"].get<int>() >= 2 * 2 * kLimit * 3);
}

TEST_CASE("vllm strict: Coral tree sampling (n = k per turn) is served without a refusal", "[e2e][vllm][coral]") {
    VllmStrictServer server;
    TempDir d("trees");
    json stats = run_clean(server, domains_and_model(server.url()) + "[nodes.trees]\nuse = \"core/coral_eval\"\ninputs = { " + kInputs +
                                       ", teacher = \"model\" }\nextraction = \"llm\"\nbeam = 3\ntrials = 2\ntemperature = 0.8\n"
                                       "max_turns = 3\nmax_tokens = 64\n",
                           d);
    CHECK(stats["requests_with_n_gt_1"].get<int>() > 0);
    CHECK(stats["choices"].get<int>() > stats["served"].get<int>());
    json results = read_json(d.path / "out/trees/results.json");
    for (auto *dom : kDomains) CHECK(results["results"][dom]["conversations"] == 2 * kLimit);
}

TEST_CASE("vllm strict: the CoT baseline is served without a refusal", "[e2e][vllm][cot]") {
    VllmStrictServer server;
    TempDir d("cot");
    json stats = run_clean(server, domains_and_model(server.url()) + "[nodes.cot]\nuse = \"core/cot_eval\"\ninputs = { " + kInputs +
                                       ", backend = \"model\" }\nextraction = \"llm\"\ntrials = 2\nmax_tokens = 64\n",
                           d);
    CHECK(stats["served"] == 2 * 2 * kLimit * 3); // an answer and an extraction per (item, trial)
    json results = read_json(d.path / "out/cot/results.json");
    for (auto *dom : kDomains) CHECK(results["n-samples"][dom]["effective"] == 2 * kLimit);
}
