// The dead-letter store: add, list, show, remove, purge and redrive, what
// survives a reopen, and queue names judged exactly as the core judges them.
#include "store/dead_letters.hpp"
#include "store/names.hpp"
#include "store_support.hpp"

#include "shmq/shmq.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <random>
#include <set>

using namespace shmq::store;
using namespace store_test;

namespace {

DeadLetterMeta meta(uint64_t id) {
    return DeadLetterMeta{id, uint32_t(id % 7 + 1), DeadReason(id % 4 + 1), int64_t(1000 + id),
                          int64_t(2000000000000000000 + id)};
}

void open_ok(DeadLetters &d, const TempDir &dir, OpenReport *rep = nullptr, StoreOptions o = {}) {
    int rc = d.open(dir.fd, "orders", o, rep);
    INFO(d.error());
    REQUIRE(rc == 0);
}

// Adds dead letters with ids first..first+n-1, payload = body_for(id, 10 + id).
void add_range(DeadLetters &d, uint64_t first, uint64_t n) {
    for (uint64_t id = first; id < first + n; ++id) REQUIRE(d.add(meta(id), body_for(id, 10 + id)) == 0);
}

std::vector<uint64_t> ids(DeadLetters &d) {
    std::vector<uint64_t> v;
    REQUIRE(d.list([&](const DeadLetterInfo &i) {
        v.push_back(i.meta.id);
        return true;
    }) == 0);
    return v;
}

} // namespace

TEST_CASE("queue names: the store's rule gives the core's answer") {
    std::vector<std::string> names = {"", ".", "..", "...", "a", "a.b", ".a", "a-", "_", "-", "A9._-z",
                                      "a/b", "a b", "a\tb", "é", "a:b", "a*", std::string(64, 'x'),
                                      std::string(65, 'x'), std::string(64, '.'), std::string(1, '\x7f')};
    std::mt19937 rng(12345);
    const std::string alphabet = "ab.-_Z9/ \x80";
    for (int i = 0; i < 5000; ++i) {
        std::string s(rng() % 70, 'a');
        for (char &c : s) c = alphabet[rng() % alphabet.size()];
        names.push_back(s);
    }
    for (const std::string &n : names) {
        INFO(n);
        CHECK(valid_queue_name(n) == (shmq_name_check(n.c_str()) == SHMQ_OK));
    }
    TempDir dir;
    DeadLetters d;
    CHECK(d.open(dir.fd, "../etc", {}, nullptr) == EINVAL);
    CHECK(d.error().find("bad queue name '../etc'") != std::string::npos);
    CHECK(dlq_file("orders") == "orders.dlq");
}

TEST_CASE("dead letters are listed in order and shown in full, also after reopening") {
    TempDir dir;
    DeadLetters d;
    open_ok(d, dir);
    add_range(d, 1, 5);
    CHECK(d.count() == 5);
    CHECK(d.bytes() == file_size(dir.file("orders.dlq")));
    for (int round = 0; round < 2; ++round) {
        std::vector<DeadLetterInfo> infos;
        REQUIRE(d.list([&](const DeadLetterInfo &i) {
            infos.push_back(i);
            return true;
        }) == 0);
        REQUIRE(infos.size() == 5);
        for (uint64_t k = 0; k < 5; ++k) {
            uint64_t id = k + 1;
            CHECK(infos[k].meta.id == id);
            CHECK(infos[k].meta.attempts == meta(id).attempts);
            CHECK(infos[k].meta.reason == meta(id).reason);
            CHECK(infos[k].meta.first_enqueue_ns == meta(id).first_enqueue_ns);
            CHECK(infos[k].meta.died_ns == meta(id).died_ns);
            CHECK(infos[k].size == 10 + id);
        }
        DeadLetter full;
        REQUIRE(d.show(3, &full) == 0);
        CHECK(full.meta.id == 3);
        CHECK(full.meta.reason == DeadReason::Invalid);
        CHECK(full.payload == body_for(3, 13));
        CHECK(d.show(99, &full) == ENOENT);
        CHECK(d.error().find("no dead letter with id 99") != std::string::npos);
        d.close();
        OpenReport rep;
        open_ok(d, dir, &rep);
        CHECK(rep.records == 5);
        CHECK(d.count() == 5);
    }
    CHECK(std::string(dead_reason_name(DeadReason::MaxAttempts)) == "max_attempts");
    CHECK(std::string(dead_reason_name(DeadReason(9))) == "unknown");
}

