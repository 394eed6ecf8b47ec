// DISK queues after a (simulated) reboot, with real files and processes: a
// segment file on ext4 (/tmp here), a new boot simulated with SHMQ_BOOT_ID.
// Every message comes back once with its id, attempts, headers and delay; a
// damaged payload is quarantined, never delivered; a memory segment of
// another boot is refused; shmq_flush / shmq_sync confirm writes.
#include "support.hpp"

#include "crashpoint.hpp"
#include "queue.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

using namespace testing;

namespace {

constexpr int64_t kMs = 1000000LL;

// Segments in a fresh directory on a real filesystem while in scope; the
// boot id is the kernel's until reboot() changes it.
struct DiskDir {
    DiskDir() {
        char tmpl[] = "/tmp/shmq-disk-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        old = getenv("SHMQ_DIR");
        setenv("SHMQ_DIR", dir.c_str(), 1);
        unsetenv("SHMQ_BOOT_ID");
    }
    ~DiskDir() {
        setenv("SHMQ_DIR", old.c_str(), 1);
        unsetenv("SHMQ_BOOT_ID");
        std::filesystem::remove_all(dir);
    }
    void reboot() {
        static int n = 0;
        char id[40];
        snprintf(id, sizeof id, "%08x-0000-4000-8000-%012x", unsigned(getpid()), ++n);
        setenv("SHMQ_BOOT_ID", id, 1);
    }
    std::string dir, old;
};

shmq_params disk_params(uint32_t slots = 32) {
    shmq_params p = small_params(slots, 128);
    p.durability = SHMQ_DURABILITY_DISK;
    p.max_attempts = 100;
    return p;
}

std::string body_of(uint64_t k) { return "message-" + std::to_string(k) + "-" + std::string(k % 40, 'x'); }

int send_text(shmq_queue *q, const std::string &s, const shmq_send_opts *o, uint64_t *id) {
    return shmq_send_ex(q, s.data(), s.size(), o, id, 0);
}

shmq_stats stats_of(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    return s;
}

struct Got {
    std::string body;
    uint32_t attempt;
    std::string hdr;
};

// Receive until empty (waiting up to `wait_ns` for the next), acking each.
std::map<uint64_t, Got> drain(shmq_queue *q, int64_t wait_ns, std::vector<uint64_t> *order = nullptr) {
    std::map<uint64_t, Got> got;
    shmq_msg m;
    while (shmq_recv(q, &m, wait_ns) == SHMQ_OK) {
        const char *v = nullptr;
        size_t vlen = 0;
        std::string hdr = shmq_msg_header(q, &m, "k", &v, &vlen) == SHMQ_OK ? std::string(v, vlen) : "";
        CHECK(got.count(m.id) == 0); // exactly once
        got[m.id] = Got{std::string(static_cast<const char *>(m.data), m.len), m.attempt, hdr};
        if (order != nullptr) order->push_back(m.id);
        REQUIRE(shmq_ack(q, &m) == SHMQ_OK);
    }
    return got;
}

} // namespace

