// The record log on its own: round trips, torn tails cut, corrupt records
// skipped, foreign and unsafe files refused untouched, fsync policies, locking
// and compaction.
#include "store/crc32c.hpp"
#include "store/record_log.hpp"
#include "store_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>

using namespace shmq::store;
using namespace store_test;

namespace {

constexpr uint64_t H = kFileHeaderSize, F = kFrameHeaderSize;

LogOptions opts(Kind kind = Kind::Dlq, Fsync fsync = Fsync::Always) {
    LogOptions o;
    o.kind = kind;
    o.fsync = fsync;
    return o;
}

// Opens "q.dlq" in `dir`, failing the test if that fails.
void open_ok(RecordLog &log, const TempDir &dir, OpenReport *rep = nullptr, LogOptions o = opts()) {
    int rc = log.open(dir.fd, "q.dlq", o, rep);
    INFO(log.error());
    REQUIRE(rc == 0);
}

// Appends bodies 0..n-1 of varying sizes; returns each record's offset.
std::vector<uint64_t> fill(RecordLog &log, uint64_t n, uint64_t first = 0) {
    std::vector<uint64_t> offs;
    for (uint64_t i = first; i < first + n; ++i) {
        offs.push_back(log.size());
        REQUIRE(log.append(body_for(i, 8 + (i * 37) % 300)) == 0);
    }
    return offs;
}

// The numbers carried by the log's records, in order; every body must match.
std::vector<uint64_t> numbers(RecordLog &log) {
    std::vector<uint64_t> got;
    REQUIRE(log.scan([&](uint64_t, std::span<const std::byte> b) {
        uint64_t n = 0;
        CHECK(body_is(b.data(), b.size(), &n));
        got.push_back(n);
        return true;
    }) == 0);
    return got;
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
    std::vector<uint64_t> v;
    for (uint64_t i = from; i < to; ++i) v.push_back(i);
    return v;
}

} // namespace

