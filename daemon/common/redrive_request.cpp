// redrive_request.cpp - the request file (redrive_request.hpp). Text, one
// setting per line: "rate 50" and "ids all" or "ids 17 18 19", or "purge"
// with "ids all"; '#' starts a comment. Small on purpose: anyone can read or
// write it by hand.
#include "redrive_request.hpp"

#include "shmq/shmq.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace shmqd {

constexpr size_t kMaxRequestBytes = 16 << 20;

std::string redrive_request_file(const std::string &queue) { return queue + ".redrive"; }

std::string redrive_status_file(const std::string &queue) { return queue + ".redrive-status"; }

std::string format_redrive_request(const RedriveRequest &req) {
    std::ostringstream s;
    s << "# shmq redrive request\n" << (req.purge ? "purge\n" : "") << (req.to.empty() ? "" : "to " + req.to + "\n")
      << "rate " << req.rate << "\nids";
    if (req.ids.empty()) s << " all";
    for (uint64_t id : req.ids) s << ' ' << id;
    s << '\n';
    return s.str();
}

static bool parse_ids(std::istringstream &in, RedriveRequest *out, std::string *why) {
    std::string word;
    bool all = false;
    while (in >> word) {
        if (word == "all") {
            all = true;
            continue;
        }
        if (word.find_first_not_of("0123456789") != std::string::npos || word.size() > 20) {
            *why = "not an id: " + word;
            return false;
        }
        out->ids.push_back(std::strtoull(word.c_str(), nullptr, 10));
    }
    if (all && !out->ids.empty()) {
        *why = "\"ids all\" together with ids";
        return false;
    }
    return true;
}

int parse_redrive_request(const std::string &text, RedriveRequest *out, std::string *why) {
    *out = RedriveRequest{};
    why->clear();
    std::istringstream lines(text);
    std::string line;
    bool have_ids = false;
    for (int n = 1; std::getline(lines, line); ++n) {
        line = line.substr(0, line.find('#'));
        std::istringstream in(line);
        std::string key;
        if (!(in >> key)) continue;
        if (key == "rate" && (in >> out->rate) && out->rate >= 0) continue;
        if (key == "purge") {
            out->purge = true;
            continue;
        }
        if (key == "to" && (in >> out->to) && shmq_name_check(out->to.c_str()) == SHMQ_OK) continue;
        if (key == "ids" && parse_ids(in, out, why)) {
            have_ids = true;
            continue;
        }
        if (why->empty())
            *why = "line " + std::to_string(n) + ": expected \"rate N\", \"purge\", \"to QUEUE\" or \"ids all|ID...\"";
        return EINVAL;
    }
    if (!have_ids) *why = "no \"ids\" line";
    else if (out->purge && !out->ids.empty()) *why = "a purge takes \"ids all\"";
    else if (out->purge && !out->to.empty()) *why = "a purge has no target queue";
    return have_ids && why->empty() ? 0 : EINVAL;
}

static int write_all(int fd, const std::string &s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        off += size_t(n);
    }
    return fsync(fd) == 0 ? 0 : errno;
}

int write_redrive_request(int dirfd, const std::string &queue, const RedriveRequest &req, std::string *why) {
    std::string tmp = redrive_request_file(queue) + "." + std::to_string(getpid()) + ".tmp";
    int fd = openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        *why = std::string("cannot create ") + tmp + ": " + strerror(errno);
        return errno;
    }
    int rc = write_all(fd, format_redrive_request(req));
    close(fd);
    // link() fails with EEXIST instead of replacing a pending request.
    if (rc == 0 && linkat(dirfd, tmp.c_str(), dirfd, redrive_request_file(queue).c_str(), 0) != 0) rc = errno;
    unlinkat(dirfd, tmp.c_str(), 0);
    if (rc == EEXIST) *why = "a redrive or purge of queue " + queue + " is already pending";
    else if (rc != 0) *why = std::string("cannot write the request: ") + strerror(rc);
    return rc;
}

// A small regular file read whole: 0 or an errno value.
static int read_small(int dirfd, const std::string &file, std::string *text, std::string *why) {
    int fd = openat(dirfd, file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno;
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || size_t(st.st_size) > kMaxRequestBytes) {
        close(fd);
        *why = "not a regular file of at most 16 MiB";
        return EINVAL;
    }
    text->resize(size_t(st.st_size));
    ssize_t n = pread(fd, text->data(), text->size(), 0);
    close(fd);
    if (n != ssize_t(text->size())) {
        *why = "short read";
        return EIO;
    }
    return 0;
}

int read_redrive_request(int dirfd, const std::string &queue, RedriveRequest *out, std::string *why) {
    std::string text;
    if (int rc = read_small(dirfd, redrive_request_file(queue), &text, why); rc != 0) return rc;
    return parse_redrive_request(text, out, why);
}

int write_redrive_status(int dirfd, const std::string &queue, const RedriveStatus &st, std::string *why) {
    std::ostringstream s;
    s << "state " << st.state << "\nsent " << st.sent << "\nkept " << st.kept << "\nstarted " << st.started_s
      << "\nupdated " << st.updated_s << "\n";
    if (!st.to.empty()) s << "to " << st.to << "\n";
    if (!st.error.empty()) s << "error " << st.error << "\n";
    std::string file = redrive_status_file(queue), tmp = file + ".tmp";
    int fd = openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? errno : write_all(fd, s.str());
    if (fd >= 0) close(fd);
    if (rc == 0 && renameat(dirfd, tmp.c_str(), dirfd, file.c_str()) != 0) rc = errno;
    if (rc != 0) *why = "cannot write " + file + ": " + strerror(rc);
    return rc;
}

int read_redrive_status(int dirfd, const std::string &queue, RedriveStatus *out, std::string *why) {
    std::string text;
    if (int rc = read_small(dirfd, redrive_status_file(queue), &text, why); rc != 0) return rc;
    *out = RedriveStatus{};
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream in(line);
        std::string key;
        in >> key;
        if (key == "state") in >> out->state;
        else if (key == "sent") in >> out->sent;
        else if (key == "kept") in >> out->kept;
        else if (key == "started") in >> out->started_s;
        else if (key == "updated") in >> out->updated_s;
        else if (key == "to") in >> out->to;
        else if (key == "error") out->error = line.size() > 6 ? line.substr(6) : "";
    }
    if (out->state.empty()) {
        *why = redrive_status_file(queue) + ": no state";
        return EINVAL;
    }
    return 0;
}

void remove_redrive_request(int dirfd, const std::string &queue) {
    unlinkat(dirfd, redrive_request_file(queue).c_str(), 0);
}

bool redrive_request_pending(int dirfd, const std::string &queue) {
    struct stat st {};
    return fstatat(dirfd, redrive_request_file(queue).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

} // namespace shmqd
