// Bad input: names, parameters, foreign or damaged segments, permissions.
// Each gives its documented error and never a crash.
#include "support.hpp"

#include "crashpoint.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace testing;

static std::string path_of(const std::string &name) { return std::string(getenv("SHMQ_DIR")) + "/shmq." + name; }

static void poke(const std::string &name, off_t at, const void *bytes, size_t n) {
    int fd = open(path_of(name).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, bytes, n, at) == ssize_t(n));
    close(fd);
}

// A queue that exists on disk with nobody attached, for tests that damage it.
struct ClosedQueue {
    explicit ClosedQueue(const char *tag) : name(unique_name(tag)) {
        shmq_params p = small_params();
        shmq_queue *q = nullptr;
        REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
        shmq_close(q);
    }
    ~ClosedQueue() { unlink(path_of(name).c_str()); }
    std::string name;
};

static int try_open(const std::string &name) {
    shmq_queue *q = nullptr;
    int rc = shmq_open(name.c_str(), nullptr, &q);
    shmq_close(q);
    return rc;
}

TEST_CASE("queue names are [A-Za-z0-9._-]{1,64}, not only dots") {
    const char *bad[] = {"", ".", "..", "../x", "a/b", "with space", "tab\t", "semi;colon", "uni\xc3\xa9"};
    for (const char *n : bad) {
        CAPTURE(n);
        CHECK(shmq_name_check(n) == SHMQ_EBADNAME);
        shmq_queue *q = nullptr;
        CHECK(shmq_create(n, nullptr, nullptr, &q) == SHMQ_EBADNAME);
        CHECK(shmq_open(n, nullptr, &q) == SHMQ_EBADNAME);
        CHECK(shmq_unlink(n) == SHMQ_EBADNAME);
    }
    CHECK(shmq_name_check(nullptr) == SHMQ_EBADNAME);
    CHECK(shmq_name_check(std::string(65, 'a').c_str()) == SHMQ_EBADNAME);
    CHECK(shmq_name_check(std::string(64, 'a').c_str()) == SHMQ_OK);
    CHECK(shmq_name_check("order.created_v2-eu") == SHMQ_OK);
    CHECK(shmq_name_check("..x") == SHMQ_OK); // a name, not a path: it is always prefixed
}

TEST_CASE("out-of-range parameters are refused with EINVAL") {
    auto refused = [](void (*edit)(shmq_params &)) {
        shmq_params p = small_params();
        edit(p);
        shmq_queue *q = nullptr;
        return shmq_create(unique_name("param").c_str(), &p, nullptr, &q) == SHMQ_EINVAL;
    };
    CHECK(refused([](shmq_params &p) { p.slot_size = 0; }));
    CHECK(refused([](shmq_params &p) { p.slot_count = 0; }));
    CHECK(refused([](shmq_params &p) { p.max_clients = 1; }));
    CHECK(refused([](shmq_params &p) { p.lease_ms = 0; }));
    CHECK(refused([](shmq_params &p) { p.max_attempts = 0; }));
    CHECK(refused([](shmq_params &p) { p.backoff_base_ms = 10, p.backoff_cap_ms = 5; }));
    CHECK(refused([](shmq_params &p) { p.jitter = 7; }));
    CHECK(refused([](shmq_params &p) { p.overflow = 3; }));
    CHECK(refused([](shmq_params &p) { p.mode = 0666; }));
    CHECK(refused([](shmq_params &p) { p.mode = 0400; }));
    CHECK(refused([](shmq_params &p) { p.struct_size = 0; }));
    shmq_options o;
    shmq_options_init(&o);
    o.struct_size = 1;
    shmq_queue *q = nullptr;
    CHECK(shmq_create(unique_name("opt").c_str(), nullptr, &o, &q) == SHMQ_EINVAL);
}

