/*
 * table.c - the Table type: opening and closing a table, the mapping
 * protocol, and the calls on one key.
 *
 * The GIL is released around every call that can wait or copy much:
 * writes (they take a shard's lock, which another process may hold for a
 * moment), reads of large values, batches, scans, check and open.  Small
 * reads keep it: they are lock-free and shorter than a GIL hand-over.
 *
 * Since another thread may be inside the library without the GIL, close()
 * frees the handle only once no call of this process is using it (users);
 * calls begun after close() raise ValueError, as on a closed file.  A
 * fork() leaves the child only the thread that forked, which was not in a
 * call, so the child starts counting afresh (fork_epoch).
 */
#include "pyshmkv.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

static unsigned long fork_epoch;

static void after_fork_in_child(void)
{
    fork_epoch++;
}

int table_init(void)
{
    return pthread_atfork(NULL, NULL, after_fork_in_child) ? -1 : 0;
}

shmkv *table_enter(TableObject *t)
{
    if (t->epoch != fork_epoch) {
        t->users = 0;
        t->epoch = fork_epoch;
    }
    if (!t->db || t->closing) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed shmkv.Table");
        return NULL;
    }
    t->users++;
    return t->db;
}

void table_leave(TableObject *t)
{
    if (--t->users == 0 && t->closing) {
        shmkv_close(t->db);
        t->db = NULL;
    }
}

int table_read(shmkv *db, const bytes_arg *k, PyObject **out)
{
    char small[1024];
    size_t vlen;
    *out = NULL;
    int rc = shmkv_get(db, k->p, (size_t)k->n, small, sizeof small, &vlen);
    if (rc == 0) {
        *out = PyBytes_FromStringAndSize(small, (Py_ssize_t)vlen);
        return *out ? 0 : PY_ERR;
    }
    /* Too big for the stack: read straight into a bytes object of the
     * size just learnt, again if the value grew meanwhile. */
    while (rc == -ENOBUFS) {
        size_t cap = vlen;
        PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
        if (!b)
            return PY_ERR;
        char *buf = PyBytes_AS_STRING(b);
        if (cap >= NOGIL_BYTES) {
            Py_BEGIN_ALLOW_THREADS
            rc = shmkv_get(db, k->p, (size_t)k->n, buf, cap, &vlen);
            Py_END_ALLOW_THREADS
        } else {
            rc = shmkv_get(db, k->p, (size_t)k->n, buf, cap, &vlen);
        }
        if (rc == 0 && vlen < cap && _PyBytes_Resize(&b, (Py_ssize_t)vlen) < 0)
            return PY_ERR;
        if (rc == 0) {
            *out = b;
            return 0;
        }
        Py_DECREF(b);
    }
    return rc;
}

/* ---- one key: convert, enter, call, leave ---------------------------- */

/* The work of one call: v is NULL when the call takes no value. */
typedef int (*key_fn)(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx);

enum { WITH_GIL = 0, NO_GIL = 1 };

static int on_key(TableObject *t, PyObject *key, PyObject *val, key_fn fn, void *ctx, int nogil)
{
    bytes_arg k, v;
    if (key_arg(key, &k) < 0)
        return PY_ERR;
    if (val && value_arg(val, &v) < 0) {
        arg_done(&k);
        return PY_ERR;
    }
    int rc = PY_ERR;
    shmkv *db = table_enter(t);
    if (db) {
        if (nogil) {
            Py_BEGIN_ALLOW_THREADS
            rc = fn(db, &k, val ? &v : NULL, ctx);
            Py_END_ALLOW_THREADS
        } else {
            rc = fn(db, &k, val ? &v : NULL, ctx);
        }
        table_leave(t);
    }
    if (val)
        arg_done(&v);
    arg_done(&k);
    return rc;
}

static int do_read(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    (void)v;
    return table_read(db, k, ctx);
}

/* A key holding a list is in the table too (len() counts it). */
static int do_contains(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    size_t vlen;
    (void)v, (void)ctx;
    int rc = shmkv_get(db, k->p, (size_t)k->n, NULL, 0, &vlen);
    return rc == -ENOBUFS || rc == -EMEDIUMTYPE ? 0 : rc;
}

static int do_put(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    return shmkv_put_ex(db, k->p, (size_t)k->n, v->p, (size_t)v->n, ctx);
}

static int do_append(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    (void)ctx;
    return shmkv_append(db, k->p, (size_t)k->n, v->p, (size_t)v->n);
}

