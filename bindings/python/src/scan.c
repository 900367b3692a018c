/*
 * scan.c - iterating a table with the scan cursor (shmkv_scan): each step
 * copies one piece of the table (a shard) without the GIL into a private
 * buffer, then hands out its keys, pairs or values one at a time.  So an
 * iteration is safe while other processes write (every pair present from
 * its start to its end is seen exactly once), holds no lock between steps,
 * and keeps the GIL only while it makes the Python objects.  Lists are
 * iterated apart (Table.lists()), through shmkv_scan_all.
 *
 * The gathering of what a library callback hands out, without the GIL,
 * serves lrange too (lists.c).
 */
#include "pyshmkv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    TableObject *table;
    uint64_t cursor;
    int what;             /* SCAN_KEYS, SCAN_ITEMS, SCAN_VALUES, SCAN_LISTS */
    int done;             /* the cursor came back to 0 */
    PyObject *batch;      /* list of the current piece's results */
    Py_ssize_t next;      /* index of the next one in batch */
} ScanObject;

/* What the callback saw, packed as [klen][vlen][key][value]...; filled
 * without the GIL, so plain malloc. */
int gather(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    gathered *p = ctx;
    if (!p->values)
        vlen = 0;
    if (!p->keys)
        klen = 0;
    size_t need = 2 * sizeof(size_t) + klen + vlen;
    if (p->len + need > p->cap) {
        size_t cap = p->cap ? p->cap : 64 * 1024;
        while (cap < p->len + need)
            cap *= 2;
        char *nb = realloc(p->buf, cap);
        if (!nb)
            return -ENOMEM;
        p->buf = nb;
        p->cap = cap;
    }
    char *w = p->buf + p->len;
    memcpy(w, &klen, sizeof klen);
    memcpy(w + sizeof klen, &vlen, sizeof vlen);
    memcpy(w + 2 * sizeof(size_t), key, klen);
    if (vlen)
        memcpy(w + 2 * sizeof(size_t) + klen, val, vlen);
    p->len += need;
    return 0;
}

/* shmkv_scan_all's callback: the lists only, each with its elements. */
static int gather_list(void *ctx, int kind, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    return kind == SHMKV_KIND_LIST ? gather(ctx, key, klen, val, vlen) : 0;
}

/* A list's elements as scan_all packs them ([u32 length][bytes]...), as a
 * Python list of bytes. */
static PyObject *elements(const char *p, size_t n)
{
    PyObject *list = PyList_New(0);
    for (size_t off = 0; list && off + 4 <= n;) {
        uint32_t len;
        memcpy(&len, p + off, 4);
        PyObject *e = PyBytes_FromStringAndSize(p + off + 4, (Py_ssize_t)len);
        if (!e || PyList_Append(list, e) < 0)
            Py_CLEAR(list);
        Py_XDECREF(e);
        off += 4 + (size_t)len;
    }
    return list;
}

static PyObject *one_result(int what, const char *k, size_t klen, const char *v, size_t vlen)
{
    if (what == SCAN_KEYS)
        return PyBytes_FromStringAndSize(k, (Py_ssize_t)klen);
    if (what == SCAN_VALUES)
        return PyBytes_FromStringAndSize(v, (Py_ssize_t)vlen);
    if (what == SCAN_LISTS) {
        PyObject *elems = elements(v, vlen);
        return elems ? Py_BuildValue("(y#N)", k, (Py_ssize_t)klen, elems) : NULL;
    }
    return Py_BuildValue("(y#y#)", k, (Py_ssize_t)klen, v, (Py_ssize_t)vlen);
}

PyObject *gathered_list(const gathered *p, int what)
{
    PyObject *list = PyList_New(0);
    for (size_t off = 0; list && off < p->len;) {
        size_t klen, vlen;
        memcpy(&klen, p->buf + off, sizeof klen);
        memcpy(&vlen, p->buf + off + sizeof klen, sizeof vlen);
        const char *k = p->buf + off + 2 * sizeof(size_t);
        PyObject *r = one_result(what, k, klen, k + klen, vlen);
        if (!r || PyList_Append(list, r) < 0)
            Py_CLEAR(list);
        Py_XDECREF(r);
        off += 2 * sizeof(size_t) + klen + vlen;
    }
    return list;
}

/* Fetch the next piece into s->batch; 0 or -1 with an exception. */
static int next_piece(ScanObject *s)
{
    gathered p = {.keys = 1, .values = s->what != SCAN_KEYS};
    shmkv *db = table_enter(s->table);
    if (!db)
        return -1;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = s->what == SCAN_LISTS ? shmkv_scan_all(db, &s->cursor, gather_list, &p)
                               : shmkv_scan(db, &s->cursor, gather, &p);
    Py_END_ALLOW_THREADS
    table_leave(s->table);
    PyObject *batch = rc ? NULL : gathered_list(&p, s->what);
    free(p.buf);
    if (rc)
        raise_rc(rc, NULL);
    if (!batch)
        return -1;
    Py_XSETREF(s->batch, batch);
    s->next = 0;
    s->done = s->cursor == 0;
    return 0;
}

static PyObject *scan_next(ScanObject *s)
{
    while (!s->batch || s->next == PyList_GET_SIZE(s->batch)) {
        if (s->done || next_piece(s) < 0) {
            s->done = 1;
            return NULL;
        }
    }
    return Py_NewRef(PyList_GET_ITEM(s->batch, s->next++));
}

PyObject *scan_new(TableObject *t, int what)
{
    ScanObject *s = PyObject_New(ScanObject, &Scan_Type);
    if (!s)
        return NULL;
    s->table = (TableObject *)Py_NewRef((PyObject *)t);
    s->cursor = 0;
    s->what = what;
    s->done = 0;
    s->batch = NULL;
    s->next = 0;
    return (PyObject *)s;
}

static void scan_dealloc(ScanObject *s)
{
    Py_XDECREF(s->batch);
    Py_DECREF(s->table);
    PyObject_Free(s);
}

PyTypeObject Scan_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shmkv._shmkv.Scan",
    .tp_basicsize = sizeof(ScanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An iteration over a table's keys, pairs, values or lists (the scan cursor).",
    .tp_dealloc = (destructor)scan_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)scan_next,
};
