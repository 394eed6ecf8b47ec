// shmq_recovery.cpp - how long a message leased by a consumer that died stays
// stuck. A child leases the message and SIGKILLs itself; from the moment the
// parent's waitpid returns, the parent calls shmq_recover() and a non-blocking
// shmq_recv() in a loop (no daemon exists yet) until the message comes back.
#include <csignal>
#include <new>
#include <sys/wait.h>

#include "../shmq_util.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

constexpr size_t kSize = 64;
constexpr int64_t kGiveUpNs = 5'000'000'000;

struct Leased {
    std::atomic<uint64_t> id{0};
};

void lease_and_die(const std::string &name, Leased &out) {
    Handle q(name, bench_default_options());
    shmq_msg m;
    shmq_check(shmq_recv(q.get(), &m, kShmqTimeoutNs), "shmq_recv");
    out.id.store(m.id);
    raise(SIGKILL);
}

struct Trial {
    int64_t ns = 0;
    uint64_t recover_calls = 0;
};

// Calls recover + recv until the message is back; returns it leased in `m`.
Trial await_redelivery(shmq_queue *q, int64_t t0, shmq_msg &m) {
    Trial t;
    while (true) {
        t.recover_calls++;
        shmq_check(shmq_recover(q, nullptr), "shmq_recover");
        int rc = shmq_recv(q, &m, 0);
        if (rc == SHMQ_OK)
            break;
        if (rc != SHMQ_EEMPTY)
            shmq_check(rc, "shmq_recv");
        if (now_ns() - t0 > kGiveUpNs)
            throw std::runtime_error("message not redelivered within 5 s");
    }
    t.ns = now_ns() - t0;
    return t;
}

Trial one_trial(const std::string &name) {
    char buf[kSize] = {};
    {
        Handle producer(name, bench_default_options());
        shmq_check(shmq_send(producer.get(), buf, kSize, kShmqTimeoutNs), "shmq_send");
    }
    SharedMem mem(sizeof(Leased));
    auto *leased = new (mem.data()) Leased{};
    Children kids;
    pid_t pid = kids.spawn([&] { lease_and_die(name, *leased); });
    Handle me(name, bench_default_options());
    int status = kids.wait_one(pid, 30);
    int64_t t0 = now_ns();
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL || leased->id.load() == 0)
        throw std::runtime_error("consumer child did not lease and die as planned");
    shmq_msg m;
    Trial t = await_redelivery(me.get(), t0, m);
    if (m.id != leased->id.load())
        throw std::runtime_error("redelivered a different message");
    shmq_check(shmq_ack(me.get(), &m), "shmq_ack");
    return t;
}

} // namespace

namespace {

Json recovery_variant(const Config &cfg, const shmq_params &params, const char *label) {
    NamedQueue queue(params);
    std::vector<int64_t> samples;
    uint64_t calls = 0;
    for (size_t i = 0; i < cfg.recovery_trials; i++) {
        Trial t = one_trial(queue.name());
        samples.push_back(t.ns);
        calls += t.recover_calls;
    }
    Summary s = summarize(samples);
    progress("recovery", label, "p50 " + fmt_ns(double(s.p50)) + ", max " + fmt_ns(double(s.max)));
    Json out = to_json(s);
    out["mean_recover_calls"] = double(calls) / double(samples.size());
    out["lease_ms"] = params.lease_ms;
    out["backoff_base_ms"] = params.backoff_base_ms;
    out["jitter"] = params.jitter;
    out["samples_ns"] = samples;
    return out;
}

} // namespace

// Two variants: the default parameters (a reclaimed lease is retried with the
// queue's backoff, 100 ms base with full jitter) and backoff_base_ms = 0, which
// isolates detecting the death and reclaiming the lease.
Json suite_recovery(const Config &cfg) {
    Json out;
    shmq_params defaults = bench_params(kSize, 64);
    shmq_params no_backoff = defaults;
    no_backoff.backoff_base_ms = 0;
    for (auto [label, params] : {std::pair{"default", defaults}, std::pair{"no_backoff", no_backoff}}) {
        try {
            out[label] = recovery_variant(cfg, params, label);
        } catch (const std::exception &e) {
            out[label] = error_entry(std::string("recovery ") + label, e);
        }
    }
    return out;
}

} // namespace bench
