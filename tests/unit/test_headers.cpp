// Message headers: read back byte for byte (zero-copy) through every send
// form, kept through nack, retry and a lease reclaimed from a consumer killed
// with SIGKILL, counted against the slot, and every bad input refused with
// its documented error before anything is claimed.
#include "support.hpp"

#include "shmq/shmq.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstddef>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

using namespace testing;

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

shmq_send_opts with(const std::vector<shmq_header> &h) {
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.headers = h.data();
    o.header_count = h.size();
    return o;
}

// Every header of a leased message, in order, through the iterator.
Pairs headers_of(shmq_queue *q, const shmq_msg &m) {
    const void *block = nullptr;
    size_t len = 0, pos = 0, kl = 0, vl = 0;
    const char *k, *v;
    REQUIRE(shmq_msg_headers(q, &m, &block, &len) == SHMQ_OK);
    Pairs out;
    int rc;
    while ((rc = shmq_headers_next(block, len, &pos, &k, &kl, &v, &vl)) == SHMQ_OK)
        out.emplace_back(std::string(k, kl), std::string(v, vl));
    CHECK(rc == SHMQ_EEMPTY);
    return out;
}

std::string text(const shmq_msg &m) { return std::string(static_cast<const char *>(m.data), m.len); }

uint64_t in_use(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    return s.slot_count - s.free;
}

const std::vector<shmq_header> kTrace = {
    {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    {"content-type", "application/json"},
    {"empty", ""},
    {"tenant", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"}, // 2, 3 and 4-byte UTF-8
};
const Pairs kTracePairs = {{"traceparent", kTrace[0].value}, {"content-type", "application/json"},
                           {"empty", ""}, {"tenant", kTrace[3].value}};

} // namespace

TEST_CASE("headers come back in order, zero-copy, beside an untouched payload, from every send form") {
    TestQueue t("hdrforms", small_params(8, 512));
    shmq_send_opts o = with(kTrace);
    REQUIRE(shmq_send_ex(t.q, "copy", 4, &o, nullptr, 0) == SHMQ_OK);
    shmq_iov iov[2] = {{"b0", 2}, {"b1", 2}};
    size_t sent = 0;
    REQUIRE(shmq_send_batch_ex(t.q, iov, 2, &o, nullptr, &sent, 0) == SHMQ_OK);
    shmq_reservation r;
    REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
    std::memcpy(r.data, "zero", 4);
    REQUIRE(shmq_commit_ex(t.q, &r, 4, &o, nullptr) == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "plain", 5, 0) == SHMQ_OK);

    for (const char *want : {"copy", "b0", "b1", "zero"}) {
        shmq_msg m;
        REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
        CHECK(text(m) == want);
        CHECK(headers_of(t.q, m) == kTracePairs);
        const char *v = nullptr;
        size_t n = 0;
        REQUIRE(shmq_msg_header(t.q, &m, "traceparent", &v, &n) == SHMQ_OK);
        CHECK(std::string(v, n) == kTrace[0].value);
        const void *block = nullptr;
        size_t len = 0;
        REQUIRE(shmq_msg_headers(t.q, &m, &block, &len) == SHMQ_OK);
        CHECK(block == static_cast<const char *>(m.data) + m.len); // in the slot, right after the payload
        CHECK(v > static_cast<const char *>(block)); // zero-copy: a pointer into it
        CHECK(shmq_msg_header(t.q, &m, "absent", &v, &n) == SHMQ_ENOTFOUND);
        REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
        CHECK(shmq_msg_headers(t.q, &m, &block, &len) == SHMQ_EINVAL); // a spent receipt
    }
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(text(m) == "plain");
    CHECK(headers_of(t.q, m).empty()); // a message sent without headers has none, not the slot's last ones
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
}

TEST_CASE("a slot reused without headers does not show the headers of its previous message") {
    TestQueue t("hdrreuse", small_params(1, 512));
    shmq_send_opts o = with(kTrace);
    REQUIRE(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "y", 1, 0) == SHMQ_OK); // the only slot again
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(headers_of(t.q, m).empty());
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
}

TEST_CASE("headers survive nack, retry and redelivery byte for byte") {
    TestQueue t("hdrnack", small_params(4, 512));
    shmq_send_opts o = with(kTrace);
    REQUIRE(shmq_send_ex(t.q, "payload", 7, &o, nullptr, 0) == SHMQ_OK);
    for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
        shmq_msg m;
        REQUIRE(shmq_recv(t.q, &m, 5 * 1000000000LL) == SHMQ_OK);
        CHECK(m.attempt == attempt);
        CHECK(text(m) == "payload");
        CHECK(headers_of(t.q, m) == kTracePairs);
        REQUIRE(shmq_nack(t.q, &m, 0) == SHMQ_OK);
    }
}

