// `parley serve`'s HTTP server (Boost.Beast) over real loopback sockets: a client waiting for a
// late reply is never taken for gone (a stale readiness event once cancelled such requests during
// a drain), and a client that does leave is noticed before its reply.
#include "http_server.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

using namespace parley;
using namespace std::chrono_literals;

namespace {

// A handler that answers every request late, from a thread of its own, and counts the clients
// its server reported gone.
struct LateReplies {
    std::atomic<int> gone{0};
    std::mutex mu;
    std::vector<serve::Reply> due;
    std::atomic<bool> stop{false};
    std::thread replier;

    serve::Handler handler() {
        return [this](serve::HttpRequest &&, serve::Reply reply) {
            reply.on_disconnect([this] { ++gone; });
            std::lock_guard<std::mutex> lock(mu);
            due.push_back(std::move(reply));
        };
    }
    void start(std::chrono::milliseconds delay) {
        replier = std::thread([this, delay] {
            while (!stop) {
                std::vector<serve::Reply> now;
                {
                    std::lock_guard<std::mutex> lock(mu);
                    now.swap(due);
                }
                std::this_thread::sleep_for(delay);
                for (auto &r : now) r({200, "text/plain", "late", {}});
            }
        });
    }
    // Stops answering and drops what is left: before the server goes (a Reply must not outlive it).
    void finish() {
        stop = true;
        if (replier.joinable()) replier.join();
        due.clear();
    }
    ~LateReplies() { finish(); }
};

int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    return fd;
}

} // namespace

TEST_CASE("http server: clients waiting for a late reply are never reported gone", "[serve]") {
    LateReplies late;
    serve::HttpServer server("127.0.0.1", 0, 4, late.handler());
    late.start(20ms);
    // Each client sends its whole request right after connecting (testing::http_exchange), so
    // the bytes are often there before the server registers the socket: the race that made a
    // waiting client look gone.
    constexpr int kBatches = 12, kClients = 40;
    std::atomic<int> answered{0};
    for (int b = 0; b < kBatches; ++b) {
        std::vector<std::thread> clients;
        for (int c = 0; c < kClients; ++c)
            clients.emplace_back([&] {
                if (testing::http_exchange(server.port(), "POST", "/v1/completions", "{}").status == 200) ++answered;
            });
        for (auto &t : clients) t.join();
    }
    late.finish();
    CHECK(answered == kBatches * kClients);
    CHECK(late.gone == 0);
}

TEST_CASE("http server: a client that closes before its reply is reported gone at once", "[serve]") {
    std::mutex mu;
    std::condition_variable cv;
    int gone = 0;
    std::vector<serve::Reply> held; // never answered before the client leaves; gone before the server
    serve::HttpServer server("127.0.0.1", 0, 2, [&](serve::HttpRequest &&, serve::Reply reply) {
        reply.on_disconnect([&] {
            std::lock_guard<std::mutex> lock(mu);
            ++gone;
            cv.notify_all();
        });
        std::lock_guard<std::mutex> lock(mu);
        held.push_back(std::move(reply));
    });
    const int fd = connect_loopback(server.port());
    const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}";
    REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
    {
        std::unique_lock<std::mutex> lock(mu);
        REQUIRE(cv.wait_for(lock, 5s, [&] { return held.size() == 1; }));
    }
    ::close(fd);
    std::unique_lock<std::mutex> lock(mu);
    CHECK(cv.wait_for(lock, 5s, [&] { return gone == 1; }));
    auto reply = held.front();
    held.clear();
    lock.unlock();
    reply({200, "text/plain", "too late", {}}); // dropped: nobody is there
}
