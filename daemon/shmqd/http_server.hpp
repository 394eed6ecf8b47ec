// http_server.hpp - shmqd's HTTP server, on libmicrohttpd: one thread per
// connection (a long-poll blocks only its own), keep-alive, an idle timeout,
// a connection cap past which a request gets 503, and a body size limit past
// which it gets 413. Handlers run on the connection's thread: they must not
// touch anything the supervision loop owns (they get snapshots, or their own
// queue handles). The listening socket is made by the caller (listen_tcp,
// listen_unix) and owned by the server once started.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

struct MHD_Daemon;

namespace shmqd {

struct HttpRequest {
    std::string method, path;                  // path without the query string
    std::map<std::string, std::string> query;  // decoded
    std::map<std::string, std::string> headers; // names lower-case
    std::string body;
};

struct HttpResponse {
    int status = 200;
    std::string type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest &)>;

struct HttpLimits {
    unsigned max_connections = 128; // past it: 503 (and MHD refuses past twice that)
    unsigned idle_timeout_s = 30;   // a connection silent this long is closed
    size_t max_body = 16 << 20;     // bytes; past it: 413
};

class HttpServer {
public:
    HttpServer() = default;
    HttpServer(const HttpServer &) = delete;
    HttpServer &operator=(const HttpServer &) = delete;
    ~HttpServer() { stop(); }

    // Serve `listen_fd` (listening already) with `handler`; the fd is the
    // server's from now on, also on failure. 0 or an errno value, *why.
    int start(int listen_fd, HttpHandler handler, HttpLimits limits, std::string *why);
    // Stop accepting, let requests in progress finish answering (up to `grace_ms`: a
    // handler that must end sooner watches its own flag, as a long-poll
    // does), then close every connection and the socket.
    void stop(int grace_ms = 1000);

    // For the libmicrohttpd callbacks (http_server.cpp).
    struct Access;

private:
    MHD_Daemon *mhd_ = nullptr;
    HttpHandler handler_;
    HttpLimits limits_;
    std::atomic<unsigned> open_{0};    // connections open now
    std::atomic<unsigned> running_{0}; // requests between their handler's start and their answer's end
};

// A listening TCP socket on "host:port" (net_address.hpp); *bound gets the
// address it got (port 0 picks one). 0 or an errno value, *why.
int listen_tcp(const std::string &address, int *fd, std::string *bound, std::string *why);
// A listening Unix socket at `path` with file mode `mode` (a stale socket file
// left by a dead shmqd is replaced; the caller holds the instance lock).
int listen_unix(const std::string &path, mode_t mode, int *fd, std::string *why);

// A JSON error body {"error": code, "message": ...} with its status.
HttpResponse json_error(int status, const std::string &code, const std::string &message);

} // namespace shmqd
