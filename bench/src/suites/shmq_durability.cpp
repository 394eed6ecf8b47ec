// shmq_durability.cpp - the goals of issue 17: a `disk` queue against a
// `memory` one, and the confirmed-durable send (send, then shmq_sync) against
// an fsync per message. 64 B messages, 4 producer processes; in the queue
// cells one consumer process leases and acks everything. No shmqd runs: the
// disk queue without sync is written back by the kernel alone, and each
// shmq_sync flushes (or joins a flush in progress: group commit).
//
// The disk queues and the baseline's files live in $SHMQ_BENCH_DISK_DIR, or
// a fresh directory under /var/tmp; results.json names its filesystem (on
// tmpfs the figures say nothing about a disk).
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/magic.h>
#include <new>
#include <stdexcept>
#include <sys/statfs.h>
#include <unistd.h>
#include <vector>

#include "../measure.hpp"
#include "../shmq_util.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

constexpr uint32_t kProducers = 4;
constexpr size_t kSize = 64;
constexpr size_t kSlots = 4096;
constexpr int64_t kPollNs = 20'000'000;   // the consumer's recv timeout before it looks at `done`
constexpr size_t kMaxSamples = 1 << 18;   // per producer: confirm times kept

// Where the disk queues and files go; removed (with what is left in it) at the end.
class DiskDir {
  public:
    DiskDir() {
        const char *env = std::getenv("SHMQ_BENCH_DISK_DIR");
        std::string tmpl = std::string(env != nullptr && *env != '\0' ? env : "/var/tmp") + "/shmq-bench-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) == nullptr)
            throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
        path_ = buf.data();
    }
    ~DiskDir() {
        std::string cmd = "rm -rf '" + path_ + "'";
        if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", path_.c_str());
    }
    DiskDir(const DiskDir &) = delete;
    DiskDir &operator=(const DiskDir &) = delete;
    const std::string &path() const { return path_; }
    bool tmpfs() const {
        struct statfs s;
        return statfs(path_.c_str(), &s) == 0 && s.f_type == TMPFS_MAGIC;
    }

  private:
    std::string path_;
};

// SHMQ_DIR set while alive: the queues created and the children forked meanwhile use it.
class ScopedShmqDir {
  public:
    explicit ScopedShmqDir(const std::string &dir) {
        const char *old = std::getenv("SHMQ_DIR");
        had_ = old != nullptr;
        if (had_) old_ = old;
        setenv("SHMQ_DIR", dir.c_str(), 1);
    }
    ~ScopedShmqDir() { had_ ? (void)setenv("SHMQ_DIR", old_.c_str(), 1) : (void)unsetenv("SHMQ_DIR"); }
    ScopedShmqDir(const ScopedShmqDir &) = delete;
    ScopedShmqDir &operator=(const ScopedShmqDir &) = delete;

  private:
    bool had_ = false;
    std::string old_;
};

struct DurShared {
    Gate gate;
    std::atomic<uint32_t> done{0};
    std::atomic<uint64_t> sent[kProducers]{};
    std::atomic<uint64_t> samples[kProducers]{};
    std::atomic<uint64_t> received{0};
    std::atomic<int64_t> end_ns{0};
    int64_t confirm_ns[kProducers][kMaxSamples];
};

// What a producer does per message: a send (then shmq_sync), or a write and an fdatasync.
struct Producer {
    shmq_queue *q = nullptr;
    bool sync = false;
    int fd = -1;
    void one(const char *buf) const {
        if (fd >= 0) {
            if (write(fd, buf, kSize) != ssize_t(kSize)) throw std::runtime_error(std::string("write: ") + std::strerror(errno));
            if (fdatasync(fd) != 0) throw std::runtime_error(std::string("fdatasync: ") + std::strerror(errno));
            return;
        }
        shmq_check(shmq_send(q, buf, kSize, kShmqTimeoutNs), "shmq_send");
        if (sync) shmq_check(shmq_sync(q, kShmqTimeoutNs), "shmq_sync");
    }
};

void produce(const Producer &p, uint32_t idx, uint32_t parties, double seconds, DurShared &sh) {
    char buf[kSize] = {};
    int64_t deadline = sh.gate.arrive(parties) + int64_t(seconds * 1e9);
    uint64_t n = 0;
    for (int64_t t0 = now_ns(); t0 < deadline; ++n) {
        put_header(buf, n + 1, t0);
        p.one(buf);
        int64_t t1 = now_ns();
        if (n < kMaxSamples) sh.confirm_ns[idx][n] = t1 - t0;
        t0 = t1;
    }
    sh.samples[idx] = n < kMaxSamples ? n : kMaxSamples;
    sh.sent[idx] = n;
    int64_t end = now_ns(), seen = sh.end_ns.load();
    while (end > seen && !sh.end_ns.compare_exchange_weak(seen, end)) {}
    sh.done.fetch_add(1); // after sent: a consumer that sees every producer done reads final counts
}

