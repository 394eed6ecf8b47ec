/* abi_dump.c - prints the size and field offsets of every shmq.h struct the
 * Python binding mirrors with ctypes, one "struct field offset" per line
 * ("struct - size" for sizes), for test_abi.py to compare. */
#include <shmq/shmq.h>
#include <stddef.h>
#include <stdio.h>

#define SIZE(s) printf("%s - %zu\n", #s, sizeof(s))
#define FIELD(s, f) printf("%s %s %zu\n", #s, #f, offsetof(s, f))

static void params(void) {
    SIZE(shmq_params);
    FIELD(shmq_params, slot_size);
    FIELD(shmq_params, mode);
    SIZE(shmq_options);
    FIELD(shmq_options, spin_ns);
    SIZE(shmq_iov);
    FIELD(shmq_iov, len);
}

static void messages(void) {
    SIZE(shmq_msg);
    FIELD(shmq_msg, len);
    FIELD(shmq_msg, id);
    FIELD(shmq_msg, attempt);
    FIELD(shmq_msg, lease_ms);
    FIELD(shmq_msg, enqueued_ns);
    FIELD(shmq_msg, receipt);
}

static void stats(void) {
    SIZE(shmq_client_stats);
    FIELD(shmq_client_stats, alive);
    FIELD(shmq_client_stats, sent);
    FIELD(shmq_client_stats, attached_ns);
    SIZE(shmq_stats);
    FIELD(shmq_stats, free);
    FIELD(shmq_stats, oldest_ready_age_ns);
    FIELD(shmq_stats, enqueued);
    FIELD(shmq_stats, dead_lettered);
    FIELD(shmq_stats, clients);
    FIELD(shmq_stats, daemon_heartbeat_age_ns);
    FIELD(shmq_stats, client);
    FIELD(shmq_stats, client_cap);
    FIELD(shmq_stats, spilled);
    SIZE(shmq_recovery);
    FIELD(shmq_recovery, republished);
}

int main(void) {
    params();
    messages();
    stats();
    return 0;
}
