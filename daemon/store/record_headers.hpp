// record_headers.hpp - a message's header block in a spill or dead-letter
// record (the core's encoding, shmq.h, kept byte for byte).
//
// A record with headers sets bit 31 of its attempts word, and its fixed part
// is followed by: block length u32 | block | payload. A record without them
// (all records written before headers existed) is fixed part | payload, as
// before. Writers saturate attempts below bit 31; a record whose flag is set
// but whose length runs past its body is malformed (decoders say so).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace shmq::store {

constexpr uint32_t kHasHeaders = 1u << 31;
constexpr uint32_t kMaxHeaderBlock = 4096; // SHMQ_MAX_HEADERS_SIZE

// The attempts word to write for a record with `headers` (saturated below the flag).
uint32_t attempts_word(uint32_t attempts, std::span<const std::byte> headers);
// Append the length and block of non-empty `headers` to `head`.
void put_headers(std::vector<std::byte> *head, std::span<const std::byte> headers);
// Split what follows a record's fixed part into headers and payload, by the
// attempts word read (its flag cleared in *attempts). False if malformed.
bool split_headers(uint32_t *attempts, std::span<const std::byte> rest, std::span<const std::byte> *headers,
                   std::span<const std::byte> *payload);

} // namespace shmq::store
