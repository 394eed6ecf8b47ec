// support.hpp - helpers shared by the tests: unique queue names in a private
// segment directory, forked children, and small queue parameters.
#pragma once

#include "shmq/shmq.h"

#include <cstdint>
#include <functional>
#include <string>
#include <sys/types.h>

namespace testing {

// CLOCK_MONOTONIC in nanoseconds.
int64_t mono_ns();

// A queue name no other test uses.
std::string unique_name(const char *tag);

shmq_params small_params(uint32_t slots = 16, uint32_t slot_size = 64);

// Creates a queue on construction, closes and unlinks it on destruction.
struct TestQueue {
    explicit TestQueue(const char *tag, shmq_params p = small_params(), const shmq_options *o = nullptr);
    ~TestQueue();
    std::string name;
    shmq_queue *q = nullptr;
};

// Open `name` with prefetch 0 (no limit) and no spinning.
shmq_queue *open_queue(const std::string &name, uint32_t prefetch = 0);

// Run `body` in a child process; its return value is the exit code.
pid_t spawn(const std::function<int()> &body);
// Wait for a child: its exit code, or -signal if a signal ended it.
int wait_child(pid_t pid);

// A pipe used to hand a few bytes between processes, or to say "go".
struct Pipe {
    Pipe();
    ~Pipe();
    void put(const void *p, size_t n);
    bool get(void *p, size_t n); // false on EOF
    void close_read();
    void close_write();
    int fd[2];
};

// Send `data` with deduplication key `key` (waiting up to 10 s, only for
// a sender of the same key): the call's code; *id and *dup as shmq_send_ex.
int send_keyed(shmq_queue *q, const char *data, const char *key, uint64_t *id, uint8_t *dup);
// The same ("retry" as data) from a child process that opens `queue` (a
// queue or a topic): false if it could not; its id and duplicate flag.
bool send_keyed_in_child(const std::string &queue, const char *key, uint64_t *id, uint8_t *dup);

} // namespace testing
