// cmd_read.cpp - the commands that only look: list, stat, peek (watch is in
// cmd_watch.cpp). They map queues without attaching, so they work on a full
// client table, with the daemon down, and never change what they show.
#include "cmd.hpp"

#include "headers_json.hpp"

#include <iostream>
#include <map>

namespace shmqctl {

static const std::vector<std::string> kListColumns = {"name",    "kind",   "ready",    "spilled", "leased", "delayed",
                                                      "dead",    "lag",    "clients",  "oldest",  "enqueued", "acked"};

static std::map<std::string, std::string> list_row(const std::string &name, uint32_t max_groups, const shmq_stats &s) {
    return {{"name", name},
            {"kind", max_groups ? "topic" : "queue"},
            {"ready", std::to_string(s.ready)},
            {"spilled", std::to_string(s.spilled)},
            {"leased", std::to_string(s.leased)},
            {"delayed", std::to_string(s.delayed)},
            {"dead", std::to_string(s.dead)},
            {"lag", "-"},
            {"clients", std::to_string(s.clients)},
            {"oldest", format_age(s.oldest_ready_age_ns)},
            {"enqueued", std::to_string(s.enqueued)},
            {"acked", std::to_string(s.acked)}};
}

// One consumer group of a topic, from its lane's words. Lag: the messages
// published to the group that it has not finished (acked or dead-lettered)
// and that are in the segment: ready + leased + delayed. A group spilled by
// shmqd holds the rest on disk (its `spilled` metric; the topic's row sums them).
struct GroupRow {
    std::string name;
    bool removing = false;
    shmq_stats s{};
    uint64_t lag() const { return s.ready + s.leased + s.delayed; }
};

static std::vector<GroupRow> group_rows(shmq::detail::Queue &t) {
    std::vector<GroupRow> rows;
    for (uint32_t k = 0; k < t.layout().groups; ++k) {
        GroupRow g;
        g.name = t.lane_name(k, true);
        shmq::detail::Queue *lane = t.lane_view(k);
        if (g.name.empty() || lane == nullptr) continue;
        g.removing = t.lane_name(k).empty(); // named, but no longer bound
        g.s.struct_size = sizeof g.s;
        if (lane->stats(&g.s) != SHMQ_OK) continue;
        rows.push_back(g);
    }
    return rows;
}

static std::map<std::string, std::string> group_cells(const std::string &topic, const GroupRow &g) {
    return {{"name", topic + "/" + g.name},
            {"kind", g.removing ? "removing" : "group"},
            {"ready", std::to_string(g.s.ready)},
            {"spilled", "-"},
            {"leased", std::to_string(g.s.leased)},
            {"delayed", std::to_string(g.s.delayed)},
            {"dead", std::to_string(g.s.dead)},
            {"lag", std::to_string(g.lag())},
            {"clients", "-"},
            {"oldest", format_age(g.s.oldest_ready_age_ns)},
            {"enqueued", "-"},
            {"acked", "-"}};
}

static nlohmann::json group_json(const GroupRow &g) {
    return {{"name", g.name},         {"state", g.removing ? "removing" : "bound"},
            {"ready", g.s.ready},     {"leased", g.s.leased},
            {"delayed", g.s.delayed}, {"dead", g.s.dead},
            {"lag", g.lag()},         {"oldest_ready_age_ns", g.s.oldest_ready_age_ns}};
}

static std::vector<std::string> pick(const std::vector<std::string> &columns, std::map<std::string, std::string> row) {
    std::vector<std::string> cells;
    for (auto &c : columns) cells.push_back(row[c]);
    return cells;
}

int cmd_list(const Output &out, std::vector<std::string> columns) {
    if (columns.empty()) columns = kListColumns;
    for (auto &c : columns)
        if (std::find(kListColumns.begin(), kListColumns.end(), c) == kListColumns.end())
            return fail_msg("list: unknown column '" + c + "'; columns: name kind ready spilled leased delayed dead lag "
                            "clients oldest enqueued acked", kUsage);
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
        uint32_t groups = q->layout().groups;
        auto row = list_row(name, groups, s);
        rows.push_back(pick(columns, row));
        nlohmann::json j = stats_json(s);
        j["name"] = name;
        j["kind"] = row["kind"];
        j["max_groups"] = groups;
        if (groups > 0) {
            j["groups"] = nlohmann::json::array();
            for (const GroupRow &g : group_rows(*q)) {
                rows.push_back(pick(columns, group_cells(name, g)));
                j["groups"].push_back(group_json(g));
            }
        }
        all.push_back(j);
    }
    if (out.json) print_json(all);
    else print_table(columns, rows);
    return kOk;
}

static void print_stat_text(const std::string &name, const nlohmann::json &j) {
    std::cout << j["kind"].get<std::string>() << " " << name;
    if (j.contains("group")) std::cout << " group " << j["group"].get<std::string>();
    std::cout << "\n";
    if (j["durability"].is_null()) std::cout << "  durability = unknown (shmqd's config sets it: pass --config FILE)\n";
    else std::cout << "  durability = " << j["durability"].dump() << "\n";
    for (auto &[k, v] : j["params"].items()) std::cout << "  " << k << " = " << v.dump() << "\n";
    for (auto &[k, v] : j["stats"].items()) std::cout << "  " << k << " = " << v.dump() << "\n";
    if (j.contains("disk")) {
        if (j["disk"]["not_durable"].get<bool>()) std::cout << "  NOT DURABLE: its directory is tmpfs\n";
        for (auto &[k, v] : j["disk"].items())
            if (k != "not_durable") std::cout << "  " << k << " = " << v.dump() << "\n";
    }
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

int cmd_stat(const Output &out, const std::string &name, const std::string &group, const std::string &config) {
    std::string durability;
    if (int e = config_durability(config, name, &durability); e != kOk) return e;
    nlohmann::json j;
    const char *dur = durability.empty() ? nullptr : durability.c_str();
    if (group.empty()) {
        if (int rc = shmqd::queue_stat_json(name, &j, dur); rc != SHMQ_OK) return fail("stat " + name, rc);
    } else {
        QueuePtr q; // a group's figures need a group handle: it attaches, and shows among the clients
        if (int e = open_target("stat " + name, name, group, true, &q); e != kOk) return e;
        j = shmqd::stat_json(*q, name, dur);
        j["group"] = group;
    }
    if (out.json) print_json(j);
    else print_stat_text(name, j);
    return kOk;
}

int cmd_peek(const Output &out, const std::string &name, const std::string &group, uint32_t count) {
    QueuePtr q;
    if (int e = open_target("peek " + name, name, group, false, &q); e != kOk) return e;
    nlohmann::json all = nlohmann::json::array();
    q->peek(count, [&](const shmq::detail::MessageMeta &m, const void *data, uint32_t len) {
        std::string shown = render_payload(data, len, out.payload);
        const char *hdrs = static_cast<const char *>(data) + len; // the header block follows the payload
        if (out.json)
            all.push_back({{"id", m.id}, {"attempts", m.attempts}, {"size", len}, {"data", shown},
                           {"headers", shmqd::headers_json(hdrs, m.headers_len)}});
        else std::cout << "#" << m.id << " attempts=" << m.attempts << " size=" << len << ": " << shown << "\n";
    });
    if (out.json) print_json(all);
    return kOk;
}

} // namespace shmqctl
