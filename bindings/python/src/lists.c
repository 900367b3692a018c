/*
 * lists.c - the Table methods on lists and queues: push, push_many,
 * list_pop, list_pop_many, move, llen, lrange.  (Table.pop is the
 * mapping's: remove a pair.  Hence list_pop.)
 *
 * Every call but llen (a lock-free read) runs without the GIL: each takes
 * the key's shard lock, and a pop or a move may wait.  A waiting call
 * sleeps in the kernel, woken by a push from any process.  When a signal
 * handler runs meanwhile the library returns -EINTR: then Python's own
 * handlers run (PyErr_CheckSignals), and unless one raised (Ctrl-C) the
 * wait resumes for the time left, as PEP 475 asks of blocking calls.  A
 * signal that comes while the library is between two of its sleeps does
 * not interrupt it, so a long wait goes to the library in slices of
 * SLICE_MS, after each of which the handlers run too.
 *
 * An element's size is not known before it is popped: a pop goes into a
 * buffer of ours, and an element too big for it (-ENOBUFS: nothing is
 * removed) grows the buffer to its size for another try.
 */
#include "pyshmkv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What list_pop_many asks for at first: more elements per call than fit
 * in this many bytes need another call. */
#define MANY_BYTES (64 * 1024)
#define SLICE_MS 250

/* One pop or move in progress. */
struct popping {
    bytes_arg key, dst;   /* dst: a move's destination */
    int from, to, moving;
    size_t max, n;        /* elements wanted, got */
    size_t *lens;         /* their lengths: one, or max of them */
    size_t one;
    char *buf;            /* small, or malloc()ed */
    size_t cap;
    char small[4096];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pop_call(shmkv *db, struct popping *p, int64_t ms)
{
    if (!p->moving)
        return shmkv_pop_many(db, p->key.p, (size_t)p->key.n, p->from, p->buf, p->cap, p->lens,
                              p->max, &p->n, ms);
    int rc = shmkv_move(db, p->key.p, (size_t)p->key.n, p->from, p->dst.p, (size_t)p->dst.n,
                        p->to, p->buf, p->cap, p->lens, ms);
    p->n = rc == 0;
    return rc;
}

/* Room for size bytes in p->buf; 0 or PY_ERR. */
static int grow(struct popping *p, size_t size)
{
    char *nb = realloc(p->buf == p->small ? NULL : p->buf, size);
    if (!nb) {
        PyErr_NoMemory();
        return PY_ERR;
    }
    p->buf = nb;
    p->cap = size;
    return 0;
}

/* Pop or move, waiting up to ms (-1: for ever; 0: not at all), without
 * the GIL.  0, -EAGAIN (nothing came), another library code, or PY_ERR. */
static int pop_wait(TableObject *t, struct popping *p, int64_t ms)
{
    int64_t deadline = ms > 0 ? now_ms() + ms : 0;
    for (;;) {
        shmkv *db = table_enter(t);
        if (!db)
            return PY_ERR;
        int rc;
        int64_t slice = ms < 0 || ms > SLICE_MS ? SLICE_MS : ms;
        Py_BEGIN_ALLOW_THREADS
        rc = pop_call(db, p, slice);
        Py_END_ALLOW_THREADS
        table_leave(t);
        if (rc == -ENOBUFS && grow(p, p->lens[0] > p->cap * 2 ? p->lens[0] : p->cap * 2))
            return PY_ERR;
        if (rc != -ENOBUFS && rc != -EINTR && (rc != -EAGAIN || ms == 0))
            return rc;
        if (PyErr_CheckSignals() < 0)
            return PY_ERR;
        if (deadline)
            ms = deadline - now_ms() > 0 ? deadline - now_ms() : 0;
    }
}

static void popping_done(struct popping *p)
{
    if (p->buf != p->small)
        free(p->buf);
    if (p->lens != &p->one)
        PyMem_Free(p->lens);
    arg_done(&p->key);
    if (p->moving)
        arg_done(&p->dst);
}

/* The elements popped, as bytes (many: a list of them); the empty result
 * when nothing came. */
static PyObject *popped(struct popping *p, int rc, int many)
{
    PyObject *r = NULL;
    if (rc == -EAGAIN)
        r = many ? PyList_New(0) : Py_NewRef(Py_None);
    else if (rc == 0 && !many)
        r = PyBytes_FromStringAndSize(p->buf, (Py_ssize_t)p->lens[0]);
    else if (rc == 0) {
        r = PyList_New((Py_ssize_t)p->n);
        for (size_t i = 0, at = 0; r && i < p->n; at += p->lens[i++]) {
            PyObject *e = PyBytes_FromStringAndSize(p->buf + at, (Py_ssize_t)p->lens[i]);
            if (!e)
                Py_CLEAR(r);
            else
                PyList_SET_ITEM(r, (Py_ssize_t)i, e);
        }
    } else if (rc != PY_ERR)
        raise_rc(rc, NULL);
    popping_done(p);
    return r;
}

static void popping_init(struct popping *p)
{
    p->buf = p->small;
    p->cap = sizeof p->small;
    p->lens = &p->one;
    p->max = 1;
    p->n = 0;
    p->moving = 0;
    p->key.viewing = p->dst.viewing = 0;
}

/* list_pop_many's count: at most that many lengths, and room for
 * MANY_BYTES of elements at first.  0, or -1 with an exception. */
static int count_arg(PyObject *o, struct popping *p)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "count must be an int, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t count = PyLong_AsSsize_t(o);
    if (count == -1 && PyErr_Occurred())
        return -1;
    if (count < 1) {
        raise_msg(EINVAL, "count must be 1 or more");
        return -1;
    }
    /* never more lengths than could fit in the first buffer anyway: a huge
     * count costs no huge allocation */
    size_t max = (size_t)count < MANY_BYTES ? (size_t)count : MANY_BYTES;
    size_t *lens = PyMem_Malloc(max * sizeof *lens);
    if (!lens) {
        PyErr_NoMemory();
        return -1;
    }
    p->lens = lens;
    p->max = max;
    return grow(p, MANY_BYTES) ? -1 : 0;
}

