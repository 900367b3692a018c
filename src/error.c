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
    case -EAGAIN:       return "writers kept changing the table; try again";
    case -ENOTRECOVERABLE: return "a lock in the table is unrecoverable";
    case -ETIMEDOUT:    return "a lock in the table stayed held too long (holder stopped, or lock damaged)";
    }
    if (err < 0 && err > -4096) {
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown shmkv error";
}
