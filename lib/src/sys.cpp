// sys.cpp - clocks, futexes and process liveness for the core (sys.hpp).
#include "sys.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmq::detail {

#ifndef SHMQ_EXPLORE // the exploration harness provides these (tests/explore)

static int64_t clock_ns(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
int64_t real_ns() { return clock_ns(CLOCK_REALTIME); }

bool futex_wait(const void *word, uint32_t expected, int64_t timeout_ns) {
    timespec ts{}, *tp = nullptr;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tp = &ts; // FUTEX_WAIT takes a relative timeout
    }
    // EINTR, EAGAIN (value changed) and ETIMEDOUT all mean "look again".
    long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, tp, nullptr, 0);
    return rc != 0 && errno == ETIMEDOUT;
}

void futex_wake(const void *word, int count) {
    syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// Field 22 (starttime) of /proc/PID/stat, or -1. The state letter (field 3)
// is returned through *state. comm (field 2) may hold spaces and parentheses,
// so parsing starts after its last ')'.
static int64_t read_start_time(int32_t pid, char *state) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == nullptr) return -1;
    *state = p[2];
    p += 2; // now at field 3
    for (int field = 3; field < 22; ++field) {
        p = strchr(p, ' ');
        if (p == nullptr) return -1;
        ++p;
    }
    return strtoll(p, nullptr, 10);
}

static uint64_t pidns_of(const char *who) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/pid", who);
    struct stat st;
    return stat(path, &st) == 0 ? uint64_t(st.st_ino) : 0;
}

ProcessId self_process() {
    char state = 0;
    int32_t pid = int32_t(getpid());
    return ProcessId{pid, read_start_time(pid, &state), pidns_of("self")};
}

Liveness process_liveness(const ProcessId &id) {
    if (id.pid <= 0) return Liveness::Dead;
    if (id.pidns != 0 && id.pidns != pidns_of("self")) return Liveness::Unknown;
    char state = 0;
    int64_t start = read_start_time(id.pid, &state);
    if (start < 0) return errno == ENOENT || errno == ESRCH ? Liveness::Dead : Liveness::Unknown;
    if (id.start_time != kAnyStart && start != id.start_time) return Liveness::Dead; // the pid was reused
    if (state == 'Z' || state == 'X') return Liveness::Dead;
    return Liveness::Alive;
}

#endif // SHMQ_EXPLORE

} // namespace shmq::detail
