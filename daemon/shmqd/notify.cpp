// notify.cpp - sd_notify(): the socket path comes from $NOTIFY_SOCKET; a
// leading '@' names an abstract socket (a NUL byte on the wire).
#include "notify.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace shmqd {

bool sd_notify(const char *state) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == nullptr || *path == '\0') return true;
    size_t n = strlen(path);
    sockaddr_un addr{};
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof addr.sun_path) return false;
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, n);
    if (path[0] == '@') addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + n);
    ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr *>(&addr), len);
    close(fd);
    return sent == ssize_t(strlen(state));
}

uint64_t watchdog_interval_ms() {
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    if (usec == nullptr) return 0;
    if (pid != nullptr && std::strtol(pid, nullptr, 10) != long(getpid())) return 0;
    return std::strtoull(usec, nullptr, 10) / 1000;
}

} // namespace shmqd