TEST_CASE("a DISK queue after a reboot: every message back once, with its id, attempts, headers and delay") {
    DiskDir d;
    std::string name = unique_name("disk");
    shmq_params p = disk_params();
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    shmq_stats s0 = stats_of(q);
    CHECK(s0.durability == SHMQ_DURABILITY_DISK);
    CHECK(s0.not_durable == 0); // /tmp is ext4 here

    std::map<uint64_t, std::string> sent; // id -> body, every message that must come back
    shmq_header h{"k", "v"};
    for (uint64_t k = 0; k < 12; ++k) {
        shmq_send_opts o;
        shmq_send_opts_init(&o);
        if (k % 3 == 0) o.headers = &h, o.header_count = 1;
        if (k == 5) o.delay_ns = 300 * kMs; // still delayed after the reboot
        uint64_t id = 0;
        REQUIRE(send_text(q, body_of(k), &o, &id) == SHMQ_OK);
        sent[id] = body_of(k);
    }
    // A consumer process leases three (one rejected: DEAD, kept for shmqd) and
    // is killed holding two: their deliveries stay counted.
    Pipe ready;
    pid_t c = spawn([&] {
        shmq_queue *cq = open_queue(name);
        shmq_msg m[3];
        for (auto &x : m)
            if (cq == nullptr || shmq_recv(cq, &x, 0) != SHMQ_OK) return 90;
        if (shmq_reject(cq, &m[2]) != SHMQ_OK) return 91;
        char b = 1;
        ready.put(&b, 1);
        pause();
        return 0;
    });
    char b;
    REQUIRE(ready.get(&b, 1));
    uint64_t rejected = 0, leased[2] = {};
    {
        std::vector<uint64_t> ids;
        for (auto &e : sent) ids.push_back(e.first);
        leased[0] = ids[0], leased[1] = ids[1], rejected = ids[2]; // FIFO: the first three
    }
    sent.erase(rejected);
    // Everything stops (the "reboot"): the consumer killed, our handle closed.
    kill(c, SIGKILL);
    CHECK(wait_child(c) == -SIGKILL);
    shmq_close(q);

    d.reboot();
    REQUIRE(shmq_open(name.c_str(), nullptr, &q) == SHMQ_OK);
    shmq_stats s = stats_of(q);
    CHECK(s.clients == 1); // the dead consumer's record, pid of another boot, is gone
    CHECK(s.quarantined == 0);
    CHECK(s.dead == 1);
    CHECK(s.delayed == 1);
    CHECK(s.ready == sent.size() - 1);
    CHECK(s.leased == 0);
    std::vector<uint64_t> order;
    auto got = drain(q, 0, &order);
    CHECK(got.size() == sent.size() - 1); // all but the delayed one, at once
    auto late = drain(q, 5000 * kMs);     // the delayed one, when due
    CHECK(late.size() == 1);
    got.insert(late.begin(), late.end());
    REQUIRE(got.size() == sent.size());
    for (auto &[id, body] : sent) {
        REQUIRE(got.count(id) == 1);
        CHECK(got[id].body == body);
        bool was_leased = id == leased[0] || id == leased[1];
        CHECK(got[id].attempt == (was_leased ? 2u : 1u));
    }
    size_t with_header = 0;
    for (auto &[id, g] : got) with_header += g.hdr == "v";
    CHECK(with_header == 4); // k = 0, 3, 6, 9
    for (size_t i = 1; i < order.size(); ++i) CHECK(order[i - 1] < order[i]); // READY relisted in id order
    // New sends get ids above every id found.
    uint64_t id = 0;
    REQUIRE(send_text(q, "after", nullptr, &id) == SHMQ_OK);
    CHECK(id > sent.rbegin()->first);
    shmq_close(q);
    // Opened again in the same boot: nothing rebuilt twice.
    REQUIRE(shmq_open(name.c_str(), nullptr, &q) == SHMQ_OK);
    CHECK(stats_of(q).ready == 1);
    shmq_close(q);
    shmq_unlink(name.c_str());
}