/* list_pop(key, /, *, end="head", timeout=0), and (many) list_pop_many(key,
 * count, /, *, end="head", timeout=0) */
static PyObject *pop_method(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames, int many)
{
    static const char *const kw[] = {"end", "timeout", NULL};
    PyObject *a[4];
    struct popping p;
    int64_t ms;
    int npos = many ? 2 : 1;
    popping_init(&p);
    if (parse_args(many ? "list_pop_many" : "list_pop", args, nargs, kwnames, npos, npos, kw, a) < 0 ||
        end_arg(a[npos], "end", SHMKV_HEAD, &p.from) < 0 || timeout_arg(a[npos + 1], &ms) < 0 ||
        (many && count_arg(a[1], &p) < 0) || key_arg(a[0], &p.key) < 0)
        return popped(&p, PY_ERR, many);
    return popped(&p, pop_wait(t, &p, ms), many);
}

PyObject *table_list_pop(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    return pop_method(t, args, nargs, kwnames, 0);
}

PyObject *table_list_pop_many(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    return pop_method(t, args, nargs, kwnames, 1);
}

/* move(src, dst, /, *, from_end="head", to_end="tail", timeout=0) */
PyObject *table_move(TableObject *t, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const kw[] = {"from_end", "to_end", "timeout", NULL};
    PyObject *a[5];
    struct popping p;
    int64_t ms;
    popping_init(&p);
    if (parse_args("move", args, nargs, kwnames, 2, 2, kw, a) < 0 ||
        end_arg(a[2], "from_end", SHMKV_HEAD, &p.from) < 0 ||
        end_arg(a[3], "to_end", SHMKV_TAIL, &p.to) < 0 || timeout_arg(a[4], &ms) < 0 ||
        key_arg(a[0], &p.key) < 0)
        return NULL;
    if (key_arg(a[1], &p.dst) < 0)
        return popped(&p, PY_ERR, 0);
    p.moving = 1;
    return popped(&p, pop_wait(t, &p, ms), 0);
}

/* ---- push ---------------------------------------------------------------- */

/* Push the elements of vals (a tuple of bytes-like objects) at one end,
 * all or nothing, without the GIL. */
