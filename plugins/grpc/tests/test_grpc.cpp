// grpc/backend without a server: replica lists from files and folders, discovery while running,
// a dead replica's calls retried and failed as UNAVAILABLE, cancellation. (A live server:
// tests/integration/serve/serve_grpc.sh runs a Coral graph through this backend.)
#include "grpc_backend.hpp"
#include "common/replica_list.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

using namespace parley::grpc_backend;
using parley::common::grpc_targets;
using parley::common::read_replica_list;
namespace fs = std::filesystem;

namespace {
fs::path scratch(const std::string &name) {
    fs::path p = fs::temp_directory_path() / ("parley-grpc-test-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(p);
    return p;
}
} // namespace

TEST_CASE("replica lists: a file of lines or a folder of files, gRPC targets only", "[grpc]") {
    auto file = scratch("file");
    std::ofstream(file) << "# replicas\nhttp://a:8000\ngrpc://a:9000\n\n  b:9001  # second\ngrpc://a:9000\n";
    auto urls = read_replica_list(file);
    CHECK(urls == std::vector<std::string>{"http://a:8000", "grpc://a:9000", "b:9001"});
    CHECK(grpc_targets(urls) == std::vector<std::string>{"a:9000", "b:9001"});

    auto dir = scratch("dir");
    fs::create_directories(dir);
    std::ofstream(dir / "2.url") << "grpc://c:2\n";
    std::ofstream(dir / "1.url") << "http://c:1\ngrpc://c:1\n";
    std::ofstream(dir / ".hidden") << "grpc://x:0\n";
    CHECK(grpc_targets(read_replica_list(dir)) == std::vector<std::string>{"c:1", "c:2"});
    CHECK(read_replica_list(scratch("missing")).empty());
    fs::remove_all(dir);
    fs::remove(file);
}

TEST_CASE("the backend notices replicas that come and go while it runs", "[grpc]") {
    parley::testing::TestHost host;
    auto dir = scratch("discovery");
    fs::create_directories(dir);
    std::ofstream(dir / "r1") << "grpc://127.0.0.1:1\n";
    auto cfg = host.config({{"replicas_from", dir.string()}, {"discovery_interval_s", 0.05}});
    GrpcBackend b(cfg);
    REQUIRE(b.replicas().size() == 1);
    std::ofstream(dir / "r2") << "grpc://127.0.0.1:2\n";
    auto wait_for = [&](size_t n) {
        for (int i = 0; i < 100 && b.replicas().size() != n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return b.replicas().size();
    };
    CHECK(wait_for(2) == 2);
    fs::remove(dir / "r1");
    CHECK(wait_for(1) == 1);
    CHECK(b.replicas()[0].target == "127.0.0.1:2");
    fs::remove_all(dir);
}

TEST_CASE("calls to a dead replica are retried, then fail as UNAVAILABLE, and can be cancelled", "[grpc]") {
    parley::testing::TestHost host;
    auto cfg = host.config({{"url", std::vector<std::string>{"127.0.0.1:1"}}, {"max_retries", int64_t{2}},
                            {"backoff_initial_s", 0.01}, {"cooldown_s", 0.01}, {"timeout_s", 5.0}});
    GrpcBackend b(cfg);
    parley::Request q;
    q.prompt = "Once upon a time";
    std::promise<parley::Completion> p;
    b.submit(q, [&](parley::Completion &&c) { p.set_value(std::move(c)); });
    auto c = p.get_future().get();
    CHECK(c.status == PARLEY_ERR_UNAVAILABLE);
    CHECK_THAT(c.error, Catch::Contains("after 3 attempts"));

    q.top_k = 5;
    CHECK_THROWS_WITH(b.submit(q, [](parley::Completion &&) {}), Catch::Contains("top_k"));
    q.top_k = 0;

    auto cfg2 = host.config({{"url", std::vector<std::string>{"127.0.0.1:1"}}, {"backoff_initial_s", 30.0}});
    GrpcBackend b2(cfg2);
    std::promise<parley::Completion> p2;
    auto id = b2.submit(q, [&](parley::Completion &&c2) { p2.set_value(std::move(c2)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(b2.cancel(id));
    auto f = p2.get_future();
    REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(f.get().status == PARLEY_ERR_CANCELLED);
}