TEST_CASE("a DISK queue after a reboot: a damaged payload is quarantined, the rest delivered") {
    DiskDir d;
    std::string name = unique_name("disk_bad");
    shmq_params p = disk_params(8);
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    std::vector<uint64_t> ids;
    for (uint64_t k = 0; k < 5; ++k) {
        uint64_t id = 0;
        REQUIRE(send_text(q, body_of(k), nullptr, &id) == SHMQ_OK);
        ids.push_back(id);
    }
    // Find message 2's payload in the file and flip a byte of it.
    auto *qq = reinterpret_cast<shmq::detail::Queue *>(q);
    uint32_t victim = ~0u;
    for (uint32_t i = 0; i < p.slot_count; ++i)
        if (qq->slot(i)->id.load() == ids[2]) victim = i;
    REQUIRE(victim != ~0u);
    off_t at = qq->payload_of(victim) + 3 - static_cast<const char *>(static_cast<void *>(qq->header()));
    REQUIRE(shmq_flush(q) == SHMQ_OK);
    shmq_close(q);
    int fd = open((d.dir + "/shmq." + name).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    char byte = 0;
    REQUIRE(pread(fd, &byte, 1, at) == 1);
    byte ^= 0x20;
    REQUIRE(pwrite(fd, &byte, 1, at) == 1);
    close(fd);

    d.reboot();
    REQUIRE(shmq_open(name.c_str(), nullptr, &q) == SHMQ_OK);
    shmq_stats s = stats_of(q);
    CHECK(s.quarantined == 1);
    CHECK(s.dead == 1);
    auto got = drain(q, 0);
    CHECK(got.size() == 4);
    CHECK(got.count(ids[2]) == 0);
    for (uint64_t k : {0, 1, 3, 4}) CHECK(got[ids[k]].body == body_of(k));
    // The quarantined slot waits for shmqd as a dead letter with reason "invalid".
    auto *qq2 = reinterpret_cast<shmq::detail::Queue *>(q);
    uint32_t n = qq2->drain_dead([&](const shmq::detail::Outgoing &o) {
        CHECK(o.reason == SHMQ_DEAD_INVALID);
        CHECK(o.meta.id == ids[2]);
        return true;
    });
    CHECK(n == 1);
    shmq_close(q);
    shmq_unlink(name.c_str());
}

TEST_CASE("a memory queue's segment from another boot is refused: its contents were never durable") {
    DiskDir d;
    std::string name = unique_name("mem_reboot");
    shmq_params p = small_params();
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    REQUIRE(send_text(q, "x", nullptr, nullptr) == SHMQ_OK);
    shmq_close(q);
    d.reboot();
    CHECK(shmq_open(name.c_str(), nullptr, &q) == SHMQ_EREBOOTED);
    CHECK(std::string(shmq_strerror(SHMQ_EREBOOTED)).find("reboot") != std::string::npos);
    CHECK(shmq_unlink(name.c_str()) == SHMQ_OK); // the way out: unlink and create again
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    shmq_close(q);
    shmq_unlink(name.c_str());
}

TEST_CASE("durability: params, topics refused, a bad SHMQ_BOOT_ID refused") {
    DiskDir d;
    shmq_params p = disk_params();
    p.max_groups = 2;
    shmq_queue *q = nullptr;
    CHECK(shmq_create(unique_name("disk_topic").c_str(), &p, nullptr, &q) == SHMQ_EINVAL);
    p = disk_params();
    p.durability = 2;
    CHECK(shmq_create(unique_name("disk_bad").c_str(), &p, nullptr, &q) == SHMQ_EINVAL);
    // A struct_size that ends before `durability` reads as MEMORY.
    p = disk_params();
    p.struct_size = uint32_t(offsetof(shmq_params, durability));
    std::string name = unique_name("disk_old");
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    shmq_params got;
    REQUIRE(shmq_get_params(q, &got) == SHMQ_OK);
    CHECK(got.durability == SHMQ_DURABILITY_MEMORY);
    CHECK(shmq_flush(q) == SHMQ_OK); // nothing to do for memory
    CHECK(shmq_sync(q, 0) == SHMQ_OK);
    shmq_close(q);
    setenv("SHMQ_BOOT_ID", "not-a-boot-id", 1);
    CHECK(shmq_open(name.c_str(), nullptr, &q) == SHMQ_EINVAL);
    unsetenv("SHMQ_BOOT_ID");
    shmq_unlink(name.c_str());
}

TEST_CASE("a DISK queue in a tmpfs directory says it is not durable") {
    // The test runner's own SHMQ_DIR is in /dev/shm (tmpfs).
    TestQueue t("disk_tmpfs", disk_params());
    CHECK(stats_of(t.q).not_durable == 1);
}

TEST_CASE("shmq_sync: producer processes sync at once; a flusher killed mid-flush (a crash point) does not stall them") {
    DiskDir d;
    std::string name = unique_name("disk_sync");
    shmq_params p = disk_params(256);
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    // A flusher killed after taking its generation: flush_started ahead of
    // flush_done for good.
    pid_t flusher = spawn([&] {
        shmq_queue *fq = open_queue(name);
        shmq::detail::crash_point_arm("flush.after_started", 0);
        return fq == nullptr ? 90 : shmq_flush(fq) + 91; // never returns: killed first
    });
    REQUIRE(wait_child(flusher) == -SIGKILL);
    shmq::detail::Header *h = reinterpret_cast<shmq::detail::Queue *>(q)->header();
    CHECK(h->flush_started.load() == h->flush_done.load() + 1);
    std::vector<pid_t> kids;
    for (int k = 0; k < 4; ++k)
        kids.push_back(spawn([&, k] {
            shmq_queue *pq = open_queue(name);
            if (pq == nullptr) return 90;
            for (int n = 0; n < 20; ++n) {
                if (send_text(pq, body_of(uint64_t(k * 100 + n)), nullptr, nullptr) != SHMQ_OK) return 91;
                if (shmq_sync(pq, SHMQ_FOREVER) != SHMQ_OK) return 92;
            }
            shmq_close(pq);
            return 0;
        }));
    for (pid_t k : kids) CHECK(wait_child(k) == 0);
    shmq_stats s = stats_of(q);
    CHECK(s.ready == 80);
    CHECK(s.flushes >= 1);
    CHECK(s.flushes <= 80); // one per sync at most (group commit may share them)
    CHECK(s.flush_error == 0);
    CHECK(s.last_flush_ns > 0);
    shmq_close(q);
    shmq_unlink(name.c_str());
}

TEST_CASE("a DISK queue opens while shmqd holds its flock on the segment file (the rebuild's lock is another kind)") {
    DiskDir d;
    std::string name = unique_name("disk_flock");
    shmq_params p = disk_params();
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    REQUIRE(send_text(q, "x", nullptr, nullptr) == SHMQ_OK);
    shmq_close(q);
    int fd = open((d.dir + "/shmq." + name).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0); // as shmqd's lockfile.cpp does
    d.reboot();                                 // so the open rebuilds, under its lock
    REQUIRE(shmq_open(name.c_str(), nullptr, &q) == SHMQ_OK);
    CHECK(stats_of(q).ready == 1);
    shmq_close(q);
    close(fd);
    shmq_unlink(name.c_str());
}

namespace {

// A flusher process killed at crash point `point` of its flush of `name`.
void kill_flusher_at(const std::string &name, const char *point) {
    pid_t flusher = spawn([&] {
        shmq_queue *fq = open_queue(name);
        shmq::detail::crash_point_arm(point, 0);
        return fq == nullptr ? 90 : shmq_flush(fq) + 91; // never returns: killed first
    });
    REQUIRE(wait_child(flusher) == -SIGKILL);
}

void send_n(shmq_queue *q, uint64_t from, uint64_t n) {
    for (uint64_t k = from; k < from + n; ++k) REQUIRE(send_text(q, body_of(k), nullptr, nullptr) == SHMQ_OK);
}

shmq_send_opts sync_opts() {
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.flags = SHMQ_SEND_SYNC;
    return o;
}

} // namespace

TEST_CASE("the durable lag: sends no finished flush covers, from every process; a flusher killed after its msync only makes it larger") {
    DiskDir d;
    std::string name = unique_name("disk_lag");
    shmq_params p = disk_params(64);
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    CHECK(stats_of(q).durable_lag == 0);
    send_n(q, 0, 5);
    CHECK(stats_of(q).durable_lag == 5); // no flush yet
    REQUIRE(shmq_flush(q) == SHMQ_OK);
    CHECK(stats_of(q).durable_lag == 0);
    // Another process's sends count too, also after it closed its handle.
    pid_t producer = spawn([&] {
        shmq_queue *pq = open_queue(name);
        if (pq == nullptr) return 90;
        for (uint64_t k = 0; k < 3; ++k)
            if (send_text(pq, body_of(100 + k), nullptr, nullptr) != SHMQ_OK) return 91;
        shmq_close(pq);
        return 0;
    });
    REQUIRE(wait_child(producer) == 0);
    CHECK(stats_of(q).durable_lag == 3);
    // Written back but killed before publishing: the lag stays (conservative).
    kill_flusher_at(name, "flush.after_msync");
    CHECK(stats_of(q).durable_lag == 3);
    REQUIRE(shmq_sync(q, SHMQ_FOREVER) == SHMQ_OK);
    shmq_stats s = stats_of(q);
    CHECK(s.durable_lag == 0);
    CHECK(s.enqueued == 8);
    // An old caller's struct that ends before durable_lag is not written past.
    send_n(q, 200, 2);
    shmq_stats old{};
    old.struct_size = uint32_t(offsetof(shmq_stats, durable_lag));
    old.durable_lag = 77;
    REQUIRE(shmq_stats_get(q, &old) == SHMQ_OK);
    CHECK(old.durable_lag == 77);
    CHECK(stats_of(q).durable_lag == 2);
    shmq_close(q);
    shmq_unlink(name.c_str());
}

TEST_CASE("the durable lag of a memory queue is 0") {
    TestQueue t("mem_lag", small_params());
    REQUIRE(shmq_send(t.q, "x", 1, 0) == SHMQ_OK);
    CHECK(stats_of(t.q).enqueued == 1);
    CHECK(stats_of(t.q).durable_lag == 0);
}

TEST_CASE("SHMQ_SEND_SYNC: stored and on disk; a sync that times out still stored, with its id; bad uses refused") {
    DiskDir d;
    std::string name = unique_name("disk_sendsync");
    shmq_params p = disk_params(4);
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    shmq_send_opts o = sync_opts();
    uint64_t id = 0;
    REQUIRE(shmq_send_ex(q, "a", 1, &o, &id, SHMQ_FOREVER) == SHMQ_OK);
    CHECK(id != 0);
    shmq_stats s = stats_of(q);
    CHECK(s.flushes == 1); // the send's own sync flushed
    CHECK(s.durable_lag == 0);
    shmq_iov two[2] = {{"b", 1}, {"c", 1}};
    uint64_t ids[2] = {};
    size_t sent = 0;
    REQUIRE(shmq_send_batch_ex(q, two, 2, &o, ids, &sent, SHMQ_FOREVER) == SHMQ_OK);
    CHECK(sent == 2);
    CHECK(stats_of(q).flushes == 2);
    CHECK(stats_of(q).durable_lag == 0);
    // Bad uses: no time to sync in, a commit (no timeout), an unknown flag.
    CHECK(shmq_send_ex(q, "x", 1, &o, &id, 0) == SHMQ_EINVAL);
    shmq_reservation r;
    REQUIRE(shmq_reserve(q, &r, SHMQ_FOREVER) == SHMQ_OK);
    CHECK(shmq_commit_ex(q, &r, 1, &o, &id) == SHMQ_EINVAL);
    REQUIRE(shmq_abort(q, &r) == SHMQ_OK);
    o.flags = SHMQ_SEND_SYNC | 2;
    CHECK(shmq_send_ex(q, "x", 1, &o, &id, SHMQ_FOREVER) == SHMQ_EINVAL);
    CHECK(stats_of(q).ready == 3); // none of them stored anything
    // A flusher killed mid-flush: the send's sync waits for it until its
    // timeout. The message is stored (ready), its id given, not confirmed.
    kill_flusher_at(name, "flush.after_started");
    o = sync_opts();
    id = 0;
    CHECK(shmq_send_ex(q, "d", 1, &o, &id, 20 * kMs) == SHMQ_ETIMEDOUT);
    CHECK(id != 0);
    s = stats_of(q);
    CHECK(s.ready == 4);
    CHECK(s.durable_lag == 1);
    // A send that fails itself (the queue is full): id 0, nothing stored.
    id = 99;
    CHECK(shmq_send_ex(q, "e", 1, &o, &id, kMs) == SHMQ_ETIMEDOUT);
    CHECK(id == 0);
    CHECK(stats_of(q).ready == 4);
    shmq_close(q);
    shmq_unlink(name.c_str());
}

TEST_CASE("shmq_sync with timeout 0: flushes at once when no other flush runs; ETIMEDOUT only while another's runs") {
    DiskDir d;
    std::string name = unique_name("disk_sync0");
    shmq_params p = disk_params(4);
    shmq_queue *q = nullptr;
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    REQUIRE(send_text(q, "a", nullptr, nullptr) == SHMQ_OK);
    CHECK(shmq_sync(q, 0) == SHMQ_OK); // nobody else flushing: its own flush
    shmq_stats s = stats_of(q);
    CHECK(s.flushes == 1);
    CHECK(s.durable_lag == 0);
    REQUIRE(send_text(q, "b", nullptr, nullptr) == SHMQ_OK);
    kill_flusher_at(name, "flush.after_started"); // a flush "in progress" for good
    CHECK(shmq_sync(q, 0) == SHMQ_ETIMEDOUT);     // no time to wait for it
    CHECK(stats_of(q).durable_lag == 1);
    CHECK(shmq_sync(q, SHMQ_FOREVER) == SHMQ_OK); // past its patience, flushes itself
    CHECK(stats_of(q).durable_lag == 0);
    shmq_close(q);
    shmq_unlink(name.c_str());
}

TEST_CASE("SHMQ_SEND_SYNC on a memory queue: stored, nothing flushed") {
    TestQueue t("mem_sendsync", small_params());
    shmq_send_opts o = sync_opts();
    uint64_t id = 0;
    REQUIRE(shmq_send_ex(t.q, "a", 1, &o, &id, SHMQ_FOREVER) == SHMQ_OK);
    CHECK(id != 0);
    CHECK(stats_of(t.q).ready == 1);
    CHECK(stats_of(t.q).flushes == 0);
}
