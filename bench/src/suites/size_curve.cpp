// size_curve.cpp - throughput and ping-pong median for payloads of 8 B to 1 MiB.
// shmq runs twice: copying (shmq_send, copy out before ack) and zero-copy
// (reserve/commit, header only, read in place). Sizes a transport cannot carry
// here (POSIX mq above msgsize_max) are left out.
#include "../measure.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

std::vector<size_t> curve_sizes(bool short_mode) {
    if (short_mode)
        return {8, 256, 4096, 65536, 1 << 20};
    return {8, 64, 256, 1024, 4096, 16384, 65536, 262144, 1 << 20};
}

Json size_point(const Config &cfg, Transport &t, size_t size) {
    Json j = rate_json(measure_throughput(t, size, cfg.size_point_s), size);
    size_t rounds = size >= 65536 ? cfg.size_rounds / 5 : cfg.size_rounds;
    auto lat = measure_pingpong(t, size, rounds, rounds / 10, cfg.size_point_s * 2);
    j["rtt_p50_ns"] = lat.summary.p50;
    j["rtt_p99_ns"] = lat.summary.p99;
    j["rtt_rounds"] = lat.summary.count;
    return j;
}

} // namespace

Json suite_size_curve(const Config &cfg) {
    std::vector<std::string> names = {"spsc_ring", "shmq_spin", "shmq_spin_zc", "boost_mq", "boost_mq_spin",
                                      "unix_socket", "pipe",    "posix_mq"};
    return for_each_transport(cfg, "size", names, Feature::OneWay, [&](Transport &t) {
        Json points = Json::array();
        for (size_t size : curve_sizes(cfg.short_mode)) {
            if (size > t.max_size())
                continue;
            Json p = size_point(cfg, t, size);
            progress("size", t.name(),
                     std::to_string(size) + " B: " + fmt_rate(p["msgs_per_s"].get<double>()) +
                         ", rtt p50 " + fmt_ns(p["rtt_p50_ns"].get<double>()));
            points.push_back(p);
        }
        return points;
    });
}

} // namespace bench
