// send_opts.cpp - the _ex send calls of shmq.h: their options, validated
// before anything is claimed, and the ids they hand back.
#include "queue.hpp"
#include "sys.hpp"

#include "shmq/shmq.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

using shmq::detail::Queue;
using shmq::detail::read_headers;
using shmq::detail::read_send_opts;
using shmq::detail::SendSpec;

namespace {

Queue *Q(shmq_queue *q) { return reinterpret_cast<Queue *>(q); }

// The first shmq_send_opts ended after delay_ns; ttl_ns came next.
constexpr size_t kSendOptsFirst = offsetof(shmq_send_opts, delay_ns) + sizeof(int64_t);
constexpr size_t kSendOptsTtl = offsetof(shmq_send_opts, ttl_ns) + sizeof(int64_t);
constexpr size_t kSendOptsHeaders = offsetof(shmq_send_opts, header_count) + sizeof(size_t);
constexpr size_t kSendOptsDedup = offsetof(shmq_send_opts, duplicate_out) + sizeof(uint8_t *);

// The deduplication fields (0.5): a key of 1 .. SHMQ_MAX_DEDUP_KEY bytes.
int read_dedup(const shmq_send_opts *o, SendSpec *out) {
    if (o->dedup_key == nullptr ? o->dedup_key_len != 0
                                : o->dedup_key_len == 0 || o->dedup_key_len > SHMQ_MAX_DEDUP_KEY)
        return SHMQ_EINVAL;
    out->dedup_key = o->dedup_key;
    out->dedup_key_len = uint32_t(o->dedup_key_len);
    out->dedup_keys = o->dedup_keys;
    out->duplicate = o->duplicate_out;
    return SHMQ_OK;
}

// Keys per message of a batch: each none or 1 .. SHMQ_MAX_DEDUP_KEY bytes.
int check_batch_keys(const shmq_iov *keys, size_t count) {
    for (size_t k = 0; keys != nullptr && k < count; ++k)
        if ((keys[k].data == nullptr) != (keys[k].len == 0) || keys[k].len > SHMQ_MAX_DEDUP_KEY) return SHMQ_EINVAL;
    return SHMQ_OK;
}

// SHMQ_SEND_SYNC: the sync gets what is left of the call's timeout, measured
// from `start`. Without the flag, `rc` as it is.
int then_sync(Queue *q, const SendSpec &spec, int rc, int64_t start, int64_t timeout_ns) {
    if (!spec.sync || rc != SHMQ_OK) return rc;
    int64_t left = timeout_ns < 0 ? timeout_ns : std::max<int64_t>(0, timeout_ns - (shmq::detail::mono_ns() - start));
    return q->sync(left);
}

// A sync needs time to wait in: SHMQ_SEND_SYNC with timeout 0 is refused.
int check_sync(const SendSpec &spec, int64_t timeout_ns) {
    return spec.sync && timeout_ns == 0 ? SHMQ_EINVAL : SHMQ_OK;
}

} // namespace

int shmq::detail::read_send_opts(const shmq_send_opts *o, SendSpec *out) {
    *out = SendSpec{};
    if (o == nullptr) return SHMQ_OK;
    if (o->struct_size < kSendOptsFirst || (o->flags & ~SHMQ_SEND_SYNC) != 0)
        return SHMQ_EINVAL;
    out->sync = (o->flags & SHMQ_SEND_SYNC) != 0;
    if (o->delay_ns < 0) return SHMQ_EINVAL;
    if (o->delay_ns > SHMQ_MAX_DELAY_NS) return SHMQ_ERANGE;
    out->delay_ns = o->delay_ns;
    if (o->struct_size < kSendOptsTtl) return SHMQ_OK; // a struct from before ttl_ns
    if (o->ttl_ns < 0 && o->ttl_ns != SHMQ_TTL_NEVER) return SHMQ_EINVAL;
    if (o->ttl_ns > SHMQ_MAX_TTL_NS) return SHMQ_ERANGE;
    out->ttl_ns = o->ttl_ns;
    if (o->struct_size < kSendOptsHeaders) return SHMQ_OK; // a struct from before headers
    int rc = read_headers(o->headers, o->header_count, out);
    if (rc != SHMQ_OK || o->struct_size < kSendOptsDedup) return rc; // or a struct from before dedup
    return read_dedup(o, out);
}

extern "C" {

void shmq_send_opts_init_sized(shmq_send_opts *o, size_t size) {
    if (o == nullptr || size < kSendOptsFirst) return; // 0.4's first struct ends after delay_ns
    shmq_send_opts d{};
    size = std::min(size, sizeof d);
    std::memcpy(o, &d, size);
    o->struct_size = uint32_t(size);
}

int shmq_send_ex(shmq_queue *q, const void *data, size_t len, const shmq_send_opts *opts, uint64_t *id_out,
                 int64_t timeout_ns) {
    SendSpec spec;
    int rc = q == nullptr ? SHMQ_EINVAL : read_send_opts(opts, &spec);
    if (rc == SHMQ_OK && spec.dedup_keys != nullptr) rc = SHMQ_EINVAL; // a batch's field
    if (rc == SHMQ_OK) rc = check_sync(spec, timeout_ns);
    if (rc != SHMQ_OK) return rc;
    const int64_t start = spec.sync ? shmq::detail::mono_ns() : 0; // no clock read for a plain send
    if (spec.sync && id_out != nullptr) *id_out = 0; // nonzero after an error: stored, not synced
    return then_sync(Q(q), spec, Q(q)->send(data, len, timeout_ns, spec, id_out), start, timeout_ns);
}

int shmq_send_batch_ex(shmq_queue *q, const shmq_iov *msgs, size_t count, const shmq_send_opts *opts,
                       uint64_t *ids, size_t *sent, int64_t timeout_ns) {
    SendSpec spec;
    int rc = q == nullptr ? SHMQ_EINVAL : read_send_opts(opts, &spec);
    if (rc == SHMQ_OK && spec.dedup_key != nullptr) rc = SHMQ_EINVAL; // one key for many messages: use dedup_keys
    if (rc == SHMQ_OK) rc = check_batch_keys(spec.dedup_keys, count);
    if (rc == SHMQ_OK) rc = check_sync(spec, timeout_ns);
    if (rc == SHMQ_OK) {
        const int64_t start = spec.sync ? shmq::detail::mono_ns() : 0;
        return then_sync(Q(q), spec, Q(q)->send_batch(msgs, count, sent, timeout_ns, spec, ids), start, timeout_ns);
    }
    if (sent != nullptr) *sent = 0;
    return rc;
}

int shmq_commit_ex(shmq_queue *q, shmq_reservation *r, size_t len, const shmq_send_opts *opts, uint64_t *id_out) {
    SendSpec spec;
    int rc = q == nullptr ? SHMQ_EINVAL : read_send_opts(opts, &spec);
    if (rc == SHMQ_OK && (spec.dedup_keys != nullptr || spec.sync)) rc = SHMQ_EINVAL; // a batch's field; no timeout to sync in
    return rc != SHMQ_OK ? rc : Q(q)->commit(r, len, spec, id_out);
}

} // extern "C"
