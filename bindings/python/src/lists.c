/*
 * lists.c - the Table methods on lists and queues: push, push_many,
 * list_pop, list_pop_many, move, llen, lrange.  (Table.pop is the
 * mapping's: remove a pair.  Hence list_pop.)
 *
 * Every call but llen (a lock-free read) runs without the GIL: each takes
 * the key's shard lock, and a pop, a move or a bounded push (max_len) may
 * wait.  A waiting call sleeps in the kernel, woken by a push (a bounded
 * push: by a pop) from any process.  When a signal
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

/* What is left of a wait of ms that ends at deadline (0: a wait of 0 or
 * for ever, which stays as it is). */
static int64_t time_left(int64_t deadline, int64_t ms)
{
    if (!deadline)
        return ms;
    int64_t left = deadline - now_ms();
    return left > 0 ? left : 0;
}

/* A library call that may wait up to ms (-1: for ever; 0: not at all),
 * made without the GIL: a pop, a move or a push. */
typedef int wait_fn(shmkv *db, void *ctx, int64_t ms);

/* call, waiting up to ms in slices, the signal handlers run between
 * them.  0, -EAGAIN (nothing came, or no room), another library code, or
 * PY_ERR. */
static int wait_loop(TableObject *t, wait_fn *call, void *ctx, int64_t ms)
{
    int64_t deadline = ms > 0 ? now_ms() + ms : 0;
    for (;;) {
        shmkv *db = table_enter(t);
        if (!db)
            return PY_ERR;
        int rc;
        int64_t slice = ms < 0 || ms > SLICE_MS ? SLICE_MS : ms;
        Py_BEGIN_ALLOW_THREADS
        rc = call(db, ctx, slice);
        Py_END_ALLOW_THREADS
        table_leave(t);
        if (rc != -EINTR && (rc != -EAGAIN || ms == 0))
            return rc;
        if (PyErr_CheckSignals() < 0)
            return PY_ERR;
        ms = time_left(deadline, ms);
    }
}