TEST_CASE("parameters in range that make no sense together are refused with EINVAL, nothing created") {
    auto create = [](uint32_t slots, uint32_t overflow, uint32_t groups, uint32_t window, uint32_t capacity) {
        shmq_params p = small_params(slots);
        p.overflow = overflow, p.max_groups = groups, p.dedup_window_ms = window, p.dedup_capacity = capacity;
        std::string name = unique_name("combo");
        shmq_queue *q = nullptr;
        int rc = shmq_create(name.c_str(), &p, nullptr, &q);
        shmq_close(q);
        shmq_queue *again = nullptr;
        if (rc != SHMQ_OK) CHECK(shmq_open(name.c_str(), nullptr, &again) == SHMQ_ENOTFOUND);
        shmq_unlink(name.c_str());
        return rc;
    };
    // A deduplication table without a window: no send could use it.
    CHECK(create(8, SHMQ_OVERFLOW_BLOCK, 0, 0, 64) == SHMQ_EINVAL);
    CHECK(create(8, SHMQ_OVERFLOW_BLOCK, 0, 1000, 64) == SHMQ_OK);
    CHECK(create(8, SHMQ_OVERFLOW_BLOCK, 0, 0, 0) == SHMQ_OK);
    // Spill with one slot: shmqd's mark (a group's backlog) must be below slot_count.
    CHECK(create(1, SHMQ_OVERFLOW_SPILL, 2, 0, 0) == SHMQ_EINVAL); // a topic
    CHECK(create(1, SHMQ_OVERFLOW_SPILL, 0, 0, 0) == SHMQ_EINVAL); // a queue
    CHECK(create(2, SHMQ_OVERFLOW_SPILL, 2, 0, 0) == SHMQ_OK);
    CHECK(create(1, SHMQ_OVERFLOW_BLOCK, 2, 0, 0) == SHMQ_OK);
}

TEST_CASE("stats accepts 0.1's shorter struct and writes nothing past it; shorter still is refused") {
    TestQueue t("oldstats");
    struct {
        shmq_stats s;
        unsigned char canary[16];
    } buf;
    std::memset(&buf, 0xAB, sizeof buf);
    buf.s.struct_size = offsetof(shmq_stats, spilled); // 0.1's sizeof(shmq_stats)
    buf.s.client = nullptr;
    buf.s.client_cap = 0;
    REQUIRE(shmq_send(t.q, "x", 1, 0) == SHMQ_OK);
    REQUIRE(shmq_stats_get(t.q, &buf.s) == SHMQ_OK);
    CHECK(buf.s.ready == 1);
    CHECK(buf.s.struct_size == offsetof(shmq_stats, spilled));
    const unsigned char *tail = reinterpret_cast<const unsigned char *>(&buf.s) + offsetof(shmq_stats, spilled);
    for (size_t i = 0; i < sizeof buf - offsetof(shmq_stats, spilled); ++i) CHECK(tail[i] == 0xAB);
    buf.s.struct_size = offsetof(shmq_stats, spilled) - 1;
    CHECK(shmq_stats_get(t.q, &buf.s) == SHMQ_EINVAL);
}

TEST_CASE("create refuses an existing name; open and unlink report a missing one") {
    TestQueue t("exists");
    shmq_queue *q = nullptr;
    CHECK(shmq_create(t.name.c_str(), nullptr, nullptr, &q) == SHMQ_EEXIST);
    CHECK(try_open("missing.queue") == SHMQ_ENOTFOUND);
    CHECK(shmq_unlink("missing.queue") == SHMQ_ENOTFOUND);
}

TEST_CASE("a segment from another layout version is refused with EVERSION") {
    ClosedQueue t("version");
    uint32_t v = 999;
    poke(t.name, 8, &v, sizeof v); // Header::layout_version
    CHECK(try_open(t.name) == SHMQ_EVERSION);
    v = 1;
    poke(t.name, 8, &v, sizeof v);
    uint64_t fp = 12345;
    poke(t.name, 16, &fp, sizeof fp); // Header::fingerprint
    CHECK(try_open(t.name) == SHMQ_EVERSION);
}

TEST_CASE("a damaged header is refused with ECORRUPT") {
    ClosedQueue t("corrupt");
    uint64_t magic = 0xdeadbeef;
    poke(t.name, 0, &magic, sizeof magic);
    CHECK(try_open(t.name) == SHMQ_ECORRUPT);
}

TEST_CASE("damaged parameters or a truncated file are refused with ECORRUPT") {
    ClosedQueue t("params");
    uint32_t huge = 0x7fffffff;
    poke(t.name, 64 + 4, &huge, sizeof huge); // Params::slot_count
    CHECK(try_open(t.name) == SHMQ_ECORRUPT);

    ClosedQueue u("trunc");
    REQUIRE(truncate(path_of(u.name).c_str(), 4096) == 0);
    CHECK(try_open(u.name) == SHMQ_ECORRUPT);
    REQUIRE(truncate(path_of(u.name).c_str(), 10) == 0);
    CHECK(try_open(u.name) == SHMQ_ECORRUPT);
}

TEST_CASE("world-writable segments and symlinks are refused with EPERM") {
    ClosedQueue t("worldw");
    REQUIRE(chmod(path_of(t.name).c_str(), 0666) == 0);
    CHECK(try_open(t.name) == SHMQ_EPERM);

    std::string link = unique_name("link");
    REQUIRE(symlink(path_of(t.name).c_str(), path_of(link).c_str()) == 0);
    CHECK(try_open(link) == SHMQ_EPERM);
    unlink(path_of(link).c_str());
}

