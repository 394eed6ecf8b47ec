// record_log.cpp - opening, scanning, appending to and compacting a record log
// (record_log.hpp). Every path that changes the file either finishes or leaves
// a state the next open() repairs: a partial append is a torn tail, a partial
// rewrite is an unused .tmp file next to the intact old log.
#include "record_log.hpp"

#include "crc32c.hpp"
#include "scanner.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace shmq::store {

constexpr uint32_t kMaxRecordLimit = 1u << 30;
constexpr int kRetry = -1; // not an errno value (EWOULDBLOCK is EAGAIN on Linux)

static std::string num(uint64_t v) { return std::to_string(v); }

int RecordLog::fail(int err, const std::string &what) {
    error_ = label_ + " " + path_ + ": " + what;
    return err;
}

static std::string sys(const std::string &what, int err) { return what + ": " + std::strerror(err); }

// fail() with errno, read before anything else can change it.
int RecordLog::fail_sys(const char *what) {
    int e = errno;
    return fail(e, sys(what, e));
}

void RecordLog::close() {
    if (is_open() && dirty_ && !broken_) sync(); // best effort; callers wanting the result call sync()
    fd_.reset();
    dir_.reset();
    end_ = file_id_ = 0;
    dirty_ = broken_ = false;
}

int RecordLog::open(int dirfd, const std::string &file, const LogOptions &opts, OpenReport *rep,
                    const Visitor &visit) {
    close();
    OpenReport local;
    rep = rep != nullptr ? rep : &local;
    *rep = OpenReport{};
    opts_ = opts;
    file_ = file;
    label_ = opts.kind == Kind::Spill ? "spill file" : "dead-letter file";
    path_ = fd_path(dirfd) + "/" + file;
    if (opts.max_record == 0 || opts.max_record > kMaxRecordLimit)
        return fail(EINVAL, "max_record must be between 1 and " + num(kMaxRecordLimit));
    if (file.empty() || file.find('/') != std::string::npos) return fail(EINVAL, "bad file name");
    struct stat st;
    int rc = open_file(dirfd, file, &st);
    if (rc == 0) rc = read_header(uint64_t(st.st_size), rep);
    if (rc == 0) rc = scan_all(rep, visit);
    if (rc != 0) {
        fd_.reset();
        dir_.reset();
        return rc;
    }
    if (!opts.read_only) ::unlinkat(dir_.get(), (file + ".tmp").c_str(), 0); // left by a crashed rewrite
    last_sync_ms_ = mono_ms();
    return 0;
}

// open_checked's refusals explain themselves; system errors get strerror.
static std::string open_why(int rc, const std::string &why) {
    return rc == ELOOP || rc == EINVAL || rc == EPERM ? why : sys(why, rc);
}

// Opens (or creates) the file and, for a writer, locks it. The lock must be on
// the inode the name points to after locking: a rewrite may have replaced it.
int RecordLog::open_file(int dirfd, const std::string &file, struct stat *st) {
    int d = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return fail_sys("cannot duplicate the directory fd");
    dir_.reset(d);
    std::string why;
    if (opts_.read_only) {
        int rc = open_checked(dirfd, file, O_RDONLY, &fd_, st, &why);
        return rc == 0 ? 0 : fail(rc, open_why(rc, why));
    }
    for (int attempt = 0; attempt < 8; ++attempt) {
        int rc = open_checked(dirfd, file, O_RDWR, &fd_, st, &why);
        if (rc == ENOENT) {
            rc = open_checked(dirfd, file, O_RDWR | O_CREAT | O_EXCL, &fd_, st, &why);
            if (rc == EEXIST) continue; // another process created it just now
        }
        if (rc != 0) return fail(rc, open_why(rc, why));
        if (int l = lock_file(file); l != kRetry) return l;
    }
    return fail(EAGAIN, "was replaced again and again while opening it");
}

