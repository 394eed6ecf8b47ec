// metrics_http.hpp - the metrics endpoint: a tiny HTTP/1.0 server on its own
// thread that answers GET /metrics from a MetricsBoard and 404 to anything
// else. One connection at a time, each with a short deadline, so a stuck or
// hostile client costs at most that deadline.
#pragma once

#include "metrics.hpp"
#include "net_address.hpp"

#include <string>
#include <thread>

namespace shmqd {

class MetricsServer {
public:
    explicit MetricsServer(const MetricsBoard &board) : board_(board) {}
    MetricsServer(const MetricsServer &) = delete;
    MetricsServer &operator=(const MetricsServer &) = delete;
    ~MetricsServer() { stop(); }

    // Bind and listen on `address` ("127.0.0.1:0" picks a free port) and
    // start the thread. False with *why on failure.
    int start(const std::string &address, std::string *why); // 0 or an errno value
    void stop();
    // Where it listens, e.g. "127.0.0.1:40123" (valid after start).
    const std::string &bound() const { return bound_; }

private:
    void run();
    void serve(int fd);

    const MetricsBoard &board_;
    int listen_fd_ = -1;
    int stop_fd_ = -1; // an eventfd that ends run()
    std::thread thread_;
    std::string bound_;
};

} // namespace shmqd
