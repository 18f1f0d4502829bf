// Tests of the libtorch trainer: forward parity with llama.cpp, GGUF export, data rows, SFT/DPO
// training, checkpoints, and the plugin through the C ABI. Models: shared/models/stories260K.gguf
// plus small synthetic GGUFs (qwen2, F16, BF16) written here with its tokenizer. Threads: 2.
#include "gguf_io.hpp"
#include "trainer.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>

#include "llama_reference.hpp"

#include <gguf.h>
#include <llama.h>
#include <nlohmann/json.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace parley::training;

namespace {

std::string shared_dir() {
    if (const char *env = std::getenv("PARLEY_SHARED_DIR"); env && *env) return env;
    return PARLEY_SHARED_DIR;
}
std::string stories() { return shared_dir() + "/models/stories260K.gguf"; }
std::string tiny_llama2() { return shared_dir() + "/models/llama-2-tiny-random.gguf"; }

// A fresh, empty folder per test.
std::string scratch(const std::string &name) {
    fs::path p = fs::temp_directory_path() / ("parley-trainer-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

void write_file(const std::string &path, const std::string &text) {
    std::ofstream f(path);
    f << text;
}

std::string read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

void quiet_llama() {
    static bool once = [] {
        llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
        llama_backend_init();
        return true;
    }();
    (void)once;
}

struct LlamaModelPtr {
    llama_model *m = nullptr;
    ~LlamaModelPtr() {
        if (m) llama_model_free(m);
    }
};

std::vector<int32_t> llama_tokenize_text(const llama_vocab *vocab, const std::string &text) {
    std::vector<llama_token> t(text.size() + 8);
    int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), t.data(), static_cast<int32_t>(t.size()), true, true);
    REQUIRE(n >= 0);
    t.resize(static_cast<size_t>(n));
    return t;
}

// Logits of every position from llama.cpp (llama_reference.hpp), 2 threads.
std::vector<float> llama_logits(const std::string &model, const std::vector<int32_t> &tokens, const std::string &adapter = "") {
    quiet_llama();
    LlamaModelPtr mp;
    mp.m = llama_model_load_from_file(model.c_str(), llama_model_default_params());
    REQUIRE(mp.m);
    llama_context *ctx = parley::llama_reference::context_for(mp.m, tokens.size(), 2);
    REQUIRE(ctx);
    if (!adapter.empty()) {
        llama_adapter_lora *a = llama_adapter_lora_init(mp.m, adapter.c_str());
        REQUIRE(a);
        float scale = 1.0f;
        REQUIRE(llama_set_adapters_lora(ctx, &a, 1, &scale) == 0);
    }
    std::vector<float> out = parley::llama_reference::all_logits(ctx, tokens);
    llama_free(ctx);
    return out;
}

// Greedy continuation of `prompt` by llama.cpp (token pieces concatenated), stopping at EOG.
std::string llama_greedy(const std::string &model, const std::string &prompt, int n_predict) {
    quiet_llama();
    LlamaModelPtr mp;
    mp.m = llama_model_load_from_file(model.c_str(), llama_model_default_params());
    REQUIRE(mp.m);
    const llama_vocab *vocab = llama_model_get_vocab(mp.m);
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    cp.no_perf = true;
    llama_context *ctx = llama_init_from_model(mp.m, cp);
    REQUIRE(ctx);
    std::vector<llama_token> toks = llama_tokenize_text(vocab, prompt);
    llama_batch b = llama_batch_get_one(toks.data(), static_cast<int32_t>(toks.size()));
    std::string out;
    const int32_t V = llama_vocab_n_tokens(vocab);
    for (int i = 0; i < n_predict; ++i) {
        REQUIRE(llama_decode(ctx, b) == 0);
        const float *l = llama_get_logits_ith(ctx, -1);
        llama_token best = static_cast<llama_token>(std::max_element(l, l + V) - l);
        if (llama_vocab_is_eog(vocab, best)) break;
        char piece[256];
        const int n = llama_token_to_piece(vocab, best, piece, sizeof piece, 0, false);
        if (n > 0) out.append(piece, static_cast<size_t>(n));
        static llama_token next;
        next = best;
        b = llama_batch_get_one(&next, 1);
    }
    llama_free(ctx);
    return out;
}

double max_abs_diff(const std::vector<float> &a, const std::vector<float> &b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
    return m;
}

double max_abs(const std::vector<float> &a) {
    double m = 0;
    for (float x : a) m = std::max(m, static_cast<double>(std::fabs(x)));
    return m;
}

std::vector<int32_t> story_tokens() {
    Tokenizer tok(stories());
    auto t = tok.tokenize("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                          "One day, she saw a big, red ball. She ran to it and kicked it very high.",
                          true, true);
    REQUIRE(t.size() > 32);
    return t;
}

const char *kPairs =
    R"({"src": "Once upon a time", "tgt_chosen": " there was a kind girl who shared her toys.", "tgt_rejected": " there was a mean boy who broke the toys.", "pairwise": true}
{"src": "Lily went to the park", "tgt_chosen": " and helped her friend find his ball.", "tgt_rejected": " and pushed her friend into the mud.", "pairwise": true}
{"src": "Tom had a cookie", "tgt_chosen": " and he gave half to his sister.", "tgt_rejected": " and he hid it from his sister.", "pairwise": true}
{"src": "The dog was sad", "tgt_chosen": ", so Sue gave him a big hug.", "tgt_rejected": ", so Sue yelled at him.", "pairwise": true}
{"src": "Ben saw a bird", "tgt_chosen": " and gave it some bread to eat.", "tgt_rejected": " and threw a rock at it.", "pairwise": true}
{"src": "Mom was tired", "tgt_chosen": ", so Anna cleaned up her room.", "tgt_rejected": ", so Anna made a big mess.", "pairwise": true}
{"src": "The cat was hungry", "tgt_chosen": " and Tim gave it some milk.", "tgt_rejected": " and Tim took its food away.", "pairwise": true}
{"src": "Sara found a lost toy", "tgt_chosen": " and gave it back to the little boy.", "tgt_rejected": " and kept it for herself.", "pairwise": true}
)";

} // namespace

