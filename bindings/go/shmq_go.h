/* shmq_go.h - the C side of the Go binding's hot calls, included by the cgo
 * preambles. Go 1.19's cgo makes every pointer argument escape to the heap
 * and checks every Go pointer to memory that holds pointers, so these calls
 * take only pointers to pointer-free Go memory that is on the heap anyway
 * (a Message, a batch's scratch) and return their results by value. The
 * handle comes as an integer (shmq_go_handle): cgo checks a pointer to an
 * incomplete struct such as shmq_queue, which costs an allocation per call.
 * shmq_go_msg is shmq_msg with `data` as an integer: the same layout, checked
 * below; libshmq is another translation unit (a shared library), so passing
 * it as a shmq_msg * cannot break strict aliasing. */
#ifndef SHMQ_GO_H
#define SHMQ_GO_H

#include <shmq/shmq.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uintptr_t data;
    size_t len;
    uint64_t id;
    uint32_t attempt;
    uint32_t lease_ms;
    int64_t enqueued_ns;
    uint64_t receipt[2];
} shmq_go_msg;

_Static_assert(sizeof(shmq_go_msg) == sizeof(shmq_msg), "shmq_go_msg mirrors shmq_msg");
_Static_assert(offsetof(shmq_go_msg, data) == offsetof(shmq_msg, data) &&
                   offsetof(shmq_go_msg, len) == offsetof(shmq_msg, len) &&
                   offsetof(shmq_go_msg, id) == offsetof(shmq_msg, id) &&
                   offsetof(shmq_go_msg, attempt) == offsetof(shmq_msg, attempt) &&
                   offsetof(shmq_go_msg, lease_ms) == offsetof(shmq_msg, lease_ms) &&
                   offsetof(shmq_go_msg, enqueued_ns) == offsetof(shmq_msg, enqueued_ns) &&
                   offsetof(shmq_go_msg, receipt) == offsetof(shmq_msg, receipt),
               "shmq_go_msg mirrors shmq_msg");

typedef uintptr_t shmq_go_handle;

static inline shmq_queue *shmq_go_q(shmq_go_handle h) { return (shmq_queue *)h; }

static inline shmq_msg *shmq_go_c(shmq_go_msg *m) { return (shmq_msg *)(void *)m; }

/* Where a leased message's header block is (zero-copy, valid while leased:
 * Go copies it at receive) and whether it is well formed: rc SHMQ_OK, or
 * SHMQ_ECORRUPT for a block that breaks the encoding (a hostile writer's).
 * len 0 when the message has none, the common case, checked with no pass. */
typedef struct {
    uintptr_t block;
    size_t len;
    int rc;
} shmq_go_hdr;

static inline shmq_go_hdr shmq_go_headers_of(shmq_go_handle h, shmq_go_msg *m) {
    shmq_go_hdr r = {0, 0, SHMQ_OK};
    const void *block = NULL;
    r.rc = shmq_msg_headers(shmq_go_q(h), shmq_go_c(m), &block, &r.len);
    r.block = (uintptr_t)block;
    size_t pos = 0, kl, vl;
    const char *k, *v;
    int rc = SHMQ_OK;
    while (r.rc == SHMQ_OK && r.len > 0 && (rc = shmq_headers_next(block, r.len, &pos, &k, &kl, &v, &vl)) == SHMQ_OK) {
    }
    if (r.rc == SHMQ_OK && r.len > 0 && rc != SHMQ_EEMPTY) r.rc = rc;
    return r;
}

typedef struct {
    int rc;
    shmq_go_msg msg;
    shmq_go_hdr hdr;
} shmq_go_recv_result;

static inline shmq_go_recv_result shmq_go_recv(shmq_go_handle h, int64_t timeout_ns) {
    shmq_go_recv_result r;
    r.rc = shmq_recv(shmq_go_q(h), shmq_go_c(&r.msg), timeout_ns);
    if (r.rc == SHMQ_OK) r.hdr = shmq_go_headers_of(h, &r.msg);
    return r;
}

typedef struct {
    int rc;
    size_t count;
} shmq_go_batch_result;

/* hdrs[i] gets the header block of msgs[i] for each message leased. */
static inline shmq_go_batch_result shmq_go_recv_batch(shmq_go_handle h, shmq_go_msg *msgs, shmq_go_hdr *hdrs,
                                                      size_t max, int64_t timeout_ns) {
    shmq_go_batch_result r;
    r.rc = shmq_recv_batch(shmq_go_q(h), shmq_go_c(msgs), max, &r.count, timeout_ns);
    for (size_t i = 0; i < r.count; ++i) hdrs[i] = shmq_go_headers_of(h, &msgs[i]);
    return r;
}

/* Acks msgs[0, count) (each on its own, producers woken once per 256);
 * returns SHMQ_OK or the first failure's code. */
