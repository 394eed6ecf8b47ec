/* The module shmq._core: its types, a few module functions, the check that
 * the loaded libshmq matches the header it was compiled against, and the
 * fork counter that lets a Queue notice it is in a forked child. */
#include "core.h"

#include <pthread.h>

volatile unsigned long core_fork_generation;

static void after_fork_in_child(void) {
    core_fork_generation++;
}

static PyObject *mod_register(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *errors, *utc_from_ns, *send_result;
    if (!PyArg_ParseTuple(args, "O!OO", &PyDict_Type, &errors, &utc_from_ns, &send_result)) return NULL;
    if (core_errors_register(errors) < 0 || core_message_set_helper(utc_from_ns) < 0 ||
        core_send_set_result_type(send_result) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *mod_version(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLong(shmq_version());
}

static PyObject *mod_strerror(PyObject *module, PyObject *code) {
    (void)module;
    long rc = PyLong_AsLong(code);
    if (rc == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(shmq_strerror((int)rc));
}

/* name_check(bytes) -> int: shmq_name_check's code (a NUL byte is EBADNAME). */
static PyObject *mod_name_check(PyObject *module, PyObject *name) {
    (void)module;
    char *s;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(name, &s, &n) < 0) return NULL;
    return PyLong_FromLong((Py_ssize_t)strlen(s) != n ? SHMQ_EBADNAME : shmq_name_check(s));
}

/* unlink(bytes) -> int: shmq_unlink's code; the caller checked the name. */
static PyObject *mod_unlink(PyObject *module, PyObject *name) {
    (void)module;
    char *s;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(name, &s, &n) < 0) return NULL;
    if ((Py_ssize_t)strlen(s) != n) return PyLong_FromLong(SHMQ_EBADNAME);
    return PyLong_FromLong(shmq_unlink(s));
}

static PyMethodDef module_methods[] = {
    {"register", mod_register, METH_VARARGS, "register(errors_by_code, utc_from_ns, SendResult)"},
    {"version", mod_version, METH_NOARGS, "libshmq's runtime version number"},
    {"strerror", mod_strerror, METH_O, "shmq_strerror(code)"},
    {"name_check", mod_name_check, METH_O, "shmq_name_check(name) as a code"},
    {"unlink", mod_unlink, METH_O, "shmq_unlink(name) as a code"},
    {"default_params", core_default_params, METH_NOARGS, "libshmq's default parameters"},
    {NULL, NULL, 0, NULL},
};

static int check_library(void) {
    uint32_t v = shmq_version();
    if (v / 100 != SHMQ_VERSION / 100) {
        PyErr_Format(PyExc_ImportError, "shmq._core was built for libshmq %d.%d but loaded %u.%u",
                     SHMQ_VERSION_MAJOR, SHMQ_VERSION_MINOR, v / 10000, v / 100 % 100);
        return -1;
    }
    return 0;
}

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "shmq._core", "The compiled part of the shmq binding.", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
    static int atfork_done;
    if (check_library() < 0) return NULL;
    if (!atfork_done && pthread_atfork(NULL, NULL, after_fork_in_child) == 0) atfork_done = 1;
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL) return NULL;
    if (core_queue_init_type(m) < 0 || core_message_init_type(m) < 0 ||
        PyModule_AddIntConstant(m, "FOREVER", -1) < 0 ||
        PyModule_AddIntConstant(m, "MAX_GROUPS", SHMQ_MAX_GROUPS) < 0 ||
        PyModule_AddIntConstant(m, "MAX_DEDUP_KEY", SHMQ_MAX_DEDUP_KEY) < 0 ||
        PyModule_AddIntConstant(m, "HEADER_VERSION", SHMQ_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
