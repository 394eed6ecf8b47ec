// pipe.cpp - one anonymous pipe per direction, made before fork and inherited.
// The pipe buffer is left at the kernel default (64 KiB), as most programs do;
// describe() reports it. Blocking reads and writes: the reader sleeps in the kernel.
#include <fcntl.h>

#include "fd_endpoint.hpp"

namespace bench {
namespace {

class Pipe final : public Transport {
  public:
    ~Pipe() override { destroy(); }
    std::string name() const override { return "pipe"; }
    // A single process filling a kernel buffer would block on itself.
    bool supports(Feature f) const override { return f != Feature::Depth; }
    void create(const ChannelSpec &) override {
        for (int dir : {0, 1})
            if (pipe2(fds_[dir], O_CLOEXEC) < 0)
                throw_errno("pipe2");
        buffer_bytes_ = fcntl(fds_[0][0], F_GETPIPE_SZ);
    }
    std::unique_ptr<Endpoint> open(int send_dir, int recv_dir) override {
        return std::make_unique<FdEndpoint>(send_dir < 0 ? -1 : fds_[send_dir][1],
                                            recv_dir < 0 ? -1 : fds_[recv_dir][0]);
    }
    void destroy() override {
        close_fds(fds_[0], 2);
        close_fds(fds_[1], 2);
    }
    Json describe() const override {
        return {{"buffer_bytes", buffer_bytes_}};
    }

  private:
    int buffer_bytes_ = -1;
    int fds_[2][2] = {{-1, -1}, {-1, -1}};
};

} // namespace

std::unique_ptr<Transport> make_pipe() { return std::make_unique<Pipe>(); }

} // namespace bench
