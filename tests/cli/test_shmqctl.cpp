// shmqctl end to end: the binary run as an operator would, its output and
// exit codes on a live queue, a missing queue and bad arguments, and its
// --json checked against the library's own stats.
#include "run_ctl.hpp"
#include "support.hpp"

#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <span>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace testing;
using namespace ctltest;

namespace {

shmq_stats lib_stats(const std::string &name) {
    shmq_queue *q = open_queue(name);
    REQUIRE(q != nullptr);
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    shmq_close(q);
    return s;
}

} // namespace

TEST_CASE("create, send from stdin, list and stat --json agree with the library") {
    std::string q = unique_name("ctl");
    REQUIRE(ctl("create " + q + " --slots 32 --slot-size 128 --max-attempts 3").code == 0);
    REQUIRE(ctl("send " + q + " -", "a\\nb\\nc\\n").code == 0);
    REQUIRE(ctl("send " + q + " single").code == 0);
    Run list = ctl("list --json");
    REQUIRE(list.code == 0);
    auto all = nlohmann::json::parse(list.out);
    auto it = std::find_if(all.begin(), all.end(), [&](auto &j) { return j["name"] == q; });
    REQUIRE(it != all.end());
    shmq_stats s = lib_stats(q);
    CHECK((*it)["ready"] == s.ready);
    CHECK((*it)["enqueued"] == s.enqueued);
    CHECK(s.ready == 4);
    Run stat = ctl("stat " + q + " --json");
    REQUIRE(stat.code == 0);
    auto j = nlohmann::json::parse(stat.out);
    CHECK(j["params"]["slot_count"] == 32);
    CHECK(j["params"]["max_attempts"] == 3);
    CHECK(j["stats"]["ready"] == 4);
    CHECK(ctl("list name ready").out.find(q) != std::string::npos);
    CHECK(ctl("delete " + q).code == 0);
}

TEST_CASE("peek shows without leasing; recv acks by default, --nack puts back") {
    std::string q = unique_name("ctlrecv");
    REQUIRE(ctl("create " + q).code == 0);
    REQUIRE(ctl("send " + q + " -", "first\\nsecond\\n").code == 0);
    Run peek = ctl("peek " + q + " --count 5 --json");
    REQUIRE(peek.code == 0);
    CHECK(nlohmann::json::parse(peek.out).size() == 2);
    CHECK(lib_stats(q).ready == 2);
    Run nack = ctl("recv " + q + " --nack 0 --json");
    REQUIRE(nack.code == 0);
    CHECK(nlohmann::json::parse(nack.out)[0]["data"] == "first");
    Run got = ctl("recv " + q + " --count 2 --json");
    REQUIRE(got.code == 0);
    auto msgs = nlohmann::json::parse(got.out);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[1]["data"] == "first");
    CHECK(msgs[1]["attempt"] == 2);
    CHECK(lib_stats(q).acked == 2);
    CHECK(ctl("recv " + q + " --timeout 0").code == 4); // nothing left
    CHECK(ctl("delete " + q).code == 0);
}

TEST_CASE("recv --nack -1 nacks with the queue's backoff; it never acks (issue 13, bug 1)") {
    std::string q = unique_name("ctlnack");
    REQUIRE(ctl("create " + q + " --backoff-base 0 --backoff-cap 0").code == 0);
    REQUIRE(ctl("send " + q + " keep-me").code == 0);
    Run r = ctl("recv " + q + " --nack -1 --json");
    REQUIRE(r.code == 0);
    CHECK(nlohmann::json::parse(r.out)[0]["data"] == "keep-me");
    shmq_stats s = lib_stats(q);
    CHECK(s.acked == 0);
    CHECK(s.nacked == 1);
    CHECK(s.ready + s.delayed == 1); // still in the queue
    CHECK(ctl("recv " + q + " --nack 5 --no-ack").code == 1); // contradictory actions
    CHECK(lib_stats(q).ready + lib_stats(q).delayed == 1);
    ctl("delete " + q);
}

