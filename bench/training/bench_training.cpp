// parley_bench_training — the libtorch trainer against llama.cpp (logit parity) and against plain
// PyTorch (DPO step throughput, bench/training/pytorch_dpo.py) on the same model and batch, CPU.
// Writes bench/results/training.json (see README.md).
//
//   parley_bench_training [--out PATH] [--threads N] [--steps N] [--warmup N] [--rounds N]
//                         [--python PATH] [--no-python] [--quick]
#include "gguf_io.hpp"
#include "trainer.hpp"
#include "llama_reference.hpp"

#include <llama.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;
using namespace parley::training;

namespace {

std::string shared_dir() {
    if (const char *env = std::getenv("PARLEY_SHARED_DIR"); env && *env) return env;
    return PARLEY_SHARED_DIR;
}

std::string quote(const std::string &s) {
    if (s.find_first_of(" \t'\"\\$") == std::string::npos && !s.empty()) return s;
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::vector<float> llama_logits(const std::string &model, const std::vector<int32_t> &tokens, int threads) {
    llama_model *m = llama_model_load_from_file(model.c_str(), llama_model_default_params());
    if (!m) throw std::runtime_error("llama.cpp cannot load " + model);
    llama_context *ctx = parley::llama_reference::context_for(m, tokens.size(), threads);
    if (!ctx) {
        llama_model_free(m);
        throw std::runtime_error("llama.cpp cannot make a context for " + model);
    }
    std::vector<float> out = parley::llama_reference::all_logits(ctx, tokens);
    llama_free(ctx);
    llama_model_free(m);
    return out;
}

json run_python(const std::string &python, const std::string &script, const std::string &model, int pairs, int prompt_len,
                int target_len, int warmup, int steps, int threads) {
    const std::string cmd = quote(python) + " " + quote(script) + " --model " + quote(model) + " --pairs " + std::to_string(pairs) +
                            " --prompt-len " + std::to_string(prompt_len) + " --target-len " + std::to_string(target_len) +
                            " --warmup " + std::to_string(warmup) + " --steps " + std::to_string(steps) + " --threads " +
                            std::to_string(threads);
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("cannot run " + cmd);
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int rc = pclose(p);
    if (rc != 0) throw std::runtime_error("'" + cmd + "' failed (status " + std::to_string(rc) + ")");
    json j = json::parse(out.substr(out.find('{')));
    j["command"] = cmd;
    return j;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
    // libgomp reads OMP_WAIT_POLICY when it loads (before main): re-exec once with PASSIVE unless
    // the caller chose a policy. Spin-waiting threads make timings on a shared machine erratic;
    // the PyTorch child inherits the same environment.
    if (!std::getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execv("/proc/self/exe", argv);
    }
    std::string cmdline; // bench/training/run.sh names itself (it builds and installs first)
    for (int i = 0; i < argc; ++i) {
        if (i) cmdline += ' ';
        cmdline += quote(argv[i]);
    }
    if (const char *c = std::getenv("PARLEY_BENCH_COMMAND")) cmdline = c;
    std::string out = std::string(PARLEY_SOURCE_DIR) + "/bench/results/training.json";
    std::string python = "/usr/bin/python3";
    const std::string script = std::string(PARLEY_SOURCE_DIR) + "/bench/training/pytorch_dpo.py";
    int threads = 2, steps = 8, warmup = 2, rounds = 2;
    bool use_python = true, quick = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--out") out = next();
        else if (a == "--threads") threads = std::stoi(next());
        else if (a == "--steps") steps = std::stoi(next());
        else if (a == "--warmup") warmup = std::stoi(next());
        else if (a == "--rounds") rounds = std::stoi(next());
        else if (a == "--python") python = next();
        else if (a == "--no-python") use_python = false;
        else if (a == "--quick") quick = true;
        else {
            std::cerr << "usage: " << argv[0] << " [--out PATH] [--threads N] [--steps N] [--warmup N] [--rounds N] [--python PATH] [--no-python] [--quick]\n";
            return 2;
        }
    }
    if (quick) steps = 3, warmup = 1, rounds = 1;
    // The PyTorch side needs Debian's python3-torch: say so before minutes of libtorch work.
    if (use_python && std::system((quote(python) + " -c 'import torch, numpy' 2>/dev/null").c_str()) != 0) {
        std::cerr << python << " cannot import torch and numpy: install python3-torch (bench/training/run.sh does), "
                  << "or pass --no-python\n";
        return 1;
    }
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    const std::string stories = shared_dir() + "/models/stories260K.gguf";

    json r;
    r["command"] = cmdline;
    r["device"] = "cpu";
    r["threads"] = threads;
    r["hardware_concurrency"] = std::thread::hardware_concurrency();
    r["omp_wait_policy"] = std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "";

    // 1. Logit parity with llama.cpp (F32, every position).
    {
        Tokenizer tok(stories);
        auto toks = tok.tokenize("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                                 "One day, she saw a big, red ball. She ran to it and kicked it very high.",
                                 true, true);
        auto a = llama_logits(stories, toks, threads);
        auto b = torch_logits(stories, toks, threads);
        double d = 0, mx = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
            mx = std::max(mx, static_cast<double>(std::fabs(a[i])));
        }
        r["max_abs_logit_diff"] = d;
        r["parity"] = {{"model", stories}, {"tokens", toks.size()}, {"max_abs_logit", mx}, {"max_abs_logit_diff", d}};
        std::cerr << "parity: " << toks.size() << " tokens, max |logit diff| " << d << " (max |logit| " << mx << ")\n";
    }

