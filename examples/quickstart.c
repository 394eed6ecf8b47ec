/* quickstart.c - the main job for now: one queue, a producer process and a
 * consumer process, a consumer killed with SIGKILL while holding a message,
 * a poison message rejected into the dead letters, and a summary of what
 * flowed. Uses only shmq.h (C11).
 *
 * Usage: quickstart [MESSAGES [QUEUE]]   (default 1000000; QUEUE: use an
 * existing queue, e.g. one shmqd made, instead of creating "quickstart") */
#define _POSIX_C_SOURCE 200809L
#include <shmq/shmq.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *QUEUE = "quickstart";
#define SECOND 1000000000LL

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static shmq_queue *open_or_die(void) {
    shmq_queue *q = NULL;
    int rc = shmq_open(QUEUE, NULL, &q);
    if (rc != SHMQ_OK) {
        fprintf(stderr, "quickstart: open %s: %s\n", QUEUE, shmq_strerror(rc));
        exit(1);
    }
    return q;
}

static int producer(long n) {
    shmq_queue *q = open_or_die();
    char buf[64];
    for (long i = 0; i < n; ++i) {
        int len = snprintf(buf, sizeof buf, "order.created #%ld", i);
        int rc = shmq_send(q, buf, (size_t)len, 10 * SECOND);
        if (rc != SHMQ_OK) {
            fprintf(stderr, "quickstart: send: %s\n", shmq_strerror(rc));
            return 1;
        }
    }
    shmq_close(q);
    return 0;
}

static int consumer(long n) {
    shmq_queue *q = open_or_die();
    long got = 0, out_of_order = 0, next = 0;
    shmq_msg m;
    while (got < n && shmq_recv(q, &m, 10 * SECOND) == SHMQ_OK) {
        long seq = strtol(strchr((const char *)m.data, '#') + 1, NULL, 10);
        out_of_order += seq != next;
        next = seq + 1;
        got++;
        shmq_ack(q, &m);
    }
    printf("consumer: %ld messages received and acked, %ld out of order\n", got, out_of_order);
    fflush(stdout);
    shmq_close(q);
    return got == n ? 0 : 1;
}

static pid_t spawn(int (*fn)(long), long n) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(fn(n));
    return pid;
}

static int wait_ok(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A consumer leases one message and is killed; recovery gives it back. */
static int crash_demo(shmq_queue *q) {
    shmq_send(q, "order.created #crash", 20, 0);
    int ready[2];
    if (pipe(ready) != 0) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        shmq_queue *c = open_or_die();
        shmq_msg held;
        if (shmq_recv(c, &held, SECOND) == SHMQ_OK && write(ready[1], "L", 1) == 1) pause();
        _exit(1);
    }
    char c;
    if (read(ready[0], &c, 1) != 1) return 0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    shmq_recovery r;
    shmq_recover(q, &r);
    shmq_msg m;
    int ok = shmq_recv(q, &m, SECOND) == SHMQ_OK;
    printf("crash:    consumer pid %d killed with SIGKILL holding a lease; recovery (%s) gave it back:\n"
           "          redelivered \"%.*s\" with attempt %u\n",
           (int)pid, r.leases_reclaimed > 0 ? "this process" : "shmqd", ok ? (int)m.len : 0,
           ok ? (const char *)m.data : "", ok ? m.attempt : 0);
    if (ok) shmq_ack(q, &m);
    return ok && m.attempt == 2;
}

/* A message the consumer cannot handle: rejected, so it becomes a dead
 * letter (which shmqd, if it runs, writes to its dead-letter store). */
static int poison_demo(shmq_queue *q) {
    shmq_send(q, "order.created #poison {broken json", 34, 0);
    shmq_msg m;
    if (shmq_recv(q, &m, SECOND) != SHMQ_OK) return 0;
    printf("poison:   \"%.*s\" rejected -> dead letter id %llu\n", (int)m.len, (const char *)m.data,
           (unsigned long long)m.id);
    return shmq_reject(q, &m) == SHMQ_OK;
}

static shmq_queue *make_queue(int own) {
    shmq_queue *q = NULL;
    int rc;
    if (own) {
        shmq_unlink(QUEUE); /* a leftover from an earlier run */
        shmq_params p;
        shmq_params_init(&p);
        p.slot_size = 64;
        p.slot_count = 4096;
        rc = shmq_create(QUEUE, &p, NULL, &q);
    } else {
        rc = shmq_open(QUEUE, NULL, &q);
    }
    if (rc != SHMQ_OK) {
        fprintf(stderr, "quickstart: %s %s: %s\n", own ? "create" : "open", QUEUE, shmq_strerror(rc));
        exit(1);
    }
    return q;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int own = argc <= 2;
    if (!own) QUEUE = argv[2];
    shmq_queue *q = make_queue(own);
    shmq_params p;
    shmq_get_params(q, &p);
    const char *dir = getenv("SHMQ_DIR");
    printf("queue:    %s/shmq.%s, %u slots of %u bytes (shmq %d)\n", dir ? dir : "/dev/shm", QUEUE, p.slot_count,
           p.slot_size, (int)shmq_version());
    double t0 = now_s();
    pid_t c = spawn(consumer, n), pr = spawn(producer, n);
    int ok = wait_ok(pr) & wait_ok(c);
    double dt = now_s() - t0;
    ok &= crash_demo(q);
    ok &= poison_demo(q);
    shmq_stats s = {.struct_size = sizeof s};
    shmq_stats_get(q, &s);
    printf("flowed:   %ld messages in %.2f s (%.2f M msg/s, each sent, leased and acked across processes)\n", n,
           dt, n / dt / 1e6);
    printf("stats:    enqueued %llu, delivered %llu, acked %llu, redelivered %llu, reclaimed %llu, dead-lettered %llu\n",
           (unsigned long long)s.enqueued, (unsigned long long)s.delivered, (unsigned long long)s.acked,
           (unsigned long long)s.redelivered, (unsigned long long)s.reclaimed, (unsigned long long)s.dead_lettered);
    shmq_close(q);
    if (own) shmq_unlink(QUEUE);
    printf("%s\n", ok ? "result:   OK, nothing lost" : "result:   FAILED");
    return ok ? 0 : 1;
}