TEST_CASE("GGUF hyper-parameters are read as llama.cpp reads them", "[torch]") {
    GgufFile g(stories());
    ModelConfig c = g.model_config();
    CHECK(c.arch == "llama");
    CHECK(c.n_layer == 5);
    CHECK(c.n_embd == 64);
    CHECK(c.n_head == 8);
    CHECK(c.n_head_kv == 4);
    CHECK(c.head_dim == 8);
    CHECK(c.n_ff == 172);
    CHECK(c.n_vocab == 512);
    CHECK(c.rope_type == RopeType::Norm);
    CHECK_FALSE(c.tied_output);
    CHECK(g.at("blk.0.attn_k.weight").shape() == std::vector<int64_t>{32, 64});
    CHECK_THROWS_WITH(GgufFile("/nonexistent.gguf"), Catch::Contains("/nonexistent.gguf"));
}

TEST_CASE("libtorch logits match llama.cpp on stories260K (F32) within 1e-4", "[torch]") {
    auto toks = story_tokens();
    auto ref = llama_logits(stories(), toks);
    auto got = torch_logits(stories(), toks, 2);
    const double d = max_abs_diff(ref, got);
    INFO("tokens " << toks.size() << ", max |logit| " << max_abs(ref) << ", max |diff| " << d);
    CHECK(d <= 1e-4);
}

TEST_CASE("libtorch logits match llama.cpp for qwen2 (NEOX rope + QKV biases + tied output) and llama with GQA", "[torch]") {
    const std::string dir = scratch("qwen2");
    auto toks = story_tokens();
    for (auto arch : {"qwen2", "llama"}) {
        SyntheticSpec s;
        s.arch = arch;
        s.n_layer = 2;
        s.n_embd = 64;
        s.n_ff = 96;
        s.n_head = 8;
        s.n_head_kv = 2;
        s.tied = std::string(arch) == "qwen2";
        s.qkv_bias = std::string(arch) == "qwen2";
        s.rope_freq_base = 1000000.0f;
        const std::string path = dir + "/" + arch + ".gguf";
        write_synthetic_gguf(path, stories(), s);
        ModelConfig c = GgufFile(path).model_config();
        CHECK(c.rope_type == (std::string(arch) == "qwen2" ? RopeType::Neox : RopeType::Norm));
        CHECK(c.tied_output == s.tied);
        auto ref = llama_logits(path, toks);
        auto got = torch_logits(path, toks, 2);
        const double d = max_abs_diff(ref, got);
        INFO(arch << ": max |logit| " << max_abs(ref) << ", max |diff| " << d);
        CHECK(max_abs(ref) > 1.0);
        CHECK(d <= 1e-4);
    }
}

