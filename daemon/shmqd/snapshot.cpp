// snapshot.cpp - the snapshot file (snapshot.hpp): encoded whole in memory,
// written through a temporary file, and decoded with every length
// bounds-checked and every checksum verified before anything is returned.
#include "snapshot.hpp"

#include "store/crc32c.hpp"
#include "store/fsutil.hpp"
#include "crashpoint.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmqd {

namespace store = shmq::store;

namespace {

constexpr char kMagic[8] = {'S', 'H', 'M', 'Q', 'S', 'N', 'A', 'P'};
constexpr uint32_t kVersion = 1;
constexpr size_t kBootIdLen = 40;
constexpr size_t kBodyFixed = 4 + 4 + 8 + 8 + 8; // kind+flags+pad, attempts, id, enqueued, due
constexpr uint32_t kHasHeaders = 1u << 8;         // flags bit 0, in the kind word
constexpr uint32_t kHasExpiry = 1u << 9;          // flags bit 1: an i64 expiry follows due (older
                                                  // snapshots have none: they read as never)
constexpr uint32_t kMaxHeaders = 4096;            // SHMQ_MAX_HEADERS_SIZE

struct Writer {
    std::vector<std::byte> b;
    void raw(const void *p, size_t n) {
        const auto *c = static_cast<const std::byte *>(p);
        b.insert(b.end(), c, c + n);
    }
    template <class T> void put(T v) { raw(&v, sizeof v); }
    void crc_from(size_t start) { put(store::crc32c(0, b.data() + start, b.size() - start)); }
};

void encode_header(Writer &w, const QueueSnapshot &s) {
    w.raw(kMagic, sizeof kMagic);
    w.put(kVersion);
    w.put(uint32_t(s.queue.size()));
    w.raw(s.queue.data(), s.queue.size());
    char boot[kBootIdLen] = {};
    std::memcpy(boot, s.boot_id.data(), std::min(s.boot_id.size(), kBootIdLen));
    w.raw(boot, sizeof boot);
    w.put(s.segment.created_ns);
    w.put(s.segment.tag);
    w.put(uint32_t(0));
    w.put(s.taken_ns);
    w.put(uint64_t(s.messages.size()));
    w.crc_from(0);
}

void encode_message(Writer &w, const SnapMessage &m) {
    const bool has = !m.headers.empty(), expires = m.expires_ns != 0;
    w.put(uint32_t(kBodyFixed + (expires ? 8 : 0) + (has ? 4 + m.headers.size() : 0) + m.payload.size()));
    size_t crc_at = w.b.size();
    w.put(uint32_t(0)); // the body's crc, filled in below
    size_t body = w.b.size();
    w.put(uint32_t(m.kind) | (has ? kHasHeaders : 0) | (expires ? kHasExpiry : 0));
    w.put(m.attempts);
    w.put(m.id);
    w.put(m.enqueued_ns);
    w.put(m.due_ns);
    if (expires) w.put(m.expires_ns);
    if (has) {
        w.put(uint32_t(m.headers.size()));
        w.raw(m.headers.data(), m.headers.size());
    }
    w.raw(m.payload.data(), m.payload.size());
    uint32_t crc = store::crc32c(0, w.b.data() + body, w.b.size() - body);
    std::memcpy(w.b.data() + crc_at, &crc, sizeof crc);
}

std::vector<std::byte> encode(const QueueSnapshot &s) {
    Writer w;
    encode_header(w, s);
    for (const SnapMessage &m : s.messages) encode_message(w, m);
    w.crc_from(0);
    return std::move(w.b);
}

// Reads fields in order; any read past the end or a bad check sets `bad`
// (the first reason is kept) and returns zeros from then on.
struct Reader {
    const std::vector<std::byte> &b;
    size_t at = 0;
    std::string bad;
    bool take(void *p, size_t n, const char *what) {
        if (!bad.empty()) return false;
        if (n > b.size() - at) {
            bad = std::string("cut short in ") + what + " at byte " + std::to_string(at);
            return false;
        }
        if (n > 0) std::memcpy(p, b.data() + at, n); // p may be null for an empty payload
        at += n;
        return true;
    }
    template <class T> T get(const char *what) {
        T v{};
        take(&v, sizeof v, what);
        return v;
    }
    void check_crc(size_t start, const char *what) {
        uint32_t want = store::crc32c(0, b.data() + start, std::min(at, b.size()) - start);
        if (get<uint32_t>(what) != want && bad.empty())
            bad = std::string("checksum mismatch in ") + what + " ending at byte " + std::to_string(at);
    }
};

void decode_header(Reader &r, QueueSnapshot *s, uint64_t *count) {
    char magic[sizeof kMagic] = {};
    r.take(magic, sizeof magic, "the header");
    if (r.bad.empty() && std::memcmp(magic, kMagic, sizeof kMagic) != 0) r.bad = "not a shmq snapshot (bad magic)";
    uint32_t version = r.get<uint32_t>("the header");
    if (r.bad.empty() && version != kVersion) r.bad = "unknown snapshot version " + std::to_string(version);
    uint32_t name_len = r.get<uint32_t>("the header");
    if (r.bad.empty() && name_len > 64) r.bad = "bad queue name length " + std::to_string(name_len);
    s->queue.resize(r.bad.empty() ? name_len : 0);
    r.take(s->queue.data(), s->queue.size(), "the header");
    char boot[kBootIdLen];
    if (r.take(boot, sizeof boot, "the header")) s->boot_id.assign(boot, strnlen(boot, sizeof boot));
    s->segment.created_ns = r.get<int64_t>("the header");
    s->segment.tag = r.get<uint32_t>("the header");
    r.get<uint32_t>("the header");
    s->taken_ns = r.get<int64_t>("the header");
    *count = r.get<uint64_t>("the header");
    r.check_crc(0, "the header");
}

void decode_message(Reader &r, SnapMessage *m, uint64_t k) {
    std::string what = "message " + std::to_string(k);
    uint32_t len = r.get<uint32_t>(what.c_str());
    uint32_t crc = r.get<uint32_t>(what.c_str());
    if (!r.bad.empty()) return;
    if (len < kBodyFixed || len > r.b.size() - r.at) {
        r.bad = "bad length " + std::to_string(len) + " of " + what + " at byte " + std::to_string(r.at - 8);
        return;
    }
    if (store::crc32c(0, r.b.data() + r.at, len) != crc) {
        r.bad = "checksum mismatch in " + what + " at byte " + std::to_string(r.at - 8);
        return;
    }
    const size_t end = r.at + len;
    uint32_t word = r.get<uint32_t>(what.c_str()), kind = word & ~(kHasHeaders | kHasExpiry);
    if (kind > uint32_t(SnapKind::Leased)) r.bad = "unknown kind " + std::to_string(kind) + " of " + what;
    m->kind = SnapKind(kind);
    m->attempts = r.get<uint32_t>(what.c_str());
    m->id = r.get<uint64_t>(what.c_str());
    m->enqueued_ns = r.get<int64_t>(what.c_str());
    m->due_ns = r.get<int64_t>(what.c_str());
    if ((word & kHasExpiry) != 0 && r.bad.empty()) {
        m->expires_ns = end - r.at >= 8 ? r.get<int64_t>(what.c_str()) : 0;
        if (m->expires_ns == 0) r.bad = "bad expiry in " + what;
    }
    if ((word & kHasHeaders) != 0 && r.bad.empty()) {
        uint32_t hlen = end - r.at >= 4 ? r.get<uint32_t>(what.c_str()) : 0;
        if (hlen == 0 || hlen > kMaxHeaders || hlen > end - r.at)
            r.bad = "bad header block length " + std::to_string(hlen) + " in " + what;
        m->headers.resize(r.bad.empty() ? hlen : 0);
        r.take(m->headers.data(), m->headers.size(), what.c_str());
    }
    if (!r.bad.empty()) return;
    m->payload.resize(end - r.at);
    r.take(m->payload.data(), m->payload.size(), what.c_str());
}

std::string decode(const std::vector<std::byte> &bytes, QueueSnapshot *s) {
    Reader r{bytes, 0, {}};
    uint64_t count = 0;
    decode_header(r, s, &count);
    for (uint64_t k = 0; r.bad.empty() && k < count; ++k) {
        if (r.at + 8 > bytes.size()) r.bad = "cut short after " + std::to_string(k) + " of " + std::to_string(count) + " messages";
        SnapMessage m;
        decode_message(r, &m, k);
        if (r.bad.empty()) s->messages.push_back(std::move(m));
    }
    r.check_crc(0, "the file");
    if (r.bad.empty() && r.at != bytes.size())
        r.bad = std::to_string(bytes.size() - r.at) + " bytes after the end of the snapshot";
    return r.bad;
}

int read_all(int fd, const struct stat &st, std::vector<std::byte> *out) {
    out->resize(size_t(st.st_size));
    int rc = store::pread_full(fd, out->data(), out->size(), 0);
    return rc == ENODATA ? 0 : rc; // shorter than fstat said: decode finds it cut short
}

// Write the bytes in two halves around a crash point, so a test can kill
// shmqd in the middle of the write (snapshot.mid_write).
int write_halves(int fd, const std::vector<std::byte> &b) {
    size_t half = b.size() / 2;
    iovec first{const_cast<std::byte *>(b.data()), half};
    if (int rc = store::pwrite_full(fd, &first, 1, 0); rc != 0) return rc;
    SHMQ_CRASH_POINT("snapshot.mid_write");
    iovec second{const_cast<std::byte *>(b.data() + half), b.size() - half};
    return store::pwrite_full(fd, &second, 1, half);
}

} // namespace

