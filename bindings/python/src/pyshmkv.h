/*
 * pyshmkv.h - what the files of the extension module shmkv._shmkv share.
 *
 *   module.c   the module: constants, unlink, the benchmark helper
 *   errors.c   shmkv.Error and its subclasses, raising them
 *   args.c     converting arguments: keys, values, lifetimes, sizes
 *   table.c    the Table type: open, close, the mapping, single-key calls
 *   batch.c    calls on many keys or the whole table: get_many,
 *              set_many, clear, stats, check, leases
 *   lists.c    lists and queues: push, pop (waiting), move, llen, lrange
 *   scan.c     the iterator over a table (the scan cursor)
 */
#ifndef PYSHMKV_H
#define PYSHMKV_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "shmkv.h"

#if PY_VERSION_HEX < 0x030A0000
/* Python 3.10's, for older ones. */
static inline int PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *o)
{
    Py_XINCREF(o);
    int rc = PyModule_AddObject(m, name, o);
    if (rc < 0)
        Py_XDECREF(o);
    return rc;
}
static inline PyObject *Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#endif

/* Returned by the int helpers below when a Python exception is set (the
 * library's codes are all <= 0). */
#define PY_ERR 1

/* Values at least this long are copied with the GIL released: a shorter
 * copy takes less time than handing the GIL over and back. */
#define NOGIL_BYTES (32 * 1024)

typedef struct {
    PyObject_HEAD
    shmkv *db;            /* NULL once closed */
    PyObject *name;       /* the name as given (str), for repr */
    unsigned users;       /* calls of this process in the library now */
    unsigned long epoch;  /* fork_epoch when users was last valid */
    int closing;          /* close() asked for while users > 0 */
    int readonly;
} TableObject;

extern PyTypeObject Table_Type;
extern PyTypeObject Scan_Type;

/* errors.c */
int errors_init(PyObject *module);
/* Raise the exception for library code rc (< 0); filename may be NULL.
 * Returns NULL, for "return raise_rc(...)". */
PyObject *raise_rc(int rc, PyObject *filename);
/* Raise the class for code err with a message of our own. */
PyObject *raise_msg(int err, const char *fmt, ...);

/* args.c: a key or value borrowed from a Python object for one call. */
typedef struct {
    const char *p;
    Py_ssize_t n;
    Py_buffer view;
    int viewing;          /* view holds an export to release */
} bytes_arg;

int key_arg(PyObject *o, bytes_arg *a);       /* 0, or -1 with an exception */
int value_arg(PyObject *o, bytes_arg *a);
void arg_done(bytes_arg *a);
/* A lifetime in seconds (int or float, > 0) or None (0: never), as ms. */
int ttl_arg(PyObject *o, uint64_t *ms);
/* A wait in seconds (int or float, >= 0, rounded up to whole ms) or None
 * (for ever: -1), as the library's timeout_ms; NULL (not given): 0. */
int timeout_arg(PyObject *o, int64_t *ms);
/* "head" or "tail" as SHMKV_HEAD or SHMKV_TAIL; NULL (not given): dflt.
 * name is the argument's, for the message. */
int end_arg(PyObject *o, const char *name, int dflt, int *end);
/* PyArg "O&" converter for a non-negative integer into uint64_t. */
int u64_arg(PyObject *o, void *out);
/* Keyword parsing for METH_FASTCALL|METH_KEYWORDS: up to npos positional
 * arguments (the first nreq required), then the keyword-only names kw
 * (NULL-terminated).  out gets npos + len(kw) borrowed objects, NULL for
 * those not given.  0, or -1 with a TypeError. */
int parse_args(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               int nreq, int npos, const char *const *kw, PyObject **out);

/* table.c */
int table_init(void);                          /* once, at import */
/* Every call into the library goes between these two, which
 * keep close() from freeing the handle under a call that runs without
 * the GIL. */
shmkv *table_enter(TableObject *t);           /* NULL with an exception if closed */
void table_leave(TableObject *t);
/* The value of a key as a new bytes object in *out; 0, -ENOENT (*out
 * NULL), another library code, or PY_ERR. */
int table_read(shmkv *db, const bytes_arg *k, PyObject **out);

/* batch.c: the methods of Table that work on many keys at once. */
PyObject *table_get_many(TableObject *t, PyObject *keys);
PyObject *table_set_many(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames);
PyObject *table_clear(TableObject *t, PyObject *unused);
PyObject *table_stats(TableObject *t, PyObject *unused);
PyObject *table_check(TableObject *t, PyObject *unused);
PyObject *table_get_lease(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames);
PyObject *table_put_leased(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames);

/* lists.c: the methods of Table on lists. */
PyObject *table_push(TableObject *t, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *table_push_many(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames);
PyObject *table_list_pop(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames);
PyObject *table_list_pop_many(TableObject *t, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);
PyObject *table_move(TableObject *t, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *table_llen(TableObject *t, PyObject *key);
PyObject *table_lrange(TableObject *t, PyObject *const *args, Py_ssize_t nargs);

/* scan.c */
PyObject *scan_new(TableObject *t, int what);  /* what: SCAN_KEYS, ... */
enum { SCAN_KEYS = 0, SCAN_ITEMS = 1, SCAN_VALUES = 2, SCAN_LISTS = 3 };
/* What a library callback hands out, gathered without the GIL: gather()
 * is a shmkv_visit_fn whose ctx is a zeroed gathered with keys and/or
 * values set; gathered_list() then makes the Python list of its keys,
 * values or (key, value) pairs (what: SCAN_*); free(buf) after. */
typedef struct {
    char *buf;
    size_t len, cap;
    int keys, values;     /* copy the keys, the values */
} gathered;
int gather(void *ctx, const void *key, size_t klen, const void *val, size_t vlen);
PyObject *gathered_list(const gathered *g, int what);

#endif
