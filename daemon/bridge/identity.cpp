// identity.cpp - AMQP headers and the local envelope (see identity.hpp).
#include "identity.hpp"

#include <charconv>
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

amqp_table_entry_t text_entry(std::string_view key, std::string_view v) {
    amqp_table_entry_t e{};
    e.key = amqp_bytes_t{key.size(), const_cast<char *>(key.data())};
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_bytes_t{v.size(), const_cast<char *>(v.data())};
    return e;
}

constexpr std::string_view kReserved = "x-shmq-";
bool is_identity_key(std::string_view k) { return k.substr(0, kReserved.size()) == kReserved; }
// Headers of one hop: the delivery count there, and the id that matches a return.
// (x-shmq-message-id as an AMQP header is a stray copy: the property is the truth.)
bool is_hop_key(std::string_view k) {
    return k == "x-shmq-attempt" || k == "x-shmq-local-id" || k == kMessageIdHeader;
}

// shmq.h's key rule: 1..255 bytes of 0x21..0x7E but '='.
bool key_ok(std::string_view k) {
    if (k.empty() || k.size() > kMaxHeaderKey) return false;
    for (char c : k)
        if (c < 0x21 || c > 0x7E || c == '=') return false;
    return true;
}

// Well-formed UTF-8 (shortest forms, no surrogates, at most U+10FFFF), no NUL.
bool utf8_ok(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (c == 0 || n == 0 || i + n > s.size()) return false;
        uint32_t cp = n == 1 ? c : c & (0x7F >> n);
        for (size_t k = 1; k < n; k++) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n;
    }
    return true;
}

// An AMQP header value as shmq text, or nullopt for a type that has none.
std::optional<std::string> as_text(const amqp_field_value_t &v) {
    switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: return std::string(static_cast<const char *>(v.value.bytes.bytes), v.value.bytes.len);
    case AMQP_FIELD_KIND_BOOLEAN: return std::string(v.value.boolean ? "true" : "false");
    case AMQP_FIELD_KIND_I8: return std::to_string(v.value.i8);
    case AMQP_FIELD_KIND_U8: return std::to_string(v.value.u8);
    case AMQP_FIELD_KIND_I16: return std::to_string(v.value.i16);
    case AMQP_FIELD_KIND_U16: return std::to_string(v.value.u16);
    case AMQP_FIELD_KIND_I32: return std::to_string(v.value.i32);
    case AMQP_FIELD_KIND_U32: return std::to_string(v.value.u32);
    case AMQP_FIELD_KIND_I64: return std::to_string(v.value.i64);
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: return std::to_string(v.value.u64);
    default: return std::nullopt; // floats, decimals, tables, arrays, void
    }
}

template <class T> std::optional<T> number(std::string_view s) {
    T v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

template <class T> void put(std::string &s, T v) { s.append(reinterpret_cast<const char *>(&v), sizeof v); }
template <class T> T take(const char *&p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
}

} // namespace

Properties::Properties(const Identity &id, uint64_t local_id, bool persistent, const std::vector<Header> &extra,
                       std::string_view message_id)
    : message_id_(message_id.empty() ? id.queue + ":" + std::to_string(id.id) : std::string(message_id)),
      queue_(id.queue) {
    entries_.reserve(5 + extra.size());
    entries_.push_back(text_entry("x-shmq-queue", queue_));
    entries_.push_back(i64_entry("x-shmq-id", int64_t(id.id)));
    entries_.push_back(i64_entry("x-shmq-attempt", id.attempt));
    entries_.push_back(i64_entry("x-shmq-enqueued-ns", id.enqueued_ns));
    entries_.push_back(i64_entry("x-shmq-local-id", int64_t(local_id)));
    for (const Header &h : extra)
        if (!is_identity_key(h.key)) entries_.push_back(text_entry(h.key, h.value));
    p_._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                AMQP_BASIC_DELIVERY_MODE_FLAG;
    p_.headers = amqp_table_t{int(entries_.size()), entries_.data()};
    p_.message_id = amqp_bytes_t{message_id_.size(), message_id_.data()};
    p_.timestamp = uint64_t(id.enqueued_ns / 1000000000);
    p_.delivery_mode = persistent ? 2 : 1;
}

OwnedHeaders local_headers_from(const amqp_basic_properties_t &p, bool identity, size_t *skipped) {
    OwnedHeaders out;
    *skipped = 0;
    size_t bytes = 0;
    bool bad = false;
    if (std::optional<std::string> mid = foreign_message_id(p, &bad)) {
        bytes += 3 + kMessageIdHeader.size() + mid->size();
        out.emplace_back(std::string(kMessageIdHeader), std::move(*mid));
    }
    *skipped += bad;
    if (!(p._flags & AMQP_BASIC_HEADERS_FLAG)) return out;
    for (int pass = 0; pass < 2; pass++) { // the identity first, so the bounds never cut it
        for (int i = 0; i < p.headers.num_entries; i++) {
            const amqp_table_entry_t &e = p.headers.entries[i];
            std::string_view key(static_cast<const char *>(e.key.bytes), e.key.len);
            if (is_identity_key(key) != (pass == 0)) continue;
            if (is_hop_key(key) || (pass == 0 && !identity)) continue; // not lost: the envelope has it
            std::optional<std::string> v = as_text(e.value);
            size_t size = 3 + key.size() + (v ? v->size() : 0);
            if (!key_ok(key) || !v || !utf8_ok(*v) || out.size() == kMaxHeaders ||
                bytes + size > kMaxHeadersSize) {
                ++*skipped;
                continue;
            }
            bytes += size;
            out.emplace_back(std::string(key), std::move(*v));
        }
    }
    return out;
}

std::optional<Identity> identity_from(const std::vector<Header> &h) {
    std::string_view queue, id, enqueued;
    for (const Header &x : h) {
        if (x.key == "x-shmq-queue") queue = x.value;
        else if (x.key == "x-shmq-id") id = x.value;
        else if (x.key == "x-shmq-enqueued-ns") enqueued = x.value;
    }
    std::optional<uint64_t> n = number<uint64_t>(id);
    std::optional<int64_t> t = number<int64_t>(enqueued);
    if (queue.empty() || queue.size() > 255 || !n || !t) return std::nullopt;
    return Identity{std::string(queue), *n, 0, *t};
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

std::string_view message_id_from(const std::vector<Header> &h) {
    for (const Header &x : h)
        if (x.key == kMessageIdHeader) return x.value;
    return {};
}

std::optional<std::string> foreign_message_id(const amqp_basic_properties_t &p, bool *bad) {
    *bad = false;
    if (!(p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) || p.message_id.len == 0) return std::nullopt;
    std::string mid(static_cast<const char *>(p.message_id.bytes), p.message_id.len);
    Identity id = identity_from(p);
    if (id.known() && mid == id.queue + ":" + std::to_string(id.id)) return std::nullopt; // ours: derived again out
    if (!utf8_ok(mid)) {
        *bad = true;
        return std::nullopt;
    }
    return mid;
}

std::string_view dedup_key_of(const amqp_basic_properties_t &p) {
    if (!(p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) || p.message_id.len > kMaxDedupKey) return {};
    return std::string_view(static_cast<const char *>(p.message_id.bytes), p.message_id.len);
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
