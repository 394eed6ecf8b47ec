// headers_json.hpp - a message's encoded header block (shmq.h) as JSON, for
// shmqctl (peek, recv, dlq show) and shmqd's HTTP API alike.
#pragma once

#include "shmq/shmq.h"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shmqd {

// An object of key -> value strings ({} for an empty block), or null if the
// block breaks the encoding (damaged: never half shown).
nlohmann::json headers_json(const void *block, size_t len);

// The reverse, for a send: `text` must be a JSON object of string values.
// Fills *pairs (pointing into `j`, which must outlive them) or returns false
// with *why set: not JSON, not an object, a value that is not a string, a
// NUL in a key or value (C strings would cut it). The key and size rules are
// the core's (shmq_send_ex answers SHMQ_EINVAL / SHMQ_ETOOBIG).
bool headers_from_json(const std::string &text, nlohmann::json *j, std::vector<shmq_header> *pairs,
                       std::string *why);

} // namespace shmqd
