// ops.hpp - operations on a queue's dead letters for tools (shmqctl), with or
// without a running shmqd.
//
// The dead-letter store has one writer at a time. Without a daemon, redrive()
// opens the queue and the store itself and puts records back at the given
// rate. While shmqd runs (it holds the store), redrive() hands the work over
// as a request file (redrive_request.hpp) and, if asked, waits for the daemon
// to finish it.
#pragma once

#include "redrive_request.hpp"

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
    std::string to;            // put them into this queue ("": their own)
    // A topic's group: `queue` is the group's store (group_store_name), and
    // "their own" is group `group` of topic `topic` only.
    std::string topic, group;
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

// What a queue's redrive is doing: a request pending (shmqd works on it or
// will), and the progress shmqd last reported (it keeps the last one, done
// or cancelled, until the next redrive). Returns 0 or an errno value (*why).
struct RedriveState {
    bool pending = false;
    RedriveRequest request;    // when pending
    bool have_status = false;
    RedriveStatus status;      // when have_status
};
int redrive_state(const std::string &dead_letter_dir, const std::string &queue, RedriveState *out, std::string *why);

// Cancel a pending redrive or purge by deleting its request: shmqd stops
// within a tick or two (what was sent stays sent). *was_pending says whether
// there was one. Returns 0 or an errno value (*why).
int cancel_redrive(const std::string &dead_letter_dir, const std::string &queue, bool *was_pending,
                   std::string *why);

} // namespace shmqd::ops
