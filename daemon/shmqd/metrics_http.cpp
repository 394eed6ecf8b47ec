// metrics_http.cpp - the HTTP side of the metrics endpoint (metrics_http.hpp).
// It reads the request line and headers up to a blank line (or 8 KiB, or one
// second), answers, and closes: HTTP/1.0 semantics, no keep-alive.
#include "metrics_http.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shmqd {

namespace {

constexpr size_t kMaxRequest = 8192;
constexpr int kRequestTimeoutMs = 1000;

// Read until the end of the headers, the size limit, EOF or the deadline.
std::string read_request(int fd) {
    std::string req;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
    char buf[1024];
    while (req.size() < kMaxRequest && req.find("\r\n\r\n") == std::string::npos &&
           req.find("\n\n") == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, size_t(n));
    }
    return req;
}

void send_all(int fd, const std::string &data) {
    size_t off = 0;
    while (off < data.size()) {
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, kRequestTimeoutMs) <= 0) return;
        ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += size_t(n);
    }
}

std::string response(const char *status, const char *type, const std::string &body) {
    return std::string("HTTP/1.0 ") + status + "\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// "GET /metrics HTTP/1.1" (a query string is ignored) -> true.
bool wants_metrics(const std::string &req) {
    size_t eol = req.find_first_of("\r\n");
    std::string line = req.substr(0, eol);
    if (line.rfind("GET ", 0) != 0) return false;
    size_t end = line.find(' ', 4);
    std::string target = line.substr(4, end == std::string::npos ? std::string::npos : end - 4);
    target = target.substr(0, target.find('?'));
    return target == "/metrics";
}

} // namespace

int MetricsServer::start(const std::string &address, std::string *why) {
    Address a;
    if (int rc = parse_address(address, &a, why); rc != 0) return rc;
    listen_fd_ = socket(a.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (listen_fd_ < 0 || setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listen_fd_, reinterpret_cast<sockaddr *>(&a.addr), a.len) != 0 || listen(listen_fd_, 16) != 0) {
        int err = errno;
        *why = std::string("cannot listen on ") + address + ": " + strerror(err);
        stop();
        return err;
    }
    sockaddr_storage got{};
    socklen_t len = sizeof got;
    getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&got), &len);
    bound_ = format_address(got);
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    if (stop_fd_ < 0) {
        int err = errno;
        *why = std::string("eventfd: ") + strerror(err);
        stop();
        return err;
    }
    thread_ = std::thread([this] { run(); });
    return 0;
}

void MetricsServer::stop() {
    if (thread_.joinable()) {
        uint64_t one = 1;
        if (write(stop_fd_, &one, sizeof one) != ssize_t(sizeof one)) spdlog::warn("metrics: cannot stop thread");
        thread_.join();
    }
    if (listen_fd_ >= 0) close(listen_fd_);
    if (stop_fd_ >= 0) close(stop_fd_);
    listen_fd_ = stop_fd_ = -1;
}

void MetricsServer::run() {
    for (;;) {
        pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            spdlog::error("metrics: poll: {}", strerror(errno));
            return;
        }
        if (p[1].revents != 0) return;
        if ((p[0].revents & POLLIN) == 0) continue;
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM))
            poll(nullptr, 0, 10); // out of resources: do not spin on the pending connection
        if (fd < 0) continue;
        serve(fd);
        close(fd);
    }
}

void MetricsServer::serve(int fd) {
    std::string req = read_request(fd);
    if (wants_metrics(req))
        send_all(fd, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render_metrics(board_.read())));
    else
        send_all(fd, response("404 Not Found", "text/plain; charset=utf-8", "only GET /metrics is served here\n"));
    shutdown(fd, SHUT_WR);
}

} // namespace shmqd
