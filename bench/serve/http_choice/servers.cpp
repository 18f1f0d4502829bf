// Throwaway: the same delayed reply (a backend taking DELAY_MS) behind cpp-httplib and behind
// Parley's Boost.Beast server, to choose a library for `parley serve` under 1,000 concurrent
// keep-alive connections. Build (from the repo root, after a Parley build):
//   g++ -O2 -std=c++20 -Icore/src/serve bench/serve/http_choice/servers.cpp core/src/serve/http_server.cpp \
//       -lcpp-httplib -lfmt -lpthread -o /tmp/http_choice
// Run: /tmp/http_choice httplib|beast PORT DELAY_MS, then load.py.
#include "http_server.hpp"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

int main(int argc, char **argv) {
    const std::string which = argv[1];
    const int port = std::atoi(argv[2]);
    const auto delay = std::chrono::milliseconds(std::atoi(argv[3]));
    const std::string body = R"({"choices":[{"text":"ok"}]})";
    if (which == "httplib") {
        httplib::Server s; // a thread pool; a handler holds its thread for the whole delay
        s.Post("/v1/completions", [&](const httplib::Request &, httplib::Response &res) {
            std::this_thread::sleep_for(delay);
            res.set_content(body, "application/json");
        });
        s.listen("127.0.0.1", port);
        return 0;
    }
    // Beast: replies come later from another thread, as from a backend's completion callback.
    std::mutex mu;
    std::deque<std::pair<std::chrono::steady_clock::time_point, parley::serve::Reply>> due;
    parley::serve::HttpServer server("127.0.0.1", port, 2, [&](parley::serve::HttpRequest &&, parley::serve::Reply reply) {
        std::lock_guard<std::mutex> lock(mu);
        due.emplace_back(std::chrono::steady_clock::now() + delay, std::move(reply));
    });
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::deque<parley::serve::Reply> now;
        {
            std::lock_guard<std::mutex> lock(mu);
            while (!due.empty() && due.front().first <= std::chrono::steady_clock::now()) {
                now.push_back(std::move(due.front().second));
                due.pop_front();
            }
        }
        for (auto &r : now) r({200, "application/json", body, {}});
    }
}
