/* Message headers in the Python binding: a send's `headers` mapping of str to
 * str as shmq_header pairs (their UTF-8 kept alive by the strings, held in
 * `keep` until the send returns), and a received message's header block as a
 * dict, copied at receive so that it outlives the lease. The core checks the
 * rules (shmq.h) and answers InvalidArgument or TooBig; only what C strings
 * cannot carry (a NUL) and non-str items are refused here. */
#include "core.h"

#include <string.h>

void core_headers_release(core_headers *h) {
    Py_CLEAR(h->keep);
}

static int pair_of(PyObject *k, PyObject *v, shmq_header *out) {
    if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "headers must map str to str, got %R: %R", k, v);
        return -1;
    }
    Py_ssize_t kn, vn;
    const char *ks = PyUnicode_AsUTF8AndSize(k, &kn), *vs = ks ? PyUnicode_AsUTF8AndSize(v, &vn) : NULL;
    if (vs == NULL) return -1; /* a lone surrogate: not encodable as UTF-8 */
    if ((size_t)kn != strlen(ks) || (size_t)vn != strlen(vs)) {
        core_raise(SHMQ_EINVAL, NULL, "header %R: keys and values may not contain NUL", k);
        return -1;
    }
    out->key = ks;
    out->value = vs;
    return 0;
}

int core_headers_of(PyObject *headers, core_headers *h, shmq_send_opts *o) {
    h->keep = NULL;
    if (headers == NULL || headers == Py_None) return 0;
    if (!PyMapping_Check(headers) || PyUnicode_Check(headers) || PyBytes_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "headers must be a mapping of str to str, got %R", headers);
        return -1;
    }
    PyObject *items = PyMapping_Items(headers);
    if (items == NULL) return -1;
    Py_ssize_t n = PyList_Size(items);
    if (n > SHMQ_MAX_HEADERS) {
        Py_DECREF(items);
        core_raise(SHMQ_EINVAL, NULL, "%zd headers: at most %d", n, SHMQ_MAX_HEADERS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *kv = PyList_GetItem(items, i);
        if (pair_of(PyTuple_GetItem(kv, 0), PyTuple_GetItem(kv, 1), &h->pairs[i]) < 0) {
            Py_DECREF(items);
            return -1;
        }
    }
    h->keep = items; /* its tuples hold the strings whose UTF-8 the pairs point at */
    o->headers = h->pairs;
    o->header_count = (size_t)n;
    return 0;
}

PyObject *core_headers_dict(shmq_queue *q, const shmq_msg *m) {
    const void *block;
    size_t len, pos = 0, kl, vl;
    const char *k, *v;
    int rc = shmq_msg_headers(q, m, &block, &len);
    PyObject *d = rc == SHMQ_OK ? PyDict_New() : NULL;
    while (d && (rc = shmq_headers_next(block, len, &pos, &k, &kl, &v, &vl)) == SHMQ_OK) {
        PyObject *ko = PyUnicode_DecodeUTF8(k, (Py_ssize_t)kl, "strict");
        PyObject *vo = ko ? PyUnicode_DecodeUTF8(v, (Py_ssize_t)vl, "strict") : NULL;
        if (vo == NULL || PyDict_SetItem(d, ko, vo) < 0) Py_CLEAR(d);
        Py_XDECREF(ko);
        Py_XDECREF(vo);
    }
    if (d && rc != SHMQ_EEMPTY) Py_CLEAR(d);
    if (d == NULL && !PyErr_Occurred()) core_raise_code(rc, NULL);
    return d;
}
