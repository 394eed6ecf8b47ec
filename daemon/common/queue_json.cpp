// queue_json.cpp - see queue_json.hpp.
#include "queue_json.hpp"

#include <cstring>

#include <algorithm>
#include <memory>
#include <string_view>

namespace shmqd {

namespace {

const char *role_name(uint32_t role) {
    const uint32_t both = SHMQ_ROLE_SENDER | SHMQ_ROLE_RECEIVER;
    if (role & SHMQ_ROLE_DAEMON) return "daemon";
    if ((role & both) == both) return "both";
    if (role & SHMQ_ROLE_SENDER) return "producer";
    if (role & SHMQ_ROLE_RECEIVER) return "consumer";
    return "idle";
}

nlohmann::json client_json(const shmq_client_stats &c) {
    return {{"pid", c.pid},           {"role", role_name(c.role)}, {"alive", c.alive},
            {"leased", c.leased},     {"sleeping", c.sleeping}, {"prefetch", c.prefetch},    {"sent", c.sent},
            {"delivered", c.delivered}, {"acked", c.acked},        {"nacked", c.nacked},
            {"rejected", c.rejected}, {"attached_unix_seconds", double(c.attached_ns) / 1e9}};
}

nlohmann::json params_json(const shmq_params &p) {
    const char *jitter[] = {"none", "full", "equal"}, *overflow[] = {"block", "fail", "spill"};
    return {{"slot_size", p.slot_size},         {"slot_count", p.slot_count},
            {"max_clients", p.max_clients},     {"lease_ms", p.lease_ms},
            {"max_attempts", p.max_attempts},   {"backoff_base_ms", p.backoff_base_ms},
            {"backoff_cap_ms", p.backoff_cap_ms}, {"jitter", jitter[p.jitter % 3]},
            {"overflow", overflow[p.overflow % 3]}, {"mode", p.mode},
            {"ttl_ms", p.ttl_ms},             {"max_groups", p.max_groups},
            {"dedup_window_ms", p.dedup_window_ms}, {"dedup_capacity", p.dedup_capacity}};
}

// A DISK queue's flushes and rebuilds (docs/durability.md).
nlohmann::json disk_json(const shmq_stats &s) {
    return {{"not_durable", s.not_durable != 0},
            {"flushes", s.flushes},
            {"last_flush_unix_seconds",
             s.last_flush_ns == 0 ? nlohmann::json(nullptr) : nlohmann::json(double(s.last_flush_ns) / 1e9)},
            {"last_flush_seconds", double(s.last_flush_duration_ns) / 1e9},
            {"flush_error", s.flush_error == 0 ? nlohmann::json(nullptr) : nlohmann::json(strerror(s.flush_error))},
            {"quarantined", s.quarantined},
            {"durable_lag", s.durable_lag}};
}

} // namespace

shmq_stats read_stats(shmq::detail::Queue &q, std::vector<shmq_client_stats> *clients) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    if (clients != nullptr) {
        clients->resize(q.layout().max_clients);
        s.client = clients->data();
        s.client_cap = clients->size();
    }
    q.stats(&s);
    if (clients != nullptr) clients->resize(std::min<size_t>(s.clients, clients->size()));
    return s;
}

nlohmann::json stats_json(const shmq_stats &s) {
    return {{"slots", s.slot_count},
            {"free", s.free},
            {"writing", s.writing},
            {"ready", s.ready},
            {"spilled", s.spilled},
            {"leased", s.leased},
            {"delayed", s.delayed},
            {"dead", s.dead},
            {"oldest_ready_age_seconds", double(s.oldest_ready_age_ns) / 1e9},
            {"enqueued", s.enqueued},
            {"delivered", s.delivered},
            {"acked", s.acked},
            {"nacked", s.nacked},
            {"rejected", s.rejected},
            {"redelivered", s.redelivered},
            {"reclaimed", s.reclaimed},
            {"dead_lettered", s.dead_lettered},
            {"expired", s.expired},
            {"clients", s.clients},
            {"daemon_heartbeat_age_seconds",
             s.daemon_heartbeat_age_ns < 0 ? nlohmann::json(nullptr)
                                          : nlohmann::json(double(s.daemon_heartbeat_age_ns) / 1e9)}};
}

int queue_stat_json(const std::string &name, nlohmann::json *out, const char *durability) {
    shmq::detail::Queue *raw = nullptr;
    int rc = shmq::detail::Queue::inspect(name.c_str(), &raw);
    std::unique_ptr<shmq::detail::Queue> q(raw);
    if (rc != SHMQ_OK) return rc;
    *out = stat_json(*q, name, durability);
    return SHMQ_OK;
}

nlohmann::json stat_json(shmq::detail::Queue &q, const std::string &name, const char *durability) {
    std::vector<shmq_client_stats> clients;
    shmq_stats s = read_stats(q, &clients);
    shmq_params p;
    q.params(&p);
    // The segment's own mode wins: `disk` is chosen at create, so a config
    // that says disk for a memory segment did not take (shmqd logs it).
    const bool disk = p.durability == SHMQ_DURABILITY_DISK;
    if (disk) durability = "disk";
    else if (durability != nullptr && std::string_view(durability) == "disk") durability = "memory";
    nlohmann::json j = {{"name", name},
                        {"kind", p.max_groups > 0 ? "topic" : "queue"},
                        {"durability", durability ? nlohmann::json(durability) : nlohmann::json(nullptr)},
                        {"params", params_json(p)},
                        {"stats", stats_json(s)}};
    if (disk) j["disk"] = disk_json(s);
    j["clients"] = nlohmann::json::array();
    for (auto &c : clients) j["clients"].push_back(client_json(c));
    return j;
}

} // namespace shmqd
