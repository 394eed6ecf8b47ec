// Health an operator can alert on: a dead-letter store that cannot write (a
// file size limit stands in for a full disk) shows in the metrics as store
// errors by kind, a failing store and dead letters waiting in memory; the
// error is logged once, not every second; and when writing works again the
// waiting dead letters reach the disk. Also the daemon's own heartbeat.
#include "harness.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cctype>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

using namespace dtest;

namespace {

constexpr int64_t kSecond = 1000000000LL;

std::string scrape(const Shmqd &d) {
    std::string body;
    return http_get(d.metrics_port(), "/metrics", &body) == 200 ? body : "";
}

double series(const Shmqd &d, const std::string &name) { return metric(scrape(d), name); }

// Every shmq_[a-z_]+ word in `text` (no std::regex: GCC 12 warns inside it under ASan).
std::vector<std::string> metric_names(const std::string &text) {
    std::vector<std::string> names;
    for (size_t at = text.find("shmq_"); at != std::string::npos; at = text.find("shmq_", at + 1)) {
        size_t end = at + 5;
        while (end < text.size() && (std::islower(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
        names.push_back(text.substr(at, end - at));
        at = end - 1;
    }
    return names;
}

size_t count_of(const std::string &text, const std::string &what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Start shmqd with files limited to `bytes` (writes past it fail with EFBIG,
// SIGXFSZ ignored); this process's own limit is restored at once.
std::unique_ptr<Shmqd> start_limited(const TempDir &dir, rlim_t bytes) {
    rlimit old;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit lim = old;
    lim.rlim_cur = bytes;
    auto prev = signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    auto d = std::make_unique<Shmqd>(dir);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, prev);
    return d;
}

void send_and_reject(shmq_queue *q, const std::string &payload) {
    REQUIRE(shmq_send(q, payload.data(), payload.size(), 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    REQUIRE(shmq_reject(q, &m) == SHMQ_OK);
}

} // namespace

TEST_CASE("a dead-letter store that cannot write shows in the metrics, is logged once, and recovers (issue 13, "
          "bug 4)") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + "[queues.q]\nslot_count = 32\nslot_size = 8192\nmax_clients = 8\n");
    // The segment (256 KiB) is made here: shmqd could not make it under its limit.
    shmq_params p;
    shmq_params_init(&p);
    p.slot_count = 32;
    p.slot_size = 8192;
    p.max_clients = 8;
    shmq_queue *made = nullptr;
    REQUIRE(shmq_create("q", &p, nullptr, &made) == SHMQ_OK);
    shmq_close(made);
    auto d = start_limited(dir, 48 * 1024);
    REQUIRE(d->wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    const std::string big(8000, 'x');
    for (int i = 0; i < 12; ++i) send_and_reject(q, big); // ~96 KB of dead letters: past the limit
    const std::string errors = "shmq_store_errors_total{queue=\"q\",store=\"dead_letters\",kind=\"file_too_large\"}";
    // Each second the store is reopened and the write tried again: three
    // failures prove two retries happened.
    REQUIRE(eventually([&] { return series(*d, errors) >= 3; }, 30s));
    std::string text = scrape(*d);
    CHECK(metric(text, "shmq_store_failing{queue=\"q\",store=\"dead_letters\"}") == 1);
    CHECK(metric(text, "shmq_store_failing{queue=\"q\",store=\"spill\"}") == 0);
    CHECK(metric(text, "shmq_queue_messages_dead{queue=\"q\"}") > 0); // waiting in memory, not lost
    CHECK(metric(text, "shmq_queue_dead_letters{queue=\"q\"}") > 0);
    CHECK(metric(text, "shmq_queue_oldest_dead_letter_age_seconds{queue=\"q\"}") > 0);
    CHECK(count_of(d->log(), "dead-letter store: ") == 1); // the failure, logged once
    CHECK(stats_of(q).dead + metric(text, "shmq_queue_dead_letters{queue=\"q\"}") == 12);

    // Room again: the waiting dead letters reach the disk, the failure ends.
    rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    REQUIRE(prlimit(d->pid(), RLIMIT_FSIZE, &unlimited, nullptr) == 0);
    REQUIRE(eventually([&] { return series(*d, "shmq_queue_dead_letters{queue=\"q\"}") == 12; }, 30s));
    text = scrape(*d);
    CHECK(metric(text, "shmq_queue_messages_dead{queue=\"q\"}") == 0);
    CHECK(metric(text, "shmq_store_failing{queue=\"q\",store=\"dead_letters\"}") == 0);
    CHECK(d->log_has("dead-letter store works again"));
    shmq_close(q);
    CHECK(d->stop() == 0);
}

TEST_CASE("the daemon's heartbeat and last tick are in the metrics") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    std::string text;
    REQUIRE(eventually([&] {
        text = scrape(d);
        return metric(text, "shmq_daemon_last_tick_timestamp_seconds") > 0;
    }));
    double last = metric(text, "shmq_daemon_last_tick_timestamp_seconds");
    CHECK(std::fabs(last - double(time(nullptr))) < 60);
    double age = metric(text, "shmq_daemon_heartbeat_age_seconds");
    CHECK(age >= 0);
    CHECK(age < 30);
    CHECK(metric(text, "shmq_queue_messages_writing{queue=\"q\"}") == 0);
    CHECK(metric(text, "shmq_messages_redelivered_total{queue=\"q\"}") == 0);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    REQUIRE(shmq_send(q, "m", 1, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    REQUIRE(shmq_nack(q, &m, 0) == SHMQ_OK);
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    REQUIRE(shmq_ack(q, &m) == SHMQ_OK);
    CHECK(eventually([&] { return series(d, "shmq_messages_redelivered_total{queue=\"q\"}") == 1; }));
    shmq_close(q);
    CHECK(d.stop() == 0);
}

// Every shmq_* name the example alert rules and the Grafana dashboard use is
// a metric shmqd exports (histograms by their _bucket series).
TEST_CASE("the example alert rules and dashboard use only metrics shmqd exports") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    std::string text;
    REQUIRE(eventually([&] {
        text = scrape(d);
        return text.find("shmq_queue_slots{queue=\"q\"}") != std::string::npos;
    }));
    for (const char *file : {"/shmq-alerts.yml", "/shmq-dashboard.json"}) {
        std::ifstream in(std::string(SHMQ_MONITORING_DIR) + file);
        REQUIRE(in.good());
        std::stringstream all;
        all << in.rdbuf();
        std::vector<std::string> names = metric_names(all.str());
        for (const std::string &name : names) {
            INFO(std::string(file) << " uses " << name << ", which shmqd does not export");
            CHECK((text.find("\n" + name) != std::string::npos || text.find("# TYPE " + name + " ") != std::string::npos));
        }
        CHECK(names.size() > 5);
    }
}
