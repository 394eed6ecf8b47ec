// crc32c.hpp - CRC-32C (Castagnoli), the checksum of every frame and header
// on disk: the core's header-only one (lib/src/crc32c.hpp, which also
// checksums DISK queues' slots), so there is one copy. Nothing is linked.
#pragma once

#include "../../lib/src/crc32c.hpp"

namespace shmq::store {

// Extends `crc` (0 to start) over n bytes; crc32c(0, "123456789", 9) == 0xE3069283.
using detail::crc32c;

} // namespace shmq::store
