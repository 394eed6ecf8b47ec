// amqp.cpp - Connection over rabbitmq-c (see amqp.hpp).
#include "amqp.hpp"
#include "identity.hpp"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include <openssl/err.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace bridge {

namespace {

constexpr amqp_channel_t kChannel = 1;

timeval tv(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

std::string text(amqp_bytes_t b) { return std::string(static_cast<const char *>(b.bytes), b.len); }

// OpenSSL's last error on this thread as " (reason)", or ""; clears the queue.
// rabbitmq-c leaves it queued after a TLS failure.
std::string openssl_reason() {
    const char *why = nullptr;
    if (unsigned long e = ERR_peek_last_error()) why = ERR_reason_error_string(e);
    ERR_clear_error();
    return why != nullptr ? std::string(" (") + why + ")" : "";
}

amqp_socket_t *make_socket(amqp_connection_state_t c, const BrokerConfig &cfg) {
    if (!cfg.tls.enabled) return amqp_tcp_socket_new(c);
    amqp_socket_t *s = amqp_ssl_socket_new(c);
    if (s == nullptr) return nullptr;
    const TlsConfig &t = cfg.tls;
    if (!t.ca_file.empty() && amqp_ssl_socket_set_cacert(s, t.ca_file.c_str()) != AMQP_STATUS_OK)
        throw BrokerError("TLS: cannot load ca_file " + t.ca_file + openssl_reason());
    if (!t.cert_file.empty() &&
        amqp_ssl_socket_set_key(s, t.cert_file.c_str(), t.key_file.c_str()) != AMQP_STATUS_OK)
        throw BrokerError("TLS: cannot load cert_file " + t.cert_file + " with key_file " + t.key_file + openssl_reason());
    amqp_ssl_socket_set_verify_peer(s, t.verify_peer);
    amqp_ssl_socket_set_verify_hostname(s, t.verify_hostname);
    return s;
}

bool is_tls_failure(int status) {
    return status == AMQP_STATUS_SSL_ERROR || status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
           status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED || status == AMQP_STATUS_SSL_CONNECTION_FAILED;
}

// rabbitmq-c's words for `status`, and for a TLS failure OpenSSL's reason,
// e.g. "certificate verify failed" or, sent by the broker, "tlsv1 alert unknown ca".
std::string error_text(int status) {
    std::string s = amqp_error_string2(status);
    return is_tls_failure(status) ? s + openssl_reason() : s;
}

// Why a TLS connect failed, in words.
std::string tls_failure(int status, const BrokerConfig &cfg) {
    std::string s = "TLS to " + cfg.host + ":" + std::to_string(cfg.port) + ": ";
    if (status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED)
        s += "the broker's certificate failed verification against ca_file " + cfg.tls.ca_file;
    else if (status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED)
        s += "the broker's certificate does not name " + cfg.host;
    else
        return s + error_text(status);
    ERR_clear_error();
    return s;
}

// Client properties that ask for connection.blocked/unblocked: RabbitMQ
// sends them only to clients that announce the capability.
struct ClientProperties {
    amqp_table_entry_t cap{}, entry{};
    amqp_table_t table{};
    ClientProperties() {
        cap.key = amqp_cstring_bytes("connection.blocked");
        cap.value.kind = AMQP_FIELD_KIND_BOOLEAN;
        cap.value.value.boolean = 1;
        entry.key = amqp_cstring_bytes("capabilities");
        entry.value.kind = AMQP_FIELD_KIND_TABLE;
        entry.value.value.table = amqp_table_t{1, &cap};
        table = amqp_table_t{1, &entry};
    }
};

// rabbitmq-c writes with no deadline: a broker (or a middlebox) that stops
// reading would hold a publish or an ack for ever, where no heartbeat check
// can run. TCP_USER_TIMEOUT makes the kernel abort the connection when sent
// data stays unacknowledged, or the peer's window stays shut, this long; the
// blocked write then fails and the binding reconnects.
void bound_writes(amqp_connection_state_t c, uint32_t ms) {
    int fd = amqp_get_sockfd(c);
    unsigned int v = ms;
    if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v) != 0)
        throw BrokerError("cannot set TCP_USER_TIMEOUT on the broker connection");
}

} // namespace

