// sim.cpp - fibers, virtual time, futexes and liveness for the exploration
// harness (sim.hpp), and the SHMQ_EXPLORE hooks the core calls.
#include "sim.hpp"

#include <climits>

#include "sys.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace explore {

Sim g_sim;

namespace {
constexpr size_t kStack = 256 * 1024;
constexpr int64_t kStepNs = 100; // virtual time per scheduling point
// Thrown into no one: a crashed fiber is simply never resumed.
} // namespace

int Sim::spawn(const std::string &name, std::function<void()> body, bool crashable) {
    Proc p;
    p.name = name;
    p.pid = 1000 + int(procs.size());
    p.crashable = crashable;
    p.body = std::move(body);
    p.stack.resize(kStack);
    if (procs.size() == procs.capacity()) abort(); // would move live contexts
    procs.push_back(std::move(p));
    int id = int(procs.size()) - 1;
    Proc &q = procs.back();
    getcontext(&q.ctx);
    q.ctx.uc_stack.ss_sp = q.stack.data();
    q.ctx.uc_stack.ss_size = q.stack.size();
    q.ctx.uc_link = &main_;
    makecontext(&q.ctx, &Sim::trampoline, 0);
    return id;
}

void Sim::trampoline() {
    Proc &p = g_sim.procs[size_t(g_sim.current)];
    p.body();
    p.status = Status::Done;
    // uc_link returns to main_, which picks the next process.
}

void Sim::reset() {
    procs.clear();
    procs.reserve(64); // contexts must not move: a ucontext points into itself
    current = -1;
    steps = 0;
    failure.clear();
    now_ns = 1000000000000LL;
    flock_holder = 0;
}

void Sim::switch_to(int next) {
    int prev = current;
    current = next;
    if (prev == next) return;
    ucontext_t *from = prev >= 0 ? &procs[size_t(prev)].ctx : &main_;
    // std::vector may move Proc objects when a process is spawned, but the
    // harness spawns only from main_ (at quiescence), never from a fiber.
    swapcontext(from, next >= 0 ? &procs[size_t(next)].ctx : &main_);
}

// Called by the running fiber at a scheduling point.
void Sim::schedule(bool is_yield, const void *addr, int kind) {
    Proc &me = procs[size_t(current)];
    if (verbose) {
        static const char *kinds[] = {"read", "write", "rmw"};
        fprintf(stderr, "%6llu %-12s %-6s %s\n", (unsigned long long)steps, me.name.c_str(),
                is_yield ? "spin" : kind >= 0 ? kinds[kind] : "futex",
                addr != nullptr && describe ? describe(addr).c_str() : "");
    }
    ++steps;
    ++me.steps;
    now_ns += kStepNs;
    if (steps > max_steps) {
        if (failure.empty()) failure = "step limit: a process spins forever (a dead or blocked process blocks others?)";
        me.status = Status::Crashed; // stop everything: main_ reports it
        switch_to(-1);
        return;
    }
    if (on_step) on_step();
    static Point pt; // reused: no allocation per step
    pt.enabled.clear();
    pt.current = current;
    pt.current_enabled = me.status == Status::Runnable;
    for (size_t i = 0; i < procs.size(); ++i)
        if (procs[i].status == Status::Runnable) pt.enabled.push_back(int(i));
    pt.may_crash = me.crashable && me.status == Status::Runnable;
    if (is_yield && pt.enabled.size() > 1) {
        // A spinning process waits for another: run someone else (a spin
        // that changes nothing needs no interleaving of its own).
        pt.current_enabled = false;
        pt.enabled.erase(std::find(pt.enabled.begin(), pt.enabled.end(), current));
    }
    if (pt.enabled.empty()) {
        switch_to(-1); // blocked: back to main_, which handles quiescence
        return;
    }
    Choice c = sched_->choose(pt);
    if (c.crash) {
        me.status = Status::Crashed;
        switch_to(-1);
        return;
    }
    switch_to(c.run);
}

void Sim::point(bool is_yield, const void *addr, int kind) {
    if (!active || current < 0) return;
    schedule(is_yield, addr, kind);
}

