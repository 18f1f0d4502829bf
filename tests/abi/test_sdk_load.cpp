// The SDK's get_load trampoline (ABI 1.2): Backend::load() by default reports nothing
// (PARLEY_ERR_UNSUPPORTED); an override fills the members that fit the host's struct.
#include <parley/sdk.hpp>

#include <catch2/catch.hpp>

namespace {

class Silent : public parley::Backend {
  public:
    explicit Silent(const parley::Config &) {}
    uint64_t submit(parley::Request, Done) override { throw parley::Error(PARLEY_ERR_UNSUPPORTED, "no"); }
    bool cancel(uint64_t) override { return false; }
    parley::BackendInfo info() override { return {}; }
};

class Busy : public Silent {
  public:
    using Silent::Silent;
    bool fail = false;
    std::optional<parley::BackendLoad> load() override {
        if (fail) throw parley::Error(PARLEY_ERR_UNAVAILABLE, "not now");
        return parley::BackendLoad{2, 3, 40, 400};
    }
};

} // namespace

TEST_CASE("SDK: get_load is in the backend table; by default it reports nothing", "[abi]") {
    const parley_backend_vtable *vt = parley::detail::BackendTable<Silent>::table();
    REQUIRE(vt->struct_size >= offsetof(parley_backend_vtable, get_load) + sizeof(vt->get_load));
    REQUIRE(vt->get_load);
    Silent s{parley::Config(nullptr)};
    parley_backend_load l{};
    l.struct_size = sizeof l;
    l.queued = -7;
    CHECK(vt->get_load(&s, &l) == PARLEY_ERR_UNSUPPORTED);
    CHECK(l.queued == -7); // untouched
    CHECK(vt->get_load(&s, nullptr) == PARLEY_ERR_INVALID_ARGUMENT);
}

TEST_CASE("SDK: an overridden load() fills what fits the host's struct", "[abi]") {
    const parley_backend_vtable *vt = parley::detail::BackendTable<Busy>::table();
    Busy b{parley::Config(nullptr)};
    parley_backend_load l{};
    l.struct_size = sizeof l;
    REQUIRE(vt->get_load(&b, &l) == PARLEY_OK);
    CHECK(l.queued == 2);
    CHECK(l.running == 3);
    CHECK(l.kv_used == 40);
    CHECK(l.kv_capacity == 400);

    parley_backend_load small{};
    small.struct_size = offsetof(parley_backend_load, kv_used); // a host knowing fewer members
    small.kv_used = -1;
    small.kv_capacity = -1;
    REQUIRE(vt->get_load(&b, &small) == PARLEY_OK);
    CHECK(small.running == 3);
    CHECK(small.kv_used == -1);
    CHECK(small.kv_capacity == -1);

    b.fail = true; // an exception becomes its status
    CHECK(vt->get_load(&b, &l) == PARLEY_ERR_UNAVAILABLE);
}