TEST_CASE("F16 and BF16 weights load through ggml's to_float and export back bit-identically", "[torch]") {
    const std::string dir = scratch("half");
    auto toks = story_tokens();
    for (int type : {static_cast<int>(GGML_TYPE_F16), static_cast<int>(GGML_TYPE_BF16)}) {
        SyntheticSpec s;
        s.n_layer = 1;
        s.n_ff = 96;
        s.type = type;
        const std::string path = dir + "/" + ggml_type_label(type) + ".gguf";
        write_synthetic_gguf(path, stories(), s);
        GgufFile g(path);
        CHECK(g.at("blk.0.attn_q.weight").type == type);
        // Re-exporting the values read (every tensor) gives the same bytes.
        std::map<std::string, std::vector<float>> all;
        for (auto &t : g.tensors()) all[t.name] = g.read_f32(t.name);
        const std::string out = dir + "/re-" + ggml_type_label(type) + ".gguf";
        export_full_gguf(path, out, all);
        CHECK(read_file(out) == read_file(path));
        // llama.cpp rounds activations to the weight type on CPU, so only a loose bound here.
        auto ref = llama_logits(path, toks);
        auto got = torch_logits(path, toks, 2);
        INFO(ggml_type_label(type) << ": max |logit| " << max_abs(ref) << ", max |diff| " << max_abs_diff(ref, got));
        CHECK(max_abs_diff(ref, got) <= 0.05 * max_abs(ref));
    }
    // A quantised model (Q8_0) is dequantised with ggml's to_float and re-quantised on export.
    {
        SyntheticSpec s;
        s.n_layer = 1;
        s.n_ff = 96;
        s.type = GGML_TYPE_Q8_0;
        const std::string path = dir + "/q8.gguf";
        write_synthetic_gguf(path, stories(), s);
        GgufFile g(path);
        std::map<std::string, std::vector<float>> all;
        for (auto &t : g.tensors()) all[t.name] = g.read_f32(t.name);
        export_full_gguf(path, dir + "/re-q8.gguf", all);
        CHECK(read_file(dir + "/re-q8.gguf") == read_file(path));
        auto ref = llama_logits(path, toks);
        auto got = torch_logits(path, toks, 2);
        INFO("Q8_0: max |logit| " << max_abs(ref) << ", max |diff| " << max_abs_diff(ref, got));
        CHECK(max_abs_diff(ref, got) <= 0.05 * max_abs(ref));
    }
    // The real F16 model with its 32k SPM vocabulary loads too.
    GgufFile t(tiny_llama2());
    CHECK(t.at("token_embd.weight").type == GGML_TYPE_F16);
    CHECK(t.read_f32("token_embd.weight").size() == 8u * 32000u);
}

TEST_CASE("export replaces only the trained tensors and everything else stays bit-identical", "[torch]") {
    const std::string dir = scratch("export");
    GgufFile g(stories());
    auto q = g.read_f32("blk.0.attn_q.weight");
    for (auto &x : q) x = x * 0.5f + 0.25f;
    const std::string out = dir + "/m.gguf";
    export_full_gguf(stories(), out, {{"blk.0.attn_q.weight", q}});
    GgufFile e(out);
    REQUIRE(e.tensors().size() == g.tensors().size());
    const std::string a = read_file(stories()), b = read_file(out);
    REQUIRE(a.size() == b.size());
    const uint64_t data_start = g.tensors().front().file_offset;
    CHECK(a.compare(0, data_start, b, 0, data_start) == 0); // header: every KV and tensor info
    for (auto &t : g.tensors()) {
        const TensorInfo &u = e.at(t.name);
        CHECK(u.type == t.type);
        CHECK(u.ne == t.ne);
        if (t.name == "blk.0.attn_q.weight") CHECK(e.read_f32(t.name) == q);
        else CHECK(e.read_raw(t.name) == g.read_raw(t.name));
    }
    CHECK_THROWS_WITH(export_full_gguf(stories(), out, {{"blk.0.attn_q.weight", {1.0f}}}), Catch::Contains("expected"));
}

