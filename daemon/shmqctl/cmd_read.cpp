// cmd_read.cpp - the commands that only look: list, stat, peek (watch is in
// cmd_watch.cpp). They map queues without attaching, so they work on a full
// client table, with the daemon down, and never change what they show.
#include "cmd.hpp"

#include <iostream>
#include <map>

namespace shmqctl {

static const std::vector<std::string> kListColumns = {"name", "ready",   "spilled", "leased",   "delayed",
                                                      "dead", "clients", "oldest",  "enqueued", "acked"};

static std::map<std::string, std::string> list_row(const std::string &name, const shmq_stats &s) {
    return {{"name", name},
            {"ready", std::to_string(s.ready)},
            {"spilled", std::to_string(s.spilled)},
            {"leased", std::to_string(s.leased)},
            {"delayed", std::to_string(s.delayed)},
            {"dead", std::to_string(s.dead)},
            {"clients", std::to_string(s.clients)},
            {"oldest", format_age(s.oldest_ready_age_ns)},
            {"enqueued", std::to_string(s.enqueued)},
            {"acked", std::to_string(s.acked)}};
}

int cmd_list(const Output &out, std::vector<std::string> columns) {
    if (columns.empty()) columns = kListColumns;
    for (auto &c : columns)
        if (std::find(kListColumns.begin(), kListColumns.end(), c) == kListColumns.end())
            return fail_msg("list: unknown column '" + c + "'; columns: name ready spilled leased delayed dead clients "
                            "oldest enqueued acked", kUsage);
    nlohmann::json all = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    for (const std::string &name : queue_names()) {
        QueuePtr q;
        int rc = open_observer(name, &q);
        if (rc != SHMQ_OK) {
            std::cerr << "shmqctl: list: " << name << ": " << shmq_strerror(rc) << " (skipped)\n";
            continue;
        }
        shmq_stats s = read_stats(*q);
        auto row = list_row(name, s);
        std::vector<std::string> cells;
        for (auto &c : columns) cells.push_back(row[c]);
        rows.push_back(cells);
        nlohmann::json j = stats_json(s);
        j["name"] = name;
        all.push_back(j);
    }
    if (out.json) print_json(all);
    else print_table(columns, rows);
    return kOk;
}

static const char *role_name(uint32_t role) {
    if (role & 4) return "daemon";
    if ((role & 3) == 3) return "both";
    if (role & 1) return "producer";
    if (role & 2) return "consumer";
    return "idle";
}

static nlohmann::json client_json(const shmq_client_stats &c) {
    return {{"pid", c.pid},           {"role", role_name(c.role)}, {"alive", c.alive},
            {"leased", c.leased},     {"sleeping", c.sleeping}, {"prefetch", c.prefetch},    {"sent", c.sent},
            {"delivered", c.delivered}, {"acked", c.acked},        {"nacked", c.nacked},
            {"rejected", c.rejected}, {"attached_unix_seconds", double(c.attached_ns) / 1e9}};
}

static nlohmann::json params_json(const shmq_params &p) {
    static const char *jitter[] = {"none", "full", "equal"}, *overflow[] = {"block", "fail", "spill"};
    return {{"slot_size", p.slot_size},         {"slot_count", p.slot_count},
            {"max_clients", p.max_clients},     {"lease_ms", p.lease_ms},
            {"max_attempts", p.max_attempts},   {"backoff_base_ms", p.backoff_base_ms},
            {"backoff_cap_ms", p.backoff_cap_ms}, {"jitter", jitter[p.jitter % 3]},
            {"overflow", overflow[p.overflow % 3]}, {"mode", p.mode}};
}

static void print_stat_text(const std::string &name, const nlohmann::json &j) {
    std::cout << "queue " << name << "\n";
    for (auto &[k, v] : j["params"].items()) std::cout << "  " << k << " = " << v.dump() << "\n";
    for (auto &[k, v] : j["stats"].items()) std::cout << "  " << k << " = " << v.dump() << "\n";
    std::vector<std::vector<std::string>> rows;
    for (auto &c : j["clients"]) {
        int alive = c["alive"];
        rows.push_back({std::to_string(int(c["pid"])), c["role"], alive == 1 ? "alive" : alive == 0 ? "DEAD" : "?",
                        std::to_string(unsigned(c["leased"])), std::to_string(uint64_t(c["delivered"])),
                        std::to_string(uint64_t(c["acked"])), std::to_string(uint64_t(c["sent"]))});
    }
    std::cout << "clients:\n";
    print_table({"pid", "role", "state", "leased", "delivered", "acked", "sent"}, rows);
}

int cmd_stat(const Output &out, const std::string &name) {
    QueuePtr q;
    int rc = open_observer(name, &q);
    if (rc != SHMQ_OK) return fail("stat " + name, rc);
    std::vector<shmq_client_stats> clients;
    shmq_stats s = read_stats(*q, &clients);
    shmq_params p;
    q->params(&p);
    nlohmann::json j = {{"name", name}, {"params", params_json(p)}, {"stats", stats_json(s)}};
    j["clients"] = nlohmann::json::array();
    for (auto &c : clients) j["clients"].push_back(client_json(c));
    if (out.json) print_json(j);
    else print_stat_text(name, j);
    return kOk;
}

int cmd_peek(const Output &out, const std::string &name, uint32_t count) {
    QueuePtr q;
    int rc = open_observer(name, &q);
    if (rc != SHMQ_OK) return fail("peek " + name, rc);
    nlohmann::json all = nlohmann::json::array();
    q->peek(count, [&](const shmq::detail::MessageMeta &m, const void *data, uint32_t len) {
        std::string shown = render_payload(data, len, out.payload);
        if (out.json) all.push_back({{"id", m.id}, {"attempts", m.attempts}, {"size", len}, {"data", shown}});
        else std::cout << "#" << m.id << " attempts=" << m.attempts << " size=" << len << ": " << shown << "\n";
    });
    if (out.json) print_json(all);
    return kOk;
}

} // namespace shmqctl
