// make_arith_model: the arithmetic base model (bench/learns/make_base_model.sh runs it).
//
//   make_arith_model init --vocab VOCAB.json --out MODEL.gguf [--seed N] [--n-embd D] [--n-layer L]
//                         [--n-head H] [--n-ff F]
//       A llama-architecture GGUF with random weights (the trainer's write_synthetic_gguf) and a
//       small SentencePiece-style vocabulary built from VOCAB.json (`parley-arith-data vocab`:
//       {"text", "phrases"}): <unk>, <s>, </s>, the chat markers <|im_start|>/<|im_end|> (control
//       tokens; <|im_end|> ends a turn), the 256 byte tokens, every printable ASCII character with
//       and without a leading "▁", every prefix of every word of the text (with and without "▁") and
//       of every phrase. llama.cpp's SPM tokenizer merges adjacent pieces whenever the merged piece
//       is in the vocabulary, so with every prefix present a word or a phrase becomes one token
//       (a digit stays one token). A ChatML template sits in tokenizer.chat_template.
//   make_arith_model train --model BASE.gguf --data ROWS.jsonl --out-dir DIR [--steps N] [--lr X]
//                          [--batch B] [--threads T] [--seed N] [--warmup N]
//       SFT with the trainer plugin's training code (run_training, the code behind trainer/train);
//       prints the summary JSON.
//   make_arith_model tokens --model MODEL.gguf --text TEXT   the token count and pieces of TEXT
#include "gguf_io.hpp"
#include "tokenizer.hpp"
#include "trainer.hpp"

#include <parley/sdk.hpp>

#include <nlohmann/json.hpp>

#include <ggml.h>
#include <gguf.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace parley::training;

namespace {

const char *kChatTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const std::string kSpace = "\xE2\x96\x81"; // U+2581, SentencePiece's space

[[noreturn]] void die(const std::string &m) {
    std::fprintf(stderr, "make_arith_model: %s\n", m.c_str());
    std::exit(1);
}

std::string read_all(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) die("cannot read '" + path + "'");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Token texts in id order, and their types (llama.cpp: 1 normal, 2 unknown, 3 control, 6 byte).
void build_vocab(const std::string &corpus, const std::vector<std::string> &phrases, std::vector<std::string> &toks,
                 std::vector<int32_t> &types) {
    auto add = [&](const std::string &t, int32_t type) {
        toks.push_back(t);
        types.push_back(type);
    };
    add("<unk>", 2);
    add("<s>", 3);
    add("</s>", 3);
    add("<|im_start|>", 3);
    add("<|im_end|>", 3);
    char hex[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        add(hex, 6);
    }
    std::set<std::string> seen;
    auto piece = [&](const std::string &t) {
        if (seen.insert(t).second) add(t, 1);
    };
    piece(kSpace);
    for (char c = 33; c < 127; ++c) {
        piece(std::string(1, c));
        piece(kSpace + std::string(1, c));
    }
    std::set<std::string> words;
    std::string w;
    for (char c : corpus + " ") {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) w += c;
        else if (!w.empty()) {
            words.insert(w);
            w.clear();
        }
    }
    for (const std::string &word : words)
        for (size_t n = 2; n <= word.size(); ++n) {
            piece(word.substr(0, n));
            piece(kSpace + word.substr(0, n));
        }
    for (const std::string &ph : phrases) { // ASCII; spaces as "▁" (a phrase after a space starts with one)
        std::string prefix;
        for (char c : ph) {
            prefix += c == ' ' ? kSpace : std::string(1, c);
            piece(prefix);
        }
    }
}

