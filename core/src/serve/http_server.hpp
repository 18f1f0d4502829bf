// A small asynchronous HTTP/1.1 server (Boost.Beast) for `parley serve`: keep-alive connections,
// one request at a time per connection, replies that may come later from any thread. A thousand
// idle or waiting connections cost a socket and a buffer each, not a thread.
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

// Called exactly once per request, from any thread.
using Reply = std::function<void(HttpResponse)>;
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
