// shmq.hpp - the C++ API: RAII handles over the C API of shmq.h, header-only.
//
// Opening and creating throw shmq::Error; the hot path returns a status (no
// exceptions for "full" or "timed out"). A Message that is dropped without
// ack, nack or reject goes back to the queue with the backoff policy, so a
// lease is never leaked by an early return or an exception.
#pragma once

#include "shmq/shmq.h"

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shmq {

class Error : public std::runtime_error {
public:
    Error(int code, const std::string &what) : std::runtime_error(what + ": " + shmq_strerror(code)), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

using Timeout = std::chrono::nanoseconds;
inline constexpr Timeout kForever{SHMQ_FOREVER};

inline int64_t to_ns(Timeout t) { return t.count() < 0 ? SHMQ_FOREVER : int64_t(t.count()); }

// Per-message send options (shmq_send_opts). Since 0.4.
struct SendOptions {
    std::chrono::nanoseconds delay{0}; // ready no earlier than this long after it is stored
    std::chrono::nanoseconds ttl{0};   // dead-lettered as expired if not leased this long after it is ready
                                       // (0: the queue's ttl_ms; never_expires: none, whatever the queue's)
    static constexpr std::chrono::nanoseconds never_expires{SHMQ_TTL_NEVER};
    // Carried with the message (rules in shmq.h: keys printable ASCII but '=',
    // unique; values UTF-8; at most SHMQ_MAX_HEADERS, SHMQ_MAX_HEADERS_SIZE encoded).
    std::vector<std::pair<std::string, std::string>> headers{};
    // Deduplication key (1 .. SHMQ_MAX_DEDUP_KEY bytes; empty: none), on a
    // queue created with a dedup_window_ms: a second send of it within the
    // window stores nothing and returns the first message's id.
    std::string dedup_key{};
    shmq_send_opts c() const {
        shmq_send_opts o;
        shmq_send_opts_init(&o);
        o.delay_ns = int64_t(delay.count());
        o.ttl_ns = int64_t(ttl.count());
        if (!dedup_key.empty()) {
            o.dedup_key = dedup_key.data();
            o.dedup_key_len = dedup_key.size();
        }
        return o;
    }
    // With the headers too, as pairs in *pairs (which must outlive the result).
    shmq_send_opts c(std::vector<shmq_header> *pairs) const {
        shmq_send_opts o = c();
        pairs->clear();
        for (const auto &[k, v] : headers) pairs->push_back(shmq_header{k.c_str(), v.c_str()});
        o.headers = pairs->data();
        o.header_count = pairs->size();
        return o;
    }
};

inline shmq_params default_params() {
    shmq_params p;
    shmq_params_init(&p);
    return p;
}

inline shmq_options default_options() {
    shmq_options o;
    shmq_options_init(&o);
    return o;
}

// A leased message. Move-only; valid while its Queue lives.
class Message {
public:
    Message(shmq_queue *q, const shmq_msg &m) : q_(q), m_(m) {}
    Message(Message &&o) noexcept : q_(std::exchange(o.q_, nullptr)), m_(o.m_) {}
    Message &operator=(Message &&o) noexcept {
        if (this != &o) {
            release();
            q_ = std::exchange(o.q_, nullptr);
            m_ = o.m_;
        }
        return *this;
    }
    Message(const Message &) = delete;
    Message &operator=(const Message &) = delete;
    ~Message() { release(); }

    // The payload in shared memory: valid until ack/nack/reject or lease end.
    std::string_view data() const { return {static_cast<const char *>(m_.data), m_.len}; }
    uint64_t id() const { return m_.id; }
    uint32_t attempt() const { return m_.attempt; }
    int64_t enqueued_ns() const { return m_.enqueued_ns; }
    // Header `key` (zero-copy, valid as data() is), or nullopt if the message
    // has none such. Throws Error on any other failure (a spent message).
    std::optional<std::string_view> header(const std::string &key) const {
        const char *v = nullptr;
        size_t n = 0;
        int rc = shmq_msg_header(q_, &m_, key.c_str(), &v, &n);
        if (rc == SHMQ_ENOTFOUND) return std::nullopt;
        if (rc != SHMQ_OK) throw Error(rc, "shmq: header " + key);
        return std::string_view(v, n);
    }
    // Every header, in the order sent (zero-copy). Throws Error on failure.
    std::vector<std::pair<std::string_view, std::string_view>> headers() const {
        const void *block = nullptr;
        size_t len = 0, pos = 0, kl = 0, vl = 0;
        const char *k = nullptr, *v = nullptr;
        int rc = shmq_msg_headers(q_, &m_, &block, &len);
        std::vector<std::pair<std::string_view, std::string_view>> out;
        while (rc == SHMQ_OK && (rc = shmq_headers_next(block, len, &pos, &k, &kl, &v, &vl)) == SHMQ_OK)
            out.emplace_back(std::string_view(k, kl), std::string_view(v, vl));
        if (rc != SHMQ_EEMPTY) throw Error(rc, "shmq: headers");
        return out;
    }

    int ack() { return finish(shmq_ack(q_, &m_)); }
    int nack(Timeout delay = Timeout(-1)) { return finish(shmq_nack(q_, &m_, delay.count() < 0 ? -1 : delay.count())); }
    int reject() { return finish(shmq_reject(q_, &m_)); }
    int extend(std::chrono::milliseconds lease) { return q_ ? shmq_extend(q_, &m_, uint32_t(lease.count())) : SHMQ_EINVAL; }

private:
    int finish(int rc) {
        q_ = nullptr;
        return rc;
    }
    void release() {
        if (q_ != nullptr) shmq_nack(q_, &m_, -1);
        q_ = nullptr;
    }
    shmq_queue *q_;
    shmq_msg m_;
};

class Queue {
public:
    static Queue create(const std::string &name, const shmq_params &p = default_params(),
                        const shmq_options &o = default_options()) {
        shmq_queue *q = nullptr;
        int rc = shmq_create(name.c_str(), &p, &o, &q);
        if (rc != SHMQ_OK) throw Error(rc, "shmq: create " + name);
        return Queue(q);
    }
    static Queue open(const std::string &name, const shmq_options &o = default_options()) {
        shmq_queue *q = nullptr;
        int rc = shmq_open(name.c_str(), &o, &q);
        if (rc != SHMQ_OK) throw Error(rc, "shmq: open " + name);
        return Queue(q);
    }
    // A consumer handle on a topic's group (shmq_open_group).
    static Queue open_group(const std::string &topic, const std::string &group,
                            const shmq_options &o = default_options()) {
        shmq_queue *q = nullptr;
        int rc = shmq_open_group(topic.c_str(), group.c_str(), &o, &q);
        if (rc != SHMQ_OK) throw Error(rc, "shmq: open group " + group + " of topic " + topic);
        return Queue(q);
    }
    static void unlink(const std::string &name) { shmq_unlink(name.c_str()); }

    // Bind a consumer group on this topic; SHMQ_EEXIST if bound already.
    int add_group(const std::string &group) { return shmq_group_add(q_, group.c_str()); }

    Queue(Queue &&o) noexcept : q_(std::exchange(o.q_, nullptr)) {}
    Queue &operator=(Queue &&o) noexcept {
        std::swap(q_, o.q_);
        return *this;
    }
    ~Queue() { shmq_close(q_); }

    // *id (may be null) gets the message's id on SHMQ_OK.
    int send(std::string_view data, Timeout timeout = kForever, uint64_t *id = nullptr) {
        return shmq_send_ex(q_, data.data(), data.size(), nullptr, id, to_ns(timeout));
    }
    // *duplicate (may be null) tells, on SHMQ_OK, whether opts.dedup_key was
    // a duplicate (nothing stored; *id is the first message's).
    int send(std::string_view data, const SendOptions &opts, Timeout timeout = kForever, uint64_t *id = nullptr,
             bool *duplicate = nullptr) {
        std::vector<shmq_header> pairs;
        shmq_send_opts o = opts.c(&pairs);
        uint8_t dup = 0;
        o.duplicate_out = &dup;
        int rc = shmq_send_ex(q_, data.data(), data.size(), &o, id, to_ns(timeout));
        if (duplicate != nullptr) *duplicate = rc == SHMQ_OK && dup != 0;
        return rc;
    }
    // The next message, or nullopt with *status saying why (timed out, empty...).
    std::optional<Message> recv(Timeout timeout = kForever, int *status = nullptr) {
        shmq_msg m;
        int rc = shmq_recv(q_, &m, to_ns(timeout));
        if (status != nullptr) *status = rc;
        if (rc != SHMQ_OK) return std::nullopt;
        return Message(q_, m);
    }
    // Write a DISK queue back to its file (shmq_flush); SHMQ_OK at once for memory.
    int flush() { return shmq_flush(q_); }
    // Wait until what was sent before the call is on disk (shmq_sync):
    // SHMQ_OK, SHMQ_ETIMEDOUT or SHMQ_EFLUSH.
    int sync(Timeout timeout = kForever) { return shmq_sync(q_, to_ns(timeout)); }
    shmq_stats stats() {
        shmq_stats s{};
        s.struct_size = sizeof s;
        shmq_stats_get(q_, &s);
        return s;
    }
    shmq_queue *handle() const { return q_; }

private:
    explicit Queue(shmq_queue *q) : q_(q) {}
    shmq_queue *q_;
};

} // namespace shmq
