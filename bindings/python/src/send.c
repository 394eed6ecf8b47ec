/* Queue.send and Queue.send_many: copy bytes-like objects into the queue
 * with per-message options (delay, ttl, headers, a deduplication key),
 * 256 messages per shmq_send_batch_ex. A send with a deduplication key
 * returns a SendResult (an int, the id, with .duplicate); without one, a
 * plain int, so the usual send pays nothing for it. */
#include "core.h"

#include <time.h>

#define BATCH 256

static PyObject *send_result_type; /* shmq.SendResult, set by register */

int core_send_set_result_type(PyObject *cls) {
    Py_INCREF(cls);
    Py_XDECREF(send_result_type);
    send_result_type = cls;
    return 0;
}

static int send_wait_rc(QueueObject *self) {
    return self->overflow == SHMQ_OVERFLOW_FAIL ? -2 : SHMQ_EFULL;
}

/* The id a send got: a SendResult if it carried a key, else an int. */
static PyObject *id_of(uint64_t id, int keyed, uint8_t duplicate) {
    PyObject *n = PyLong_FromUnsignedLongLong(id);
    if (n == NULL || !keyed || send_result_type == NULL) return n;
    PyObject *r = PyObject_CallFunction(send_result_type, "Oi", n, (int)duplicate);
    Py_DECREF(n);
    return r;
}

/* ---- deduplication keys -------------------------------------------------- */

/* May this handle send with deduplication keys? Raises InvalidArgument if not. */
static int check_keyed(QueueObject *self) {
    if (self->dedup_window_ms > 0) return 0;
    if (self->group)
        core_raise(SHMQ_EINVAL, self, "a group handle of topic '%U' does not send", self->name);
    else
        core_raise(SHMQ_EINVAL, self, "%s '%U' has no deduplication window: create it with "
                   "dedup_window=SECONDS to send with dedup keys", self->max_groups > 0 ? "topic" : "queue",
                   self->name);
    return -1;
}

/* A key (bytes-like, or str as UTF-8) as a buffer of 1 .. SHMQ_MAX_DEDUP_KEY
 * bytes; the caller releases it. */
static int key_of(QueueObject *self, PyObject *key, Py_buffer *view) {
    PyObject *bytes = PyUnicode_Check(key) ? PyUnicode_AsUTF8String(key) : (Py_INCREF(key), key);
    if (bytes == NULL) return -1;
    int rc = PyObject_GetBuffer(bytes, view, PyBUF_SIMPLE);
    Py_DECREF(bytes); /* the buffer export keeps it alive */
    if (rc < 0) return -1;
    if (view->len >= 1 && view->len <= SHMQ_MAX_DEDUP_KEY) return 0;
    core_raise(SHMQ_EINVAL, self, "a dedup key must be 1 .. %d bytes, got %zd (queue '%U')",
               SHMQ_MAX_DEDUP_KEY, view->len, self->name);
    PyBuffer_Release(view);
    return -1;
}

/* ---- one message --------------------------------------------------------- */

typedef struct {
    const void *data;
    size_t len;
    shmq_send_opts opts;
    uint64_t id;
    uint8_t duplicate;
} send_ctx;

static int send_op(shmq_queue *q, void *ctx, int64_t ns) {
    send_ctx *c = ctx;
    return shmq_send_ex(q, c->data, c->len, &c->opts, &c->id, ns);
}

static PyObject *raise_send(QueueObject *self, int rc, size_t len, const shmq_send_opts *o) {
    if (rc == SHMQ_ETOOBIG && o->header_count > 0)
        return core_raise(rc, self, "message of %zu bytes plus its headers larger than slot size %u of queue "
                          "'%U', or headers over %d bytes encoded", len, self->slot_size, self->name,
                          SHMQ_MAX_HEADERS_SIZE);
    if (rc == SHMQ_ETOOBIG)
        return core_raise(rc, self, "message of %zu bytes larger than slot size %u of queue '%U'",
                          len, self->slot_size, self->name);
    if (rc == SHMQ_EDEDUPFULL)
        return core_raise(rc, self, "the deduplication table of queue '%U' is full of keys still in their "
                          "window: nothing was sent; retry later, or create the queue with a larger "
                          "dedup_capacity", self->name);
    return core_raise_code(rc, self);
}

static PyObject *send_one(QueueObject *self, PyObject *data, send_ctx *c, int64_t timeout) {
    Py_buffer view = {0};
    int rc;
    if (PyBytes_CheckExact(data)) {
        char *p;
        Py_ssize_t n;
        PyBytes_AsStringAndSize(data, &p, &n);
        c->data = p;
        c->len = (size_t)n;
        rc = core_run_op(self, send_op, c, timeout, send_wait_rc(self));
    } else {
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
        c->data = view.buf;
        c->len = (size_t)view.len;
        rc = core_run_op(self, send_op, c, timeout, send_wait_rc(self));
        PyBuffer_Release(&view);
    }
    if (rc == SHMQ_OK) return id_of(c->id, c->opts.dedup_key != NULL, c->duplicate);
    return rc < 0 ? NULL : raise_send(self, rc, c->len, &c->opts);
}