// 0 when locked, kRetry if the name now points elsewhere, else an errno value.
int RecordLog::lock_file(const std::string &file) {
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) return fail(e, "is locked by another writer (is shmqd running?)");
        return fail(e, sys("flock failed", e));
    }
    struct stat mine, now;
    if (::fstat(fd_.get(), &mine) != 0) return fail_sys("fstat failed");
    if (::fstatat(dir_.get(), file.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == mine.st_ino &&
        now.st_dev == mine.st_dev)
        return 0;
    fd_.reset();
    return kRetry;
}

// A file shorter than a header is a creation cut short by a crash if what is
// there is zeros or the start of the magic; anything else is not ours.
static bool torn_creation(const std::byte *buf, uint64_t size) {
    bool zeros = true, magic = true;
    for (uint64_t i = 0; i < size; ++i) {
        zeros = zeros && buf[i] == std::byte{0};
        magic = magic && (i >= 8 || buf[i] == std::byte(kFileMagic[i]));
    }
    return zeros || magic;
}

int RecordLog::read_header(uint64_t size, OpenReport *rep) {
    std::byte buf[kFileHeaderSize] = {};
    size_t n = size < kFileHeaderSize ? size_t(size) : kFileHeaderSize;
    if (int rc = pread_full(fd_.get(), buf, n, 0); rc != 0) return fail(rc, sys("cannot read the header", rc));
    if (size < kFileHeaderSize) {
        if (!torn_creation(buf, size)) return fail(EPROTO, "bad header (" + num(size) + " bytes, too short for one)");
        end_ = size;
        if (opts_.read_only) return 0; // not yet initialised: an empty log
        if (size > 0) rep->problems.push_back(path_ + ": header was cut short by a crash; wrote it again");
        return init_header();
    }
    FileHeader h;
    switch (decode_file_header(buf, &h)) {
    case HeaderCheck::BadMagic: return fail(EPROTO, "bad header (not a shmq log: wrong magic)");
    case HeaderCheck::BadVersion:
        return fail(ENOTSUP, "bad header (format version " + num(h.version) + ", this build reads " +
                                 num(kFormatVersion) + ")");
    case HeaderCheck::BadChecksum: return fail(EPROTO, "bad header (header checksum mismatch)");
    case HeaderCheck::Ok: break;
    }
    if (h.kind != uint32_t(opts_.kind))
        return fail(EPROTO, std::string("bad header (kind ") + kind_name(h.kind) + ", want " +
                                kind_name(uint32_t(opts_.kind)) + ")");
    file_id_ = h.file_id;
    end_ = size;
    return 0;
}

// Writes a fresh header into an empty (or torn-at-creation) file and makes it
// and its directory entry durable before any record can be appended.
int RecordLog::init_header() {
    FileHeader h;
    h.kind = uint32_t(opts_.kind);
    h.file_id = random_u64();
    std::byte buf[kFileHeaderSize];
    encode_file_header(h, buf);
    iovec v{buf, sizeof buf};
    int rc = pwrite_full(fd_.get(), &v, 1, 0);
    if (rc == 0 && ::ftruncate(fd_.get(), kFileHeaderSize) != 0) rc = errno;
    if (rc == 0) rc = sync_data(fd_.get());
    if (rc == 0) rc = sync_dir(dir_.get());
    if (rc != 0) return fail(rc, sys("cannot write the header", rc));
    file_id_ = h.file_id;
    end_ = kFileHeaderSize;
    return 0;
}

int RecordLog::cut_tail(uint64_t off, uint64_t len, const std::string &why, OpenReport *rep) {
    std::string where = path_ + ": torn tail at offset " + num(off) + " (" + num(len) + " bytes, " + why + ")";
    if (opts_.read_only) {
        rep->problems.push_back(where + ": ignored (read-only; a writer may be appending)");
        return 0;
    }
    int rc = ::ftruncate(fd_.get(), off_t(off)) == 0 ? 0 : errno;
    if (rc == 0) rc = sync_data(fd_.get());
    if (rc != 0) return fail(rc, sys("cannot truncate the torn tail at offset " + num(off), rc));
    rep->torn_bytes_truncated += len;
    rep->problems.push_back(where + ": truncated");
    end_ = off;
    return 0;
}

