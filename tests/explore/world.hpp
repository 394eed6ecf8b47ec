// world.hpp - one execution of a scenario: the queue, the simulated
// processes' programs, the ledger of what their calls returned, and the
// invariants checked against it (after every step, whenever nobody can run,
// and at the end).
#pragma once

#include "queue.hpp"
#include "sim.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace explore {

struct Scenario {
    std::string name, what;
    int producers = 1, per_producer = 2, consumers = 1;
    uint32_t slots = 2, max_clients = 8;
    bool nack_first = false;      // consumers nack each first delivery (delay below), then ack
    int64_t nack_delay_ns = 0;
    bool purge = false;           // an operator purges once, concurrently
    bool attach_race = false;     // two extra processes only attach and detach
    bool one_shot = false;        // the last consumer leaves after one message (acked, or nacked if nack_first)
    bool batch = false;           // producers send with send_batch; consumers lease with recv_batch, ack with ack_batch
    bool single_thread = false;   // every handle is opened with shmq_options.single_thread
    bool slot_cache = false;      // single-threaded producers keep up to all the slots across calls (g_slot_cache_share 1)
    int64_t send_delay_ns = 0;    // producers send every message with this delay (shmq_send_ex)
    int64_t ttl_first_ns = 0;     // each producer's first message is sent with this ttl (0: none)
    int64_t ttl_rest_ns = 0;      // and its later ones with this one
    uint32_t lease_ms = 1000;     // the queue's lease
    int64_t work_ns = 0;          // consumers work this long (virtual time) on each first delivery before ending it
    uint32_t extend_ms = 0;       // then extend its lease by this
    bool race_deadline = false;   // then work until the lease's deadline (its word's) and end it there
    bool reaper = false;          // a process runs recovery every ms while consumers run (as shmqd's tick)
    bool reject_first = false;    // consumers reject each first delivery (later ones are acked)
    uint32_t dead_reason = 0;     // with reject_first: shmq_reject_ex with this reason (0: shmq_reject)
    bool reject_by_nack = false;  // with reject_first: instead, on a queue of max_attempts 1, shmq_nack_ex
                                  // with dead_reason (out of attempts at once: DEAD with it)
    bool reserve = false;         // producers send by reserve + commit, after aborting a first reservation
    bool spill = false;           // a daemon process moves messages to a simulated disk and back (admin.cpp)
    bool headers = false;         // producers send headers naming each message; deliveries must carry them
    uint32_t dedup_window_ms = 0; // > 0: producers send message seq with deduplication key "k<seq>" (the same
                                  // keys across producers), the queue keeps them this long
    int64_t dedup_gap_ns = 0;     // each producer naps this long between two sends
    int preemptions = 2, crashes = 0;
    uint64_t pct_runs = 0;        // random schedules after (or instead of) the exhaustive ones
    bool exhaustive = true;
    uint32_t groups = 0;          // > 0: a topic with this many groups; consumer i reads group i % groups
    bool add_group_live = false;  // the last group is bound by a process while the producers send
    bool remove_group = false;    // the last group is removed (forced) by a process while messages flow
    bool reboot = false;          // a DISK queue whose old boot's processes are all gone (before_reboot):
                                  // the run's processes rebuild it at open (reboot.cpp)
};

// A queue is one group; a topic's groups each have their own acks and leases.
struct Ledger {
    std::set<uint64_t> sent;            // keys whose send returned SHMQ_OK
    std::vector<std::map<uint64_t, int>> acked;    // per group: key -> successful acks
    std::vector<std::multiset<uint64_t>> acking;   // per group: keys whose ack was called and has not returned (one per call)
    std::set<int> ending;               // procs inside their own ack, nack, reject or extend
    std::vector<std::vector<uint64_t>> firsts; // per consumer: first deliveries, in order
    std::vector<std::vector<uint64_t>> leased_first; // per group: first leases (READY -> LEASED, attempt 0), in CAS order
    std::vector<std::set<uint64_t>> seen; // per group: keys delivered to it (all or none, topics)
    std::set<uint64_t> after_add;       // keys whose send began after the live group was bound (add_group_live)
    bool added = false;                 // the live group's add returned OK
    std::map<uint64_t, uint64_t> ids;   // key -> the id its send returned
    std::map<uint64_t, int64_t> not_before; // key -> virtual time before which it must not be delivered
    std::map<uint64_t, int64_t> expires_by; // key -> virtual time from which it must not be delivered (ttl)
    int ended_producers = 0;
    std::map<int, int64_t> lease_until; // proc -> until when its lease is its own, from its view (virtual ns)
    std::set<uint64_t> rejected;        // keys whose reject returned SHMQ_OK
    int rejecting = 0;                  // reject calls that a kill may have interrupted
    std::map<uint64_t, shmq::detail::MessageMeta> spilled; // the simulated disk of the spill store
    std::map<uint64_t, uint32_t> dead_store; // and of the dead-letter store (drain_dead): key -> reason
    int64_t purged = -1;                // what the purge returned (-1: it did not return)
    std::map<uint32_t, std::set<uint64_t>> key_ids; // dedup: seq -> ids its OK sends returned
    std::map<uint64_t, uint64_t> observed;          // dedup: id -> message key, for every message seen stored
    std::vector<std::map<uint64_t, uint64_t>> observed_in; // dedup: the same, per group (a queue: group 0)
    int fresh_sends = 0, dup_sends = 0;             // dedup: OK sends that stored / did not
};

