// Tests of the openai backend: the router (pure), the HTTP client against a fake server written
// here (FakeOpenAIServer, a TEST DOUBLE for error paths that real servers do not produce on
// demand), and real llama-server processes on loopback (stories260K, -t 1) for the real protocol,
// affinity, and a replica killed mid-run. The C ABI test loads the built libparley-openai.so.
#include "openai_backend.hpp"
#include "router.hpp"

#include <parley/testing.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>


using parley::Completion;
using parley::Request;
using parley::openai::OpenAIBackend;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const char *kGolden = ", there was a little girl named Lily";

std::string shared_dir() {
    if (const char *env = std::getenv("PARLEY_SHARED_DIR"); env && *env) return env;
    return PARLEY_SHARED_DIR;
}
std::string stories() { return shared_dir() + "/models/stories260K.gguf"; }
std::string llama_server_bin() {
    if (const char *env = std::getenv("PARLEY_LLAMA_TOOLS_DIR"); env && *env) return std::string(env) + "/llama-server";
    return std::string(PARLEY_LLAMA_TOOLS_DIR) + "/llama-server";
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// ---------------------------------------------------------------------------------------------
// A real llama-server on loopback, killed (process group, SIGKILL) when the guard goes.
// ---------------------------------------------------------------------------------------------
class LlamaServer {
  public:
    static bool available() {
        struct stat st{};
        return ::stat(llama_server_bin().c_str(), &st) == 0 && ::stat(stories().c_str(), &st) == 0;
    }

    LlamaServer() : port_(free_port()) {
        log_ = "/tmp/parley-test-openai-llama-" + std::to_string(port_) + ".log";
        std::vector<std::string> args = {llama_server_bin(), "-m", stories(), "--host", "127.0.0.1", "--port",
                                         std::to_string(port_), "-c", "4096", "-np", "4", "-t", "1",
                                         "--chat-template", "chatml", "--threads-http", "8"};
        pid_ = parley::testing::spawn_logged(args, log_);
        REQUIRE(pid_ > 0);
        auto until = std::chrono::steady_clock::now() + 60s;
        while (parley::testing::http_exchange(port_, "GET", "/health").status != 200) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                FAIL("llama-server exited during startup; see " << log_);
            }
            if (std::chrono::steady_clock::now() > until) FAIL("llama-server did not become healthy; see " << log_);
            std::this_thread::sleep_for(50ms);
        }
    }
    ~LlamaServer() { kill(); }
    LlamaServer(const LlamaServer &) = delete;
    LlamaServer &operator=(const LlamaServer &) = delete;

    void kill() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    int port_;
    pid_t pid_ = -1;
    std::string log_;
};

#define NEED_LLAMA_SERVER()                                                                        \
    do {                                                                                           \
        if (!LlamaServer::available())                                                             \
            PARLEY_SKIP("no llama-server at " + llama_server_bin() + " or no " + stories());       \
    } while (0)

// A listening TCP socket on 127.0.0.1, a port of the kernel's choosing (the test doubles' own).
int listen_loopback(int flags, int backlog, int *port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | flags, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, backlog) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    *port = ntohs(a.sin_port);
    return fd;
}

// ---------------------------------------------------------------------------------------------
// FakeOpenAIServer — a TEST DOUBLE: a tiny blocking HTTP/1.1 server (one connection at a time,
// Connection: close) answering POSTs from a script, GET /health and GET /v1/models. It never
// stands in for a model's results; it only produces status codes and delays on demand.
// ---------------------------------------------------------------------------------------------
class FakeOpenAIServer {
  public:
    struct Reply {
        Reply(int s = 200, std::string b = "", double d = 0, std::string h = "")
            : status(s), body(std::move(b)), delay_s(d), headers(std::move(h)) {}
        int status;
        std::string body;
        double delay_s;
        std::string headers; // extra header lines, each ending in \r\n
    };
    struct Seen {
        std::string method, path, headers, body;
    };

    static Reply ok(const std::string &text = "fake reply") {
        json j = {{"id", "x"},
                  {"object", "chat.completion"},
                  {"choices", json::array({{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"finish_reason", "stop"}}})},
                  {"usage", {{"prompt_tokens", 7}, {"completion_tokens", 2}}}};
        return {200, j.dump()};
    }

    explicit FakeOpenAIServer(std::vector<Reply> script = {}, Reply fallback = ok())
        : script_(script.begin(), script.end()), fallback_(std::move(fallback)) {
        fd_ = listen_loopback(0, 64, &port_);
        thread_ = std::thread([this] { loop(); });
    }
    ~FakeOpenAIServer() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int posts() const { return posts_.load(); }
    std::vector<Seen> seen() const {
        std::lock_guard<std::mutex> l(mu_);
        return seen_;
    }

  private:
    void loop() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            serve(c);
            ::close(c);
        }
    }
    void serve(int c) {
        std::string in;
        char buf[8192];
        size_t head_end;
        while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
            pollfd p{c, POLLIN, 0};
            if (stop_ || ::poll(&p, 1, 2000) <= 0) return;
            ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) return;
            in.append(buf, static_cast<size_t>(n));
        }
        Seen s;
        std::string head = in.substr(0, head_end);
        s.method = head.substr(0, head.find(' '));
        size_t p1 = head.find(' ') + 1;
        s.path = head.substr(p1, head.find(' ', p1) - p1);
        s.headers = head;
        size_t length = 0;
        std::string lower = head;
        for (auto &ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (auto k = lower.find("content-length:"); k != std::string::npos) length = std::strtoul(lower.c_str() + k + 15, nullptr, 10);
        s.body = in.substr(head_end + 4);
        while (s.body.size() < length) {
            ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) return;
            s.body.append(buf, static_cast<size_t>(n));
        }
        Reply r;
        if (s.method == "GET" && s.path == "/v1/models") {
            r = {200, R"({"object":"list","data":[{"id":"fake-model","object":"model","max_model_len":2048}]})"};
        } else if (s.method == "GET") {
            r = {200, R"({"status":"ok"})"};
        } else {
            posts_++;
            std::lock_guard<std::mutex> l(mu_);
            if (!script_.empty()) {
                r = script_.front();
                script_.pop_front();
            } else {
                r = fallback_;
            }
        }
        {
            std::lock_guard<std::mutex> l(mu_);
            seen_.push_back(s);
        }
        for (auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(r.delay_s); std::chrono::steady_clock::now() < until;) {
            if (stop_) return;
            std::this_thread::sleep_for(5ms);
        }
        std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(r.body.size()) + "\r\nConnection: close\r\n" + r.headers + "\r\n" + r.body;
        ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
    }

    int fd_ = -1, port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> posts_{0};
    mutable std::mutex mu_;
    std::deque<Reply> script_;
    Reply fallback_;
    std::vector<Seen> seen_;
    std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// KeepAliveServer — a TEST DOUBLE: HTTP/1.1 with keep-alive (many connections, each answering