TEST_CASE("recv --nack refuses a delay it cannot carry instead of retrying at once") {
    // 1e20 ms, inf and nan were cast to int64 out of range: the nack went out
    // with the queue's backoff (here: at once), the opposite of what was asked.
    std::string q = unique_name("ctlnackrange");
    REQUIRE(ctl("create " + q + " --backoff-base 0 --backoff-cap 0").code == 0);
    REQUIRE(ctl("send " + q + " keep-me").code == 0);
    for (std::string bad : {"1e20", "inf", "nan", "-2", "-0.5", "1209600001"}) {
        CAPTURE(bad);
        CHECK(ctl("recv " + q + " --nack " + bad).code == 1);
        shmq_stats s = lib_stats(q);
        CHECK(s.ready == 1); // refused before anything was leased
        CHECK(s.delivered == 0);
    }
    REQUIRE(ctl("recv " + q + " --nack 1209600000").code == 0); // 14 days: the longest delay
    shmq_stats s = lib_stats(q);
    CHECK(s.delayed == 1);
    CHECK(s.ready == 0);
    ctl("delete " + q);
}

TEST_CASE("recv --count 0 and a NaN --timeout are usage errors") {
    // --count 0 failed with "recv Q: success." and exit 5; a NaN timeout
    // (cast to int64 out of range) waited for ever.
    std::string q = unique_name("ctlcount");
    REQUIRE(ctl("create " + q).code == 0);
    REQUIRE(ctl("send " + q + " kept").code == 0);
    CHECK(ctl("recv " + q + " --count 0").code == 1);
    CHECK(ctl("recv " + q + " --timeout nan").code == 1);
    CHECK(ctl("send " + q + " more --timeout nan").code == 1);
    shmq_stats s = lib_stats(q);
    CHECK(s.ready == 1);
    CHECK(s.delivered == 0);
    ctl("delete " + q);
}

TEST_CASE("send prints the ids it sent; --delay stores them DELAYED, beyond 14 days refused") {
    std::string q = unique_name("ctldelay");
    REQUIRE(ctl("create " + q).code == 0);
    Run now = ctl("send " + q + " now --json");
    REQUIRE(now.code == 0);
    auto sent = nlohmann::json::parse(now.out);
    CHECK(sent["sent"] == 1);
    REQUIRE(sent["ids"].size() == 1);
    Run later = ctl("send " + q + " - --delay 1h --json", "a\\nb\\n");
    REQUIRE(later.code == 0);
    CHECK(nlohmann::json::parse(later.out)["ids"].size() == 2);
    CHECK(ctl("send " + q + " x --delay 2d").code == 0);
    CHECK(ctl("send " + q + " x --delay 15d").code == 5); // SHMQ_ERANGE: nothing sent
    CHECK(ctl("send " + q + " x --delay soon").code == 1);  // not a duration
    shmq_stats s = lib_stats(q);
    CHECK(s.ready == 1);
    CHECK(s.delayed == 3);
    CHECK(s.enqueued == 4);
    Run got = ctl("recv " + q + " --json --timeout 0");
    REQUIRE(got.code == 0);
    CHECK(nlohmann::json::parse(got.out)[0]["id"] == sent["ids"][0]);
    CHECK(ctl("recv " + q + " --timeout 0").code == 4); // the delayed ones are not ready
    ctl("delete " + q);
}

TEST_CASE("create --dedup-window; send --dedup-key stores a key once and says when it was a duplicate") {
    std::string q = unique_name("ctldedup");
    CHECK(ctl("create " + q + " --dedup-window 8d").code == 1); // above 7 days: nothing created
    CHECK(ctl("create " + q + " --dedup-capacity 8").code == 1); // a table without a window (the message: topics test)
    CHECK(ctl("stat " + q).code == 2);                           // nothing created
    REQUIRE(ctl("create " + q + " --dedup-window 60s --dedup-capacity 8").code == 0);
    auto j = nlohmann::json::parse(ctl("stat " + q + " --json").out);
    CHECK(j["params"]["dedup_window_ms"] == 60000);
    CHECK(j["params"]["dedup_capacity"] == 8);
    Run first = ctl("send " + q + " a --dedup-key order-1 --json");
    REQUIRE(first.code == 0);
    auto one = nlohmann::json::parse(first.out);
    CHECK(one["sent"] == 1);
    Run again = ctl("send " + q + " b --dedup-key order-1 --json");
    REQUIRE(again.code == 0);
    auto two = nlohmann::json::parse(again.out);
    CHECK(two["duplicate"] == true);
    CHECK(two["sent"] == 0);
    CHECK(two["ids"][0] == one["ids"][0]);
    CHECK(ctl("send " + q + " - --dedup-key order-2", "x\n").code == 1); // one key names one message
    CHECK(lib_stats(q).ready == 1);
    ctl("delete " + q);
}

