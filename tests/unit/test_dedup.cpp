// The deduplication window (dedup.cpp): a second send of a key within the
// window returns the first id and stores nothing; after it, a new message is
// stored; a full table refuses keyed sends only; bad keys and parameters are
// refused before anything is written. Topics: the same, for every group at once.
#include "support.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <ctime>
#include <string>

using namespace testing;

namespace {

shmq_params dedup_params(uint32_t window_ms, uint32_t capacity = 0) {
    shmq_params p = small_params(8);
    p.dedup_window_ms = window_ms;
    p.dedup_capacity = capacity;
    return p;
}

// Send `data` with deduplication key `key`: the call's result, *id and whether it was a duplicate.
int send_keyed(shmq_queue *q, const std::string &data, const std::string &key, uint64_t *id, bool *dup) {
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    uint8_t d = 9;
    o.dedup_key = key.data();
    o.dedup_key_len = key.size();
    o.duplicate_out = &d;
    int rc = shmq_send_ex(q, data.data(), data.size(), &o, id, 0);
    if (rc == SHMQ_OK) CHECK(d <= 1);
    *dup = d == 1;
    return rc;
}

// Everything ready now, acked: payloads and ids.
std::vector<std::pair<std::string, uint64_t>> drain(shmq_queue *q) {
    std::vector<std::pair<std::string, uint64_t>> out;
    shmq_msg m;
    while (shmq_recv(q, &m, 0) == SHMQ_OK) {
        out.emplace_back(std::string(static_cast<const char *>(m.data), m.len), m.id);
        CHECK(shmq_ack(q, &m) == SHMQ_OK);
    }
    return out;
}

void sleep_ms(int64_t ms) {
    const int64_t until = mono_ns() + ms * 1000000;
    while (mono_ns() < until) {
        timespec ts{0, 1000000};
        nanosleep(&ts, nullptr);
    }
}

} // namespace

TEST_CASE("a second send of a key within the window returns the first id and stores nothing") {
    TestQueue t("dedup_dup", dedup_params(60000));
    uint64_t a = 0, b = 0, c = 0;
    bool dup = true;
    REQUIRE(send_keyed(t.q, "first", "order-1", &a, &dup) == SHMQ_OK);
    CHECK_FALSE(dup);
    REQUIRE(send_keyed(t.q, "second", "order-1", &b, &dup) == SHMQ_OK);
    CHECK(dup);
    CHECK(b == a);
    REQUIRE(send_keyed(t.q, "other", "order-2", &c, &dup) == SHMQ_OK);
    CHECK_FALSE(dup);
    auto got = drain(t.q);
    REQUIRE(got.size() == 2);
    CHECK(got[0] == std::make_pair(std::string("first"), a));
    CHECK(got[1] == std::make_pair(std::string("other"), c));
    // Acked or not, the key stays taken for its window.
    REQUIRE(send_keyed(t.q, "third", "order-1", &b, &dup) == SHMQ_OK);
    CHECK(dup);
    CHECK(b == a);
    CHECK(drain(t.q).empty());
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(t.q, &s) == SHMQ_OK);
    CHECK(s.free == 8); // every slot a duplicate took was given back
}

TEST_CASE("after the window a key stores a new message") {
    TestQueue t("dedup_window", dedup_params(20));
    uint64_t a = 0, b = 0;
    bool dup = true;
    REQUIRE(send_keyed(t.q, "x", "k", &a, &dup) == SHMQ_OK);
    sleep_ms(30); // waiting for a time (the window), not for another process
    REQUIRE(send_keyed(t.q, "y", "k", &b, &dup) == SHMQ_OK);
    CHECK_FALSE(dup);
    CHECK(b != a);
    CHECK(drain(t.q).size() == 2);
}

TEST_CASE("keys are compared byte for byte, binary keys included") {
    TestQueue t("dedup_bytes", dedup_params(60000));
    const std::string k1("a\0b", 3), k2("a\0c", 3), long_key(SHMQ_MAX_DEDUP_KEY, 'z');
    uint64_t id[4];
    bool dup[4];
    REQUIRE(send_keyed(t.q, "1", k1, &id[0], &dup[0]) == SHMQ_OK);
    REQUIRE(send_keyed(t.q, "2", k2, &id[1], &dup[1]) == SHMQ_OK);
    REQUIRE(send_keyed(t.q, "3", long_key, &id[2], &dup[2]) == SHMQ_OK);
    REQUIRE(send_keyed(t.q, "4", long_key, &id[3], &dup[3]) == SHMQ_OK);
    CHECK_FALSE(dup[1]);
    CHECK(dup[3]);
    CHECK(id[3] == id[2]);
    CHECK(drain(t.q).size() == 3);
}

