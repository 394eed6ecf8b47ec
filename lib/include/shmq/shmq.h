/*
 * shmq.h - the whole supported C API of libshmq.
 *
 * shmq is a crash-safe work queue in shared memory: producers and consumers on
 * one host map one segment per queue (/dev/shm/shmq.<queue>). A consumer
 * *leases* a message, then acks it (done), nacks it (retry later, with backoff),
 * rejects it (dead-letter now) or extends the lease. Delivery is at-least-once;
 * each message carries a stable 64-bit id and a delivery count so consumers can
 * be idempotent.
 *
 * Conventions: every function returning int returns SHMQ_OK (0) or a positive
 * shmq_error code; shmq_strerror() describes it. Handles are opaque. Names
 * starting with shmq_ are the public API; everything else is internal.
 * A queue handle may be used from several threads at once.
 *
 * Timeouts are in nanoseconds: 0 means "do not wait", SHMQ_FOREVER means
 * "wait until it happens". Each call's comment ends with the errors it
 * returns ("Errors:"); a NULL handle is SHMQ_EINVAL everywhere. Usable from C11 and C++. Closing a handle while
 * another thread is blocked in a call on it is undefined: stop them first
 * (blocking with bounded timeouts makes that easy).
 */
#ifndef SHMQ_H
#define SHMQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMQ_VERSION_MAJOR 0
#define SHMQ_VERSION_MINOR 5
#define SHMQ_VERSION_PATCH 0
/* Compile-time version as one number: major * 10000 + minor * 100 + patch. */
#define SHMQ_VERSION                                                       \
    (SHMQ_VERSION_MAJOR * 10000 + SHMQ_VERSION_MINOR * 100 + SHMQ_VERSION_PATCH)

#if defined(__GNUC__)
#define SHMQ_API __attribute__((visibility("default")))
#else
#define SHMQ_API
#endif

/* Wait until the operation can complete. */
#define SHMQ_FOREVER ((int64_t)-1)
/* Queue names: [A-Za-z0-9._-]{1,64}, not made of dots only. */
#define SHMQ_NAME_MAX 64

/* Runtime version, same encoding as SHMQ_VERSION. Compare it with
 * SHMQ_VERSION to detect a header/library mismatch. */
SHMQ_API uint32_t shmq_version(void);

/* Errors. The hot-path ones say what to do next. */
typedef enum shmq_error {
    SHMQ_OK = 0,
    SHMQ_EFULL = 1,        /* no free slot (overflow policy "fail"): retry later or shed load */
    SHMQ_ETIMEDOUT = 2,    /* the timeout passed: nothing was sent / received */
    SHMQ_EEMPTY = 3,       /* non-blocking receive found no ready message */
    SHMQ_ELEASELOST = 4,   /* the lease expired or was reclaimed (or a reservation was, because
                              this process was judged dead): another consumer may have the
                              message; do not use its payload, do not retry the ack */
    SHMQ_ECLOSED = 5,      /* the queue was unlinked: open it again (or a new one) */
    SHMQ_EINVAL = 6,       /* a bad argument (NULL, zero size, out-of-range parameter) */
    SHMQ_EBADNAME = 7,     /* queue name not [A-Za-z0-9._-]{1,64} */
    SHMQ_ETOOBIG = 8,      /* message larger than the queue's slot size */
    SHMQ_ENOTFOUND = 9,    /* no such queue, topic, group or header; a send to a topic with no group bound */
    SHMQ_EEXIST = 10,      /* the queue already exists */
    SHMQ_EVERSION = 11,    /* segment made by an incompatible shmq version or layout */
    SHMQ_ECORRUPT = 12,    /* segment header is damaged or was never fully initialised */
    SHMQ_EPERM = 13,       /* permission denied (segment owned by another user, mode 0600) */
    SHMQ_ENOSPACE = 14,    /* not enough room in /dev/shm (or memory) for the segment */
    SHMQ_ECLIENTS = 15,    /* the client table is full (max_clients attached); records of dead
                              processes are freed by recovery (shmqd or any attached client) */
    SHMQ_EPREFETCH = 16,   /* this consumer already holds its prefetch limit of leases: ack some */
    SHMQ_EINTR = 17,       /* interrupted by a signal before anything happened */
    SHMQ_ESYS = 18,        /* an unexpected system error; errno describes it */
    SHMQ_ERANGE = 19,      /* a time beyond what a segment can hold (a delay above
                              SHMQ_MAX_DELAY_NS, a ttl above SHMQ_MAX_TTL_NS); nothing
                              was sent. Since 0.4 */
    SHMQ_EBUSY = 20,       /* the consumer group still holds messages (shmq_group_remove
                              without force). Since 0.5 */
    SHMQ_EDEDUPFULL = 21,  /* a send with a deduplication key found the queue's table full
                              of keys still inside their window: nothing was sent; retry
                              later, or create the queue with a larger dedup_capacity */
    SHMQ_EFLUSH = 22,      /* writing a disk queue back to its file failed (shmq_flush,
                              shmq_sync): what was sent may not be on disk; errno and
                              shmq_stats.flush_error say why (e.g. ENOSPC, EIO) */
    SHMQ_EREBOOTED = 23    /* a memory queue's segment (SHMQ_DIR on a real filesystem)
                              survived a reboot: its contents were never made durable,
                              so it is refused; unlink it and create the queue again */
} shmq_error;

/* A static English description of an error code; never NULL. */
SHMQ_API const char *shmq_strerror(int err);

