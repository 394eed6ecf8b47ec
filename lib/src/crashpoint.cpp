// crashpoint.cpp - the armed crash point of this process (test builds only).
#include "crashpoint.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace shmq::detail {

const char *const kCrashPoints[] = {
    "free.pop.after_take",   // producer owns a WRITING slot; free-ring cell not yet removed
    "send.writing",          // WRITING, payload half written
    "send.after_intent",     // publish intent recorded, slot still WRITING
    "send.after_ready",      // slot READY, not yet in the ready ring
    "ready.push.after_cell", // ready-ring cell filled, tail not advanced
    "send.after_push",       // pushed, intent not cleared
    "ready.pop.after_take",  // consumer's lease CAS done; ready-ring cell not removed
    "recv.after_lease",      // leased, delivery count not yet incremented
    "ack.after_free",        // slot FREE, not yet in the free ring
    "free.push.after_cell",  // free-ring cell filled, tail not advanced
    "send.after_delayed",    // slot DELAYED by a delayed send, next_due_ms not yet lowered
    "nack.after_delayed",    // slot DELAYED by a nack
    "nack.after_ready",      // slot READY by a zero-delay nack, not yet pushed
    "create.before_link",    // segment built under its temporary name, not yet linked
    "attach.after_claim",    // client record ATTACHING
    "recover.after_claim",   // recoverer claimed a dead client's record
    "recover.after_reclaim", // recoverer moved a dead client's lease, not yet pushed
    "dlq.after_write",       // shmqd wrote a dead letter to disk, slot not yet freed
    "spill.after_write",     // shmqd wrote a spilled message to disk, slot not yet freed
    "flush.after_started",   // a DISK queue's flusher took its generation, flush_done not raised
    "flush.after_msync",     // a DISK queue's flusher wrote back, durable_sent and flush_done not raised
    nullptr,
};

namespace {
std::atomic<const char *> g_armed{nullptr};
std::atomic<unsigned> g_skip{0};
} // namespace

void crash_point_arm(const char *name, unsigned skip) {
    g_skip.store(skip);
    g_armed.store(name);
}

#ifdef SHMQ_CRASH_POINTS
// SHMQ_CRASH_AT=name[:skip] arms a point in a whole program (for tests that
// run shmqd or a client as a separate binary).
static void arm_from_env() {
    static std::atomic<bool> done{false};
    if (done.exchange(true)) return;
    static std::string spec;
    const char *env = getenv("SHMQ_CRASH_AT");
    if (env == nullptr || g_armed.load() != nullptr) return;
    spec = env;
    unsigned skip = 0;
    size_t colon = spec.find(':');
    if (colon != std::string::npos) {
        skip = unsigned(strtoul(spec.c_str() + colon + 1, nullptr, 10));
        spec.resize(colon);
    }
    crash_point_arm(spec.c_str(), skip);
}

void crash_point(const char *name) {
    arm_from_env();
    const char *armed = g_armed.load(std::memory_order_relaxed);
    if (name == nullptr || armed == nullptr || std::strcmp(armed, name) != 0) return;
    if (g_skip.load() > 0) {
        g_skip.fetch_sub(1);
        return;
    }
    raise(SIGKILL);
}
#endif

} // namespace shmq::detail
