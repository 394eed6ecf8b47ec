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
constexpr int64_t kCallEveryMs = 100;  // a step per 100 ms at most

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
    j = RedriveJob{};
    j.active = true;
    j.req = req;
    j.tokens = 1.0;
    j.last_ms = now_ms - kCallEveryMs; // first step at once
    j.committed_ms = now_ms;
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
    // Records kept (too big) do not use up the rate. The sent ones are removed
    // from the file in one rewrite now and then (redrive_commit_due), not per call.
    shmq::store::RedriveResult res;
    int rc = redrive_batch(*s.q, s.dlq, j.req.ids, size_t(j.tokens), &j.cursor, &res);
    j.tokens -= double(res.sent);
    j.sent += res.sent;
    j.kept += res.kept;
    s.redriven_total += res.sent;
    bool finished = rc == 0 && !res.more;
    if (rc == 0 && redrive_commit_due(j.cursor, finished, now_ms - j.committed_ms)) {
        rc = redrive_commit(s.dlq, &j.cursor);
        j.committed_ms = now_ms;
        if (!finished) j.kept = 0; // the next pass starts at the first record and meets them again
    }
    if (rc != 0) store_failed(&s, &s.dlq_health, "dead-letter store (redrive)", rc, s.dlq.error());
    else if (finished) finish_job(s, dirfd);
    return uint32_t(res.sent);
}

} // namespace shmqd
