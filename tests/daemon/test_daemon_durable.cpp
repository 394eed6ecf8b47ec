// Durability `reboot` (issue 17): shmqd snapshots a queue's messages at a
// clean stop; after its segment is deleted (as a reboot clears /dev/shm) the
// next shmqd restores every message once, with its id and delivery count; a
// restart of shmqd alone discards the snapshot; a torn, corrupted or
// half-written snapshot is refused whole, never half restored.
#include "harness.hpp"
#include "support.hpp"
#include "http_client.hpp"
#include "queue_json.hpp"
#include "crashpoint.hpp"
#include "snapshot.hpp"
#include "store/fsutil.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace dtest;

namespace {

constexpr int64_t kSecond = 1000000000LL;
constexpr uint32_t kCount = 20;

std::string reboot_config(const TempDir &dir) {
    return daemon_section(dir) + queue_section("q", "durability = \"reboot\"\nlease_ms = 600000");
}

bool exists(const std::string &path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

uint32_t value_of(const shmq_msg &m) {
    uint32_t v = UINT32_MAX;
    if (m.len == sizeof v) std::memcpy(&v, m.data, sizeof v);
    return v;
}

void send_values(shmq_queue *q, uint32_t from, uint32_t to) {
    for (uint32_t i = from; i < to; ++i) REQUIRE(shmq_send(q, &i, sizeof i, kSecond) == SHMQ_OK);
}

struct Seen {
    uint64_t id = 0;
    uint32_t attempt = 0; // of its last delivery
    int times = 0;
};

// Receive and ack until nothing comes for a while; by value.
std::map<uint32_t, Seen> consume_all(shmq_queue *q, uint32_t expect) {
    std::map<uint32_t, Seen> seen;
    shmq_msg m;
    for (;;) {
        int64_t timeout = seen.size() < expect ? 5 * kSecond : kSecond / 5; // then look for duplicates
        if (shmq_recv(q, &m, timeout) != SHMQ_OK) break;
        Seen &s = seen[value_of(m)];
        s = Seen{m.id, m.attempt, s.times + 1};
        shmq_ack(q, &m);
    }
    return seen;
}

// Flip one byte in the middle of the file, or cut it to `keep` bytes.
void damage(const std::string &path, bool flip, long keep = 0) {
    if (!flip) {
        REQUIRE(truncate(path.c_str(), keep) == 0);
        return;
    }
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(f.good());
    f.seekg(0, std::ios::end);
    long mid = long(f.tellg()) / 2;
    f.seekg(mid);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x10;
    f.seekp(mid);
    f.write(&c, 1);
    REQUIRE(f.good());
}

shmq_stats stats_now(const char *name) {
    shmq_queue *q = open_queue(name);
    REQUIRE(q != nullptr);
    shmq_stats s = stats_of(q);
    shmq_close(q);
    return s;
}

} // namespace

TEST_CASE("reboot: a delayed message comes back delayed, with its id, and not before its time") {
    TempDir dir;
    dir.write("shmqd.toml", reboot_config(dir));
    uint64_t id = 0;
    int64_t due = 0;
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        shmq_send_opts o{};
        o.struct_size = sizeof o;
        o.delay_ns = 2 * kSecond;
        uint32_t v = 7;
        due = testing::mono_ns() + o.delay_ns;
        REQUIRE(shmq_send_ex(q, &v, sizeof v, &o, &id, kSecond) == SHMQ_OK);
        shmq_close(q);
        REQUIRE(d.stop() == 0);
    }
    REQUIRE(shmq_unlink("q") == SHMQ_OK);
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    if (testing::mono_ns() < due - kSecond / 2) CHECK(stats_of(q).delayed == 1); // restored delayed, not ready
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 20 * kSecond) == SHMQ_OK);
    CHECK(testing::mono_ns() >= due - 5 * 1000000); // delay rounded to the ms
    CHECK(m.id == id);
    CHECK(m.attempt == 1);
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("reboot: stop, delete the segment, start: every message back once, with its id and attempts") {
    TempDir dir;
    dir.write("shmqd.toml", reboot_config(dir));
    std::map<uint32_t, Seen> before; // what the first life delivered (attempt 0: never delivered)
    std::map<uint32_t, uint64_t> ids;
    uint32_t acked = 0;
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        uint64_t id = 0;
        for (uint32_t i = 0; i < kCount; ++i) {
            REQUIRE(shmq_send_ex(q, &i, sizeof i, nullptr, &id, kSecond) == SHMQ_OK);
            ids[i] = id;
        }
        shmq_msg m[4];
        for (auto &x : m) REQUIRE(shmq_recv(q, &x, 5 * kSecond) == SHMQ_OK); // values 0..3, attempt 1
        REQUIRE(shmq_nack(q, &m[0], 0) == SHMQ_OK);                         // ready again, attempt 1 counted
        REQUIRE(shmq_nack(q, &m[1], 0) == SHMQ_OK);
        acked = value_of(m[2]);
        REQUIRE(shmq_ack(q, &m[2]) == SHMQ_OK); // done: must not come back
        before[value_of(m[0])] = Seen{m[0].id, 1, 1};
        before[value_of(m[1])] = Seen{m[1].id, 1, 1};
        before[value_of(m[3])] = Seen{m[3].id, 1, 1}; // still leased by us when shmqd stops
        uint32_t later = 1000;
        shmq_send_opts o{};
        o.struct_size = sizeof o;
        o.delay_ns = 3600 * kSecond; // delayed an hour: must stay delayed
        REQUIRE(shmq_send_ex(q, &later, sizeof later, &o, nullptr, kSecond) == SHMQ_OK);
        REQUIRE(d.stop() == 0);
        CHECK(d.log_has("queue q: snapshot of 20 messages written"));
        shmq_close(q);
    }
    REQUIRE(exists(dir.file("spill/q.snapshot")));
    REQUIRE(shmq_unlink("q") == SHMQ_OK); // what a reboot does to /dev/shm

    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("queue q: restoring 20 messages"));
    CHECK_FALSE(exists(dir.file("spill/q.snapshot")));
    CHECK(stats_now("q").delayed == 1);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    std::map<uint32_t, Seen> after = consume_all(q, kCount - 1);
    CHECK(after.size() == kCount - 1);
    for (uint32_t i = 0; i < kCount; ++i) {
        INFO("value " << i);
        if (i == acked) {
            CHECK(after.count(i) == 0); // acked before the stop
            continue;
        }
        REQUIRE(after.count(i) == 1);
        CHECK(after[i].times == 1);
        CHECK(after[i].id == ids[i]);
        CHECK(after[i].attempt == before[i].attempt + 1);
    }
    CHECK(stats_of(q).delayed == 1);
    uint64_t fresh = 0, highest = 0;
    for (auto &[v, id] : ids) highest = std::max(highest, id);
    uint32_t v = 2000;
    REQUIRE(shmq_send_ex(q, &v, sizeof v, nullptr, &fresh, kSecond) == SHMQ_OK);
    CHECK(fresh > highest); // a new message never shares an id with a restored one
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("reboot: a message keeps its expiry through the snapshot; one expired while down is dead-lettered, not delivered") {
    TempDir dir;
    dir.write("shmqd.toml", reboot_config(dir));
    int64_t expires = 0;
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        shmq_send_opts o{};
        o.struct_size = sizeof o;
        o.ttl_ns = kSecond / 2;
        uint32_t v = 1;
        expires = testing::mono_ns() + o.ttl_ns;
        REQUIRE(shmq_send_ex(q, &v, sizeof v, &o, nullptr, kSecond) == SHMQ_OK);
        v = 2;
        REQUIRE(shmq_send_ex(q, &v, sizeof v, nullptr, nullptr, kSecond) == SHMQ_OK); // no ttl: delivered
        shmq_close(q);
        REQUIRE(d.stop() == 0);
    }
    REQUIRE(shmq_unlink("q") == SHMQ_OK);
    REQUIRE(eventually([&] { return testing::mono_ns() > expires + kSecond / 10; })); // the host is down past it
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("queue q: restoring 2 messages"));
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    std::map<uint32_t, Seen> after = consume_all(q, 1);
    CHECK(after.count(1) == 0);
    CHECK(after.count(2) == 1);
    CHECK(stats_of(q).expired == 1);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("reboot of a topic: each configured group gets back what it still held, once, with ids and attempts") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) +
                                "[topics.t]\ngroups = [\"a\", \"b\"]\nmax_groups = 3\ndurability = \"reboot\"\n"
                                "lease_ms = 600000\n");
    auto open_group = [](const char *g) {
        shmq_queue *q = nullptr;
        REQUIRE(shmq_open_group("t", g, nullptr, &q) == SHMQ_OK);
        return q;
    };
    std::map<uint32_t, uint64_t> ids;
    uint32_t acked_by_a = 0, leased_by_b = 0;
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *t = open_queue("t");
        REQUIRE(t != nullptr);
        REQUIRE(shmq_group_add(t, "c") == SHMQ_OK); // bound by hand: no snapshot, and the log says so
        uint64_t id = 0;
        for (uint32_t i = 0; i < kCount; ++i) {
            REQUIRE(shmq_send_ex(t, &i, sizeof i, nullptr, &id, kSecond) == SHMQ_OK);
            ids[i] = id;
        }
        shmq_queue *a = open_group("a"), *b = open_group("b");
        shmq_msg m;
        REQUIRE(shmq_recv(a, &m, 5 * kSecond) == SHMQ_OK); // group a is done with one message
        acked_by_a = value_of(m);
        REQUIRE(shmq_ack(a, &m) == SHMQ_OK);
        REQUIRE(shmq_recv(b, &m, 5 * kSecond) == SHMQ_OK); // group b still holds one when shmqd stops
        leased_by_b = value_of(m);
        REQUIRE(d.stop() == 0);
        CHECK(d.log_has("queue t.a: snapshot of 19 messages written"));
        CHECK(d.log_has("queue t.b: snapshot of 20 messages written"));
        CHECK(d.log_has("topic t: group c is not in the config"));
        shmq_close(a);
        shmq_close(b);
        shmq_close(t);
    }
    REQUIRE(exists(dir.file("spill/t.a.snapshot")));
    REQUIRE(exists(dir.file("spill/t.b.snapshot")));
    REQUIRE(shmq_unlink("t") == SHMQ_OK); // what a reboot does to /dev/shm

    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("queue t.a: restoring 19 messages"));
    CHECK(d.log_has("queue t.b: restoring 20 messages"));
    CHECK_FALSE(exists(dir.file("spill/t.a.snapshot")));
    CHECK_FALSE(exists(dir.file("spill/t.b.snapshot")));
    for (const char *g : {"a", "b"}) {
        INFO("group " << g);
        shmq_queue *q = open_group(g);
        bool is_a = std::string(g) == "a";
        std::map<uint32_t, Seen> after = consume_all(q, is_a ? kCount - 1 : kCount);
        CHECK(after.size() == (is_a ? kCount - 1 : kCount));
        for (auto &[v, s] : after) {
            INFO("value " << v);
            CHECK(s.times == 1);
            CHECK(s.id == ids[v]);
            CHECK(s.attempt == (!is_a && v == leased_by_b ? 2u : 1u)); // a lease at the stop counts
        }
        if (is_a) CHECK(after.count(acked_by_a) == 0);
        shmq_close(q);
    }
    CHECK(d.stop() == 0);
}

