/*
 * The commands on pairs: put, add, replace, get, del, ttl, expire, clear,
 * and the listings keys and scan (of pairs and lists).
 */
#include "cli.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- put/add/replace, get, del, ttl, expire, clear ----------------------- */

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

/* put, add and replace */
int cmd_write(const struct args *a)
{
    int (*fn)(shmkv *, const void *, size_t, const void *, size_t) =
        a->name[0] == 'p' ? shmkv_put : a->name[0] == 'a' ? shmkv_add : shmkv_replace;
    struct bytes k, v = {NULL, 0, NULL};
    shmkv *db;
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc)
        return rc;
    rc = a->n < 3 || !strcmp(a->v[2], "-") ? read_stdin(&v) : arg_bytes(a->v[2], "VALUE", &v);
    if (rc == 0 && (rc = open_table(a->v[0], OPEN_WRITE, &db)) == 0) {
        int r = a->ttl ? shmkv_put_ttl(db, k.p, k.n, v.p, v.n, a->ttl) : fn(db, k.p, k.n, v.p, v.n);
        rc = r ? op_error(a->v[0], db, r, k.p, k.n) : EX_OK;
        shmkv_close(db);
    }
    free(k.buf);
    free(v.buf);
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

static int get_op(shmkv *db, const struct bytes *k, const void *ctx)
{
    void *val;
    size_t vlen;
    int r = shmkv_get_alloc(db, k->p, k->n, &val, &vlen);
    (void)ctx;
    if (r)
        return r;
    /* the exact bytes to a file or pipe; on a terminal escaped, with a newline */
    int mode = out_mode(stdout);
    put_data(stdout, val, vlen, mode);
    if (mode != OUT_RAW)
        putc('\n', stdout);
    free(val);
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
    return on_key(a, OPEN_READ, get_op, NULL);
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
    uint64_t cursor = 0;
    int r = 0;
    if (l.limit)
        do
            r = shmkv_scan_all(db, &cursor, list_visit, &l);
        while (r == 0 && cursor);
    rc = r < 0 && r != -EIO ? op_error(a->v[0], db, r, NULL, 0) : finish_output();
    shmkv_close(db);
    free(l.kbuf);
    return rc;
}