static PyObject *push_tuple(TableObject *t, PyObject *key, PyObject *vals, PyObject *end)
{
    int where;
    bytes_arg k;
    if (end_arg(end, "end", SHMKV_TAIL, &where) < 0 || key_arg(key, &k) < 0)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(vals), got = 0;
    bytes_arg *va = PyMem_Calloc(n ? (size_t)n : 1, sizeof *va);
    shmkv_elem *elems = PyMem_Calloc(n ? (size_t)n : 1, sizeof *elems);
    int rc = va && elems ? 0 : PY_ERR;
    if (rc)
        PyErr_NoMemory();
    for (; rc == 0 && got < n; got++) {
        if (value_arg(PyTuple_GET_ITEM(vals, got), &va[got]) < 0)
            break;
        elems[got] = (shmkv_elem){va[got].p, (size_t)va[got].n};
    }
    shmkv *db = rc == 0 && got == n ? table_enter(t) : NULL;
    if (db) {
        Py_BEGIN_ALLOW_THREADS
        rc = shmkv_push_many(db, k.p, (size_t)k.n, elems, (size_t)n, where);
        Py_END_ALLOW_THREADS
        table_leave(t);
    } else {
        rc = PY_ERR;
    }
    while (got > 0)
        arg_done(&va[--got]);
    PyMem_Free(va);
    PyMem_Free(elems);
    arg_done(&k);
    if (rc == 0)
        Py_RETURN_NONE;
    return rc == PY_ERR ? NULL : raise_rc(rc, NULL);
}

/* push(key, value, /, *, end="tail"), and (many) push_many(key, values, /,
 * *, end="tail") */
static PyObject *push_method(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames, int many)
{
    static const char *const kw[] = {"end", NULL};
    PyObject *a[3];
    if (parse_args(many ? "push_many" : "push", args, nargs, kwnames, 2, 2, kw, a) < 0)
        return NULL;
    if (many && (PyUnicode_Check(a[1]) || PyObject_CheckBuffer(a[1])))
        return PyErr_Format(PyExc_TypeError, "push_many() takes an iterable of values, not "
                            "one %.100s (use push)", Py_TYPE(a[1])->tp_name);
    PyObject *vals = many ? PySequence_Tuple(a[1]) : PyTuple_Pack(1, a[1]);
    if (!vals)
        return NULL;
    PyObject *r = push_tuple(t, a[0], vals, a[2]);
    Py_DECREF(vals);
    return r;
}

PyObject *table_push(TableObject *t, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return push_method(t, args, nargs, kwnames, 0);
}

PyObject *table_push_many(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    return push_method(t, args, nargs, kwnames, 1);
}

/* ---- reads ----------------------------------------------------------------- */

/* llen(key, /) */
PyObject *table_llen(TableObject *t, PyObject *key)
{
    bytes_arg k;
    if (key_arg(key, &k) < 0)
        return NULL;
    shmkv *db = table_enter(t);
    uint64_t n = 0;
    int rc = db ? shmkv_llen(db, k.p, (size_t)k.n, &n) : PY_ERR;
    if (db)
        table_leave(t);
    arg_done(&k);
    if (rc)
        return rc == PY_ERR ? NULL : raise_rc(rc, NULL);
    return PyLong_FromUnsignedLongLong(n);
}

static int index_arg(PyObject *o, const char *name, int64_t *out)
{
    if (!o)
        return 0;
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name, Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    /* beyond int64 is beyond any list: the nearest int64 means the same */
    *out = overflow > 0 ? INT64_MAX : overflow < 0 ? INT64_MIN : (int64_t)v;
    return 0;
}

/* lrange(key, start=0, stop=-1, /) */
PyObject *table_lrange(TableObject *t, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *a[3];
    int64_t start = 0, stop = -1;
    bytes_arg k;
    if (parse_args("lrange", args, nargs, NULL, 1, 3, NULL, a) < 0 ||
        index_arg(a[1], "start", &start) < 0 || index_arg(a[2], "stop", &stop) < 0 ||
        key_arg(a[0], &k) < 0)
        return NULL;
    gathered g = {.values = 1};
    shmkv *db = table_enter(t);
    int rc = PY_ERR;
    if (db) {
        Py_BEGIN_ALLOW_THREADS
        rc = shmkv_lrange(db, k.p, (size_t)k.n, start, stop, gather, &g);
        Py_END_ALLOW_THREADS
        table_leave(t);
    }
    arg_done(&k);
    PyObject *r = rc == 0 || rc == -ENOENT ? gathered_list(&g, SCAN_VALUES)
                  : rc == PY_ERR           ? NULL
                                           : raise_rc(rc, NULL);
    free(g.buf);
    return r;
}
