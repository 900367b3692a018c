/*
 * The commands on lists: push, pop, llen, lrange (docs/shmkv.1, LISTS).
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* An element printed by pop --count and lrange: as scan prints a value,
 * then a newline (one a line). */
static int put_elem(FILE *f, const void *v, size_t n, int mode)
{
    put_data(f, v, n, mode);
    putc('\n', f);
    return ferror(f) ? -EIO : 0;
}

/* push NAME KEY [VALUE...] [--head] [--max-len N [--wait MS]]: one push_many
 * (or push_bounded), so all or nothing */
int cmd_push(const struct args *a)
{
    int nv = a->n > 2 ? a->n - 2 : 1, stdin_used = 0;
    struct bytes k, *v = xrealloc(NULL, (size_t)nv * sizeof *v);
    shmkv_elem *el = xrealloc(NULL, (size_t)nv * sizeof *el);
    memset(v, 0, (size_t)nv * sizeof *v);
    int rc = arg_bytes(a->v[1], "KEY", &k);
    for (int i = 0; !rc && i < nv; i++) {
        if (a->n <= 2 || !strcmp(a->v[2 + i], "-")) /* all of standard input, once */
            rc = stdin_used++ ? usage_error_of(a->name, "only one VALUE may be - (standard input)")
                              : read_stdin(&v[i]);
        else
            rc = arg_bytes(a->v[2 + i], "VALUE", &v[i]);
        el[i] = (shmkv_elem){v[i].p, v[i].n};
    }
    shmkv *db;
    if (rc == 0 && (rc = open_table(a->v[0], OPEN_WRITE, &db)) == 0) {
        int end = a->head ? SHMKV_HEAD : SHMKV_TAIL, r;
        if (!a->max_len)
            r = shmkv_push_many(db, k.p, k.n, el, (size_t)nv, end);
        else if ((uint64_t)nv > a->max_len)
            r = usage_error_of(a->name, "%d VALUEs can never fit in --max-len %" PRIu64, nv, a->max_len);
        else
            r = shmkv_push_bounded(db, k.p, k.n, el, (size_t)nv, end, a->max_len, a->has_wait ? a->wait : 0);
        if (r == -EAGAIN)
            msg("list %s in \"%s\" has no room below --max-len %" PRIu64 "%s", key_repr(k.p, k.n), a->v[0],
                a->max_len, a->has_wait && a->wait ? " (waited for a pop in vain)" : "");
        rc = r == -EAGAIN ? EX_NOTFOUND : r < 0 ? op_error(a->v[0], db, r, k.p, k.n) : r;
        shmkv_close(db);
    }
    free(k.buf);
    for (int i = 0; i < nv; i++)
        free(v[i].buf);
    free(v);
    free(el);
    return rc;
}

/* pop NAME KEY [--tail] [--wait MS] [--count N] */
int cmd_pop(const struct args *a)
{
    struct bytes k;
    shmkv *db;
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc || (rc = open_table(a->v[0], OPEN_WRITE, &db)) != 0) {
        free(k.buf);
        return rc;
    }
    int end = a->tail ? SHMKV_TAIL : SHMKV_HEAD, mode = out_mode(stdout);
    uint64_t want = a->count ? a->count : 1, got = 0;
    size_t cap = 65536, lens[64], n;
    unsigned char *buf = xrealloc(NULL, cap);
    int r = 0;
    while (got < want) {
        size_t max = want - got < 64 ? (size_t)(want - got) : 64;
        /* only the first waits: then what is there */
        r = shmkv_pop_many(db, k.p, k.n, end, buf, cap, lens, max, &n, got ? 0 : a->has_wait ? a->wait : 0);
        if (r == -ENOBUFS) {
            buf = xrealloc(buf, cap = lens[0]);
            continue;
        }
        if (r)
            break;
        for (size_t i = 0, pos = 0; i < n; pos += lens[i++]) {
            if (a->count)
                r = put_elem(stdout, buf + pos, lens[i], mode);
            else { /* one element: printed as get prints a value */
                put_data(stdout, buf + pos, lens[i], mode);
                if (mode != OUT_RAW)
                    putc('\n', stdout);
            }
        }
        got += n;
    }
    if (r == -EAGAIN && !got) {
        msg("list %s in \"%s\" is empty or absent%s", key_repr(k.p, k.n), a->v[0],
            a->has_wait && a->wait ? " (waited for a push in vain)" : "");
        rc = EX_NOTFOUND;
    } else if (r && r != -EAGAIN && r != -EIO) {
        rc = op_error(a->v[0], db, r, k.p, k.n);
    } else {
        rc = finish_output();
    }
    free(buf);
    free(k.buf);
    shmkv_close(db);
    return rc;
}

/* llen NAME KEY */
int cmd_llen(const struct args *a)
{
    struct bytes k;
    shmkv *db;
    uint64_t len;
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc == 0 && (rc = open_table(a->v[0], OPEN_READ, &db)) == 0) {
        int r = shmkv_llen(db, k.p, k.n, &len);
        rc = r ? op_error(a->v[0], db, r, k.p, k.n) : (printf("%" PRIu64 "\n", len), finish_output());
        shmkv_close(db);
    }
    free(k.buf);
    return rc;
}

static int print_elem(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen;
    return put_elem(stdout, val, vlen, *(int *)ctx);
}

static int parse_index(const char *s, const char *what, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        return usage_error_of("lrange", "%s '%s': give an index, a whole number (negative: from the tail, -1 "
                              "the last; put -- before it)", what, s);
    *out = v;
    return 0;
}

/* lrange NAME KEY [START [STOP]] */
int cmd_lrange(const struct args *a)
{
    int64_t start = 0, stop = -1;
    int rc = a->n > 2 ? parse_index(a->v[2], "START", &start) : 0;
    if (!rc && a->n > 3)
        rc = parse_index(a->v[3], "STOP", &stop);
    struct bytes k;
    shmkv *db;
    if (rc || (rc = arg_bytes(a->v[1], "KEY", &k)) != 0)
        return rc;
    if ((rc = open_table(a->v[0], OPEN_ITER, &db)) == 0) {
        int mode = out_mode(stdout);
        int r = shmkv_lrange(db, k.p, k.n, start, stop, print_elem, &mode);
        rc = r && r != -EIO ? op_error(a->v[0], db, r, k.p, k.n) : finish_output();
        shmkv_close(db);
    }
    free(k.buf);
    return rc;
}
