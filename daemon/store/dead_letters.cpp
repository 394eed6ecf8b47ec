// dead_letters.cpp - the dead-letter store (dead_letters.hpp). Reads stream
// one record at a time through RecordLog::scan; every removal is one
// RecordLog::rewrite, so it happens entirely or not at all.
#include "dead_letters.hpp"

#include "names.hpp"

#include <algorithm>
#include <cerrno>

namespace shmq::store {

constexpr size_t kMetaSize = 32;

const char *dead_reason_name(DeadReason r) {
    switch (r) {
    case DeadReason::MaxAttempts: return "max_attempts";
    case DeadReason::Rejected: return "rejected";
    case DeadReason::Expired: return "expired";
    case DeadReason::Invalid: return "invalid";
    case DeadReason::GroupRemoved: return "group_removed";
    case DeadReason::BridgeRejected: return "bridge_rejected";
    }
    return "unknown";
}

static void encode_meta(const DeadLetterMeta &m, std::span<const std::byte> headers, std::byte out[kMetaSize]) {
    put_u64(out, m.id);
    put_u32(out + 8, attempts_word(m.attempts, headers));
    put_u32(out + 12, uint32_t(m.reason));
    put_u64(out + 16, uint64_t(m.first_enqueue_ns));
    put_u64(out + 24, uint64_t(m.died_ns));
}

std::vector<std::byte> encode_dead_letter(const DeadLetterMeta &m, std::span<const std::byte> payload,
                                          std::span<const std::byte> headers) {
    std::vector<std::byte> body(kMetaSize);
    encode_meta(m, headers, body.data());
    put_headers(&body, headers);
    body.insert(body.end(), payload.begin(), payload.end());
    return body;
}

bool decode_dead_letter(std::span<const std::byte> body, DeadLetterView *out) {
    if (body.size() < kMetaSize) return false;
    const std::byte *p = body.data();
    out->meta = DeadLetterMeta{get_u64(p), get_u32(p + 8), DeadReason(get_u32(p + 12)), int64_t(get_u64(p + 16)),
                               int64_t(get_u64(p + 24))};
    return split_headers(&out->meta.attempts, body.subspan(kMetaSize), &out->headers, &out->payload);
}

int DeadLetters::take(int rc) {
    if (rc != 0) error_ = log_.error();
    return rc;
}

int DeadLetters::open(int dirfd, const std::string &queue, const StoreOptions &o, OpenReport *rep) {
    count_ = 0;
    if (!valid_queue_name(queue)) {
        error_ = "dead-letter store: bad queue name '" + queue + "' (want [A-Za-z0-9._-]{1,64}, not only dots)";
        return EINVAL;
    }
    OpenReport local;
    rep = rep != nullptr ? rep : &local;
    std::vector<std::string> malformed;
    LogOptions lo{Kind::Dlq, o.fsync, o.interval_ms, o.max_record, o.read_only};
    int rc = log_.open(dirfd, dlq_file(queue), lo, rep, [&](uint64_t off, std::span<const std::byte> body) {
        DeadLetterView v;
        if (decode_dead_letter(body, &v)) ++count_;
        else malformed.push_back(log_.path() + ": record at offset " + std::to_string(off) + " is too short (" +
                                 std::to_string(body.size()) + " bytes) for a dead letter, or its header block "
                                 "runs past it: ignored");
        return true;
    });
    rep->problems.insert(rep->problems.end(), malformed.begin(), malformed.end());
    return take(rc);
}

int DeadLetters::add(const DeadLetterMeta &m, std::span<const std::byte> payload, std::span<const std::byte> headers) {
    std::vector<std::byte> head(kMetaSize);
    encode_meta(m, headers, head.data());
    put_headers(&head, headers);
    int rc = log_.append(head, payload);
    if (rc == 0) ++count_;
    return take(rc);
}

int DeadLetters::list(const std::function<bool(const DeadLetterInfo &)> &visit) {
    return take(log_.scan([&](uint64_t off, std::span<const std::byte> body) {
        DeadLetterView v;
        if (!decode_dead_letter(body, &v)) return true;
        return visit(DeadLetterInfo{v.meta, v.payload.size(), off});
    }));
}

int DeadLetters::each(const std::function<bool(const DeadLetterView &)> &visit) {
    return take(log_.scan([&](uint64_t, std::span<const std::byte> body) {
        DeadLetterView v;
        return !decode_dead_letter(body, &v) || visit(v);
    }));
}

int DeadLetters::show(uint64_t id, DeadLetter *out) {
    bool found = false;
    int rc = log_.scan([&](uint64_t, std::span<const std::byte> body) {
        DeadLetterView v;
        if (decode_dead_letter(body, &v) && v.meta.id == id) {
            found = true; // keep looking: the most recent one wins
            out->meta = v.meta;
            out->payload.assign(v.payload.begin(), v.payload.end());
            out->headers.assign(v.headers.begin(), v.headers.end());
        }
        return true;
    });
    if (rc != 0) return take(rc);
    if (found) return 0;
    error_ = log_.path() + ": no dead letter with id " + std::to_string(id);
    return ENOENT;
}

// One rewrite dropping the well-formed records `drop` selects.
int DeadLetters::remove_where(const std::function<bool(uint64_t off, uint64_t id)> &drop, uint64_t *removed) {
    uint64_t n = 0, old_id = log_.file_id();
    int rc = log_.rewrite([&](uint64_t off, std::span<const std::byte> body) {
        DeadLetterView v;
        bool gone = decode_dead_letter(body, &v) && drop(off, v.meta.id);
        n += gone ? 1 : 0;
        return !gone;
    });
    if (log_.file_id() != old_id) count_ -= std::min(count_, n); // replaced, even if the dir sync failed
    if (removed != nullptr) *removed = log_.file_id() != old_id ? n : 0;
    return take(rc);
}

int DeadLetters::trim(uint64_t max_records, int64_t died_before_ns, uint64_t *dropped) {
    const uint64_t over = max_records != 0 && count_ > max_records ? count_ - max_records : 0;
    uint64_t seen = 0, n = 0, old_id = log_.file_id();
    int rc = log_.rewrite([&](uint64_t, std::span<const std::byte> body) {
        DeadLetterView v;
        if (!decode_dead_letter(body, &v)) return true; // not counted, not ours to judge
        bool gone = seen++ < over || v.meta.died_ns < died_before_ns;
        n += gone ? 1 : 0;
        return !gone;
    });
    bool replaced = log_.file_id() != old_id;
    if (replaced) count_ -= std::min(count_, n);
    *dropped = replaced ? n : 0;
    return take(rc);
}

int DeadLetters::purge() {
    return remove_where([](uint64_t, uint64_t) { return true; }, nullptr);
}

int DeadLetters::remove(std::span<const uint64_t> ids, uint64_t *removed) {
    std::vector<uint64_t> sorted(ids.begin(), ids.end());
    std::sort(sorted.begin(), sorted.end());
    return remove_where(
        [&](uint64_t, uint64_t id) { return std::binary_search(sorted.begin(), sorted.end(), id); }, removed);
}

int DeadLetters::redrive(std::span<const uint64_t> ids, size_t max_per_call, const RedriveFn &send,
                         RedriveResult *res) {
    std::vector<uint64_t> sorted(ids.begin(), ids.end());
    std::sort(sorted.begin(), sorted.end());
    return redrive_where([&](uint64_t id) { return std::binary_search(sorted.begin(), sorted.end(), id); },
                         max_per_call, send, res);
}

int DeadLetters::redrive_all(size_t max_per_call, const RedriveFn &send, RedriveResult *res) {
    return redrive_where([](uint64_t) { return true; }, max_per_call, send, res);
}

// Offers the selected records from the cursor on. The cursor moves past a
// record sent or kept, and stays on one that said Stop (offered again next time).
int DeadLetters::offer_from(RedriveCursor *c, const Select &sel, size_t max, const RedriveFn &send,
                            RedriveResult *res) {
    *res = RedriveResult{};
    if (c->file_id != log_.file_id()) *c = RedriveCursor{log_.file_id(), 0, false, {}};
    uint64_t from = c->resume == 0 ? RecordLog::first_offset() : c->resume;
    return take(log_.scan(
        [&](uint64_t off, std::span<const std::byte> body) {
            DeadLetterView v;
            if ((off == c->resume && c->skip_resume) || !decode_dead_letter(body, &v) || !sel(v.meta.id)) return true;
            if (max != 0 && res->sent == max) {
                res->more = true;
                return false;
            }
            RedriveStep step = send(v);
            c->resume = off;
            c->skip_resume = step != RedriveStep::Stop;
            if (step == RedriveStep::Sent) {
                c->sent.push_back(off);
                ++res->sent;
                return true;
            }
            ++res->kept;
            res->more = step == RedriveStep::Stop;
            return step != RedriveStep::Stop;
        },
        from));
}

int DeadLetters::commit_redrive(RedriveCursor *c) {
    if (c->sent.empty() || c->file_id != log_.file_id()) {
        c->sent.clear();
        return 0;
    }
    std::vector<uint64_t> sent = std::move(c->sent);
    *c = RedriveCursor{}; // the rewrite moves every record: start over (kept ones are offered again)
    return remove_where([&](uint64_t off, uint64_t) { return std::binary_search(sent.begin(), sent.end(), off); },
                        nullptr);
}

int DeadLetters::redrive_from(RedriveCursor *c, std::span<const uint64_t> ids, size_t max, const RedriveFn &send,
                              RedriveResult *res) {
    if (ids.empty()) return offer_from(c, [](uint64_t) { return true; }, max, send, res);
    std::vector<uint64_t> sorted(ids.begin(), ids.end());
    std::sort(sorted.begin(), sorted.end());
    return offer_from(c, [&](uint64_t id) { return std::binary_search(sorted.begin(), sorted.end(), id); }, max, send,
                      res);
}

// One call of an incremental redrive, committed at once. If reading failed
// part way, what was sent is still removed.
int DeadLetters::redrive_where(const Select &sel, size_t max, const RedriveFn &send, RedriveResult *res) {
    RedriveCursor c;
    int rc = offer_from(&c, sel, max, send, res);
    std::string read_error = error_;
    int rm = commit_redrive(&c);
    if (rc == 0) return rm;
    error_ = read_error;
    return rc;
}

} // namespace shmq::store