int RecordLog::scan_all(OpenReport *rep, const Visitor &visit) {
    if (end_ < kFileHeaderSize) return 0; // an empty, uninitialised file (read-only)
    Scanner sc(fd_.get(), kFileHeaderSize, end_, opts_.max_record);
    bool visiting = bool(visit);
    for (;;) {
        switch (sc.next()) {
        case Scanner::Step::Record:
            ++rep->records;
            visiting = visiting && visit(sc.offset(), sc.body());
            break;
        case Scanner::Step::Skipped:
            ++rep->corrupt_skipped;
            rep->problems.push_back(path_ + ": corrupt region at offset " + num(sc.offset()) + " (" +
                                    num(sc.length()) + " bytes, " + sc.why() + "): skipped");
            break;
        case Scanner::Step::Tail: return cut_tail(sc.offset(), sc.length(), sc.why(), rep);
        case Scanner::Step::End: return 0;
        case Scanner::Step::Error:
            return fail(sc.error(), sys("read failed near offset " + num(sc.position()), sc.error()));
        }
    }
}

int RecordLog::writable() {
    if (!is_open()) return fail(EBADF, "not open");
    if (opts_.read_only) return fail(EBADF, "opened read-only");
    if (broken_) return fail(EIO, "an earlier write or sync failed; reopen the log");
    return 0;
}

int RecordLog::write_frame(int fd, uint64_t off, std::span<const std::byte> head, std::span<const std::byte> tail) {
    uint32_t crc = crc32c(crc32c(0, head.data(), head.size()), tail.data(), tail.size());
    std::byte frame[kFrameHeaderSize];
    encode_frame_header(off, FrameHeader{uint32_t(head.size() + tail.size()), crc}, frame);
    iovec v[3] = {{frame, sizeof frame},
                  {const_cast<std::byte *>(head.data()), head.size()},
                  {const_cast<std::byte *>(tail.data()), tail.size()}};
    return pwrite_full(fd, v, 3, off);
}

int RecordLog::append(std::span<const std::byte> head, std::span<const std::byte> tail) {
    if (int rc = writable(); rc != 0) return rc;
    uint64_t len = uint64_t(head.size()) + tail.size();
    if (len > opts_.max_record)
        return fail(EFBIG, "record of " + num(len) + " bytes exceeds the limit of " + num(opts_.max_record));
    if (int rc = write_frame(fd_.get(), end_, head, tail); rc != 0) {
        if (::ftruncate(fd_.get(), off_t(end_)) != 0) broken_ = true; // else: as if never written
        return fail(rc, sys("append failed", rc));
    }
    end_ += kFrameHeaderSize + len;
    dirty_ = true;
    if (opts_.fsync == Fsync::Always) return sync();
    if (opts_.fsync == Fsync::Interval) return flush_if_due();
    return 0;
}

int RecordLog::sync() {
    if (!dirty_) return 0;
    if (int rc = sync_data(fd_.get()); rc != 0) {
        broken_ = true;
        return fail(rc, sys("fdatasync failed (records since the last sync may be lost; reopen the log)", rc));
    }
    dirty_ = false;
    last_sync_ms_ = mono_ms();
    ++syncs_;
    return 0;
}

int RecordLog::flush_if_due() {
    if (!dirty_ || mono_ms() - last_sync_ms_ < int64_t(opts_.interval_ms)) return 0;
    return sync();
}

