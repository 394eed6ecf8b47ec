// redrive_job.cpp - the daemon's side of redrive and purge requests
// (redrive_request.hpp). A purge is done at once. A redrive sends, at most
// every 100 ms, as many dead letters as the rate allows into their queue or
// the request's target (same id, delivery count reset), reports progress in
// the status file, and deletes the request file when none of the selected
// records is left. A full queue pauses it; it never blocks the tick. A request
// file deleted under it (shmqctl dlq cancel) stops it.
#include "moves.hpp"

#include "redrive_send.hpp"

#include <algorithm>
#include <cerrno>
#include <spdlog/spdlog.h>

namespace shmqd {

namespace {

constexpr int64_t kCheckEveryMs = 200;  // looking for a request file (or its removal)
constexpr int64_t kCallEveryMs = 100;   // a step per 100 ms at most
constexpr int64_t kStatusEveryMs = 1000; // progress into the status file

// A purge request: drop the store's records now (the daemon is its one writer).
void purge(Supervised &s, int dirfd) {
    uint64_t n = s.dlq.count();
    if (int rc = s.dlq.purge(); rc != 0) store_failed(&s, &s.dlq_health, "dead-letter store (purge)", rc, s.dlq.error());
    else spdlog::info("queue {}: {} dead letters purged on request", s.cfg.name, n);
    remove_redrive_request(dirfd, s.cfg.name); // last: a waiting tool sees it gone
}

void write_status(Supervised &s, int dirfd, const std::string &state, const std::string &error = "") {
    RedriveJob &j = s.redrive;
    RedriveStatus st{state, j.sent, j.kept, j.started_s, shmq::detail::real_ns() / 1000000000, j.req.to, error};
    std::string why;
    if (write_redrive_status(dirfd, s.cfg.name, st, &why) != 0) spdlog::warn("queue {}: {}", s.cfg.name, why);
}

// A request that cannot be carried out: logged, reported, dropped.
void fail_job(Supervised &s, int dirfd, const std::string &error) {
    spdlog::error("queue {}: redrive: {}; request dropped", s.cfg.name, error);
    write_status(s, dirfd, "failed", error);
    remove_redrive_request(dirfd, s.cfg.name);
    s.redrive = RedriveJob{};
}

// Their own queue, or the lane of a group bound by hand (orphans.cpp), which
// has no handle while it is not bound.
bool has_own_target(const Supervised &s) { return s.q != nullptr || s.publisher != nullptr; }

constexpr const char *kNotBound = "its group is not bound: nothing to redrive into (bind it again, or redrive --to a queue)";

// The queue the records go into: their own, or the request's target (opened
// as a client for the job's duration).
bool open_target(Supervised &s, int dirfd) {
    RedriveJob &j = s.redrive;
    if (j.req.to.empty() || j.req.to == s.cfg.name) {
        if (has_own_target(s)) return true;
        fail_job(s, dirfd, kNotBound);
        return false;
    }
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    shmq::detail::Queue *q = nullptr;
    int rc = shmq::detail::Queue::open(j.req.to.c_str(), &o, &q);
    j.target.reset(q);
    if (rc == SHMQ_OK) return true;
    fail_job(s, dirfd, "cannot open the target queue " + j.req.to + ": " + shmq_strerror(rc));
    return false;
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
    j.committed_ms = j.status_ms = now_ms;
    j.next_check_ms = now_ms + kCheckEveryMs;
    j.started_s = shmq::detail::real_ns() / 1000000000;
    if (!open_target(s, dirfd)) return;
    write_status(s, dirfd, "running");
    spdlog::info("queue {}: redrive of {} at {}/s{} started", s.cfg.name,
                 req.ids.empty() ? std::string("all dead letters") : std::to_string(req.ids.size()) + " ids",
                 req.rate, req.to.empty() ? "" : " into " + req.to);
}

// Done, or cancelled: what was sent leaves the store, the status says which.
void end_job(Supervised &s, int dirfd, const char *state) {
    RedriveJob &j = s.redrive;
    if (int rc = redrive_commit(s.dlq, &j.cursor); rc != 0)
        store_failed(&s, &s.dlq_health, "dead-letter store (redrive)", rc, s.dlq.error());
    spdlog::info("queue {}: redrive {}: {} sent back, {} kept (too big for a slot)", s.cfg.name, state, j.sent, j.kept);
    write_status(s, dirfd, state);
    remove_redrive_request(dirfd, s.cfg.name); // last: a waiting tool sees it gone
    j = RedriveJob{};
}

// A request file deleted while we work on it is a cancel.
bool cancelled(Supervised &s, int dirfd, int64_t now_ms) {
    RedriveJob &j = s.redrive;
    if (now_ms < j.next_check_ms) return false;
    j.next_check_ms = now_ms + kCheckEveryMs;
    return !redrive_request_pending(dirfd, s.cfg.name);
}

} // namespace

uint32_t redrive_step(Supervised &s, int dirfd, int64_t now_ms) {
    if (!s.dlq_health.ok) return 0;
    RedriveJob &j = s.redrive;
    if (!j.active) start_job(s, dirfd, now_ms);
    if (!j.active || now_ms - j.last_ms < kCallEveryMs) return 0;
    if (cancelled(s, dirfd, now_ms)) {
        end_job(s, dirfd, "cancelled");
        return 0;
    }
    if (!j.target && !has_own_target(s)) { // a group bound by hand, removed meanwhile
        end_job(s, dirfd, "failed");
        return 0;
    }
    j.tokens = std::min(j.tokens + j.req.rate * double(now_ms - j.last_ms) / 1000.0, std::max(1.0, j.req.rate));
    j.last_ms = now_ms;
    if (j.tokens < 1) return 0;
    // Records kept (too big) do not use up the rate. The sent ones are removed
    // from the file in one rewrite now and then (redrive_commit_due), not per call.
    shmq::store::RedriveResult res;
    shmq::detail::Queue &into = j.target ? *j.target : s.publisher ? *s.publisher : *s.q;
    uint32_t groups = j.target ? 0 : s.lane_mask; // a group's own: its bit only
    int rc = redrive_batch(into, s.dlq, j.req.ids, size_t(j.tokens), &j.cursor, &res, groups);
    j.tokens -= double(res.sent);
    j.sent += res.sent;
    j.kept += res.kept;
    s.redriven_total += res.sent;
    bool finished = rc == 0 && !res.more;
    if (rc == 0 && !finished && redrive_commit_due(j.cursor, false, now_ms - j.committed_ms)) {
        rc = redrive_commit(s.dlq, &j.cursor);
        j.committed_ms = now_ms;
        j.kept = 0; // the next pass starts at the first record and meets them again
    }
    if (rc != 0) {
        store_failed(&s, &s.dlq_health, "dead-letter store (redrive)", rc, s.dlq.error());
    } else if (finished) {
        end_job(s, dirfd, "done");
    } else if (now_ms - j.status_ms >= kStatusEveryMs) {
        j.status_ms = now_ms;
        write_status(s, dirfd, "running");
    }
    return uint32_t(res.sent);
}

} // namespace shmqd
