// c_api.cpp - the C functions of shmq.h, each a thin, NULL-checked call into
// the C++ core. shmq_queue is the C name of shmq::detail::Queue.
#define SHMQ_BUILDING_LIBRARY // shmq.h: declare the 0.3 entry points that this file defines
#include "names.hpp"
#include "queue.hpp"
#include "segment.hpp"

#include "shmq/shmq.h"

#include <algorithm>
#include <cstring>

using shmq::detail::kOptionsV3;
using shmq::detail::kParamsV3;
using shmq::detail::DeadReason;
using shmq::detail::Queue;

struct shmq_queue {};

static Queue *Q(shmq_queue *q) { return reinterpret_cast<Queue *>(q); }
static const Queue *Q(const shmq_queue *q) { return reinterpret_cast<const Queue *>(q); }

extern "C" {

uint32_t shmq_version(void) { return SHMQ_VERSION; }

const char *shmq_strerror(int err) {
    switch (err) {
    case SHMQ_OK: return "success";
    case SHMQ_EFULL: return "queue is full";
    case SHMQ_ETIMEDOUT: return "timed out";
    case SHMQ_EEMPTY: return "no message ready";
    case SHMQ_ELEASELOST: return "lease lost: the message was reclaimed and may be with another consumer";
    case SHMQ_ECLOSED: return "queue was unlinked";
    case SHMQ_EINVAL: return "invalid argument";
    case SHMQ_EBADNAME: return "bad queue name: use 1-64 of [A-Za-z0-9._-], not only dots";
    case SHMQ_ETOOBIG: return "message larger than the queue's slot size";
    case SHMQ_ENOTFOUND: return "not found (no such queue, topic, group or header; or a topic with no group bound)";
    case SHMQ_EEXIST: return "queue already exists";
    case SHMQ_EVERSION: return "segment was made by an incompatible shmq version";
    case SHMQ_ECORRUPT: return "segment is corrupt or was never fully initialised";
    case SHMQ_EPERM: return "permission denied";
    case SHMQ_ENOSPACE: return "not enough space in /dev/shm or memory";
    case SHMQ_ECLIENTS: return "client table full";
    case SHMQ_EPREFETCH: return "prefetch limit reached: ack or nack held messages first";
    case SHMQ_EINTR: return "interrupted";
    case SHMQ_ESYS: return "unexpected system error";
    case SHMQ_ERANGE: return "time out of range: a delay above 14 days or a ttl above 7 days";
    case SHMQ_EBUSY: return "the consumer group still holds messages: remove it with force, or drain it first";
    case SHMQ_EDEDUPFULL: return "deduplication table full of keys still in their window: nothing sent";
    case SHMQ_EFLUSH: return "writing the disk queue back to its file failed: what was sent may not be on disk";
    case SHMQ_EREBOOTED:
        return "memory queue's segment is from before a reboot: its contents were never durable (unlink and re-create it)";
    default: return "unknown shmq error";
    }
}

int shmq_name_check(const char *name) { return shmq::detail::check_name(name); }

void shmq_params_init_sized(shmq_params *out, size_t size) {
    if (out == nullptr || size < kParamsV3) return;
    shmq_params d{};
    shmq_params *p = &d;
    p->slot_size = 1024;
    p->slot_count = 1024;
    p->max_clients = 64;
    p->lease_ms = 30000;
    p->max_attempts = 5;
    p->backoff_base_ms = 100;
    p->backoff_cap_ms = 30000;
    p->jitter = SHMQ_JITTER_FULL;
    p->overflow = SHMQ_OVERFLOW_BLOCK;
    p->mode = 0600;
    size = std::min(size, sizeof d);
    std::memcpy(out, &d, size);
    out->struct_size = uint32_t(size);
}

void shmq_params_init(shmq_params *p) { shmq_params_init_sized(p, kParamsV3); }

void shmq_options_init_sized(shmq_options *o, size_t size) {
    if (o == nullptr || size < kOptionsV3) return;
    shmq_options d{};
    d.prefetch = 64;
    d.spin_ns = 20000;
    d.wait = SHMQ_WAIT_ADAPTIVE;
    size = std::min(size, sizeof d);
    std::memcpy(o, &d, size);
    o->struct_size = uint32_t(size);
}

void shmq_options_init(shmq_options *o) { shmq_options_init_sized(o, kOptionsV3); }

int shmq_create(const char *name, const shmq_params *params, const shmq_options *options, shmq_queue **out) {
    if (out == nullptr) return SHMQ_EINVAL; // before anything is created
    Queue *q = nullptr;
    int rc = Queue::create(name, params, options, &q);
    if (rc == SHMQ_OK) *out = reinterpret_cast<shmq_queue *>(q);
    return rc;
}

int shmq_open(const char *name, const shmq_options *options, shmq_queue **out) {
    if (out == nullptr) return SHMQ_EINVAL;
    Queue *q = nullptr;
    int rc = Queue::open(name, options, &q);
    if (rc == SHMQ_OK) *out = reinterpret_cast<shmq_queue *>(q);
    return rc;
}

int shmq_open_group(const char *topic, const char *group, const shmq_options *options, shmq_queue **out) {
    if (out == nullptr) return SHMQ_EINVAL;
    Queue *q = nullptr;
    int rc = Queue::open_group(topic, group, options, &q);
    if (rc == SHMQ_OK) *out = reinterpret_cast<shmq_queue *>(q);
    return rc;
}

int shmq_group_add(shmq_queue *topic, const char *group) {
    return topic == nullptr ? SHMQ_EINVAL : Q(topic)->group_add(group);
}

int shmq_group_remove(shmq_queue *topic, const char *group, int force) {
    return topic == nullptr ? SHMQ_EINVAL : Q(topic)->group_remove(group, force != 0);
}

int shmq_groups(const shmq_queue *topic, char (*names)[SHMQ_NAME_MAX + 1], size_t max, size_t *count) {
    if (count != nullptr) *count = 0;
    if (topic == nullptr || count == nullptr || (names == nullptr && max > 0) || !Q(topic)->topic()) return SHMQ_EINVAL;
    std::vector<std::string> all = Q(topic)->group_names();
    *count = all.size();
    for (size_t k = 0; k < all.size() && k < max; ++k) {
        std::memset(names[k], 0, SHMQ_NAME_MAX + 1);
        std::memcpy(names[k], all[k].data(), std::min<size_t>(all[k].size(), SHMQ_NAME_MAX));
    }
    return all.size() > max ? SHMQ_EFULL : SHMQ_OK;
}

void shmq_close(shmq_queue *q) { delete Q(q); }

int shmq_unlink(const char *name) { return shmq::detail::segment_unlink(name); }

int shmq_get_params_sized(const shmq_queue *q, shmq_params *out, size_t size) {
    if (q == nullptr || out == nullptr || size < kParamsV3) return SHMQ_EINVAL;
    shmq_params p;
    Q(q)->params(&p);
    size = std::min(size, sizeof p);
    p.struct_size = uint32_t(size);
    std::memcpy(out, &p, size);
    return SHMQ_OK;
}

int shmq_get_params(const shmq_queue *q, shmq_params *out) { return shmq_get_params_sized(q, out, kParamsV3); }

int shmq_send(shmq_queue *q, const void *data, size_t len, int64_t timeout_ns) {
    return q == nullptr ? SHMQ_EINVAL : Q(q)->send(data, len, timeout_ns);
}

int shmq_send_batch(shmq_queue *q, const shmq_iov *msgs, size_t count, size_t *sent, int64_t timeout_ns) {
    if (q == nullptr) {
        if (sent != nullptr) *sent = 0;
        return SHMQ_EINVAL;
    }
    return Q(q)->send_batch(msgs, count, sent, timeout_ns);
}

int shmq_reserve(shmq_queue *q, shmq_reservation *r, int64_t timeout_ns) {
    return q == nullptr ? SHMQ_EINVAL : Q(q)->reserve(r, timeout_ns);
}

int shmq_commit(shmq_queue *q, shmq_reservation *r, size_t len) {
    return q == nullptr ? SHMQ_EINVAL : Q(q)->commit(r, len);
}

int shmq_abort(shmq_queue *q, shmq_reservation *r) { return q == nullptr ? SHMQ_EINVAL : Q(q)->abort(r); }

int shmq_recv(shmq_queue *q, shmq_msg *msg, int64_t timeout_ns) {
    return q == nullptr ? SHMQ_EINVAL : Q(q)->recv(msg, timeout_ns);
}

int shmq_recv_batch(shmq_queue *q, shmq_msg *msgs, size_t max, size_t *count, int64_t timeout_ns) {
    if (q == nullptr) {
        if (count != nullptr) *count = 0;
        return SHMQ_EINVAL;
    }
    return Q(q)->recv_batch(msgs, max, count, timeout_ns);
}

int shmq_ack(shmq_queue *q, shmq_msg *msg) { return q == nullptr ? SHMQ_EINVAL : Q(q)->ack(msg); }

int shmq_ack_batch(shmq_queue *q, shmq_msg *msgs, size_t count, int *results) {
    if (q == nullptr) {
        for (size_t k = 0; results != nullptr && k < count; ++k) results[k] = SHMQ_EINVAL;
        return SHMQ_EINVAL;
    }
    return Q(q)->ack_batch(msgs, count, results);
}

int shmq_nack(shmq_queue *q, shmq_msg *msg, int64_t delay_ns) {
    return q == nullptr ? SHMQ_EINVAL : Q(q)->nack(msg, delay_ns);
}

int shmq_reject(shmq_queue *q, shmq_msg *msg) { return q == nullptr ? SHMQ_EINVAL : Q(q)->reject(msg); }

// The reasons a caller may give (shmq.h); the others are the core's own.
static bool caller_reason(shmq_dead_reason r) {
    return r == SHMQ_DEAD_MAX_ATTEMPTS || r == SHMQ_DEAD_REJECTED || r == SHMQ_DEAD_BRIDGE_REJECTED;
}

int shmq_nack_ex(shmq_queue *q, shmq_msg *msg, int64_t delay_ns, shmq_dead_reason reason) {
    if (q == nullptr || !caller_reason(reason)) return SHMQ_EINVAL;
    return Q(q)->nack(msg, delay_ns, DeadReason(reason));
}

int shmq_reject_ex(shmq_queue *q, shmq_msg *msg, shmq_dead_reason reason) {
    if (q == nullptr || !caller_reason(reason)) return SHMQ_EINVAL;
    return Q(q)->reject(msg, DeadReason(reason));
}

int shmq_extend(shmq_queue *q, shmq_msg *msg, uint32_t lease_ms) {
    return q == nullptr ? SHMQ_EINVAL : Q(q)->extend(msg, lease_ms);
}

int shmq_ready_fd(shmq_queue *q, int *fd) { return q == nullptr ? SHMQ_EINVAL : Q(q)->ready_fd(fd); }

int shmq_stats_get(shmq_queue *q, shmq_stats *out) { return q == nullptr ? SHMQ_EINVAL : Q(q)->stats(out); }

int shmq_flush(shmq_queue *q) { return q == nullptr ? SHMQ_EINVAL : Q(q)->flush(); }

int shmq_sync(shmq_queue *q, int64_t timeout_ns) { return q == nullptr ? SHMQ_EINVAL : Q(q)->sync(timeout_ns); }

int shmq_recover(shmq_queue *q, shmq_recovery *report) {
    return q == nullptr ? SHMQ_EINVAL : Q(q)->recover(report);
}

} // extern "C"
