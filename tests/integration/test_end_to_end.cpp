// End-to-end: the `parley` executable running graphs, as a user would.
#include "cli_test_util.hpp"

#include <parley/plugin.h>
#include <parley/test_skip.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

using cli_test::quote;
using cli_test::shared_dir;
using cli_test::TempDir;

namespace {

struct Result {
    int code;
    std::string output;
};

Result run(const std::string &cmd) {
    std::string full = cmd + " 2>&1";
    FILE *p = popen(full.c_str(), "r");
    REQUIRE(p);
    std::string out;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A test that needs an optional plugin (llama_cpp, trainer) reports a skip where it is not built.
#define NEED_PLUGIN(name)                                                                          \
    do {                                                                                           \
        if (!fs::exists(fs::path(PARLEY_PLUGIN_DIR) / ("libparley-" name ".so")))                 \
            PARLEY_SKIP(name " plugin not built");                                                 \
    } while (0)

std::string parley() { return std::string(PARLEY_EXE) + " --plugin-path " + PARLEY_PLUGIN_DIR; }

std::vector<json> read_jsonl(const fs::path &p) {
    std::vector<json> rows;
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) rows.push_back(json::parse(line));
    return rows;
}

json read_json(const fs::path &p) {
    std::ifstream in(p);
    return json::parse(in);
}

// A CoT graph over the MMLU-Pro sample answered by the scripted test double.
std::string scripted_graph(const std::string &reply) {
    return "[graph]\nname = \"scripted\"\n\n[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() +
           "/data/mmlu_pro/test_sample_60.jsonl\"\n\n[nodes.model]\nuse = \"scripted/backend\"\ndefault_reply = \"" + reply +
           "\"\n\n[nodes.cot]\nuse = \"core/cot_eval\"\ninputs = { domains = [\"mmlu_pro\"], backend = \"model\" }\n"
           "temperature = 0.0\nextraction = \"rule\"\n";
}

size_t gold_count(const std::string &letter) {
    size_t n = 0;
    for (auto &r : read_jsonl(shared_dir() + "/data/mmlu_pro/test_sample_60.jsonl")) n += r["answer"] == letter;
    return n;
}

} // namespace

TEST_CASE("parley plugins --json lists the shipped plugins with ABI versions", "[e2e]") {
    auto r = run(parley() + " plugins --json");
    REQUIRE(r.code == 0);
    auto j = json::parse(r.output.substr(r.output.find('{')));
    std::map<std::string, json> by_name;
    for (auto &p : j["plugins"]) by_name[p["name"]] = p;
    REQUIRE(by_name.count("mmlu_pro"));
    const std::string host_abi = std::to_string(PARLEY_ABI_MAJOR) + "." + std::to_string(PARLEY_ABI_MINOR);
    CHECK(j["host_abi"] == host_abi);
    CHECK(by_name["mmlu_pro"]["abi_version"] == host_abi);
    CHECK(by_name["mmlu_pro"]["kinds"][0] == "domain");
    REQUIRE(by_name.count("scripted"));
    CHECK(by_name["scripted"]["kinds"][0] == "backend");
}

TEST_CASE("broken plugins are listed as rejected and the run continues without them", "[e2e]") {
    TempDir d("broken");
    std::ofstream(d.path / "g.toml") << scripted_graph("The correct answer is (A).");
    auto r = run(parley() + " --plugin-path " + PARLEY_FIXTURE_DIR + " run " + quote(d.path / "g.toml") +
                 " graph.output_dir=" + quote(d.path / "out"));
    // fixture plugins are only opened when named, so nothing is even reported here
    CHECK(r.code == 0);
    auto l = run(parley() + " --plugin-path " + PARLEY_FIXTURE_DIR + " plugins");
    CHECK(l.code == 0);
    CHECK(l.output.find("libparley-fixture_newer_major.so: built for ABI 2.0") != std::string::npos);
    CHECK(l.output.find("libparley-fixture_missing_symbol.so: missing entry symbol 'parley_plugin_init'") != std::string::npos);
    CHECK(l.output.find("mmlu_pro") != std::string::npos);
}

TEST_CASE("a CoT graph scores scripted answers against the gold letters", "[e2e]") {
    TempDir d("cot");
    std::ofstream(d.path / "g.toml") << scripted_graph("Let me think. The correct answer is (C).");
    auto r = run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto results = read_json(d.path / "out/cot/results.json");
    auto samples = read_jsonl(d.path / "out/cot/samples_mmlu_pro.jsonl");
    REQUIRE(samples.size() == 60);
    double expected = gold_count("C") / 60.0;
    CHECK(results["results"]["mmlu_pro"]["final_success_rate,rule_extract"].get<double>() == Approx(expected));
    CHECK(results["results"]["mmlu_pro"]["valid_answer_rate,rule_extract"].get<double>() == Approx(1.0));
    CHECK(results["n-samples"]["mmlu_pro"]["effective"] == 60);
    CHECK(results.contains("versions"));
    CHECK(results.contains("total_evaluation_time_seconds"));
    for (auto &s : samples) {
        CHECK(s["extracted"] == "The answer is (C).");
        CHECK(s["correct"] == (s["gold"] == "C"));
    }
}

TEST_CASE("a re-run resumes: finished samples are kept, torn lines dropped, results identical", "[e2e]") {
    TempDir d("resume");
    std::ofstream(d.path / "g.toml") << scripted_graph("The correct answer is (B).");
    std::string cmd = parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out");
    REQUIRE(run(cmd).code == 0);
    fs::path samples = d.path / "out/cot/samples_mmlu_pro.jsonl";
    auto full = read_jsonl(samples);
    auto first = read_json(d.path / "out/cot/results.json");
    // Simulate a crash: keep 40 rows and a torn 41st.
    {
        std::ofstream out(samples, std::ios::trunc);
        for (size_t i = 0; i < 40; ++i) out << full[i].dump() << "\n";
        out << full[40].dump().substr(0, 25);
    }
    auto r = run(cmd);
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(r.output.find("resuming: 40 finished samples kept, 20 to run") != std::string::npos);
    auto again = read_jsonl(samples);
    REQUIRE(again.size() == 60);
    std::set<std::string> ids;
    for (auto &s : again) ids.insert(s["id"].dump());
    CHECK(ids.size() == 60);
    auto second = read_json(d.path / "out/cot/results.json");
    CHECK(second["results"] == first["results"]);
}

