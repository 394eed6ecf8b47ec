// send_opts.cpp - the _ex send calls of shmq.h: their options, validated
// before anything is claimed, and the ids they hand back.
#include "queue.hpp"

#include "shmq/shmq.h"

#include <cstddef>

using shmq::detail::Queue;
using shmq::detail::read_send_opts;
using shmq::detail::SendSpec;

namespace {

Queue *Q(shmq_queue *q) { return reinterpret_cast<Queue *>(q); }

} // namespace

int shmq::detail::read_send_opts(const shmq_send_opts *o, SendSpec *out) {
    *out = SendSpec{};
    if (o == nullptr) return SHMQ_OK;
    if (o->struct_size < offsetof(shmq_send_opts, delay_ns) + sizeof o->delay_ns || o->reserved != 0)
        return SHMQ_EINVAL;
    if (o->delay_ns < 0) return SHMQ_EINVAL;
    if (o->delay_ns > SHMQ_MAX_DELAY_NS) return SHMQ_ERANGE;
    out->delay_ns = o->delay_ns;
    return SHMQ_OK;
}

extern "C" {

void shmq_send_opts_init_sized(shmq_send_opts *o, size_t size) {
    if (o == nullptr || size < sizeof(shmq_send_opts)) return; // 0.4's struct is the first
    *o = shmq_send_opts{};
    o->struct_size = sizeof(shmq_send_opts);
}

int shmq_send_ex(shmq_queue *q, const void *data, size_t len, const shmq_send_opts *opts, uint64_t *id_out,
                 int64_t timeout_ns) {
    SendSpec spec;
    int rc = q == nullptr ? SHMQ_EINVAL : read_send_opts(opts, &spec);
    return rc != SHMQ_OK ? rc : Q(q)->send(data, len, timeout_ns, spec, id_out);
}

int shmq_send_batch_ex(shmq_queue *q, const shmq_iov *msgs, size_t count, const shmq_send_opts *opts,
                       uint64_t *ids, size_t *sent, int64_t timeout_ns) {
    SendSpec spec;
    int rc = q == nullptr ? SHMQ_EINVAL : read_send_opts(opts, &spec);
    if (rc == SHMQ_OK) return Q(q)->send_batch(msgs, count, sent, timeout_ns, spec, ids);
    if (sent != nullptr) *sent = 0;
    return rc;
}

int shmq_commit_ex(shmq_queue *q, shmq_reservation *r, size_t len, const shmq_send_opts *opts, uint64_t *id_out) {
    SendSpec spec;
    int rc = q == nullptr ? SHMQ_EINVAL : read_send_opts(opts, &spec);
    return rc != SHMQ_OK ? rc : Q(q)->commit(r, len, spec, id_out);
}

} // extern "C"