TEST_CASE("a restart of shmqd alone keeps the segment and discards the snapshot: nothing twice") {
    TempDir dir;
    dir.write("shmqd.toml", reboot_config(dir));
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        send_values(q, 0, kCount);
        shmq_close(q);
        REQUIRE(d.stop() == 0);
    }
    REQUIRE(exists(dir.file("spill/q.snapshot")));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("its segment survived"));
    HttpReply r = http_request(Endpoint{-1, dir.file("spill") + "/shmqd.sock"}, "GET", "/v1/queues/q");
    REQUIRE(r.status == 200);
    CHECK(nlohmann::json::parse(r.body)["durability"] == "reboot");
    CHECK_FALSE(exists(dir.file("spill/q.snapshot")));
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    std::map<uint32_t, Seen> seen = consume_all(q, kCount);
    CHECK(seen.size() == kCount);
    for (auto &[v, s] : seen) CHECK(s.times == 1);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("a snapshot larger than the re-created segment: what does not fit is spilled, then delivered") {
    TempDir dir;
    dir.write("shmqd.toml", reboot_config(dir));
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        send_values(q, 0, kCount);
        shmq_close(q);
        REQUIRE(d.stop() == 0);
    }
    REQUIRE(shmq_unlink("q") == SHMQ_OK);
    dir.write("shmqd.toml", daemon_section(dir) + "[queues.q]\nslot_count = 8\nslot_size = 64\nmax_clients = 16\n"
                                                  "durability = \"reboot\"\n");
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("restored messages did not fit the segment: spilled"));
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    std::map<uint32_t, Seen> seen = consume_all(q, kCount);
    CHECK(seen.size() == kCount);
    for (auto &[v, s] : seen) CHECK(s.times == 1);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("a truncated or corrupted snapshot is refused whole and moved aside; the queue starts empty") {
    for (int variant = 0; variant < 4; ++variant) {
        CAPTURE(variant);
        TempDir dir;
        dir.write("shmqd.toml", reboot_config(dir));
        {
            Shmqd d(dir);
            REQUIRE(d.wait_ready());
            shmq_queue *q = open_queue("q");
            REQUIRE(q != nullptr);
            send_values(q, 0, kCount);
            shmq_close(q);
            REQUIRE(d.stop() == 0);
        }
        REQUIRE(shmq_unlink("q") == SHMQ_OK);
        std::string snap = dir.file("spill/q.snapshot");
        struct stat st;
        REQUIRE(stat(snap.c_str(), &st) == 0);
        if (variant == 0) damage(snap, true);                           // a flipped byte
        if (variant == 1) damage(snap, false, long(st.st_size) / 2);    // cut in the middle
        if (variant == 2) damage(snap, false, long(st.st_size) - 1);    // its last byte missing
        if (variant == 3) damage(snap, false, 0);                       // empty
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        CHECK(d.log_has("queue q: snapshot refused"));
        CHECK_FALSE(exists(snap));
        CHECK(d.log_has("moved it aside as q.snapshot.bad-"));
        shmq_stats s = stats_now("q");
        CHECK(s.ready == 0);
        CHECK(s.delayed == 0);
        CHECK(d.running());
        CHECK(d.stop() == 0);
    }
}

