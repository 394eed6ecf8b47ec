// atomic.hpp - the one atomic type of shared memory, so that the exploration
// harness can interleave processes at every shared-memory access.
//
// Atomic<T> is std::atomic<T> with the same size and alignment (the layout of
// a segment does not depend on the build). In ordinary builds every member is
// an inline forward and costs nothing. In the exploration build
// (SHMQ_EXPLORE, tests/explore) each access first calls explore_point(), where
// the harness's scheduler may switch to another simulated process or stop
// this one for good, as a crash at that instruction would.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmq::detail {

enum class Access { Read, Write, Rmw };

#ifdef SHMQ_EXPLORE
// Provided by the harness: a scheduling point before an access to `addr`,
// and the news of a segment mapped or unmapped (futexes are keyed by page).
void explore_point(const void *addr, Access kind);
void explore_mapped(const void *base, size_t size, bool mapped);
#define SHMQ_ACCESS(addr, kind) ::shmq::detail::explore_point(addr, kind)
#define SHMQ_EXPLORE_MAPPED(base, size, mapped) ::shmq::detail::explore_mapped(base, size, mapped)
#else
#define SHMQ_ACCESS(addr, kind) ((void)0)
#define SHMQ_EXPLORE_MAPPED(base, size, mapped) ((void)0)
#endif

template <class T> class Atomic {
public:
    using mo = std::memory_order;
    static constexpr bool is_always_lock_free = std::atomic<T>::is_always_lock_free;

    Atomic() = default;
    constexpr Atomic(T v) : v_(v) {}
    Atomic(const Atomic &) = delete;
    Atomic &operator=(const Atomic &) = delete;

    T load(mo o = mo::seq_cst) const {
        SHMQ_ACCESS(this, Access::Read);
        return v_.load(o);
    }
    void store(T x, mo o = mo::seq_cst) {
        SHMQ_ACCESS(this, Access::Write);
        v_.store(x, o);
    }
    T exchange(T x, mo o = mo::seq_cst) {
        SHMQ_ACCESS(this, Access::Rmw);
        return v_.exchange(x, o);
    }
    bool compare_exchange_strong(T &expected, T desired, mo o = mo::seq_cst) {
        SHMQ_ACCESS(this, Access::Rmw);
        return v_.compare_exchange_strong(expected, desired, o);
    }
    T fetch_add(T x, mo o = mo::seq_cst) {
        SHMQ_ACCESS(this, Access::Rmw);
        return v_.fetch_add(x, o);
    }
    T fetch_sub(T x, mo o = mo::seq_cst) {
        SHMQ_ACCESS(this, Access::Rmw);
        return v_.fetch_sub(x, o);
    }
    T fetch_or(T x, mo o = mo::seq_cst) {
        SHMQ_ACCESS(this, Access::Rmw);
        return v_.fetch_or(x, o);
    }
    T fetch_and(T x, mo o = mo::seq_cst) {
        SHMQ_ACCESS(this, Access::Rmw);
        return v_.fetch_and(x, o);
    }
    // For system calls that take the word's address (futex). Not an access.
    std::atomic<T> *raw() { return &v_; }

private:
    std::atomic<T> v_;
};

static_assert(sizeof(Atomic<uint64_t>) == sizeof(std::atomic<uint64_t>) &&
              alignof(Atomic<uint64_t>) == alignof(std::atomic<uint64_t>));
static_assert(sizeof(Atomic<uint32_t>) == sizeof(std::atomic<uint32_t>));

} // namespace shmq::detail
