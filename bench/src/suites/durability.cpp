// durability.cpp - what a DISK queue costs (issue 17). Four producer
// processes send 64-byte messages for a fixed time while one consumer
// receives and acks them: to a memory queue (/dev/shm), to a DISK queue
// without sync, and to a DISK queue with shmq_sync after each message (the
// time to confirm is sampled per message). Beside them, the baseline a
// program without shmq would use: four processes appending each message to a
// file of their own and fdatasync'ing it. DISK queues and baseline files live
// in $SHMQ_BENCH_DISK_DIR (default /var/tmp): a real filesystem.
#include <atomic>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

#include "../shmq_util.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

constexpr int kProducers = 4;
constexpr size_t kSize = 64;
constexpr size_t kMaxSamples = 200000; // per producer

struct Shared {
    Gate gate;
    std::atomic<int> producing{kProducers};
    std::atomic<uint64_t> sent[kProducers];
    std::atomic<uint64_t> received{0};
    std::atomic<int64_t> end_ns{0};
    int64_t confirm_ns[kProducers][kMaxSamples];
};

enum class Mode { Memory, Disk, DiskSync, Fsync };

std::string disk_dir() {
    const char *d = getenv("SHMQ_BENCH_DISK_DIR");
    return d != nullptr && *d != '\0' ? d : "/var/tmp";
}

// One producer: sends (and syncs, or writes and fdatasyncs) until `seconds` pass.
void produce(Mode mode, const std::string &name, int k, double seconds, Shared &s) {
    char buf[kSize] = {};
    int fd = -1;
    std::unique_ptr<Handle> q;
    if (mode == Mode::Fsync) {
        fd = open((disk_dir() + "/" + name + "." + std::to_string(k)).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0) throw_errno("open baseline file");
    } else {
        q = std::make_unique<Handle>(name, bench_default_options());
    }
    const int64_t start = s.gate.arrive(kProducers + (mode == Mode::Fsync ? 0 : 1));
    uint64_t n = 0;
    for (int64_t t0 = start; t0 - start < int64_t(seconds * 1e9); t0 = now_ns(), ++n) {
        if (mode == Mode::Fsync) {
            if (write(fd, buf, kSize) != ssize_t(kSize) || fdatasync(fd) != 0) throw_errno("write + fdatasync");
        } else {
            shmq_check(shmq_send(q->get(), buf, kSize, kShmqTimeoutNs), "shmq_send");
            if (mode == Mode::DiskSync) shmq_check(shmq_sync(q->get(), kShmqTimeoutNs), "shmq_sync");
        }
        if ((mode == Mode::DiskSync || mode == Mode::Fsync) && n < kMaxSamples) s.confirm_ns[k][n] = now_ns() - t0;
    }
    s.sent[k].store(n);
    if (fd >= 0) close(fd);
    if (s.producing.fetch_sub(1) == 1) s.end_ns.store(now_ns());
}

void consume(const std::string &name, Shared &s) {
    Handle q(name, bench_default_options());
    s.gate.arrive(kProducers + 1);
    shmq_msg m;
    for (;;) {
        int rc = shmq_recv(q.get(), &m, 1'000'000);
        if (rc == SHMQ_OK) {
            shmq_check(shmq_ack(q.get(), &m), "shmq_ack");
            s.received.fetch_add(1, std::memory_order_relaxed);
        } else if (rc == SHMQ_ETIMEDOUT && s.producing.load() == 0) {
            return;
        } else if (rc != SHMQ_ETIMEDOUT) {
            shmq_check(rc, "shmq_recv");
        }
    }
}

Json run(Mode mode, double seconds) {
    SharedMem mem(sizeof(Shared));
    auto *s = new (mem.data()) Shared{};
    const char *old = getenv("SHMQ_DIR");
    const std::string keep = old != nullptr ? old : "";
    if (mode != Mode::Memory) setenv("SHMQ_DIR", disk_dir().c_str(), 1);
    shmq_params p = bench_params(kSize, 4096);
    p.durability = mode == Mode::Disk || mode == Mode::DiskSync ? SHMQ_DURABILITY_DISK : SHMQ_DURABILITY_MEMORY;
    std::unique_ptr<NamedQueue> queue;
    std::string name = "bench.fsync." + std::to_string(getpid());
    if (mode != Mode::Fsync) {
        queue = std::make_unique<NamedQueue>(p);
        name = queue->name();
    }
    Children kids;
    for (int k = 0; k < kProducers; ++k) kids.spawn([&, k] { produce(mode, name, k, seconds, *s); });
    if (mode != Mode::Fsync) kids.spawn([&] { consume(name, *s); });
    kids.wait_all(seconds + 60);
    queue.reset();
    if (keep.empty()) unsetenv("SHMQ_DIR");
    else setenv("SHMQ_DIR", keep.c_str(), 1);
    uint64_t total = 0;
    std::vector<int64_t> samples;
    for (int k = 0; k < kProducers; ++k) {
        uint64_t n = s->sent[k].load();
        total += n;
        for (uint64_t i = 0; i < n && i < kMaxSamples && (mode == Mode::DiskSync || mode == Mode::Fsync); ++i)
            samples.push_back(s->confirm_ns[k][i]);
        if (mode == Mode::Fsync) std::filesystem::remove(disk_dir() + "/" + name + "." + std::to_string(k));
    }
    const double secs = double(s->end_ns.load() - s->gate.start_ns.load()) / 1e9;
    Json j = {{"producers", kProducers}, {"size", kSize}, {"messages", total}, {"seconds", secs},
              {"msgs_per_s", secs > 0 ? double(total) / secs : 0}};
    if (!samples.empty()) j["time_to_confirm_ns"] = to_json(summarize(samples));
    return j;
}

} // namespace

Json suite_durability(const Config &cfg) {
    const double seconds = cfg.short_mode ? 0.3 : 2.0;
    const std::pair<const char *, Mode> variants[] = {{"memory", Mode::Memory},
                                                      {"disk", Mode::Disk},
                                                      {"disk_sync", Mode::DiskSync},
                                                      {"fsync_baseline", Mode::Fsync}};
    Json out = {{"disk_dir", disk_dir()}};
    for (const auto &[label, mode] : variants) {
        if (!variant_selected(cfg, label)) continue;
        try {
            progress("durability", label, "running");
            out[label] = measure_quietly(cfg, [&, mode = mode] { return run(mode, seconds); });
        } catch (const std::exception &e) {
            out[label] = error_entry(std::string("durability ") + label, e);
        }
    }
    return out;
}

} // namespace bench
