// spill.cpp - the overflow spill (spill.hpp). The cursor is trusted only if it
// names this spill file's file_id and a record boundary; otherwise refilling
// starts over, which can repeat records but never skips one.
#include "spill.hpp"

#include "cursor.hpp"
#include "names.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace shmq::store {

constexpr size_t kMetaSize = 24;
constexpr uint64_t kCompactMin = 1 << 20; // refilled bytes worth a rewrite while records remain

// The expiry as ms after the first enqueue (SpillMeta): a ttl and a delay
// keep it well inside 32 bits. The times come from shared memory, which a
// hostile client can scribble: no overflow whatever they hold.
static uint32_t expiry_offset_ms(const SpillMeta &m) {
    if (m.expires_ns == 0) return 0;
    int64_t d = 0;
    if (__builtin_sub_overflow(m.expires_ns, m.first_enqueue_ns, &d)) return d < 0 ? 1 : UINT32_MAX;
    int64_t ms = d / 1000000;
    return ms < 1 ? 1 : ms > int64_t(UINT32_MAX) ? UINT32_MAX : uint32_t(ms);
}

// The inverse, saturating (a record's times are read from disk).
static int64_t expiry_from_offset(int64_t first_enqueue_ns, uint32_t off_ms) {
    int64_t at = 0;
    return __builtin_add_overflow(first_enqueue_ns, int64_t(off_ms) * 1000000, &at) ? INT64_MAX : at;
}

static void encode_meta(const SpillMeta &m, std::span<const std::byte> headers, std::byte out[kMetaSize]) {
    put_u64(out, m.id);
    put_u32(out + 8, attempts_word(m.attempts, headers));
    put_u32(out + 12, expiry_offset_ms(m));
    put_u64(out + 16, uint64_t(m.first_enqueue_ns));
}

std::vector<std::byte> encode_spill_record(const SpillMeta &m, std::span<const std::byte> payload,
                                          std::span<const std::byte> headers) {
    std::vector<std::byte> body(kMetaSize);
    encode_meta(m, headers, body.data());
    put_headers(&body, headers);
    body.insert(body.end(), payload.begin(), payload.end());
    return body;
}

bool decode_spill_record(std::span<const std::byte> body, SpillMeta *m, std::span<const std::byte> *payload,
                         std::span<const std::byte> *headers) {
    if (body.size() < kMetaSize) return false;
    *m = SpillMeta{get_u64(body.data()), get_u32(body.data() + 8), int64_t(get_u64(body.data() + 16))};
    if (uint32_t off = get_u32(body.data() + 12); off != 0) m->expires_ns = expiry_from_offset(m->first_enqueue_ns, off);
    std::span<const std::byte> h;
    if (!split_headers(&m->attempts, body.subspan(kMetaSize), &h, payload)) return false;
    if (headers != nullptr) *headers = h;
    return true;
}

int Spill::take(int rc) {
    if (rc != 0) error_ = log_.error();
    return rc;
}

void Spill::close() {
    log_.close();
    dir_.reset();
    pending_.clear();
    cursor_ = kFileHeaderSize;
    count_ = 0;
}

int Spill::open(int dirfd, const std::string &queue, const SpillOptions &o, OpenReport *rep) {
    close();
    if (!valid_queue_name(queue)) {
        error_ = "spill store: bad queue name '" + queue + "' (want [A-Za-z0-9._-]{1,64}, not only dots)";
        return EINVAL;
    }
    OpenReport local;
    rep = rep != nullptr ? rep : &local;
    *rep = OpenReport{};
    int d = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) {
        int e = errno;
        error_ = "spill store: cannot duplicate the directory fd";
        return e;
    }
    dir_.reset(d);
    cap_ = o.cap_bytes;
    cursor_name_ = cursor_file(queue);
    int rc = load(queue, o, rep);
    if (rc != 0) {
        close();
        return rc;
    }
    if (count_ == 0 && cursor_ > kFileHeaderSize && compact() != 0) // a crash came before it
        rep->problems.push_back(error_);
    return 0;
}

// Why a loaded cursor cannot be used, or "" if it can.
static std::string cursor_problem(int rc, const std::string &why, const Cursor &c, const RecordLog &log,
                                  bool boundary) {
    if (rc == ENOENT) return "is missing";
    if (rc != 0) return "is damaged (" + why + ")";
    if (c.file_id != log.file_id()) return "belongs to an earlier spill file (a compaction was interrupted)";
    if (c.offset < kFileHeaderSize || c.offset > log.size() || (!boundary && c.offset != log.size()))
        return "points to offset " + std::to_string(c.offset) + ", not a record boundary of the spill file (" +
               std::to_string(log.size()) + " bytes)";
    return "";
}

// What the opening scan saw, relative to the cursor on disk.
struct CursorScan {
    uint64_t total = 0, after = 0; // well-formed records; those at or after the cursor
    bool boundary = false;         // a record starts at the cursor
    std::vector<std::string> malformed;
};

