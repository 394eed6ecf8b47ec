// opcount.cpp - what one message costs in shared-memory accesses (docs/core.md,
// "What a message costs"). One process, one single-threaded handle on a
// 1024-slot queue, 64 B messages: `single` runs send + recv + ack per message,
// `batch` runs send_batch + recv_batch + ack_batch of 32.
//
// Two builds of this file. `opcount` is built with the core's sources under
// SHMQ_EXPLORE and counts every shared-memory access by kind (its
// explore_point is a counter, not a scheduler); `opcount_plain` links the
// ordinary library, for `valgrind --tool=callgrind` (instructions per message:
// run it with two counts and divide the difference). Not a test: nothing here
// can fail but the queue calls themselves.
#include <shmq/shmq.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#ifdef SHMQ_EXPLORE
#include "atomic.hpp"
#include "sys.hpp"

#include <cerrno>
#include <climits>
#include <ctime>
#include <fstream>
#include <linux/futex.h>
#include <sys/syscall.h>

namespace {
unsigned long g_count[3];
bool g_on = false;
} // namespace

namespace shmq::detail {

void explore_point(const void *, Access kind) {
    if (g_on) ++g_count[int(kind)];
}
void explore_mapped(const void *, size_t, bool) {}
void explore_yield() {}
void explore_flock(bool) {} // one process: no one to wait for

static int64_t clock_ns(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
int64_t real_ns() { return clock_ns(CLOCK_REALTIME); }
// One process never sleeps on its own queue here: a wait returns at once.
bool futex_wait(const void *, uint32_t, int64_t) { return true; }
void futex_wake(const void *, int) {}
ProcessId self_process() { return ProcessId{int32_t(getpid()), kAnyStart, 0}; }
Liveness process_liveness(const ProcessId &id) { return id.pid == getpid() ? Liveness::Alive : Liveness::Dead; }

} // namespace shmq::detail
#endif

namespace {

constexpr int kBatch = 32;

void check(int rc, const char *what) {
    if (rc == SHMQ_OK) return;
    std::fprintf(stderr, "opcount: %s: %s\n", what, shmq_strerror(rc));
    std::exit(1);
}

void one(shmq_queue *q) {
    char buf[64] = {};
    shmq_msg m;
    check(shmq_send(q, buf, sizeof buf, 0), "send");
    check(shmq_recv(q, &m, 0), "recv");
    check(shmq_ack(q, &m), "ack");
}

void batch(shmq_queue *q) {
    static char buf[kBatch][64];
    shmq_iov iov[kBatch];
    shmq_msg m[kBatch];
    for (int i = 0; i < kBatch; i++) iov[i] = shmq_iov{buf[i], sizeof buf[i]};
    size_t sent = 0, got = 0;
    check(shmq_send_batch(q, iov, kBatch, &sent, 0), "send_batch");
    check(shmq_recv_batch(q, m, kBatch, &got, 0), "recv_batch");
    if (sent != kBatch || got != kBatch) check(SHMQ_EFULL, "short batch");
    check(shmq_ack_batch(q, m, got, nullptr), "ack_batch");
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 3 || (std::strcmp(argv[1], "single") != 0 && std::strcmp(argv[1], "batch") != 0)) {
        std::fprintf(stderr, "usage: opcount single|batch MESSAGES\n");
        return 2;
    }
    const bool is_batch = argv[1][0] == 'b';
    const long n = std::atol(argv[2]);
    std::string name = "opcount." + std::to_string(getpid());
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = 64;
    p.slot_count = 1024;
    shmq_queue *q = nullptr;
    check(shmq_create(name.c_str(), &p, nullptr, &q), "create");
    shmq_close(q);
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    o.single_thread = 1;
    check(shmq_open(name.c_str(), &o, &q), "open");
    for (int i = 0; i < 2; i++) is_batch ? batch(q) : one(q); // warm: first-use paths out of the count
#ifdef SHMQ_EXPLORE
    g_on = true;
#endif
    const long calls = is_batch ? n / kBatch : n;
    for (long i = 0; i < calls; i++) is_batch ? batch(q) : one(q);
#ifdef SHMQ_EXPLORE
    g_on = false;
    const double msgs = double(is_batch ? calls * kBatch : calls);
    std::printf("%s: per message %.2f locked RMWs, %.2f stores, %.2f loads of shared memory\n", argv[1],
                g_count[int(shmq::detail::Access::Rmw)] / msgs, g_count[int(shmq::detail::Access::Write)] / msgs,
                g_count[int(shmq::detail::Access::Read)] / msgs);
#endif
    shmq_close(q);
    shmq_unlink(name.c_str());
    return 0;
}
