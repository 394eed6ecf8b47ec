// spsc_ring.cpp - the practical limit for a queue: a bounded single-producer
// single-consumer ring (rigtorp style) in a shared anonymous mapping, with no
// crash safety, no leases and busy-waiting on both sides. Head and tail sit on
// their own cache lines and each side caches the other's index.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>

#include "../transport.hpp"

namespace bench {
namespace {

struct alignas(64) Index {
    std::atomic<uint64_t> value{0};
};

struct RingHeader {
    Index head; // next slot to read, written by the consumer
    Index tail; // next slot to write, written by the producer
};

struct Ring {
    RingHeader *hdr;
    char *slots;
    size_t stride, cap;
    char *slot(uint64_t i) const { return slots + (i % cap) * stride; }
};

class SpscEndpoint final : public Endpoint {
  public:
    SpscEndpoint(Ring out, Ring in) : out_(out), in_(in) {}
    void send(const void *data, size_t len) override {
        uint64_t tail = out_.hdr->tail.value.load(std::memory_order_relaxed);
        while (tail - head_cache_ >= out_.cap) {
            // SYNC POINT: acquire pairs with the consumer's release of head.
            head_cache_ = out_.hdr->head.value.load(std::memory_order_acquire);
            cpu_relax();
        }
        std::memcpy(out_.slot(tail), data, len);
        // SYNC POINT: release publishes the slot to the consumer's acquire of tail.
        out_.hdr->tail.value.store(tail + 1, std::memory_order_release);
    }
    void recv(void *buf, size_t len) override {
        uint64_t head = in_.hdr->head.value.load(std::memory_order_relaxed);
        while (head >= tail_cache_) {
            tail_cache_ = in_.hdr->tail.value.load(std::memory_order_acquire);
            cpu_relax();
        }
        std::memcpy(buf, in_.slot(head), len);
        in_.hdr->head.value.store(head + 1, std::memory_order_release);
    }

  private:
    Ring out_, in_;
    uint64_t head_cache_ = 0, tail_cache_ = 0;
};

class SpscRing final : public Transport {
  public:
    std::string name() const override { return "spsc_ring"; }
    void create(const ChannelSpec &spec) override {
        stride_ = (spec.msg_size + 63) / 64 * 64;
        cap_ = spec.capacity;
        dir_bytes_ = sizeof(RingHeader) + stride_ * cap_;
        mem_ = std::make_unique<SharedMem>(2 * dir_bytes_);
        for (int dir : {0, 1})
            new (ring(dir).hdr) RingHeader{};
    }
    std::unique_ptr<Endpoint> open(int send_dir, int recv_dir) override {
        return std::make_unique<SpscEndpoint>(ring(send_dir), ring(recv_dir));
    }
    void destroy() override { mem_.reset(); }
    Json describe() const override { return {{"capacity", cap_}, {"slot_stride", stride_}}; }

  private:
    Ring ring(int dir) const {
        if (dir < 0)
            return Ring{nullptr, nullptr, 0, 0};
        char *base = mem_->as<char>() + size_t(dir) * dir_bytes_;
        return Ring{reinterpret_cast<RingHeader *>(base), base + sizeof(RingHeader), stride_, cap_};
    }
    std::unique_ptr<SharedMem> mem_;
    size_t stride_ = 64, cap_ = 0, dir_bytes_ = 0;
};

} // namespace

std::unique_ptr<Transport> make_spsc_ring() { return std::make_unique<SpscRing>(); }

} // namespace bench
