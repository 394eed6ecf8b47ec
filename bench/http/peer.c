/* peer.c - the HTTP benchmark's helper on the C side of a queue:
 *   shmq_http_peer drain QUEUE        receive and ack (batches of 64) until
 *                                     SIGTERM/SIGINT; prints "drained N"
 *   shmq_http_peer send QUEUE N SIZE  send N messages of SIZE bytes as fast as
 *                                     the queue takes them (a drain runs beside
 *                                     it); prints "sent N SECONDS MSG_PER_S"
 * The queue exists already (shmqd made it); SHMQ_DIR picks the directory. */
#define _POSIX_C_SOURCE 200809L
#include <shmq/shmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "shmq_http_peer: %s: %s\n", what, shmq_strerror(rc));
    return 1;
}

static int drain(shmq_queue *q) {
    shmq_msg m[64];
    unsigned long long total = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!stop) {
        size_t n = 0;
        int rc = shmq_recv_batch(q, m, 64, &n, 100000000); /* 100 ms: notices the signal */
        if (n > 0) rc = shmq_ack_batch(q, m, n, NULL);
        if (rc != SHMQ_OK && rc != SHMQ_ETIMEDOUT && rc != SHMQ_EEMPTY && rc != SHMQ_EINTR)
            return fail("drain", rc);
        total += n;
    }
    printf("drained %llu\n", total);
    return 0;
}

static int send_n(shmq_queue *q, long n, size_t size) {
    char payload[65536];
    if (n <= 0 || size == 0 || size > sizeof payload) return fail("arguments", SHMQ_EINVAL);
    memset(payload, 'x', size);
    double t0 = now_s();
    for (long i = 0; i < n; ++i) {
        int rc = shmq_send(q, payload, size, SHMQ_FOREVER);
        if (rc != SHMQ_OK) return fail("send", rc);
    }
    double dt = now_s() - t0;
    printf("sent %ld %.6f %.0f\n", n, dt, (double)n / dt);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "drain") != 0 && (strcmp(argv[1], "send") != 0 || argc != 5))) {
        fprintf(stderr, "usage: shmq_http_peer drain QUEUE | send QUEUE N SIZE\n");
        return 2;
    }
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    shmq_queue *q;
    int rc = shmq_open(argv[2], &o, &q);
    if (rc != SHMQ_OK) return fail(argv[2], rc);
    rc = argv[1][0] == 'd' ? drain(q) : send_n(q, atol(argv[3]), (size_t)atol(argv[4]));
    shmq_close(q);
    return rc;
}
