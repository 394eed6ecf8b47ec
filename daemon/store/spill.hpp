// spill.hpp - the overflow spill of one queue: `<dir>/<queue>.spill`, a record
// log of messages moved out of a full segment, refilled first in, first out
// from a cursor kept in `<queue>.spill.cursor`. Refilling is peek, send into
// the segment, commit: a crash before the commit sends those records again
// (twice, never lost). Refilled records are dropped by compaction.
#pragma once

#include "record_headers.hpp"
#include "record_log.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace shmq::store {

struct SpillOptions {
    Fsync fsync = Fsync::Always;
    uint32_t interval_ms = 1000;
    uint32_t max_record = 64u << 20;
    uint64_t cap_bytes = 0; // file size push() may not pass (EDQUOT); 0: no cap
};

// The fixed part of a record (24 bytes on disk, little-endian, before the payload).
struct SpillMeta {
    uint64_t id = 0;
    uint32_t attempts = 0;
    int64_t first_enqueue_ns = 0; // CLOCK_REALTIME
    // CLOCK_REALTIME from which it may not be leased, 0 = never. On disk: ms
    // after first_enqueue_ns (rounded down, at least 1), 0 = never, in the
    // u32 that was reserved (zero) before expiry: older records read as never.
    int64_t expires_ns = 0;
};

struct SpillRecord {
    SpillMeta meta;
    std::vector<std::byte> payload;
    std::vector<std::byte> headers; // encoded header block, empty if none (record_headers.hpp)
};

// Not thread-safe: one thread uses a spill at a time.
class Spill {
public:
    // Opens or creates the spill of `queue` in `dirfd`. A missing, damaged or
    // stale cursor makes refilling start from the first record (reported in
    // *rep when records may be delivered twice). EINVAL for a bad queue name,
    // ELOOP/EINVAL/EPERM for an unsafe cursor file; otherwise as RecordLog::open.
    int open(int dirfd, const std::string &queue, const SpillOptions &o, OpenReport *rep);
    void close();

    // Appends a record behind all others. EFBIG if longer than max_record;
    // EDQUOT if the file would pass cap_bytes even after dropping refilled
    // records (done here only when no peek is pending).
    // `headers`: the message's encoded header block (empty: none).
    int push(const SpillMeta &m, std::span<const std::byte> payload, std::span<const std::byte> headers = {});
    int sync() { return take(log_.sync()); }
    int flush_if_due() { return take(log_.flush_if_due()); }

    // Up to n records from the cursor, oldest first, into *out (replaced). They
    // stay in the spill until committed; another peek returns them again.
    int peek_batch(size_t n, std::vector<SpillRecord> *out);
    // Marks the first `count` records of the last peek as refilled, durably, and
    // forgets the rest of that peek (EINVAL if count is larger). Then compacts:
    // to empty when nothing is left, or dropping the refilled records once they
    // fill half the file. A nonzero return with count() already lowered means
    // the commit stands and only compaction failed; it is tried again later.
    int commit(size_t count);

    uint64_t count() const { return count_; }      // records not yet refilled
    uint64_t bytes() const { return log_.size(); } // spill file size
    const std::string &error() const { return error_; }

private:
    int take(int rc);
    int load(const std::string &queue, const SpillOptions &o, OpenReport *rep);
    int compact();
    int maybe_compact();
    int save_cursor(uint64_t offset);

    RecordLog log_;
    Fd dir_;
    std::string cursor_name_, error_;
    uint64_t cap_ = 0, cursor_ = kFileHeaderSize, count_ = 0;
    std::vector<uint64_t> pending_; // end offset of each record of the last peek
};

std::vector<std::byte> encode_spill_record(const SpillMeta &m, std::span<const std::byte> payload,
                                          std::span<const std::byte> headers = {});
// False if the body is shorter than the fixed part or its header block runs
// past it. `headers` (may be null) gets the header block.
bool decode_spill_record(std::span<const std::byte> body, SpillMeta *m, std::span<const std::byte> *payload,
                         std::span<const std::byte> *headers = nullptr);

} // namespace shmq::store
