// Header blocks in spill and dead-letter records: kept byte for byte through
// the store, records written before headers existed (a checked-in fixture
// from the old encoder) still read with none, and a header block that runs
// past its record is malformed, never half read.
#include "store/dead_letters.hpp"
#include "store/format.hpp"
#include "store/spill.hpp"
#include "store_support.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace shmq::store;
using namespace store_test;

namespace {

Bytes bytes(const std::string &s) {
    Bytes b;
    for (char c : s) b.push_back(std::byte(c));
    return b;
}

// "k" = "v1", "t" = "" as the core encodes them (shmq.h).
const Bytes kHeaders = bytes(std::string("\x01\x02\x00kv1\x01\x00\x00t", 10));

// A file of `kind` holding `records` (frames, as in a fuzz seed).
void put_log(const TempDir &dir, const std::string &file, Kind kind, const Bytes &records) {
    Bytes b(kFileHeaderSize);
    encode_file_header(FileHeader{kFormatVersion, uint32_t(kind), 0x5EED5EED5EED5EEDull}, b.data());
    b.insert(b.end(), records.begin(), records.end());
    write_all(dir.file(file), b);
}

} // namespace

TEST_CASE("dead letters keep their header block through add, show, list and redrive") {
    TempDir dir;
    DeadLetters d;
    REQUIRE(d.open(dir.fd, "orders", {}, nullptr) == 0);
    REQUIRE(d.add(DeadLetterMeta{1, 3, DeadReason::Rejected, 10, 20}, bytes("payload"), kHeaders) == 0);
    REQUIRE(d.add(DeadLetterMeta{2, 1, DeadReason::Expired, 10, 20}, bytes("bare")) == 0);
    d.close();
    REQUIRE(d.open(dir.fd, "orders", {}, nullptr) == 0);
    DeadLetter one;
    REQUIRE(d.show(1, &one) == 0);
    CHECK(one.meta.attempts == 3); // the flag bit is not part of the count
    CHECK(one.payload == bytes("payload"));
    CHECK(one.headers == kHeaders);
    REQUIRE(d.show(2, &one) == 0);
    CHECK(one.headers.empty());
    CHECK(one.payload == bytes("bare"));
    std::vector<uint64_t> sizes;
    REQUIRE(d.list([&](const DeadLetterInfo &i) { return sizes.push_back(i.size), true; }) == 0);
    CHECK(sizes == std::vector<uint64_t>{7, 4}); // payload bytes, headers not counted
    RedriveResult res;
    std::vector<Bytes> seen;
    REQUIRE(d.redrive_all(0, [&](const DeadLetterView &v) {
        seen.emplace_back(v.headers.begin(), v.headers.end());
        return RedriveStep::Sent;
    }, &res) == 0);
    CHECK(seen == std::vector<Bytes>{kHeaders, Bytes{}});
}

TEST_CASE("spilled records keep their header block through push, peek and a reopen") {
    TempDir dir;
    Spill s;
    REQUIRE(s.open(dir.fd, "orders", {}, nullptr) == 0);
    REQUIRE(s.push(SpillMeta{1, 2, 10}, bytes("payload"), kHeaders) == 0);
    REQUIRE(s.push(SpillMeta{2, 0, 10}, bytes("bare")) == 0);
    s.close();
    REQUIRE(s.open(dir.fd, "orders", {}, nullptr) == 0);
    std::vector<SpillRecord> batch;
    REQUIRE(s.peek_batch(5, &batch) == 0);
    REQUIRE(batch.size() == 2);
    CHECK(batch[0].meta.attempts == 2);
    CHECK(batch[0].payload == bytes("payload"));
    CHECK(batch[0].headers == kHeaders);
    CHECK(batch[1].headers.empty());
    CHECK(batch[1].payload == bytes("bare"));
}

