// record_headers.cpp - headers in spill and dead-letter records (record_headers.hpp).
#include "record_headers.hpp"

#include "format.hpp"

namespace shmq::store {

uint32_t attempts_word(uint32_t attempts, std::span<const std::byte> headers) {
    uint32_t a = attempts < kHasHeaders ? attempts : kHasHeaders - 1;
    return headers.empty() ? a : a | kHasHeaders;
}

void put_headers(std::vector<std::byte> *head, std::span<const std::byte> headers) {
    if (headers.empty()) return;
    size_t at = head->size();
    head->resize(at + 4);
    put_u32(head->data() + at, uint32_t(headers.size()));
    head->insert(head->end(), headers.begin(), headers.end());
}

bool split_headers(uint32_t *attempts, std::span<const std::byte> rest, std::span<const std::byte> *headers,
                   std::span<const std::byte> *payload) {
    *headers = {};
    *payload = rest;
    if ((*attempts & kHasHeaders) == 0) return true;
    *attempts &= ~kHasHeaders;
    if (rest.size() < 4) return false;
    uint32_t n = get_u32(rest.data());
    if (n == 0 || n > kMaxHeaderBlock || n > rest.size() - 4) return false;
    *headers = rest.subspan(4, n);
    *payload = rest.subspan(4 + n);
    return true;
}

} // namespace shmq::store
