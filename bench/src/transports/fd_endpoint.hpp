// fd_endpoint.hpp - an Endpoint over byte-stream file descriptors (pipes and
// stream sockets). Messages have a fixed size known to both sides, so a message
// is simply `len` bytes written in full and read in full: no framing header.
#pragma once

#include <cerrno>
#include <unistd.h>

#include "../transport.hpp"

namespace bench {

class FdEndpoint final : public Endpoint {
  public:
    FdEndpoint(int out_fd, int in_fd) : out_(out_fd), in_(in_fd) {}
    void send(const void *data, size_t len) override {
        auto p = static_cast<const char *>(data);
        while (len > 0) {
            ssize_t n = ::write(out_, p, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                throw_errno("write");
            p += n;
            len -= size_t(n);
        }
    }
    void recv(void *buf, size_t len) override {
        auto p = static_cast<char *>(buf);
        while (len > 0) {
            ssize_t n = ::read(in_, p, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                throw std::runtime_error("read: peer closed");
            if (n < 0)
                throw_errno("read");
            p += n;
            len -= size_t(n);
        }
    }

  private:
    int out_, in_;
};

// Closes the fds in `fds` that are >= 0 and sets them to -1.
inline void close_fds(int *fds, int n) {
    for (int i = 0; i < n; i++) {
        if (fds[i] >= 0)
            ::close(fds[i]);
        fds[i] = -1;
    }
}

} // namespace bench