TEST_CASE("records of the format before headers (checked-in seeds of the old encoder) read with none") {
    TempDir dir;
    // tests/store/corpus/dlq-valid and spill-valid: a mode byte, then the
    // frames the store wrote before headers existed.
    Bytes dlq = read_all(std::string(SHMQ_STORE_CORPUS) + "/dlq-valid");
    put_log(dir, "orders.dlq", Kind::Dlq, Bytes(dlq.begin() + 1, dlq.end()));
    DeadLetters d;
    OpenReport rep;
    REQUIRE(d.open(dir.fd, "orders", {}, &rep) == 0);
    CHECK(rep.problems.empty());
    std::vector<std::pair<uint64_t, size_t>> got;
    REQUIRE(d.each([&](const DeadLetterView &v) {
        CHECK(v.headers.empty());
        CHECK(v.meta.attempts == 5);
        got.emplace_back(v.meta.id, v.payload.size());
        return true;
    }) == 0);
    CHECK(got == std::vector<std::pair<uint64_t, size_t>>{{1, 4}, {2, 8}, {3, 12}});

    Bytes spill = read_all(std::string(SHMQ_STORE_CORPUS) + "/spill-valid");
    put_log(dir, "orders.spill", Kind::Spill, Bytes(spill.begin() + 1, spill.end()));
    Spill s;
    REQUIRE(s.open(dir.fd, "orders", {}, nullptr) == 0);
    std::vector<SpillRecord> batch;
    REQUIRE(s.peek_batch(5, &batch) == 0);
    REQUIRE(batch.size() == 3);
    for (size_t k = 0; k < 3; ++k) {
        CHECK(batch[k].headers.empty());
        CHECK(batch[k].payload.size() == 3 * (k + 1));
    }
}

TEST_CASE("a header block that runs past its record, or is empty or too long, makes the record malformed") {
    Bytes good = encode_dead_letter(DeadLetterMeta{1, 3, DeadReason::Rejected, 10, 20}, bytes("p"), kHeaders);
    DeadLetterView v;
    REQUIRE(decode_dead_letter(good, &v));
    CHECK(Bytes(v.headers.begin(), v.headers.end()) == kHeaders);
    for (size_t cut = 1; cut <= kHeaders.size() + 1; ++cut) { // into the payload's byte, then the block
        CAPTURE(cut);
        std::span<const std::byte> shorter(good.data(), good.size() - cut);
        if (cut == 1) CHECK(decode_dead_letter(shorter, &v)); // only the 1-byte payload is gone
        else CHECK(!decode_dead_letter(shorter, &v));
    }
    Bytes zero = good;
    put_u32(zero.data() + 32, 0); // flag set, no block
    CHECK(!decode_dead_letter(zero, &v));
    Bytes huge = good;
    put_u32(huge.data() + 32, 4097);
    CHECK(!decode_dead_letter(huge, &v));

    Bytes spill = encode_spill_record(SpillMeta{1, 0, 10}, bytes("p"), kHeaders);
    SpillMeta m;
    std::span<const std::byte> p, h;
    REQUIRE(decode_spill_record(spill, &m, &p, &h));
    CHECK(Bytes(h.begin(), h.end()) == kHeaders);
    CHECK(!decode_spill_record(std::span<const std::byte>(spill).first(spill.size() - 3), &m, &p, &h));

    TempDir dir; // in a file: reported at open and skipped, the others kept
    {
        RecordLog raw;
        REQUIRE(raw.open(dir.fd, "orders.dlq", LogOptions{}, nullptr) == 0);
        REQUIRE(raw.append(encode_dead_letter(DeadLetterMeta{1, 1, DeadReason::Rejected, 10, 20}, bytes("ok"))) == 0);
        REQUIRE(raw.append(std::span<const std::byte>(good).first(good.size() - 4)) == 0);
    }
    DeadLetters d;
    OpenReport rep;
    REQUIRE(d.open(dir.fd, "orders", {}, &rep) == 0);
    CHECK(d.count() == 1);
    REQUIRE(rep.problems.size() == 1);
    CHECK(rep.problems[0].find("header block runs past it") != std::string::npos);
}
