/*
 * The commands on pairs: put, add, replace, append, incr, get, take, del,
 * ttl, expire, clear, and the listings keys and scan (of pairs and lists).
 */
#include "cli.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the writes, get, take, del, ttl, expire, clear ---------------------- */

/* All of standard input, in a growing buffer. */
int read_stdin(struct bytes *v)
{
    size_t cap = 65536, n = 0;
    unsigned char *b = xrealloc(NULL, cap);
    ssize_t r;
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "shmkv: reading the value from standard input (end it with Ctrl-D)\n");
    while ((r = read(STDIN_FILENO, b + n, cap - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || n + (size_t)r > (size_t)SHMKV_VAL_MAX) {
            if (r < 0)
                msg("error reading standard input: %s", strerror(errno));
            else
                msg("the value on standard input is over %u bytes, the most a value can hold", SHMKV_VAL_MAX);
            free(b);
            return EX_FAIL;
        }
        if ((n += (size_t)r) == cap)
            b = xrealloc(b, cap *= 2);
    }
    v->p = v->buf = b;
    v->n = n;
    return 0;
}

/* A put whose condition (--if-absent, --if-present, --if-equal) failed:
 * say which, exit 1.  Nothing was written. */
static int cond_failed(const struct args *a, int r, const struct bytes *k)
{
    const char *key = key_repr(k->p, k->n);
    if (r == -EEXIST)
        msg("key %s exists in \"%s\": not written (--if-absent)", key, a->v[0]);
    else if (r == -ENOENT)
        msg("no key %s in \"%s\": not written (%s)", key, a->v[0], a->if_equal ? "--if-equal" : "--if-present");
    else
        msg("key %s in \"%s\" holds another value than --if-equal gives: not written", key, a->v[0]);
    return EX_NOTFOUND;
}

/* KEY and VALUE (or standard input) as bytes into *k, *v; with --if-equal
 * OLD into *old.  0 or an exit status (the caller frees the buffers). */
static int write_args(const struct args *a, struct bytes *k, struct bytes *v, struct bytes *old)
{
    int rc = arg_bytes(a->v[1], "KEY", k);
    if (rc == 0 && a->if_equal)
        rc = arg_bytes(a->if_equal, "OLD", old);
    if (rc == 0)
        rc = a->n < 3 || !strcmp(a->v[2], "-") ? read_stdin(v) : arg_bytes(a->v[2], "VALUE", v);
    return rc;
}

/* put, add, replace (all shmkv_put_ex under conditions) and append */
int cmd_write(const struct args *a)
{
    struct bytes k = {NULL, 0, NULL}, v = {NULL, 0, NULL}, old = {NULL, 0, NULL};
    unsigned flags = !strcmp(a->name, "add") ? SHMKV_IF_ABSENT : !strcmp(a->name, "replace") ? SHMKV_IF_PRESENT : 0;
    shmkv *db;
    int rc = write_args(a, &k, &v, &old);
    if (rc == 0 && (rc = open_table(a->v[0], OPEN_WRITE, &db)) == 0) {
        shmkv_put_opts o = {.flags = flags | a->put_flags, .ttl_ms = a->ttl, .expected = old.p, .elen = old.n};
        int r = !strcmp(a->name, "append") ? shmkv_append(db, k.p, k.n, v.p, v.n)
                                           : shmkv_put_ex(db, k.p, k.n, v.p, v.n, &o);
        bool cond = a->put_flags & (SHMKV_IF_ABSENT | SHMKV_IF_PRESENT | SHMKV_IF_EQUAL);
        rc = !r ? EX_OK
           : cond && (r == -EEXIST || r == -ENOENT || r == -ECANCELED) ? cond_failed(a, r, &k)
           : op_error(a->v[0], db, r, k.p, k.n);
        shmkv_close(db);
    }
    free(k.buf);
    free(v.buf);
    free(old.buf);
    return rc;
}

/* The commands on one key share their frame: KEY (argument 1) as bytes,
 * the table NAME (argument 0) opened as how says (OPEN_*), then op on them
 * with ctx, which returns an exit status, or a library error (negative)
 * for op_error to explain. */
typedef int key_op(shmkv *db, const struct bytes *k, const void *ctx);

static int on_key(const struct args *a, int how, key_op *op, const void *ctx)
{
    struct bytes k;
    shmkv *db;
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc == 0 && (rc = open_table(a->v[0], how, &db)) == 0) {
        int r = op(db, &k, ctx);
        rc = r < 0 ? op_error(a->v[0], db, r, k.p, k.n) : r;
        shmkv_close(db);
    }
    free(k.buf);
    return rc;
}

/* get, and take (ctx non-NULL): print the value, its exact bytes to a
 * file or pipe; on a terminal escaped, with a newline. */
static int value_op(shmkv *db, const struct bytes *k, const void *take)
{
    void *val;
    size_t vlen;
    int r = take ? shmkv_take(db, k->p, k->n, &val, &vlen) : shmkv_get_alloc(db, k->p, k->n, &val, &vlen);
    if (r)
        return r;
    int mode = out_mode(stdout);
    put_data(stdout, val, vlen, mode);
    if (mode != OUT_RAW)
        putc('\n', stdout);
    free(val);
    return finish_output();
}

struct incr_args {
    int64_t delta;
    uint64_t ttl;
};

static int incr_op(shmkv *db, const struct bytes *k, const void *ctx)
{
    const struct incr_args *ia = ctx;
    int64_t result;
    int r = shmkv_incr(db, k->p, k->n, ia->delta, ia->ttl, &result);
    if (r)
        return r;
    printf("%" PRId64 "\n", result); /* decimal, whatever --hex says: a number */
    return finish_output();
}

