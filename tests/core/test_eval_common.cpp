// What coral_eval and cot_eval share about their requests: seeds within int64, the extractor's
// sampling, and Python's random for Coral's tree picks.
#include "eval/common.hpp"
#include "eval/py_random.hpp"
#include "eval/sample_order.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <tuple>
#include <vector>

using namespace parley::core;

TEST_CASE("PyRandom draws CPython's random.randint sequence for the same seed", "[eval][random]") {
    // python3 -c "import random; random.seed(42); print([random.randint(0,4) for _ in range(30)])"
    const std::vector<int64_t> k5 = {0, 0, 2, 1, 1, 1, 0, 4, 0, 4, 3, 0, 0, 0, 1, 1, 4, 4, 0, 4, 1, 4, 3, 1, 3, 4, 2, 0, 1, 3};
    // ... randint(0,3): a power of two still draws n.bit_length() = 3 bits, with rejection
    const std::vector<int64_t> k4 = {0, 0, 2, 1, 1, 1, 0, 0, 3, 0, 0, 0, 1, 1, 0, 1, 3, 1, 3, 2, 0, 1, 3, 2, 2, 1, 1, 2, 0, 0};
    PyRandom a(42), b(42);
    for (size_t i = 0; i < k5.size(); ++i) CHECK(a.randint(0, 4) == k5[i]);
    for (size_t i = 0; i < k4.size(); ++i) CHECK(b.randint(0, 3) == k4[i]);
    // random.seed(42); [random.getrandbits(32) for _ in range(3)]
    PyRandom c(42);
    CHECK(c.getrandbits(32) == 2746317213u);
    CHECK(c.getrandbits(32) == 478163327u);
    CHECK(c.getrandbits(32) == 107420369u);
    // random.seed(333) (the official configs' seed_everything); [random.randint(0,4) for _ in range(10)]
    const std::vector<int64_t> s333 = {4, 2, 2, 1, 3, 0, 2, 4, 4, 2};
    PyRandom d(333);
    for (auto x : s333) CHECK(d.randint(0, 4) == x);
}

TEST_CASE("every seed derived for a request lies in 0 to 2^63-1 and they are distinct", "[eval][seed]") {
    std::set<uint64_t> seen;
    size_t n = 0;
    for (int item = 0; item < 500; ++item)
        for (int64_t trial = 0; trial < 4; ++trial) {
            const uint64_t conv = trial_seed(42, "mmlu_pro", "item-" + std::to_string(item), trial);
            REQUIRE(conv <= kMaxSeed);
            for (uint64_t turn = 1; turn <= 20; ++turn) {
                const uint64_t s = request_seed(conv, turn);
                REQUIRE(s <= kMaxSeed);
                seen.insert(s);
                ++n;
            }
        }
    CHECK(seen.size() == n); // no two requests of these 2000 conversations share a seed
    // Trials of one item have their own seeds, consecutive from the item's.
    CHECK(trial_seed(7, "d", "x", 1) == ((trial_seed(7, "d", "x", 0) + 1) & kMaxSeed));
}

TEST_CASE("the extractor is sampled as Matrix's make_request defaults fill in", "[eval]") {
    GenerationRequest q;
    q.temperature = 0.7;
    set_extractor_sampling(q, 32);
    CHECK(q.temperature == 0.0);
    CHECK(q.top_p == 0.9);
    REQUIRE(q.seed.has_value());
    CHECK(*q.seed == 42);
    CHECK(q.max_tokens == 32);
}

TEST_CASE("samples noted in completion order are arranged item by item, trials together", "[eval][results]") {
    using parley::core::eval::SampleOrder;
    const std::vector<std::string> ids = {"a", "", "c", "d"}; // "": another shard's item
    SampleOrder order;
    std::vector<double> values;
    const std::vector<std::tuple<std::string, int, double>> noted = {{"d", 1, 7.0}, {"a", 1, 2.0}, {"c", 0, 3.0},
                                                                     {"d", 0, 6.0}, {"a", 0, 1.0}, {"c", 1, 4.0}};
    for (auto &[id, trial, v] : noted) {
        order.note(id, trial);
        values.push_back(v);
    }
    SampleOrder::Arrangement a = order.arrange(ids, 2);
    CHECK(a.trials == 2);
    CHECK(a.apply(values) == std::vector<double>{1, 2, 3, 4, 6, 7});
    CHECK(a.apply(std::vector<double>{1, 2}) == std::vector<double>{1, 2}); // a metric some samples lack: as given

    SECTION("an item short of its trials: independent samples") {
        order.note("a", 2);
        values.push_back(5.0);
        a = order.arrange(ids, 2);
        CHECK(a.trials == 1);
        CHECK(a.apply(values) == std::vector<double>{1, 2, 5, 3, 4, 6, 7});
    }
    SECTION("an item the plan does not list: last, and independent samples") {
        order.note("x", 0);
        order.note("x", 1);
        values.insert(values.end(), {8.0, 9.0});
        a = order.arrange(ids, 2);
        CHECK(a.trials == 1);
        CHECK(a.apply(values) == std::vector<double>{1, 2, 3, 4, 6, 7, 8, 9});
    }
    SECTION("one trial") { CHECK(order.arrange(ids, 1).trials == 1); }
}
