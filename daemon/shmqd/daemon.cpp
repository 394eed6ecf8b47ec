// daemon.cpp - shmqd's life (daemon.hpp): start, loop, stop. Every failure to
// start is one log line naming what and why, and exit code 1; once running,
// problems with one queue's files are logged and retried, never fatal.
#include "daemon.hpp"

#include "durable.hpp"
#include "store/fsutil.hpp"
#include "loop.hpp"
#include "notify.hpp"
#include "sys.hpp"

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmqd {

namespace {

int64_t now_ms() { return shmq::detail::mono_ns() / 1000000; }

// mkdir -p for the parents of `path` (the store creates the last part itself).
void make_parents(const std::string &path) {
    for (size_t i = path.find('/', 1); i != std::string::npos; i = path.find('/', i + 1))
        mkdir(path.substr(0, i).c_str(), 0700); // EEXIST and the like: open_dir reports what matters
}

bool open_store_dir(const std::string &path, shmq::store::Fd *fd, int *out) {
    make_parents(path);
    std::string why;
    if (int rc = shmq::store::open_dir(path, true, fd, &why); rc != 0) {
        spdlog::critical("{}: {}", why, strerror(rc));
        return false;
    }
    *out = fd->get();
    return true;
}

} // namespace

Daemon::Daemon(Config cfg, DaemonOptions opts) : cfg_(std::move(cfg)), opts_(std::move(opts)) {}

Daemon::~Daemon() {
    if (opts_.ready_fd >= 0) close(opts_.ready_fd);
}

bool Daemon::open_dirs() {
    return open_store_dir(cfg_.daemon.spill_dir, &spill_dir_, &dirs_.spill) &&
           open_store_dir(cfg_.daemon.dead_letter_dir, &dlq_dir_, &dirs_.dlq);
}

bool Daemon::lock_instance() {
    std::string path = cfg_.daemon.spill_dir + "/shmqd.lock", why;
    pid_t holder = -1;
    if (instance_.acquire_pidfile(path, &holder, &why) == 0) return true;
    if (holder > 0)
        spdlog::critical("another shmqd (pid {}) is already running with this configuration: {} is locked", holder,
                         path);
    else spdlog::critical("cannot take the instance lock {}: {}", path, why);
    return false;
}

bool Daemon::supervise_all() {
    dirs_.configured = configured_store_names(cfg_.queues);
    for (const QueueConfig &qc : cfg_.queues) {
        auto s = std::make_unique<Supervised>();
        std::string why;
        if (supervise(qc, dirs_, s.get(), &why) != 0) {
            spdlog::critical("{}", why);
            return false;
        }
        queues_.push_back(std::move(s));
    }
    return true;
}

bool Daemon::start() {
    if (!signals_.install()) {
        spdlog::critical("cannot set up signal handling: {}", strerror(errno));
        return false;
    }
    spdlog::info("shmqd {} starting (config {}, pid {})", SHMQD_VERSION, cfg_.source, getpid());
    board_.set_started(shmq::detail::real_ns());
    if (!open_dirs() || !lock_instance() || !supervise_all()) return false;
    for (auto &s : queues_) restore_queue(*s, dirs_.spill); // any queue: one may have left `reboot` since
    return start_metrics() && start_api();
}

// A queue whose segment was deleted under the daemon (shmqctl delete,
// shmq_unlink) is still in the config: create it again (or adopt one someone
// else created), keeping its counters; its dead letters and spill on disk stay
// and are refilled into the new segment. A failure is retried every second.
bool Daemon::ensure_segment(Supervised &s, int64_t now_ms) {
    if (s.q && !s.q->unlinked()) return true;
    if (s.q) {
        spdlog::warn("queue {}: its segment was deleted; creating it again from the config", s.cfg.name);
        unsupervise(&s);
        s.segment_retry_ms = 0;
    }
    if (now_ms < s.segment_retry_ms) return false;
    std::string why;
    s.spill_full = false;
    if (supervise(QueueConfig(s.cfg), dirs_, &s, &why) == 0) return true;
    spdlog::error("{}; trying again in a second", why);
    s.segment_retry_ms = now_ms + 1000;
    return false;
}

bool Daemon::tick_all() {
    int64_t t0 = shmq::detail::mono_ns();
    bool busy = false;
    for (auto &s : queues_)
        if (ensure_segment(*s, t0 / 1000000)) busy |= tick_queue(*s, dirs_, t0 / 1000000);
    board_.observe_tick(double(shmq::detail::mono_ns() - t0) / 1e9);
    publish();
    return busy;
}

void Daemon::publish() {
    std::vector<QueueSample> samples;
    samples.reserve(queues_.size());
    for (const auto &s : queues_) {
        samples.push_back(sample_queue(*s));
        for (const auto &g : s->groups) samples.push_back(sample_queue(*g));
    }
    board_.publish(std::move(samples));
}

void Daemon::announce_ready() {
    std::string status = "STATUS=supervising " + std::to_string(queues_.size()) + " queue(s)";
    sd_notify(("READY=1\n" + status + "\nMAINPID=" + std::to_string(getpid())).c_str());
    if (opts_.ready_fd >= 0) {
        char ok = 1;
        if (write(opts_.ready_fd, &ok, 1) != 1) spdlog::warn("could not tell the parent process we are ready");
        close(opts_.ready_fd);
        opts_.ready_fd = -1;
    }
    watchdog_ms_ = watchdog_interval_ms();
    spdlog::info("ready: supervising {} queue(s), tick {} ms", queues_.size(), cfg_.daemon.tick_ms);
}

void Daemon::loop() {
    for (;;) {
        int64_t start = now_ms();
        bool busy = tick_all();
        if (watchdog_ms_ > 0 && start >= next_watchdog_ms_) {
            sd_notify("WATCHDOG=1");
            next_watchdog_ms_ = start + int64_t(watchdog_ms_ / 2);
        }
        int64_t left = int64_t(cfg_.daemon.tick_ms) - (now_ms() - start);
        SignalEvent ev = signals_.wait(busy || left < 0 ? 0 : int(left));
        if (ev == SignalEvent::Stop) return;
        if (ev == SignalEvent::Reload) reload();
    }
}

// Snapshots of the `reboot` queues, once nothing of shmqd's own holds a lease.
bool Daemon::snapshot_all() {
    bool ok = true;
    for (auto &s : queues_)
        if (s->cfg.durability == Durability::Reboot) ok &= snapshot_queue(*s, dirs_.spill);
    return ok;
}

bool Daemon::stop() {
    sd_notify("STOPPING=1");
    spdlog::info("stopping: syncing stores");
    if (api_) api_->stopping();
    api_unix_.reset(); // stops it: no request runs on the API after this
    api_tcp_.reset();
    api_.reset(); // closes its handles: leases still held over HTTP go back to their queues
    if (metrics_) metrics_->stop();
    flusher_.stop();
    for (auto &s : queues_) // a last flush: what was sent until now is on disk
        if (s->q && s->params.durability == SHMQ_DURABILITY_DISK && s->q->flush() != SHMQ_OK)
            spdlog::error("queue {}: the last flush to disk failed", s->cfg.name);
    bool ok = snapshot_all();
    for (auto &s : queues_) unsupervise(s.get());
    queues_.clear();
    instance_.release();
    spdlog::info("stopped");
    return ok;
}

int Daemon::run() {
    if (!start()) {
        for (auto &s : queues_) unsupervise(s.get());
        return kExitFailure;
    }
    tick_all(); // the first recovery pass over every queue
    announce_ready();
    loop();
    return stop() ? kExitOk : kExitFailure;
}

} // namespace shmqd
