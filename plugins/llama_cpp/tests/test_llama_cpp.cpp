// Tests of the llama.cpp engine (directly) and of libparley-llama_cpp.so (through the C ABI),
// on the tiny models in shared/models. Threads are kept at 2.
#include "engine.hpp"
#include "reasoning.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <gguf.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <mutex>
#include <thread>

using parley::Completion;
using parley::Request;
using parley::llama_cpp::Engine;
using parley::llama_cpp::EngineOptions;

namespace {

const char *kGolden = ", there was a little girl named Lily. She loved to play outside in the park.";

std::string shared_dir() {
    if (const char *env = std::getenv("PARLEY_SHARED_DIR"); env && *env) return env;
    return PARLEY_SHARED_DIR;
}
std::string stories() { return shared_dir() + "/models/stories260K.gguf"; }
std::string tiny_llama2() { return shared_dir() + "/models/llama-2-tiny-random.gguf"; }

EngineOptions opts(std::string model = stories(), int n_ctx = 2048, int n_parallel = 16) {
    EngineOptions o;
    o.model = std::move(model);
    o.n_ctx = n_ctx;
    o.kv_unified = true; // these tests size n_ctx for one shared buffer (see the kv_unified=false case below)
    o.n_parallel = n_parallel;
    o.threads = 2;
    return o;
}

Request raw(std::string prompt, int max_tokens, double temperature = 0.0) {
    Request r;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.temperature = temperature;
    return r;
}

// Collects completions and counts callbacks per request.
struct Pending {
    std::shared_ptr<std::promise<Completion>> promise = std::make_shared<std::promise<Completion>>();
    std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
    std::future<Completion> future = promise->get_future();
    uint64_t id = 0;

    Completion get() {
        REQUIRE(future.wait_for(std::chrono::seconds(120)) == std::future_status::ready);
        return future.get();
    }
};

Pending submit(Engine &e, Request r) {
    Pending p;
    auto promise = p.promise;
    auto calls = p.calls;
    p.id = e.submit(std::move(r), [promise, calls](Completion &&c) {
        if (calls->fetch_add(1) == 0) promise->set_value(std::move(c));
    });
    return p;
}

Completion run(Engine &e, Request r) { return submit(e, std::move(r)).get(); }

std::string text_of(const Completion &c, size_t i = 0) {
    REQUIRE(c.status == PARLEY_OK);
    REQUIRE(c.choices.size() > i);
    return c.choices[i].text;
}

bool valid_utf8(const std::string &s) {
    size_t i = 0;
    while (i < s.size()) {
        auto b = static_cast<unsigned char>(s[i]);
        int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        for (int k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += len;
    }
    return true;
}

} // namespace

TEST_CASE("greedy raw prompt gives the golden stories260K text", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts());
    CHECK(e.threads() == 2);
    auto c = run(e, raw("Once upon a time", 40));
    const std::string t = text_of(c);
    INFO(t);
    CHECK(t.rfind(kGolden, 0) == 0);
    CHECK(c.prompt_tokens == 5);
    CHECK(c.cached_tokens == 0);
    CHECK(c.completion_tokens == 40);
    CHECK(c.choices[0].finish_reason == PARLEY_FINISH_LENGTH);
    CHECK(c.total_s >= c.queue_s);
    CHECK(c.prefill_s >= 0);
}

TEST_CASE("greedy text is the same alone and batched with 15 other requests", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts());
    const std::string alone = text_of(run(e, raw("Once upon a time", 40)));

    const char *others[] = {"The cat", "Tom had a", "One day, a bird", "Lily saw a big", "The sun was",
                            "A little boy", "Mom said", "The dog ran", "Sue liked to", "There was a tree",
                            "Ben and Anna", "The red ball", "In the park", "A frog jumped", "The old man"};
    std::vector<Pending> batch;
    batch.push_back(submit(e, raw("Once upon a time", 40)));
    for (const char *p : others) batch.push_back(submit(e, raw(p, 40 + static_cast<int>(std::strlen(p)))));
    std::vector<Completion> out;
    for (auto &p : batch) out.push_back(p.get());
    CHECK(text_of(out[0]) == alone);
    for (auto &c : out) CHECK(c.status == PARLEY_OK);
    CHECK(e.stats().max_batch_seqs > 1); // they really were decoded together

    // And each of the others is the same as alone.
    for (size_t i = 0; i < 3; ++i) {
        const char *p = others[i];
        CHECK(text_of(run(e, raw(p, 40 + static_cast<int>(std::strlen(p))))) == text_of(out[i + 1]));
    }
}

TEST_CASE("long prompts are prefilled in chunks beside running decodes", "[llama]") {
    parley::testing::TestHost host;
    const std::string p = std::string("Once upon a time") + kGolden; // ~25 tokens
    Engine ref(opts());
    const std::string want_long = text_of(run(ref, raw(p, 30)));
    const std::string want_short = text_of(run(ref, raw("The cat", 60)));

    EngineOptions o = opts(stories(), 2048, 4);
    o.n_batch = 4; // 1 decode token + 3 prompt tokens per step
    o.n_ubatch = 4;
    Engine e(o);
    auto a = submit(e, raw("The cat", 60));
    auto b = submit(e, raw(p, 30));
    CHECK(text_of(a.get()) == want_short);
    auto cb = b.get();
    CHECK(text_of(cb) == want_long);
    CHECK(cb.prompt_tokens > 20);
    CHECK(e.stats().max_batch_seqs == 2); // prefill chunks rode along with the decode token
}