TEST_CASE("create --ttl sets the queue's default; send --ttl a message's own; out of range refused") {
    std::string q = unique_name("ctlttl");
    CHECK(ctl("create " + q + " --ttl 8d").code == 1); // above 7 days: nothing created
    REQUIRE(ctl("create " + q + " --ttl 50ms").code == 0);
    auto j = nlohmann::json::parse(ctl("stat " + q + " --json").out);
    CHECK(j["params"]["ttl_ms"] == 50);
    CHECK(ctl("send " + q + " x --ttl 8d").code == 5); // SHMQ_ERANGE: nothing sent
    CHECK(ctl("send " + q + " x --ttl 0").code == 1);  // not silently "the queue's"
    CHECK(ctl("send " + q + " x --ttl 1h --no-ttl").code == 1);
    CHECK(ctl("send " + q + " x --dedup-key ''").code == 1); // not silently "no key"
    REQUIRE(ctl("send " + q + " short").code == 0);     // the queue's 50 ms
    REQUIRE(ctl("send " + q + " long --ttl 1h").code == 0);
    REQUIRE(ctl("send " + q + " never --no-ttl").code == 0);
    timespec pause{0, 100000000};
    nanosleep(&pause, nullptr); // a ttl is a time: let 50 ms pass
    Run got = ctl("recv " + q + " --json --count 3 --timeout 0");
    REQUIRE(got.code == 0);
    auto msgs = nlohmann::json::parse(got.out);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0]["data"] == "long");
    CHECK(msgs[1]["data"] == "never");
    shmq_stats s = lib_stats(q);
    CHECK(s.expired == 1);
    CHECK(s.enqueued == 3);
    CHECK(nlohmann::json::parse(ctl("stat " + q + " --json").out)["stats"]["expired"] == 1);
    ctl("delete " + q);
}

TEST_CASE("delete --if-empty refuses a queue that holds messages") {
    std::string q = unique_name("ctldel");
    REQUIRE(ctl("create " + q).code == 0);
    REQUIRE(ctl("send " + q + " still-here").code == 0);
    CHECK(ctl("delete " + q + " --if-empty").code == 5);
    CHECK(lib_stats(q).ready == 1); // kept, message and all
    REQUIRE(ctl("recv " + q).code == 0);
    Run del = ctl("delete " + q + " --if-empty --json");
    CHECK(del.code == 0);
    CHECK(nlohmann::json::parse(del.out)["deleted"] == q);
    CHECK(ctl("stat " + q).code == 2);
}

TEST_CASE("payloads that are not printable are escaped, or hex on request") {
    std::string q = unique_name("ctlbin");
    REQUIRE(ctl("create " + q).code == 0);
    shmq_queue *h = open_queue(q);
    REQUIRE(shmq_send(h, "a\x01\n", 3, 0) == SHMQ_OK);
    shmq_close(h);
    CHECK(ctl("peek " + q).out.find("a\\x01\\n") != std::string::npos);
    CHECK(ctl("peek " + q + " --hex").out.find("61010a") != std::string::npos);
    ctl("delete " + q);
}