/* Is `name` a valid queue name? Returns SHMQ_OK or SHMQ_EBADNAME. */
SHMQ_API int shmq_name_check(const char *name);

/* ---- Creating and opening ---------------------------------------------- */

typedef enum shmq_overflow {
    SHMQ_OVERFLOW_BLOCK = 0, /* a full queue makes send wait (up to its timeout) */
    SHMQ_OVERFLOW_FAIL = 1,  /* a full queue makes send return SHMQ_EFULL at once */
    SHMQ_OVERFLOW_SPILL = 2  /* shmqd spills ready messages to disk; without shmqd, as BLOCK */
} shmq_overflow;

typedef enum shmq_jitter {
    SHMQ_JITTER_NONE = 0,  /* delay = min(cap, base * 2^(attempt-1)) */
    SHMQ_JITTER_FULL = 1,  /* uniform in [0, delay] */
    SHMQ_JITTER_EQUAL = 2  /* uniform in [delay/2, delay] */
} shmq_jitter;

/* Parameters fixed when a queue is created. Call shmq_params_init() first:
 * it sets `struct_size` and the defaults given in brackets. */
typedef struct shmq_params {
    uint32_t struct_size;     /* sizeof(shmq_params), set by shmq_params_init */
    uint32_t slot_size;       /* largest payload in bytes [1024], 1 .. 1 GiB */
    uint32_t slot_count;      /* message slots [1024], 1 .. 16 M */
    uint32_t max_clients;     /* producers + consumers attached at once [64], 2 .. 500 */
    uint32_t lease_ms;        /* default lease time [30000] */
    uint32_t max_attempts;    /* deliveries before dead-lettering [5], 1 .. 1000000 */
    uint32_t backoff_base_ms; /* retry delay after the first attempt [100] */
    uint32_t backoff_cap_ms;  /* largest retry delay [30000] */
    uint32_t jitter;          /* shmq_jitter [SHMQ_JITTER_FULL] */
    uint32_t overflow;        /* shmq_overflow [SHMQ_OVERFLOW_BLOCK]; SPILL needs
                                 slot_count >= 2 (shmqd spills above a mark below
                                 slot_count: one slot has none; SHMQ_EINVAL) */
    uint32_t mode;            /* file mode of the segment [0600]; 0660 shares with the group.
                                 Modes granting anything to "others" are refused. */
    /* Since 0.4 (a struct_size that ends before it, 0.3's, is still accepted): */
    uint32_t ttl_ms;          /* default time to live of a message [0 = none], at most
                                 SHMQ_MAX_TTL_NS: a message not leased within ttl_ms of
                                 becoming deliverable is dead-lettered (reason "expired").
                                 shmq_send_opts.ttl_ns overrides it per message. */
    /* Since 0.5: */
    uint32_t max_groups;      /* [0] a queue. 1 .. SHMQ_MAX_GROUPS: a topic with room for
                                 that many consumer groups (shmq_group_add): each message
                                 sent is stored once and delivered to every group bound
                                 when the send began; inside a group, its consumers
                                 share the work as on a queue (shmq_open_group). */
    /* Since 0.5's deduplication (a struct_size that ends before them reads as 0): */
    uint32_t dedup_window_ms; /* [0 = off] a send with a deduplication key
                                 (shmq_send_opts.dedup_key) within this long after the
                                 first send of that key stores nothing and returns the
                                 first message's id. At most SHMQ_MAX_DEDUP_WINDOW_MS.
                                 On a topic, a duplicate reaches no group; a stored
                                 message reaches every group bound, as any publish */
    uint32_t dedup_capacity;  /* [0 = 2 x slot_count] keys the table holds at once, rounded
                                 up to a power of two, at most SHMQ_MAX_DEDUP_CAPACITY
                                 (192 bytes each). Without a dedup_window_ms it must
                                 be 0 (no table is made: SHMQ_EINVAL), and reads 0 */
    /* Since durability, after 0.5 (a struct_size that ends before it reads as 0): */
    uint32_t durability;      /* shmq_durability [SHMQ_DURABILITY_MEMORY]. DISK: the
                                 segment file is written back to its filesystem
                                 (shmq_flush, shmq_sync) and survives a crash of the host;
                                 put SHMQ_DIR on a real filesystem (docs/durability.md).
                                 Queues only (a topic with DISK is SHMQ_EINVAL). */
} shmq_params;

/* What a queue's messages survive (docs/durability.md). */
typedef enum shmq_durability {
    SHMQ_DURABILITY_MEMORY = 0, /* the death of any process; not a reboot */
    SHMQ_DURABILITY_DISK = 1    /* also a crash of the host, once flushed (shmq_sync) */
} shmq_durability;

/* Longest deduplication window (7 days) and largest table. */
#define SHMQ_MAX_DEDUP_WINDOW_MS (7u * 24 * 3600 * 1000)
#define SHMQ_MAX_DEDUP_CAPACITY (1u << 20)
/* Longest deduplication key, in bytes (any bytes; at least 1). */
#define SHMQ_MAX_DEDUP_KEY 128

/* Most consumer groups of one topic. */
#define SHMQ_MAX_GROUPS 16

