// redrive_job.cpp - the daemon's side of a redrive request: at most every
// 100 ms it sends as many dead letters as the rate allows back into the queue
// (same id, delivery count reset), and deletes the request file when none of
// the selected records is left. A full queue pauses it; it never blocks the tick.
#include "moves.hpp"

#include "redrive_send.hpp"

#include <algorithm>
#include <cerrno>
#include <spdlog/spdlog.h>

namespace shmqd {

namespace {

constexpr int64_t kCheckEveryMs = 200; // looking for a request file
constexpr int64_t kCallEveryMs = 100;  // each call rewrites the dead-letter file

// A purge request: drop the store's records now (the daemon is its one writer).
void purge(Supervised &s, int dirfd) {
    uint64_t n = s.dlq.count();
    if (int rc = s.dlq.purge(); rc != 0) store_failed(&s, &s.dlq_health, "dead-letter store (purge)", rc, s.dlq.error());
    else spdlog::info("queue {}: {} dead letters purged on request", s.cfg.name, n);
    remove_redrive_request(dirfd, s.cfg.name); // last: a waiting tool sees it gone
}

void start_job(Supervised &s, int dirfd, int64_t now_ms) {
    RedriveJob &j = s.redrive;
    if (now_ms < j.next_check_ms) return;
    j.next_check_ms = now_ms + kCheckEveryMs;
    std::string why;
    RedriveRequest req;
    int rc = read_redrive_request(dirfd, s.cfg.name, &req, &why);
    if (rc == ENOENT) return;
    if (rc != 0) {
        spdlog::error("queue {}: ignoring redrive request {}: {}", s.cfg.name, redrive_request_file(s.cfg.name), why);
        remove_redrive_request(dirfd, s.cfg.name);
        return;
    }
    if (req.purge) return purge(s, dirfd);
    if (req.rate <= 0) req.rate = s.cfg.redrive_rate;
    j = RedriveJob{true, req, 1.0, now_ms - kCallEveryMs, 0, 0, 0}; // first step at once
    spdlog::info("queue {}: redrive of {} at {}/s started", s.cfg.name,
                 req.ids.empty() ? std::string("all dead letters") : std::to_string(req.ids.size()) + " ids",
                 req.rate);
}

void finish_job(Supervised &s, int dirfd) {
    spdlog::info("queue {}: redrive done: {} sent back, {} kept (too big for a slot)", s.cfg.name, s.redrive.sent,
                 s.redrive.kept);
    remove_redrive_request(dirfd, s.cfg.name); // last: a waiting tool sees it gone
    s.redrive.active = false;
}

} // namespace

uint32_t redrive_step(Supervised &s, int dirfd, int64_t now_ms) {
    if (!s.dlq_health.ok) return 0;
    RedriveJob &j = s.redrive;
    if (!j.active) start_job(s, dirfd, now_ms);
    if (!j.active || now_ms - j.last_ms < kCallEveryMs) return 0;
    j.tokens = std::min(j.tokens + j.req.rate * double(now_ms - j.last_ms) / 1000.0, std::max(1.0, j.req.rate));
    j.last_ms = now_ms;
    if (j.tokens < 1) return 0;
    // Records kept (too big) are offered again each call, oldest first: they
    // do not use up the rate.
    shmq::store::RedriveResult res;
    int rc = redrive_batch(*s.q, s.dlq, j.req.ids, size_t(j.tokens) + j.kept, &res);
    j.tokens -= double(res.sent);
    j.sent += res.sent;
    j.kept = res.kept;
    s.redriven_total += res.sent;
    if (rc != 0) store_failed(&s, &s.dlq_health, "dead-letter store (redrive)", rc, s.dlq.error());
    else if (!res.more) finish_job(s, dirfd);
    return uint32_t(res.sent);
}

} // namespace shmqd