static int pop_call(shmkv *db, void *ctx, int64_t ms)
{
    struct popping *p = ctx;
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

/* Pop or move, waiting up to ms.  An element too big for the buffer
 * (-ENOBUFS: nothing was removed) grows it for another try in the time
 * left.  0, -EAGAIN (nothing came), another library code, or PY_ERR. */
static int pop_wait(TableObject *t, struct popping *p, int64_t ms)
{
    int64_t deadline = ms > 0 ? now_ms() + ms : 0;
    int rc;
    while ((rc = wait_loop(t, pop_call, p, ms)) == -ENOBUFS) {
        if (grow(p, p->lens[0] > p->cap * 2 ? p->lens[0] : p->cap * 2))
            return PY_ERR;
        ms = time_left(deadline, ms);
    }
    return rc;
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

/* One push in progress: its elements borrowed from a tuple of values. */
struct pushing {
    bytes_arg key;
    bytes_arg *vals;
    shmkv_elem *elems;
    Py_ssize_t n, got;    /* values, borrowed so far */
    int end;
    uint64_t max;         /* max_len; 0: unbounded */
};

static int push_call(shmkv *db, void *ctx, int64_t ms)
{
    struct pushing *p = ctx;
    if (!p->max)
        return shmkv_push_many(db, p->key.p, (size_t)p->key.n, p->elems, (size_t)p->n, p->end);
    return shmkv_push_bounded(db, p->key.p, (size_t)p->key.n, p->elems, (size_t)p->n, p->end,
                              p->max, ms);
}

/* Borrow the values of the tuple vals as p's elements; 0 or PY_ERR. */
static int borrow_values(struct pushing *p, PyObject *vals)
{
    size_t room = p->n ? (size_t)p->n : 1;
    p->vals = PyMem_Calloc(room, sizeof *p->vals);
    p->elems = PyMem_Calloc(room, sizeof *p->elems);
    if (!p->vals || !p->elems) {
        PyErr_NoMemory();
        return PY_ERR;
    }
    for (; p->got < p->n; p->got++) {
        if (value_arg(PyTuple_GET_ITEM(vals, p->got), &p->vals[p->got]) < 0)
            return PY_ERR;
        p->elems[p->got] = (shmkv_elem){p->vals[p->got].p, (size_t)p->vals[p->got].n};
    }
    return 0;
}

static void pushing_done(struct pushing *p)
{
    while (p->got > 0)
        arg_done(&p->vals[--p->got]);
    PyMem_Free(p->vals);
    PyMem_Free(p->elems);
    arg_done(&p->key);
}

/* Push the elements of vals (a tuple of bytes-like objects) at one end,
 * all or nothing, without the GIL; bounded (max > 0), waiting up to ms
 * for room.  True, False (no room once the wait was over), or NULL. */
static PyObject *push_tuple(TableObject *t, PyObject *key, PyObject *vals, PyObject *end,
                            uint64_t max, int64_t ms)
{
    struct pushing p = {.n = PyTuple_GET_SIZE(vals), .max = max};
    if (end_arg(end, "end", SHMKV_TAIL, &p.end) < 0 || key_arg(key, &p.key) < 0)
        return NULL;
    int rc = PY_ERR;
    /* the library refuses it too, but with no word of why */
    if (max && (uint64_t)p.n > max)
        raise_msg(EINVAL, "%zd values could never fit in a list of max_len %llu", p.n,
                  (unsigned long long)max);
    else if (borrow_values(&p, vals) == 0)
        rc = wait_loop(t, push_call, &p, ms);
    pushing_done(&p);
    if (rc == 0)
        Py_RETURN_TRUE;
    if (rc == -EAGAIN && max)
        Py_RETURN_FALSE;
    return rc == PY_ERR ? NULL : raise_rc(rc, NULL);
}

/* push's max_len: None (or not given: 0, unbounded), or an int of 1 or
 * more.  0, or -1 with an exception. */
static int max_len_arg(PyObject *o, uint64_t *max)
{
    *max = 0;
    if (!o || o == Py_None)
        return 0;
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "max_len must be an int or None, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (!overflow && v < 1)) {
        raise_msg(EINVAL, "max_len must be 1 or more, or None (no bound)");
        return -1;
    }
    /* beyond int64 is beyond any list (2**31 - 1 elements): the same bound */
    *max = overflow ? UINT64_MAX : (uint64_t)v;
    return 0;
}

/* push(key, value, /, *, end="tail", max_len=None, timeout=0), and (many)
 * push_many(key, values, /, *, end="tail", max_len=None, timeout=0) */
static PyObject *push_method(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames, int many)
{
    static const char *const kw[] = {"end", "max_len", "timeout", NULL};
    const char *fn = many ? "push_many" : "push";
    PyObject *a[5];
    uint64_t max;
    int64_t ms;
    if (parse_args(fn, args, nargs, kwnames, 2, 2, kw, a) < 0 || max_len_arg(a[3], &max) < 0 ||
        timeout_arg(a[4], &ms) < 0)
        return NULL;
    /* an unbounded push never waits: its timeout would be ignored in silence */
    if (a[4] && !max)
        return PyErr_Format(PyExc_TypeError, "%s() takes a timeout only with max_len", fn);
    if (many && (PyUnicode_Check(a[1]) || PyObject_CheckBuffer(a[1])))
        return PyErr_Format(PyExc_TypeError, "push_many() takes an iterable of values, not "
                            "one %.100s (use push)", Py_TYPE(a[1])->tp_name);
    PyObject *vals = many ? PySequence_Tuple(a[1]) : PyTuple_Pack(1, a[1]);
    if (!vals)
        return NULL;
    PyObject *r = push_tuple(t, a[0], vals, a[2], max, ms);
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