TEST_CASE("training rows: Coral and TRL formats / BOS handling / truncation / errors with line numbers", "[torch]") {
    const std::string dir = scratch("data");
    Tokenizer tok(stories());
    CHECK(tok.chat_template() == "chatml"); // stories260K has none
    const int32_t bos = tok.bos(), eot = tok.end_of_turn();
    REQUIRE(bos == 1);
    REQUIRE(eot == 2);

    write_file(dir + "/coral.jsonl",
               R"({"src": "Once upon a time", "tgt_chosen": " there was a dog.", "tgt_rejected": " there was a cat.", "pairwise": true})"
               "\n\n"
               R"({"src": "<s>Once upon a time", "tgt_chosen": " a", "tgt_rejected": " b", "pairwise": true})"
               "\n");
    auto ex = load_examples(dir + "/coral.jsonl", tok, Method::Dpo, 0);
    REQUIRE(ex.size() == 2);
    CHECK(ex[0].line == 1);
    CHECK(ex[1].line == 3);
    CHECK(ex[0].prompt == tok.tokenize("Once upon a time", true, true));
    CHECK(ex[0].prompt.front() == bos);
    CHECK(ex[1].prompt == ex[0].prompt); // a text starting with BOS gets no second one
    auto joint = tok.tokenize("Once upon a time there was a dog.", true, true);
    std::vector<int32_t> want(joint.begin() + static_cast<std::ptrdiff_t>(ex[0].prompt.size()), joint.end());
    want.push_back(eot);
    CHECK(ex[0].chosen == want);
    CHECK(ex[0].rejected.back() == eot);
    CHECK(tok.detokenize(ex[0].chosen) == " there was a dog.");

    // SFT rows; DPO rows are accepted for SFT (trained on the chosen reply).
    write_file(dir + "/sft.jsonl", R"({"src": "Hi", "tgt": " there"})" "\n");
    CHECK(load_examples(dir + "/sft.jsonl", tok, Method::Sft, 0).size() == 1);
    CHECK(load_examples(dir + "/coral.jsonl", tok, Method::Sft, 0)[0].rejected.empty());
    CHECK_THROWS_WITH(load_examples(dir + "/sft.jsonl", tok, Method::Dpo, 0), Catch::Contains("sft.jsonl:1: field 'tgt'"));

    // TRL conversational rows go through the chat template (chatml here).
    write_file(dir + "/trl.jsonl",
               R"({"prompt": [{"role": "user", "content": "Tell a story"}], "chosen": [{"role": "assistant", "content": "Once upon a time"}], "rejected": [{"role": "assistant", "content": "No"}]})"
               "\n"
               R"({"messages": [{"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]})"
               "\n");
    std::string src = tok.apply_template({{"user", "Tell a story"}}, true);
    CHECK(src == "<|im_start|>user\nTell a story<|im_end|>\n<|im_start|>assistant\n");
    write_file(dir + "/trl1.jsonl", read_file(dir + "/trl.jsonl").substr(0, read_file(dir + "/trl.jsonl").find('\n') + 1));
    auto t = load_examples(dir + "/trl1.jsonl", tok, Method::Dpo, 0);
    CHECK(t[0].prompt == tok.tokenize(src, true, true));
    CHECK(tok.detokenize(t[0].chosen) == "Once upon a time<|im_end|>\n");
    CHECK_THROWS_WITH(load_examples(dir + "/trl.jsonl", tok, Method::Dpo, 0), Catch::Contains("trl.jsonl:2: field 'messages'"));
    auto m = load_examples(dir + "/trl.jsonl", tok, Method::Sft, 0);
    REQUIRE(m.size() == 2);
    CHECK(tok.detokenize(m[1].chosen) == "Hello<|im_end|>\n");

    // Truncation keeps BOS, the end of the prompt and the start of the targets.
    Example e;
    e.prompt = {bos, 10, 11, 12, 13, 14, 15, 16, 17};
    e.chosen = {20, 21, 22};
    e.rejected = {30, 31, 32, 33, 34, 35, 36, 37, 38, 39};
    CHECK(truncate_example(e, 8, bos));
    CHECK(e.prompt.size() == 4);
    CHECK(e.prompt == std::vector<int32_t>{bos, 15, 16, 17});
    CHECK(e.chosen == std::vector<int32_t>{20, 21, 22});
    CHECK(e.rejected == std::vector<int32_t>{30, 31, 32, 33});
    Example f = e;
    CHECK_FALSE(truncate_example(f, 0, bos));

    write_file(dir + "/bad.jsonl", "{\"src\": \"a\", \"tgt\": \"b\"}\n{\"src\": 3, \"tgt\": \"b\"}\n");
    CHECK_THROWS_WITH(load_examples(dir + "/bad.jsonl", tok, Method::Sft, 0), Catch::Contains("bad.jsonl:2: field 'src': must be a string"));
    write_file(dir + "/bad2.jsonl", "not json\n");
    CHECK_THROWS_WITH(load_examples(dir + "/bad2.jsonl", tok, Method::Sft, 0), Catch::Contains("bad2.jsonl:1: invalid JSON"));
}

