// reload.cpp - SIGHUP: read the config file again and apply what can change
// while running. Queue parameters stored in the segment (sizes, lease,
// attempts, backoff, overflow) cannot: each such change is logged as needing
// the queue to be re-created. New queues are created; queues removed from
// the file are let go, their segments and files left as they are.
#include "daemon.hpp"

#include "log.hpp"
#include "notify.hpp"
#include "sys.hpp"

#include <spdlog/spdlog.h>

namespace shmqd {

namespace {

bool same_store_options(const QueueConfig &a, const QueueConfig &b) {
    return a.dlq_fsync == b.dlq_fsync && a.spill_fsync == b.spill_fsync &&
           a.fsync_interval_ms == b.fsync_interval_ms && a.spill_max_bytes == b.spill_max_bytes;
}

void reopen_stores(Supervised *s, const StoreDirs &dirs) {
    std::string why;
    if (int rc = reopen_dlq(s, dirs.dlq, &why); rc != 0) store_failed(s, &s->dlq_health, "dead-letter store", rc, why);
    if (int rc = reopen_spill(s, dirs.spill, &why); rc != 0)
        store_failed(s, &s->spill_health, "spill store", rc, why);
}

} // namespace

void apply_policies(Supervised *s, const QueueConfig &cfg, const StoreDirs &dirs) {
    if (!s->q) { // its segment is being re-created (Daemon::ensure_segment): that uses cfg
        s->cfg = cfg;
        return;
    }
    for (const std::string &key : param_differences(cfg.params, s->params))
        spdlog::warn("queue {}: {} = {} in the config, but the segment has {}: needs queue re-creation "
                     "(shmq_unlink it while idle; shmqd creates it anew)",
                     cfg.name, key, param_value(cfg.params, key), param_value(s->params, key));
    bool stores = !same_store_options(cfg, s->cfg);
    s->cfg = cfg;
    s->marks = watermarks(cfg, s->params.slot_count);
    for (auto &g : s->groups) { // a group's backlog and overflow (a new group list needs a restart)
        GroupOptions o = group_options(cfg, g->group);
        g->spills = o.spill;
        g->marks = group_watermarks(o.backlog);
    }
    if (stores) {
        reopen_stores(s, dirs);
        spdlog::info("queue {}: store settings applied (dlq fsync {}, spill fsync {}, spill cap {} bytes)", cfg.name,
                     fsync_name(cfg.dlq_fsync), fsync_name(cfg.spill_fsync), cfg.spill_max_bytes);
    }
}

void Daemon::reload_daemon_settings(const DaemonConfig &next) {
    DaemonConfig &cur = cfg_.daemon;
    if (next.spill_dir != cur.spill_dir || next.dead_letter_dir != cur.dead_letter_dir)
        spdlog::warn("reload: daemon.spill_dir and daemon.dead_letter_dir change only at restart");
    if (next.metrics != cur.metrics || next.metrics_allow_remote != cur.metrics_allow_remote)
        spdlog::warn("reload: daemon.metrics changes only at restart");
    if (next.api_socket != cur.api_socket || next.api_tcp != cur.api_tcp ||
        next.api_socket_mode != cur.api_socket_mode || next.api_token_file != cur.api_token_file)
        spdlog::warn("reload: daemon.api_* change only at restart");
    cur.tick_ms = next.tick_ms;
    cur.log_level = next.log_level;
    set_log_level(opts_.log_level.empty() ? next.log_level : opts_.log_level);
}

void Daemon::reload_queues(const Config &next) {
    std::vector<std::unique_ptr<Supervised>> kept;
    for (auto &s : queues_) {
        const QueueConfig *qc = find_queue(next, s->cfg.name);
        if (qc != nullptr) {
            apply_policies(s.get(), *qc, dirs_);
            kept.push_back(std::move(s));
            continue;
        }
        spdlog::warn("queue {}: no longer in the config: no longer supervised (its segment and files are left alone)",
                     s->cfg.name);
        unsupervise(s.get());
    }
    queues_ = std::move(kept);
    for (const QueueConfig &qc : next.queues) {
        bool known = false;
        for (auto &s : queues_) known |= s->cfg.name == qc.name;
        if (known) continue;
        auto s = std::make_unique<Supervised>();
        std::string why;
        if (supervise(qc, dirs_, s.get(), &why) != 0) spdlog::error("reload: {}", why);
        else queues_.push_back(std::move(s));
    }
    cfg_.queues = next.queues;
    dirs_.configured = configured_store_names(cfg_.queues);
}

void Daemon::reload() {
    sd_notify(("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(shmq::detail::mono_ns() / 1000)).c_str());
    if (opts_.config_path.empty()) {
        spdlog::info("reload: running on the built-in default config; nothing to reload");
    } else {
        ConfigResult r = load_config(opts_.config_path);
        if (!r.ok()) {
            spdlog::error("reload: {}: {}; keeping the running configuration", opts_.config_path, r.error);
        } else {
            reload_daemon_settings(r.config.daemon);
            reload_queues(r.config);
            publish_queue_names();
            spdlog::info("reloaded {}: supervising {} queue(s)", opts_.config_path, queues_.size());
        }
    }
    sd_notify("READY=1");
}

} // namespace shmqd
