// sys.hpp - the few operating-system services the core uses: clocks, futexes,
// and process liveness (pid + start time, so a reused pid is not mistaken for
// the process that registered).
#pragma once

#include <atomic>
#include <cstdint>
#include <sys/types.h>

namespace shmq::detail {

int64_t mono_ns();
int64_t real_ns();
// No coarse clock: CLOCK_MONOTONIC_COARSE + its resolution lags mono_ns() by
// up to 20 ms on an idle tickless VM, and lease deadlines taken from it fell
// that much early (queue.cpp, deadline_base_ms).

// Sleep while the 32-bit word at `word` == expected, at most timeout_ns
// (< 0: no limit). Shared (not FUTEX_PRIVATE): works across processes.
// Spurious returns are allowed. True if it returned because the time ran out.
bool futex_wait(const void *word, uint32_t expected, int64_t timeout_ns);
void futex_wake(const void *word, int count);

constexpr int64_t kAnyStart = -2; // ProcessId::start_time when only the pid is known

struct ProcessId {
    int32_t pid;
    int64_t start_time; // /proc/PID/stat field 22, or kAnyStart
    uint64_t pidns;     // inode of /proc/PID/ns/pid
};

ProcessId self_process();

enum class Liveness { Alive, Dead, Unknown };

// Is the process that registered as `id` still running? A zombie counts as
// dead; a process in another pid namespace is Unknown (judge it by deadlines).
Liveness process_liveness(const ProcessId &id);

#ifdef SHMQ_EXPLORE
// In the exploration build the harness provides the services above, and a
// spin is a point where the scheduler runs someone else.
void explore_yield();
inline void cpu_relax() { explore_yield(); }
// The segment file's flock (reboot.cpp): held until released or its holder dies.
void explore_flock(bool lock);
#else
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}
#endif

} // namespace shmq::detail
