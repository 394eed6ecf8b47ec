// report.cpp - the Markdown report (results.md): machine, goals met or not,
// latency and throughput tables, and ratios of shmq against the cache-line limit
// and every alternative, written as "shmq N x faster/slower" to avoid ambiguity.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "report.hpp"
#include "suites.hpp"

namespace bench {

namespace {

using Out = std::ostringstream;

std::string ns_cell(const Json &j, const char *key) {
    return j.contains(key) && j[key].is_number() ? fmt_ns(j[key].get<double>()) : "-";
}

std::string times(double r) {
    if (std::isnan(r) || r <= 0)
        return "-";
    char buf[48];
    if (r >= 1)
        std::snprintf(buf, sizeof buf, "shmq %.1fx faster", r);
    else
        std::snprintf(buf, sizeof buf, "shmq %.1fx slower", 1 / r);
    return buf;
}

std::string error_of(const Json &j) {
    return j.is_object() && j.contains("error") ? "error: " + j["error"].get<std::string>() : "";
}

void md_machine(Out &o, const Json &r) {
    const Json &m = r["machine"];
    o << "# shmq benchmark results\n\n";
    o << "Mode: **" << r["config"]["mode"].get<std::string>() << "**, " << m["date_utc"].get<std::string>()
      << ". Machine: " << m["cpu_model"].get<std::string>() << ", " << m["logical_cpus"] << " logical CPUs"
      << (m["virtualized"].get<bool>() ? " (virtual machine)" : "") << ", " << m["memory_mib"]
      << " MiB, " << m["kernel"].get<std::string>() << ". Compiler " << m["compiler"].get<std::string>()
      << ". One CLOCK_MONOTONIC read costs " << fmt_ns(m["clock_read_ns"].get<double>())
      << " (included twice in every latency sample). Nothing is pinned. Load average (1/5/15 min) "
      << "at start " << m["load_average_at_start"].get<std::string>() << ", at end "
      << m.value("load_average_at_end", "?") << ": other work on the machine skews the figures, "
      << "spinning variants most.\n\n";
}

void md_goal_table(Out &o, const Json &r, const std::string &section) {
    o << "| goal | target | measured | status |\n| --- | --- | --- | --- |\n";
    for (const auto &g : r["goals"]) {
        if (g.value("section", "") != section)
            continue;
        std::string status = g["met"].is_null() ? "not measured" : g["met"].get<bool>() ? "met" : "**not met**";
        o << "| " << g["goal"].get<std::string>() << " | " << g["target"].get<std::string>() << " | "
          << g["measured"].get<std::string>() << " | " << status << " |\n";
    }
    o << "\n";
}

void md_goals(Out &o, const Json &r) {
    o << "## Goals (issue 20)\n\nSame run, 64 B, one producer process -> one consumer process. "
         "\"Busy neighbour\": one CPU-bound process runs beside the pair. Not checked here: "
         "\"nothing slower than before\" (compare with the previous results.md).\n\n";
    md_goal_table(o, r, "issue 20");
    o << "### Goals of issue 3 that still stand\n\n";
    md_goal_table(o, r, "issue 3 (kept)");
    o << "### Goals of issue 16 (topics; reported, never asserted)\n\n";
    md_goal_table(o, r, "issue 16");
}

void md_latency_table(Out &o, const Json &suite) {
    o << "| transport | p50 | p90 | p99 | p99.9 | max | samples | processes ran on | other load |\n"
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto &[name, j] : suite.items()) {
        if (!error_of(j).empty()) {
            o << "| " << name << " | " << error_of(j) << " ||||||||\n";
            continue;
        }
        o << "| " << name << " | " << ns_cell(j, "p50_ns") << " | " << ns_cell(j, "p90_ns") << " | "
          << ns_cell(j, "p99_ns") << " | " << ns_cell(j, "p99.9_ns") << " | " << ns_cell(j, "max_ns")
          << " | " << j["count"] << " | " << j.value("placement", "-") << " | " << other_load(j) << " |\n";
    }
    o << "\n";
}

void md_pingpong(Out &o, const Json &r) {
    if (!r.contains("pingpong"))
        return;
    o << "## Ping-pong round trip, 64 B\n\nClosed loop between two processes: send, receive the "
         "reply. shmq: send -> recv -> ack -> reply on two queues. cacheline carries an 8-byte "
         "sequence only (the physical limit). Plot: `pingpong_latency.png`. The last column "
         "tells where the scheduler put the two processes: a sleeping receiver woken on the "
         "sender's CPU (\"same CPU\") is cheap; one on a halted other vCPU must be kicked "
         "by the host (tens of microseconds on a VM).\n\n";
    md_latency_table(o, r["pingpong"]);
}

void md_ratio_row(Out &o, const Json &r, const std::string &ref, const std::string &other,
                  const std::string &label) {
    auto lat = [&](const char *suite, const char *key) {
        return figure(r, suite, other, key) / figure(r, suite, ref, key);
    };
    double tput = figure(r, "throughput", ref, "msgs_per_s") / figure(r, "throughput", other, "msgs_per_s");
    o << "| " << label << " | " << times(lat("pingpong", "p50_ns")) << " | "
      << times(lat("pingpong", "p99.9_ns")) << " | " << times(tput) << " | "
      << times(lat("fixed_rate", "p99_ns")) << " |\n";
}

void md_ratios(Out &o, const Json &r, const std::string &ref) {
    o << "### " << ref << " compared with each transport\n\n"
      << "| compared with | ping-pong p50 | ping-pong p99.9 | throughput 64 B | fixed-rate p99 |\n"
      << "| --- | --- | --- | --- | --- |\n";
    for (const char *other : {"cacheline", "spsc_ring", "shmq_spin", "shmq_default", "shmq_sleep", "boost_mq", "boost_mq_spin",
                              "unix_socket", "pipe", "posix_mq"})
        if (other != ref)
            md_ratio_row(o, r, ref, other, other);
    o << "\n";
}

// Like for like: spinning shmq against spinning Boost, waiting shmq against
// blocking Boost.
void md_peer_ratios(Out &o, const Json &r) {
    o << "### shmq against Boost message_queue, like for like\n\n"
         "Spinning shmq against Boost busy-polling try_send/try_receive; shmq with the default "
         "spin budget and shmq sleeping at once against Boost blocking on its condition "
         "variables.\n\n"
      << "| pair | ping-pong p50 | ping-pong p99.9 | throughput 64 B | fixed-rate p99 |\n"
      << "| --- | --- | --- | --- | --- |\n";
    const char *pairs[][2] = {{"shmq_spin", "boost_mq_spin"}, {"shmq_default", "boost_mq"}, {"shmq_sleep", "boost_mq"}};
    for (const auto &p : pairs)
        md_ratio_row(o, r, p[0], p[1], std::string(p[0]) + " vs " + p[1]);
    o << "\n";
}

// Per message, producer and consumer together, from the CPU's counters
// (user space only); or why there are none.
void md_counters(Out &o, const Json &r) {
    std::string avail = r["machine"].value("hw_counters", "not recorded");
    o << "Hardware counters per message (both processes, user space only; L1D misses count every "
         "line brought into the L1 data cache, so they bound from above the lines that moved "
         "between the cores): " << avail << ".\n\n";
    if (avail != "available")
        return;
    o << "| transport | cycles | instructions | L1D misses | bytes into L1D | LLC misses |\n"
         "| --- | --- | --- | --- | --- | --- |\n";
    for (const auto &[name, j] : r["throughput"].items()) {
        if (!j.contains("per_message_counters"))
            continue;
        const Json &c = j["per_message_counters"];
        char line[160];
        std::snprintf(line, sizeof line, "| %s | %.0f | %.0f | %.1f | %.0f | %.2f |\n", name.c_str(),
                      c["cycles"].get<double>(), c["instructions"].get<double>(), c["l1d_misses"].get<double>(),
                      c["bytes_into_l1d"].get<double>(), c["llc_misses"].get<double>());
        o << line;
    }
    o << "\n";
}

void md_throughput(Out &o, const Json &r) {
    if (!r.contains("throughput"))
        return;
    o << "## One-way throughput, 64 B, 1 producer -> 1 consumer process\n\n"
         "Every message received, order-checked and (shmq) acked one by one; shmq_batch sends and "
         "leases 32 per call and acks them with one shmq_ack_batch call (one lease per message). Median of the runs; all runs are in results.json.\n\n"
         "\"Queued\" is what the producer saw waiting on average (sent minus received, to within 64, sampled "
         "every 64 messages) against the capacity asked for (posix_mq holds 10, a pipe 1024 of "
         "64 B): near the capacity the consumer is the slower side and the producer waits for "
         "space; near 0 the consumer waits for messages.\n\n"
         "| transport | msg/s | MB/s | queued | other load |\n| --- | --- | --- | --- | --- |\n";
    for (const auto &[name, j] : r["throughput"].items()) {
        if (!error_of(j).empty()) {
            o << "| " << name << " | " << error_of(j) << " | | | |\n";
            continue;
        }
        char mb[32], queued[48] = "-";
        std::snprintf(mb, sizeof mb, "%.0f", j["bytes_per_s"].get<double>() / 1e6);
        if (j.contains("mean_queued"))
            std::snprintf(queued, sizeof queued, "%.0f of %zu", j["mean_queued"].get<double>(),
                          j["capacity"].get<size_t>());
        o << "| " << name << " | " << fmt_rate(j["msgs_per_s"].get<double>()) << " | " << mb << " | "
          << queued << " | " << other_load(j) << " |\n";
    }
    o << "\n";
    md_counters(o, r);
}

void md_interference(Out &o, const Json &r) {
    if (!r.contains("interference"))
        return;
    o << "## Other work during each suite\n\nCPU time used by anything but this benchmark, as a "
         "share of all CPUs' time, and time the hypervisor gave to others (steal). Before each "
         "variant the benchmark waits (up to " << r["config"]["quiet_wait_s"] << " s) for the "
         "machine to go quiet; the \"other load\" columns above give the share during each "
         "variant. Figures taken under load are pessimistic.\n\n| suite | wall | other CPU | steal |\n"
         "| --- | --- | --- | --- |\n";
    for (const auto &[name, j] : r["interference"].items()) {
        char line[128];
        std::snprintf(line, sizeof line, "| %s | %.1f s | %.1f%% | %.2f s |\n", name.c_str(),
                      j["wall_s"].get<double>(), 100 * j["other_cpu_share"].get<double>(),
                      j["steal_s"].get<double>());
        o << line;
    }
    o << "\n";
}

void md_settings(Out &o, const Json &r) {
    if (!r.contains("throughput"))
        return;
    o << "## Settings used (throughput runs)\n\n";
    for (const auto &[name, j] : r["throughput"].items())
        if (j.contains("settings"))
            o << "- " << name << ": `" << j["settings"].dump() << "`\n";
    o << "\n";
}

} // namespace