TEST_CASE("SFT memorises a short text and the exported GGUF reproduces it greedily in llama.cpp", "[torch]") {
    const std::string dir = scratch("sft");
    const std::string prompt = "Once upon a time";
    const std::string target = " there was a purple fox named Zed who loved to sing songs to the moon.";
    write_file(dir + "/data.jsonl", nlohmann::json({{"src", prompt}, {"tgt", target}}).dump() + "\n");
    const std::string before = llama_greedy(stories(), prompt, 40);
    INFO("base model: '" << before << "'");
    REQUIRE(before.rfind(target, 0) != 0);

    TrainOptions o;
    o.model = stories();
    o.method = Method::Sft;
    o.lr = 1e-3;
    o.warmup_steps = 10;
    o.steps = 150;
    o.final_lr_scale = 0.1;
    o.weight_decay = 0.0;
    o.threads = 2;
    o.checkpoint_every = 0;
    o.log_every = 50;
    TrainResult r = run_training(o, dir + "/data.jsonl", dir + "/out");
    CHECK_FALSE(r.adapter);
    CHECK(r.model_path == dir + "/out/model.gguf");
    CHECK(r.metrics.steps == 150);
    CHECK(r.metrics.final_loss < 0.1 * r.metrics.first_loss);
    CHECK(r.metrics.tokens_per_s > 0);
    const std::string after = llama_greedy(r.model_path, prompt, 40);
    INFO("trained model: '" << after << "'");
    CHECK(after == target);
    // Same metadata and types as the base; the summary is in output_dir.
    GgufFile a(stories()), b(r.model_path);
    CHECK(b.tensors().size() == a.tensors().size());
    CHECK(read_file(stories()).compare(0, a.tensors().front().file_offset, read_file(r.model_path), 0,
                                       a.tensors().front().file_offset) == 0);
    auto summary = nlohmann::json::parse(read_file(dir + "/out/summary.json"));
    CHECK(summary["model"] == r.model_path);
    CHECK(summary["metrics"]["steps"] == 150);
}