/* Per-handle options. Call shmq_options_init() first; NULL means defaults. */
typedef struct shmq_options {
    uint32_t struct_size; /* sizeof(shmq_options), set by shmq_options_init */
    uint32_t prefetch;    /* most messages this handle may hold leased at once [64];
                             0 means no limit */
    uint32_t spin_ns;     /* longest a blocking call spins before sleeping [20000] */
    uint32_t wait;        /* shmq_wait: how the spin budget is used [SHMQ_WAIT_ADAPTIVE] */
    uint32_t single_thread; /* 1: one thread at a time uses this handle [0]. Its
                               counters, lease count and publish intents then take
                               plain stores instead of locked instructions (7 fewer
                               per message sent, leased and acked; docs/core.md).
                               A producer on such a handle also keeps up to
                               min(8, slot_count / 16) free slots across calls (shown
                               as `writing` in shmq_stats, given back by shmq_close;
                               a crash gives them back through recovery).
                               Two threads calling into such a handle at once is
                               undefined: counts can be lost, and a crash at that
                               moment can strand a message. */
} shmq_options;

/* How a blocking call waits. ADAPTIVE spins only while spinning has been
   paying off, at most spin_ns, and sleeps at once when the machine is
   oversubscribed (right for a busy host). SPIN always spins for spin_ns
   first: latency at any cost, a core burnt while idle. */
typedef enum shmq_wait {
    SHMQ_WAIT_ADAPTIVE = 0,
    SHMQ_WAIT_SPIN = 1
} shmq_wait;

/* Defaults for a params struct of `size` bytes (the caller's sizeof): the
   inline shmq_params_init() passes it, so a program built against an older
   shmq.h is never written past its struct. Since 0.4. */
SHMQ_API void shmq_params_init_sized(shmq_params *params, size_t size);
#ifndef SHMQ_BUILDING_LIBRARY
static inline void shmq_params_init(shmq_params *params) {
    shmq_params_init_sized(params, sizeof *params);
}
#else
SHMQ_API void shmq_params_init(shmq_params *params); /* the 0.3 entry point, for 0.3 binaries */
#endif
/* Defaults for an options struct of `size` bytes (the caller's sizeof). The
   inline shmq_options_init() passes it, so a program built against an older
   shmq.h, whose struct is shorter, is never written past its end. */
SHMQ_API void shmq_options_init_sized(shmq_options *options, size_t size);
#ifndef SHMQ_BUILDING_LIBRARY
static inline void shmq_options_init(shmq_options *options) {
    shmq_options_init_sized(options, sizeof *options);
}
#else
SHMQ_API void shmq_options_init(shmq_options *options); /* the 0.3 entry point, for 0.3 binaries */
#endif

typedef struct shmq_queue shmq_queue;

/* Create queue `name` with `params` (NULL = defaults) and attach to it.
 * Fails with SHMQ_EEXIST if it exists. The segment becomes visible under its
 * name only once fully initialised, so no process ever sees a half-made one.
 * On success *out is a handle the caller closes with shmq_close().
 * Errors: SHMQ_EINVAL (out NULL, a parameter out of range, parameters that
 * make no sense together: a dedup_capacity without a dedup_window_ms, the
 * spill policy with one slot; a struct_size below 0.3's, a SHMQ_BOOT_ID that
 * is not 32 hex digits), SHMQ_EBADNAME,
 * SHMQ_EEXIST, SHMQ_EPERM, SHMQ_ENOSPACE, SHMQ_EINTR, SHMQ_ESYS. */
SHMQ_API int shmq_create(const char *name, const shmq_params *params,
                         const shmq_options *options, shmq_queue **out);

/* Attach to an existing queue. Validates magic, layout version and layout
 * fingerprint: SHMQ_EVERSION or SHMQ_ECORRUPT on a mismatch. A segment made
 * before the last reboot (its boot id is not the kernel's, or SHMQ_BOOT_ID's)
 * is rebuilt first if it is a DISK queue (docs/durability.md: messages kept,
 * client records freed, damaged messages quarantined), refused with
 * SHMQ_EREBOOTED if it is a memory queue.
 * Errors: SHMQ_EINVAL (out NULL, bad options, a SHMQ_BOOT_ID that is not 32
 * hex digits), SHMQ_EBADNAME, SHMQ_ENOTFOUND, SHMQ_EVERSION, SHMQ_ECORRUPT,
 * SHMQ_EREBOOTED, SHMQ_EPERM, SHMQ_ECLIENTS (max_clients attached),
 * SHMQ_ENOSPACE, SHMQ_ESYS. */
SHMQ_API int shmq_open(const char *name, const shmq_options *options, shmq_queue **out);

/* Detach and free the handle; NULL is allowed. Leases still held go back to
 * the queue as if nacked (the attempt counts); reservations are freed. The
 * handle is invalid afterwards. */
SHMQ_API void shmq_close(shmq_queue *q);

/* Remove the queue's name. Processes that have it open keep working on the
 * old segment until they close it; a new shmq_open() will not find it.
 * Errors: SHMQ_EBADNAME, SHMQ_ENOTFOUND, SHMQ_EPERM, SHMQ_ESYS. */
SHMQ_API int shmq_unlink(const char *name);

/* The queue's parameters as stored in its segment, into a struct of `size`
   bytes (the caller's sizeof, passed by the inline shmq_get_params): fields
   beyond it are not written. SHMQ_EINVAL if q or out is NULL or size is
   below 0.3's struct. Since 0.4. */
SHMQ_API int shmq_get_params_sized(const shmq_queue *q, shmq_params *out, size_t size);
#ifndef SHMQ_BUILDING_LIBRARY
static inline int shmq_get_params(const shmq_queue *q, shmq_params *out) {
    return shmq_get_params_sized(q, out, sizeof *out);
}
#else
SHMQ_API int shmq_get_params(const shmq_queue *q, shmq_params *out); /* 0.3's, for 0.3 binaries */
#endif

