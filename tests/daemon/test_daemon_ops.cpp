// Operating shmqd: the metrics endpoint, the one-instance lock, SIGTERM,
// systemd's readiness protocol, bad configs, SIGHUP reloads, and a restart
// that adopts the queues it finds.
#include "harness.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace dtest;

namespace {

constexpr int64_t kSecond = 1000000000LL;

std::string scrape(const Shmqd &d) {
    std::string body;
    return http_get(d.metrics_port(), "/metrics", &body) == 200 ? body : "";
}

bool exists(const std::string &path) { return std::filesystem::exists(path); }

} // namespace

TEST_CASE("metrics: send 3, receive 2, ack 1, and the endpoint shows exactly that") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    REQUIRE(d.metrics_port() > 0);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    for (int i = 0; i < 3; ++i) REQUIRE(shmq_send(q, "m", 1, 0) == SHMQ_OK);
    shmq_msg a, b;
    REQUIRE(shmq_recv(q, &a, kSecond) == SHMQ_OK);
    REQUIRE(shmq_recv(q, &b, kSecond) == SHMQ_OK);
    REQUIRE(shmq_ack(q, &a) == SHMQ_OK);
    const std::string pid = std::to_string(getpid());
    const std::vector<std::pair<std::string, double>> want = {
        {"shmq_queue_messages_ready{queue=\"q\"}", 1},
        {"shmq_queue_messages_leased{queue=\"q\"}", 1},
        {"shmq_queue_messages_delayed{queue=\"q\"}", 0},
        {"shmq_queue_messages_spilled{queue=\"q\"}", 0},
        {"shmq_queue_dead_letters{queue=\"q\"}", 0},
        {"shmq_messages_enqueued_total{queue=\"q\"}", 3},
        {"shmq_messages_delivered_total{queue=\"q\"}", 2},
        {"shmq_messages_acked_total{queue=\"q\"}", 1},
        {"shmq_messages_retried_total{queue=\"q\"}", 0},
        {"shmq_leases_reclaimed_total{queue=\"q\"}", 0},
        {"shmq_messages_dead_lettered_total{queue=\"q\",reason=\"max_attempts\"}", 0},
        {"shmq_consumers{queue=\"q\"}", 1},
        {"shmq_consumer_messages_delivered_total{queue=\"q\",pid=\"" + pid + "\"}", 2},
        {"shmq_consumer_messages_acked_total{queue=\"q\",pid=\"" + pid + "\"}", 1},
        {"shmq_consumer_messages_in_flight{queue=\"q\",pid=\"" + pid + "\"}", 1},
        {"shmq_daemon_build_info{version=\"" SHMQD_VERSION "\"}", 1},
    };
    std::string body;
    bool all = eventually([&] {
        body = scrape(d);
        for (auto &[series, value] : want)
            if (metric(body, series) != value) return false;
        return true;
    });
    for (auto &[series, value] : want) CHECK_MESSAGE(metric(body, series) == value, series);
    CHECK(all);
    CHECK(metric(body, "shmq_queue_oldest_message_age_seconds{queue=\"q\"}") >= 0);
    CHECK(metric(body, "shmq_queue_dead_letter_bytes{queue=\"q\"}") >= 0);
    CHECK(metric(body, "shmq_daemon_loop_seconds_count") > 0);
    CHECK(body.find("# TYPE shmq_messages_acked_total counter") != std::string::npos);
    CHECK(body.find("# HELP shmq_queue_messages_ready ") != std::string::npos);
    CHECK(body.find("# TYPE shmq_daemon_loop_seconds histogram") != std::string::npos);
    std::string other;
    CHECK(http_get(d.metrics_port(), "/", &other) == 404);
    CHECK(http_get(d.metrics_port(), "/metricsx", &other) == 404);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("a second shmqd on the same config exits 1 and says why") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd first(dir);
    REQUIRE(first.wait_ready());
    std::string out;
    CHECK(run_shmqd({"--config", dir.file("shmqd.toml"), "--foreground"}, &out) == 1);
    CHECK(out.find("another shmqd (pid " + std::to_string(first.pid()) + ") is already running") != std::string::npos);
    CHECK(first.running());
    CHECK(first.stop() == 0);
}

TEST_CASE("two configs naming the same queue: the second shmqd refuses to supervise it and exits 1") {
    TempDir dir, other;
    setenv("SHMQ_DIR", dir.shm.c_str(), 1); // both daemons: the same segments, other stores
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    other.write("other.toml", daemon_section(other) + queue_section("q"));
    Shmqd first(dir);
    REQUIRE(first.wait_ready());
    std::string out;
    CHECK(run_shmqd({"--config", other.file("other.toml"), "--foreground"}, &out) == 1);
    CHECK(out.find("queue q: already supervised by another shmqd") != std::string::npos);
    CHECK(first.stop() == 0);
}

