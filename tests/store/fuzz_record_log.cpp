// fuzz_record_log.cpp - libFuzzer target for the disk record reader. The input
// becomes a log file (raw, or behind a valid header of either kind, optionally
// with a spill cursor) that is opened read-only, then as a writer (which cuts
// a torn tail), scanned, and driven through the dead-letter or spill API,
// rewrites included. No file content may crash the reader or make it allocate
// more than the file holds. fdatasync is hooked out to keep runs fast.
//
// Input: byte 0 & 3 picks the mode; 0: the rest is the whole .dlq file;
// 1: a valid dlq header, then the rest; 2: a valid spill header, then the rest;
// 3: 40 bytes of .spill.cursor, a valid spill header, then the rest. Valid
// headers carry file_id kFuzzFileId, so a seed's cursor can match it. With
// bit 2 set (modes 1-3), the records part is instead a list of (length u8,
// bytes) bodies framed here with valid checksums, so that the dead-letter and
// spill decoders see arbitrary bodies, not only ones that failed a checksum.
//
// Build (not part of the default build):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I daemon \
//       tests/store/fuzz_record_log.cpp daemon/store/*.cpp -o fuzz_record_log
//   ./fuzz_record_log tests/store/corpus
// With -DSHMQ_FUZZ_MAKE_CORPUS (and without -fsanitize=fuzzer) it is instead a
// program that writes the seed corpus into the directory named by argv[1].
#include "store/crc32c.hpp"
#include "store/cursor.hpp"
#include "store/dead_letters.hpp"
#include "store/spill.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <span>
#include <string>
#include <unistd.h>
#include <vector>

using namespace shmq::store;

namespace {

constexpr uint64_t kFuzzFileId = 0x5EED5EED5EED5EEDull;
using Bytes = std::vector<std::byte>;

int no_sync(int) { return 0; }

// A header block as the core encodes it (shmq.h): "k" = "v1", "t" = "".
const Bytes kHeaders = {std::byte{1}, std::byte{2}, std::byte{0}, std::byte{'k'}, std::byte{'v'}, std::byte{'1'},
                        std::byte{1}, std::byte{0}, std::byte{0}, std::byte{'t'}};

// Read every byte a decoder handed out, so that a span past the body shows.
size_t touch(std::span<const std::byte> s) {
    size_t sum = 0;
    for (std::byte b : s) sum += size_t(b);
    return sum;
}

struct Dir {
    Dir() {
        char tmpl[] = "/dev/shm/shmq-store-fuzz-XXXXXX"; // tmpfs: file churn is cheap
        if (mkdtemp(tmpl) == nullptr) std::abort();
        path = tmpl;
        fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) std::abort();
        set_sync_hook(no_sync);
    }
    ~Dir() { std::filesystem::remove_all(path); }
    std::string path;
    int fd;
};

Dir &dir() {
    static Dir d;
    return d;
}

void put_file(const std::string &name, const std::byte *p, size_t n) {
    int fd = openat(dir().fd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, p, n) != ssize_t(n)) std::abort();
    close(fd);
}

void put_log(const std::string &name, Kind kind, const std::byte *p, size_t n) {
    Bytes b(kFileHeaderSize);
    encode_file_header(FileHeader{kFormatVersion, uint32_t(kind), kFuzzFileId}, b.data());
    b.insert(b.end(), p, p + n);
    put_file(name, b.data(), b.size());
}

Bytes framed(const std::byte *p, size_t n) {
    Bytes out;
    uint64_t off = kFileHeaderSize;
    while (n > 0) {
        size_t len = std::min(size_t(p[0]), n - 1);
        std::byte head[kFrameHeaderSize];
        encode_frame_header(off, FrameHeader{uint32_t(len), crc32c(0, p + 1, len)}, head);
        out.insert(out.end(), head, head + kFrameHeaderSize);
        out.insert(out.end(), p + 1, p + 1 + len);
        off += kFrameHeaderSize + len;
        p += 1 + len;
        n -= 1 + len;
    }
    return out;
}

void drive_dlq() {
    StoreOptions o;
    o.max_record = 1 << 20;
    o.read_only = true;
    DeadLetters d;
    if (d.open(dir().fd, "q", o, nullptr) == 0) d.list([](const DeadLetterInfo &) { return true; });
    d.close();
    o.read_only = false;
    if (d.open(dir().fd, "q", o, nullptr) != 0) return;
    DeadLetter full;
    d.show(1, &full);
    RedriveResult res;
    bool flip = false;
    touch(full.headers);
    size_t sum = 0;
    d.redrive_all(8,
                  [&](const DeadLetterView &v) {
                      sum += touch(v.headers) + touch(v.payload);
                      return (flip = !flip) ? RedriveStep::Sent : RedriveStep::Keep;
                  },
                  &res);
    d.add(DeadLetterMeta{7, 1, DeadReason::Rejected, 1, 2}, Bytes(3));
    d.add(DeadLetterMeta{8, 1, DeadReason::Rejected, 1, 2}, Bytes(3), kHeaders);
}

