/* Argument parsing for METH_FASTCALL | METH_KEYWORDS methods, and timeouts. */
#include "core.h"

#include <math.h>
#include <time.h>

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

/* seconds as a float, or a timedelta (anything with total_seconds()). */
static int seconds_of(PyObject *v, double *out) {
    PyObject *f = PyObject_HasAttrString(v, "total_seconds")
                      ? PyObject_CallMethod(v, "total_seconds", NULL)
                      : (Py_INCREF(v), v);
    if (f == NULL) return -1;
    *out = PyFloat_AsDouble(f);
    Py_DECREF(f);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* A send's `ttl` (seconds or timedelta; None: the queue's; math.inf: never)
 * into o->ttl_ns. */
static int ttl_of(PyObject *ttl, shmq_send_opts *o) {
    double s = 0;
    if (ttl == NULL || ttl == Py_None) return 0;
    if (seconds_of(ttl, &s) < 0) return -1;
    if (isinf(s) && s > 0) {
        o->ttl_ns = SHMQ_TTL_NEVER;
        return 0;
    }
    if (isnan(s) || s <= 0) {
        core_raise(SHMQ_EINVAL, NULL, "ttl must be > 0 seconds (None: the queue's, math.inf: never), got %R", ttl);
        return -1;
    }
    if (s * 1e9 > (double)SHMQ_MAX_TTL_NS) {
        core_raise(SHMQ_ERANGE, NULL, "ttl of %lld s is beyond the longest, 7 days", (long long)s);
        return -1;
    }
    o->ttl_ns = (int64_t)ceil(s * 1e9);
    return 0;
}

/* A send's `delay` (seconds or timedelta) or `at` (a datetime, or a Unix
 * time in seconds: the delay is what is left until then, none if past), and
 * its `ttl`, as shmq_send_opts. At most one of delay and at. */
int core_send_opts(PyObject *delay, PyObject *at, PyObject *ttl, shmq_send_opts *o) {
    shmq_send_opts_init(o);
    if (ttl_of(ttl, o) < 0) return -1;
    int has_delay = delay != NULL && delay != Py_None, has_at = at != NULL && at != Py_None;
    if (has_delay && has_at) {
        core_raise(SHMQ_EINVAL, NULL, "give delay or at, not both");
        return -1;
    }
    double s = 0;
    if (has_delay && seconds_of(delay, &s) < 0) return -1;
    if (has_at) {
        PyObject *ts = PyObject_HasAttrString(at, "timestamp") ? PyObject_CallMethod(at, "timestamp", NULL)
                                                                 : (Py_INCREF(at), at);
        if (ts == NULL) return -1;
        double t = PyFloat_AsDouble(ts);
        Py_DECREF(ts);
        if (t == -1.0 && PyErr_Occurred()) return -1;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        s = t - ((double)now.tv_sec + now.tv_nsec / 1e9);
        if (s < 0) s = 0;
    }
    if (isnan(s) || s < 0) {
        core_raise(SHMQ_EINVAL, NULL, "delay must be >= 0 seconds, got %R", has_delay ? delay : at);
        return -1;
    }
    if (s * 1e9 > (double)SHMQ_MAX_DELAY_NS) {
        core_raise(SHMQ_ERANGE, NULL, "delay of %lld s is beyond the longest, 14 days", (long long)s);
        return -1;
    }
    o->delay_ns = (int64_t)ceil(s * 1e9);
    return 0;
}
