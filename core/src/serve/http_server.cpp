#include "http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <mutex>
#include <sstream>
#include <atomic>
#include <chrono>
#include <cctype>
#include <optional>
#include <thread>

namespace parley::serve {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kBodyLimit = 64u << 20; // prompts of a long context, with room to spare

// One request's watch for its client leaving: the handler's hook, and whether the client went
// (or the reply completed) first. Shared by the session (I/O strand) and the handler's threads.
class DisconnectWatch {
  public:
    void set_hook(std::function<void()> f) {
        std::unique_lock lock(mu_);
        if (complete_) return;
        if (!gone_) {
            hook_ = std::move(f);
            return;
        }
        lock.unlock();
        f();
    }
    void client_gone() {
        std::unique_lock lock(mu_);
        if (gone_ || complete_) return;
        gone_ = true;
        auto f = std::move(hook_);
        lock.unlock();
        if (f) f();
    }
    void reply_complete() {
        std::lock_guard lock(mu_);
        complete_ = true;
        hook_ = nullptr;
    }

  private:
    std::mutex mu_;
    std::function<void()> hook_;
    bool gone_ = false, complete_ = false;
};

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(tcp::socket socket, const Handler &handler, std::atomic<int64_t> &busy)
        : stream_(std::move(socket)), handler_(handler), busy_(busy) {}

    void start() { net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); }); }

  private:
    void read() {
        parser_.emplace();
        parser_->body_limit(kBodyLimit);
        stream_.expires_never(); // idle keep-alive connections wait for their client
        http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec) return close();
        ++busy_; // until the reply is written
        auto req = parser_->release();
        keep_alive_ = req.keep_alive();
        version_ = req.version();
        HttpRequest r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (auto &f : req) {
            std::string name(f.name_string());
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            r.headers[name] = std::string(f.value());
        }
        r.body = std::move(req.body());
        watch_ = std::make_shared<DisconnectWatch>();
        watch_client(watch_);
        handler_(std::move(r), Reply(std::make_shared<SessionSink>(shared_from_this(), watch_)));
    }

    // While a reply is pending nothing is read from the socket, so a client that closes its
    // connection would go unnoticed until the reply is written. Wait for the socket to turn
    // readable instead, then look without reading: end of stream or an error is the client's FIN
    // or RST; bytes are a pipelined next request (left for the next read; the watch ends there);
    // nothing yet is a stale readiness event (the request's own bytes, already read, can still
    // wake this wait when they arrived before the socket was registered): wait again.
    void watch_client(std::shared_ptr<DisconnectWatch> w) {
        stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(), w](beast::error_code ec) {
            if (ec == net::error::operation_aborted || w != self->watch_) return;
            if (!ec) {
                char byte;
                const ssize_t n = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                if (n > 0) return;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->watch_client(w);
            }
            w->client_gone();
        });
    }

    // Every reply, whole or streamed, goes out as raw bytes through one queue on the strand.
    struct SessionSink : Reply::Sink {
        SessionSink(std::shared_ptr<Session> s, std::shared_ptr<DisconnectWatch> w) : session(std::move(s)), watch(std::move(w)) {}
        void whole(HttpResponse res) override {
            post([res = std::move(res)](Session &s) mutable { s.write_whole(std::move(res)); });
        }
        void begin(HttpResponse head) override {
            post([head = std::move(head)](Session &s) mutable { s.write_head(std::move(head)); });
        }
        void chunk(std::string data) override {
            if (data.empty()) return; // an empty chunk would end the body
            post([data = std::move(data)](Session &s) mutable { s.write_chunk(std::move(data)); });
        }
        void end() override {
            post([](Session &s) { s.write_end(); });
        }
        void on_disconnect(std::function<void()> f) override { watch->set_hook(std::move(f)); }
        template <class F> void post(F &&f) {
            net::post(session->stream_.get_executor(), [s = session, f = std::forward<F>(f)]() mutable { f(*s); });
        }
        std::shared_ptr<Session> session;
        std::shared_ptr<DisconnectWatch> watch;
    };

    template <class Body> void set_head(http::response<Body> &msg, const HttpResponse &res) {
        msg.set(http::field::server, "parley");
        msg.set(http::field::content_type, res.content_type);
        for (auto &[k, v] : res.headers) msg.set(k, v);
        msg.keep_alive(keep_alive_);
    }

    void write_whole(HttpResponse res) {
        http::response<http::string_body> msg(static_cast<http::status>(res.status), version_);
        set_head(msg, res);
        msg.body() = std::move(res.body);
        msg.prepare_payload();
        std::ostringstream out;
        out << msg;
        enqueue(out.str(), true);
    }

    void write_head(HttpResponse head) {
        http::response<http::empty_body> msg(static_cast<http::status>(head.status), version_);
        set_head(msg, head);
        msg.chunked(true);
        std::ostringstream out;
        out << msg.base();
        enqueue(out.str(), false);
    }

    void write_chunk(std::string data) { enqueue(fmt::format("{:x}\r\n", data.size()) + data + "\r\n", false); }
    void write_end() { enqueue("0\r\n\r\n", true); }

    // Bytes to send; `last`: the reply is complete once they are written.
    void enqueue(std::string bytes, bool last) {
        if (broken_) {
            if (last) --busy_;
            return;
        }
        queue_.push_back({std::move(bytes), last});
        if (queue_.size() == 1) write_next();
    }

    void write_next() {
        net::async_write(stream_, net::buffer(queue_.front().bytes), [self = shared_from_this()](beast::error_code ec, size_t) {
            const bool last = self->queue_.front().last;
            self->queue_.pop_front();
            if (last) --self->busy_;
            if (ec) return self->fail();
            if (last) {
                if (self->watch_) self->watch_->reply_complete();
                self->watch_.reset();
                if (!self->keep_alive_) return self->close();
                self->read();
            }
            if (!self->queue_.empty()) self->write_next();
        });
    }

    // The client went away mid-reply: what is queued or still to come is dropped.
    void fail() {
        broken_ = true;
        if (watch_) watch_->client_gone();
        for (auto &w : queue_)
            if (w.last) --busy_;
        queue_.clear();
        close();
    }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    struct Write {
        std::string bytes;
        bool last;
    };
    beast::tcp_stream stream_;
    std::deque<Write> queue_; // on the strand
    std::shared_ptr<DisconnectWatch> watch_; // the pending request's (on the strand)
    bool broken_ = false;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    const Handler &handler_;
    std::atomic<int64_t> &busy_;
    bool keep_alive_ = true;
    unsigned version_ = 11;
};

} // namespace

