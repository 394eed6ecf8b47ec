// harness.hpp - the multi-process plumbing every benchmark shares.
// Shared anonymous mappings carry results from forked children back to the parent,
// a Gate starts children together, Children forks and reaps them with a deadline
// (a failed or hung child becomes an error, never a hang), and Summary turns raw
// nanosecond samples into percentiles.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bench {

using Json = nlohmann::ordered_json;

// CLOCK_MONOTONIC in nanoseconds.
int64_t now_ns();

// Spin-wait hint for busy loops.
inline void cpu_relax() { __builtin_ia32_pause(); }

// Throws std::runtime_error with `what` and strerror(errno).
[[noreturn]] void throw_errno(const std::string &what);

// A MAP_SHARED | MAP_ANONYMOUS mapping: made in the parent before fork, it is the
// same memory in every child. Zero-filled.
class SharedMem {
  public:
    explicit SharedMem(size_t bytes);
    ~SharedMem();
    SharedMem(const SharedMem &) = delete;
    SharedMem &operator=(const SharedMem &) = delete;
    void *data() const { return ptr_; }
    size_t size() const { return size_; }
    template <class T> T *as() const { return static_cast<T *>(ptr_); }

  private:
    void *ptr_;
    size_t size_;
};

// Start line for `n` processes: each calls arrive(); the last one opens the gate and
// stamps the start time. Lives in a SharedMem.
struct Gate {
    std::atomic<uint32_t> arrived{0};
    std::atomic<uint32_t> open{0};
    std::atomic<int64_t> start_ns{0};
    // Blocks (yielding, since cores are few) until all `n` arrived; returns start time.
    int64_t arrive(uint32_t n);
};

// Forked children of one benchmark. A child runs a function and exits 0, or 1 if
// it threw (the message goes to stderr). The destructor SIGKILLs and reaps any
// child still running.
class Children {
  public:
    Children() = default;
    ~Children();
    Children(const Children &) = delete;
    Children &operator=(const Children &) = delete;
    pid_t spawn(const std::function<void()> &fn);
    // Waits for every child up to `timeout_s`. Throws if one failed or the
    // deadline passed (the others are killed first).
    void wait_all(double timeout_s);
    // Waits for one child to end (any way); returns its wait status.
    int wait_one(pid_t pid, double timeout_s);

  private:
    void kill_all();
    std::vector<pid_t> pids_;
};

// One CPU-bound process (a spinning loop) beside a measurement, from
// construction until destruction (SIGKILLed and reaped then): the "busy
// neighbour" a sidecar meets on a loaded host.
class BusyNeighbour {
  public:
    BusyNeighbour();

  private:
    Children kids_;
};

// Percentiles of a set of nanosecond samples.
struct Summary {
    size_t count = 0;
    double mean = 0;
    int64_t min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;
};
// Sorts `samples` in place.
Summary summarize(std::vector<int64_t> &samples);
Json to_json(const Summary &s);
// Percentile curve of sorted samples for plotting: [[p, value_ns], ...] at
// 0, 50, 75, 90, 95, 99, 99.5, 99.9, ... up to the maximum.
Json percentile_curve(const std::vector<int64_t> &sorted);

// Benchmark-wide settings chosen on the command line.
struct Config {
    bool short_mode = false;
    std::string out_dir = "bench/results";
    std::string only;         // comma-separated suites to run (empty: all)
    std::string variant;      // comma-separated transports to run (empty: all)
    size_t pingpong_rounds = 300000;
    size_t warmup_rounds = 20000;
    double pingpong_budget_s = 15; // per variant: stop early after this
    double throughput_s = 1.0;   // per run
    size_t throughput_reps = 3;  // runs per variant; the median is reported
    double size_point_s = 0.25;  // per (transport, size) point
    size_t size_rounds = 5000;   // ping-pong rounds per size point
    double scaling_s = 1.0;      // per producers x consumers cell
    size_t depth_iters = 500000;
    double fixed_rate_s = 2.0;
    double fixed_rate_hz = 100000;
    size_t recovery_trials = 50;
    double quiet_wait_s = 10;    // per variant, see wait_for_quiet (0: do not wait)
};

// CPU time spent on the whole machine versus by this program (itself and its
// reaped children), to tell how much other work ran during a suite.
struct CpuSnapshot {
    int64_t wall_ns = 0;
    double busy_s = 0;  // all CPUs, /proc/stat user+nice+system+irq+softirq
    double steal_s = 0; // time the hypervisor ran something else
    double ours_s = 0;  // getrusage(SELF) + getrusage(CHILDREN)
    static CpuSnapshot take();
};
// {"other_cpu_s", "other_cpu_share" (of all CPUs' time), "steal_s"} between a and b.
Json interference(const CpuSnapshot &a, const CpuSnapshot &b);

// Waits (up to max_s) until other processes use under 5% of the machine's CPU
// over a 200 ms window; returns the seconds waited. On a shared machine this
// keeps a compiler run from landing in the middle of a measurement.
double wait_for_quiet(double max_s);

// A unique name per run and call: "bench.<pid>.<n>".
std::string unique_name();

// Names to unlink if the parent is interrupted; each transport registers its own.
void cleanup_register(void (*fn)(const char *), const std::string &name);
void cleanup_unregister(const std::string &name);
void cleanup_install_signal_handlers();
// Children to SIGKILL if the parent is interrupted (Children keeps this up to date).
void cleanup_track_child(pid_t pid, bool running);

} // namespace bench
