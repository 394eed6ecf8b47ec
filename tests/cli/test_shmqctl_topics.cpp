// shmqctl on topics (issue 16): create --groups, group add, send publishing
// to every bound group (once per deduplication key with a window), and peek / recv / purge / stat with --group, each on
// the named group only; bad input gives a clear error and its exit code.
#include "run_ctl.hpp"
#include "support.hpp"

#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <sstream>
#include <vector>
#include <string>

using namespace testing;
using namespace ctltest;

namespace {

// Exit code and stderr of shmqctl `args`.
Run ctl_err(const std::string &args) {
    std::string cmd = std::string(SHMQCTL) + " " + args + " 2>&1 >/dev/null";
    FILE *p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string err;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) err.append(buf, n);
    int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, err};
}

nlohmann::json ctl_json(const std::string &args) {
    Run r = ctl(args + " --json");
    REQUIRE_MESSAGE(r.code == 0, args);
    return nlohmann::json::parse(r.out);
}

// A dead-letter store `store` under `dir` holding message `id`.
void add_dead_letter(const std::string &dir, const std::string &store, uint64_t id) {
    shmq::store::Fd fd;
    std::string why;
    REQUIRE(shmq::store::open_dir(dir, false, &fd, &why) == 0);
    shmq::store::DeadLetters dl;
    shmq::store::OpenReport rep;
    REQUIRE(dl.open(fd.get(), store, shmq::store::StoreOptions{}, &rep) == 0);
    std::string body = "dead " + std::to_string(id);
    shmq::store::DeadLetterMeta m{id, 5, shmq::store::DeadReason::Rejected, 1, 2};
    REQUIRE(dl.add(m, std::as_bytes(std::span(body.data(), body.size()))) == 0);
}

// Does the table `out` have a line whose cells are `cells`?
bool has_row(const std::string &out, const std::vector<std::string> &cells) {
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::vector<std::string> got;
        for (std::string w; words >> w;) got.push_back(w);
        if (got == cells) return true;
    }
    return false;
}

// What a consumer of group `group` receives with the library (not shmqctl), acking it.
std::string lib_recv_group(const std::string &topic, const std::string &group) {
    shmq_queue *g = nullptr;
    REQUIRE(shmq_open_group(topic.c_str(), group.c_str(), nullptr, &g) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(g, &m, 5 * 1000000000LL) == SHMQ_OK);
    std::string got(static_cast<const char *>(m.data), m.len);
    REQUIRE(shmq_ack(g, &m) == SHMQ_OK);
    shmq_close(g);
    return got;
}

} // namespace

TEST_CASE("a topic: send publishes to every group; peek, recv, purge and stat --group act on one group") {
    std::string t = unique_name("ctltopic");
    REQUIRE(ctl("create " + t + " --groups 4 --slots 8 --slot-size 64").code == 0);
    REQUIRE(ctl("group add " + t + " email").code == 0);
    REQUIRE(ctl("group add " + t + " inventory").code == 0);
    REQUIRE(ctl("send " + t + " -", "a\\nb\\nc\\n").code == 0);

    auto peeked = ctl_json("peek " + t + " --group email --count 10");
    REQUIRE(peeked.size() == 3);
    CHECK(peeked[0]["data"] == "a");
    auto got = ctl_json("recv " + t + " --group email --count 2");
    REQUIRE(got.size() == 2);
    CHECK(got[1]["data"] == "b");
    CHECK(ctl_json("stat " + t + " --group email")["stats"]["ready"] == 1);
    CHECK(ctl_json("stat " + t + " --group inventory")["stats"]["ready"] == 3); // untouched by email's recv
    CHECK(lib_recv_group(t, "inventory") == "a");

    auto purged = ctl_json("purge " + t + " --group inventory");
    CHECK(purged["purged"] == 2);
    CHECK(ctl_json("stat " + t + " --group inventory")["stats"]["ready"] == 0);
    CHECK(ctl_json("stat " + t + " --group email")["stats"]["ready"] == 1);
    CHECK(lib_recv_group(t, "email") == "c");

    auto stat = ctl_json("stat " + t);
    CHECK(stat["kind"] == "topic");
    CHECK(stat["params"]["max_groups"] == 4);
    CHECK(stat["stats"]["free"] == 8); // every group done with every payload: all slots free again
    auto list = ctl_json("list");
    auto it = std::find_if(list.begin(), list.end(), [&](auto &j) { return j["name"] == t; });
    REQUIRE(it != list.end());
    CHECK((*it)["kind"] == "topic");
    CHECK((*it)["max_groups"] == 4);
    CHECK(has_row(ctl("list name kind").out, {t, "topic"}));
    CHECK(has_row(ctl("list name kind").out, {t + "/email", "group"}));
    CHECK(ctl("delete " + t).code == 0);
}

