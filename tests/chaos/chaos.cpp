// chaos.cpp - the whole system under load while processes of every kind are
// SIGKILLed, SIGSTOPped and restarted: producers, consumers and shmqd itself.
//
// Producers send (producer, seq) keys and record a seq in a shared ledger only
// after its send returned; consumers record a key as processed *before* they
// ack it (as an idempotent side effect would be), so a kill can duplicate but
// never hide one. At the end every recorded key must have been processed or
// be in the dead-letter store, poison keys must be in the dead-letter store,
// duplicates must stay within what the kills and stalls can explain, no slot
// may be leaked and the segment must audit clean.
//
// With --topic, "chaos" is a topic with two consumer groups, `a` (holds its
// backlog) and `b` (spilled by shmqd above a backlog of 64); consumers
// alternate between them, and every check above holds for each group on its
// own (its own ledger, its own dead-letter store chaos.a / chaos.b), and no
// payload slot is held at the end.
//
// Usage: chaos --daemon PATH [--seconds S] [--kill-ms MS] [--producers N]
//              [--consumers M] [--size BYTES] [--poison PERCENT] [--seed X] [--topic 1]
#include "audit.hpp"
#include "queue.hpp"
#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kMaxSeq = 4u << 20; // per producer
constexpr uint32_t kMaxProducers = 8;
constexpr int kSpillBatch = 64;        // most messages one daemon kill can duplicate (a spill batch)

struct Options {
    std::string daemon;
    double seconds = 30;
    int kill_ms = 100, producers = 2, consumers = 2, size = 64, poison = 2;
    unsigned seed = 1;
    bool topic = false;
};

constexpr int kGroups = 2; // with --topic
const char *const kGroupNames[kGroups] = {"a", "b"};

// Lives in a shared anonymous mapping: survives the kill of any child.
struct Ledger {
    std::atomic<uint32_t> sent[kMaxProducers];     // seqs below this were sent (send returned OK)
    std::atomic<uint32_t> stop_producing;
    std::atomic<uint8_t> processed[kGroups][kMaxProducers][kMaxSeq]; // per group (a queue: [0]); saturating counts
};

struct Payload {
    uint32_t producer, seq;
};

bool is_poison(const Options &o, Payload p) { return (p.producer * 2654435761u ^ p.seq * 40503u) % 100 < unsigned(o.poison); }

Ledger *g_ledger;
std::string g_queue = "chaos";

int producer_main(const Options &o, uint32_t me) {
    shmq_queue *q = nullptr;
    if (shmq_open(g_queue.c_str(), nullptr, &q) != SHMQ_OK) return 10;
    std::vector<char> buf(size_t(std::max(o.size, int(sizeof(Payload)))), 'x');
    while (!g_ledger->stop_producing.load()) {
        uint32_t seq = g_ledger->sent[me].load();
        if (seq >= kMaxSeq) break;
        Payload p{me, seq};
        std::memcpy(buf.data(), &p, sizeof p);
        int rc = shmq_send(q, buf.data(), buf.size(), 20 * 1000000LL);
        if (rc == SHMQ_OK) g_ledger->sent[me].store(seq + 1); // recorded only once it is safe
        else if (rc == SHMQ_ENOTFOUND) std::this_thread::yield(); // a topic before shmqd bound its groups
        else if (rc != SHMQ_ETIMEDOUT && rc != SHMQ_EFULL) return 11;
    }
    shmq_close(q);
    return 0;
}

int consumer_main(const Options &o, uint32_t me) {
    shmq_options opts;
    shmq_options_init(&opts);
    opts.prefetch = 1; // one kill or stall can then duplicate at most one message
    shmq_queue *q = nullptr;
    const uint32_t group = o.topic ? me % kGroups : 0;
    int orc = o.topic ? shmq_open_group(g_queue.c_str(), kGroupNames[group], &opts, &q)
                      : shmq_open(g_queue.c_str(), &opts, &q);
    if (orc != SHMQ_OK) return 20;
    for (;;) {
        shmq_msg m;
        int rc = shmq_recv(q, &m, 50 * 1000000LL);
        if (rc != SHMQ_OK) continue;
        Payload p;
        if (m.len < sizeof p) return 21;
        std::memcpy(&p, m.data, sizeof p);
        if (p.producer >= kMaxProducers || p.seq >= kMaxSeq) return 22;
        if (is_poison(o, p)) {
            shmq_nack(q, &m, -1); // poison: fails every time, ends in the dead-letter store
            continue;
        }
        auto &c = g_ledger->processed[group][p.producer][p.seq];
        uint8_t v = c.load();
        while (v < 255 && !c.compare_exchange_weak(v, uint8_t(v + 1))) {
        }
        shmq_ack(q, &m); // a lease lost here just means another consumer has it
    }
}