std::string snapshot_file(const std::string &queue) { return queue + ".snapshot"; }
std::string snapshot_tmp_file(const std::string &queue) { return queue + ".snapshot.tmp"; }

std::string current_boot_id() {
    char buf[64] = {};
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    std::string id(buf, n > 0 ? size_t(n) : 0);
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
}

int write_snapshot(int dirfd, const QueueSnapshot &s, std::string *why) {
    const std::string tmp = snapshot_tmp_file(s.queue), file = snapshot_file(s.queue);
    unlinkat(dirfd, tmp.c_str(), 0); // a torn one from an earlier attempt
    store::Fd fd;
    struct stat st;
    std::string open_why;
    int rc = store::open_checked(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL, &fd, &st, &open_why);
    const char *step = "create";
    if (rc == 0) step = "write", rc = write_halves(fd.get(), encode(s));
    if (rc == 0) step = "sync", rc = store::sync_data(fd.get());
    if (rc == 0 && renameat(dirfd, tmp.c_str(), dirfd, file.c_str()) != 0) step = "rename", rc = errno;
    if (rc == 0) step = "sync the directory of", rc = store::sync_dir(dirfd);
    if (rc != 0) *why = std::string("cannot ") + step + " " + tmp + ": " + strerror(rc);
    return rc;
}

int read_snapshot(int dirfd, const std::string &queue, QueueSnapshot *out, std::string *why) {
    store::Fd fd;
    struct stat st;
    const std::string file = snapshot_file(queue);
    int rc = store::open_checked(dirfd, file, O_RDONLY, &fd, &st, why);
    if (rc != 0) {
        *why = file + ": " + *why;
        return rc;
    }
    std::vector<std::byte> bytes;
    if (rc = read_all(fd.get(), st, &bytes); rc != 0) {
        *why = "cannot read " + file + ": " + strerror(rc);
        return rc;
    }
    QueueSnapshot s;
    std::string bad = decode(bytes, &s);
    if (bad.empty() && s.queue != queue) bad = "it is the snapshot of queue " + s.queue;
    if (!bad.empty()) {
        *why = file + ": " + bad;
        return EBADMSG;
    }
    *out = std::move(s);
    return 0;
}

} // namespace shmqd