TEST_CASE("a later turn of the same conversation and agent reuses its prefix", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts());
    Request t1 = raw("Once upon a time", 20);
    t1.conversation = 7;
    t1.agent = 1;
    auto c1 = run(e, t1);
    const std::string a1 = text_of(c1);
    CHECK(c1.cached_tokens == 0);

    const auto resident = e.resident_tokens(7, 1);
    CHECK(resident.size() == 5 + 20 - 1); // prompt + the answer's tokens but its last (never decoded)

    const std::string p2 = "Once upon a time" + a1 + " Then she went home. The next day";
    const auto toks2 = e.tokenize(p2);
    size_t lcp = 0;
    while (lcp < resident.size() && lcp < toks2.size() - 1 && resident[lcp] == toks2[lcp]) ++lcp;

    Request t2 = raw(p2, 20);
    t2.conversation = 7;
    t2.agent = 1;
    auto c2 = run(e, t2);
    CHECK(c2.prompt_tokens == static_cast<int64_t>(toks2.size()));
    CHECK(c2.cached_tokens > 5);
    CHECK(c2.cached_tokens == static_cast<int64_t>(lcp));

    // Same text as computing the whole prompt from scratch.
    CHECK(text_of(c2) == text_of(run(e, raw(p2, 20))));

    // Another agent of the same conversation starts from the prefix the first agent holds (in
    // Coral: the shared system prompt and task) and says what a from-scratch prompt says.
    Request other = raw(p2, 5);
    other.conversation = 7;
    other.agent = 2;
    auto co = run(e, other);
    CHECK(co.cached_tokens == static_cast<int64_t>(toks2.size()) - 1);
    CHECK(text_of(co) == text_of(run(e, raw(p2, 5))));

    // Another conversation shares nothing.
    Request stranger = raw(p2, 5);
    stranger.conversation = 8;
    stranger.agent = 1;
    CHECK(run(e, stranger).cached_tokens == 0);

    // The first agent's sequence is still resident and grew with turn 2.
    CHECK(e.resident_tokens(7, 1).size() > resident.size());
}

TEST_CASE("resident sequences are evicted least recently used first", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts(stories(), 2048, 2));
    for (uint64_t conv = 1; conv <= 3; ++conv) {
        Request r = raw("Once upon a time", 10);
        r.conversation = conv;
        CHECK(run(e, r).status == PARLEY_OK);
    }
    CHECK(e.resident_tokens(1, 0).empty()); // evicted for conversation 3
    CHECK(!e.resident_tokens(2, 0).empty());
    CHECK(!e.resident_tokens(3, 0).empty());
    CHECK(e.stats().evictions >= 1);
}

TEST_CASE("cancel fires the callback once with PARLEY_ERR_CANCELLED", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts(stories(), 2048, 1));
    auto running = submit(e, raw("Once upon a time", 1500, 1.0));
    auto queued = submit(e, raw("The cat", 1500));
    CHECK(e.cancel(queued.id));
    CHECK(e.cancel(running.id));
    auto cq = queued.get();
    auto cr = running.get();
    CHECK(cq.status == PARLEY_ERR_CANCELLED);
    CHECK(cr.status == PARLEY_ERR_CANCELLED);
    CHECK_FALSE(cr.error.empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(queued.calls->load() == 1);
    CHECK(running.calls->load() == 1);
    CHECK_FALSE(e.cancel(queued.id)); // delivered: unknown now
    CHECK_FALSE(e.cancel(987654));
    // The engine still works.
    CHECK(text_of(run(e, raw("Once upon a time", 40))).rfind(kGolden, 0) == 0);
}

TEST_CASE("destroying the engine cancels what is outstanding", "[llama]") {
    parley::testing::TestHost host;
    std::vector<Pending> ps;
    {
        Engine e(opts(stories(), 2048, 2));
        for (int i = 0; i < 6; ++i) ps.push_back(submit(e, raw("Once upon a time", 1000, 1.0)));
    }
    for (auto &p : ps) {
        auto c = p.get();
        CHECK((c.status == PARLEY_ERR_CANCELLED || c.status == PARLEY_OK));
        CHECK(p.calls->load() == 1);
    }
}

TEST_CASE("a deadline abandons a request with PARLEY_ERR_UNAVAILABLE", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts(stories(), 2048, 1));
    auto busy = submit(e, raw("Once upon a time", 1500, 1.0));
    Request late = raw("The cat", 10);
    late.deadline_s = 0.001;
    auto c = submit(e, late).get();
    CHECK(c.status == PARLEY_ERR_UNAVAILABLE);
    e.cancel(busy.id);
    busy.get();
}

