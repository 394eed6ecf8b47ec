// sim.hpp - the simulated world of the exploration harness.
//
// Simulated processes are fibers (ucontext) on one OS thread, each running
// real shmq code built with SHMQ_EXPLORE (lib/src/atomic.hpp): every access
// to shared memory, every spin and every futex call is a scheduling point,
// where a Scheduler decides who runs next or that the running process dies
// there, for good, as after SIGKILL. The clock is virtual; futex sleep is
// "blocked until woken" (a timeout fires only when nobody else can run), and
// process liveness comes from this table, so a crashed process reads as dead.
#pragma once

#include "atomic.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <ucontext.h>
#include <vector>

namespace explore {

enum class Status { Runnable, Blocked, Done, Crashed };

struct Proc {
    std::string name;
    int pid = 0;
    Status status = Status::Runnable;
    bool crashable = true;
    // Futex wait: the word's address, and when a timed wait gives up.
    const void *wait_addr = nullptr;
    int64_t wait_until = -1; // virtual ns; -1 = no timeout
    bool timed_out = false;
    std::function<void()> body;
    ucontext_t ctx{};
    std::vector<char> stack;
    uint64_t steps = 0;
};

// One choice at a scheduling point: run process `run` next, or kill the
// current process here (`crash`).
struct Choice {
    int run = -1;
    bool crash = false;
};

// What a scheduler sees at a decision point.
struct Point {
    int current;               // the process that reached the point (-1: none runs)
    bool current_enabled;      // it may go on
    std::vector<int> enabled;  // every process that may run, current included
    bool may_crash;            // the current process may be killed here
};

class Scheduler {
public:
    virtual ~Scheduler() = default;
    virtual Choice choose(const Point &pt) = 0;
};

class Sim {
public:
    // Processes of one execution. Bodies run when run() starts.
    int spawn(const std::string &name, std::function<void()> body, bool crashable = true);
    // Run until every process is done, crashed or deadlocked. `at_quiescence`
    // is called whenever no process can run; it may spawn processes (a
    // recoverer) and returns false to stop (a failure was found).
    using Quiescence = std::function<bool(Sim &)>;
    void run(Scheduler &s, const Quiescence &at_quiescence, uint64_t max_steps);
    void reset();

    std::vector<Proc> procs;
    int current = -1;
    int64_t now_ns = 1000000000000LL; // virtual CLOCK_MONOTONIC
    uint64_t steps = 0;
    uint64_t max_steps = 0;
    std::string failure; // set by the harness or by run() (step limit, deadlock)
    bool active = false;
    std::function<void()> on_step; // invariants checked after every step
    // With --verbose: name the shared-memory location of each access.
    std::function<std::string(const void *)> describe;
    bool verbose = false;
    // Shared futexes are keyed by the page, not the address: each process
    // maps the segment elsewhere, so a futex is named by its offset in the
    // mapping that holds it (one segment per execution).
    const void *canon(const void *addr) const;
    std::vector<std::pair<const char *, size_t>> mappings;
    // The segment file's flock (reboot.cpp): its holder's pid (0: none) and a
    // word its waiters sleep on. The kernel drops a dead holder's lock.
    int flock_holder = 0;
    uint32_t flock_word = 0;

    // Called from the shmq code through the SHMQ_EXPLORE hooks.
    void point(bool is_yield, const void *addr = nullptr, int kind = -1);
    bool futex_wait(const void *addr, uint32_t expected, int64_t timeout_ns);
    void futex_wake(const void *addr, int n);
    bool pid_alive(int pid) const;
    int self_pid() const { return current >= 0 ? procs[size_t(current)].pid : 1; }

private:
    void switch_to(int next);
    void schedule(bool is_yield, const void *addr = nullptr, int kind = -1);
    static void trampoline();
    ucontext_t main_{};
    Scheduler *sched_ = nullptr;
};

extern Sim g_sim;

} // namespace explore
