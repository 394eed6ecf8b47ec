// Dead letters under shmqd: messages out of attempts (or rejected) end up in
// the dead-letter store with their reason and their slots freed; redrive puts
// them back with the same id; a daemon killed while dead-lettering loses
// nothing; damaged store files are reported and worked around.
#include "harness.hpp"
#include "ops.hpp"
#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"
#include "store/spill.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <unistd.h>

using namespace dtest;
namespace store = shmq::store;

namespace {

constexpr int64_t kSecond = 1000000000LL;

bool slots_all_free(shmq_queue *q) {
    shmq_stats s = stats_of(q);
    return s.free == s.slot_count;
}

uint64_t send_and_kill(shmq_queue *q, const char *payload) {
    REQUIRE(shmq_send(q, payload, strlen(payload), 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    uint64_t id = m.id;
    REQUIRE(shmq_nack(q, &m, 0) == SHMQ_OK); // attempt 1 of 2
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    REQUIRE(shmq_nack(q, &m, 0) == SHMQ_OK); // attempt 2 of 2: dead
    return id;
}

uint64_t send_and_reject(shmq_queue *q, const char *payload) {
    REQUIRE(shmq_send(q, payload, strlen(payload), 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    REQUIRE(shmq_reject(q, &m) == SHMQ_OK);
    return m.id;
}

const store::DeadLetterInfo *find(const std::vector<store::DeadLetterInfo> &v, uint64_t id) {
    for (const auto &i : v)
        if (i.meta.id == id) return &i;
    return nullptr;
}

void expect_back(shmq_queue *q, uint64_t id, const char *payload) {
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    CHECK(m.id == id);
    CHECK(m.attempt == 1);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == payload);
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
}

} // namespace

TEST_CASE("out of attempts or rejected: into the dead-letter store with the reason, slot freed; redrive brings "
          "it back") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "max_attempts = 2\nbackoff_base_ms = 0\n"
                                                                     "backoff_cap_ms = 0\nredrive_rate = 1000"));
    auto d = std::make_unique<Shmqd>(dir);
    REQUIRE(d->wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    uint64_t tired = send_and_kill(q, "poison");
    uint64_t rejected = send_and_reject(q, "refused");
    REQUIRE(eventually([&] { return dead_letters(dir, "q").size() == 2 && slots_all_free(q); }));
    auto dl = dead_letters(dir, "q");
    REQUIRE(find(dl, tired) != nullptr);
    CHECK(find(dl, tired)->meta.reason == store::DeadReason::MaxAttempts);
    CHECK(find(dl, tired)->meta.attempts == 2);
    CHECK(find(dl, tired)->meta.died_ns > 0);
    REQUIRE(find(dl, rejected) != nullptr);
    CHECK(find(dl, rejected)->meta.reason == store::DeadReason::Rejected);
    CHECK(stats_of(q).dead == 0);

    // While shmqd runs, redrive goes through it (it holds the store).
    shmqd::ops::RedriveOptions o{"q", dir.file("dlq"), {tired}, 100, 10000, true, "", "", ""};
    shmqd::ops::RedriveReport rep;
    REQUIRE(shmqd::ops::redrive(o, &rep) == 0);
    CHECK(rep.via_daemon);
    CHECK(rep.finished);
    expect_back(q, tired, "poison");
    CHECK(find(dead_letters(dir, "q"), tired) == nullptr);
    CHECK(d->log_has("redrive done: 1 sent back"));

    // Without a daemon, redrive opens the store and the queue itself.
    CHECK(d->stop() == 0);
    d.reset();
    o.ids = {};
    REQUIRE(shmqd::ops::redrive(o, &rep) == 0);
    CHECK_FALSE(rep.via_daemon);
    CHECK(rep.sent == 1);
    expect_back(q, rejected, "refused");
    CHECK(dead_letters(dir, "q").empty());
    shmq_close(q);
}

TEST_CASE("a reason given by the caller (shmq_nack_ex, shmq_reject_ex: bridge_rejected) reaches the store and the "
          "metric; a reason only the core gives is refused and changes nothing") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "max_attempts = 2\nbackoff_base_ms = 0\n"
                                                                     "backoff_cap_ms = 0"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    REQUIRE(shmq_send(q, "n", 1, 0) == SHMQ_OK);
    REQUIRE(shmq_send(q, "r", 1, 0) == SHMQ_OK);
    shmq_msg m, r;
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    REQUIRE(shmq_recv(q, &r, 5 * kSecond) == SHMQ_OK);
    CHECK(shmq_nack_ex(q, &m, 0, SHMQ_DEAD_EXPIRED) == SHMQ_EINVAL); // the core's own reasons
    CHECK(shmq_reject_ex(q, &r, shmq_dead_reason(99)) == SHMQ_EINVAL);
    CHECK(stats_of(q).leased == 2);                                  // both leases held still
    REQUIRE(shmq_nack_ex(q, &m, 0, SHMQ_DEAD_BRIDGE_REJECTED) == SHMQ_OK); // attempt 1 of 2: a retry
    CHECK(stats_of(q).dead == 0);
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    REQUIRE(shmq_nack_ex(q, &m, 0, SHMQ_DEAD_BRIDGE_REJECTED) == SHMQ_OK); // attempt 2 of 2: dead
    REQUIRE(shmq_reject_ex(q, &r, SHMQ_DEAD_BRIDGE_REJECTED) == SHMQ_OK);
    REQUIRE(eventually([&] { return dead_letters(dir, "q").size() == 2 && slots_all_free(q); }));
    for (const auto &i : dead_letters(dir, "q")) {
        CHECK(i.meta.reason == store::DeadReason::BridgeRejected);
        CHECK(std::string(store::dead_reason_name(i.meta.reason)) == "bridge_rejected");
    }
    CHECK(stats_of(q).rejected == 1);
    std::string body;
    CHECK(eventually([&] {
        return http_get(d.metrics_port(), "/metrics", &body) == 200 &&
               metric(body, "shmq_messages_dead_lettered_total{queue=\"q\",reason=\"bridge_rejected\"}") == 2 &&
               metric(body, "shmq_messages_dead_lettered_total{queue=\"q\",reason=\"max_attempts\"}") == 0;
    }));
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("purge drops the dead letters: through shmqd while it runs, directly without it") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    auto d = std::make_unique<Shmqd>(dir);
    REQUIRE(d->wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    send_and_reject(q, "a");
    send_and_reject(q, "b");
    REQUIRE(eventually([&] { return dead_letters(dir, "q").size() == 2; }));
    shmqd::ops::RedriveOptions o{"q", dir.file("dlq"), {}, 0, 10000, true, "", "", ""};
    shmqd::ops::RedriveReport rep;
    REQUIRE(shmqd::ops::purge(o, &rep) == 0);
    CHECK(rep.via_daemon);
    CHECK(rep.finished);
    CHECK(dead_letters(dir, "q").empty());
    CHECK(d->log_has("2 dead letters purged on request"));
    send_and_reject(q, "c"); // the store still takes new dead letters
    REQUIRE(eventually([&] { return dead_letters(dir, "q").size() == 1; }));

    CHECK(d->stop() == 0);
    d.reset();
    REQUIRE(shmqd::ops::purge(o, &rep) == 0);
    CHECK_FALSE(rep.via_daemon);
    CHECK(rep.sent == 1);
    CHECK(dead_letters(dir, "q").empty());
    shmq_close(q);
}

TEST_CASE("a redrive through shmqd: into another queue, with progress in its status, and cancelled part way") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q") + queue_section("other"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    for (int i = 0; i < 6; ++i) send_and_reject(q, "x");
    REQUIRE(eventually([&] { return dead_letters(dir, "q").size() == 6; }));

