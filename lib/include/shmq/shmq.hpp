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
                                       // (0: the queue's ttl_ms)
    shmq_send_opts c() const {
        shmq_send_opts o;
        shmq_send_opts_init(&o);
        o.delay_ns = int64_t(delay.count());
        o.ttl_ns = int64_t(ttl.count());
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
    static void unlink(const std::string &name) { shmq_unlink(name.c_str()); }

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
    int send(std::string_view data, const SendOptions &opts, Timeout timeout = kForever, uint64_t *id = nullptr) {
        shmq_send_opts o = opts.c();
        return shmq_send_ex(q_, data.data(), data.size(), &o, id, to_ns(timeout));
    }
    // The next message, or nullopt with *status saying why (timed out, empty...).
    std::optional<Message> recv(Timeout timeout = kForever, int *status = nullptr) {
        shmq_msg m;
        int rc = shmq_recv(q_, &m, to_ns(timeout));
        if (status != nullptr) *status = rc;
        if (rc != SHMQ_OK) return std::nullopt;
        return Message(q_, m);
    }
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
