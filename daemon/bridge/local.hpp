// local.hpp - the bridge's only contact with libshmq's public C API.
//
// Everything the bridge does to a local queue goes through LocalQueue, so when
// the core's API grows only local.cpp changes.
// Errors: calls return shmq's int codes (SHMQ_OK or a shmq_error); the caller
// decides, using the helpers below, whether a code means "retry", "poison" or
// "reopen". A LocalQueue is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bridge {

// A message header: key and value, text (shmq.h's rules).
struct Header {
    std::string_view key, value;
};
using OwnedHeaders = std::vector<std::pair<std::string, std::string>>;
// shmq.h's bounds on a message's headers (local.cpp checks they agree).
constexpr size_t kMaxHeaders = 64, kMaxHeaderKey = 255, kMaxHeadersSize = 4096;
constexpr size_t kMaxDedupKey = 128; // shmq.h's SHMQ_MAX_DEDUP_KEY

// One leased message: its payload and header block stay valid until it is settled.
struct Lease {
    std::string_view payload;
    std::string_view headers; // the encoded block (shmq.h), empty if none or damaged
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
    // What the queue opened is: a topic (a send goes to every bound group),
    // or a queue with a deduplication window (sends may carry a key).
    bool is_topic() const { return topic_; }
    bool dedups() const { return dedup_; }

    // Lease up to `max` messages into `out` (each must be settled or freed
    // with release()); waits up to timeout_ms for the first.
    int lease(Lease *out, size_t max, size_t *count, int timeout_ms);
    int ack(Lease &l);
    // For a message the broker refused: nack with the queue's backoff (past
    // max_attempts it is dead-lettered with reason bridge_rejected), or
    // dead-letter it now with that reason.
    int nack(Lease &l);
    int reject(Lease &l);
    int extend(Lease &l, uint32_t lease_ms);
    static void release(Lease &l); // frees the Lease's copy of the core's message

    // Send with headers (none if empty); the core checks their rules
    // (SHMQ_EINVAL, SHMQ_ETOOBIG: is_poison). A non-empty `dedup_key` (only
    // if dedups(), at most kMaxDedupKey bytes) is the send's deduplication
    // key: *duplicate is then true when a message with it was sent within
    // the window and nothing was stored (SHMQ_OK all the same).
    int send(std::string_view payload, const OwnedHeaders &headers, int timeout_ms,
             std::string_view dedup_key = {}, bool *duplicate = nullptr);
    // The pairs of an encoded header block; false if it breaks the encoding.
    static bool parse_headers(std::string_view block, std::vector<Header> *out);
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
    // A send to a topic that no group is bound to (nothing would get it):
    // hold the message until one is, as for a full queue.
    bool no_group(int rc) const { return topic_ && is_not_found(rc); }
    static bool is_dedup_full(int rc); // the window's key table is full: retry later
    static bool waited(int rc);        // the call waited its timeout out (a retry need not nap)

private:
    static bool is_not_found(int rc);
    void *q_ = nullptr; // shmq_queue
    std::string name_;
    bool topic_ = false, dedup_ = false;
};

} // namespace bridge
