// format.cpp - encoding and checking file and frame headers (format.hpp).
// Decoders check the cheap, fixed fields first and never trust a length.
#include "format.hpp"

#include "crc32c.hpp"

#include <cstring>

namespace shmq::store {

const char *kind_name(uint32_t kind) {
    if (kind == uint32_t(Kind::Dlq)) return "dlq";
    if (kind == uint32_t(Kind::Spill)) return "spill";
    return "unknown";
}

void encode_file_header(const FileHeader &h, std::byte out[kFileHeaderSize]) {
    std::memcpy(out, kFileMagic, 8);
    put_u32(out + 8, h.version);
    put_u32(out + 12, h.kind);
    put_u64(out + 16, h.file_id);
    put_u32(out + 24, 0);
    put_u32(out + 28, crc32c(0, out, 28));
}

HeaderCheck decode_file_header(const std::byte in[kFileHeaderSize], FileHeader *h) {
    if (std::memcmp(in, kFileMagic, 8) != 0) return HeaderCheck::BadMagic;
    h->version = get_u32(in + 8); // checked before the checksum: a later layout may differ
    if (h->version != kFormatVersion) return HeaderCheck::BadVersion;
    if (get_u32(in + 28) != crc32c(0, in, 28)) return HeaderCheck::BadChecksum;
    h->kind = get_u32(in + 12);
    h->file_id = get_u64(in + 16);
    return HeaderCheck::Ok;
}

static uint32_t frame_crc(uint64_t offset, const std::byte *head12) {
    std::byte buf[20];
    put_u64(buf, offset);
    std::memcpy(buf + 8, head12, 12);
    return crc32c(0, buf, sizeof buf);
}

void encode_frame_header(uint64_t offset, const FrameHeader &h, std::byte out[kFrameHeaderSize]) {
    put_u32(out, kFrameMagic);
    put_u32(out + 4, h.len);
    put_u32(out + 8, h.body_crc);
    put_u32(out + 12, frame_crc(offset, out));
}

bool decode_frame_header(uint64_t offset, const std::byte in[kFrameHeaderSize], FrameHeader *h) {
    if (get_u32(in) != kFrameMagic) return false;
    if (get_u32(in + 12) != frame_crc(offset, in)) return false;
    h->len = get_u32(in + 4);
    h->body_crc = get_u32(in + 8);
    return true;
}

} // namespace shmq::store
