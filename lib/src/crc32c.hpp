// crc32c.hpp - CRC-32C (Castagnoli): the checksum of a DISK queue's slots
// (reboot.cpp) and of every frame and header of shmqd's stores. Header-only,
// so the store (daemon/store/crc32c.hpp) uses this one copy without linking
// the core. On x86-64 with SSE 4.2 the crc32 instruction does 8 bytes a step
// (a send to a DISK queue checksums its payload); elsewhere a table, a byte
// a step.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace shmq::detail {

namespace crc32c_impl {

constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[i] = c;
    }
    return t;
}

inline constexpr std::array<uint32_t, 256> kTable = make_table();

// On the inverted crc, as both paths below work.
inline uint32_t bytes(uint32_t c, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; ++i) c = kTable[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline uint32_t words(uint32_t c, const unsigned char *p, size_t n) {
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
    }
    c = uint32_t(c64);
    for (; n > 0; --n, ++p) c = __builtin_ia32_crc32qi(c, *p);
    return c;
}

inline bool have_sse42() {
    static const bool yes = __builtin_cpu_supports("sse4.2");
    return yes;
}
#endif

} // namespace crc32c_impl

// Extends `crc` (0 to start) over n bytes; crc32c(0, "123456789", 9) == 0xE3069283.
inline uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
    const auto *p = static_cast<const unsigned char *>(data);
#if defined(__x86_64__)
    if (crc32c_impl::have_sse42()) return ~crc32c_impl::words(~crc, p, n);
#endif
    return ~crc32c_impl::bytes(~crc, p, n);
}

} // namespace shmq::detail
