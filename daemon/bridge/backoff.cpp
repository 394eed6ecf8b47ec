// backoff.cpp - reconnect backoff and an interruptible sleep (see binding.hpp).
#include "binding.hpp"

#include <algorithm>
#include <thread>

namespace bridge {

void Backoff::failed() {
    cur_ms_ = cur_ms_ == 0 ? min_ms_ : std::min(max_ms_, cur_ms_ * 2);
    next_ = clock::now() + std::chrono::milliseconds(cur_ms_);
}

void nap(const std::atomic<bool> &stop, uint32_t ms) {
    for (uint32_t slept = 0; slept < ms && !stop.load(std::memory_order_relaxed); slept += 20)
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint32_t>(20, ms - slept)));
}

} // namespace bridge