TEST_CASE("purge empties the queue; recover reclaims a killed consumer's lease") {
    std::string q = unique_name("ctlops");
    REQUIRE(ctl("create " + q).code == 0);
    REQUIRE(ctl("send " + q + " -", "x\\ny\\nz\\n").code == 0);
    Pipe leased;
    pid_t pid = spawn([&] {
        shmq_queue *h = open_queue(q);
        shmq_msg m;
        if (h == nullptr || shmq_recv(h, &m, 0) != SHMQ_OK) return 1;
        leased.put("L", 1);
        pause();
        return 2;
    });
    char c;
    REQUIRE(leased.get(&c, 1));
    kill(pid, SIGKILL);
    REQUIRE(wait_child(pid) == -SIGKILL);
    Run rec = ctl("recover " + q + " --json");
    REQUIRE(rec.code == 0);
    auto r = nlohmann::json::parse(rec.out);
    CHECK(r["dead_clients"] == 1);
    CHECK(r["leases_reclaimed"] == 1);
    Run purge = ctl("purge " + q);
    CHECK(purge.code == 0);
    CHECK(purge.out.find("purged 3") != std::string::npos);
    CHECK(lib_stats(q).ready == 0);
    ctl("delete " + q);
}

TEST_CASE("exit codes: missing queue 2, bad arguments 1, bad name 1, unknown column 1") {
    CHECK(ctl("stat no.such.queue").code == 2);
    CHECK(ctl("recv no.such.queue").code == 2);
    CHECK(ctl("frobnicate").code == 1);
    CHECK(ctl("create '../etc'").code == 1);
    CHECK(ctl("list bogus_column").code == 1);
    CHECK(ctl("create " + std::string(65, 'a')).code == 1);
}

TEST_CASE("doctor finds a half-made segment of a dead creator and --fix removes it") {
    std::string dir = getenv("SHMQ_DIR");
    std::string stale = dir + "/.shmq.ghost.tmp.999999999.0"; // no such pid
    std::ofstream(stale) << "half";
    Run d = ctl("doctor --json");
    auto j = nlohmann::json::parse(d.out);
    bool found = false;
    for (auto &f : j["findings"]) found |= std::string(f["what"]).find(".shmq.ghost.tmp") != std::string::npos;
    CHECK(found);
    CHECK(ctl("doctor --fix").code != 5); // 0, or 6 for warnings (a queue without shmqd)
    CHECK(access(stale.c_str(), F_OK) != 0);
}

TEST_CASE("doctor's exit code and --json status are for alerting: 6 for warnings, 5 for errors") {
    std::string q = unique_name("ctldoc");
    REQUIRE(ctl("create " + q).code == 0);
    Run warn = ctl("doctor --json"); // no shmqd supervises the queue: a warning
    CHECK(warn.code == 6);
    CHECK(nlohmann::json::parse(warn.out)["status"] == "warn");
    std::string bad = std::string(getenv("SHMQ_DIR")) + "/shmq." + unique_name("ctlbad");
    std::ofstream(bad) << "not a segment";
    Run err = ctl("doctor --json");
    CHECK(err.code == 5);
    auto j = nlohmann::json::parse(err.out);
    CHECK(j["status"] == "error");
    CHECK(j["errors"] >= 1);
    CHECK(unlink(bad.c_str()) == 0);
    ctl("delete " + q);
}

TEST_CASE("doctor: a memory queue from before a reboot is an error with what to do, not valid") {
    std::string q = unique_name("ctlboot");
    REQUIRE(setenv("SHMQ_BOOT_ID", "0123456789abcdef0123456789abcdef", 1) == 0); // another boot's id
    Run made = ctl("create " + q);
    REQUIRE(unsetenv("SHMQ_BOOT_ID") == 0);
    REQUIRE(made.code == 0);
    CHECK(ctl("send " + q + " x").code != 0); // this boot's clients cannot open it
    Run d = ctl("doctor --json");
    CHECK(d.code == 5);
    CHECK(d.out.find("queue " + q + ": a memory queue from before a reboot") != std::string::npos);
    CHECK(d.out.find("shmqctl delete " + q) != std::string::npos);
    CHECK(d.out.find("queue " + q + ": valid") == std::string::npos);
    CHECK(ctl("delete " + q).code == 0);
}

