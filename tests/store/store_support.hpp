// store_support.hpp - helpers for the store tests: a private directory under
// /tmp removed afterwards, raw file access for damaging files on purpose, and
// record bodies that say which record they are.
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace store_test {

using Bytes = std::vector<std::byte>;

// A fresh 0700 directory, open as `fd`; removed with its contents at the end.
struct TempDir {
    TempDir() {
        char tmpl[] = "/tmp/shmq-store-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
        fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        owner = getpid();
    }
    ~TempDir() {
        close(fd);
        if (getpid() == owner) std::filesystem::remove_all(path);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::string file(const std::string &name) const { return path + "/" + name; }
    std::string path;
    int fd = -1;
    pid_t owner;
};

inline Bytes read_all(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes b(s.size());
    for (size_t i = 0; i < s.size(); ++i) b[i] = std::byte(s[i]);
    return b;
}

inline void write_all(const std::string &path, const Bytes &b, mode_t mode = 0600) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, b.data(), b.size()) == ssize_t(b.size()));
    close(fd);
}

inline uint64_t file_size(const std::string &path) {
    struct stat st;
    REQUIRE(stat(path.c_str(), &st) == 0);
    return uint64_t(st.st_size);
}

inline void truncate_to(const std::string &path, uint64_t size) { REQUIRE(truncate(path.c_str(), off_t(size)) == 0); }

inline void flip_byte(const std::string &path, uint64_t off) {
    Bytes b = read_all(path);
    REQUIRE(off < b.size());
    b[off] ^= std::byte{0x5A};
    write_all(path, b);
}

inline void append_bytes(const std::string &path, const Bytes &extra) {
    Bytes b = read_all(path);
    b.insert(b.end(), extra.begin(), extra.end());
    write_all(path, b);
}

// A body of `len` bytes (at least 8) that starts with `n` and is filled from it.
inline Bytes body_for(uint64_t n, size_t len) {
    Bytes b(len < 8 ? 8 : len);
    for (int i = 0; i < 8; ++i) b[i] = std::byte(n >> (8 * i));
    for (size_t i = 8; i < b.size(); ++i) b[i] = std::byte((n * 131 + i * 7) & 0xFF);
    return b;
}

// The number a body_for body carries, if the rest of it matches.
inline bool body_is(const std::byte *p, size_t len, uint64_t *n) {
    if (len < 8) return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
    *n = v;
    for (size_t i = 8; i < len; ++i)
        if (p[i] != std::byte((v * 131 + i * 7) & 0xFF)) return false;
    return true;
}

inline Bytes text(const std::string &s) {
    Bytes b(s.size());
    for (size_t i = 0; i < s.size(); ++i) b[i] = std::byte(s[i]);
    return b;
}

inline bool mentions(const std::vector<std::string> &lines, const std::string &what) {
    for (const auto &l : lines)
        if (l.find(what) != std::string::npos) return true;
    return false;
}

} // namespace store_test
