// format.hpp - the bytes on disk of a record log: a 32-byte file header, then
// frames of a 16-byte header and a body. All integers are little-endian. A
// frame header's checksum covers its own file offset, so a frame copied inside
// another record's payload never validates where it does not belong.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmq::store {

// What a log holds; written in its header so one kind is never read as another.
enum class Kind : uint32_t { Dlq = 1, Spill = 2 };
const char *kind_name(uint32_t kind); // "dlq", "spill" or "unknown"

constexpr uint32_t kFormatVersion = 1;
constexpr size_t kFileHeaderSize = 32;
constexpr size_t kFrameHeaderSize = 16;
constexpr char kFileMagic[8] = {'S', 'H', 'M', 'Q', 'L', 'O', 'G', '1'};
constexpr uint32_t kFrameMagic = 0x52514D53; // bytes "SMQR"

// File header: magic[8] | version u32 | kind u32 | file_id u64 | reserved u32 |
// crc32c of bytes [0, 28) u32. file_id is random per file, so a cursor can tell
// which incarnation of a log it points into.
struct FileHeader {
    uint32_t version = kFormatVersion;
    uint32_t kind = 0;
    uint64_t file_id = 0;
};
enum class HeaderCheck { Ok, BadMagic, BadVersion, BadChecksum };
void encode_file_header(const FileHeader &h, std::byte out[kFileHeaderSize]);
// Fills *h as far as it could be read (version is set even on BadChecksum).
HeaderCheck decode_file_header(const std::byte in[kFileHeaderSize], FileHeader *h);

// Frame header: magic u32 | body length u32 | crc32c(body) u32 |
// crc32c(offset u64 | magic | length | body crc) u32.
struct FrameHeader {
    uint32_t len = 0;
    uint32_t body_crc = 0;
};
void encode_frame_header(uint64_t offset, const FrameHeader &h, std::byte out[kFrameHeaderSize]);
// True if the magic and header checksum are right for a frame at `offset`.
bool decode_frame_header(uint64_t offset, const std::byte in[kFrameHeaderSize], FrameHeader *h);

inline void put_u32(std::byte *p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = std::byte(v >> (8 * i));
}
inline void put_u64(std::byte *p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = std::byte(v >> (8 * i));
}
inline uint32_t get_u32(const std::byte *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
    return v;
}
inline uint64_t get_u64(const std::byte *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}

} // namespace shmq::store