TEST_CASE("create --groups --dedup-window: send --dedup-key publishes a key once, to every group") {
    std::string t = unique_name("ctltopicdedup");
    REQUIRE(ctl("create " + t + " --groups 2 --slots 8 --slot-size 64 --dedup-window 60s").code == 0);
    CHECK(ctl_json("stat " + t)["params"]["dedup_window_ms"] == 60000);
    REQUIRE(ctl("group add " + t + " email").code == 0);
    REQUIRE(ctl("group add " + t + " inventory").code == 0);
    auto one = ctl_json("send " + t + " a --dedup-key order-1");
    CHECK(one["sent"] == 1);
    auto two = ctl_json("send " + t + " b --dedup-key order-1");
    CHECK(two["duplicate"] == true);
    CHECK(two["sent"] == 0);
    CHECK(two["ids"][0] == one["ids"][0]);
    for (const char *g : {"email", "inventory"}) {
        CHECK(lib_recv_group(t, g) == "a");
        CHECK(ctl_json("stat " + t + " --group " + g)["stats"]["ready"] == 0); // the duplicate reached no group
    }
    ctl("delete " + t);
}

TEST_CASE("a group bound later gets only what is published after it") {
    std::string t = unique_name("ctllate");
    REQUIRE(ctl("create " + t + " --groups 2").code == 0);
    REQUIRE(ctl("group add " + t + " early").code == 0);
    REQUIRE(ctl("send " + t + " before").code == 0);
    REQUIRE(ctl("group add " + t + " late").code == 0);
    REQUIRE(ctl("send " + t + " after").code == 0);
    CHECK(ctl_json("peek " + t + " --group early --count 10").size() == 2);
    auto late = ctl_json("peek " + t + " --group late --count 10");
    REQUIRE(late.size() == 1);
    CHECK(late[0]["data"] == "after");
    ctl("delete " + t);
}

TEST_CASE("topics: bad input is refused with a clear error and its exit code") {
    std::string t = unique_name("ctlbadt"), q = unique_name("ctlbadq");
    REQUIRE(ctl("create " + t + " --groups 1").code == 0);
    REQUIRE(ctl("create " + q).code == 0);
    REQUIRE(ctl("group add " + t + " only").code == 0);

    Run r = ctl_err("group add " + t + " only");
    CHECK(r.code == 5);
    CHECK(r.out.find("bound already") != std::string::npos);
    r = ctl_err("group add " + t + " second");
    CHECK(r.code == 5);
    CHECK(r.out.find("groups of the topic are bound") != std::string::npos);
    r = ctl_err("group add " + q + " g");
    CHECK(r.code == 1);
    CHECK(r.out.find("is a queue, not a topic") != std::string::npos);
    r = ctl_err("peek " + q + " --group g");
    CHECK(r.code == 1);
    CHECK(r.out.find("is a queue, not a topic") != std::string::npos);
    r = ctl_err("recv " + t + " --group nosuch --timeout 0");
    CHECK(r.code == 2);
    CHECK(r.out.find("has no group 'nosuch'") != std::string::npos);
    r = ctl_err("stat " + t + " --group '../x'");
    CHECK(r.code == 1);
    CHECK(r.out.find("bad group name") != std::string::npos);
    r = ctl_err("group add " + t + " 'a b'");
    CHECK(r.code == 1);
    for (const char *cmd : {"recv ", "peek ", "purge "}) {
        r = ctl_err(cmd + t);
        CHECK_MESSAGE(r.code == 1, cmd);
        CHECK(r.out.find("--group GROUP") != std::string::npos);
    }
    CHECK(ctl("recv no.such.topic --group g").code == 2);
    CHECK(ctl("create " + unique_name("ctl17") + " --groups " + std::to_string(SHMQ_MAX_GROUPS + 1)).code == 1);
    std::string one = unique_name("ctlspill1");
    r = ctl_err("create " + one + " --groups 2 --overflow spill --slots 1"); // spill has no mark below 1 slot
    CHECK(r.code == 1);
    CHECK(r.out.find("--overflow spill needs --slots 2") != std::string::npos);
    r = ctl_err("create " + one + " --dedup-capacity 8"); // a table no send could use
    CHECK(r.code == 1);
    CHECK(r.out.find("--dedup-capacity needs --dedup-window") != std::string::npos);
    CHECK(ctl("stat " + one).code == 2); // neither was created
    ctl("delete " + t);
    ctl("delete " + q);
}