/* ---- sync=True ----------------------------------------------------------- */

static int64_t mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* After a send that returned `sent` (an id, or NULL on error): wait until it
 * is on disk with what is left of the timeout since `start`. The sync is not
 * SHMQ_SEND_SYNC inside the send: the send is retried in slices (to see
 * signals), and a retry after a sync's timeout would store the message again.
 * A failed sync raises Timeout or FlushFailed with .id set: the message is
 * queued, not confirmed. */
static PyObject *then_sync(QueueObject *self, PyObject *sent, int64_t start, int64_t timeout) {
    if (sent == NULL) return NULL;
    shmq_queue *q = core_queue_handle(self);
    if (q == NULL) {
        Py_DECREF(sent);
        return NULL;
    }
    int64_t left = timeout < 0 ? timeout : timeout - (mono_now() - start);
    if (timeout >= 0 && left < 1) left = 1; /* 0 would not wait for a flush in progress */
    int rc;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    rc = shmq_sync(q, left);
    Py_END_ALLOW_THREADS
    core_queue_release(self);
    if (rc == SHMQ_OK) return sent;
    core_raise(rc, self, "message %S was sent and is queued, but not confirmed on disk: %s", sent,
               shmq_strerror(rc));
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL) PyObject_SetAttrString(value, "id", sent);
    PyErr_Restore(type, value, tb);
    Py_DECREF(sent);
    return NULL;
}

PyObject *core_queue_send(QueueObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"data", "timeout", "delay", "at", "ttl", "headers", "dedup_key", "sync", NULL};
    PyObject *a[8];
    int64_t timeout;
    const int64_t start = mono_now();
    send_ctx c = {0};
    core_headers h;
    Py_buffer key = {0};
    int keyed = 0;
    if (core_kwargs(args, nargs, kwnames, names, 2, 1, a) < 0 || core_timeout_ns(a[1], &timeout) < 0 ||
        core_send_opts(a[2], a[3], a[4], &c.opts) < 0)
        return NULL;
    int sync = a[7] != NULL ? PyObject_IsTrue(a[7]) : 0;
    if (sync < 0) return NULL;
    if (sync && timeout == 0)
        return core_raise(SHMQ_EINVAL, self, "sync=True needs a timeout other than 0 to wait for the disk in");
    if (a[6] != NULL && a[6] != Py_None) {
        if (check_keyed(self) < 0 || key_of(self, a[6], &key) < 0) return NULL;
        keyed = 1;
        c.opts.dedup_key = key.buf;
        c.opts.dedup_key_len = (size_t)key.len;
        c.opts.duplicate_out = &c.duplicate;
    }
    PyObject *r = NULL;
    if (core_headers_of(a[5], &h, &c.opts) == 0) {
        r = send_one(self, a[0], &c, timeout);
        core_headers_release(&h);
    }
    if (keyed) PyBuffer_Release(&key);
    return sync ? then_sync(self, r, start, timeout) : r;
}

/* ---- many messages ------------------------------------------------------- */

typedef struct {
    shmq_iov iov[BATCH];
    Py_buffer views[BATCH];
    uint64_t ids[BATCH];
    shmq_iov keys[BATCH];       /* {NULL, 0}: that message has none */
    Py_buffer key_views[BATCH]; /* .obj NULL where keys[i] is none */
    uint8_t duplicate[BATCH];
    shmq_send_opts opts;
    size_t n, done;
} batch_ctx;

static int send_batch_op(shmq_queue *q, void *ctx, int64_t ns) {
    batch_ctx *c = ctx;
    size_t sent = 0;
    shmq_send_opts o = c->opts;
    if (o.dedup_keys != NULL) {
        o.dedup_keys = c->keys + c->done;
        o.duplicate_out = c->duplicate + c->done;
    }
    int rc = shmq_send_batch_ex(q, c->iov + c->done, c->n - c->done, &o, c->ids + c->done, &sent, ns);
    c->done += sent;
    return rc;
}

static void release_views(batch_ctx *c) {
    for (size_t i = 0; i < c->n; i++) {
        PyBuffer_Release(&c->views[i]);
        if (c->key_views[i].obj != NULL) PyBuffer_Release(&c->key_views[i]);
    }
    c->n = 0;
}

/* Message n's key from the keys iterator (None: none); -1 on error. */
static int next_key(QueueObject *self, PyObject *keys, batch_ctx *c) {
    Py_buffer *v = &c->key_views[c->n];
    v->obj = NULL;
    c->keys[c->n].data = NULL;
    c->keys[c->n].len = 0;
    PyObject *key = PyIter_Next(keys);
    if (key == NULL) {
        if (!PyErr_Occurred())
            core_raise(SHMQ_EINVAL, self, "dedup_keys has fewer keys than there are messages");
        return -1;
    }
    int rc = key == Py_None ? 0 : key_of(self, key, v);
    Py_DECREF(key);
    if (rc == 0 && v->obj != NULL) {
        c->keys[c->n].data = v->buf;
        c->keys[c->n].len = (size_t)v->len;
    }
    return rc;
}