TEST_CASE("a batch carries a key per message") {
    TestQueue t("dedup_batch", dedup_params(60000));
    uint64_t first = 0;
    bool dup = false;
    REQUIRE(send_keyed(t.q, "earlier", "k1", &first, &dup) == SHMQ_OK);
    shmq_iov msgs[4] = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}};
    shmq_iov keys[4] = {{"k1", 2}, {"k2", 2}, {nullptr, 0}, {"k2", 2}};
    uint64_t ids[4] = {};
    uint8_t dups[4] = {9, 9, 9, 9};
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.dedup_keys = keys;
    o.duplicate_out = dups;
    size_t sent = 0;
    REQUIRE(shmq_send_batch_ex(t.q, msgs, 4, &o, ids, &sent, 0) == SHMQ_OK);
    CHECK(sent == 4);
    CHECK(dups[0] == 1);
    CHECK(ids[0] == first);
    CHECK(dups[1] == 0);
    CHECK(dups[2] == 0);
    CHECK(dups[3] == 1);
    CHECK(ids[3] == ids[1]);
    auto got = drain(t.q);
    REQUIRE(got.size() == 3);
    CHECK(got[1].first == "b");
    CHECK(got[2].first == "c");
}

TEST_CASE("commit_ex with a key: a duplicate gives the reserved slot back") {
    TestQueue t("dedup_commit", dedup_params(60000));
    uint64_t a = 0, b = 0;
    uint8_t dup = 9;
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.dedup_key = "r";
    o.dedup_key_len = 1;
    o.duplicate_out = &dup;
    for (uint64_t *id : {&a, &b}) {
        shmq_reservation r;
        REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
        std::memcpy(r.data, "z", 1);
        REQUIRE(shmq_commit_ex(t.q, &r, 1, &o, id) == SHMQ_OK);
    }
    CHECK(dup == 1);
    CHECK(a == b);
    CHECK(drain(t.q).size() == 1);
}

TEST_CASE("a table full of live keys refuses keyed sends only") {
    TestQueue t("dedup_full", dedup_params(60000, 2));
    shmq_params p;
    shmq_params_init(&p);
    REQUIRE(shmq_get_params(t.q, &p) == SHMQ_OK);
    CHECK(p.dedup_window_ms == 60000);
    CHECK(p.dedup_capacity == 2);
    uint64_t id = 0;
    bool dup = false;
    REQUIRE(send_keyed(t.q, "1", "a", &id, &dup) == SHMQ_OK);
    REQUIRE(send_keyed(t.q, "2", "b", &id, &dup) == SHMQ_OK);
    CHECK(send_keyed(t.q, "3", "c", &id, &dup) == SHMQ_EDEDUPFULL);
    CHECK(send_keyed(t.q, "1", "a", &id, &dup) == SHMQ_OK); // known keys still deduplicate
    CHECK(dup);
    CHECK(shmq_send(t.q, "plain", 5, 0) == SHMQ_OK);
    CHECK(drain(t.q).size() == 3);
    CHECK(std::string(shmq_strerror(SHMQ_EDEDUPFULL)).find("deduplication") != std::string::npos);
}

TEST_CASE("the capacity defaults to twice the slots, rounded up to a power of two") {
    shmq_params in = dedup_params(1000);
    in.slot_count = 5;
    TestQueue t("dedup_cap", in);
    shmq_params p;
    shmq_params_init(&p);
    REQUIRE(shmq_get_params(t.q, &p) == SHMQ_OK);
    CHECK(p.dedup_capacity == 16);
}