TEST_CASE("dlq list filters by reason and age and pages; dlq export writes JSON lines with payloads") {
    std::string q = unique_name("ctlfilter");
    char tmpl[] = "/tmp/shmqctl-filter-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    {
        shmq::store::Fd fd;
        std::string why;
        REQUIRE(shmq::store::open_dir(dir, false, &fd, &why) == 0);
        shmq::store::DeadLetters dl;
        shmq::store::OpenReport rep;
        REQUIRE(dl.open(fd.get(), q, shmq::store::StoreOptions{}, &rep) == 0);
        int64_t now = int64_t(time(nullptr)) * 1000000000LL;
        for (uint64_t id = 1; id <= 6; ++id) {
            bool old = id <= 2; // died in 1970, of too many attempts; the rest now, rejected
            std::string body = "body" + std::to_string(id);
            shmq::store::DeadLetterMeta m{id, 3,
                                          old ? shmq::store::DeadReason::MaxAttempts : shmq::store::DeadReason::Rejected,
                                          1, old ? 1000000000LL : now};
            REQUIRE(dl.add(m, std::as_bytes(std::span(body.data(), body.size()))) == 0);
        }
    }
    std::string at = " --dlq-dir " + dir + " --json";
    auto ids_of = [&](const std::string &args) {
        Run r = ctl("dlq list " + q + " " + args + at);
        REQUIRE(r.code == 0);
        std::vector<uint64_t> ids;
        for (auto &j : nlohmann::json::parse(r.out)) ids.push_back(j["id"]);
        return ids;
    };
    CHECK(ids_of("--reason rejected") == std::vector<uint64_t>{3, 4, 5, 6});
    CHECK(ids_of("--newer-than 3600") == std::vector<uint64_t>{3, 4, 5, 6});
    CHECK(ids_of("--older-than 3600") == std::vector<uint64_t>{1, 2});
    CHECK(ids_of("--skip 1 --limit 2") == std::vector<uint64_t>{2, 3});
    CHECK(ids_of("--reason rejected --skip 3") == std::vector<uint64_t>{6});
    CHECK(ctl("dlq list " + q + " --reason bogus" + at).code == 1);
    Run ex = ctl("dlq export " + q + " --reason max_attempts --hex --dlq-dir " + dir);
    REQUIRE(ex.code == 0);
    std::vector<nlohmann::json> lines;
    size_t start = 0;
    for (size_t nl; (nl = ex.out.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(nlohmann::json::parse(ex.out.substr(start, nl - start)));
    REQUIRE(lines.size() == 2);
    CHECK(lines[0]["id"] == 1);
    CHECK(lines[0]["encoding"] == "hex");
    CHECK(lines[0]["data"] == "626f647931"); // "body1"
    CHECK(lines[1]["reason"] == "max_attempts");
    CHECK(system(("rm -rf " + dir).c_str()) == 0);
}

TEST_CASE("dlq list, show, redrive and purge on a dead-letter store") {
    std::string q = unique_name("ctldlq");
    REQUIRE(ctl("create " + q).code == 0);
    char tmpl[] = "/tmp/shmqctl-dlq-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    {
        shmq::store::Fd fd;
        std::string why;
        REQUIRE(shmq::store::open_dir(dir, false, &fd, &why) == 0);
        shmq::store::DeadLetters dl;
        shmq::store::OpenReport rep;
        REQUIRE(dl.open(fd.get(), q, shmq::store::StoreOptions{}, &rep) == 0);
        for (uint64_t id : {41, 42}) {
            std::string body = "poison " + std::to_string(id);
            shmq::store::DeadLetterMeta m{id, 5, shmq::store::DeadReason::MaxAttempts, 1, 2};
            REQUIRE(dl.add(m, std::as_bytes(std::span(body.data(), body.size()))) == 0);
        }
    }
    std::string at = " --dlq-dir " + dir;
    Run list = ctl("dlq list " + q + at + " --json");
    REQUIRE(list.code == 0);
    auto all = nlohmann::json::parse(list.out);
    REQUIRE(all.size() == 2);
    CHECK(all[0]["reason"] == "max_attempts");
    Run show = ctl("dlq show " + q + " 42" + at + " --json");
    REQUIRE(show.code == 0);
    CHECK(nlohmann::json::parse(show.out)["data"] == "poison 42");
    CHECK(ctl("dlq show " + q + " 7" + at).code == 2);
    REQUIRE(ctl("dlq redrive " + q + " --id 41 --rate 1000" + at).code == 0);
    shmq_queue *h = open_queue(q);
    shmq_msg m;
    REQUIRE(shmq_recv(h, &m, 0) == SHMQ_OK);
    CHECK(m.id == 41); // same id, a fresh delivery
    CHECK(m.attempt == 1);
    CHECK(shmq_ack(h, &m) == SHMQ_OK);
    shmq_close(h);
    CHECK(nlohmann::json::parse(ctl("dlq list " + q + at + " --json").out).size() == 1);
    CHECK(ctl("dlq purge " + q + at).code == 0);
    CHECK(nlohmann::json::parse(ctl("dlq list " + q + at + " --json").out).size() == 0);
    CHECK(ctl("dlq list " + q + " --dlq-dir /nonexistent/dir").code == 2);
    // A name with no store: nothing to redrive (an error), nothing to purge
    // (done), and no empty store left behind by either.
    std::string none = unique_name("ctlnone");
    CHECK(ctl("dlq redrive " + none + at).code == 2);
    CHECK(ctl("dlq purge " + none + at).code == 0);
    CHECK(access((dir + "/" + none + ".dlq").c_str(), F_OK) != 0);
    ctl("delete " + q);
    std::string rm = "rm -rf " + dir;
    CHECK(system(rm.c_str()) == 0);
}