TEST_CASE("load() reports queued and running requests and busy KV cells", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts(stories(), 4096, 2));
    auto idle = e.load();
    CHECK(idle.queued == 0);
    CHECK(idle.running == 0);
    CHECK(idle.kv_used == 0);
    CHECK(idle.kv_capacity == 4096);

    // Five long requests on two sequence slots: two run, three wait.
    std::vector<Pending> ps;
    for (int i = 0; i < 5; ++i) {
        Request r = raw("Once upon a time", 1500, 1.0);
        r.seed = 100 + i;
        r.conversation = 10 + i; // keyed: their histories stay resident afterwards
        ps.push_back(submit(e, r));
    }
    auto now = e.load();
    CHECK(now.queued + now.running == 5); // none can have finished yet
    CHECK(now.running <= 2);

    bool seen = false;
    parley::BackendLoad at;
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20); !seen && std::chrono::steady_clock::now() < until;) {
        at = e.load();
        seen = at.running == 2 && at.queued == 3 && at.kv_used > 0;
        if (!seen) std::this_thread::yield();
    }
    INFO("queued " << at.queued << ", running " << at.running << ", kv_used " << at.kv_used);
    CHECK(seen);
    CHECK(at.kv_used <= at.kv_capacity);

    // Cancelling the waiting ones empties the queue (one may have started if a story ended early).
    for (int i = 2; i < 5; ++i) e.cancel(ps[static_cast<size_t>(i)].id);
    for (int i = 2; i < 5; ++i) {
        const parley_status st = ps[static_cast<size_t>(i)].get().status;
        CHECK((st == PARLEY_ERR_CANCELLED || st == PARLEY_OK));
    }
    auto after_cancel = e.load();
    CHECK(after_cancel.queued == 0);
    CHECK(after_cancel.running <= 2);

    for (int i = 0; i < 2; ++i) e.cancel(ps[static_cast<size_t>(i)].id);
    for (int i = 0; i < 2; ++i) ps[static_cast<size_t>(i)].get();
    // All delivered: nothing queued or running, and idle resident histories hold no counted cells.
    auto done = e.load();
    CHECK(done.queued == 0);
    CHECK(done.running == 0);
    CHECK(done.kv_used == 0);
    CHECK_FALSE(e.resident_tokens(10, 0).empty());
}

TEST_CASE("stop strings cut the text", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts());
    Request r = raw("Once upon a time", 40);
    r.stop = {"Lily"};
    auto c = run(e, r);
    CHECK(text_of(c) == ", there was a little girl named ");
    CHECK(c.choices[0].finish_reason == PARLEY_FINISH_STOP);

    r.stop = {"park.", "little girl"}; // spans tokens; the earliest match wins
    c = run(e, r);
    CHECK(text_of(c) == ", there was a ");
    CHECK(c.choices[0].finish_reason == PARLEY_FINISH_STOP);

    r.stop = {"never appears in the text"};
    c = run(e, r);
    CHECK(text_of(c).rfind(kGolden, 0) == 0);
    CHECK(c.choices[0].finish_reason == PARLEY_FINISH_LENGTH);
}

TEST_CASE("streaming: pieces arrive before the completion and concatenate to its text, never into a stop string", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts());
    struct Stream {
        std::mutex mu;
        std::vector<std::vector<std::string>> pieces = std::vector<std::vector<std::string>>(3);
        bool done = false, piece_after_done = false;
    };
    auto streamed = [&](Request r) {
        auto st = std::make_shared<Stream>();
        r.on_delta = [st](uint32_t index, std::string_view text) {
            std::lock_guard<std::mutex> lock(st->mu);
            REQUIRE(index < 3);
            if (st->done) st->piece_after_done = true;
            st->pieces[index].emplace_back(text);
        };
        Pending p;
        auto promise = p.promise;
        p.id = e.submit(std::move(r), [promise, st](Completion &&c) {
            std::lock_guard<std::mutex> lock(st->mu);
            st->done = true;
            promise->set_value(std::move(c));
        });
        Completion c = p.get();
        std::lock_guard<std::mutex> lock(st->mu);
        CHECK_FALSE(st->piece_after_done);
        return std::make_pair(std::move(c), st->pieces);
    };
    auto joined = [](const std::vector<std::string> &v) {
        std::string s;
        for (auto &x : v) s += x;
        return s;
    };

    auto [c, pieces] = streamed(raw("Once upon a time", 40));
    CHECK(text_of(c).rfind(kGolden, 0) == 0);
    CHECK(joined(pieces[0]) == text_of(c));
    CHECK(pieces[0].size() >= 10); // token by token, not one piece at the end
    for (auto &p : pieces[0]) CHECK_FALSE(p.empty());

    Request r = raw("Once upon a time", 40);
    r.stop = {"park.", "little girl"}; // the text is cut before "little girl": no piece may hold part of it
    auto [cs, ps] = streamed(r);
    CHECK(text_of(cs) == ", there was a ");
    CHECK(joined(ps[0]) == ", there was a ");

    Request n3 = raw("Once upon a time", 20, 1.0);
    n3.n = 3;
    n3.seed = 7;
    auto [cn, pn] = streamed(n3);
    REQUIRE(cn.choices.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(joined(pn[i]) == cn.choices[i].text);
}

TEST_CASE("reasoning: a think block is split off the text by the template's markers, streaming only the answer", "[llama][reasoning]") {
    parley::testing::TestHost host;
    // stories260K's golden continuation of "Once upon a time" read as a reasoning model's reply:
    // the prompt opens the block ("time"), " little" closes it.
    EngineOptions o = opts();
    o.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}";
    o.reasoning_markers = "time| little";
    Engine e(o);
    Request r;
    r.messages = {{"user", "Once upon a time"}};
    r.max_tokens = 40;
    std::string streamed;
    r.on_delta = [&streamed](uint32_t, std::string_view t) { streamed += t; }; // (callbacks are serial per request)
    Completion c = run(e, r);
    REQUIRE(c.status == PARLEY_OK);
    CHECK(c.choices[0].reasoning == ", there was a");
    CHECK(c.choices[0].text.rfind("girl named Lily.", 0) == 0);
    CHECK(streamed == c.choices[0].text); // the reasoning never streams
    CHECK(c.reasoning_tokens > 0);
    CHECK(c.reasoning_tokens < c.completion_tokens);

    // "none": the whole continuation is the text, no reasoning counted.
    o.reasoning_markers = "none";
    Engine plain(o);
    r.on_delta = nullptr;
    Completion p = run(plain, r);
    CHECK(text_of(p).rfind(kGolden, 0) == 0);
    CHECK(p.choices[0].reasoning.empty());
    CHECK(p.reasoning_tokens == 0);

    // "auto" takes <think>…</think> from a template that uses them; a generation prompt that
    // opens the block and a reply that never closes it: all reasoning, no answer.
    o.reasoning_markers = "auto";
    o.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}{% if false %}</think>{% endif %}<think>\n";
    Engine thinking(o);
    Completion t = run(thinking, r);
    REQUIRE(t.status == PARLEY_OK);
    CHECK(t.choices[0].text.empty());
    CHECK_FALSE(t.choices[0].reasoning.empty());
    CHECK(t.reasoning_tokens == t.completion_tokens);

    // A raw prompt is never split.
    Completion rawc = run(thinking, raw("Once upon a time", 8));
    CHECK_FALSE(text_of(rawc).empty());
    CHECK(rawc.reasoning_tokens == 0);

    o.reasoning_markers = "<think>";
    CHECK_THROWS_WITH(Engine(o), Catch::Contains("reasoning_markers"));
}

