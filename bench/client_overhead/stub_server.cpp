// stub_server: an instant OpenAI-compatible loopback server for measuring clients (a TEST DOUBLE:
// no model). One thread, epoll, HTTP/1.1 keep-alive; every POST /v1/chat/completions gets the same
// small chat completion, GET /v1/models lists "stub", GET /health answers 200. It parses only the
// request line, Content-Length and Connection, so a request costs it a read, a write and an
// epoll_wait share: far less than any client's cost, which the benchmark shows by reporting this
// process's CPU seconds next to the client's.
//
// Usage: stub_server [--port 0] [--port-file F]   (prints "PORT <n>"; stops on SIGTERM/SIGINT)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

const std::string kCompletion =
    R"({"id":"chatcmpl-stub","object":"chat.completion","created":0,"model":"stub","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"I think so. The correct answer is (A)."},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":120,"completion_tokens":9,"total_tokens":129}})";
const std::string kModels = R"({"object":"list","data":[{"id":"stub","object":"model","owned_by":"stub"}]})";

std::string response(int status, const std::string &body, bool keep_alive) {
    const char *reason = status == 200 ? "OK" : "Not Found";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + (keep_alive ? "\r\n" : "\r\nConnection: close\r\n") + "\r\n" + body;
}

struct Conn {
    std::string in, out;
    bool close_after = false; // Connection: close, or the peer closed its side
    bool want_out = false;    // EPOLLOUT registered (a reply did not fit the socket buffer)
};

bool iequals_prefix(std::string_view line, std::string_view name) {
    if (line.size() < name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
    return true;
}

// Answers every complete request in c.in.
void serve(Conn &c, const std::string (&canned)[2][3]) {
    for (;;) {
        size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) return;
        std::string_view head(c.in.data(), end);
        size_t length = 0;
        bool keep_alive = true;
        size_t pos = head.find("\r\n");
        const std::string_view request_line = head.substr(0, pos);
        while (pos != std::string_view::npos) {
            size_t next = head.find("\r\n", pos + 2);
            std::string_view line = head.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
            if (iequals_prefix(line, "content-length:")) length = std::strtoul(std::string(line.substr(15)).c_str(), nullptr, 10);
            else if (iequals_prefix(line, "connection:") && line.find("close") != std::string_view::npos) keep_alive = false;
            pos = next;
        }
        if (c.in.size() < end + 4 + length) return; // the body is still coming
        int which = 2;                                   // 404
        if (request_line.rfind("POST /v1/chat/completions", 0) == 0) which = 0;
        else if (request_line.rfind("GET /v1/models", 0) == 0) which = 1;
        else if (request_line.rfind("GET /health", 0) == 0) which = 1;
        c.out += canned[keep_alive ? 0 : 1][which];
        c.in.erase(0, end + 4 + length);
        if (!keep_alive) {
            c.close_after = true;
            return;
        }
    }
}

} // namespace

int main(int argc, char **argv) {
    int port = 0;
    std::string port_file;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
        else if (a == "--port-file" && i + 1 < argc) port_file = argv[++i];
        else {
            std::fprintf(stderr, "usage: stub_server [--port N] [--port-file F]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    const std::string canned[2][3] = {
        {response(200, kCompletion, true), response(200, kModels, true), response(404, R"({"error":"not found"})", true)},
        {response(200, kCompletion, false), response(200, kModels, false), response(404, R"({"error":"not found"})", false)}};

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(lfd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || listen(lfd, 65535) != 0) {
        std::perror("stub_server: bind/listen");
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(lfd, reinterpret_cast<sockaddr *>(&addr), &len);
    port = ntohs(addr.sin_port);
    if (!port_file.empty()) {
        std::string tmp = port_file + ".tmp";
        if (FILE *f = std::fopen(tmp.c_str(), "w")) {
            std::fprintf(f, "%d\n", port);
            std::fclose(f);
            std::rename(tmp.c_str(), port_file.c_str());
        }
    }
    std::printf("PORT %d\n", port);
    std::fflush(stdout);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    std::unordered_map<int, Conn> conns;
    std::vector<epoll_event> events(4096);
    char buf[65536];
    auto drop = [&](int fd) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        conns.erase(fd);
    };
    while (!g_stop) {
        int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (int c; (c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLRDHUP;
                    cev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    conns[c];
                }
                continue;
            }
            auto it = conns.find(fd);
            if (it == conns.end()) continue;
            Conn &c = it->second;
            bool dead = false;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP)) {
                for (;;) {
                    ssize_t r = read(fd, buf, sizeof buf);
                    if (r > 0) {
                        c.in.append(buf, static_cast<size_t>(r));
                        if (static_cast<size_t>(r) < sizeof buf) break;
                    } else if (r == 0) {
                        c.close_after = true; // answer what came, then close
                        break;
                    } else {
                        if (errno != EAGAIN && errno != EINTR) dead = true;
                        break;
                    }
                }
                serve(c, canned);
            }
            if (!dead && !c.out.empty()) {
                ssize_t w = write(fd, c.out.data(), c.out.size());
                if (w > 0) c.out.erase(0, static_cast<size_t>(w));
                else if (w < 0 && errno != EAGAIN) dead = true;
            }
            if (!dead && c.out.empty() == c.want_out) { // register EPOLLOUT only while a reply waits
                c.want_out = !c.out.empty();
                epoll_event cev{};
                cev.events = EPOLLIN | EPOLLRDHUP | (c.want_out ? EPOLLOUT : 0u);
                cev.data.fd = fd;
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
            }
            if (!dead && c.out.empty() && c.close_after) dead = true;
            if (!dead && (events[i].events & (EPOLLHUP | EPOLLERR))) dead = true;
            if (dead) drop(fd);
        }
    }
    for (auto &[fd, c] : conns) close(fd);
    return 0;
}
