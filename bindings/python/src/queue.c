/* shmq._core.Queue: one shmq_queue handle and the calls that send and
 * receive on it. Calls that may wait try once with timeout 0 holding the GIL;
 * only if that would wait do they release it, in slices of at most 100 ms
 * (run_op). close() only withdraws the handle: whoever drops the last use
 * (a waiting call, an async waiter, a zero-copy buffer) detaches. */
#include "core.h"

#include <time.h>

#define SLICE_NS 100000000LL
#define BATCH 256

PyObject *core_queue_type;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- life ---------------------------------------------------------------- */

static void maybe_detach(QueueObject *self) {
    if (self->closing != NULL && self->busy == 0) {
        shmq_queue *q = self->closing;
        self->closing = NULL;
        shmq_close(q);
    }
}

void core_queue_release(QueueObject *self) {
    self->busy--;
    maybe_detach(self);
}

static int attach(QueueObject *self, shmq_queue *q) {
    shmq_params p;
    shmq_params_init(&p);
    int rc = shmq_get_params(q, &p);
    if (rc != SHMQ_OK) {
        shmq_close(q);
        core_raise_code(rc, self);
        return -1;
    }
    self->q = q;
    self->slot_size = p.slot_size;
    self->overflow = p.overflow;
    self->fork_generation = core_fork_generation;
    return 0;
}

/* In a child forked after attach the handle's client record is the parent's:
 * never close it here; open the queue again by name instead. */
static int reopen_after_fork(QueueObject *self) {
    self->fork_generation = core_fork_generation;
    self->busy = 0; /* the parent's waiting threads do not exist here */
    self->closing = NULL;
    if (self->q == NULL) return 0; /* it was closed in the parent */
    self->q = NULL;
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = self->prefetch;
    o.spin_ns = self->spin_ns;
    shmq_queue *q = NULL;
    int rc = shmq_open(PyUnicode_AsUTF8AndSize(self->name, NULL), &o, &q);
    if (rc != SHMQ_OK) {
        core_raise_code(rc, self);
        return -1;
    }
    return attach(self, q);
}

shmq_queue *core_queue_handle(QueueObject *self) {
    if (self->fork_generation != core_fork_generation && reopen_after_fork(self) < 0)
        return NULL;
    if (self->q == NULL) {
        if (self->name == NULL)
            core_raise(SHMQ_ECLOSED, self, "queue handle was never opened");
        else
            core_raise(SHMQ_ECLOSED, self, "queue handle of '%U' is closed", self->name);
    }
    return self->q;
}

/* The name as a C string, refusing what libshmq would refuse or cut short. */
static const char *c_name(PyObject *name) {
    Py_ssize_t n;
    const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &n) : NULL;
    if (s == NULL) {
        if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "queue name must be str");
        return NULL;
    }
    if ((Py_ssize_t)strlen(s) != n || shmq_name_check(s) != SHMQ_OK) {
        core_raise(SHMQ_EBADNAME, NULL, "bad queue name %R: names are 1-64 of "
                   "[A-Za-z0-9._-], not only dots", name);
        return NULL;
    }
    return s;
}

static int set_name(QueueObject *self, PyObject *name, uint32_t prefetch, uint32_t spin_ns) {
    if (self->q != NULL || self->closing != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "queue handle is already attached");
        return -1;
    }
    Py_INCREF(name);
    Py_XDECREF(self->name);
    self->name = name;
    self->prefetch = prefetch;
    self->spin_ns = spin_ns;
    return 0;
}

static PyObject *queue_open(QueueObject *self, PyObject *args) {
    PyObject *name;
    unsigned int prefetch, spin_ns;
    if (!PyArg_ParseTuple(args, "UII", &name, &prefetch, &spin_ns)) return NULL;
    const char *s = c_name(name);
    if (s == NULL || set_name(self, name, prefetch, spin_ns) < 0) return NULL;
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = prefetch;
    o.spin_ns = spin_ns;
    shmq_queue *q = NULL;
    int rc = shmq_open(s, &o, &q);
    if (rc != SHMQ_OK) return core_raise_code(rc, self);
    if (attach(self, q) < 0) return NULL;
    Py_RETURN_NONE;
}

static const char *const param_names[] = {"slot_size", "slot_count", "max_clients", "lease_ms",
    "max_attempts", "backoff_base_ms", "backoff_cap_ms", "jitter", "overflow", "mode", NULL};

static uint32_t *param_field(shmq_params *p, int i) {
    uint32_t *f[] = {&p->slot_size, &p->slot_count, &p->max_clients, &p->lease_ms,
                     &p->max_attempts, &p->backoff_base_ms, &p->backoff_cap_ms, &p->jitter,
                     &p->overflow, &p->mode};
    return f[i];
}

