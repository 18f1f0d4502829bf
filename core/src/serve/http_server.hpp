// A small asynchronous HTTP/1.1 server (Boost.Beast) for `parley serve`: keep-alive connections,
// one request at a time per connection, replies that may come later from any thread, whole or
// streamed in chunks (server-sent events). A thousand idle or waiting connections cost a socket
// and a buffer each, not a thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace parley::serve {

struct HttpRequest {
    std::string method;                        // "GET", "POST", ...
    std::string target;                        // path and query, e.g. "/v1/models"
    std::map<std::string, std::string> headers; // names in lower case
    std::string body;

    const std::string *header(const std::string &lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? nullptr : &it->second;
    }
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers; // extra headers
};

// How a handler answers a request, from any thread: either once as a whole, `reply(response)`, or
// as a stream: `begin(head)` (status, content type and headers; its body is ignored), any number
// of `chunk(data)`, then `end()` (Transfer-Encoding: chunked). Calls for one request must not
// overlap; they are written in the order made. Chunks of a client that has gone are dropped.
// `on_disconnect(f)`: `f` runs once (on an I/O thread) if the client closes its connection before
// the reply is complete, at once if it already has; never after a complete reply.
// A Reply holds its connection: every copy must be gone before the HttpServer is destroyed (a
// reply made after stop() is dropped; `parley serve` answers or cancels every backend request
// between the two).
class Reply {
  public:
    struct Sink {
        virtual ~Sink() = default;
        virtual void whole(HttpResponse response) = 0;
        virtual void begin(HttpResponse head) = 0;
        virtual void chunk(std::string data) = 0;
        virtual void end() = 0;
        virtual void on_disconnect(std::function<void()>) {} // a sink without a connection: never
    };
    Reply() = default;
    explicit Reply(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}

    void operator()(HttpResponse response) const { sink_->whole(std::move(response)); }
    void begin(HttpResponse head) const { sink_->begin(std::move(head)); }
    void chunk(std::string data) const { sink_->chunk(std::move(data)); }
    void end() const { sink_->end(); }
    void on_disconnect(std::function<void()> f) const { sink_->on_disconnect(std::move(f)); }

  private:
    std::shared_ptr<Sink> sink_;
};
using Handler = std::function<void(HttpRequest &&, Reply)>;

class HttpServer {
  public:
    // Binds host:port (port 0: any free port) and serves on `threads` I/O threads.
    // Throws std::runtime_error naming the address when it cannot bind.
    HttpServer(const std::string &host, int port, int threads, Handler handler);
    ~HttpServer(); // stops and joins
    HttpServer(const HttpServer &) = delete;
    HttpServer &operator=(const HttpServer &) = delete;

    int port() const;
    // No new connections; open ones keep being served.
    void stop_accepting();
    // Stops accepting, lets replies already due be written (up to `grace_s`), then closes
    // everything and joins the I/O threads.
    void stop(double grace_s = 5);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace parley::serve
