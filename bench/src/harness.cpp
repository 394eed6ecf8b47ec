// harness.cpp - fork/wait helpers, shared mappings, the start gate and
// percentiles. Children are watched through pidfds so the parent sleeps in poll()
// instead of stealing one of the two cores while a benchmark runs.
#include "harness.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void throw_errno(const std::string &what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

SharedMem::SharedMem(size_t bytes) : size_(bytes) {
    ptr_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ptr_ == MAP_FAILED)
        throw_errno("mmap shared anonymous");
}

SharedMem::~SharedMem() { munmap(ptr_, size_); }

int64_t Gate::arrive(uint32_t n) {
    if (arrived.fetch_add(1) + 1 == n) {
        start_ns.store(now_ns());
        open.store(1, std::memory_order_release);
    }
    while (!open.load(std::memory_order_acquire))
        sched_yield();
    return start_ns.load();
}

std::string unique_name() {
    static int counter = 0;
    return "bench." + std::to_string(getpid()) + "." + std::to_string(counter++);
}

// ---- children ----

Children::~Children() { kill_all(); }

pid_t Children::spawn(const std::function<void()> &fn) {
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0)
        throw_errno("fork");
    if (pid == 0) {
        for (int sig : {SIGINT, SIGTERM, SIGHUP})
            signal(sig, SIG_DFL);
        int rc = 0;
        try {
            fn();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "shmq_bench child %d: %s\n", getpid(), e.what());
            rc = 1;
        }
        std::fflush(nullptr);
        _exit(rc);
    }
    pids_.push_back(pid);
    cleanup_track_child(pid, true);
    return pid;
}

void Children::kill_all() {
    for (pid_t pid : pids_) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        cleanup_track_child(pid, false);
    }
    pids_.clear();
}

namespace {
// glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the system call directly.
int pidfd_open(pid_t pid, unsigned flags) { return int(syscall(SYS_pidfd_open, pid, flags)); }

std::string describe_status(pid_t pid, int status) {
    std::string who = "child " + std::to_string(pid);
    if (WIFSIGNALED(status))
        return who + " killed by signal " + std::to_string(WTERMSIG(status));
    return who + " exited with status " + std::to_string(WEXITSTATUS(status));
}

// Sleeps until `pid` ends or `deadline` passes; returns false on timeout.
bool wait_pidfd(pid_t pid, int64_t deadline) {
    int fd = pidfd_open(pid, 0);
    if (fd < 0)
        return true; // already reaped or gone: let waitpid tell
    pollfd p{fd, POLLIN, 0};
    int rc = 0;
    while (true) {
        int64_t left_ms = (deadline - now_ns()) / 1000000;
        rc = poll(&p, 1, int(std::max<int64_t>(left_ms, 0)));
        if (rc >= 0 || errno != EINTR)
            break;
    }
    close(fd);
    return rc > 0;
}
} // namespace

int Children::wait_one(pid_t pid, double timeout_s) {
    int64_t deadline = now_ns() + int64_t(timeout_s * 1e9);
    if (!wait_pidfd(pid, deadline)) {
        kill_all();
        throw std::runtime_error("child " + std::to_string(pid) + " timed out");
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        throw_errno("waitpid");
    std::erase(pids_, pid);
    cleanup_track_child(pid, false);
    return status;
}

void Children::wait_all(double timeout_s) {
    int64_t deadline = now_ns() + int64_t(timeout_s * 1e9);
    while (!pids_.empty()) {
        std::vector<pollfd> fds;
        for (pid_t pid : pids_)
            fds.push_back({pidfd_open(pid, 0), POLLIN, 0});
        int64_t left_ms = std::max<int64_t>((deadline - now_ns()) / 1000000, 0);
        int rc = poll(fds.data(), fds.size(), int(left_ms));
        for (auto &p : fds)
            close(p.fd);
        if (rc == 0) {
            kill_all();
            throw std::runtime_error("timed out after " + std::to_string(timeout_s) +
                                     " s waiting for children");
        }
        for (size_t i = 0; i < fds.size(); i++) {
            if (fds[i].fd >= 0 && !(fds[i].revents & POLLIN))
                continue;
            pid_t pid = pids_[i];
            int status = 0;
            if (waitpid(pid, &status, WNOHANG) == 0)
                continue;
            pids_[i] = 0;
            cleanup_track_child(pid, false);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                std::erase(pids_, 0);
                kill_all();
                throw std::runtime_error(describe_status(pid, status));
            }
        }
        std::erase(pids_, 0);
    }
}

BusyNeighbour::BusyNeighbour() {
    kids_.spawn([] {
        volatile uint64_t spins = 0;
        for (;;)
            spins = spins + 1;
    });
}

// ---- percentiles ----

namespace {
int64_t at_fraction(const std::vector<int64_t> &sorted, double p) {
    if (sorted.empty())
        return 0;
    auto idx = size_t(std::ceil(p * double(sorted.size()))) ;
    idx = std::clamp<size_t>(idx, 1, sorted.size());
    return sorted[idx - 1];
}
} // namespace

Summary summarize(std::vector<int64_t> &samples) {
    Summary s;
    if (samples.empty())
        return s;
    std::sort(samples.begin(), samples.end());
    double sum = 0;
    for (auto v : samples)
        sum += double(v);
    s.count = samples.size();
    s.mean = sum / double(s.count);
    s.min = samples.front();
    s.p50 = at_fraction(samples, 0.50);
    s.p90 = at_fraction(samples, 0.90);
    s.p99 = at_fraction(samples, 0.99);
    s.p999 = at_fraction(samples, 0.999);
    s.p9999 = at_fraction(samples, 0.9999);
    s.max = samples.back();
    return s;
}

Json to_json(const Summary &s) {
    return Json{{"count", s.count}, {"mean_ns", std::round(s.mean)}, {"min_ns", s.min},
                {"p50_ns", s.p50},  {"p90_ns", s.p90},  {"p99_ns", s.p99},
                {"p99.9_ns", s.p999}, {"p99.99_ns", s.p9999}, {"max_ns", s.max}};
}

Json percentile_curve(const std::vector<int64_t> &sorted) {
    Json curve = Json::array();
    if (sorted.empty())
        return curve;
    for (double p : {0.0, 0.25, 0.5, 0.75})
        curve.push_back({p * 100, at_fraction(sorted, std::max(p, 1e-12))});
    // 1 - 10^-k and 1 - 5*10^-(k+1): 0.9, 0.95, 0.99, 0.995, ...
    for (double tail = 0.1; tail * double(sorted.size()) >= 1.0; tail /= 10) {
        curve.push_back({(1 - tail) * 100, at_fraction(sorted, 1 - tail)});
        if (tail / 2 * double(sorted.size()) >= 1.0)
            curve.push_back({(1 - tail / 2) * 100, at_fraction(sorted, 1 - tail / 2)});
    }
    curve.push_back({100.0, sorted.back()});
    return curve;
}

} // namespace bench
