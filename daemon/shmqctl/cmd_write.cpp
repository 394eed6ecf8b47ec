// cmd_write.cpp - the commands that change a queue: create, delete, send,
// recv, purge, recover. They attach as a client, like any producer or consumer.
#include "cmd.hpp"

#include "headers_json.hpp"

#include <iostream>
#include <vector>

namespace shmqctl {

// `disk` is the segment's own mode (shmq_params.durability); `reboot` is
// shmqd's (its config says which queues it snapshots at stop), so shmqctl
// checks the config agrees rather than promise what no one will do.
static int check_durability(const std::string &name, const std::string &durability, const std::string &config) {
    if (durability == "memory" || durability == "disk") return kOk;
    std::string configured;
    if (int e = config_durability(config, name, &configured); e != kOk) return e;
    if (configured == "reboot") return kOk;
    return fail_msg("create " + name + ": durability \"reboot\" is kept by shmqd, which snapshots the queues of its "
                    "config at a clean stop: set durability = \"reboot\" under [queues." + name + "] in its config " +
                    "and pass it with --config" + (config.empty() ? "" : " (" + config + " says \"" + configured + "\")"),
                    kUsage);
}

int cmd_create(const Output &out, const std::string &name, const shmq_params &p, const std::string &durability,
               const std::string &config) {
    if (int e = check_durability(name, durability, config); e != kOk) return e;
    // shmq_create refuses these with a bare SHMQ_EINVAL: say which flags.
    if (p.dedup_capacity != 0 && p.dedup_window_ms == 0)
        return fail_msg("create " + name + ": --dedup-capacity needs --dedup-window (without a window deduplication is "
                        "off, so no send could use the table)", kUsage);
    if (p.overflow == SHMQ_OVERFLOW_SPILL && p.slot_count < 2)
        return fail_msg("create " + name + ": --overflow spill needs --slots 2 or more (shmqd spills above a mark "
                        "below the slot count, and one slot has none)", kUsage);
    shmq_params want = p;
    want.durability = durability == "disk" ? SHMQ_DURABILITY_DISK : SHMQ_DURABILITY_MEMORY;
    shmq::detail::Queue *q = nullptr;
    int rc = shmq::detail::Queue::create(name.c_str(), &want, nullptr, &q);
    shmq_stats st{};
    st.struct_size = sizeof st;
    if (rc == SHMQ_OK && q->stats(&st) == SHMQ_OK && st.not_durable != 0)
        std::cerr << "shmqctl: warning: create " << name << ": not durable: " << shmq::detail::segment_dir()
                  << " is tmpfs (point SHMQ_DIR at a real filesystem)\n";
    delete q;
    if (rc != SHMQ_OK) return fail("create " + name, rc);
    std::string groups = p.max_groups ? ", room for " + std::to_string(p.max_groups) + " groups" : "";
    print_result(out,
                 {{"created", name}, {"slots", p.slot_count}, {"slot_size", p.slot_size}, {"durability", durability},
                  {"max_groups", p.max_groups}},
                 "created " + std::string(p.max_groups ? "topic " : "") + name + " (" + std::to_string(p.slot_count) +
                     " slots of " + std::to_string(p.slot_size) + " bytes" + groups + ")");
    return kOk;
}

// Messages anywhere: in a slot (any state but free) or spilled to disk.
static uint64_t messages_in(const shmq_stats &s) {
    return s.writing + s.ready + s.leased + s.delayed + s.dead + s.spilled;
}

int cmd_delete(const Output &out, const std::string &name, bool if_empty) {
    if (if_empty) { // checked, then deleted: a message sent in between goes with it
        QueuePtr q;
        if (int rc = open_observer(name, &q); rc != SHMQ_OK) return fail("delete " + name, rc);
        shmq_stats s = read_stats(*q);
        if (uint64_t n = messages_in(s); n > 0)
            return fail_msg("delete " + name + ": not empty: " + std::to_string(n) + " messages (ready " +
                                std::to_string(s.ready) + ", leased " + std::to_string(s.leased) + ", delayed " +
                                std::to_string(s.delayed) + ", dead " + std::to_string(s.dead) + ", spilled " +
                                std::to_string(s.spilled) + "); kept. Without --if-empty, delete drops them.",
                            kFailed);
    }
    int rc = shmq_unlink(name.c_str());
    if (rc != SHMQ_OK) return fail("delete " + name, rc);
    print_result(out, {{"deleted", name}}, "deleted " + name);
    return kOk;
}

// "k=v" arguments of --header as pairs pointing into `kv` (split in place).
static int split_headers(std::vector<std::string> &kv, std::vector<shmq_header> *out) {
    for (std::string &s : kv) {
        size_t eq = s.find('=');
        if (eq == std::string::npos)
            return fail_msg("send: --header " + s + ": want KEY=VALUE", kUsage);
        s[eq] = '\0';
        out->push_back(shmq_header{s.c_str(), s.c_str() + eq + 1});
    }
    return kOk;
}

int cmd_send(const Output &out, const std::string &name, const std::string &data, int64_t timeout_ns,
             int64_t delay_ns, int64_t ttl_ns, std::vector<std::string> headers, const std::string &dedup_key,
             bool sync) {
    if (sync && timeout_ns == 0) return fail_msg("send: --sync needs a --timeout other than 0 to wait in", kUsage);
    shmq_send_opts opts;
    shmq_send_opts_init(&opts);
    opts.delay_ns = delay_ns;
    opts.ttl_ns = ttl_ns;
    uint8_t duplicate = 0;
    if (!dedup_key.empty()) {
        if (data == "-") return fail_msg("send: --dedup-key names one message: give DATA, not '-'", kUsage);
        if (dedup_key.size() > SHMQ_MAX_DEDUP_KEY) return fail_msg("send: --dedup-key: at most 128 bytes", kUsage);
        opts.dedup_key = dedup_key.data();
        opts.dedup_key_len = dedup_key.size();
        opts.duplicate_out = &duplicate;
    }
    std::vector<shmq_header> pairs;
    if (int e = split_headers(headers, &pairs); e != kOk) return e;
    opts.headers = pairs.data();
    opts.header_count = pairs.size();
    shmq::detail::SendSpec spec;
    int rc = shmq::detail::read_send_opts(&opts, &spec);
    if (rc != SHMQ_OK)
        return fail("send " + name + ": --delay / --ttl / --header (keys: 1-255 printable ASCII but '=', unique; "
                    "values UTF-8; at most 64, 4096 bytes encoded)", rc);
    QueuePtr q;
    if ((rc = open_attached(name, &q)) != SHMQ_OK) return fail("send " + name, rc);
    std::vector<uint64_t> ids;
    auto send_one = [&](const std::string &m) {
        uint64_t id = 0;
        int r = q->send(m.data(), m.size(), timeout_ns, spec, &id);
        if (r == SHMQ_OK) ids.push_back(id);
        return r;
    };
    if (data == "-") {
        for (std::string line; std::getline(std::cin, line);)
            if ((rc = send_one(line)) != SHMQ_OK) break;
    } else {
        rc = send_one(data);
    }
    if (rc != SHMQ_OK) return fail("send " + name + " (after " + std::to_string(ids.size()) + " sent)", rc);
    // --sync: one sync for every line sent (group commit), as SHMQ_SEND_SYNC
    // does per call. On a failure the messages are stored, not confirmed.
    if (sync && (rc = q->sync(timeout_ns)) != SHMQ_OK) {
        std::cerr << "shmqctl: send " << name << ": " << ids.size() << " sent and queued, NOT confirmed on disk: "
                  << shmq_strerror(rc) << "\n";
        return kFailed; // not kNothing (a timeout's): something was sent
    }
    if (duplicate != 0) { // nothing stored: the key's first message has this id
        if (out.json) print_json({{"queue", name}, {"sent", 0}, {"ids", ids}, {"duplicate", true}});
        else std::cerr << "duplicate of id " << ids[0] << " (key sent within the window): nothing stored\n";
        return kOk;
    }
    if (out.json) print_json({{"queue", name}, {"sent", ids.size()}, {"ids", ids}, {"synced", sync}});
    else if (ids.size() == 1) std::cerr << "sent 1 (id " << ids[0] << ")\n";
    else std::cerr << "sent " << ids.size() << "\n";
    return kOk;
}

static int finish(shmq::detail::Queue &q, shmq_msg &m, RecvAction act, int64_t nack_ns) {
    switch (act) {
    case RecvAction::Ack: return q.ack(&m);
    case RecvAction::Nack: return q.nack(&m, nack_ns);
    case RecvAction::NoAck: return SHMQ_OK; // given back when we detach, as a nack
    }
    return SHMQ_OK;
}

int cmd_recv(const Output &out, const std::string &name, const std::string &group, uint32_t count, RecvAction act,
             int64_t nack_ns, int64_t timeout_ns) {
    QueuePtr q;
    if (int e = open_target("recv " + name, name, group, true, &q); e != kOk) return e;
    int rc = SHMQ_OK;
    nlohmann::json all = nlohmann::json::array();
    uint32_t got = 0;
    for (; got < count; ++got) {
        shmq_msg m;
        if ((rc = q->recv(&m, timeout_ns)) != SHMQ_OK) break;
        std::string shown = render_payload(m.data, m.len, out.payload);
        const void *hdrs = nullptr;
        size_t hlen = 0;
        if (out.json && q->msg_headers(&m, &hdrs, &hlen) != SHMQ_OK) hlen = SIZE_MAX; // shown as null
        if (out.json)
            all.push_back({{"id", m.id}, {"attempt", m.attempt}, {"size", m.len}, {"data", shown},
                           {"headers", hlen == SIZE_MAX ? nlohmann::json(nullptr) : shmqd::headers_json(hdrs, hlen)}});
        else std::cout << (out.payload == Output::Payload::Raw ? shown : "#" + std::to_string(m.id) + " attempt=" +
                                                                             std::to_string(m.attempt) + ": " + shown)
                       << "\n";
        if ((rc = finish(*q, m, act, nack_ns)) != SHMQ_OK) return fail("recv " + name + ": finishing", rc);
    }
    if (out.json) print_json(all);
    if (got == 0) return fail("recv " + name, rc);
    return kOk;
}

int cmd_purge(const Output &out, const std::string &name, const std::string &group) {
    QueuePtr q;
    if (int e = open_target("purge " + name, name, group, true, &q); e != kOk) return e;
    uint64_t n = q->purge();
    std::string from = group.empty() ? name : "group " + group + " of " + name;
    nlohmann::json j = {{"queue", name}, {"purged", n}};
    if (!group.empty()) j["group"] = group;
    print_result(out, j,
                 "purged " + std::to_string(n) + " messages from " + from + " (leased ones are left to their consumers)");
    return kOk;
}

// SHMQ_EFULL from group_add: no free lane. A removed group keeps its lane
// until its last message ends (leased ones with their consumers, dead
// letters once shmqd takes them), so say which lanes are only draining.
static int group_add_full(const std::string &topic, const std::string &group, shmq::detail::Queue &t) {
    std::string removing;
    for (uint32_t k = 0; k < t.layout().groups; ++k)
        if (std::string n = t.lane_name(k, true); !n.empty() && t.lane_name(k).empty())
            removing += (removing.empty() ? "" : ", ") + n;
    std::string lanes = std::to_string(t.layout().groups);
    if (removing.empty())
        return fail_msg("group add " + topic + ": all " + lanes +
                            " groups of the topic are bound (its max_groups; recreate it with more --groups)", kFailed);
    return fail_msg("group add " + topic + ": no free lane for group '" + group + "': of the topic's " + lanes +
                        " lanes, removed groups still hold some (" + removing + ": `removing` in `shmqctl list`) "
                        "until their last message ends: leased ones with their consumers, dead letters once shmqd "
                        "moves them to its store (is it running?). Bind again after that",
                    kFailed);
}

int cmd_group_add(const Output &out, const std::string &topic, const std::string &group) {
    QueuePtr q;
    int rc = open_attached(topic, &q);
    if (rc != SHMQ_OK) return fail("group add " + topic, rc);
    if (!q->topic())
        return fail_msg("group add " + topic + ": " + topic + " is a queue, not a topic (create one with "
                        "`shmqctl create NAME --groups N`)", kUsage);
    rc = q->group_add(group.c_str());
    if (rc == SHMQ_EEXIST) return fail_msg("group add " + topic + ": group '" + group + "' is bound already", kFailed);
    if (rc == SHMQ_EFULL) return group_add_full(topic, group, *q);
    if (rc != SHMQ_OK) return fail("group add " + topic + " " + group, rc);
    print_result(out, {{"topic", topic}, {"group", group}, {"added", true}},
                 "bound group " + group + " on topic " + topic + " (it receives what is published from now on)");
    return kOk;
}

int cmd_group_remove(const Output &out, const std::string &topic, const std::string &group, bool force) {
    const std::string what = "group remove " + topic;
    if (shmq_name_check(group.c_str()) != SHMQ_OK)
        return fail_msg(what + ": bad group name '" + group + "'. Names are 1-64 of [A-Za-z0-9._-].", kUsage);
    QueuePtr q;
    int rc = open_attached(topic, &q);
    if (rc != SHMQ_OK) return fail(what, rc);
    if (!q->topic()) return fail_msg(what + ": " + topic + " is a queue, not a topic", kUsage);
    rc = q->group_remove(group.c_str(), force);
    if (rc == SHMQ_ENOTFOUND) return fail_msg(what + ": topic " + topic + " has no group '" + group + "'", kNotFound);
    if (rc == SHMQ_EBUSY)
        return fail_msg(what + ": group '" + group + "' still holds messages; kept (--force makes them dead letters, "
                        "reason group_removed)", kFailed);
    if (rc != SHMQ_OK) return fail(what + " " + group, rc);
    print_result(out, {{"topic", topic}, {"group", group}, {"removed", true}, {"forced", force}},
                 "removed group " + group + " from topic " + topic +
                     (force ? " (what it held goes to its dead letters, TOPIC.GROUP, through shmqd)" : ""));
    return kOk;
}

int cmd_recover(const Output &out, const std::string &name) {
    QueuePtr q;
    int rc = open_attached(name, &q);
    if (rc != SHMQ_OK) return fail("recover " + name, rc);
    shmq_recovery r{};
    q->recover(&r);
    nlohmann::json j = {{"dead_clients", r.dead_clients},         {"leases_reclaimed", r.leases_reclaimed},
                        {"writes_reclaimed", r.writes_reclaimed}, {"delayed_promoted", r.delayed_promoted},
                        {"dead_lettered", r.dead_lettered},       {"republished", r.republished}};
    if (out.json) {
        print_json(j);
    } else {
        std::cout << "recovered " << name << ":";
        for (auto &[k, v] : j.items()) std::cout << " " << k << "=" << v.dump();
        std::cout << "\n";
    }
    return kOk;
}

} // namespace shmqctl
