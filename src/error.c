/*
 * error.c - messages for the codes shmkv returns.
 *
 * The library's own wording for the codes its API documents, so messages
 * say what went wrong with the table, not just the errno name; any other
 * code falls back to strerror's text (thread-safe: strerrordesc_np gives
 * static strings).
 */
#include "handle.h"

#include <errno.h>

#include <string.h>

SHMKV_API const char *shmkv_strerror(int err)
{
    switch (err) {
    case 0:             return "success";
    case -ENOENT:       return "no such key or table";
    case -EEXIST:       return "key or table already exists";
    case -EINVAL:       return "invalid argument";
    case -E2BIG:        return "key or value too long";
    case -ENOBUFS:      return "buffer too small for the value";
    case -ENOSPC:       return "table full: max_bytes reached or file system full";
    case -EROFS:        return "table opened read-only";
    case -EBADMSG:      return "not a shmkv table of this format, or the table is corrupt";
    case -ENOMEM:       return "out of memory or address space";
    case -EACCES:       return "permission denied";
    case -ELOOP:        return "table name is a symbolic link (not followed)";
    case -EISDIR:       return "table name is a directory";
    case -ENAMETOOLONG: return "table name or path too long";
    case -EAGAIN:       return "nothing to take (empty list), or writers kept changing the table; try again";
    case -ENOTRECOVERABLE: return "a lock in the table is unrecoverable";
    case -ETIMEDOUT:    return "a lock in the table is held by a stopped process, or was held too long";
    case -EDEADLK:      return "this thread already holds the lock (a table call from an update callback)";
    case -EMEDIUMTYPE:  return "wrong kind of value: a list where a pair was expected, or the reverse";
    case -ECANCELED:    return "condition not met: the value differs, or the lease was voided";
    case -EDOM:         return "the value is not a decimal integer";
    case -ERANGE:       return "the result would overflow a 64-bit integer";
    case -EOPNOTSUPP:   return "not supported by this table (caches hold no lists)";
    case -EOVERFLOW:    return "the list is full (2^31 - 1 elements)";
    }
    if (err < 0 && err > -4096) {
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown shmkv error";
}