struct HttpServer::Impl {
    net::io_context ioc;
    tcp::acceptor acceptor{net::make_strand(ioc)};
    // Keeps the I/O threads running while no socket operation is pending (every request waiting
    // on the backend, the acceptor closed during a drain): replies are posted later.
    net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
    Handler handler;
    std::vector<std::thread> threads;
    std::atomic<int64_t> busy{0}; // requests read whose reply is not written yet
    bool stopped = false;

    void accept() {
        acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
            if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
                std::make_shared<Session>(std::move(socket), handler, busy)->start();
            }
            accept();
        });
    }
};

HttpServer::HttpServer(const std::string &host, int port, int threads, Handler handler) : impl_(std::make_unique<Impl>()) {
    impl_->handler = std::move(handler);
    beast::error_code ec;
    tcp::endpoint ep(net::ip::make_address(host, ec), static_cast<unsigned short>(port));
    if (ec) throw std::runtime_error(fmt::format("parley serve: '{}' is not an IP address ({})", host, ec.message()));
    auto &a = impl_->acceptor;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error(fmt::format("parley serve: cannot listen on {}:{}: {}", host, port, ec.message()));
    impl_->accept();
    for (int i = 0; i < std::max(1, threads); ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::stop_accepting() {
    net::post(impl_->acceptor.get_executor(), [this] {
        beast::error_code ec;
        impl_->acceptor.close(ec);
    });
}

void HttpServer::stop(double grace_s) {
    if (impl_->stopped) return;
    impl_->stopped = true;
    stop_accepting();
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
    while (impl_->busy > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    impl_->work.reset();
    impl_->ioc.stop();
    for (auto &t : impl_->threads) t.join();
}

} // namespace parley::serve