    // 2. DPO step throughput, libtorch vs PyTorch, alternating rounds (the machine may be shared).
    struct Case {
        std::string name, model;
        int pairs, prompt_len, target_len;
    };
    const std::string medium = (fs::temp_directory_path() / ("parley-bench-medium-" + std::to_string(getpid()) + ".gguf")).string();
    SyntheticSpec ms;
    ms.n_layer = 4;
    ms.n_embd = 512;
    ms.n_ff = 1376;
    ms.n_head = 8;
    ms.n_head_kv = 4;
    write_synthetic_gguf(medium, stories, ms);
    std::vector<Case> cases = {{"stories260K", stories, 4, 128, 128},
                               {"llama-medium-synthetic (4 layers, n_embd 512, n_ff 1376, 8/4 heads, vocab 512, F32)", medium, 2, 64, 64}};
    json jc = json::array();
    for (auto &c : cases) {
        std::vector<double> lt, pt;
        json last_py;
        StepBench lb;
        for (int round = 0; round < rounds; ++round) {
            lb = bench_dpo_steps(c.model, c.pairs, c.prompt_len, c.target_len, warmup, steps, threads, 1e-6);
            lt.push_back(lb.seconds_per_step);
            std::cerr << c.name << " round " << round + 1 << ": libtorch " << lb.seconds_per_step << " s/step";
            if (use_python) {
                last_py = run_python(python, script, c.model, c.pairs, c.prompt_len, c.target_len, warmup, steps, threads);
                pt.push_back(last_py["seconds_per_step"].get<double>());
                std::cerr << ", pytorch " << pt.back() << " s/step";
            }
            std::cerr << "\n";
        }
        json e;
        e["name"] = c.name;
        e["model"] = c.model == medium ? "synthetic (written by the benchmark)" : c.model;
        e["batch"] = {{"pairs", c.pairs}, {"prompt_len", c.prompt_len}, {"target_len", c.target_len},
                      {"tokens_per_step", lb.tokens_per_step}};
        e["steps_timed"] = steps;
        e["warmup_steps"] = warmup;
        e["rounds"] = rounds;
        const double ls = median(lt);
        e["libtorch_seconds_per_step"] = ls;
        e["tokens_per_s"] = ls > 0 ? static_cast<double>(lb.tokens_per_step) / ls : 0.0;
        e["libtorch_losses"] = lb.losses;
        if (use_python) {
            const double ps = median(pt);
            e["pytorch_seconds_per_step"] = ps;
            e["pytorch_tokens_per_s"] = ps > 0 ? static_cast<double>(last_py["tokens_per_step"].get<int64_t>()) / ps : 0.0;
            e["pytorch_losses"] = last_py["losses"];
            e["pytorch_torch_version"] = last_py["torch_version"];
            e["pytorch_command"] = last_py["command"];
            e["libtorch_time_over_pytorch_time"] = ps > 0 ? ls / ps : 0.0;
            double dl = 0;
            for (size_t i = 0; i < std::min(lb.losses.size(), last_py["losses"].size()); ++i)
                dl = std::max(dl, std::fabs(lb.losses[i] - last_py["losses"][i].get<double>()));
            e["max_abs_loss_diff"] = dl;
        }
        jc.push_back(e);
    }
    fs::remove(medium);
    r["configs"] = jc;
    r["tokens_per_s"] = jc[0]["tokens_per_s"];
    if (use_python) {
        r["pytorch_tokens_per_s"] = jc[0]["pytorch_tokens_per_s"];
        r["libtorch_time_over_pytorch_time"] = jc[0]["libtorch_time_over_pytorch_time"];
        r["target"] = "libtorch step time <= 1.2x PyTorch's";
    }
    fs::create_directories(fs::path(out).parent_path());
    std::ofstream f(out);
    f << r.dump(2) << "\n";
    std::cerr << "wrote " << out << "\n";
    return 0;
}
