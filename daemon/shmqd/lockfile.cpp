// lockfile.cpp - flock()-based locks (lockfile.hpp). flock, not fcntl locks:
// they belong to the open file, so no other descriptor of this process can
// drop them by closing the same file.
#include "lockfile.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace shmqd {

FileLock &FileLock::operator=(FileLock &&o) noexcept {
    if (this != &o) {
        release();
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

void FileLock::release() {
    if (fd_ >= 0) close(fd_); // closing the last descriptor drops the lock
    fd_ = -1;
}

static pid_t read_pid(int fd) {
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    long pid = std::strtol(buf, nullptr, 10);
    return pid > 0 ? pid_t(pid) : -1;
}

static int lock_fd(int fd, std::string *why) {
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        *why = errno == EWOULDBLOCK ? "held by another process" : std::string("flock: ") + strerror(errno);
        return errno;
    }
    return 0;
}

int FileLock::acquire_pidfile(const std::string &path, pid_t *holder, std::string *why) {
    release();
    *holder = -1;
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        *why = std::string("cannot open: ") + strerror(err);
        return err;
    }
    if (int rc = lock_fd(fd, why); rc != 0) {
        *holder = read_pid(fd);
        close(fd);
        return rc;
    }
    std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
        int err = errno;
        *why = std::string("cannot write the pid: ") + strerror(err);
        close(fd);
        return err;
    }
    fd_ = fd;
    return 0;
}

int FileLock::acquire_existing(const std::string &path, std::string *why) {
    release();
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        *why = std::string("cannot open: ") + strerror(err);
        return err;
    }
    if (int rc = lock_fd(fd, why); rc != 0) {
        close(fd);
        return rc;
    }
    fd_ = fd;
    return 0;
}

} // namespace shmqd
