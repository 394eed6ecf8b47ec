/* Argument parsing for METH_FASTCALL | METH_KEYWORDS methods, and timeouts. */
#include "core.h"

#include <math.h>

/* Seconds (None: forever) as libshmq's nanoseconds (SHMQ_FOREVER). */
int core_timeout_ns(PyObject *timeout, int64_t *out) {
    if (timeout == NULL || timeout == Py_None) {
        *out = SHMQ_FOREVER;
        return 0;
    }
    double s = PyFloat_AsDouble(timeout);
    if (s == -1.0 && PyErr_Occurred()) return -1;
    if (isnan(s) || s < 0) {
        core_raise(SHMQ_EINVAL, NULL, "timeout must be None or >= 0, got %R", timeout);
        return -1;
    }
    *out = s * 1e9 >= 9.2e18 ? SHMQ_FOREVER : (int64_t)(s * 1e9);
    return 0;
}

/* Fill out[0..len(names)) from positional args (at most npos, at least nreq)
 * and keywords; missing ones stay NULL. Borrowed references. */
int core_kwargs(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                const char *const *names, Py_ssize_t npos, Py_ssize_t nreq, PyObject **out) {
    Py_ssize_t n = 0;
    while (names[n]) out[n++] = NULL;
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError, "takes at most %zd positional arguments (%zd given)",
                     npos, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) out[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_Size(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GetItem(kwnames, k);
        Py_ssize_t i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) i++;
        if (i == n || out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "unexpected or repeated keyword argument '%U'", key);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (Py_ssize_t i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "missing required argument '%s'", names[i]);
            return -1;
        }
    }
    return 0;
}
