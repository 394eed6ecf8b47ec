// ops.cpp - redrive() and purge() for tools (ops.hpp). Direct: open the store (which
// takes its writer lock) and the queue, then send in small batches paced by
// the rate; a full queue pauses until room appears or the timeout passes.
// Via the daemon: write the request file and watch it disappear.
#include "ops.hpp"

#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"
#include "store/names.hpp"
#include "queue.hpp"
#include "redrive_request.hpp"
#include "redrive_send.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <thread>
#include <unistd.h>

namespace shmqd::ops {

namespace {

namespace store = shmq::store;
using Clock = std::chrono::steady_clock;
using shmq::detail::Queue;

int fail(RedriveReport *rep, int rc, const std::string &why) {
    rep->error = why;
    return rc;
}

// Wait until the daemon has deleted the request file, or the deadline. A
// redrive it dropped (a target it cannot open, a group no longer bound) says
// "failed" in the status file it wrote for this request: that is an error.
int wait_for_daemon(int dirfd, const RedriveOptions &o, const RedriveRequest &req, RedriveReport *rep) {
    auto deadline = Clock::now() + std::chrono::milliseconds(o.timeout_ms);
    while (redrive_request_pending(dirfd, o.queue)) {
        if (Clock::now() >= deadline)
            return fail(rep, ETIMEDOUT, "shmqd has not finished the redrive yet (the request stays pending)");
        std::this_thread::sleep_for(std::chrono::milliseconds(20)); // polling a file, with a deadline
    }
    RedriveStatus st;
    std::string why;
    if (!req.purge && read_redrive_status(dirfd, o.queue, &st, &why) == 0 && st.state == "failed")
        return fail(rep, EIO, "shmqd dropped the redrive: " + st.error);
    rep->finished = true;
    return 0;
}

int via_daemon(int dirfd, const RedriveOptions &o, const RedriveRequest &req, RedriveReport *rep) {
    rep->via_daemon = true;
    std::string why;
    int rc = write_redrive_request(dirfd, o.queue, req, &why);
    if (rc != 0) return fail(rep, rc, why);
    return o.wait ? wait_for_daemon(dirfd, o, req, rep) : 0;
}

// The queue to put them back into: `to`, their topic (*groups: the bit of
// their group), or their queue.
int open_queue(const RedriveOptions &o, Queue **q, uint32_t *groups, RedriveReport *rep) {
    shmq_options opts;
    shmq_options_init(&opts);
    opts.prefetch = 0;
    bool group = o.to.empty() && !o.group.empty();
    std::string name = group ? o.topic : o.to.empty() ? o.queue : o.to;
    int rc = Queue::open(name.c_str(), &opts, q);
    if (rc != SHMQ_OK) return fail(rep, rc == SHMQ_ENOTFOUND ? ENOENT : EIO, "queue " + name + ": " + shmq_strerror(rc));
    int lane = group ? shmq::detail::find_lane(**q, o.group.c_str()) : -1;
    *groups = lane >= 0 ? 1u << lane : 0;
    if (!group || lane >= 0) return 0;
    delete *q;
    return fail(rep, ENOENT, "topic " + o.topic + " has no group " + o.group);
}

// Batches of about a tenth of a second's worth, each followed by the pause
// that keeps the average at `rate`.
int direct(Queue &q, uint32_t groups, store::DeadLetters &dlq, const RedriveOptions &o, RedriveReport *rep) {
    const double rate = o.rate > 0 ? o.rate : 100;
    const size_t batch = std::max<size_t>(1, size_t(rate / 10));
    auto deadline = Clock::now() + std::chrono::milliseconds(o.timeout_ms);
    store::RedriveCursor cursor;
    auto committed = Clock::now();
    for (;;) {
        store::RedriveResult res;
        if (redrive_batch(q, dlq, o.ids, batch, &cursor, &res, groups) != 0) return fail(rep, EIO, dlq.error());
        rep->sent += res.sent;
        rep->kept += res.kept;
        auto since = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - committed).count();
        if (redrive_commit_due(cursor, !res.more, since)) {
            if (redrive_commit(dlq, &cursor) != 0) return fail(rep, EIO, dlq.error());
            committed = Clock::now();
            if (res.more) rep->kept = 0; // offered again in the next pass
        }
        if (!res.more) {
            rep->finished = true;
            return 0;
        }
        if (Clock::now() >= deadline) {
            if (redrive_commit(dlq, &cursor) != 0) return fail(rep, EIO, dlq.error());
            return fail(rep, ETIMEDOUT, "the queue stayed full; the rest stays dead-lettered");
        }
        auto pause = std::chrono::duration<double>(double(std::max<uint64_t>(res.sent, 1)) / rate);
        std::this_thread::sleep_for(pause); // pacing to the rate, not synchronisation
    }
}

// Open the queue's dead-letter store as its one writer and run `direct` on
// it; while shmqd holds the store, hand `req` to it as a request file instead.
template <class F>
int with_store(const RedriveOptions &o, const RedriveRequest &req, RedriveReport *rep, F &&direct) {
    *rep = RedriveReport{};
    store::Fd dir;
    std::string why;
    if (int rc = store::open_dir(o.dead_letter_dir, false, &dir, &why); rc != 0)
        return fail(rep, rc, why + ": " + strerror(rc));
    // No store file: nothing was ever dead-lettered under this name. Opening
    // would create an empty store for a name that may not even exist.
    if (store::valid_queue_name(o.queue) &&
        faccessat(dir.get(), store::dlq_file(o.queue).c_str(), F_OK, 0) != 0 && errno == ENOENT) {
        if (req.purge) {
            rep->finished = true;
            return 0;
        }
        return fail(rep, ENOENT, "no dead letters for '" + o.queue + "' (no store " + store::dlq_file(o.queue) + " in " +
                                     o.dead_letter_dir + ")");
    }
    store::DeadLetters dlq;
    int rc = dlq.open(dir.get(), o.queue, store::StoreOptions{}, nullptr);
    if (rc == EWOULDBLOCK) return via_daemon(dir.get(), o, req, rep); // shmqd holds the store
    if (rc != 0) return fail(rep, rc, dlq.error());
    return direct(dlq);
}

} // namespace