TEST_CASE("shmqd killed while writing the snapshot leaves none; the next start removes the torn file") {
    TempDir dir;
    dir.write("shmqd.toml", reboot_config(dir));
    {
        Shmqd d(dir, Binary::Testing, {"SHMQ_CRASH_AT=snapshot.mid_write"});
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        send_values(q, 0, kCount);
        shmq_close(q);
        d.signal(SIGTERM);
        REQUIRE(d.wait_exit() == -SIGKILL);
    }
    CHECK_FALSE(exists(dir.file("spill/q.snapshot")));
    CHECK(exists(dir.file("spill/q.snapshot.tmp")));
    REQUIRE(shmq_unlink("q") == SHMQ_OK);
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("left by a snapshot write that did not finish"));
    CHECK_FALSE(exists(dir.file("spill/q.snapshot.tmp")));
    CHECK(stats_now("q").ready == 0);
    CHECK(d.stop() == 0);
}

TEST_CASE("a snapshot that cannot be written is logged and makes the stop exit 1") {
    TempDir dir;
    dir.write("shmqd.toml", reboot_config(dir));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    send_values(q, 0, 3);
    shmq_close(q);
    REQUIRE(mkdir(dir.file("spill/q.snapshot.tmp").c_str(), 0700) == 0); // in the way of the temporary file
    CHECK(d.stop() == 1);
    CHECK(d.log_has("its 3 messages will not survive a reboot"));
    CHECK_FALSE(exists(dir.file("spill/q.snapshot")));
    rmdir(dir.file("spill/q.snapshot.tmp").c_str());
}

