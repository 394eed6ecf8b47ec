/* c_loop.c - the C API's per-message cost, as the bindings' benchmarks
 * measure theirs: one process, one queue, a loop of send + recv + ack of a
 * small message; or, with "pair", 1 producer process -> 1 consumer process
 * (the producer forked and started before the clock, the consumer receiving
 * and acking each). Prints "c_api <msgs> <seconds> <msg/s>".
 * Usage: c_loop [messages] [payload bytes] [pair]   (SHMQ_DIR picks the directory) */
#define _POSIX_C_SOURCE 200809L
#include <shmq/shmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

/* The forked producer: open the queue, wait for the go byte, send n. */
static int produce(const char *name, int go_fd, long n, const char *payload, size_t len) {
    shmq_queue *q;
    char go;
    int rc = shmq_open(name, NULL, &q);
    if (rc != SHMQ_OK) return fail("producer open", rc);
    if (read(go_fd, &go, 1) != 1) return fail("producer go", SHMQ_ESYS);
    for (long i = 0; i < n && rc == SHMQ_OK; ++i) rc = shmq_send(q, payload, len, SHMQ_FOREVER);
    shmq_close(q);
    return rc == SHMQ_OK ? 0 : fail("send", rc);
}

/* 1 -> 1: returns the seconds from "go" to the last ack, or -1. */
static double pair(shmq_queue *q, const char *name, long n, const char *payload, size_t len) {
    int go[2];
    if (pipe(go) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) _exit(produce(name, go[0], n, payload, len));
    double t0 = now_s();
    int rc = write(go[1], "g", 1) == 1 ? SHMQ_OK : SHMQ_ESYS;
    shmq_msg m;
    for (long i = 0; i < n && rc == SHMQ_OK; ++i) {
        rc = shmq_recv(q, &m, SHMQ_FOREVER);
        if (rc == SHMQ_OK) rc = shmq_ack(q, &m);
    }
    double dt = now_s() - t0;
    int status = 0;
    waitpid(pid, &status, 0);
    if (rc != SHMQ_OK) fail("consumer", rc);
    return rc == SHMQ_OK && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? dt : -1;
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
    double t0 = now_s(), dt;
    if (argc > 3 && strcmp(argv[3], "pair") == 0) {
        dt = pair(q, name, n, payload, len);
        rc = dt < 0;
    } else {
        rc = run(q, n, payload, len);
        dt = now_s() - t0;
    }
    shmq_close(q);
    shmq_unlink(name);
    if (rc == 0) printf("c_api %ld %.6f %.0f\n", n, dt, (double)n / dt);
    return rc;
}