TEST_CASE("DPO lowers the loss and raises the margin and the LoRA adapter loads in llama.cpp with matching logits", "[torch]") {
    const std::string dir = scratch("dpo");
    write_file(dir + "/pairs.jsonl", kPairs);
    const double ln2 = std::log(2.0);

    // Full fine-tune, exported as GGUF.
    TrainOptions o;
    o.model = stories();
    o.method = Method::Dpo;
    o.beta = 0.1;
    o.lr = 1e-3;
    o.warmup_steps = 3;
    o.steps = 30;
    o.batch_size = 4;
    o.threads = 2;
    o.checkpoint_every = 0;
    o.log_every = 10;
    TrainResult r = run_training(o, dir + "/pairs.jsonl", dir + "/full");
    CHECK(std::fabs(r.metrics.first_loss - ln2) < 1e-4); // policy == reference at step 1
    CHECK(r.metrics.final_loss < ln2 - 0.05);
    CHECK(r.metrics.reward_margin > 0.0);
    DpoEval e = evaluate_dpo(r.model_path, "", stories(), dir + "/pairs.jsonl", 0.1, 0, 2);
    INFO("full: loss " << e.loss << " margin " << e.margin << " acc " << e.accuracy);
    CHECK(e.pairs == 8);
    CHECK(e.loss < ln2 - 0.05);
    CHECK(e.margin > 0.1);
    CHECK(e.accuracy >= 0.75);

    // LoRA with grad accumulation, exported as an adapter.
    o.lora_rank = 4;
    o.lora_alpha = 8;
    o.lr = 1e-2;
    o.batch_size = 2;
    o.grad_accum = 2;
    TrainResult l = run_training(o, dir + "/pairs.jsonl", dir + "/lora");
    CHECK(l.adapter);
    CHECK(l.model_path == dir + "/lora/adapter.gguf");
    GgufFile ag(l.model_path);
    CHECK(ag.get_string("general.type") == "adapter");
    CHECK(ag.get_string("adapter.type") == "lora");
    CHECK(ag.get_float("adapter.lora.alpha", 0) == 8.0);
    CHECK(ag.at("blk.0.attn_q.weight.lora_a").ne == std::vector<int64_t>{64, 4});
    CHECK(ag.at("blk.0.attn_q.weight.lora_b").ne == std::vector<int64_t>{4, 64});
    DpoEval le = evaluate_dpo(stories(), l.model_path, stories(), dir + "/pairs.jsonl", 0.1, 0, 2);
    INFO("lora: loss " << le.loss << " margin " << le.margin << " acc " << le.accuracy);
    CHECK(le.loss < ln2 - 0.05);
    CHECK(le.margin > 0.1);
    auto toks = story_tokens();
    auto ref = llama_logits(stories(), toks, l.model_path);
    auto got = torch_logits(stories(), toks, 2, l.model_path);
    INFO("adapter parity: max |diff| " << max_abs_diff(ref, got));
    CHECK(max_abs_diff(ref, got) <= 1e-4);
    CHECK(max_abs_diff(ref, llama_logits(stories(), toks)) > 1e-3); // the adapter does something

    // The same LoRA run exported merged into a GGUF gives the same model.
    o.export_format = "gguf";
    TrainResult merged = run_training(o, dir + "/pairs.jsonl", dir + "/lora-merged");
    CHECK_FALSE(merged.adapter);
    auto mg = llama_logits(merged.model_path, toks);
    INFO("merged vs adapter: max |diff| " << max_abs_diff(ref, mg));
    CHECK(max_abs_diff(ref, mg) <= 1e-4);
}

TEST_CASE("a run resumes from its latest checkpoint and ends where an uninterrupted run ends", "[torch]") {
    const std::string dir = scratch("resume");
    write_file(dir + "/pairs.jsonl", kPairs);
    TrainOptions o;
    o.model = stories();
    o.lr = 1e-3;
    o.warmup_steps = 2;
    o.steps = 8;
    o.batch_size = 3;
    o.threads = 2;
    o.checkpoint_every = 2;
    o.keep_checkpoints = 2;
    TrainResult whole = run_training(o, dir + "/pairs.jsonl", dir + "/whole");

    // An interrupted run: the same 8-step run with its last checkpoint and export removed.
    TrainOptions half = o;
    run_training(half, dir + "/pairs.jsonl", dir + "/split");
    fs::remove(dir + "/split/checkpoints/step-00000008.pt");
    fs::remove(dir + "/split/model.gguf");
    CHECK(fs::exists(dir + "/split/checkpoints/step-00000006.pt"));
    CHECK_FALSE(fs::exists(dir + "/split/checkpoints/step-00000004.pt")); // keep_checkpoints = 2
    TrainResult resumed = run_training(half, dir + "/pairs.jsonl", dir + "/split");
    CHECK(resumed.metrics.resumed_from == 6);
    CHECK(resumed.metrics.steps == 8);
    GgufFile a(whole.model_path), b(resumed.model_path);
    double d = 0;
    for (auto &t : a.tensors()) {
        auto x = a.read_f32(t.name), y = b.read_f32(t.name);
        d = std::max(d, max_abs_diff(x, y));
    }
    INFO("max |weight diff| " << d);
    CHECK(d <= 1e-6);
    // A finished run resumes to the end and only re-exports.
    TrainResult again = run_training(half, dir + "/pairs.jsonl", dir + "/split");
    CHECK(again.metrics.resumed_from == 8);
    // A checkpoint from another LoRA setting is refused.
    TrainOptions lora = half;
    lora.lora_rank = 2;
    CHECK_THROWS_WITH(run_training(lora, dir + "/pairs.jsonl", dir + "/split"), Catch::Contains("lora_rank"));
}

