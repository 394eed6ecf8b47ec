// Nothing lost while shmqd restarts under load: producer and consumer
// processes use the HTTP API on the Unix socket while shmqd is stopped
// (SIGTERM) and started again, several times. Every message that got a 201 is
// delivered at least once; while shmqd is down clients see clear errors
// (connection refused, 503/429 with Retry-After, 409 for a lease that ended
// with the run that issued it) and retry. Real processes, real sockets.
#include "harness.hpp"
#include "http_client.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace dtest;
using nlohmann::json;

namespace {

// Counters shared by the parent and its children (an anonymous shared mapping).
struct Shared {
    std::atomic<uint64_t> sent{0};      // 201 answers
    std::atomic<uint64_t> delivered{0}; // messages in 200 lease answers
    std::atomic<uint64_t> acked{0};
    std::atomic<uint64_t> refused{0};   // connect failed: shmqd down
    std::atomic<uint64_t> cut{0};       // connected, but no answer (shmqd stopping)
    std::atomic<uint64_t> busy{0};      // 503 or 429, with Retry-After
    std::atomic<uint64_t> lost{0};      // 409 on ack: the lease ended with its shmqd run
    std::atomic<uint64_t> unexpected{0};
};

constexpr int kProducers = 2, kConsumers = 2, kPerProducer = 400;

struct Run {
    Endpoint e;
    const TempDir *dir;
    Shared *sh;
};

void append(const std::string &path, const std::string &line) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    std::string l = line + "\n";
    ssize_t n = write(fd, l.data(), l.size()); // one write: lines from several processes do not mix
    (void)n;
    close(fd);
}

// Count an answer that is not a success; false if it is not one a client may retry.
bool retryable(const Run &run, const HttpReply &r, const std::string &what) {
    if (!r.connected) ++run.sh->refused;
    else if (r.status == -1) ++run.sh->cut;
    else if ((r.status == 503 || r.status == 429) && r.headers.count("retry-after") != 0) ++run.sh->busy;
    else {
        ++run.sh->unexpected;
        append(run.dir->file("unexpected"), what + ": " + std::to_string(r.status) + " " + r.body);
        return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5)); // a client's retry pause, not synchronisation
    return true;
}

void produce(const Run &run, int k) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(150);
    std::string log = run.dir->file("sent." + std::to_string(k));
    for (int i = 0; i < kPerProducer; ++i) {
        std::string body = "p" + std::to_string(k) + "-" + std::to_string(i);
        for (;;) {
            if (std::chrono::steady_clock::now() > until) _exit(3);
            HttpReply r = http_request(run.e, "POST", "/v1/queues/q/messages?timeout=1000", body);
            if (r.status == 201) {
                append(log, std::to_string(json::parse(r.body).at("id").get<uint64_t>()));
                ++run.sh->sent;
                break;
            }
            if (!retryable(run, r, "send")) _exit(4);
        }
    }
    _exit(0);
}

void settle(const Run &run, const std::string &receipt) {
    HttpReply r = http_request(run.e, "POST", "/v1/receipts/" + receipt + "/ack");
    if (r.status == 200) ++run.sh->acked;
    else if (r.status == 409) ++run.sh->lost; // redelivered later
    else retryable(run, r, "ack " + receipt);  // not retried: the message comes back anyway
}

void consume(const Run &run, int k) {
    std::string log = run.dir->file("delivered." + std::to_string(k)), stop = run.dir->file("stop");
    while (access(stop.c_str(), F_OK) != 0) {
        HttpReply r = http_request(run.e, "POST", "/v1/queues/q/leases?max=16&wait=200");
        if (r.status != 200) {
            if (!retryable(run, r, "lease")) _exit(4);
            continue;
        }
        json answer = json::parse(r.body); // kept: a range-for over .at() of a temporary would dangle
        for (const json &m : answer.at("messages")) {
            append(log, std::to_string(m.at("id").get<uint64_t>()));
            ++run.sh->delivered;
            settle(run, m.at("receipt").get<std::string>());
        }
    }
    _exit(0);
}

