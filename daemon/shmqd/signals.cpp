// signals.cpp - the signalfd behind Signals (signals.hpp). The loop's sleep
// between ticks is a poll() on it, so a signal ends the sleep at once.
#include "signals.hpp"

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace shmqd {

Signals::~Signals() {
    if (fd_ >= 0) close(fd_);
}

bool Signals::install() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return false;
    signal(SIGPIPE, SIG_IGN);
    fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd_ >= 0;
}

SignalEvent Signals::wait(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    if (rc <= 0) return SignalEvent::None; // timeout, or EINTR (treated alike)
    SignalEvent ev = SignalEvent::None;
    signalfd_siginfo si;
    while (read(fd_, &si, sizeof si) == ssize_t(sizeof si)) {
        if (si.ssi_signo == SIGHUP && ev == SignalEvent::None) ev = SignalEvent::Reload;
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) ev = SignalEvent::Stop;
    }
    return ev;
}

} // namespace shmqd
