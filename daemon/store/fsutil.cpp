// fsutil.cpp - syscall wrappers for the store (fsutil.hpp). Each retries on
// EINTR and turns failure into an errno value, never an exception.
#include "fsutil.hpp"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

namespace shmq::store {

Fd &Fd::operator=(Fd &&o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
}

int Fd::release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
}

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

static std::atomic<SyncFn> g_sync_hook{nullptr};

void set_sync_hook(SyncFn fn) { g_sync_hook.store(fn); }

static int sync_with(int (*real)(int), int fd) {
    SyncFn hook = g_sync_hook.load();
    int rc;
    do {
        rc = hook != nullptr ? hook(fd) : real(fd);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : errno;
}

int sync_data(int fd) { return sync_with(::fdatasync, fd); }
int sync_dir(int dirfd) { return sync_with(::fsync, dirfd); }

int pread_full(int fd, void *buf, size_t n, uint64_t off) {
    auto *p = static_cast<char *>(buf);
    while (n > 0) {
        ssize_t r = ::pread(fd, p, n, off_t(off));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        if (r == 0) return ENODATA; // the file is shorter than expected
        p += r;
        n -= size_t(r);
        off += uint64_t(r);
    }
    return 0;
}

// Drops the first w written bytes from the iovec array starting at *first.
static void advance(iovec *v, int cnt, int *first, size_t w) {
    while (*first < cnt && w >= v[*first].iov_len) w -= v[(*first)++].iov_len;
    if (*first < cnt) {
        v[*first].iov_base = static_cast<char *>(v[*first].iov_base) + w;
        v[*first].iov_len -= w;
    }
}

int pwrite_full(int fd, const iovec *iov, int iovcnt, uint64_t off) {
    iovec v[8];
    if (iovcnt > 8) return EINVAL;
    for (int i = 0; i < iovcnt; ++i) v[i] = iov[i];
    int first = 0;
    advance(v, iovcnt, &first, 0); // skip empty entries
    while (first < iovcnt) {
        ssize_t w = ::pwritev(fd, v + first, iovcnt - first, off_t(off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        if (w == 0) return EIO;
        off += uint64_t(w);
        advance(v, iovcnt, &first, size_t(w));
    }
    return 0;
}

std::string fd_path(int fd) {
    char link[64], buf[PATH_MAX];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = ::readlink(link, buf, sizeof buf - 1);
    if (n <= 0) return "<fd " + std::to_string(fd) + ">";
    return std::string(buf, size_t(n));
}

static int check_file(int fd, struct stat *st, std::string *why) {
    if (::fstat(fd, st) != 0) {
        int e = errno;
        *why = "cannot stat it";
        return e;
    }
    if (!S_ISREG(st->st_mode)) {
        *why = "is not a regular file; refusing it";
        return EINVAL;
    }
    if ((st->st_mode & S_IWOTH) != 0) {
        char mode[16];
        std::snprintf(mode, sizeof mode, "%04o", unsigned(st->st_mode & 07777));
        *why = "is world-writable (mode " + std::string(mode) + "); refusing it";
        return EPERM;
    }
    return 0;
}

int open_checked(int dirfd, const std::string &name, int flags, Fd *out, struct stat *st, std::string *why) {
    int fd = ::openat(dirfd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
    if (fd < 0) {
        int e = errno;
        *why = e == ELOOP ? "is a symbolic link; refusing to follow it" : "cannot open it";
        return e;
    }
    Fd f(fd);
    if (int rc = check_file(fd, st, why); rc != 0) return rc;
    if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        int e = errno;
        *why = "cannot clear O_NONBLOCK";
        return e;
    }
    *out = std::move(f);
    return 0;
}

int open_dir(const std::string &path, bool create, Fd *out, std::string *why) {
    if (create && ::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        int e = errno;
        *why = "cannot create directory " + path;
        return e;
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        *why = "directory " + path + (e == ELOOP ? ": is a symbolic link; refusing to follow it" : ": cannot open it");
        return e;
    }
    Fd f(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        *why = "directory " + path + ": cannot stat it";
        return e;
    }
    if ((st.st_mode & S_IWOTH) != 0) {
        *why = "directory " + path + ": is world-writable; refusing it";
        return EPERM;
    }
    *out = std::move(f);
    return 0;
}

uint64_t random_u64() {
    uint64_t v = 0;
    if (::getrandom(&v, sizeof v, GRND_NONBLOCK) == ssize_t(sizeof v)) return v;
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_nsec) * 0x9E3779B97F4A7C15ull ^ uint64_t(ts.tv_sec) ^ uint64_t(::getpid()) << 40;
}

int64_t mono_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

} // namespace shmq::store
