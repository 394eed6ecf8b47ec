// report_sections.cpp - the Markdown sections of the secondary suites: size
// curve, producer x consumer scaling, queue depth, fixed-rate latency and crash
// recovery. Each section is skipped when its suite did not run.
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "report.hpp"
#include "suites.hpp"

namespace bench {

using Out = std::ostringstream;

namespace {

// rows: size -> transport -> cell text
using Grid = std::map<size_t, std::map<std::string, std::string>>;

void print_grid(Out &o, const Grid &grid, const std::vector<std::string> &cols) {
    o << "| size |";
    for (const auto &c : cols)
        o << " " << c << " |";
    o << "\n| --- |";
    for (size_t i = 0; i < cols.size(); i++)
        o << " --- |";
    o << "\n";
    for (const auto &[size, row] : grid) {
        o << "| " << size << " B |";
        for (const auto &c : cols)
            o << " " << (row.count(c) ? row.at(c) : "-") << " |";
        o << "\n";
    }
    o << "\n";
}

std::string mbps(double bytes_per_s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", bytes_per_s / 1e6);
    return buf;
}

// "0.42x": loaded / quiet, or "-" when either is missing.
std::string ratio_cell(double loaded, double quiet) {
    if (!(loaded > 0) || !(quiet > 0))
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2fx", loaded / quiet);
    return buf;
}

std::string rate_cell(double v) { return v > 0 ? fmt_rate(v) : "-"; }
std::string ns_or_dash(double v) { return v > 0 ? fmt_ns(v) : "-"; }

void md_busy_throughput(Out &o, const Json &r) {
    o << "Throughput, 64 B, 1 -> 1 (loaded / quiet: below 1 means slower under load):\n\n"
         "| transport | quiet msg/s | loaded msg/s | loaded / quiet | other load (loaded) |\n"
         "| --- | --- | --- | --- | --- |\n";
    for (const auto &[name, j] : r["busy"]["throughput"].items()) {
        double quiet = figure(r, "throughput", name, "msgs_per_s");
        double loaded = figure(r["busy"], "throughput", name, "msgs_per_s");
        o << "| " << name << " | " << rate_cell(quiet) << " | "
          << (j.contains("error") ? "error: " + j["error"].get<std::string>() : rate_cell(loaded)) << " | "
          << ratio_cell(loaded, quiet) << " | " << other_load(j) << " |\n";
    }
    o << "\n";
}

void md_busy_pingpong(Out &o, const Json &r) {
    o << "Ping-pong round trip, 64 B (loaded / quiet: above 1 means slower under load):\n\n"
         "| transport | quiet p50 | loaded p50 | loaded / quiet | quiet p99.9 | loaded p99.9 | "
         "loaded / quiet | loaded samples |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto &[name, j] : r["busy"]["pingpong"].items()) {
        if (j.contains("error")) {
            o << "| " << name << " | error: " << j["error"].get<std::string>() << " |||||||\n";
            continue;
        }
        double q50 = figure(r, "pingpong", name, "p50_ns"), l50 = figure(r["busy"], "pingpong", name, "p50_ns");
        double q999 = figure(r, "pingpong", name, "p99.9_ns");
        double l999 = figure(r["busy"], "pingpong", name, "p99.9_ns");
        o << "| " << name << " | " << ns_or_dash(q50) << " | " << ns_or_dash(l50) << " | "
          << ratio_cell(l50, q50) << " | " << ns_or_dash(q999) << " | " << ns_or_dash(l999) << " | "
          << ratio_cell(l999, q999) << " | " << j["count"] << " |\n";
    }
    o << "\n";
}

} // namespace

void md_busy(Out &o, const Json &r) {
    if (!r.contains("busy") || !r["busy"].contains("throughput"))
        return;
    o << "## Busy neighbour: one CPU-bound process beside the pair\n\n"
         "Each measurement again, with a spinning process forked before it and killed after "
         "it. On a machine with " << r["machine"]["logical_cpus"] << " logical CPUs three "
         "runnable processes share them. \"quiet\" is the figure of the plain suite of the same "
         "run (\"-\" when it did not run).\n\n";
    md_busy_throughput(o, r);
    md_busy_pingpong(o, r);
}

