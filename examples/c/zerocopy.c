/* zerocopy.c - build a message in place in shared memory: reserve a slot,
 * write into it, commit. Nothing is copied on either side. */
#include <shmq/shmq.h>
#include <stdio.h>

int main(void) {
    shmq_queue *q;
    if (shmq_create("zerocopy.example", NULL, NULL, &q) != SHMQ_OK) return 1;
    shmq_reservation r;
    if (shmq_reserve(q, &r, SHMQ_FOREVER) == SHMQ_OK) {
        int len = snprintf(r.data, r.capacity, "{\"order\": %d, \"items\": %d}", 42, 3);
        shmq_commit(q, &r, (size_t)len); /* or shmq_abort(q, &r) to give the slot back */
    }
    shmq_msg m;
    if (shmq_recv(q, &m, 0) == SHMQ_OK) {
        printf("read in place: %.*s\n", (int)m.len, (const char *)m.data);
        shmq_ack(q, &m);
    }
    shmq_close(q);
    shmq_unlink("zerocopy.example");
    return 0;
}
