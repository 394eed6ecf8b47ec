// cursor.cpp - reading and atomically replacing the spill cursor file
// (cursor.hpp). A damaged cursor is reported, never trusted.
#include "cursor.hpp"

#include "crc32c.hpp"
#include "format.hpp"
#include "fsutil.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace shmq::store {

constexpr char kCursorMagic[8] = {'S', 'H', 'M', 'Q', 'C', 'U', 'R', '1'};
constexpr uint32_t kCursorVersion = 1;

void encode_cursor(const Cursor &c, std::byte out[kCursorSize]) {
    std::memcpy(out, kCursorMagic, 8);
    put_u32(out + 8, kCursorVersion);
    put_u32(out + 12, 0);
    put_u64(out + 16, c.file_id);
    put_u64(out + 24, c.offset);
    put_u32(out + 32, crc32c(0, out, 32));
    put_u32(out + 36, 0);
}

bool decode_cursor(const std::byte in[kCursorSize], Cursor *out, std::string *why) {
    if (std::memcmp(in, kCursorMagic, 8) != 0) {
        *why = "wrong magic";
        return false;
    }
    if (get_u32(in + 8) != kCursorVersion) {
        *why = "version " + std::to_string(get_u32(in + 8)) + ", want " + std::to_string(kCursorVersion);
        return false;
    }
    if (get_u32(in + 32) != crc32c(0, in, 32)) {
        *why = "checksum mismatch";
        return false;
    }
    out->file_id = get_u64(in + 16);
    out->offset = get_u64(in + 24);
    return true;
}

int load_cursor(int dirfd, const std::string &name, Cursor *out, std::string *why) {
    Fd fd;
    struct stat st;
    if (int rc = open_checked(dirfd, name, O_RDONLY, &fd, &st, why); rc != 0) return rc;
    if (st.st_size != off_t(kCursorSize)) {
        *why = std::to_string(st.st_size) + " bytes, want " + std::to_string(kCursorSize);
        return EBADMSG;
    }
    std::byte buf[kCursorSize];
    if (int rc = pread_full(fd.get(), buf, sizeof buf, 0); rc != 0) {
        *why = std::string("cannot read it: ") + std::strerror(rc);
        return rc == ENODATA ? EBADMSG : rc;
    }
    return decode_cursor(buf, out, why) ? 0 : EBADMSG;
}

int store_cursor(int dirfd, const std::string &name, const Cursor &c, std::string *why) {
    std::string tmp_name = name + ".tmp";
    ::unlinkat(dirfd, tmp_name.c_str(), 0);
    Fd fd;
    struct stat st;
    if (int rc = open_checked(dirfd, tmp_name, O_RDWR | O_CREAT | O_EXCL, &fd, &st, why); rc != 0) {
        *why = tmp_name + " " + *why;
        return rc;
    }
    std::byte buf[kCursorSize];
    encode_cursor(c, buf);
    iovec v{buf, sizeof buf};
    int rc = pwrite_full(fd.get(), &v, 1, 0);
    if (rc == 0) rc = sync_data(fd.get());
    if (rc == 0 && ::renameat(dirfd, tmp_name.c_str(), dirfd, name.c_str()) != 0) rc = errno;
    if (rc != 0) {
        ::unlinkat(dirfd, tmp_name.c_str(), 0);
        *why = std::string("cannot write it: ") + std::strerror(rc);
        return rc;
    }
    rc = sync_dir(dirfd);
    if (rc != 0) *why = std::string("renamed, but syncing the directory failed: ") + std::strerror(rc);
    return rc;
}

} // namespace shmq::store
