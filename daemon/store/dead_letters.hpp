// dead_letters.hpp - the dead-letter store of one queue, `<dir>/<queue>.dlq`:
// a record log of messages that will not be delivered again. Adding is the
// daemon's last step before it frees the message's slot, so with Fsync::Always
// add() returns only after the record is on disk. Redrive sends records back
// and then removes them: a crash in between duplicates them, never loses them.
#pragma once

#include "record_headers.hpp"
#include "record_log.hpp"

#include "shmq/shmq.h"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace shmq::store {

// Why a message died: shmq.h's shmq_dead_reason (also the on-disk values).
enum class DeadReason : uint32_t {
    MaxAttempts = SHMQ_DEAD_MAX_ATTEMPTS,
    Rejected = SHMQ_DEAD_REJECTED,
    Expired = SHMQ_DEAD_EXPIRED,
    Invalid = SHMQ_DEAD_INVALID,
    GroupRemoved = SHMQ_DEAD_GROUP_REMOVED,
    BridgeRejected = SHMQ_DEAD_BRIDGE_REJECTED
};
const char *dead_reason_name(DeadReason r); // "max_attempts", ..., or "unknown"

// The fixed part of a record (32 bytes on disk, little-endian, before the payload).
struct DeadLetterMeta {
    uint64_t id = 0;
    uint32_t attempts = 0;
    DeadReason reason = DeadReason::MaxAttempts;
    int64_t first_enqueue_ns = 0; // CLOCK_REALTIME
    int64_t died_ns = 0;          // CLOCK_REALTIME
};

struct DeadLetterInfo {
    DeadLetterMeta meta;
    uint64_t size = 0;   // payload bytes
    uint64_t offset = 0; // where the record is in the file
};

struct DeadLetter {
    DeadLetterMeta meta;
    std::vector<std::byte> payload;
    std::vector<std::byte> headers; // the encoded header block, empty if none (record_headers.hpp)
};

// A record offered to a redrive callback; the payload is valid during the call.
struct DeadLetterView {
    DeadLetterMeta meta;
    std::span<const std::byte> payload;
    std::span<const std::byte> headers; // encoded header block, empty if none
};

// What a redrive callback did with a record: sent it (remove it from the
// store), kept it (leave it and go on), or kept it and stop (the queue is full).
enum class RedriveStep { Sent, Keep, Stop };
using RedriveFn = std::function<RedriveStep(const DeadLetterView &)>;

struct RedriveResult {
    uint64_t sent = 0, kept = 0;
    bool more = false; // selected records remain that were not offered
};

// Where an incremental redrive stands (redrive_from): the record to look at
// next, and the records sent but still in the file (removed by
// commit_redrive). Valid for one file: a rewrite by anyone else starts it over.
struct RedriveCursor {
    uint64_t file_id = 0;       // the file the offsets refer to (0: none yet)
    uint64_t resume = 0;        // offset to scan from (0: the first record)
    bool skip_resume = false;   // the record at `resume` was dealt with
    std::vector<uint64_t> sent; // offsets, ascending
};

struct StoreOptions {
    Fsync fsync = Fsync::Always;
    uint32_t interval_ms = 1000;
    uint32_t max_record = 64u << 20;
    bool read_only = false; // for shmqctl while shmqd runs: list and show only
};

// Not thread-safe: one thread uses a store at a time.
class DeadLetters {
public:
    // Opens or creates the store of `queue` in `dirfd`. EINVAL for a bad queue
    // name; otherwise as RecordLog::open. Records whose body is too short for
    // the fixed part are reported in *rep and ignored.
    int open(int dirfd, const std::string &queue, const StoreOptions &o, OpenReport *rep);
    void close() { log_.close(); }

    // Appends one dead letter. The payload must not change during the call (copy
    // it out of shared memory first).
    // `headers` is its encoded header block (empty: none).
    int add(const DeadLetterMeta &m, std::span<const std::byte> payload, std::span<const std::byte> headers = {});
    int sync() { return log_.sync(); }
    int flush_if_due() { return log_.flush_if_due(); }

    // Every record in order of death, without its payload; return false to stop.
    int list(const std::function<bool(const DeadLetterInfo &)> &visit);
    // Every record with its payload (valid during the call), in order of death.
    int each(const std::function<bool(const DeadLetterView &)> &visit);
    // The most recent record with this id, or ENOENT.
    int show(uint64_t id, DeadLetter *out);
    int purge();
    // Retention: drops the oldest records beyond the newest `max_records` (0:
    // no cap) and those that died before `died_before_ns` (0: none), in one
    // rewrite; *dropped says how many.
    int trim(uint64_t max_records, int64_t died_before_ns, uint64_t *dropped);
    int remove(std::span<const uint64_t> ids, uint64_t *removed = nullptr);

    // Offers up to max_per_call selected records (0: no limit), oldest first,
    // to `send`, then removes those sent in one rewrite. If the process dies
    // before the rewrite, the sent records stay in the store as well: redriving
    // again delivers them twice. Nothing is ever removed that was not sent.
    int redrive(std::span<const uint64_t> ids, size_t max_per_call, const RedriveFn &send, RedriveResult *res);
    int redrive_all(size_t max_per_call, const RedriveFn &send, RedriveResult *res);

    // Incremental redrive: offers selected records (`ids`, or all if empty)
    // from where the cursor stands until max_per_call were sent (0: no limit)
    // or one says Stop, without rewriting the file: the cursor remembers what
    // was sent, and commit_redrive() removes it all in one rewrite. A full
    // redrive of N records thus costs a rewrite per commit, not per call. Until
    // the commit, a crash leaves the sent records in the store (sent again by
    // the next redrive: duplicates, never losses) and count() includes them.
    // A kept record is not offered again by this cursor.
    int redrive_from(RedriveCursor *c, std::span<const uint64_t> ids, size_t max_per_call, const RedriveFn &send,
                     RedriveResult *res);
    int commit_redrive(RedriveCursor *c);

    uint64_t count() const { return count_; }      // well-formed records
    uint64_t bytes() const { return log_.size(); } // file size
    const std::string &error() const { return error_; } // message of the last failure

private:
    int take(int rc); // copies the log's message on failure
    using Select = std::function<bool(uint64_t id)>;
    int redrive_where(const Select &sel, size_t max, const RedriveFn &send, RedriveResult *res);
    int offer_from(RedriveCursor *c, const Select &sel, size_t max, const RedriveFn &send, RedriveResult *res);
    int remove_where(const std::function<bool(uint64_t off, uint64_t id)> &drop, uint64_t *removed);

    RecordLog log_;
    uint64_t count_ = 0;
    std::string error_;
};

// The record body: encode for tests and tools; decode returns false if the
// body is shorter than the fixed part or its header block runs past it.
std::vector<std::byte> encode_dead_letter(const DeadLetterMeta &m, std::span<const std::byte> payload,
                                          std::span<const std::byte> headers = {});
bool decode_dead_letter(std::span<const std::byte> body, DeadLetterView *out);

} // namespace shmq::store