void md_backlog(Out &o, const Json &r) {
    if (!r.contains("backlog"))
        return;
    o << "## 1 -> 1 with a 1k backlog held steady (64 B)\n\n"
         "The producer sends only while fewer than 1000 messages wait (sent minus received; the "
         "consumer publishes its count every 16 messages), so the queue stays about 1000 deep "
         "when the consumer is the slower side. Latency: every 16th message, from its send to "
         "its receipt, through the backlog. posix_mq cannot hold 1000 messages and is left out."
         "\n\n| transport | msg/s | mean backlog | p50 | p99 | p99.9 | max | other load |\n"
         "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto &[name, j] : r["backlog"].items()) {
        if (j.contains("error")) {
            o << "| " << name << " | error: " << j["error"].get<std::string>() << " |||||||\n";
            continue;
        }
        const Json &l = j["latency"];
        char depth[32];
        std::snprintf(depth, sizeof depth, "%.0f", j["mean_backlog"].get<double>());
        o << "| " << name << " | " << fmt_rate(j["msgs_per_s"].get<double>()) << " | " << depth << " | "
          << fmt_ns(l["p50_ns"].get<double>()) << " | " << fmt_ns(l["p99_ns"].get<double>()) << " | "
          << fmt_ns(l["p99.9_ns"].get<double>()) << " | " << fmt_ns(l["max_ns"].get<double>()) << " | "
          << other_load(j) << " |\n";
    }
    o << "\n";
}

void md_size(Out &o, const Json &r) {
    if (!r.contains("size_curve"))
        return;
    Grid tput, rtt;
    std::vector<std::string> cols;
    for (const auto &[name, points] : r["size_curve"].items()) {
        cols.push_back(name);
        if (!points.is_array())
            continue;
        for (const auto &p : points) {
            size_t s = p["size"].get<size_t>();
            tput[s][name] = mbps(p["bytes_per_s"].get<double>());
            rtt[s][name] = fmt_ns(p["rtt_p50_ns"].get<double>());
        }
    }
    o << "## Payload size curve\n\nshmq_spin copies in (shmq_send) and out (before ack); "
         "shmq_spin_zc reserves/commits and reads in place, touching only a 16-byte header (the "
         "payload counts as built in place). posix_mq stops at msgsize_max. Plots: "
         "`size_throughput.png`, `size_latency.png`.\n\nThroughput, MB/s (one way):\n\n";
    print_grid(o, tput, cols);
    o << "Ping-pong round trip, p50:\n\n";
    print_grid(o, rtt, cols);
}

void md_scaling(Out &o, const Json &r) {
    if (!r.contains("scaling"))
        return;
    o << "## shmq scaling: producers x consumers (64 B, ack each, default spin)\n\n"
      << "Machine has " << r["machine"]["logical_cpus"] << " logical CPUs: cells marked * run more "
      << "processes than CPUs (oversubscribed, spinning waiters then steal time from working ones).\n\n"
      << "| producers \\ consumers | 1 | 2 | 3 | 4 |\n| --- | --- | --- | --- | --- |\n";
    std::map<int, std::map<int, std::string>> cells;
    for (const auto &c : r["scaling"]["cells"]) {
        std::string text = c.contains("error") ? "error" : fmt_rate(c["msgs_per_s"].get<double>());
        if (c.value("oversubscribed", false))
            text += " *";
        cells[c["producers"].get<int>()][c["consumers"].get<int>()] = text;
    }
    for (auto &[p, row] : cells) {
        o << "| " << p << " |";
        for (int c = 1; c <= 4; c++)
            o << " " << row[c] << " |";
        o << "\n";
    }
    o << "\n";
}

