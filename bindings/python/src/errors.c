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

/* Raise `rc` with libshmq's description, what this handle knows, and the
 * queue's name (q may be NULL). */
PyObject *core_raise_code(int rc, QueueObject *q) {
    int err = errno;
    const char *what = shmq_strerror(rc);
    PyObject *name = q && q->name ? q->name : NULL;
    PyObject *message;
    if (rc == SHMQ_EPREFETCH && name)
        message = PyUnicode_FromFormat("this handle already holds its prefetch limit of %u "
                                       "leases of queue '%U': ack some first", q->prefetch, name);
    else if (rc == SHMQ_EFULL && name)
        message = PyUnicode_FromFormat("queue '%U' is full", name);
    else if (rc == SHMQ_ESYS && name)
        message = PyUnicode_FromFormat("%s: %s (queue '%U')", what, strerror(err), name);
    else if (rc == SHMQ_ESYS)
        message = PyUnicode_FromFormat("%s: %s", what, strerror(err));
    else if (name)
        message = PyUnicode_FromFormat("%s (queue '%U')", what, name);
    else
        message = PyUnicode_FromString(what);
    PyObject *r = raise_message(rc, message, err);
    Py_XDECREF(message);
    return r;
}