static int do_del(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    (void)v, (void)ctx;
    return shmkv_del(db, k->p, (size_t)k->n);
}

struct taken { void *val; size_t vlen; };

static int do_take(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    struct taken *tk = ctx;
    (void)v;
    return shmkv_take(db, k->p, (size_t)k->n, &tk->val, &tk->vlen);
}

static int do_ttl(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    (void)v;
    return shmkv_ttl(db, k->p, (size_t)k->n, ctx);
}

static int do_expire(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    (void)v;
    return shmkv_expire(db, k->p, (size_t)k->n, *(uint64_t *)ctx);
}

struct incr { int64_t delta, result; uint64_t ttl_ms; };

static int do_incr(shmkv *db, const bytes_arg *k, const bytes_arg *v, void *ctx)
{
    struct incr *in = ctx;
    (void)v;
    return shmkv_incr(db, k->p, (size_t)k->n, in->delta, in->ttl_ms, &in->result);
}

/* rc of a call as a Python result: NULL after raising, else ok. */
static PyObject *result(int rc, PyObject *ok)
{
    if (rc == 0)
        return Py_NewRef(ok);
    return rc == PY_ERR ? NULL : raise_rc(rc, NULL);
}

static PyObject *key_error(PyObject *key)
{
    PyErr_SetObject(PyExc_KeyError, key);
    return NULL;
}

/* ---- the mapping ------------------------------------------------------- */

static Py_ssize_t t_len(TableObject *t)
{
    shmkv *db = table_enter(t);
    if (!db)
        return -1;
    uint64_t n = shmkv_count(db);
    table_leave(t);
    return (Py_ssize_t)n;
}

static PyObject *t_subscript(TableObject *t, PyObject *key)
{
    PyObject *v;
    int rc = on_key(t, key, NULL, do_read, &v, WITH_GIL);
    if (rc == -ENOENT)
        return key_error(key);
    return rc ? result(rc, NULL) : v;
}

static int t_ass_subscript(TableObject *t, PyObject *key, PyObject *val)
{
    int rc = val ? on_key(t, key, val, do_put, NULL, NO_GIL)
                 : on_key(t, key, NULL, do_del, NULL, NO_GIL);
    if (rc == -ENOENT && !val)
        return key_error(key), -1;
    return rc ? (result(rc, NULL), -1) : 0;
}

static int t_contains(TableObject *t, PyObject *key)
{
    int rc = on_key(t, key, NULL, do_contains, NULL, WITH_GIL);
    if (rc == 0 || rc == -ENOENT)
        return rc == 0;
    result(rc, NULL);
    return -1;
}

static PyObject *t_iter(TableObject *t)
{
    return scan_new(t, SCAN_KEYS);
}

/* ---- methods on one key ------------------------------------------------ */

static PyObject *t_get(TableObject *t, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *a[2] = {NULL, NULL}, *v;
    if (!kwnames && (nargs == 1 || nargs == 2)) /* the usual call, parsed in line */
        a[0] = args[0], a[1] = nargs == 2 ? args[1] : NULL;
    else if (parse_args("get", args, nargs, kwnames, 1, 2, NULL, a) < 0)
        return NULL;
    int rc = on_key(t, a[0], NULL, do_read, &v, WITH_GIL);
    if (rc == -ENOENT)
        return Py_NewRef(a[1] ? a[1] : Py_None);
    return rc ? result(rc, NULL) : v;
}

static int truth(PyObject *o)
{
    return o ? PyObject_IsTrue(o) : 0;
}

/* set/add/replace: write under conditions; False when one fails. */
static PyObject *write_if(TableObject *t, PyObject *key, PyObject *val, PyObject *ttl,
                          shmkv_put_opts *o)
{
    if (ttl_arg(ttl, &o->ttl_ms) < 0)
        return NULL;
    int rc = on_key(t, key, val, do_put, o, NO_GIL);
    if ((o->flags & (SHMKV_IF_ABSENT | SHMKV_IF_PRESENT | SHMKV_IF_EQUAL)) &&
        (rc == -EEXIST || rc == -ENOENT || rc == -ECANCELED))
        Py_RETURN_FALSE;
    return result(rc, Py_True);
}

