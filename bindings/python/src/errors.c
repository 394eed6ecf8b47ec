/* Raising libshmq's codes as the classes of shmq/errors.py, with messages
 * that name the queue and the sizes involved. */
#include "core.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

static PyObject *by_code; /* dict: code -> class, from errors.py */
static PyObject *base_error;

int core_errors_register(PyObject *dict) {
    PyObject *base = PyDict_GetItemString(dict, "base");
    if (base == NULL) {
        PyErr_SetString(PyExc_TypeError, "register_errors: the dict needs a 'base' entry");
        return -1;
    }
    Py_INCREF(dict);
    Py_INCREF(base);
    Py_XDECREF(by_code);
    Py_XDECREF(base_error);
    by_code = dict;
    base_error = base;
    return 0;
}

static PyObject *class_for(int rc) {
    PyObject *key = PyLong_FromLong(rc);
    if (key == NULL) return NULL;
    PyObject *cls = by_code ? PyDict_GetItemWithError(by_code, key) : NULL;
    Py_DECREF(key);
    if (cls == NULL && !PyErr_Occurred()) cls = base_error ? base_error : PyExc_RuntimeError;
    return cls;
}

static PyObject *raise_message(int rc, PyObject *message, int err) {
    PyObject *cls = class_for(rc);
    if (cls == NULL || message == NULL) return NULL;
    PyObject *exc = PyObject_CallFunctionObjArgs(cls, message, NULL);
    if (exc == NULL) return NULL;
    PyObject *code = PyLong_FromLong(rc), *eno = PyLong_FromLong(err);
    if (code == NULL || eno == NULL || PyObject_SetAttrString(exc, "code", code) < 0 ||
        (rc == SHMQ_ESYS && PyObject_SetAttrString(exc, "errno", eno) < 0)) {
        Py_XDECREF(code);
        Py_XDECREF(eno);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(code);
    Py_DECREF(eno);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

/* Raise `rc` with a message made from fmt (PyUnicode_FromFormat syntax). */
PyObject *core_raise(int rc, QueueObject *q, const char *fmt, ...) {
    int err = errno;
    (void)q;
    va_list ap;
    va_start(ap, fmt);
    PyObject *message = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    PyObject *r = raise_message(rc, message, err);
    Py_XDECREF(message);
    return r;
}

/* What the handle is on, for messages: "queue 'x'", "topic 'x'" or
 * "topic 'x' group 'y'" (a new reference). */
PyObject *core_label(QueueObject *q) {
    if (q->group) return PyUnicode_FromFormat("topic '%U' group '%U'", q->name, q->group);
    return PyUnicode_FromFormat("%s '%U'", q->max_groups ? "topic" : "queue", q->name);
}

/* What a topic's or a group's handle cannot do, said for `rc`; NULL if not that. */
static PyObject *topic_message(int rc, const char *what, QueueObject *q, PyObject *label) {
    if (!q->max_groups && !q->group) return NULL; /* (a group being opened: not attached yet) */
    if (rc == SHMQ_ENOTFOUND && q->group)
        return PyUnicode_FromFormat("no group '%U' on topic '%U' (or no topic '%U')", q->group,
                                    q->name, q->name);
    if (rc == SHMQ_ENOTFOUND)
        return PyUnicode_FromFormat("no consumer group is bound to %U: nothing was sent "
                                    "(add_group first)", label);
    if (rc == SHMQ_EINVAL && q->group)
        return PyUnicode_FromFormat("%s (%U: a group's handle only receives)", what, label);
    if (rc == SHMQ_EINVAL)
        return PyUnicode_FromFormat("%s (%U: its handle only publishes; receive through a "
                                    "group: Queue.open_group)", what, label);
    return NULL;
}

/* The message for `rc` on a handle on `label` (NULL: unknown). */
static PyObject *plain_message(int rc, const char *what, int err, QueueObject *q,
                               PyObject *label) {
    if (rc == SHMQ_EPREFETCH && label)
        return PyUnicode_FromFormat("this handle already holds its prefetch limit of %u "
                                    "leases of %U: ack some first", q->prefetch, label);
    if (rc == SHMQ_EFULL && label) return PyUnicode_FromFormat("%U is full", label);
    if (rc == SHMQ_ESYS && label)
        return PyUnicode_FromFormat("%s: %s (%U)", what, strerror(err), label);
    if (rc == SHMQ_ESYS) return PyUnicode_FromFormat("%s: %s", what, strerror(err));
    if (label) return PyUnicode_FromFormat("%s (%U)", what, label);
    return PyUnicode_FromString(what);
}

/* Raise `rc` with libshmq's description, what this handle knows, and what it
 * is on (q may be NULL). */
PyObject *core_raise_code(int rc, QueueObject *q) {
    int err = errno;
    const char *what = shmq_strerror(rc);
    PyObject *label = q && q->name ? core_label(q) : NULL;
    if (q && q->name && label == NULL) return NULL;
    PyObject *message = label ? topic_message(rc, what, q, label) : NULL;
    if (message == NULL && !PyErr_Occurred()) message = plain_message(rc, what, err, q, label);
    Py_XDECREF(label);
    PyObject *r = raise_message(rc, message, err);
    Py_XDECREF(message);
    return r;
}