TEST_CASE("durability in the config: memory, reboot and disk are taken; disk is refused for topics") {
    TempDir dir;
    std::string out;
    dir.write("ok.toml", daemon_section(dir) + queue_section("a", "durability = \"memory\"") +
                             queue_section("b", "durability = \"reboot\"") +
                             queue_section("c", "durability = \"disk\"\nflush_ms = 20"));
    CHECK(run_shmqd({"--config", dir.file("ok.toml"), "--check"}, &out) == 0);
    dir.write("topic.toml", daemon_section(dir) + "[topics.t]\ngroups = [\"g\"]\ndurability = \"disk\"\n");
    CHECK(run_shmqd({"--config", dir.file("topic.toml"), "--check"}, &out) == 2);
    CHECK(out.find("\"disk\" is not built for topics yet") != std::string::npos);
    dir.write("flush.toml", daemon_section(dir) + queue_section("a", "durability = \"disk\"\nflush_ms = 0"));
    CHECK(run_shmqd({"--config", dir.file("flush.toml"), "--check"}, &out) == 2);
    CHECK(out.find("flush_ms") != std::string::npos);
    dir.write("bad.toml", daemon_section(dir) + queue_section("a", "durability = \"forever\""));
    CHECK(run_shmqd({"--config", dir.file("bad.toml"), "--check"}, &out) == 2);
    CHECK(out.find("expected one of \"memory\", \"reboot\", \"disk\"") != std::string::npos);
}

