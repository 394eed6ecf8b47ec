// spin.hpp - how long a blocking call spins before it sleeps (issue 20, item 5).
//
// Spinning pays only while the other side is running and will act within the
// spin; otherwise it burns the CPU that side needs (on a 2-core host with one
// busy neighbour, always-spinning shmq fell to a fifth of blocking Boost).
// A fixed budget is wrong both ways, so under SHMQ_WAIT_ADAPTIVE (the default)
// each handle keeps a budget per direction, between a floor and the
// handle's spin_ns:
//  - a spin that succeeds after e ns doubles the budget, to at least 4e (so
//    a few successes undo a hiccup: a quiet host keeps its full spin);
//  - a spin that runs out halves it: the other side was not about to act;
//  - a spin that finds itself descheduled (two clock reads much further apart
//    than the loop between them costs) stops at once and drops the budget to
//    the floor: the machine is oversubscribed, so sleep and leave the CPU;
//  - a sleep that ends with success sooner than spin_ns doubles it: spinning
//    would have won.
// SHMQ_WAIT_SPIN keeps spin_ns fixed: latency at any cost. The budget is a
// process-local hint (relaxed atomics): nothing here is shared memory.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace shmq::detail {

class SpinBudget {
public:
    static constexpr int64_t kFloorNs = 2000;
    static constexpr int64_t kPreemptedNs = 100000; // a gap this long between two reads: we were off the CPU

    void init(uint32_t max_ns, bool adaptive) {
        max_ = max_ns;
        adaptive_ = adaptive;
        ns_.store(max_ns, std::memory_order_relaxed);
    }
    int64_t get() const { return adaptive_ ? ns_.load(std::memory_order_relaxed) : max_; }
    bool adaptive() const { return adaptive_; }

    void spun_ok(int64_t after_ns) {
        if (adaptive_) set(std::max(get() * 2, after_ns * 4));
    }
    void spun_out() {
        if (adaptive_) set(get() / 2);
    }
    void preempted() {
        if (adaptive_) set(0);
    }
    void slept_ok(int64_t slept_ns) {
        if (adaptive_ && slept_ns < max_) set(get() * 2);
    }

private:
    void set(int64_t ns) {
        int64_t floor = std::min<int64_t>(kFloorNs, max_);
        ns_.store(uint32_t(std::clamp<int64_t>(ns, floor, max_)), std::memory_order_relaxed);
    }

    std::atomic<uint32_t> ns_{0};
    uint32_t max_ = 0;
    bool adaptive_ = true;
};

} // namespace shmq::detail
