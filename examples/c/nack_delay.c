/* nack_delay.c - a failing job retried later: nack with a delay of your own,
 * or with -1 for the queue's capped exponential backoff with jitter. Past
 * max_attempts the message goes to the dead-letter state. */
#include <shmq/shmq.h>
#include <stdio.h>

int main(void) {
    shmq_params p;
    shmq_params_init(&p);
    p.max_attempts = 3;
    shmq_queue *q;
    if (shmq_create("nack.example", &p, NULL, &q) != SHMQ_OK) return 1;
    shmq_send(q, "flaky webhook", 13, 0);
    shmq_msg m;
    while (shmq_recv(q, &m, 2000000000LL) == SHMQ_OK) {
        printf("attempt %u of %u: failing, retry in 50 ms\n", m.attempt, p.max_attempts);
        shmq_nack(q, &m, 50000000LL);
    }
    shmq_stats s = {.struct_size = sizeof s};
    shmq_stats_get(q, &s);
    printf("dead letters waiting for shmqd: %llu\n", (unsigned long long)s.dead);
    shmq_close(q);
    shmq_unlink("nack.example");
    return s.dead == 1 ? 0 : 1;
}