    // Into another queue, 2 of them, waiting for the end.
    auto six = dead_letters(dir, "q");
    shmqd::ops::RedriveOptions o{"q", dir.file("dlq"), {six[0].meta.id, six[1].meta.id}, 1000, 10000, true, "other", "", ""};
    shmqd::ops::RedriveReport rep;
    REQUIRE(shmqd::ops::redrive(o, &rep) == 0);
    CHECK(rep.finished);
    shmq_queue *other = open_queue("other");
    REQUIRE(other != nullptr);
    CHECK(stats_of(other).ready == 2);
    CHECK(stats_of(q).ready == 0);
    shmqd::ops::RedriveState st;
    std::string why;
    REQUIRE(shmqd::ops::redrive_state(dir.file("dlq"), "q", &st, &why) == 0);
    CHECK_FALSE(st.pending);
    REQUIRE(st.have_status);
    CHECK(st.status.state == "done");
    CHECK(st.status.sent == 2);
    CHECK(st.status.to == "other");

    // The other 4 at one per second, without waiting: progress, then a cancel.
    o.ids = {};
    o.rate = 1;
    o.wait = false;
    REQUIRE(shmqd::ops::redrive(o, &rep) == 0);
    CHECK_FALSE(rep.finished);
    REQUIRE(eventually([&] {
        return shmqd::ops::redrive_state(dir.file("dlq"), "q", &st, &why) == 0 && st.pending && st.have_status &&
               st.status.state == "running" && st.status.sent >= 1;
    }));
    bool was = false;
    REQUIRE(shmqd::ops::cancel_redrive(dir.file("dlq"), "q", &was, &why) == 0);
    CHECK(was);
    REQUIRE(eventually([&] {
        return shmqd::ops::redrive_state(dir.file("dlq"), "q", &st, &why) == 0 && st.have_status &&
               st.status.state == "cancelled";
    }));
    CHECK(st.status.sent < 4);
    CHECK(stats_of(other).ready == 2 + st.status.sent); // every sent one arrived, no more
    CHECK(dead_letters(dir, "q").size() == 4 - st.status.sent); // the rest stays dead-lettered
    CHECK(d.log_has("redrive cancelled"));
    shmq_close(other);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("retention: the newest dlq_max_records stay; dead letters older than dlq_max_age_ms go") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("capped", "dlq_max_records = 3") +
                                queue_section("aged", "dlq_max_age_ms = 1"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *capped = open_queue("capped"), *aged = open_queue("aged");
    REQUIRE(capped != nullptr);
    REQUIRE(aged != nullptr);
    std::vector<uint64_t> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(send_and_reject(capped, "c"));
    send_and_reject(aged, "a");
    send_and_reject(aged, "b");
    REQUIRE(eventually([&] {
        auto v = dead_letters(dir, "capped");
        return v.size() == 3 && v[0].meta.id == ids[2] && v[2].meta.id == ids[4]; // the newest three
    }));
    REQUIRE(eventually([&] { return stats_of(aged).dead == 0 && dead_letters(dir, "aged").empty(); }));
    std::string body;
    REQUIRE(eventually([&] {
        return http_get(d.metrics_port(), "/metrics", &body) == 200 &&
               metric(body, "shmq_dead_letters_dropped_total{queue=\"capped\"}") == 2 &&
               metric(body, "shmq_dead_letters_dropped_total{queue=\"aged\"}") == 2;
    }));
    CHECK(d.log_has("retention dropped"));
    shmq_close(capped);
    shmq_close(aged);
    CHECK(d.stop() == 0);
}

TEST_CASE("shmqd killed while dead-lettering, then restarted: every dead letter is on disk, at most twice") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    std::vector<uint64_t> ids;
    {
        Shmqd d(dir, Binary::Testing, {"SHMQ_CRASH_AT=dlq.after_write:3"});
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        for (int i = 0; i < 10; ++i) ids.push_back(send_and_reject(q, "bad"));
        CHECK(d.wait_exit() == -SIGKILL); // died writing the 4th, after freeing 3 slots
        shmq_close(q);
    }
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    REQUIRE(eventually([&] { return slots_all_free(q); }));
    std::map<uint64_t, int> seen;
    for (const auto &i : dead_letters(dir, "q")) ++seen[i.meta.id];
    int duplicates = 0;
    for (uint64_t id : ids) {
        INFO("id " << id);
        CHECK(seen[id] >= 1);
        duplicates += seen[id] - 1;
    }
    CHECK(duplicates <= 1); // the one written but not yet freed when it died
    CHECK(seen.size() == ids.size());
    shmq_close(q);
    CHECK(d.stop() == 0);
}

