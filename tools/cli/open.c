/*
 * Tables by name: their paths (the rule of shmkv_open), opening them, and
 * the messages for what can go wrong, each with its cause and its fix.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *table_dir(void)
{
    const char *d = getenv("SHMKV_DIR");
    return d && *d ? d : "/dev/shm";
}

/* the path the library uses for name (the rule of shmkv_open) */
const char *table_path(const char *name)
{
    static char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s%s%s", strchr(name, '/') ? "" : table_dir(), strchr(name, '/') ? "" : "/", name);
    return path;
}

int open_error(const char *name, int rc, bool writing)
{
    const char *path = table_path(name);
    struct stat st;
    switch (rc) {
    case -ENOENT:
        if (!strchr(name, '/') && stat(table_dir(), &st) != 0)
            msg("directory %s does not exist (%s)", table_dir(),
                getenv("SHMKV_DIR") && *getenv("SHMKV_DIR") ? "SHMKV_DIR names it: create it, or unset SHMKV_DIR"
                                                            : "set SHMKV_DIR to the directory of your tables");
        else if (strchr(name, '/'))
            msg("no table at %s (create it with: shmkv create %s)", path, name);
        else
            msg("no table \"%s\" in %s (create it with: shmkv create %s)", name, table_dir(), name);
        return EX_NOTFOUND;
    case -EBADMSG:
        msg("\"%s\" is not a shmkv table or is damaged (run: shmkv check %s)", name, name);
        return EX_FAIL;
    case -EACCES:
    case -EPERM:
        msg("permission denied: cannot open %s for %s (see its owner and mode with: ls -l %s)", path,
            writing ? "writing" : "reading", path);
        return EX_FAIL;
    case -ELOOP:
        msg("%s is a symbolic link, which shmkv never follows (give the real path)", path);
        return EX_FAIL;
    case -EISDIR:
        msg("%s is a directory, not a table", path);
        return EX_FAIL;
    case -ENAMETOOLONG:
    case -EINVAL:
        msg("\"%s\": invalid table name (%s)", name, shmkv_strerror(rc));
        return EX_USAGE;
    case -ENOMEM:
        msg("cannot map %s: out of memory or address space (check ulimit -v)", path);
        return EX_FAIL;
    case -ENOSPC:
        msg("no room to create %s (free space there, or choose a smaller --max-bytes)", path);
        return EX_FAIL;
    case -EEXIST:
        msg("table \"%s\" already exists (%s): use it as it is, or remove it first with: shmkv rm %s", name,
            path, name);
        return EX_FAIL;
    default:
        msg("cannot open table \"%s\" (%s): %s", name, path, shmkv_strerror(rc));
        return EX_FAIL;
    }
}

/* READ: a read-only handle.  WRITE: writable.  ITER (for iterating):
 * writable if permitted, so that foreach copies each shard under its lock
 * and busy writers cannot starve it; else read-only. */
int open_table(const char *name, int how, shmkv **db)
{
    shmkv_options o = {.flags = how == OPEN_READ ? SHMKV_RDONLY : 0};
    int rc = shmkv_open(name, &o, db);
    if (rc == -EACCES && how == OPEN_ITER) {
        o.flags = SHMKV_RDONLY;
        rc = shmkv_open(name, &o, db);
    }
    return rc ? open_error(name, rc, how == OPEN_WRITE) : 0;
}

/* An error from an operation on an open table. */
int op_error(const char *name, shmkv *db, int rc, const void *key, size_t klen)
{
    shmkv_stats st;
    switch (rc) {
    case -ENOENT:
        msg("no key %s in \"%s\"", key_repr(key, klen), name);
        return EX_NOTFOUND;
    case -EEXIST:
        msg("key %s already exists in \"%s\" (overwrite it with: shmkv put)", key_repr(key, klen), name);
        return EX_NOTFOUND;
    case -ENOSPC:
        shmkv_stat(db, &st);
        msg("table \"%s\" is full: %s used of its %s limit, or its file system is full (delete keys, "
            "or dump it and load it into a table created with a larger --max-bytes)",
            name, hbytes(st.used_bytes), hbytes(st.max_bytes));
        return EX_FAIL;
    case -E2BIG:
        if (shmkv_stat(db, &st) == 0 && st.cache)
            msg("key %s: pair too large for the cache \"%s\" (a pair may use at most an eighth of its %s "
                "limit)", key_repr(key, klen), name, hbytes(st.max_bytes));
        else
            msg("key %s: pair too large (keys up to %u bytes, values up to 4 GiB - 1, and a pair must fit "
                "in the table's limit)", key_repr(key, klen), SHMKV_KEY_MAX);
        return EX_FAIL;
    case -EDOM:
        msg("key %s in \"%s\" is not an integer (incr needs decimal text: an optional '-', then 1 to 19 "
            "digits, within 64 bits): nothing changed", key_repr(key, klen), name);
        return EX_FAIL;
    case -ERANGE:
        msg("key %s in \"%s\": the result would overflow a 64-bit signed integer: nothing changed",
            key_repr(key, klen), name);
        return EX_FAIL;
    case -ETIMEDOUT:
        msg("a writer has held a lock of \"%s\" for over a second (is a process stopped or stuck?): "
            "try again", name);
        return EX_FAIL;
    case -EBADMSG:
        msg("\"%s\" is damaged (run: shmkv check %s)", name, name);
        return EX_FAIL;
    case -EMEDIUMTYPE: { /* which kind it holds: llen says */
        uint64_t n;
        if (shmkv_llen(db, key, klen, &n) == -EMEDIUMTYPE)
            msg("key %s in \"%s\" holds a pair, not a list (read it with: shmkv get)", key_repr(key, klen), name);
        else
            msg("key %s in \"%s\" holds a list, not a pair (read it with: shmkv lrange; remove it with: shmkv "
                "del)", key_repr(key, klen), name);
        return EX_FAIL;
    }
    case -EOPNOTSUPP:
        msg("\"%s\" is a cache, and caches hold no lists (eviction would drop queued elements)", name);
        return EX_FAIL;
    default:
        msg("\"%s\": %s", name, shmkv_strerror(rc));
        return EX_FAIL;
    }
}

/* The options of a table create (or load) makes: flags and the command line's. */
shmkv_options create_opts(const struct args *a, unsigned flags)
{
    shmkv_options so = {.flags = flags | (a->stats ? SHMKV_STATS : 0) | (a->cache ? SHMKV_CACHE : 0),
                        .max_bytes = a->max_bytes, .expected_keys = a->expected_keys,
                        .mode = a->has_mode && a->mode ? a->mode : 0600};
    return so;
}
