// cursor.hpp - the spill's read position, in its own 40-byte file. It is
// replaced by temp file, fsync, rename and directory fsync, so after a crash
// it holds the old value or the new one. It names the spill file's file_id, so
// a cursor left over from before a compaction is recognised as stale.
#pragma once

#include <cstdint>
#include <string>

namespace shmq::store {

struct Cursor {
    uint64_t file_id = 0;
    uint64_t offset = 0;
};

constexpr size_t kCursorSize = 40;

// 0; ENOENT (no cursor file); EBADMSG (damaged contents); ELOOP, EINVAL or
// EPERM (a symlink, not a regular file, world-writable); or a system error.
// *why says what in words.
int load_cursor(int dirfd, const std::string &name, Cursor *out, std::string *why);
// 0 once the new cursor is durable, or an errno value with *why.
int store_cursor(int dirfd, const std::string &name, const Cursor &c, std::string *why);

// The file's bytes: magic "SHMQCUR1" | version u32 | reserved u32 | file_id u64 |
// offset u64 | crc32c of bytes [0, 32) u32 | reserved u32.
void encode_cursor(const Cursor &c, std::byte out[kCursorSize]);
bool decode_cursor(const std::byte in[kCursorSize], Cursor *out, std::string *why);

} // namespace shmq::store
