// headers.cpp - message headers: key/value text pairs carried in the slot
// right after the payload (encoding in shmq.h), their length in
// SlotHeader::headers_len.
//
// They are data like the payload: written while the slot is WRITING and
// published by the CAS that ends it (send.cpp's publish), so no transition of
// their own and nothing for recovery to do. Nack, retry and reclaim keep the
// slot's bytes, its len and its headers_len, hence its headers. Everything is
// checked before a slot is claimed: a bad header sends nothing.
#include "queue.hpp"

#include "shmq/shmq.h"

#include <cstring>
#include <string_view>

namespace shmq::detail {

namespace {

constexpr size_t kEntryHead = 3; // key length u8 | value length u16

bool key_ok(std::string_view k) {
    if (k.empty() || k.size() > SHMQ_MAX_HEADER_KEY) return false;
    for (unsigned char c : k)
        if (c < 0x21 || c > 0x7E || c == '=') return false;
    return true;
}

// Valid UTF-8 without NUL: no overlong forms, no surrogates, at most U+10FFFF.
bool utf8_ok(std::string_view v) {
    const auto *p = reinterpret_cast<const unsigned char *>(v.data());
    size_t n = v.size(), i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == 0) return false;
        size_t extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (extra == 9 || extra >= n - i) return false;
        uint32_t cp = extra == 0 ? c : c & (0x3F >> extra);
        for (size_t k = 1; k <= extra; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

// One entry of a block at *pos, checked; false if it breaks the encoding.
bool next_entry(const char *b, size_t len, size_t *pos, std::string_view *key, std::string_view *value) {
    if (len - *pos < kEntryHead) return false;
    const auto *h = reinterpret_cast<const unsigned char *>(b + *pos);
    size_t kl = h[0], vl = size_t(h[1]) | size_t(h[2]) << 8;
    if (len - *pos - kEntryHead < kl + vl) return false;
    *key = std::string_view(b + *pos + kEntryHead, kl);
    *value = std::string_view(b + *pos + kEntryHead + kl, vl);
    if (!key_ok(*key) || !utf8_ok(*value)) return false;
    *pos += kEntryHead + kl + vl;
    return true;
}

} // namespace

int read_headers(const shmq_header *h, size_t count, SendSpec *spec) {
    if (count > 0 && h == nullptr) return SHMQ_EINVAL;
    if (count > SHMQ_MAX_HEADERS) return SHMQ_EINVAL;
    size_t total = 0;
    for (size_t k = 0; k < count; ++k) {
        if (h[k].key == nullptr || h[k].value == nullptr) return SHMQ_EINVAL;
        std::string_view key(h[k].key), value(h[k].value);
        if (!key_ok(key) || !utf8_ok(value)) return SHMQ_EINVAL;
        for (size_t j = 0; j < k; ++j)
            if (key == h[j].key) return SHMQ_EINVAL; // duplicate
        if (value.size() > SHMQ_MAX_HEADERS_SIZE) return SHMQ_ETOOBIG;
        total += kEntryHead + key.size() + value.size();
        if (total > SHMQ_MAX_HEADERS_SIZE) return SHMQ_ETOOBIG;
    }
    spec->headers = count > 0 ? h : nullptr;
    spec->header_count = count;
    spec->header_block = nullptr;
    spec->headers_len = uint32_t(total);
    return SHMQ_OK;
}

int read_header_block(const void *block, size_t len, SendSpec *spec) {
    if (len > SHMQ_MAX_HEADERS_SIZE) return SHMQ_ETOOBIG;
    if (len > 0 && block == nullptr) return SHMQ_EINVAL;
    size_t pos = 0, count = 0;
    std::string_view k, v;
    while (pos < len)
        if (++count > SHMQ_MAX_HEADERS || !next_entry(static_cast<const char *>(block), len, &pos, &k, &v))
            return SHMQ_ECORRUPT;
    spec->headers = nullptr;
    spec->header_count = 0;
    spec->header_block = len > 0 ? block : nullptr;
    spec->headers_len = uint32_t(len);
    return SHMQ_OK;
}

void write_headers(const SendSpec &spec, char *to) {
    if (spec.header_block != nullptr) {
        std::memcpy(to, spec.header_block, spec.headers_len);
        return;
    }
    for (size_t k = 0; k < spec.header_count; ++k) {
        size_t kl = std::strlen(spec.headers[k].key), vl = std::strlen(spec.headers[k].value);
        to[0] = char(kl);
        to[1] = char(vl & 0xFF);
        to[2] = char(vl >> 8);
        std::memcpy(to + kEntryHead, spec.headers[k].key, kl);
        std::memcpy(to + kEntryHead + kl, spec.headers[k].value, vl);
        to += kEntryHead + kl + vl;
    }
}

uint32_t Queue::headers_len_of(uint32_t i, uint32_t len) const {
    uint32_t h = slot(i)->headers_len.load(std::memory_order_relaxed);
    return len <= p_.slot_size && h <= p_.slot_size - len ? h : ~0u;
}

int Queue::msg_headers(const shmq_msg *msg, const void **block, size_t *len) const {
    uint32_t i;
    SlotWord w{0};
    if (block == nullptr || len == nullptr || !receipt(msg, &i, &w)) return SHMQ_EINVAL;
    if (msg->len > p_.slot_size) return SHMQ_EINVAL;
    uint32_t h = headers_len_of(i, uint32_t(msg->len));
    if (h == ~0u) return SHMQ_ECORRUPT;
    *block = payload(i) + msg->len;
    *len = h;
    return SHMQ_OK;
}

} // namespace shmq::detail

using shmq::detail::Queue;

extern "C" {

int shmq_headers_next(const void *block, size_t len, size_t *pos, const char **key, size_t *key_len,
                      const char **value, size_t *value_len) {
    if ((block == nullptr && len > 0) || pos == nullptr || key == nullptr || key_len == nullptr ||
        value == nullptr || value_len == nullptr)
        return SHMQ_EINVAL;
    if (*pos >= len) return SHMQ_EEMPTY;
    std::string_view k, v;
    if (!shmq::detail::next_entry(static_cast<const char *>(block), len, pos, &k, &v)) return SHMQ_ECORRUPT;
    *key = k.data();
    *key_len = k.size();
    *value = v.data();
    *value_len = v.size();
    return SHMQ_OK;
}

int shmq_msg_headers(shmq_queue *q, const shmq_msg *msg, const void **block, size_t *len) {
    return q == nullptr ? SHMQ_EINVAL : reinterpret_cast<const Queue *>(q)->msg_headers(msg, block, len);
}

int shmq_msg_header(shmq_queue *q, const shmq_msg *msg, const char *key, const char **value, size_t *len) {
    const void *block;
    size_t n, pos = 0;
    if (key == nullptr || value == nullptr || len == nullptr) return SHMQ_EINVAL;
    int rc = shmq_msg_headers(q, msg, &block, &n);
    const char *k, *v;
    size_t kl, vl;
    while (rc == SHMQ_OK && (rc = shmq_headers_next(block, n, &pos, &k, &kl, &v, &vl)) == SHMQ_OK)
        if (std::string_view(k, kl) == key) return *value = v, *len = vl, SHMQ_OK;
    return rc == SHMQ_EEMPTY ? SHMQ_ENOTFOUND : rc;
}

} // extern "C"