TEST_CASE("a disk queue: shmqd creates it DISK, flushes it every flush_ms, warns on tmpfs, shows it in metrics") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("dq", "durability = \"disk\"\nflush_ms = 5"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("dq");
    REQUIRE(q != nullptr);
    shmq_params p;
    REQUIRE(shmq_get_params(q, &p) == SHMQ_OK);
    CHECK(p.durability == SHMQ_DURABILITY_DISK);
    CHECK(d.log_has("not durable")); // the tests' SHMQ_DIR is in /dev/shm
    shmq_stats s{};
    s.struct_size = sizeof s;
    CHECK(eventually([&] { return shmq_stats_get(q, &s) == SHMQ_OK && s.flushes >= 2; })); // the flusher's work
    CHECK(s.flush_error == 0);
    // The durable lag: the flusher's flushes cover what was sent, with no sync
    // by the client; the metric shows the segment's count.
    send_values(q, 0, 3);
    CHECK(eventually([&] { return shmq_stats_get(q, &s) == SHMQ_OK && s.enqueued == 3 && s.durable_lag == 0; }));
    Endpoint e{d.metrics_port(), ""};
    HttpReply r = http_request(e, "GET", "/metrics", "", {}, std::chrono::seconds(5));
    CHECK(r.status == 200);
    CHECK(r.body.find("shmq_queue_durable_lag_messages{queue=\"dq\"} 0") != std::string::npos);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("stat: a memory segment that a config calls disk is reported as memory (the segment's mode wins)") {
    std::string name = testing::unique_name("durstat");
    shmq_params p;
    shmq_params_init(&p);
    p.slot_count = 16;
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    nlohmann::json j;
    REQUIRE(shmqd::queue_stat_json(name, &j, "disk") == SHMQ_OK);
    CHECK(j["durability"] == "memory");
    CHECK_FALSE(j.contains("disk"));
    REQUIRE(shmqd::queue_stat_json(name, &j, "reboot") == SHMQ_OK);
    CHECK(j["durability"] == "reboot");
    shmq_close(q);
    CHECK(shmq_unlink(name.c_str()) == SHMQ_OK);
}

TEST_CASE("a memory queue writes no snapshot") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    send_values(q, 0, 3);
    shmq_close(q);
    REQUIRE(d.stop() == 0);
    CHECK_FALSE(exists(dir.file("spill/q.snapshot")));
}