static inline int shmq_go_ack_batch(shmq_go_handle h, shmq_go_msg *msgs, size_t count) {
    int rcs[256];
    int first = SHMQ_OK;
    for (size_t done = 0; done < count;) {
        size_t n = count - done < 256 ? count - done : 256;
        shmq_ack_batch(shmq_go_q(h), shmq_go_c(msgs + done), n, rcs);
        for (size_t i = 0; i < n && first == SHMQ_OK; ++i) first = rcs[i];
        done += n;
    }
    return first;
}

typedef struct {
    int ack_rc; /* the ack's code */
    int rc;     /* the receive's: SHMQ_EEMPTY if nothing was ready */
    shmq_go_msg msg;
    shmq_go_hdr hdr;
} shmq_go_ack_recv_result;

/* Acks `done`, then leases the next message without waiting: Consume's loop
 * with one handler, one cgo call per message while messages are ready. */
static inline shmq_go_ack_recv_result shmq_go_ack_recv(shmq_go_handle h, shmq_go_msg done) {
    shmq_go_ack_recv_result r;
    r.ack_rc = shmq_ack(shmq_go_q(h), shmq_go_c(&done));
    r.rc = shmq_recv(shmq_go_q(h), shmq_go_c(&r.msg), 0);
    if (r.rc == SHMQ_OK) r.hdr = shmq_go_headers_of(h, &r.msg);
    return r;
}

enum { SHMQ_GO_ACK, SHMQ_GO_NACK, SHMQ_GO_REJECT, SHMQ_GO_EXTEND };

/* Ack, nack (arg: the delay in ns, negative for the backoff), reject or
 * extend (arg: the lease in ms) the message. A nack or reject with a
 * reason (0: the default) names why it would become a dead letter. */
static inline int shmq_go_finish(shmq_go_handle h, shmq_go_msg *m, int op, int64_t arg, int reason) {
    shmq_dead_reason why = (shmq_dead_reason)reason;
    switch (op) {
    case SHMQ_GO_ACK: return shmq_ack(shmq_go_q(h), shmq_go_c(m));
    case SHMQ_GO_NACK:
        return reason ? shmq_nack_ex(shmq_go_q(h), shmq_go_c(m), arg, why) : shmq_nack(shmq_go_q(h), shmq_go_c(m), arg);
    case SHMQ_GO_REJECT:
        return reason ? shmq_reject_ex(shmq_go_q(h), shmq_go_c(m), why) : shmq_reject(shmq_go_q(h), shmq_go_c(m));
    case SHMQ_GO_EXTEND: return shmq_extend(shmq_go_q(h), shmq_go_c(m), (uint32_t)arg);
    }
    return SHMQ_EINVAL;
}

typedef struct {
    int rc;
    uint8_t duplicate; /* 1: a send with a key found it inside the window; nothing stored */
    uint64_t id;
} shmq_go_send_result;

/* A send's options. Headers come as `count` pairs packed in one Go buffer
 * (key NUL value NUL, ...): cgo forbids handing C an array of Go pointers,
 * so the shmq_header array is built here, on the C stack. More than
 * SHMQ_MAX_HEADERS pairs reach libshmq as a count without an array, which it
 * refuses (SHMQ_EINVAL), as it would refuse too many. */
static inline void shmq_go_opts(shmq_send_opts *o, shmq_header *pairs, int64_t delay_ns, int64_t ttl_ns,
                                const char *hbuf, size_t count) {
    shmq_send_opts_init(o);
    o->delay_ns = delay_ns;
    o->ttl_ns = ttl_ns;
    o->header_count = count;
    if (count == 0 || count > SHMQ_MAX_HEADERS) return;
    for (size_t i = 0; i < count; ++i) {
        pairs[i].key = hbuf;
        hbuf += strlen(hbuf) + 1;
        pairs[i].value = hbuf;
        hbuf += strlen(hbuf) + 1;
    }
    o->headers = pairs;
}

/* key: the deduplication key (key_len bytes), or NULL for none. */
static inline shmq_go_send_result shmq_go_send(shmq_go_handle h, const void *data, size_t len, int64_t delay_ns,
                                               int64_t ttl_ns, const char *hbuf, size_t hcount, const void *key,
                                               size_t key_len, int64_t timeout_ns) {
    shmq_go_send_result r = {SHMQ_OK, 0, 0};
    shmq_send_opts o;
    shmq_header pairs[SHMQ_MAX_HEADERS];
    shmq_go_opts(&o, pairs, delay_ns, ttl_ns, hbuf, hcount);
    if (key != NULL) {
        o.dedup_key = key;
        o.dedup_key_len = key_len;
        o.duplicate_out = &r.duplicate;
    }
    r.rc = shmq_send_ex(shmq_go_q(h), data, len, &o, &r.id, timeout_ns);
    return r;
}

#endif
