// The readiness fd: readable once a message may be ready, quiet while the
// queue is empty, and woken by a producer in another process.
#include "support.hpp"

#include <doctest/doctest.h>

#include <poll.h>

using namespace testing;

static bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

TEST_CASE("the ready fd is quiet on an empty queue and readable after a send from another process") {
    TestQueue t("readyfd");
    shmq_queue *c = open_queue(t.name);
    REQUIRE(c != nullptr);
    int fd = -1;
    REQUIRE(shmq_ready_fd(c, &fd) == SHMQ_OK);
    int again = -1;
    REQUIRE(shmq_ready_fd(c, &again) == SHMQ_OK);
    CHECK(again == fd); // one fd per handle
    shmq_msg m;
    REQUIRE(shmq_recv(c, &m, 0) == SHMQ_EEMPTY); // arms the fd
    CHECK_FALSE(readable(fd, 50));

    pid_t pid = spawn([&] {
        shmq_queue *p = open_queue(t.name);
        return p != nullptr && shmq_send(p, "hi", 2, 0) == SHMQ_OK ? 0 : 1;
    });
    CHECK(readable(fd, 10000));
    CHECK(wait_child(pid) == 0);
    REQUIRE(shmq_recv(c, &m, 0) == SHMQ_OK);
    CHECK(shmq_ack(c, &m) == SHMQ_OK);
    REQUIRE(shmq_recv(c, &m, 0) == SHMQ_EEMPTY); // re-arms, draining the old wake-up
    CHECK_FALSE(readable(fd, 50));
    shmq_close(c);
}

TEST_CASE("a message that arrives while arming makes the fd readable at once") {
    TestQueue t("readyrace");
    int fd = -1;
    REQUIRE(shmq_ready_fd(t.q, &fd) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_EEMPTY);
    REQUIRE(shmq_send(t.q, "x", 1, 0) == SHMQ_OK); // our own send wakes our own fd
    CHECK(readable(fd, 10000));
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
}
