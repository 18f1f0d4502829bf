// The backend conformance suite: every backend component that runs without a server (the scripted
// test double; llama_cpp on stories260K), through its C table: each accepted request's callback
// fires exactly once and never inside submit, cancel answers, get_load never waits for the
// decoding it reports on, destroy delivers what is outstanding. Backends that need a server
// (openai, grpc) are checked against real servers in their own tests.
#include "plugin_under_test.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace conformance;
using namespace std::chrono_literals;

namespace {

// The configuration each backend runs with here; a backend not listed is not covered by this suite.
std::optional<std::map<std::string, Value>> config_for(const std::string &plugin) {
    if (plugin == "scripted") return std::map<std::string, Value>{{"latency_ms", 20.0}};
    if (plugin == "llama_cpp") {
        const std::string model = std::string(PARLEY_SHARED_DIR) + "/models/stories260K.gguf";
        if (!fs::exists(model)) return std::nullopt;
        return std::map<std::string, Value>{{"model", model}, {"n_parallel", int64_t{4}}, {"n_ctx", int64_t{2048}}, {"threads", int64_t{1}}};
    }
    return std::nullopt;
}

thread_local bool t_in_submit = false;

struct Tally {
    std::mutex mu;
    std::condition_variable cv;
    std::map<uint64_t, int> calls; // request id -> callbacks
    int inside_submit = 0;
    int total = 0;
    std::vector<parley_status> statuses;
    std::atomic<const parley_backend_vtable *> vt{nullptr}; // null: do not call get_load
    void *self = nullptr;
    int load_checked = 0; // get_load answered from inside a callback

    static void done(void *user, const parley_completion *c) {
        auto *t = static_cast<Tally *>(user);
        // get_load from the thread delivering completions: a get_load that waited for this
        // thread's own work would never return (the watchdog below reports it).
        if (const parley_backend_vtable *vt = t->vt.load()) {
            (void)parley::testing::query_load(vt, t->self);
            std::lock_guard<std::mutex> lock(t->mu);
            ++t->load_checked;
        }
        std::lock_guard<std::mutex> lock(t->mu);
        t->calls[c->request_id]++;
        t->inside_submit += t_in_submit;
        t->statuses.push_back(c->status);
        ++t->total;
        t->cv.notify_all();
    }
    bool wait_for(int n, std::chrono::seconds limit) {
        std::unique_lock<std::mutex> lock(mu);
        return cv.wait_for(lock, limit, [&] { return total >= n; });
    }
};

struct Backend {
    const parley_backend_vtable *vt;
    void *self = nullptr;
    Backend(TestHost &host, const Component &c, std::map<std::string, Value> cfg) : vt(static_cast<const parley_backend_vtable *>(c.c->vtable)) {
        auto config = host.config(std::move(cfg));
        parley_error err{};
        REQUIRE(vt->create(host.api(), config.raw(), &self, &err) == PARLEY_OK);
    }
    ~Backend() {
        if (self) vt->destroy(self);
    }
    void close() {
        vt->destroy(self);
        self = nullptr;
    }
    // Submits one request; returns its id (0 when refused).
    uint64_t submit(Tally &t, const std::string &text, int32_t max_tokens) {
        static const std::string user = "user";
        parley_message m{str(user), str(text)};
        parley_request r{};
        r.struct_size = sizeof r;
        r.messages = &m;
        r.n_messages = 1;
        r.max_tokens = max_tokens;
        r.n = 1;
        r.top_p = 1.0;
        parley_error err{};
        uint64_t id = 0;
        t_in_submit = true;
        parley_status st = vt->submit(self, &r, &Tally::done, &t, &id, &err);
        t_in_submit = false;
        return st == PARLEY_OK ? id : 0;
    }
};

std::vector<std::pair<Component, std::map<std::string, Value>>> backends(const TestHost &host) {
    std::vector<std::pair<Component, std::map<std::string, Value>>> out;
    for (auto &c : components(host, PARLEY_KIND_BACKEND))
        if (auto cfg = config_for(c.plugin)) out.emplace_back(c, *cfg);
    return out;
}

} // namespace

TEST_CASE("backends: every accepted request is answered exactly once, never inside submit; get_load answers meanwhile",
          "[conformance][backend]") {
    TestHost host;
    const auto all = backends(host);
    if (all.empty()) PARLEY_SKIP("no backend that runs without a server is built");
    for (auto &[c, cfg] : all) {
        CAPTURE(c.name());
        Tally t;
        Backend b(host, c, cfg);
        t.vt = b.vt;
        t.self = b.self;
        std::set<uint64_t> ids;
        for (int i = 0; i < 12; ++i) {
            const uint64_t id = b.submit(t, "Once upon a time " + std::to_string(i), 8);
            REQUIRE(id != 0);
            CHECK(ids.insert(id).second); // ids are distinct
        }
        // get_load from another thread while the requests run: it must come back (a watchdog,
        // not a timing check: a call that waits for the decoding would hang here).
        for (int k = 0; k < 20; ++k) {
            auto f = std::async(std::launch::async, [&] { return parley::testing::query_load(b.vt, b.self).has_value(); });
            REQUIRE(f.wait_for(60s) == std::future_status::ready);
        }
        REQUIRE(t.wait_for(12, 300s));
        std::this_thread::sleep_for(50ms); // a second callback for some request would land now
        std::lock_guard<std::mutex> lock(t.mu);
        CHECK(t.total == 12);
        CHECK(t.inside_submit == 0);
        for (auto id : ids) CHECK(t.calls[id] == 1);
        CHECK(t.load_checked == 12);
        for (auto s : t.statuses) CHECK(s == PARLEY_OK);
    }
}

TEST_CASE("backends: cancel answers the request once; an unknown id is NOT_FOUND; destroy delivers what is outstanding",
          "[conformance][backend]") {
    TestHost host;
    const auto all = backends(host);
    if (all.empty()) PARLEY_SKIP("no backend that runs without a server is built");
    for (auto &[c, cfg] : all) {
        CAPTURE(c.name());
        Tally t;
        auto b = std::make_unique<Backend>(host, c, cfg);
        t.vt = b->vt;
        t.self = b->self;
        const uint64_t id = b->submit(t, "Once upon a time", 64);
        REQUIRE(id != 0);
        const parley_status st = b->vt->cancel(b->self, id);
        CHECK((st == PARLEY_OK || st == PARLEY_ERR_NOT_FOUND)); // NOT_FOUND: it had finished already
        REQUIRE(t.wait_for(1, 300s));
        CHECK(b->vt->cancel(b->self, id + 1000000) == PARLEY_ERR_NOT_FOUND);
        // Outstanding work at destroy: every callback fires before destroy returns.
        for (int i = 0; i < 6; ++i) REQUIRE(b->submit(t, "A long story " + std::to_string(i), 256) != 0);
        t.vt = nullptr; // no get_load on an instance being destroyed
        b->close();
        std::lock_guard<std::mutex> lock(t.mu);
        CHECK(t.total == 7);
        for (auto &[rid, n] : t.calls) CHECK(n == 1);
    }
}
