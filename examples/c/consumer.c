/* consumer.c - print and ack messages until none arrives for a second.
 * Usage: consumer QUEUE */
#include <shmq/shmq.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer QUEUE\n");
        return 2;
    }
    shmq_queue *q;
    int rc = shmq_open(argv[1], NULL, &q);
    if (rc != SHMQ_OK) {
        fprintf(stderr, "consumer: %s: %s\n", argv[1], shmq_strerror(rc));
        return 1;
    }
    shmq_msg m;
    long n = 0;
    while ((rc = shmq_recv(q, &m, 1000000000LL)) == SHMQ_OK) {
        printf("#%llu (attempt %u): %.*s\n", (unsigned long long)m.id, m.attempt, (int)m.len, (const char *)m.data);
        shmq_ack(q, &m);
        n++;
    }
    printf("consumer: %ld messages, then: %s\n", n, shmq_strerror(rc));
    shmq_close(q);
    return rc == SHMQ_ETIMEDOUT ? 0 : 1;
}
