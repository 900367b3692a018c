/*
 * batch.c - the Table methods that work on many keys or the whole table:
 * get_many, set_many, clear, stats, check, and the lease pair under
 * get_or_set.  All of them run the library without the GIL.
 *
 * Batches go to the library in chunks of CHUNK keys, so that a batch of
 * millions needs no more scratch memory than one of a thousand; keys and
 * values stay referenced (a tuple, or a reference each) while the GIL is
 * away, whatever other threads do to the caller's containers.
 */
#include "pyshmkv.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 128   /* keys per library call (stack arrays: keep it small) */
#define SLOT 256     /* room per value in get_many's first pass */

/* ---- get_many ---------------------------------------------------------- */

/* Fill found with the pairs of keys[0..n) that exist; 0 or PY_ERR. */
static int get_chunk(TableObject *t, PyObject *const *keys, Py_ssize_t n, PyObject *found,
                     char *arena)
{
    bytes_arg ka[CHUNK];
    shmkv_item it[CHUNK];
    Py_ssize_t nk = 0;
    int rc = PY_ERR;
    for (; nk < n; nk++) {
        if (key_arg(keys[nk], &ka[nk]) < 0)
            goto out;
        it[nk] = (shmkv_item){.key = ka[nk].p, .klen = (size_t)ka[nk].n,
                              .buf = arena + nk * SLOT, .cap = SLOT};
    }
    shmkv *db = table_enter(t);
    if (!db)
        goto out;
    Py_BEGIN_ALLOW_THREADS
    shmkv_get_many(db, it, (size_t)n);
    Py_END_ALLOW_THREADS
    rc = 0;
    for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
        PyObject *v = NULL;
        rc = it[i].rc;
        if (rc == 0)
            v = PyBytes_FromStringAndSize(it[i].buf, (Py_ssize_t)it[i].vlen);
        else if (rc == -ENOBUFS)
            rc = table_read(db, &ka[i], &v); /* bigger than its slot: on its own */
        if (rc == -ENOENT)
            rc = 0;
        else if (rc == 0 && (!v || PyDict_SetItem(found, keys[i], v) < 0))
            rc = PY_ERR;
        Py_XDECREF(v);
    }
    table_leave(t);
    if (rc && rc != PY_ERR)
        raise_rc(rc, NULL);
out:
    while (nk > 0)
        arg_done(&ka[--nk]);
    return rc ? PY_ERR : 0;
}

PyObject *table_get_many(TableObject *t, PyObject *keys)
{
    PyObject *tuple = PySequence_Tuple(keys);
    if (!tuple)
        return NULL;
    PyObject *found = PyDict_New();
    char *arena = PyMem_Malloc(CHUNK * SLOT);
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    int rc = found && arena ? 0 : PY_ERR;
    if (!arena)
        PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n && rc == 0; i += CHUNK)
        rc = get_chunk(t, &PyTuple_GET_ITEM(tuple, i), n - i < CHUNK ? n - i : CHUNK, found,
                       arena);
    PyMem_Free(arena);
    Py_DECREF(tuple);
    if (rc)
        Py_CLEAR(found);
    return found;
}

/* ---- set_many ---------------------------------------------------------- */

/* The pairs of a mapping (its items()) or of an iterable of pairs, as a
 * tuple of 2-tuples the call owns. */
static PyObject *pairs_of(PyObject *m)
{
    PyObject *items = PyDict_Check(m) ? PyDict_Items(m)
                    : PyObject_HasAttrString(m, "items") ? PyObject_CallMethod(m, "items", NULL)
                    : Py_NewRef(m);
    if (!items)
        return NULL;
    PyObject *seq = PySequence_Tuple(items);
    Py_DECREF(items);
    if (!seq)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    PyObject *pairs = PyTuple_New(n);
    for (Py_ssize_t i = 0; pairs && i < n; i++) {
        PyObject *p = PySequence_Tuple(PyTuple_GET_ITEM(seq, i));
        if (p && PyTuple_GET_SIZE(p) != 2) {
            PyErr_Format(PyExc_TypeError, "set_many(): item %zd is not a (key, value) pair", i);
            Py_CLEAR(p);
        }
        if (!p)
            Py_CLEAR(pairs);
        else
            PyTuple_SET_ITEM(pairs, i, p);
    }
    Py_DECREF(seq);
    return pairs;
}

/* Store pairs[0..n); *first gets the first failure's code (if none yet).
 * 0 or PY_ERR. */
