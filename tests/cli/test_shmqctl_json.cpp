// shmqctl --json: every command's output parses, found by walking the
// command list of `shmqctl --help` (a new command without a --json case here
// fails the walk); and `watch`, which follows a queue deleted and re-created
// under it, and without a queue shows every queue by backlog.
#include "run_ctl.hpp"
#include "support.hpp"

#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>

using namespace testing;
using namespace ctltest;

namespace {

// The subcommands listed by `shmqctl [prefix] --help`.
std::vector<std::string> subcommands(const std::string &prefix) {
    std::istringstream in(ctl(prefix + " --help").out);
    std::vector<std::string> names;
    bool in_list = false;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("Subcommands:", 0) == 0) in_list = true;
        else if (in_list && line.rfind("  ", 0) == 0) names.push_back(line.substr(2, line.find(' ', 2) - 2));
        else if (in_list && !line.empty()) in_list = false;
    }
    return names;
}

// Output that is one JSON document, or one per line (watch).
bool parses(const std::string &out) {
    if (nlohmann::json::accept(out)) return true;
    std::istringstream in(out);
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines)
        if (!nlohmann::json::accept(line)) return false;
    return lines > 0;
}

void add_dead_letter(const std::string &dir, const std::string &q, uint64_t id) {
    shmq::store::Fd fd;
    std::string why;
    REQUIRE(shmq::store::open_dir(dir, false, &fd, &why) == 0);
    shmq::store::DeadLetters dl;
    shmq::store::OpenReport rep;
    REQUIRE(dl.open(fd.get(), q, shmq::store::StoreOptions{}, &rep) == 0);
    std::string body = "dead " + std::to_string(id);
    shmq::store::DeadLetterMeta m{id, 5, shmq::store::DeadReason::MaxAttempts, 1, 2};
    REQUIRE(dl.add(m, std::as_bytes(std::span(body.data(), body.size()))) == 0);
}

struct TempDlqDir {
    TempDlqDir() {
        char tmpl[] = "/tmp/shmqctl-json-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDlqDir() { CHECK(system(("rm -rf " + path).c_str()) == 0); }
    std::string path;
};

} // namespace

TEST_CASE("every command's --json output parses; the walk covers every command") {
    std::string q = unique_name("ctljson"), t = unique_name("ctljsontopic");
    TempDlqDir dir;
    std::string at = " --dlq-dir " + dir.path;
    // In order: each command runs on what the ones before left.
    std::vector<std::pair<std::string, std::string>> cases = {
        {"create", "create " + q},
        {"create topic", "create " + t + " --groups 2"},
        {"group", "group add " + t + " g"},
        {"stat group", "stat " + t + " --group g"},
        {"group remove", "group remove " + t + " g"},
        {"delete topic", "delete " + t},
        {"send", "send " + q + " hello"},
        {"list", "list"},
        {"stat", "stat " + q},
        {"peek", "peek " + q},
        {"watch", "watch " + q + " --count 2 --interval 0.01"},
        {"recv", "recv " + q},
        {"recover", "recover " + q},
        {"purge", "purge " + q},
        {"doctor", "doctor"},
        {"bridge", "bridge --status-file " + dir.path + "/bridge.prom"},
        {"dlq list", "dlq list " + q + at}, // no store yet: []
        {"dlq show", "dlq show " + q + " 7" + at},
        {"dlq export", "dlq export " + q + at},
        {"dlq redrive", "dlq redrive " + q + " --rate 1000" + at},
        {"dlq status", "dlq status " + q + at},
        {"dlq cancel", "dlq cancel " + q + at},
        {"dlq purge", "dlq purge " + q + at},
        {"delete", "delete " + q},
    };
    std::set<std::string> covered;
    for (auto &[name, args] : cases) covered.insert(name);
    std::vector<std::string> all;
    for (auto &c : subcommands(""))
        if (c == "dlq") for (auto &d : subcommands("dlq")) all.push_back("dlq " + d);
        else all.push_back(c);
    REQUIRE(all.size() >= 10);
    for (auto &c : all) {
        INFO("command without a --json case in this test: " << c);
        CHECK(covered.count(c) == 1);
    }
    for (auto &[name, args] : cases) {
        if (name == "dlq show") add_dead_letter(dir.path, q, 7);
        if (name == "bridge")
            std::ofstream(dir.path + "/bridge.prom") << "shmq_bridge_connected{binding=\"out:a\",direction=\"out\"} 1\n";
        Run r = ctl(args + " --json");
        INFO("shmqctl " << args << " --json printed: " << r.out);
        CHECK((r.code == 0 || (name == "doctor" && r.code == 6))); // doctor: 6 for warnings
        CHECK(parses(r.out));
        if (name == "dlq list") CHECK(nlohmann::json::parse(r.out) == nlohmann::json::array());
    }
}

