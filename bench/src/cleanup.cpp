// cleanup.cpp - what the parent undoes when it is interrupted: SIGKILL and reap
// the children it forked, and unlink every queue, Boost queue and POSIX mq it
// created. Fixed arrays and plain system calls only, so it is async-signal-safe.
#include <csignal>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.hpp"

namespace bench {

namespace {
struct CleanupEntry {
    void (*fn)(const char *);
    char name[128];
};
constexpr int kMaxCleanup = 64;
CleanupEntry g_cleanup[kMaxCleanup];
constexpr int kMaxPids = 64;
volatile pid_t g_pids[kMaxPids];

void on_fatal_signal(int sig) {
    for (auto pid : g_pids) {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
    for (auto &e : g_cleanup)
        if (e.fn)
            e.fn(e.name);
    signal(sig, SIG_DFL);
    raise(sig);
}
} // namespace

void cleanup_track_child(pid_t pid, bool running) {
    for (auto &slot : g_pids) {
        if (running ? slot == 0 : slot == pid) {
            slot = running ? pid : 0;
            return;
        }
    }
}

void cleanup_register(void (*fn)(const char *), const std::string &name) {
    for (auto &e : g_cleanup) {
        if (!e.fn) {
            std::snprintf(e.name, sizeof e.name, "%s", name.c_str());
            e.fn = fn;
            return;
        }
    }
}

void cleanup_unregister(const std::string &name) {
    for (auto &e : g_cleanup)
        if (e.fn && name == e.name)
            e.fn = nullptr;
}

void cleanup_install_signal_handlers() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        signal(sig, on_fatal_signal);
}

} // namespace bench