static int set_chunk(TableObject *t, PyObject *const *pairs, Py_ssize_t n, uint64_t ttl_ms,
                     int *first)
{
    bytes_arg ka[CHUNK], va[CHUNK];
    shmkv_pair p[CHUNK];
    Py_ssize_t nk = 0, nv = 0;
    int rc = PY_ERR;
    for (; nv < n; nv++) {
        if (key_arg(PyTuple_GET_ITEM(pairs[nv], 0), &ka[nk]) < 0)
            goto out;
        nk++;
        if (value_arg(PyTuple_GET_ITEM(pairs[nv], 1), &va[nv]) < 0)
            goto out;
        p[nv] = (shmkv_pair){.key = ka[nv].p, .klen = (size_t)ka[nv].n, .val = va[nv].p,
                             .vlen = (size_t)va[nv].n, .ttl_ms = ttl_ms};
    }
    shmkv *db = table_enter(t);
    if (!db)
        goto out;
    Py_BEGIN_ALLOW_THREADS
    shmkv_put_many(db, p, (size_t)n);
    Py_END_ALLOW_THREADS
    table_leave(t);
    for (Py_ssize_t i = 0; i < n && !*first; i++)
        *first = p[i].rc;
    rc = 0;
out:
    while (nk > 0)
        arg_done(&ka[--nk]);
    while (nv > 0)
        arg_done(&va[--nv]);
    return rc;
}

PyObject *table_set_many(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const char *const kw[] = {"ttl", NULL};
    PyObject *a[2];
    uint64_t ttl_ms;
    if (parse_args("set_many", args, nargs, kwnames, 1, 1, kw, a) < 0 || ttl_arg(a[1], &ttl_ms) < 0)
        return NULL;
    PyObject *pairs = pairs_of(a[0]);
    if (!pairs)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(pairs);
    int first = 0, rc = 0;
    for (Py_ssize_t i = 0; i < n && rc == 0; i += CHUNK)
        rc = set_chunk(t, &PyTuple_GET_ITEM(pairs, i), n - i < CHUNK ? n - i : CHUNK, ttl_ms,
                       &first);
    Py_DECREF(pairs);
    if (rc)
        return NULL;
    if (first)
        return raise_rc(first, NULL);
    Py_RETURN_NONE;
}

/* ---- the whole table --------------------------------------------------- */

PyObject *table_clear(TableObject *t, PyObject *unused)
{
    (void)unused;
    shmkv *db = table_enter(t);
    if (!db)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = shmkv_clear(db);
    Py_END_ALLOW_THREADS
    table_leave(t);
    if (rc)
        return raise_rc(rc, NULL);
    Py_RETURN_NONE;
}

#define U64(f) {#f, offsetof(shmkv_stats, f)}
static const struct { const char *name; size_t off; } stat_u64[] = {
    U64(keys), U64(live_bytes), U64(used_bytes), U64(max_bytes), U64(file_bytes),
    U64(shards), U64(buckets), U64(overflow_buckets), U64(index_bytes), U64(log_bytes),
    U64(garbage_bytes), U64(free_bytes), U64(puts), U64(dels), U64(splits),
    U64(runs_cleaned), U64(lock_waits), U64(lock_recoveries), U64(hits), U64(misses),
    U64(evictions), U64(expirations), U64(leases_granted), U64(leases_filled),
    U64(leases_voided),
};

static int put_stat(PyObject *d, const char *name, PyObject *v)
{
    int rc = v ? PyDict_SetItemString(d, name, v) : -1;
    Py_XDECREF(v);
    return rc;
}

PyObject *table_stats(TableObject *t, PyObject *unused)
{
    (void)unused;
    shmkv_stats st;
    shmkv *db = table_enter(t);
    if (!db)
        return NULL;
    int rc = shmkv_stat(db, &st);
    table_leave(t);
    if (rc)
        return raise_rc(rc, NULL);
    PyObject *d = PyDict_New();
    int bad = !d;
    for (size_t i = 0; !bad && i < sizeof stat_u64 / sizeof stat_u64[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&st + stat_u64[i].off, sizeof v);
        bad = put_stat(d, stat_u64[i].name, PyLong_FromUnsignedLongLong(v)) < 0;
    }
    bad = bad || put_stat(d, "load_factor", PyFloat_FromDouble(st.load_factor)) < 0 ||
          put_stat(d, "read_stats", PyBool_FromLong(st.read_stats != 0)) < 0 ||
          put_stat(d, "cache", PyBool_FromLong(st.cache != 0)) < 0;
    if (bad)
        Py_CLEAR(d);
    return d;
}