void Delivery::clear() {
    if (held) amqp_destroy_envelope(&env);
    held = false;
}

std::string_view Delivery::body() const {
    return std::string_view(static_cast<const char *>(env.message.body.bytes), env.message.body.len);
}

void Connection::check_status(int status, const char *what) {
    if (status != AMQP_STATUS_OK) throw BrokerError(std::string(what) + ": " + error_text(status));
}

void Connection::check(amqp_rpc_reply_t r, const char *what) {
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return;
    case AMQP_RESPONSE_NONE: throw BrokerError(std::string(what) + ": no reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        throw BrokerError(std::string(what) + ": " + error_text(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION: break;
    }
    if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto *m = static_cast<amqp_connection_close_t *>(r.reply.decoded);
        throw BrokerError(std::string(what) + ": connection closed by the broker: " + text(m->reply_text));
    }
    if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto *m = static_cast<amqp_channel_close_t *>(r.reply.decoded);
        throw BrokerError(std::string(what) + ": channel closed by the broker: " + text(m->reply_text));
    }
    throw BrokerError(std::string(what) + ": unexpected server reply");
}

void Connection::open() {
    close();
    conn_ = amqp_new_connection();
    if (conn_ == nullptr) throw BrokerError("out of memory");
    amqp_socket_t *s = make_socket(conn_, cfg_);
    if (s == nullptr) throw BrokerError("cannot create a socket");
    timeval t = tv(int(cfg_.connect_timeout_ms));
    int st = amqp_socket_open_noblock(s, cfg_.host.c_str(), int(cfg_.port), &t);
    if (cfg_.tls.enabled && is_tls_failure(st)) throw BrokerError(tls_failure(st, cfg_));
    check_status(st, ("connect to " + cfg_.host + ":" + std::to_string(cfg_.port)).c_str());
    bound_writes(conn_, cfg_.write_timeout_ms);
    amqp_set_handshake_timeout(conn_, &t);
    amqp_set_rpc_timeout(conn_, &t);
    ClientProperties props;
    blocked_ = false;
    check(amqp_login_with_properties(conn_, cfg_.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, int(cfg_.heartbeat_s),
                                     &props.table, AMQP_SASL_METHOD_PLAIN, cfg_.user.c_str(), cfg_.password.c_str()),
          "login");
    amqp_channel_open(conn_, kChannel);
    check(amqp_get_rpc_reply(conn_), "channel.open");
}

void Connection::close() {
    if (conn_ == nullptr) return;
    amqp_destroy_connection(conn_); // closes the socket; unacked work is the broker's again
    conn_ = nullptr;
}

void Connection::close_politely() {
    if (conn_ != nullptr) amqp_connection_close(conn_, AMQP_REPLY_SUCCESS); // waits up to the RPC timeout
    close();
}

void Connection::confirm_select() {
    amqp_confirm_select(conn_, kChannel);
    check(amqp_get_rpc_reply(conn_), "confirm.select");
}

void Connection::publish(const std::string &exchange, const std::string &routing_key, bool mandatory,
                         const amqp_basic_properties_t *props, std::string_view body) {
    int st = amqp_basic_publish(conn_, kChannel, amqp_cstring_bytes(exchange.c_str()),
                                amqp_cstring_bytes(routing_key.c_str()), mandatory, 0, props,
                                amqp_bytes_t{body.size(), const_cast<char *>(body.data())});
    check_status(st, "basic.publish");
}

// connection.blocked or unblocked: note it and return true.
bool Connection::note_blocking(const amqp_frame_t &f) {
    if (f.frame_type != AMQP_FRAME_METHOD) return false;
    if (f.payload.method.id == AMQP_CONNECTION_BLOCKED_METHOD) blocked_ = true;
    else if (f.payload.method.id == AMQP_CONNECTION_UNBLOCKED_METHOD) blocked_ = false;
    else return false;
    return true;
}