void md_size(Out &o, const Json &r);
void md_scaling(Out &o, const Json &r);
void md_depth(Out &o, const Json &r);
void md_fixed_rate(Out &o, const Json &r);
void md_recovery(Out &o, const Json &r);
void md_busy(Out &o, const Json &r);
void md_backlog(Out &o, const Json &r);
void md_topic(Out &o, const Json &r);
void md_durability(Out &o, const Json &r);

std::string render_markdown(const Json &r) {
    Out o;
    md_machine(o, r);
    if (r.contains("goals"))
        md_goals(o, r);
    md_pingpong(o, r);
    if (r.contains("pingpong") || r.contains("throughput")) {
        o << "## Ratios\n\n";
        md_peer_ratios(o, r);
        md_ratios(o, r, "shmq_spin");
        md_ratios(o, r, "shmq_default");
        md_ratios(o, r, "shmq_sleep");
    }
    md_throughput(o, r);
    md_busy(o, r);
    md_backlog(o, r);
    md_size(o, r);
    md_scaling(o, r);
    md_topic(o, r);
    md_durability(o, r);
    md_depth(o, r);
    md_fixed_rate(o, r);
    md_recovery(o, r);
    md_interference(o, r);
    md_settings(o, r);
    return o.str();
}

} // namespace bench
