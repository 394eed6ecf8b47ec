// ops.hpp - operations on a queue's dead letters for tools (shmqctl), with or
// without a running shmqd.
//
// The dead-letter store has one writer at a time. Without a daemon, redrive()
// opens the queue and the store itself and puts records back at the given
// rate. While shmqd runs (it holds the store), redrive() hands the work over
// as a request file (redrive_request.hpp) and, if asked, waits for the daemon
// to finish it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shmqd::ops {

struct RedriveOptions {
    std::string queue;
    std::string dead_letter_dir;
    std::vector<uint64_t> ids; // empty: every dead letter of the queue
    double rate = 100;         // messages per second
    int64_t timeout_ms = 30000;
    bool wait = true;          // with a daemon: wait until it has finished
};

struct RedriveReport {
    uint64_t sent = 0;      // put back into the queue (by us; unknown when via the daemon)
    uint64_t kept = 0;      // selected but left in the store (larger than a slot)
    bool via_daemon = false;
    bool finished = false;  // every selected record was dealt with
    std::string error;      // why it failed, when it returns non-zero
};

// Put dead letters back into their queue: same id and first-enqueue time,
// delivery count reset (the next delivery is attempt 1). Returns 0, or an
// errno value with report->error: ENOENT (no such queue or store), EEXIST (a
// redrive is already pending), ETIMEDOUT (not finished within the timeout;
// what was sent stays sent), or another.
int redrive(const RedriveOptions &opts, RedriveReport *report);

// Drop every dead letter of a queue: directly, or through a running shmqd
// (a purge request; waits up to opts.timeout_ms for the daemon to do it).
// Of opts, queue, dead_letter_dir, timeout_ms and wait matter. Returns 0 or an
// errno value with report->error; report->sent is the count dropped when
// known (not via the daemon).
int purge(const RedriveOptions &opts, RedriveReport *report);

} // namespace shmqd::ops
