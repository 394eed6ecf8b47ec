// Headers through shmqd, with real processes: a burst spilled to disk and
// refilled, a dead letter written to the store and redriven (through the
// daemon and without it), and a `reboot` queue's snapshot restored after its
// segment is deleted. Each message carries headers naming it, and every
// delivery must carry exactly those, byte for byte.
#include "harness.hpp"
#include "ops.hpp"
#include "snapshot.hpp"
#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

using namespace dtest;

namespace {

constexpr int64_t kSecond = 1000000000LL;
const std::string kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const std::string kUtf8 = "caf\xc3\xa9 \xe2\x82\xac"; // multi-byte UTF-8, kept byte for byte

// queue_section's, with slots of 256 bytes: room for the headers below.
std::string queue_q(const std::string &extra) {
    return "[queues.q]\nslot_count = 32\nslot_size = 256\nmax_clients = 16\n" + extra + "\n";
}

// Send value i with headers {"n": i, "traceparent": kTrace, "note": kUtf8}.
int send_named(shmq_queue *q, uint32_t i, int64_t timeout, uint64_t *id = nullptr) {
    std::string n = std::to_string(i);
    shmq_header h[3] = {{"n", n.c_str()}, {"traceparent", kTrace.c_str()}, {"note", kUtf8.c_str()}};
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.headers = h;
    o.header_count = 3;
    return shmq_send_ex(q, &i, sizeof i, &o, id, timeout);
}

std::string header(shmq_queue *q, const shmq_msg &m, const char *key) {
    const char *v = nullptr;
    size_t n = 0;
    int rc = shmq_msg_header(q, &m, key, &v, &n);
    return rc == SHMQ_OK ? std::string(v, n) : "<" + std::string(shmq_strerror(rc)) + ">";
}

uint32_t value_of(const shmq_msg &m) {
    uint32_t v = UINT32_MAX;
    if (m.len == sizeof v) std::memcpy(&v, m.data, sizeof v);
    return v;
}

// A delivery carries the headers its send gave.
bool named_right(shmq_queue *q, const shmq_msg &m) {
    const void *block = nullptr;
    size_t len = 0;
    return header(q, m, "n") == std::to_string(value_of(m)) && header(q, m, "traceparent") == kTrace &&
           header(q, m, "note") == kUtf8 && shmq_msg_headers(q, &m, &block, &len) == SHMQ_OK &&
           len == 3 * 3 + 1 + 11 + 4 + std::to_string(value_of(m)).size() + kTrace.size() + kUtf8.size();
}

// Receive and ack until `n` distinct values came and nothing more does;
// how many deliveries had wrong headers goes to *bad.
std::map<uint32_t, int> consume_all(shmq_queue *q, uint32_t n, int *bad) {
    std::map<uint32_t, int> seen;
    shmq_msg m;
    for (;;) {
        int64_t timeout = seen.size() < n ? 10 * kSecond : kSecond / 5;
        if (shmq_recv(q, &m, timeout) != SHMQ_OK) break;
        ++seen[value_of(m)];
        if (!named_right(q, m)) {
            ++*bad;
            MESSAGE("value " << value_of(m) << " came with n=" << header(q, m, "n"));
        }
        shmq_ack(q, &m);
    }
    return seen;
}

} // namespace