static PyObject *params_dict(const shmq_params *p) {
    PyObject *d = PyDict_New();
    for (int i = 0; d && param_names[i]; i++) {
        PyObject *v = PyLong_FromUnsignedLong(*param_field((shmq_params *)p, i));
        if (v == NULL || PyDict_SetItemString(d, param_names[i], v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

/* Module function: libshmq's default parameters as a dict. */
PyObject *core_default_params(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    shmq_params p;
    shmq_params_init(&p);
    return params_dict(&p);
}

static int params_from(PyObject *dict, shmq_params *p) {
    shmq_params_init(p);
    for (int i = 0; param_names[i]; i++) {
        PyObject *v = PyDict_GetItemString(dict, param_names[i]);
        if (v == NULL) continue;
        unsigned long x = PyLong_AsUnsignedLong(v);
        if (PyErr_Occurred() || x > 0xFFFFFFFFul) {
            PyErr_Clear();
            core_raise(SHMQ_EINVAL, NULL, "%s out of range: %R", param_names[i], v);
            return -1;
        }
        *param_field(p, i) = (uint32_t)x;
    }
    return 0;
}

static PyObject *queue_create(QueueObject *self, PyObject *args) {
    PyObject *name, *dict;
    unsigned int prefetch, spin_ns;
    shmq_params p;
    if (!PyArg_ParseTuple(args, "UO!II", &name, &PyDict_Type, &dict, &prefetch, &spin_ns))
        return NULL;
    const char *s = c_name(name);
    if (s == NULL || params_from(dict, &p) < 0 || set_name(self, name, prefetch, spin_ns) < 0)
        return NULL;
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = prefetch;
    o.spin_ns = spin_ns;
    shmq_queue *q = NULL;
    int rc = shmq_create(s, &p, &o, &q);
    if (rc != SHMQ_OK) return core_raise_code(rc, self);
    if (attach(self, q) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *queue_close(QueueObject *self, PyObject *unused) {
    (void)unused;
    if (self->fork_generation != core_fork_generation) {
        self->q = self->closing = NULL; /* the parent's record: not ours to detach */
        Py_RETURN_NONE;
    }
    if (self->q != NULL) {
        self->closing = self->q;
        self->q = NULL;
        maybe_detach(self);
    }
    Py_RETURN_NONE;
}

static void queue_dealloc(PyObject *op) {
    QueueObject *self = (QueueObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    if (self->fork_generation == core_fork_generation) {
        if (self->q) shmq_close(self->q);
        if (self->closing) shmq_close(self->closing); /* nothing can use it any more */
    }
    Py_XDECREF(self->name);
    freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    tp_free(op);
    Py_DECREF(tp);
}

/* ---- waiting ------------------------------------------------------------- */

typedef int (*op_fn)(shmq_queue *q, void *ctx, int64_t timeout_ns);

/* op(q, ctx, 0) holding the GIL; if it returned `wait_rc` and `timeout`
 * allows, op(q, ctx, slice) without the GIL until it stops timing out.
 * Returns op's code, or -1 with an exception set. */
static int run_op(QueueObject *self, op_fn op, void *ctx, int64_t timeout, int wait_rc) {
    shmq_queue *q = core_queue_handle(self);
    if (q == NULL) return -1;
    int rc = op(q, ctx, 0);
    if (rc != wait_rc || timeout == 0) return rc;
    int64_t deadline = timeout < 0 ? 0 : now_ns() + timeout;
    for (;;) {
        int64_t slice = SLICE_NS;
        if (timeout > 0) {
            int64_t left = deadline - now_ns();
            if (left <= 0) return SHMQ_ETIMEDOUT;
            if (left < slice) slice = left;
        }
        self->busy++;
        Py_BEGIN_ALLOW_THREADS
        rc = op(q, ctx, slice);
        Py_END_ALLOW_THREADS
        self->busy--;
        if (self->q != q) { /* closed meanwhile: the last one out detaches */
            maybe_detach(self);
            core_queue_handle(self);
            return -1;
        }
        if (rc != SHMQ_ETIMEDOUT) return rc;
        if (PyErr_CheckSignals() < 0) return -1;
    }
}

static int send_wait_rc(QueueObject *self) {
    return self->overflow == SHMQ_OVERFLOW_FAIL ? -2 : SHMQ_EFULL;
}

/* ---- sending ------------------------------------------------------------- */

typedef struct {
    const void *data;
    size_t len;
} send_ctx;

static int send_op(shmq_queue *q, void *ctx, int64_t ns) {
    send_ctx *c = ctx;
    return shmq_send(q, c->data, c->len, ns);
}

static PyObject *raise_send(QueueObject *self, int rc, size_t len) {
    if (rc == SHMQ_ETOOBIG)
        return core_raise(rc, self, "message of %zu bytes larger than slot size %u of queue '%U'",
                          len, self->slot_size, self->name);
    return core_raise_code(rc, self);
}

static PyObject *queue_send(QueueObject *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames) {
    static const char *const names[] = {"data", "timeout", NULL};
    PyObject *a[2];
    int64_t timeout;
    if (core_kwargs(args, nargs, kwnames, names, 2, 1, a) < 0 || core_timeout_ns(a[1], &timeout) < 0)
        return NULL;
    send_ctx c;
    Py_buffer view = {0};
    int rc;
    if (PyBytes_CheckExact(a[0])) {
        char *p;
        Py_ssize_t n;
        PyBytes_AsStringAndSize(a[0], &p, &n);
        c.data = p;
        c.len = (size_t)n;
        rc = run_op(self, send_op, &c, timeout, send_wait_rc(self));
    } else {
        if (PyObject_GetBuffer(a[0], &view, PyBUF_SIMPLE) < 0) return NULL;
        c.data = view.buf;
        c.len = (size_t)view.len;
        rc = run_op(self, send_op, &c, timeout, send_wait_rc(self));
        PyBuffer_Release(&view);
    }
    /* When libshmq's send returns the message id, returning it is this line. */
    if (rc == SHMQ_OK) Py_RETURN_NONE;
    return rc < 0 ? NULL : raise_send(self, rc, c.len);
}

typedef struct {
    shmq_iov iov[BATCH];
    Py_buffer views[BATCH];
    size_t n, done;
} batch_ctx;

static int send_batch_op(shmq_queue *q, void *ctx, int64_t ns) {
    batch_ctx *c = ctx;
    size_t sent = 0;
    int rc = shmq_send_batch(q, c->iov + c->done, c->n - c->done, &sent, ns);
    c->done += sent;
    return rc;
}

static void release_views(batch_ctx *c) {
    for (size_t i = 0; i < c->n; i++) PyBuffer_Release(&c->views[i]);
    c->n = 0;
}

/* Up to BATCH buffers from the iterator; 0 at its end, -1 on error. */
static int fill_batch(PyObject *it, batch_ctx *c) {
    c->n = c->done = 0;
    while (c->n < BATCH) {
        PyObject *item = PyIter_Next(it);
        if (item == NULL) return PyErr_Occurred() ? -1 : 0;
        Py_buffer *v = &c->views[c->n];
        int rc = PyObject_GetBuffer(item, v, PyBUF_SIMPLE);
        Py_DECREF(item); /* the buffer export keeps the object alive */
        if (rc < 0) return -1;
        c->iov[c->n].data = v->buf;
        c->iov[c->n].len = (size_t)v->len;
        c->n++;
    }
    return 0;
}

static void set_sent(size_t sent) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    PyObject *n = PyLong_FromSize_t(sent);
    if (v && n && PyObject_SetAttrString(v, "sent", n) < 0) PyErr_Clear();
    Py_XDECREF(n);
    PyErr_Restore(t, v, tb);
}

static PyObject *queue_send_many(QueueObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames) {
    static const char *const names[] = {"messages", "timeout", NULL};
    PyObject *a[2];
    int64_t timeout;
    if (core_kwargs(args, nargs, kwnames, names, 2, 1, a) < 0 || core_timeout_ns(a[1], &timeout) < 0)
        return NULL;
    PyObject *it = PyObject_GetIter(a[0]);
    batch_ctx *c = it ? PyMem_Calloc(1, sizeof *c) : NULL;
    size_t sent = 0;
    int rc = SHMQ_OK;
    if (it && !c) PyErr_NoMemory();
    while (c && (rc = fill_batch(it, c)) >= 0 && c->n > 0) {
        rc = run_op(self, send_batch_op, c, timeout, send_wait_rc(self));
        sent += c->done;
        if (rc == SHMQ_OK) release_views(c);
        else {
            if (rc > 0) raise_send(self, rc, c->iov[c->done].len);
            rc = -1;
            break;
        }
    }
    if (c) release_views(c);
    PyMem_Free(c);
    Py_XDECREF(it);
    if (it == NULL || c == NULL || rc < 0) {
        set_sent(sent);
        return NULL;
    }
    return PyLong_FromSize_t(sent);
}

/* ---- receiving ----------------------------------------------------------- */

static int recv_op(shmq_queue *q, void *ctx, int64_t ns) {
    return shmq_recv(q, ctx, ns);
}

static PyObject *queue_recv(QueueObject *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames) {
    static const char *const names[] = {"timeout", "copy", NULL};
    PyObject *a[2];
    int64_t timeout;
    if (core_kwargs(args, nargs, kwnames, names, 1, 0, a) < 0 || core_timeout_ns(a[0], &timeout) < 0)
        return NULL;
    int copy = a[1] ? PyObject_IsTrue(a[1]) : 1;
    if (copy < 0) return NULL;
    shmq_msg m;
    int rc = run_op(self, recv_op, &m, timeout, SHMQ_EEMPTY);
    if (rc == SHMQ_OK) return core_message_new(self, &m, copy);
    return rc < 0 ? NULL : core_raise_code(rc, self);
}

/* recv(0) that returns None instead of raising Empty (for the asyncio loop). */
static PyObject *queue_try_recv(QueueObject *self, PyObject *copy_arg) {
    int copy = PyObject_IsTrue(copy_arg);
    shmq_queue *q = copy < 0 ? NULL : core_queue_handle(self);
    if (q == NULL) return NULL;
    shmq_msg m;
    int rc = shmq_recv(q, &m, 0);
    if (rc == SHMQ_OK) return core_message_new(self, &m, copy);
    if (rc == SHMQ_EEMPTY) Py_RETURN_NONE;
    return core_raise_code(rc, self);
}

typedef struct {
    shmq_msg *msgs;
    size_t max, count;
} recv_batch_ctx;

static int recv_batch_op(shmq_queue *q, void *ctx, int64_t ns) {
    recv_batch_ctx *c = ctx;
    return shmq_recv_batch(q, c->msgs, c->max, &c->count, ns);
}

static PyObject *message_list(QueueObject *self, recv_batch_ctx *c, int copy) {
    PyObject *list = PyList_New((Py_ssize_t)c->count);
    for (size_t i = 0; i < c->count; i++) {
        PyObject *m = core_message_new(self, &c->msgs[i], copy);
        if (m == NULL || list == NULL) { /* unwrapped leases go back when the handle closes */
            Py_XDECREF(m);
            Py_XDECREF(list);
            return NULL;
        }
        PyList_SetItem(list, (Py_ssize_t)i, m);
    }
    return list;
}

static PyObject *queue_recv_many(QueueObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames) {
    static const char *const names[] = {"n", "timeout", "copy", NULL};
    PyObject *a[3];
    int64_t timeout;
    if (core_kwargs(args, nargs, kwnames, names, 2, 1, a) < 0 || core_timeout_ns(a[1], &timeout) < 0)
        return NULL;
    Py_ssize_t n = PyLong_AsSsize_t(a[0]);
    int copy = a[2] ? PyObject_IsTrue(a[2]) : 1;
    if ((n == -1 && PyErr_Occurred()) || copy < 0) return NULL;
    if (n < 1 || n > 65536)
        return core_raise(SHMQ_EINVAL, self, "recv_many: n must be 1 .. 65536, got %zd", n);
    recv_batch_ctx c = {PyMem_Malloc((size_t)n * sizeof(shmq_msg)), (size_t)n, 0};
    if (c.msgs == NULL) return PyErr_NoMemory();
    int rc = run_op(self, recv_batch_op, &c, timeout, SHMQ_EEMPTY);
    PyObject *r = c.count > 0 ? message_list(self, &c, copy)
                  : rc < 0    ? NULL
                              : core_raise_code(rc, self);
    PyMem_Free(c.msgs);
    return r;
}

/* ---- observing ----------------------------------------------------------- */

static PyObject *queue_params(QueueObject *self, PyObject *unused) {
    (void)unused;
    shmq_queue *q = core_queue_handle(self);
    shmq_params p;
    shmq_params_init(&p);
    int rc = q ? shmq_get_params(q, &p) : -1;
    if (rc != SHMQ_OK) return rc < 0 ? NULL : core_raise_code(rc, self);
    return params_dict(&p);
}

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
        "{s:I,s:K,s:K,s:K,s:K,s:K,s:K,s:L,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:I,s:L,s:K,s:N}",
        "slot_count", s->slot_count, "free", s->free, "writing", s->writing, "ready", s->ready,
        "leased", s->leased, "delayed", s->delayed, "dead", s->dead, "oldest_ready_age_ns",
        s->oldest_ready_age_ns, "enqueued", s->enqueued, "delivered", s->delivered, "acked",
        s->acked, "nacked", s->nacked, "rejected", s->rejected, "redelivered", s->redelivered,
        "reclaimed", s->reclaimed, "dead_lettered", s->dead_lettered, "clients", s->clients,
        "clients_max", s->clients_max, "daemon_heartbeat_age_ns", s->daemon_heartbeat_age_ns,
        "spilled", s->spilled, "client", clients);
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

static PyObject *queue_stats(QueueObject *self, PyObject *cap_arg) {
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
static PyObject *queue_qsize(QueueObject *self, PyObject *unused) {
    (void)unused;
    shmq_stats s;
    if (get_stats(self, &s, NULL, 0) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(s.ready);
}

static PyObject *queue_recover(QueueObject *self, PyObject *unused) {
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
static PyObject *queue_ready_fd(QueueObject *self, PyObject *unused) {
    (void)unused;
    shmq_queue *q = core_queue_handle(self);
    int fd = -1;
    int rc = q ? shmq_ready_fd(q, &fd) : -1;
    if (rc != SHMQ_OK) return rc < 0 ? NULL : core_raise_code(rc, self);
    return PyLong_FromLong(fd);
}

static PyObject *queue_enter(QueueObject *self, PyObject *unused) {
    (void)unused;
    if (core_queue_handle(self) == NULL) return NULL;
    self->busy++;
    Py_RETURN_NONE;
}

static PyObject *queue_leave(QueueObject *self, PyObject *unused) {
    (void)unused;
    if (self->busy > 0) core_queue_release(self);
    Py_RETURN_NONE;
}

PyObject *core_ack_many(QueueObject *self, PyObject *messages);

static PyObject *queue_get_closed(QueueObject *self, void *unused) {
    (void)unused;
    int closed = self->q == NULL || self->fork_generation != core_fork_generation;
    return PyBool_FromLong(closed);
}

static PyObject *queue_get_name(QueueObject *self, void *unused) {
    (void)unused;
    if (self->name == NULL) Py_RETURN_NONE;
    Py_INCREF(self->name);
    return self->name;
}

#define FAST (METH_FASTCALL | METH_KEYWORDS)
static PyMethodDef queue_methods[] = {
    {"send", FN(queue_send), FAST,
     "send(data, timeout=None): copy a bytes-like object into the queue"},
    {"send_many", FN(queue_send_many), FAST,
     "send_many(messages, timeout=None) -> int: send in order, 256 per shmq_send_batch"},
    {"recv", FN(queue_recv), FAST,
     "recv(timeout=None, *, copy=True) -> Message: lease the oldest ready message"},
    {"recv_many", FN(queue_recv_many), FAST,
     "recv_many(n, timeout=None, *, copy=True) -> list[Message]: lease up to n, waiting for the first"},
    {"ack_many", FN(core_ack_many), METH_O,
     "ack_many(messages): ack each; raises the first failure after trying all"},
    {"qsize", FN(queue_qsize), METH_NOARGS, "qsize() -> int: messages ready now"},
    {"close", FN(queue_close), METH_NOARGS, "close(): detach (idempotent)"},
    {"_try_recv", FN(queue_try_recv), METH_O, NULL},
    {"_open", FN(queue_open), METH_VARARGS, NULL},
    {"_create", FN(queue_create), METH_VARARGS, NULL},
    {"_params", FN(queue_params), METH_NOARGS, NULL},
    {"_stats", FN(queue_stats), METH_O, NULL},
    {"_recover", FN(queue_recover), METH_NOARGS, NULL},
    {"_ready_fd", FN(queue_ready_fd), METH_NOARGS, NULL},
    {"_enter", FN(queue_enter), METH_NOARGS, NULL},
    {"_leave", FN(queue_leave), METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef queue_getset[] = {
    {"closed", (getter)(void (*)(void))queue_get_closed, NULL, "True once closed", NULL},
    {"name", (getter)(void (*)(void))queue_get_name, NULL, "the queue's name", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot queue_slots[] = {
    {Py_tp_dealloc, queue_dealloc},
    {Py_tp_methods, queue_methods},
    {Py_tp_getset, queue_getset},
    {Py_tp_doc, "A handle on one queue (the compiled base of shmq.Queue)."},
    {0, NULL},
};

static PyType_Spec queue_spec = {
    "shmq._core.Queue", sizeof(QueueObject), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    queue_slots,
};

PyObject *core_default_params(PyObject *module, PyObject *unused);

int core_queue_init_type(PyObject *module) {
    core_queue_type = PyType_FromSpec(&queue_spec);
    if (core_queue_type == NULL) return -1;
    Py_INCREF(core_queue_type);
    return PyModule_AddObject(module, "Queue", core_queue_type);
}
