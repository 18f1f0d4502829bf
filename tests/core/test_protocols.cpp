// The evaluation protocols as plain state machines (core/src/eval/): a Coral conversation and a
// CoT sample driven by hand through a recording Outbox with canned results — no scheduler, no
// threads, no backend. The domain is the real mmlu_pro plugin on the shared sample.
#include "eval/coral_protocol.hpp"
#include "eval/cot_protocol.hpp"

#include <parley/core/graph.hpp>
#include <parley/core/plugin_loader.hpp>
#include <parley/core/run.hpp>
#include <parley/testing.hpp>

#include <catch2/catch.hpp>

#include <fstream>

using namespace parley::core;
using namespace parley::core::eval;

namespace {

// Test double: an Outbox that records what an episode asks for and sends nothing.
struct RecordingOutbox final : Outbox {
    struct Sent {
        const Backend *backend;
        uint32_t key;
        std::vector<std::pair<std::string, std::string>> messages; // copied: the views are the episode's
        int32_t n, max_tokens;
        uint32_t agent;
        uint64_t conversation;
        std::optional<uint64_t> seed;
        double temperature;
    };
    std::vector<Sent> sent;
    int64_t grown = 0;
    void submit(Backend &b, const GenerationRequest &q, uint32_t key) override {
        Sent s{&b, key, {}, q.n, q.max_tokens, q.agent, q.conversation, q.seed, q.temperature};
        for (auto &m : q.messages) s.messages.emplace_back(std::string(m.role), std::string(m.content));
        sent.push_back(std::move(s));
    }
    void grow(int64_t delta) override { grown += delta; }
};

// Backends are opaque handles to a protocol (it passes them to the Outbox, never calls them):
// distinct addresses stand in for them, never dereferenced. Aligned and sized as a Backend: the
// episodes bind references to them (a misaligned one is undefined behaviour; UBSan reports it).
Backend *handle(int i) {
    alignas(Backend) static unsigned char storage[3][sizeof(Backend)];
    return reinterpret_cast<Backend *>(storage[i]);
}

GenerationResult reply(std::vector<std::string> texts, int64_t tokens = 5) {
    GenerationResult r;
    for (auto &t : texts) r.choices.push_back({t, PARLEY_FINISH_STOP, tokens, {}});
    r.prompt_tokens = 100;
    r.completion_tokens = tokens * static_cast<int64_t>(texts.size());
    return r;
}

GenerationResult failure(const std::string &error) {
    GenerationResult r;
    r.status = PARLEY_ERR_UNAVAILABLE;
    r.error = error;
    return r;
}

// The mmlu_pro domain on the shared sample (a plugin: loaded, not a backend).
struct MmluDomain {
    MmluDomain() {
        const std::string shared = PARLEY_SHARED_DIR;
        if (!fs::exists(shared + "/data/mmlu_pro/test_sample_60.jsonl")) PARLEY_SKIP("no shared MMLU-Pro sample");
        dir = fs::temp_directory_path() / ("parley-protocols-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        std::ofstream(dir / "g.toml") << "[nodes.q]\nuse = \"mmlu_pro/domain\"\ndata = \"" << shared
                                      << "/data/mmlu_pro/test_sample_60.jsonl\"\n";
        graph = parse_graph(dir / "g.toml");
        validate_graph(graph, resolver);
        domain = Domain::create(*graph.find("q"));
        domain->load(graph.find("q")->config["data"].value_or(std::string()), false);
    }
    ~MmluDomain() { fs::remove_all(dir); }
    std::string answer(const std::string &letter) const { return "I think so. The correct answer is (" + letter + ")."; }
    std::string gold() const { return domain->item(0).gold; }
    std::string wrong() const { return gold() == "A" ? "B" : "A"; }

    fs::path dir;
    PluginLoader loader{{PARLEY_PLUGIN_DIR}};
    SchemaResolver resolver = make_resolver(loader); // owns the schemas graph's nodes point at
    Graph graph;
    std::unique_ptr<Domain> domain;
};

const std::string kDomainNode = "q", kItem = "item-0";

CoralConfig coral_config(bool llm, int beam = 1, int max_turns = 4) {
    CoralConfig c;
    c.roles = {{"teacher", handle(0), "collaborate", 0.2, 64}, {"student", handle(1), "collaborate", 0.3, 48}};
    c.extractor = handle(2);
    c.llm_extraction = llm;
    c.beam = beam;
    c.max_turns = max_turns;
    c.fixed_seed = true;
    return c;
}

CotConfig cot_config(bool coral, bool llm, bool system_prompt) {
    CotConfig c;
    c.backend = handle(0);
    c.extractor = handle(2);
    c.coral = coral;
    c.llm_extraction = llm;
    c.system_prompt = system_prompt;
    return c;
}

} // namespace

TEST_CASE("coral protocol: the agents agree, the conversation stops", "[protocols][coral]") {
    MmluDomain m;
    CoralShared shared(coral_config(false), "test");
    CoralEpisode e(shared, kDomainNode, *m.domain, 0, 0, kItem, 77);
    RecordingOutbox out;
    e.start(out);
    REQUIRE(out.sent.size() == 1); // the teacher answers the student's task message
    CHECK(out.sent[0].backend == handle(0));
    CHECK(out.sent[0].agent == 0);
    CHECK(out.sent[0].conversation == 77);
    CHECK(out.sent[0].seed == 42u); // seed_mode "fixed"
    CHECK(out.sent[0].max_tokens == 64);
    CHECK(out.sent[0].messages.back().first == "user"); // turn 0 is the partner's
    e.on_result(0, reply({m.answer(m.gold())}), out);
    CHECK_FALSE(e.done());
    REQUIRE(out.sent.size() == 2); // the student, who sees the teacher's turn as the user's
    CHECK(out.sent[1].backend == handle(1));
    CHECK(out.sent[1].temperature == 0.3);
    CHECK(out.sent[1].messages[1].first == "assistant"); // its own task message
    CHECK(out.sent[1].messages[2].first == "user");
    e.on_result(0, reply({m.answer(m.gold())}), out);
    REQUIRE(e.done());
    CHECK(out.sent.size() == 2);
    REQUIRE(e.turns().size() == 3);
    CHECK(e.turns()[2].agreement);
    CHECK(e.turns()[2].score == 1.0f);
    CHECK(out.grown == (100 + 5) * 2 - 64); // resident tokens: both views of the history, from the first estimate
}

TEST_CASE("coral protocol: max_turns ends a conversation that never agrees", "[protocols][coral]") {
    MmluDomain m;
    CoralShared shared(coral_config(false, 1, 3), "test");
    CoralEpisode e(shared, kDomainNode, *m.domain, 0, 0, kItem, 77);
    RecordingOutbox out;
    e.start(out);
    for (const char *letter : {"A", "B", "A"}) {
        REQUIRE_FALSE(e.done());
        e.on_result(0, reply({m.answer(letter)}), out);
    }
    CHECK(e.done());
    CHECK(out.sent.size() == 3);
    CHECK(e.turns().size() == 4);
    CHECK_FALSE(e.turns().back().agreement);
}

TEST_CASE("coral protocol: a failed request ends a single-sampled conversation", "[protocols][coral]") {
    MmluDomain m;
    CoralShared shared(coral_config(false), "test");
    CoralEpisode e(shared, kDomainNode, *m.domain, 0, 0, kItem, 77);
    RecordingOutbox out;
    e.start(out);
    e.on_result(0, failure("server overloaded"), out);
    REQUIRE(e.done());
    REQUIRE(e.turns().size() == 2);
    CHECK_FALSE(e.turns()[1].status_ok);
    CHECK(e.turns()[1].content == "server overloaded");
}

TEST_CASE("coral protocol: LLM extraction asks the extractor once per turn, keyed by conversation", "[protocols][coral]") {
    MmluDomain m;
    CoralShared shared(coral_config(true), "test");
    CoralEpisode e(shared, kDomainNode, *m.domain, 0, 0, kItem, 77);
    RecordingOutbox out;
    e.start(out);
    e.on_result(0, reply({m.answer(m.gold())}), out);
    REQUIRE(out.sent.size() == 2);
    const auto &x = out.sent[1];
    CHECK(x.backend == handle(2));
    CHECK(x.agent == kExtractorAgent);
    CHECK(x.conversation == 77);
    CHECK(x.temperature == 0.0);
    CHECK(x.seed == 42u);
    CHECK(x.max_tokens == 32);
    REQUIRE(x.messages.size() == 2);
    CHECK(x.messages[0].first == "system");
    e.on_result(0, reply({"The answer is (" + m.gold() + ")."}), out);
    REQUIRE(out.sent.size() == 3); // the student's turn
    e.on_result(0, reply({m.answer(m.wrong())}), out);
    e.on_result(0, failure("extractor down"), out); // a failed extractor call: Coral's error belief
    REQUIRE(out.sent.size() == 5);                  // no agreement: the teacher again
    const CoralTurn &t = e.turns()[2];
    CHECK_FALSE(t.extractor_ok);
    CHECK(*t.belief == "Error: extraction network error");
    CHECK(t.extractor->response == "extractor down");
    CHECK(e.turns()[1].extractor->response == "The answer is (" + m.gold() + ").");
}

TEST_CASE("coral protocol: each role's reasoning reaches the partner and the extractor as the graph chose", "[protocols][coral][reasoning]") {
    MmluDomain m;
    CoralConfig c = coral_config(true);
    c.roles[0].reasoning_to_partner = true;   // the student sees the teacher's thinking,
    c.roles[1].reasoning_to_extractor = true; // the extractor reads the student's
    CoralShared shared(c, "test");
    CoralEpisode e(shared, kDomainNode, *m.domain, 0, 0, kItem, 77);
    RecordingOutbox out;
    e.start(out);
    auto thinking = [](std::string text, std::string reasoning) {
        GenerationResult r = reply({std::move(text)});
        r.choices[0].reasoning = std::move(reasoning);
        r.reasoning_tokens = 3;
        return r;
    };
    const std::string teacher_says = m.answer(m.gold()), student_says = m.answer(m.wrong());
    e.on_result(0, thinking(teacher_says, "TEACHER-THINKS"), out);
    REQUIRE(out.sent.size() == 2); // the extractor reads the teacher's answer alone
    CHECK(out.sent[1].messages[1].second.find(teacher_says) != std::string::npos);
    CHECK(out.sent[1].messages[1].second.find("TEACHER-THINKS") == std::string::npos);
    e.on_result(0, reply({"The answer is (" + m.gold() + ")."}), out);
    REQUIRE(out.sent.size() == 3); // the student sees the teacher's turn with its thinking
    CHECK(out.sent[2].messages[2] == std::make_pair(std::string("user"), with_reasoning("TEACHER-THINKS", teacher_says)));
    e.on_result(0, thinking(student_says, "STUDENT-THINKS"), out);
    REQUIRE(out.sent.size() == 4); // the extractor reads the student's thinking too
    CHECK(out.sent[3].messages[1].second.find(with_reasoning("STUDENT-THINKS", student_says)) != std::string::npos);
    e.on_result(0, reply({"The answer is (" + m.wrong() + ")."}), out);
    REQUIRE(out.sent.size() == 5); // no agreement: the teacher sees its own turn and the student's answers only
    CHECK(out.sent[4].messages[2] == std::make_pair(std::string("assistant"), teacher_says));
    CHECK(out.sent[4].messages[3] == std::make_pair(std::string("user"), student_says));
    // The turns keep the answer as their content, the reasoning apart.
    CHECK(e.turns()[1].content == teacher_says);
    REQUIRE(e.turns()[1].reasoning);
    CHECK(e.turns()[1].reasoning->text == "TEACHER-THINKS");
    CHECK(e.turns()[1].reasoning_tokens == 3);
    CHECK(e.turns()[2].reasoning->shown.empty()); // the student's role shows none to its partner
}

TEST_CASE("coral protocol: tree sampling keeps Python random's pick, the rest as siblings", "[protocols][coral][tree]") {
    MmluDomain m;
    CoralShared shared(coral_config(false, 3, 1), "test");
    CoralEpisode e(shared, kDomainNode, *m.domain, 0, 0, kItem, 77);
    RecordingOutbox out;
    e.start(out);
    REQUIRE(out.sent.size() == 1);
    CHECK(out.sent[0].n == 3);
    e.on_result(0, reply({m.answer("A"), m.answer("B"), m.answer("C")}), out);
    REQUIRE(e.done()); // max_turns = 1
    PyRandom python(42); // random.seed(42); random.randint(0, 2)
    const std::string letters[] = {"A", "B", "C"};
    const CoralTurn &kept = e.turns()[1];
    CHECK(kept.content == m.answer(letters[python.randint(0, 2)]));
    REQUIRE(kept.siblings);
    CHECK(kept.siblings->size() == 2);
    CHECK(kept.request_completion_tokens == 15);
    CHECK(kept.completion_tokens == 5);
    for (auto &s : *kept.siblings) CHECK(s.content != kept.content);
}

TEST_CASE("cot protocol: one answer, read by rule", "[protocols][cot]") {
    MmluDomain m;
    CotShared shared{cot_config(false, false, true), FailureLog("test"), {}};
    CotEpisode e(shared, kDomainNode, *m.domain, 0, 1, 1234);
    RecordingOutbox out;
    e.start(out);
    REQUIRE(out.sent.size() == 1);
    CHECK(out.sent[0].backend == handle(0));
    CHECK(out.sent[0].seed == 1234u);
    CHECK(out.sent[0].conversation == (1234u | 1));
    CHECK(out.sent[0].messages.size() == 2); // simple_cot system prompt, the task
    e.on_result(0, reply({m.answer(m.gold())}), out);
    REQUIRE(e.done());
    CHECK(e.belief() == "The answer is (" + m.gold() + ").");  // the domain's normalised belief
    CHECK(e.valid());
    CHECK(e.score() == 1.0);
    CHECK(cot_sample_row(e)["correct"] == true);
    CHECK(cot_sample_row(e)["trial"] == 1);
}

TEST_CASE("cot protocol: LLM extraction, and a failed answer under each profile", "[protocols][cot]") {
    MmluDomain m;
    for (bool coral : {true, false}) {
        CotShared shared{cot_config(coral, true, false), FailureLog("test"), {}};
        CotEpisode e(shared, kDomainNode, *m.domain, 0, 0, 1);
        RecordingOutbox out;
        e.start(out);
        CHECK(out.sent[0].messages.size() == 1); // no system prompt
        e.on_result(0, failure("boom"), out);
        if (!coral) { // "fixed": no answer, no extractor call, score 0
            REQUIRE(e.done());
            CHECK(e.belief().empty());
            CHECK(e.score() == 0.0);
            CHECK(cot_sample_row(e)["error"] == "boom");
            continue;
        }
        REQUIRE(out.sent.size() == 2); // "coral": the error text goes to the extractor
        CHECK(out.sent[1].backend == handle(2));
        CHECK(out.sent[1].messages[1].second.find("boom") != std::string::npos);
        e.on_result(0, reply({"The answer is (" + m.gold() + ")."}), out);
        REQUIRE(e.done());
        CHECK(e.score() == 1.0);
        CHECK(*e.extractor_response() == "The answer is (" + m.gold() + ").");
    }
}