int redrive(const RedriveOptions &o, RedriveReport *rep) {
    return with_store(o, RedriveRequest{o.ids, o.rate, false, o.to}, rep, [&](store::DeadLetters &dlq) {
        Queue *raw = nullptr;
        uint32_t groups = 0;
        if (int rc = open_queue(o, &raw, &groups, rep); rc != 0) return rc;
        std::unique_ptr<Queue> q(raw);
        return direct(*q, groups, dlq, o, rep);
    });
}

int purge(const RedriveOptions &o, RedriveReport *rep) {
    return with_store(o, RedriveRequest{{}, 0, true, ""}, rep, [&](store::DeadLetters &dlq) {
        rep->sent = dlq.count();
        if (dlq.purge() != 0) return fail(rep, EIO, dlq.error());
        rep->finished = true;
        return 0;
    });
}

int redrive_state(const std::string &dead_letter_dir, const std::string &queue, RedriveState *out, std::string *why) {
    *out = RedriveState{};
    store::Fd dir;
    if (int rc = store::open_dir(dead_letter_dir, false, &dir, why); rc != 0) return rc;
    int rc = read_redrive_request(dir.get(), queue, &out->request, why);
    if (rc != 0 && rc != ENOENT) return rc;
    out->pending = rc == 0;
    rc = read_redrive_status(dir.get(), queue, &out->status, why);
    if (rc != 0 && rc != ENOENT) return rc;
    out->have_status = rc == 0;
    return 0;
}

int cancel_redrive(const std::string &dead_letter_dir, const std::string &queue, bool *was_pending,
                   std::string *why) {
    *was_pending = false;
    store::Fd dir;
    if (int rc = store::open_dir(dead_letter_dir, false, &dir, why); rc != 0) return rc;
    if (unlinkat(dir.get(), redrive_request_file(queue).c_str(), 0) == 0) {
        *was_pending = true;
        return 0;
    }
    if (errno == ENOENT) return 0;
    *why = "cannot delete " + redrive_request_file(queue) + ": " + strerror(errno);
    return errno;
}

} // namespace shmqd::ops