TEST_CASE("CoT with trials reports pass@k, consistency and maj@k per item, also from rows out of order", "[e2e][results]") {
    TempDir d("cot-trials");
    std::string g = scripted_graph("The correct answer is (C).") + "trials = 2\n";
    g.replace(g.find("default_reply"), 0, "fail_every = 3\n"); // failed answers: trials of an item differ
    std::ofstream(d.path / "g.toml") << g;
    const std::string cmd = parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out");
    auto r = run(cmd);
    INFO(r.output);
    REQUIRE(r.code == 0);
    const fs::path samples = d.path / "out/cot/samples_mmlu_pro.jsonl";
    auto rows = read_jsonl(samples);
    REQUIRE(rows.size() == 120);
    // Expected, item by item: every valid answer is (C), so the majority is the first valid trial's.
    std::map<std::string, std::array<json, 2>> by_item;
    for (auto &row : rows) by_item[row["id"].get<std::string>()][row["trial"].get<int>()] = row;
    double pass1 = 0, pass2 = 0, consistent = 0, majority = 0;
    for (auto &[id, t] : by_item) {
        const bool c0 = t[0]["correct"].get<bool>(), c1 = t[1]["correct"].get<bool>();
        pass1 += (c0 + c1) / 2.0, pass2 += c0 || c1, consistent += c0 == c1;
        majority += t[0]["valid"].get<bool>() ? c0 : t[1]["valid"].get<bool>() && c1;
    }
    REQUIRE(by_item.size() == 60);
    REQUIRE(consistent < 60); // the check below can tell items apart
    auto check = [&](const json &res) {
        const json &m = res["results"]["mmlu_pro"];
        CHECK(m["final_success_rate_pass@1,rule_extract"].get<double>() == Approx(pass1 / 60));
        CHECK(m["final_success_rate_pass@2,rule_extract"].get<double>() == Approx(pass2 / 60));
        CHECK(m["final_success_rate_consistency,rule_extract"].get<double>() == Approx(consistent / 60));
        CHECK(m["final_success_rate_maj@2,rule_extract"].get<double>() == Approx(majority / 60));
        for (auto *k : {"final_success_rate_pass@2", "final_success_rate_consistency", "final_success_rate_maj@2"})
            CHECK(m.contains(std::string(k) + "_ci_lo,rule_extract"));
        CHECK(res["statistics"]["trials"] == 2);
        CHECK(res["configs"]["mmlu_pro"]["sensitive_text"] == false);
    };
    const json first = read_json(d.path / "out/cot/results.json");
    check(first);
    { // every trial 1 first, then every trial 0: a resumed file in another order
        std::ofstream out(samples, std::ios::trunc);
        for (int t : {1, 0})
            for (auto &row : rows)
                if (row["trial"] == t) out << row.dump() << "\n";
    }
    r = run(cmd);
    REQUIRE(r.code == 0);
    const json second = read_json(d.path / "out/cot/results.json");
    check(second);
    CHECK(second["results"] == first["results"]);
}

TEST_CASE("a misspelt key fails before any work with file:line and the key", "[e2e]") {
    TempDir d("typo");
    std::string g = scripted_graph("x");
    g.replace(g.find("temperature"), 11, "temprature");
    std::ofstream(d.path / "g.toml") << g;
    auto r = run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find("g.toml:15:1: nodes.cot.temprature: unknown key for core/cot_eval (did you mean 'temperature'?)") !=
          std::string::npos);
    CHECK_FALSE(fs::exists(d.path / "out"));
}

TEST_CASE("a missing model file says which key sets it", "[e2e]") {
    NEED_PLUGIN("llama_cpp");
    auto r = run(parley() + " validate " + PARLEY_SOURCE_DIR + "/examples/cot-mmlu_pro.toml nodes.model.model=/nonexistent/m.gguf");
    CHECK(r.code == 2);
    CHECK(r.output.find("command line: nodes.model.model: file not found: /nonexistent/m.gguf") != std::string::npos);
}

TEST_CASE("a component whose create fails stops the run with the node named", "[e2e]") {
    TempDir d("createfail");
    std::ofstream(d.path / "data.jsonl") << "";
    std::ofstream(d.path / "g.toml") << "[nodes.q]\nuse = \"fixture_create_error/domain\"\ndata = \"data.jsonl\"\n";
    auto r = run(parley() + " --plugin-path " + PARLEY_FIXTURE_DIR + " run " + quote(d.path / "g.toml") +
                 " graph.output_dir=" + quote(d.path / "out"));
    CHECK(r.code == 1);
    CHECK(r.output.find("node 'q' (fixture_create_error/domain): cannot create: fixture: create refused (as designed)") !=
          std::string::npos);
}

namespace {

// Installs the SDK under `dir`/prefix and builds examples/plugins/<name> against it in
// `dir`/build, as a plugin author outside this tree would; returns the example's source folder.
fs::path build_example(const fs::path &dir, const std::string &name) {
    const std::string cmake = PARLEY_CMAKE_COMMAND;
    auto inst = run(cmake + " --install " + PARLEY_BINARY_DIR + " --prefix " + quote(dir / "prefix"));
    INFO(inst.output);
    REQUIRE(inst.code == 0);
    const fs::path src = fs::path(PARLEY_SOURCE_DIR) / "examples/plugins" / name;
    auto cfg = run(cmake + " -S " + quote(src) + " -B " + quote(dir / "build") + " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" +
                   quote(dir / "prefix"));
    INFO(cfg.output);
    REQUIRE(cfg.code == 0);
    auto build = run(cmake + " --build " + quote(dir / "build"));
    INFO(build.output);
    REQUIRE(build.code == 0);
    return src;
}

} // namespace

