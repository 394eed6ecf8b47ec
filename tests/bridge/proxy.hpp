// proxy.hpp - a TCP proxy on loopback between the bridge and the broker, so
// a test can cut every connection at once (both ends see a reset).
#pragma once

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

namespace bridge_test {

class Proxy {
public:
    explicit Proxy(int target_port);
    ~Proxy();
    int port() const { return port_; }
    int cut(); // reset every open connection; returns how many were cut
    // Stop serving every open connection, as a hung peer would: nothing is
    // read from or written to either end any more (the kernel's buffers fill
    // and then its window shuts). New connections are served as before.
    void freeze();
    int accepted() const { return accepted_; }

private:
    void loop();
    int listen_fd_ = -1, port_ = 0, target_;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::atomic<bool> cut_{false}, freeze_{false};
    std::atomic<int> cut_count_{0};
    std::vector<std::pair<int, int>> pairs_; // client side, broker side; the loop's own
    std::vector<std::pair<int, int>> frozen_; // no longer polled; reset when the proxy ends
    void reset_all();
    void wait_for_loop(std::atomic<bool> &request);
    std::thread t_;
};

} // namespace bridge_test
