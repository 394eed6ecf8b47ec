// The overflow spill: first in, first out through peek and commit, a cursor
// that survives reopening, compaction, a damaged or missing cursor falling
// back to the start (repeats, never losses), and the disk cap.
#include "store/cursor.hpp"
#include "store/spill.hpp"
#include "store_support.hpp"

#include <doctest/doctest.h>

#include <cerrno>

using namespace shmq::store;
using namespace store_test;

namespace {

constexpr uint64_t H = kFileHeaderSize;

void open_ok(Spill &s, const TempDir &dir, OpenReport *rep = nullptr, SpillOptions o = {}) {
    int rc = s.open(dir.fd, "jobs", o, rep);
    INFO(s.error());
    REQUIRE(rc == 0);
}

void push_range(Spill &s, uint64_t first, uint64_t n, size_t len = 20) {
    for (uint64_t id = first; id < first + n; ++id) {
        int rc = s.push(SpillMeta{id, uint32_t(id % 5), int64_t(id * 10)}, body_for(id, len));
        INFO(s.error());
        REQUIRE(rc == 0);
    }
}

// Ids of the next n records, checking each payload against its id.
std::vector<uint64_t> peek_ids(Spill &s, size_t n) {
    std::vector<SpillRecord> recs;
    REQUIRE(s.peek_batch(n, &recs) == 0);
    std::vector<uint64_t> ids;
    for (const SpillRecord &r : recs) {
        uint64_t n2 = 0;
        CHECK(body_is(r.payload.data(), r.payload.size(), &n2));
        CHECK(n2 == r.meta.id);
        CHECK(r.meta.first_enqueue_ns == int64_t(r.meta.id * 10));
        ids.push_back(r.meta.id);
    }
    return ids;
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
    std::vector<uint64_t> v;
    for (uint64_t i = from; i < to; ++i) v.push_back(i);
    return v;
}

} // namespace

TEST_CASE("spilled records come back first in, first out, and only commit consumes them") {
    TempDir dir;
    Spill s;
    open_ok(s, dir);
    push_range(s, 0, 10);
    CHECK(s.count() == 10);
    CHECK(peek_ids(s, 4) == range(0, 4));
    CHECK(peek_ids(s, 4) == range(0, 4)); // not consumed by peeking
    REQUIRE(s.commit(2) == 0);
    CHECK(s.count() == 8);
    CHECK(peek_ids(s, 3) == range(2, 5));
    CHECK(s.commit(4) == EINVAL);
    CHECK(s.error().find("last peek returned 3") != std::string::npos);
    CHECK(peek_ids(s, 3) == range(2, 5));
    REQUIRE(s.commit(3) == 0);
    CHECK(s.commit(1) == EINVAL); // a commit uses up its peek
    push_range(s, 10, 2);
    s.close();

    OpenReport rep;
    open_ok(s, dir, &rep);
    CHECK(rep.problems.empty());
    CHECK(s.count() == 7);
    CHECK(peek_ids(s, 100) == range(5, 12));
}

TEST_CASE("when everything is refilled both files are compacted to empty") {
    TempDir dir;
    Spill s;
    open_ok(s, dir);
    push_range(s, 0, 5);
    CHECK(peek_ids(s, 5) == range(0, 5));
    REQUIRE(s.commit(5) == 0);
    CHECK(s.count() == 0);
    CHECK(s.bytes() == H);
    CHECK(file_size(dir.file("jobs.spill")) == H);
    Cursor c;
    std::string why;
    REQUIRE(load_cursor(dir.fd, "jobs.spill.cursor", &c, &why) == 0);
    CHECK(c.offset == H);
    push_range(s, 5, 2);
    s.close();
    OpenReport rep;
    open_ok(s, dir, &rep);
    CHECK(rep.problems.empty());
    CHECK(peek_ids(s, 10) == range(5, 7));
}