TEST_CASE("dlq --group: a group's store is TOPIC.GROUP; redrive puts its dead letters back into that group only") {
    std::string t = unique_name("ctldlqt");
    REQUIRE(ctl("create " + t + " --groups 2").code == 0);
    REQUIRE(ctl("group add " + t + " email").code == 0);
    REQUIRE(ctl("group add " + t + " inventory").code == 0);
    char tmpl[] = "/tmp/shmqctl-topic-dlq-XXXXXX";
    std::string dir = mkdtemp(tmpl), at = " --dlq-dir " + dir;
    add_dead_letter(dir, t + ".email", 7);
    auto list = ctl_json("dlq list " + t + " --group email" + at);
    REQUIRE(list.size() == 1);
    CHECK(list[0]["id"] == 7);
    CHECK(ctl_json("dlq list " + t + " --group inventory" + at).empty());
    REQUIRE(ctl("dlq redrive " + t + " --group email --rate 1000" + at).code == 0);
    auto email = ctl_json("peek " + t + " --group email");
    REQUIRE(email.size() == 1);
    CHECK(email[0]["id"] == 7);
    CHECK(email[0]["data"] == "dead 7");
    CHECK(ctl_json("peek " + t + " --group inventory").empty()); // only the group it died in
    CHECK(lib_recv_group(t, "email") == "dead 7");
    CHECK(ctl_json("stat " + t)["stats"]["free"] == 1024); // acked by its one group: the payload is free
    CHECK(ctl_json("dlq list " + t + " --group email" + at).empty());
    Run r = ctl_err("dlq list " + t + " --group 'a b'" + at);
    CHECK(r.code == 1);
    CHECK(r.out.find("bad group name") != std::string::npos);
    for (const char *sub : {"status", "redrive", "list"}) { // the store's name for the group: say what to type
        r = ctl_err(std::string("dlq ") + sub + " " + t + ".email" + at);
        CHECK(r.code == 1);
        CHECK(r.out.find("is group email of topic " + t + ": type `shmqctl dlq " + sub + " " + t + " --group email`") !=
              std::string::npos);
    }
    CHECK(ctl("dlq status " + t + " --group email" + at).code == 0);
    ctl("delete " + t);
    CHECK(system(("rm -rf " + dir).c_str()) == 0);
}