bool Sim::futex_wait(const void *addr, uint32_t expected, int64_t timeout_ns) {
    if (!active || current < 0) return false;
    schedule(false, addr, -1); // the call itself is a point; the check-and-sleep is atomic
    uint32_t v;
    std::memcpy(&v, addr, sizeof v);
    if (v != expected) return false;
    Proc &me = procs[size_t(current)];
    me.status = Status::Blocked;
    me.wait_addr = canon(addr);
    me.wait_until = timeout_ns < 0 ? -1 : now_ns + timeout_ns;
    me.timed_out = false;
    schedule(false);
    return procs[size_t(current)].timed_out;
}

void Sim::futex_wake(const void *addr, int n) {
    if (!active) return;
    addr = canon(addr);
    for (auto &p : procs) {
        if (n <= 0) break;
        if (p.status == Status::Blocked && p.wait_addr == addr) {
            p.status = Status::Runnable;
            p.wait_addr = nullptr;
            --n;
        }
    }
}

const void *Sim::canon(const void *addr) const {
    const char *a = static_cast<const char *>(addr);
    for (auto &[base, size] : mappings)
        if (a >= base && a < base + size) return reinterpret_cast<const void *>(uintptr_t(a - base) + 1);
    return addr;
}

bool Sim::pid_alive(int pid) const {
    for (auto &p : procs)
        if (p.pid == pid) return p.status != Status::Crashed && p.status != Status::Done;
    return pid == 1; // the harness itself (setup and final checks)
}

void Sim::run(Scheduler &s, const Quiescence &at_quiescence, uint64_t limit) {
    sched_ = &s;
    max_steps = limit;
    active = true;
    for (;;) {
        if (!failure.empty()) break;
        std::vector<int> enabled;
        for (size_t i = 0; i < procs.size(); ++i)
            if (procs[i].status == Status::Runnable) enabled.push_back(int(i));
        if (enabled.empty()) {
            if (!at_quiescence(*this)) break;
            bool any = false;
            for (auto &p : procs) any = any || p.status == Status::Runnable;
            if (!any) break;
            continue;
        }
        Point pt{-1, false, enabled, false};
        Choice c = s.choose(pt);
        current = -1;
        switch_to(c.run);
        current = -1;
    }
    active = false;
    sched_ = nullptr;
}

} // namespace explore

// ---- The services the core takes from sys.cpp, in the simulated world ----
namespace shmq::detail {

using explore::g_sim;

void explore_point(const void *addr, Access kind) { g_sim.point(false, addr, int(kind)); }
void explore_yield() { g_sim.point(true); }

void explore_mapped(const void *base, size_t size, bool mapped) {
    auto &m = g_sim.mappings;
    if (mapped) m.emplace_back(static_cast<const char *>(base), size);
    else
        for (size_t i = 0; i < m.size(); ++i)
            if (m[i].first == base) m.erase(m.begin() + long(i));
}

int64_t mono_ns() { return g_sim.now_ns; }
int64_t real_ns() { return g_sim.now_ns + 1700000000000000000LL; }

bool futex_wait(const void *word, uint32_t expected, int64_t timeout_ns) {
    return g_sim.futex_wait(word, expected, timeout_ns);
}
void futex_wake(const void *word, int count) { g_sim.futex_wake(word, count); }

// Taken when free or when its holder is dead; a waiter looks again every ms
// (a holder's death wakes nobody: the kernel's release is not modelled as a wake-up).
void explore_flock(bool lock) {
    if (!lock) {
        g_sim.flock_holder = 0;
        ++g_sim.flock_word;
        g_sim.futex_wake(&g_sim.flock_word, INT32_MAX);
        return;
    }
    for (;;) {
        g_sim.point(true);
        if (g_sim.flock_holder == 0 || !g_sim.pid_alive(g_sim.flock_holder) || g_sim.current < 0) {
            g_sim.flock_holder = g_sim.self_pid();
            return;
        }
        g_sim.futex_wait(&g_sim.flock_word, g_sim.flock_word, 1000000);
    }
}

ProcessId self_process() { return ProcessId{g_sim.self_pid(), 7, 0}; }

Liveness process_liveness(const ProcessId &id) {
    if (id.pid <= 0) return Liveness::Dead;
    return g_sim.pid_alive(id.pid) ? Liveness::Alive : Liveness::Dead;
}

} // namespace shmq::detail
