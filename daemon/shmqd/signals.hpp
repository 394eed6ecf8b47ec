// signals.hpp - SIGTERM, SIGINT and SIGHUP as events the loop reads between
// ticks (a signalfd), never handlers running in the middle of one. Install
// before starting any thread, so every thread inherits the blocked mask.
#pragma once

namespace shmqd {

enum class SignalEvent { None, Stop, Reload };

class Signals {
public:
    Signals() = default;
    Signals(const Signals &) = delete;
    Signals &operator=(const Signals &) = delete;
    ~Signals();
    // Block the signals and open the signalfd; ignores SIGPIPE. False on error.
    bool install();
    // Wait up to timeout_ms for a signal; the strongest one pending
    // (Stop over Reload), or None.
    SignalEvent wait(int timeout_ms);

private:
    int fd_ = -1;
};

} // namespace shmqd