class World {
public:
    World(const Scenario &sc, uint64_t serial);
    ~World();
    void spawn_all();
    bool at_quiescence(Sim &sim);  // Sim::Quiescence
    void check_step();             // after every step
    std::string final_check();     // after the run: "" or what broke
    std::string describe(const void *addr) const; // which field of the segment

private:
    shmq_queue *open(int proc, uint32_t prefetch, int group = -1);
    uint32_t group_count() const { return sc_.groups == 0 ? 1 : sc_.groups; }
    // Consumer i reads group i % groups; with a live group, the others share
    // the groups bound from the start, and consumer `consumers` (the adder) reads it.
    uint32_t group_of(int consumer) const {
        if (!sc_.add_group_live) return uint32_t(consumer) % group_count();
        return consumer == sc_.consumers ? sc_.groups - 1 : uint32_t(consumer) % (sc_.groups - 1);
    }
    void group_adder(int proc);
    void group_remover(int proc);
    bool fixed_group(uint32_t g) const { // bound from start to end: owed every message
        return !((sc_.add_group_live || sc_.remove_group) && g == sc_.groups - 1);
    }
    bool spilled_group(uint32_t g) const { return sc_.spill && sc_.groups > 0 && g == sc_.groups - 1; }
    bool daemon_died() const {
        return daemon_proc_ >= 0 && g_sim.procs[size_t(daemon_proc_)].status == Status::Crashed;
    }
    std::string check_removed_lane() const;
    std::string check_payload_slots() const;
    std::string check_all_or_none(const std::vector<std::vector<uint64_t>> &drained) const;
    void close(int proc, shmq_queue *q);
    void producer(int proc, int index);
    void consumer(int proc, int index);
    void batch_consumer(int proc, int index);
    void purger(int proc);
    void attacher(int proc);
    void recoverer(int proc);
    void reaper(int proc);
    void daemon(int proc);
    void spill_one(shmq::detail::Queue *q);
    void before_reboot();
    std::string check_reboot() const;
    bool work(int proc, shmq_queue *q, shmq_msg *m);
    bool extend(int proc, shmq_queue *q, shmq_msg *m);
    int reserve_send(shmq_queue *q, uint64_t key, const shmq_send_opts *opts, uint64_t *id);
    bool consumers_finished() const;
    void check_reclaim(uint32_t slot, uint64_t was) const;
    std::string check_counts() const;
    int end_as_dead(shmq_queue *q, shmq_msg *m) const;
    bool everything_acked(uint32_t group) const;
    void check_delivery(uint64_t key, shmq_queue *q, const shmq_msg &m, uint32_t group);
    std::string check_headers(uint64_t key, shmq_queue *q, const shmq_msg &m) const;
    std::string check_quiescent(const Sim &sim);
    std::string check_owners() const;
    std::string check_writing() const;
    std::string check_lease_counts() const;
    std::string drain(std::vector<std::vector<uint64_t>> *out);
    std::string check_expired(const std::vector<std::vector<uint64_t>> &drained) const;
    int dedup_send(shmq_queue *q, uint64_t key, shmq_send_opts *opts, uint64_t *id);
    std::string check_dedup() const;
    std::string check_dedup_group(uint32_t g) const;

    const Scenario &sc_;
    std::string name_;
    shmq_queue *admin_ = nullptr; // the harness's own handle (pid 1, not scheduled)
    shmq::detail::Queue *core_ = nullptr;
    shmq::detail::Queue *view_ = nullptr; // reboot: an inspect handle for the checks (no record, no rebuild)
    std::vector<shmq::detail::Queue *> lanes_; // where each group's words are: core_ itself for a queue
    std::vector<shmq_queue *> drainers_;       // the harness's own group handles (topics)
    Ledger led_;
    std::map<int, shmq_queue *> handles_; // open handles of simulated processes
    std::map<int, uint32_t> record_of_;   // which client record each live process holds
    int recoverers_ = 0, crashes_seen_ = 0, timer_fires_ = 0;
    uint64_t last_word_[4][8] = {};    // per group: slot words at the previous step
    std::vector<int> consumer_procs_;
    int daemon_proc_ = -1;
};

} // namespace explore