TEST_CASE("the out-of-tree example plugin builds against the installed SDK and runs in a graph", "[e2e][sdk]") {
    TempDir d("oot");
    const fs::path src = build_example(d.path, "arithmetic");
    REQUIRE(fs::exists(d.path / "build/libparley-arithmetic.so"));
    auto r = run(std::string(PARLEY_EXE) + " --plugin-path " + quote(d.path / "build") + " --plugin-path " + PARLEY_PLUGIN_DIR +
                 " run " + quote(src / "graph.toml") + " graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto results = read_json(d.path / "out/eval/results.json");
    CHECK(results["results"]["sums"]["final_success_rate,rule_extract"].get<double>() == Approx(1.0 / 3.0));
    auto samples = read_jsonl(d.path / "out/eval/samples_sums.jsonl");
    REQUIRE(samples.size() == 3);
    CHECK(results["configs"]["sums"]["plugin"].get<std::string>().find("arithmetic@1.0.0") != std::string::npos);
}

TEST_CASE("the out-of-tree multiple-choice example (a CSV quiz in 25 lines) builds and runs with a prompt override", "[e2e][sdk]") {
    TempDir d("quiz");
    const fs::path src = build_example(d.path, "quiz");
    REQUIRE(fs::exists(d.path / "build/libparley-quiz.so"));
    const std::string parley_cmd = std::string(PARLEY_EXE) + " --plugin-path " + quote(d.path / "build") + " --plugin-path " + PARLEY_PLUGIN_DIR;
    auto r = run(parley_cmd + " run " + quote(src / "graph.toml") + " graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto results = read_json(d.path / "out/eval/results.json");
    CHECK(results["results"]["quiz"]["final_success_rate,rule_extract"].get<double>() == Approx(0.5)); // q1, q2 right; q3 wrong; q4 none
    auto samples = read_jsonl(d.path / "out/eval/samples_quiz.jsonl");
    REQUIRE(samples.size() == 4);
    for (auto &s : samples) CHECK(s.dump().find("Quiz question: ") != std::string::npos); // prompts.task from the graph
    // A placeholder the domain does not offer fails the node at creation, naming the key.
    std::ifstream in(src / "graph.toml");
    std::string g((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    g.replace(g.find("\"quiz.csv\""), 10, quote(src / "quiz.csv"));
    g.replace(g.find("{question}"), 10, "{questoin}");
    std::ofstream(d.path / "bad.toml") << g;
    auto bad = run(parley_cmd + " run " + quote(d.path / "bad.toml") + " graph.output_dir=" + quote(d.path / "out2"));
    INFO(bad.output);
    CHECK(bad.code != 0);
    CHECK(bad.output.find("prompts.task: unknown placeholder {questoin}") != std::string::npos);
}

TEST_CASE("the README's CoT graph runs end to end on stories260K with llama.cpp", "[e2e][llama]") {
    NEED_PLUGIN("llama_cpp");
    TempDir d("llama");
    auto r = run(parley() + " run " + PARLEY_SOURCE_DIR + "/examples/cot-mmlu_pro.toml nodes.mmlu_pro.limit=8 nodes.cot.max_tokens=24 "
                 "graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto results = read_json(d.path / "out/cot/results.json");
    auto samples = read_jsonl(d.path / "out/cot/samples_mmlu_pro.jsonl");
    REQUIRE(samples.size() == 8);
    for (auto &s : samples) {
        CHECK(s["completion_tokens"].get<int>() > 0);
        CHECK(s["prompt_tokens"].get<int>() > 0);
        CHECK_FALSE(s["response"].get<std::string>().empty());
        CHECK_FALSE(s.contains("error"));
    }
    CHECK(results["config"]["model"].get<std::string>().find("stories260K") != std::string::npos);
    CHECK(results["usage"]["completion_tokens"].get<int>() > 0);
}

namespace {
// Tree sampling with the scripted double: candidate n answers letter 'A' + n, so each turn's
// candidates disagree and a pair exists wherever the gold letter is among them.
std::string tree_graph(int beam, const std::string &extra = "") {
    return "[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() +
           "/data/mmlu_pro/test_sample_60.jsonl\"\n\n[nodes.model]\nuse = \"scripted/backend\"\n"
           "default_reply = \"I think so. The correct answer is ({letter}).\"\n\n"
           "[nodes.trees]\nuse = \"core/coral_eval\"\ninputs = { domains = [\"mmlu_pro\"], teacher = \"model\" }\n"
           "extraction = \"rule\"\nmax_turns = 3\ntrials = 2\nbeam = " + std::to_string(beam) + "\n" + extra +
           "\n[nodes.pairs]\nuse = \"core/pairs\"\ninputs = { records = \"trees\", backend = \"model\" }\n";
}
} // namespace

TEST_CASE("tree sampling writes siblings, and pairs follow Coral's rule", "[e2e][pairs]") {
    TempDir d("pairs");
    std::ofstream(d.path / "g.toml") << tree_graph(3);
    auto r = run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto records = read_jsonl(d.path / "out/trees/records_mmlu_pro.jsonl");
    REQUIRE(records.size() == 120);
    std::map<std::string, std::string> gold;
    for (auto &rec : records) {
        gold[rec["parley"]["id"].get<std::string>()] = rec["parley"]["gold"].get<std::string>();
        auto &conv = rec["conv_result"];
        for (size_t t = 1; t < conv.size(); ++t) {
            REQUIRE(conv[t]["info"]["siblings"].size() == 2);
            CHECK(conv[t]["info"].contains("stop_conv"));
        }
    }
    auto pairs = read_jsonl(d.path / "out/pairs/pairs.jsonl");
    auto trl = read_jsonl(d.path / "out/pairs/pairs_trl.jsonl");
    REQUIRE(pairs.size() == trl.size());
    // Expected: one pair per sampled turn whose gold letter is among A, B, C, capped at 10 per question.
    std::map<std::string, size_t> expected_per_question, got_per_question;
    for (auto &rec : records) {
        std::string id = rec["parley"]["id"];
        char g = gold[id][0];
        if (g >= 'A' && g <= 'C') expected_per_question[id] += rec["conv_result"].size() - 1;
    }
    for (size_t i = 0; i < pairs.size(); ++i) {
        auto &p = pairs[i];
        std::string id = p["parley"]["id"];
        ++got_per_question[id];
        CHECK(p["pairwise"] == true);
        CHECK(p["tgt_chosen"].get<std::string>().find("(" + gold[id] + ")") != std::string::npos);
        CHECK(p["tgt_rejected"].get<std::string>().find("(" + gold[id] + ")") == std::string::npos);
        CHECK(p["parley"]["chosen_score"].get<double>() - p["parley"]["rejected_score"].get<double>() > 0.5);
        CHECK(p["src"].get<std::string>().rfind("<|system|>", 0) == 0);   // the scripted double's template
        CHECK(trl[i]["prompt"][0]["role"] == "system");
        CHECK(trl[i]["chosen"][0]["content"] == p["tgt_chosen"]);
    }
    for (auto &[id, n] : expected_per_question) CHECK(got_per_question[id] == std::min<size_t>(n, 10));
    for (auto &[id, n] : got_per_question) CHECK(expected_per_question.count(id));
    // Same seeds, same trees, same pairs.
    auto again = run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out2"));
    REQUIRE(again.code == 0);
    auto pairs2 = read_jsonl(d.path / "out2/pairs/pairs.jsonl");
    CHECK(pairs2 == pairs);
    auto sft = read_jsonl(d.path / "out/pairs/sft.jsonl");
    size_t turns = 0; // "all": every turn of the first 10 trees per question (2 here)
    for (auto &rec : records) turns += rec["conv_result"].size() - 1;
    CHECK(sft.size() == turns);
}

TEST_CASE("pairs render src with a Hugging Face template and validate refuses one that cannot render", "[e2e][pairs]") {
    TempDir d("pairs-template");
    const std::string smol = std::string(PARLEY_SOURCE_DIR) + "/tests/fixtures/chat_templates/SmolLM2-1.7B-Instruct/tokenizer_config.json";
    // An OpenAI-compatible backend has no template unless given the served model's: core/pairs'
    // default chat_template = "backend" fails in validate, at the pairs node, naming the options.
    std::string g = tree_graph(3);
    g.replace(g.find("use = \"scripted/backend\""), 24, "use = \"openai/backend\"\nurl = \"http://127.0.0.1:9\"\nmodel = \"m\"");
    g.replace(g.find("default_reply"), 13, "# default_reply");
    std::ofstream(d.path / "g.toml") << g;
    auto r = run(parley() + " validate " + quote(d.path / "g.toml"));
    INFO(r.output);
    CHECK(r.code == 2);
    const std::string pairs_at = (d.path / "g.toml").string() + ":19:1: nodes.pairs.chat_template: ";
    CHECK(r.output.find(pairs_at) != std::string::npos);
    CHECK(r.output.find("nodes.model.chat_template") != std::string::npos);
    CHECK(r.output.find("tokenizer_config.json") != std::string::npos);
    CHECK(r.output.find("\"chatml\"") != std::string::npos);
    CHECK(run(parley() + " validate " + quote(d.path / "g.toml") + " nodes.model.chat_template=" + smol).code == 0);
    CHECK(run(parley() + " validate " + quote(d.path / "g.toml") + " nodes.pairs.chat_template=chatml").code == 0);
    auto missing = run(parley() + " validate " + quote(d.path / "g.toml") + " nodes.pairs.chat_template=nope.json");
    CHECK(missing.code == 2);
    CHECK(missing.output.find("command line: nodes.pairs.chat_template: 'nope.json'") != std::string::npos);

    // A tokenizer_config.json given by path (relative to the graph) renders `src` as transformers would.
    fs::create_directories(d.path / "smol");
    fs::copy_file(smol, d.path / "smol/tokenizer_config.json");
    std::ofstream(d.path / "t.toml") << tree_graph(3) << "chat_template = \"smol/tokenizer_config.json\"\n";
    auto t = run(parley() + " run " + quote(d.path / "t.toml") + " graph.output_dir=" + quote(d.path / "out"));
    INFO(t.output);
    REQUIRE(t.code == 0);
    auto pairs = read_jsonl(d.path / "out/pairs/pairs.jsonl");
    REQUIRE_FALSE(pairs.empty());
    for (auto &p : pairs) {
        const std::string src = p["src"];
        CHECK(src.rfind("<|im_start|>system\n", 0) == 0);
        CHECK(src.size() >= 22);
        CHECK(src.substr(src.size() - 22) == "<|im_start|>assistant\n");
    }
}

TEST_CASE("sharded runs merged equal an unsharded run", "[e2e][shard]") {
    TempDir d("shards");
    std::ofstream(d.path / "g.toml") << tree_graph(2);
    REQUIRE(run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "full")).code == 0);
    for (int i = 0; i < 3; ++i)
        REQUIRE(run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "split") +
                    " graph.shard=" + std::to_string(i) + "/3")
                    .code == 0);
    auto m = run(parley() + " merge " + quote(d.path / "split") + " --node trees");
    INFO(m.output);
    REQUIRE(m.code == 0);
    auto full = read_json(d.path / "full/trees/metrics_mmlu_pro.json");
    auto merged = read_json(d.path / "split/trees/metrics_mmlu_pro.json");
    REQUIRE(full.size() == merged.size());
    for (auto &[k, v] : full.items()) CHECK(merged[k].get<double>() == Approx(v.get<double>()).epsilon(1e-12));
    auto key_set = [](const std::vector<json> &rows) {
        std::set<std::string> s;
        for (auto &r : rows) s.insert(r["parley"]["id"].get<std::string>() + "/" + std::to_string(r["parley"]["trial"].get<int>()) + r.dump());
        return s;
    };
    CHECK(key_set(read_jsonl(d.path / "full/trees/records_mmlu_pro.jsonl")) == key_set(read_jsonl(d.path / "split/trees/records_mmlu_pro.jsonl")));
    // A shard that lost its rows is caught.
    fs::remove(d.path / "split/shard-1-of-3/trees/records_mmlu_pro.jsonl");
    std::ofstream(d.path / "split/shard-1-of-3/trees/records_mmlu_pro.jsonl") << "";
    auto bad = run(parley() + " merge " + quote(d.path / "split") + " --node trees");
    CHECK(bad.code == 1);
    CHECK(bad.output.find("shard 1 finished 0 of its") != std::string::npos);
}

TEST_CASE("the closed loop runs: trees, SFT rows, training, the trained model evaluated", "[e2e][llama][torch]") {
    NEED_PLUGIN("llama_cpp");
    NEED_PLUGIN("trainer");
    TempDir d("loop");
    auto r = run(parley() + " run " + PARLEY_SOURCE_DIR + "/examples/closed-loop.toml nodes.train_questions.limit=3 "
                 "nodes.test_questions.limit=3 nodes.train.steps=4 graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto summary = read_json(d.path / "out/train/summary.json");
    CHECK(fs::exists(summary["model"].get<std::string>()));
    auto base = read_json(d.path / "out/cot_base/results.json");
    auto trained = read_json(d.path / "out/cot_trained/results.json");
    CHECK(base["config"]["model"].get<std::string>().find("stories260K") != std::string::npos);
    CHECK(trained["config"]["model"] == summary["model"]);
    CHECK(read_jsonl(d.path / "out/cot_trained/samples_test_questions.jsonl").size() == 3);
}

TEST_CASE("the main job's mixed-domain Coral + CoT graph runs on stories260K; parley metrics agrees", "[e2e][llama][coral]") {
    NEED_PLUGIN("llama_cpp");
    TempDir d("mixed");
    std::string limits;
    for (auto *dom : {"mmlu_pro", "gpqa", "math", "explore_tom", "hitom"}) limits += std::string(" nodes.") + dom + ".limit=1";
    auto r = run(parley() + " run " + PARLEY_SOURCE_DIR + "/examples/coral-vs-cot.toml" + limits +
                 " nodes.coral.max_turns=2 nodes.coral.max_tokens=16 nodes.cot.max_tokens=16 graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto coral = read_json(d.path / "out/coral/results.json");
    auto cot = read_json(d.path / "out/cot/results.json");
    for (auto *dom : {"mmlu_pro", "gpqa", "math", "explore_tom", "hitom"}) {
        CHECK(coral["results"][dom]["conversations"] == 1);
        CHECK(coral["results"][dom].contains("agreement_correctness,none"));
        CHECK(cot["results"][dom]["samples"] == 1);
        auto records = d.path / "out/coral" / (std::string("records_") + dom + ".jsonl");
        auto m = run(parley() + " metrics " + quote(records));
        REQUIRE(m.code == 0);
        auto recomputed = json::parse(m.output.substr(m.output.find('{'), m.output.rfind('}') - m.output.find('{') + 1));
        auto written = read_json(d.path / "out/coral" / (std::string("metrics_") + dom + ".json"));
        CHECK(recomputed == written);
    }
    CHECK(coral["groups"]["macro_avg"].contains("agreement_correctness,none"));
    CHECK(coral["configs"]["gpqa"]["sensitive_text"] == true); // parley report reads it
    CHECK(cot["configs"]["gpqa"]["sensitive_text"] == true);
    CHECK(coral["configs"]["mmlu_pro"]["sensitive_text"] == false);
    CHECK(cot["groups"]["macro_avg"].contains("final_success_rate,llm_extract")); // profile "coral": LLM extraction
}

TEST_CASE("a killed Coral run resumes without loss or duplicates", "[e2e][coral]") {
    TempDir d("coral-resume");
    std::ofstream(d.path / "g.toml") << tree_graph(1);
    std::string cmd = parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out");
    REQUIRE(run(cmd).code == 0);
    fs::path records = d.path / "out/trees/records_mmlu_pro.jsonl";
    auto full = read_jsonl(records);
    REQUIRE(full.size() == 120);
    auto metrics = read_json(d.path / "out/trees/metrics_mmlu_pro.json");
    auto results = read_json(d.path / "out/trees/results.json");
    { // the headline metrics with their intervals; trials = 2: pass@k and consistency
        const json &m = results["results"]["mmlu_pro"];
        for (auto *k : {"agreement_correctness", "agreement", "valid_answer_rate", "persuade_rate", "assert_rate",
                        "final_success_rate", "total_turns", "agreement_correctness_pass@2", "agreement_correctness_consistency"}) {
            INFO(k);
            CHECK(m.contains(std::string(k) + ",none"));
            CHECK(m.contains(std::string(k) + "_ci_lo,none"));
            CHECK(m.contains(std::string(k) + "_ci_hi,none"));
            if (m.contains(std::string(k) + "_ci_lo,none"))
                CHECK(m[std::string(k) + "_ci_lo,none"].get<double>() <= m[std::string(k) + "_ci_hi,none"].get<double>());
        }
        CHECK(results["groups"]["macro_avg"].contains("agreement_correctness_ci_lo,none"));
        CHECK(results["configs"]["mmlu_pro"]["sensitive_text"] == false);
    }
    {
        std::ofstream out(records, std::ios::trunc); // as if killed: 70 complete records and half of one
        for (size_t i = 0; i < 70; ++i) out << full[i].dump() << "\n";
        out << full[70].dump().substr(0, 100);
    }
    auto r = run(cmd);
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto again = read_jsonl(records);
    REQUIRE(again.size() == 120);
    std::set<std::string> keys;
    for (auto &rec : again) keys.insert(rec["parley"]["id"].get<std::string>() + "/" + std::to_string(rec["parley"]["trial"].get<int>()));
    CHECK(keys.size() == 120);
    auto m2 = read_json(d.path / "out/trees/metrics_mmlu_pro.json");
    for (auto &[k, v] : metrics.items()) CHECK(m2[k].get<double>() == Approx(v.get<double>()).epsilon(1e-12));
    // results.json from the conversations' values in the plan's order: the same after the resume
    auto res2 = read_json(d.path / "out/trees/results.json");
    CHECK(res2["results"] == results["results"]);
}

TEST_CASE("admission follows the backend's reported load, not only the cap", "[e2e][llama][coral]") {
    NEED_PLUGIN("llama_cpp");
    TempDir d("admission");
    const std::string graph = "[nodes.questions]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() +
                              "/data/mmlu_pro/test_sample_60.jsonl\"\nlimit = 10\n\n[nodes.model]\nuse = \"llama_cpp/backend\"\nmodel = \"" +
                              shared_dir() + "/models/stories260K.gguf\"\nn_parallel = 2\nthreads = 2\n\n[nodes.coral]\n"
                              "use = \"core/coral_eval\"\ninputs = { domains = [\"questions\"], teacher = \"model\" }\n"
                              "extraction = \"rule\"\nmax_turns = 2\nmax_tokens = 8\ntrials = 4\nmax_conversations = 1000\n";
    std::ofstream(d.path / "g.toml") << graph;
    auto peak = [&](const std::string &extra, const std::string &out) {
        auto r = run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / out) + extra);
        INFO(r.output);
        REQUIRE(r.code == 0);
        auto res = read_json(d.path / out / "coral/results.json");
        CHECK(res["results"]["questions"]["conversations"] == 40);
        return res["usage"]["peak_conversations_in_flight"].get<int64_t>();
    };
    // The engine reports 2 running and its queue: new conversations wait for room (a batch
    // queued behind the running one), far below the cap of 1000.
    CHECK(peak("", "fed") <= 8);
    // Without feedback only the cap limits them: all 40 start at once.
    CHECK(peak(" nodes.coral.backend_feedback=false", "capped") == 40);
}

// ---- Fidelity: requests and records as the official Coral code makes them ---------------------
namespace {
const std::string kExtractorSystem = "You are an assistant that is helping an "; // its first 40 characters
constexpr uint64_t kMaxSeed = 0x7fffffffffffffffull;

std::string mmlu_node(int limit = 0) {
    return "[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() + "/data/mmlu_pro/test_sample_60.jsonl\"\n" +
           (limit ? "limit = " + std::to_string(limit) + "\n" : "") + "\n";
}

// A scripted backend node; `extra` adds keys (requests_log, fail_every, match/reply...).
std::string scripted_node(const std::string &name, const std::string &reply, const std::string &extra = "") {
    return "[nodes." + name + "]\nuse = \"scripted/backend\"\ndefault_reply = \"" + reply + "\"\n" + extra + "\n";
}

// The extractor double: reads the letter the response gave, as an extractor model would.
std::string letter_extractor(const std::string &extra = "") {
    return scripted_node("ext", "not sure yet",
                         "match = [\"answer is (A)\", \"answer is (B)\", \"answer is (C)\"]\n"
                         "reply = [\"The answer is (A).\", \"The answer is (B).\", \"The answer is (C).\"]\n" + extra);
}

Result run_graph(const TempDir &d, const std::string &graph, const std::string &extra = "") {
    std::ofstream(d.path / "g.toml") << graph;
    return run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out") + extra);
}

size_t count_of(const std::string &haystack, const std::string &needle) {
    size_t n = 0;
    for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1)) ++n;
    return n;
}

