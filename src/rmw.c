/*
 * rmw.c - the read-modify-writes of the public API: incr, append, take,
 * expire and the general update with a callback.  Each is one decision
 * under the key's shard lock (write.h), so it is atomic with respect to
 * every other operation in every process, and a writer killed at any
 * instant leaves the old state or the new.
 */
#include "api.h"
#include "fault.h"
#include "patch.h"
#include "write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- incr ---- */

struct incr_arg {
    int64_t delta;
    uint64_t ttl_ms;
    int64_t result;
    char text[24];  /* the new value, as decimal text */
};

/* v as decimal text into t (at least 20 bytes); returns its length.  By
 * hand, two digits a division: snprintf was two thirds of an increment's
 * instructions, under the shard's lock. */
static size_t format_int(char *t, int64_t v)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                   "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    char d[20];
    size_t n = sizeof d, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        d[--n] = pairs[2 * r + 1];
        d[--n] = pairs[2 * r];
    }
    if (u >= 10) {
        d[--n] = pairs[2 * u + 1];
        d[--n] = pairs[2 * u];
    } else {
        d[--n] = (char)('0' + u);
    }
    if (v < 0)
        t[len++] = '-';
    memcpy(t + len, d + n, sizeof d - n);
    return len + sizeof d - n;
}

static int decide_incr(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    struct incr_arg *a = w->arg;
    int64_t v = 0;
    uint64_t exp = expiry_in(db, w, a->ttl_ms);
    if (c->present) {
        size_t vlen;
        int rc = 0;
        const void *cv = shmkv__cur_value(db, w, c, &vlen, &rc);
        if (!cv)
            return rc;
        if (!shmkv__parse_int(cv, vlen, &v))
            return -EDOM;
        exp = rec_expiry(c->r); /* an existing key keeps its expiry */
    }
    if (__builtin_add_overflow(v, a->delta, &a->result))
        return -ERANGE;
    p->val[0] = (struct piece){a->text, format_int(a->text, a->result)};
    p->nval = 1;
    p->ext = ext_make(REC_PAIR, exp);
    /* the same length: the digits change in place (patch.c) */
    p->act = c->present && shmkv__patch_fits(c->r, p->val[0].len) ? ACT_PATCH : ACT_WRITE;
    return 0;
}

SHMKV_API int shmkv_incr(shmkv *db, const void *key, size_t klen, int64_t delta, uint64_t ttl_ms, int64_t *result)
{
    int r = check_key_write(db, key, klen);
    if (r)
        return r;
    if (ttl_ms > SHMKV_TTL_MAX)
        return -EINVAL;
    struct incr_arg a = {.delta = delta, .ttl_ms = ttl_ms};
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_incr, &a);
    if ((r = shmkv__write(db, &w)) == 0 && result)
        *result = a.result;
    return r;
}

/* ---- append ---- */

struct append_arg {
    const void *val;
    size_t vlen;
};

/* The new record holds the old value and the tail, copied straight from
 * the old record (or from a copy of a chained one). */
static int decide_append(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    const struct append_arg *a = w->arg;
    uint64_t exp = 0;
    p->nval = 0;
    if (c->present) {
        size_t vlen;
        int rc = 0;
        const void *cv = shmkv__cur_value(db, w, c, &vlen, &rc);
        if (!cv)
            return rc;
        p->val[p->nval++] = (struct piece){cv, vlen};
        exp = rec_expiry(c->r);
    }
    p->val[p->nval++] = (struct piece){a->val, a->vlen};
    p->act = ACT_WRITE;
    p->ext = ext_make(REC_PAIR, exp);
    return 0;
}

SHMKV_API int shmkv_append(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    int r = check_write(db, key, klen, val, vlen);
    if (r)
        return r;
    struct append_arg a = {val, vlen};
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_append, &a);
    return shmkv__write(db, &w);
}

/* ---- take ---- */

struct take_arg {
    void *val;
    size_t vlen;
};