/* ---- Sending ----------------------------------------------------------- */

/* Copy `len` bytes into a free slot and make it ready. With no free slot:
 * policy FAIL returns SHMQ_EFULL; BLOCK and SPILL wait up to timeout_ns.
 * On SHMQ_OK the message is in shared memory and survives this process.
 * Errors: SHMQ_EINVAL (data NULL with len > 0; a group handle),
 * SHMQ_ETOOBIG (len (+ headers) above slot_size), SHMQ_EFULL (policy FAIL,
 * timeout 0, or shmqd's spill store at its disk cap), SHMQ_ETIMEDOUT,
 * SHMQ_ECLOSED (unlinked), SHMQ_ENOTFOUND (a topic with no group bound:
 * nothing would receive it), SHMQ_ELEASELOST (this process was judged dead
 * and its claimed slot reclaimed: nothing was sent). */
SHMQ_API int shmq_send(shmq_queue *q, const void *data, size_t len, int64_t timeout_ns);

typedef struct shmq_iov {
    const void *data;
    size_t len;
} shmq_iov;

/* Send up to `count` messages in order; *sent (may be NULL) tells how many
 * were sent. Returns SHMQ_OK only if all were; otherwise the error that
 * stopped it. Wakes sleeping consumers once. Errors: shmq_send's, for the
 * first message that was not sent. */
SHMQ_API int shmq_send_batch(shmq_queue *q, const shmq_iov *msgs, size_t count,
                             size_t *sent, int64_t timeout_ns);

/* Zero-copy send: reserve a slot, write up to `capacity` bytes at `data`, then
 * commit (make it ready) or abort (give the slot back). A reservation must be
 * committed or aborted by the thread that made it; if the process dies first,
 * recovery frees the slot. */
typedef struct shmq_reservation {
    void *data;        /* where to write the payload */
    size_t capacity;   /* the slot size */
    uint64_t token[2]; /* internal */
} shmq_reservation;

/* Errors: shmq_send's (SHMQ_EINVAL also for r NULL). */
SHMQ_API int shmq_reserve(shmq_queue *q, shmq_reservation *r, int64_t timeout_ns);
/* Errors: SHMQ_EINVAL (not a live reservation of this handle: committed or
 * aborted already, of another queue), SHMQ_ETOOBIG, SHMQ_ENOTFOUND (a topic
 * whose groups were all removed since), SHMQ_ELEASELOST (as for send). */
SHMQ_API int shmq_commit(shmq_queue *q, shmq_reservation *r, size_t len);
/* Errors: SHMQ_EINVAL (not a live reservation), SHMQ_ELEASELOST. */
SHMQ_API int shmq_abort(shmq_queue *q, shmq_reservation *r);

/* ---- Sending with options and ids (since 0.4) ---------------------------
 *
 * The _ex forms take per-message options and return the id each message got
 * (the `id` a consumer sees in shmq_msg). The calls above are these with
 * default options and no id out. Options NULL means defaults. An option
 * that is out of range fails the call before anything is claimed or written:
 * nothing was sent (for shmq_commit_ex the reservation stays valid: commit
 * it again or abort it). */

/* Longest delay: 14 days (a segment keeps times in 32-bit ms, compared with
 * wrap-around, so they must stay well under 24.8 days apart). */
#define SHMQ_MAX_DELAY_NS ((int64_t)14 * 24 * 3600 * 1000000000)
/* Longest time to live: 7 days (so that a delay plus a ttl stays within the
 * 24.8 days a segment's times can span). */
#define SHMQ_MAX_TTL_NS ((int64_t)7 * 24 * 3600 * 1000000000)
/* shmq_send_opts.ttl_ns: this message never expires, whatever the queue's
 * ttl_ms (0 there means "the queue's"). Since 0.5. */
#define SHMQ_TTL_NEVER ((int64_t)-1)

/* ---- Message headers (since 0.4) ---------------------------------------
 *
 * A message may carry up to SHMQ_MAX_HEADERS key/value pairs of text (a
 * trace id, a content type). They are stored in the message's slot right
 * after the payload and count against it: payload + encoded headers <=
 * slot_size (else SHMQ_ETOOBIG). They stay with the message byte for byte
 * through nack, retry, lease reclaim, spill, dead-letter and redrive.
 *
 * Rules, checked before anything is claimed (else nothing is sent):
 *   key:   1..SHMQ_MAX_HEADER_KEY bytes of printable ASCII 0x21..0x7E except
 *          '=' (no spaces, no controls, no NUL), unique in one message;
 *   value: a NUL-terminated string of valid UTF-8 (may be empty);
 *   at most SHMQ_MAX_HEADERS pairs.                       Else SHMQ_EINVAL.
 *   The encoded block at most SHMQ_MAX_HEADERS_SIZE bytes. Else SHMQ_ETOOBIG.
 *
 * The encoded block (what shmq_msg_headers returns) is the pairs in the
 * order sent, each: key length u8 | value length u16 little-endian | key
 * bytes | value bytes (no NULs, no padding). */
#define SHMQ_MAX_HEADERS 64
#define SHMQ_MAX_HEADER_KEY 255
#define SHMQ_MAX_HEADERS_SIZE 4096

typedef struct shmq_header {
    const char *key;   /* NUL-terminated */
    const char *value; /* NUL-terminated UTF-8 */
} shmq_header;

