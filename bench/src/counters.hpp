// counters.hpp - the CPU's hardware counters for the calling process, through
// perf_event_open (the interface `perf stat` uses), counting user space only so
// that the default perf_event_paranoid (2) allows it. Many virtual machines
// expose no counters: then nothing is counted and the reason is reported.
#pragma once

#include <cstdint>
#include <string>

#include "harness.hpp"

namespace bench {

// What one process counted between start() and stop().
struct CounterValues {
    bool ok = false;
    uint64_t cycles = 0, instructions = 0;
    uint64_t l1d_misses = 0; // lines brought into the L1 data cache (loads)
    uint64_t llc_misses = 0; // last-level cache misses (lines from memory or another socket)
};

class Counters {
  public:
    Counters();  // opens the events, disabled; ok() false if any cannot be opened
    ~Counters();
    Counters(const Counters &) = delete;
    Counters &operator=(const Counters &) = delete;
    bool ok() const { return ok_; }
    void start();
    CounterValues stop();

  private:
    static constexpr int kEvents = 4;
    int fd_[kEvents] = {-1, -1, -1, -1};
    bool ok_ = false;
};

// "" if this process can count, else why not (perf_event_paranoid, or the
// error opening the first event that failed).
std::string counters_unavailable_reason();

// Per message, both processes together: {"cycles", "instructions",
// "l1d_misses", "llc_misses", "bytes_into_l1d"}; null unless both counted.
Json per_message(const CounterValues &a, const CounterValues &b, uint64_t messages);

} // namespace bench