// One row per (size, N): the topic's per-group figures beside N queues'.
void md_topic(Out &o, const Json &r) {
    if (!r.contains("topic") || !r["topic"].contains("cells"))
        return;
    o << "## Publish/subscribe: 1 publisher -> N consumers (issue 16)\n\n"
         "`topic`: a topic with N consumer groups, one consumer process each (the payload is stored once); "
         "`N queues`: the publisher sends the same message to N queues, one consumer each. Rate: messages/s "
         "per consumer (mean of the N, lowest in brackets), payload copied out, ack each; round trip: a publish "
         "until all N consumers replied. Library default options, "
      << r["topic"]["slots"] << " slots per topic or queue. Cells marked * run more processes than CPUs.\n\n"
      << "| size | N | topic msg/s | N queues msg/s | topic / queues | topic round trip p50 / p99 | "
         "N queues round trip p50 / p99 |\n| --- | --- | --- | --- | --- | --- | --- |\n";
    std::map<std::pair<int, int>, std::map<std::string, Json>> rows;
    for (const auto &c : r["topic"]["cells"])
        rows[{c.value("size", 0), c.value("consumers", 0)}][c.value("variant", "")] = c;
    auto rate = [](const Json &c) {
        if (!c.contains("throughput"))
            return c.is_object() && c.contains("error") ? std::string("error") : std::string("-");
        const Json &t = c["throughput"];
        return fmt_rate(t["mean_msgs_per_s"].get<double>()) + " (" + fmt_rate(t["min_msgs_per_s"].get<double>()) + ")";
    };
    auto rtt = [](const Json &c) {
        return c.contains("round_trip") ? fmt_ns(c["round_trip"]["p50_ns"].get<double>()) + " / " +
                                              fmt_ns(c["round_trip"]["p99_ns"].get<double>())
                                        : std::string("-");
    };
    for (auto &[key, v] : rows) {
        double t = v["topic"].contains("throughput") ? v["topic"]["throughput"]["mean_msgs_per_s"].get<double>() : 0;
        double q = v["queues"].contains("throughput") ? v["queues"]["throughput"]["mean_msgs_per_s"].get<double>() : 0;
        bool over = false; // a variant not run is null here
        for (const Json &c : {v["topic"], v["queues"]})
            over = over || (c.is_object() && c.value("oversubscribed", false));
        char ratio[32] = "-";
        if (t > 0 && q > 0)
            std::snprintf(ratio, sizeof ratio, "%.2fx", t / q);
        o << "| " << key.first << " B | " << key.second << (over ? " *" : "") << " | " << rate(v["topic"]) << " | "
          << rate(v["queues"]) << " | " << ratio << " | " << rtt(v["topic"]) << " | " << rtt(v["queues"]) << " |\n";
    }
    o << "\n";
}

// The four cells of the durability suite side by side, ratios against memory and fsync.
void md_durability(Out &o, const Json &r) {
    if (!r.contains("durability") || !r["durability"].contains("cells"))
        return;
    const Json &d = r["durability"];
    const Json &cells = d["cells"];
    o << "## Durability: disk queues and confirmed sends (issue 17)\n\n"
      << d["producers"] << " producer processes, " << d["size"] << " B; the queue cells have one consumer process "
         "(lease + ack). `disk`: `durability` DISK, no sync (the kernel writes back); `disk_sync`: each send "
         "followed by `shmq_sync` (group commit); `fsync_baseline`: each producer appends to its own file and "
         "`fdatasync`s each message. Directory " << d["dir"].get<std::string>()
      << (d.value("tmpfs", false) ? " (tmpfs: these figures say nothing about a disk)" : "") << ".\n\n"
      << "| cell | msg/s | vs memory | confirm p50 | confirm p99 |\n| --- | --- | --- | --- | --- |\n";
    double memory = cells.contains("memory") ? cells["memory"].value("msgs_per_s", 0.0) : 0.0;
    for (const auto &[name, c] : cells.items()) {
        if (!c.contains("msgs_per_s")) {
            o << "| " << name << " | " << c.value("error", std::string("error")) << " | | | |\n";
            continue;
        }
        double v = c["msgs_per_s"].get<double>();
        char ratio[32] = "-";
        if (memory > 0)
            std::snprintf(ratio, sizeof ratio, "%.2fx", v / memory);
        bool conf = c.contains("confirm");
        o << "| " << name << " | " << fmt_rate(v) << " | " << ratio << " | "
          << (conf ? fmt_ns(c["confirm"]["p50_ns"].get<double>()) : "-") << " | "
          << (conf ? fmt_ns(c["confirm"]["p99_ns"].get<double>()) : "-") << " |\n";
    }
    o << "\n";
}

