// fsutil.hpp - the file-system calls the store makes, with EINTR and short
// reads and writes handled and every error returned as an errno value. Files
// are opened relative to a directory fd, never through a symbolic link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <sys/uio.h>

namespace shmq::store {

// Owns one file descriptor; closes it on destruction.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd &&o) noexcept : fd_(o.release()) {}
    Fd &operator=(Fd &&o) noexcept;
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    int get() const { return fd_; }
    int release();
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// Tests may replace fdatasync and the fsync of directories (to count calls or
// make them fail); nullptr restores them. Set it while no store is in use.
using SyncFn = int (*)(int fd);
void set_sync_hook(SyncFn fn);

int sync_data(int fd);                                           // fdatasync: 0 or errno
int sync_dir(int dirfd);                                         // fsync of a directory
int pread_full(int fd, void *buf, size_t n, uint64_t off);       // 0, errno, or ENODATA if short
int pwrite_full(int fd, const iovec *iov, int iovcnt, uint64_t off); // 0 or errno
std::string fd_path(int fd);                                     // its path, for messages

// Opens an existing file `name` in `dirfd` (O_NOFOLLOW, O_CLOEXEC, never
// blocking on a FIFO) and checks it is a regular file and not world-writable.
// `flags` is O_RDONLY or O_RDWR, optionally with O_CREAT|O_EXCL (mode 0600).
// Returns 0 or errno: ELOOP (a symlink), EINVAL (not a regular file), EPERM
// (world-writable); *why says which in words.
int open_checked(int dirfd, const std::string &name, int flags, Fd *out, struct stat *st, std::string *why);

// Opens (and with `create`, makes with mode 0700) a store directory. Refuses a
// symlink and a world-writable directory. Returns 0 or errno; *why says why.
int open_dir(const std::string &path, bool create, Fd *out, std::string *why);

// A random 64-bit value (getrandom, or the clock if that fails).
uint64_t random_u64();
int64_t mono_ms();

} // namespace shmq::store
