// The conversation scheduler's admission controller (core/src/eval/admission.hpp), against a fake load
// source and a fake clock; and core::Backend::load() over real plugin tables (fixture_backend_load).
#include "eval/admission.hpp"

#include <parley/core/components.hpp>
#include <parley/core/plugin_loader.hpp>
#include <parley/core/schema.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>

namespace core = parley::core;
using core::AdmissionController;
using core::BackendLoad;
using Verdict = AdmissionController::Verdict;

namespace {

// Test double for a backend's get_load: returns `load` (nullopt: "not reported") and counts calls.
struct FakeLoadSource {
    std::optional<BackendLoad> load = BackendLoad{};
    int calls = 0;
    AdmissionController::LoadSource source() {
        return [this] {
            ++calls;
            return load;
        };
    }
};

// Test double for the monotonic clock, in nanoseconds.
struct FakeClock {
    int64_t now = 1'000'000'000;
    AdmissionController::NowFn fn() {
        return [this] { return now; };
    }
    void advance_ms(int64_t ms) { now += ms * 1'000'000; }
};

AdmissionController::Limits limits(int64_t cap, int64_t tokens = 0) {
    AdmissionController::Limits l;
    l.max_conversations = cap;
    l.max_tokens_in_flight = tokens;
    l.poll_interval = std::chrono::milliseconds(2);
    return l;
}

// Starts conversations of `estimate` tokens while the controller allows; returns how many.
int fill(AdmissionController &a, int64_t estimate, int at_most = 1000) {
    int n = 0;
    while (n < at_most && a.may_start(estimate)) {
        a.on_start(estimate);
        ++n;
    }
    return n;
}

} // namespace

TEST_CASE("admission: the hard cap bounds live conversations", "[admission]") {
    FakeClock clock;
    AdmissionController a(limits(3), clock.fn());
    CHECK(fill(a, 100) == 3);
    CHECK(a.check(100) == Verdict::Cap);
    a.on_finish(100);
    CHECK(a.live() == 2);
    CHECK(fill(a, 100) == 1);
    CHECK(a.live() == 3);

    AdmissionController zero(limits(0), clock.fn()); // a cap below 1 still lets one run
    CHECK(fill(zero, 10) == 1);
}

TEST_CASE("admission: the token budget counts resident tokens of live conversations", "[admission]") {
    FakeClock clock;
    AdmissionController a(limits(100, 1000), clock.fn());
    CHECK(fill(a, 300) == 3); // 900; a fourth would make 1200
    CHECK(a.check(300) == Verdict::TokenBudget);
    CHECK(a.may_start(100)); // a smaller one still fits
    CHECK(a.tokens_in_flight() == 900);

    a.on_grow(80); // a turn added to one conversation
    CHECK(a.tokens_in_flight() == 980);
    CHECK_FALSE(a.may_start(100));
    a.on_finish(380); // that conversation ends
    CHECK(a.tokens_in_flight() == 600);
    CHECK(a.may_start(300));
    CHECK(a.check(401) == Verdict::TokenBudget);

    SECTION("no budget: only the cap") {
        AdmissionController b(limits(5, 0), clock.fn());
        CHECK(fill(b, 1'000'000) == 5);
    }
    SECTION("a conversation larger than the budget still runs alone") {
        AdmissionController b(limits(5, 1000), clock.fn());
        CHECK(fill(b, 5000) == 1);
        b.on_finish(5000);
        CHECK(b.tokens_in_flight() == 0);
        CHECK(fill(b, 5000) == 1);
    }
}

TEST_CASE("admission: a backend's backlog stops new conversations", "[admission]") {
    FakeClock clock;
    FakeLoadSource backend;
    AdmissionController a(limits(1000), clock.fn());
    a.watch(backend.source(), /*max_queued=*/4);

    backend.load = BackendLoad{0, 4, -1, -1}; // batch full, nothing queued
    a.on_start(0);                             // one conversation is live already
    // Within one poll interval, starts count against the cached queue: 0 + k <= 4.
    CHECK(fill(a, 0) == 5);
    CHECK(a.check() == Verdict::Backlog);
    CHECK(a.live() == 6);

    // The next poll sees the queue those starts made: still over the limit.
    clock.advance_ms(3);
    backend.load = BackendLoad{6, 4, -1, -1};
    CHECK(a.check() == Verdict::Backlog);

    // Requests finished; the queue drained to 2: room for 3 more (2 + 0, 1, 2 <= 4).
    clock.advance_ms(3);
    backend.load = BackendLoad{2, 4, -1, -1};
    CHECK(fill(a, 0) == 3);
    CHECK_FALSE(a.may_start());
}

