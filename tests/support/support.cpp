// support.cpp - test helpers (support.hpp).
#include "support.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace testing {

int64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string unique_name(const char *tag) {
    static std::atomic<int> n{0};
    return std::string("t.") + tag + "." + std::to_string(getpid()) + "." + std::to_string(n++);
}

shmq_params small_params(uint32_t slots, uint32_t slot_size) {
    shmq_params p;
    shmq_params_init(&p);
    p.slot_count = slots;
    p.slot_size = slot_size;
    p.max_clients = 16;
    p.backoff_base_ms = 0; // retries due at once unless a test says otherwise
    p.backoff_cap_ms = 0;
    return p;
}

TestQueue::TestQueue(const char *tag, shmq_params p, const shmq_options *o) : name(unique_name(tag)) {
    shmq_options opts;
    shmq_options_init(&opts);
    opts.prefetch = 0;
    opts.spin_ns = 0;
    int rc = shmq_create(name.c_str(), &p, o != nullptr ? o : &opts, &q);
    if (rc != SHMQ_OK) throw std::runtime_error(std::string("shmq_create: ") + shmq_strerror(rc));
}

TestQueue::~TestQueue() {
    shmq_close(q);
    shmq_unlink(name.c_str());
}

shmq_queue *open_queue(const std::string &name, uint32_t prefetch) {
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = prefetch;
    o.spin_ns = 0;
    shmq_queue *q = nullptr;
    return shmq_open(name.c_str(), &o, &q) == SHMQ_OK ? q : nullptr;
}

pid_t spawn(const std::function<int()> &body) {
    fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int code = 99;
        try {
            code = body();
        } catch (...) {
            code = 98;
        }
        _exit(code);
    }
    return pid;
}

int wait_child(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1000;
}

Pipe::Pipe() {
    if (pipe(fd) != 0) throw std::runtime_error("pipe failed");
}
Pipe::~Pipe() {
    close_read();
    close_write();
}
void Pipe::put(const void *p, size_t n) {
    const char *c = static_cast<const char *>(p);
    while (n > 0) {
        ssize_t w = write(fd[1], c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw std::runtime_error("pipe write failed");
        c += w;
        n -= size_t(w);
    }
}
bool Pipe::get(void *p, size_t n) {
    char *c = static_cast<char *>(p);
    while (n > 0) {
        ssize_t r = read(fd[0], c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        c += r;
        n -= size_t(r);
    }
    return true;
}
void Pipe::close_read() {
    if (fd[0] >= 0) close(fd[0]);
    fd[0] = -1;
}
void Pipe::close_write() {
    if (fd[1] >= 0) close(fd[1]);
    fd[1] = -1;
}

int send_keyed(shmq_queue *q, const char *data, const char *key, uint64_t *id, uint8_t *dup) {
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.dedup_key = key;
    o.dedup_key_len = std::strlen(key);
    o.duplicate_out = dup;
    return shmq_send_ex(q, data, std::strlen(data), &o, id, 10 * 1000000000LL);
}

bool send_keyed_in_child(const std::string &queue, const char *key, uint64_t *id, uint8_t *dup) {
    Pipe out;
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(queue);
        uint64_t got[2] = {0, 9};
        uint8_t d = 9;
        if (q == nullptr || send_keyed(q, "retry", key, &got[0], &d) != SHMQ_OK) return 90;
        got[1] = d;
        out.put(got, sizeof got);
        shmq_close(q);
        return 0;
    });
    uint64_t got[2] = {};
    bool ok = out.get(got, sizeof got);
    ok = wait_child(pid) == 0 && ok;
    *id = got[0];
    *dup = uint8_t(got[1]);
    return ok;
}

} // namespace testing
