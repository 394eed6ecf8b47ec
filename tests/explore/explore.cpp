// explore.cpp - the exploration harness's command line: run scenarios
// exhaustively (bounded) and with random PCT schedules, report the first
// failure with a trace that --replay reproduces.
//
//   explore                       every scenario, as in ctest
//   explore --list                the scenarios and what each explores
//   explore --scenario NAME       one scenario
//   explore --deep                one more preemption and 10x the PCT runs (minutes)
//   explore --seconds N           long mode: PCT seeds for N seconds per scenario
//   explore --seed S              PCT from this seed (one run)
//   explore --replay TRACE        one schedule, e.g. "0,0,1,x,2"
#include "strategies.hpp"
#include "world.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace explore;

namespace {

const uint64_t kMaxSteps = 200000;
uint64_t g_serial = 0;

std::vector<Scenario> scenarios() {
    // Fields in declaration order (world.hpp); what is not named keeps its default:
    // 1 producer of 2 messages, 1 consumer, 2 slots, 8 client records,
    // at most 2 preemptions, no kill, no PCT runs.
    return {
        {.name = "send_recv", .what = "1 producer, 1 consumer, 2 messages, 2 slots: every interleaving with 2 preemptions"},
        {.name = "send_recv_crash",
         .what = "1 message with headers, a kill at every point of producer, consumer or recoverer, 1 preemption",
         .per_producer = 1, .headers = true, .preemptions = 1, .crashes = 1, .pct_runs = 2000},
        {.name = "two_consumers_fifo", .what = "1 producer, 2 consumers, 3 messages, 2 slots: per-producer FIFO, 1 preemption",
         .per_producer = 3, .consumers = 2, .preemptions = 1, .pct_runs = 3000},
        {.name = "fifo_slot_reuse",
         .what = "1 producer, 3 messages, 2 slots; one consumer leaves after one message: a slow consumer never "
                 "leases a reused slot's newer message",
         .per_producer = 3, .consumers = 2, .one_shot = true, .preemptions = 1},
        {.name = "batch_crash",
         .what = "1 producer sending with send_batch, 1 consumer leasing with recv_batch (up to 3) and "
                 "acking with ack_batch, 2 messages with headers, a kill anywhere",
         .batch = true, .headers = true, .preemptions = 0, .crashes = 1, .pct_runs = 2000},
        {.name = "single_thread_crash",
         .what = "send_recv_crash with single-threaded handles (plain stores on their own records)",
         .per_producer = 1, .single_thread = true, .preemptions = 1, .crashes = 1, .pct_runs = 2000},
        {.name = "single_thread_batch",
         .what = "batch_crash with single-threaded handles, 2 producers of 2 messages, 2 consumers, 3 slots, "
                 "1 preemption: runs of the rings taken side by side",
         .producers = 2, .consumers = 2, .slots = 3, .batch = true, .single_thread = true, .preemptions = 1, .crashes = 1,
         .pct_runs = 2000, .exhaustive = false},
        {.name = "slot_cache_crash",
         .what = "single-threaded producers keeping free slots across calls (up to all 2), 1 producer of 2 "
                 "messages, a kill anywhere: a dead producer's cached slots come back, a closed one's too",
         .single_thread = true, .slot_cache = true, .preemptions = 0, .crashes = 1, .pct_runs = 2000},
        {.name = "slot_cache_two",
         .what = "2 single-threaded producers keeping free slots across calls (up to all 3), 2 consumers: a "
                 "producer that waits for room while the other holds cached slots is woken when it closes",
         .producers = 2, .consumers = 2, .slots = 3, .single_thread = true, .slot_cache = true, .preemptions = 0,
         .pct_runs = 3000},
        {.name = "batch_runs_crash",
         .what = "2 single-threaded producers sending runs with send_batch into slot caches, 2 consumers "
                 "acking runs with ack_batch, 4 slots, kills: runs of ring cells filled past tail (one tail "
                 "move per run) that a killed pusher leaves are taken and walked past",
         .producers = 2, .per_producer = 3, .consumers = 2, .slots = 4, .batch = true, .single_thread = true,
         .slot_cache = true, .preemptions = 0, .crashes = 1, .pct_runs = 3000, .exhaustive = false},
        {.name = "two_producers_wake", .what = "2 producers, 1 sleeping consumer (no spin): no lost wake-up, 1 preemption",
         .producers = 2, .per_producer = 1, .slots = 3, .preemptions = 1, .pct_runs = 3000},
        {.name = "nack_retry",
         .what = "a nack with a 5 ms delay, then the retry, with headers: due on time without a daemon, a kill "
                 "anywhere",
         .per_producer = 1, .nack_first = true, .nack_delay_ns = 5000000, .headers = true, .preemptions = 0,
         .crashes = 1,
         .pct_runs = 3000},
        {.name = "headers_reclaim",
         .what = "1 message with headers, 2 consumers, a kill anywhere: a lease reclaimed from a killed consumer "
                 "is redelivered to the other with its headers",
         .per_producer = 1, .consumers = 2, .headers = true, .preemptions = 0, .crashes = 1, .pct_runs = 1000},
        {.name = "nack_wakes_other",
         .what = "2 consumers; the one that nacks with a 5 ms delay leaves: the other, asleep, wakes for the retry "
                 "on time without a daemon, 1 preemption",
         .per_producer = 1, .consumers = 2, .nack_first = true, .nack_delay_ns = 5000000, .one_shot = true,
         .preemptions = 1, .pct_runs = 2000},
        {.name = "delayed_send",
         .what = "2 messages sent with a 5 ms delay: never leased early, due on time without a daemon (a sleeping "
                 "consumer wakes for them), a kill anywhere",
         .send_delay_ns = 5000000, .preemptions = 0, .crashes = 1, .pct_runs = 3000},
        {.name = "expiry",
         .what = "the first message expires as it is stored (1 ns ttl), the second lives 1 s: the first is "
                 "dead-lettered as expired, never delivered, the second delivered in time; a kill anywhere",
         .ttl_first_ns = 1, .ttl_rest_ns = 1000000000, .preemptions = 0, .crashes = 1, .pct_runs = 3000},
        {.name = "expiry_nack",
         .what = "a message with a 3 ms ttl, delivered, nacked with a 5 ms delay: its retry is dead-lettered as "
                 "expired, never delivered; a kill anywhere",
         .per_producer = 1, .nack_first = true, .nack_delay_ns = 5000000, .ttl_first_ns = 3000000,
         .preemptions = 0, .crashes = 1, .pct_runs = 3000},
        {.name = "purge",
         .what = "an operator purge against a send and a recv: nothing stranded, no stale entry leaks, 1 preemption",
         .purge = true, .preemptions = 1, .pct_runs = 2000},
        {.name = "attach_race",
         .what = "two processes attaching while a crash is recovered, 4 client records: one owner per record",
         .per_producer = 1, .max_clients = 4, .attach_race = true, .preemptions = 1, .crashes = 1, .pct_runs = 5000,
         .exhaustive = false},
        {.name = "topic_publish_crash",
         .what = "a topic with 2 groups, 1 consumer each, 1 message: every group gets it or none, a kill anywhere "
                 "(publisher, consumers, recoverer), the payload slot freed after both acks",
         .per_producer = 1, .consumers = 2, .preemptions = 0, .crashes = 1, .pct_runs = 1000, .groups = 2},
        {.name = "topic_groups",
         .what = "a topic with 2 groups, 3 messages, 3 consumers (2 share group g0), 2 slots (reused): every group "
                 "gets every message once, FIFO per group, a payload slot reused only once every group is done with it",
         .per_producer = 3, .consumers = 3, .preemptions = 1, .pct_runs = 2000, .exhaustive = false, .groups = 2},
        {.name = "topic_retry_crash",
         .what = "a topic with 2 groups; each group's consumer nacks its first delivery with a 5 ms delay: the retries "
                 "are per group, due on time; a kill anywhere",
         .per_producer = 1, .consumers = 2, .nack_first = true, .nack_delay_ns = 5000000, .preemptions = 0,
         .crashes = 1, .pct_runs = 2000, .exhaustive = false, .groups = 2},
        {.name = "topic_batch",
         .what = "a topic with 2 groups, publishing with send_batch, groups leasing with recv_batch and ack_batch, "
                 "3 slots, kills",
         .slots = 3, .batch = true, .preemptions = 0, .crashes = 1, .pct_runs = 1500, .exhaustive = false,
         .groups = 2},
        {.name = "topic_add_live",
         .what = "a topic whose second group is bound while 2 messages are published: every message sent after the "
                 "bind returned reaches it, the first group gets all; kills",
         .slots = 3, .preemptions = 1, .crashes = 1, .pct_runs = 2000, .exhaustive = false, .groups = 2,
         .add_group_live = true},
        {.name = "extend_expire",
         .what = "a 4 ms lease, extended by 3 ms after 3.5 ms of work, then work until the new deadline, the ack "
                 "racing a reaper that recovers every ms: never reclaimed early, a lost lease's ack fails and the "
                 "message comes back, a kill anywhere",
         .per_producer = 1, .lease_ms = 4, .work_ns = 3500000, .extend_ms = 3, .race_deadline = true, .reaper = true,
         .crashes = 1, .pct_runs = 3000, .exhaustive = false},
        {.name = "lease_expiry_live",
         .what = "a 3 ms lease, and work until its deadline: the owner's ack races the reaper's reclaim of a live "
                 "owner's expired lease, and a lost one is redelivered; a kill anywhere",
         .per_producer = 1, .lease_ms = 3, .race_deadline = true, .reaper = true, .crashes = 1, .pct_runs = 3000,
         .exhaustive = false},
        {.name = "nack_tick",
         .what = "a nack with a 5 ms delay while a reaper recovers every ms: the retry is never delivered before "
                 "the delay has run from the nack's call",
         .per_producer = 1, .nack_first = true, .nack_delay_ns = 5000000, .reaper = true, .preemptions = 0,
         .pct_runs = 300},
        {.name = "reject",
         .what = "consumers reject each first delivery: DEAD with reason rejected, counted once, never delivered "
                 "again; a kill anywhere",
         .reject_first = true, .preemptions = 0, .crashes = 1, .pct_runs = 500},
        {.name = "reject_reason",
         .what = "consumers reject each first delivery with reason bridge_rejected (shmq_reject_ex): DEAD with "
                 "that reason, counted once, never delivered again; a kill anywhere",
         .reject_first = true, .dead_reason = SHMQ_DEAD_BRIDGE_REJECTED, .preemptions = 0, .crashes = 1,
         .pct_runs = 500},
        {.name = "nack_dead_reason",
         .what = "max_attempts 1: consumers nack each first delivery with reason bridge_rejected "
                 "(shmq_nack_ex), out of attempts at once: DEAD with that reason, not max_attempts, counted once, "
                 "never delivered again; a kill anywhere",
         .reject_first = true, .dead_reason = SHMQ_DEAD_BRIDGE_REJECTED, .reject_by_nack = true, .preemptions = 0,
         .crashes = 1, .pct_runs = 500},
        {.name = "reserve_abort",
         .what = "producers abort a reservation, then reserve and commit (zero-copy): an aborted payload is "
                 "never delivered, no slot leaks; a kill anywhere",
         .reserve = true, .preemptions = 0, .crashes = 1, .pct_runs = 500},
        {.name = "purge_kill",
         .what = "an operator purge against a send and a recv, a kill anywhere: nothing stranded or leaked, "
                 "no more gone than the purge dropped",
         .purge = true, .preemptions = 0, .crashes = 1, .pct_runs = 500},
        {.name = "spill_moves",
         .what = "a daemon spills (take_for_spill, then release_spilled or return_spilled), drains dead letters "
                 "(drain_dead, release_dead) and restores; the first message expires as it is stored (the "
                 "spill pop dead-letters it): nothing lost, nothing twice unless the daemon was killed",
         .slots = 3, .ttl_first_ns = 1, .ttl_rest_ns = 1000000000, .spill = true, .preemptions = 0,
         .crashes = 1, .pct_runs = 500},
        {.name = "topic_spill",
         .what = "a topic with 2 groups, both consumed, while a daemon spills the second through a group handle "
                 "(take_for_spill, return_spilled, release_spilled: only that group's reference is released) and "
                 "restores into it alone; a kill anywhere: neither group loses a message, nothing twice unless the "
                 "daemon was killed, each payload slot freed by the last group",
         .consumers = 2, .slots = 3, .spill = true, .preemptions = 0, .crashes = 1, .pct_runs = 2000,
         .exhaustive = false, .groups = 2},
        {.name = "topic_remove_group",
         .what = "a topic whose second group is removed (forced) while 2 messages are published and consumed: the "
                 "first group gets all, the removed group's messages end acked or dead (group_removed), its lane "
                 "becomes free, no payload slot leaks; kills",
         .consumers = 2, .slots = 3, .preemptions = 1, .crashes = 1, .pct_runs = 2000, .exhaustive = false,
         .groups = 2, .remove_group = true},
        {.name = "dedup_crash",
         .what = "2 producers send keys k1, k2 (the same keys), 1 consumer, 3 slots, a kill anywhere: every key "
                 "whose send returned OK is stored once, all its sends return one id, no entry left in flight",
         .producers = 2, .slots = 3, .dedup_window_ms = 1000, .preemptions = 0, .crashes = 1, .pct_runs = 1500},
        {.name = "dedup_race",
         .what = "2 producers send key k1 at once, 1 consumer, 2 slots, 1 preemption: one message, one id",
         .producers = 2, .per_producer = 1, .dedup_window_ms = 1000, .preemptions = 1, .pct_runs = 1500},
        {.name = "dedup_topic_race",
         .what = "a topic with 2 groups, 1 consumer each: 2 producers publish key k1 at once, 1 preemption: one "
                 "message, one id, in each group once",
         .producers = 2, .per_producer = 1, .consumers = 2, .dedup_window_ms = 1000, .preemptions = 1,
         // Exhaustive (1 preemption): 66,076 runs, 5 min, passed once by hand; too long for ctest.
         .pct_runs = 3000, .exhaustive = false, .groups = 2},
        {.name = "dedup_topic_crash",
         .what = "a topic with 2 groups, 1 consumer each: 2 producers publish keys k1, k2 (the same keys), 3 slots, "
                 "a kill anywhere: every key whose publish returned OK is in each group once, all its publishes "
                 "return one id, a key in every group or none, no entry left in flight",
         .producers = 2, .consumers = 2, .slots = 3, .dedup_window_ms = 1000, .preemptions = 0, .crashes = 1,
         .pct_runs = 1500, .exhaustive = false, .groups = 2},
        {.name = "dedup_window",
         .what = "1 producer sends key k twice, 2 ms apart, with a 1 ms window: two messages",
         .dedup_window_ms = 1, .dedup_gap_ns = 2000000, .preemptions = 0, .crashes = 1, .pct_runs = 300},
        {.name = "disk_reboot",
         .what = "a DISK queue after a reboot (keys READY, LEASED, DELAYED, one damaged, a reservation WRITING, "
                 "the old boot's record naming a live pid): 2 consumers open it at once, one rebuilds under the "
                 "file lock, a kill at every access (the rebuild redone by the next opener): every message "
                 "delivered once, the damaged one quarantined, every slot listed once",
         .producers = 0, .consumers = 2, .slots = 7, .preemptions = 0, .crashes = 1, .pct_runs = 1000,
         .reboot = true},
        {.name = "many_pct",
         .what = "2 producers, 2 consumers, 3 messages each, 3 slots: random PCT schedules with kills",
         .producers = 2, .per_producer = 3, .consumers = 2, .slots = 3, .crashes = 1, .pct_runs = 3000,
         .exhaustive = false},
    };
}

// One execution under scheduler `sch`. Returns "" or the failure.
std::string run_once(const Scenario &sc, Scheduler &sch) {
    g_sim.reset();
    World w(sc, ++g_serial);
    w.spawn_all();
    g_sim.on_step = [&] { w.check_step(); };
    g_sim.describe = [&](const void *a) { return w.describe(a); };
    g_sim.run(sch, [&](Sim &s) { return w.at_quiescence(s); }, kMaxSteps);
    g_sim.on_step = nullptr;
    g_sim.describe = nullptr;
    std::string bad = g_sim.failure;
    if (bad.empty()) bad = w.final_check();
    return bad;
}

void report(const Scenario &sc, const std::string &how, const std::string &bad, const Trace &t) {
    fprintf(stderr, "FAIL %s (%s): %s\n  replay: explore --scenario %s --replay %s\n", sc.name.c_str(), how.c_str(),
            bad.c_str(), sc.name.c_str(), t.str().c_str());
}

bool g_deep = false;

bool run_dfs(const Scenario &sc, uint64_t *execs) {
    Dfs dfs(sc.preemptions + (g_deep ? 1 : 0), sc.crashes);
    do {
        dfs.begin();
        std::string bad = run_once(sc, dfs);
        ++*execs;
        if (!bad.empty()) {
            report(sc, "exhaustive", bad, dfs.trace);
            return false;
        }
    } while (dfs.next());
    return true;
}

bool run_pct(const Scenario &sc, uint64_t first_seed, uint64_t runs, double seconds, uint64_t *execs) {
    auto start = std::chrono::steady_clock::now();
    for (uint64_t k = 0; seconds > 0 || k < runs; ++k) {
        if (seconds > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds)
            break;
        uint64_t seed = first_seed + k;
        // Kills: up to two (the second often hits the recoverer of the first).
        Pct pct(seed, 3, 600, sc.crashes > 0 ? 0.6 : 0.0, sc.crashes > 0 ? 2 : 0);
        std::string bad = run_once(sc, pct);
        ++*execs;
        if (!bad.empty()) {
            report(sc, "pct seed " + std::to_string(seed), bad, pct.trace);
            return false;
        }
    }
    return true;
}

} // namespace

