// fuzz_segment.cpp - libFuzzer target: a hostile segment must never crash or
// hang the process that opens it. The input becomes a segment file; if it
// validates, every operation is run on it once, without waiting.
#include "shmq/shmq.h"

#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>

// $SHMQ_DIR when set (scripts/fuzz.sh gives a private one and removes it),
// else a new directory of our own.
static std::string dir() {
    static std::string d = [] {
        if (const char *given = getenv("SHMQ_DIR"); given != nullptr && *given != 0) return std::string(given);
        char tmpl[] = "/dev/shm/shmq-fuzz-XXXXXX";
        const char *made = mkdtemp(tmpl);
        setenv("SHMQ_DIR", made != nullptr ? made : "/tmp", 1);
        return std::string(made != nullptr ? made : "/tmp");
    }();
    return d;
}

static void exercise(shmq_queue *q) {
    shmq_msg m;
    shmq_send(q, "fuzz", 4, 0);
    for (int i = 0; i < 4 && shmq_recv(q, &m, 0) == SHMQ_OK; ++i) {
        if (i == 0) shmq_ack(q, &m);
        else if (i == 1) shmq_nack(q, &m, 0);
        else shmq_reject(q, &m);
    }
    shmq_reservation r;
    if (shmq_reserve(q, &r, 0) == SHMQ_OK) shmq_abort(q, &r);
    shmq_recovery rep;
    shmq_recover(q, &rep);
    shmq_client_stats cs[4];
    shmq_stats s{};
    s.struct_size = sizeof s;
    s.client = cs;
    s.client_cap = 4;
    shmq_stats_get(q, &s);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string path = dir() + "/shmq.fuzz";
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 0;
    bool ok = write(fd, data, size) == ssize_t(size);
    close(fd);
    shmq_queue *q = nullptr;
    if (ok && shmq_open("fuzz", nullptr, &q) == SHMQ_OK) {
        exercise(q);
        shmq_close(q);
    }
    unlink(path.c_str());
    return 0;
}