TEST_CASE("durability: stat shows shmqd's config's mode; create --durability checks it; disk is the segment's") {
    std::string q = unique_name("ctldur"), other = unique_name("ctlmem");
    char tmpl[] = "/tmp/shmqctl-durable-XXXXXX";
    std::string dir = mkdtemp(tmpl), config = dir + "/shmqd.toml";
    std::ofstream(config) << "version = 1\n[queues.\"" << q << "\"]\ndurability = \"reboot\"\n";
    std::string dq = unique_name("ctldisk");
    Run disk = ctl("create " + dq + " --durability disk --json");
    REQUIRE(disk.code == 0);
    nlohmann::json dj = nlohmann::json::parse(ctl("stat " + dq + " --json").out);
    CHECK(dj["durability"] == "disk"); // from the segment, without --config
    CHECK(dj["disk"]["not_durable"] == true);
    CHECK(dj["disk"]["quarantined"] == 0);
    CHECK(dj["disk"]["durable_lag"] == 0);
    // The durable lag: two sent without a sync, then one with --sync covers all three.
    REQUIRE(ctl("send " + dq + " -", "a\\nb\\n").code == 0);
    CHECK(nlohmann::json::parse(ctl("stat " + dq + " --json").out)["disk"]["durable_lag"] == 2);
    CHECK(ctl("stat " + dq).out.find("durable_lag = 2") != std::string::npos);
    Run synced = ctl("send " + dq + " c --sync --json");
    REQUIRE(synced.code == 0);
    CHECK(nlohmann::json::parse(synced.out)["synced"] == true);
    CHECK(nlohmann::json::parse(ctl("stat " + dq + " --json").out)["disk"]["durable_lag"] == 0);
    CHECK(ctl("send " + dq + " d --sync --timeout 0").code == 1); // no time to sync in
    shmq_unlink(dq.c_str());
    CHECK(ctl("create " + q + " --durability reboot").code == 1);                       // no config: who would snapshot it?
    CHECK(ctl("--config " + config + " create " + other + " --durability reboot").code == 1); // not reboot there
    Run made = ctl("--config " + config + " create " + q + " --durability reboot --json");
    REQUIRE(made.code == 0);
    CHECK(nlohmann::json::parse(made.out)["durability"] == "reboot");
    REQUIRE(ctl("create " + other).code == 0);
    CHECK(nlohmann::json::parse(ctl("--config " + config + " stat " + q + " --json").out)["durability"] == "reboot");
    CHECK(nlohmann::json::parse(ctl("--config " + config + " stat " + other + " --json").out)["durability"] == "memory");
    CHECK(nlohmann::json::parse(ctl("stat " + q + " --json").out)["durability"].is_null());
    CHECK(ctl("--config " + config + " stat " + q).out.find("durability = \"reboot\"") != std::string::npos);
    CHECK(ctl("stat " + q).out.find("durability = unknown") != std::string::npos);
    CHECK(ctl("--config " + dir + "/missing.toml stat " + q).code == 1);
    shmq_unlink(q.c_str());
    shmq_unlink(other.c_str());
    std::remove(config.c_str());
    rmdir(dir.c_str());
}