pid_t fork_child(const Run &run, void (*body)(const Run &, int), int k) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (int sig : {SIGTERM, SIGINT, SIGSEGV, SIGABRT}) signal(sig, SIG_DFL); // not doctest's
        try {
            body(run, k);
        } catch (const std::exception &e) {
            ++run.sh->unexpected;
            append(run.dir->file("unexpected"), std::string("child: ") + e.what());
        }
        _exit(5);
    }
    return pid;
}

std::set<uint64_t> ids_in(const TempDir &dir, const std::string &prefix, int n) {
    std::set<uint64_t> ids;
    for (int k = 0; k < n; ++k) {
        std::ifstream in(dir.file(prefix + "." + std::to_string(k)));
        uint64_t id;
        while (in >> id) ids.insert(id);
    }
    return ids;
}

// Exit code of `pid` (-1 if it has not exited within `timeout`).
int wait_child(pid_t pid, std::chrono::seconds timeout) {
    int st = 0, code = -1;
    eventually([&] {
        if (waitpid(pid, &st, WNOHANG) != pid) return false;
        code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return true;
    }, timeout);
    if (code == -1) kill(pid, SIGKILL), waitpid(pid, &st, 0);
    return code;
}

// Kills and reaps the children still running when the test ends early.
struct Children {
    std::vector<pid_t> pids;
    ~Children() {
        for (pid_t p : pids) {
            if (waitpid(p, nullptr, WNOHANG) != 0) continue; // reaped already (or just now)
            kill(p, SIGKILL);
            waitpid(p, nullptr, 0);
        }
    }
};

std::string summary(const TempDir &dir, const Shared *sh) {
    return "sent " + std::to_string(sh->sent) + " delivered " + std::to_string(sh->delivered) + " acked " +
           std::to_string(sh->acked) + " refused " + std::to_string(sh->refused) + " cut " +
           std::to_string(sh->cut) + " busy " + std::to_string(sh->busy) + " lost " + std::to_string(sh->lost) +
           " unexpected " + std::to_string(sh->unexpected) + "\n" + dir.read("unexpected");
}

} // namespace

TEST_CASE("nothing is lost while shmqd is stopped and started again under HTTP load") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "max_attempts = 1000\n"));
    auto d = std::make_unique<Shmqd>(dir);
    REQUIRE(d->wait_ready(20s));
    void *mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    Shared *sh = new (mem) Shared;
    Run run{Endpoint{-1, dir.file("spill") + "/shmqd.sock"}, &dir, sh};
    INFO(summary(dir, sh));
    std::vector<pid_t> producers, consumers;
    Children guard;
    for (int k = 0; k < kProducers; ++k) guard.pids.push_back(producers.emplace_back(fork_child(run, produce, k)));
    for (int k = 0; k < kConsumers; ++k) guard.pids.push_back(consumers.emplace_back(fork_child(run, consume, k)));

    for (int cycle = 0; cycle < 3; ++cycle) {
        uint64_t sent = sh->sent, refused = sh->refused;
        REQUIRE(eventually([&] { return sh->sent >= sent + 50; }, 60s)); // load is flowing
        CHECK(d->stop() == 0);
        REQUIRE(eventually([&] { return sh->refused >= refused + 4; }, 30s)); // clients met the downtime
        d = std::make_unique<Shmqd>(dir);
        REQUIRE(d->wait_ready(20s));
    }
    for (pid_t p : producers) CHECK(wait_child(p, 180s) == 0);
    std::set<uint64_t> sent = ids_in(dir, "sent", kProducers), missing;
    CHECK(sent.size() == size_t(kProducers * kPerProducer));
    bool all = eventually([&] {
        std::set<uint64_t> got = ids_in(dir, "delivered", kConsumers);
        missing.clear();
        for (uint64_t id : sent) if (got.count(id) == 0) missing.insert(id);
        return missing.empty();
    }, 60s);
    dir.write("stop", "");
    for (pid_t p : consumers) CHECK(wait_child(p, 30s) == 0);
    CHECK_MESSAGE(all, missing.size(), " messages answered 201 were never delivered");
    CHECK(sh->unexpected == 0);
    MESSAGE(summary(dir, sh));
    CHECK(sh->refused > 0);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    CHECK(stats_of(q).dead_lettered == 0);
    shmq_close(q);
    munmap(mem, sizeof(Shared));
}
