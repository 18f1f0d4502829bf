// kv_probe: what idle resident sequences cost the running ones in a llama.cpp context.
//
// The llama_cpp engine keeps every (conversation, agent) history resident in ONE unified KV cache
// (kv_unified = true), so a context serving N conversations holds ~2N idle histories besides the N
// sequences being decoded. llama.cpp's attention then spans every used cell (n_kv = highest used
// cell), masking the other sequences' cells, so each decoded or prefilled token pays for cells it
// cannot see. This program measures it directly, back to back in one process:
//   - `idle` resident sequences of `idle_len` tokens are prefilled first (they stay untouched),
//   - then `active` sequences each prefill `depth` tokens and decode `gen` tokens together.
// For each configuration it reports the active sequences' prefill and decode speeds.
//
//   kv_probe MODEL [--active 16] [--idle 32] [--idle-len 640] [--depth 400] [--gen 64] [--threads 1]
#include <llama.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

static void quiet(ggml_log_level level, const char *text, void *) {
    if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

// CPU seconds of this process: with one thread nothing spins, so CPU time measures the work
// itself even on a machine shared with other jobs (wall time is reported too).
static double cpu_s() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Result {
    double prefill_tps, decode_tps;         // per wall second
    double prefill_cpu_tps, decode_cpu_tps; // per CPU second
    int n_kv_cells;
};

static Result probe(llama_model *model, bool unified, int active, int idle, int idle_len, int depth, int gen, int threads) {
    const int n_seq = active + idle;
    // Unified: one pool sized for everything. Split: n_seq streams of equal size.
    const int per_seq = ((std::max(idle_len, depth + gen) + 64 + 255) / 256) * 256;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(per_seq * n_seq);
    cp.n_batch = 2048;
    cp.n_ubatch = 512;
    cp.n_seq_max = (uint32_t)n_seq;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.kv_unified = unified;
    cp.no_perf = true;
    llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        std::fprintf(stderr, "kv_probe: cannot create context\n");
        std::exit(1);
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    std::mt19937 rng(7);
    llama_batch batch = llama_batch_init(2048, 0, 1);
    auto add = [&](llama_token t, int pos, int seq, bool logits) {
        int i = batch.n_tokens++;
        batch.token[i] = t;
        batch.pos[i] = pos;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = seq;
        batch.logits[i] = logits;
    };
    auto flush = [&] {
        if (batch.n_tokens && llama_decode(ctx, batch) != 0) {
            std::fprintf(stderr, "kv_probe: llama_decode failed\n");
            std::exit(1);
        }
        batch.n_tokens = 0;
    };
    // Idle residents (sequences active..n_seq-1): prefilled once, never touched again.
    for (int s = active; s < n_seq; ++s)
        for (int p = 0; p < idle_len; ++p) {
            add((llama_token)(rng() % n_vocab), p, s, false);
            if (batch.n_tokens == 2048) flush();
        }
    flush();
    // Active sequences: prefill `depth` tokens each (timed), then decode `gen` steps (timed).
    auto t0 = Clock::now();
    double c0 = cpu_s();
    for (int s = 0; s < active; ++s)
        for (int p = 0; p < depth; ++p) {
            add((llama_token)(rng() % n_vocab), p, s, p == depth - 1);
            if (batch.n_tokens == 2048) flush();
        }
    flush();
    const double t_pp = std::chrono::duration<double>(Clock::now() - t0).count();
    const double c_pp = cpu_s() - c0;
    t0 = Clock::now();
    c0 = cpu_s();
    for (int g = 0; g < gen; ++g) {
        for (int s = 0; s < active; ++s) add((llama_token)(rng() % n_vocab), depth + g, s, true);
        flush();
    }
    const double t_tg = std::chrono::duration<double>(Clock::now() - t0).count();
    const double c_tg = cpu_s() - c0;
    llama_batch_free(batch);
    llama_free(ctx);
    return {active * depth / t_pp, active * gen / t_tg, active * depth / c_pp, active * gen / c_tg, per_seq * n_seq};
}

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: kv_probe MODEL [--active N] [--idle N] [--idle-len L] [--depth D] [--gen G] [--threads T]\n");
        return 1;
    }
    int active = 16, idle = 32, idle_len = 640, depth = 400, gen = 64, threads = 1;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        int v = std::atoi(argv[i + 1]);
        if (k == "--active") active = v;
        else if (k == "--idle") idle = v;
        else if (k == "--idle-len") idle_len = v;
        else if (k == "--depth") depth = v;
        else if (k == "--gen") gen = v;
        else if (k == "--threads") threads = v;
    }
    llama_log_set(&quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) return 1;
    struct Case {
        const char *name;
        bool unified;
        int idle;
    } cases[] = {{"unified, no idle residents", true, 0},
                 {"unified, idle residents", true, idle},
                 {"split streams, idle residents", false, idle}};
    std::printf("{\"active\": %d, \"idle\": %d, \"idle_len\": %d, \"depth\": %d, \"gen\": %d, \"cases\": [", active, idle,
                idle_len, depth, gen);
    bool first = true;
    for (auto &c : cases) {
        Result r = probe(model, c.unified, active, c.idle, idle_len, depth, gen, threads);
        std::printf("%s\n  {\"case\": \"%s\", \"kv_unified\": %s, \"idle\": %d, \"n_ctx\": %d, \"prefill_tok_per_s\": %.1f, "
                    "\"decode_tok_per_s\": %.1f, \"prefill_tok_per_cpu_s\": %.1f, \"decode_tok_per_cpu_s\": %.1f}",
                    first ? "" : ",", c.name, c.unified ? "true" : "false", c.idle, r.n_kv_cells, r.prefill_tps, r.decode_tps, r.prefill_cpu_tps, r.decode_cpu_tps);
        std::fflush(stdout);
        first = false;
    }
    std::printf("\n]}\n");
    llama_model_free(model);
    return 0;
}
