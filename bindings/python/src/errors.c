/*
 * errors.c - shmkv.Error, a subclass of OSError with the library's errno
 * and shmkv_strerror's text, and one subclass per kind of failure.
 *
 * Each subclass also derives from the built-in exception that Python
 * itself would raise for that errno or kind of mistake, so the usual
 * handlers work: "except FileNotFoundError" for a missing table, "except
 * ValueError" for a key that is too long, "except TimeoutError" for a
 * lock held too long.  Codes without a subclass raise shmkv.Error.
 */
#include "pyshmkv.h"

#include <errno.h>
#include <stdarg.h>

struct error_kind {
    const char *name;          /* attribute of the module */
    PyObject **builtin;        /* the second base; NULL: Error only */
    int codes[5];              /* the errnos it stands for, 0-terminated */
    const char *doc;
    PyObject *cls;
};

static PyObject *base_error;

static struct error_kind kinds[] = {
    {"NotFoundError", &PyExc_FileNotFoundError, {ENOENT},
     "No such table (or key, where no KeyError is raised).", NULL},
    {"ExistsError", &PyExc_FileExistsError, {EEXIST},
     "The table exists (exclusive=True).", NULL},
    {"AccessError", &PyExc_PermissionError, {EACCES, EPERM},
     "Permission denied by the file system.", NULL},
    {"DirectoryError", &PyExc_IsADirectoryError, {EISDIR},
     "The table's name is a directory.", NULL},
    {"InvalidError", &PyExc_ValueError, {EINVAL, E2BIG, ENAMETOOLONG, EDOM},
     "A bad argument: empty or too long key, value or name, bad options,\n"
     "or incr() on a value that is not a decimal integer.", NULL},
    {"RangeError", &PyExc_OverflowError, {ERANGE},
     "incr() would overflow a signed 64-bit integer.", NULL},
    {"FullError", NULL, {ENOSPC, EOVERFLOW},
     "The table reached max_bytes (or its file system is full), or a list\n"
     "holds the most elements a list can (2**31 - 1).", NULL},
    {"ReadOnlyError", NULL, {EROFS},
     "A write on a table opened with readonly=True.", NULL},
    {"LockTimeoutError", &PyExc_TimeoutError, {ETIMEDOUT},
     "Another process held a lock of the table for over a second.", NULL},
    {"BusyError", &PyExc_BlockingIOError, {EAGAIN},
     "Writers kept changing the table during a read-only scan; try again.", NULL},
    {"WrongTypeError", &PyExc_TypeError, {EMEDIUMTYPE},
     "The key holds the other kind of value: a list where a pair was\n"
     "expected (t[k], set, incr, ... on a list's key), or a pair where a\n"
     "list was (push, list_pop, move, ... on a pair's key).", NULL},
    {"CorruptError", NULL, {EBADMSG, ENOTRECOVERABLE},
     "Not a shmkv table of this format, or the table is damaged.", NULL},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static PyObject *class_of(int err)
{
    for (size_t i = 0; i < NKINDS; i++)
        for (int j = 0; kinds[i].codes[j]; j++)
            if (kinds[i].codes[j] == err)
                return kinds[i].cls;
    return base_error;
}

int errors_init(PyObject *module)
{
    base_error = PyErr_NewExceptionWithDoc(
        "shmkv.Error",
        "An error of the shmkv library: an OSError whose errno is the\n"
        "library's code and whose strerror is shmkv_strerror()'s text.",
        PyExc_OSError, NULL);
    if (!base_error || PyModule_AddObjectRef(module, "Error", base_error) < 0)
        return -1;
    for (size_t i = 0; i < NKINDS; i++) {
        char qualname[64];
        PyOS_snprintf(qualname, sizeof qualname, "shmkv.%s", kinds[i].name);
        PyObject *bases = kinds[i].builtin ? PyTuple_Pack(2, base_error, *kinds[i].builtin)
                                           : PyTuple_Pack(1, base_error);
        if (!bases)
            return -1;
        kinds[i].cls = PyErr_NewExceptionWithDoc(qualname, kinds[i].doc, bases, NULL);
        Py_DECREF(bases);
        if (!kinds[i].cls || PyModule_AddObjectRef(module, kinds[i].name, kinds[i].cls) < 0)
            return -1;
    }
    return 0;
}

static PyObject *raise_text(int err, const char *text, PyObject *filename)
{
    PyObject *e = filename ? PyObject_CallFunction(class_of(err), "isO", err, text, filename)
                           : PyObject_CallFunction(class_of(err), "is", err, text);
    if (e) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
    return NULL;
}

PyObject *raise_rc(int rc, PyObject *filename)
{
    return raise_text(-rc, shmkv_strerror(rc), filename);
}

PyObject *raise_msg(int err, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    PyOS_vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return raise_text(err, text, NULL);
}