static int ttl_op(shmkv *db, const struct bytes *k, const void *ctx)
{
    uint64_t left;
    int r = shmkv_ttl(db, k->p, k->n, &left);
    (void)ctx;
    if (r)
        return r;
    printf("%" PRIu64 "\n", left); /* 0: never expires */
    return finish_output();
}

static int del_op(shmkv *db, const struct bytes *k, const void *ctx)
{
    (void)ctx;
    return shmkv_del(db, k->p, k->n);
}

static int expire_op(shmkv *db, const struct bytes *k, const void *ms)
{
    return shmkv_expire(db, k->p, k->n, *(const uint64_t *)ms);
}

int cmd_get(const struct args *a)
{
    return on_key(a, OPEN_READ, value_op, NULL);
}

int cmd_take(const struct args *a)
{
    return on_key(a, OPEN_WRITE, value_op, "take");
}

int cmd_incr(const struct args *a)
{
    struct incr_args ia = {.delta = 1, .ttl = a->ttl};
    if (a->n > 2 && parse_int64(a->v[2], &ia.delta))
        return usage_error_of(a->name, "DELTA '%s': give a whole number from -9223372036854775808 to "
                              "9223372036854775807 (a negative one after --)", a->v[2]);
    return on_key(a, OPEN_WRITE, incr_op, &ia);
}

int cmd_ttl(const struct args *a)
{
    return on_key(a, OPEN_READ, ttl_op, NULL);
}

int cmd_del(const struct args *a)
{
    return on_key(a, OPEN_WRITE, del_op, NULL);
}

int cmd_expire(const struct args *a)
{
    uint64_t ms;
    if (parse_ms(a->v[2], &ms))
        return usage_error_of(a->name, "MS '%s': give milliseconds, a whole number like 60000 (0: never "
                              "expires; at most 100 years)", a->v[2]);
    return on_key(a, OPEN_WRITE, expire_op, &ms);
}

int cmd_clear(const struct args *a)
{
    shmkv *db;
    int rc = open_table(a->v[0], OPEN_WRITE, &db);
    if (rc)
        return rc;
    int r = shmkv_clear(db);
    rc = r ? op_error(a->v[0], db, r, NULL, 0) : EX_OK;
    shmkv_close(db);
    return rc;
}

/* ---- keys, scan -------------------------------------------------------- */

struct lister {
    const char *glob;
    bool values;
    int mode;
    uint64_t limit, n;
    char *kbuf;        /* the key NUL-terminated, or escaped, for fnmatch */
    size_t kcap;
};

/* GLOB matches the key's bytes; a key holding a NUL byte is matched on its
 * escaped form (\x00, and \\ for a backslash), as a terminal shows it. */
static bool glob_match(struct lister *l, const void *key, size_t klen)
{
    if (!l->glob)
        return true;
    if (memchr(key, 0, klen)) {
        free(l->kbuf);
        l->kbuf = NULL;
        l->kcap = 0; /* open_memstream sets it to the length written */
        FILE *f = open_memstream(&l->kbuf, &l->kcap);
        if (!f)
            return false;
        put_escaped(f, key, klen);
        fclose(f);
    } else {
        if (l->kcap < klen + 1)
            l->kbuf = xrealloc(l->kbuf, l->kcap = klen + 1);
        memcpy(l->kbuf, key, klen);
        l->kbuf[klen] = 0;
    }
    return fnmatch(l->glob, l->kbuf, 0) == 0;
}

/* A list's elements as scan prints them: \list:N, then each after a tab.
 * No escaped, hex or base64 value can begin with \l (escaping doubles a
 * backslash), so only raw output could take a pair for a list. */
static void put_list(const struct lister *l, const unsigned char *val, size_t vlen)
{
    uint64_t n = 0;
    for (size_t pos = 0; pos + 4 <= vlen; n++) {
        uint32_t len;
        memcpy(&len, val + pos, 4);
        pos += 4 + (size_t)len;
    }
    printf("\\list:%" PRIu64, n);
    for (size_t pos = 0; pos + 4 <= vlen;) {
        uint32_t len;
        memcpy(&len, val + pos, 4);
        putc('\t', stdout);
        put_data(stdout, val + pos + 4, len, l->mode);
        pos += 4 + (size_t)len;
    }
}

static int list_visit(void *ctx, int kind, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct lister *l = ctx;
    if (!glob_match(l, key, klen))
        return 0;
    put_data(stdout, key, klen, l->mode);
    if (l->values) {
        putc('\t', stdout);
        if (kind == SHMKV_KIND_LIST)
            put_list(l, val, vlen);
        else
            put_data(stdout, val, vlen, l->mode);
    }
    putc('\n', stdout);
    if (ferror(stdout))
        return -EIO;
    return ++l->n >= l->limit ? 1 : 0;
}

/* keys and scan: pairs and lists */
int cmd_list(const struct args *a)
{
    struct lister l = {.glob = a->n > 1 ? a->v[1] : NULL, .mode = out_mode(stdout),
                       .limit = a->has_limit ? a->limit : UINT64_MAX};
    shmkv *db;
    l.values = !strcmp(a->name, "scan");
    int rc = open_table(a->v[0], OPEN_ITER, &db);
    if (rc)
        return rc;
    /* a shard per call, printed as it goes: memory holds one shard's copy,
     * and a --limit reached stops the scan there */
    uint64_t cursor = 0;
    int r = 0;
    if (l.limit)
        do
            r = shmkv_scan_all(db, &cursor, list_visit, &l);
        while (r == 0 && cursor != 0);
    rc = r < 0 && r != -EIO ? op_error(a->v[0], db, r, NULL, 0) : finish_output();
    shmkv_close(db);
    free(l.kbuf);
    return rc;
}
