// make_random_gguf: a random-weight GGUF with the real shape and tokenizer of a named model.
//
// Inference speed does not depend on weight values, so such a file stands in for the real model in
// throughput benchmarks. The tokenizer (every tokenizer.* key) is copied from one of llama.cpp's
// models/ggml-vocab-<name>.gguf files, the architecture hyper-parameters are the real model's, and
// every tensor has the real model's name, shape and (for the chosen output type) storage type.
// Embeddings are tied as in the real models (no output.weight; llama.cpp reuses token_embd), unless
// --output words.
// Tensor data is streamed to the file, so memory stays small even for large models.
//
//   make_random_gguf --model smollm2-135m --type q8_0 --out smollm2-135m-q8_0.gguf
//                    [--vocab-dir LLAMA_SRC/models] [--seed 1] [--output tied|words]
//
// --output words (for benchmarks): instead of tying the output projection to token_embd, write an
// output.weight of the same shape and type (so the same work per token) whose rows are zero except
// for plain lower-case word tokens (" word"). The model then emits a stream of words: text that
// re-tokenizes to the same tokens, never an end-of-generation token, never control tokens, as a
// trained model does (sample at temperature ~1 for varied text), while uniformly random weights would emit
// arbitrary byte pieces whose
// re-tokenization differs from the generated tokens (which defeats any token-level prefix cache).
//   make_random_gguf --dump FILE.gguf        # print the KV metadata and tensors of a GGUF
//   make_random_gguf --list                  # the models this tool knows
#include <ggml.h>
#include <gguf.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

struct Spec {
    const char *name;
    const char *real;  // the Hugging Face model it mimics
    const char *arch;  // general.architecture
    const char *vocab; // models/ggml-vocab-<vocab>.gguf
    const char *pre;   // tokenizer.ggml.pre of the real model
    int64_t n_vocab;   // rows of token_embd (tokenizer padded with [PADn] tokens up to this)
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train;
    float rope_base, rms_eps;
    bool qkv_bias;
    // special tokens of the real instruct model: (id, text) overrides, bos, eos
    std::vector<std::pair<int, const char *>> specials;
    int bos, eos, pad;
    bool add_bos;
    const char *chat_template;
};

// SmolLM2-Instruct's template (chatml with a default system prompt).
const char *kSmolTemplate =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\n' }}{% endif %}";