// libparley-trainer.so opened as the host opens it.
static const parley_plugin_desc *load_trainer_plugin(parley::testing::TestHost &host) {
    std::string why;
    const parley_plugin_desc *desc = parley::testing::load_plugin(std::string(PARLEY_PLUGIN_DIR) + "/libparley-trainer.so", host, &why);
    INFO(why);
    REQUIRE(desc);
    return desc;
}

TEST_CASE("trainer/train's parameter defaults are TrainOptions' defaults", "[torch]") {
    parley::testing::TestHost host;
    const parley_plugin_desc *desc = load_trainer_plugin(host);
    const parley_component *comp = desc->components[0];
    const TrainOptions o; // what run_training and the tools use when nothing is said
    auto spec = [&](const char *key) {
        const parley_param *p = parley::testing::find_param(comp, key);
        INFO(key);
        REQUIRE(p);
        REQUIRE((p->flags & PARLEY_PARAM_HAS_DEFAULT) != 0);
        return *p;
    };
    auto number = [&](const char *key) {
        const parley_param p = spec(key);
        return p.type == PARLEY_TYPE_FLOAT ? p.default_float : static_cast<double>(p.default_int);
    };
    CHECK(std::string(spec("method").default_string) == "dpo");
    CHECK(o.method == Method::Dpo);
    CHECK(number("beta") == o.beta);
    CHECK(number("nll_scale") == o.nll_scale);
    CHECK((spec("length_normalize").default_int != 0) == o.length_normalize);
    CHECK(number("final_lr_scale") == o.final_lr_scale);
    CHECK(std::string(spec("lr_schedule").default_string) == o.lr_schedule);
    CHECK(number("warmup_steps") == static_cast<double>(o.warmup_steps));
    CHECK(number("steps") == static_cast<double>(o.steps));
    CHECK(number("batch_size") == o.batch_size);
    CHECK(number("grad_accum") == o.grad_accum);
    CHECK(number("max_seq_len") == o.max_seq_len);
    CHECK(number("grad_clip") == o.grad_clip);
    CHECK(number("weight_decay") == o.weight_decay);
    CHECK(number("seed") == static_cast<double>(o.seed));
    CHECK(number("lora_rank") == o.lora_rank);
    CHECK(number("lora_alpha") == o.lora_alpha);
    CHECK(number("threads") == o.threads);
    CHECK(std::string(spec("device").default_string) == o.device);
    CHECK(number("checkpoint_every") == static_cast<double>(o.checkpoint_every));
    CHECK(number("log_every") == static_cast<double>(o.log_every));
}