static PyObject *t_set(TableObject *t, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const kw[] = {"ttl", "if_absent", "if_present", "if_equal", "keep_ttl", NULL};
    PyObject *a[7];
    if (parse_args("set", args, nargs, kwnames, 2, 2, kw, a) < 0)
        return NULL;
    shmkv_put_opts o = {0};
    int absent = truth(a[3]), present = truth(a[4]), keep = truth(a[6]);
    if (absent < 0 || present < 0 || keep < 0)
        return NULL;
    int equal = a[5] && a[5] != Py_None;
    if (absent && (present || equal))
        return raise_msg(EINVAL, "if_absent excludes if_present and if_equal");
    if (keep && a[2] && a[2] != Py_None)
        return raise_msg(EINVAL, "keep_ttl excludes ttl");
    o.flags = (absent ? SHMKV_IF_ABSENT : 0) | (present ? SHMKV_IF_PRESENT : 0) |
              (equal ? SHMKV_IF_EQUAL : 0) | (keep ? SHMKV_KEEP_TTL : 0);
    if (!equal)
        return write_if(t, a[0], a[1], a[2], &o);
    bytes_arg e;
    if (value_arg(a[5], &e) < 0)
        return NULL;
    o.expected = e.p;
    o.elen = (size_t)e.n;
    PyObject *r = write_if(t, a[0], a[1], a[2], &o);
    arg_done(&e);
    return r;
}

static PyObject *add_or_replace(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames, const char *fn, unsigned flag)
{
    static const char *const kw[] = {"ttl", NULL};
    PyObject *a[3];
    if (parse_args(fn, args, nargs, kwnames, 2, 2, kw, a) < 0)
        return NULL;
    shmkv_put_opts o = {.flags = flag};
    return write_if(t, a[0], a[1], a[2], &o);
}

static PyObject *t_add(TableObject *t, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return add_or_replace(t, args, nargs, kwnames, "add", SHMKV_IF_ABSENT);
}

static PyObject *t_replace(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    return add_or_replace(t, args, nargs, kwnames, "replace", SHMKV_IF_PRESENT);
}

static PyObject *t_append(TableObject *t, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *a[2];
    if (parse_args("append", args, nargs, NULL, 2, 2, NULL, a) < 0)
        return NULL;
    return result(on_key(t, a[0], a[1], do_append, NULL, NO_GIL), Py_None);
}

static PyObject *t_incr(TableObject *t, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const kw[] = {"ttl", NULL};
    PyObject *a[3];
    if (parse_args("incr", args, nargs, kwnames, 1, 2, kw, a) < 0)
        return NULL;
    struct incr in = {.delta = 1};
    if (a[1]) {
        if (!PyLong_Check(a[1]))
            return PyErr_Format(PyExc_TypeError, "delta must be an int, not %.100s",
                                Py_TYPE(a[1])->tp_name);
        in.delta = PyLong_AsLongLong(a[1]);
        if (in.delta == -1 && PyErr_Occurred())
            return NULL;
    }
    if (ttl_arg(a[2], &in.ttl_ms) < 0)
        return NULL;
    int rc = on_key(t, a[0], NULL, do_incr, &in, NO_GIL);
    if (rc == -EDOM)
        return raise_msg(EDOM, "incr: the value is not a decimal integer "
                         "(an optional '-' and 1 to 19 digits)");
    if (rc == -ERANGE)
        return raise_msg(ERANGE, "incr: the result would overflow a signed 64-bit integer");
    return rc ? result(rc, NULL) : PyLong_FromLongLong(in.result);
}

static PyObject *t_take(TableObject *t, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *a[2];
    if (parse_args("take", args, nargs, NULL, 1, 2, NULL, a) < 0)
        return NULL;
    struct taken tk;
    int rc = on_key(t, a[0], NULL, do_take, &tk, NO_GIL);
    if (rc == -ENOENT)
        return Py_NewRef(a[1] ? a[1] : Py_None);
    if (rc)
        return result(rc, NULL);
    PyObject *v = PyBytes_FromStringAndSize(tk.val, (Py_ssize_t)tk.vlen);
    free(tk.val);
    return v;
}

