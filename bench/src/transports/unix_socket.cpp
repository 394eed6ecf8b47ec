// unix_socket.cpp - a SOCK_STREAM socketpair per direction (AF_UNIX), made before
// fork and inherited. Stream rather than SEQPACKET so that every size up to 1 MiB
// works with default buffers; message boundaries come from the fixed size.
#include <sys/socket.h>

#include "fd_endpoint.hpp"

namespace bench {
namespace {

class UnixSocket final : public Transport {
  public:
    ~UnixSocket() override { destroy(); }
    std::string name() const override { return "unix_socket"; }
    // A single process filling a kernel buffer would block on itself.
    bool supports(Feature f) const override { return f != Feature::Depth; }
    void create(const ChannelSpec &) override {
        for (int dir : {0, 1})
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_[dir]) < 0)
                throw_errno("socketpair");
        socklen_t n = sizeof sndbuf_;
        getsockopt(fds_[0][0], SOL_SOCKET, SO_SNDBUF, &sndbuf_, &n);
    }
    std::unique_ptr<Endpoint> open(int send_dir, int recv_dir) override {
        return std::make_unique<FdEndpoint>(send_dir < 0 ? -1 : fds_[send_dir][0],
                                            recv_dir < 0 ? -1 : fds_[recv_dir][1]);
    }
    void destroy() override {
        close_fds(fds_[0], 2);
        close_fds(fds_[1], 2);
    }
    Json describe() const override { return {{"type", "SOCK_STREAM socketpair"}, {"sndbuf", sndbuf_}}; }

  private:
    int sndbuf_ = -1;
    int fds_[2][2] = {{-1, -1}, {-1, -1}};
};

} // namespace

std::unique_ptr<Transport> make_unix_socket() { return std::make_unique<UnixSocket>(); }

} // namespace bench
