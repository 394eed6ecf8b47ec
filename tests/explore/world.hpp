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
    int64_t send_delay_ns = 0;    // producers send every message with this delay (shmq_send_ex)
    int64_t ttl_first_ns = 0;     // each producer's first message is sent with this ttl (0: none)
    int64_t ttl_rest_ns = 0;      // and its later ones with this one
    int preemptions = 2, crashes = 0;
    uint64_t pct_runs = 0;        // random schedules after (or instead of) the exhaustive ones
    bool exhaustive = true;
};

struct Ledger {
    std::set<uint64_t> sent;            // keys whose send returned SHMQ_OK
    std::map<uint64_t, int> acked;      // key -> successful acks
    std::set<uint64_t> acking;          // keys whose ack was called and has not returned
    std::vector<std::vector<uint64_t>> firsts; // per consumer: first deliveries, in order
    std::vector<uint64_t> leased_first; // every first lease (READY -> LEASED, attempt 0), in CAS order
    std::map<uint64_t, uint64_t> ids;   // key -> the id its send returned
    std::map<uint64_t, int64_t> not_before; // key -> virtual time before which it must not be delivered
    std::map<uint64_t, int64_t> expires_by; // key -> virtual time from which it must not be delivered (ttl)
    int ended_producers = 0;
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
    shmq_queue *open(int proc, uint32_t prefetch);
    void close(int proc, shmq_queue *q);
    void producer(int proc, int index);
    void consumer(int proc, int index);
    void batch_consumer(int proc, int index);
    void purger(int proc);
    void attacher(int proc);
    void recoverer(int proc);
    bool everything_acked() const;
    void check_delivery(uint64_t key, const shmq_msg &m);
    std::string check_quiescent(const Sim &sim);
    std::string check_owners() const;
    std::string check_lease_counts() const;
    std::string drain(std::vector<uint64_t> *out);
    std::string check_expired(const std::vector<uint64_t> &drained) const;

    const Scenario &sc_;
    std::string name_;
    shmq_queue *admin_ = nullptr; // the harness's own handle (pid 1, not scheduled)
    shmq::detail::Queue *core_ = nullptr;
    Ledger led_;
    std::map<int, shmq_queue *> handles_; // open handles of simulated processes
    std::map<int, uint32_t> record_of_;   // which client record each live process holds
    int recoverers_ = 0, crashes_seen_ = 0, timer_fires_ = 0;
    uint64_t last_word_[8] = {};       // slot words at the previous step
};

} // namespace explore
