// http_client.hpp - a small HTTP/1.1 client for the daemon tests: one request
// per connection (Connection: close), over TCP on 127.0.0.1 or a Unix socket,
// read to EOF within a deadline. Enough to check status, headers and bodies.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace dtest {

struct HttpReply {
    int status = -1; // -1: no answer (connect failed, closed without one, deadline)
    bool connected = false; // false: the connect itself failed (refused, no socket file)
    std::map<std::string, std::string> headers; // names lower-case
    std::string body;
};

// Where a server listens: a TCP port on 127.0.0.1, or a Unix socket path.
struct Endpoint {
    int port = -1;
    std::string unix_path;
};

// A connected socket to `e`, or -1.
int connect_to(const Endpoint &e);

// Send `method target` with `headers` ("Name: value" lines, no CRLF) and
// `body`; wait up to `deadline` for the whole answer.
HttpReply http_request(const Endpoint &e, const std::string &method, const std::string &target,
                       const std::string &body = "", const std::map<std::string, std::string> &headers = {},
                       std::chrono::milliseconds deadline = std::chrono::seconds(10));

// Parse one raw answer (status line, headers, body).
HttpReply parse_reply(const std::string &raw);

} // namespace dtest
