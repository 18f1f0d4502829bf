// Rate limits: the token buckets on their own (synthetic clock), and the openai backend against
// tests/servers/vllm_strict.py (a TEST DOUBLE) acting as a rate-limited API provider: 429 with
// Retry-After in seconds and as an HTTP date, a server-side requests-per-second limit, and the
// client's own requests/tokens per minute pacing.
#include "openai_backend.hpp"
#include "rate_limit.hpp"

#include "vllm_strict.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <future>

using parley::Completion;
using parley::Request;
using parley::openai::OpenAIBackend;
using parley::openai::RateLimiter;
using parley::openai::TokenBucket;
using parley::testing::VllmStrictServer;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

Clock::time_point at(double s) { return Clock::time_point{} + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Request question(int i, int max_tokens = 16) {
    Request r;
    r.messages = {{"system", "Answer in the format \"The correct answer is (B)\""}, {"user", "Question " + std::to_string(i) + "? (A) yes (B) no"}};
    r.temperature = 0.2;
    r.top_p = 0.9;
    r.seed = 42;
    r.max_tokens = max_tokens;
    return r;
}

// Submits every request at once; waits for all completions.
std::vector<Completion> run_all(OpenAIBackend &b, std::vector<Request> requests) {
    std::vector<std::future<Completion>> futures;
    for (auto &r : requests) {
        auto p = std::make_shared<std::promise<Completion>>();
        futures.push_back(p->get_future());
        b.submit(std::move(r), [p](Completion &&c) { p->set_value(std::move(c)); });
    }
    std::vector<Completion> out;
    for (auto &f : futures) {
        REQUIRE(f.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
        out.push_back(f.get());
    }
    return out;
}

// The server's counts once the requests it answered are counted (it counts after replying).
json settled_stats(const VllmStrictServer &server) {
    json stats = server.stats();
    for (int i = 0; i < 200 && stats["in_flight"].get<int>() > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        stats = server.stats();
    }
    return stats;
}

int count_status(const json &stats, int status) {
    const std::string k = std::to_string(status);
    return stats["by_status"].contains(k) ? stats["by_status"][k].get<int>() : 0;
}

// The most arrivals within any window of `w` seconds.
size_t densest(const json &arrivals, double w) {
    std::vector<double> t = arrivals.get<std::vector<double>>();
    size_t best = 0;
    for (size_t i = 0, j = 0; j < t.size(); ++j) {
        while (t[j] - t[i] >= w) ++i;
        best = std::max(best, j - i + 1);
    }
    return best;
}

} // namespace

TEST_CASE("token bucket: refilled at the per-minute rate, at most its capacity banked, debt repaid first", "[openai][ratelimit]") {
    TokenBucket off;
    CHECK_FALSE(off.enabled());
    CHECK(off.ready(at(0), 1e9));

    TokenBucket one(120, at(0)); // the default: banks one unit, so requests go evenly spaced
    CHECK(one.ready(at(0), 1));
    one.take(1);
    CHECK_FALSE(one.ready(at(0.49), 1));
    CHECK(one.ready(at(0.5), 1));
    CHECK(one.ready(at(100), 1));
    one.take(1);
    CHECK_FALSE(one.ready(at(100), 1)); // never more than one banked

    TokenBucket b(120, at(0), 2); // 2 a second, holds 2
    CHECK(b.ready(at(0), 1));
    b.take(1);
    b.take(1);
    CHECK_FALSE(b.ready(at(0), 1));
    CHECK(std::chrono::duration<double>(b.ready_at(at(0), 1) - at(0)).count() == Approx(0.5).margin(1e-3));
    CHECK(b.ready(at(0.5), 1));
    CHECK(b.ready(at(100), 2)); // never more than the capacity banked
    b.take(2);
    CHECK_FALSE(b.ready(at(100.4), 1));

    // A request larger than the bucket goes when the bucket is full, and its debt delays the next.
    TokenBucket t(600, at(0), 10); // 10 tokens a second, holds 10
    CHECK(t.ready(at(0), 50));
    t.take(50); // level -40
    CHECK_FALSE(t.ready(at(3.9), 1)); // level -1
    CHECK(std::chrono::duration<double>(t.ready_at(at(3.9), 10) - at(3.9)).count() == Approx(1.1).margin(1e-3));
    t.adjust(30); // the usage came back smaller than the estimate: level 29, capped at 10
    CHECK(t.ready(at(3.9), 10));
}

TEST_CASE("rate limiter: both buckets must allow an attempt; a refusal refunds its tokens", "[openai][ratelimit]") {
    RateLimiter l(60, 600, at(0)); // 1 request and 10 tokens a second, one of each banked
    CHECK(l.admit(at(0), 5));       // tokens: 1 - 5 = -4
    CHECK_FALSE(l.admit(at(0), 1)); // request bucket empty
    CHECK(std::chrono::duration<double>(l.ready_at(at(0), 1) - at(0)).count() == Approx(1.0).margin(1e-3));
    CHECK(l.admit(at(1), 20)); // requests 1; tokens -4 + 10 = 1 (capped): admitted, then 1 - 20 = -19
    CHECK_FALSE(l.admit(at(2), 1)); // a request is banked, but 9 tokens are still owed
    l.settle(20, 0);                // that attempt was refused: its tokens come back (capped at 1)
    CHECK(l.admit(at(2), 1));
    CHECK(parley::openai::estimate_tokens(400, 16, 3) == Approx(100 + 48));
}

TEST_CASE("Retry-After on a 429, in seconds and as an HTTP date, holds the replica and the retry", "[openai][vllm][ratelimit]") {
    parley::testing::TestHost host;
    const bool as_date = GENERATE(false, true);
    // The date has one-second resolution: "3 s ahead" means a wait of 2 to 3 s.
    VllmStrictServer server({"--throttle-first", "1", "--retry-after", as_date ? "3" : "2", "--retry-after-format", as_date ? "date" : "seconds"});
    OpenAIBackend b(host.config({{"url", server.url()}, {"backoff_initial_s", 0.01}, {"backoff_factor", 1.0}}));
    REQUIRE(b.info().model == "vllm-strict/test-model");
    auto t0 = Clock::now();
    auto p = std::make_shared<std::promise<Completion>>();
    auto first = p->get_future();
    b.submit(question(1), [p](Completion &&c) { p->set_value(std::move(c)); });
    // The 429 arrives within milliseconds; a request submitted after it waits for the same pause
    // (the server would have served it at once).
    auto until = Clock::now() + std::chrono::seconds(5);
    while (b.replica_stats()[0].failed == 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    REQUIRE(b.replica_stats()[0].failed == 1); // the client has the 429
    auto second = run_all(b, {question(2)});
    REQUIRE(first.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    Completion c = first.get();
    INFO(c.error);
    CHECK(c.status == PARLEY_OK);
    CHECK(second[0].status == PARLEY_OK);
    CHECK(c.total_s >= 1.9); // backoff alone would have retried after ~0.02 s
    CHECK(since(t0) >= 1.9);
    json stats = settled_stats(server);
    CHECK(stats["served"] == 2);
    CHECK(count_status(stats, 429) == 1);
    CHECK(second[0].total_s >= 1.8); // it waited for the pause too
    CHECK(b.replica_stats()[0].up);                    // rate limited, not broken
}

TEST_CASE("requests_per_minute keeps a burst under a provider's limit; without it the provider's 429s are retried",
          "[openai][vllm][ratelimit]") {
    parley::testing::TestHost host;
    VllmStrictServer server({"--max-rps", "5", "--retry-after", "1"});
    std::vector<Request> burst;
    for (int i = 0; i < 9; ++i) burst.push_back(question(i));
    SECTION("180 requests/minute: paced at 3 a second, never refused") {
        OpenAIBackend b(host.config({{"url", server.url()}, {"requests_per_minute", 180.0}}));
        REQUIRE(b.info().model == "vllm-strict/test-model");
        auto t0 = Clock::now();
        auto done = run_all(b, burst);
        for (auto &c : done) CHECK(c.status == PARLEY_OK);
        CHECK(since(t0) >= 2.6); // evenly spaced: 9 requests at 3 a second
        json stats = settled_stats(server);
        CHECK(count_status(stats, 429) == 0);
        CHECK(stats["served"] == 9);
        CHECK(densest(stats["arrivals"], 1.0) <= 5);
    }
    SECTION("no client limit: the provider refuses part of the burst, Retry-After brings every request through") {
        OpenAIBackend b(host.config({{"url", server.url()}, {"backoff_initial_s", 0.01}}));
        REQUIRE(b.info().model == "vllm-strict/test-model");
        auto done = run_all(b, burst);
        for (auto &c : done) CHECK(c.status == PARLEY_OK);
        json stats = settled_stats(server);
        CHECK(count_status(stats, 429) > 0);
        CHECK(stats["served"] == 9);
    }
}

TEST_CASE("tokens_per_minute paces by prompt and completion tokens, corrected by the reported usage", "[openai][vllm][ratelimit]") {
    parley::testing::TestHost host;
    VllmStrictServer server;
    OpenAIBackend b(host.config({{"url", server.url()}, {"tokens_per_minute", 1200.0}})); // 20 tokens a second
    REQUIRE(b.info().model == "vllm-strict/test-model");
    std::vector<Request> requests;
    for (int i = 0; i < 5; ++i) requests.push_back(question(i, 16));
    auto t0 = Clock::now();
    auto done = run_all(b, requests);
    const double elapsed = since(t0);
    double used = 0;
    for (auto &c : done) {
        REQUIRE(c.status == PARLEY_OK);
        used += static_cast<double>(c.prompt_tokens + c.completion_tokens);
    }
    const double last = static_cast<double>(done.back().prompt_tokens + done.back().completion_tokens);
    // Before the last request could go, the tokens of the first four had to be refilled at 20 a second.
    CHECK(elapsed >= (used - last - 1) / 20 - 0.2);
    CHECK(elapsed < (used + 20) / 20 + 3);
}
