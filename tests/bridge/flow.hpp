// flow.hpp - a message flow through the bridge for the tests: local queues,
// a producer thread, and a consumer that accounts for every message.
#pragma once

#include "identity.hpp"
#include "peer.hpp"
#include "shmq/shmq.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace bridge_test {

// A local queue created for the test and unlinked at the end.
struct LocalQ {
    explicit LocalQ(const char *tag, uint32_t slot_size = 256, uint32_t slots = 1024, uint32_t max_attempts = 5);
    LocalQ(const char *tag, const shmq_params &p); // any parameters: a topic, a deduplication window
    ~LocalQ();
    std::string name;
    shmq_queue *q = nullptr;
};

// Sends "m<seq>" padded to 64 bytes, seq = 0..n-1, from a thread; gives up
// when destroyed.
class Producer {
public:
    Producer(const std::string &queue, int n);
    ~Producer();
    void join();

private:
    std::atomic<bool> stop_{false};
    std::thread t_;
};

// What arrived at the end of the flow, its identity read from the envelope
// or else from the message's headers.
struct Tally {
    struct Seen {
        int copies = 0;
        bridge::Identity id;
    };
    std::map<int, Seen> by_seq;
    int total = 0;
    int distinct() const { return int(by_seq.size()); }
    int duplicates() const { return total - distinct(); }
    std::string problem; // the first inconsistency found, "" if none
};

// Receive from `queue` until `n` distinct messages arrived or `seconds`
// pass; checks each identity against the first copy of the same message.
Tally collect(const std::string &queue, int n, double seconds, const std::atomic<bool> *stop = nullptr,
              std::atomic<int> *progress = nullptr);

std::string payload(int seq);
// What `cmd` (run by the shell) prints on stdout; *status (may be null) gets
// its pclose() status.
std::string capture(const std::string &cmd, int *status = nullptr);
// `shmqctl bridge` on the bridge's status file: the table, or with `json` its JSON.
std::string shmqctl_bridge(const std::string &status_file, bool json);
// out and in bindings along `hops` (queue, AMQP queue, queue, ...); the
// identity crosses local hops in an envelope, or (envelope false) in headers.
std::string chain_config(int port, const std::vector<std::string> &hops, bool envelope = true);

} // namespace bridge_test
