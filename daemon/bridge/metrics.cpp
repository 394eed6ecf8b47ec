// metrics.cpp - Prometheus text for the bridge's counters (see metrics.hpp).
#include "metrics.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace bridge {

namespace {

struct Family {
    const char *name, *type, *help;
    std::atomic<uint64_t> Metrics::*counter;
    std::atomic<int64_t> Metrics::*gauge;
    double scale = 1; // a gauge kept in ms and exported in seconds has 0.001
};

const Family kFamilies[] = {
    {"shmq_bridge_messages_published_total", "counter", "Messages published to the broker (out).", &Metrics::published, nullptr},
    {"shmq_bridge_messages_confirmed_total", "counter", "Publishes confirmed by the broker and acked locally (out).", &Metrics::confirmed, nullptr},
    {"shmq_bridge_messages_returned_total", "counter", "Publishes returned as unroutable (out).", &Metrics::returned, nullptr},
    {"shmq_bridge_messages_broker_nacked_total", "counter", "Publishes nacked by the broker (out).", &Metrics::broker_nacked, nullptr},
    {"shmq_bridge_messages_local_nacked_total", "counter", "Refused messages nacked locally for a retry (out).", &Metrics::local_nacked, nullptr},
    {"shmq_bridge_messages_local_rejected_total", "counter", "Refused messages dead-lettered locally (out).", &Metrics::local_rejected, nullptr},
    {"shmq_bridge_leases_lost_total", "counter", "Local leases lost before the confirm (out; redelivered locally).", &Metrics::lease_lost, nullptr},
    {"shmq_bridge_messages_inflight", "gauge", "Published, not yet confirmed (out).", nullptr, &Metrics::inflight},
    {"shmq_bridge_local_backlog_messages", "gauge", "Messages waiting in the local queue, ready or delayed (out: the lag).", nullptr, &Metrics::backlog},
    {"shmq_bridge_local_oldest_age_seconds", "gauge", "Age of the oldest ready message in the local queue (out).", nullptr, &Metrics::oldest_age_ms, 0.001},
    {"shmq_bridge_messages_received_total", "counter", "Deliveries from the broker (in).", &Metrics::received, nullptr},
    {"shmq_bridge_messages_sent_local_total", "counter", "Deliveries sent into the local queue (in).", &Metrics::sent_local, nullptr},
    {"shmq_bridge_messages_acked_broker_total", "counter", "Deliveries acked to the broker (in).", &Metrics::acked_broker, nullptr},
    {"shmq_bridge_messages_poison_total", "counter", "Deliveries that can never be sent locally, rejected to the broker (in).", &Metrics::poison, nullptr},
    {"shmq_bridge_backpressure_waits_total", "counter", "Local sends that found the queue full (or a topic with no group bound, or the deduplication table full) and waited (in).", &Metrics::backpressure_waits, nullptr},
    {"shmq_bridge_duplicates_total", "counter", "Deliveries whose message_id was sent to the local queue within its deduplication window already: acked to the broker, not stored again (in).", &Metrics::duplicates, nullptr},
    {"shmq_bridge_headers_skipped_total", "counter", "AMQP headers not carried into local messages: a key shmq refuses, a value that is not text, an integer or a boolean, or past 64 headers / 4096 bytes (in).", &Metrics::headers_skipped, nullptr},
    {"shmq_bridge_broker_backlog_messages", "gauge", "Messages ready in the broker's queue, read once a second (in: the lag).", nullptr, &Metrics::broker_backlog},
    {"shmq_bridge_reconnects_total", "counter", "Connections to the broker opened after the first.", &Metrics::reconnects, nullptr},
    {"shmq_bridge_broker_errors_total", "counter", "Failed connects (TCP, TLS, login) and lost connections; each is logged with its reason.", &Metrics::broker_errors, nullptr},
    {"shmq_bridge_connected", "gauge", "1 while connected to the broker.", nullptr, &Metrics::connected},
    {"shmq_bridge_broker_blocked", "gauge", "1 while the broker blocks this connection (connection.blocked: a memory or disk alarm).", nullptr, &Metrics::blocked},
};

} // namespace

std::string render(const std::vector<Metrics *> &all) {
    std::ostringstream s;
    for (const Family &f : kFamilies) {
        s << "# HELP " << f.name << ' ' << f.help << "\n# TYPE " << f.name << ' ' << f.type << '\n';
        for (const Metrics *m : all) {
            s << f.name << "{binding=\"" << m->binding << "\",direction=\"" << m->direction << "\"} ";
            if (f.counter) s << (m->*f.counter).load(std::memory_order_relaxed) << '\n';
            else if (f.scale == 1) s << (m->*f.gauge).load(std::memory_order_relaxed) << '\n';
            else s << double((m->*f.gauge).load(std::memory_order_relaxed)) * f.scale << '\n';
        }
    }
    return s.str();
}

bool write_status(const std::string &path, const std::vector<Metrics *> &all) {
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        if (!(f << render(all))) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

} // namespace bridge