TEST_CASE("reasoning: answer_start decides only when the text allows it", "[llama][reasoning]") {
    using namespace parley::llama_cpp;
    const ReasoningMarkers think{"<think>", "</think>"};
    CHECK(markers_in_template("{{ '<think>' }}...{{ '</think>' }}").close == "</think>");
    CHECK_FALSE(markers_in_template("<|im_start|>assistant").active());
    CHECK(answer_start("<think>a</think>\n\nB", think, false, false) == size_t{18});
    CHECK(reasoning_before("<think> a </think>\n\nB", 20, think) == "a");
    CHECK_FALSE(answer_start("<think>a</think>\n", think, false, false)); // the answer's first character not yet seen
    CHECK_FALSE(answer_start("<thi", think, false, false));               // may still open a block
    CHECK(answer_start("<thi", think, false, true) == size_t{0});
    CHECK(answer_start("The answer", think, false, false) == size_t{0});
    CHECK_FALSE(answer_start("step 1", think, true, false));              // the prompt opened it
    CHECK(answer_start("step 1", think, true, true) == size_t{6});        // never closed: all reasoning
    CHECK(prompt_opens_block("<|im_start|>assistant\n<think>\n", think));
    CHECK_FALSE(prompt_opens_block("<|im_start|>assistant\n<think>\n\n</think>\n\n", think)); // Qwen3, enable_thinking false
}

TEST_CASE("n samples share the prompt and seeds make them reproducible", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts());
    auto sample = [&](uint64_t seed, int n) {
        Request r = raw("Once upon a time", 30, 1.0);
        r.n = n;
        r.seed = seed;
        return run(e, r);
    };
    auto a = sample(42, 3);
    REQUIRE(a.status == PARLEY_OK);
    REQUIRE(a.choices.size() == 3);
    CHECK(a.prompt_tokens == 5);
    int64_t sum = 0;
    for (auto &ch : a.choices) sum += ch.completion_tokens;
    CHECK(a.completion_tokens == sum);
    CHECK((a.choices[0].text != a.choices[1].text || a.choices[1].text != a.choices[2].text));

    auto b = sample(42, 3);
    for (size_t i = 0; i < 3; ++i) CHECK(b.choices[i].text == a.choices[i].text);

    auto d = sample(4242, 3);
    CHECK((d.choices[0].text != a.choices[0].text || d.choices[1].text != a.choices[1].text ||
           d.choices[2].text != a.choices[2].text));

    // Sample i is seeded seed + i.
    CHECK(text_of(sample(43, 1)) == a.choices[1].text);
}

TEST_CASE("a missing or unusable model file throws with the path", "[llama]") {
    parley::testing::TestHost host;
    const std::string missing = shared_dir() + "/models/no-such-model.gguf";
    try {
        Engine e(opts(missing));
        FAIL("no exception");
    } catch (const parley::Error &err) {
        CHECK(err.code() == PARLEY_ERR_NOT_FOUND);
        CHECK(std::string(err.what()).find(missing) != std::string::npos);
    }
    const std::string not_gguf = shared_dir() + "/models/README.md";
    try {
        Engine e(opts(not_gguf));
        FAIL("no exception");
    } catch (const parley::Error &err) {
        CHECK(err.code() == PARLEY_ERR_UNSUPPORTED);
        CHECK(std::string(err.what()).find(not_gguf) != std::string::npos);
    }
}

TEST_CASE("context overflow fails only that request", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts(stories(), 256, 4));
    auto ok = submit(e, raw("Once upon a time", 40));
    auto bad = submit(e, raw("Once upon a time", static_cast<int>(e.context_size())));
    auto cb = bad.get();
    CHECK(cb.status == PARLEY_ERR_CONTEXT_OVERFLOW);
    CHECK(cb.error.find("context") != std::string::npos);
    CHECK(text_of(ok.get()).rfind(kGolden, 0) == 0);
}

TEST_CASE("a full KV cache preempts the newest request and results stay the same", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts(stories(), 256, 4));
    const int max_tokens = static_cast<int>(e.context_size()) - 16;
    const char *prompts[] = {"Once upon a time", "The cat", "Tom had a", "Lily saw a big"};
    std::vector<std::string> alone;
    for (const char *p : prompts) alone.push_back(text_of(run(e, raw(p, max_tokens))));
    std::vector<Pending> ps;
    for (const char *p : prompts) ps.push_back(submit(e, raw(p, max_tokens)));
    for (size_t i = 0; i < ps.size(); ++i) CHECK(text_of(ps[i].get()) == alone[i]);
    // Four long generations cannot all fit in 256 cells: the newest must have been preempted
    // (and resumed), or this test checked nothing.
    CHECK(e.stats().preemptions > 0);
}