TEST_CASE("the record layout is the documented little-endian one") {
    Bytes body = encode_dead_letter(DeadLetterMeta{0x0102030405060708, 9, DeadReason::Expired, -2, 77}, text("hi"));
    REQUIRE(body.size() == 34);
    CHECK(body[0] == std::byte{8});
    CHECK(body[7] == std::byte{1});
    CHECK(body[8] == std::byte{9});
    CHECK(body[12] == std::byte{3});
    CHECK(body[16] == std::byte{0xFE});
    CHECK(body[23] == std::byte{0xFF});
    CHECK(body[24] == std::byte{77});
    CHECK(body[32] == std::byte{'h'});
    DeadLetterView v;
    REQUIRE(decode_dead_letter(body, &v));
    CHECK(v.meta.first_enqueue_ns == -2);
    CHECK(!decode_dead_letter(std::span<const std::byte>(body).first(31), &v));
}

TEST_CASE("show returns the most recent of repeated ids") {
    TempDir dir;
    DeadLetters d;
    open_ok(d, dir);
    REQUIRE(d.add(meta(5), text("first")) == 0);
    REQUIRE(d.add(meta(5), text("second")) == 0);
    DeadLetter full;
    REQUIRE(d.show(5, &full) == 0);
    CHECK(full.payload == text("second"));
}

TEST_CASE("remove and purge rewrite the store; the result survives reopening") {
    TempDir dir;
    DeadLetters d;
    open_ok(d, dir);
    add_range(d, 1, 6);
    REQUIRE(d.add(meta(4), text("again")) == 0);
    uint64_t removed = 0;
    std::vector<uint64_t> gone = {2, 4, 77};
    REQUIRE(d.remove(gone, &removed) == 0);
    CHECK(removed == 3); // 2 and both 4s
    CHECK(d.count() == 4);
    CHECK(ids(d) == std::vector<uint64_t>{1, 3, 5, 6});
    d.close();
    open_ok(d, dir);
    CHECK(ids(d) == std::vector<uint64_t>{1, 3, 5, 6});
    CHECK(d.count() == 4);
    REQUIRE(d.purge() == 0);
    CHECK(d.count() == 0);
    CHECK(ids(d).empty());
    CHECK(d.bytes() == RecordLog::first_offset());
    d.close();
    open_ok(d, dir);
    CHECK(d.count() == 0);
}