static int decide_take(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    struct take_arg *a = w->arg;
    if (!c->present) { /* absent; a pending lease is voided, as by a delete */
        p->act = c->lease ? ACT_DELETE : ACT_NONE;
        w->rc = -ENOENT;
        return 0;
    }
    free(a->val);
    if (!(a->val = xmalloc(c->r->vlen ? c->r->vlen : 1)))
        return -ENOMEM;
    if (!shmkv__rec_value(db, slot_off(c->f.val), c->r, a->val))
        return -EBADMSG;
    a->vlen = c->r->vlen;
    p->act = ACT_DELETE;
    return 0;
}

SHMKV_API int shmkv_take(shmkv *db, const void *key, size_t klen, void **val, size_t *vlen)
{
    int r = check_key_write(db, key, klen);
    if (r)
        return r;
    if (!val || !vlen)
        return -EINVAL;
    *val = NULL;
    struct take_arg a = {0};
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_take, &a);
    if ((r = shmkv__write(db, &w)) == 0) {
        *val = a.val;
        *vlen = a.vlen;
    } else {
        free(a.val);
    }
    return r;
}

/* ---- expire ---- */

struct expire_arg {
    uint64_t ttl_ms;
};

/* The pair is rewritten with its own value (read from the record under
 * the lock, in this very round) and a new expiry. */
static int decide_expire(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    const struct expire_arg *a = w->arg;
    if (!c->present)
        return -ENOENT;
    size_t vlen;
    int rc = 0;
    const void *cv = shmkv__cur_value(db, w, c, &vlen, &rc);
    if (!cv)
        return rc;
    p->act = ACT_WRITE;
    p->val[0] = (struct piece){cv, vlen};
    p->nval = 1;
    p->ext = ext_make(REC_PAIR, expiry_in(db, w, a->ttl_ms));
    return 0;
}

SHMKV_API int shmkv_expire(shmkv *db, const void *key, size_t klen, uint64_t ttl_ms)
{
    int r = check_key_write(db, key, klen);
    if (r)
        return r;
    if (ttl_ms > SHMKV_TTL_MAX)
        return -EINVAL;
    struct expire_arg a = {ttl_ms};
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_expire, &a);
    return shmkv__write(db, &w);
}

/* ---- update: a read-modify-write of the caller's own ---- */

struct update_arg {
    shmkv_update_fn fn;
    void *ctx;
};

static int decide_update(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    const struct update_arg *a = w->arg;
    const void *cv = NULL;
    size_t vlen = 0;
    if (c->present) {
        int rc = 0;
        if (!(cv = shmkv__cur_value(db, w, c, &vlen, &rc)))
            return rc;
    }
    shmkv_update_out o = {0};
    int r = a->fn(a->ctx, w->key, w->klen, cv, vlen, &o);
    switch (r) {
    case SHMKV_UPDATE_KEEP:
        p->act = ACT_NONE;
        return 0;
    case SHMKV_UPDATE_DELETE:
        if (!c->present && !c->lease)
            return 0;
        p->act = ACT_DELETE;
        return 0;
    case SHMKV_UPDATE_SET:
        if ((!o.val && o.vlen) || (o.flags & ~SHMKV_KEEP_TTL) || o.ttl_ms > SHMKV_TTL_MAX ||
            ((o.flags & SHMKV_KEEP_TTL) && o.ttl_ms))
            return -EINVAL;
        p->act = ACT_WRITE;
        p->val[0] = (struct piece){o.val, o.vlen};
        p->nval = 1;
        p->ext = ext_make(REC_PAIR, (o.flags & SHMKV_KEEP_TTL) ? (c->present ? rec_expiry(c->r) : 0)
                                                               : expiry_in(db, w, o.ttl_ms));
        return 0;
    default:
        return r < 0 ? r : -EINVAL;
    }
}

SHMKV_API int shmkv_update(shmkv *db, const void *key, size_t klen, shmkv_update_fn fn, void *ctx)
{
    int r = check_key_write(db, key, klen);
    if (r)
        return r;
    if (!fn)
        return -EINVAL;
    struct update_arg a = {fn, ctx};
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_update, &a);
    return shmkv__write(db, &w);
}