static RecordLog::Visitor count_records(CursorScan *cs, uint64_t cursor, const RecordLog *log) {
    return [=](uint64_t off, std::span<const std::byte> body) {
        SpillMeta m;
        std::span<const std::byte> p;
        cs->boundary = cs->boundary || off == cursor;
        if (decode_spill_record(body, &m, &p)) {
            ++cs->total;
            cs->after += off >= cursor ? 1 : 0;
        } else {
            cs->malformed.push_back(log->path() + ": record at offset " + std::to_string(off) + " is too short (" +
                                    std::to_string(body.size()) +
                                    " bytes) for a spilled message, or its header block runs past it: ignored");
        }
        return true;
    };
}

// Reads the cursor, opens the log counting records on both sides of it, and
// decides where refilling starts.
int Spill::load(const std::string &queue, const SpillOptions &o, OpenReport *rep) {
    Cursor cur;
    std::string why, cursor_path = fd_path(dir_.get()) + "/" + cursor_name_;
    int crc = load_cursor(dir_.get(), cursor_name_, &cur, &why);
    if (crc != 0 && crc != ENOENT && crc != EBADMSG) {
        error_ = "spill cursor " + cursor_path + ": " + why;
        return crc;
    }
    CursorScan cs;
    LogOptions lo{Kind::Spill, o.fsync, o.interval_ms, o.max_record, false};
    int rc = log_.open(dir_.get(), spill_file(queue), lo, rep, count_records(&cs, cur.offset, &log_));
    rep->problems.insert(rep->problems.end(), cs.malformed.begin(), cs.malformed.end());
    if (rc != 0) return take(rc);
    std::string problem = cursor_problem(crc, why, cur, log_, cs.boundary);
    cursor_ = problem.empty() ? cur.offset : kFileHeaderSize;
    count_ = problem.empty() ? cs.after : cs.total;
    if (!problem.empty() && (crc != ENOENT || cs.total > 0))
        rep->problems.push_back("spill cursor " + cursor_path + " " + problem +
                                ": refilling from the first record (records already refilled may come again)");
    return 0;
}

int Spill::push(const SpillMeta &m, std::span<const std::byte> payload, std::span<const std::byte> headers) {
    std::vector<std::byte> head(kMetaSize);
    encode_meta(m, headers, head.data());
    put_headers(&head, headers);
    uint64_t need = kFrameHeaderSize + head.size() + payload.size();
    if (cap_ != 0 && log_.size() + need > cap_ && pending_.empty() && cursor_ > kFileHeaderSize)
        if (int rc = compact(); rc != 0) return rc;
    if (cap_ != 0 && log_.size() + need > cap_) {
        error_ = log_.path() + ": full (" + std::to_string(log_.size()) + " bytes, a record of " +
                 std::to_string(need) + " would pass the cap of " + std::to_string(cap_) + ")";
        return EDQUOT;
    }
    int rc = log_.append(head, payload);
    if (rc == 0) ++count_;
    return take(rc);
}

int Spill::peek_batch(size_t n, std::vector<SpillRecord> *out) {
    out->clear();
    pending_.clear();
    if (n == 0) return 0;
    int rc = log_.scan(
        [&](uint64_t off, std::span<const std::byte> body) {
            SpillRecord r;
            std::span<const std::byte> p, h;
            if (!decode_spill_record(body, &r.meta, &p, &h)) return true;
            r.payload.assign(p.begin(), p.end());
            r.headers.assign(h.begin(), h.end());
            out->push_back(std::move(r));
            pending_.push_back(off + kFrameHeaderSize + body.size());
            return out->size() < n;
        },
        cursor_);
    if (rc != 0) pending_.clear();
    return take(rc);
}

int Spill::save_cursor(uint64_t offset) {
    std::string why;
    int rc = store_cursor(dir_.get(), cursor_name_, Cursor{log_.file_id(), offset}, &why);
    if (rc != 0) error_ = "spill cursor " + log_.path() + ".cursor: " + why;
    return rc;
}

int Spill::commit(size_t count) {
    if (count > pending_.size()) {
        error_ = log_.path() + ": commit of " + std::to_string(count) + " records, but the last peek returned " +
                 std::to_string(pending_.size());
        return EINVAL;
    }
    uint64_t offset = count > 0 ? pending_[count - 1] : cursor_;
    pending_.clear();
    if (count == 0) return 0;
    if (int rc = save_cursor(offset); rc != 0) return rc;
    cursor_ = offset;
    count_ -= std::min<uint64_t>(count_, count);
    return maybe_compact();
}

int Spill::maybe_compact() {
    uint64_t refilled = cursor_ - kFileHeaderSize, left = log_.size() - cursor_;
    if (refilled == 0) return 0;
    if (count_ == 0 || (refilled >= kCompactMin && refilled >= left)) return compact();
    return 0;
}

// Drops the refilled records: a rewrite keeping those after the cursor (none
// when all are refilled), then a cursor at the start of the new file. A crash
// between the two leaves a cursor naming the old file_id: stale, so the next
// open starts at the first record of the new file, which is right.
int Spill::compact() {
    uint64_t old_id = log_.file_id(), from = cursor_;
    int rc = take(log_.rewrite([from](uint64_t off, std::span<const std::byte>) { return off >= from; }));
    if (log_.file_id() == old_id) return rc; // not replaced: the old file and cursor stand
    cursor_ = kFileHeaderSize;
    int cr = save_cursor(cursor_);
    return rc != 0 ? rc : cr;
}

} // namespace shmq::store