void drive_spill() {
    SpillOptions o;
    o.max_record = 1 << 20;
    o.cap_bytes = 1 << 16;
    Spill s;
    if (s.open(dir().fd, "q", o, nullptr) != 0) return;
    std::vector<SpillRecord> batch;
    for (int i = 0; i < 3 && s.peek_batch(2, &batch) == 0 && !batch.empty(); ++i) {
        for (const SpillRecord &r : batch) touch(r.headers);
        s.commit(1);
    }
    s.push(SpillMeta{9, 0, 0}, Bytes(5));
    s.push(SpillMeta{10, 0, 0}, Bytes(5), kHeaders);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const auto *p = reinterpret_cast<const std::byte *>(data) + 1;
    size_t n = size - 1;
    for (const char *f : {"q.dlq", "q.spill", "q.spill.cursor"}) unlinkat(dir().fd, f, 0);
    int mode = data[0] & 3;
    if (mode == 3) {
        size_t c = n < kCursorSize ? n : kCursorSize;
        put_file("q.spill.cursor", p, c);
        p += c;
        n -= c;
    }
    Bytes own = (data[0] & 4) != 0 && mode != 0 ? framed(p, n) : Bytes(p, p + n);
    if (mode == 0) put_file("q.dlq", own.data(), own.size());
    if (mode == 1) put_log("q.dlq", Kind::Dlq, own.data(), own.size());
    if (mode >= 2) put_log("q.spill", Kind::Spill, own.data(), own.size());
    if (mode < 2) drive_dlq();
    else drive_spill();
    return 0;
}

#ifdef SHMQ_FUZZ_MAKE_CORPUS
// Seeds: real files written through the store API, turned into inputs.
namespace {

Bytes read_back(const std::string &name) {
    int fd = openat(dir().fd, name.c_str(), O_RDONLY | O_CLOEXEC);
    Bytes b(size_t(lseek(fd, 0, SEEK_END)));
    if (fd < 0 || pread(fd, b.data(), b.size(), 0) != ssize_t(b.size())) std::abort();
    close(fd);
    unlinkat(dir().fd, name.c_str(), 0);
    return b;
}

void seed(const std::string &out, const std::string &name, uint8_t mode, const Bytes &body) {
    Bytes b{std::byte(mode)};
    b.insert(b.end(), body.begin(), body.end());
    int fd = open((out + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, b.data(), b.size()) != ssize_t(b.size())) std::abort();
    close(fd);
}

Bytes records_of(const Bytes &file) { return Bytes(file.begin() + kFileHeaderSize, file.end()); }

Bytes dlq_file3(DeadLetters &d) {
    if (d.open(dir().fd, "seed", StoreOptions{}, nullptr) != 0) std::abort();
    for (uint64_t id = 1; id <= 3; ++id) d.add(DeadLetterMeta{id, 5, DeadReason(id), 100, 200}, Bytes(id * 4));
    d.close();
    return read_back("seed.dlq");
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    std::string out = argv[1];
    DeadLetters d;
    Bytes dlq = dlq_file3(d);
    seed(out, "dlq-raw-valid", 0, dlq);
    seed(out, "dlq-valid", 1, records_of(dlq));
    Bytes torn = records_of(dlq);
    torn.resize(torn.size() - 7);
    seed(out, "dlq-torn", 1, torn);
    Bytes corrupt = records_of(dlq);
    corrupt[kFrameHeaderSize + 50] ^= std::byte{0x40}; // inside the second record's frame
    seed(out, "dlq-corrupt-middle", 1, corrupt);
    Bytes garbage = records_of(dlq);
    for (char ch : std::string("garbage after the last frame")) garbage.push_back(std::byte(ch));
    seed(out, "dlq-garbage-tail", 1, garbage);
    Bytes chunks;
    for (const std::string &body : {std::string("short"), std::string(40, 'x')}) {
        chunks.push_back(std::byte(body.size()));
        for (char ch : body) chunks.push_back(std::byte(ch));
    }
    seed(out, "dlq-framed-bodies", 1 | 4, chunks);
    Spill s;
    if (s.open(dir().fd, "seed", SpillOptions{}, nullptr) != 0) std::abort();
    for (uint64_t id = 1; id <= 3; ++id) s.push(SpillMeta{id, 0, 7}, Bytes(id * 3));
    s.close();
    Bytes spill = records_of(read_back("seed.spill"));
    seed(out, "spill-valid", 2, spill);
    Bytes with_cursor(kCursorSize);
    encode_cursor(Cursor{kFuzzFileId, kFileHeaderSize + kFrameHeaderSize + 24 + 3}, with_cursor.data());
    with_cursor.insert(with_cursor.end(), spill.begin(), spill.end());
    seed(out, "spill-cursor", 3, with_cursor);
    // Records with header blocks (the seeds above are the format before them).
    if (d.open(dir().fd, "seed", StoreOptions{}, nullptr) != 0) std::abort();
    d.add(DeadLetterMeta{4, 5, DeadReason(1), 100, 200}, Bytes(6), kHeaders);
    d.add(DeadLetterMeta{5, 5, DeadReason(2), 100, 200}, Bytes(2));
    d.close();
    seed(out, "dlq-headers", 1, records_of(read_back("seed.dlq")));
    if (s.open(dir().fd, "seed", SpillOptions{}, nullptr) != 0) std::abort();
    s.push(SpillMeta{4, 0, 7}, Bytes(2), kHeaders);
    s.close();
    seed(out, "spill-headers", 2, records_of(read_back("seed.spill")));
    return 0;
}
#endif