TEST_CASE("admission: automatic backlog limit follows the running count", "[admission]") {
    FakeClock clock;
    FakeLoadSource backend;
    AdmissionController a(limits(1000), clock.fn());
    a.watch(backend.source(), /*max_queued=*/-1);
    a.on_start(0);
    backend.load = BackendLoad{0, 0, -1, -1}; // idle: limit 1
    CHECK(fill(a, 0) == 2);
    clock.advance_ms(3);
    backend.load = BackendLoad{5, 8, -1, -1}; // 8 running: a queue of up to 8
    CHECK(fill(a, 0) == 4);
}

TEST_CASE("admission: KV capacity reported by a backend bounds new conversations", "[admission]") {
    FakeClock clock;
    FakeLoadSource backend;
    AdmissionController a(limits(1000), clock.fn());
    a.watch(backend.source(), 1000);
    a.on_start(100);
    backend.load = BackendLoad{0, 1, 700, 1000}; // 300 cells free
    CHECK(fill(a, 100) == 3);                    // counted against the cache until the next poll
    CHECK(a.check(100) == Verdict::KvFull);
    CHECK(a.check(0) == Verdict::Admit);

    clock.advance_ms(3);
    backend.load = BackendLoad{0, 4, 1000, 1000};
    CHECK(a.check(1) == Verdict::KvFull);
    clock.advance_ms(3);
    backend.load = BackendLoad{0, 1, 200, 1000};
    CHECK(fill(a, 400) == 2);

    SECTION("unknown KV (-1) adds no condition") {
        clock.advance_ms(3);
        backend.load = BackendLoad{0, 1, -1, 1000};
        CHECK(fill(a, 100'000, 10) == 10);
    }
}

TEST_CASE("admission: the tightest of several backends decides", "[admission]") {
    FakeClock clock;
    FakeLoadSource teacher, extractor;
    AdmissionController a(limits(1000), clock.fn());
    a.watch(teacher.source(), 8);
    a.watch(extractor.source(), 2);
    a.on_start(0);
    teacher.load = BackendLoad{0, 8, 0, 10'000};
    extractor.load = BackendLoad{1, 2, 0, 150};
    CHECK(fill(a, 50) == 2); // the extractor's queue: 1 + {0, 1} <= 2 (its 150 KV cells would allow 3)
    CHECK(a.check(50) == Verdict::Backlog);
    REQUIRE(a.last_loads().size() == 2);
    CHECK(a.last_loads()[1]->kv_capacity == 150);
}

TEST_CASE("admission: backends that report nothing are admitted by the cap and budget only", "[admission]") {
    FakeClock clock;
    FakeLoadSource silent;
    silent.load = std::nullopt; // e.g. the scripted backend, or a plugin older than ABI 1.2
    AdmissionController a(limits(50, 10'000), clock.fn());
    a.watch(silent.source(), 0);
    CHECK(fill(a, 100) == 50);
    CHECK(a.check(100) == Verdict::Cap);
    REQUIRE(a.last_loads().size() == 1);
    CHECK_FALSE(a.last_loads()[0].has_value());

    SECTION("nothing watched: no polling and no clock") {
        int clock_reads = 0;
        AdmissionController b(limits(3), [&] { return ++clock_reads, int64_t{0}; });
        CHECK(fill(b, 1) == 3);
        CHECK(clock_reads == 0);
        CHECK(b.polls() == 0);
    }
}

TEST_CASE("admission: backend loads are polled at most once per interval", "[admission]") {
    FakeClock clock;
    FakeLoadSource backend;
    AdmissionController a(limits(1'000'000), clock.fn());
    a.watch(backend.source(), 1'000'000);
    a.on_start(0);
    backend.load = BackendLoad{0, 0, -1, -1};
    int admitted = 0;
    for (int i = 0; i < 100'000; ++i) admitted += a.may_start();
    CHECK(admitted == 100'000);
    CHECK(backend.calls == 1);
    clock.advance_ms(1);
    for (int i = 0; i < 1000; ++i) (void)a.may_start();
    CHECK(backend.calls == 1);
    clock.advance_ms(1); // 2 ms since the poll
    (void)a.may_start();
    CHECK(backend.calls == 2);
    CHECK(a.polls() == 2);

    // A new load is seen only after the interval, unless polled explicitly.
    backend.load = BackendLoad{5'000'000, 0, -1, -1};
    CHECK(a.may_start());
    a.poll();
    CHECK_FALSE(a.may_start());
    CHECK(backend.calls == 3);

    // No conversation live: no poll at all, the next one is admitted.
    AdmissionController b(limits(10), clock.fn());
    FakeLoadSource busy;
    busy.load = BackendLoad{100, 100, -1, -1};
    b.watch(busy.source(), 0);
    CHECK(b.may_start());
    CHECK(busy.calls == 0);
    b.on_start(0);
    CHECK_FALSE(b.may_start());
    CHECK(busy.calls == 1);
}

TEST_CASE("admission: the hot path stays cheap with a watched backend", "[admission]") {
    FakeLoadSource backend;
    AdmissionController a(limits(1'000'000)); // the real clock
    a.watch(backend.source(), 1'000'000);
    a.on_start(0);
    const auto t0 = std::chrono::steady_clock::now();
    int admitted = 0;
    for (int i = 0; i < 200'000; ++i) admitted += a.may_start(10);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(admitted == 200'000);
    CHECK(backend.calls <= 1 + static_cast<int>(s / 0.002) + 1); // one poll per 2 ms at most
    CHECK(s < 0.5); // ~30 ns a call; generous for a loaded 2-core machine
}

// ---- core::Backend::load() through the C ABI ----------------------------------------------------

namespace {

struct FixtureBackend {
    core::PluginLoader loader{{PARLEY_FIXTURE_DIR}};
    core::ComponentSchema schema;
    core::NodeSpec node;
    std::unique_ptr<core::Backend> backend;

    explicit FixtureBackend(const std::string &component) {
        const core::LoadedPlugin *p = loader.load("fixture_backend_load");
        REQUIRE(p);
        schema.plugin = p->name;
        schema.name = component;
        schema.kind = PARLEY_KIND_BACKEND;
        schema.component = p->find(component);
        REQUIRE(schema.component);
        schema.loaded = p;
        node.name = "b_" + component;
        node.use = "fixture_backend_load/" + component;
        node.plugin = "fixture_backend_load";
        node.component = component;
        node.schema = &schema;
        backend = core::Backend::create(node);
    }
};

} // namespace

TEST_CASE("core::Backend::load reads get_load only where the plugin has it", "[admission]") {
    SECTION("a 1.2 table that reports") {
        FixtureBackend f("reports");
        CHECK(f.backend->reports_load());
        auto l = f.backend->load();
        REQUIRE(l);
        CHECK(l->queued == 3);
        CHECK(l->running == 4);
        CHECK(l->kv_used == 100);
        CHECK(l->kv_capacity == 1000);

        FakeClock clock;
        AdmissionController a(limits(100), clock.fn());
        a.watch(*f.backend);
        a.watch(*f.backend); // once per backend
        CHECK(a.watched() == 1);
        a.on_start(0);
        CHECK(fill(a, 10) == 2); // max_queued = max_parallel 4; 3 queued + {0, 1} <= 4
    }
    SECTION("a 1.1 table: get_load lies beyond its struct_size and is never called") {
        FixtureBackend f("v11");
        CHECK_FALSE(f.backend->reports_load());
        CHECK_FALSE(f.backend->load());
        AdmissionController a(limits(100));
        a.watch(*f.backend);
        CHECK(a.watched() == 0);
    }
    SECTION("get_load fails: no report") {
        FixtureBackend f("error");
        CHECK(f.backend->reports_load());
        CHECK_FALSE(f.backend->load());
    }
    SECTION("no get_load") {
        FixtureBackend f("none");
        CHECK_FALSE(f.backend->reports_load());
        CHECK_FALSE(f.backend->load());
    }
}
