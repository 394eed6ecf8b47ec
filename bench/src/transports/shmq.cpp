// shmq.cpp - shmq as a Transport: one queue per direction. A message round trip
// on the consumer side is recv -> copy out -> ack. In zero-copy mode the sender
// reserves a slot, writes only the 16-byte header in place and commits, and the
// receiver reads the header in place: the payload is taken as built in the slot.
#include <algorithm>
#include <cstring>
#include <optional>

#include "../shmq_util.hpp"
#include "../transport.hpp"

namespace bench {
namespace {

// Bytes a zero-copy message really writes and reads: sequence number and send time.
constexpr size_t kHeader = 2 * sizeof(uint64_t);

class ShmqEndpoint final : public Endpoint {
  public:
    ShmqEndpoint(const std::string *out, const std::string *in, ShmqMode mode) : mode_(mode) {
        shmq_options o = bench_options(mode.spin_ns);
        if (out)
            out_.emplace(*out, o);
        if (in)
            in_.emplace(*in, o);
    }
    void send(const void *data, size_t len) override {
        if (!mode_.zero_copy) {
            shmq_check(shmq_send(out_->get(), data, len, kShmqTimeoutNs), "shmq_send");
            return;
        }
        shmq_reservation r;
        shmq_check(shmq_reserve(out_->get(), &r, kShmqTimeoutNs), "shmq_reserve");
        std::memcpy(r.data, data, std::min(len, kHeader));
        shmq_check(shmq_commit(out_->get(), &r, len), "shmq_commit");
    }
    void recv(void *buf, size_t len) override {
        shmq_msg m;
        shmq_check(shmq_recv(in_->get(), &m, kShmqTimeoutNs), "shmq_recv");
        if (m.len != len)
            throw std::runtime_error("shmq_recv: unexpected length");
        std::memcpy(buf, m.data, mode_.zero_copy ? std::min(len, kHeader) : len);
        shmq_check(shmq_ack(in_->get(), &m), "shmq_ack");
    }

  private:
    ShmqMode mode_;
    std::optional<Handle> out_, in_;
};

class Shmq final : public Transport {
  public:
    Shmq(std::string label, ShmqMode mode) : label_(std::move(label)), mode_(mode) {}
    std::string name() const override { return label_; }
    void create(const ChannelSpec &spec) override {
        spec_ = spec;
        for (auto &q : queues_)
            q.emplace(bench_params(spec.msg_size, spec.capacity));
    }
    std::unique_ptr<Endpoint> open(int send_dir, int recv_dir) override {
        return std::make_unique<ShmqEndpoint>(send_dir < 0 ? nullptr : &queues_[send_dir]->name(),
                                              recv_dir < 0 ? nullptr : &queues_[recv_dir]->name(),
                                              mode_);
    }
    void destroy() override {
        for (auto &q : queues_)
            q.reset();
    }
    Json describe() const override {
        return {{"slot_count", spec_.capacity}, {"spin_ns", mode_.spin_ns},
                {"zero_copy", mode_.zero_copy}, {"prefetch", 0}, {"single_thread", 1}};
    }

  private:
    std::string label_;
    ShmqMode mode_;
    ChannelSpec spec_;
    std::optional<NamedQueue> queues_[2];
};

} // namespace

uint32_t default_spin_ns() {
    shmq_options o;
    shmq_options_init(&o);
    return o.spin_ns;
}

std::unique_ptr<Transport> make_shmq(const std::string &label, ShmqMode mode) {
    return std::make_unique<Shmq>(label, mode);
}

} // namespace bench
