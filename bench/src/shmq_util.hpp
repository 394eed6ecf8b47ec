// shmq_util.hpp - small RAII helpers over the shmq C API for the benchmarks.
// A NamedQueue creates a uniquely named queue in the parent and unlinks it when
// it goes out of scope (or when the bench is interrupted); a Handle is one
// process's attachment, opened after fork so that its client record is its own.
#pragma once

#include <cstdint>
#include <string>

#include <shmq/shmq.h>

#include "harness.hpp"

namespace bench {

// How long a benchmark's blocking shmq call may wait before it counts as a failure.
constexpr int64_t kShmqTimeoutNs = 10'000'000'000;

// Throws "what: <shmq_strerror(rc)>" unless rc is SHMQ_OK.
void shmq_check(int rc, const char *what);

// Queue parameters for fixed-size messages: slot_size = msg_size, BLOCK overflow.
shmq_params bench_params(size_t msg_size, size_t slot_count);
// Handle options: no prefetch limit and the given spin budget.
shmq_options bench_options(uint32_t spin_ns);
// Handle options: no prefetch limit, the library's default spin budget.
shmq_options bench_default_options();

class NamedQueue {
  public:
    NamedQueue(const shmq_params &params);
    ~NamedQueue();
    NamedQueue(const NamedQueue &) = delete;
    NamedQueue &operator=(const NamedQueue &) = delete;
    const std::string &name() const { return name_; }

  private:
    std::string name_;
};

class Handle {
  public:
    Handle(const std::string &name, const shmq_options &options);
    ~Handle() { shmq_close(q_); }
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    shmq_queue *get() const { return q_; }

  private:
    shmq_queue *q_ = nullptr;
};

} // namespace bench