typedef struct shmq_send_opts {
    uint32_t struct_size; /* sizeof(shmq_send_opts), set by shmq_send_opts_init; a
                             smaller value than 0.4's struct is SHMQ_EINVAL */
    uint32_t flags;       /* [0] SHMQ_SEND_* bits (before SHMQ_SEND_SYNC this field was
                             "reserved, must be 0"); an unknown bit is SHMQ_EINVAL */
    int64_t delay_ns;     /* [0] > 0: store the message DELAYED; it becomes ready no
                             earlier than delay_ns after it was stored (at most ~1 ms
                             later without shmqd's tick, or a tick later with it).
                             0 .. SHMQ_MAX_DELAY_NS; negative SHMQ_EINVAL, above SHMQ_ERANGE */
    /* Since 0.4's expiry (a struct_size that ends before it reads as ttl_ns 0): */
    int64_t ttl_ns;       /* [0] time to live: > 0, a message not leased within ttl_ns
                             of becoming deliverable (its delay over) is dead-lettered
                             with reason "expired" and never delivered; 0 takes the
                             queue's shmq_params.ttl_ms (0 there: never expires).
                             Millisecond resolution; it may expire up to a few ms
                             early, never late. SHMQ_TTL_NEVER: never expires, even
                             on a queue with a ttl_ms. Other negative values
                             SHMQ_EINVAL, above SHMQ_MAX_TTL_NS SHMQ_ERANGE */
    /* Since 0.4's headers (a struct_size that ends before them reads as none): */
    const shmq_header *headers;       /* [NULL] key/value pairs carried with the message */
    size_t header_count;  /* [0] entries at `headers` (SHMQ_EINVAL if > 0 with headers NULL) */
    /* Since 0.5's deduplication (a struct_size that ends before them reads as none): */
    const void *dedup_key; /* [NULL] shmq_send_ex, shmq_commit_ex: the message's
                              deduplication key, dedup_key_len bytes (1 ..
                              SHMQ_MAX_DEDUP_KEY, else SHMQ_EINVAL). If a message with
                              this key was sent within the queue's dedup_window_ms
                              (counted from that first send, whatever became of it
                              since), nothing is stored, the call returns SHMQ_OK with
                              the first message's id, and *duplicate_out is 1. On a
                              queue without a window: SHMQ_EINVAL. A table full of live
                              keys: SHMQ_EDEDUPFULL. Another send of the same key in
                              flight (its sender between claiming the key and storing
                              the message) is waited for, up to the call's timeout:
                              SHMQ_ETIMEDOUT, nothing sent (shmq_commit_ex waits without
                              limit). In a batch: SHMQ_EINVAL (use dedup_keys) */
    size_t dedup_key_len;
    const shmq_iov *dedup_keys; /* [NULL] shmq_send_batch_ex: `count` keys, one per message
                              ({NULL, 0}: that message has none); SHMQ_EINVAL elsewhere */
    uint8_t *duplicate_out; /* [NULL] if set: 1 byte per message (`count` for a batch),
                              1 if the message was a duplicate and not stored, else 0 */
} shmq_send_opts;

/* shmq_send_opts.flags: after storing the message(s), wait until they are on
 * disk, as shmq_sync does (group commit), with what is left of the call's
 * timeout_ns (SHMQ_FOREVER: no limit). shmq_send_ex and shmq_send_batch_ex
 * only (shmq_commit_ex has no timeout: SHMQ_EINVAL, call shmq_sync after it).
 * A timeout_ns of 0 leaves no time to sync: SHMQ_EINVAL, nothing sent.
 * A MEMORY queue: no sync (there is nothing more durable), as shmq_sync.
 * Returns:
 *   SHMQ_OK: stored and on disk;
 *   the send's own error: nothing stored (a batch: only *sent messages were
 *     stored, and they were not synced), as without the flag;
 *   SHMQ_ETIMEDOUT or SHMQ_EFLUSH from the sync: the message IS stored (and
 *     will be delivered) but not confirmed on disk; *id_out (each ids[k], and
 *     *sent == count, for a batch) is filled in as on success.
 * To tell a send's SHMQ_ETIMEDOUT from the sync's, pass id_out: with this
 * flag it is set to 0 first, and ids are never 0, so a nonzero id after an
 * error means "stored, not confirmed". Since the durable lag, after 0.5. */
#define SHMQ_SEND_SYNC 1u

/* Set `struct_size` and every option to its default, for a struct of `size`
   bytes (the caller's sizeof, passed by the inline shmq_send_opts_init: a
   program built against this header is never written past its struct by a
   later library whose struct has grown). */
SHMQ_API void shmq_send_opts_init_sized(shmq_send_opts *opts, size_t size);
static inline void shmq_send_opts_init(shmq_send_opts *opts) {
    shmq_send_opts_init_sized(opts, sizeof *opts);
}

/* shmq_send with options; on SHMQ_OK *id_out (may be NULL) is the message's
 * id. Errors: those of shmq_send, plus SHMQ_EINVAL / SHMQ_ERANGE for options. */
SHMQ_API int shmq_send_ex(shmq_queue *q, const void *data, size_t len, const shmq_send_opts *opts,
                          uint64_t *id_out, int64_t timeout_ns);

/* shmq_send_batch with the same options for every message; ids (may be NULL,
 * else `count` long) gets ids[k] for each message k < *sent. */
SHMQ_API int shmq_send_batch_ex(shmq_queue *q, const shmq_iov *msgs, size_t count,
                                const shmq_send_opts *opts, uint64_t *ids, size_t *sent,
                                int64_t timeout_ns);

