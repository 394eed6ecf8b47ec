// shmqd's operations on a queue: heartbeat, draining dead letters, taking
// messages out for spill and restoring them with their identity intact.
#include "support.hpp"

#include "audit.hpp"
#include "queue.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <vector>
#include <string>

using namespace testing;
using shmq::detail::Outgoing;

static shmq::detail::Queue &core(shmq_queue *q) { return *reinterpret_cast<shmq::detail::Queue *>(q); }

static shmq_stats stats_of(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    return s;
}

TEST_CASE("drain_dead hands over each dead letter with its reason, then frees the slot") {
    shmq_params p = small_params(4);
    p.max_attempts = 1;
    TestQueue t("drain", p);
    REQUIRE(shmq_send(t.q, "rejected", 8, 0) == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "tired", 5, 0) == SHMQ_OK);
    shmq_msg a, b;
    REQUIRE(shmq_recv(t.q, &a, 0) == SHMQ_OK);
    REQUIRE(shmq_recv(t.q, &b, 0) == SHMQ_OK);
    REQUIRE(shmq_reject(t.q, &a) == SHMQ_OK);
    REQUIRE(shmq_nack(t.q, &b, 0) == SHMQ_OK); // max_attempts 1: dead
    std::map<std::string, uint32_t> reasons;
    bool accept = false;
    auto persist = [&](const Outgoing &o) {
        reasons[std::string(static_cast<const char *>(o.data), o.len)] = o.reason;
        return accept;
    };
    CHECK(core(t.q).drain_dead(persist) == 0); // not persisted: slots stay DEAD
    CHECK(stats_of(t.q).dead == 2);
    accept = true;
    CHECK(core(t.q).drain_dead(persist) == 2);
    CHECK(reasons["rejected"] == uint32_t(shmq::detail::DeadReason::Rejected));
    CHECK(reasons["tired"] == uint32_t(shmq::detail::DeadReason::MaxAttempts));
    CHECK(stats_of(t.q).free == 4);
}

TEST_CASE("a message spilled and restored keeps its id, attempts and enqueue time") {
    TestQueue t("spill", small_params(4));
    REQUIRE(shmq_send(t.q, "big order", 9, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    REQUIRE(shmq_nack(t.q, &m, 0) == SHMQ_OK); // one delivery so far
    Outgoing o;
    REQUIRE(core(t.q).take_for_spill(&o));
    std::string saved(static_cast<const char *>(o.data), o.len);
    shmq::detail::MessageMeta meta = o.meta;
    CHECK(meta.attempts == 1);
    REQUIRE(core(t.q).release_spilled(o));
    CHECK(stats_of(t.q).free == 4);
    CHECK(shmq_recv(t.q, &m, 0) == SHMQ_EEMPTY);
    REQUIRE(core(t.q).restore(meta, saved.data(), saved.size()) == SHMQ_OK);
    shmq_msg back;
    REQUIRE(shmq_recv(t.q, &back, 0) == SHMQ_OK);
    CHECK(back.id == m.id);
    CHECK(back.attempt == 2);
    CHECK(back.enqueued_ns == m.enqueued_ns);
    CHECK(std::string(static_cast<const char *>(back.data), back.len) == "big order");
    CHECK(stats_of(t.q).enqueued == 1); // restoring is not a new send
    CHECK(shmq_ack(t.q, &back) == SHMQ_OK);
}

TEST_CASE("restore refuses when no slot is free, and oversized payloads") {
    TestQueue t("restorefull", small_params(1, 8));
    REQUIRE(shmq_send(t.q, "x", 1, 0) == SHMQ_OK);
    shmq::detail::MessageMeta meta{77, 0, 1};
    CHECK(core(t.q).restore(meta, "y", 1) == SHMQ_EFULL);
    CHECK(core(t.q).restore(meta, "123456789", 9) == SHMQ_ETOOBIG);
}

TEST_CASE("under the spill policy producers block, and get EFULL once shmqd says its disk is full") {
    shmq_params p = small_params(2); // the spill policy needs 2 slots (shmq_create)
    p.overflow = SHMQ_OVERFLOW_SPILL;
    TestQueue t("spillfull", p);
    REQUIRE(shmq_send(t.q, "x", 1, 0) == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "x", 1, 0) == SHMQ_OK);
    CHECK(shmq_send(t.q, "y", 1, 10 * 1000000LL) == SHMQ_ETIMEDOUT);
    core(t.q).heartbeat();
    core(t.q).set_spill_full(true);
    CHECK(shmq_send(t.q, "y", 1, SHMQ_FOREVER) == SHMQ_EFULL);
    // A daemon that died with the flag set does not make producers fail forever.
    core(t.q).header()->daemon_heartbeat_ms.store(core(t.q).now_ms() - 5000);
    CHECK(shmq_send(t.q, "y", 1, 10 * 1000000LL) == SHMQ_ETIMEDOUT);
}

TEST_CASE("a message taken for spilling whose write failed goes back as it was") {
    TestQueue t("unspill", small_params(4));
    REQUIRE(shmq_send(t.q, "keep me", 7, 0) == SHMQ_OK);
    Outgoing o;
    REQUIRE(core(t.q).take_for_spill(&o));
    CHECK(stats_of(t.q).leased == 1);
    REQUIRE(core(t.q).return_spilled(o));
    CHECK_FALSE(core(t.q).return_spilled(o)); // the receipt is spent
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(m.attempt == 1); // not a delivery
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "keep me");
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
}

