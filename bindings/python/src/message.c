/* shmq._core.Message: one leased message. Finished exactly once by ack(),
 * nack() or reject() (or the with-block); one dropped unfinished is nacked
 * (the queue's backoff applies). view() hands out read-only memoryviews over
 * the slot in shared memory: finishing the message releases them, and each
 * buffer export holds a use of the queue handle, so close() is deferred while
 * a derived buffer still points into the segment. */
#include "core.h"

#include <math.h>

PyObject *core_message_type;
static PyObject *utc_from_ns; /* stats.utc_from_ns, set by register_helpers */

int core_message_set_helper(PyObject *fn) {
    Py_XDECREF(utc_from_ns);
    Py_INCREF(fn);
    utc_from_ns = fn;
    return 0;
}

PyObject *core_message_new(QueueObject *queue, const shmq_msg *m, int copy) {
    PyObject *data = copy ? PyBytes_FromStringAndSize(m->data, (Py_ssize_t)m->len) : NULL;
    MessageObject *self = NULL;
    if (!copy || data)
        self = PyObject_New(MessageObject, (PyTypeObject *)core_message_type);
    if (self == NULL) { /* the lease goes back rather than leaking */
        shmq_msg spare = *m;
        shmq_nack(queue->q, &spare, -1);
        Py_XDECREF(data);
        return NULL;
    }
    Py_INCREF((PyObject *)queue);
    self->queue = queue;
    self->h = queue->q;
    self->m = *m;
    self->data = data;
    self->views = NULL;
    self->headers = NULL;
    self->done = 0;
    const void *block;
    size_t hlen = 0;
    if (shmq_msg_headers(queue->q, m, &block, &hlen) != SHMQ_OK || hlen > 0) {
        self->headers = core_headers_dict(queue->q, m);
        if (self->headers == NULL) { /* damaged: the property says so; the message stays ours */
            PyErr_Clear();
            Py_INCREF(Py_None);
            self->headers = Py_None;
        }
    }
    return (PyObject *)self;
}

/* ---- finishing ----------------------------------------------------------- */

static void release_views(MessageObject *self) {
    PyObject *views = self->views;
    self->views = NULL;
    Py_ssize_t n = views ? PyList_Size(views) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = PyObject_CallMethod(PyList_GetItem(views, i), "release", NULL);
        if (r == NULL) PyErr_Clear(); /* a derived buffer holds it; it keeps the mapping alive */
        Py_XDECREF(r);
    }
    Py_XDECREF(views);
}

/* The handle the message was leased through, or NULL with Closed raised. */
static shmq_queue *lease_handle(MessageObject *self) {
    shmq_queue *q = core_queue_handle(self->queue);
    if (q != NULL && q != self->h) {
        core_raise(SHMQ_ECLOSED, self->queue, "message %llu was leased through a handle of "
                   "queue '%U' that is closed (or belongs to the parent process)",
                   (unsigned long long)self->m.id, self->queue->name);
        return NULL;
    }
    return q;
}

static PyObject *raise_lease_lost(MessageObject *self) {
    PyObject *label = core_label(self->queue);
    if (label == NULL) return NULL;
    core_raise(SHMQ_ELEASELOST, self->queue, "the lease of message %llu (attempt %u) of %U was "
               "lost: it expired or was reclaimed", (unsigned long long)self->m.id,
               self->m.attempt, label);
    Py_DECREF(label);
    return NULL;
}

static PyObject *raise_finish(MessageObject *self, int rc) {
    if (rc == SHMQ_ELEASELOST)
        return raise_lease_lost(self);
    if (rc == SHMQ_EINVAL)
        return core_raise(rc, self->queue, "message %llu was already acked, nacked or rejected",
                          (unsigned long long)self->m.id);
    return core_raise_code(rc, self->queue);
}

enum verb { ACK, NACK, REJECT };

/* Finish the message: ack, nack (after delay_ns, < 0 the backoff) or
 * reject; a nack or reject with `reason` (0: the default) names why it
 * becomes a dead letter (shmq_nack_ex, shmq_reject_ex). */