TEST_CASE("the snapshot file: a round trip keeps every field; every truncation and every flipped bit is refused") {
    TempDir dir(false);
    shmq::store::Fd fd;
    std::string why;
    REQUIRE(shmq::store::open_dir(dir.path, false, &fd, &why) == 0);
    shmqd::QueueSnapshot s{"q", "boot-1", {123456789, 42}, 987654321, {}};
    for (uint32_t i = 0; i < 3; ++i) {
        shmqd::SnapMessage m;
        m.kind = shmqd::SnapKind(i);
        m.id = 100 + i, m.attempts = i, m.enqueued_ns = 1000 + i, m.due_ns = i == 1 ? 5000 : 0;
        m.expires_ns = i == 2 ? 7000 : 0;
        m.payload.assign(i * 7, std::byte('a' + i));
        s.messages.push_back(m);
    }
    REQUIRE(shmqd::write_snapshot(fd.get(), s, &why) == 0);
    shmqd::QueueSnapshot back;
    REQUIRE(shmqd::read_snapshot(fd.get(), "q", &back, &why) == 0);
    CHECK(back.boot_id == "boot-1");
    CHECK(back.segment == s.segment);
    CHECK(back.taken_ns == s.taken_ns);
    REQUIRE(back.messages.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
        CHECK(back.messages[i].kind == s.messages[i].kind);
        CHECK(back.messages[i].id == s.messages[i].id);
        CHECK(back.messages[i].attempts == s.messages[i].attempts);
        CHECK(back.messages[i].enqueued_ns == s.messages[i].enqueued_ns);
        CHECK(back.messages[i].due_ns == s.messages[i].due_ns);
        CHECK(back.messages[i].expires_ns == s.messages[i].expires_ns);
        CHECK(back.messages[i].payload == s.messages[i].payload);
    }
    CHECK(shmqd::read_snapshot(fd.get(), "other", &back, &why) == ENOENT);
    std::string good = dir.read("q.snapshot");
    REQUIRE(good.size() > 100);
    for (size_t n = 0; n < good.size(); ++n) {
        dir.write("q.snapshot", good.substr(0, n));
        INFO("cut to " << n << " bytes");
        CHECK(shmqd::read_snapshot(fd.get(), "q", &back, &why) == EBADMSG);
    }
    for (size_t at = 0; at < good.size(); ++at) {
        std::string bad = good;
        bad[at] = char(bad[at] ^ 0x01);
        dir.write("q.snapshot", bad);
        INFO("bit flipped at byte " << at);
        CHECK(shmqd::read_snapshot(fd.get(), "q", &back, &why) == EBADMSG);
    }
    dir.write("q.snapshot", good);
    CHECK(shmqd::read_snapshot(fd.get(), "q", &back, &why) == 0);
}

TEST_CASE("a snapshot write killed midway leaves the previous snapshot whole") {
    TempDir dir(false);
    shmq::store::Fd fd;
    std::string why;
    REQUIRE(shmq::store::open_dir(dir.path, false, &fd, &why) == 0);
    shmqd::QueueSnapshot first{"q", "boot-1", {1, 1}, 1, {}}, second{"q", "boot-1", {2, 2}, 2, {}};
    first.messages.resize(5);
    second.messages.resize(50);
    for (auto &m : second.messages) m.payload.assign(100, std::byte{7});
    REQUIRE(shmqd::write_snapshot(fd.get(), first, &why) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) { // dies by SIGKILL between the two halves of its write
        shmq::detail::crash_point_arm("snapshot.mid_write", 0);
        shmqd::write_snapshot(fd.get(), second, &why);
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    CHECK(exists(dir.file("q.snapshot.tmp"))); // the torn one
    shmqd::QueueSnapshot back;
    REQUIRE(shmqd::read_snapshot(fd.get(), "q", &back, &why) == 0);
    CHECK(back.segment == first.segment);
    CHECK(back.messages.size() == 5);
}

TEST_CASE("a memory queue's segment from before a reboot: shmqd unlinks it, says what it dropped, creates it again") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("mq"));
    setenv("SHMQ_BOOT_ID", "11111111111111111111111111111111", 1); // the old boot
    shmq_params p;
    shmq_params_init(&p);
    p.slot_count = 32;
    p.slot_size = 64;
    p.max_clients = 16;
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create("mq", &p, nullptr, &q) == SHMQ_OK);
    send_values(q, 0, 3);
    shmq_close(q);
    unsetenv("SHMQ_BOOT_ID"); // this boot: the kernel's
    CHECK(shmq_open("mq", nullptr, &q) == SHMQ_EREBOOTED);
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("from before a reboot (never durable)"));
    CHECK(d.log_has("3 messages dropped"));
    REQUIRE(shmq_open("mq", nullptr, &q) == SHMQ_OK);
    shmq_close(q);
    CHECK(d.stop() == 0);
}