TEST_CASE("list shows a row per group under its topic: ready, leased, delayed, dead and lag, also in --json") {
    std::string t = unique_name("ctllist");
    REQUIRE(ctl("create " + t + " --groups 2").code == 0);
    REQUIRE(ctl("group add " + t + " busy").code == 0);
    REQUIRE(ctl("group add " + t + " idle").code == 0);
    for (const char *body : {"x", "y", "z"}) REQUIRE(ctl(std::string("send ") + t + " " + body).code == 0);
    shmq_queue *g = nullptr;
    REQUIRE(shmq_open_group(t.c_str(), "busy", nullptr, &g) == SHMQ_OK);
    shmq_msg held, later, bad;
    REQUIRE(shmq_recv(g, &held, 5 * 1000000000LL) == SHMQ_OK); // leased, kept
    REQUIRE(shmq_recv(g, &later, 5 * 1000000000LL) == SHMQ_OK);
    REQUIRE(shmq_nack(g, &later, 3600 * 1000000000LL) == SHMQ_OK); // delayed an hour
    REQUIRE(shmq_recv(g, &bad, 5 * 1000000000LL) == SHMQ_OK);
    REQUIRE(shmq_reject(g, &bad) == SHMQ_OK); // dead (no shmqd here to take it to disk)

    auto list = ctl_json("list");
    auto it = std::find_if(list.begin(), list.end(), [&](auto &j) { return j["name"] == t; });
    REQUIRE(it != list.end());
    REQUIRE((*it)["groups"].size() == 2);
    const auto &busy = (*it)["groups"][0], &idle = (*it)["groups"][1];
    CHECK(busy["name"] == "busy");
    CHECK(busy["state"] == "bound");
    CHECK(busy["ready"] == 0);
    CHECK(busy["leased"] == 1);
    CHECK(busy["delayed"] == 1);
    CHECK(busy["dead"] == 1);
    CHECK(busy["lag"] == 2); // ready + leased + delayed: not finished yet
    CHECK(idle["name"] == "idle");
    CHECK(idle["ready"] == 3);
    CHECK(idle["lag"] == 3);

    std::string table = ctl("list name kind ready leased delayed dead lag").out;
    CHECK(has_row(table, {t + "/busy", "group", "0", "1", "1", "1", "2"}));
    CHECK(has_row(table, {t + "/idle", "group", "3", "0", "0", "0", "3"}));
    CHECK(ctl("list name lag").code == 0);
    CHECK(ctl_err("list name lagg").out.find("lag") != std::string::npos);

    // A group removed by force while its dead letter waits for shmqd: shown as removing.
    REQUIRE(shmq_ack(g, &held) == SHMQ_OK);
    shmq_close(g);
    shmq_queue *topic = nullptr;
    REQUIRE(shmq_open(t.c_str(), nullptr, &topic) == SHMQ_OK);
    REQUIRE(shmq_group_remove(topic, "busy", 1) == SHMQ_OK);
    shmq_close(topic);
    list = ctl_json("list");
    it = std::find_if(list.begin(), list.end(), [&](auto &j) { return j["name"] == t; });
    REQUIRE(it != list.end());
    REQUIRE((*it)["groups"].size() == 2);
    CHECK((*it)["groups"][0]["state"] == "removing");
    CHECK((*it)["groups"][0]["dead"] == 2); // its delayed message became a dead letter too (group_removed)
    ctl("delete " + t);
}

TEST_CASE("group remove unbinds a group: refused while it holds messages, --force dead-letters them") {
    // Before, no tool but a C program could remove a group, so a group bound
    // by hand and never consumed held payload slots until the topic was deleted.
    std::string t = unique_name("ctlrmg"), q = unique_name("ctlrmq");
    REQUIRE(ctl("create " + t + " --groups 2").code == 0);
    REQUIRE(ctl("create " + q).code == 0);
    REQUIRE(ctl("group add " + t + " lagging").code == 0);
    REQUIRE(ctl("group add " + t + " busy").code == 0);
    REQUIRE(ctl("send " + t + " -", "one\\ntwo\\n").code == 0);
    Run r = ctl_err("group remove " + t + " lagging");
    CHECK(r.code == 5);
    CHECK(r.out.find("still holds messages") != std::string::npos);
    CHECK(ctl("peek " + t + " --group lagging --count 5 --json").out.find("two") != std::string::npos);
    REQUIRE(ctl("group remove " + t + " lagging --force").code == 0);
    CHECK(ctl("recv " + t + " --group lagging --timeout 0").code == 2); // gone
    Run rest = ctl("recv " + t + " --group busy --count 2 --json");
    REQUIRE(rest.code == 0);
    CHECK(nlohmann::json::parse(rest.out).size() == 2); // the other group keeps its messages
    CHECK(ctl("group remove " + t + " busy").code == 0); // empty: no --force needed
    CHECK(ctl_err("group remove " + t + " busy").code == 2);
    CHECK(ctl_err("group remove " + q + " g").code == 1);
    CHECK(ctl_err("group remove " + t + " 'a b'").code == 1);
    CHECK(ctl_err("group remove no.such.topic g").code == 2);
    ctl("delete " + t);
    ctl("delete " + q);
}

TEST_CASE("group add while a removed group still holds its lane says so, not that the groups are all bound") {
    std::string t = unique_name("ctlrebind");
    REQUIRE(ctl("create " + t + " --groups 1").code == 0);
    REQUIRE(ctl("group add " + t + " a").code == 0);
    REQUIRE(ctl("send " + t + " x").code == 0);
    REQUIRE(ctl("group remove " + t + " a --force").code == 0); // x is a dead letter in a's lane; no shmqd takes it
    for (const char *g : {"a", "b"}) { // the same name again, or another
        Run r = ctl_err("group add " + t + " " + g);
        CHECK(r.code == 5);
        CHECK(r.out.find("removed groups still hold some (a: `removing`") != std::string::npos);
        CHECK(r.out.find("are bound") == std::string::npos);
    }
    ctl("delete " + t);
}