int RecordLog::scan(const Visitor &visit, uint64_t from, uint64_t *corrupt) {
    if (!is_open()) return fail(EBADF, "not open");
    uint64_t end = end_;
    struct stat st;
    if (opts_.read_only && ::fstat(fd_.get(), &st) == 0) end = uint64_t(st.st_size); // a writer may append
    if (end < kFileHeaderSize) return 0;
    Scanner sc(fd_.get(), from < kFileHeaderSize ? kFileHeaderSize : from, end, opts_.max_record);
    for (;;) {
        switch (sc.next()) {
        case Scanner::Step::Record:
            if (!visit(sc.offset(), sc.body())) return 0;
            break;
        case Scanner::Step::Skipped:
        case Scanner::Step::Tail: // read-only: an append in progress; a writer: damaged since open
            if (corrupt != nullptr && !(opts_.read_only && sc.offset() + sc.length() == end)) ++*corrupt;
            break;
        case Scanner::Step::End: return 0;
        case Scanner::Step::Error:
            return fail(sc.error(), sys("read failed near offset " + num(sc.position()), sc.error()));
        }
    }
}

// Copies the kept records into `tmp` after its header; *end is its new size.
int RecordLog::copy_kept(int tmp, const Visitor &keep, uint64_t *end) {
    int werr = 0;
    *end = kFileHeaderSize;
    int rc = scan([&](uint64_t off, std::span<const std::byte> body) {
        if (!keep(off, body)) return true;
        werr = write_frame(tmp, *end, body, {});
        *end += kFrameHeaderSize + body.size();
        return werr == 0;
    });
    if (rc != 0) return rc;
    return werr == 0 ? 0 : fail(werr, sys("rewrite: cannot write the new file", werr));
}

int RecordLog::rewrite(const Visitor &keep) {
    if (int rc = writable(); rc != 0) return rc;
    std::string tmp_name = file_ + ".tmp", why;
    ::unlinkat(dir_.get(), tmp_name.c_str(), 0);
    Fd tmp;
    struct stat st, old;
    int rc = open_checked(dir_.get(), tmp_name, O_RDWR | O_CREAT | O_EXCL, &tmp, &st, &why);
    if (rc != 0) return fail(rc, sys("rewrite: " + tmp_name + " " + why, rc));
    if (::fstat(fd_.get(), &old) == 0) ::fchmod(tmp.get(), old.st_mode & 0770); // keep a configured group
    FileHeader h;
    h.kind = uint32_t(opts_.kind);
    h.file_id = random_u64();
    std::byte head[kFileHeaderSize];
    encode_file_header(h, head);
    iovec v{head, sizeof head};
    uint64_t end = 0;
    rc = pwrite_full(tmp.get(), &v, 1, 0);
    if (rc != 0) fail(rc, sys("rewrite: cannot write the new header", rc));
    if (rc == 0) rc = copy_kept(tmp.get(), keep, &end);
    if (rc == 0 && ::flock(tmp.get(), LOCK_EX | LOCK_NB) != 0) rc = fail_sys("rewrite: flock failed");
    if (rc == 0) return install(std::move(tmp), tmp_name, h.file_id, end);
    ::unlinkat(dir_.get(), tmp_name.c_str(), 0);
    return rc;
}

// Makes the new file durable, renames it over the log and syncs the directory.
int RecordLog::install(Fd tmp, const std::string &tmp_name, uint64_t id, uint64_t end) {
    int rc = sync_data(tmp.get());
    if (rc == 0 && ::renameat(dir_.get(), tmp_name.c_str(), dir_.get(), file_.c_str()) != 0) rc = errno;
    if (rc != 0) {
        ::unlinkat(dir_.get(), tmp_name.c_str(), 0);
        return fail(rc, sys("rewrite: cannot install the new file", rc));
    }
    fd_ = std::move(tmp); // the old inode and its lock go; the new one is locked already
    file_id_ = id;
    end_ = end;
    dirty_ = false;
    if ((rc = sync_dir(dir_.get())) != 0) return fail(rc, sys("rewrite: renamed, but syncing the directory failed", rc));
    return 0;
}

} // namespace shmq::store
