// flow.cpp - local queues, producer and tally for the bridge tests (flow.hpp).
#include "flow.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <unistd.h>

namespace bridge_test {

namespace {
int serial = 0;
}

namespace {
shmq_params params_of(uint32_t slot_size, uint32_t slots, uint32_t max_attempts) {
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = slot_size;
    p.slot_count = slots;
    p.max_attempts = max_attempts;
    p.backoff_base_ms = 10;
    p.backoff_cap_ms = 100;
    return p;
}
} // namespace

LocalQ::LocalQ(const char *tag, uint32_t slot_size, uint32_t slots, uint32_t max_attempts)
    : LocalQ(tag, params_of(slot_size, slots, max_attempts)) {}

LocalQ::LocalQ(const char *tag, const shmq_params &p)
    : name(std::string("b.") + tag + "." + std::to_string(getpid()) + "." + std::to_string(serial++)) {
    int rc = shmq_create(name.c_str(), &p, nullptr, &q);
    if (rc != SHMQ_OK) throw std::runtime_error(std::string("shmq_create: ") + shmq_strerror(rc));
}

LocalQ::~LocalQ() {
    shmq_close(q);
    shmq_unlink(name.c_str());
}

std::string capture(const std::string &cmd, int *status) {
    std::string out;
    FILE *p = popen(cmd.c_str(), "r");
    if (p == nullptr) throw std::runtime_error("popen: " + cmd);
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    int st = pclose(p);
    if (status != nullptr) *status = st;
    return out;
}

std::string shmqctl_bridge(const std::string &status_file, bool json) {
    int status = 0;
    std::string out = capture(std::string(SHMQCTL_BIN) + " bridge" + (json ? " --json" : "") + " --status-file " +
                                  status_file, &status);
    if (status != 0) throw std::runtime_error("shmqctl bridge failed: " + out);
    return out;
}

std::string payload(int seq) {
    std::string s = "m" + std::to_string(seq);
    s.resize(64, '.');
    return s;
}

Producer::Producer(const std::string &queue, int n) {
    t_ = std::thread([this, queue, n] {
        shmq_queue *q = nullptr;
        if (shmq_open(queue.c_str(), nullptr, &q) != SHMQ_OK) return;
        for (int i = 0; i < n; i++) {
            std::string p = payload(i);
            while (shmq_send(q, p.data(), p.size(), 100000000) != SHMQ_OK)
                if (stop_) return shmq_close(q);
        }
        shmq_close(q);
    });
}

Producer::~Producer() {
    stop_ = true;
    join();
}
void Producer::join() {
    if (t_.joinable()) t_.join();
}

static void note(Tally &t, int seq, const bridge::Identity &id) {
    Tally::Seen &s = t.by_seq[seq];
    t.total++;
    if (s.copies++ == 0) {
        s.id = id;
        return;
    }
    if ((s.id.queue != id.queue || s.id.id != id.id) && t.problem.empty())
        t.problem = "message " + std::to_string(seq) + " came back with two identities: " + s.id.queue + ":" +
                    std::to_string(s.id.id) + " and " + id.queue + ":" + std::to_string(id.id);
}

static std::optional<bridge::Identity> identity_in_headers(shmq_queue *q, const shmq_msg &m) {
    const void *block = nullptr;
    size_t len = 0;
    std::vector<bridge::Header> h;
    if (shmq_msg_headers(q, &m, &block, &len) != SHMQ_OK ||
        !bridge::LocalQueue::parse_headers(std::string_view(static_cast<const char *>(block), len), &h))
        return std::nullopt;
    return bridge::identity_from(h);
}

Tally collect(const std::string &queue, int n, double seconds, const std::atomic<bool> *stop,
              std::atomic<int> *progress) {
    Tally t;
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    shmq_queue *q = nullptr;
    if (shmq_open(queue.c_str(), &o, &q) != SHMQ_OK) throw std::runtime_error("collect: cannot open " + queue);
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (t.distinct() < n && std::chrono::steady_clock::now() < end && !(stop && *stop)) {
        shmq_msg m;
        if (shmq_recv(q, &m, 100000000) != SHMQ_OK) continue;
        std::string_view body(static_cast<const char *>(m.data), m.len);
        std::optional<bridge::Identity> id = bridge::unwrap(body, &body);
        if (!id) id = identity_in_headers(q, m);
        int seq = -1;
        if (id && body.size() == 64 && body[0] == 'm') seq = std::atoi(std::string(body.substr(1)).c_str());
        if (seq < 0 && t.problem.empty()) t.problem = "a message without identity or payload: " + std::string(body);
        if (seq >= 0) note(t, seq, *id);
        shmq_ack(q, &m);
        if (progress) *progress = t.distinct();
    }
    shmq_close(q);
    return t;
}

std::string chain_config(int port, const std::vector<std::string> &hops, bool envelope) {
    std::string env = envelope ? "envelope = true\n" : "";
    std::string s = "version = 1\n[broker]\nport = " + std::to_string(port) +
                    "\nreconnect_min_ms = 50\nreconnect_max_ms = 1000\nheartbeat_s = 10\n";
    for (size_t i = 0; i + 1 < hops.size(); i += 2) {
        s += "[[out]]\nlocal_queue = \"" + hops[i] + "\"\nrouting_key = \"" + hops[i + 1] +
             "\"\n" + env + "max_inflight = 128\n";
        if (i + 2 < hops.size())
            s += "[[in]]\namqp_queue = \"" + hops[i + 1] + "\"\nlocal_queue = \"" + hops[i + 2] +
                 "\"\n" + env + "prefetch = 128\n";
    }
    return s;
}

} // namespace bridge_test
