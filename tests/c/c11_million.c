/* c11_million.c - a C11 program that includes only shmq.h and links through
 * pkg-config: one process sends a million messages while another receives
 * and acks them; every one arrives, none twice. */
#define _POSIX_C_SOURCE 200809L
#include <shmq/shmq.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 1000000u
#define PATIENCE (30 * 1000000000LL)

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "c11.%d", (int)getpid());
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = 8;
    shmq_queue *q = NULL;
    if (shmq_create(name, &p, NULL, &q) != SHMQ_OK) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        shmq_queue *pq = NULL;
        if (shmq_open(name, NULL, &pq) != SHMQ_OK) _exit(3);
        for (uint32_t i = 0; i < N; ++i)
            if (shmq_send(pq, &i, sizeof i, PATIENCE) != SHMQ_OK) _exit(4);
        shmq_close(pq);
        _exit(0);
    }
    unsigned char *seen = calloc(N, 1);
    uint32_t got = 0, dup = 0, bad = 0;
    shmq_msg m;
    while (got < N && shmq_recv(q, &m, PATIENCE) == SHMQ_OK) {
        uint32_t v;
        memcpy(&v, m.data, sizeof v);
        if (m.len != sizeof v || v >= N) bad++;
        else dup += seen[v]++ != 0;
        got++;
        if (shmq_ack(q, &m) != SHMQ_OK) bad++;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int extra = shmq_recv(q, &m, 0) != SHMQ_EEMPTY;
    shmq_close(q);
    shmq_unlink(name);
    free(seen);
    printf("c11_million: received %u, duplicates %u, bad %u, producer exit %d\n", got, dup, bad,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return got == N && dup == 0 && bad == 0 && !extra && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