const std::string E = "scripted (test double)-MMLUProExtractionPromptingEvaluator";
} // namespace

TEST_CASE("Coral and CoT send seeds below 2^63, one per request, and sample the extractor as Matrix does", "[e2e][fidelity]") {
    TempDir d("seeds");
    const fs::path coral_log = d.path / "coral_requests.jsonl", cot_log = d.path / "cot_requests.jsonl";
    auto r = run_graph(d, mmlu_node() + scripted_node("a", "The correct answer is (A).", "requests_log = \"" + coral_log.string() + "\"") +
                              scripted_node("b", "The correct answer is (A).", "requests_log = \"" + cot_log.string() + "\"") +
                              "[nodes.coral]\nuse = \"core/coral_eval\"\ninputs = { domains = [\"mmlu_pro\"], teacher = \"a\" }\n"
                              "max_turns = 4\ntrials = 2\n\n"
                              "[nodes.cot]\nuse = \"core/cot_eval\"\ninputs = { domains = [\"mmlu_pro\"], backend = \"b\" }\ntrials = 2\n");
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto check = [](const std::vector<json> &requests, bool (*is_extractor)(const json &), size_t agents, size_t extractions) {
        std::set<uint64_t> agent_seeds;
        size_t n_agent = 0, n_extractor = 0;
        for (auto &q : requests) {
            REQUIRE(q["has_seed"] == true);
            REQUIRE(q["seed"].get<uint64_t>() <= kMaxSeed); // vLLM validates seed as a signed int64
            if (is_extractor(q)) {
                ++n_extractor;
                CHECK(q["temperature"] == 0.0); // Coral's rater_temp
                CHECK(q["top_p"] == 0.9);       // Matrix make_request's defaults
                CHECK(q["seed"] == 42);
                CHECK(q["max_tokens"] == 32);
            } else {
                ++n_agent;
                agent_seeds.insert(q["seed"].get<uint64_t>());
            }
        }
        CHECK(n_agent == agents);
        CHECK(agent_seeds.size() == n_agent); // per_conversation: every request its own seed
        CHECK(n_extractor == extractions);
    };
    // Coral: teacher (A) and student (A) agree at turn 2: 2 agent turns and 2 extractions per conversation.
    check(read_jsonl(coral_log), [](const json &q) { return q["agent"] == 4294967295u; }, 240, 240);
    // CoT, profile "coral": one answer and, by default, one LLM extraction per (item, trial).
    check(read_jsonl(cot_log), [](const json &q) { return q["system"].get<std::string>() == kExtractorSystem; }, 120, 120);
    for (auto &row : read_jsonl(d.path / "out/cot/samples_mmlu_pro.jsonl")) {
        CHECK(row["seed"].get<uint64_t>() <= kMaxSeed);
        CHECK(row.contains("extractor_response"));
    }
}