TEST_CASE("redrive removes exactly what the callback sent") {
    TempDir dir;
    DeadLetters d;
    open_ok(d, dir);
    add_range(d, 1, 10);
    std::vector<uint64_t> offered;
    RedriveResult res;
    SUBCASE("some sent, some kept") {
        REQUIRE(d.redrive_all(0,
                              [&](const DeadLetterView &v) {
                                  offered.push_back(v.meta.id);
                                  CHECK(v.payload.size() == 10 + v.meta.id);
                                  return v.meta.id % 2 == 0 ? RedriveStep::Sent : RedriveStep::Keep;
                              },
                              &res) == 0);
        CHECK(offered == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
        CHECK(res.sent == 5);
        CHECK(res.kept == 5);
        CHECK(!res.more);
        CHECK(ids(d) == std::vector<uint64_t>{1, 3, 5, 7, 9});
    }
    SUBCASE("at most max_per_call, the oldest first") {
        auto send = [&](const DeadLetterView &v) {
            offered.push_back(v.meta.id);
            return RedriveStep::Sent;
        };
        REQUIRE(d.redrive_all(3, send, &res) == 0);
        CHECK(res.sent == 3);
        CHECK(res.more);
        CHECK(ids(d) == std::vector<uint64_t>{4, 5, 6, 7, 8, 9, 10});
        REQUIRE(d.redrive_all(7, send, &res) == 0);
        CHECK(!res.more);
        CHECK(d.count() == 0);
        CHECK(offered.size() == 10);
    }
    SUBCASE("Stop keeps that record and ends the call") {
        REQUIRE(d.redrive_all(0,
                              [&](const DeadLetterView &v) {
                                  offered.push_back(v.meta.id);
                                  return v.meta.id == 4 ? RedriveStep::Stop : RedriveStep::Sent;
                              },
                              &res) == 0);
        CHECK(offered == std::vector<uint64_t>{1, 2, 3, 4});
        CHECK(res.sent == 3);
        CHECK(res.kept == 1);
        CHECK(res.more);
        CHECK(ids(d) == std::vector<uint64_t>{4, 5, 6, 7, 8, 9, 10});
    }
    SUBCASE("only the chosen ids") {
        std::vector<uint64_t> chosen = {9, 2, 42};
        REQUIRE(d.redrive(chosen, 0,
                          [&](const DeadLetterView &v) {
                              offered.push_back(v.meta.id);
                              return RedriveStep::Sent;
                          },
                          &res) == 0);
        CHECK(offered == std::vector<uint64_t>{2, 9});
        CHECK(ids(d) == std::vector<uint64_t>{1, 3, 4, 5, 6, 7, 8, 10});
    }
    CHECK(d.count() == ids(d).size());
    std::vector<uint64_t> before = ids(d);
    d.close();
    open_ok(d, dir);
    CHECK(ids(d) == before);
}

TEST_CASE("a reader lists while the writer holds the store; malformed records are reported") {
    TempDir dir;
    {
        RecordLog raw;
        LogOptions lo;
        REQUIRE(raw.open(dir.fd, "orders.dlq", lo, nullptr) == 0);
        REQUIRE(raw.append(text("too short")) == 0);
    }
    DeadLetters w, r;
    OpenReport rep;
    open_ok(w, dir, &rep);
    CHECK(mentions(rep.problems, "too short (9 bytes) for a dead letter"));
    CHECK(w.count() == 0);
    add_range(w, 1, 3);
    StoreOptions ro;
    ro.read_only = true;
    open_ok(r, dir, nullptr, ro);
    CHECK(ids(r) == std::vector<uint64_t>{1, 2, 3});
    CHECK(r.add(meta(4), text("x")) == EBADF);
    CHECK(r.purge() == EBADF);
    CHECK(r.error().find("read-only") != std::string::npos);
    DeadLetters other;
    CHECK(other.open(dir.fd, "orders", {}, nullptr) == EWOULDBLOCK);
}

TEST_CASE("an incremental redrive rewrites the file once per commit, not once per call") {
    TempDir dir;
    DeadLetters d;
    open_ok(d, dir);
    add_range(d, 1, 2000);
    RedriveCursor c;
    std::vector<uint64_t> offered;
    auto send = [&](const DeadLetterView &v) {
        offered.push_back(v.meta.id);
        return v.meta.id % 100 == 0 ? RedriveStep::Keep : RedriveStep::Sent; // 20 kept
    };
    int calls = 0, commits = 0;
    RedriveResult res;
    do {
        REQUIRE(d.redrive_from(&c, {}, 10, send, &res) == 0);
        ++calls;
        CHECK(d.count() == 2000); // nothing removed before the commit
        if (c.sent.size() >= 500 || !res.more) {
            uint64_t before = d.bytes();
            REQUIRE(d.commit_redrive(&c) == 0);
            ++commits;
            CHECK(d.bytes() < before);
            if (res.more) break; // a second pass would meet the kept ones again
        }
    } while (res.more);
    CHECK(calls >= 50);
    CHECK(commits == 1);
    // The first 500 sent records are gone; the kept ones among them stay.
    CHECK(d.count() == 2000 - 500);
    // Finish: the rest in another pass, committed once.
    do REQUIRE(d.redrive_from(&c, {}, 0, send, &res) == 0);
    while (res.more);
    REQUIRE(d.commit_redrive(&c) == 0);
    CHECK(d.count() == 20); // only the kept ones
    std::vector<uint64_t> left = ids(d);
    for (uint64_t id : left) CHECK(id % 100 == 0);
    // Every record was sent exactly once.
    std::set<uint64_t> sent_ids;
    for (uint64_t id : offered)
        if (id % 100 != 0) CHECK(sent_ids.insert(id).second);
    CHECK(sent_ids.size() == 1980);
}
