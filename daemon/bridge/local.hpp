// local.hpp - the bridge's only contact with libshmq's public C API.
//
// Everything the bridge does to a local queue goes through LocalQueue, so when
// the core's API grows (ids chosen on send, headers) only local.cpp changes.
// Errors: calls return shmq's int codes (SHMQ_OK or a shmq_error); the caller
// decides, using the helpers below, whether a code means "retry", "poison" or
// "reopen". A LocalQueue is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bridge {

// One leased message: its payload stays valid until it is settled.
struct Lease {
    std::string_view payload;
    uint64_t id = 0;
    uint32_t attempt = 0;
    uint32_t lease_ms = 0;
    int64_t enqueued_ns = 0; // CLOCK_REALTIME
    void *msg = nullptr;     // the core's shmq_msg (receipt included), owned by the Lease
};

class LocalQueue {
public:
    LocalQueue() = default;
    ~LocalQueue();
    LocalQueue(const LocalQueue &) = delete;
    LocalQueue &operator=(const LocalQueue &) = delete;

    // Attach to an existing queue (never creates one: shmqd or the operator
    // does), or with a `group`, to that consumer group of the topic `name`
    // (never binds one). `prefetch` bounds the leases this handle may hold.
    int open(const std::string &name, uint32_t prefetch, const std::string &group = "");
    void close();
    bool is_open() const { return q_ != nullptr; }
    const std::string &name() const { return name_; }

    // Lease up to `max` messages into `out` (each must be settled or freed
    // with release()); waits up to timeout_ms for the first.
    int lease(Lease *out, size_t max, size_t *count, int timeout_ms);
    int ack(Lease &l);
    int nack(Lease &l);   // the queue's backoff; dead-letters past max_attempts
    int reject(Lease &l); // dead-letter now
    int extend(Lease &l, uint32_t lease_ms);
    static void release(Lease &l); // frees the Lease's copy of the core's message

    int send(std::string_view payload, int timeout_ms);
    int recover(); // run the core's recovery once (reclaims a dead bridge's leases)
    // Messages ready to lease, and the age of the oldest (0 if none): the lag.
    int backlog(uint64_t *ready, double *oldest_age_s);

    static int check_name(const std::string &name); // SHMQ_OK or SHMQ_EBADNAME
    static const char *strerror(int rc);
    static bool is_ok(int rc);
    static bool is_full(int rc);     // no room now: try again later (backpressure)
    static bool is_poison(int rc);   // this payload can never be sent (too big)
    static bool is_lost(int rc);     // the lease is gone: do not settle again
    static bool needs_reopen(int rc); // the queue went away (unlinked)

private:
    void *q_ = nullptr; // shmq_queue
    std::string name_;
};

} // namespace bridge