TEST_CASE("chat messages render through chatml on stories260K", "[llama]") {
    parley::testing::TestHost host;
    EngineOptions o = opts();
    o.chat_template = "chatml";
    Engine e(o);
    CHECK(e.chat_template() == "chatml");
    std::vector<parley::Message> msgs = {{"system", "You tell stories."}, {"user", "Tell me a story."}};
    const std::string rendered = e.apply_template(msgs);
    CHECK(rendered == "<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nTell me a story.<|im_end|>\n"
                      "<|im_start|>assistant\n");
    Request r;
    r.messages = msgs;
    r.max_tokens = 16;
    auto c = run(e, r);
    CHECK(c.status == PARLEY_OK);
    CHECK(c.prompt_tokens == static_cast<int64_t>(e.tokenize(rendered).size()));
    CHECK(c.completion_tokens > 0);

    // "auto" on a model without a template falls back to chatml with a warning.
    parley::testing::TestHost host2;
    Engine a(opts());
    CHECK(a.chat_template() == "chatml");
    bool warned = false;
    for (auto &line : host2.logs()) warned = warned || line.find("no chat template") != std::string::npos;
    CHECK(warned);

    // A template name llama.cpp does not know is refused, naming what is accepted.
    o.chat_template = "no-such-template";
    CHECK_THROWS_WITH(Engine(o), Catch::Contains("no-such-template") && Catch::Contains("tokenizer_config.json"));
}

// A copy of `model` (in the build folder) whose metadata holds `chat_template`: the new metadata,
// then the original tensor data (offsets are relative to the data section, so it moves as is).
std::string gguf_with_template(const std::string &model, const std::string &chat_template, const std::string &name) {
    gguf_context *g = gguf_init_from_file(model.c_str(), gguf_init_params{true, nullptr});
    REQUIRE(g);
    const size_t data_offset = gguf_get_data_offset(g);
    gguf_set_val_str(g, "tokenizer.chat_template", chat_template.c_str());
    const std::string out = std::string(PARLEY_BINARY_DIR) + "/" + name;
    const bool ok = gguf_write_to_file(g, out.c_str(), true);
    gguf_free(g);
    REQUIRE(ok);
    std::ifstream in(model, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(data_offset));
    std::ofstream(out, std::ios::binary | std::ios::app) << in.rdbuf();
    return out;
}