/* Up to BATCH buffers from the iterator (and as many keys from `keys`, if
 * not NULL); 0 at its end, -1 on error. */
static int fill_batch(QueueObject *self, PyObject *it, PyObject *keys, batch_ctx *c) {
    c->n = c->done = 0;
    while (c->n < BATCH) {
        PyObject *item = PyIter_Next(it);
        if (item == NULL) return PyErr_Occurred() ? -1 : 0;
        Py_buffer *v = &c->views[c->n];
        int rc = PyObject_GetBuffer(item, v, PyBUF_SIMPLE);
        Py_DECREF(item); /* the buffer export keeps the object alive */
        if (rc < 0) return -1;
        c->key_views[c->n].obj = NULL;
        if (keys != NULL && next_key(self, keys, c) < 0) {
            PyBuffer_Release(v);
            return -1;
        }
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

static int append_ids(PyObject *list, const batch_ctx *c) {
    for (size_t i = 0; i < c->done; i++) {
        PyObject *v = id_of(c->ids[i], c->opts.dedup_keys != NULL, c->duplicate[i]);
        int rc = v ? PyList_Append(list, v) : -1;
        Py_XDECREF(v);
        if (rc < 0) return -1;
    }
    return 0;
}

/* The keys' iterator (NULL with no exception: none), refusing a count that
 * differs from the messages' when both are known. */
static PyObject *keys_iter(QueueObject *self, PyObject *keys, PyObject *messages) {
    if (keys == NULL || keys == Py_None) return NULL;
    if (check_keyed(self) < 0) return NULL;
    Py_ssize_t nk = PyObject_Length(keys), nm = nk < 0 ? -1 : PyObject_Length(messages);
    if (nk < 0 || nm < 0) PyErr_Clear(); /* an iterator: checked as it goes */
    else if (nk != nm)
        return core_raise(SHMQ_EINVAL, self, "dedup_keys has %zd keys for %zd messages: give one per "
                          "message (None for none)", nk, nm);
    return PyObject_GetIter(keys);
}

static PyObject *send_many(QueueObject *self, PyObject *messages, PyObject *ids_arg, PyObject *keys_arg,
                           const shmq_send_opts *o, int64_t timeout) {
    PyObject *ids = ids_arg == NULL || ids_arg == Py_None ? NULL : ids_arg;
    if (ids && !PyList_Check(ids)) {
        PyErr_SetString(PyExc_TypeError, "ids must be a list (the ids of the messages sent are appended)");
        return NULL;
    }
    PyObject *keys = keys_iter(self, keys_arg, messages);
    if (keys == NULL && PyErr_Occurred()) return NULL;
    PyObject *it = PyObject_GetIter(messages);
    batch_ctx *c = it ? PyMem_Calloc(1, sizeof *c) : NULL;
    size_t sent = 0;
    int rc = SHMQ_OK;
    if (it && !c) PyErr_NoMemory();
    if (c) {
        c->opts = *o;
        if (keys) c->opts.dedup_keys = c->keys; /* rebased per call by send_batch_op */
    }
    while (c && (rc = fill_batch(self, it, keys, c)) >= 0 && c->n > 0) {
        rc = core_run_op(self, send_batch_op, c, timeout, send_wait_rc(self));
        sent += c->done;
        if (ids && append_ids(ids, c) < 0) rc = -1;
        if (rc == SHMQ_OK) release_views(c);
        else {
            if (rc > 0) raise_send(self, rc, c->iov[c->done].len, &c->opts);
            rc = -1;
            break;
        }
    }
    if (c) release_views(c);
    PyMem_Free(c);
    Py_XDECREF(it);
    Py_XDECREF(keys);
    if (it == NULL || c == NULL || rc < 0) {
        set_sent(sent);
        return NULL;
    }
    return PyLong_FromSize_t(sent);
}

PyObject *core_queue_send_many(QueueObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
    static const char *const names[] = {"messages", "timeout", "delay", "at", "ids", "ttl", "headers",
                                        "dedup_keys", NULL};
    PyObject *a[8];
    int64_t timeout;
    shmq_send_opts opts;
    core_headers h;
    if (core_kwargs(args, nargs, kwnames, names, 2, 1, a) < 0 || core_timeout_ns(a[1], &timeout) < 0 ||
        core_send_opts(a[2], a[3], a[5], &opts) < 0 || core_headers_of(a[6], &h, &opts) < 0)
        return NULL;
    PyObject *r = send_many(self, a[0], a[4], a[7], &opts, timeout);
    core_headers_release(&h);
    return r;
}