TEST_CASE("the plugin trains through the C ABI (trainer/train)", "[torch]") {
    parley::testing::TestHost host;
    const parley_plugin_desc *desc = load_trainer_plugin(host);
    parley_error err{};
    CHECK(std::string(desc->name) == "trainer");
    REQUIRE(desc->n_components == 1);
    const parley_component *comp = desc->components[0];
    CHECK(std::string(comp->name) == "train");
    CHECK(comp->kind == PARLEY_KIND_TRAINER);
    CHECK(comp->version == 1);
    const parley_param *model = parley::testing::find_param(comp, "model");
    REQUIRE(model);
    CHECK(model->type == PARLEY_TYPE_PATH);
    CHECK((model->flags & (PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST)) == (PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST));
    auto *vt = static_cast<const parley_trainer_vtable *>(comp->vtable);
    REQUIRE(vt->struct_size >= sizeof(parley_trainer_vtable));

    void *self = nullptr;
    auto bad = host.config({{"model", stories()}, {"method", std::string("ppo")}});
    CHECK(vt->create(host.api(), bad.raw(), &self, &err) == PARLEY_ERR_INVALID_ARGUMENT);
    CHECK(std::string(err.message).find("method") != std::string::npos);
    auto bad2 = host.config({{"model", stories()}, {"export", std::string("lora")}});
    CHECK(vt->create(host.api(), bad2.raw(), &self, &err) == PARLEY_ERR_INVALID_ARGUMENT);

    const std::string dir = scratch("plugin");
    write_file(dir + "/pairs.jsonl", kPairs);
    auto cfg = host.config({{"model", stories()}, {"method", std::string("dpo")}, {"steps", int64_t{4}},
                            {"batch_size", int64_t{2}}, {"lr", 1e-4}, {"warmup_steps", int64_t{1}},
                            {"threads", int64_t{2}}, {"lora_rank", int64_t{2}}, {"log_every", int64_t{2}}});
    REQUIRE(vt->create(host.api(), cfg.raw(), &self, &err) == PARLEY_OK);
    const std::string data = dir + "/pairs.jsonl", out = dir + "/out";
    std::string result;
    parley_train_job job{};
    job.struct_size = sizeof job;
    job.data_path = {data.data(), data.size()};
    job.output_dir = {out.data(), out.size()};
    job.result_json = parley::testing::TestHost::buffer(result);
    REQUIRE(vt->train(self, &job, &err) == PARLEY_OK);
    auto j = nlohmann::json::parse(result);
    CHECK(j["model"] == out + "/adapter.gguf");
    CHECK(j["adapter"] == true);
    CHECK(j["base_model"] == stories());
    CHECK(j["metrics"]["steps"] == 4);
    for (auto k : {"final_loss", "reward_margin", "reward_accuracy", "tokens_per_s"}) CHECK(j["metrics"].contains(k));
    CHECK(fs::exists(out + "/adapter.gguf"));
    bool progress = false;
    for (auto &line : host.logs()) progress |= line.find("step 2/4") != std::string::npos && line.find("eta") != std::string::npos;
    CHECK(progress);

    // A missing data file fails with the path in the message.
    const std::string missing = dir + "/missing.jsonl";
    job.data_path = {missing.data(), missing.size()};
    CHECK(vt->train(self, &job, &err) == PARLEY_ERR_NOT_FOUND);
    CHECK(std::string(err.message).find("missing.jsonl") != std::string::npos);
    vt->destroy(self);
}

TEST_CASE("message rows render with the GGUF's Jinja chat template, as the backend and core/pairs do", "[torch]") {
    // A copy of stories260K whose metadata holds Llama-3.1-Instruct's template (the tensor data
    // follows the new metadata unchanged: its offsets are relative to the data section).
    std::ifstream tf(PARLEY_LLAMA_SOURCE_DIR "/models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja");
    REQUIRE(tf);
    std::stringstream llama31;
    llama31 << tf.rdbuf();
    gguf_context *g = gguf_init_from_file(stories().c_str(), gguf_init_params{true, nullptr});
    REQUIRE(g);
    const size_t data_offset = gguf_get_data_offset(g);
    gguf_set_val_str(g, "tokenizer.chat_template", llama31.str().c_str());
    const std::string model = scratch("tmpl") + "/stories260K-llama31.gguf";
    const bool ok = gguf_write_to_file(g, model.c_str(), true);
    gguf_free(g);
    REQUIRE(ok);
    std::ifstream in(stories(), std::ios::binary);
    in.seekg(static_cast<std::streamoff>(data_offset));
    std::ofstream(model, std::ios::binary | std::ios::app) << in.rdbuf();

    Tokenizer tok(model);
    CHECK(tok.chat_template() == llama31.str());
    // Hugging Face's rendering (llama.cpp's built-in llama3 formatter drops the BOS text and the
    // "Cutting Knowledge Date" lines); the model's BOS text is <s>.
    const std::vector<ChatMessage> prompt = {{"system", "You tell stories."}, {"user", "Go on."}};
    CHECK(tok.apply_template(prompt, true) ==
          "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
          "You tell stories.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGo on.<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    // A whole conversation starts with its prompt, so the target is the rendered suffix.
    std::vector<ChatMessage> all = prompt;
    all.push_back({"assistant", "Once upon a time."});
    const std::string full = tok.apply_template(all, false);
    CHECK(full.rfind(tok.apply_template(prompt, true), 0) == 0);
    CHECK(full.substr(tok.apply_template(prompt, true).size()) == "Once upon a time.<|eot_id|>");
}
