// harness.hpp - running shmqd as a real process in tests: a private directory
// per test (config, spill and dead-letter stores, the daemon's log), spawning
// the binary, waiting for conditions with deadlines (never sleeping as
// synchronisation), and reading its metrics over HTTP.
#pragma once

#include "shmq/shmq.h"
#include "store/dead_letters.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dtest {

using namespace std::chrono_literals;

// Poll `cond` every millisecond or so until it holds or `timeout` passes.
bool eventually(const std::function<bool()> &cond, std::chrono::milliseconds timeout = 10s);

// A temporary directory for config, stores and logs, plus a private segment
// directory under /dev/shm that becomes $SHMQ_DIR (for this process and the
// daemons it starts) while it exists; both are removed at destruction.
// With `segments` false there is no segment directory and $SHMQ_DIR stays.
struct TempDir {
    explicit TempDir(bool segments = true);
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::string path;
    std::string shm;
    std::string file(const std::string &name) const { return path + "/" + name; }
    void write(const std::string &name, const std::string &text) const;
    std::string read(const std::string &name) const;

private:
    std::string old_shmq_dir_;
};

// The [daemon] table every test config starts with: stores in `dir`, metrics
// on a port the kernel picks, a 5 ms tick.
std::string daemon_section(const TempDir &dir);

// A queue table with small test-friendly defaults, plus `extra` lines.
std::string queue_section(const std::string &name, const std::string &extra = "");

enum class Binary { Normal, Testing }; // Testing: crash points compiled in

class Shmqd {
public:
    // Runs `shmqd --config <dir>/shmqd.toml --foreground` (plus `args`) with the
    // environment of this process plus `env` ("NAME=value"); stdout and
    // stderr go to <dir>/shmqd.<n>.log.
    Shmqd(const TempDir &dir, Binary bin = Binary::Normal, std::vector<std::string> env = {},
          std::vector<std::string> args = {});
    ~Shmqd(); // SIGKILLs it if still running
    Shmqd(const Shmqd &) = delete;
    Shmqd &operator=(const Shmqd &) = delete;

    // Until the log says "ready" (false if it exited or the deadline passed).
    bool wait_ready(std::chrono::milliseconds timeout = 10s);
    // Exit code, -signal, or INT32_MIN if it did not exit in time.
    int wait_exit(std::chrono::milliseconds timeout = 10s);
    int stop(); // SIGTERM, then wait_exit()
    void signal(int sig);
    bool running();
    std::string log() const;
    bool log_has(const std::string &text) const { return log().find(text) != std::string::npos; }
    int metrics_port() const; // from the "metrics on http://..." log line; -1 if none yet
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int status_ = 0;
    bool exited_ = false;
    std::string log_path_;
};

// Run the binary to completion (for bad-config and lock tests): exit code,
// with everything it printed in *output; INT_MIN (and SIGKILL) if it is
// still running after 20 s.
int run_shmqd(const std::vector<std::string> &args, std::string *output, Binary bin = Binary::Normal);

// GET `path` from 127.0.0.1:port. Returns the status code (-1 on failure) and
// the body in *body.
int http_get(int port, const std::string &path, std::string *body);
// The value of the sample `series` (a name with its labels exactly as
// rendered, e.g. shmq_queue_messages_ready{queue="q"}) in Prometheus text, or
// NaN if it is not there.
double metric(const std::string &text, const std::string &series);

// Open an existing queue with prefetch 0 and no spinning (null on failure).
shmq_queue *open_queue(const std::string &name);
shmq_stats stats_of(shmq_queue *q);
// Every record of a queue's dead-letter store under dir/dlq, read without a
// lock (as shmqctl does while shmqd runs); empty if there is none.
std::vector<shmq::store::DeadLetterInfo> dead_letters(const TempDir &dir, const std::string &queue);

} // namespace dtest
