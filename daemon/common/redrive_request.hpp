// redrive_request.hpp - asking a running shmqd to redrive dead letters.
//
// The dead-letter store has one writer at a time (the daemon holds its lock),
// so a tool that wants records back while shmqd runs leaves a request file,
// `<dead_letter_dir>/<queue>.redrive`, and the daemon carries it out at its
// rate and deletes it when done. The same file can ask for a purge instead
// (drop every dead letter of the queue), which the daemon does at once.
// The file is written under a temporary name and linked into place, so the
// daemon never reads half of one, and a second request for the same queue is
// refused while the first is pending. Deleting a pending request cancels it.
//
// While it works on a redrive, the daemon reports its progress in
// `<queue>.redrive-status` (replaced atomically, at most once a second, and
// at the end): running, done, cancelled or failed, with counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shmqd {

struct RedriveRequest {
    std::vector<uint64_t> ids; // empty: every record
    double rate = 0;           // messages per second; 0: the queue's redrive_rate
    bool purge = false;        // drop every record instead (ids must be all)
    std::string to;            // put them into this queue instead of their own ("": their own)
};

struct RedriveStatus {
    std::string state;      // running, done, cancelled, failed
    uint64_t sent = 0;      // put back so far
    uint64_t kept = 0;      // left in the store (larger than a slot)
    int64_t started_s = 0;  // seconds since the epoch
    int64_t updated_s = 0;
    std::string to;         // the target queue ("": the dead letters' own)
    std::string error;      // why it failed
};

std::string redrive_request_file(const std::string &queue);

// Write a request into the directory `dirfd`. 0, EEXIST if one is pending, or
// another errno (*why says what).
int write_redrive_request(int dirfd, const std::string &queue, const RedriveRequest &req, std::string *why);
// Read a pending request: 0, ENOENT if there is none, EINVAL if it is
// malformed (*why says where), or another errno.
int read_redrive_request(int dirfd, const std::string &queue, RedriveRequest *out, std::string *why);
void remove_redrive_request(int dirfd, const std::string &queue);
bool redrive_request_pending(int dirfd, const std::string &queue);

// The status file: 0, ENOENT if there is none, EINVAL if malformed, or
// another errno (*why says what).
std::string redrive_status_file(const std::string &queue);
int write_redrive_status(int dirfd, const std::string &queue, const RedriveStatus &st, std::string *why);
int read_redrive_status(int dirfd, const std::string &queue, RedriveStatus *out, std::string *why);

// The text of a request file, and back.
std::string format_redrive_request(const RedriveRequest &req);
int parse_redrive_request(const std::string &text, RedriveRequest *out, std::string *why); // 0 or EINVAL

} // namespace shmqd