TEST_CASE("tree sampling records: error candidates, agreement on every stopping candidate, the request's usage", "[e2e][fidelity][tree]") {
    TempDir d("tree-fidelity");
    // Every 4th agent request (n = 3) and every 7th extractor call fail.
    auto r = run_graph(d, mmlu_node() + scripted_node("model", "I think so. The correct answer is ({letter}).", "fail_every = 4") +
                              letter_extractor("fail_every = 7") +
                              "[nodes.trees]\nuse = \"core/coral_eval\"\n"
                              "inputs = { domains = [\"mmlu_pro\"], teacher = \"model\", extractor = \"ext\" }\n"
                              "max_turns = 4\ntrials = 2\nbeam = 3\n");
    INFO(r.output);
    REQUIRE(r.code == 0);
    // Failures are logged once per cause, then counted.
    CHECK(count_of(r.output, "failed: scripted failure (fail_every) (first at") == 2); // the agents' and the extractor's
    CHECK(r.output.find("x request failed: scripted failure (fail_every)") != std::string::npos);
    CHECK(r.output.find("x extractor request failed: scripted failure (fail_every)") != std::string::npos);

    size_t failed_turns = 0, stopping_siblings = 0, extractor_errors = 0;
    for (auto &rec : read_jsonl(d.path / "out/trees/records_mmlu_pro.jsonl")) {
        auto &conv = rec["conv_result"];
        for (size_t t = 1; t < conv.size(); ++t) {
            const json &kept = conv[t];
            CHECK(kept["info"]["siblings"].size() == 2); // failed requests too: three error candidates
            std::vector<json> cands = {kept};
            for (auto &s : kept["info"]["siblings"]) cands.push_back(s);
            const bool failed = kept["info"]["status_ok"] == false;
            int64_t request_tokens = 0;
            for (auto &c : cands) {
                INFO(c.dump());
                // A failed n = 3 request: three error candidates, each extracted.
                CHECK((c["info"]["status_ok"] == false) == failed);
                CHECK(c["info"]["annotation"].contains(E));
                if (!c["info"]["annotation"].contains(E)) continue;
                const json &ann = c["info"]["annotation"][E];
                // Coral's stop_conv marks the candidate's own annotation, kept or not.
                CHECK(ann["info"]["agreement"] == c["info"]["stop_conv"]);
                if (c["info"]["stop_conv"] == true && &c != &cands[0]) ++stopping_siblings;
                if (ann["info"]["status_ok"] == false) { // extraction_evaluators.py on a network error
                    ++extractor_errors;
                    CHECK(ann["score"].is_number_float());
                    CHECK(ann["score"].get<double>() == 0.0);
                    CHECK(ann["info"]["response"] == "scripted failure (fail_every)");
                }
                if (failed) continue;
                const json &own = c["info"]["parley"]["completion_tokens"]; // the candidate's own count
                CHECK(own == 8);
                if (own.is_number()) request_tokens += own.get<int64_t>();
            }
            if (failed) {
                ++failed_turns;
                CHECK(kept["content"] == "scripted failure (fail_every)");
                continue;
            }
            // Every candidate carries the whole request's usage, as Coral records it.
            for (auto &c : cands) CHECK(c["info"]["usage"]["completion_tokens"] == request_tokens);
        }
        // Lengths are the candidates' own (8 words each), not the request's.
        if (rec["metrics"]["t_len"].get<double>() > 0) CHECK(rec["metrics"]["t_len"] == 8.0);
    }
    CHECK(failed_turns > 0);
    CHECK(stopping_siblings > 0);
    CHECK(extractor_errors > 0);
}

