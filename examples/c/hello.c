/* hello.c - the README's example: send one message, lease it, ack it. */
#include <shmq/shmq.h>
#include <stdio.h>

int main(void) {
    shmq_queue *q;
    int rc = shmq_create("hello", NULL, NULL, &q); /* 0600, 1024 slots of 1 KiB */
    if (rc == SHMQ_EEXIST) rc = shmq_open("hello", NULL, &q);
    if (rc != SHMQ_OK) {
        fprintf(stderr, "hello: %s\n", shmq_strerror(rc));
        return 1;
    }
    shmq_send(q, "order.created 42", 16, SHMQ_FOREVER); /* survives this process */
    shmq_msg m;
    if (shmq_recv(q, &m, 1000000000) == SHMQ_OK) {       /* lease, wait up to 1 s */
        printf("id %llu attempt %u: %.*s\n", (unsigned long long)m.id, m.attempt, (int)m.len,
               (const char *)m.data);
        shmq_ack(q, &m);                                   /* or shmq_nack(q, &m, -1) */
    }
    shmq_close(q);
    shmq_unlink("hello");
    return 0;
}