/* shmq_commit with options; on SHMQ_OK *id_out (may be NULL) is the id. */
SHMQ_API int shmq_commit_ex(shmq_queue *q, shmq_reservation *r, size_t len,
                            const shmq_send_opts *opts, uint64_t *id_out);

/* ---- Receiving (leasing) ----------------------------------------------- */

/* A leased message. `data` points into shared memory (zero-copy) and stays
 * valid until the message is acked, nacked or rejected, or its lease ends.
 * After SHMQ_ELEASELOST it may change under you: do not read it. */
typedef struct shmq_msg {
    const void *data;
    size_t len;
    uint64_t id;          /* unique and stable per queue, the same on redelivery */
    uint32_t attempt;     /* delivery count: 1 on first delivery */
    uint32_t lease_ms;    /* lease length granted */
    int64_t enqueued_ns;  /* first enqueue, CLOCK_REALTIME nanoseconds */
    uint64_t receipt[2];  /* internal: names (slot, generation) */
} shmq_msg;

/* Topics (since 0.5). A topic is created as a queue is, with
 * shmq_params.max_groups > 0; a handle from shmq_create / shmq_open on it
 * publishes: shmq_send and the other send forms store the payload once and
 * hand it to every group bound when the send began, atomically (a send that
 * returned OK is in all of them; a producer killed during it leaves the
 * message in all or in none). Such a handle cannot receive (SHMQ_EINVAL).
 *
 * Bind a group (a name as for queues). It receives what is sent from now on.
 * SHMQ_EEXIST if it is bound already; SHMQ_EFULL if no lane is free: all
 * max_groups are bound, or some lanes still hold removed groups
 * (shmq_group_remove; a removed group of this very name included) until
 * their last message ends (leased ones acked or reclaimed, dead letters taken
 * by shmqd: without shmqd they stay), so bind again after that;
 * SHMQ_EBADNAME; SHMQ_EINVAL if `topic` is not a topic handle. */
SHMQ_API int shmq_group_add(shmq_queue *topic, const char *group);

/* Remove a group: publishes stop including it at once, its ready and delayed
 * messages become dead letters with reason "group_removed" (shmqd moves them
 * to the group's dead-letter store), leased ones end with their consumers (an
 * ack frees them; a nack or a reclaimed lease dead-letters them too), and its
 * consumers' calls return SHMQ_ECLOSED. Without `force` a group holding any
 * message is refused with SHMQ_EBUSY and nothing changes. SHMQ_ENOTFOUND if
 * no such group is bound, SHMQ_EBADNAME, SHMQ_EINVAL if not a topic handle. */
SHMQ_API int shmq_group_remove(shmq_queue *topic, const char *group, int force);

/* The names of the groups bound now, in no particular order: up to `max`
 * into names[], *count how many (also when more are bound than fit: then
 * SHMQ_EFULL). Works on a topic or group handle. SHMQ_EINVAL on a queue. */
SHMQ_API int shmq_groups(const shmq_queue *topic, char (*names)[SHMQ_NAME_MAX + 1], size_t max, size_t *count);

/* Open a consumer handle on group `group` of topic `topic`: shmq_recv, ack,
 * nack, reject, extend and the batch forms work on it as on a queue, with
 * the group's own leases, retries, prefetch and dead letters; data points at
 * the one shared copy of the payload. Send forms on it are SHMQ_EINVAL.
 * SHMQ_ENOTFOUND if the topic or the group does not exist, SHMQ_EINVAL if
 * `topic` names a queue. */
SHMQ_API int shmq_open_group(const char *topic, const char *group, const shmq_options *opts,
                             shmq_queue **out);

/* The value of header `key` of a message this handle holds leased: *value
 * points into shared memory (zero-copy, not NUL-terminated), *len is its
 * length; valid while the lease is held, like msg->data. Errors:
 * SHMQ_ENOTFOUND (no such header), SHMQ_EINVAL (a NULL argument, or msg is
 * not a message this handle holds: acked, nacked, of another queue),
 * SHMQ_ECORRUPT (the stored block breaks the encoding). Since 0.4. */
SHMQ_API int shmq_msg_header(shmq_queue *q, const shmq_msg *msg, const char *key, const char **value,
                             size_t *len);

/* The encoded header block of a message this handle holds leased (encoding
 * above; *len 0 when it has none): zero-copy, valid while the lease is held.
 * Errors as shmq_msg_header's, without SHMQ_ENOTFOUND. Since 0.4. */
SHMQ_API int shmq_msg_headers(shmq_queue *q, const shmq_msg *msg, const void **block, size_t *len);

/* Iterate over an encoded header block: start with *pos = 0; each call gives
 * the next pair (pointers into the block, not NUL-terminated) and advances
 * *pos. Returns SHMQ_OK with a pair, SHMQ_EEMPTY at the end, SHMQ_ECORRUPT
 * if the block breaks the encoding (a length past its end, a bad key),
 * SHMQ_EINVAL on a NULL argument. Since 0.4. */
SHMQ_API int shmq_headers_next(const void *block, size_t len, size_t *pos, const char **key, size_t *key_len,
                               const char **value, size_t *value_len);

/* Lease the oldest ready message. Waits up to timeout_ns (0: do not wait,
 * returns SHMQ_EEMPTY). Returns SHMQ_EPREFETCH if this handle already holds
 * `prefetch` leases.
 * Errors: SHMQ_EINVAL (msg NULL; a topic's publishing handle: open a group),
 * SHMQ_EPREFETCH, SHMQ_EEMPTY (timeout 0), SHMQ_ETIMEDOUT, SHMQ_ECLOSED
 * (unlinked, or the handle's group was removed). */