struct Proc {
    enum Kind { Producer, Consumer, Daemon } kind;
    uint32_t index;
    pid_t pid = 0;
    bool stopped = false;
};

std::string g_dir, g_shm, g_config;

pid_t start(const Options &o, Proc &p) {
    fflush(nullptr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (p.kind == Proc::Daemon) {
        execl(o.daemon.c_str(), o.daemon.c_str(), "--config", g_config.c_str(), "--foreground", "--log-level",
              "warn", (char *)nullptr);
        _exit(127);
    }
    _exit(p.kind == Proc::Producer ? producer_main(o, p.index) : consumer_main(o, p.index));
}

void write_config(const Options &o) {
    std::ofstream c(g_config);
    c << "version = 1\n[daemon]\nspill_dir = \"" << g_dir << "/spill\"\ndead_letter_dir = \"" << g_dir
      << "/dlq\"\nmetrics = \"off\"\ntick_ms = 2\nlog_level = \"warn\"\n"
      << (o.topic ? "[topics.chaos]\ngroups = [\"a\", \"b\"]\n" : "[queues.chaos]\n") << "slot_size = "
      << std::max(o.size, 16) << "\nslot_count = 256\nlease_ms = 300\nmax_attempts = 5\nbackoff_base_ms = 1\n"
      << "backoff_cap_ms = 20\njitter = \"full\"\noverflow = \"spill\"\nspill_high_water = 0.5\n"
      << "spill_low_water = 0.2\nspill_fsync = \"never\"\ndlq_fsync = \"always\"\n";
    if (o.topic)
        c << "[topics.chaos.group_options.a]\noverflow = \"hold\"\n[topics.chaos.group_options.b]\nbacklog = 64\n";
}

// The stores of group g (a queue: its own name).
std::string store_name(const Options &o, int g) { return o.topic ? g_queue + "." + kGroupNames[g] : g_queue; }

struct Counts {
    int kills[3] = {}, stalls = 0, restarts = 0;
};

void reap_and_restart(const Options &o, std::vector<Proc> &procs, Counts &n) {
    for (auto &p : procs) {
        int status;
        if (p.pid > 0 && waitpid(p.pid, &status, WNOHANG) == p.pid) {
            if (p.kind == Proc::Producer && g_ledger->stop_producing.load()) {
                p.pid = -1; // done producing: not restarted
                continue;
            }
            if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                fprintf(stderr, "chaos: a %s exited with %d\n", p.kind == Proc::Daemon ? "daemon" : "client",
                        WEXITSTATUS(status));
            p.pid = start(o, p);
            p.stopped = false;
            ++n.restarts;
        }
    }
}

void strike(std::mt19937 &rng, std::vector<Proc> &procs, Counts &n) {
    Proc &p = procs[rng() % procs.size()];
    if (p.pid <= 0) return;
    if (p.stopped) {
        kill(p.pid, SIGCONT);
        p.stopped = false;
    } else if (p.kind == Proc::Consumer && rng() % 4 == 0) {
        kill(p.pid, SIGSTOP); // a stall: alive, so only its lease deadline may cost it the message
        p.stopped = true;
        ++n.stalls;
    } else {
        kill(p.pid, SIGKILL);
        ++n.kills[p.kind];
    }
}

shmq_stats queue_stats(shmq::detail::Queue &q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    q.stats(&s);
    return s;
}

// Keys in the dead-letter store, and how many records it holds.
std::set<uint64_t> dead_letters(const std::string &store, uint64_t *records) {
    std::set<uint64_t> keys;
    shmq::store::Fd dir;
    std::string why;
    if (shmq::store::open_dir(g_dir + "/dlq", false, &dir, &why) != 0) return keys;
    shmq::store::DeadLetters dl;
    shmq::store::StoreOptions so;
    so.read_only = true;
    shmq::store::OpenReport rep;
    if (dl.open(dir.get(), store, so, &rep) != 0) return keys;
    *records = 0;
    shmq::store::RedriveResult res;
    dl.redrive_all(0, [&](const shmq::store::DeadLetterView &v) {
        Payload p;
        if (v.payload.size() >= sizeof p) {
            std::memcpy(&p, v.payload.data(), sizeof p);
            keys.insert(uint64_t(p.producer) << 32 | p.seq);
        }
        ++*records;
        return shmq::store::RedriveStep::Keep; // read only: nothing is removed
    }, &res);
    return keys;
}

bool spill_empty(const std::string &store) {
    struct stat st;
    std::string spill = g_dir + "/spill/" + store + ".spill";
    return stat(spill.c_str(), &st) != 0 || st.st_size <= 64; // empty but for its header
}

// A topic's payload slots count PUBLISHED (held by groups) as leased; each
// group's lane has its own words and spill.
bool drained(const Options &o, shmq::detail::Queue &q) {
    shmq_stats s = queue_stats(q);
    if (s.ready + s.leased + s.delayed + s.writing + s.dead != 0) return false;
    for (int g = 0; g < (o.topic ? kGroups : 1); ++g) {
        if (!spill_empty(store_name(o, g))) return false;
        if (!o.topic) continue;
        shmq_stats l = queue_stats(*q.lane_view(uint32_t(g)));
        if (l.ready + l.leased + l.delayed + l.writing + l.dead != 0) return false;
    }
    return true;
}

struct Tally {
    uint64_t sent = 0, lost = 0, dups = 0, poison = 0, poison_missing = 0, normal_in_dlq = 0;
};

// One group's (a queue's) ledger against its dead-letter store.
void tally_group(const Options &o, int g, Tally *t) {
    uint64_t dl_records = 0;
    std::set<uint64_t> dlq = dead_letters(store_name(o, g), &dl_records);
    for (int p = 0; p < o.producers; ++p) {
        for (uint32_t s = 0; s < g_ledger->sent[p].load(); ++s, ++t->sent) {
            uint64_t key = uint64_t(p) << 32 | s;
            uint8_t done = g_ledger->processed[g][p][s].load();
            if (is_poison(o, Payload{uint32_t(p), s})) {
                ++t->poison;
                t->poison_missing += dlq.count(key) == 0;
            } else if (done == 0 && dlq.count(key) == 0) {
                if (++t->lost <= 5) fprintf(stderr, "chaos: LOST producer %d seq %u (group %d)\n", p, s, g);
            } else {
                t->dups += done > 1 ? done - 1 : 0;
                t->normal_in_dlq += dlq.count(key);
                if (done > 0 && dlq.count(key) > 0) ++t->dups; // processed, then dead-lettered too
            }
        }
    }
    t->dups += dl_records - dlq.size(); // the same message dead-lettered twice
}

int verify(const Options &o, shmq::detail::Queue &q, const Counts &n) {
    Tally t;
    for (int g = 0; g < (o.topic ? kGroups : 1); ++g) tally_group(o, g, &t);
    int kills = n.kills[0] + n.kills[1] + n.kills[2];
    // A daemon kill duplicates at most a spill batch; a group's batch may be
    // as large as the slots (its backlog is not the pool's high-water mark).
    uint64_t per_daemon_kill = o.topic ? 256 * kGroups : kSpillBatch;
    uint64_t bound = uint64_t(n.kills[0] + n.kills[1] + n.stalls) + uint64_t(n.kills[2]) * per_daemon_kill;
    shmq_stats s = queue_stats(q);
    shmq::detail::Audit a = shmq::detail::audit(q);
    printf("\n| measure | value |\n| --- | --- |\n");
    if (o.topic) printf("| topic with groups | a (hold), b (spill above 64) |\n");
    printf("| messages sent (recorded, x groups) | %llu |\n| poison among them | %llu |\n",
           (unsigned long long)t.sent, (unsigned long long)t.poison);
    printf("| kills: producers / consumers / shmqd | %d / %d / %d |\n| stalls (SIGSTOP) | %d |\n", n.kills[0],
           n.kills[1], n.kills[2], n.stalls);
    printf("| lost | %llu |\n| poison not dead-lettered | %llu |\n", (unsigned long long)t.lost,
           (unsigned long long)t.poison_missing);
    printf("| duplicates | %llu (bound %llu) |\n| normal messages dead-lettered (attempts used up by kills) | %llu |\n",
           (unsigned long long)t.dups, (unsigned long long)bound, (unsigned long long)t.normal_in_dlq);
    printf("| slots free at the end | %llu of %u |\n| audit | %s |\n", (unsigned long long)s.free, s.slot_count,
           a.ok() ? "clean" : "FAILED");
    bool ok = t.lost == 0 && t.poison_missing == 0 && t.dups <= bound && s.free == s.slot_count && a.ok() && kills > 0;
    printf("\nchaos: %s\n", ok ? "every message accounted for" : "FAILED");
    return ok ? 0 : 1;
}

Options parse(int argc, char **argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--daemon") o.daemon = v;
        else if (k == "--seconds") o.seconds = atof(v.c_str());
        else if (k == "--kill-ms") o.kill_ms = atoi(v.c_str());
        else if (k == "--producers") o.producers = std::min(atoi(v.c_str()), int(kMaxProducers));
        else if (k == "--consumers") o.consumers = atoi(v.c_str());
        else if (k == "--size") o.size = atoi(v.c_str());
        else if (k == "--poison") o.poison = atoi(v.c_str());
        else if (k == "--seed") o.seed = unsigned(atoi(v.c_str()));
        else if (k == "--topic") o.topic = atoi(v.c_str()) != 0;
        else {
            fprintf(stderr, "chaos: unknown option %s\n", k.c_str());
            exit(2);
        }
    }
    if (o.daemon.empty()) {
        fprintf(stderr, "usage: chaos --daemon PATH [--seconds S] [--kill-ms MS] ...\n");
        exit(2);
    }
    return o;
}