// The status file as shmq-bridge writes it (daemon/bridge/metrics.cpp's format).
const char kBridgeStatus[] = R"(# HELP shmq_bridge_messages_published_total Messages published to the broker (out).
# TYPE shmq_bridge_messages_published_total counter
shmq_bridge_messages_published_total{binding="out:orders",direction="out"} 12345678
shmq_bridge_messages_confirmed_total{binding="out:orders",direction="out"} 1150
shmq_bridge_messages_inflight{binding="out:orders",direction="out"} 50
shmq_bridge_local_backlog_messages{binding="out:orders",direction="out"} 7
shmq_bridge_messages_received_total{binding="in:done",direction="in"} 300
shmq_bridge_messages_acked_broker_total{binding="in:done",direction="in"} 298
shmq_bridge_broker_backlog_messages{binding="in:done",direction="in"} 41
shmq_bridge_reconnects_total{binding="out:orders",direction="out"} 2
shmq_bridge_reconnects_total{binding="in:done",direction="in"} 3
shmq_bridge_connected{binding="out:orders",direction="out"} 1
shmq_bridge_connected{binding="in:done",direction="in"} 0
)";

TEST_CASE("bridge shows each binding of shmq-bridge's status file; a missing file is exit 5") {
    char path[] = "/tmp/shmqctl-bridge-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path) << kBridgeStatus;
    Run t = ctl(std::string("bridge --status-file ") + path);
    CHECK(t.code == 0);
    CHECK(t.out.find("out:orders") != std::string::npos);
    CHECK(t.out.find("1150") != std::string::npos);
    CHECK(t.out.find("12345678") != std::string::npos); // every digit of a large counter
    CHECK(t.out.find("in:done") != std::string::npos);
    CHECK(t.out.find("stale") == std::string::npos); // just written
    Run j = ctl(std::string("bridge --json --status-file ") + path);
    REQUIRE(j.code == 0);
    auto doc = nlohmann::json::parse(j.out);
    REQUIRE(doc["bindings"].size() == 2);
    CHECK(doc["bindings"][0]["binding"] == "in:done"); // sorted by name
    CHECK(doc["bindings"][0]["broker_backlog_messages"] == 41);
    CHECK(doc["bindings"][0]["connected"] == 0);
    CHECK(doc["bindings"][1]["messages_inflight"] == 50);
    CHECK(doc["stale"] == false);
    std::remove(path);
    CHECK(ctl(std::string("bridge --status-file ") + path).code == 5);
    std::ofstream(path) << "# nothing\n";
    CHECK(ctl(std::string("bridge --status-file ") + path).code == 5);
    std::remove(path);
}

TEST_CASE("create: --mode is octal with or without its 0; --groups 0 is refused, not a queue") {
    auto segment_path = [](const std::string &q) { return std::string(getenv("SHMQ_DIR")) + "/shmq." + q; };
    std::string a = unique_name("ctlmode"), b = unique_name("ctlmode"), c = unique_name("ctlmode");
    REQUIRE(ctl("create " + a + " --mode 660").code == 0);
    REQUIRE(ctl("create " + b + " --mode 0660").code == 0);
    for (const std::string &q : {a, b}) {
        struct stat st;
        REQUIRE(stat(segment_path(q).c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0660);
    }
    CHECK(ctl("create " + c + " --mode 644").code == 1);
    CHECK(ctl("create " + c + " --mode 0x1b0").code == 1);
    CHECK(ctl("create " + c + " --groups 0").code == 1);
    CHECK(access(segment_path(c).c_str(), F_OK) != 0); // nothing was created
    // Durations round up to whole ms: a tiny ttl is 1 ms, never 0 ("none"); 1100ms stays 1100.
    REQUIRE(ctl("create " + c + " --ttl 0.000000000001 --dedup-window 1100ms").code == 0);
    auto params = nlohmann::json::parse(ctl("stat " + c + " --json").out)["params"];
    CHECK(params["ttl_ms"] == 1);
    CHECK(params["dedup_window_ms"] == 1100);
    ctl("delete " + c);
    ctl("delete " + a);
    ctl("delete " + b);
}
