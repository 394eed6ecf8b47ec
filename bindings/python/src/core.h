/*
 * shmq._core: the compiled part of the Python binding (CPython C API, the
 * limited API of 3.11 where the build defines Py_LIMITED_API).
 *
 * Two types: Queue (one shmq_queue handle, subclassed by shmq.Queue in
 * Python) and Message (one leased shmq_msg). Hot calls run with the GIL held
 * and timeout 0 first; only a call that must wait releases the GIL, in slices
 * of at most 100 ms so that close() from another thread and signal handlers
 * (Ctrl-C) take effect between slices. Errors are raised as the exception
 * classes errors.py registers (register_errors).
 */
#ifndef SHMQ_PY_CORE_H
#define SHMQ_PY_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <shmq/shmq.h>
#include <string.h>

/* One queue handle. Everything here is read and written with the GIL held. */
typedef struct {
    PyObject_HEAD
    shmq_queue *q;        /* NULL before attach, once closed, or in a forked child */
    shmq_queue *closing;  /* closed while in use: detached when busy drops to 0 */
    Py_ssize_t busy;      /* calls waiting without the GIL, async waiters, buffer exports */
    unsigned long fork_generation; /* core_fork_generation when attached */
    PyObject *name;       /* str: the queue's or the topic's name */
    PyObject *group;      /* str: the consumer group of topic `name`, or NULL */
    uint32_t prefetch, spin_ns, wait, slot_size, overflow; /* wait: shmq_wait */
    uint32_t max_groups;  /* > 0: a topic (a publishing handle, or a group's if `group`) */
    uint32_t dedup_window_ms; /* > 0: sends may carry deduplication keys */
} QueueObject;

/* A leased message. `h` is the handle it was leased through: finishing it
 * through another (a reopened or closed one) is refused. */
typedef struct {
    PyObject_HEAD
    QueueObject *queue;   /* strong reference */
    shmq_queue *h;
    shmq_msg m;
    PyObject *data;       /* bytes copy, or NULL until asked (recv(copy=False)) */
    PyObject *views;      /* list of memoryviews handed out by view(), or NULL */
    PyObject *headers;    /* dict copied at receive; NULL: none; None: a damaged block */
    int done;
} MessageObject;

/* A send's headers as C pairs (headers.c); release after the send. */
typedef struct {
    shmq_header pairs[SHMQ_MAX_HEADERS];
    PyObject *keep; /* holds the strings the pairs point into */
} core_headers;

extern PyObject *core_queue_type;
extern PyObject *core_message_type;
extern volatile unsigned long core_fork_generation;

/* errors.c */
int core_errors_register(PyObject *by_code);
PyObject *core_raise(int rc, QueueObject *q, const char *fmt, ...);
PyObject *core_raise_code(int rc, QueueObject *q);
PyObject *core_label(QueueObject *q);

/* args.c */
int core_timeout_ns(PyObject *timeout, int64_t *out);
int core_send_opts(PyObject *delay, PyObject *at, PyObject *ttl, shmq_send_opts *o);
int core_kwargs(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                const char *const *names, Py_ssize_t npos, Py_ssize_t nreq, PyObject **out);

/* queue.c */
typedef int (*core_op_fn)(shmq_queue *q, void *ctx, int64_t timeout_ns);
int core_run_op(QueueObject *self, core_op_fn op, void *ctx, int64_t timeout, int wait_rc);
int core_queue_init_type(PyObject *module);
shmq_queue *core_queue_handle(QueueObject *self);
void core_queue_release(QueueObject *self);

/* params.c */
PyObject *core_default_params(PyObject *module, PyObject *unused);
PyObject *core_params_dict(const shmq_params *p);
int core_params_from(PyObject *dict, shmq_params *p);
PyObject *core_queue_params(QueueObject *self, PyObject *unused);

/* send.c */
PyObject *core_queue_send(QueueObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *core_queue_send_many(QueueObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames);
int core_send_set_result_type(PyObject *cls);

/* observe.c */
PyObject *core_queue_stats(QueueObject *self, PyObject *cap);
PyObject *core_queue_qsize(QueueObject *self, PyObject *unused);
PyObject *core_queue_recover(QueueObject *self, PyObject *unused);
PyObject *core_queue_sync(QueueObject *self, PyObject *args, PyObject *kwargs);
PyObject *core_queue_flush(QueueObject *self, PyObject *unused);
PyObject *core_queue_ready_fd(QueueObject *self, PyObject *unused);
PyObject *core_queue_enter(QueueObject *self, PyObject *unused);
PyObject *core_queue_leave(QueueObject *self, PyObject *unused);

/* headers.c */
int core_headers_of(PyObject *headers, core_headers *h, shmq_send_opts *o);
void core_headers_release(core_headers *h);
PyObject *core_headers_dict(shmq_queue *q, const shmq_msg *m);

/* message.c */
int core_message_init_type(PyObject *module);
PyObject *core_message_new(QueueObject *queue, const shmq_msg *m, int copy);
PyObject *core_ack_many(QueueObject *queue, PyObject *messages);
int core_message_set_helper(PyObject *fn);

/* A method of any signature as a PyCFunction, without -Wcast-function-type. */
#define FN(f) ((PyCFunction)(void (*)(void))(f))

#endif
