// net_address.cpp - parsing and printing the metrics listen address. Only
// numeric addresses (and "localhost"), so reading the config never touches DNS.
#include "net_address.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>

namespace shmqd {

static bool parse_port(const std::string &s, uint16_t *port) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    long v = std::strtol(s.c_str(), nullptr, 10);
    if (v > 65535) return false;
    *port = uint16_t(v);
    return true;
}

int parse_address(const std::string &text, Address *out, std::string *why) {
    Address a;
    size_t colon = text.rfind(':');
    uint16_t port = 0;
    if (colon == std::string::npos || !parse_port(text.substr(colon + 1), &port)) {
        *why = "expected HOST:PORT with a port in 0..65535";
        return EINVAL;
    }
    std::string host = text.substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    auto *v4 = reinterpret_cast<sockaddr_in *>(&a.addr);
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&a.addr);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6->sin6_addr) != 1) {
            *why = "not a numeric IPv6 address";
            return EINVAL;
        }
        a.len = sizeof(sockaddr_in6);
    } else {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) {
            *why = "not a numeric IPv4 address (or [IPv6], or localhost)";
            return EINVAL;
        }
        a.len = sizeof(sockaddr_in);
    }
    if (out != nullptr) *out = a;
    return 0;
}

bool is_loopback(const std::string &text) {
    Address a;
    std::string why;
    if (parse_address(text, &a, &why) != 0) return false;
    if (a.addr.ss_family == AF_INET) {
        uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in *>(&a.addr)->sin_addr.s_addr);
        return (ip >> 24) == 127;
    }
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6 *>(&a.addr)->sin6_addr);
}

std::string format_address(const sockaddr_storage &a) {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (a.ss_family == AF_INET) {
        auto *v4 = reinterpret_cast<const sockaddr_in *>(&a);
        inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
    }
    auto *v6 = reinterpret_cast<const sockaddr_in6 *>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(v6->sin6_port));
}

} // namespace shmqd