static int finish_as(MessageObject *self, enum verb v, int64_t delay_ns, int reason) {
    if (self->done) {
        raise_finish(self, SHMQ_EINVAL);
        return -1;
    }
    shmq_queue *q = lease_handle(self);
    if (q == NULL) return -1;
    shmq_dead_reason why = (shmq_dead_reason)reason;
    int rc = v == ACK      ? shmq_ack(q, &self->m)
           : v == NACK     ? (reason ? shmq_nack_ex(q, &self->m, delay_ns, why) : shmq_nack(q, &self->m, delay_ns))
           : reason        ? shmq_reject_ex(q, &self->m, why)
                           : shmq_reject(q, &self->m);
    self->done = 1;
    release_views(self);
    if (rc != SHMQ_OK) raise_finish(self, rc);
    return rc == SHMQ_OK ? 0 : -1;
}

static int finish(MessageObject *self, enum verb v, int64_t delay_ns) {
    return finish_as(self, v, delay_ns, 0);
}

/* A dead-letter reason a caller may give (None: the default, returned as 0),
 * or -1 with InvalidArgument raised before anything is finished; a reason of
 * 0 is refused, as shmq_nack_ex and Go's NackWithReason refuse it. */
static int reason_of(MessageObject *self, PyObject *reason) {
    if (reason == NULL || reason == Py_None) return 0;
    long r = PyLong_AsLong(reason);
    if (r == -1 && PyErr_Occurred()) return -1;
    if (r == SHMQ_DEAD_MAX_ATTEMPTS || r == SHMQ_DEAD_REJECTED || r == SHMQ_DEAD_BRIDGE_REJECTED) return (int)r;
    core_raise(SHMQ_EINVAL, self->queue, "message %llu: dead-letter reason %R is not one a caller may give "
               "(DeadReason.MAX_ATTEMPTS, REJECTED or BRIDGE_REJECTED); the message is still leased",
               (unsigned long long)self->m.id, reason);
    return -1;
}

