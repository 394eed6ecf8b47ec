// api.hpp - shmqd's HTTP/JSON API (/v1), for programs that cannot load the C
// library: send, lease with receipts, ack/nack/reject/extend by receipt,
// queue figures, /metrics, /healthz. Described in openapi.json (OpenAPI 3).
//
// It runs on the HTTP server's connection threads and never touches what the
// loop owns: it holds its own client handles (public C API, one per queue and
// one per topic group leased from, prefetch unlimited), opened on first use.
// A topic's group is addressed "topic/group" in paths (POST
// /v1/queues/TOPIC/GROUP/leases); a topic's own handle only publishes. Leases taken over HTTP are this
// handle's leases, so the core treats them like any live consumer's: they end
// when their deadline passes (recovery, run by the loop every tick, takes them
// back) or when shmqd stops (shmq_close: back to the queue as if nacked).
//
// A receipt names the queue and the core's receipt words, so shmqd keeps no
// table of leases: "<queue>~<32 hex digits>", or "<topic>~<group>~<32 hex
// digits>" for a group's lease (names have no '~'). The
// core checks the words (queue tag, slot, state, owner, lease generation), so
// a forged or stale receipt is refused, never misapplied.
#pragma once

#include "config.hpp"
#include "http_server.hpp"
#include "metrics.hpp"
#include "shmq/shmq.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace shmqd {

class Api {
public:
    // `token`: the bearer token requests on TCP must carry.
    Api(const MetricsBoard &board, std::string token) : board_(board), token_(std::move(token)) {}
    ~Api(); // closes the handles: stop the servers first
    Api(const Api &) = delete;
    Api &operator=(const Api &) = delete;

    // The configured queues and their durability (the loop calls it at
    // start and on reload).
    void set_queues(const std::map<std::string, Durability> &queues);
    // Long-polls end within a fraction of a second once this is called.
    void stopping() { stopping_ = true; }

    // `tcp`: the request came over TCP and must carry the token.
    HttpResponse handle(const HttpRequest &r, bool tcp);

private:
    HttpResponse route(const HttpRequest &r, const std::vector<std::string> &parts);
    HttpResponse send(const HttpRequest &r, const std::string &queue);
    HttpResponse lease(const HttpRequest &r, const std::string &queue);
    int poll(shmq_queue *q, std::vector<shmq_msg> *msgs, size_t *n, std::chrono::steady_clock::time_point until);
    HttpResponse settle(const HttpRequest &r, const std::string &receipt, const std::string &action);
    HttpResponse list() const;
    HttpResponse stat(const std::string &queue) const;
    HttpResponse health() const;
    int handle_of(const std::string &target, shmq_queue **out); // "q" or "t/g"; SHMQ_OK or a code
    void retire(const std::string &queue, shmq_queue *q);
    bool known(const std::string &queue) const;

    const MetricsBoard &board_;
    const std::string token_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mu_;
    std::map<std::string, Durability> queues_;
    std::map<std::string, shmq_queue *> handles_;
    std::vector<shmq_queue *> retired_; // handles of unlinked segments, closed at the end
};

// The HTTP status for a shmq error code, and the code's name for the body
// ("SHMQ_ESYS" for a code this build does not know).
int http_status(int shmq_error);
const char *code_name(int shmq_error);

} // namespace shmqd
