// crc32c.cpp - table-driven CRC-32C (crc32c.hpp). The table is built at
// compile time from the reflected polynomial 0x82F63B78.
#include "crc32c.hpp"

#include <array>

namespace shmq::store {

static constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[i] = c;
    }
    return t;
}

static constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
    const auto *p = static_cast<const unsigned char *>(data);
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

} // namespace shmq::store
