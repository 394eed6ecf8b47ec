// net_address.hpp - "host:port" for the metrics endpoint: numeric IPv4
// ("127.0.0.1:9464"), bracketed IPv6 ("[::1]:9464") or "localhost:PORT".
// Port 0 lets the kernel choose (the daemon logs the port it got).
#pragma once

#include <string>
#include <sys/socket.h>

namespace shmqd {

struct Address {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

// Parse `text`; on failure returns false and says why in *why.
int parse_address(const std::string &text, Address *out, std::string *why); // 0 or EINVAL
// True if `text` parses and names a loopback address (127.0.0.0/8 or ::1).
bool is_loopback(const std::string &text);
// "127.0.0.1:9464" for a bound socket address.
std::string format_address(const sockaddr_storage &a);

} // namespace shmqd
