// supervised.hpp - one queue under shmqd's care: the handle on its segment,
// the lock that makes this daemon its only supervisor, its dead-letter and
// spill stores, and the counters the metrics show.
//
// Everything here can be rebuilt from the segment and the files: a daemon
// killed at any moment loses only counters and a pending redrive's progress
// (the request file stays, so a restarted daemon resumes it).
#pragma once

#include "config.hpp"
#include "lockfile.hpp"
#include "metrics.hpp"
#include "queue.hpp"
#include "redrive_request.hpp"

#include "store/dead_letters.hpp"
#include "store/spill.hpp"

#include <array>
#include <map>
#include <set>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shmqd {

// The spill thresholds of a queue in slots (config fractions x slot_count):
// spill when READY > high, refill when READY <= low, both towards `mid`.
struct Watermarks {
    uint32_t high = 0, low = 0, mid = 0;
};
Watermarks watermarks(const QueueConfig &c, uint32_t slot_count);
// A topic's group: spill above `backlog` READY, refill at or below half of it.
Watermarks group_watermarks(uint32_t backlog);

struct RedriveJob {
    bool active = false;
    RedriveRequest req;
    double tokens = 0;           // messages we may send now
    int64_t last_ms = 0;         // when tokens were last added
    int64_t next_check_ms = 0;   // when to look for a request file again
    uint64_t sent = 0, kept = 0; // progress of this request (kept: in the current pass)
    shmq::store::RedriveCursor cursor; // sent records wait here for one rewrite (redrive_send.hpp)
    int64_t committed_ms = 0;          // when the sent records were last removed
    int64_t status_ms = 0;             // when the status file was last written
    int64_t started_s = 0;             // CLOCK_REALTIME seconds
    std::unique_ptr<shmq::detail::Queue> target; // the request's target queue, if not this one
};

// A store that failed a write is reopened (which re-checks the file) after a
// pause. A failure is logged once, when it starts; "works again" once, at the
// first write that succeeds after it. Every failure counts, by kind.
struct StoreHealth {
    bool ok = true;        // writes may be tried
    bool failing = false;  // a failure was logged and no write has worked since
    int64_t retry_ms = 0;  // mono ms when to reopen
    std::map<std::string, uint64_t> errors; // by kind (store_error_kind), since this daemon started
};
// The metrics label for an errno value: no_space, quota, file_too_large, io,
// read_only, permission or other.
const char *store_error_kind(int err);

struct Supervised {
    // As configured (segment parameters may differ: see params). A topic's
    // group: the topic's, named as its store (group_store_name).
    QueueConfig cfg;
    shmq_params params{}; // as stored in the segment: these rule
    std::unique_ptr<shmq::detail::Queue> q;
    FileLock segment_lock;
    shmq::store::DeadLetters dlq;
    shmq::store::Spill spill;
    Watermarks marks;
    bool spill_full = false;
    StoreHealth dlq_health, spill_health;
    int64_t spill_head_ns = 0;    // first enqueue of the oldest spilled message (0: unknown)
    int64_t spill_head_check_ms = 0;
    int64_t dlq_head_ns = 0;      // time of death of the oldest dead letter (0: none or unknown)
    int64_t dlq_head_check_ms = 0;
    int64_t retention_check_ms = 0;
    uint64_t dlq_dropped_total = 0; // by retention
    RedriveJob redrive;
    std::vector<std::byte> buf; // a payload copied out of shared memory
    std::vector<shmq::store::SpillRecord> refill_batch;
    std::vector<shmq_client_stats> clients;
    // Counters since this daemon started.
    std::array<uint64_t, kReasonNames.size()> dead_lettered{};
    uint64_t spilled_total = 0, refilled_total = 0, redriven_total = 0;
    int64_t segment_retry_ms = 0; // no segment (it was deleted, re-creating failed): next try
    // This tick's snapshot of the segment, taken before moving anything.
    shmq_stats stats{};
    // A topic's configured groups, each with its group handle and its own
    // dead-letter and spill stores (no lock: the topic's entry has it).
    std::string topic, group; // set in a group's entry
    bool spills = false;      // a group whose overflow is "spill" (marks from its backlog)
    uint32_t pool_free = 0;   // a group's entry: the topic's free payload slots this tick
    // A group's redrive goes in through the topic's handle, to this group's
    // bit (a spill refill restores through the group's own handle instead).
    shmq::detail::Queue *publisher = nullptr;
    uint32_t lane_mask = 0;
    std::vector<std::unique_ptr<Supervised>> groups;
    // A topic's groups shmqd has no entry for, by store name: a dead-letter
    // store each, opened when one first has dead letters (orphans.cpp).
    std::map<std::string, std::unique_ptr<Supervised>> orphans;
    int64_t orphan_check_ms = 0;
    // Store names refused to such groups (another queue or group owns the
    // store): each logged once, while it lasts.
    std::set<std::string> orphan_refused;
};

// The store directories, opened once: everything is created relative to them.
struct StoreDirs {
    int spill = -1;
    int dlq = -1;
    // The store names the config uses (queues, topics, configured groups'
    // TOPIC.GROUP): a group bound by hand whose store would meet one of them
    // gets no store of its own (orphans.cpp).
    std::set<std::string> configured;
};
// The store names of every queue, topic and configured group in `c`.
std::set<std::string> configured_store_names(const std::vector<QueueConfig> &queues);

// Open or create the queue, lock it, open its stores. Returns 0, or an errno
// value with *why (a message for the log, naming the queue).
int supervise(const QueueConfig &cfg, const StoreDirs &dirs, Supervised *out, std::string *why);
// Sync the stores and let go of the queue (the segment stays).
void unsupervise(Supervised *s);
// Take new daemon-side policies (rates, water marks) from a reloaded config;
// log what cannot change without re-creating the queue.
void apply_policies(Supervised *s, const QueueConfig &cfg, const StoreDirs &dirs);
// Close and open a store again (after a failed write, or a policy change).
// Return 0 or the errno value of the failure, with *why.
int reopen_dlq(Supervised *s, int dirfd, std::string *why);
int reopen_spill(Supervised *s, int dirfd, std::string *why);
// An entry with only a dead-letter store, for group `group` of topic `topic`
// that is not in the config. 0 or an errno value with *why.
int supervise_orphan(const Supervised &topic, const std::string &group, const StoreDirs &dirs, Supervised *out,
                     std::string *why);
// Note a store failure (`err` an errno value): count it by kind, log it if it
// starts a failure, and schedule a reopen.
void store_failed(Supervised *s, StoreHealth *h, const char *what, int err, const std::string &error);
// Note a write that worked: ends a failure (logged).
void store_worked(Supervised *s, StoreHealth *h, const char *what);

} // namespace shmqd
