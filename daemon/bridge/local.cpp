// local.cpp - LocalQueue over shmq.h (see local.hpp). The one file of the
// bridge that includes the core's header.
#include "local.hpp"

#include "shmq/shmq.h"

namespace bridge {

static_assert(kMaxHeaders == SHMQ_MAX_HEADERS && kMaxHeaderKey == SHMQ_MAX_HEADER_KEY &&
                  kMaxHeadersSize == SHMQ_MAX_HEADERS_SIZE && kMaxDedupKey == SHMQ_MAX_DEDUP_KEY,
              "local.hpp's header and key bounds are shmq.h's");

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
    if (rc != SHMQ_OK) return rc;
    shmq_params p;
    shmq_params_init(&p);
    if (group.empty() && (rc = shmq_get_params(q, &p)) != SHMQ_OK) {
        shmq_close(q);
        return rc;
    }
    q_ = q;
    name_ = name;
    topic_ = p.max_groups > 0;
    dedup_ = p.dedup_window_ms > 0;
    return SHMQ_OK;
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
        const void *block = nullptr;
        size_t len = 0;
        l.headers = shmq_msg_headers(Q(q_), &msgs[i], &block, &len) == SHMQ_OK
                        ? std::string_view(static_cast<const char *>(block), len)
                        : std::string_view();
    }
    return rc;
}

int LocalQueue::ack(Lease &l) { return shmq_ack(Q(q_), M(l)); }
int LocalQueue::nack(Lease &l) { return shmq_nack_ex(Q(q_), M(l), -1, SHMQ_DEAD_BRIDGE_REJECTED); }
int LocalQueue::reject(Lease &l) { return shmq_reject_ex(Q(q_), M(l), SHMQ_DEAD_BRIDGE_REJECTED); }
int LocalQueue::extend(Lease &l, uint32_t lease_ms) { return shmq_extend(Q(q_), M(l), lease_ms); }

void LocalQueue::release(Lease &l) {
    delete M(l);
    l.msg = nullptr;
    l.payload = {};
}

int LocalQueue::send(std::string_view payload, const OwnedHeaders &headers, int timeout_ms,
                     std::string_view dedup_key, bool *duplicate) {
    if (duplicate != nullptr) *duplicate = false;
    if (headers.empty() && dedup_key.empty())
        return shmq_send(Q(q_), payload.data(), payload.size(), ns(timeout_ms));
    std::vector<shmq_header> pairs;
    for (const auto &[k, v] : headers) pairs.push_back(shmq_header{k.c_str(), v.c_str()});
    uint8_t dup = 0;
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.headers = pairs.empty() ? nullptr : pairs.data();
    o.header_count = pairs.size();
    if (!dedup_key.empty()) {
        o.dedup_key = dedup_key.data();
        o.dedup_key_len = dedup_key.size();
        o.duplicate_out = &dup;
    }
    int rc = shmq_send_ex(Q(q_), payload.data(), payload.size(), &o, nullptr, ns(timeout_ms));
    if (rc == SHMQ_OK && duplicate != nullptr) *duplicate = dup != 0;
    return rc;
}

bool LocalQueue::parse_headers(std::string_view block, std::vector<Header> *out) {
    out->clear();
    if (block.empty()) return true;
    size_t pos = 0, kl, vl;
    const char *k, *v;
    int rc;
    while ((rc = shmq_headers_next(block.data(), block.size(), &pos, &k, &kl, &v, &vl)) == SHMQ_OK)
        out->push_back(Header{std::string_view(k, kl), std::string_view(v, vl)});
    return rc == SHMQ_EEMPTY;
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
bool LocalQueue::is_not_found(int rc) { return rc == SHMQ_ENOTFOUND; }
bool LocalQueue::is_dedup_full(int rc) { return rc == SHMQ_EDEDUPFULL; }
bool LocalQueue::waited(int rc) { return rc == SHMQ_ETIMEDOUT; }

} // namespace bridge
