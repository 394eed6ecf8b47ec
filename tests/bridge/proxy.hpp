// proxy.hpp - a TCP proxy on loopback between the bridge and the broker, so
// a test can cut every connection at once (both ends see a reset).
#pragma once

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include <netinet/in.h>

namespace bridge_test {

sockaddr_in loopback(int port); // 127.0.0.1:port

class Proxy {
public:
    explicit Proxy(int target_port, int loop_deadline_s = kLoopDeadlineS);
    ~Proxy();
    int port() const { return port_; }
    int cut(); // reset every open connection; returns how many were cut
    // Stop serving every open connection, as a hung peer would: nothing is
    // read from or written to either end any more (the kernel's buffers fill
    // and then its window shuts). New connections are served as before.
    void freeze();
    // Stop forwarding what the bridge sends on every open connection (its
    // acks, publishes and heartbeats wait in the kernel's buffers), while
    // what the broker sends still reaches it. New connections are served
    // as before; cut() resets these too.
    void hold_upstream();
    int accepted() const { return accepted_; }
    // cut(), freeze() and hold_upstream() are carried out by the loop thread;
    // one that it does not take within loop_deadline_s throws (the loop is
    // stuck, e.g. writing to a peer that reads nothing).
    static constexpr int kLoopDeadlineS = 30;

private:
    void loop();
    int listen_fd_ = -1, port_ = 0, target_, deadline_s_;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::atomic<bool> cut_{false}, freeze_{false}, hold_{false};
    std::atomic<int> cut_count_{0};
    std::vector<std::pair<int, int>> pairs_; // client side, broker side; the loop's own
    std::vector<std::pair<int, int>> frozen_; // no longer polled; reset when the proxy ends
    std::vector<std::pair<int, int>> held_;   // only the broker side polled
    void reset_all();
    void wait_for_loop(std::atomic<bool> &request);
    std::thread t_;
};

} // namespace bridge_test