uint64_t total_sent(const DurShared &sh) {
    uint64_t t = 0;
    for (const auto &s : sh.sent) t += s.load();
    return t;
}

void consume(const std::string &name, DurShared &sh) {
    Handle h(name, bench_default_options());
    sh.gate.arrive(kProducers + 1);
    uint64_t n = 0;
    shmq_msg m;
    while (!(sh.done.load() == kProducers && n == total_sent(sh))) {
        int rc = shmq_recv(h.get(), &m, kPollNs);
        if (rc == SHMQ_ETIMEDOUT || rc == SHMQ_EEMPTY) continue;
        shmq_check(rc, "shmq_recv");
        shmq_check(shmq_ack(h.get(), &m), "shmq_ack");
        ++n;
    }
    int64_t end = now_ns(), seen = sh.end_ns.load();
    while (end > seen && !sh.end_ns.compare_exchange_weak(seen, end)) {}
    sh.received = n;
}

enum class Cell { Memory, Disk, DiskSync, Fsync };

Json run_cell(Cell cell, const DiskDir &dir, double seconds) {
    SharedMem mem(sizeof(DurShared));
    auto *sh = new (mem.data()) DurShared{};
    std::unique_ptr<ScopedShmqDir> in_dir;
    if (cell != Cell::Memory) in_dir = std::make_unique<ScopedShmqDir>(dir.path());
    std::unique_ptr<NamedQueue> q;
    if (cell != Cell::Fsync) {
        shmq_params p = bench_params(kSize, kSlots);
        p.durability = cell == Cell::Memory ? SHMQ_DURABILITY_MEMORY : SHMQ_DURABILITY_DISK;
        q = std::make_unique<NamedQueue>(p);
    }
    bool queue = q != nullptr;
    uint32_t parties = kProducers + (queue ? 1 : 0);
    Children kids;
    if (queue) kids.spawn([&] { consume(q->name(), *sh); });
    for (uint32_t i = 0; i < kProducers; i++)
        kids.spawn([&, i] {
            Producer p;
            std::unique_ptr<Handle> h;
            if (queue) {
                h = std::make_unique<Handle>(q->name(), bench_default_options());
                p.q = h->get();
                p.sync = cell == Cell::DiskSync;
            } else {
                std::string file = dir.path() + "/fsync." + std::to_string(i);
                p.fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
                if (p.fd < 0) throw std::runtime_error("open " + file + ": " + std::strerror(errno));
            }
            produce(p, i, parties, seconds, *sh);
            if (p.fd >= 0) close(p.fd);
        });
    kids.wait_all(4 * seconds + 120);
    double s = double(sh->end_ns.load() - sh->gate.start_ns.load()) / 1e9;
    uint64_t n = queue ? sh->received.load() : total_sent(*sh);
    Json j{{"messages", n}, {"seconds", s}, {"msgs_per_s", s > 0 ? double(n) / s : 0}};
    if (cell == Cell::DiskSync || cell == Cell::Fsync) {
        std::vector<int64_t> all;
        for (uint32_t i = 0; i < kProducers; i++)
            all.insert(all.end(), sh->confirm_ns[i], sh->confirm_ns[i] + sh->samples[i].load());
        j["confirm"] = to_json(summarize(all));
    }
    return j;
}

const char *cell_name(Cell c) {
    switch (c) {
    case Cell::Memory: return "memory";
    case Cell::Disk: return "disk";
    case Cell::DiskSync: return "disk_sync";
    case Cell::Fsync: return "fsync_baseline";
    }
    return "?";
}

} // namespace

Json suite_durability(const Config &cfg) {
    DiskDir dir;
    Json out{{"producers", kProducers}, {"size", kSize}, {"slots", kSlots}, {"dir", dir.path()},
             {"tmpfs", dir.tmpfs()}, {"cells", Json::object()}};
    double seconds = cfg.short_mode ? 0.2 : 2 * cfg.throughput_s;
    for (Cell c : {Cell::Memory, Cell::Disk, Cell::DiskSync, Cell::Fsync}) {
        const char *name = cell_name(c);
        if (!variant_selected(cfg, name)) continue;
        try {
            Json j = measure_quietly(cfg, [&] { return run_cell(c, dir, seconds); });
            std::string text = fmt_rate(j["msgs_per_s"].get<double>());
            if (j.contains("confirm"))
                text += ", confirm p50 " + fmt_ns(j["confirm"]["p50_ns"].get<double>()) + " p99 " +
                        fmt_ns(j["confirm"]["p99_ns"].get<double>());
            progress("durability", name, text);
            out["cells"][name] = j;
        } catch (const std::exception &e) {
            out["cells"][name] = error_entry(std::string("durability ") + name, e);
        }
    }
    return out;
}

} // namespace bench
