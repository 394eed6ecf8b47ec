// supervised.cpp - taking a queue under supervision (supervised.hpp): open its
// segment or create it from the config, lock it against other daemons, and
// open its two stores, reporting whatever damage they had on disk.
#include "supervised.hpp"

#include "redrive_send.hpp"
#include "store/names.hpp"
#include "segment.hpp"
#include "sys.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <spdlog/spdlog.h>

namespace shmqd {

namespace store = shmq::store;
using shmq::detail::Queue;

Watermarks watermarks(const QueueConfig &c, uint32_t slot_count) {
    Watermarks m;
    m.high = uint32_t(std::clamp(std::floor(c.spill_high_water * slot_count), 1.0, double(slot_count)));
    m.low = std::min(uint32_t(std::floor(c.spill_low_water * slot_count)), m.high - 1);
    m.mid = (m.low + m.high + 1) / 2;
    return m;
}

Watermarks group_watermarks(uint32_t backlog) {
    Watermarks m;
    m.high = std::max<uint32_t>(backlog, 1);
    m.low = m.high / 2;
    m.mid = (m.low + m.high + 1) / 2;
    return m;
}

namespace {

store::Fsync store_fsync(FsyncPolicy p) {
    switch (p) {
    case FsyncPolicy::Always: return store::Fsync::Always;
    case FsyncPolicy::Interval: return store::Fsync::Interval;
    case FsyncPolicy::Never: return store::Fsync::Never;
    }
    return store::Fsync::Always;
}

uint32_t max_record(const shmq_params &p) { return uint32_t(std::min<uint64_t>(uint64_t(p.slot_size) + 4096, 1u << 30)); }

// A memory queue's segment that outlived a reboot (its directory is on a
// real filesystem): never durable, refused by the core. Count what it held,
// then unlink it so that open_queue creates the queue again.
void drop_rebooted(const QueueConfig &cfg) {
    Queue *old = nullptr;
    uint64_t held = 0;
    if (Queue::inspect(cfg.name.c_str(), &old) == SHMQ_OK) {
        shmq_stats st{};
        st.struct_size = sizeof st;
        old->stats(&st);
        held = st.ready + st.leased + st.delayed + st.dead;
        delete old;
    }
    int rc = shmq_unlink(cfg.name.c_str());
    spdlog::warn("queue {}: its memory segment is from before a reboot (never durable): {}; {} messages dropped",
                 cfg.name, rc == SHMQ_OK ? "unlinked, creating it again" : shmq_strerror(rc), held);
}

int open_queue(const QueueConfig &cfg, Queue **q, bool *created) {
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    o.spin_ns = 0;
    *created = false;
    int rc = Queue::open(cfg.name.c_str(), &o, q);
    if (rc == SHMQ_EREBOOTED) {
        drop_rebooted(cfg);
        rc = Queue::open(cfg.name.c_str(), &o, q);
    }
    if (rc != SHMQ_ENOTFOUND) return rc;
    rc = Queue::create(cfg.name.c_str(), &cfg.params, &o, q);
    if (rc == SHMQ_EEXIST) return Queue::open(cfg.name.c_str(), &o, q); // a client made it first
    *created = rc == SHMQ_OK;
    return rc;
}

void warn_differences(const QueueConfig &cfg, const shmq_params &actual) {
    for (const std::string &key : param_differences(cfg.params, actual))
        spdlog::warn("queue {}: the segment has {} = {} but the config says {}; keeping the segment's "
                     "(re-create the queue to change it)",
                     cfg.name, key, param_value(actual, key), param_value(cfg.params, key));
}

void report(const std::string &what, const store::OpenReport &rep) {
    for (const std::string &p : rep.problems) spdlog::warn("{}: {}", what, p);
    if (rep.corrupt_skipped + rep.torn_bytes_truncated > 0)
        spdlog::warn("{}: {} records kept, {} corrupt regions skipped, {} torn bytes cut from the end", what,
                     rep.records, rep.corrupt_skipped, rep.torn_bytes_truncated);
}

// A store file refused for its header (not a log of ours) is moved aside and
// replaced by an empty one, so one bad file cannot stop a queue's supervision.
bool move_aside(int dirfd, const std::string &file, const std::string &what, const std::string &error) {
    std::string bad = file + ".bad-" + std::to_string(time(nullptr));
    if (renameat(dirfd, file.c_str(), dirfd, bad.c_str()) != 0) return false;
    spdlog::error("{}: {}; moved it aside as {} and starting an empty one", what, error, bad);
    return true;
}

int open_dlq(Supervised *s, int dirfd, std::string *why) {
    store::StoreOptions o{store_fsync(s->cfg.dlq_fsync), s->cfg.fsync_interval_ms, max_record(s->params), false};
    store::OpenReport rep;
    const std::string what = "queue " + s->cfg.name + ": dead-letter store";
    int rc = s->dlq.open(dirfd, s->cfg.name, o, &rep);
    if (rc == EPROTO && move_aside(dirfd, store::dlq_file(s->cfg.name), what, s->dlq.error()))
        rc = s->dlq.open(dirfd, s->cfg.name, o, &rep);
    if (rc != 0) {
        *why = what + ": " + s->dlq.error();
        return rc;
    }
    report(what, rep);
    s->dlq_head_check_ms = 0; // look for the oldest dead letter again
    return 0;
}

// The spill is synced by the loop after each batch when the policy is
// "always" (one fdatasync per batch, still before any slot is freed).
int open_spill(Supervised *s, int dirfd, std::string *why) {
    store::Fsync f = s->cfg.spill_fsync == FsyncPolicy::Always ? store::Fsync::Never : store_fsync(s->cfg.spill_fsync);
    store::SpillOptions o{f, s->cfg.fsync_interval_ms, max_record(s->params), s->cfg.spill_max_bytes};
    store::OpenReport rep;
    const std::string what = "queue " + s->cfg.name + ": spill store";
    int rc = s->spill.open(dirfd, s->cfg.name, o, &rep);
    if (rc == EPROTO && move_aside(dirfd, store::spill_file(s->cfg.name), what, s->spill.error()))
        rc = s->spill.open(dirfd, s->cfg.name, o, &rep);
    if (rc != 0) {
        *why = what + ": " + s->spill.error();
        return rc;
    }
    report(what, rep);
    if (s->spill.count() > 0) spdlog::info("{}: {} messages to refill", what, s->spill.count());
    return 0;
}

// 0, EIO if the core cannot open or create the segment (its error is in
// *why), or the lock's errno (EWOULDBLOCK: another shmqd supervises it).
// A DISK queue in a tmpfs directory is allowed (tests, containers), not durable.
void warn_not_durable(const std::string &name, Queue &q) {
    shmq_stats st{};
    st.struct_size = sizeof st;
    if (q.stats(&st) == SHMQ_OK && st.not_durable != 0)
        spdlog::warn("queue {}: durability disk, but not durable: {} is tmpfs (point SHMQ_DIR at a real filesystem)",
                     name, shmq::detail::segment_dir());
}

int take_segment(const QueueConfig &cfg, Supervised *s, std::string *why) {
    Queue *q = nullptr;
    bool created = false;
    int rc = open_queue(cfg, &q, &created);
    if (rc != SHMQ_OK) {
        *why = "queue " + cfg.name + ": cannot open or create its segment " +
               shmq::detail::segment_path(cfg.name.c_str()) + ": " + shmq_strerror(rc);
        return EIO;
    }
    s->q.reset(q);
    std::string lock_why;
    if (int lrc = s->segment_lock.acquire_existing(shmq::detail::segment_path(cfg.name.c_str()), &lock_why); lrc != 0) {
        *why = "queue " + cfg.name + ": already supervised by another shmqd (segment lock " + lock_why + ")";
        s->q.reset();
        return lrc;
    }
    q->params(&s->params);
    if (created) spdlog::info("queue {}: created ({} slots of {} bytes)", cfg.name, s->params.slot_count,
                              s->params.slot_size);
    else spdlog::info("queue {}: adopted the existing segment", cfg.name);
    if (!created) warn_differences(cfg, s->params);
    warn_not_durable(cfg.name, *q);
    return 0;
}

// A topic's configured groups, bound if they are not (SHMQ_EEXIST is fine:
// a restart, or bound by hand). 0, or EINVAL with *why.
int bind_groups(const QueueConfig &cfg, Queue &q, std::string *why) {
    for (const std::string &g : cfg.groups) {
        int rc = q.group_add(g.c_str());
        if (rc == SHMQ_OK) spdlog::info("topic {}: bound group {}", cfg.name, g);
        if (rc == SHMQ_OK || rc == SHMQ_EEXIST) continue;
        *why = "topic " + cfg.name + ": cannot bind group " + g + ": " + shmq_strerror(rc) +
               (rc == SHMQ_EINVAL ? " (the segment is a queue, not a topic: delete it to let shmqd create the topic)"
                : rc == SHMQ_EFULL ? " (the segment's max_groups are all bound)" : "");
        return EINVAL;
    }
    return 0;
}

// One entry per configured group: its group handle and dead-letter store.
int supervise_groups(Supervised *s, const StoreDirs &dirs, std::string *why) {
    for (const std::string &name : s->cfg.groups) {
        auto g = std::make_unique<Supervised>();
        g->cfg = s->cfg;
        g->cfg.name = group_store_name(s->cfg.name, name);
        g->topic = s->cfg.name;
        g->group = name;
        g->params = s->params;
        shmq_options o;
        shmq_options_init(&o);
        o.prefetch = 0;
        o.spin_ns = 0;
        Queue *q = nullptr;
        int rc = Queue::open_group(s->cfg.name.c_str(), name.c_str(), &o, &q);
        g->q.reset(q);
        if (rc != SHMQ_OK) {
            *why = "topic " + s->cfg.name + ": cannot open group " + name + ": " + shmq_strerror(rc);
            return EIO;
        }
        g->publisher = s->q.get();
        g->lane_mask = 1u << g->q->lane();
        GroupOptions opts = group_options(s->cfg, name);
        g->spills = opts.spill;
        g->marks = group_watermarks(opts.backlog);
        g->buf.reserve(g->params.slot_size);
        g->clients.resize(g->params.max_clients);
        g->stats.struct_size = sizeof(shmq_stats);
        if (int e = open_dlq(g.get(), dirs.dlq, why); e != 0) return e;
        if (int e = open_spill(g.get(), dirs.spill, why); e != 0) return e;
        s->groups.push_back(std::move(g));
    }
    return 0;
}

} // namespace

int supervise(const QueueConfig &cfg, const StoreDirs &dirs, Supervised *s, std::string *why) {
    s->cfg = cfg;
    if (int rc = take_segment(cfg, s, why); rc != 0) return rc;
    if (int rc = bind_groups(cfg, *s->q, why); rc != 0) {
        unsupervise(s);
        return rc;
    }
    s->marks = watermarks(cfg, s->params.slot_count);
    s->buf.reserve(s->params.slot_size);
    s->clients.resize(s->params.max_clients);
    s->stats.struct_size = sizeof(shmq_stats);
    s->q->set_spill_full(false); // a flag left by a daemon that died; set again if still true
    int rc = open_dlq(s, dirs.dlq, why);
    if (rc == 0) rc = open_spill(s, dirs.spill, why);
    if (rc == 0) rc = supervise_groups(s, dirs, why);
    if (rc != 0) unsupervise(s);
    return rc;
}

std::set<std::string> configured_store_names(const std::vector<QueueConfig> &queues) {
    std::set<std::string> out;
    for (const QueueConfig &q : queues) {
        out.insert(q.name);
        for (const std::string &g : q.groups) out.insert(group_store_name(q.name, g));
    }
    return out;
}

int supervise_orphan(const Supervised &topic, const std::string &group, const StoreDirs &dirs, Supervised *g,
                     std::string *why) {
    g->cfg = topic.cfg;
    g->cfg.name = group_store_name(topic.cfg.name, group);
    g->topic = topic.cfg.name;
    g->group = group;
    g->params = topic.params;
    g->buf.reserve(g->params.slot_size);
    return open_dlq(g, dirs.dlq, why);
}

int reopen_dlq(Supervised *s, int dirfd, std::string *why) {
    s->dlq.close();
    return open_dlq(s, dirfd, why);
}

int reopen_spill(Supervised *s, int dirfd, std::string *why) {
    s->spill.close();
    return open_spill(s, dirfd, why);
}

const char *store_error_kind(int err) {
    switch (err) {
    case ENOSPC: return "no_space";
    case EDQUOT: return "quota";
    case EFBIG: return "file_too_large";
    case EIO: return "io";
    case EROFS: return "read_only";
    case EACCES:
    case EPERM: return "permission";
    default: return "other";
    }
}

void store_failed(Supervised *s, StoreHealth *h, const char *what, int err, const std::string &error) {
    ++h->errors[store_error_kind(err)];
    if (!h->failing)
        spdlog::error("queue {}: {}: {}; retrying every second (logged again when it works)", s->cfg.name, what,
                      error);
    h->failing = true;
    h->ok = false;
    h->retry_ms = shmq::detail::mono_ns() / 1000000 + 1000;
}

void store_worked(Supervised *s, StoreHealth *h, const char *what) {
    if (!h->failing) return;
    spdlog::info("queue {}: {} works again", s->cfg.name, what);
    h->failing = false;
}

void unsupervise(Supervised *s) {
    for (auto &g : s->groups) unsupervise(g.get());
    s->groups.clear();
    for (auto &entry : s->orphans) unsupervise(entry.second.get());
    s->orphans.clear();
    if (!s->redrive.cursor.sent.empty() && redrive_commit(s->dlq, &s->redrive.cursor) != 0) // else sent twice later
        spdlog::error("queue {}: dead-letter store (redrive): {}", s->cfg.name, s->dlq.error());
    if (s->dlq.sync() != 0) spdlog::error("queue {}: dead-letter store: {}", s->cfg.name, s->dlq.error());
    if (s->spill.sync() != 0) spdlog::error("queue {}: spill store: {}", s->cfg.name, s->spill.error());
    s->dlq.close();
    s->spill.close();
    if (s->q) s->q->set_spill_full(false); // without a daemon, "spill" behaves as "block"
    s->q.reset(); // detaches from the segment
    s->segment_lock.release();
}

} // namespace shmqd