void setup_dirs() {
    char shm[] = "/dev/shm/chaos-XXXXXX", dir[] = "/tmp/chaos-XXXXXX";
    if (mkdtemp(shm) == nullptr || mkdtemp(dir) == nullptr) exit(3);
    g_shm = shm;
    g_dir = dir;
    g_config = g_dir + "/shmqd.toml";
    setenv("SHMQ_DIR", shm, 1);
}

// Wait until the daemon has created the queue, then open it as an observer.
shmq::detail::Queue *wait_for_queue() {
    for (auto end = Clock::now() + std::chrono::seconds(20); Clock::now() < end;) {
        shmq::detail::Queue *q = nullptr;
        if (shmq::detail::Queue::inspect(g_queue.c_str(), &q) == SHMQ_OK) return q;
        std::this_thread::yield();
    }
    fprintf(stderr, "chaos: shmqd did not create the queue\n");
    exit(4);
}

} // namespace

int main(int argc, char **argv) {
    Options o = parse(argc, argv);
    setup_dirs();
    write_config(o);
    g_ledger = static_cast<Ledger *>(
        mmap(nullptr, sizeof(Ledger), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    std::vector<Proc> procs;
    procs.push_back({Proc::Daemon, 0});
    procs[0].pid = start(o, procs[0]);
    std::unique_ptr<shmq::detail::Queue> q(wait_for_queue());
    for (int i = 0; i < o.producers; ++i) procs.push_back({Proc::Producer, uint32_t(i)});
    for (int i = 0; i < o.consumers; ++i) procs.push_back({Proc::Consumer, uint32_t(i)});
    for (auto &p : procs)
        if (p.pid == 0) p.pid = start(o, p);

    std::mt19937 rng(o.seed);
    Counts n;
    auto end = Clock::now() + std::chrono::duration<double>(o.seconds);
    while (Clock::now() < end) {
        usleep(useconds_t(o.kill_ms) * 1000); // the kill rate, not a synchronisation
        strike(rng, procs, n);
        reap_and_restart(o, procs, n);
    }
    // Stop producing, let everything resume, and wait for the queue to drain.
    g_ledger->stop_producing.store(1);
    for (auto &p : procs)
        if (p.stopped) kill(p.pid, SIGCONT), p.stopped = false;
    auto give_up = Clock::now() + std::chrono::seconds(120);
    while (!drained(o, *q) && Clock::now() < give_up) {
        usleep(20000); // a polling interval for the drained() condition, not synchronisation
        reap_and_restart(o, procs, n);
    }
    if (!drained(o, *q)) fprintf(stderr, "chaos: the queue did not drain in 120 s\n");
    for (auto &p : procs)
        if (p.pid > 0) kill(p.pid, p.kind == Proc::Daemon ? SIGTERM : SIGKILL);
    for (auto &p : procs)
        if (p.pid > 0) waitpid(p.pid, nullptr, 0);
    int rc = verify(o, *q, n);
    q.reset();
    std::string cleanup = "rm -rf '" + g_dir + "' '" + g_shm + "'";
    if (rc == 0 && system(cleanup.c_str()) != 0) fprintf(stderr, "chaos: could not remove %s\n", g_dir.c_str());
    return rc;
}