TEST_CASE("a compaction cut off by a crash after the last commit is finished at open") {
    TempDir dir;
    Spill s;
    open_ok(s, dir);
    push_range(s, 0, 3);
    REQUIRE(peek_ids(s, 2).size() == 2);
    REQUIRE(s.commit(2) == 0);
    s.close();
    Cursor c;
    std::string why;
    REQUIRE(load_cursor(dir.fd, "jobs.spill.cursor", &c, &why) == 0);
    Bytes b(kCursorSize);
    encode_cursor(Cursor{c.file_id, file_size(dir.file("jobs.spill"))}, b.data()); // the last one refilled too
    write_all(dir.file("jobs.spill.cursor"), b);
    OpenReport rep;
    open_ok(s, dir, &rep);
    CHECK(rep.problems.empty());
    CHECK(s.count() == 0);
    CHECK(s.bytes() == H);
    CHECK(peek_ids(s, 10).empty());
}

TEST_CASE("refilled records are dropped once they fill half the file") {
    TempDir dir;
    Spill s;
    open_ok(s, dir);
    push_range(s, 0, 40, 64 * 1024);
    const uint64_t frame = 16 + 24 + 64 * 1024;
    CHECK(s.bytes() == H + 40 * frame);
    REQUIRE(peek_ids(s, 10).size() == 10);
    REQUIRE(s.commit(10) == 0);
    CHECK(s.bytes() == H + 40 * frame); // 10 refilled, 30 left: not yet
    REQUIRE(peek_ids(s, 10).size() == 10);
    REQUIRE(s.commit(10) == 0);
    CHECK(s.bytes() == H + 20 * frame); // 20 and 20: the refilled half goes
    REQUIRE(peek_ids(s, 10) == range(20, 30));
    REQUIRE(s.commit(10) == 0);
    CHECK(s.bytes() == H + 20 * frame); // under 1 MiB refilled: kept for now
    CHECK(s.count() == 10);
    s.close();
    OpenReport rep;
    open_ok(s, dir, &rep);
    CHECK(rep.problems.empty());
    CHECK(peek_ids(s, 100) == range(30, 40));
}

TEST_CASE("a missing, damaged or stale cursor restarts from the first record, with a report") {
    TempDir dir;
    std::string cursor = dir.file("jobs.spill.cursor");
    Spill s;
    open_ok(s, dir);
    push_range(s, 0, 6);
    REQUIRE(peek_ids(s, 3).size() == 3);
    REQUIRE(s.commit(3) == 0);
    uint64_t id_now = 0;
    {
        Cursor c;
        std::string why;
        REQUIRE(load_cursor(dir.fd, "jobs.spill.cursor", &c, &why) == 0);
        id_now = c.file_id;
    }
    s.close();
    std::string what;
    SUBCASE("missing") {
        REQUIRE(unlink(cursor.c_str()) == 0);
        what = "is missing";
    }
    SUBCASE("a flipped byte") {
        flip_byte(cursor, 25);
        what = "is damaged (checksum mismatch)";
    }
    SUBCASE("cut short") {
        truncate_to(cursor, 10);
        what = "is damaged (10 bytes, want 40)";
    }
    SUBCASE("from an earlier spill file") {
        Bytes b(kCursorSize);
        encode_cursor(Cursor{id_now + 1, H}, b.data());
        write_all(cursor, b);
        what = "belongs to an earlier spill file";
    }
    SUBCASE("not at a record boundary") {
        Bytes b(kCursorSize);
        encode_cursor(Cursor{id_now, H + 5}, b.data());
        write_all(cursor, b);
        what = "not a record boundary";
    }
    OpenReport rep;
    open_ok(s, dir, &rep);
    INFO((rep.problems.size() == 1 ? rep.problems[0] : std::string()));
    CHECK(mentions(rep.problems, what));
    CHECK(mentions(rep.problems, "refilling from the first record"));
    CHECK(s.count() == 6);
    CHECK(peek_ids(s, 100) == range(0, 6));
}

