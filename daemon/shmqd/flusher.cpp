// flusher.cpp - the flush thread of shmqd (flusher.hpp).
#include "flusher.hpp"

#include "sys.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace shmqd {

using shmq::detail::Queue;

static int64_t mono_ms() { return shmq::detail::mono_ns() / 1000000; }

void Flusher::set(const std::vector<Target> &targets) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Entry> next;
    for (const Target &t : targets) {
        Entry e;
        e.t = t;
        for (Entry &old : entries_)
            if (old.t.name == t.name) e.q = std::move(old.q), e.failing = old.failing;
        next.push_back(std::move(e));
    }
    entries_ = std::move(next);
    if (!entries_.empty() && !thread_.joinable()) thread_ = std::thread([this] { run(); });
    cv_.notify_all();
}

void Flusher::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Flusher::flush_one(Entry &e, int64_t now_ms) {
    e.next_ms = now_ms + e.t.flush_ms;
    if (e.q && e.q->unlinked()) e.q.reset(); // re-created by the tick: flush the new one
    if (!e.q) {
        Queue *q = nullptr;
        if (Queue::inspect(e.t.name.c_str(), &q) != SHMQ_OK) return; // not there (yet): the tick says why
        e.q.reset(q);
    }
    if (e.q->flush() == SHMQ_OK) {
        if (e.failing != 0) spdlog::info("queue {}: flushing to disk works again", e.t.name);
        e.failing = 0;
        return;
    }
    int err = int(e.q->header()->flush_error.load(std::memory_order_relaxed));
    if (err != e.failing)
        spdlog::error("queue {}: flushing to disk failed: {} (shmq_sync reports SHMQ_EFLUSH until it works)",
                      e.t.name, strerror(err));
    e.failing = err != 0 ? err : -1;
}

void Flusher::run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
        int64_t now = mono_ms(), wake = now + 1000;
        for (Entry &e : entries_) {
            if (now >= e.next_ms) flush_one(e, now);
            wake = std::min(wake, e.next_ms);
        }
        cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wake - mono_ms(), 0)));
    }
}

} // namespace shmqd
