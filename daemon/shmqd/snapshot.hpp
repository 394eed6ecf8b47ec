// snapshot.hpp - the file a `reboot` queue's messages wait in while the host
// restarts: `<spill_dir>/<queue>.snapshot`, written by shmqd at a clean stop
// and read at its next start (durable.cpp decides what to do with it).
//
// Written crash-safely: into `<queue>.snapshot.tmp`, fsync, rename over the
// old one, fsync of the directory, so a write cut short leaves the previous
// snapshot (or none) and a torn temporary file that the next start removes.
// Every record and the whole file carry a CRC-32C: a truncated or corrupted
// snapshot is refused as a whole (EBADMSG), never half restored.
//
// Layout (host byte order: the file never leaves the host):
//   header:  "SHMQSNAP" | u32 version | u32 name_len | name | char boot_id[40]
//            | i64 segment_created_ns | u32 segment_tag | u32 0 | i64 taken_ns
//            | u64 count | u32 crc of the header so far
//   count x: u32 body_len | u32 crc of body | body = u8 kind | u8 flags | 2 x u8 0
//            | u32 attempts | u64 id | i64 enqueued_ns | i64 due_ns
//            | [flags bit 0: u32 headers_len | header block] | payload
//   (flags was a zero pad before headers: older snapshots read as no headers)
//   trailer: u32 crc of every byte before it; then the end of the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace shmqd {

// Where the message was when the snapshot was taken. Leased messages are
// restored as ready (their lease ended with the stop); delayed ones keep
// their due time.
enum class SnapKind : uint8_t { Ready = 0, Delayed = 1, Leased = 2 };

struct SnapMessage {
    SnapKind kind = SnapKind::Ready;
    uint64_t id = 0;
    uint32_t attempts = 0;    // deliveries so far
    int64_t enqueued_ns = 0;  // first enqueue, CLOCK_REALTIME
    int64_t due_ns = 0;       // Delayed: when it becomes ready, CLOCK_REALTIME
    int64_t expires_ns = 0;   // when it may no longer be leased, CLOCK_REALTIME; 0: never
    std::vector<std::byte> payload;
    std::vector<std::byte> headers; // the encoded header block (shmq.h), empty if none
};

// Which segment the messages were in: its creation time and random tag
// (the core's header fields; see docs/durability.md for what the core
// should give instead), and the kernel's boot id at the time.
struct SegmentIdentity {
    int64_t created_ns = 0;
    uint32_t tag = 0;
    bool operator==(const SegmentIdentity &o) const { return created_ns == o.created_ns && tag == o.tag; }
};

struct QueueSnapshot {
    std::string queue;
    std::string boot_id;
    SegmentIdentity segment;
    int64_t taken_ns = 0; // CLOCK_REALTIME
    std::vector<SnapMessage> messages;
};

std::string snapshot_file(const std::string &queue);     // "<queue>.snapshot"
std::string snapshot_tmp_file(const std::string &queue); // "<queue>.snapshot.tmp"
// This boot's id (/proc/sys/kernel/random/boot_id), or "" if unreadable.
std::string current_boot_id();

// Write `s` as the queue's snapshot in `dirfd`, replacing any previous one
// atomically. 0 or an errno value, with *why.
int write_snapshot(int dirfd, const QueueSnapshot &s, std::string *why);
// Read and verify the queue's snapshot: 0; ENOENT (none); EBADMSG (torn,
// corrupted or not a snapshot of this queue: *why says where); another errno
// value if it cannot be read. *out is filled only on 0.
int read_snapshot(int dirfd, const std::string &queue, QueueSnapshot *out, std::string *why);

} // namespace shmqd
