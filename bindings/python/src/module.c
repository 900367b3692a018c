/*
 * module.c - the extension module shmkv._shmkv: its types, exceptions and
 * constants, shmkv.unlink, and a timing helper for the benchmark.  The
 * package shmkv (shmkv/__init__.py) builds the public API on it.
 */
#include "pyshmkv.h"

#include <errno.h>
#include <time.h>

static PyObject *m_unlink(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *names[] = {"name", "missing_ok", NULL};
    PyObject *name, *path;
    int missing_ok = 0;
    (void)mod;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$p:unlink", names, &name, &missing_ok) ||
        !PyUnicode_FSConverter(name, &path))
        return NULL;
    int rc = shmkv_unlink(PyBytes_AS_STRING(path));
    Py_DECREF(path);
    if (rc && !(rc == -ENOENT && missing_ok))
        return raise_rc(rc, name);
    Py_RETURN_NONE;
}

/* _c_get_loop(table, keys) -> seconds that one shmkv_get() of each of
 * keys (bytes) took, called from C: the benchmark compares it with the
 * time of Table.get over the same keys to find what the binding adds. */
static PyObject *m_c_get_loop(PyObject *mod, PyObject *args)
{
    TableObject *t;
    PyObject *keys;
    (void)mod;
    if (!PyArg_ParseTuple(args, "O!O!:_c_get_loop", &Table_Type, &t, &PyTuple_Type, &keys))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!PyBytes_CheckExact(PyTuple_GET_ITEM(keys, i)))
            return PyErr_Format(PyExc_TypeError, "_c_get_loop: keys must be bytes");
    shmkv *db = table_enter(t);
    if (!db)
        return NULL;
    char buf[1024];
    size_t vlen;
    int rc = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
        PyObject *k = PyTuple_GET_ITEM(keys, i);
        rc = shmkv_get(db, PyBytes_AS_STRING(k), (size_t)PyBytes_GET_SIZE(k), buf, sizeof buf,
                       &vlen);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    table_leave(t);
    if (rc)
        return raise_rc(rc, NULL);
    return PyFloat_FromDouble((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
}

static PyMethodDef m_methods[] = {
    {"unlink", (PyCFunction)(void (*)(void))m_unlink, METH_VARARGS | METH_KEYWORDS,
     "unlink(name, *, missing_ok=False)\n--\n\n"
     "Remove a table's file (name as for Table).  Processes that have it open\n"
     "keep using it until they close it.  Raises NotFoundError (a\n"
     "FileNotFoundError) if there is no such table, unless missing_ok."},
    {"_c_get_loop", m_c_get_loop, METH_VARARGS,
     "_c_get_loop(table, keys, /)\n--\n\nBenchmark helper: seconds of one C get of each key."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef m_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "shmkv._shmkv",
    .m_doc = "The C extension under the shmkv package (import shmkv).",
    .m_size = -1,
    .m_methods = m_methods,
};

/* Add a new reference (NULL: the error of making it). */
static int add_new(PyObject *m, const char *name, PyObject *o)
{
    int rc = o ? PyModule_AddObjectRef(m, name, o) : -1;
    Py_XDECREF(o);
    return rc;
}

static int add_constants(PyObject *m)
{
    return PyModule_AddIntConstant(m, "KEY_MAX", SHMKV_KEY_MAX) < 0 ||
           add_new(m, "VAL_MAX", PyLong_FromUnsignedLong(SHMKV_VAL_MAX)) < 0 ||
           add_new(m, "TTL_MAX", PyFloat_FromDouble((double)(SHMKV_TTL_MAX / 1000))) < 0 ||
           PyModule_AddIntConstant(m, "MIN_BYTES", SHMKV_MIN_BYTES) < 0 ||
           PyModule_AddStringConstant(m, "LIBRARY_VERSION", SHMKV_VERSION_STRING) < 0
               ? -1 : 0;
}

PyMODINIT_FUNC PyInit__shmkv(void);

PyMODINIT_FUNC PyInit__shmkv(void)
{
    if (PyType_Ready(&Table_Type) < 0 || PyType_Ready(&Scan_Type) < 0 || table_init() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&m_def);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Table", (PyObject *)&Table_Type) < 0 ||
        errors_init(m) < 0 || add_constants(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