// request after request with FakeOpenAIServer::ok()), which can close every idle connection on
// demand, as servers do after their keep-alive timeout (llama-server: 5 s).
// ---------------------------------------------------------------------------------------------
class KeepAliveServer {
  public:
    KeepAliveServer() {
        fd_ = listen_loopback(SOCK_NONBLOCK, 256, &port_);
        thread_ = std::thread([this] { loop(); });
    }
    ~KeepAliveServer() {
        stop_ = true;
        thread_.join();
        for (auto &[c, in] : conns_) ::close(c);
        ::close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int accepted() const { return accepted_.load(); }
    int posts() const { return posts_.load(); }
    // Closes every connection with no request in progress; returns once done.
    void close_idle() {
        close_idle_ = true;
        while (close_idle_) std::this_thread::sleep_for(2ms);
    }

  private:
    void loop() {
        const std::string body = FakeOpenAIServer::ok().body;
        const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        char buf[65536];
        while (!stop_) {
            std::vector<pollfd> fds{{fd_, POLLIN, 0}};
            for (auto &[c, in] : conns_) fds.push_back({c, POLLIN, 0});
            ::poll(fds.data(), fds.size(), 5);
            for (int c; (c = ::accept(fd_, nullptr, nullptr)) >= 0;) {
                conns_[c];
                accepted_++;
            }
            for (size_t i = 1; i < fds.size(); ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                const int c = fds[i].fd;
                std::string &in = conns_[c];
                ssize_t n = ::recv(c, buf, sizeof buf, MSG_DONTWAIT);
                if (n <= 0) {
                    ::close(c);
                    conns_.erase(c);
                    continue;
                }
                in.append(buf, static_cast<size_t>(n));
                for (size_t end; (end = in.find("\r\n\r\n")) != std::string::npos;) {
                    std::string lower = in.substr(0, end);
                    for (auto &ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    size_t length = 0;
                    if (auto k = lower.find("content-length:"); k != std::string::npos) length = std::strtoul(lower.c_str() + k + 15, nullptr, 10);
                    if (in.size() < end + 4 + length) break;
                    posts_ += in.rfind("POST ", 0) == 0;
                    in.erase(0, end + 4 + length);
                    ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
                }
            }
            if (close_idle_) {
                for (auto it = conns_.begin(); it != conns_.end();) {
                    if (it->second.empty()) {
                        ::close(it->first);
                        it = conns_.erase(it);
                    } else {
                        ++it;
                    }
                }
                close_idle_ = false;
            }
        }
    }

    int fd_ = -1, port_ = 0;
    std::atomic<bool> stop_{false}, close_idle_{false};
    std::atomic<int> accepted_{0}, posts_{0};
    std::map<int, std::string> conns_; // the server thread's: connection -> bytes of a request in progress
    std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Submitting and waiting
// ---------------------------------------------------------------------------------------------
struct Pending {
    std::shared_ptr<std::promise<Completion>> promise = std::make_shared<std::promise<Completion>>();
    std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
    std::future<Completion> future = promise->get_future();
    uint64_t id = 0;

    Completion get(std::chrono::seconds limit = 30s) {
        REQUIRE(future.wait_for(limit) == std::future_status::ready);
        return future.get();
    }
};

Pending submit(OpenAIBackend &b, Request r) {
    Pending p;
    auto promise = p.promise;
    auto calls = p.calls;
    p.id = b.submit(std::move(r), [promise, calls](Completion &&c) {
        if (calls->fetch_add(1) == 0) promise->set_value(std::move(c));
    });
    return p;
}

Completion run(OpenAIBackend &b, Request r) { return submit(b, std::move(r)).get(); }

Request chat(const std::string &user, int max_tokens = 24, uint64_t conversation = 0) {
    Request r;
    r.messages = {{"system", "You are a storyteller."}, {"user", user}};
    r.temperature = 0;
    r.max_tokens = max_tokens;
    r.conversation = conversation;
    return r;
}

Request raw(const std::string &prompt, int max_tokens) {
    Request r;
    r.prompt = prompt;
    r.temperature = 0;
    r.max_tokens = max_tokens;
    return r;
}

std::string text_of(const Completion &c, size_t i = 0) {
    INFO("status " << c.status << ": " << c.error);
    REQUIRE(c.status == PARLEY_OK);
    REQUIRE(c.choices.size() > i);
    return c.choices[i].text;
}

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

// =============================================================================================
// Router (no network)
// =============================================================================================

TEST_CASE("router: least outstanding without affinity, -1 when all full", "[openai][router]") {
    using namespace parley::openai;
    Ring ring({"http://a", "http://b", "http://c"});
    uint64_t rr = 0;
    RouteInput in;
    in.affinity = false;
    std::vector<ReplicaLoad> loads = {{3, true, false}, {1, true, false}, {2, true, false}};
    CHECK(choose_replica(ring, loads, in, rr) == 1);
    loads[1].up = false; // down replicas are skipped while a healthy one exists
    CHECK(choose_replica(ring, loads, in, rr) == 2);
    loads[0].full = loads[2].full = true; // the healthy ones are full: wait, do not use the down one
    CHECK(choose_replica(ring, loads, in, rr) == -1);
    loads[0].full = loads[2].full = false;
    for (auto &l : loads) l.up = false; // none healthy: panic routing still picks the least loaded
    CHECK(choose_replica(ring, loads, in, rr) == 1);
    for (auto &l : loads) l.full = true;
    CHECK(choose_replica(ring, loads, in, rr) == -1);
}

TEST_CASE("router: affinity is stable and bounded by load_factor x mean", "[openai][router]") {
    using namespace parley::openai;
    Ring ring({"http://a", "http://b"});
    uint64_t rr = 0;
    RouteInput in;
    in.conversation = 42;
    in.load_factor = 1.25;
    int pref = ring.preferred(mix64(42));
    REQUIRE((pref == 0 || pref == 1));
    std::vector<ReplicaLoad> loads(2);
    CHECK(choose_replica(ring, loads, in, rr) == pref);
    // Both idle but one conversation's burst: the preferred replica fills to the bound, then spills.
    loads[pref].outstanding = 1;
    CHECK(choose_replica(ring, loads, in, rr) == pref); // 2 <= ceil(1.25 * 2 / 2) = 2
    loads[pref].outstanding = 2;
    CHECK(choose_replica(ring, loads, in, rr) == 1 - pref); // 3 > ceil(1.25 * 3 / 2) = 2
    loads[1 - pref].outstanding = 2;
    CHECK(choose_replica(ring, loads, in, rr) == pref); // 3 <= ceil(1.25 * 5 / 2) = 4
    // A full or avoided replica is skipped.
    loads[pref].full = true;
    CHECK(choose_replica(ring, loads, in, rr) == 1 - pref);
    loads[pref].full = false;
    in.avoid = pref;
    CHECK(choose_replica(ring, loads, in, rr) == 1 - pref);
    // Many conversations spread over both replicas.
    std::set<int> used;
    for (uint64_t c = 1; c <= 64; ++c) used.insert(ring.preferred(mix64(c)));
    CHECK(used.size() == 2);
}

// =============================================================================================
// Configuration and the HTTP client against the test double
// =============================================================================================

TEST_CASE("config: url is required and validated", "[openai]") {
    parley::testing::TestHost host;
    try {
        OpenAIBackend b(host.config({}));
        FAIL("constructed without url");
    } catch (const parley::Error &e) {
        CHECK(e.code() == PARLEY_ERR_INVALID_ARGUMENT);
        CHECK(std::string(e.what()).find("url") != std::string::npos);
    }
    CHECK_THROWS_AS(OpenAIBackend(host.config({{"url", std::string("localhost:8080")}})), parley::Error);
    CHECK_THROWS_AS(OpenAIBackend(host.config({{"url", std::string("http://x")}, {"extra_body", std::string("[1]")}})), parley::Error);
}

TEST_CASE("chat_template: the served model's template renders messages as Hugging Face does", "[openai]") {
    parley::testing::TestHost host;
    const std::string url = "http://127.0.0.1:9"; // never contacted: rendering is local
    std::vector<parley::Message> msgs = {{"system", "Be brief."}, {"user", "Hi"}};
    try {
        OpenAIBackend none(host.config({{"url", url}, {"model", std::string("m")}}));
        none.apply_template(msgs);
        FAIL("rendered without a chat_template");
    } catch (const parley::Error &e) {
        CHECK(e.code() == PARLEY_ERR_UNSUPPORTED);
        CHECK(std::string(e.what()).find("chat_template") != std::string::npos);
    }
    const std::string smol = PARLEY_SOURCE_DIR "/tests/fixtures/chat_templates/SmolLM2-1.7B-Instruct/tokenizer_config.json";
    OpenAIBackend b(host.config({{"url", url}, {"model", std::string("m")}, {"chat_template", smol}}));
    CHECK(b.apply_template(msgs) == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    CHECK(b.apply_template({{"user", "Hi"}}) ==
          "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
          "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    try {
        OpenAIBackend bad(host.config({{"url", url}, {"chat_template", std::string("/no/such/tokenizer_config.json")}}));
        FAIL("constructed with a missing chat_template file");
    } catch (const parley::Error &e) {
        CHECK(e.code() == PARLEY_ERR_INVALID_ARGUMENT);
        CHECK(std::string(e.what()).find("/no/such/tokenizer_config.json") != std::string::npos);
    }
}

TEST_CASE("request body mapping, auth header, model discovery, response parsing", "[openai][fake]") {
    parley::testing::TestHost host;
    json reply = {{"choices", json::array({{{"index", 1}, {"message", {{"content", "second"}}}, {"finish_reason", "length"}},
                                           {{"index", 0}, {"message", {{"content", "first"}}}, {"finish_reason", "stop"}}})},
                  {"usage", {{"prompt_tokens", 11}, {"completion_tokens", 6}, {"prompt_tokens_details", {{"cached_tokens", 8}}}}}};
    FakeOpenAIServer fake({}, {200, reply.dump()});
    ::setenv("PARLEY_TEST_OPENAI_KEY", "sk-test-123", 1);
    OpenAIBackend b(host.config({{"url", std::vector<std::string>{fake.url() + "/v1/"}},
                                 {"api_key_env", std::string("PARLEY_TEST_OPENAI_KEY")},
                                 {"extra_body", std::string(R"({"repetition_penalty": 1.1, "top_k": 99})")}}));
    CHECK(b.info().model == "fake-model");
    CHECK(b.info().context_size == 2048);

    Request r = chat("hello", 16, 5);
    r.temperature = 0.7;
    r.top_p = 0.9;
    r.top_k = 20; // overridden by extra_body's top_k
    r.min_p = 0.05;
    r.seed = 1234;
    r.n = 2;
    r.stop = {"\n\n", "END"};
    r.extra_json = R"({"logprobs": false})";
    Completion c = run(b, r);
    REQUIRE(text_of(c, 0) == "first");
    REQUIRE(c.choices.size() == 2);
    CHECK(c.choices[1].text == "second");
    CHECK(c.choices[0].finish_reason == PARLEY_FINISH_STOP);
    CHECK(c.choices[1].finish_reason == PARLEY_FINISH_LENGTH);
    CHECK(c.prompt_tokens == 11);
    CHECK(c.completion_tokens == 6);
    CHECK(c.choices[0].completion_tokens == -1); // n > 1: the server counts the request only (unknown, not 0)
    CHECK(c.choices[1].completion_tokens == -1);
    CHECK(c.cached_tokens == 8);
    CHECK(c.total_s >= c.queue_s);

    std::vector<FakeOpenAIServer::Seen> posts;
    for (auto &s : fake.seen())
        if (s.method == "POST") posts.push_back(s);
    REQUIRE(posts.size() == 1);
    CHECK(posts[0].path == "/v1/chat/completions");
    CHECK(posts[0].headers.find("Authorization: Bearer sk-test-123") != std::string::npos);
    json body = json::parse(posts[0].body);
    CHECK(body["model"] == "fake-model");
    CHECK(body["messages"].size() == 2);
    CHECK(body["messages"][1]["content"] == "hello");
    CHECK(body["temperature"] == 0.7);
    CHECK(body["top_p"] == 0.9);
    CHECK(body["top_k"] == 99);
    CHECK(body["min_p"] == 0.05);
    CHECK(body["seed"] == 1234);
    CHECK(body["max_tokens"] == 16);
    CHECK(body["n"] == 2);
    CHECK(body["stop"] == json::array({"\n\n", "END"}));
    CHECK(body["repetition_penalty"] == 1.1);
    CHECK(body["logprobs"] == false);
    CHECK(body["stream"] == false);

    // A raw prompt goes to /v1/completions; unset knobs are not sent.
    Completion c2 = run(b, raw("Once", 4));
    REQUIRE(c2.status == PARLEY_OK);
    auto last = fake.seen().back();
    CHECK(last.path == "/v1/completions");
    json b2 = json::parse(last.body);
    CHECK(b2["prompt"] == "Once");
    CHECK_FALSE(b2.contains("messages"));
    CHECK_FALSE(b2.contains("min_p"));
    CHECK_FALSE(b2.contains("seed"));
    CHECK_FALSE(b2.contains("n"));
    ::unsetenv("PARLEY_TEST_OPENAI_KEY");

    // No message contents in the logs.
    for (auto &line : host.logs()) CHECK(line.find("hello") == std::string::npos);
}

TEST_CASE("503 twice then 200: retried with exponential backoff", "[openai][fake][retry]") {
    parley::testing::TestHost host;
    FakeOpenAIServer fake({{503, R"({"error":{"message":"Loading model"}})"}, {503, "busy"}}, FakeOpenAIServer::ok("finally"));
    OpenAIBackend b(host.config({{"url", fake.url()}, {"model", std::string("m")}, {"backoff_initial_s", 0.1},
                                 {"backoff_factor", 2.0}, {"max_retries", int64_t{3}}, {"cooldown_s", 0.05}}));
    auto t0 = std::chrono::steady_clock::now();
    Completion c = run(b, chat("x"));
    CHECK(text_of(c) == "finally");
    CHECK(fake.posts() == 3);
    // Waits are 0.1 * (1 + U) and 0.1 * (2 + U): at least 0.3 s in all.
    CHECK(since(t0) >= 0.29);
    CHECK(c.total_s >= 0.29);
    auto stats = b.replica_stats();
    CHECK(stats[0].sent == 3);
    CHECK(stats[0].failed == 2);
    CHECK(stats[0].succeeded == 1);
}

TEST_CASE("400 fails at once with the server's message", "[openai][fake][retry]") {
    parley::testing::TestHost host;
    FakeOpenAIServer fake({{400, R"({"error":{"message":"max_tokens must be at least 1","type":"invalid_request_error"}})"}});
    OpenAIBackend b(host.config({{"url", fake.url()}, {"model", std::string("m")}, {"backoff_initial_s", 0.1}}));
    Completion c = run(b, chat("x"));
    CHECK(c.status == PARLEY_ERR_INVALID_ARGUMENT);
    CHECK(c.error.find("max_tokens must be at least 1") != std::string::npos);
    CHECK(c.error.find("400") != std::string::npos);
    CHECK(c.choices.empty());
    CHECK(fake.posts() == 1);
    // The log names the status and URL, never the server's text (it may quote the prompt).
    bool logged = false;
    for (auto &line : host.logs()) {
        CHECK(line.find("max_tokens must be") == std::string::npos);
        logged = logged || line.find("HTTP 400 from " + fake.url()) != std::string::npos;
    }
    CHECK(logged);

    FakeOpenAIServer overflow({{400, R"({"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 4000 tokens.","code":400})"}});
    OpenAIBackend b2(host.config({{"url", overflow.url()}, {"model", std::string("m")}}));
    CHECK(run(b2, chat("x")).status == PARLEY_ERR_CONTEXT_OVERFLOW);
}

TEST_CASE("error bodies: the server's own text in every shape, 4xx other than 408 and 429 not retried", "[openai][fake][retry]") {
    parley::testing::TestHost host;
    struct Case {
        int status;
        std::string body, expected;
    };
    const std::vector<Case> cases = {
        // vLLM >= 0.10.1 (and OpenAI)
        {400, R"({"error":{"message":"top_p must be in (0, 1], got 0.0.","type":"BadRequestError","param":"top_p","code":400}})",
         "HTTP 400: top_p must be in (0, 1], got 0.0."},
        // older vLLM, SGLang
        {400, R"({"object":"error","message":"n must be at least 1, got 0.","type":"BadRequestError","param":null,"code":400})",
         "HTTP 400: n must be at least 1, got 0."},
        // llama-server
        {400, R"({"error":{"code":400,"message":"Invalid 'n' value","type":"invalid_request_error"}})", "HTTP 400: Invalid 'n' value"},
        // FastAPI's default validation body
        {422, R"({"detail":[{"loc":["body","seed"],"msg":"Input should be less than or equal to 9223372036854775807","type":"less_than_equal"}]})",
         "HTTP 422: body.seed: Input should be less than or equal to 9223372036854775807"},
        {401, "Unauthorized\n", "HTTP 401: Unauthorized"},
        {409, "", "HTTP 409: (empty body)"},
    };
    for (const Case &k : cases) {
        FakeOpenAIServer fake({{k.status, k.body}});
        OpenAIBackend b(host.config({{"url", fake.url()}, {"model", std::string("m")}, {"backoff_initial_s", 0.05}}));
        Completion c = run(b, chat("x"));
        CHECK(c.status != PARLEY_OK);
        CHECK(c.error == k.expected);
        CHECK(fake.posts() == 1);
    }
    FakeOpenAIServer timeout({{408, R"({"error":{"message":"request timeout"}})"}});
    OpenAIBackend b(host.config({{"url", timeout.url()}, {"model", std::string("m")}, {"backoff_initial_s", 0.05}}));
    CHECK(run(b, chat("x")).status == PARLEY_OK);
    CHECK(timeout.posts() == 2);
}

TEST_CASE("finish reasons: length, vLLM's abort and error, anything else a stop", "[openai][fake]") {
    parley::testing::TestHost host;
    json body = {{"object", "chat.completion"}, {"choices", json::array()}, {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 4}}}};
    const std::vector<std::pair<std::string, int32_t>> reasons = {
        {"stop", PARLEY_FINISH_STOP}, {"length", PARLEY_FINISH_LENGTH}, {"abort", PARLEY_FINISH_CANCELLED},
        {"error", PARLEY_FINISH_ERROR}, {"tool_calls", PARLEY_FINISH_STOP}};
    for (size_t i = 0; i < reasons.size(); ++i)
        body["choices"].push_back({{"index", i}, {"message", {{"role", "assistant"}, {"content", "x"}}}, {"finish_reason", reasons[i].first}});
    FakeOpenAIServer fake({{200, body.dump()}});
    OpenAIBackend b(host.config({{"url", fake.url()}, {"model", std::string("m")}}));
    Completion c = run(b, chat("x"));
    REQUIRE(c.choices.size() == reasons.size());
    for (size_t i = 0; i < reasons.size(); ++i) {
        INFO(reasons[i].first);
        CHECK(c.choices[i].finish_reason == reasons[i].second);
    }
}

TEST_CASE("retries exhausted and deadlines give PARLEY_ERR_UNAVAILABLE", "[openai][fake][retry]") {
    parley::testing::TestHost host;
    SECTION("always 500") {
        FakeOpenAIServer fake({}, {500, R"({"error":{"message":"boom"}})"});
        OpenAIBackend b(host.config({{"url", fake.url()}, {"model", std::string("m")}, {"backoff_initial_s", 0.01},
                                     {"max_retries", int64_t{2}}, {"cooldown_s", 0.01}}));
        Completion c = run(b, chat("x"));
        CHECK(c.status == PARLEY_ERR_UNAVAILABLE);
        CHECK(c.error.find("boom") != std::string::npos);
        CHECK(fake.posts() == 3);
    }
    SECTION("a slow server and the request's deadline") {
        FakeOpenAIServer fake({}, {200, FakeOpenAIServer::ok().body, 3.0});
        OpenAIBackend b(host.config({{"url", fake.url()}, {"model", std::string("m")}, {"timeout_s", 60.0}}));
        Request r = chat("x");
        r.deadline_s = 0.3;
        auto t0 = std::chrono::steady_clock::now();
        Completion c = run(b, r);
        CHECK(c.status == PARLEY_ERR_UNAVAILABLE);
        CHECK(c.error.find("deadline") != std::string::npos);
        CHECK(since(t0) < 2.0);
    }
    SECTION("a 429 honours Retry-After and then succeeds") {
        FakeOpenAIServer fake({{429, R"({"error":{"message":"rate limited"}})", 0, "Retry-After: 1\r\n"}});
        OpenAIBackend b(host.config({{"url", fake.url()}, {"model", std::string("m")}, {"backoff_initial_s", 0.01}}));
        auto t0 = std::chrono::steady_clock::now();
        CHECK(text_of(run(b, chat("x"))) == "fake reply");
        CHECK(since(t0) >= 0.95);
        CHECK(b.replica_stats()[0].up); // 429 is backpressure, not a dead replica
    }
}

TEST_CASE("connection refused on one replica: requests go to the other", "[openai][fake][failover]") {
    parley::testing::TestHost host;
    FakeOpenAIServer fake;
    std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
    OpenAIBackend b(host.config({{"url", std::vector<std::string>{dead, fake.url()}}, {"model", std::string("m")},
                                 {"backoff_initial_s", 0.01}, {"cooldown_s", 5.0}, {"affinity", false}}));
    std::vector<Pending> ps;
    for (int i = 0; i < 10; ++i) ps.push_back(submit(b, chat("x")));
    for (auto &p : ps) CHECK(text_of(p.get()) == "fake reply");
    auto stats = b.replica_stats();
    CHECK_FALSE(stats[0].up);
    CHECK(stats[0].succeeded == 0);
    CHECK(stats[1].succeeded == 10);
}

TEST_CASE("replicas_from: replicas that join and leave a folder while the backend runs", "[openai][fake][discovery]") {
    // What `parley serve --register DIR` servers and an evaluation reading DIR do (parley slurm --serve).
    parley::testing::TestHost host;
    FakeOpenAIServer a, b;
    const std::string dir = "/tmp/parley-openai-replicas-" + std::to_string(::getpid());
    std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
    std::ofstream(dir + "/a.url") << a.url() << "\n# a comment\n";
    OpenAIBackend be(host.config({{"url", std::vector<std::string>{}}, {"replicas_from", dir}, {"discovery_interval_s", 0.05},
                                  {"model", std::string("m")}, {"affinity", false}}));
    CHECK(text_of(run(be, chat("x"))) == "fake reply");
    auto wait_until = [&](auto pred) {
        for (int i = 0; i < 200 && !pred(); ++i) std::this_thread::sleep_for(10ms);
        return pred();
    };
    std::ofstream(dir + "/b.url") << b.url() << "\n";
    REQUIRE(wait_until([&] { return be.replica_stats().size() == 2; }));
    std::remove((dir + "/a.url").c_str()); // a leaves: retired, no new requests
    REQUIRE(wait_until([&] { return !be.replica_stats()[0].up; }));
    std::vector<Pending> ps;
    for (int i = 0; i < 6; ++i) ps.push_back(submit(be, chat("y")));
    for (auto &p : ps) CHECK(text_of(p.get()) == "fake reply");
    auto stats = be.replica_stats();
    CHECK(stats[0].succeeded == 1);
    CHECK(stats[1].succeeded == 6);
    std::ofstream(dir + "/a.url") << a.url() << "\n"; // and comes back
    CHECK(wait_until([&] { return be.replica_stats()[0].up; }));
    std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("keep-alive: connections are reused, and replaced after the server closes them while idle", "[openai][fake][keepalive]") {
    parley::testing::TestHost host;
    KeepAliveServer server;
    OpenAIBackend b(host.config({{"url", server.url()}, {"model", std::string("m")}, {"max_in_flight", int64_t{64}}, {"timeout_s", 20.0}}));
    // One request at a time: one connection, however many requests (the start-up GET
    // /v1/models may have opened one more).
    CHECK(text_of(run(b, chat("first"))) == "fake reply");
    const int connections = server.accepted();
    for (int i = 0; i < 10; ++i) CHECK(text_of(run(b, chat("one at a time"))) == "fake reply");
    CHECK(server.accepted() == connections);
    // Rounds of 24 at once, the server closing every idle connection between rounds: each round
    // opens its connections afresh (their descriptors' numbers come back) and none waits for its
    // deadline.
    for (int round = 0; round < 4; ++round) {
        server.close_idle();
        std::this_thread::sleep_for(20ms); // the closes reach the client
        std::vector<Pending> ps;
        for (int i = 0; i < 24; ++i) ps.push_back(submit(b, chat("round " + std::to_string(round))));
        for (auto &p : ps) CHECK(text_of(p.get(15s)) == "fake reply");
    }
    CHECK(server.posts() == 11 + 4 * 24);
    CHECK(server.accepted() >= connections + 4);
}

TEST_CASE("cancel: in flight and queued requests call back once with CANCELLED", "[openai][fake][cancel]") {
    parley::testing::TestHost host;
    FakeOpenAIServer fake({}, {200, FakeOpenAIServer::ok().body, 5.0});
    auto t0 = std::chrono::steady_clock::now();
    {
        auto b = std::make_unique<OpenAIBackend>(host.config({{"url", fake.url()}, {"model", std::string("m")}, {"max_in_flight", int64_t{1}}}));
        Pending in_flight = submit(*b, chat("a"));
        Pending queued = submit(*b, chat("b"));
        std::this_thread::sleep_for(100ms);
        CHECK(b->replica_stats()[0].outstanding == 1);
        CHECK(b->cancel(in_flight.id));
        CHECK(b->cancel(queued.id));
        Completion c1 = in_flight.get(), c2 = queued.get();
        CHECK(c1.status == PARLEY_ERR_CANCELLED);
        CHECK(c2.status == PARLEY_ERR_CANCELLED);
        CHECK_FALSE(b->cancel(in_flight.id)); // finished: unknown now
        CHECK_FALSE(b->cancel(987654));
        std::this_thread::sleep_for(50ms);
        CHECK(*in_flight.calls == 1);
        CHECK(*queued.calls == 1);
        CHECK(b->replica_stats()[0].outstanding == 0);

        // The destructor cancels what is left.
        Pending left1 = submit(*b, chat("c"));
        Pending left2 = submit(*b, chat("d"));
        std::this_thread::sleep_for(50ms);
        b.reset();
        CHECK(left1.get(1s).status == PARLEY_ERR_CANCELLED);
        CHECK(left2.get(1s).status == PARLEY_ERR_CANCELLED);
        CHECK(*left1.calls == 1);
    }
    CHECK(since(t0) < 4.0); // nothing waited for the 5 s replies
}

TEST_CASE("load(): requests on the wire run, the rest queue in the plugin, KV is unknown", "[openai][fake][load]") {
    parley::testing::TestHost host;
    FakeOpenAIServer fake({}, {200, FakeOpenAIServer::ok().body, 0.3});
    FakeOpenAIServer other({}, {200, FakeOpenAIServer::ok().body, 0.3});
    OpenAIBackend b(host.config({{"url", std::vector<std::string>{fake.url(), other.url()}}, {"model", std::string("m")},
                                 {"max_in_flight", int64_t{1}}, {"affinity", false}}));
    auto idle = b.load();
    REQUIRE(idle);
    CHECK(idle->queued == 0);
    CHECK(idle->running == 0);
    CHECK(idle->kv_used == -1);
    CHECK(idle->kv_capacity == -1);

    std::vector<Pending> ps;
    for (int i = 0; i < 5; ++i) ps.push_back(submit(b, chat("x")));
    auto right_after = b.load();
    REQUIRE(right_after);
    CHECK(right_after->queued + right_after->running == 5);
    // One attempt per replica on the wire (running, summed over replicas), three waiting.
    std::optional<parley::BackendLoad> at;
    for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
        at = b.load();
        if (at->running == 2) break;
        std::this_thread::sleep_for(1ms);
    }
    CHECK(at->running == 2);
    CHECK(at->queued == 3);
    int64_t outstanding = 0;
    for (auto &r : b.replica_stats()) outstanding += r.outstanding;
    CHECK(outstanding <= 2);

    for (auto &p : ps) CHECK(text_of(p.get()) == "fake reply");
    auto done = b.load();
    CHECK(done->queued == 0);
    CHECK(done->running == 0);
}

TEST_CASE("the plugin through the C ABI", "[openai][abi]") {
    parley::testing::TestHost host;
    FakeOpenAIServer fake;
    std::string why;
    void *lib = nullptr;
    const parley_plugin_desc *d = parley::testing::load_plugin(std::string(PARLEY_PLUGIN_DIR) + "/libparley-openai.so", host, &why, &lib);
    INFO(why);
    REQUIRE(d != nullptr);
    parley_error err{};
    CHECK(std::string(d->name) == "openai");
    REQUIRE(d->n_components == 1);
    const parley_component *comp = d->components[0];
    CHECK(std::string(comp->name) == "backend");
    CHECK(comp->kind == PARLEY_KIND_BACKEND);
    CHECK(comp->version == 3);
    const parley_param *url = parley::testing::find_param(comp, "url");
    REQUIRE(url);
    CHECK((url->flags & PARLEY_PARAM_REQUIRED) != 0);
    auto *vt = static_cast<const parley_backend_vtable *>(comp->vtable);
    void *self = nullptr;
    auto cfg = host.config({{"url", fake.url()}});
    REQUIRE(vt->create(host.api(), cfg.raw(), &self, &err) == PARLEY_OK);

    auto replica_of = reinterpret_cast<parley_openai_replica_of_fn>(vt->get_proc_address(self, PARLEY_OPENAI_REPLICA_OF));
    REQUIRE(replica_of != nullptr);
    CHECK(replica_of(self, 77) == 0);
    CHECK(vt->get_proc_address(self, "no_such_thing") == nullptr);

    struct Got {
        std::mutex mu;
        std::condition_variable cv;
        int calls = 0;
        parley_status status = -1;
        std::string text;
        uint64_t id = 0;
    } got;
    parley_message m[1] = {{{"user", 4}, {"hi", 2}}};
    parley_request req{};
    req.struct_size = sizeof req;
    req.messages = m;
    req.n_messages = 1;
    req.n = 1;
    uint64_t id = 0;
    REQUIRE(vt->submit(self, &req, [](void *u, const parley_completion *c) {
        auto *g = static_cast<Got *>(u);
        std::lock_guard<std::mutex> l(g->mu);
        ++g->calls;
        g->status = c->status;
        g->id = c->request_id;
        if (c->n_choices) g->text.assign(c->choices[0].text.data, c->choices[0].text.size);
        g->cv.notify_all();
    }, &got, &id, &err) == PARLEY_OK);
    {
        std::unique_lock<std::mutex> l(got.mu);
        REQUIRE(got.cv.wait_for(l, 10s, [&] { return got.calls > 0; }));
        CHECK(got.status == PARLEY_OK);
        CHECK(got.text == "fake reply");
        CHECK(got.id == id);
    }
    auto stats = reinterpret_cast<parley_openai_replica_stats_fn>(vt->get_proc_address(self, PARLEY_OPENAI_REPLICA_STATS));
    REQUIRE(stats != nullptr);
    std::string js;
    CHECK(stats(self, parley::testing::TestHost::buffer(js)) == PARLEY_OK);
    CHECK(json::parse(js)[0]["succeeded"] == 1);
    parley_backend_info info{};
    info.struct_size = sizeof info;
    REQUIRE(vt->get_info(self, &info, &err) == PARLEY_OK);
    CHECK(std::string(info.model.data, info.model.size) == "fake-model");
    // ABI 1.2: the load through get_load (the request above was delivered).
    auto load = parley::testing::query_load(vt, self);
    REQUIRE(load);
    CHECK(load->queued == 0);
    CHECK(load->running == 0);
    CHECK(load->kv_used == -1);
    CHECK(load->kv_capacity == -1);
    vt->destroy(self);
    CHECK(got.calls == 1);
    ::dlclose(lib);
}

// =============================================================================================
// Real llama-server
// =============================================================================================

TEST_CASE("llama-server: greedy chat, raw completion, n, stop, max_tokens, concurrency", "[openai][llama]") {
    NEED_LLAMA_SERVER();
    parley::testing::TestHost host;
    LlamaServer server;
    OpenAIBackend b(host.config({{"url", server.url()}, {"timeout_s", 30.0}}));
    CHECK(b.info().model.find("stories260K") != std::string::npos);
    CHECK(b.info().context_size == 1024); // per slot: -c 4096 / -np 4

    // Greedy chat is deterministic; the repeated prompt is served from the server's prefix cache.
    Completion a = run(b, chat("Tell me a story about a cat.", 32));
    Completion a2 = run(b, chat("Tell me a story about a cat.", 32));
    CHECK_FALSE(text_of(a).empty());
    CHECK(text_of(a) == text_of(a2));
    CHECK(a.prompt_tokens > 10);
    CHECK(a.completion_tokens > 0);
    CHECK(a2.cached_tokens > 0);

    // A raw prompt goes to /v1/completions without a chat template.
    Completion story = run(b, raw("Once upon a time", 24));
    CHECK(text_of(story).rfind(kGolden, 0) == 0);

    // Stop strings and max_tokens.
    Request st = raw("Once upon a time", 40);
    st.stop = {"Lily"};
    Completion s = run(b, st);
    CHECK(text_of(s) == ", there was a little girl named ");
    CHECK(s.choices[0].finish_reason == PARLEY_FINISH_STOP);
    Completion len = run(b, raw("Once upon a time", 5));
    CHECK(len.choices.at(0).finish_reason == PARLEY_FINISH_LENGTH);
    CHECK(len.completion_tokens == 5);

    // A prompt longer than the slot's context.
    std::string longp;
    for (int i = 0; i < 300; ++i) longp += "Once upon a time there was a cat. ";
    Completion over = run(b, raw(longp, 4));
    CHECK(over.status == PARLEY_ERR_CONTEXT_OVERFLOW);
    CHECK(over.error.find("context") != std::string::npos);

    // n > 1.
    Request many = chat("Tell me a story about a dog.", 16);
    many.n = 3;
    many.temperature = 0.8;
    many.seed = 7;
    Completion m = run(b, many);
    REQUIRE(m.status == PARLEY_OK);
    CHECK(m.choices.size() == 3);

    // More concurrent requests than max_in_flight: the plugin queues, all complete.
    std::vector<Pending> ps;
    for (int i = 0; i < 12; ++i) ps.push_back(submit(b, raw("Once upon a time", 24)));
    for (auto &p : ps) CHECK(text_of(p.get()).rfind(kGolden, 0) == 0);
    // max_in_flight unset: the limit came from llama-server's slot count (GET /props).
    CHECK(b.replica_stats()[0].max_in_flight == 4);
}

TEST_CASE("llama-server: cancelling long generations", "[openai][llama][cancel]") {
    NEED_LLAMA_SERVER();
    parley::testing::TestHost host;
    LlamaServer server;
    OpenAIBackend b(host.config({{"url", server.url()}, {"max_in_flight", int64_t{4}}, {"model", std::string("m")}}));
    std::vector<Pending> ps;
    for (int i = 0; i < 8; ++i) {
        Request r = raw("Once upon a time", 900);
        r.extra_json = R"({"ignore_eos": true})";
        ps.push_back(submit(b, std::move(r)));
    }
    std::this_thread::sleep_for(30ms);
    for (auto &p : ps) b.cancel(p.id);
    int cancelled = 0;
    for (auto &p : ps) {
        Completion c = p.get(10s);
        CHECK((c.status == PARLEY_ERR_CANCELLED || c.status == PARLEY_OK));
        cancelled += c.status == PARLEY_ERR_CANCELLED;
    }
    CHECK(cancelled >= 4); // at least the queued ones
    std::this_thread::sleep_for(50ms);
    for (auto &p : ps) CHECK(*p.calls == 1);
    CHECK(b.replica_stats()[0].outstanding == 0);
    // The backend and server still work afterwards.
    CHECK(text_of(run(b, raw("Once upon a time", 12))).rfind(", there was", 0) == 0);
}

TEST_CASE("llama-server: all turns of a conversation go to one replica", "[openai][llama][affinity]") {
    NEED_LLAMA_SERVER();
    parley::testing::TestHost host;
    LlamaServer s0, s1;
    OpenAIBackend b(host.config({{"url", std::vector<std::string>{s0.url(), s1.url()}}}));
    std::set<int> preferred;
    for (uint64_t conv = 1; conv <= 24; ++conv) {
        int want = b.replica_of(conv);
        preferred.insert(want);
        std::vector<parley::Message> history = {{"system", "You are a storyteller."}};
        for (int turn = 0; turn < 3; ++turn) {
            history.push_back({"user", "Go on, part " + std::to_string(turn) + "."});
            Request r;
            r.messages = history;
            r.temperature = 0;
            r.max_tokens = 8;
            r.conversation = conv;
            r.agent = static_cast<uint32_t>(turn % 2);
            auto before = b.replica_stats();
            Completion c = run(b, r);
            auto after = b.replica_stats();
            history.push_back({"assistant", text_of(c)});
            INFO("conversation " << conv << " turn " << turn);
            CHECK(after[want].succeeded == before[want].succeeded + 1);
            CHECK(after[1 - want].succeeded == before[1 - want].succeeded);
        }
    }
    CHECK(preferred.size() == 2);
}

TEST_CASE("llama-server: a replica killed mid-run loses no request", "[openai][llama][failover]") {
    NEED_LLAMA_SERVER();
    parley::testing::TestHost host;
    LlamaServer s0, s1;
    LlamaServer *servers[2] = {&s0, &s1};
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    std::vector<Completion> results(40);
    OpenAIBackend b(host.config({{"url", std::vector<std::string>{s0.url(), s1.url()}}, {"max_in_flight", int64_t{4}},
                                 {"backoff_initial_s", 0.05}, {"cooldown_s", 0.5}, {"timeout_s", 60.0}}));
    auto t_start = std::chrono::steady_clock::now();
    for (int i = 0; i < 40; ++i) {
        Request r = chat("Tell me story number " + std::to_string(i) + ".", 100, static_cast<uint64_t>(1 + i % 8));
        r.extra_json = R"({"ignore_eos": true})";
        b.submit(std::move(r), [&, i](Completion &&c) {
            std::lock_guard<std::mutex> l(mu);
            results[i] = std::move(c);
            ++done;
            cv.notify_all();
        });
    }
    int victim = -1;
    int done_at_kill = 0; // read under the lock: the backend's thread counts `done`
    {
        std::unique_lock<std::mutex> l(mu);
        REQUIRE(cv.wait_for(l, 30s, [&] { return done >= 6; }));
        done_at_kill = done;
    }
    auto stats = b.replica_stats();
    victim = stats[0].outstanding >= stats[1].outstanding ? 0 : 1;
    INFO("killing replica " << victim << " with " << stats[victim].outstanding << " in flight after " << done_at_kill << " completions");
    REQUIRE(stats[victim].outstanding > 0);
    servers[victim]->kill();
    double t_kill = since(t_start);
    {
        std::unique_lock<std::mutex> l(mu);
        REQUIRE(cv.wait_for(l, 45s, [&] { return done == 40; }));
    }
    int ok = 0;
    for (auto &c : results) {
        INFO(c.error);
        CHECK(c.status == PARLEY_OK);
        ok += c.status == PARLEY_OK && !c.choices.empty() && !c.choices[0].text.empty();
    }
    CHECK(ok == 40);
    if (std::getenv("PARLEY_TEST_VERBOSE")) std::fprintf(stderr, "kill at %.2f s, all done at %.2f s\n", t_kill, since(t_start));
    if (ok != 40 || std::getenv("PARLEY_TEST_VERBOSE"))
        for (auto &line : host.logs()) std::fprintf(stderr, "%s\n", line.c_str());
    auto after = b.replica_stats();
    CHECK(after[victim].failed >= 1);
    CHECK_FALSE(after[victim].up);
    CHECK(after[0].succeeded + after[1].succeeded == 40);
}