namespace {

// Flip one byte in the middle of the record at `offset` of a store file.
void corrupt(const std::string &path, uint64_t offset) {
    int fd = open(path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    char c = 0;
    REQUIRE(pread(fd, &c, 1, off_t(offset + 20)) == 1);
    c = char(c ^ 0x5a);
    REQUIRE(pwrite(fd, &c, 1, off_t(offset + 20)) == 1);
    close(fd);
}

// A spill of three messages for `queue`, the last one cut short by a "crash".
void write_torn_spill(const TempDir &dir, const std::string &queue) {
    store::Fd d;
    std::string why;
    REQUIRE(store::open_dir(dir.file("spill"), true, &d, &why) == 0);
    store::Spill s;
    REQUIRE(s.open(d.get(), queue, store::SpillOptions{}, nullptr) == 0);
    for (uint64_t id = 1001; id <= 1003; ++id) {
        std::string p = "spilled " + std::to_string(id);
        REQUIRE(s.push(store::SpillMeta{id, 0, 1}, std::as_bytes(std::span(p))) == 0);
    }
    uint64_t size = s.bytes();
    s.close();
    REQUIRE(truncate(dir.file("spill/" + queue + ".spill").c_str(), off_t(size - 5)) == 0);
}

} // namespace

TEST_CASE("a corrupt dead-letter record and a torn spill tail are reported and skipped; shmqd keeps running") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    std::vector<uint64_t> ids;
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        for (const char *p : {"one", "two", "three"}) ids.push_back(send_and_reject(q, p));
        REQUIRE(eventually([&] { return dead_letters(dir, "q").size() == 3; }));
        shmq_close(q);
        CHECK(d.stop() == 0);
    }
    auto dl = dead_letters(dir, "q");
    REQUIRE(dl.size() == 3);
    corrupt(dir.file("dlq/q.dlq"), dl[1].offset);
    write_torn_spill(dir, "q");

    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("corrupt"));
    CHECK(d.log_has("torn"));
    dl = dead_letters(dir, "q");
    REQUIRE(dl.size() == 2);
    CHECK(dl[0].meta.id == ids[0]);
    CHECK(dl[1].meta.id == ids[2]);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    for (uint64_t id : {1001, 1002}) { // the intact spilled messages are refilled
        shmq_msg m;
        REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
        CHECK(m.id == id);
        CHECK(shmq_ack(q, &m) == SHMQ_OK);
    }
    shmq_msg m;
    CHECK(shmq_recv(q, &m, 0) == SHMQ_EEMPTY);
    CHECK(d.running());
    shmq_close(q);
    CHECK(d.stop() == 0);
}
