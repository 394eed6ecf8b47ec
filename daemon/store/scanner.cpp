// scanner.cpp - the frame walker (scanner.hpp). Small reads go through a
// 64 KiB window; a body is read only after its header validated and its
// length was checked against the limit and the end of the file.
#include "scanner.hpp"

#include "crc32c.hpp"
#include "format.hpp"
#include "fsutil.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace shmq::store {

constexpr size_t kWindow = 64 * 1024;

Scanner::Scanner(int fd, uint64_t start, uint64_t end, uint32_t max_record)
    : fd_(fd), pos_(start), end_(end), max_(max_record) {}

// [off, off + n) from the window, refilling it at `off` if needed; n <= kWindow.
const std::byte *Scanner::at(uint64_t off, size_t n) {
    if (off >= win_off_ && off + n <= win_off_ + win_len_) return win_.data() + (off - win_off_);
    win_.resize(kWindow);
    win_off_ = off;
    win_len_ = size_t(std::min<uint64_t>(kWindow, end_ - off));
    err_ = pread_full(fd_, win_.data(), win_len_, off);
    if (err_ != 0) win_len_ = 0;
    if (err_ == 0 && n > win_len_) err_ = ENODATA; // callers check bounds first: never expected
    return err_ == 0 ? win_.data() : nullptr;
}

bool Scanner::read_body(uint64_t off, uint32_t len) {
    body_.resize(std::max<size_t>(body_.size(), len));
    body_len_ = len;
    if (len == 0) return true;
    if (len <= kWindow) {
        const std::byte *p = at(off, len);
        if (p != nullptr) std::memcpy(body_.data(), p, len);
        return p != nullptr;
    }
    err_ = pread_full(fd_, body_.data(), len, off);
    return err_ == 0;
}

// The first offset >= from holding a valid frame header whose frame fits in
// the file, or end_ if there is none.
uint64_t Scanner::find_frame(uint64_t from) {
    for (uint64_t q = from; q + kFrameHeaderSize <= end_; ++q) {
        const std::byte *p = at(q, kFrameHeaderSize);
        if (p == nullptr) return end_;
        FrameHeader h;
        if (get_u32(p) == kFrameMagic && decode_frame_header(q, p, &h) &&
            h.len <= end_ - q - kFrameHeaderSize)
            return q;
    }
    return end_;
}

Scanner::Step Scanner::skip_or_tail(uint64_t from, std::string why) {
    uint64_t next = find_frame(from);
    if (err_ != 0) return Step::Error;
    off_ = pos_;
    len_ = next - pos_;
    why_ = std::move(why);
    pos_ = next;
    return next == end_ ? Step::Tail : Step::Skipped;
}

Scanner::Step Scanner::next() {
    if (err_ != 0) return Step::Error;
    if (pos_ >= end_) return Step::End;
    if (end_ - pos_ < kFrameHeaderSize) return skip_or_tail(end_, "partial frame header");
    const std::byte *p = at(pos_, kFrameHeaderSize);
    if (p == nullptr) return Step::Error;
    FrameHeader h;
    if (!decode_frame_header(pos_, p, &h)) return skip_or_tail(pos_ + 1, "bad frame header");
    if (h.len > end_ - pos_ - kFrameHeaderSize)
        return skip_or_tail(pos_ + 1, "frame of " + std::to_string(h.len) + " bytes runs past the end of the file");
    uint64_t frame_end = pos_ + kFrameHeaderSize + h.len;
    if (h.len > max_) {
        off_ = pos_;
        len_ = frame_end - pos_;
        why_ = "record of " + std::to_string(h.len) + " bytes exceeds the limit of " + std::to_string(max_);
        pos_ = frame_end;
        return Step::Skipped;
    }
    if (!read_body(pos_ + kFrameHeaderSize, h.len)) return Step::Error;
    if (crc32c(0, body_.data(), h.len) != h.body_crc) return skip_or_tail(frame_end, "body checksum mismatch");
    off_ = pos_;
    len_ = frame_end - pos_;
    pos_ = frame_end;
    return Step::Record;
}

} // namespace shmq::store