void md_depth(Out &o, const Json &r) {
    if (!r.contains("depth"))
        return;
    o << "## Cost per message vs messages already waiting (one process, send + recv + ack, 64 B)\n\n"
         "| transport | 0 waiting | 1k waiting | 100k waiting | 100k / 0 |\n| --- | --- | --- | --- | --- |\n";
    for (const auto &[name, j] : r["depth"].items()) {
        if (!j.contains("points")) {
            o << "| " << name << " | " << j.value("error", "") << " | | | |\n";
            continue;
        }
        const Json &p = j["points"];
        char ratio[16];
        std::snprintf(ratio, sizeof ratio, "%.2fx",
                      p[2]["ns_per_msg"].get<double>() / p[0]["ns_per_msg"].get<double>());
        o << "| " << name << " | " << fmt_ns(p[0]["ns_per_msg"].get<double>()) << " | "
          << fmt_ns(p[1]["ns_per_msg"].get<double>()) << " | " << fmt_ns(p[2]["ns_per_msg"].get<double>())
          << " | " << ratio << " |\n";
    }
    o << "\n";
}

void md_fixed_rate(Out &o, const Json &r) {
    if (!r.contains("fixed_rate"))
        return;
    o << "## Latency at a fixed rate (open loop, 64 B)\n\nMessage i is due at start + i/rate; "
         "latency runs from the due time to receipt, so stalls are charged to every message "
         "behind them. Plot: `fixed_rate_latency.png`.\n\n"
         "| transport | target | achieved | p50 | p99 | p99.9 | max | worst send lag | other load |\n"
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto &[name, j] : r["fixed_rate"].items()) {
        if (j.contains("error")) {
            o << "| " << name << " | error: " << j["error"].get<std::string>() << " ||||||||\n";
            continue;
        }
        o << "| " << name << " | " << fmt_rate(j["target_hz"].get<double>()) << " | "
          << fmt_rate(j["achieved_hz"].get<double>()) << " | " << fmt_ns(j["p50_ns"].get<double>())
          << " | " << fmt_ns(j["p99_ns"].get<double>()) << " | " << fmt_ns(j["p99.9_ns"].get<double>())
          << " | " << fmt_ns(j["max_ns"].get<double>()) << " | "
          << fmt_ns(j["max_send_lag_ns"].get<double>()) << " | " << other_load(j) << " |\n";
    }
    o << "\n";
}

namespace {

void md_recovery_row(Out &o, const char *label, const Json &j) {
    if (j.contains("error")) {
        o << "| " << label << " | error: " << j["error"].get<std::string>() << " |||||\n";
        return;
    }
    char calls[32];
    std::snprintf(calls, sizeof calls, "%.0f", j["mean_recover_calls"].get<double>());
    o << "| " << label << " | " << j["backoff_base_ms"] << " ms | " << j["count"] << " | "
      << fmt_ns(j["p50_ns"].get<double>()) << " | " << fmt_ns(j["max_ns"].get<double>()) << " | "
      << calls << " |\n";
}

} // namespace

void md_recovery(Out &o, const Json &r) {
    if (!r.contains("recovery"))
        return;
    const Json &rec = r["recovery"];
    o << "## Crash recovery: consumer SIGKILLed while holding a lease\n\n"
         "From the parent's waitpid() return to its shmq_recv() of the same message, calling "
         "shmq_recover() and a non-blocking shmq_recv() in a loop (no daemon). The lease is "
         "30 s, so this is dead-owner detection, not expiry; a reclaimed lease is retried "
         "under the queue's backoff policy.\n\n"
         "| params | backoff base | trials | p50 | max | shmq_recover() calls per trial |\n"
         "| --- | --- | --- | --- | --- | --- |\n";
    for (const char *label : {"default", "no_backoff"})
        if (rec.contains(label))
            md_recovery_row(o, label, rec[label]);
    o << "\n";
}

} // namespace bench
