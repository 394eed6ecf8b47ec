// notify.hpp - systemd's readiness protocol (sd_notify) without libsystemd:
// one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET.
#pragma once

#include <cstdint>

namespace shmqd {

// Send `state` ("READY=1", "STOPPING=1", ...). Does nothing (true) when
// NOTIFY_SOCKET is unset; false if sending failed.
bool sd_notify(const char *state);

// The watchdog interval systemd asked for ($WATCHDOG_USEC for this pid),
// in milliseconds; 0 if none.
uint64_t watchdog_interval_ms();

} // namespace shmqd