TEST_CASE("watch follows a queue deleted and re-created under it (issue 13, bug 3)") {
    std::string q = unique_name("ctlwatch");
    REQUIRE(ctl("create " + q).code == 0);
    REQUIRE(ctl("send " + q + " one").code == 0);
    Background w("watch " + q + " --json --interval 0.02 --count 2000");
    std::string line;
    REQUIRE(w.line(&line));
    REQUIRE(nlohmann::json::accept(line));
    CHECK(nlohmann::json::parse(line)["ready"] == 1);
    REQUIRE(ctl("delete " + q).code == 0);
    REQUIRE(ctl("create " + q).code == 0);
    REQUIRE(ctl("send " + q + " -", "a\\nb\\nc\\n").code == 0);
    bool followed = false;
    while (!followed && w.line(&line)) {
        auto j = nlohmann::json::parse(line);
        followed = j["exists"] == true && j["ready"] == 3;
    }
    CHECK(followed);
    ctl("delete " + q);
}

TEST_CASE("watch without a queue shows every queue, largest backlog first") {
    std::string small = unique_name("ctltop-a"), big = unique_name("ctltop-b");
    REQUIRE(ctl("create " + small).code == 0);
    REQUIRE(ctl("create " + big).code == 0);
    REQUIRE(ctl("send " + small + " x").code == 0);
    REQUIRE(ctl("send " + big + " -", "1\\n2\\n3\\n").code == 0);
    Run r = ctl("watch --json --count 1 --interval 0.01");
    REQUIRE(r.code == 0);
    auto j = nlohmann::json::parse(r.out);
    int at_small = -1, at_big = -1, i = 0;
    for (auto &row : j["queues"]) {
        if (row["name"] == small) at_small = i;
        if (row["name"] == big) at_big = i;
        ++i;
    }
    REQUIRE(at_small >= 0);
    REQUIRE(at_big >= 0);
    CHECK(at_big < at_small);
    std::string text = ctl("watch --count 1 --interval 0.01").out;
    CHECK(text.find(big) < text.find(small));
    ctl("delete " + small);
    ctl("delete " + big);
}

TEST_CASE("send --header K=V: peek, recv and dlq show/export give the headers in --json; bad ones are refused") {
    std::string q = unique_name("ctlhdr");
    REQUIRE(ctl("create " + q).code == 0);
    Run sent = ctl("send " + q + " hello --header traceparent=00-ab-01 --header tenant=a=b --json");
    REQUIRE(sent.code == 0);
    nlohmann::json want = {{"traceparent", "00-ab-01"}, {"tenant", "a=b"}}; // split at the first '='
    nlohmann::json peek = nlohmann::json::parse(ctl("peek " + q + " --json").out);
    REQUIRE(peek.size() == 1);
    CHECK(peek[0]["headers"] == want);
    CHECK(peek[0]["data"] == "hello");
    nlohmann::json got = nlohmann::json::parse(ctl("recv " + q + " --json").out);
    REQUIRE(got.size() == 1);
    CHECK(got[0]["headers"] == want);
    REQUIRE(ctl("send --header a=1 --header b=2 " + q + " first").code == 0); // options before the positionals
    got = nlohmann::json::parse(ctl("recv " + q + " --json").out);
    REQUIRE(got.size() == 1);
    CHECK(got[0]["data"] == "first");
    CHECK(got[0]["headers"] == nlohmann::json({{"a", "1"}, {"b", "2"}}));
    REQUIRE(ctl("send " + q + " plain").code == 0);
    got = nlohmann::json::parse(ctl("recv " + q + " --json").out);
    REQUIRE(got.size() == 1);
    CHECK(got[0]["headers"] == nlohmann::json::object());

    for (const char *bad : {"--header novalue", "--header =v", "--header 'a b=v'", "--header k=1 --header k=2"}) {
        CAPTURE(bad);
        CHECK(ctl("send " + q + " x " + bad).code != 0);
    }
    CHECK(nlohmann::json::parse(ctl("peek " + q + " --json").out).empty()); // nothing was sent
    CHECK(shmq_unlink(q.c_str()) == SHMQ_OK);

    TempDlqDir dir; // a dead letter with headers, as shmqd writes it
    {
        shmq::store::Fd fd;
        std::string why;
        REQUIRE(shmq::store::open_dir(dir.path, false, &fd, &why) == 0);
        shmq::store::DeadLetters dl;
        REQUIRE(dl.open(fd.get(), q, shmq::store::StoreOptions{}, nullptr) == 0);
        std::string body = "dead", block("\x01\x01\x00kv", 5);
        REQUIRE(dl.add(shmq::store::DeadLetterMeta{9, 1, shmq::store::DeadReason::Rejected, 1, 2},
                       std::as_bytes(std::span(body.data(), body.size())),
                       std::as_bytes(std::span(block.data(), block.size()))) == 0);
    }
    Run show = ctl("dlq show " + q + " 9 --dlq-dir " + dir.path + " --json");
    REQUIRE(show.code == 0);
    CHECK(nlohmann::json::parse(show.out)["headers"] == nlohmann::json{{"k", "v"}});
    Run exported = ctl("dlq export " + q + " --dlq-dir " + dir.path);
    REQUIRE(exported.code == 0);
    CHECK(nlohmann::json::parse(exported.out)["headers"] == nlohmann::json{{"k", "v"}});
}
