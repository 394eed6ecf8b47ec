// boost_mq.cpp - Boost.Interprocess message_queue, one per direction: a ring of
// fixed-size messages in POSIX shared memory guarded by a process-shared mutex
// and condition variables (header-only Boost, linked with rt and pthread).
// The parent creates the queues; each child opens them by name after fork.
// The blocking variant (boost_mq) uses send/receive, which sleep on the
// condition variables; the spinning one (boost_mq_spin) busy-polls
// try_send/try_receive, so it is compared with shmq's spinning variants.
#include <boost/interprocess/ipc/message_queue.hpp>

#include "../transport.hpp"

namespace bench {
namespace {

namespace bip = boost::interprocess;

class BoostEndpoint final : public Endpoint {
  public:
    BoostEndpoint(const std::string &out, const std::string &in, bool spin) : spin_(spin) {
        if (!out.empty())
            out_ = std::make_unique<bip::message_queue>(bip::open_only, out.c_str());
        if (!in.empty())
            in_ = std::make_unique<bip::message_queue>(bip::open_only, in.c_str());
    }
    void send(const void *data, size_t len) override {
        if (!spin_) {
            out_->send(data, len, 0);
            return;
        }
        while (!out_->try_send(data, len, 0))
            cpu_relax();
    }
    void recv(void *buf, size_t len) override {
        bip::message_queue::size_type got = 0;
        unsigned prio = 0;
        if (!spin_)
            in_->receive(buf, len, got, prio);
        else
            while (!in_->try_receive(buf, len, got, prio))
                cpu_relax();
        if (got != len)
            throw std::runtime_error("boost message_queue: short message");
    }

  private:
    bool spin_;
    std::unique_ptr<bip::message_queue> out_, in_;
};

void remove_queue(const char *name) { bip::message_queue::remove(name); }

class BoostMq final : public Transport {
  public:
    explicit BoostMq(bool spin) : spin_(spin) {}
    ~BoostMq() override { destroy(); }
    std::string name() const override { return spin_ ? "boost_mq_spin" : "boost_mq"; }
    void create(const ChannelSpec &spec) override {
        spec_ = spec;
        std::string base = unique_name();
        for (int dir : {0, 1}) {
            names_[dir] = base + ".d" + std::to_string(dir);
            cleanup_register(remove_queue, names_[dir]);
            bip::message_queue(bip::create_only, names_[dir].c_str(), spec.capacity, spec.msg_size);
        }
    }
    std::unique_ptr<Endpoint> open(int send_dir, int recv_dir) override {
        return std::make_unique<BoostEndpoint>(send_dir < 0 ? "" : names_[send_dir],
                                               recv_dir < 0 ? "" : names_[recv_dir], spin_);
    }
    void destroy() override {
        for (auto &n : names_) {
            if (n.empty())
                continue;
            bip::message_queue::remove(n.c_str());
            cleanup_unregister(n);
            n.clear();
        }
    }
    Json describe() const override {
        return {{"capacity", spec_.capacity},
                {"boost_version", BOOST_LIB_VERSION},
                {"waiting", spin_ ? "try_send/try_receive busy-polling" : "send/receive (condition variables)"}};
    }

  private:
    bool spin_;
    ChannelSpec spec_;
    std::string names_[2];
};

} // namespace

std::unique_ptr<Transport> make_boost_mq(bool spin) { return std::make_unique<BoostMq>(spin); }

} // namespace bench
