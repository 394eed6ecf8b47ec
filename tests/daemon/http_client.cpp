// http_client.cpp - see http_client.hpp.
#include "http_client.hpp"

#include <cctype>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstring>

namespace dtest {

int connect_to(const Endpoint &e) {
    int fd = -1;
    if (e.unix_path.empty()) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(e.port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) return fd;
    } else {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        strncpy(a.sun_path, e.unix_path.c_str(), sizeof a.sun_path - 1);
        if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) return fd;
    }
    if (fd >= 0) close(fd);
    return -1;
}

HttpReply parse_reply(const std::string &raw) {
    HttpReply r;
    size_t end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return r;
    r.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
    size_t pos = raw.find("\r\n") + 2;
    while (pos < end) {
        size_t eol = raw.find("\r\n", pos), colon = raw.find(':', pos);
        if (colon < eol) {
            std::string k = raw.substr(pos, colon - pos), v = raw.substr(colon + 1, eol - colon - 1);
            for (char &c : k) c = char(tolower(static_cast<unsigned char>(c)));
            while (!v.empty() && v[0] == ' ') v.erase(0, 1);
            r.headers[k] = v;
        }
        pos = eol + 2;
    }
    r.body = raw.substr(end + 4);
    return r;
}

HttpReply http_request(const Endpoint &e, const std::string &method, const std::string &target,
                       const std::string &body, const std::map<std::string, std::string> &headers,
                       std::chrono::milliseconds deadline) {
    int fd = connect_to(e);
    if (fd < 0) return {};
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    for (auto &[k, v] : headers) req += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    auto until = std::chrono::steady_clock::now() + deadline;
    for (size_t off = 0; off < req.size();) {
        ssize_t n = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break; // the server may answer (413) and close before reading it all
        off += size_t(n);
    }
    std::string raw;
    char buf[8192];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        raw.append(buf, size_t(n));
    }
    close(fd);
    HttpReply r = parse_reply(raw);
    r.connected = true;
    return r;
}

} // namespace dtest
