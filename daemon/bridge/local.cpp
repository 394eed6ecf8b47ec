// local.cpp - LocalQueue over shmq.h (see local.hpp). The one file of the
// bridge that includes the core's header.
#include "local.hpp"

#include "shmq/shmq.h"

namespace bridge {

namespace {
shmq_queue *Q(void *q) { return static_cast<shmq_queue *>(q); }
shmq_msg *M(Lease &l) { return static_cast<shmq_msg *>(l.msg); }
int64_t ns(int ms) { return int64_t(ms) * 1000000; }
} // namespace

LocalQueue::~LocalQueue() { close(); }

int LocalQueue::open(const std::string &name, uint32_t prefetch, const std::string &group) {
    close();
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = prefetch;
    shmq_queue *q = nullptr;
    int rc = group.empty() ? shmq_open(name.c_str(), &o, &q)
                           : shmq_open_group(name.c_str(), group.c_str(), &o, &q);
    if (rc == SHMQ_OK) {
        q_ = q;
        name_ = name;
    }
    return rc;
}

void LocalQueue::close() {
    shmq_close(Q(q_)); // gives back any lease still held (counting the attempt)
    q_ = nullptr;
}

int LocalQueue::lease(Lease *out, size_t max, size_t *count, int timeout_ms) {
    shmq_msg msgs[64];
    if (max > 64) max = 64;
    *count = 0;
    int rc = shmq_recv_batch(Q(q_), msgs, max, count, ns(timeout_ms));
    for (size_t i = 0; i < *count; i++) {
        Lease &l = out[i];
        l.msg = new shmq_msg(msgs[i]);
        l.payload = std::string_view(static_cast<const char *>(msgs[i].data), msgs[i].len);
        l.id = msgs[i].id;
        l.attempt = msgs[i].attempt;
        l.lease_ms = msgs[i].lease_ms;
        l.enqueued_ns = msgs[i].enqueued_ns;
    }
    return rc;
}

int LocalQueue::ack(Lease &l) { return shmq_ack(Q(q_), M(l)); }
int LocalQueue::nack(Lease &l) { return shmq_nack(Q(q_), M(l), -1); }
int LocalQueue::reject(Lease &l) { return shmq_reject(Q(q_), M(l)); }
int LocalQueue::extend(Lease &l, uint32_t lease_ms) { return shmq_extend(Q(q_), M(l), lease_ms); }

void LocalQueue::release(Lease &l) {
    delete M(l);
    l.msg = nullptr;
    l.payload = {};
}

int LocalQueue::send(std::string_view payload, int timeout_ms) {
    return shmq_send(Q(q_), payload.data(), payload.size(), ns(timeout_ms));
}

int LocalQueue::recover() { return shmq_recover(Q(q_), nullptr); }

int LocalQueue::backlog(uint64_t *ready, double *oldest_age_s) {
    shmq_stats st{};
    st.struct_size = sizeof st;
    int rc = shmq_stats_get(Q(q_), &st);
    *ready = st.ready + st.delayed;
    *oldest_age_s = double(st.oldest_ready_age_ns) / 1e9;
    return rc;
}

int LocalQueue::check_name(const std::string &name) { return shmq_name_check(name.c_str()); }
const char *LocalQueue::strerror(int rc) { return shmq_strerror(rc); }
bool LocalQueue::is_ok(int rc) { return rc == SHMQ_OK; }
bool LocalQueue::is_full(int rc) {
    return rc == SHMQ_EFULL || rc == SHMQ_ETIMEDOUT || rc == SHMQ_EINTR;
}
bool LocalQueue::is_poison(int rc) { return rc == SHMQ_ETOOBIG || rc == SHMQ_EINVAL; }
bool LocalQueue::is_lost(int rc) { return rc == SHMQ_ELEASELOST; }
bool LocalQueue::needs_reopen(int rc) { return rc == SHMQ_ECLOSED || rc == SHMQ_ENOTFOUND; }

} // namespace bridge
