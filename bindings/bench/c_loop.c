/* c_loop.c - the C API's per-message cost, as the bindings' benchmarks
 * measure theirs: one process, one queue, a loop of send + recv + ack of a
 * small message. Prints "c_api <msgs> <seconds> <msg/s>".
 * Usage: c_loop [messages] [payload bytes]   (SHMQ_DIR picks the directory) */
#define _POSIX_C_SOURCE 200809L
#include <shmq/shmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "c_loop: %s: %s\n", what, shmq_strerror(rc));
    return 1;
}

static int run(shmq_queue *q, long n, const char *payload, size_t len) {
    shmq_msg m;
    for (long i = 0; i < n; ++i) {
        int rc = shmq_send(q, payload, len, SHMQ_FOREVER);
        if (rc == SHMQ_OK) rc = shmq_recv(q, &m, SHMQ_FOREVER);
        if (rc == SHMQ_OK) rc = shmq_ack(q, &m);
        if (rc != SHMQ_OK) return fail("loop", rc);
    }
    return 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    size_t len = argc > 2 ? (size_t)atol(argv[2]) : 16;
    char name[64], payload[1024];
    if (n <= 0 || len > sizeof payload) return fail("arguments", SHMQ_EINVAL);
    memset(payload, 'x', len);
    snprintf(name, sizeof name, "bench.c_loop.%d", (int)getpid());
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = 1024;
    shmq_queue *q;
    int rc = shmq_create(name, &p, NULL, &q);
    if (rc != SHMQ_OK) return fail("create", rc);
    run(q, n / 10 + 1, payload, len); /* warm up: page in the slots */
    double t0 = now_s();
    rc = run(q, n, payload, len);
    double dt = now_s() - t0;
    shmq_close(q);
    shmq_unlink(name);
    if (rc == 0) printf("c_api %ld %.6f %.0f\n", n, dt, (double)n / dt);
    return rc;
}
