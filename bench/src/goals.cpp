// goals.cpp - the targets of issue 20, then the targets of issue 3 that still
// matter, each checked against a figure of the same run. Throughput and
// ping-pong goals are 64 B, one producer process -> one consumer process.
// "Spinning" shmq is shmq_spin (spin_ns 1 s), "default" is shmq_default (the
// library's default options); the spinning peer is boost_mq_spin, the blocking
// one boost_mq. "Busy" figures come from the busy-neighbour suite.
#include <cmath>
#include <cstdio>

#include "report.hpp"
#include "suites.hpp"

namespace bench {

double figure(const Json &r, const std::string &a, const std::string &b, const std::string &c) {
    if (!r.contains(a) || !r[a].contains(b) || !r[a][b].is_object() || !r[a][b].contains(c))
        return NAN;
    const Json &v = r[a][b][c];
    return v.is_number() ? v.get<double>() : NAN;
}

std::string other_load(const Json &j) {
    if (!j.is_object() || !j.contains("interference"))
        return "-";
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.0f%%", 100 * j["interference"]["other_cpu_share"].get<double>());
    return buf;
}

namespace {

const char *kIssue20 = "issue 20";
const char *kIssue3 = "issue 3 (kept)";
const char *kIssue16 = "issue 16";
const char *kIssue17 = "issue 17";

std::string num(double v, const char *unit) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3g%s", v, unit);
    return buf;
}

std::string rate(double v) { return num(v / 1e6, "M msg/s"); }

// One goal: `value` against `bound` (at most or at least); `measured` explains it.
struct Goals {
    Json list = Json::array();
    void add(const char *section, const std::string &text, const std::string &target, double value,
             bool at_most, double bound, const std::string &measured) {
        Json met = nullptr;
        if (!std::isnan(value))
            met = at_most ? value <= bound : value >= bound;
        list.push_back(Json{{"section", section},
                            {"goal", text},
                            {"target", target},
                            {"measured", std::isnan(value) ? "not measured" : measured},
                            {"value", std::isnan(value) ? Json(nullptr) : Json(value)},
                            {"met", met}});
    }
};

const Json &part(const Json &r, const char *key) {
    static const Json empty = Json::object();
    return r.contains(key) ? r[key] : empty;
}

// " (its processes: same CPU)": sleeping transports are ~20x faster when the
// scheduler keeps both processes on one CPU, so the ratio depends on it.
std::string placement_note(const Json &r, const std::string &name) {
    if (!r.contains("pingpong") || !r["pingpong"].contains(name))
        return "";
    return " (" + name + " ran on: " + r["pingpong"][name].value("placement", "?") + ")";
}

double depth_ratio(const Json &r) {
    if (!r.contains("depth") || !r["depth"].contains("shmq_spin"))
        return NAN;
    const Json &d = r["depth"]["shmq_spin"];
    if (!d.contains("points") || d["points"].size() < 3)
        return NAN;
    return d["points"][2]["ns_per_msg"].get<double>() / d["points"][0]["ns_per_msg"].get<double>();
}

// Lowest zero-copy rate over the size curve, if the curve reached 1 MiB; sets `at` to its size.
double zero_copy_floor(const Json &r, size_t &at) {
    const Json &curve = part(part(r, "size_curve"), "shmq_spin_zc");
    if (!curve.is_array() || curve.empty() || curve.back()["size"].get<size_t>() < (1u << 20))
        return NAN;
    double low = INFINITY;
    for (const auto &p : curve)
        if (p["msgs_per_s"].get<double>() < low) {
            low = p["msgs_per_s"].get<double>();
            at = p["size"].get<size_t>();
        }
    return low;
}

double scaling_rate(const Json &r, int producers, int consumers) {
    for (const auto &c : part(part(r, "scaling"), "cells"))
        if (c.value("producers", 0) == producers && c.value("consumers", 0) == consumers)
            return c.value("msgs_per_s", NAN);
    return NAN;
}

void throughput_goals(Goals &g, const Json &r) {
    double spin = figure(r, "throughput", "shmq_spin", "msgs_per_s");
    double peer = figure(r, "throughput", "boost_mq_spin", "msgs_per_s");
    double batch = figure(r, "throughput", "shmq_batch", "msgs_per_s");
    double ring = figure(r, "throughput", "spsc_ring", "msgs_per_s");
    g.add(kIssue20, "per-message lease and ack (shmq_spin)", ">= 12M msg/s", spin, false, 12e6, rate(spin));
    g.add(kIssue20, "per-message lease and ack vs spinning Boost (shmq_spin / boost_mq_spin)", ">= 1.5x",
          spin / peer, false, 1.5, num(spin / peer, "x") + " (" + rate(spin) + " vs " + rate(peer) + ")");
    g.add(kIssue20, "batch API, 32 per call, a lease per message (shmq_batch)", ">= 40M msg/s", batch, false,
          40e6, rate(batch));
    g.add(kIssue20, "batch API vs SPSC ring (stretch)", ">= 1.5x", batch / ring, false, 1.5,
          num(batch / ring, "x") + " (" + rate(ring) + " ring)");
    size_t at = 0;
    double zc = zero_copy_floor(r, at);
    g.add(kIssue20, "zero-copy at every size up to 1 MiB (lowest point)", ">= 10M msg/s", zc, false, 10e6,
          rate(zc) + " at " + std::to_string(at) + " B");
}

void pingpong_goals(Goals &g, const Json &r) {
    double line50 = figure(r, "pingpong", "cacheline", "p50_ns");
    double line999 = figure(r, "pingpong", "cacheline", "p99.9_ns");
    for (const char *v : {"shmq_spin", "shmq_default"}) {
        double p50 = figure(r, "pingpong", v, "p50_ns"), p999 = figure(r, "pingpong", v, "p99.9_ns");
        g.add(kIssue20, std::string("ping-pong p50 vs raw cache-line round trip (") + v + ")", "<= 2x",
              p50 / line50, true, 2, num(p50 / line50, "x") + " (" + fmt_ns(p50) + " vs " + fmt_ns(line50) + ")");
        g.add(kIssue20, std::string("ping-pong p99.9 vs raw cache-line round trip (") + v + ")", "<= 5x",
              p999 / line999, true, 5,
              num(p999 / line999, "x") + " (" + fmt_ns(p999) + " vs " + fmt_ns(line999) + ")");
    }
}

void waiting_goals(Goals &g, const Json &r) {
    const Json &busy = part(r, "busy");
    double t_busy = figure(busy, "throughput", "shmq_default", "msgs_per_s");
    double t_boost = figure(busy, "throughput", "boost_mq", "msgs_per_s");
    double t_quiet = figure(r, "throughput", "shmq_default", "msgs_per_s");
    double t_spin = figure(r, "throughput", "shmq_spin", "msgs_per_s");
    double p_busy = figure(busy, "pingpong", "shmq_default", "p50_ns");
    double p_boost = figure(busy, "pingpong", "boost_mq", "p50_ns");
    double p_quiet = figure(r, "pingpong", "shmq_default", "p50_ns");
    g.add(kIssue20, "busy neighbour: throughput, shmq_default vs blocking boost_mq", ">= 1x", t_busy / t_boost,
          false, 1, num(t_busy / t_boost, "x") + " (" + rate(t_busy) + " vs " + rate(t_boost) + ")");
    g.add(kIssue20, "busy neighbour: throughput, shmq_default loaded / quiet", ">= 0.5x", t_busy / t_quiet,
          false, 0.5, num(t_busy / t_quiet, "x") + " (" + rate(t_busy) + " vs " + rate(t_quiet) + ")");
    g.add(kIssue20, "busy neighbour: ping-pong p50, shmq_default vs blocking boost_mq", "<= 1x",
          p_busy / p_boost, true, 1, num(p_busy / p_boost, "x") + " (" + fmt_ns(p_busy) + " vs " + fmt_ns(p_boost) + ")");
    g.add(kIssue20, "busy neighbour: ping-pong p50, shmq_default loaded / quiet", "<= 2x", p_busy / p_quiet,
          true, 2, num(p_busy / p_quiet, "x") + " (" + fmt_ns(p_busy) + " vs " + fmt_ns(p_quiet) + ")");
    g.add(kIssue20, "quiet: throughput, shmq_default / shmq_spin", ">= 0.8x", t_quiet / t_spin, false, 0.8,
          num(t_quiet / t_spin, "x") + " (" + rate(t_quiet) + " vs " + rate(t_spin) + ")");
}

void scaling_goals(Goals &g, const Json &r) {
    double one = scaling_rate(r, 1, 1);
    for (int n : {2, 4}) {
        double agg = scaling_rate(r, n, n);
        std::string cell = std::to_string(n) + "x" + std::to_string(n);
        g.add(kIssue20, cell + " aggregate vs 1x1 (shmq scaling, default options)", ">= 1x", agg / one, false, 1,
              num(agg / one, "x") + " (" + rate(agg) + " vs " + rate(one) + ")");
    }
}

// Mean per-consumer rate of a topic suite cell ("topic" or "queues", N consumers, size B).
double fanout_rate(const Json &r, const char *variant, int consumers, int size) {
    for (const auto &c : part(part(r, "topic"), "cells"))
        if (c.value("variant", "") == variant && c.value("consumers", 0) == consumers &&
            c.value("size", 0) == size && c.contains("throughput"))
            return c["throughput"].value("mean_msgs_per_s", NAN);
    return NAN;
}

void topic_goals(Goals &g, const Json &r) {
    double four = fanout_rate(r, "topic", 4, 4096), one = fanout_rate(r, "queues", 1, 4096);
    g.add(kIssue16, "1 -> 4 groups at 4 KiB: per-group throughput vs 1 -> 1 on a queue (mean of the groups)",
          ">= 0.8x", four / one, false, 0.8, num(four / one, "x") + " (" + rate(four) + " vs " + rate(one) + ")");
}

void durability_goals(Goals &g, const Json &r) {
    const Json &cells = part(part(r, "durability"), "cells");
    auto rate = [&](const char *c) { return cells.contains(c) ? cells[c].value("msgs_per_s", NAN) : NAN; };
    double memory = rate("memory"), disk = rate("disk"), sync = rate("disk_sync"), fsync = rate("fsync_baseline");
    g.add(kIssue17, "disk queue without sync vs memory queue (4 producers -> 1 consumer, 64 B)", ">= 0.5x",
          disk / memory, false, 0.5, num(disk / memory, "x") + " (" + num(disk / 1e6, "M") + " vs " + num(memory / 1e6, "M msg/s") + ")");
    g.add(kIssue17, "send + shmq_sync after each message, 4 producers: confirmed messages/s", ">= 20 k/s", sync,
          false, 20000, num(sync / 1e3, " k/s") + " (fdatasync per message: " + num(fsync / 1e3, " k/s") + ")");
}

void issue3_goals(Goals &g, const Json &r) {
    double shmq50 = figure(r, "pingpong", "shmq_spin", "p50_ns");
    double boost50 = figure(r, "pingpong", "boost_mq", "p50_ns");
    double uds50 = figure(r, "pingpong", "unix_socket", "p50_ns");
    double depth = depth_ratio(r);
    double rec0 = figure(r, "recovery", "no_backoff", "max_ns");
    double rec_default = figure(r, "recovery", "default", "max_ns");
    g.add(kIssue3, "ping-pong p50 faster than Boost message_queue (shmq_spin)", ">= 20x", boost50 / shmq50, false,
          20, num(boost50 / shmq50, "x") + placement_note(r, "boost_mq"));
    g.add(kIssue3, "ping-pong p50 faster than Unix socket (shmq_spin)", ">= 20x", uds50 / shmq50, false, 20,
          num(uds50 / shmq50, "x") + placement_note(r, "unix_socket"));
    g.add(kIssue3, "cost flat in depth (100k waiting vs 0)", "<= 1.5x", depth, true, 1.5, num(depth, "x"));
    g.add(kIssue3, "SIGKILLed consumer's message redelivered, backoff_base_ms = 0 (worst trial)", "<= 10 ms", rec0,
          true, 10e6, fmt_ns(rec0));
    g.add(kIssue3, "same, default params (reclaim retries with 100 ms full-jitter backoff)", "<= 10 ms",
          rec_default, true, 10e6, fmt_ns(rec_default));
}

} // namespace

Json evaluate_goals(const Json &r) {
    Goals g;
    throughput_goals(g, r);
    pingpong_goals(g, r);
    waiting_goals(g, r);
    scaling_goals(g, r);
    issue3_goals(g, r);
    topic_goals(g, r);
    durability_goals(g, r);
    return g.list;
}

} // namespace bench
