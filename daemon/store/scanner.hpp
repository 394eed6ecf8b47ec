// scanner.hpp - walks the frames of a log from one offset to another, one step
// at a time: a valid record, a corrupt region to skip, or a torn tail. After a
// bad frame it resynchronises on the next offset where a frame header is valid;
// only when none follows is the rest of the file a tail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace shmq::store {

class Scanner {
public:
    enum class Step { Record, Skipped, Tail, End, Error };

    // Reads `fd` in [start, end). Records longer than max_record are skipped
    // unread, so nothing larger than min(max_record, end - start) is allocated.
    Scanner(int fd, uint64_t start, uint64_t end, uint32_t max_record);

    Step next();
    uint64_t offset() const { return off_; }  // the record, skipped region or tail
    uint64_t length() const { return len_; }  // frame, skipped or tail bytes
    uint64_t position() const { return pos_; } // where the next step starts
    std::span<const std::byte> body() const { return {body_.data(), body_len_}; } // until next()
    const std::string &why() const { return why_; } // for Skipped and Tail
    int error() const { return err_; }              // for Error: an errno value

private:
    const std::byte *at(uint64_t off, size_t n);
    bool read_body(uint64_t off, uint32_t len);
    uint64_t find_frame(uint64_t from);
    Step skip_or_tail(uint64_t from, std::string why);

    int fd_;
    uint64_t pos_, end_;
    uint32_t max_;
    uint64_t off_ = 0, len_ = 0;
    std::string why_;
    int err_ = 0;
    std::vector<std::byte> win_;
    uint64_t win_off_ = 0;
    size_t win_len_ = 0;
    std::vector<std::byte> body_;
    size_t body_len_ = 0;
};

} // namespace shmq::store
