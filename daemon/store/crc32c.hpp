// crc32c.hpp - CRC-32C (Castagnoli), the checksum of every frame and header
// on disk. Table-driven, one byte at a time: portable and fast enough for a
// store whose records are written once and read a few times.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmq::store {

// Extends `crc` (0 to start) over n bytes; crc32c(0, "123456789", 9) == 0xE3069283.
uint32_t crc32c(uint32_t crc, const void *data, size_t n);

} // namespace shmq::store