TEST_CASE("SIGTERM stops shmqd cleanly (exit 0), telling systemd READY=1 first and STOPPING=1 at the end") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = dir.file("notify.sock");
    REQUIRE(path.size() < sizeof addr.sun_path);
    path.copy(addr.sun_path, path.size());
    REQUIRE(bind(sock, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
    std::string got;
    auto receive = [&] {
        char buf[512];
        pollfd p{sock, POLLIN, 0};
        while (poll(&p, 1, 0) > 0) {
            ssize_t n = recv(sock, buf, sizeof buf, 0);
            if (n > 0) got += std::string(buf, size_t(n)) + "\n";
        }
    };
    Shmqd d(dir, Binary::Normal, {"NOTIFY_SOCKET=" + path});
    REQUIRE(d.wait_ready());
    CHECK(eventually([&] { return receive(), got.find("READY=1") != std::string::npos; }));
    CHECK(d.stop() == 0);
    receive();
    CHECK(got.find("STOPPING=1") != std::string::npos);
    CHECK(got.find("READY=1") < got.find("STOPPING=1"));
    CHECK(d.log_has("stopped"));
    close(sock);
}

TEST_CASE("a bad config: exit 2 with a message naming the key") {
    TempDir dir;
    std::string out;
    dir.write("bad.toml", daemon_section(dir) + queue_section("q", "lease_ms = \"soon\""));
    CHECK(run_shmqd({"--config", dir.file("bad.toml"), "--foreground"}, &out) == 2);
    CHECK(out.find("queues.q.lease_ms") != std::string::npos);
    dir.write("bad.toml", daemon_section(dir) + queue_section("q", "overflw = \"spill\""));
    CHECK(run_shmqd({"--config", dir.file("bad.toml"), "--foreground"}, &out) == 2);
    CHECK(out.find("queues.q.overflw") != std::string::npos);
    CHECK(out.find("unknown key") != std::string::npos);
    dir.write("bad.toml", "version = 1\n[daemon]\nmetrics = \"0.0.0.0:9464\"\n" + queue_section("q"));
    CHECK(run_shmqd({"--config", dir.file("bad.toml"), "--foreground"}, &out) == 2);
    CHECK(out.find("daemon.metrics") != std::string::npos);
    CHECK(run_shmqd({"--config", dir.file("missing.toml"), "--foreground"}, &out) == 2);
    CHECK(out.find("missing.toml") != std::string::npos);
    CHECK(run_shmqd({"--bogus"}, &out) == 2);
    dir.write("good.toml", daemon_section(dir) + queue_section("q"));
    CHECK(run_shmqd({"--config", dir.file("good.toml"), "--check"}, &out) == 0);
}

TEST_CASE("SIGHUP reloads: new queues are created, removed ones let go, segment parameters only reported") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("a") + queue_section("b"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    const std::string shm = getenv("SHMQ_DIR");
    REQUIRE(exists(shm + "/shmq.a"));
    dir.write("shmqd.toml",
              daemon_section(dir) + queue_section("a", "lease_ms = 1234") + queue_section("c"));
    d.signal(SIGHUP);
    REQUIRE(eventually([&] { return d.log_has("reloaded"); }));
    CHECK(exists(shm + "/shmq.c"));
    CHECK(exists(shm + "/shmq.b")); // left alone
    CHECK(d.log_has("queue b: no longer in the config"));
    CHECK(d.log_has("queue a: lease_ms = 1234 in the config, but the segment has 30000: needs queue re-creation"));
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("a", "slot_size = \"x\""));
    d.signal(SIGHUP);
    REQUIRE(eventually([&] { return d.log_has("keeping the running configuration"); }));
    CHECK(d.running());
    CHECK(d.stop() == 0);
}

TEST_CASE("a restarted shmqd adopts the existing segment, messages and all, and keeps the segment's parameters") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        shmq_queue *q = open_queue("q");
        REQUIRE(q != nullptr);
        REQUIRE(shmq_send(q, "kept", 4, 0) == SHMQ_OK);
        shmq_close(q);
        d.signal(SIGKILL); // not even a clean stop
        CHECK(d.wait_exit() == -SIGKILL);
    }
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "max_attempts = 9"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    CHECK(d.log_has("queue q: adopted the existing segment"));
    CHECK(d.log_has("the segment has max_attempts = 5 but the config says 9"));
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, kSecond) == SHMQ_OK);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "kept");
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("a supervised queue deleted under shmqd is created again, and works") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "lease_ms = 4321"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *old = open_queue("q");
    REQUIRE(old != nullptr);
    REQUIRE(shmq_send(old, "before", 6, 0) == SHMQ_OK);
    REQUIRE(shmq_unlink("q") == SHMQ_OK);
    CHECK(shmq_send(old, "late", 4, 0) == SHMQ_ECLOSED);
    shmq_queue *q = nullptr;
    CHECK(eventually([&] { return shmq_open("q", nullptr, &q) == SHMQ_OK; }));
    REQUIRE(q != nullptr);
    CHECK(d.log_has("its segment was deleted; creating it again"));
    shmq_params p;
    shmq_params_init(&p);
    REQUIRE(shmq_get_params(q, &p) == SHMQ_OK);
    CHECK(p.lease_ms == 4321); // from the config
    shmq_msg m;
    CHECK(shmq_recv(q, &m, 0) == SHMQ_EEMPTY); // a new queue: the deleted one's message went with it
    REQUIRE(shmq_send(q, "after", 5, 0) == SHMQ_OK);
    REQUIRE(shmq_recv(q, &m, kSecond) == SHMQ_OK);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "after");
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    CHECK(eventually([&] { return scrape(d).find("shmq_messages_acked_total{queue=\"q\"} 1") != std::string::npos; }));
    shmq_close(q);
    shmq_close(old);
    CHECK(d.stop() == 0);
}