TEST_CASE("headers survive a spill to disk and the refill") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_q("overflow = \"spill\"\nspill_fsync = \"always\""));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    constexpr uint32_t kBurst = 160; // 5 x the 32 slots
    for (uint32_t i = 0; i < kBurst; ++i) REQUIRE(send_named(q, i, 10 * kSecond) == SHMQ_OK);
    std::string body;
    CHECK(eventually([&] {
        return http_get(d.metrics_port(), "/metrics", &body) == 200 &&
               metric(body, "shmq_messages_spilled_total{queue=\"q\"}") >= kBurst - 32;
    }));
    int bad = 0;
    std::map<uint32_t, int> seen = consume_all(q, kBurst, &bad);
    CHECK(seen.size() == kBurst);
    CHECK(bad == 0);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("headers survive the dead-letter store and a redrive, through shmqd and without it") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_q("redrive_rate = 1000"));
    auto d = std::make_unique<Shmqd>(dir);
    REQUIRE(d->wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    uint64_t ids[2];
    for (uint32_t i = 0; i < 2; ++i) {
        REQUIRE(send_named(q, i, kSecond, &ids[i]) == SHMQ_OK);
        shmq_msg m;
        REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
        REQUIRE(shmq_reject(q, &m) == SHMQ_OK);
    }
    REQUIRE(eventually([&] { return dead_letters(dir, "q").size() == 2; }));
    { // in the store, the block as the core encoded it
        shmq::store::Fd fd;
        std::string why;
        REQUIRE(shmq::store::open_dir(dir.file("dlq"), false, &fd, &why) == 0);
        shmq::store::StoreOptions ro;
        ro.read_only = true;
        shmq::store::DeadLetters store;
        REQUIRE(store.open(fd.get(), "q", ro, nullptr) == 0);
        shmq::store::DeadLetter dl;
        REQUIRE(store.show(ids[0], &dl) == 0);
        std::string block(reinterpret_cast<const char *>(dl.headers.data()), dl.headers.size());
        CHECK(block == std::string("\x01\x01\x00n0", 5) + std::string("\x0b\x37\x00traceparent", 14) + kTrace +
                           std::string("\x04", 1) + char(kUtf8.size()) + std::string("\x00note", 5) + kUtf8);
    }
    shmqd::ops::RedriveOptions o{"q", dir.file("dlq"), {ids[0]}, 100, 10000, true, "", "", ""};
    shmqd::ops::RedriveReport rep;
    REQUIRE(shmqd::ops::redrive(o, &rep) == 0); // through shmqd, which holds the store
    CHECK(rep.via_daemon);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 10 * kSecond) == SHMQ_OK);
    CHECK(m.id == ids[0]);
    CHECK(named_right(q, m));
    REQUIRE(shmq_ack(q, &m) == SHMQ_OK);

    CHECK(d->stop() == 0);
    d.reset();
    o.ids = {};
    REQUIRE(shmqd::ops::redrive(o, &rep) == 0); // the store and the queue opened directly
    CHECK_FALSE(rep.via_daemon);
    REQUIRE(shmq_recv(q, &m, 10 * kSecond) == SHMQ_OK);
    CHECK(m.id == ids[1]);
    CHECK(named_right(q, m));
    REQUIRE(shmq_ack(q, &m) == SHMQ_OK);
    shmq_close(q);
}

TEST_CASE("reboot: headers come back from the snapshot after the segment is deleted") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_q("durability = \"reboot\"\nlease_ms = 600000"));
    constexpr uint32_t kCount = 6;
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        for (uint32_t i = 0; i < kCount; ++i) REQUIRE(send_named(q, i, kSecond) == SHMQ_OK);
        shmq_msg m;
        REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK); // one leased at the stop
        REQUIRE(shmq_send(q, "bare", 4, kSecond) == SHMQ_OK); // and one without headers
        REQUIRE(d.stop() == 0);
        shmq_close(q);
    }
    REQUIRE(shmq_unlink("q") == SHMQ_OK); // what a reboot does to /dev/shm
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    int bad = 0, bare = 0;
    std::map<uint32_t, int> seen;
    shmq_msg m;
    while (shmq_recv(q, &m, seen.size() + bare < kCount + 1 ? 10 * kSecond : kSecond / 5) == SHMQ_OK) {
        const void *block = nullptr;
        size_t len = 1;
        if (m.len == 4 && std::memcmp(m.data, "bare", 4) == 0) {
            bare += shmq_msg_headers(q, &m, &block, &len) == SHMQ_OK && len == 0;
        } else {
            ++seen[value_of(m)];
            bad += named_right(q, m) ? 0 : 1;
        }
        shmq_ack(q, &m);
    }
    CHECK(seen.size() == kCount);
    CHECK(bad == 0);
    CHECK(bare == 1);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("the snapshot file keeps header blocks, and messages without them") {
    TempDir dir(false);
    shmq::store::Fd fd;
    std::string why;
    REQUIRE(shmq::store::open_dir(dir.path, false, &fd, &why) == 0);
    shmqd::QueueSnapshot s{"q", "boot-1", {1, 2}, 3, {}};
    shmqd::SnapMessage m;
    m.id = 7;
    m.payload.assign(5, std::byte('p'));
    for (char c : std::string("\x01\x01\x00kv", 5)) m.headers.push_back(std::byte(c));
    s.messages.push_back(m);
    m.id = 8;
    m.headers.clear();
    s.messages.push_back(m);
    REQUIRE(shmqd::write_snapshot(fd.get(), s, &why) == 0);
    shmqd::QueueSnapshot back;
    REQUIRE(shmqd::read_snapshot(fd.get(), "q", &back, &why) == 0);
    REQUIRE(back.messages.size() == 2);
    CHECK(back.messages[0].headers == s.messages[0].headers);
    CHECK(back.messages[0].payload == s.messages[0].payload);
    CHECK(back.messages[1].headers.empty());
    CHECK(back.messages[1].payload == s.messages[1].payload);
}
