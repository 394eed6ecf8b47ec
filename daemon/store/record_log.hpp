// record_log.hpp - an append-only log of checksummed records in one file, the
// base of the dead-letter and spill stores. Opening it scans every frame: a
// torn tail (an append cut short by a crash) is truncated, a corrupt record in
// the middle is reported and skipped, and neither is ever fatal. A writer holds
// an exclusive flock for as long as the log is open; readers take no lock.
#pragma once

#include "format.hpp"
#include "fsutil.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace shmq::store {

// When an append reaches the disk. Always: fdatasync before append() returns.
// Interval: at the first append or flush_if_due() at least interval_ms after the
// last sync. Never: when the kernel decides (a crash of the machine may lose
// records whose append returned; a crash of the process does not).
enum class Fsync { Always, Interval, Never };

struct LogOptions {
    Kind kind = Kind::Dlq;
    Fsync fsync = Fsync::Always;
    uint32_t interval_ms = 1000;
    uint32_t max_record = 64u << 20; // longest body accepted or read back (at most 1 GiB)
    bool read_only = false;          // no lock, no header creation, no truncation, no writes
};

// What opening found. A problem is one line for the operator's log.
struct OpenReport {
    uint64_t records = 0;              // valid records
    uint64_t corrupt_skipped = 0;      // corrupt regions skipped (each may span several records)
    uint64_t torn_bytes_truncated = 0; // bytes cut from the end (0 when read-only)
    std::vector<std::string> problems;
};

// One open log. Not thread-safe: one thread uses it at a time. Movable. A
// read-only log sees the file as opened plus later appends; after a writer's
// rewrite (a new inode) it must be reopened to see the new file.
class RecordLog {
public:
    // (offset, body) of one valid record; return false to stop. The body is
    // valid only during the call.
    using Visitor = std::function<bool(uint64_t offset, std::span<const std::byte> body)>;

    RecordLog() = default;
    ~RecordLog() { close(); }
    RecordLog(RecordLog &&) noexcept = default;
    RecordLog &operator=(RecordLog &&) noexcept = default;

    // Opens `file` in the directory `dirfd` (the fd is duplicated, so the caller
    // may close its own), creating it with mode 0600 unless read-only. Every
    // valid record found by the opening scan is passed to `visit` if given.
    // Returns 0 or an errno value, with error() saying what in words:
    //   ELOOP a symlink; EINVAL not a regular file or a bad option; EPERM
    //   world-writable; EPROTO not a log of this kind (bad magic, header
    //   checksum or kind); ENOTSUP another format version; EWOULDBLOCK locked by
    //   another writer; ENOENT (read-only) no such file; else a system error.
    // A file refused for its contents is left untouched.
    int open(int dirfd, const std::string &file, const LogOptions &opts, OpenReport *rep,
             const Visitor &visit = nullptr);
    void close();
    bool is_open() const { return fd_.get() >= 0; }

    // Appends one record, durable as the fsync policy says. EFBIG if longer than
    // max_record. After a failed write or sync the log refuses further writes
    // (EIO) until reopened: what reached the disk is then unknown.
    int append(std::span<const std::byte> body) { return append(body, {}); }
    // Appends one record whose body is `head` followed by `tail` (no copy).
    int append(std::span<const std::byte> head, std::span<const std::byte> tail);
    int sync();          // fdatasync now if anything is unsynced
    int flush_if_due();  // for Fsync::Interval: sync if interval_ms have passed

    // Visits valid records from offset `from` (first_offset() for all), in order,
    // skipping corrupt ones (counted in *corrupt if given).
    int scan(const Visitor &visit, uint64_t from = kFileHeaderSize, uint64_t *corrupt = nullptr);

    // Crash-safe compaction: copies the records `keep` accepts into `<file>.tmp`,
    // syncs it, renames it over the log and syncs the directory. A crash leaves
    // the old log or the new one, never a mix. Corrupt records are dropped.
    // The new file has a new file_id.
    int rewrite(const Visitor &keep);

    uint64_t size() const { return end_; }            // bytes in the file
    uint64_t file_id() const { return file_id_; }     // random, new at each rewrite
    uint64_t syncs() const { return syncs_; }         // successful fdatasyncs of appended data
    static constexpr uint64_t first_offset() { return kFileHeaderSize; }
    const std::string &path() const { return path_; }
    const std::string &error() const { return error_; } // message of the last failure

private:
    int fail(int err, const std::string &what);
    int fail_sys(const char *what);
    int open_file(int dirfd, const std::string &file, struct stat *st);
    int lock_file(const std::string &file);
    int read_header(uint64_t size, OpenReport *rep);
    int init_header();
    int cut_tail(uint64_t off, uint64_t len, const std::string &why, OpenReport *rep);
    int scan_all(OpenReport *rep, const Visitor &visit);
    int write_frame(int fd, uint64_t off, std::span<const std::byte> head, std::span<const std::byte> tail);
    int copy_kept(int tmp, const Visitor &keep, uint64_t *end);
    int install(Fd tmp, const std::string &tmp_name, uint64_t id, uint64_t end);
    int writable();

    Fd fd_, dir_;
    std::string file_, path_, label_, error_;
    LogOptions opts_;
    uint64_t end_ = 0, file_id_ = 0, syncs_ = 0;
    int64_t last_sync_ms_ = 0;
    bool dirty_ = false, broken_ = false;
};

} // namespace shmq::store