static PyObject *message_ack(MessageObject *self, PyObject *unused) {
    (void)unused;
    if (finish(self, ACK, 0) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *message_reject(MessageObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
    static const char *const names[] = {"reason", NULL};
    PyObject *a[1];
    if (core_kwargs(args, nargs, kwnames, names, 0, 0, a) < 0) return NULL;
    int reason = reason_of(self, a[0]);
    if (reason < 0 || finish_as(self, REJECT, 0, reason) < 0) return NULL;
    Py_RETURN_NONE;
}

/* Seconds >= 0 as nanoseconds; -1 with an exception on a bad value. */
static int64_t duration_ns(PyObject *seconds) {
    double s = PyFloat_AsDouble(seconds);
    if (s == -1.0 && PyErr_Occurred()) return -1;
    if (isnan(s) || s < 0 || s * 1e9 >= 9.2e18) {
        core_raise(SHMQ_EINVAL, NULL, "a duration must be 0 .. 9e9 seconds, got %R", seconds);
        return -1;
    }
    return (int64_t)(s * 1e9);
}

static PyObject *message_nack(MessageObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames) {
    static const char *const names[] = {"delay", "reason", NULL};
    PyObject *a[2];
    if (core_kwargs(args, nargs, kwnames, names, 1, 0, a) < 0) return NULL;
    int64_t ns = a[0] == NULL || a[0] == Py_None ? -1 : duration_ns(a[0]);
    if (ns == -1 && PyErr_Occurred()) return NULL;
    int reason = reason_of(self, a[1]);
    if (reason < 0 || finish_as(self, NACK, ns, reason) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *message_extend(MessageObject *self, PyObject *seconds) {
    int64_t ns = duration_ns(seconds);
    if (ns == -1 && PyErr_Occurred()) return NULL;
    int64_t ms = (ns + 999999) / 1000000;
    if (ms > 0xFFFFFFFFLL) return core_raise(SHMQ_EINVAL, NULL, "lease too long: %R s", seconds);
    if (self->done) return raise_finish(self, SHMQ_EINVAL);
    shmq_queue *q = lease_handle(self);
    if (q == NULL) return NULL;
    int rc = shmq_extend(q, &self->m, (uint32_t)ms);
    if (rc == SHMQ_ELEASELOST) {
        self->done = 1;
        release_views(self);
    }
    if (rc != SHMQ_OK) return raise_finish(self, rc);
    Py_RETURN_NONE;
}

/* Keep the first exception of several (ack_many raises it after trying all). */
static void keep_first(PyObject **t, PyObject **v, PyObject **tb) {
    if (*t == NULL) PyErr_Fetch(t, v, tb);
    else PyErr_Clear();
}

/* ack_many's first pass: a message leased through `q` (this queue's handle)
 * and not finished joins the batch, marked done at once (so a message listed
 * twice is refused the second time); any other is acked on its own now.
 * Returns how many joined. */
static size_t sort_out(PyObject *list, QueueObject *queue, shmq_queue *q, shmq_msg *batch,
                       MessageObject **who, PyObject **t, PyObject **v, PyObject **tb) {
    size_t k = 0;
    for (Py_ssize_t i = 0; i < PyList_Size(list); i++) {
        MessageObject *m = (MessageObject *)PyList_GetItem(list, i);
        if (q != NULL && !m->done && m->queue == queue && m->h == q) {
            m->done = 1;
            batch[k] = m->m;
            who[k++] = m;
        } else if (finish(m, ACK, 0) < 0) {
            keep_first(t, v, tb);
        }
    }
    return k;
}

/* Queue.ack_many: one shmq_ack_batch for the messages leased through this
 * handle; any other (another queue's, or one already finished) goes through
 * ack() on its own. Every message is finished either way; the first failure
 * met is raised after all were tried. */
PyObject *core_ack_many(QueueObject *queue, PyObject *messages) {
    PyObject *list = PySequence_List(messages);
    if (list == NULL) return NULL;
    size_t n = (size_t)PyList_Size(list);
    for (size_t i = 0; i < n; i++) {
        if (Py_TYPE(PyList_GetItem(list, (Py_ssize_t)i)) != (PyTypeObject *)core_message_type) {
            Py_DECREF(list);
            return PyErr_Format(PyExc_TypeError, "ack_many: item %zu is not a shmq.Message", i);
        }
    }
    shmq_msg *batch = PyMem_Calloc(n + 1, sizeof *batch);
    MessageObject **who = PyMem_Calloc(n + 1, sizeof *who);
    int *results = PyMem_Calloc(n + 1, sizeof *results);
    PyObject *t = NULL, *v = NULL, *tb = NULL;
    if (batch == NULL || who == NULL || results == NULL) {
        PyErr_NoMemory();
        n = 0;
    }
    shmq_queue *q = n > 0 ? core_queue_handle(queue) : NULL;
    if (q == NULL && PyErr_Occurred()) keep_first(&t, &v, &tb); /* closed: ack() says so per message */
    size_t k = n > 0 ? sort_out(list, queue, q, batch, who, &t, &v, &tb) : 0;
    if (k > 0) shmq_ack_batch(q, batch, k, results);
    for (size_t j = 0; j < k; j++) {
        release_views(who[j]);
        if (results[j] != SHMQ_OK && raise_finish(who[j], results[j]) == NULL) keep_first(&t, &v, &tb);
    }
    PyMem_Free(batch);
    PyMem_Free(who);
    PyMem_Free(results);
    Py_DECREF(list);
    if (t == NULL) Py_RETURN_NONE;
    PyErr_Restore(t, v, tb);
    return NULL;
}

static void message_dealloc(PyObject *op) {
    MessageObject *self = (MessageObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    QueueObject *queue = self->queue;
    if (!self->done && queue->q == self->h && self->h != NULL &&
        queue->fork_generation == core_fork_generation)
        shmq_nack(self->h, &self->m, -1); /* never leaked; a lost lease needs nothing */
    Py_XDECREF(self->views);
    Py_XDECREF(self->data);
    Py_XDECREF(self->headers);
    PyObject_Free(op);
    Py_DECREF((PyObject *)queue);
    Py_DECREF(tp);
}

/* ---- payload ------------------------------------------------------------- */

static PyObject *message_get_data(MessageObject *self, void *unused) {
    (void)unused;
    if (self->data == NULL) {
        if (self->done)
            return core_raise(SHMQ_EINVAL, NULL, "message %llu: its payload was not copied "
                              "(recv(copy=False)) and it is finished", (unsigned long long)self->m.id);
        if (lease_handle(self) == NULL) return NULL;
        self->data = PyBytes_FromStringAndSize(self->m.data, (Py_ssize_t)self->m.len);
        if (self->data == NULL) return NULL;
    }
    Py_INCREF(self->data);
    return self->data;
}

static int message_getbuffer(PyObject *op, Py_buffer *view, int flags) {
    MessageObject *self = (MessageObject *)op;
    if (self->done) {
        core_raise(SHMQ_EINVAL, NULL, "message %llu is finished; its payload is gone",
                   (unsigned long long)self->m.id);
        return -1;
    }
    if (lease_handle(self) == NULL) return -1;
    if (PyBuffer_FillInfo(view, op, (void *)self->m.data, (Py_ssize_t)self->m.len, 1, flags) < 0)
        return -1;
    self->queue->busy++; /* the segment stays mapped while the buffer exists */
    return 0;
}

static void message_releasebuffer(PyObject *op, Py_buffer *view) {
    (void)view;
    MessageObject *self = (MessageObject *)op;
    QueueObject *queue = self->queue;
    if (queue->fork_generation == core_fork_generation &&
        (self->h == queue->q || self->h == queue->closing))
        core_queue_release(queue);
}

static PyObject *message_view(MessageObject *self, PyObject *unused) {
    (void)unused;
    PyObject *view = PyMemoryView_FromObject((PyObject *)self);
    if (view == NULL) return NULL;
    if (self->views == NULL && (self->views = PyList_New(0)) == NULL) {
        Py_DECREF(view);
        return NULL;
    }
    if (PyList_Append(self->views, view) < 0) Py_CLEAR(view);
    return view;
}

/* ---- identity ------------------------------------------------------------ */

static PyObject *message_get_id(MessageObject *self, void *u) {
    (void)u;
    return PyLong_FromUnsignedLongLong(self->m.id);
}

static PyObject *message_get_attempt(MessageObject *self, void *u) {
    (void)u;
    return PyLong_FromUnsignedLong(self->m.attempt);
}

static PyObject *message_get_lease(MessageObject *self, void *u) {
    (void)u;
    return PyFloat_FromDouble(self->m.lease_ms / 1000.0);
}

static PyObject *message_get_enqueued_ns(MessageObject *self, void *u) {
    (void)u;
    return PyLong_FromLongLong(self->m.enqueued_ns);
}

static PyObject *message_get_enqueued_at(MessageObject *self, void *u) {
    (void)u;
    PyObject *ns = PyLong_FromLongLong(self->m.enqueued_ns);
    PyObject *r = ns && utc_from_ns ? PyObject_CallFunctionObjArgs(utc_from_ns, ns, NULL) : NULL;
    Py_XDECREF(ns);
    return r;
}

static PyObject *message_get_headers(MessageObject *self, void *u) {
    (void)u;
    if (self->headers == Py_None)
        return core_raise(SHMQ_ECORRUPT, self->queue, "message %llu: its header block is damaged",
                          (unsigned long long)self->m.id);
    return self->headers ? PyDict_Copy(self->headers) : PyDict_New();
}

static PyObject *message_get_finished(MessageObject *self, void *u) {
    (void)u;
    return PyBool_FromLong(self->done);
}

static PyObject *message_get_queue(MessageObject *self, void *u) {
    (void)u;
    Py_INCREF((PyObject *)self->queue);
    return (PyObject *)self->queue;
}

static Py_ssize_t message_len(PyObject *op) {
    return (Py_ssize_t)((MessageObject *)op)->m.len;
}

static PyObject *message_repr(PyObject *op) {
    MessageObject *self = (MessageObject *)op;
    return PyUnicode_FromFormat("<shmq.Message id=%llu attempt=%u len=%zu %s>",
                                (unsigned long long)self->m.id, self->m.attempt, self->m.len,
                                self->done ? "finished" : "leased");
}

/* ---- with-block: ack on success, nack on error --------------------------- */

static PyObject *message_enter(PyObject *self, PyObject *unused) {
    (void)unused;
    Py_INCREF(self);
    return self;
}

static PyObject *message_exit(MessageObject *self, PyObject *args) {
    PyObject *exc_type = PyTuple_Size(args) > 0 ? PyTuple_GetItem(args, 0) : Py_None;
    if (exc_type == NULL) return NULL;
    if (self->done) Py_RETURN_NONE;
    if (exc_type == Py_None) return message_ack(self, NULL);
    if (finish(self, NACK, -1) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) return NULL;
        PyErr_Clear(); /* the block's own exception matters more */
    }
    Py_RETURN_NONE;
}

static PyMethodDef message_methods[] = {
    {"ack", FN(message_ack), METH_NOARGS,
     "ack(): done, free the slot; LeaseLost if the lease was reclaimed"},
    {"nack", FN(message_nack), METH_FASTCALL | METH_KEYWORDS,
     "nack(delay=None, *, reason=None): retry after delay seconds, or the queue's backoff if None; out of\n"
     "attempts, dead-lettered with reason (a DeadReason; None: MAX_ATTEMPTS)"},
    {"reject", FN(message_reject), METH_FASTCALL | METH_KEYWORDS,
     "reject(*, reason=None): dead-letter it now, with reason (a DeadReason; None: REJECTED)"},
    {"extend", FN(message_extend), METH_O,
     "extend(seconds): extend the lease to seconds from now (rounded up to ms)"},
    {"view", FN(message_view), METH_NOARGS,
     "view() -> memoryview: read-only, zero-copy, valid while the message is leased"},
    {"__enter__", FN(message_enter), METH_NOARGS, NULL},
    {"__exit__", FN(message_exit), METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef message_getset[] = {
    {"data", (getter)(void (*)(void))message_get_data, NULL, "the payload as bytes (a copy)", NULL},
    {"id", (getter)(void (*)(void))message_get_id, NULL, "unique and stable per queue", NULL},
    {"attempt", (getter)(void (*)(void))message_get_attempt, NULL, "delivery count, 1 on first delivery", NULL},
    {"lease", (getter)(void (*)(void))message_get_lease, NULL, "length of the lease granted, seconds", NULL},
    {"enqueued_ns", (getter)(void (*)(void))message_get_enqueued_ns, NULL, "first enqueue, ns since the epoch",
     NULL},
    {"enqueued_at", (getter)(void (*)(void))message_get_enqueued_at, NULL, "first enqueue, aware UTC datetime",
     NULL},
    {"headers", (getter)(void (*)(void))message_get_headers, NULL,
     "the headers it was sent with, a dict of str to str (a copy, taken at receive)", NULL},
    {"finished", (getter)(void (*)(void))message_get_finished, NULL, "True once acked, nacked, rejected or lost",
     NULL},
    {"queue", (getter)(void (*)(void))message_get_queue, NULL, "the Queue it was received from", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot message_slots[] = {
    {Py_tp_dealloc, message_dealloc},
    {Py_tp_methods, message_methods},
    {Py_tp_getset, message_getset},
    {Py_tp_repr, message_repr},
    {Py_sq_length, message_len},
    {Py_bf_getbuffer, message_getbuffer},
    {Py_bf_releasebuffer, message_releasebuffer},
    {Py_tp_doc, "One leased message; finish it once (ack, nack or reject)."},
    {0, NULL},
};

static PyType_Spec message_spec = {
    "shmq.Message", sizeof(MessageObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, message_slots,
};

int core_message_init_type(PyObject *module) {
    core_message_type = PyType_FromSpec(&message_spec);
    if (core_message_type == NULL) return -1;
    Py_INCREF(core_message_type);
    return PyModule_AddObject(module, "Message", core_message_type);
}