TEST_CASE("a cursor that is a symlink is refused") {
    TempDir dir, elsewhere;
    write_all(elsewhere.file("x"), text("keep"));
    REQUIRE(symlink(elsewhere.file("x").c_str(), dir.file("jobs.spill.cursor").c_str()) == 0);
    Spill s;
    CHECK(s.open(dir.fd, "jobs", {}, nullptr) == ELOOP);
    CHECK(s.error().find("symbolic link") != std::string::npos);
    CHECK(read_all(elsewhere.file("x")) == text("keep"));
}

TEST_CASE("push stops at the disk cap, and room comes back as records are refilled") {
    TempDir dir;
    Spill s;
    SpillOptions o;
    o.cap_bytes = 1000;
    open_ok(s, dir, nullptr, o);
    uint64_t pushed = 0;
    int rc = 0;
    while ((rc = s.push(SpillMeta{pushed, 0, int64_t(pushed * 10)}, body_for(pushed, 100))) == 0) ++pushed;
    CHECK(rc == EDQUOT);
    CHECK(s.error().find("full") != std::string::npos);
    CHECK(s.error().find("cap of 1000") != std::string::npos);
    CHECK(pushed == (1000 - H) / (16 + 24 + 100));
    CHECK(s.bytes() <= 1000);
    CHECK(s.count() == pushed);
    CHECK(s.push(SpillMeta{99, 0, 0}, Bytes(2000)) == EDQUOT);

    REQUIRE(peek_ids(s, 2).size() == 2);
    CHECK(s.push(SpillMeta{99, 0, 0}, body_for(99, 100)) == EDQUOT); // a peek pending: no compaction
    REQUIRE(s.commit(2) == 0);
    REQUIRE(s.push(SpillMeta{pushed, 0, int64_t(pushed * 10)}, body_for(pushed, 100)) == 0);
    CHECK(s.bytes() <= 1000);
    std::vector<uint64_t> want = range(2, pushed + 1);
    CHECK(peek_ids(s, 100) == want);
}

TEST_CASE("a spill is not a dead-letter file, nor the other way round") {
    TempDir dir;
    {
        Spill s;
        open_ok(s, dir);
        push_range(s, 0, 1);
    }
    REQUIRE(rename(dir.file("jobs.spill").c_str(), dir.file("jobs.dlq").c_str()) == 0);
    RecordLog log;
    LogOptions lo;
    lo.kind = Kind::Dlq;
    CHECK(log.open(dir.fd, "jobs.dlq", lo, nullptr) == EPROTO);
    CHECK(log.error().find("dead-letter file " + dir.file("jobs.dlq") + ": bad header (kind spill, want dlq)") !=
          std::string::npos);
    Spill bad;
    CHECK(bad.open(dir.fd, "../jobs", {}, nullptr) == EINVAL);
}

TEST_CASE("a record keeps its expiry (ms after its first enqueue, rounded down); records without one, and "
          "records written before expiry existed, read as never") {
    const int64_t enq = 1700000000LL * 1000000000;
    std::vector<std::byte> p(3);
    SpillMeta m;
    std::span<const std::byte> body;
    auto round_trip = [&](int64_t expires) {
        auto rec = encode_spill_record(SpillMeta{1, 0, enq, expires}, p);
        REQUIRE(decode_spill_record(rec, &m, &body));
        return m.expires_ns;
    };
    CHECK(round_trip(0) == 0);
    CHECK(round_trip(enq + 1500 * 1000000LL + 999999) == enq + 1500 * 1000000LL);
    CHECK(round_trip(enq - 5) == enq + 1000000); // already past: the smallest offset, still an expiry
    auto old = encode_spill_record(SpillMeta{1, 0, enq, 0}, p); // the reserved word was 0
    REQUIRE(decode_spill_record(old, &m, &body));
    CHECK(m.expires_ns == 0);
}