PyObject *table_check(TableObject *t, PyObject *unused)
{
    (void)unused;
    char *text = NULL;
    size_t len = 0;
    FILE *report = open_memstream(&text, &len);
    if (!report)
        return PyErr_NoMemory();
    shmkv *db = table_enter(t);
    int rc = PY_ERR;
    if (db) {
        Py_BEGIN_ALLOW_THREADS
        rc = shmkv_check(db, report);
        Py_END_ALLOW_THREADS
        table_leave(t);
    }
    fclose(report);
    PyObject *lines = NULL;
    if (rc == 0 || rc == -EBADMSG) {
        PyObject *all = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
        lines = all ? PyUnicode_Splitlines(all, 0) : NULL;
        Py_XDECREF(all);
        if (lines && rc && PyList_GET_SIZE(lines) == 0) {
            PyObject *s = PyUnicode_FromString(shmkv_strerror(rc));
            if (!s || PyList_Append(lines, s) < 0)
                Py_CLEAR(lines);
            Py_XDECREF(s);
        }
    } else if (rc != PY_ERR) {
        raise_rc(rc, NULL);
    }
    free(text);
    return lines;
}

/* ---- leases ------------------------------------------------------------ */

struct lease_get {
    char buf[1024];
    size_t vlen;
    uint64_t lease_ms, lease;
};

/* _get_lease(key, lease_seconds=None) -> (value or None, lease): the
 * value on a hit; on a miss None and this caller's lease (0: someone
 * else holds it). */
PyObject *table_get_lease(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    PyObject *a[2];
    struct lease_get g;
    bytes_arg k;
    if (parse_args("_get_lease", args, nargs, kwnames, 1, 2, NULL, a) < 0 ||
        ttl_arg(a[1], &g.lease_ms) < 0 || key_arg(a[0], &k) < 0)
        return NULL;
    shmkv *db = table_enter(t);
    PyObject *v = NULL, *res = NULL;
    int rc = PY_ERR;
    while (db) {
        Py_BEGIN_ALLOW_THREADS
        rc = shmkv_get_lease(db, k.p, (size_t)k.n, g.buf, sizeof g.buf, &g.vlen, g.lease_ms,
                             &g.lease);
        Py_END_ALLOW_THREADS
        if (rc == 0 && !(v = PyBytes_FromStringAndSize(g.buf, (Py_ssize_t)g.vlen)))
            rc = PY_ERR;
        if (rc != -ENOBUFS)
            break;
        g.lease = 0; /* a hit, too big for buf: read it plainly */
        if ((rc = table_read(db, &k, &v)) != -ENOENT)
            break;
    }
    if (db)
        table_leave(t);
    arg_done(&k);
    if (rc == 0 || rc == -ENOENT)
        res = Py_BuildValue("(OK)", v ? v : Py_None, (unsigned long long)g.lease);
    else if (rc != PY_ERR)
        raise_rc(rc, NULL);
    Py_XDECREF(v);
    return res;
}

/* _put_leased(key, value, lease, *, ttl=None) -> bool: False when the
 * lease was voided (by a write of the key, or lapsed). */
PyObject *table_put_leased(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    static const char *const kw[] = {"ttl", NULL};
    PyObject *a[4];
    uint64_t ttl_ms, lease;
    bytes_arg k, v;
    if (parse_args("_put_leased", args, nargs, kwnames, 3, 3, kw, a) < 0 ||
        !u64_arg(a[2], &lease) || ttl_arg(a[3], &ttl_ms) < 0 || key_arg(a[0], &k) < 0)
        return NULL;
    if (value_arg(a[1], &v) < 0) {
        arg_done(&k);
        return NULL;
    }
    int rc = PY_ERR;
    shmkv *db = table_enter(t);
    if (db) {
        Py_BEGIN_ALLOW_THREADS
        rc = shmkv_put_leased(db, k.p, (size_t)k.n, v.p, (size_t)v.n, ttl_ms, lease);
        Py_END_ALLOW_THREADS
        table_leave(t);
    }
    arg_done(&v);
    arg_done(&k);
    if (rc == 0 || rc == -ECANCELED)
        return PyBool_FromLong(rc == 0);
    return rc == PY_ERR ? NULL : raise_rc(rc, NULL);
}
