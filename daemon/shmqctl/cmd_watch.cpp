// cmd_watch.cpp - `shmqctl watch [QUEUE]`: a live view. With a queue, one
// line per interval; without, a screen of every queue sorted by backlog
// (ready + spilled), redrawn in place on a terminal. Each refresh opens the
// queues again, so a queue deleted and re-created (by shmqd, say) is followed
// rather than shown frozen; a queue that is gone shows as such.
#include "cmd.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <thread>
#include <unistd.h>

namespace shmqctl {

namespace {

std::optional<shmq_stats> sample(const std::string &name) {
    QueuePtr q;
    if (open_observer(name, &q) != SHMQ_OK) return std::nullopt;
    return read_stats(*q);
}

// Per second; a counter that went back means a new segment, counted from 0.
double rate(uint64_t now, uint64_t before, double interval_s) {
    return double(now >= before ? now - before : now) / interval_s;
}

std::string clock_now() {
    std::time_t t = std::time(nullptr);
    char when[16];
    std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&t));
    return when;
}

struct Row {
    std::string name;
    shmq_stats s{};
    double enq = 0, ack = 0;
};

nlohmann::json row_json(const Row &r) {
    nlohmann::json j = stats_json(r.s);
    j["name"] = r.name;
    j["enqueued_per_second"] = r.enq;
    j["acked_per_second"] = r.ack;
    return j;
}

std::string row_text(const Row &r) {
    char line[256];
    snprintf(line, sizeof line, "%7llu %7llu %7llu %7llu %6llu %6.0f %6.0f  %s", (unsigned long long)r.s.ready,
             (unsigned long long)r.s.spilled, (unsigned long long)r.s.leased, (unsigned long long)r.s.delayed,
             (unsigned long long)r.s.dead, r.enq, r.ack, format_age(r.s.oldest_ready_age_ns).c_str());
    return line;
}

const char *kColumns = "  ready spilled  leased delayed   dead  enq/s  ack/s  oldest";

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

int watch_one(const Output &out, const std::string &name, double interval_s, int count) {
    std::optional<shmq_stats> prev = sample(name);
    if (!prev) return fail("watch " + name, SHMQ_ENOTFOUND);
    for (int i = 0; count <= 0 || i < count; ++i) {
        sleep_s(interval_s);
        std::optional<shmq_stats> s = sample(name);
        if (out.json) {
            nlohmann::json j = {{"time", clock_now()}, {"name", name}, {"exists", s.has_value()}};
            if (s) j.update(row_json(Row{name, *s, rate(s->enqueued, prev->enqueued, interval_s),
                                         rate(s->acked, prev->acked, interval_s)}));
            std::cout << j.dump() << std::endl;
        } else {
            if (i % 20 == 0) std::cout << "----- " << name << " -----\n  time   " << kColumns << "\n";
            std::cout << clock_now() << " "
                      << (s ? row_text(Row{name, *s, rate(s->enqueued, prev->enqueued, interval_s),
                                           rate(s->acked, prev->acked, interval_s)})
                            : "(no such queue: deleted?)")
                      << std::endl;
        }
        if (s) prev = s;
    }
    return kOk;
}

std::vector<Row> sample_all(std::map<std::string, shmq_stats> &prev, double interval_s) {
    std::vector<Row> rows;
    std::map<std::string, shmq_stats> now;
    for (const std::string &name : queue_names()) {
        std::optional<shmq_stats> s = sample(name);
        if (!s) continue;
        shmq_stats before = prev.count(name) ? prev[name] : *s;
        rows.push_back(Row{name, *s, rate(s->enqueued, before.enqueued, interval_s),
                           rate(s->acked, before.acked, interval_s)});
        now[name] = *s;
    }
    prev = std::move(now);
    std::stable_sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
        return a.s.ready + a.s.spilled > b.s.ready + b.s.spilled;
    });
    return rows;
}

int watch_all(const Output &out, double interval_s, int count) {
    std::map<std::string, shmq_stats> prev;
    sample_all(prev, interval_s);
    const bool tty = isatty(STDOUT_FILENO) == 1;
    for (int i = 0; count <= 0 || i < count; ++i) {
        sleep_s(interval_s);
        std::vector<Row> rows = sample_all(prev, interval_s);
        if (out.json) {
            nlohmann::json all = nlohmann::json::array();
            for (auto &r : rows) all.push_back(row_json(r));
            std::cout << nlohmann::json{{"time", clock_now()}, {"queues", all}}.dump() << std::endl;
            continue;
        }
        size_t width = 5;
        for (auto &r : rows) width = std::max(width, r.name.size());
        if (tty) std::cout << "\033[H\033[2J"; // redraw in place
        std::cout << clock_now() << "  " << rows.size() << " queues, by backlog\n"
                  << "queue" << std::string(width - 5, ' ') << kColumns << "\n";
        for (auto &r : rows) std::cout << r.name << std::string(width - r.name.size(), ' ') << row_text(r) << "\n";
        std::cout << std::flush;
    }
    return kOk;
}

} // namespace

int cmd_watch(const Output &out, const std::string &name, double interval_s, int count) {
    if (!(interval_s > 0)) return fail_msg("watch: --interval must be above 0", kUsage);
    return name.empty() ? watch_all(out, interval_s, count) : watch_one(out, name, interval_s, count);
}

} // namespace shmqctl