TEST_CASE("crc32c gives the standard check value and extends in pieces") {
    CHECK(crc32c(0, "123456789", 9) == 0xE3069283u);
    CHECK(crc32c(crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
    CHECK(crc32c(0, "", 0) == 0);
}

TEST_CASE("records read back in order, before and after reopening") {
    TempDir dir;
    RecordLog log;
    OpenReport rep;
    open_ok(log, dir, &rep);
    CHECK(rep.records == 0);
    CHECK(log.size() == H);
    fill(log, 100);
    REQUIRE(log.append(std::span<const std::byte>()) == 0); // an empty record is a record
    CHECK(file_size(dir.file("q.dlq")) == log.size());
    log.close();

    open_ok(log, dir, &rep);
    CHECK(rep.records == 101);
    CHECK(rep.problems.empty());
    fill(log, 10, 200);
    std::vector<uint64_t> got;
    REQUIRE(log.scan([&](uint64_t, std::span<const std::byte> b) {
        uint64_t n = 0;
        if (b.empty()) {
            got.push_back(999);
            return true;
        }
        CHECK(body_is(b.data(), b.size(), &n));
        got.push_back(n);
        return true;
    }) == 0);
    std::vector<uint64_t> want = range(0, 100);
    want.push_back(999);
    for (uint64_t i = 200; i < 210; ++i) want.push_back(i);
    CHECK(got == want);
    struct stat st;
    REQUIRE(stat(dir.file("q.dlq").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("scan starts at an offset and stops when the visitor says so") {
    TempDir dir;
    RecordLog log;
    open_ok(log, dir);
    std::vector<uint64_t> offs = fill(log, 10);
    std::vector<uint64_t> seen;
    REQUIRE(log.scan(
                [&](uint64_t off, std::span<const std::byte>) {
                    seen.push_back(off);
                    return seen.size() < 3;
                },
                offs[4]) == 0);
    CHECK(seen == std::vector<uint64_t>{offs[4], offs[5], offs[6]});
}

TEST_CASE("a torn tail is truncated and every earlier record survives") {
    TempDir dir;
    std::string path = dir.file("q.dlq");
    RecordLog log;
    open_ok(log, dir);
    std::vector<uint64_t> offs = fill(log, 10);
    uint64_t full = log.size(), last = offs[9];
    log.close();
    uint64_t want_cut = 0;
    std::vector<uint64_t> want = range(0, 9);

    SUBCASE("cut inside the last frame's header") {
        truncate_to(path, last + 7);
        want_cut = 7;
    }
    SUBCASE("cut inside the last frame's body") {
        truncate_to(path, last + F + 5);
        want_cut = F + 5;
    }
    SUBCASE("the last body fails its checksum") {
        flip_byte(path, full - 1);
        want_cut = full - last;
    }
    SUBCASE("garbage after the last frame") {
        Bytes garbage = text("this is not a frame, but it has SMQR in it and more");
        append_bytes(path, garbage);
        want_cut = garbage.size();
        want = range(0, 10);
    }
    SUBCASE("zeros after the last frame") {
        append_bytes(path, Bytes(4096));
        want_cut = 4096;
        want = range(0, 10);
    }
    SUBCASE("a valid frame header claiming 4 GiB at the end") {
        Bytes head(F);
        encode_frame_header(full, FrameHeader{0xFFFFFFFFu, 0}, head.data());
        append_bytes(path, head);
        want_cut = F;
        want = range(0, 10);
    }
    OpenReport rep;
    open_ok(log, dir, &rep);
    CHECK(rep.torn_bytes_truncated == want_cut);
    CHECK(rep.corrupt_skipped == 0);
    CHECK(rep.records == want.size());
    REQUIRE(rep.problems.size() == 1);
    CHECK(mentions(rep.problems, "torn tail"));
    CHECK(mentions(rep.problems, "truncated"));
    CHECK(file_size(path) == log.size());
    CHECK(numbers(log) == want);
    fill(log, 1, 50); // appends land after the cut and read back cleanly
    log.close();
    open_ok(log, dir, &rep);
    CHECK(rep.problems.empty());
    want.push_back(50);
    CHECK(numbers(log) == want);
}

TEST_CASE("a corrupt record in the middle is reported and skipped, never truncated") {
    TempDir dir;
    std::string path = dir.file("q.dlq");
    RecordLog log;
    open_ok(log, dir);
    std::vector<uint64_t> offs = fill(log, 10);
    uint64_t full = log.size();
    log.close();

    SUBCASE("a flipped byte in a body") { flip_byte(path, offs[4] + F + 20); }
    SUBCASE("a flipped byte in a frame header's length") { flip_byte(path, offs[4] + 5); }
    SUBCASE("a flipped byte in the magic") { flip_byte(path, offs[4]); }
    OpenReport rep;
    open_ok(log, dir, &rep);
    CHECK(rep.corrupt_skipped == 1);
    CHECK(rep.torn_bytes_truncated == 0);
    CHECK(rep.records == 9);
    CHECK(mentions(rep.problems, "corrupt region at offset " + std::to_string(offs[4])));
    CHECK(file_size(path) == full);
    std::vector<uint64_t> want = range(0, 10);
    want.erase(want.begin() + 4);
    CHECK(numbers(log) == want);
    uint64_t corrupt = 0;
    REQUIRE(log.scan([](uint64_t, std::span<const std::byte>) { return true; }, H, &corrupt) == 0);
    CHECK(corrupt == 1);
}

TEST_CASE("a record longer than the reader's limit is skipped unread, even at the end") {
    TempDir dir;
    RecordLog log;
    open_ok(log, dir);
    fill(log, 3);
    REQUIRE(log.append(body_for(7, 5000)) == 0);
    uint64_t full = log.size();
    log.close();
    LogOptions small = opts();
    small.max_record = 1000;
    OpenReport rep;
    open_ok(log, dir, &rep, small);
    CHECK(rep.records == 3);
    CHECK(rep.corrupt_skipped == 1);
    CHECK(mentions(rep.problems, "exceeds the limit of 1000"));
    CHECK(log.size() == full); // a valid frame is never cut
    CHECK(log.append(body_for(8, 1001)) == EFBIG);
    CHECK(log.error().find("exceeds the limit") != std::string::npos);
}

TEST_CASE("a file that is not this kind of log is refused and left untouched") {
    TempDir dir;
    std::string path = dir.file("q.dlq");
    {
        RecordLog log;
        open_ok(log, dir);
        fill(log, 3);
    }
    Bytes before = read_all(path);
    LogOptions o = opts();
    int want = EPROTO;
    std::string what;
    SUBCASE("wrong kind") {
        o.kind = Kind::Spill;
        what = "bad header (kind dlq, want spill)";
    }
    SUBCASE("newer format version") {
        Bytes b = before;
        b[8] = std::byte{2};
        write_all(path, b);
        want = ENOTSUP;
        what = "format version 2, this build reads 1";
    }
    SUBCASE("wrong magic") {
        Bytes b = text("NOTALOG!");
        b.resize(before.size());
        write_all(path, b);
        what = "wrong magic";
    }
    SUBCASE("damaged header") {
        flip_byte(path, 17);
        what = "header checksum mismatch";
    }
    SUBCASE("a short file that is not a header") {
        write_all(path, text("hello"));
        what = "too short";
    }
    before = read_all(path);
    RecordLog log;
    OpenReport rep;
    CHECK(log.open(dir.fd, "q.dlq", o, &rep) == want);
    CHECK(log.error().find(what) != std::string::npos);
    CHECK(log.error().find(path) != std::string::npos);
    CHECK(!log.is_open());
    CHECK(read_all(path) == before);
}

TEST_CASE("a header cut short while creating the file is written again") {
    TempDir dir;
    std::string path = dir.file("q.dlq");
    write_all(path, text("SHMQLO"));
    RecordLog log;
    OpenReport rep;
    open_ok(log, dir, &rep);
    CHECK(mentions(rep.problems, "header was cut short"));
    CHECK(log.size() == H);
    fill(log, 2);
    log.close();
    open_ok(log, dir, &rep);
    CHECK(rep.records == 2);
}

TEST_CASE("unsafe files are refused: symlinks, world-writable files, FIFOs") {
    TempDir dir, elsewhere;
    std::string target = elsewhere.file("target");
    RecordLog log;
    SUBCASE("a symlink to an existing file") {
        write_all(target, text("precious"));
        REQUIRE(symlink(target.c_str(), dir.file("q.dlq").c_str()) == 0);
        CHECK(log.open(dir.fd, "q.dlq", opts(), nullptr) == ELOOP);
        CHECK(log.error().find("symbolic link") != std::string::npos);
        CHECK(read_all(target) == text("precious"));
    }
    SUBCASE("a dangling symlink") {
        REQUIRE(symlink(target.c_str(), dir.file("q.dlq").c_str()) == 0);
        CHECK(log.open(dir.fd, "q.dlq", opts(), nullptr) == ELOOP);
        CHECK(access(target.c_str(), F_OK) != 0); // nothing created through it
    }
    SUBCASE("a world-writable file") {
        write_all(dir.file("q.dlq"), {});
        REQUIRE(chmod(dir.file("q.dlq").c_str(), 0666) == 0);
        CHECK(log.open(dir.fd, "q.dlq", opts(), nullptr) == EPERM);
        CHECK(log.error().find("world-writable (mode 0666)") != std::string::npos);
        CHECK(file_size(dir.file("q.dlq")) == 0);
    }
    SUBCASE("a FIFO (and opening it does not block)") {
        REQUIRE(mkfifo(dir.file("q.dlq").c_str(), 0600) == 0);
        LogOptions ro = opts();
        ro.read_only = true;
        CHECK(log.open(dir.fd, "q.dlq", ro, nullptr) == EINVAL);
        CHECK(log.error().find("not a regular file") != std::string::npos);
        CHECK(log.open(dir.fd, "q.dlq", opts(), nullptr) == EINVAL);
    }
    CHECK(!log.is_open());
}

namespace {
std::atomic<int> g_syncs{0};
std::atomic<int> g_fail_with{0};
int counting_sync(int fd) {
    g_syncs.fetch_add(1);
    if (int e = g_fail_with.load(); e != 0) {
        errno = e;
        return -1;
    }
    return fdatasync(fd);
}
struct SyncHook {
    SyncHook() {
        g_syncs = 0;
        g_fail_with = 0;
        set_sync_hook(counting_sync);
    }
    ~SyncHook() { set_sync_hook(nullptr); }
};
} // namespace

TEST_CASE("the fsync policy decides when fdatasync is called") {
    TempDir dir;
    SyncHook hook;
    RecordLog log;
    SUBCASE("Always: once per append, before it returns") {
        open_ok(log, dir);
        g_syncs = 0;
        for (int i = 0; i < 5; ++i) {
            REQUIRE(log.append(body_for(i, 10)) == 0);
            CHECK(g_syncs == i + 1);
        }
        CHECK(log.syncs() == 5);
    }
    SUBCASE("Interval: not before the interval, then at flush_if_due or the next append") {
        LogOptions o = opts(Kind::Dlq, Fsync::Interval);
        o.interval_ms = 3600 * 1000;
        open_ok(log, dir, nullptr, o);
        g_syncs = 0;
        fill(log, 5);
        CHECK(log.flush_if_due() == 0);
        CHECK(g_syncs == 0);
        CHECK(log.sync() == 0);
        CHECK(g_syncs == 1);
        CHECK(log.sync() == 0); // nothing new to sync
        CHECK(g_syncs == 1);
        log.close();
        o.interval_ms = 0;
        open_ok(log, dir, nullptr, o);
        g_syncs = 0;
        fill(log, 3);
        CHECK(g_syncs == 3);
    }
    SUBCASE("Never: not at all until asked") {
        open_ok(log, dir, nullptr, opts(Kind::Dlq, Fsync::Never));
        g_syncs = 0;
        fill(log, 5);
        CHECK(log.flush_if_due() == 0);
        CHECK(g_syncs == 0);
        CHECK(log.sync() == 0);
        CHECK(g_syncs == 1);
    }
}

TEST_CASE("a failed fdatasync fails the append and every later write until reopened") {
    TempDir dir;
    SyncHook hook;
    RecordLog log;
    open_ok(log, dir);
    fill(log, 2);
    g_fail_with = EIO;
    CHECK(log.append(body_for(2, 10)) == EIO);
    CHECK(log.error().find("fdatasync failed") != std::string::npos);
    g_fail_with = 0;
    CHECK(log.append(body_for(3, 10)) == EIO);
    CHECK(log.error().find("reopen") != std::string::npos);
    CHECK(log.rewrite([](uint64_t, std::span<const std::byte>) { return true; }) == EIO);
    open_ok(log, dir);
    std::vector<uint64_t> got = numbers(log);
    CHECK(got.size() >= 2); // record 2 may or may not have reached the disk
    CHECK(got.size() <= 3);
    CHECK(log.append(body_for(3, 10)) == 0);
}

TEST_CASE("rewrite keeps what the predicate keeps, atomically, and drops corrupt records") {
    TempDir dir;
    std::string path = dir.file("q.dlq");
    RecordLog log;
    open_ok(log, dir);
    std::vector<uint64_t> offs = fill(log, 20);
    log.close();
    flip_byte(path, offs[7] + F + 9);
    OpenReport rep;
    open_ok(log, dir, &rep);
    CHECK(rep.corrupt_skipped == 1);
    uint64_t old_id = log.file_id();
    REQUIRE(log.rewrite([](uint64_t, std::span<const std::byte> b) {
        uint64_t n = 0;
        body_is(b.data(), b.size(), &n);
        return n % 2 == 1;
    }) == 0);
    CHECK(log.file_id() != old_id);
    CHECK(access(dir.file("q.dlq.tmp").c_str(), F_OK) != 0);
    std::vector<uint64_t> odd = {1, 3, 5, 9, 11, 13, 15, 17, 19};
    CHECK(numbers(log) == odd);
    fill(log, 1, 21);
    log.close();
    open_ok(log, dir, &rep);
    CHECK(rep.problems.empty());
    odd.push_back(21);
    CHECK(numbers(log) == odd);
    CHECK(file_size(path) == log.size());
}

TEST_CASE("one writer at a time, also across a rewrite; readers need no lock") {
    TempDir dir;
    RecordLog a, b;
    open_ok(a, dir);
    fill(a, 3);
    CHECK(b.open(dir.fd, "q.dlq", opts(), nullptr) == EWOULDBLOCK);
    CHECK(b.error().find("locked by another writer") != std::string::npos);
    REQUIRE(a.rewrite([](uint64_t, std::span<const std::byte>) { return true; }) == 0);
    CHECK(b.open(dir.fd, "q.dlq", opts(), nullptr) == EWOULDBLOCK);

    LogOptions ro = opts();
    ro.read_only = true;
    RecordLog r;
    REQUIRE(r.open(dir.fd, "q.dlq", ro, nullptr) == 0);
    CHECK(numbers(r) == range(0, 3));
    fill(a, 1, 3); // a reader sees later appends
    CHECK(numbers(r) == range(0, 4));
    CHECK(r.append(body_for(9, 10)) == EBADF);
    a.close();
    open_ok(b, dir);
    CHECK(numbers(b) == range(0, 4));
}

TEST_CASE("a reader reports a torn tail but leaves it for the writer") {
    TempDir dir;
    std::string path = dir.file("q.dlq");
    RecordLog log;
    open_ok(log, dir);
    fill(log, 4);
    log.close();
    append_bytes(path, Bytes(10));
    uint64_t size = file_size(path);
    LogOptions ro = opts();
    ro.read_only = true;
    OpenReport rep;
    REQUIRE(log.open(dir.fd, "q.dlq", ro, &rep) == 0);
    CHECK(rep.records == 4);
    CHECK(rep.torn_bytes_truncated == 0);
    CHECK(mentions(rep.problems, "ignored (read-only"));
    CHECK(file_size(path) == size);
    log.close();
    CHECK(log.open(dir.fd, "missing.dlq", ro, nullptr) == ENOENT);
}

TEST_CASE("bad options and names are refused") {
    TempDir dir;
    RecordLog log;
    LogOptions o = opts();
    o.max_record = 0;
    CHECK(log.open(dir.fd, "q.dlq", o, nullptr) == EINVAL);
    CHECK(log.open(dir.fd, "a/b", opts(), nullptr) == EINVAL);
    CHECK(log.append(body_for(1, 10)) == EBADF);
}
