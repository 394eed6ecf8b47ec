/* shmq._core.Queue: one shmq_queue handle and the calls that receive on it
 * (sending is send.c). Calls that may wait try once with timeout 0 holding the GIL;
 * only if that would wait do they release it, in slices of at most 100 ms
 * (core_run_op). close() only withdraws the handle: whoever drops the last use
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
    self->max_groups = p.max_groups;
    self->dedup_window_ms = p.dedup_window_ms;
    self->fork_generation = core_fork_generation;
    return 0;
}

/* The handle's options, as set_name() recorded them. */
static void options_of(const QueueObject *self, shmq_options *o) {
    shmq_options_init(o);
    o->prefetch = self->prefetch;
    o->spin_ns = self->spin_ns;
    o->wait = self->wait;
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
    options_of(self, &o);
    shmq_queue *q = NULL;
    const char *name = PyUnicode_AsUTF8AndSize(self->name, NULL);
    int rc = self->group ? shmq_open_group(name, PyUnicode_AsUTF8AndSize(self->group, NULL), &o, &q)
                         : shmq_open(name, &o, &q);
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

/* A queue, topic or group name (`what`) as a C string, refusing what libshmq
 * would refuse or cut short. */
static const char *c_name_of(PyObject *name, const char *what) {
    Py_ssize_t n;
    const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &n) : NULL;
    if (s == NULL) {
        if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "%s name must be str", what);
        return NULL;
    }
    if ((Py_ssize_t)strlen(s) != n || shmq_name_check(s) != SHMQ_OK) {
        core_raise(SHMQ_EBADNAME, NULL, "bad %s name %R: names are 1-64 of "
                   "[A-Za-z0-9._-], not only dots", what, name);
        return NULL;
    }
    return s;
}

static const char *c_name(PyObject *name) {
    return c_name_of(name, "queue");
}

static int set_name(QueueObject *self, PyObject *name, uint32_t prefetch, uint32_t spin_ns,
                    uint32_t wait) {
    if (self->q != NULL || self->closing != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "queue handle is already attached");
        return -1;
    }
    if (wait != SHMQ_WAIT_ADAPTIVE && wait != SHMQ_WAIT_SPIN) {
        core_raise(SHMQ_EINVAL, NULL, "wait must be SHMQ_WAIT_ADAPTIVE (0) or SHMQ_WAIT_SPIN (1), "
                   "got %u", (unsigned)wait);
        return -1;
    }
    Py_INCREF(name);
    Py_XDECREF(self->name);
    self->name = name;
    self->prefetch = prefetch;
    self->spin_ns = spin_ns;
    self->wait = wait;
    return 0;
}

