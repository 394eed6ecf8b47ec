// proxy.cpp - the test's cuttable TCP proxy (proxy.hpp). One thread polls the
// listening socket and every pair, copying bytes both ways.
#include "proxy.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace bridge_test {

sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

namespace {

void reset(int fd) {
    linger l{1, 0}; // close with RST, as a cut cable seen by a middlebox would
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

bool pump(int from, int to) {
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, size_t(n - off), MSG_NOSIGNAL); // a reset peer is an error, not SIGPIPE
        if (w <= 0) return false;
        off += w;
    }
    return true;
}

} // namespace

Proxy::Proxy(int target_port, int loop_deadline_s) : target_(target_port), deadline_s_(loop_deadline_s) {
    // CLOEXEC on every socket: a child the test starts (a bridge, the broker
    // through broker.sh) must not hold a connection open that the proxy cut.
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&a), &len) != 0)
        throw std::runtime_error("proxy: cannot listen");
    port_ = ntohs(a.sin_port);
    t_ = std::thread([this] { loop(); });
}

Proxy::~Proxy() {
    stop_ = true;
    t_.join();
    pairs_.insert(pairs_.end(), frozen_.begin(), frozen_.end());
    reset_all();
    close(listen_fd_);
}

// The loop thread does cuts and freezes, so no descriptor changes under its
// poll. A loop that does not take the request in time is stuck (a blocking
// write to a peer that does not read): say so rather than wait for ever.
void Proxy::wait_for_loop(std::atomic<bool> &request) {
    request = true;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s_);
    while (request) {
        if (std::chrono::steady_clock::now() > end)
            throw std::runtime_error("proxy: its loop thread did not take the request within " +
                                     std::to_string(deadline_s_) + " s (stuck writing to a peer that reads nothing?)");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

int Proxy::cut() {
    wait_for_loop(cut_);
    return cut_count_;
}

void Proxy::freeze() { wait_for_loop(freeze_); }
void Proxy::hold_upstream() { wait_for_loop(hold_); }

void Proxy::reset_all() {
    pairs_.insert(pairs_.end(), held_.begin(), held_.end());
    held_.clear();
    for (auto &[c, b] : pairs_) {
        reset(c);
        reset(b);
    }
    cut_count_ = int(pairs_.size());
    pairs_.clear();
}

void Proxy::loop() {
    while (!stop_) {
        if (cut_) {
            reset_all();
            cut_ = false;
        }
        if (freeze_) {
            frozen_.insert(frozen_.end(), pairs_.begin(), pairs_.end());
            pairs_.clear();
            freeze_ = false;
        }
        if (hold_) {
            held_.insert(held_.end(), pairs_.begin(), pairs_.end());
            pairs_.clear();
            hold_ = false;
        }
        std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
        for (auto &[c, b] : pairs_) {
            fds.push_back({c, POLLIN, 0});
            fds.push_back({b, POLLIN, 0});
        }
        const size_t held_at = fds.size(); // before an accept adds to pairs_
        for (auto &[c, b] : held_) fds.push_back({b, POLLIN, 0});
        if (poll(fds.data(), fds.size(), 20) <= 0) continue;
        if (fds[0].revents & POLLIN) {
            int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a = loopback(target_);
            if (c >= 0 && connect(b, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) {
                pairs_.emplace_back(c, b);
                accepted_++;
            } else {
                if (c >= 0) close(c);
                close(b);
            }
        }
        for (size_t i = fds.size(); i-- > held_at;) { // backwards: erasing keeps the lower indexes
            auto [c, b] = held_[i - held_at];
            if (fds[i].revents == 0 || pump(b, c)) continue;
            reset(c);
            reset(b);
            held_.erase(held_.begin() + long(i - held_at));
        }
        for (size_t i = 1; i + 1 < held_at; i += 2) {
            int c = fds[i].fd, b = fds[i + 1].fd;
            bool ok = true;
            if (fds[i].revents) ok = pump(c, b);
            if (ok && fds[i + 1].revents) ok = pump(b, c);
            if (ok) continue;
            for (auto it = pairs_.begin(); it != pairs_.end(); ++it)
                if (it->first == c) {
                    reset(c);
                    reset(b);
                    pairs_.erase(it);
                    break;
                }
        }
    }
}

} // namespace bridge_test
