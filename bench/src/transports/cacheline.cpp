// cacheline.cpp - the physical limit: two processes bounce one 64-byte line.
// Each direction is a single cache line holding a sequence number in a shared
// anonymous mapping; send stores it, recv spins until it changes. It carries no
// payload beyond the 8-byte sequence, so it only takes part in ping-pong.
#include <atomic>
#include <cstring>

#include "../transport.hpp"

namespace bench {
namespace {

struct alignas(64) Line {
    std::atomic<uint64_t> seq{0};
};

class CachelineEndpoint final : public Endpoint {
  public:
    CachelineEndpoint(Line *out, Line *in) : out_(out), in_(in) {}
    void send(const void *data, size_t) override {
        uint64_t seq;
        std::memcpy(&seq, data, sizeof seq);
        // SYNC POINT: release pairs with the peer's acquire load in recv().
        out_->seq.store(seq, std::memory_order_release);
    }
    void recv(void *buf, size_t) override {
        uint64_t seq;
        while ((seq = in_->seq.load(std::memory_order_acquire)) == last_)
            cpu_relax();
        last_ = seq;
        std::memcpy(buf, &seq, sizeof seq);
    }

  private:
    Line *out_, *in_;
    uint64_t last_ = 0;
};

class Cacheline final : public Transport {
  public:
    std::string name() const override { return "cacheline"; }
    bool supports(Feature f) const override { return f == Feature::PingPong; }
    void create(const ChannelSpec &) override { mem_ = std::make_unique<SharedMem>(2 * sizeof(Line)); }
    std::unique_ptr<Endpoint> open(int send_dir, int recv_dir) override {
        Line *lines = mem_->as<Line>();
        return std::make_unique<CachelineEndpoint>(send_dir < 0 ? nullptr : &lines[send_dir],
                                                   recv_dir < 0 ? nullptr : &lines[recv_dir]);
    }
    void destroy() override { mem_.reset(); }
    Json describe() const override { return {{"payload_bytes", 8}}; }

  private:
    std::unique_ptr<SharedMem> mem_;
};

} // namespace

std::unique_ptr<Transport> make_cacheline() { return std::make_unique<Cacheline>(); }

} // namespace bench