SHMQ_API int shmq_recv(shmq_queue *q, shmq_msg *msg, int64_t timeout_ns);

/* Lease up to `max` messages; waits up to timeout_ns for the first one only.
 * *count tells how many were leased (also on error, from 0).
 * Errors: shmq_recv's (SHMQ_EINVAL also for count NULL). */
SHMQ_API int shmq_recv_batch(shmq_queue *q, shmq_msg *msgs, size_t max, size_t *count,
                             int64_t timeout_ns);

/* Done: free the slot. SHMQ_ELEASELOST if the lease was reclaimed. Ack, nack
 * and reject spend the receipt: a second call with the same msg returns
 * SHMQ_EINVAL.
 * Errors: SHMQ_EINVAL (msg NULL, spent, or not leased by this handle: of
 * another queue or handle), SHMQ_ELEASELOST (expired and reclaimed, or this
 * process was judged dead: another consumer may have the message). */
SHMQ_API int shmq_ack(shmq_queue *q, shmq_msg *msg);

/* Ack `count` messages, each on its own exactly as shmq_ack would (one lease
 * each: a lost lease fails only its own message), waking producers waiting
 * for room once for all. results[i] (results may be NULL) gets each
 * message's code. Returns SHMQ_OK if all were acked, else the first error.
 * Since 0.3. */
SHMQ_API int shmq_ack_batch(shmq_queue *q, shmq_msg *msgs, size_t count, int *results);

/* Retry later. delay_ns < 0 applies the queue's backoff policy; otherwise the
 * message is redelivered after delay_ns. Past max_attempts the message goes to
 * the dead-letter state instead. Errors: shmq_ack's. */
SHMQ_API int shmq_nack(shmq_queue *q, shmq_msg *msg, int64_t delay_ns);

/* No retry: move the message to the dead-letter state now. Errors: shmq_ack's. */
SHMQ_API int shmq_reject(shmq_queue *q, shmq_msg *msg);

/* Why a message became a dead letter: shmqd's dead-letter store and its
 * metric shmq_messages_dead_lettered_total{reason} name them. The core gives
 * the first five itself; a caller may name only those marked "caller". */
typedef enum shmq_dead_reason {
    SHMQ_DEAD_MAX_ATTEMPTS = 1,    /* "max_attempts": out of attempts (caller) */
    SHMQ_DEAD_REJECTED = 2,        /* "rejected": shmq_reject (caller) */
    SHMQ_DEAD_EXPIRED = 3,         /* "expired": its time to live passed */
    SHMQ_DEAD_INVALID = 4,         /* "invalid": a slot whose lengths are broken */
    SHMQ_DEAD_GROUP_REMOVED = 5,   /* "group_removed": its topic group was removed */
    SHMQ_DEAD_BRIDGE_REJECTED = 6  /* "bridge_rejected": a broker refused it (shmq-bridge) (caller) */
} shmq_dead_reason;

/* shmq_nack, but a message out of attempts is dead-lettered with `reason`
 * (shmq_nack's is SHMQ_DEAD_MAX_ATTEMPTS): e.g. shmq-bridge's
 * SHMQ_DEAD_BRIDGE_REJECTED for a message the broker kept refusing. The
 * reason is part of the one state word the nack's compare-and-swap writes.
 * Errors: those of shmq_nack, and SHMQ_EINVAL for a reason a caller may not
 * give, 0 included (nothing is changed then): for the default reason call
 * shmq_nack. Since 0.5. */
SHMQ_API int shmq_nack_ex(shmq_queue *q, shmq_msg *msg, int64_t delay_ns, shmq_dead_reason reason);

/* shmq_reject with `reason` (shmq_reject's is SHMQ_DEAD_REJECTED); counted
 * as a reject either way. Errors: those of shmq_reject, and SHMQ_EINVAL for
 * a reason a caller may not give, 0 included. Since 0.5. */
SHMQ_API int shmq_reject_ex(shmq_queue *q, shmq_msg *msg, shmq_dead_reason reason);

/* Extend the lease to `lease_ms` from now. Updates msg's receipt, so later
 * acks must use the same msg. SHMQ_ELEASELOST if it had already been lost.
 * Errors: shmq_ack's, and SHMQ_EINVAL for lease_ms 0 or above one day (86400000). */
SHMQ_API int shmq_extend(shmq_queue *q, shmq_msg *msg, uint32_t lease_ms);

/* A file descriptor that becomes readable when messages may be ready, for
 * epoll/poll, asyncio or Go's poller. The handle owns it (do not close it).
 * Use: call shmq_ready_fd() once; then call shmq_recv(q, &m, 0) until it
 * returns SHMQ_EEMPTY (that call arms the fd), wait for the fd to be
 * readable, and repeat. Readable means "look again", not "a message is
 * yours": another consumer may win it. Producers make a system call for it
 * only while such a consumer waits. Retries that come due and leases that
 * expire make it readable when recovery runs (shmqd runs it continuously);
 * without shmqd, also poll every 100 ms or so. */
SHMQ_API int shmq_ready_fd(shmq_queue *q, int *fd);

/* ---- Observing and recovering ------------------------------------------ */