static PyObject *queue_open(QueueObject *self, PyObject *args) {
    PyObject *name;
    unsigned int prefetch, spin_ns, wait;
    if (!PyArg_ParseTuple(args, "UIII", &name, &prefetch, &spin_ns, &wait)) return NULL;
    const char *s = c_name(name);
    if (s == NULL || set_name(self, name, prefetch, spin_ns, wait) < 0) return NULL;
    shmq_options o;
    options_of(self, &o);
    shmq_queue *q = NULL;
    int rc = shmq_open(s, &o, &q);
    if (rc != SHMQ_OK) return core_raise_code(rc, self);
    if (attach(self, q) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *queue_create(QueueObject *self, PyObject *args) {
    PyObject *name, *dict;
    unsigned int prefetch, spin_ns, wait;
    shmq_params p;
    if (!PyArg_ParseTuple(args, "UO!III", &name, &PyDict_Type, &dict, &prefetch, &spin_ns, &wait))
        return NULL;
    const char *s = c_name(name);
    if (s == NULL || core_params_from(dict, &p) < 0 ||
        set_name(self, name, prefetch, spin_ns, wait) < 0)
        return NULL;
    shmq_options o;
    options_of(self, &o);
    shmq_queue *q = NULL;
    int rc = shmq_create(s, &p, &o, &q);
    if (rc != SHMQ_OK) return core_raise_code(rc, self);
    if (attach(self, q) < 0) return NULL;
    Py_RETURN_NONE;
}

/* _open_group(topic, group, prefetch, spin_ns, wait): a consumer handle on a
 * group of a topic (shmq_open_group). */
static PyObject *queue_open_group(QueueObject *self, PyObject *args) {
    PyObject *topic, *group;
    unsigned int prefetch, spin_ns, wait;
    if (!PyArg_ParseTuple(args, "UUIII", &topic, &group, &prefetch, &spin_ns, &wait)) return NULL;
    const char *t = c_name_of(topic, "topic"), *g = t ? c_name_of(group, "group") : NULL;
    if (g == NULL || set_name(self, topic, prefetch, spin_ns, wait) < 0) return NULL;
    Py_INCREF(group);
    Py_XDECREF(self->group);
    self->group = group;
    shmq_options o;
    options_of(self, &o);
    shmq_queue *q = NULL;
    int rc = shmq_open_group(t, g, &o, &q);
    if (rc == SHMQ_EINVAL)
        return core_raise(rc, self, "'%U' is a queue, not a topic: it has no group '%U'", topic,
                          group);
    if (rc != SHMQ_OK) return core_raise_code(rc, self);
    if (attach(self, q) < 0) return NULL;
    Py_RETURN_NONE;
}

/* add_group(name): bind a consumer group to this topic (shmq_group_add). */
static PyObject *queue_add_group(QueueObject *self, PyObject *group) {
    const char *g = c_name_of(group, "group");
    shmq_queue *q = g ? core_queue_handle(self) : NULL;
    if (q == NULL) return NULL;
    int rc = shmq_group_add(q, g);
    if (rc == SHMQ_OK) Py_RETURN_NONE;
    if (rc == SHMQ_EEXIST)
        return core_raise(rc, self, "group '%U' is already bound to topic '%U'", group, self->name);
    if (rc == SHMQ_EFULL)
        return core_raise(rc, self, "topic '%U' has no free lane for '%U': its %u lanes hold bound groups, "
                          "or removed ones until their last message ends (`removing` in shmqctl list)",
                          self->name, group, self->max_groups);
    if (rc == SHMQ_EINVAL)
        return core_raise(rc, self, "add_group('%U'): only a topic's own handle binds groups; "
                          "'%U' is %s", group, self->name,
                          self->group ? "a group handle" : "a queue (created without max_groups)");
    return core_raise_code(rc, self);
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
    Py_XDECREF(self->group);
    freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    tp_free(op);
    Py_DECREF(tp);
}

/* ---- waiting ------------------------------------------------------------- */

/* op(q, ctx, 0) holding the GIL; if it returned `wait_rc` or timed out
 * (a send whose dedup key another sender has in flight waits for it), and
 * `timeout` allows, op(q, ctx, slice) without the GIL until it stops timing
 * out. Returns op's code, or -1 with an exception set. */
int core_run_op(QueueObject *self, core_op_fn op, void *ctx, int64_t timeout, int wait_rc) {
    shmq_queue *q = core_queue_handle(self);
    if (q == NULL) return -1;
    int rc = op(q, ctx, 0);
    if ((rc != wait_rc && rc != SHMQ_ETIMEDOUT) || timeout == 0) return rc;
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
    int rc = core_run_op(self, recv_op, &m, timeout, SHMQ_EEMPTY);
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
    shmq_msg local[BATCH]; /* no allocation for the usual batch sizes */
    recv_batch_ctx c = {n <= BATCH ? local : PyMem_Malloc((size_t)n * sizeof(shmq_msg)),
                        (size_t)n, 0};
    if (c.msgs == NULL) return PyErr_NoMemory();
    int rc = core_run_op(self, recv_batch_op, &c, timeout, SHMQ_EEMPTY);
    PyObject *r = c.count > 0 ? message_list(self, &c, copy)
                  : rc < 0    ? NULL
                              : core_raise_code(rc, self);
    if (c.msgs != local) PyMem_Free(c.msgs);
    return r;
}

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
    {"send", FN(core_queue_send), FAST,
     "send(data, timeout=None, *, delay=None, at=None, ttl=None, headers=None, dedup_key=None, sync=False) -> int: copy a\n"
     "bytes-like object into the queue; returns its id. delay (seconds or timedelta) or at (datetime or Unix time): not ready\n"
     "before then. ttl (seconds or timedelta; None: the queue's; math.inf: never): dead-lettered as expired if not leased within\n"
     "it once ready. headers: a mapping of str to str carried with it (msg.headers); keys printable ASCII but\n"
     "'=', at most 64 and 4096 bytes encoded. dedup_key (bytes or str, 1..128 bytes; a queue with a dedup_window):\n"
     "returns a SendResult, the id with .duplicate (True: sent within the window already, nothing stored).\n"
     "sync=True: then wait (within timeout; not 0) until it is on disk (a disk queue; as q.sync()); if that fails,\n"
     "Timeout or FlushFailed is raised with .id set: the message IS queued, not confirmed on disk"},
    {"send_many", FN(core_queue_send_many), FAST,
     "send_many(messages, timeout=None, *, delay=None, at=None, ids=None, ttl=None, headers=None, dedup_keys=None)\n"
     "-> int: send in order, 256 per shmq_send_batch, each with the same headers; ids (a list) gets the id of each\n"
     "message sent appended, also on failure (a SendResult with dedup_keys: one key per message, None for none)"},
    {"recv", FN(queue_recv), FAST,
     "recv(timeout=None, *, copy=True) -> Message: lease the oldest ready message"},
    {"recv_many", FN(queue_recv_many), FAST,
     "recv_many(n, timeout=None, *, copy=True) -> list[Message]: lease up to n, waiting for the first"},
    {"ack_many", FN(core_ack_many), METH_O,
     "ack_many(messages): ack each; raises the first failure after trying all"},
    {"qsize", FN(core_queue_qsize), METH_NOARGS, "qsize() -> int: messages ready now"},
    {"close", FN(queue_close), METH_NOARGS, "close(): detach (idempotent)"},
    {"_try_recv", FN(queue_try_recv), METH_O, NULL},
    {"_open", FN(queue_open), METH_VARARGS, NULL},
    {"_create", FN(queue_create), METH_VARARGS, NULL},
    {"_open_group", FN(queue_open_group), METH_VARARGS, NULL},
    {"add_group", FN(queue_add_group), METH_O,
     "add_group(name): bind consumer group `name` to this topic; it gets what is sent from now on"},
    {"_params", FN(core_queue_params), METH_NOARGS, NULL},
    {"_stats", FN(core_queue_stats), METH_O, NULL},
    {"_recover", FN(core_queue_recover), METH_NOARGS, NULL},
    {"sync", FN(core_queue_sync), METH_VARARGS | METH_KEYWORDS,
     "sync(timeout=None): wait until every message sent before the call (by any process) is on disk;\n"
     "one flush serves every caller at once. A memory queue returns at once. Raises Timeout, FlushFailed."},
    {"flush", FN(core_queue_flush), METH_NOARGS,
     "flush(): write a disk queue back to its file now (a memory queue: nothing to do). Raises FlushFailed."},
    {"_ready_fd", FN(core_queue_ready_fd), METH_NOARGS, NULL},
    {"_enter", FN(core_queue_enter), METH_NOARGS, NULL},
    {"_leave", FN(core_queue_leave), METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyObject *queue_get_group(QueueObject *self, void *unused) {
    (void)unused;
    if (self->group == NULL) Py_RETURN_NONE;
    Py_INCREF(self->group);
    return self->group;
}

static PyGetSetDef queue_getset[] = {
    {"closed", (getter)(void (*)(void))queue_get_closed, NULL, "True once closed", NULL},
    {"name", (getter)(void (*)(void))queue_get_name, NULL, "the queue's (or topic's) name", NULL},
    {"group", (getter)(void (*)(void))queue_get_group, NULL,
     "the consumer group of a group handle, else None", NULL},
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

int core_queue_init_type(PyObject *module) {
    core_queue_type = PyType_FromSpec(&queue_spec);
    if (core_queue_type == NULL) return -1;
    Py_INCREF(core_queue_type);
    return PyModule_AddObject(module, "Queue", core_queue_type);
}
