/* Queue parameters as dicts for Python: libshmq's defaults, the parameters a
 * Queue.create() passes in (checked field by field), and a queue's own. */
#include "core.h"

static const char *const param_names[] = {"slot_size", "slot_count", "max_clients", "lease_ms",
    "max_attempts", "backoff_base_ms", "backoff_cap_ms", "jitter", "overflow", "mode", "ttl_ms", "max_groups",
    "dedup_window_ms", "dedup_capacity", "durability", NULL};

static uint32_t *param_field(shmq_params *p, int i) {
    uint32_t *f[] = {&p->slot_size, &p->slot_count, &p->max_clients, &p->lease_ms,
                     &p->max_attempts, &p->backoff_base_ms, &p->backoff_cap_ms, &p->jitter,
                     &p->overflow, &p->mode, &p->ttl_ms, &p->max_groups,
                     &p->dedup_window_ms, &p->dedup_capacity, &p->durability};
    return f[i];
}

PyObject *core_params_dict(const shmq_params *p) {
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
    return core_params_dict(&p);
}

int core_params_from(PyObject *dict, shmq_params *p) {
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

PyObject *core_queue_params(QueueObject *self, PyObject *unused) {
    (void)unused;
    shmq_queue *q = core_queue_handle(self);
    shmq_params p;
    shmq_params_init(&p);
    int rc = q ? shmq_get_params(q, &p) : -1;
    if (rc != SHMQ_OK) return rc < 0 ? NULL : core_raise_code(rc, self);
    return core_params_dict(&p);
}