void Connection::closed_by_broker(const amqp_frame_t &f) {
    if (f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto *m = static_cast<amqp_connection_close_t *>(f.payload.method.decoded);
        throw BrokerError("connection closed by the broker: " + text(m->reply_text));
    }
    if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto *m = static_cast<amqp_channel_close_t *>(f.payload.method.decoded);
        throw BrokerError("channel closed by the broker: " + text(m->reply_text));
    }
    if (f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) throw BrokerError("the broker cancelled the consumer");
    throw BrokerError("unexpected method " + std::to_string(f.payload.method.id));
}

bool Connection::next_confirm(int timeout_ms, Confirm *out) {
    amqp_frame_t f;
    timeval t = tv(timeout_ms);
    amqp_maybe_release_buffers(conn_);
    int st = amqp_simple_wait_frame_noblock(conn_, &f, &t);
    if (st == AMQP_STATUS_TIMEOUT) return false;
    check_status(st, "waiting for confirms");
    if (f.frame_type != AMQP_FRAME_METHOD || note_blocking(f)) return false; // stray content of a return: skip
    switch (f.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        auto *m = static_cast<amqp_basic_ack_t *>(f.payload.method.decoded);
        *out = Confirm{Confirm::ack, m->delivery_tag, bool(m->multiple), std::nullopt};
        return true;
    }
    case AMQP_BASIC_NACK_METHOD: {
        auto *m = static_cast<amqp_basic_nack_t *>(f.payload.method.decoded);
        *out = Confirm{Confirm::nack, m->delivery_tag, bool(m->multiple), std::nullopt};
        return true;
    }
    case AMQP_BASIC_RETURN_METHOD: {
        amqp_message_t msg;
        check(amqp_read_message(conn_, f.channel, &msg, 0), "reading a returned message");
        *out = Confirm{Confirm::returned, 0, false, local_id_from(msg.properties)};
        amqp_destroy_message(&msg);
        return true;
    }
    default: closed_by_broker(f);
    }
}

void Connection::consume(const std::string &queue, uint16_t prefetch) {
    amqp_basic_qos(conn_, kChannel, 0, prefetch, 0);
    check(amqp_get_rpc_reply(conn_), "basic.qos");
    amqp_basic_consume(conn_, kChannel, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    check(amqp_get_rpc_reply(conn_), ("basic.consume from " + queue).c_str());
}

bool Connection::next_delivery(int timeout_ms, Delivery *out) {
    out->clear();
    amqp_maybe_release_buffers(conn_);
    timeval t = tv(timeout_ms);
    amqp_rpc_reply_t r = amqp_consume_message(conn_, &out->env, &t, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        out->held = true;
        return true;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        return false;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        amqp_frame_t f;
        check_status(amqp_simple_wait_frame(conn_, &f), "reading a frame");
        if (f.frame_type == AMQP_FRAME_METHOD && !note_blocking(f)) closed_by_broker(f);
        return false;
    }
    check(r, "basic.consume");
    return false;
}

void Connection::ack(uint64_t tag, bool multiple) {
    check_status(amqp_basic_ack(conn_, kChannel, tag, multiple), "basic.ack");
}

void Connection::reject(uint64_t tag, bool requeue) {
    check_status(amqp_basic_reject(conn_, kChannel, tag, requeue), "basic.reject");
}

uint32_t Connection::ready_count(const std::string &queue) {
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(conn_, kChannel, amqp_cstring_bytes(queue.c_str()), 1, 0, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(conn_), ("queue.declare (passive) of " + queue).c_str());
    return ok->message_count;
}

void Connection::declare_queue(const std::string &queue) {
    amqp_queue_declare(conn_, kChannel, amqp_cstring_bytes(queue.c_str()), 0, 1, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(conn_), ("queue.declare of " + queue).c_str());
}

void Connection::heartbeat() {
    amqp_frame_t f{};
    f.frame_type = AMQP_FRAME_HEARTBEAT;
    f.channel = 0;
    check_status(amqp_send_frame(conn_, &f), "heartbeat");
}

} // namespace bridge