TEST_CASE("headers survive a lease reclaimed from a consumer killed with SIGKILL") {
    shmq_params p = small_params(4, 512);
    p.lease_ms = 600000; // reclaimed for the death, not for a deadline
    TestQueue t("hdrkill", p);
    shmq_send_opts o = with(kTrace);
    REQUIRE(shmq_send_ex(t.q, "payload", 7, &o, nullptr, 0) == SHMQ_OK);
    Pipe leased;
    pid_t child = spawn([&] {
        shmq_queue *q = open_queue(t.name);
        shmq_msg m;
        if (shmq_recv(q, &m, 10 * 1000000000LL) != SHMQ_OK) return 2;
        char one = 1;
        leased.put(&one, 1);
        for (;;) pause(); // killed while holding the lease
    });
    char got = 0;
    REQUIRE(leased.get(&got, 1));
    kill(child, SIGKILL);
    CHECK(wait_child(child) == -SIGKILL);
    shmq_recovery rep{};
    REQUIRE(shmq_recover(t.q, &rep) == SHMQ_OK);
    CHECK(rep.leases_reclaimed == 1);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 10 * 1000000000LL) == SHMQ_OK);
    CHECK(m.attempt == 2);
    CHECK(text(m) == "payload");
    CHECK(headers_of(t.q, m) == kTracePairs);
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
}

TEST_CASE("headers count against the slot: payload + encoded headers <= slot_size") {
    TestQueue t("hdrsize", small_params(4, 64));
    std::vector<shmq_header> h = {{"k", "0123456789"}}; // 3 + 1 + 10 = 14 bytes encoded
    shmq_send_opts o = with(h);
    std::string fits(50, 'x'), over(51, 'x');
    CHECK(shmq_send_ex(t.q, over.data(), over.size(), &o, nullptr, 0) == SHMQ_ETOOBIG);
    shmq_iov iov = {over.data(), over.size()};
    size_t sent = 9;
    CHECK(shmq_send_batch_ex(t.q, &iov, 1, &o, nullptr, &sent, 0) == SHMQ_ETOOBIG);
    CHECK(sent == 0);
    shmq_reservation r;
    REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
    CHECK(shmq_commit_ex(t.q, &r, over.size(), &o, nullptr) == SHMQ_ETOOBIG); // the reservation stays valid
    CHECK(in_use(t.q) == 1);
    REQUIRE(shmq_commit_ex(t.q, &r, fits.size(), &o, nullptr) == SHMQ_OK);
    REQUIRE(shmq_send_ex(t.q, fits.data(), fits.size(), &o, nullptr, 0) == SHMQ_OK);
    CHECK(in_use(t.q) == 2);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(m.len == 50);
    CHECK(headers_of(t.q, m) == Pairs{{"k", "0123456789"}});
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
}