TEST_CASE("tree picks with seed_mode fixed follow Python's random seeded 42, and differ across trees", "[e2e][fidelity][tree]") {
    TempDir d("tree-picks");
    // One conversation at a time, so the draws happen in record order.
    auto r = run_graph(d, mmlu_node(10) + scripted_node("model", "I think so. The correct answer is ({letter}).") +
                              "[nodes.trees]\nuse = \"core/coral_eval\"\ninputs = { domains = [\"mmlu_pro\"], teacher = \"model\" }\n"
                              "extraction = \"rule\"\nmax_turns = 3\ntrials = 2\nbeam = 3\nseed_mode = \"fixed\"\nmax_conversations = 1\n");
    INFO(r.output);
    REQUIRE(r.code == 0);
    // python3 -c "import random; random.seed(42); print([random.randint(0, 2) for _ in range(60)])"
    const std::vector<int> expected = {2, 0, 0, 2, 1, 0, 0, 0, 2, 0, 2, 2, 2, 0, 2, 1, 0, 0, 0, 0, 0, 2, 2, 0, 2, 0, 2, 2, 2, 2,
                                       1, 0, 1, 2, 1, 0, 0, 2, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 2, 1, 0, 2, 1, 2, 0, 1, 0, 2};
    std::vector<int> picks;
    std::set<std::string> trees;
    for (auto &rec : read_jsonl(d.path / "out/trees/records_mmlu_pro.jsonl")) {
        std::string path;
        for (size_t t = 1; t < rec["conv_result"].size(); ++t) {
            const std::string text = rec["conv_result"][t]["content"];
            picks.push_back(text[text.find('(') + 1] - 'A'); // candidate n answers 'A' + n
            path += text[text.find('(') + 1];
        }
        trees.insert(path);
    }
    REQUIRE(picks.size() <= expected.size());
    CHECK(picks == std::vector<int>(expected.begin(), expected.begin() + static_cast<long>(picks.size())));
    CHECK(trees.size() > 1);
}

TEST_CASE("CoT under profile coral extracts a failed answer's error text and logs each cause once", "[e2e][fidelity][cot]") {
    TempDir d("cot-coral");
    const std::string graph = mmlu_node() + scripted_node("model", "The correct answer is (B).", "fail_every = 3") +
                              scripted_node("ext", "The answer is (A).") +
                              "[nodes.cot]\nuse = \"core/cot_eval\"\ninputs = { domains = [\"mmlu_pro\"], backend = \"model\", extractor = \"ext\" }\n";
    auto r = run_graph(d, graph);
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(count_of(r.output, "scripted failure (fail_every)") == 2); // the first failure, then the count
    CHECK(r.output.find("20 x request failed: scripted failure (fail_every)") != std::string::npos);
    size_t failed = 0;
    for (auto &row : read_jsonl(d.path / "out/cot/samples_mmlu_pro.jsonl")) {
        CHECK(row["extracted"] == "The answer is (A)."); // the extractor's reading, for failed answers too
        if (!row.contains("error")) continue;
        ++failed;
        CHECK(row["response"] == "scripted failure (fail_every)"); // the official turn's content
        CHECK(row["correct"] == (row["gold"] == "A"));
    }
    CHECK(failed == 20);

    // profile "fixed": rule extraction by default, and a failed answer has no answer.
    auto f = run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "fixed") + " nodes.cot.profile=fixed");
    REQUIRE(f.code == 0);
    for (auto &row : read_jsonl(d.path / "fixed/cot/samples_mmlu_pro.jsonl")) {
        CHECK_FALSE(row.contains("extractor_response"));
        CHECK(row["extracted"] == (row.contains("error") ? "" : "The answer is (B)."));
    }
}

TEST_CASE("unknown per-candidate token counts are null in records and metrics, never 0", "[e2e][fidelity][tree]") {
    TempDir d("tree-unknown-tokens");
    auto r = run_graph(d, mmlu_node(5) + scripted_node("model", "I think so. The correct answer is ({letter}).", "choice_tokens = false") +
                              "[nodes.trees]\nuse = \"core/coral_eval\"\ninputs = { domains = [\"mmlu_pro\"], teacher = \"model\" }\n"
                              "extraction = \"rule\"\nmax_turns = 3\nbeam = 3\n");
    INFO(r.output);
    REQUIRE(r.code == 0);
    for (auto &rec : read_jsonl(d.path / "out/trees/records_mmlu_pro.jsonl")) {
        const json &t1 = rec["conv_result"][1];
        CHECK(t1["info"]["parley"]["completion_tokens"].is_null());
        CHECK(t1["info"]["usage"]["completion_tokens"] == 24); // the request's three candidates, 8 words each
        CHECK(rec["metrics"]["t_len"].is_null());
        CHECK(rec["metrics"]["conv_len"].is_null());
    }
    auto metrics = read_json(d.path / "out/trees/metrics_mmlu_pro.json");
    CHECK(metrics["t_len"].is_null());
    auto m = run(parley() + " metrics " + quote(d.path / "out/trees/records_mmlu_pro.jsonl"));
    REQUIRE(m.code == 0);
    auto recomputed = json::parse(m.output.substr(m.output.find('{'), m.output.rfind('}') - m.output.find('{') + 1));
    CHECK(recomputed == metrics);
}