/* Bits of shmq_client_stats.role (since 0.5; the values are 0.1's). */
#define SHMQ_ROLE_SENDER 1u   /* has sent */
#define SHMQ_ROLE_RECEIVER 2u /* has received */
#define SHMQ_ROLE_DAEMON 4u   /* a supervisor (shmqd, shmqctl's recovery) */

typedef struct shmq_client_stats {
    int32_t pid;
    uint32_t role;         /* SHMQ_ROLE_* bits */
    uint32_t prefetch;
    uint32_t leased;       /* leases held now (counted by the client itself) */
    int32_t alive;         /* 1 if the process is alive, 0 if dead, -1 unknown */
    uint32_t sleeping;     /* its threads asleep in recv, waiting for a message */
    uint64_t sent, delivered, acked, nacked, rejected;
    int64_t attached_ns;   /* CLOCK_REALTIME */
} shmq_client_stats;

typedef struct shmq_stats {
    uint32_t struct_size;  /* set by the caller to sizeof(shmq_stats) */
    uint32_t slot_count;
    uint64_t free, writing, ready, leased, delayed, dead; /* slots per state, now */
    int64_t oldest_ready_age_ns; /* 0 when nothing is ready */
    uint64_t enqueued, delivered, acked, nacked, rejected, redelivered, reclaimed,
        dead_lettered;       /* totals since the queue was created */
    uint32_t clients;        /* attached now */
    uint32_t clients_max;
    int64_t daemon_heartbeat_age_ns; /* -1 if no daemon ever ran */
    shmq_client_stats *client;       /* optional array the caller provides */
    size_t client_cap;               /* its length */
    /* Since 0.2 (a struct_size that ends before it, 0.1's, is still accepted): */
    uint64_t spilled;                /* messages shmqd holds in its spill store on disk */
    /* Since 0.4: */
    uint64_t expired;                /* messages dead-lettered because their ttl passed
                                        (also counted in dead_lettered) */
    /* Since durability, after 0.5 (a struct_size that ends before them is still accepted): */
    uint32_t durability;             /* shmq_durability of the segment */
    uint32_t not_durable;            /* 1: a DISK queue whose directory is tmpfs (nothing
                                        survives a reboot there: tests and containers) */
    uint64_t quarantined;            /* messages whose checksum failed when the queue was
                                        rebuilt after a reboot: dead-lettered as "invalid" */
    uint64_t flushes;                /* flushes finished (DISK) */
    int64_t last_flush_ns;           /* CLOCK_REALTIME when the last one finished, 0 = never */
    int64_t last_flush_duration_ns;  /* how long it took */
    int32_t flush_error;             /* errno of the last failed flush, 0 if the last one
                                        succeeded */
    uint32_t reserved0;
    /* Since the durable lag, after 0.5 (a struct_size that ends before it is still accepted): */
    uint64_t durable_lag;            /* DISK: messages sent that no finished flush covers
                                        yet (sends counted before the last flush that worked
                                        began are on disk). Conservative: a flusher killed
                                        after its write-back leaves it larger, never smaller.
                                        0 for a MEMORY queue */
} shmq_stats;

/* Write a DISK queue's segment back to its file (msync, MS_SYNC): every
 * message whose send returned before this call is then on disk. Any process
 * may call it at any time; no lock, no daemon needed (shmqd calls it every
 * flush_ms). A MEMORY queue: SHMQ_OK at once.
 * Errors: SHMQ_EINVAL (q NULL), SHMQ_EFLUSH (errno says why). */
SHMQ_API int shmq_flush(shmq_queue *q);

/* Wait until every message whose send returned before this call (in any
 * process) is on disk: returns once a flush that started after the call has finished.
 * Group commit: concurrent callers share one flush; with none in progress (or
 * its flusher gone), the caller flushes itself. A MEMORY queue: SHMQ_OK at
 * once (nothing more durable exists). timeout_ns (SHMQ_FOREVER as elsewhere)
 * bounds only the wait for another's flush: with none in progress the
 * caller flushes at once, even with timeout 0, and its own flush is not cut
 * short. Errors: SHMQ_EINVAL (q NULL), SHMQ_ETIMEDOUT (the timeout passed
 * while another's flush ran: nothing confirmed), SHMQ_EFLUSH (a flush failed:
 * nothing is confirmed; errno says why). */
SHMQ_API int shmq_sync(shmq_queue *q, int64_t timeout_ns);

/* A snapshot read straight from the segment (not atomic as a whole: counts
 * taken while others work may be off by the operations in flight).
 * Errors: SHMQ_EINVAL (out NULL, struct_size below 0.1's). */
SHMQ_API int shmq_stats_get(shmq_queue *q, shmq_stats *out);

typedef struct shmq_recovery {
    uint32_t dead_clients;     /* client records of dead processes released */
    uint32_t leases_reclaimed; /* LEASED slots taken back (dead owner or expired) */
    uint32_t writes_reclaimed; /* half-written slots of dead producers freed */
    uint32_t delayed_promoted; /* DELAYED slots made READY */
    uint32_t dead_lettered;    /* slots moved to DEAD because attempts ran out or they expired */
    uint32_t republished;      /* ring entries a dead process had not published */
} shmq_recovery;

/* Run recovery once: release dead clients' records and slots, reclaim expired
 * leases, promote due retries, dead-letter messages whose ttl passed. Safe to run from several processes at once;
 * every step is a CAS. `report` may be NULL. */
SHMQ_API int shmq_recover(shmq_queue *q, shmq_recovery *report);

#ifdef __cplusplus
}
#endif
#endif /* SHMQ_H */