TEST_CASE("every bad header is refused with its documented error and nothing is claimed or written") {
    TestQueue t("hdrbad", small_params(4, 8192));
    std::string key256(256, 'k'), key255(255, 'k'), big(SHMQ_MAX_HEADERS_SIZE, 'v');
    std::vector<std::string> many_keys;
    for (int k = 0; k <= SHMQ_MAX_HEADERS; ++k) many_keys.push_back("k" + std::to_string(k));
    std::vector<shmq_header> many;
    for (const std::string &k : many_keys) many.push_back({k.c_str(), ""});
    struct Case {
        const char *what;
        std::vector<shmq_header> h;
        int want;
    };
    const std::vector<Case> cases = {
        {"empty key", {{"", "v"}}, SHMQ_EINVAL},
        {"key of 256 bytes", {{key256.c_str(), "v"}}, SHMQ_EINVAL},
        {"key with a space", {{"a b", "v"}}, SHMQ_EINVAL},
        {"key with '='", {{"a=b", "v"}}, SHMQ_EINVAL},
        {"key with a control", {{"a\tb", "v"}}, SHMQ_EINVAL},
        {"non-ASCII key", {{"caf\xc3\xa9", "v"}}, SHMQ_EINVAL},
        {"NULL key", {{nullptr, "v"}}, SHMQ_EINVAL},
        {"NULL value", {{"k", nullptr}}, SHMQ_EINVAL},
        {"value not UTF-8", {{"k", "\xff\xfe"}}, SHMQ_EINVAL},
        {"value with a truncated sequence", {{"k", "\xe2\x82"}}, SHMQ_EINVAL},
        {"overlong UTF-8", {{"k", "\xc0\xaf"}}, SHMQ_EINVAL},
        {"UTF-16 surrogate", {{"k", "\xed\xa0\x80"}}, SHMQ_EINVAL},
        {"duplicate key", {{"k", "1"}, {"k", "2"}}, SHMQ_EINVAL},
        {"more than SHMQ_MAX_HEADERS", many, SHMQ_EINVAL},
        {"value past SHMQ_MAX_HEADERS_SIZE", {{"k", big.c_str()}}, SHMQ_ETOOBIG},
        {"block past SHMQ_MAX_HEADERS_SIZE", {{key255.c_str(), big.c_str() + 2000}, {"k2", big.c_str() + 100}},
         SHMQ_ETOOBIG},
    };
    for (const Case &c : cases) {
        CAPTURE(c.what);
        shmq_send_opts o = with(c.h);
        CHECK(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == c.want);
        shmq_iov iov = {"x", 1};
        size_t sent = 9;
        CHECK(shmq_send_batch_ex(t.q, &iov, 1, &o, nullptr, &sent, 0) == c.want);
        CHECK(sent == 0);
        CHECK(in_use(t.q) == 0);
    }
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.header_count = 1; // with headers NULL
    CHECK(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_EINVAL);
    // The largest allowed: a key of 255 and a block of exactly SHMQ_MAX_HEADERS_SIZE.
    std::string fill(SHMQ_MAX_HEADERS_SIZE - 3 - 255, 'v');
    std::vector<shmq_header> max = {{key255.c_str(), fill.c_str()}};
    o = with(max);
    CHECK(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_OK);
    CHECK(in_use(t.q) == 1);
}

TEST_CASE("an older shmq_send_opts (ending before the headers) sends none") {
    TestQueue t("hdrold", small_params(4, 512));
    shmq_send_opts o = with(kTrace);
    o.struct_size = offsetof(shmq_send_opts, headers); // a 0.4-expiry caller's struct
    REQUIRE(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(headers_of(t.q, m).empty());
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
}

TEST_CASE("the iterator refuses a damaged block") {
    const char *k, *v;
    size_t kl, vl, pos = 0;
    const char past_end[] = {3, 1, 0, 'a', 'b'}; // key of 3, value of 1: 2 bytes given
    CHECK(shmq_headers_next(past_end, sizeof past_end, &pos, &k, &kl, &v, &vl) == SHMQ_ECORRUPT);
    pos = 0;
    const char short_head[] = {1, 0};
    CHECK(shmq_headers_next(short_head, sizeof short_head, &pos, &k, &kl, &v, &vl) == SHMQ_ECORRUPT);
    pos = 0;
    const char bad_key[] = {1, 1, 0, ' ', 'v'};
    CHECK(shmq_headers_next(bad_key, sizeof bad_key, &pos, &k, &kl, &v, &vl) == SHMQ_ECORRUPT);
    pos = 0;
    const char good[] = {1, 1, 0, 'k', 'v'};
    REQUIRE(shmq_headers_next(good, sizeof good, &pos, &k, &kl, &v, &vl) == SHMQ_OK);
    CHECK(std::string(k, kl) == "k");
    CHECK(std::string(v, vl) == "v");
    CHECK(shmq_headers_next(good, sizeof good, &pos, &k, &kl, &v, &vl) == SHMQ_EEMPTY);
    CHECK(shmq_headers_next(nullptr, 5, &pos, &k, &kl, &v, &vl) == SHMQ_EINVAL);
}

TEST_CASE("C++: SendOptions::headers and Message::header / headers") {
    TestQueue t("hdrcpp", small_params(4, 512));
    shmq_close(t.q);
    t.q = nullptr;
    shmq::Queue q = shmq::Queue::open(t.name);
    shmq::SendOptions o;
    o.headers = {{"traceparent", "00-abc-01"}, {"k", "v"}};
    REQUIRE(q.send("hello", o) == SHMQ_OK);
    o.headers = {{"bad key", "v"}};
    CHECK(q.send("x", o) == SHMQ_EINVAL);
    auto m = q.recv(std::chrono::seconds(5));
    REQUIRE(m);
    CHECK(m->header("traceparent") == std::string_view("00-abc-01"));
    CHECK(!m->header("nope"));
    auto all = m->headers();
    REQUIRE(all.size() == 2);
    CHECK(all[1].first == "k");
    CHECK(all[1].second == "v");
    CHECK(m->ack() == SHMQ_OK);
    CHECK_THROWS_AS(m->headers(), shmq::Error); // acked: no longer ours
}
