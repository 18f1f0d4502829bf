// The llama_cpp engine's host-memory state cache, as bookkeeping (no model): longest-prefix
// lookup, entries holding a prefix of a newer one dropped, the byte limit, take and get.
#include "state_cache.hpp"

#include <catch2/catch.hpp>

using parley::llama_cpp::StateCache;

namespace {
parley::llama_cpp::StateBytes bytes(size_t n) { return parley::llama_cpp::StateBytes(n, 7); }
} // namespace

TEST_CASE("state cache: the longest shared prefix wins, at least min_shared", "[llama]") {
    StateCache c(1000);
    REQUIRE(c.put({1, 2, 3, 4, 5}, bytes(10)));
    REQUIRE(c.put({1, 2, 9, 9}, bytes(10)));
    auto m = c.best({1, 2, 3, 4, 8, 8}, 5, 2);
    REQUIRE(m);
    CHECK(m->shared == 4);
    CHECK(m->entry_tokens == 5);
    CHECK(!c.best({1, 2, 3, 4, 8, 8}, 5, 5));  // below min_shared
    CHECK(c.best({1, 2, 3, 4, 5, 6}, 3, 1)->shared == 3); // at most `limit` tokens of the prompt
    CHECK(!c.best({7, 7}, 2, 1));
}

TEST_CASE("state cache: a newer state holding an older one's tokens replaces it; a contained one is not stored", "[llama]") {
    StateCache c(1000);
    REQUIRE(c.put({1, 2, 3}, bytes(10)));
    REQUIRE(c.put({1, 2, 3, 4}, bytes(20))); // holds all of {1,2,3}: that entry goes
    CHECK(c.size() == 1);
    CHECK(c.bytes() == 20);
    CHECK(!c.put({1, 2}, bytes(5))); // already held
    CHECK(c.size() == 1);
}

TEST_CASE("state cache: the byte limit drops the oldest; take removes, get keeps", "[llama]") {
    StateCache c(100);
    CHECK(!c.put({5}, bytes(101))); // never fits
    REQUIRE(c.put({1}, bytes(40)));
    REQUIRE(c.put({2}, bytes(40)));
    REQUIRE(c.put({3}, bytes(40))); // {1} goes
    CHECK(c.size() == 2);
    CHECK(!c.best({1, 0}, 1, 1));
    auto m = c.best({2, 0}, 1, 1);
    REQUIRE(m);
    CHECK(c.get(m->id).tokens == std::vector<int32_t>{2});
    CHECK(c.size() == 2);
    CHECK(c.take(m->id).state.size() == 40);
    CHECK(c.size() == 1);
    CHECK(c.bytes() == 40);
    CHECK(!StateCache(0).enabled());
}

TEST_CASE("state cache: entries belong to a conversation; unkeyed ones (0) to each other", "[llama]") {
    StateCache c(1000);
    REQUIRE(c.put({1, 2, 3, 4}, bytes(10), 7));
    REQUIRE(c.put({1, 2, 3}, bytes(10), 0)); // another owner's: kept beside it
    CHECK(c.size() == 2);
    CHECK(c.best({1, 2, 3, 4, 5}, 4, 1, 7)->shared == 4);
    CHECK(c.best({1, 2, 3, 4, 5}, 4, 1, 0)->shared == 3);
    CHECK(!c.best({1, 2, 3, 4, 5}, 4, 1, 8));
}