void write_vocab_gguf(const std::string &vocab_json, const std::string &out) {
    std::vector<std::string> toks;
    std::vector<int32_t> types;
    const nlohmann::json v = nlohmann::json::parse(read_all(vocab_json));
    build_vocab(v.at("text").get<std::string>(), v.at("phrases").get<std::vector<std::string>>(), toks, types);
    std::vector<float> scores(toks.size(), 0.0f);
    for (size_t i = 0; i < toks.size(); ++i)
        if (types[i] == 1) scores[i] = static_cast<float>(toks[i].size()); // longer pieces merge first
    gguf_context *g = gguf_init_empty();
    std::vector<const char *> ptrs;
    for (auto &t : toks) ptrs.push_back(t.c_str());
    gguf_set_val_str(g, "tokenizer.ggml.model", "llama");
    gguf_set_val_str(g, "tokenizer.ggml.pre", "default");
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", ptrs.data(), ptrs.size());
    gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores.data(), scores.size());
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types.data(), types.size());
    gguf_set_val_u32(g, "tokenizer.ggml.unknown_token_id", 0);
    gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", 1);
    gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", 4); // <|im_end|>: generation stops at the end of a turn
    gguf_set_val_u32(g, "tokenizer.ggml.eot_token_id", 4);
    gguf_set_val_u32(g, "tokenizer.ggml.padding_token_id", 0);
    gguf_set_val_bool(g, "tokenizer.ggml.add_bos_token", true);
    gguf_set_val_bool(g, "tokenizer.ggml.add_eos_token", false);
    gguf_set_val_bool(g, "tokenizer.ggml.add_space_prefix", false);
    gguf_set_val_str(g, "tokenizer.chat_template", kChatTemplate);
    if (!gguf_write_to_file(g, out.c_str(), false)) die("cannot write '" + out + "'");
    gguf_free(g);
    std::printf("vocabulary: %zu tokens\n", toks.size());
}

std::map<std::string, std::string> options(int argc, char **argv) {
    std::map<std::string, std::string> o;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || i + 1 >= argc) die("expected --key value, got '" + a + "'");
        o[a.substr(2)] = argv[++i];
    }
    return o;
}

std::string need(std::map<std::string, std::string> &o, const char *k) {
    if (!o.count(k)) die(std::string("--") + k + " is required");
    return o[k];
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) die("usage: make_arith_model init|train|tokens --key value ... (see the top of make_arith_model.cpp)");
    const std::string cmd = argv[1];
    auto o = options(argc, argv);
    // A host table with a log only (the trainer's code logs its progress through the SDK).
    static parley_host_api host{};
    host.struct_size = sizeof host;
    host.abi_major = PARLEY_ABI_MAJOR;
    host.abi_minor = PARLEY_ABI_MINOR;
    host.log = [](void *, int32_t, const char *component, const char *message) {
        std::fprintf(stderr, "[%s] %s\n", component, message);
    };
    parley::detail::host_slot() = &host;
    auto num = [&](const char *k, double d) { return o.count(k) ? std::stod(o[k]) : d; };
    try {
        if (cmd == "init") {
            const std::string out = need(o, "out");
            const std::string vocab = out + ".vocab.gguf";
            write_vocab_gguf(need(o, "vocab"), vocab);
            SyntheticSpec s;
            s.arch = "llama";
            s.n_embd = static_cast<int>(num("n-embd", 128));
            s.n_layer = static_cast<int>(num("n-layer", 4));
            s.n_head = static_cast<int>(num("n-head", 4));
            s.n_head_kv = s.n_head;
            s.n_ff = static_cast<int>(num("n-ff", 384));
            s.seed = static_cast<uint64_t>(num("seed", 1));
            s.type = GGML_TYPE_F32;
            write_synthetic_gguf(out, vocab, s);
            fs::remove(vocab);
            std::printf("wrote %s (%.2f MiB)\n", out.c_str(), fs::file_size(out) / 1048576.0);
        } else if (cmd == "train") {
            TrainOptions t;
            t.model = need(o, "model");
            t.method = Method::Sft;
            t.lr = num("lr", 2e-3);
            t.steps = static_cast<int64_t>(num("steps", 600));
            t.warmup_steps = static_cast<int64_t>(num("warmup", 30));
            t.batch_size = static_cast<int>(num("batch", 16));
            t.threads = static_cast<int>(num("threads", 2));
            t.seed = static_cast<uint64_t>(num("seed", 1));
            t.weight_decay = 0.0;
            t.final_lr_scale = 0.05;
            t.max_seq_len = 1024;
            t.checkpoint_every = 0;
            t.log_every = 25;
            t.device = "cpu";
            std::printf("%s\n", run_training(t, need(o, "data"), need(o, "out-dir")).to_json().c_str());
        } else if (cmd == "tokens") {
            Tokenizer tok(need(o, "model"));
            auto ids = tok.tokenize(need(o, "text"), false, true);
            std::printf("%zu tokens:", ids.size());
            for (int32_t id : ids) std::printf(" [%s]", tok.detokenize({id}, true).c_str());
            std::printf("\n");
        } else {
            die("unknown command '" + cmd + "'");
        }
    } catch (const std::exception &e) {
        die(e.what());
    }
    return 0;
}
