// VllmStrictServer: starts tests/servers/vllm_strict.py (a strict vLLM-shaped TEST DOUBLE, see
// its docstring) on an ephemeral loopback port for one test, and stops it (SIGTERM, then SIGKILL)
// when the guard goes. Header-only; used by the openai plugin's tests and the end-to-end tests.
// Needs PARLEY_SOURCE_DIR (set by parley_add_test) and Python 3 ($PARLEY_PYTHON, /usr/bin/python3
// or python3 on PATH).
#pragma once

#include <parley/testing.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>


namespace parley::testing {

class VllmStrictServer {
  public:
    explicit VllmStrictServer(std::vector<std::string> extra_args = {}) {
        namespace fs = std::filesystem;
        dir_ = fs::temp_directory_path() / ("parley-vllm-strict-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::vector<std::string> args = {python(), std::string(PARLEY_SOURCE_DIR) + "/tests/servers/vllm_strict.py", "--port-file",
                                         (dir_ / "port").string(), "--stats-file", (dir_ / "stats.json").string()};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        const std::string log = (dir_ / "server.log").string();
        pid_ = parley::testing::spawn_logged(args, log);
        REQUIRE(pid_ > 0);
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (port_ == 0 || http_exchange(port_, "GET", "/health").status != 200) {
            if (port_ == 0) std::ifstream(dir_ / "port") >> port_;
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                FAIL("vllm_strict.py exited during startup; see " << log);
            }
            if (std::chrono::steady_clock::now() > until) FAIL("vllm_strict.py did not come up; see " << log);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ~VllmStrictServer() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    VllmStrictServer(const VllmStrictServer &) = delete;
    VllmStrictServer &operator=(const VllmStrictServer &) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }

    // GET /stats: {"requests", "served", "refused", "choices", "requests_with_n_gt_1", "by_status",
    // "refusals": [{"message", "count"}], "in_flight", "peak_in_flight", "connections"}.
    nlohmann::json stats() const {
        HttpReply r = http_exchange(port_, "GET", "/stats");
        REQUIRE(r.status == 200);
        return nlohmann::json::parse(r.body);
    }
    HttpReply post(const std::string &path, const std::string &body) const { return http_exchange(port_, "POST", path, body); }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) != pid_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (::waitpid(pid_, &status, WNOHANG) == 0) {
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
        }
        pid_ = -1;
    }

  private:
    // The system's interpreter when there is one (a version manager's shim on PATH can take
    // seconds to start), else python3 on PATH.
    static std::string python() {
        if (const char *e = std::getenv("PARLEY_PYTHON"); e && *e) return e;
        return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    }
    static int &counter() {
        static int n = 0;
        return n;
    }
    std::filesystem::path dir_;
    pid_t pid_ = -1;
    int port_ = 0;
};

// A readable summary of refusals for INFO(): "N x <message>" per distinct message, each cut at 300
// characters (a validation message may quote the request, and benchmark text stays out of logs).
inline std::string refusal_summary(const nlohmann::json &stats) {
    std::string out;
    for (const auto &r : stats["refusals"])
        out += std::to_string(r["count"].get<int>()) + " x " + r["message"].get<std::string>().substr(0, 300) + "\n";
    return out;
}

} // namespace parley::testing