TEST_CASE("segments are created 0600 and another user cannot open them") {
    TestQueue t("perm");
    struct stat st;
    REQUIRE(stat(path_of(t.name).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::string name = t.name;
    pid_t pid = spawn([&] {
        if (geteuid() == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) return 90; // nobody
        } else if (chmod(path_of(name).c_str(), 0) != 0) {
            return 91; // not root: a mode that denies even the owner
        }
        return try_open(name) == SHMQ_EPERM ? 0 : 1;
    });
    CHECK(wait_child(pid) == 0);
}

TEST_CASE("a segment larger than the space left fails at create with ENOSPACE") {
    shmq_params p = small_params();
    p.slot_count = 1u << 24;
    p.slot_size = 1u << 30;
    shmq_queue *q = nullptr;
    std::string name = unique_name("huge");
    CHECK(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_ENOSPACE);
    CHECK(try_open(name) == SHMQ_ENOTFOUND); // nothing half-made is left
}

TEST_CASE("a creator killed before its segment is complete leaves no visible queue") {
    std::string name = unique_name("halfmade");
    pid_t pid = spawn([&] {
        shmq::detail::crash_point_arm("create.before_link", 0);
        shmq_queue *q = nullptr;
        shmq_params p = small_params();
        shmq_create(name.c_str(), &p, nullptr, &q);
        return 0;
    });
    CHECK(wait_child(pid) == -SIGKILL);
    CHECK(try_open(name) == SHMQ_ENOTFOUND);
    TestQueue again("unused");
    shmq_queue *q = nullptr;
    shmq_params p = small_params();
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    shmq_close(q);
    shmq_unlink(name.c_str());
}

TEST_CASE("after unlink, attached handles get ECLOSED and new opens ENOTFOUND") {
    TestQueue t("unlinked");
    REQUIRE(shmq_unlink(t.name.c_str()) == SHMQ_OK);
    shmq_msg m;
    CHECK(shmq_recv(t.q, &m, SHMQ_FOREVER) == SHMQ_ECLOSED);
    CHECK(shmq_send(t.q, "x", 1, 0) == SHMQ_ECLOSED);
    CHECK(try_open(t.name) == SHMQ_ENOTFOUND);
}

TEST_CASE("NULL handles and arguments are errors, not crashes") {
    shmq_close(nullptr);
    shmq_msg m{};
    CHECK(shmq_send(nullptr, "x", 1, 0) == SHMQ_EINVAL);
    CHECK(shmq_recv(nullptr, &m, 0) == SHMQ_EINVAL);
    CHECK(shmq_ack(nullptr, &m) == SHMQ_EINVAL);
    TestQueue t("nulls");
    CHECK(shmq_recv(t.q, nullptr, 0) == SHMQ_EINVAL);
    CHECK(shmq_ack(t.q, nullptr) == SHMQ_EINVAL);
    CHECK(shmq_ack(t.q, &m) == SHMQ_EINVAL); // never leased
    m.receipt[0] = 1u << 30;
    CHECK(shmq_nack(t.q, &m, 0) == SHMQ_EINVAL); // slot out of range
    CHECK(shmq_stats_get(t.q, nullptr) == SHMQ_EINVAL);
    CHECK(std::string(shmq_strerror(12345)) == "unknown shmq error");
    CHECK(shmq_version() == SHMQ_VERSION);
}

TEST_CASE("world-readable segments are refused like world-writable ones (create refuses such modes too)") {
    ClosedQueue t("worldr");
    REQUIRE(chmod(path_of(t.name).c_str(), 0604) == 0);
    CHECK(try_open(t.name) == SHMQ_EPERM);
}

TEST_CASE("create and open without an out pointer fail with EINVAL and leave no segment") {
    std::string name = unique_name("noout");
    CHECK(shmq_create(name.c_str(), nullptr, nullptr, nullptr) == SHMQ_EINVAL);
    struct stat st;
    CHECK(stat(path_of(name).c_str(), &st) != 0); // nothing was created
    ClosedQueue t("noout2");
    CHECK(shmq_open(t.name.c_str(), nullptr, nullptr) == SHMQ_EINVAL);
}

TEST_CASE("a missing segment directory is a system error (ENOENT), not 'no such queue'") {
    std::string saved = getenv("SHMQ_DIR");
    setenv("SHMQ_DIR", "/nonexistent/shmq-test-dir", 1);
    shmq_queue *q = nullptr;
    errno = 0;
    CHECK(shmq_open("x", nullptr, &q) == SHMQ_ESYS);
    CHECK(errno == ENOENT);
    CHECK(shmq_create("x", nullptr, nullptr, &q) == SHMQ_ESYS);
    setenv("SHMQ_DIR", saved.c_str(), 1);
}
