// headers_json.hpp - a message's encoded header block (shmq.h) as JSON, for
// shmqctl (peek, recv, dlq show) and shmqd's HTTP API alike.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>

namespace shmqd {

// An object of key -> value strings ({} for an empty block), or null if the
// block breaks the encoding (damaged: never half shown).
nlohmann::json headers_json(const void *block, size_t len);

} // namespace shmqd