static PyObject *t_ttl(TableObject *t, PyObject *key)
{
    uint64_t ms;
    int rc = on_key(t, key, NULL, do_ttl, &ms, WITH_GIL);
    if (rc == -ENOENT)
        return key_error(key);
    if (rc)
        return result(rc, NULL);
    if (ms == 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble((double)ms / 1000.0);
}

static PyObject *t_expire(TableObject *t, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *a[2];
    uint64_t ms;
    if (parse_args("expire", args, nargs, NULL, 2, 2, NULL, a) < 0 || ttl_arg(a[1], &ms) < 0)
        return NULL;
    int rc = on_key(t, a[0], NULL, do_expire, &ms, NO_GIL);
    if (rc == -ENOENT)
        Py_RETURN_FALSE;
    return result(rc, Py_True);
}

/* ---- the object -------------------------------------------------------- */

static PyObject *t_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *names[] = {"name", "create", "readonly", "cache", "max_bytes",
                            "expected_keys", "stats", "mode", "exclusive", NULL};
    PyObject *name, *path;
    int create = 1, readonly = 0, cache = 0, stats = 0, excl = 0;
    uint64_t max_bytes = 0, expected = 0, mode = 0600;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$pppO&O&pO&p:Table", names, &name, &create,
                                     &readonly, &cache, u64_arg, &max_bytes, u64_arg, &expected,
                                     &stats, u64_arg, &mode, &excl))
        return NULL;
    if (mode > 07777)
        return raise_msg(EINVAL, "mode 0o%llo is not a file mode (0 to 0o7777)",
                         (unsigned long long)mode);
    if (!PyUnicode_FSConverter(name, &path))
        return NULL;
    shmkv_options o = {
        .flags = (create ? SHMKV_CREATE : 0) | (readonly ? SHMKV_RDONLY : 0) |
                 (cache ? SHMKV_CACHE : 0) | (stats ? SHMKV_STATS : 0) |
                 (excl ? SHMKV_EXCL : 0),
        .mode = (unsigned)mode, .max_bytes = max_bytes, .expected_keys = expected,
    };
    shmkv *db = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = shmkv_open(PyBytes_AS_STRING(path), &o, &db);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (rc)
        return raise_rc(rc, name);
    TableObject *t = (TableObject *)type->tp_alloc(type, 0);
    if (!t) {
        shmkv_close(db);
        return NULL;
    }
    t->db = db;
    t->name = Py_NewRef(name);
    t->epoch = fork_epoch;
    t->readonly = readonly;
    return (PyObject *)t;
}

