// metrics_text.cpp - a Snapshot in the Prometheus text format: one HELP and
// TYPE line per family, then its samples for every queue. Names follow
// STYLE.md: prefix shmq_, base units (seconds, bytes), counters end in _total.
#include "metrics.hpp"

#include "http_server.hpp"

#include <cstdio>
#include <functional>
#include <string>

namespace shmqd {

namespace {

std::string escape(const std::string &v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string num(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

class Writer {
public:
    void family(const char *name, const char *type, const char *help) {
        out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    void sample(const std::string &name, const std::string &labels, const std::string &value) {
        out_ += name;
        if (!labels.empty()) out_ += "{" + labels + "}";
        out_ += " " + value + "\n";
    }
    void sample(const std::string &name, const std::string &labels, uint64_t value) {
        sample(name, labels, std::to_string(value));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

std::string qlabel(const QueueSample &q) {
    return "queue=\"" + escape(q.name) + "\"" + (q.group.empty() ? "" : ",group=\"" + escape(q.group) + "\"");
}

using QueueValue = std::function<uint64_t(const QueueSample &)>;

// A family with one sample per queue.
void per_queue(Writer &w, const Snapshot &s, const char *name, const char *type, const char *help,
               const QueueValue &value) {
    w.family(name, type, help);
    for (const QueueSample &q : s.queues) w.sample(name, qlabel(q), value(q));
}

void queue_gauges(Writer &w, const Snapshot &s) {
    per_queue(w, s, "shmq_queue_messages_ready", "gauge", "Messages ready for delivery in shared memory.",
              [](const QueueSample &q) { return q.stats.ready; });
    per_queue(w, s, "shmq_queue_messages_leased", "gauge", "Messages leased by consumers (in flight).",
              [](const QueueSample &q) { return q.stats.leased; });
    per_queue(w, s, "shmq_queue_messages_delayed", "gauge", "Messages waiting for a retry time.",
              [](const QueueSample &q) { return q.stats.delayed; });
    per_queue(w, s, "shmq_queue_messages_spilled", "gauge", "Messages waiting in the spill store on disk.",
              [](const QueueSample &q) { return q.spilled; });
    per_queue(w, s, "shmq_queue_spill_bytes", "gauge", "Size of the spill file in bytes.",
              [](const QueueSample &q) { return q.spill_bytes; });
    per_queue(w, s, "shmq_queue_spill_full", "gauge", "1 while the spill store is at its disk cap.",
              [](const QueueSample &q) { return uint64_t(q.spill_full); });
    per_queue(w, s, "shmq_queue_dead_letters", "gauge", "Records in the dead-letter store.",
              [](const QueueSample &q) { return q.dead_letters; });
    per_queue(w, s, "shmq_queue_dead_letter_bytes", "gauge", "Size of the dead-letter store in bytes.",
              [](const QueueSample &q) { return q.dead_letter_bytes; });
    per_queue(w, s, "shmq_queue_slots", "gauge", "Message slots in the segment (its capacity).",
              [](const QueueSample &q) { return uint64_t(q.stats.slot_count); });
    per_queue(w, s, "shmq_consumers", "gauge", "Attached processes that have received from the queue.",
              [](const QueueSample &q) { return uint64_t(q.consumers); });
    per_queue(w, s, "shmq_queue_messages_dead", "gauge",
              "Dead letters waiting in shared memory to be written to the dead-letter store.",
              [](const QueueSample &q) { return q.stats.dead; });
    per_queue(w, s, "shmq_queue_messages_writing", "gauge", "Slots being written by a sender (or left by a dead one).",
              [](const QueueSample &q) { return q.stats.writing; });
    // Durability disk (flusher.hpp): read from the segment, so every flusher's
    // work shows, shmqd's and clients' shmq_sync alike.
    per_queue(w, s, "shmq_queue_flush_error", "gauge",
              "errno of the last failed flush of a disk queue to its file, 0 after a flush that worked.",
              [](const QueueSample &q) { return uint64_t(q.stats.flush_error > 0 ? q.stats.flush_error : 0); });
    per_queue(w, s, "shmq_queue_durable_lag_messages", "gauge",
              "Messages sent to a disk queue that no finished flush covers yet (0 for a memory queue).",
              [](const QueueSample &q) { return q.stats.durable_lag; });
    w.family("shmq_queue_flush_seconds", "gauge", "How long the last flush of a disk queue to its file took.");
    for (const QueueSample &q : s.queues)
        w.sample("shmq_queue_flush_seconds", qlabel(q), num(double(q.stats.last_flush_duration_ns) / 1e9));
    w.family("shmq_queue_oldest_dead_letter_age_seconds", "gauge",
             "Time since the oldest record in the dead-letter store died (0 if none).");
    for (const QueueSample &q : s.queues)
        w.sample("shmq_queue_oldest_dead_letter_age_seconds", qlabel(q),
                 num(double(q.oldest_dead_letter_age_ns) / 1e9));
    w.family("shmq_queue_oldest_message_age_seconds", "gauge",
             "Age of the oldest ready message, in memory or spilled (0 if none).");
    for (const QueueSample &q : s.queues)
        w.sample("shmq_queue_oldest_message_age_seconds", qlabel(q), num(double(q.oldest_age_ns) / 1e9));
}

void queue_counters(Writer &w, const Snapshot &s) {
    per_queue(w, s, "shmq_messages_enqueued_total", "counter", "Messages sent into the queue.",
              [](const QueueSample &q) { return q.stats.enqueued; });
    per_queue(w, s, "shmq_messages_delivered_total", "counter", "Deliveries (leases) including redeliveries.",
              [](const QueueSample &q) { return q.stats.delivered; });
    per_queue(w, s, "shmq_messages_acked_total", "counter", "Messages acknowledged by consumers.",
              [](const QueueSample &q) { return q.stats.acked; });
    per_queue(w, s, "shmq_messages_retried_total", "counter", "Messages nacked for a retry.",
              [](const QueueSample &q) { return q.stats.nacked; });
    per_queue(w, s, "shmq_messages_expired_total", "counter",
              "Messages dead-lettered because their time to live passed before a lease.",
              [](const QueueSample &q) { return q.stats.expired; });
    per_queue(w, s, "shmq_leases_reclaimed_total", "counter", "Leases taken back from dead or stalled consumers.",
              [](const QueueSample &q) { return q.stats.reclaimed; });
    per_queue(w, s, "shmq_messages_spilled_total", "counter", "Messages this daemon moved to the spill store.",
              [](const QueueSample &q) { return q.spilled_total; });
    per_queue(w, s, "shmq_messages_refilled_total", "counter", "Messages this daemon put back from the spill store.",
              [](const QueueSample &q) { return q.refilled_total; });
    per_queue(w, s, "shmq_dead_letters_dropped_total", "counter",
              "Dead letters this daemon dropped by retention (dlq_max_records, dlq_max_age_ms).",
              [](const QueueSample &q) { return q.dlq_dropped_total; });
    per_queue(w, s, "shmq_queue_flushes_total", "counter", "Flushes of a disk queue to its file that worked.",
              [](const QueueSample &q) { return q.stats.flushes; });
    per_queue(w, s, "shmq_messages_quarantined_total", "counter",
              "Messages of a disk queue whose checksum failed at its rebuild after a reboot (dead-lettered as invalid).",
              [](const QueueSample &q) { return q.stats.quarantined; });
    per_queue(w, s, "shmq_messages_redelivered_total", "counter", "Deliveries of a message after its first.",
              [](const QueueSample &q) { return q.stats.redelivered; });
    w.family("shmq_messages_dead_lettered_total", "counter",
             "Messages this daemon wrote to the dead-letter store, by reason.");
    for (const QueueSample &q : s.queues)
        for (size_t r = 1; r < kReasonNames.size(); ++r)
            w.sample("shmq_messages_dead_lettered_total", qlabel(q) + ",reason=\"" + kReasonNames[r] + "\"",
                     q.dead_lettered[r]);
}

// Failures of the dead-letter and spill stores (disk full, I/O errors...):
// the messages stay in shared memory meanwhile, so only these show it.
void store_health(Writer &w, const Snapshot &s) {
    w.family("shmq_store_failing", "gauge", "1 while a store's writes fail (messages wait in shared memory).");
    for (const QueueSample &q : s.queues) {
        w.sample("shmq_store_failing", qlabel(q) + ",store=\"dead_letters\"", uint64_t(q.dlq_failing));
        w.sample("shmq_store_failing", qlabel(q) + ",store=\"spill\"", uint64_t(q.spill_failing));
    }
    w.family("shmq_store_errors_total", "counter", "Failed store operations, by store and kind of error.");
    for (const QueueSample &q : s.queues) {
        for (auto &[kind, n] : q.dlq_errors)
            w.sample("shmq_store_errors_total", qlabel(q) + ",store=\"dead_letters\",kind=\"" + kind + "\"", n);
        for (auto &[kind, n] : q.spill_errors)
            w.sample("shmq_store_errors_total", qlabel(q) + ",store=\"spill\",kind=\"" + kind + "\"", n);
    }
}

void consumers(Writer &w, const Snapshot &s) {
    struct Col {
        const char *name, *type, *help;
        uint64_t (*get)(const ConsumerSample &);
    };
    const Col cols[] = {
        {"shmq_consumer_messages_delivered_total", "counter", "Deliveries to this consumer since it attached.",
         [](const ConsumerSample &c) { return c.delivered; }},
        {"shmq_consumer_messages_acked_total", "counter", "Acks by this consumer since it attached.",
         [](const ConsumerSample &c) { return c.acked; }},
        {"shmq_consumer_messages_in_flight", "gauge", "Leases this consumer holds now.",
         [](const ConsumerSample &c) { return uint64_t(c.in_flight); }},
    };
    for (const Col &col : cols) {
        w.family(col.name, col.type, col.help);
        for (const QueueSample &q : s.queues)
            for (const ConsumerSample &c : q.per_consumer)
                w.sample(col.name, qlabel(q) + ",pid=\"" + std::to_string(c.pid) + "\"", col.get(c));
    }
}

void daemon_metrics(Writer &w, const Snapshot &s) {
    w.family("shmq_daemon_build_info", "gauge", "shmqd's version, as a label; the value is always 1.");
    w.sample("shmq_daemon_build_info", "version=\"" SHMQD_VERSION "\"", "1");
    w.family("shmq_daemon_start_time_seconds", "gauge", "When this shmqd started, in seconds since the epoch.");
    char start[32];
    snprintf(start, sizeof start, "%.3f", double(s.started_ns) / 1e9);
    w.sample("shmq_daemon_start_time_seconds", "", start);
    w.family("shmq_daemon_last_tick_timestamp_seconds", "gauge",
             "When the last supervision tick over all queues ended, in seconds since the epoch.");
    char last[32];
    snprintf(last, sizeof last, "%.3f", double(s.last_tick_ns) / 1e9);
    w.sample("shmq_daemon_last_tick_timestamp_seconds", "", last);
    w.family("shmq_daemon_heartbeat_age_seconds", "gauge",
             "Seconds since the last tick ended (the queues' daemon heartbeat); grows while the loop is stuck.");
    double age = s.last_tick_ns > 0 && s.now_ns > s.last_tick_ns ? double(s.now_ns - s.last_tick_ns) / 1e9 : 0;
    w.sample("shmq_daemon_heartbeat_age_seconds", "", num(age));
    w.family("shmq_daemon_loop_seconds", "histogram", "Duration of one supervision tick over all queues.");
    for (size_t i = 0; i < LoopHistogram::kBounds.size(); ++i)
        w.sample("shmq_daemon_loop_seconds_bucket", "le=\"" + num(LoopHistogram::kBounds[i]) + "\"",
                 s.loop.buckets[i]);
    w.sample("shmq_daemon_loop_seconds_bucket", "le=\"+Inf\"", s.loop.count);
    w.sample("shmq_daemon_loop_seconds_sum", "", num(s.loop.sum));
    w.sample("shmq_daemon_loop_seconds_count", "", s.loop.count);
}

} // namespace

std::string render_metrics(const Snapshot &s) {
    Writer w;
    daemon_metrics(w, s);
    queue_gauges(w, s);
    queue_counters(w, s);
    store_health(w, s);
    consumers(w, s);
    return w.take();
}

HttpResponse serve_metrics(const MetricsBoard &board, const HttpRequest &r) {
    if (r.path != "/metrics") return json_error(404, "SHMQ_ENOTFOUND", "only GET /metrics is served here");
    if (r.method != "GET") return json_error(405, "SHMQ_EINVAL", "use GET for /metrics");
    HttpResponse out;
    out.type = "text/plain; version=0.0.4; charset=utf-8";
    out.body = render_metrics(board.read());
    return out;
}

} // namespace shmqd
