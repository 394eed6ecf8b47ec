/* batch.c - send and receive in batches: one wake-up for many messages. */
#include <shmq/shmq.h>
#include <stdio.h>

int main(void) {
    shmq_queue *q;
    if (shmq_create("batch.example", NULL, NULL, &q) != SHMQ_OK) return 1;
    shmq_iov out[3] = {{"resize a.png", 12}, {"resize b.png", 12}, {"resize c.png", 12}};
    size_t sent = 0;
    shmq_send_batch(q, out, 3, &sent, SHMQ_FOREVER);
    shmq_msg in[8];
    size_t got = 0;
    shmq_recv_batch(q, in, 8, &got, 0);
    for (size_t i = 0; i < got; ++i) {
        printf("%.*s\n", (int)in[i].len, (const char *)in[i].data);
        shmq_ack(q, &in[i]);
    }
    printf("sent %zu, received %zu\n", sent, got);
    shmq_close(q);
    shmq_unlink("batch.example");
    return sent == 3 && got == 3 ? 0 : 1;
}
