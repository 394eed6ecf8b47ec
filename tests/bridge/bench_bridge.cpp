// bench_bridge.cpp - shmq-bridge beside plain rabbitmq-c clients on the same
// broker: out (local queue -> confirmed publishes) against a publisher with
// confirms and the same window, in (deliveries -> local queue, acked) against
// a consumer with manual acks and the same prefetch. 64-byte messages.
// Usage: bench_bridge [MESSAGES]  (needs SHMQ_TEST_BROKER_DIR, like the tests)
// Prints messages/s; asserts only that every message got through.
#include "flow.hpp"

#include <amqp_tcp_socket.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <unistd.h>

using namespace bridge_test;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int kWindow = 256; // the bridge's max_inflight and prefetch here

amqp_connection_state_t connect_plain(int port) {
    amqp_connection_state_t c = amqp_new_connection();
    if (amqp_socket_open(amqp_tcp_socket_new(c), "127.0.0.1", port) != AMQP_STATUS_OK ||
        amqp_login(c, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type !=
            AMQP_RESPONSE_NORMAL)
        throw std::runtime_error("plain client: cannot connect");
    amqp_channel_open(c, 1);
    amqp_get_rpc_reply(c);
    return c;
}

void finish(amqp_connection_state_t c) {
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

double plain_publish(int port, const std::string &q, int n) {
    amqp_connection_state_t c = connect_plain(port);
    amqp_confirm_select(c, 1);
    amqp_get_rpc_reply(c);
    amqp_basic_properties_t p{};
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = 2;
    std::string body = payload(0);
    auto t0 = clock_type::now();
    uint64_t sent = 0, confirmed = 0;
    while (confirmed < uint64_t(n)) {
        while (sent < uint64_t(n) && sent - confirmed < kWindow) {
            amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q.c_str()), 1, 0, &p,
                               amqp_bytes_t{body.size(), body.data()});
            sent++;
        }
        amqp_frame_t f;
        if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) throw std::runtime_error("plain publish: lost");
        if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            auto *a = static_cast<amqp_basic_ack_t *>(f.payload.method.decoded);
            confirmed = a->multiple ? a->delivery_tag : confirmed + 1;
        }
        amqp_maybe_release_buffers(c);
    }
    double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    finish(c);
    return n / s;
}

double plain_consume(int port, const std::string &q, int n) {
    amqp_connection_state_t c = connect_plain(port);
    amqp_basic_qos(c, 1, 0, kWindow, 0);
    amqp_basic_consume(c, 1, amqp_cstring_bytes(q.c_str()), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    amqp_get_rpc_reply(c);
    auto t0 = clock_type::now();
    for (int i = 0; i < n; i++) {
        amqp_envelope_t e;
        amqp_maybe_release_buffers(c);
        if (amqp_consume_message(c, &e, nullptr, 0).reply_type != AMQP_RESPONSE_NORMAL)
            throw std::runtime_error("plain consume: lost");
        if (i % 64 == 63 || i == n - 1) amqp_basic_ack(c, 1, e.delivery_tag, 1);
        amqp_destroy_envelope(&e);
    }
    double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    finish(c);
    return n / s;
}

uint64_t stat_of(shmq_queue *q, uint64_t shmq_stats::*field) {
    shmq_stats st{};
    st.struct_size = sizeof st;
    shmq_stats_get(q, &st);
    return st.*field;
}

std::string config(int port) {
    return "version = 1\n[broker]\nport = " + std::to_string(port) + "\n";
}

double bridge_out(int port, const std::string &q, int n) {
    LocalQ a("bench.out", 128, uint32_t(n));
    for (int i = 0; i < n; i++) shmq_send(a.q, payload(i).data(), 64, 0);
    BridgeProcess bridge(config(port) + "[[out]]\nlocal_queue = \"" + a.name + "\"\nrouting_key = \"" + q +
                         "\"\nmax_inflight = " + std::to_string(kWindow) + "\n");
    bridge.start();
    // Timed from the first confirmed message, so the bridge's start-up is not counted.
    if (!eventually([&] { return stat_of(a.q, &shmq_stats::acked) > 0; })) throw std::runtime_error("out: stalled");
    auto t0 = clock_type::now();
    uint64_t first = stat_of(a.q, &shmq_stats::acked);
    if (!eventually([&] { return stat_of(a.q, &shmq_stats::acked) == uint64_t(n); }, 600))
        throw std::runtime_error("out: not every message was confirmed");
    double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    bridge.stop();
    return double(n - first) / s;
}

double bridge_in(int port, const std::string &q, int n) {
    // 256: what out published carries its identity, which in keeps as shmq
    // headers (about 100 bytes beside the 64-byte payload).
    LocalQ b("bench.in", 256, uint32_t(n));
    BridgeProcess bridge(config(port) + "[[in]]\namqp_queue = \"" + q + "\"\nlocal_queue = \"" + b.name +
                         "\"\nprefetch = " + std::to_string(kWindow) + "\n");
    bridge.start();
    if (!eventually([&] { return stat_of(b.q, &shmq_stats::enqueued) > 0; })) throw std::runtime_error("in: stalled");
    auto t0 = clock_type::now();
    uint64_t first = stat_of(b.q, &shmq_stats::enqueued);
    if (!eventually([&] { return stat_of(b.q, &shmq_stats::enqueued) == uint64_t(n); }, 600))
        throw std::runtime_error("in: not every message arrived");
    double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    bridge.stop();
    return double(n - first) / s;
}

} // namespace

int main(int argc, char **argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    std::string why;
    std::optional<int> port = Broker::port(&why);
    if (!port) {
        std::printf("SKIPPED: the RabbitMQ test broker is unavailable: %s\n", why.c_str());
        return 77;
    }
    char dir[] = "/dev/shm/shmq-bench-XXXXXX";
    if (mkdtemp(dir) == nullptr) return 2;
    setenv("SHMQ_DIR", dir, 1);
    Peer peer(*port);
    std::string q = "bq.bench." + std::to_string(getpid());
    try {
        peer.declare(q);
        double pub = plain_publish(*port, q, n);
        double con = plain_consume(*port, q, n);
        double out = bridge_out(*port, q, n);
        double in = bridge_in(*port, q, n);
        std::printf("%d messages of 64 B, window %d, persistent, one durable queue\n", n, kWindow);
        std::printf("out: shmq-bridge %.0f msg/s, plain publisher with confirms %.0f msg/s (%.0f %%)\n", out, pub,
                    100 * out / pub);
        std::printf("in:  shmq-bridge %.0f msg/s, plain consumer with manual acks %.0f msg/s (%.0f %%)\n", in, con,
                    100 * in / con);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_bridge: %s\n", e.what());
        rmdir(dir);
        return 1;
    }
    rmdir(dir);
    return 0;
}
