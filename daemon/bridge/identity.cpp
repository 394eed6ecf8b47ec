// identity.cpp - AMQP headers and the local envelope (see identity.hpp).
#include "identity.hpp"

#include <cstring>

namespace bridge {

namespace {

constexpr char kMagic[8] = {'S', 'H', 'M', 'Q', 'E', 'N', 'V', '1'};
// magic, id (8), attempt (4), enqueued_ns (8), queue length (1), queue
constexpr size_t kFixed = sizeof kMagic + 8 + 4 + 8 + 1;

amqp_table_entry_t i64_entry(const char *key, int64_t v) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_I64;
    e.value.value.i64 = v;
    return e;
}

const amqp_field_value_t *header(const amqp_basic_properties_t &p, const char *key) {
    if (!(p._flags & AMQP_BASIC_HEADERS_FLAG)) return nullptr;
    size_t n = std::strlen(key);
    for (int i = 0; i < p.headers.num_entries; i++) {
        const amqp_table_entry_t &e = p.headers.entries[i];
        if (e.key.len == n && std::memcmp(e.key.bytes, key, n) == 0) return &e.value;
    }
    return nullptr;
}

// Integer headers of any width (other clients may pick a narrower type).
std::optional<int64_t> header_int(const amqp_basic_properties_t &p, const char *key) {
    const amqp_field_value_t *v = header(p, key);
    if (v == nullptr) return std::nullopt;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8: return v->value.i8;
    case AMQP_FIELD_KIND_U8: return v->value.u8;
    case AMQP_FIELD_KIND_I16: return v->value.i16;
    case AMQP_FIELD_KIND_U16: return v->value.u16;
    case AMQP_FIELD_KIND_I32: return v->value.i32;
    case AMQP_FIELD_KIND_U32: return v->value.u32;
    case AMQP_FIELD_KIND_I64: return v->value.i64;
    case AMQP_FIELD_KIND_U64: return int64_t(v->value.u64);
    default: return std::nullopt;
    }
}

std::optional<std::string> header_text(const amqp_basic_properties_t &p, const char *key) {
    const amqp_field_value_t *v = header(p, key);
    if (v == nullptr || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
        return std::nullopt;
    return std::string(static_cast<const char *>(v->value.bytes.bytes), v->value.bytes.len);
}

template <class T> void put(std::string &s, T v) { s.append(reinterpret_cast<const char *>(&v), sizeof v); }
template <class T> T take(const char *&p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
}

} // namespace

Properties::Properties(const Identity &id, uint64_t local_id, bool persistent)
    : message_id_(id.queue + ":" + std::to_string(id.id)), queue_(id.queue) {
    entries_[0].key = amqp_cstring_bytes("x-shmq-queue");
    entries_[0].value.kind = AMQP_FIELD_KIND_UTF8;
    entries_[0].value.value.bytes = amqp_bytes_t{queue_.size(), queue_.data()};
    entries_[1] = i64_entry("x-shmq-id", int64_t(id.id));
    entries_[2] = i64_entry("x-shmq-attempt", id.attempt);
    entries_[3] = i64_entry("x-shmq-enqueued-ns", id.enqueued_ns);
    entries_[4] = i64_entry("x-shmq-local-id", int64_t(local_id));
    p_._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                AMQP_BASIC_DELIVERY_MODE_FLAG;
    p_.headers = amqp_table_t{5, entries_};
    p_.message_id = amqp_bytes_t{message_id_.size(), message_id_.data()};
    p_.timestamp = uint64_t(id.enqueued_ns / 1000000000);
    p_.delivery_mode = persistent ? 2 : 1;
}

Identity identity_from(const amqp_basic_properties_t &p) {
    Identity id;
    std::optional<std::string> q = header_text(p, "x-shmq-queue");
    std::optional<int64_t> n = header_int(p, "x-shmq-id");
    if (!q || !n || q->empty() || q->size() > 255) return id;
    id.queue = *q;
    id.id = uint64_t(*n);
    id.attempt = uint32_t(header_int(p, "x-shmq-attempt").value_or(0));
    id.enqueued_ns = header_int(p, "x-shmq-enqueued-ns").value_or(0);
    return id;
}

std::optional<uint64_t> local_id_from(const amqp_basic_properties_t &p) {
    std::optional<int64_t> v = header_int(p, "x-shmq-local-id");
    if (!v) return std::nullopt;
    return uint64_t(*v);
}

size_t envelope_overhead(const Identity &id) { return kFixed + id.queue.size(); }

std::string wrap(const Identity &id, std::string_view payload) {
    std::string s;
    s.reserve(envelope_overhead(id) + payload.size());
    s.append(kMagic, sizeof kMagic);
    put<uint64_t>(s, id.id);
    put<uint32_t>(s, id.attempt);
    put<int64_t>(s, id.enqueued_ns);
    put<uint8_t>(s, uint8_t(id.queue.size())); // identity_from caps it at 255
    s.append(id.queue);
    s.append(payload);
    return s;
}

std::optional<Identity> unwrap(std::string_view data, std::string_view *payload) {
    if (data.size() < kFixed || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
        return std::nullopt;
    const char *p = data.data() + sizeof kMagic;
    Identity id;
    id.id = take<uint64_t>(p);
    id.attempt = take<uint32_t>(p);
    id.enqueued_ns = take<int64_t>(p);
    size_t qlen = take<uint8_t>(p);
    if (data.size() < kFixed + qlen) return std::nullopt;
    id.queue.assign(p, qlen);
    *payload = data.substr(kFixed + qlen);
    return id;
}

} // namespace bridge
