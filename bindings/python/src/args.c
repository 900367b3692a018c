/*
 * args.c - turning Python arguments into what the library takes.
 *
 * Keys are bytes-like objects or str (encoded as UTF-8: a str key and its
 * encoding are the same key); values are bytes-like only, since a str
 * value would have to guess its encoding on the way back.  Bad ones raise
 * before the library is called, with messages that name the problem.
 */
#include "pyshmkv.h"

#include <errno.h>
#include <math.h>

static int borrow(PyObject *o, bytes_arg *a, const char *what, int str_ok)
{
    a->viewing = 0;
    if (PyBytes_CheckExact(o)) {
        a->p = PyBytes_AS_STRING(o);
        a->n = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyUnicode_Check(o)) {
        if (!str_ok) {
            PyErr_Format(PyExc_TypeError, "%s must be a bytes-like object, not str "
                         "(encode it first)", what);
            return -1;
        }
        a->p = PyUnicode_AsUTF8AndSize(o, &a->n);
        return a->p ? 0 : -1;
    }
    if (!PyObject_CheckBuffer(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be %s, not %.100s", what,
                     str_ok ? "bytes or str" : "a bytes-like object", Py_TYPE(o)->tp_name);
        return -1;
    }
    if (PyObject_GetBuffer(o, &a->view, PyBUF_SIMPLE) < 0)
        return -1;
    a->viewing = 1;
    a->p = a->view.buf;
    a->n = a->view.len;
    return 0;
}

int key_arg(PyObject *o, bytes_arg *a)
{
    if (borrow(o, a, "key", 1) < 0)
        return -1;
    if (a->n == 0 || (size_t)a->n > SHMKV_KEY_MAX) {
        if (a->n == 0)
            raise_msg(EINVAL, "empty key (keys are 1 to %u bytes)", SHMKV_KEY_MAX);
        else
            raise_msg(E2BIG, "key of %zd bytes (keys are 1 to %u bytes)", a->n, SHMKV_KEY_MAX);
        arg_done(a);
        return -1;
    }
    return 0;
}

int value_arg(PyObject *o, bytes_arg *a)
{
    if (borrow(o, a, "value", 0) < 0)
        return -1;
    if ((uint64_t)a->n > SHMKV_VAL_MAX) {
        raise_msg(E2BIG, "value of %zd bytes (values are at most %u bytes)", a->n,
                  SHMKV_VAL_MAX);
        arg_done(a);
        return -1;
    }
    return 0;
}

void arg_done(bytes_arg *a)
{
    if (a->viewing)
        PyBuffer_Release(&a->view);
    a->viewing = 0;
}

/* A number of seconds (int or float) or, with a TypeError, -1. */
static int seconds(PyObject *o, const char *name, double *s)
{
    if (!PyFloat_Check(o) && !PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a number of seconds or None, not %.100s", name,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    *s = PyFloat_AsDouble(o);
    return *s == -1.0 && PyErr_Occurred() ? -1 : 0;
}

int ttl_arg(PyObject *o, uint64_t *ms)
{
    *ms = 0;
    if (!o || o == Py_None)
        return 0;
    double s;
    if (seconds(o, "ttl", &s) < 0)
        return -1;
    /* Whole milliseconds, rounded up, so that no ttl > 0 becomes 0 (never). */
    double m = ceil(s * 1000.0);
    if (!(s > 0) || m > (double)SHMKV_TTL_MAX) {
        raise_msg(EINVAL, "ttl must be more than 0 and at most %llu seconds, or None "
                  "(never expires)", (unsigned long long)(SHMKV_TTL_MAX / 1000));
        return -1;
    }
    *ms = (uint64_t)m;
    return 0;
}

int timeout_arg(PyObject *o, int64_t *ms)
{
    *ms = 0;
    if (!o)
        return 0;
    if (o == Py_None) {
        *ms = -1;
        return 0;
    }
    double s;
    if (seconds(o, "timeout", &s) < 0)
        return -1;
    if (!(s >= 0)) {
        raise_msg(EINVAL, "timeout must be 0 (do not wait) or more seconds, or None (wait "
                  "for ever)");
        return -1;
    }
    /* Whole milliseconds, rounded up, so that no timeout > 0 becomes 0
     * (no wait); beyond any lifetime it is for ever. */
    double m = ceil(s * 1000.0);
    *ms = m > (double)SHMKV_TTL_MAX ? -1 : (int64_t)m;
    return 0;
}

int end_arg(PyObject *o, const char *name, int dflt, int *end)
{
    *end = dflt;
    if (!o)
        return 0;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be \"head\" or \"tail\", not %.100s", name,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    if (PyUnicode_CompareWithASCIIString(o, "head") == 0)
        *end = SHMKV_HEAD;
    else if (PyUnicode_CompareWithASCIIString(o, "tail") == 0)
        *end = SHMKV_TAIL;
    else {
        raise_msg(EINVAL, "%s must be \"head\" or \"tail\"", name);
        return -1;
    }
    return 0;
}

int u64_arg(PyObject *o, void *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "expected an int, not %.100s", Py_TYPE(o)->tp_name);
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return 0;
    *(uint64_t *)out = v;
    return 1;
}

static int kw_index(PyObject *name, const char *const *kw)
{
    for (int i = 0; kw[i]; i++)
        if (PyUnicode_CompareWithASCIIString(name, kw[i]) == 0)
            return i;
    return -1;
}

int parse_args(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               int nreq, int npos, const char *const *kw, PyObject **out)
{
    int nkw = 0;
    while (kw && kw[nkw])
        nkw++;
    for (int i = 0; i < npos + nkw; i++)
        out[i] = NULL;
    if (nargs < nreq || nargs > npos) {
        if (nreq == npos)
            PyErr_Format(PyExc_TypeError, "%s() takes %d positional argument%s (%zd given)",
                         fn, npos, npos == 1 ? "" : "s", nargs);
        else
            PyErr_Format(PyExc_TypeError, "%s() takes %d to %d positional arguments "
                         "(%zd given)", fn, nreq, npos, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nk; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        int j = kw ? kw_index(name, kw) : -1;
        if (j < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                         fn, name);
            return -1;
        }
        out[npos + j] = args[nargs + i];
    }
    return 0;
}
