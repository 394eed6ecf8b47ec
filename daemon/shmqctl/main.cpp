// main.cpp - shmqctl, the operator's command line: argument parsing only;
// each command is a function in cmd_*.cpp. Exit codes: 0 ok, 1 usage,
// 2 queue not found, 3 queue cannot be opened (permission, version,
// corrupt), 4 nothing to receive, 5 other failure.
#include "cmd.hpp"
#include "config.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <optional>

namespace {

using namespace shmqctl;

struct Args {
    Output out;
    bool hex = false, raw = false;
    std::string queue, group, data = "-";
    std::vector<std::string> columns, headers;
    uint32_t count = 1;
    double interval = 1.0, timeout_s = 1.0, delay_s = 0, ttl_s = 0, dedup_window_s = 0;
    std::string dedup_key;
    bool no_ttl = false, sync = false;
    CLI::Option *send_ttl = nullptr, *send_dedup = nullptr; // given on the command line? (their defaults mean "none")
    std::optional<double> nack_ms; // unset: no --nack given (-1 is a value: the backoff)
    int watch_count = 0;
    bool ack = false, no_ack = false, fix = false, if_empty = false, force = false;
    std::string config, dlq_dir, dlq_cmd;
    std::string status_file = "/run/shmq-bridge/metrics.prom"; // shmq-bridge.service's RuntimeDirectory
    uint64_t id = 0;
    DlqFilter filter;
    RedriveArgs redrive;
    shmq_params params{};
    std::string jitter = "full", overflow = "block", durability = "memory";
    std::string mode = "0600";   // octal, with or without the leading 0
    CLI::Option *groups = nullptr; // create --groups given?
};

int64_t to_ns(double s) { return s < 0 ? SHMQ_FOREVER : int64_t(s * 1e9); }

// Out of int64_t's range stays out of shmq's: send refuses it (SHMQ_ERANGE / SHMQ_EINVAL).
int64_t delay_ns(double s) { return s * 1e9 >= 9e18 ? INT64_MAX : s * 1e9 <= -9e18 ? INT64_MIN : int64_t(s * 1e9); }

// A duration option in seconds that takes units: 10s, 500ms, 2h, 7d.
CLI::Option *add_duration(CLI::App *c, const char *name, double &to, const char *help) {
    return c->add_option(name, to, help)
        ->transform(CLI::AsNumberWithUnit(std::map<std::string, double>{{"ms", 1e-3}, {"s", 1}, {"m", 60},
                                                                        {"h", 3600}, {"d", 86400}}));
}

void add_create(CLI::App &app, Args &a) {
    shmq_params_init(&a.params);
    auto *c = app.add_subcommand("create", "create a queue, or with --groups a topic");
    c->add_option("queue", a.queue, "queue name")->required();
    a.groups = c->add_option("--groups", a.params.max_groups,
                  "a topic with room for this many consumer groups (1-" + std::to_string(SHMQ_MAX_GROUPS) +
                      "): each message sent goes to every group bound (`shmqctl group add`)");
    c->add_option("--slots", a.params.slot_count, "message slots")->capture_default_str();
    c->add_option("--slot-size", a.params.slot_size, "largest payload in bytes")->capture_default_str();
    c->add_option("--max-clients", a.params.max_clients, "clients attached at once")->capture_default_str();
    c->add_option("--lease", a.params.lease_ms, "default lease in ms")->capture_default_str();
    c->add_option("--max-attempts", a.params.max_attempts, "deliveries before dead-lettering")->capture_default_str();
    c->add_option("--backoff-base", a.params.backoff_base_ms, "first retry delay in ms")->capture_default_str();
    c->add_option("--backoff-cap", a.params.backoff_cap_ms, "largest retry delay in ms")->capture_default_str();
    c->add_option("--jitter", a.jitter, "none|full|equal")->check(CLI::IsMember({"none", "full", "equal"}));
    c->add_option("--overflow", a.overflow, "block|fail|spill")->check(CLI::IsMember({"block", "fail", "spill"}));
    c->add_option("--mode", a.mode, "file mode, 0600 or 0660 (octal: 600 and 660 read the same)");
    add_duration(c, "--ttl", a.ttl_s, "default time to live of a message: not leased within it, it is "
                                      "dead-lettered as expired: 10s, 500ms, 2h, 7d (0: none; at most 7d)");
    add_duration(c, "--dedup-window", a.dedup_window_s, "deduplication window: a send with a key already sent "
                                                        "within it stores nothing (0: off; at most 7d)");
    c->add_option("--dedup-capacity", a.params.dedup_capacity,
                  "keys the deduplication table holds (default 2 x slots, rounded up to a power of two)");
    c->add_option("--durability", a.durability,
                  "memory|reboot|disk: reboot needs --config naming shmqd's config that sets it; disk needs SHMQ_DIR on a "
                  "real filesystem (docs/durability.md)")
        ->check(CLI::IsMember({"memory", "reboot", "disk"}));
}

void add_message_commands(CLI::App &app, Args &a) {
    auto *s = app.add_subcommand("send", "send DATA, or one message per stdin line with '-'");
    s->add_option("queue", a.queue)->required();
    s->add_option("data", a.data, "the payload, or - for stdin lines");
    s->add_option("--timeout", a.timeout_s, "seconds to wait for room (-1: forever)");
    add_duration(s, "--delay", a.delay_s, "ready no earlier than this after it is stored: 10s, 500ms, 2h, 7d "
                                          "(a bare number is seconds; at most 14d)");
    a.send_ttl = add_duration(s, "--ttl", a.ttl_s, "dead-letter it as expired if not leased within this after it is "
                                                   "ready: > 0, at most 7d (default: the queue's ttl)");
    s->add_flag("--no-ttl", a.no_ttl, "it never expires, whatever the queue's ttl");
    s->add_option("--header", a.headers, "KEY=VALUE carried with each message (repeatable): keys 1-255 printable "
                                         "ASCII but '=', values UTF-8, at most 64 headers and 4096 bytes encoded")
        ->take_all()
        ->expected(1)
        ->allow_extra_args(false); // one KEY=VALUE per --header: never the queue and data after it
    s->add_flag("--sync", a.sync, "then wait until it is on disk (a disk queue; shmq_sync, within --timeout): "
                                  "exit 5 if that fails or times out, the messages being queued but not confirmed");
    a.send_dedup = s->add_option("--dedup-key", a.dedup_key, "deduplication key (1-128 bytes; the queue needs a --dedup-window): "
                                              "sent again within the window, nothing is stored");
    auto *r = app.add_subcommand("recv", "lease messages, print them, then ack (default), nack or leave them");
    r->add_option("queue", a.queue)->required();
    r->add_option("--count", a.count, "messages to receive");
    r->add_flag("--ack", a.ack, "ack each (the default)");
    r->add_option("--nack", a.nack_ms, "nack each with this delay in ms, 0 to 1209600000 (14 days; -1: the queue's backoff)");
    r->add_flag("--no-ack", a.no_ack, "neither: they go back to the queue when shmqctl exits (counts an attempt)");
    r->add_option("--timeout", a.timeout_s, "seconds to wait for the first message");
    auto *p = app.add_subcommand("peek", "show ready messages without leasing them");
    p->add_option("queue", a.queue)->required();
    p->add_option("--count", a.count, "messages to show");
    auto *g = app.add_subcommand("group", "a topic's consumer groups");
    g->require_subcommand(1);
    auto *ga = g->add_subcommand("add", "bind GROUP on TOPIC: it receives what is published from now on");
    ga->add_option("topic", a.queue)->required();
    ga->add_option("group", a.group)->required();
    auto *gr = g->add_subcommand("remove", "unbind GROUP from TOPIC: publishes stop including it; with --force "
                                           "its messages become dead letters (reason group_removed)");
    gr->add_option("topic", a.queue)->required();
    gr->add_option("group", a.group)->required();
    gr->add_flag("--force", a.force, "remove it even while it holds messages (without: refused, exit 5)");
}

// peek, recv, purge and stat take a topic's consumer group.
void add_group_option(CLI::App &app, Args &a) {
    for (const char *name : {"peek", "recv", "purge", "stat"})
        app.get_subcommand(name)->add_option("--group", a.group, "this consumer group of the topic QUEUE");
}

void add_dlq(CLI::App &app, Args &a) {
    auto *d = app.add_subcommand("dlq", "dead letters: list, export, show, redrive, status, cancel, purge");
    d->require_subcommand(1);
    auto *l = d->add_subcommand("list", "list a queue's dead letters");
    l->add_option("queue", a.queue)->required();
    auto *e = d->add_subcommand("export", "a queue's dead letters as JSON lines, payload included (--hex: as hex)");
    e->add_option("queue", a.queue)->required();
    for (CLI::App *c : {l, e}) {
        c->add_option("--reason", a.filter.reason, "only this reason: max_attempts rejected expired invalid group_removed bridge_rejected");
        c->add_option("--older-than", a.filter.older_than_s, "only those dead for at least this many seconds");
        c->add_option("--newer-than", a.filter.newer_than_s, "only those dead for at most this many seconds");
        c->add_option("--skip", a.filter.skip, "skip this many (after filtering)");
        c->add_option("--limit", a.filter.limit, "show at most this many (0: all)");
    }
    auto *s = d->add_subcommand("show", "show one dead letter");
    s->add_option("queue", a.queue)->required();
    s->add_option("id", a.id)->required();
    auto *r = d->add_subcommand("redrive", "put dead letters back into the queue as fresh deliveries");
    r->add_option("queue", a.queue)->required();
    r->add_option("--id", a.redrive.ids, "only these ids (repeatable)");
    r->add_option("--rate", a.redrive.rate, "messages per second");
    r->add_option("--to", a.redrive.to, "into this queue instead of their own");
    r->add_flag("--no-wait", a.redrive.no_wait, "with shmqd running: return once it has the request");
    r->add_option("--timeout", a.redrive.timeout_s, "with shmqd running: seconds to wait for it to finish");
    d->add_subcommand("status", "a redrive's progress (pending request, shmqd's last report)")
        ->add_option("queue", a.queue)
        ->required();
    d->add_subcommand("cancel", "cancel a pending redrive or purge")->add_option("queue", a.queue)->required();
    auto *p = d->add_subcommand("purge", "delete a queue's dead letters (through shmqd when it runs)");
    p->add_option("queue", a.queue)->required();
    for (CLI::App *c : d->get_subcommands([](CLI::App *) { return true; }))
        c->add_option("--group", a.group, "the dead letters of this consumer group of the topic QUEUE");
}

void add_commands(CLI::App &app, Args &a) {
    add_dlq(app, a);
    auto *l = app.add_subcommand("list", "a table of queues, and of topics with a row per consumer group");
    l->add_option("columns", a.columns,
                  "columns: name kind ready spilled leased delayed dead lag clients oldest enqueued acked");
    for (const char *name : {"stat", "purge", "delete", "recover"})
        app.add_subcommand(name, std::string(name) + " a queue")->add_option("queue", a.queue)->required();
    app.get_subcommand("delete")->add_flag("--if-empty", a.if_empty, "refuse (exit 5) if the queue holds messages");
    auto *w = app.add_subcommand("watch", "a live view of QUEUE, one line per interval; without QUEUE, every queue");
    w->add_option("queue", a.queue, "the queue (default: a screen of every queue, by backlog)");
    w->add_option("--interval", a.interval, "seconds between lines");
    w->add_option("--count", a.watch_count, "stop after this many lines (0: never)");
    app.add_subcommand("bridge", "shmq-bridge's bindings: connected, forwarded, settled, in flight, backlog")
        ->add_option("--status-file", a.status_file, "the bridge's [status] file")
        ->capture_default_str();
    app.add_subcommand("doctor", "check /dev/shm and every queue, and say what to do")
        ->add_flag("--fix", a.fix, "remove what is provably stale");
    add_create(app, a);
    add_message_commands(app, a);
    add_group_option(app, a);
}

// Seconds as whole ms, rounded up (past float noise: 1100ms stays 1100), at
// least 1 when above 0: a ttl or window given is never read as 0 ("none").
uint32_t whole_ms(double s) { return s > 0 ? std::max<uint32_t>(1, uint32_t(std::ceil(s * 1000 - 1e-6))) : 0; }

int apply_create(Args &a) {
    a.params.jitter = a.jitter == "none" ? SHMQ_JITTER_NONE : a.jitter == "equal" ? SHMQ_JITTER_EQUAL : SHMQ_JITTER_FULL;
    a.params.overflow =
        a.overflow == "fail" ? SHMQ_OVERFLOW_FAIL : a.overflow == "spill" ? SHMQ_OVERFLOW_SPILL : SHMQ_OVERFLOW_BLOCK;
    char *end = nullptr;
    unsigned long mode = std::strtoul(a.mode.c_str(), &end, 8);
    if (a.mode.empty() || *end != '\0' || (mode != 0600 && mode != 0660))
        return fail_msg("create: --mode takes 0600 or 0660 (octal), not '" + a.mode + "'", kUsage);
    a.params.mode = uint32_t(mode);
    if (a.groups->count() > 0 && a.params.max_groups == 0)
        return fail_msg("create: --groups must be 1-" + std::to_string(SHMQ_MAX_GROUPS) +
                            " (without --groups: a queue)", kUsage);
    if (!(a.ttl_s >= 0 && a.ttl_s * 1e9 <= double(SHMQ_MAX_TTL_NS)))
        return fail_msg("create: --ttl must be between 0 and 7d", kUsage);
    a.params.ttl_ms = whole_ms(a.ttl_s);
    if (!(a.dedup_window_s >= 0 && a.dedup_window_s * 1000 <= double(SHMQ_MAX_DEDUP_WINDOW_MS)))
        return fail_msg("create: --dedup-window must be between 0 and 7d", kUsage);
    a.params.dedup_window_ms = whole_ms(a.dedup_window_s);
    return cmd_create(a.out, a.queue, a.params, a.durability, a.config);
}

int run_dlq(const std::string &sub, Args &a) {
    std::string dir = dead_letter_dir(a.config, a.dlq_dir);
    if (!a.group.empty()) { // a group's dead letters are kept as TOPIC.GROUP (shmqd's config refuses collisions)
        if (shmq_name_check(a.queue.c_str()) != SHMQ_OK) return fail("dlq " + sub + " " + a.queue, SHMQ_EBADNAME);
        if (shmq_name_check(a.group.c_str()) != SHMQ_OK)
            return fail_msg("dlq " + sub + ": bad group name '" + a.group + "'. Names are 1-64 of [A-Za-z0-9._-].",
                            kUsage);
        a.redrive.topic = a.queue;
        a.redrive.group = a.group;
        a.queue = shmqd::group_store_name(a.queue, a.group);
    } else if (int e = check_group_spelling(sub, a.queue); e != kOk) {
        return e;
    }
    if (sub == "list") return cmd_dlq_list(a.out, dir, a.queue, a.filter);
    if (sub == "export") return cmd_dlq_export(a.out, dir, a.queue, a.filter);
    if (sub == "show") return cmd_dlq_show(a.out, dir, a.queue, a.id);
    if (sub == "purge") return cmd_dlq_purge(a.out, dir, a.queue);
    if (sub == "status") return cmd_dlq_status(a.out, dir, a.queue);
    if (sub == "cancel") return cmd_dlq_cancel(a.out, dir, a.queue);
    return cmd_dlq_redrive(a.out, dir, a.queue, a.redrive);
}

int run_recv(const Args &a) {
    if (int(a.ack) + int(a.no_ack) + int(a.nack_ms.has_value()) > 1)
        return fail_msg("recv: give at most one of --ack, --nack and --no-ack", kUsage);
    RecvAction act = a.no_ack ? RecvAction::NoAck : a.nack_ms ? RecvAction::Nack : RecvAction::Ack;
    if (a.count == 0) return fail_msg("recv: --count must be at least 1", kUsage); // was "recv Q: success.", exit 5
    if (std::isnan(a.timeout_s)) return fail_msg("recv: --timeout takes seconds (-1: forever)", kUsage);
    double ms = a.nack_ms.value_or(-1);
    // Checked before the cast: a NaN or a delay past int64 nanoseconds used to
    // become the queue's backoff, a retry at once where a long delay was asked.
    if (!(ms == -1 || (ms >= 0 && ms * 1e6 <= double(SHMQ_MAX_DELAY_NS))))
        return fail_msg("recv: --nack takes -1 (the queue's backoff) or a delay of 0 to 1209600000 ms (14 days)",
                        kUsage);
    return cmd_recv(a.out, a.queue, a.group, a.count, act, ms < 0 ? -1 : int64_t(ms * 1e6), to_ns(a.timeout_s));
}

// send: an option whose default means "none" is refused when given that value
// explicitly (--ttl 0 would silently mean the queue's ttl, --dedup-key "" no key).
int send(Args &a) {
    if (a.send_dedup->count() > 0 && a.dedup_key.empty())
        return fail_msg("send: --dedup-key must not be empty (1-128 bytes)", kUsage);
    if (a.no_ttl && a.send_ttl->count() > 0) return fail_msg("send: give --ttl or --no-ttl, not both", kUsage);
    int64_t ttl_ns = a.ttl_s > 0 ? std::max<int64_t>(1, delay_ns(a.ttl_s)) : 0; // below 1 ns: 1 ns, never "none"
    if (a.send_ttl->count() > 0 && !(a.ttl_s > 0))
        return fail_msg("send: --ttl must be > 0 (--no-ttl: never expires; without --ttl: the queue's)", kUsage);
    if (a.no_ttl) ttl_ns = SHMQ_TTL_NEVER;
    if (std::isnan(a.timeout_s)) return fail_msg("send: --timeout takes seconds (-1: forever)", kUsage);
    return cmd_send(a.out, a.queue, a.data, to_ns(a.timeout_s), delay_ns(a.delay_s), ttl_ns, a.headers, a.dedup_key, a.sync);
}

int run(const std::string &cmd, Args &a) {
    if (cmd == "list") return cmd_list(a.out, a.columns);
    if (cmd == "stat") return cmd_stat(a.out, a.queue, a.group, a.config);
    if (cmd == "watch") return cmd_watch(a.out, a.queue, a.interval, a.watch_count);
    if (cmd == "peek") return cmd_peek(a.out, a.queue, a.group, a.count);
    if (cmd == "create") return apply_create(a);
    if (cmd == "delete") return cmd_delete(a.out, a.queue, a.if_empty);
    if (cmd == "send") return send(a);
    if (cmd == "purge") return cmd_purge(a.out, a.queue, a.group);
    if (cmd == "group") return cmd_group_add(a.out, a.queue, a.group);
    if (cmd == "recover") return cmd_recover(a.out, a.queue);
    if (cmd == "doctor") return cmd_doctor(a.out, a.fix);
    if (cmd == "bridge") return cmd_bridge(a.out, a.status_file);
    return run_recv(a);
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"shmqctl: inspect and operate shmq queues (segments in $SHMQ_DIR or /dev/shm)"};
    app.footer("Exit codes: 0 ok, 1 usage, 2 queue not found, 3 cannot open (permission, version, corrupt), "
               "4 nothing received, 5 other failure (doctor: errors found), 6 doctor: warnings only.");
    Args a;
    app.add_flag("--json", a.out.json, "machine-readable output");
    app.add_flag("--hex", a.hex, "show payloads as hex");
    app.add_flag("--raw", a.raw, "write payloads as they are");
    app.add_option("--config", a.config, "shmqd's config file: its dead-letter directory, a queue's durability");
    app.add_option("--dlq-dir", a.dlq_dir, "the dead-letter directory (overrides --config)");
    app.require_subcommand(1);
    app.fallthrough(); // global flags (--json ...) may follow the command
    add_commands(app, a);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::ParseError &e) {
        app.exit(e);
        return kUsage;
    }
    a.out.payload = a.raw ? Output::Payload::Raw : a.hex ? Output::Payload::Hex : Output::Payload::Escaped;
    CLI::App *cmd = app.get_subcommands().front();
    if (cmd->get_name() == "dlq") return run_dlq(cmd->get_subcommands().front()->get_name(), a);
    if (cmd->get_name() == "group" && cmd->get_subcommands().front()->get_name() == "remove")
        return cmd_group_remove(a.out, a.queue, a.group, a.force);
    return run(cmd->get_name(), a);
}