// Qwen2.5-Instruct's template without the tool-calling branches (llama.cpp detects it as chatml).
const char *kQwenTemplate =
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if not (message.role == 'system' and "
    "loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

std::vector<Spec> specs() {
    std::vector<Spec> v;
    // HuggingFaceTB/SmolLM2-135M-Instruct: llama, 30 layers, 576 wide, GQA 9/3, vocab 49152 (byte-level BPE
    // with 'smollm' pre-tokenizer; llama.cpp ships no SmolLM vocab, so StarCoder's 49152-token BPE stands in,
    // with ids 1/2 renamed <|im_start|>/<|im_end|> as in SmolLM's own vocabulary).
    v.push_back({"smollm2-135m", "HuggingFaceTB/SmolLM2-135M-Instruct", "llama", "starcoder", "smollm", 49152, 576, 30,
                 9, 3, 1536, 8192, 100000.0f, 1e-5f, false, {{1, "<|im_start|>"}, {2, "<|im_end|>"}}, 1, 2, 2, false,
                 kSmolTemplate});
    v.push_back({"smollm2-360m", "HuggingFaceTB/SmolLM2-360M-Instruct", "llama", "starcoder", "smollm", 49152, 960, 32,
                 15, 5, 2560, 8192, 100000.0f, 1e-5f, false, {{1, "<|im_start|>"}, {2, "<|im_end|>"}}, 1, 2, 2, false,
                 kSmolTemplate});
    // Qwen/Qwen2.5-0.5B-Instruct: qwen2, 24 layers, 896 wide, GQA 14/2, q/k/v biases, 151936 embedding rows.
    v.push_back({"qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct", "qwen2", "qwen2", "qwen2", 151936, 896, 24, 14, 2, 4864,
                 32768, 1000000.0f, 1e-6f, true, {}, -1, 151645, 151643, false, kQwenTemplate});
    return v;
}

[[noreturn]] void die(const std::string &msg) {
    std::fprintf(stderr, "make_random_gguf: %s\n", msg.c_str());
    std::exit(1);
}

void dump(const char *path) {
    gguf_init_params ip{true, nullptr};
    gguf_context *g = gguf_init_from_file(path, ip);
    if (!g) die(std::string("cannot read GGUF '") + path + "'");
    for (int64_t i = 0; i < gguf_get_n_kv(g); ++i) {
        const char *key = gguf_get_key(g, i);
        const gguf_type t = gguf_get_kv_type(g, i);
        std::printf("%s [%s] = ", key, gguf_type_name(t));
        switch (t) {
        case GGUF_TYPE_STRING: {
            std::string s = gguf_get_val_str(g, i);
            if (s.size() > 200) s = s.substr(0, 200) + "...";
            std::printf("%s", s.c_str());
            break;
        }
        case GGUF_TYPE_UINT32: std::printf("%u", gguf_get_val_u32(g, i)); break;
        case GGUF_TYPE_INT32: std::printf("%d", gguf_get_val_i32(g, i)); break;
        case GGUF_TYPE_FLOAT32: std::printf("%g", gguf_get_val_f32(g, i)); break;
        case GGUF_TYPE_BOOL: std::printf("%s", gguf_get_val_bool(g, i) ? "true" : "false"); break;
        case GGUF_TYPE_UINT64: std::printf("%llu", (unsigned long long)gguf_get_val_u64(g, i)); break;
        case GGUF_TYPE_ARRAY: {
            const gguf_type at = gguf_get_arr_type(g, i);
            const size_t n = gguf_get_arr_n(g, i);
            std::printf("[%s x %zu]", gguf_type_name(at), n);
            if (at == GGUF_TYPE_STRING)
                for (size_t k = 0; k < std::min<size_t>(n, 4); ++k) std::printf(" '%s'", gguf_get_arr_str(g, i, k));
            break;
        }
        default: std::printf("(...)"); break;
        }
        std::printf("\n");
    }
    std::printf("tensors: %lld\n", (long long)gguf_get_n_tensors(g));
    for (int64_t i = 0; i < gguf_get_n_tensors(g) && i < 16; ++i) {
        const int64_t *ne = gguf_get_tensor_ne(g, i);
        std::printf("  %s %s [%lld, %lld]\n", gguf_get_tensor_name(g, i), ggml_type_name(gguf_get_tensor_type(g, i)),
                    (long long)ne[0], (long long)ne[1]);
    }
    gguf_free(g);
}

struct TensorPlan {
    std::string name;
    int64_t ne0, ne1; // ne1 = 1 for vectors
    ggml_type type;
    enum class Init { Normal, Embed, Ones, Zeros, Words } init;
};

std::string default_vocab_dir() {
    if (const char *e = std::getenv("LLAMA_SRC")) return std::string(e) + "/models";
    const char *home = std::getenv("HOME");
    std::filesystem::path cache = std::filesystem::path(home ? home : "/root") / ".cache/parley";
    std::error_code ec;
    if (std::filesystem::is_directory(cache, ec))
        for (auto &d : std::filesystem::directory_iterator(cache, ec))
            if (std::filesystem::is_directory(d.path() / "src/models", ec)) return (d.path() / "src/models").string();
    return "models";
}

} // namespace