TEST_CASE("bad keys and parameters are refused before anything is written") {
    TestQueue t("dedup_bad", dedup_params(60000));
    TestQueue off("dedup_off", small_params(8));
    uint64_t id = 0;
    bool dup = false;
    CHECK(send_keyed(t.q, "x", std::string(SHMQ_MAX_DEDUP_KEY + 1, 'k'), &id, &dup) == SHMQ_EINVAL);
    CHECK(send_keyed(off.q, "x", "k", &id, &dup) == SHMQ_EINVAL); // no window on that queue
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.dedup_key = "k";
    o.dedup_key_len = 0;
    CHECK(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_EINVAL);
    o.dedup_key = nullptr;
    o.dedup_key_len = 3;
    CHECK(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_EINVAL);
    // One key for a whole batch, keys on a single send, a key with no bytes in a batch.
    shmq_iov msgs[1] = {{"m", 1}}, keys[1] = {{"k", 1}}, bad[1] = {{"k", 0}};
    size_t sent = 7;
    o.dedup_key = "k";
    o.dedup_key_len = 1;
    CHECK(shmq_send_batch_ex(t.q, msgs, 1, &o, nullptr, &sent, 0) == SHMQ_EINVAL);
    CHECK(sent == 0);
    o.dedup_keys = keys;
    CHECK(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_EINVAL);
    o.dedup_key = nullptr;
    o.dedup_key_len = 0;
    o.dedup_keys = bad;
    CHECK(shmq_send_batch_ex(t.q, msgs, 1, &o, nullptr, &sent, 0) == SHMQ_EINVAL);
    CHECK(drain(t.q).empty());
    CHECK(drain(off.q).empty());

    shmq_queue *q = nullptr;
    shmq_params p = dedup_params(SHMQ_MAX_DEDUP_WINDOW_MS + 1);
    CHECK(shmq_create(unique_name("dedup_range").c_str(), &p, nullptr, &q) == SHMQ_EINVAL);
    p = dedup_params(1000, SHMQ_MAX_DEDUP_CAPACITY + 1);
    CHECK(shmq_create(unique_name("dedup_range").c_str(), &p, nullptr, &q) == SHMQ_EINVAL);
    CHECK(q == nullptr);
}

namespace {

shmq_queue *group_of(const TestQueue &t, const char *group) {
    shmq_queue *g = nullptr;
    REQUIRE(shmq_open_group(t.name.c_str(), group, nullptr, &g) == SHMQ_OK);
    return g;
}

} // namespace

TEST_CASE("a topic with a window: a duplicate publish reaches no group, after the window a new message") {
    shmq_params p = dedup_params(60000);
    p.max_groups = 2;
    TestQueue t("dedup_topic", p);
    uint64_t a = 0, b = 0;
    bool dup = true;
    // No group bound: nothing published, and the key is not taken.
    CHECK(send_keyed(t.q, "lost", "order-1", &a, &dup) == SHMQ_ENOTFOUND);
    REQUIRE(shmq_group_add(t.q, "billing") == SHMQ_OK);
    REQUIRE(shmq_group_add(t.q, "shipping") == SHMQ_OK);
    shmq_queue *g1 = group_of(t, "billing"), *g2 = group_of(t, "shipping");
    REQUIRE(send_keyed(t.q, "first", "order-1", &a, &dup) == SHMQ_OK);
    CHECK_FALSE(dup);
    REQUIRE(send_keyed(t.q, "second", "order-1", &b, &dup) == SHMQ_OK);
    CHECK(dup);
    CHECK(b == a);
    for (shmq_queue *g : {g1, g2}) {
        auto got = drain(g);
        REQUIRE(got.size() == 1);
        CHECK(got[0] == std::make_pair(std::string("first"), a));
    }
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(t.q, &s) == SHMQ_OK);
    CHECK(s.free == 8); // the duplicate's payload slot was given back, the first freed by both acks
    shmq_close(g1);
    shmq_close(g2);

    p.dedup_window_ms = 20;
    TestQueue w("dedup_topic_window", p);
    REQUIRE(shmq_group_add(w.q, "billing") == SHMQ_OK);
    g1 = group_of(w, "billing");
    REQUIRE(send_keyed(w.q, "x", "k", &a, &dup) == SHMQ_OK);
    sleep_ms(30); // waiting for a time (the window), not for another process
    REQUIRE(send_keyed(w.q, "y", "k", &b, &dup) == SHMQ_OK);
    CHECK_FALSE(dup);
    CHECK(b != a);
    CHECK(drain(g1).size() == 2);
    shmq_close(g1);
}
