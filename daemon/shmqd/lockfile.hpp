// lockfile.hpp - exclusive flock()s that keep shmqd single: one per config
// (a lock file in the spill directory, holding the owner's pid) and one per
// queue (on the segment file itself, so two daemons with different configs
// still never supervise the same queue). The kernel drops a lock when its
// holder dies, so a SIGKILLed daemon never leaves a stale one behind.
#pragma once

#include <string>
#include <sys/types.h>

namespace shmqd {

class FileLock {
public:
    FileLock() = default;
    FileLock(FileLock &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    FileLock &operator=(FileLock &&o) noexcept;
    FileLock(const FileLock &) = delete;
    FileLock &operator=(const FileLock &) = delete;
    ~FileLock() { release(); }

    // Create `path` (0600) if needed, lock it and write our pid into it. 0, or
    // EWOULDBLOCK if another process holds it (*holder = its pid, or -1), or
    // another errno value (*why says what).
    int acquire_pidfile(const std::string &path, pid_t *holder, std::string *why);
    // Lock an existing file (a segment), never creating or following a link:
    // 0 or an errno value as above.
    int acquire_existing(const std::string &path, std::string *why);
    void release();
    bool held() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

} // namespace shmqd