TEST_CASE("the daemon's heartbeat shows in the stats") {
    TestQueue t("beat");
    CHECK(stats_of(t.q).daemon_heartbeat_age_ns == -1);
    core(t.q).heartbeat();
    int64_t age = stats_of(t.q).daemon_heartbeat_age_ns;
    CHECK(age >= 0);
    CHECK(age < 1000000000LL);
}

TEST_CASE("a budgeted recovery sweeps the slots in turns and reclaims every expired lease") {
    shmq_params p = small_params(64);
    p.lease_ms = 1;
    TestQueue t("budget", p);
    shmq_msg held[40];
    for (int i = 0; i < 40; ++i) {
        REQUIRE(shmq_send(t.q, &i, sizeof i, 0) == SHMQ_OK);
        REQUIRE(shmq_recv(t.q, &held[i], 0) == SHMQ_OK);
    }
    // With 1 ms leases, recv's own recovery may reclaim an early lease while
    // the loop above still runs: count every reclaim, whoever made it.
    uint32_t most = 0;
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (stats_of(t.q).reclaimed < 40 && std::chrono::steady_clock::now() < give_up) {
        shmq_recovery r{};
        REQUIRE(core(t.q).recover(&r, 16) == SHMQ_OK);
        most = std::max(most, r.leases_reclaimed);
    }
    CHECK(stats_of(t.q).reclaimed == 40);
    CHECK(most <= 16); // never more than its budget of slots per call
}