int main(int argc, char **argv) {
    std::string model, type = "q8_0", out, vocab_dir, output = "tied";
    uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + a);
            return argv[++i];
        };
        if (a == "--model") model = next();
        else if (a == "--type") type = next();
        else if (a == "--out") out = next();
        else if (a == "--vocab-dir") vocab_dir = next();
        else if (a == "--seed") seed = std::stoull(next());
        else if (a == "--output") output = next();
        else if (a == "--dump") {
            dump(next().c_str());
            return 0;
        } else if (a == "--list") {
            for (auto &s : specs())
                std::printf("%-14s %s (%s, %lld layers, n_embd %lld, vocab %s)\n", s.name, s.real, s.arch,
                            (long long)s.n_layer, (long long)s.n_embd, s.vocab);
            return 0;
        } else if (a == "-h" || a == "--help") {
            std::printf("usage: make_random_gguf --model NAME --out FILE [--type q8_0|f16|f32] [--vocab-dir DIR] "
                        "[--seed N] [--output tied|words]\n       make_random_gguf --list | --dump FILE\n");
            return 0;
        } else die("unknown argument '" + a + "'");
    }
    if (model.empty() || out.empty()) die("--model and --out are required (see --help)");
    const Spec *sp = nullptr;
    auto all = specs();
    for (auto &s : all)
        if (model == s.name) sp = &s;
    if (!sp) die("unknown model '" + model + "' (see --list)");
    const Spec &s = *sp;
    ggml_type wtype;
    if (type == "q8_0") wtype = GGML_TYPE_Q8_0;
    else if (type == "f16") wtype = GGML_TYPE_F16;
    else if (type == "f32") wtype = GGML_TYPE_F32;
    else die("--type must be q8_0, f16 or f32");
    if (output != "tied" && output != "words") die("--output must be tied or words");
    if (vocab_dir.empty()) vocab_dir = default_vocab_dir();
    const std::string vocab_path = vocab_dir + "/ggml-vocab-" + s.vocab + ".gguf";

    gguf_init_params ip{true, nullptr};
    gguf_context *src = gguf_init_from_file(vocab_path.c_str(), ip);
    if (!src) die("cannot read vocabulary '" + vocab_path + "'");

    gguf_context *g = gguf_init_empty();
    // Tokenizer: every tokenizer.* key of the vocabulary file.
    gguf_set_kv(g, src);
    for (int64_t i = gguf_get_n_kv(g) - 1; i >= 0; --i) {
        std::string key = gguf_get_key(g, i);
        if (key.rfind("tokenizer.", 0) != 0) gguf_remove_key(g, key.c_str());
    }
    // Tokens, padded to the real embedding size, with the real model's special tokens.
    std::vector<char> word_row(static_cast<size_t>(s.n_vocab), 0); // " word" tokens (byte-level BPE: 'Ġ' + a-z)
    {
        const int64_t kt = gguf_find_key(src, "tokenizer.ggml.tokens");
        if (kt < 0) die("no tokenizer.ggml.tokens in " + vocab_path);
        const size_t n_src = gguf_get_arr_n(src, kt);
        if (static_cast<int64_t>(n_src) > s.n_vocab) die("the vocabulary has more tokens than the model's embedding");
        std::vector<std::string> toks(static_cast<size_t>(s.n_vocab));
        for (size_t i = 0; i < n_src; ++i) toks[i] = gguf_get_arr_str(src, kt, i);
        for (size_t i = n_src; i < toks.size(); ++i) toks[i] = "[PAD" + std::to_string(i) + "]";
        std::vector<int32_t> ttype(toks.size(), 1); // NORMAL
        const int64_t ky = gguf_find_key(src, "tokenizer.ggml.token_type");
        if (ky >= 0) {
            auto *d = static_cast<const int32_t *>(gguf_get_arr_data(src, ky));
            for (size_t i = 0; i < gguf_get_arr_n(src, ky) && i < toks.size(); ++i) ttype[i] = d[i];
        }
        for (size_t i = n_src; i < toks.size(); ++i) ttype[i] = 4; // USER_DEFINED, as convert_hf_to_gguf pads
        for (auto &[id, text] : s.specials) {
            toks[static_cast<size_t>(id)] = text;
            ttype[static_cast<size_t>(id)] = 3; // CONTROL
        }
        for (size_t i = 0; i < toks.size(); ++i) {
            const std::string &t = toks[i];
            bool w = t.size() >= 4 && t.compare(0, 2, "\xC4\xA0") == 0 && ttype[i] == 1;
            for (size_t k = 2; w && k < t.size(); ++k) w = t[k] >= 'a' && t[k] <= 'z';
            word_row[i] = w ? 1 : 0;
        }
        std::vector<const char *> ptrs;
        for (auto &t : toks) ptrs.push_back(t.c_str());
        gguf_set_arr_str(g, "tokenizer.ggml.tokens", ptrs.data(), ptrs.size());
        gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, ttype.data(), ttype.size());
        const int64_t ks = gguf_find_key(src, "tokenizer.ggml.scores");
        if (ks >= 0) {
            std::vector<float> sc(toks.size(), 0.0f);
            auto *d = static_cast<const float *>(gguf_get_arr_data(src, ks));
            for (size_t i = 0; i < gguf_get_arr_n(src, ks) && i < sc.size(); ++i) sc[i] = d[i];
            gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, sc.data(), sc.size());
        }
    }
    gguf_set_val_str(g, "tokenizer.ggml.pre", s.pre);
    if (s.bos >= 0) gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", static_cast<uint32_t>(s.bos));
    gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", static_cast<uint32_t>(s.eos));
    gguf_set_val_u32(g, "tokenizer.ggml.padding_token_id", static_cast<uint32_t>(s.pad));
    gguf_set_val_bool(g, "tokenizer.ggml.add_bos_token", s.add_bos);
    gguf_set_val_str(g, "tokenizer.chat_template", s.chat_template);
    gguf_free(src);

    // Architecture.
    const std::string A = s.arch;
    gguf_set_val_str(g, "general.architecture", s.arch);
    gguf_set_val_str(g, "general.name", (std::string(s.real) + " (random weights, shape only)").c_str());
    gguf_set_val_u32(g, "general.file_type", wtype == GGML_TYPE_Q8_0 ? 7 : wtype == GGML_TYPE_F16 ? 1 : 0);
    gguf_set_val_u32(g, "general.quantization_version", 2);
    gguf_set_val_u32(g, (A + ".vocab_size").c_str(), static_cast<uint32_t>(s.n_vocab));
    gguf_set_val_u32(g, (A + ".context_length").c_str(), static_cast<uint32_t>(s.n_ctx_train));
    gguf_set_val_u32(g, (A + ".embedding_length").c_str(), static_cast<uint32_t>(s.n_embd));
    gguf_set_val_u32(g, (A + ".block_count").c_str(), static_cast<uint32_t>(s.n_layer));
    gguf_set_val_u32(g, (A + ".feed_forward_length").c_str(), static_cast<uint32_t>(s.n_ff));
    gguf_set_val_u32(g, (A + ".attention.head_count").c_str(), static_cast<uint32_t>(s.n_head));
    gguf_set_val_u32(g, (A + ".attention.head_count_kv").c_str(), static_cast<uint32_t>(s.n_head_kv));
    gguf_set_val_u32(g, (A + ".rope.dimension_count").c_str(), static_cast<uint32_t>(s.n_embd / s.n_head));
    gguf_set_val_f32(g, (A + ".rope.freq_base").c_str(), s.rope_base);
    gguf_set_val_f32(g, (A + ".attention.layer_norm_rms_epsilon").c_str(), s.rms_eps);

    // Tensors (llama.cpp names; ne0 = input dim, ne1 = output dim).
    const int64_t hd = s.n_embd / s.n_head, kv = hd * s.n_head_kv;
    std::vector<TensorPlan> plan;
    using I = TensorPlan::Init;
    // With --output words the input embeddings are large (std 1), so that the last token, not the
    // near-uniform average of random attention, dominates the final hidden state: the next word then
    // varies with the text instead of settling on the same few words for every prompt.
    plan.push_back({"token_embd.weight", s.n_embd, s.n_vocab, wtype, output == "words" ? I::Embed : I::Normal});
    for (int64_t l = 0; l < s.n_layer; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        plan.push_back({b + "attn_norm.weight", s.n_embd, 1, GGML_TYPE_F32, I::Ones});
        plan.push_back({b + "attn_q.weight", s.n_embd, s.n_embd, wtype, I::Normal});
        plan.push_back({b + "attn_k.weight", s.n_embd, kv, wtype, I::Normal});
        plan.push_back({b + "attn_v.weight", s.n_embd, kv, wtype, I::Normal});
        if (s.qkv_bias) {
            plan.push_back({b + "attn_q.bias", s.n_embd, 1, GGML_TYPE_F32, I::Zeros});
            plan.push_back({b + "attn_k.bias", kv, 1, GGML_TYPE_F32, I::Zeros});
            plan.push_back({b + "attn_v.bias", kv, 1, GGML_TYPE_F32, I::Zeros});
        }
        plan.push_back({b + "attn_output.weight", s.n_embd, s.n_embd, wtype, I::Normal});
        plan.push_back({b + "ffn_norm.weight", s.n_embd, 1, GGML_TYPE_F32, I::Ones});
        plan.push_back({b + "ffn_gate.weight", s.n_embd, s.n_ff, wtype, I::Normal});
        plan.push_back({b + "ffn_up.weight", s.n_embd, s.n_ff, wtype, I::Normal});
        plan.push_back({b + "ffn_down.weight", s.n_ff, s.n_embd, wtype, I::Normal});
    }
    plan.push_back({"output_norm.weight", s.n_embd, 1, GGML_TYPE_F32, I::Ones});
    if (output == "words") plan.push_back({"output.weight", s.n_embd, s.n_vocab, wtype, I::Words});

    // Tensor descriptors in a no_alloc context: gguf needs a ggml_tensor for name, type and shape.
    ggml_init_params cp{ggml_tensor_overhead() * (plan.size() + 8), nullptr, true};
    ggml_context *meta = ggml_init(cp);
    for (auto &t : plan) {
        ggml_tensor *x = t.ne1 == 1 ? ggml_new_tensor_1d(meta, t.type, t.ne0) : ggml_new_tensor_2d(meta, t.type, t.ne0, t.ne1);
        ggml_set_name(x, t.name.c_str());
        gguf_add_tensor(g, x);
    }

    FILE *f = std::fopen(out.c_str(), "wb");
    if (!f) die("cannot write '" + out + "'");
    std::vector<uint8_t> hdr(gguf_get_meta_size(g));
    gguf_get_meta_data(g, hdr.data());
    std::fwrite(hdr.data(), 1, hdr.size(), f);
    const size_t align = gguf_get_alignment(g);

    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::normal_distribution<float> ed(0.0f, 1.0f);
    // Output rows of word tokens: the final norm leaves |h| ~ sqrt(n_embd), so logits have std ~4: at
    // temperature 1 sampling spreads over many words (varied text), while the ~0 logits of all other
    // tokens (end of generation included) keep them at a negligible total probability.
    std::normal_distribution<float> wd(0.0f, 4.0f / std::sqrt(static_cast<float>(s.n_embd)));
    size_t written = 0;
    std::vector<float> row;
    std::vector<uint8_t> buf;
    for (size_t ti = 0; ti < plan.size(); ++ti) {
        const auto &t = plan[ti];
        const int64_t id = gguf_find_tensor(g, t.name.c_str());
        if (gguf_get_tensor_offset(g, id) != written) die("internal: tensor offset mismatch at " + t.name);
        // Generate in chunks of rows to keep memory small.
        const int64_t rows_per_chunk = std::max<int64_t>(1, (1 << 22) / t.ne0);
        for (int64_t r0 = 0; r0 < t.ne1; r0 += rows_per_chunk) {
            const int64_t nr = std::min(rows_per_chunk, t.ne1 - r0);
            row.resize(static_cast<size_t>(nr * t.ne0));
            if (t.init == I::Words) {
                for (int64_t r = 0; r < nr; ++r)
                    for (int64_t c = 0; c < t.ne0; ++c)
                        row[static_cast<size_t>(r * t.ne0 + c)] = word_row[static_cast<size_t>(r0 + r)] ? wd(rng) : 0.0f;
            } else {
                for (auto &v : row)
                    v = t.init == I::Normal ? nd(rng) : t.init == I::Embed ? ed(rng) : t.init == I::Ones ? 1.0f : 0.0f;
            }
            size_t bytes;
            if (t.type == GGML_TYPE_F32) {
                bytes = row.size() * 4;
                buf.resize(bytes);
                std::memcpy(buf.data(), row.data(), bytes);
            } else if (t.type == GGML_TYPE_F16) {
                bytes = row.size() * 2;
                buf.resize(bytes);
                ggml_fp32_to_fp16_row(row.data(), reinterpret_cast<ggml_fp16_t *>(buf.data()), static_cast<int64_t>(row.size()));
            } else {
                buf.resize(ggml_row_size(t.type, t.ne0) * static_cast<size_t>(nr));
                bytes = ggml_quantize_chunk(t.type, row.data(), buf.data(), 0, nr, t.ne0, nullptr);
            }
            std::fwrite(buf.data(), 1, bytes, f);
            written += bytes;
        }
        const size_t pad = (align - written % align) % align;
        static const uint8_t zeros[64] = {0};
        std::fwrite(zeros, 1, pad, f);
        written += pad;
    }
    if (std::fclose(f) != 0) die("write failed for '" + out + "'");
    std::printf("wrote %s: %s shape (%s), %zu tensors, %s weights, %.1f MiB\n", out.c_str(), s.real, s.arch, plan.size(),
                ggml_type_name(wtype), (hdr.size() + written) / 1048576.0);
    ggml_free(meta);
    gguf_free(g);
    return 0;
}