static void t_dealloc(TableObject *t)
{
    shmkv_close(t->db); /* no call can be in progress: each holds a reference */
    Py_XDECREF(t->name);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyObject *t_close(TableObject *t, PyObject *unused)
{
    (void)unused;
    if (t->epoch != fork_epoch) {
        t->users = 0;
        t->epoch = fork_epoch;
    }
    t->closing = 1;
    if (t->users == 0) {
        shmkv_close(t->db);
        t->db = NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *t_enter(TableObject *t, PyObject *unused)
{
    (void)unused;
    if (!t->db || t->closing) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed shmkv.Table");
        return NULL;
    }
    return Py_NewRef((PyObject *)t);
}

static PyObject *t_exit(TableObject *t, PyObject *args)
{
    (void)args;
    return t_close(t, NULL);
}

static PyObject *t_scan(TableObject *t, PyObject *what)
{
    long w = PyLong_AsLong(what);
    if (w == -1 && PyErr_Occurred())
        return NULL;
    if (w < SCAN_KEYS || w > SCAN_LISTS)
        return raise_msg(EINVAL, "_scan(0 keys | 1 items | 2 values | 3 lists)");
    return scan_new(t, (int)w);
}

static PyObject *t_repr(TableObject *t)
{
    return PyUnicode_FromFormat("<shmkv.Table %R%s%s>", t->name, t->readonly ? " readonly" : "",
                                !t->db || t->closing ? " closed" : "");
}

static PyObject *t_closed(TableObject *t, void *unused)
{
    (void)unused;
    return PyBool_FromLong(!t->db || t->closing);
}

static PyObject *t_name(TableObject *t, void *unused)
{
    (void)unused;
    return Py_NewRef(t->name);
}

static PyObject *t_readonly(TableObject *t, void *unused)
{
    (void)unused;
    return PyBool_FromLong(t->readonly);
}

#define FAST(f) (PyCFunction)(void (*)(void))(f)

/* Docstrings: the first lines give the signature to help() and inspect. */
static PyMethodDef t_methods[] = {
    {"get", FAST(t_get), METH_FASTCALL | METH_KEYWORDS,
     "get($self, key, default=None, /)\n--\n\n"
     "The value of key (bytes), or default if absent."},
    {"set", FAST(t_set), METH_FASTCALL | METH_KEYWORDS,
     "set($self, key, value, /, *, ttl=None, if_absent=False, if_present=False,\n"
     "    if_equal=None, keep_ttl=False)\n--\n\n"
     "Store value at key, atomically, and return True; or False, changing\n"
     "nothing, when a condition fails: if_absent (the key must be absent),\n"
     "if_present (present), if_equal (its value must equal this one: a\n"
     "compare-and-swap).  ttl: lifetime in seconds (None: never expires);\n"
     "keep_ttl: keep the key's current lifetime instead."},
    {"add", FAST(t_add), METH_FASTCALL | METH_KEYWORDS,
     "add($self, key, value, /, *, ttl=None)\n--\n\n"
     "Store value only if key is absent; True if stored."},
    {"replace", FAST(t_replace), METH_FASTCALL | METH_KEYWORDS,
     "replace($self, key, value, /, *, ttl=None)\n--\n\n"
     "Store value only if key is present; True if stored."},
    {"incr", FAST(t_incr), METH_FASTCALL | METH_KEYWORDS,
     "incr($self, key, delta=1, /, *, ttl=None)\n--\n\n"
     "Add delta to the integer stored at key as decimal text and return the\n"
     "sum, atomically across processes.  An absent key counts as 0 and gets\n"
     "lifetime ttl; an existing one keeps its own.  InvalidError (a\n"
     "ValueError) if the value is not a decimal integer, RangeError (an\n"
     "OverflowError) if the sum leaves the 64-bit range."},
    {"append", FAST(t_append), METH_FASTCALL,
     "append($self, key, value, /)\n--\n\n"
     "Append value to key's value, atomically (creating key if absent)."},
    {"take", FAST(t_take), METH_FASTCALL,
     "take($self, key, default=None, /)\n--\n\n"
     "Remove key and return its value, atomically: of several processes\n"
     "taking one key, exactly one gets it.  default if absent."},
    {"ttl", (PyCFunction)t_ttl, METH_O,
     "ttl($self, key, /)\n--\n\n"
     "Seconds key has left to live, or None if it never expires; KeyError\n"
     "if absent."},
    {"expire", FAST(t_expire), METH_FASTCALL,
     "expire($self, key, ttl, /)\n--\n\n"
     "Give key a new lifetime of ttl seconds (None: never expires); False\n"
     "if key is absent."},
    {"get_many", (PyCFunction)table_get_many, METH_O,
     "get_many($self, keys, /)\n--\n\n"
     "{key: value} for those of keys that are present, looked up in\n"
     "batches (faster than one get each)."},
    {"set_many", FAST(table_set_many), METH_FASTCALL | METH_KEYWORDS,
     "set_many($self, pairs, /, *, ttl=None)\n--\n\n"
     "Store the pairs of a mapping or an iterable of (key, value), in\n"
     "batches.  Each pair is its own atomic write; if any fails, the error\n"
     "of the first is raised after all were tried."},
    {"clear", (PyCFunction)table_clear, METH_NOARGS,
     "clear($self, /)\n--\n\nRemove every pair (the counters stay)."},
    {"stats", (PyCFunction)table_stats, METH_NOARGS,
     "stats($self, /)\n--\n\n"
     "The table's figures (shmkv_stat): keys, live_bytes, used_bytes,\n"
     "max_bytes, hits, misses, evictions, ... as a dict."},
    {"check", (PyCFunction)table_check, METH_NOARGS,
     "check($self, /)\n--\n\n"
     "Verify every invariant of the table's file: [] if sound, else a line\n"
     "per problem.  On a writable table it holds every lock meanwhile."},
    {"push", FAST(table_push), METH_FASTCALL | METH_KEYWORDS,
     "push($self, key, value, /, *, end=\"tail\", max_len=None, timeout=0)\n--\n\n"
     "Add value at one end (\"head\" or \"tail\") of the list at key, which\n"
     "is created if absent, and return True.  WrongTypeError if key holds a\n"
     "pair.  With max_len (an int >= 1), a bounded queue: push only while\n"
     "the list then holds at most max_len elements, waiting for pops to\n"
     "make room up to timeout seconds (0 does not wait, None waits for\n"
     "ever; as list_pop's wait, the GIL released); False if there was no\n"
     "room once the wait was over.  timeout without max_len: TypeError."},
    {"push_many", FAST(table_push_many), METH_FASTCALL | METH_KEYWORDS,
     "push_many($self, key, values, /, *, end=\"tail\", max_len=None, timeout=0)\n"
     "--\n\n"
     "Push the values of an iterable at one end of the list at key, all or\n"
     "nothing, in one step, and return True: at the tail they keep their\n"
     "order, at the head they end up reversed (as pushing them one by one\n"
     "would).  max_len and timeout as push's: all of them go in once there\n"
     "is room for all (more values than max_len: InvalidError), or none."},
    {"list_pop", FAST(table_list_pop), METH_FASTCALL | METH_KEYWORDS,
     "list_pop($self, key, /, *, end=\"head\", timeout=0)\n--\n\n"
     "Remove and return the element at one end of the list at key, or None\n"
     "if the list is empty (or absent) once timeout seconds passed: 0 does\n"
     "not wait, None waits for ever.  The wait sleeps until a push from any\n"
     "process, with the GIL released.  (pop() is the mapping's.)"},
    {"list_pop_many", FAST(table_list_pop_many), METH_FASTCALL | METH_KEYWORDS,
     "list_pop_many($self, key, count, /, *, end=\"head\", timeout=0)\n--\n\n"
     "Remove up to count elements from one end at once, in the order they\n"
     "come off it, waiting as list_pop for the first; [] if none came.  A\n"
     "batch stops at 64 KiB of elements (it always holds one)."},
    {"move", FAST(table_move), METH_FASTCALL | METH_KEYWORDS,
     "move($self, src, dst, /, *, from_end=\"head\", to_end=\"tail\", timeout=0)\n"
     "--\n\n"
     "Atomically pop an element from one end of the list src and push it at\n"
     "one end of the list dst (which may be src), and return it; None if\n"
     "src stayed empty for timeout seconds (as list_pop).  The reliable\n"
     "queue: a worker moves a job to its own list and removes it from there\n"
     "once done, so a worker that dies loses no job."},
    {"llen", (PyCFunction)table_llen, METH_O,
     "llen($self, key, /)\n--\n\n"
     "Number of elements of the list at key (0 if absent)."},
    {"lrange", FAST(table_lrange), METH_FASTCALL,
     "lrange($self, key, start=0, stop=-1, /)\n--\n\n"
     "The elements of the list at key from index start to stop, both\n"
     "included (negative: from the tail, -1 the last, as Redis's LRANGE),\n"
     "without removing them, as one moment saw them; [] if absent."},
    {"_get_lease", FAST(table_get_lease), METH_FASTCALL | METH_KEYWORDS,
     "_get_lease($self, key, lease_seconds=None, /)\n--\n\n"
     "(value, 0) on a hit; on a miss (None, lease): this caller's lease,\n"
     "or 0 if another holds one.  Use get_or_set."},
    {"_put_leased", FAST(table_put_leased), METH_FASTCALL | METH_KEYWORDS,
     "_put_leased($self, key, value, lease, /, *, ttl=None)\n--\n\n"
     "Store value if lease is still key's lease; False if it was voided."},
    {"_scan", (PyCFunction)t_scan, METH_O,
     "_scan($self, what, /)\n--\n\n"
     "An iterator over the keys (0), pairs (1), values (2), or the lists\n"
     "as (key, elements) (3)."},
    {"close", (PyCFunction)t_close, METH_NOARGS,
     "close($self, /)\n--\n\n"
     "Detach from the table (it stays; see shmkv.unlink).  Calls of other\n"
     "threads still running finish first; later calls raise ValueError."},
    {"__enter__", (PyCFunction)t_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)t_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef t_getset[] = {
    {"closed", (getter)t_closed, NULL, "True once close() was called.", NULL},
    {"name", (getter)t_name, NULL, "The name the table was opened with.", NULL},
    {"readonly", (getter)t_readonly, NULL, "True if opened with readonly=True.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods t_mapping = {
    .mp_length = (lenfunc)t_len,
    .mp_subscript = (binaryfunc)t_subscript,
    .mp_ass_subscript = (objobjargproc)t_ass_subscript,
};

static PySequenceMethods t_sequence = {
    .sq_contains = (objobjproc)t_contains,
};

PyTypeObject Table_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shmkv._shmkv.Table",
    .tp_basicsize = sizeof(TableObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The C part of shmkv.Table (use shmkv.Table).",
    .tp_new = t_new,
    .tp_dealloc = (destructor)t_dealloc,
    .tp_repr = (reprfunc)t_repr,
    .tp_as_mapping = &t_mapping,
    .tp_as_sequence = &t_sequence,
    .tp_iter = (getiterfunc)t_iter,
    .tp_methods = t_methods,
    .tp_getset = t_getset,
};