// --- multi-agent debate and self-consistency (core/debate_eval, core/sc_eval) ---

namespace {

// Debate and self-consistency over the MMLU-Pro sample on the scripted test double: a message
// quoting other agents (a debate round) is answered B, anything else A; 5 words each.
std::string protocols_graph(const std::string &extra = "") {
    return "[graph]\nname = \"protocols\"\n\n[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() +
           "/data/mmlu_pro/test_sample_60.jsonl\"\n\n[nodes.model]\nuse = \"scripted/backend\"\n"
           "match = [\"One agent solution\"]\nreply = [\"The correct answer is (B).\"]\ndefault_reply = \"The correct answer is (A).\"\n\n"
           "[nodes.debate]\nuse = \"core/debate_eval\"\ninputs = { domains = [\"mmlu_pro\"], backends = [\"model\"] }\n"
           "agents = 3\nrounds = 2\ntrials = 2\nextraction = \"rule\"\n\n"
           "[nodes.sc]\nuse = \"core/sc_eval\"\ninputs = { domains = [\"mmlu_pro\"], backend = \"model\" }\n"
           "k = \"match:debate\"\nextraction = \"rule\"\n" + extra;
}

std::set<std::string> rows_by_key(const std::vector<json> &rows) {
    std::set<std::string> s;
    for (auto &r : rows) s.insert(r["id"].get<std::string>() + "/" + std::to_string(r["trial"].get<int>()) + r.dump());
    return s;
}

} // namespace

TEST_CASE("debate: every answer and belief recorded, per-round metrics, seeds below 2^63, resume without loss", "[e2e][debate]") {
    TempDir d("debate");
    std::ofstream(d.path / "g.toml") << protocols_graph();
    const std::string cmd = parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out");
    auto r = run(cmd);
    INFO(r.output);
    REQUIRE(r.code == 0);
    const fs::path records = d.path / "out/debate/records_mmlu_pro.jsonl";
    auto full = read_jsonl(records);
    REQUIRE(full.size() == 120);
    for (auto &rec : full) {
        REQUIRE(rec["rounds"].size() == 2);
        CHECK(rec["seed"].get<uint64_t>() < (uint64_t{1} << 63));
        for (auto &a : rec["rounds"][0]["answers"]) CHECK(a["belief"] == "The answer is (A)."); // the domain's normal form
        for (auto &a : rec["rounds"][1]["answers"]) {
            CHECK(a["belief"] == "The answer is (B).");
            CHECK(a["user"].get<std::string>().find("One agent solution: ```The correct answer is (A).```") != std::string::npos);
            CHECK(a["seed"].get<uint64_t>() < (uint64_t{1} << 63));
        }
        CHECK(rec["final"]["consensus"] == true);
    }
    auto res = read_json(d.path / "out/debate/results.json");
    const json &m = res["results"]["mmlu_pro"];
    const double n = 60.0;
    CHECK(m["accuracy_round0,rule_extract"].get<double>() == Approx(gold_count("A") / n));
    CHECK(m["final_success_rate,rule_extract"].get<double>() == Approx(gold_count("B") / n));
    CHECK(m["wrong_to_right_round1,rule_extract"].get<double>() == Approx(3 * gold_count("B") / n));
    CHECK(m["right_to_wrong_round1,rule_extract"].get<double>() == Approx(3 * gold_count("A") / n));
    CHECK(m["tokens_per_item,rule_extract"] == 30.0);
    CHECK(m["items"] == 120);
    CHECK(res["groups"]["macro_avg"].contains("final_success_rate,rule_extract"));

    // Killed mid-write: 50 complete records and half of one. The re-run keeps them and runs the rest.
    {
        std::ofstream out(records, std::ios::trunc);
        for (size_t i = 0; i < 50; ++i) out << full[i].dump() << "\n";
        out << full[50].dump().substr(0, 80);
    }
    r = run(cmd);
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(r.output.find("50 finished debates kept, 70 to run") != std::string::npos);
    CHECK(rows_by_key(read_jsonl(records)) == rows_by_key(full));
    CHECK(read_json(d.path / "out/debate/results.json")["results"] == res["results"]);
}

TEST_CASE("self-consistency: k = match:<node> pilots one sample per item and spends the debate's tokens", "[e2e][sc]") {
    TempDir d("sc");
    // Written before the debate in the file: k = "match:debate" still runs the debate first.
    std::string g = protocols_graph();
    std::ofstream(d.path / "g.toml") << g.substr(0, g.find("[nodes.debate]")) << g.substr(g.find("[nodes.sc]"))
                                     << g.substr(g.find("[nodes.debate]"), g.find("[nodes.sc]") - g.find("[nodes.debate]"));
    const std::string cmd = parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "out");
    auto r = run(cmd);
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto budget = read_json(d.path / "out/sc/budget.json");
    CHECK(budget["domains"]["mmlu_pro"]["k"] == 6); // 3 agents x 2 rounds x 5 words / 5 words
    CHECK(budget["domains"]["mmlu_pro"]["cot_tokens_per_sample"] == 5.0);
    auto records = read_jsonl(d.path / "out/sc/records_mmlu_pro.jsonl");
    REQUIRE(records.size() == 60);
    std::set<uint64_t> seeds;
    for (auto &rec : records) {
        REQUIRE(rec["samples"].size() == 6);
        for (auto &s : rec["samples"]) seeds.insert(s["seed"].get<uint64_t>());
    }
    CHECK(seeds.size() == 360);
    auto res = read_json(d.path / "out/sc/results.json");
    CHECK(res["results"]["mmlu_pro"]["tokens_per_item,rule_extract"] == 30.0);
    CHECK(res["results"]["mmlu_pro"]["k,rule_extract"] == 6.0);
    CHECK(res["config"]["k"] == "match:debate");
    // A resumed run reads k back instead of piloting again.
    fs::path file = d.path / "out/sc/records_mmlu_pro.jsonl";
    auto kept = read_jsonl(file);
    {
        std::ofstream out(file, std::ios::trunc);
        for (size_t i = 0; i < 20; ++i) out << kept[i].dump() << "\n";
    }
    r = run(cmd);
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(r.output.find("k from") != std::string::npos);
    CHECK(rows_by_key(read_jsonl(file)) == rows_by_key(kept));
}

TEST_CASE("debate and self-consistency: a misnamed match node is refused at file:line", "[e2e][sc]") {
    TempDir d("sc-bad");
    std::string g = protocols_graph();
    g.replace(g.find("match:debate"), 12, "match:debat");
    std::ofstream(d.path / "g.toml") << g;
    auto r = run(parley() + " validate " + quote(d.path / "g.toml"));
    CHECK(r.code == 2);
    CHECK(r.output.find("g.toml:25:1: nodes.sc.k: no node named 'debat' (did you mean 'debate'?)") != std::string::npos);
}

