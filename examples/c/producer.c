/* producer.c - send each line of stdin as one message.
 * Usage: producer QUEUE < lines   (creates QUEUE if missing) */
#define _POSIX_C_SOURCE 200809L
#include <shmq/shmq.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: producer QUEUE < lines\n");
        return 2;
    }
    shmq_queue *q;
    int rc = shmq_open(argv[1], NULL, &q);
    if (rc == SHMQ_ENOTFOUND) rc = shmq_create(argv[1], NULL, NULL, &q);
    if (rc != SHMQ_OK) {
        fprintf(stderr, "producer: %s: %s\n", argv[1], shmq_strerror(rc));
        return 1;
    }
    char line[1024];
    long n = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strcspn(line, "\n");
        rc = shmq_send(q, line, len, 5000000000LL); /* wait up to 5 s for room */
        if (rc != SHMQ_OK) {
            fprintf(stderr, "producer: send: %s\n", shmq_strerror(rc));
            break;
        }
        n++;
    }
    printf("producer: sent %ld messages to %s\n", n, argv[1]);
    shmq_close(q);
    return rc == SHMQ_OK ? 0 : 1;
}
