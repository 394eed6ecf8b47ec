// daemon.hpp - shmqd as a whole: the instance lock, the supervised queues,
// the metrics endpoint, and the loop that ticks them until SIGTERM.
//
// Start-up order matters: signals are blocked before any thread exists, the
// lock is taken before any queue is touched, and READY=1 goes to systemd only
// after one full recovery pass over every queue.
#pragma once

#include "config.hpp"
#include "flusher.hpp"
#include "store/fsutil.hpp"
#include "lockfile.hpp"
#include "metrics.hpp"
#include "api.hpp"
#include "http_server.hpp"
#include "signals.hpp"
#include "supervised.hpp"

#include <memory>
#include <string>
#include <vector>

namespace shmqd {

// Exit codes of shmqd.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1; // could not start (lock held, queue unusable, port taken, ...), or a snapshot failed at stop
constexpr int kExitConfig = 2;  // bad command line or configuration

struct DaemonOptions {
    std::string config_path;      // empty: the built-in default config
    std::string log_level;        // from --log-level: wins over the config's, also on reload
    int ready_fd = -1;            // gets one byte once ready (see daemonize.hpp)
};

class Daemon {
public:
    Daemon(Config cfg, DaemonOptions opts);
    ~Daemon();
    Daemon(const Daemon &) = delete;
    Daemon &operator=(const Daemon &) = delete;
    // Start, run until SIGTERM/SIGINT, stop. Returns the exit code.
    int run();

private:
    bool start();
    bool open_dirs();
    bool lock_instance();
    bool supervise_all();
    bool start_metrics();
    HttpLimits http_limits() const;
    bool start_api();
    bool serve_api(std::unique_ptr<HttpServer> *server, int fd, const std::string &where);
    void publish_queue_names();
    bool tick_all();
    bool ensure_segment(Supervised &s, int64_t now_ms);
    void publish();
    void loop();
    void reload();
    void reload_daemon_settings(const DaemonConfig &next);
    void reload_queues(const Config &next);
    bool snapshot_all();
    bool stop();
    void announce_ready();

    Config cfg_;
    DaemonOptions opts_;
    Signals signals_;
    shmq::store::Fd spill_dir_, dlq_dir_;
    StoreDirs dirs_;
    FileLock instance_;
    std::vector<std::unique_ptr<Supervised>> queues_;
    MetricsBoard board_;
    std::unique_ptr<HttpServer> metrics_;
    std::unique_ptr<Api> api_;                       // outlives the two servers below
    std::unique_ptr<HttpServer> api_unix_, api_tcp_; // the API on the Unix socket, on loopback TCP
    Flusher flusher_; // DISK queues, every flush_ms, off the tick (flusher.hpp)
    uint64_t watchdog_ms_ = 0;
    int64_t next_watchdog_ms_ = 0;
};

} // namespace shmqd