TEST_CASE("debate and self-consistency: records = false writes results only; shards merge", "[e2e][debate][shard]") {
    TempDir d("debate-shards");
    std::ofstream(d.path / "g.toml") << protocols_graph();
    auto r = run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "norec") +
                 " nodes.debate.records=false nodes.sc.records=false");
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_FALSE(fs::exists(d.path / "norec/debate/records_mmlu_pro.jsonl"));
    CHECK_FALSE(fs::exists(d.path / "norec/sc/records_mmlu_pro.jsonl"));
    auto norec = read_json(d.path / "norec/debate/results.json");
    CHECK(norec["results"]["mmlu_pro"]["items"] == 120);

    REQUIRE(run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "full")).code == 0);
    for (int i = 0; i < 2; ++i)
        REQUIRE(run(parley() + " run " + quote(d.path / "g.toml") + " graph.output_dir=" + quote(d.path / "split") +
                    " nodes.sc.k=6 graph.shard=" + std::to_string(i) + "/2")
                    .code == 0);
    auto m = run(parley() + " merge " + quote(d.path / "split"));
    INFO(m.output);
    REQUIRE(m.code == 0);
    for (auto *node : {"debate", "sc"}) {
        const std::string file = std::string(node) + "/records_mmlu_pro.jsonl";
        CHECK(rows_by_key(read_jsonl(d.path / "full" / file)) == rows_by_key(read_jsonl(d.path / "split" / file)));
        auto merged = read_json(d.path / "split" / node / "merged.json");
        auto full = read_json(d.path / "full" / node / "results.json");
        CHECK(merged["results"]["mmlu_pro"]["final_success_rate"].get<double>() ==
              Approx(full["results"]["mmlu_pro"]["final_success_rate,rule_extract"].get<double>()));
    }
    CHECK(read_json(d.path / "full/debate/results.json")["results"] == norec["results"]);
}

TEST_CASE("the protocols example runs CoT, self-consistency, Coral and debate on stories260K", "[e2e][llama][debate]") {
    NEED_PLUGIN("llama_cpp");
    TempDir d("protocols");
    std::string small = " nodes.mmlu_pro.limit=1 nodes.math.limit=1 nodes.coral.max_turns=2 nodes.debate.agents=2";
    for (auto *node : {"cot", "sc", "coral", "debate"}) // (rule extraction: half the requests on a shared CPU)
        small += std::string(" nodes.") + node + ".max_tokens=8 nodes." + node + ".extraction=rule";
    auto r = run(parley() + " run " + PARLEY_SOURCE_DIR + "/examples/protocols/graph.toml" + small + " graph.output_dir=" +
                 quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    for (auto *dom : {"mmlu_pro", "math"}) {
        CHECK(read_json(d.path / "out/cot/results.json")["results"][dom]["samples"] == 1);
        CHECK(read_json(d.path / "out/coral/results.json")["results"][dom]["conversations"] == 1);
        auto debate = read_json(d.path / "out/debate/results.json")["results"][dom];
        CHECK(debate["items"] == 1);
        CHECK(debate["tokens_per_item,rule_extract"].get<double>() > 0);
        auto sc = read_json(d.path / "out/sc/results.json")["results"][dom];
        CHECK(sc["items"] == 1);
        CHECK(sc["k,rule_extract"].get<double>() >= 1);
        auto records = read_jsonl(d.path / "out/debate" / (std::string("records_") + dom + ".jsonl"));
        REQUIRE(records.size() == 1);
        CHECK(records[0]["rounds"].size() == 2);
        CHECK(records[0]["rounds"][1]["answers"].size() == 2);
    }
    auto t = run("python3 " + std::string(PARLEY_SOURCE_DIR) + "/examples/protocols/table.py " + quote(d.path / "out"));
    INFO(t.output);
    REQUIRE(t.code == 0);
    for (auto *p : {"cot_eval", "sc_eval k=", "coral_eval", "debate_eval"}) CHECK(t.output.find(p) != std::string::npos);
}

namespace {
// A CoT graph answered by the fixture_specs backend (ABI 1.4 specs), whose create() appends to
// `marker`; `model_keys` go into its node from line 12 on.
std::string specs_graph(const fs::path &marker, const std::string &model_keys) {
    return "[graph]\nname = \"specs\"\n\n[nodes.mmlu_pro]\nuse = \"mmlu_pro/domain\"\ndata = \"" + shared_dir() +
           "/data/mmlu_pro/test_sample_60.jsonl\"\nlimit = 3\n\n[nodes.model]\nuse = \"fixture_specs/backend\"\nmarker = \"" +
           marker.string() + "\"\n" + model_keys +
           "\n[nodes.cot]\nuse = \"core/cot_eval\"\ninputs = { domains = [\"mmlu_pro\"], backend = \"model\" }\nextraction = \"rule\"\n";
}
std::string slurp(const fs::path &p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
} // namespace

TEST_CASE("a wrong choice or an out-of-range value fails validate and run before any plugin instance exists", "[e2e][specs]") {
    TempDir d("specs");
    const fs::path marker = d.path / "marker.txt";
    const std::string exe = parley() + " --plugin-path " + PARLEY_FIXTURE_DIR;
    // The fixture's create() does write its marker when the graph is valid, with the defaults the host applied.
    std::ofstream(d.path / "ok.toml") << specs_graph(marker, "");
    auto ok = run(exe + " run " + quote(d.path / "ok.toml") + " graph.output_dir=" + quote(d.path / "out"));
    INFO(ok.output);
    REQUIRE(ok.code == 0);
    CHECK(slurp(marker) == "created mode=exact slots=4\n");
    fs::remove(marker);

    std::ofstream(d.path / "g.toml") << specs_graph(marker, "mode = \"Exact\"\nslots = 0\n");
    for (const char *verb : {" validate ", " run "}) {
        auto r = run(exe + verb + quote(d.path / "g.toml") + " nodes.cot.extraction=LLM graph.output_dir=" + quote(d.path / "out2"));
        INFO(verb << r.output);
        CHECK(r.code == 2);
        CHECK(r.output.find("g.toml:12:8: nodes.model.mode: \"Exact\" is not one of \"fast\", \"exact\" (did you mean \"exact\"?)") !=
              std::string::npos);
        CHECK(r.output.find("g.toml:13:9: nodes.model.slots: 0 is out of range [1, 64]") != std::string::npos);
        CHECK(r.output.find("command line: nodes.cot.extraction: \"LLM\" is not one of \"llm\", \"rule\" (did you mean \"llm\"?)") !=
              std::string::npos);
        CHECK_FALSE(fs::exists(marker)); // no instance was created
        CHECK_FALSE(fs::exists(d.path / "out2"));
    }
}

TEST_CASE("a plugin built against ABI 1.2 (the old parley_param, no param_size) loads and runs", "[e2e][specs][abi]") {
    TempDir d("abi12");
    std::string g = scripted_graph("unused");
    g.replace(g.find("use = \"scripted/backend\""), 24, "use = \"fixture_abi12/backend\"\nnote = \"its third parameter\"");
    g.replace(g.find("default_reply"), 13, "reply");
    std::ofstream(d.path / "g.toml") << g;
    auto r = run(parley() + " --plugin-path " + PARLEY_FIXTURE_DIR + " run " + quote(d.path / "g.toml") +
                 " nodes.mmlu_pro.limit=4 nodes.model.reply='The correct answer is (B).' graph.output_dir=" + quote(d.path / "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto samples = read_jsonl(d.path / "out" / "cot" / "samples_mmlu_pro.jsonl");
    REQUIRE(samples.size() == 4);
    for (auto &s : samples) CHECK(s["extracted"] == "The answer is (B)."); // the reply set through its first parameter
    auto plugins = run(parley() + " --plugin-path " + PARLEY_FIXTURE_DIR + " inspect fixture_abi12/backend");
    CHECK(plugins.output.find("note") != std::string::npos);
}