std::string read_text(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST_CASE("the GGUF's Jinja chat template renders as Hugging Face renders it", "[llama]") {
    // stories260K with Llama-3.1-Instruct's template: llama.cpp's built-in llama3 formatter would
    // drop the BOS text and the "Cutting Knowledge Date" system lines that Coral's `src` has.
    const std::string llama31 = read_text(PARLEY_LLAMA_SOURCE_DIR "/models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja");
    parley::testing::TestHost host;
    Engine e(opts(gguf_with_template(stories(), llama31, "stories260K-llama31-template.gguf")));
    CHECK(e.chat_template() == llama31);
    std::vector<parley::Message> msgs = {
        {"system", "You tell stories."}, {"user", "Tell me a story."}, {"assistant", "Once upon a time."}, {"user", "Go on."}};
    const std::string rendered = e.apply_template(msgs);
    // bos_token is the model's own BOS text (stories260K: <s>), as the tokenizer would pass it.
    CHECK(rendered == "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                      "Today Date: 26 Jul 2024\n\nYou tell stories.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                      "Tell me a story.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nOnce upon a time.<|eot_id|>"
                      "<|start_header_id|>user<|end_header_id|>\n\nGo on.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    // The template's own BOS and tokenize's add_special give one BOS, not two.
    const auto toks = e.tokenize(rendered);
    REQUIRE(toks.size() > 2);
    CHECK(toks[1] != toks[0]);
    Request r;
    r.messages = msgs;
    r.max_tokens = 4;
    auto c = run(e, r);
    CHECK(c.status == PARLEY_OK);
    CHECK(c.prompt_tokens == static_cast<int64_t>(toks.size()));

    // chat_template = a tokenizer_config.json: its template and special tokens.
    EngineOptions o = opts();
    o.chat_template = PARLEY_SOURCE_DIR "/tests/fixtures/chat_templates/SmolLM2-1.7B-Instruct/tokenizer_config.json";
    Engine smol(o);
    CHECK(smol.apply_template({{"user", "Hi"}}) ==
          "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
          "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    // Inline Jinja gets the model's special tokens.
    o.chat_template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}{{ eos_token }}";
    CHECK(Engine(o).apply_template({{"user", "Hi"}}) == "<s>[user] Hi</s>");
}

TEST_CASE("llama-2-tiny-random loads and generates valid UTF-8", "[llama]") {
    parley::testing::TestHost host;
    Engine e(opts(tiny_llama2(), 1024, 4));
    const auto toks = e.tokenize("Hello wörld, 世界 🙂");
    CHECK(toks.size() > 5);
    std::vector<Pending> ps;
    for (int i = 0; i < 4; ++i) {
        Request r = raw("Hello wörld, 世界 🙂", 48, i == 0 ? 0.0 : 1.0);
        r.seed = 100 + i;
        ps.push_back(submit(e, r));
    }
    for (auto &p : ps) {
        auto c = p.get();
        REQUIRE(c.status == PARLEY_OK);
        CHECK(c.completion_tokens > 0);
        CHECK(valid_utf8(c.choices[0].text));
    }
    Request chat;
    chat.messages = {{"user", "Bonjour, ça va ?"}};
    chat.max_tokens = 8;
    CHECK(run(e, chat).status == PARLEY_OK);
}

// ---------------------------------------------------------------------------------------------
// Through the C ABI: load libparley-llama_cpp.so like the host does.
// ---------------------------------------------------------------------------------------------

namespace {
struct CResult {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int calls = 0;
    parley_status status = -1;
    std::string text;
    std::string error;
};
void on_done(void *user, const parley_completion *c) {
    auto *r = static_cast<CResult *>(user);
    std::lock_guard<std::mutex> lock(r->mu);
    ++r->calls;
    r->status = c->status;
    r->error.assign(c->error_message.data ? c->error_message.data : "", c->error_message.size);
    if (c->n_choices > 0) r->text.assign(c->choices[0].text.data, c->choices[0].text.size);
    r->done = true;
    r->cv.notify_all();
}
} // namespace

TEST_CASE("the plugin serves llama_cpp/backend through the C ABI", "[llama]") {
    parley::testing::TestHost host;
    std::string why;
    const parley_plugin_desc *desc = parley::testing::load_plugin(std::string(PARLEY_PLUGIN_DIR) + "/libparley-llama_cpp.so", host, &why);
    INFO(why);
    REQUIRE(desc);
    parley_error err{};
    CHECK(std::string(desc->name) == "llama_cpp");
    REQUIRE(desc->n_components == 1);
    const parley_component *comp = desc->components[0];
    CHECK(std::string(comp->name) == "backend");
    CHECK(comp->kind == PARLEY_KIND_BACKEND);
    CHECK(comp->version == 2);
    const parley_param *model = parley::testing::find_param(comp, "model");
    REQUIRE(model);
    CHECK(model->type == PARLEY_TYPE_PATH);
    CHECK((model->flags & (PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST)) == (PARLEY_PARAM_REQUIRED | PARLEY_PARAM_MUST_EXIST));
    auto *vt = static_cast<const parley_backend_vtable *>(comp->vtable);

    // A bad path fails create with the path in the message.
    auto bad_cfg = host.config({{"model", std::string("/nonexistent/model.gguf")}, {"threads", int64_t{2}}});
    void *self = nullptr;
    CHECK(vt->create(host.api(), bad_cfg.raw(), &self, &err) == PARLEY_ERR_NOT_FOUND);
    CHECK(std::string(err.message).find("/nonexistent/model.gguf") != std::string::npos);

    auto cfg = host.config({{"model", stories()}, {"threads", int64_t{2}}, {"n_ctx", int64_t{1024}},
                            {"n_parallel", int64_t{4}}, {"chat_template", std::string("chatml")}});
    REQUIRE(vt->create(host.api(), cfg.raw(), &self, &err) == PARLEY_OK);

    parley_backend_info info{};
    info.struct_size = sizeof info;
    REQUIRE(vt->get_info(self, &info, &err) == PARLEY_OK);
    CHECK(std::string(info.model.data, info.model.size) == stories());
    CHECK(info.context_size == 1024 / 4); // per sequence: each gets a slice unless kv_unified
    CHECK(info.max_parallel == 4);

    const std::string prompt = "Once upon a time";
    parley_request req{};
    req.struct_size = sizeof req;
    req.prompt = {prompt.data(), prompt.size()};
    req.max_tokens = 40;
    req.n = 1;
    CResult res;
    uint64_t id = 0;
    REQUIRE(vt->submit(self, &req, &on_done, &res, &id, &err) == PARLEY_OK);
    {
        std::unique_lock<std::mutex> lock(res.mu);
        REQUIRE(res.cv.wait_for(lock, std::chrono::seconds(120), [&] { return res.done; }));
    }
    CHECK(res.status == PARLEY_OK);
    CHECK(res.text.rfind(kGolden, 0) == 0);
    CHECK(vt->cancel(self, id) == PARLEY_ERR_NOT_FOUND);

    std::string out;
    parley_message m{{"user", 4}, {"hi", 2}};
    REQUIRE(vt->apply_template(self, &m, 1, parley::testing::TestHost::buffer(out), &err) == PARLEY_OK);
    CHECK(out == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");

    // ABI 1.2: the load, after the request above was delivered.
    auto load = parley::testing::query_load(vt, self);
    REQUIRE(load);
    CHECK(load->queued == 0);
    CHECK(load->running == 0);
    CHECK(load->kv_used == 0);
    CHECK(load->kv_capacity == 1024);

    vt->destroy(self);
    // The library stays loaded: libllama may outlive it in this process.
}

TEST_CASE("per-sequence KV slices (kv_unified = false) give the same greedy text", "[llama]") {
    auto o = opts(stories(), 4096, 4);
    o.kv_unified = false; // 1024 cells each
    parley::llama_cpp::Engine sliced(o);
    auto u = opts(stories(), 4096, 4);
    parley::llama_cpp::Engine shared(u);
    CHECK(sliced.context_size() == 1024);
    CHECK(text_of(run(sliced, raw("Once upon a time", 40))) == text_of(run(shared, raw("Once upon a time", 40))));
    // prefix reuse within a slice
    auto first = run(sliced, [] { auto r = raw("Once upon a time", 8); r.conversation = 5; return r; }());
    auto second = run(sliced, [&] { auto r = raw("Once upon a time" + text_of(first) + " The end", 8); r.conversation = 5; return r; }());
    CHECK(second.cached_tokens > 0);
}

TEST_CASE("per-sequence KV slices keep every idle history while its own slice has room", "[llama]") {
    // Three conversations hold more tokens together than one slice: each still stays resident,
    // because with kv_unified = false the room that matters is its own slice.
    auto o = opts(stories(), 4 * 256, 4); // llama.cpp's smallest slice is 256 cells
    o.kv_unified = false;
    Engine e(o);
    REQUIRE(e.context_size() == 256);
    std::vector<std::string> said;
    for (uint64_t conv = 1; conv <= 3; ++conv) {
        Request r = raw("Once upon a time", 100);
        r.conversation = conv;
        said.push_back(text_of(run(e, r)));
    }
    for (uint64_t conv = 1; conv <= 3; ++conv) {
        Request r = raw("Once upon a time" + said[conv - 1] + " The end", 8);
        r.conversation = conv;
        CHECK(run(e, r).cached_tokens > 100);
    }
    CHECK(e.stats().evictions == 0);

    // A partner agent's first turn copies the shared prefix across streams.
    Request partner = raw("Once upon a time" + said[0] + " The end", 8);
    partner.conversation = 1;
    partner.agent = 2;
    auto c = run(e, partner);
    CHECK(c.cached_tokens > 100);
    CHECK(text_of(c) == text_of(run(e, raw("Once upon a time" + said[0] + " The end", 8))));
}

TEST_CASE("per-sequence KV slices: running histories are moved next to each other and decode as one micro-batch", "[llama]") {
    // llama.cpp decodes only consecutive sequence ids together with per-sequence slices. Eight
    // clients without affinity hints leave their histories in sequences 0..7; the next turns of
    // every other one (histories in 1, 3, 5, 7) run together, moved to 0..3: one run of ids per
    // step, not four. (Keyed requests keep their sequences: the test after this one.)
    parley::testing::TestHost host;
    auto o = opts(stories(), 8 * 256, 8);
    o.kv_unified = false;
    Engine e(o);
    const std::vector<std::string> starts = {"Once upon a time", "Tom had a red ball", "The sun was hot", "Lily found a key",
                                             "A big dog ran",     "The bird sang",      "Sam and Mia played", "It was a cold day"};
    std::vector<std::string> prompts;
    for (uint64_t conv = 0; conv < 8; ++conv) {
        Request r = raw(starts[conv], 24);
        prompts.push_back(starts[conv] + text_of(run(e, r)) + " The end. Then");
    }
    REQUIRE(e.stats().moves == 0);
    std::vector<Pending> next;
    for (uint64_t conv = 1; conv < 8; conv += 2) {
        next.push_back(submit(e, raw(prompts[conv], 40)));
    }
    std::vector<Completion> done;
    for (auto &p : next) done.push_back(p.get());
    CHECK(e.stats().max_batch_seqs == 4);
    // Unmoved, the four decode as four runs. Moved, as one; or two once the first admitted has
    // finished a step before the others and left a hole (the four are submitted one by one).
    CHECK(e.stats().max_batch_runs <= 2);
    CHECK(e.stats().moves >= 3);
    for (size_t k = 0; k < done.size(); ++k) {
        CHECK(done[k].cached_tokens > 20); // each history moved with its request
        Request fresh = raw(prompts[2 * k + 1], 40);
        fresh.conversation = 100 + k;
        CHECK(text_of(done[k]) == text_of(run(e, fresh))); // and holds the cells the prompt computes
    }
}

TEST_CASE("per-sequence KV slices: a step lists its sequences in id order, one micro-batch", "[llama]") {
    // Four conversations' histories in sequences 0..3, their next turns submitted last first:
    // running in the order 3, 2, 1, 0, decoded as 0, 1, 2, 3; keyed, never moved.
    parley::testing::TestHost host;
    auto o = opts(stories(), 4 * 256, 4);
    o.kv_unified = false;
    Engine e(o);
    std::vector<std::string> prompts;
    for (uint64_t conv = 1; conv <= 4; ++conv) {
        Request r = raw(conv % 2 ? "Once upon a time" : "Tom had a red ball", 16);
        r.conversation = conv;
        prompts.push_back(r.prompt + text_of(run(e, r)) + " The end.");
    }
    std::vector<Pending> next;
    for (uint64_t conv = 4; conv >= 1; --conv) {
        Request r = raw(prompts[conv - 1], 40);
        r.conversation = conv;
        next.push_back(submit(e, r));
    }
    for (auto &p : next) CHECK(p.get().cached_tokens > 16);
    CHECK(e.stats().max_batch_seqs == 4);
    CHECK(e.stats().max_batch_runs == 1);
    CHECK(e.stats().moves == 0); // keyed: never moved
}

TEST_CASE("a request without a conversation id reuses the longest prefix an idle sequence holds", "[llama]") {
    // What `parley serve` needs for clients that send no affinity hint (Coral's own code).
    parley::testing::TestHost host;
    Engine e(opts());
    auto c1 = run(e, raw("Once upon a time", 20));
    CHECK(c1.cached_tokens == 0);
    const std::string p2 = "Once upon a time" + text_of(c1) + " The end. Once more";
    auto c2 = run(e, raw(p2, 8));
    CHECK(c2.cached_tokens >= 16);
    // The same text as a from-scratch prompt (a keyed request never takes an unkeyed history).
    Request fresh = raw(p2, 8);
    fresh.conversation = 99;
    auto c3 = run(e, fresh);
    CHECK(c3.cached_tokens == 0);
    CHECK(text_of(c2) == text_of(c3));
    // A prompt sharing only a few tokens starts afresh and leaves the long history alone.
    CHECK(run(e, raw("Once upon a hill", 4)).cached_tokens == 0);
    CHECK(run(e, raw(p2 + text_of(c2), 4)).cached_tokens > c2.cached_tokens);
}

TEST_CASE("a request sharing only part of an idle history copies that part and leaves the history whole", "[llama]") {
    // Coral without hints: the partner's turn shares the system prompt and task with an agent's
    // history, and must not cut that history short for the agent's own next turn.
    parley::testing::TestHost host;
    Engine e(opts());
    const std::string p = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
    auto c1 = run(e, raw(p, 30));
    auto c2 = run(e, raw(p + " Then a big dog came to the park and barked.", 4));
    CHECK(c2.cached_tokens >= 16);
    auto c3 = run(e, raw(p + text_of(c1) + " The end.", 4));
    CHECK(c3.cached_tokens > c2.cached_tokens + 20); // c1's whole history was still there
    Request fresh = raw(p + text_of(c1) + " The end.", 4);
    fresh.conversation = 77;
    CHECK(text_of(c3) == text_of(run(e, fresh)));
}

TEST_CASE("requests arriving together compute their shared prefix once: the others copy it", "[llama]") {
    // A burst of clients with one system prompt and nothing resident yet (parley serve's first
    // wave): the first prefills the prefix, the rest wait for it and copy it, with the same text.
    parley::testing::TestHost host;
    const std::string system = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                               "One day, she saw a big, red ball in the grass.";
    const std::vector<std::string> ends = {" She ran to it.", " A dog came by.", " Her mom called her.", " It began to rain."};
    for (bool unified : {true, false}) {
        CAPTURE(unified);
        auto o = opts(stories(), 8 * 256, 8);
        o.kv_unified = unified;
        Engine e(o);
        std::vector<Pending> burst;
        for (auto &end : ends) burst.push_back(submit(e, raw(system + end, 24)));
        std::vector<Completion> done;
        for (auto &p : burst) done.push_back(p.get());
        int copied = 0;
        for (size_t k = 0; k < ends.size(); ++k) {
            copied += done[k].cached_tokens >= 30;
            Request fresh = raw(system + ends[k], 24);
            fresh.conversation = 50 + k;
            CHECK(text_of(done[k]) == text_of(run(e, fresh)));
        }
        CHECK(copied == 3);
    }
}

TEST_CASE("with every sequence taken, a request continues the history it mostly shares instead of evicting another", "[llama]") {
    // Coral without hints, once the sequences run out: an extractor call shares its system prompt,
    // question and options (about three quarters) with its conversation's previous call. Copying
    // that into a new sequence would evict the least recently used history — an agent's, needed
    // for its next turn; continuing the previous extractor call loses only its short tail.
    parley::testing::TestHost host;
    Engine e(opts(stories(), 2048, 3));
    const std::string agent = "Tom had a red ball and a blue kite. He went to the beach every summer with his dad.";
    auto a1 = run(e, raw(agent, 40)); // the oldest idle history
    const std::string shared = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
    auto b1 = run(e, raw(shared + " One day she saw a cat.", 12));
    auto c1 = run(e, raw("The sun was hot and the sky was blue. A bird sang in the tall green tree.", 30));
    auto b2 = run(e, raw(shared + " One day she saw a big dog and ran home.", 4));
    CHECK(b2.cached_tokens >= 16);
    auto a2 = run(e, raw(agent + text_of(a1) + " The end.", 4));
    CHECK(a2.cached_tokens > 40); // the agent's whole history was still there
    (void)c1;
}

TEST_CASE("a history evicted for room comes back from host memory for its next turn, with the same text", "[llama]") {
    // Two sequences, three conversations: the first one's history is evicted (least recently
    // used) and its state kept in host memory (cache_ram_mib), so its next turn prefills only
    // what is new — keyed (Parley's own graphs) or not (parley serve without hints).
    parley::testing::TestHost host;
    const std::string a = "Tom had a red ball and a blue kite. He went to the beach every summer with his dad.";
    const std::string b = "The sun was hot and the sky was blue. A bird sang in the tall green tree.";
    const std::string c = "Lily found a shiny key under a rock. She wondered what door it could open.";
    for (bool keyed : {false, true}) {
        for (int ram : {8, 0}) {
            CAPTURE(keyed, ram);
            EngineOptions o = opts(stories(), 2048, 2);
            o.cache_ram_mib = ram;
            Engine e(o);
            auto turn = [&](const std::string &p, int n, uint64_t conv) {
                Request r = raw(p, n);
                if (keyed) r.conversation = conv;
                return run(e, r);
            };
            auto a1 = turn(a, 30, 1);
            turn(b, 30, 2);
            turn(c, 30, 3); // evicts the first conversation's history
            CHECK(e.stats().evictions >= 1);
            const std::string next = a + text_of(a1) + " The end. Then";
            auto a2 = turn(next, 8, 1);
            Request fresh = raw(next, 8);
            fresh.conversation = 99;
            auto f = run(e, fresh);
            CHECK(f.cached_tokens == 0);
            CHECK(text_of(a2) == text_of(f)); // the restored state is the state the prompt would compute
            if (ram > 0) {
                CHECK(a2.cached_tokens > 30);
                CHECK(e.stats().host_restores >= 1);
            } else {
                CHECK(a2.cached_tokens == 0);
                CHECK(e.stats().host_restores == 0);
            }
        }
    }
}
