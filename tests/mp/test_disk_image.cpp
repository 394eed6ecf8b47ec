// The crash-image test of issue 17: while producer processes send to a DISK
// queue and shmq_sync, a copier process copies the segment file page by page
// (4 KiB, yielding between pages) at random moments, which tears it as a power
// cut between page write-backs would. Each copy is then opened as after a
// reboot (its own SHMQ_DIR, a new SHMQ_BOOT_ID): every message confirmed by
// sync before the copy began is delivered, intact; no torn message is
// delivered (each payload is derived from its producer and sequence and
// checked byte by byte); torn ones are quarantined and counted.
#include "support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <sched.h>
#include <set>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace testing;

namespace {

constexpr int kProducers = 4;
constexpr uint32_t kPerProducer = 120;
constexpr uint32_t kSlotSize = 3000; // slots straddle pages (a stride of 3072 bytes)
constexpr int kCopies = 10;          // per round

// What producers confirmed (sync returned OK after the send), shared by fork.
struct Confirmed {
    std::atomic<uint32_t> count[kProducers];
    uint64_t ids[kProducers][kPerProducer];
    std::atomic<int> producers_done;
};

uint8_t byte_of(uint32_t p, uint32_t seq, uint32_t i) { return uint8_t((p * 131 + seq * 31 + i * 7) ^ (i >> 8)); }

uint32_t len_of(uint32_t p, uint32_t seq) { return 16 + (p * 977 + seq * 1013) % (kSlotSize - 16); }

std::vector<uint8_t> payload(uint32_t p, uint32_t seq) {
    std::vector<uint8_t> b(len_of(p, seq));
    std::memcpy(b.data(), &p, 4);
    std::memcpy(b.data() + 4, &seq, 4);
    for (uint32_t i = 8; i < b.size(); ++i) b[i] = byte_of(p, seq, i);
    return b;
}

bool intact(const void *data, size_t len) {
    uint32_t p = 0, seq = 0;
    if (len < 8) return false;
    std::memcpy(&p, data, 4);
    std::memcpy(&seq, static_cast<const char *>(data) + 4, 4);
    if (p >= kProducers || seq >= kPerProducer || len != len_of(p, seq)) return false;
    return std::memcmp(data, payload(p, seq).data(), len) == 0;
}

int producer(const std::string &name, uint32_t p, Confirmed *c) {
    shmq_queue *q = open_queue(name);
    if (q == nullptr) return 90;
    for (uint32_t seq = 0; seq < kPerProducer; ++seq) {
        auto b = payload(p, seq);
        uint64_t id = 0;
        if (shmq_send_ex(q, b.data(), b.size(), nullptr, &id, SHMQ_FOREVER) != SHMQ_OK) return 91;
        if (shmq_sync(q, SHMQ_FOREVER) != SHMQ_OK) return 92;
        c->ids[p][seq] = id;
        c->count[p].store(seq + 1, std::memory_order_release);
    }
    shmq_close(q);
    return 0;
}

// Copy `from` into dir/name page by page, in a random order (write-back
// order is the kernel's), yielding between pages; first write down what was
// confirmed before the copy began.
void copy_torn(const std::string &from, const std::string &dir, const std::string &file, Confirmed *c,
               std::mt19937_64 &rng) {
    std::filesystem::create_directory(dir);
    FILE *conf = fopen((dir + "/confirmed").c_str(), "w");
    for (int p = 0; p < kProducers; ++p) {
        uint32_t n = c->count[p].load(std::memory_order_acquire);
        for (uint32_t k = 0; k < n; ++k) fprintf(conf, "%llu\n", (unsigned long long)c->ids[p][k]);
    }
    fclose(conf);
    int in = open(from.c_str(), O_RDONLY);
    int out = open((dir + "/" + file).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    std::vector<off_t> pages(size_t(std::filesystem::file_size(from) / 4096));
    for (size_t k = 0; k < pages.size(); ++k) pages[k] = off_t(k) * 4096;
    std::shuffle(pages.begin(), pages.end(), rng);
    char page[4096];
    for (off_t at : pages) {
        if (pread(in, page, sizeof page, at) != ssize_t(sizeof page) || pwrite(out, page, sizeof page, at) != 4096)
            _exit(80);
        sched_yield();
    }
    close(in);
    close(out);
}

int copier(const std::string &seg, const std::string &base, const std::string &file, Confirmed *c, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int k = 0; k < kCopies; ++k) {
        // A random moment: up to a few thousand yields (the producers run), or
        // once they are done, at once.
        for (uint64_t y = rng() % 4000; y > 0 && c->producers_done.load() < kProducers; --y) sched_yield();
        copy_torn(seg, base + "/copy" + std::to_string(k), file, c, rng);
    }
    return 0;
}

struct Verdict {
    size_t delivered = 0, confirmed = 0;
    uint64_t quarantined = 0;
};

// Open one copy as after a reboot and hold it against what was confirmed.
Verdict check_copy(const std::string &dir, const std::string &name, int boot) {
    Verdict v;
    char id[40];
    snprintf(id, sizeof id, "%08x%08x0000000000000000", unsigned(getpid()), unsigned(boot));
    setenv("SHMQ_BOOT_ID", id, 1);
    setenv("SHMQ_DIR", dir.c_str(), 1);
    shmq_queue *q = nullptr;
    REQUIRE(shmq_open(name.c_str(), nullptr, &q) == SHMQ_OK);
    std::set<uint64_t> got;
    shmq_msg m;
    while (shmq_recv(q, &m, 0) == SHMQ_OK) {
        CHECK_MESSAGE(intact(m.data, m.len), "a torn message was delivered, id " << m.id);
        CHECK(got.insert(m.id).second);
        shmq_ack(q, &m);
    }
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    v.quarantined = s.quarantined;
    CHECK(s.dead == s.quarantined); // nothing else dies here
    shmq_close(q);
    FILE *conf = fopen((dir + "/confirmed").c_str(), "r");
    unsigned long long cid;
    while (fscanf(conf, "%llu", &cid) == 1) {
        ++v.confirmed;
        CHECK_MESSAGE(got.count(cid) == 1, "message " << cid << " confirmed by sync before the copy is missing");
    }
    fclose(conf);
    v.delivered = got.size();
    return v;
}

} // namespace

