/* Observing a queue (stats, qsize, recovery) and the readiness fd with the
 * uses (_enter/_leave) that keep it open while asyncio watches it. */
#include "core.h"

static PyObject *client_dict(const shmq_client_stats *c) {
    return Py_BuildValue("{s:i,s:I,s:I,s:I,s:i,s:I,s:K,s:K,s:K,s:K,s:K,s:L}", "pid", c->pid,
                         "role", c->role, "prefetch", c->prefetch, "leased", c->leased, "alive",
                         c->alive, "sleeping", c->sleeping, "sent", c->sent, "delivered",
                         c->delivered, "acked", c->acked, "nacked", c->nacked, "rejected",
                         c->rejected, "attached_ns", c->attached_ns);
}

static PyObject *stats_dict(const shmq_stats *s) {
    PyObject *clients = PyList_New(0);
    for (size_t i = 0; clients && i < s->clients && i < s->client_cap; i++) {
        PyObject *c = client_dict(&s->client[i]);
        if (c == NULL || PyList_Append(clients, c) < 0) Py_CLEAR(clients);
        Py_XDECREF(c);
    }
    if (clients == NULL) return NULL;
    return Py_BuildValue(
        "{s:I,s:K,s:K,s:K,s:K,s:K,s:K,s:L,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:I,s:L,s:K,s:K,"
        "s:I,s:I,s:K,s:K,s:L,s:L,s:i,s:K,s:N}",
        "slot_count", s->slot_count, "free", s->free, "writing", s->writing, "ready", s->ready,
        "leased", s->leased, "delayed", s->delayed, "dead", s->dead, "oldest_ready_age_ns",
        s->oldest_ready_age_ns, "enqueued", s->enqueued, "delivered", s->delivered, "acked",
        s->acked, "nacked", s->nacked, "rejected", s->rejected, "redelivered", s->redelivered,
        "reclaimed", s->reclaimed, "dead_lettered", s->dead_lettered, "clients", s->clients,
        "clients_max", s->clients_max, "daemon_heartbeat_age_ns", s->daemon_heartbeat_age_ns,
        "spilled", s->spilled, "expired", s->expired, "durability", s->durability, "not_durable",
        s->not_durable, "quarantined", s->quarantined, "flushes", s->flushes, "last_flush_ns",
        s->last_flush_ns, "last_flush_duration_ns", s->last_flush_duration_ns, "flush_error",
        (int)s->flush_error, "durable_lag", s->durable_lag, "client", clients);
}

static int get_stats(QueueObject *self, shmq_stats *s, shmq_client_stats *clients, size_t cap) {
    shmq_queue *q = core_queue_handle(self);
    if (q == NULL) return -1;
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    s->client = clients;
    s->client_cap = cap;
    int rc = shmq_stats_get(q, s);
    if (rc != SHMQ_OK) core_raise_code(rc, self);
    return rc == SHMQ_OK ? 0 : -1;
}

PyObject *core_queue_stats(QueueObject *self, PyObject *cap_arg) {
    size_t cap = PyLong_AsSize_t(cap_arg);
    if (cap == (size_t)-1 && PyErr_Occurred()) return NULL;
    shmq_client_stats *clients = PyMem_Calloc(cap ? cap : 1, sizeof *clients);
    if (clients == NULL) return PyErr_NoMemory();
    shmq_stats s;
    PyObject *r = get_stats(self, &s, clients, cap) < 0 ? NULL : stats_dict(&s);
    PyMem_Free(clients);
    return r;
}

/* Messages ready now (shmq_stats.ready). */
PyObject *core_queue_qsize(QueueObject *self, PyObject *unused) {
    (void)unused;
    shmq_stats s;
    if (get_stats(self, &s, NULL, 0) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(s.ready);
}

PyObject *core_queue_recover(QueueObject *self, PyObject *unused) {
    (void)unused;
    shmq_queue *q = core_queue_handle(self);
    if (q == NULL) return NULL;
    shmq_recovery r = {0};
    int rc;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    rc = shmq_recover(q, &r);
    Py_END_ALLOW_THREADS
    core_queue_release(self);
    if (rc != SHMQ_OK) return core_raise_code(rc, self);
    return Py_BuildValue("{s:I,s:I,s:I,s:I,s:I,s:I}", "dead_clients", r.dead_clients,
                         "leases_reclaimed", r.leases_reclaimed, "writes_reclaimed",
                         r.writes_reclaimed, "delayed_promoted", r.delayed_promoted,
                         "dead_lettered", r.dead_lettered, "republished", r.republished);
}

/* The readiness fd; the caller holds a use (_enter) while it watches it. */
PyObject *core_queue_ready_fd(QueueObject *self, PyObject *unused) {
    (void)unused;
    shmq_queue *q = core_queue_handle(self);
    int fd = -1;
    int rc = q ? shmq_ready_fd(q, &fd) : -1;
    if (rc != SHMQ_OK) return rc < 0 ? NULL : core_raise_code(rc, self);
    return PyLong_FromLong(fd);
}

PyObject *core_queue_enter(QueueObject *self, PyObject *unused) {
    (void)unused;
    if (core_queue_handle(self) == NULL) return NULL;
    self->busy++;
    Py_RETURN_NONE;
}

PyObject *core_queue_leave(QueueObject *self, PyObject *unused) {
    (void)unused;
    if (self->busy > 0) core_queue_release(self);
    Py_RETURN_NONE;
}


/* sync(timeout=None): wait until everything sent before the call is on disk
 * (a DISK queue; a MEMORY one returns at once). Releases the GIL: it waits
 * for a flush, which takes the disk's time. */
PyObject *core_queue_sync(QueueObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    int64_t ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:sync", names, &timeout) || core_timeout_ns(timeout, &ns) < 0)
        return NULL;
    shmq_queue *q = core_queue_handle(self);
    if (q == NULL) return NULL;
    int rc;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    rc = shmq_sync(q, ns);
    Py_END_ALLOW_THREADS
    core_queue_release(self);
    if (rc != SHMQ_OK) return core_raise_code(rc, self);
    Py_RETURN_NONE;
}

/* flush(): write a DISK queue back to its file now (shmqd does it every flush_ms). */
PyObject *core_queue_flush(QueueObject *self, PyObject *unused) {
    (void)unused;
    shmq_queue *q = core_queue_handle(self);
    if (q == NULL) return NULL;
    int rc;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    rc = shmq_flush(q);
    Py_END_ALLOW_THREADS
    core_queue_release(self);
    if (rc != SHMQ_OK) return core_raise_code(rc, self);
    Py_RETURN_NONE;
}