int main(int argc, char **argv) {
    std::string only, replay;
    double seconds = 0;
    long long seed = -1;
    bool list = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) {
                fprintf(stderr, "explore: %s needs a value\n", a.c_str());
                exit(2);
            }
            return argv[++i];
        };
        if (a == "--scenario") only = val();
        else if (a == "--seconds") seconds = atof(val().c_str());
        else if (a == "--seed") seed = atoll(val().c_str());
        else if (a == "--replay") replay = val();
        else if (a == "--list") list = true;
        else if (a == "--verbose") g_sim.verbose = true;
        else if (a == "--deep") g_deep = true;
        else {
            fprintf(stderr, "explore: unknown argument %s (see the top of tests/explore/explore.cpp)\n", a.c_str());
            return 2;
        }
    }
    // A private segment directory for the simulated processes' queues.
    std::string dir = "/tmp/shmq-explore." + std::to_string(getpid());
    mkdir(dir.c_str(), 0700);
    setenv("SHMQ_DIR", dir.c_str(), 1);
    bool ok = true, found = false;
    for (const Scenario &sc : scenarios()) {
        if (list) {
            printf("%-20s %s\n", sc.name.c_str(), sc.what.c_str());
            continue;
        }
        if (!only.empty() && sc.name != only) continue;
        found = true;
        uint64_t execs = 0;
        auto t0 = std::chrono::steady_clock::now();
        bool pass;
        if (!replay.empty()) {
            Trace t;
            if (!Trace::parse(replay, &t)) {
                fprintf(stderr, "explore: bad trace\n");
                return 2;
            }
            Replay r(t);
            std::string bad = run_once(sc, r);
            execs = 1;
            pass = bad.empty();
            if (!pass) report(sc, "replay", bad, r.trace);
        } else if (seed >= 0) {
            pass = run_pct(sc, uint64_t(seed), 1, 0, &execs);
        } else {
            pass = (!sc.exhaustive || seconds > 0 || run_dfs(sc, &execs)) &&
                   run_pct(sc, 1, sc.pct_runs * (g_deep ? 10 : 1), seconds, &execs);
        }
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        printf("%s %-20s %8llu executions %6.1f s\n", pass ? "ok  " : "FAIL", sc.name.c_str(),
               (unsigned long long)execs, secs);
        fflush(stdout);
        ok = ok && pass;
    }
    rmdir(dir.c_str());
    if (!list && !found) {
        fprintf(stderr, "explore: no scenario %s (--list)\n", only.c_str());
        return 2;
    }
    return ok ? 0 : 1;
}