TEST_CASE("crash images: a DISK queue copied page by page while producers sync loses nothing confirmed, "
          "delivers nothing torn") {
    char tmpl[] = "/tmp/shmq-image-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    const std::string base = tmpl, home = getenv("SHMQ_DIR");
    size_t copies = 0, confirmed = 0, delivered = 0;
    uint64_t quarantined = 0;
    for (int round = 0; round < 25; ++round) {
        const std::string dir = base + "/r" + std::to_string(round);
        std::filesystem::create_directory(dir);
        setenv("SHMQ_DIR", dir.c_str(), 1);
        unsetenv("SHMQ_BOOT_ID");
        shmq_params p = small_params(kProducers * kPerProducer + 8, kSlotSize);
        p.durability = SHMQ_DURABILITY_DISK;
        TestQueue t("image", p);
        auto *c = static_cast<Confirmed *>(
            mmap(nullptr, sizeof(Confirmed), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
        REQUIRE(c != MAP_FAILED);
        new (c) Confirmed{};
        const std::string file = "shmq." + t.name;
        pid_t cp = spawn([&] { return copier(dir + "/" + file, dir, file, c, uint64_t(round) * 7919 + 1); });
        std::vector<pid_t> prods;
        for (uint32_t k = 0; k < kProducers; ++k)
            prods.push_back(spawn([&, k] {
                int rc = producer(t.name, k, c);
                c->producers_done.fetch_add(1);
                return rc;
            }));
        for (pid_t pid : prods) CHECK(wait_child(pid) == 0);
        CHECK(wait_child(cp) == 0);
        for (int k = 0; k < kCopies; ++k) {
            Verdict v = check_copy(dir + "/copy" + std::to_string(k), t.name, round * 100 + k + 1);
            ++copies, confirmed += v.confirmed, delivered += v.delivered, quarantined += v.quarantined;
        }
        setenv("SHMQ_DIR", dir.c_str(), 1);
        unsetenv("SHMQ_BOOT_ID");
        munmap(c, sizeof(Confirmed));
    }
    setenv("SHMQ_DIR", home.c_str(), 1);
    MESSAGE(copies << " images: " << confirmed << " confirmed messages checked, " << delivered << " delivered, "
                   << quarantined << " quarantined (torn)");
    std::filesystem::remove_all(base);
}