TEST_CASE("peek shows ready messages oldest first without leasing them") {
    TestQueue t("peek", small_params(8));
    for (const char *s : {"first", "second", "third"}) REQUIRE(shmq_send(t.q, s, strlen(s), 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK); // "first" is leased: not shown
    std::vector<std::string> seen;
    uint32_t n = core(t.q).peek(10, [&](const shmq::detail::MessageMeta &, const void *data, uint32_t len) {
        seen.emplace_back(static_cast<const char *>(data), len);
    });
    CHECK(n == 2);
    CHECK(seen == std::vector<std::string>{"second", "third"});
    CHECK(stats_of(t.q).ready == 2); // still there
    CHECK(core(t.q).peek(1, [](const shmq::detail::MessageMeta &, const void *, uint32_t) {}) == 1);
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
}

TEST_CASE("purge drops ready and delayed messages and leaves leased ones") {
    TestQueue t("purge", small_params(8));
    for (int i = 0; i < 4; ++i) REQUIRE(shmq_send(t.q, &i, sizeof i, 0) == SHMQ_OK);
    shmq_msg held, later;
    REQUIRE(shmq_recv(t.q, &held, 0) == SHMQ_OK);
    REQUIRE(shmq_recv(t.q, &later, 0) == SHMQ_OK);
    REQUIRE(shmq_nack(t.q, &later, 60 * 1000000000LL) == SHMQ_OK);
    CHECK(core(t.q).purge() == 3); // two ready, one delayed
    shmq_stats s = stats_of(t.q);
    CHECK(s.ready + s.delayed == 0);
    CHECK(s.leased == 1);
    CHECK(shmq_ack(t.q, &held) == SHMQ_OK);
    CHECK(stats_of(t.q).free == 8);
}

TEST_CASE("send, recv and purge in random cycles never strand a message (ring room for stale entries)") {
    TestQueue t("purgecycles", small_params(8));
    std::mt19937 rng(12345);
    int sent = 0, got = 0, purged = 0;
    for (int round = 0; round < 3000; ++round) {
        // Mostly sends and purges: consumers are what clears stale entries.
        int op = int(rng() % 10);
        op = op < 6 ? 0 : op < 9 ? 2 : 1;
        if (op == 0) {
            if (shmq_send(t.q, &round, sizeof round, 0) == SHMQ_OK) ++sent;
        } else if (op == 1) {
            shmq_msg m;
            if (shmq_recv(t.q, &m, 0) == SHMQ_OK) {
                REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
                ++got;
            }
        } else {
            purged += int(core(t.q).purge());
        }
        shmq::detail::Audit a = shmq::detail::audit(core(t.q));
        REQUIRE(a.ready_unlisted == 0);
        REQUIRE(a.free_unlisted == 0);
    }
    shmq_msg m;
    while (shmq_recv(t.q, &m, 0) == SHMQ_OK) {
        REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
        ++got;
    }
    CHECK(sent == got + purged);
}

TEST_CASE("recovery leaves alone an attaching client whose process lives (judged by pid, not a start time)") {
    TestQueue t("attaching", small_params(4));
    auto &q = core(t.q);
    using shmq::detail::ClientState;
    using shmq::detail::ClientWord;
    uint32_t free_rec = 0;
    while (ClientWord{q.client(free_rec)->word.load()}.state() != ClientState::Free) ++free_rec;
    auto attaching = ClientWord::make(ClientState::Attaching, 0, uint32_t(getpid()));
    q.client(free_rec)->word.store(attaching.raw); // as a process between claim and activation
    shmq_recovery rep{};
    REQUIRE(shmq_recover(t.q, &rep) == SHMQ_OK);
    CHECK(rep.dead_clients == 0);
    CHECK(q.client(free_rec)->word.load() == attaching.raw);
    q.client(free_rec)->word.store(ClientWord::make(ClientState::Free, 1, 0).raw);
}

TEST_CASE("a message spilled with a ttl keeps its expiry on disk and back: one that expired meanwhile is never "
          "delivered") {
    TestQueue t("spillttl", small_params(4));
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.ttl_ns = 60LL * 1000000000;
    int64_t before = shmq::detail::real_ns();
    REQUIRE(shmq_send_ex(t.q, "lives", 5, &o, nullptr, 0) == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "forever", 7, 0) == SHMQ_OK);
    Outgoing a, b;
    REQUIRE(core(t.q).take_for_spill(&a));
    REQUIRE(core(t.q).take_for_spill(&b));
    // Rounded down to the ms, and the clocks read apart: within a few ms.
    CHECK(a.meta.expires_ns > before + o.ttl_ns - 10 * 1000000LL);
    CHECK(a.meta.expires_ns <= shmq::detail::real_ns() + o.ttl_ns);
    CHECK(b.meta.expires_ns == 0);
    std::string pa(static_cast<const char *>(a.data), a.len), pb(static_cast<const char *>(b.data), b.len);
    REQUIRE(core(t.q).release_spilled(a));
    REQUIRE(core(t.q).release_spilled(b));
    shmq::detail::MessageMeta gone = a.meta;
    gone.expires_ns = shmq::detail::real_ns() - 1; // expired while on disk
    REQUIRE(core(t.q).restore(gone, pa.data(), pa.size()) == SHMQ_OK);
    REQUIRE(core(t.q).restore(b.meta, pb.data(), pb.size()) == SHMQ_OK);
    REQUIRE(core(t.q).restore(a.meta, pa.data(), pa.size()) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "forever");
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(m.id == a.meta.id); // its expiry, a minute on, kept
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    CHECK(stats_of(t.q).expired == 1);
}

TEST_CASE("shmqd's spill pop dead-letters an expired message instead of spilling it") {
    TestQueue t("spillexp", small_params(4));
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.ttl_ns = 1; // rounded down to the ms: expired as it is stored
    REQUIRE(shmq_send_ex(t.q, "stale", 5, &o, nullptr, 0) == SHMQ_OK);
    Outgoing out;
    CHECK_FALSE(core(t.q).take_for_spill(&out));
    shmq_stats s = stats_of(t.q);
    CHECK(s.dead == 1);
    CHECK(s.expired == 1);
}

TEST_CASE("restore on a group's handle puts the message back into that group only (a spill refill, a redrive)") {
    shmq_params p = testing::small_params(4);
    p.max_groups = 2;
    testing::TestQueue t("restore_group", p);
    REQUIRE(shmq_group_add(t.q, "a") == SHMQ_OK);
    REQUIRE(shmq_group_add(t.q, "b") == SHMQ_OK);
    shmq_queue *a = nullptr, *b = nullptr;
    REQUIRE(shmq_open_group(t.name.c_str(), "a", nullptr, &a) == SHMQ_OK);
    REQUIRE(shmq_open_group(t.name.c_str(), "b", nullptr, &b) == SHMQ_OK);
    shmq::detail::MessageMeta meta{42, 2, 1000};
    REQUIRE(core(a).restore(meta, "back", 4) == SHMQ_OK); // crashed here before (a view without lanes)
    shmq_msg m;
    CHECK(shmq_recv(b, &m, 0) == SHMQ_EEMPTY);
    REQUIRE(shmq_recv(a, &m, 0) == SHMQ_OK);
    CHECK(m.id == 42);
    CHECK(m.attempt == 3);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "back");
    REQUIRE(shmq_ack(a, &m) == SHMQ_OK);
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(t.q, &s) == SHMQ_OK);
    CHECK(s.free == 4);
    shmq_close(b);
    shmq_close(a);
}
