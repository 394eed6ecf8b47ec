// flusher.hpp - writes shmqd's DISK queues back to their files (issue 17).
//
// One thread, off the tick: msync can stall for as long as the disk takes,
// and the tick must not. Every flush_ms it calls the core's flush on each
// DISK queue through its own observer handle (Queue::inspect: no client
// record; flushing needs none). What a flush did is in the segment header
// (shmq_stats: last flush, its length, its errno), where shmqctl stat and
// the metrics read it; a failure is logged when it starts and when it ends.
// Clients' shmq_sync does not depend on this thread: it flushes itself when
// no flush is in progress.
#pragma once

#include "queue.hpp"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace shmqd {

class Flusher {
public:
    struct Target {
        std::string name;
        uint32_t flush_ms;
    };
    Flusher() = default;
    ~Flusher() { stop(); }
    Flusher(const Flusher &) = delete;
    Flusher &operator=(const Flusher &) = delete;
    // The queues to flush from now on (replaces the previous set); starts
    // the thread the first time it is given any. Thread-safe.
    void set(const std::vector<Target> &targets);
    void stop();

private:
    struct Entry {
        Target t;
        std::unique_ptr<shmq::detail::Queue> q; // an observer handle, reopened if the segment goes
        int64_t next_ms = 0;
        int failing = 0; // errno of the failure being reported, 0: none
    };
    void run();
    void flush_one(Entry &e, int64_t now_ms);

    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::vector<Entry> entries_;
    std::thread thread_;
};

} // namespace shmqd
