// posix_mq.cpp - POSIX message queues (mq_open/mq_send/mq_receive), one per direction.
// The queue depth and message size respect this machine's unprivileged limits
// (/proc/sys/fs/mqueue/msg_max, msgsize_max: 10 and 8192 by default), so larger
// sizes are skipped; describe() reports the values used.
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <mqueue.h>

#include "../transport.hpp"

namespace bench {
namespace {

long read_limit(const char *path, long fallback) {
    std::ifstream f(path);
    long v = fallback;
    f >> v;
    return f ? v : fallback;
}

class MqEndpoint final : public Endpoint {
  public:
    MqEndpoint(mqd_t out, mqd_t in) : out_(out), in_(in) {}
    ~MqEndpoint() override {
        if (out_ != mqd_t(-1))
            mq_close(out_);
        if (in_ != mqd_t(-1))
            mq_close(in_);
    }
    void send(const void *data, size_t len) override {
        while (mq_send(out_, static_cast<const char *>(data), len, 0) < 0)
            if (errno != EINTR)
                throw_errno("mq_send");
    }
    void recv(void *buf, size_t len) override {
        ssize_t n;
        while ((n = mq_receive(in_, static_cast<char *>(buf), len, nullptr)) < 0)
            if (errno != EINTR)
                throw_errno("mq_receive");
        if (size_t(n) != len)
            throw std::runtime_error("mq_receive: short message");
    }

  private:
    mqd_t out_, in_;
};

void unlink_mq(const char *name) { mq_unlink(name); }

class PosixMq final : public Transport {
  public:
    ~PosixMq() override { destroy(); }
    std::string name() const override { return "posix_mq"; }
    size_t max_size() const override { return size_t(msgsize_max_); }
    bool supports(Feature f) const override { return f != Feature::Depth; }
    void create(const ChannelSpec &spec) override {
        depth_ = std::min<long>(msg_max_, long(spec.capacity));
        size_ = long(spec.msg_size);
        std::string base = "/" + unique_name();
        for (int dir : {0, 1})
            create_one(dir, base + ".d" + std::to_string(dir));
    }
    std::unique_ptr<Endpoint> open(int send_dir, int recv_dir) override {
        mqd_t out = send_dir < 0 ? mqd_t(-1) : mq_open(names_[send_dir].c_str(), O_WRONLY);
        mqd_t in = recv_dir < 0 ? mqd_t(-1) : mq_open(names_[recv_dir].c_str(), O_RDONLY);
        if ((send_dir >= 0 && out == mqd_t(-1)) || (recv_dir >= 0 && in == mqd_t(-1)))
            throw_errno("mq_open");
        return std::make_unique<MqEndpoint>(out, in);
    }
    void destroy() override {
        for (auto &n : names_) {
            if (n.empty())
                continue;
            mq_unlink(n.c_str());
            cleanup_unregister(n);
            n.clear();
        }
    }
    Json describe() const override {
        return {{"msg_max_limit", msg_max_}, {"msgsize_max_limit", msgsize_max_},
                {"maxmsg_used", depth_}, {"msgsize_used", size_}};
    }

  private:
    void create_one(int dir, const std::string &name) {
        mq_attr attr{};
        attr.mq_maxmsg = depth_;
        attr.mq_msgsize = size_;
        mqd_t q = mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
        if (q == mqd_t(-1))
            throw_errno("mq_open " + name);
        mq_close(q);
        names_[dir] = name;
        cleanup_register(unlink_mq, name);
    }
    long msg_max_ = read_limit("/proc/sys/fs/mqueue/msg_max", 10);
    long msgsize_max_ = read_limit("/proc/sys/fs/mqueue/msgsize_max", 8192);
    long depth_ = 0, size_ = 0;
    std::string names_[2];
};

} // namespace

std::unique_ptr<Transport> make_posix_mq() { return std::make_unique<PosixMq>(); }

} // namespace bench
