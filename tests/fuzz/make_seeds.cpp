// make_seeds.cpp - writes the seed corpus of fuzz_segment: small valid
// segments, empty and with messages in several states.
#include "shmq/shmq.h"

#include <cstdio>
#include <cstdlib>
#include <string>

static void copy(const std::string &from, const std::string &to) {
    std::string cmd = "cp '" + from + "' '" + to + "'";
    if (system(cmd.c_str()) != 0) exit(1);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    setenv("SHMQ_DIR", "/tmp", 1);
    shmq_params p;
    shmq_params_init(&p);
    p.slot_count = 4;
    p.slot_size = 16;
    p.max_clients = 2;
    shmq_unlink("seed");
    shmq_queue *q = nullptr;
    if (shmq_create("seed", &p, nullptr, &q) != SHMQ_OK) return 1;
    copy("/tmp/shmq.seed", std::string(argv[1]) + "/empty.bin");
    shmq_send(q, "one", 3, 0);
    shmq_send(q, "two", 3, 0);
    shmq_send(q, "three", 5, 0);
    shmq_msg m;
    shmq_recv(q, &m, 0);
    shmq_recv(q, &m, 0);
    shmq_nack(q, &m, 60000000000LL);
    copy("/tmp/shmq.seed", std::string(argv[1]) + "/busy.bin");
    shmq_close(q);
    shmq_unlink("seed");
    return 0;
}
