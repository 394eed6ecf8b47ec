// test_bridge_proxy.cpp - the bridge tests' proxy (proxy.hpp) itself, no
// broker: a request its loop thread cannot take (stuck writing to a client
// that reads nothing) fails with a clear error after the deadline instead of
// waiting for ever.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using bridge_test::loopback;

int listen_any(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    REQUIRE(listen(fd, 4) == 0);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

} // namespace

TEST_CASE("a cut the proxy's loop cannot take (blocked writing to a client that reads nothing) fails after the deadline") {
    int target_port = 0;
    int target = listen_any(&target_port);
    bridge_test::Proxy proxy(target_port, 2);
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a = loopback(proxy.port());
    REQUIRE(connect(client, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    int server = accept4(target, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    REQUIRE(server >= 0);
    // Write until nothing more goes for 5 s: the client's buffer is full, the
    // proxy blocked in its write to it, and so not reading from us either.
    std::string chunk(65536, 'x');
    pollfd p{server, POLLOUT, 0};
    while (poll(&p, 1, 5000) == 1) REQUIRE(write(server, chunk.data(), chunk.size()) > 0);
    std::string error;
    try {
        proxy.cut();
    } catch (const std::runtime_error &e) {
        error = e.what();
    }
    CHECK(error.find("did not take the request within 2 s") != std::string::npos);
    close(client); // the proxy's write fails, its loop goes on, and it can end
    close(server);
    close(target);
}
