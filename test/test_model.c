/*
 * test_model.c - random operation sequences applied both to a table and to
 * a simple in-process model (model.h); every return code and every value
 * compared, and the whole table compared with the model (foreach, a scan
 * on a writable and on a read-only handle, count, stat with every
 * counter, every key's value and lifetime) after each phase.  The table
 * is closed and reopened midway.
 *
 * The operations: put, put_ttl, add, replace, del, the gets, put_ex with
 * every flag (and refused combinations), incr (on numbers, on texts that
 * are none, past int64's ends), append, take, update (each decision, an
 * error, garbage, an invalid out), put_many (invalid pairs, a key many
 * times), get_lease and put_leased (right, stale and wrong tokens),
 * expire, ttl, writes on a read-only handle, clear, and moving the clock
 * so that lifetimes and leases run out.
 */
#include "harness.h"
#include "api_helpers.h"
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One operation: its inputs, and what it returned against what the
 * model says. */
struct op {
    shmkv *h, *ro;
    h_rng *r;
    struct mkey *k;
    int ki;
    unsigned char *val, *buf;   /* VAL_CAP + 8192 bytes each */
    size_t vl;                  /* a random value length */
    uint64_t seed;
    long n;
    const char *name;
    int rc, want;
    long *mismatches;
    int touched[24], ntouched;  /* other keys it changed (resynchronised on a mismatch) */
};

static void mismatch(struct op *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mismatch(struct op *o, const char *fmt, ...)
{
    if ((*o->mismatches)++ >= 10)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h_fail(__FILE__, __LINE__, "seed %llu op %ld: %s of key %d (%s): %s", (unsigned long long)o->seed,
           o->n, o->name, o->ki, o->k->present ? "present" : "absent", msg);
}

static int same_value(const struct mkey *k, const void *v, size_t vl)
{
    return k->present && k->vl == vl && (vl == 0 || memcmp(k->v, v, vl) == 0);
}

static uint64_t rand_ttl(h_rng *r)
{
    return h_below(r, 5) ? 0 : (uint64_t)UNIT * h_range(r, 1, 3);
}

/* ---- the operations of the original model ---- */

static void op_put(struct op *o)
{
    uint64_t ttl = rand_ttl(o->r);
    o->name = ttl ? "put_ttl" : "put";
    h_fill_random(o->r, o->val, o->vl);
    o->rc = ttl ? shmkv_put_ttl(o->h, o->k->k, o->k->kl, o->val, o->vl, ttl)
                : shmkv_put(o->h, o->k->k, o->k->kl, o->val, o->vl);
    o->want = 0;
    if (o->rc == 0)
        model_set(o->k, o->val, o->vl, model_expiry(ttl));
}

static void op_add_replace(struct op *o)
{
    int add = h_below(o->r, 2);
    o->name = add ? "add" : "replace";
    h_fill_random(o->r, o->val, o->vl);
    o->rc = (add ? shmkv_add : shmkv_replace)(o->h, o->k->k, o->k->kl, o->val, o->vl);
    o->want = add ? (o->k->present ? -EEXIST : 0) : (o->k->present ? 0 : -ENOENT);
    if (o->rc == 0 && o->want == 0)
        model_set(o->k, o->val, o->vl, 0);
}

static void op_del(struct op *o)
{
    o->name = "del";
    o->rc = shmkv_del(o->h, o->k->k, o->k->kl);
    o->want = o->k->present ? 0 : -ENOENT;
    if (o->rc == o->want)
        model_del(o->k); /* also voids a pending lease */
}

static void op_get(struct op *o)
{
    o->name = "get";
    size_t got = (size_t)-1;
    shmkv *h = h_below(o->r, 4) ? o->h : o->ro;
    o->rc = shmkv_get(h, o->k->k, o->k->kl, o->buf, VAL_CAP, &got);
    o->want = o->k->present ? 0 : -ENOENT;
    if (o->rc == 0 && o->want == 0 && !same_value(o->k, o->buf, got))
        mismatch(o, "a wrong value (%zu bytes, expected %zu)", got, o->k->vl);
}

static void op_get_small(struct op *o)
{
    o->name = "get (small buffer)";
    struct mkey *k = o->k;
    size_t cap = k->present && k->vl ? (size_t)h_below(o->r, k->vl) : 0, got = (size_t)-1;
    o->buf[0] = 0x5A;
    o->rc = shmkv_get(o->h, k->k, k->kl, cap ? o->buf : NULL, cap, &got);
    o->want = !k->present ? -ENOENT : k->vl > cap ? -ENOBUFS : 0;
    if (o->rc == o->want && o->rc != -ENOENT && got != k->vl)
        mismatch(o, "length %zu, expected %zu", got, k->vl);
    if (o->rc == -ENOBUFS && o->buf[0] != 0x5A)
        mismatch(o, "a short buffer written to");
}

static void op_get_alloc(struct op *o)
{
    o->name = "get_alloc";
    void *a = NULL;
    size_t got = (size_t)-1;
    o->rc = shmkv_get_alloc(o->h, o->k->k, o->k->kl, &a, &got);
    o->want = o->k->present ? 0 : -ENOENT;
    if (o->rc == 0 && o->want == 0 && (!a || !same_value(o->k, a, got)))
        mismatch(o, "a wrong value");
    if (o->rc == 0)
        free(a);
}

/* A batch of 6: this key and 5 more, some with short buffers. */
static void op_get_many(struct op *o)
{
    o->name = "get_many";
    shmkv_item it[6];
    int idx[6];
    unsigned char *bbuf = o->buf;
    for (int j = 0; j < 6; j++) {
        idx[j] = j == 0 ? o->ki : (int)h_below(o->r, NKEYS);
        struct mkey *kj = &M->keys[idx[j]];
        model_tick(kj);
        it[j] = (shmkv_item){ .key = kj->k, .klen = kj->kl, .vlen = (size_t)-1, .rc = 1 };
        it[j].cap = h_below(o->r, 4) == 0 ? (size_t)h_below(o->r, 64) : 4096;
        it[j].buf = it[j].cap ? bbuf : NULL;
        bbuf += it[j].cap;
    }
    int nfound = shmkv_get_many(o->h, it, 6), wfound = 0;
    o->rc = o->want = 0;
    for (int j = 0; j < 6; j++) {
        struct mkey *kj = &M->keys[idx[j]];
        int w = !kj->present ? -ENOENT : kj->vl > it[j].cap ? -ENOBUFS : 0;
        wfound += w == 0;
        int ok = it[j].rc == w && (w == -ENOENT || it[j].vlen == kj->vl);
        if (ok && w == 0)
            ok = same_value(kj, it[j].buf, it[j].vlen);
        if (!ok)
            mismatch(o, "item %d (key %d, %zu bytes, cap %zu): rc %s vlen %zu, expected %s", j,
                     idx[j], kj->vl, it[j].cap, h_errname(it[j].rc), it[j].vlen, h_errname(w));
    }
    if (nfound != wfound)
        mismatch(o, "returned %d, %d found", nfound, wfound);
}

/* ---- conditional puts ---- */

static void op_put_ex(struct op *o)
{
    struct mkey *k = o->k;
    h_rng *r = o->r;
    o->name = "put_ex";
    shmkv_put_opts po = { .flags = (unsigned)h_below(r, 16) };
    if (h_below(r, 20) == 0)
        po.flags |= 1u << (4 + h_below(r, 28)); /* unknown */
    po.ttl_ms = h_below(r, 3) == 0 ? rand_ttl(r) : 0;
    unsigned char *exp_v = o->buf;
    size_t el = 0;
    if (k->present && h_below(r, 3)) { /* the current value, or nearly */
        memcpy(exp_v, k->v, k->vl);
        el = k->vl;
        if (h_below(r, 3) == 0 && el)
            exp_v[h_below(r, el)] ^= 1;
        else if (h_below(r, 4) == 0)
            el = el ? el - 1 : 1;
    } else {
        el = (size_t)h_below(r, 8);
        h_fill_random(r, exp_v, el);
    }
    po.expected = h_below(r, 30) == 0 ? NULL : exp_v;
    po.elen = po.expected || h_below(r, 2) ? el : 0;
    h_fill_random(r, o->val, o->vl);
    o->rc = shmkv_put_ex(o->h, k->k, k->kl, o->val, o->vl, &po);
    unsigned f = po.flags;
    if ((f & ~15u) || ((f & SHMKV_IF_ABSENT) && (f & (SHMKV_IF_PRESENT | SHMKV_IF_EQUAL))) ||
        ((f & SHMKV_KEEP_TTL) && po.ttl_ms) || ((f & SHMKV_IF_EQUAL) && !po.expected && po.elen))
        o->want = -EINVAL;
    else if ((f & SHMKV_IF_ABSENT) && k->present)
        o->want = -EEXIST;
    else if ((f & (SHMKV_IF_PRESENT | SHMKV_IF_EQUAL)) && !k->present)
        o->want = -ENOENT;
    else if ((f & SHMKV_IF_EQUAL) && !same_value(k, po.expected, po.elen))
        o->want = -ECANCELED;
    else
        o->want = 0;
    if (o->rc == 0 && o->want == 0)
        model_set(k, o->val, o->vl,
                  f & SHMKV_KEEP_TTL ? (k->present ? k->exp : 0) : model_expiry(po.ttl_ms));
}

/* ---- counters, appends, takes ---- */

/* A value incr may meet: numbers (some at int64's ends) and texts that
 * are none. */
static void op_put_number(struct op *o)
{
    static const char *const texts[] = {
        "0", "-0", "007", "-1", "9223372036854775807", "-9223372036854775808",
        "9223372036854775806", "-9223372036854775807", "9223372036854775808",
        "-9223372036854775809", "00000000000000000001", "+1", " 1", "1 ", "12a", "-", "",
        "0x10", "1.0",
    };
    o->name = "put (a number)";
    char text[32];
    size_t n;
    if (h_below(o->r, 2)) {
        const char *t = texts[h_below(o->r, sizeof texts / sizeof texts[0])];
        n = strlen(t);
        memcpy(text, t, n);
    } else {
        n = (size_t)snprintf(text, sizeof text, "%" PRId64, (int64_t)h_range(o->r, 0, 2000) - 1000);
    }
    o->rc = shmkv_put(o->h, o->k->k, o->k->kl, text, n);
    o->want = 0;
    if (o->rc == 0)
        model_set(o->k, text, n, 0);
}

static void op_incr(struct op *o)
{
    struct mkey *k = o->k;
    o->name = "incr";
    uint64_t pick = h_below(o->r, 10), ttl = rand_ttl(o->r);
    int64_t delta = pick < 7 ? (int64_t)h_range(o->r, 0, 10) - 5
                  : pick == 7 ? INT64_MAX : pick == 8 ? INT64_MIN : (int64_t)h_rand(o->r);
    int64_t res = 0x5a5a, cur = 0, next = 0;
    o->rc = shmkv_incr(o->h, k->k, k->kl, delta, ttl, &res);
    uint64_t exp = model_expiry(ttl);
    o->want = 0;
    if (k->present) {
        exp = k->exp;
        if (!model_number(k->v, k->vl, &cur))
            o->want = -EDOM;
    }
    if (!o->want && __builtin_add_overflow(cur, delta, &next))
        o->want = -ERANGE;
    if (o->rc == 0 && o->want == 0) {
        if (res != next)
            mismatch(o, "result %" PRId64 ", expected %" PRId64, res, next);
        char text[32];
        model_set(k, text, (size_t)snprintf(text, sizeof text, "%" PRId64, next), exp);
    }
}

static void op_append(struct op *o)
{
    struct mkey *k = o->k;
    o->name = "append";
    size_t al = (size_t)h_below(o->r, 301);
    if (k->present && k->vl + al > VAL_CAP)
        al = VAL_CAP - k->vl;
    h_fill_random(o->r, o->val, al);
    o->rc = shmkv_append(o->h, k->k, k->kl, al ? o->val : NULL, al);
    o->want = 0;
    if (o->rc == 0) {
        size_t old = k->present ? k->vl : 0;
        if (old)
            memcpy(o->buf, k->v, old);
        memcpy(o->buf + old, o->val, al);
        model_set(k, o->buf, old + al, k->present ? k->exp : 0);
    }
}

static void op_take(struct op *o)
{
    struct mkey *k = o->k;
    o->name = "take";
    void *p = NULL;
    size_t got = 0;
    o->rc = shmkv_take(o->h, k->k, k->kl, &p, &got);
    o->want = k->present ? 0 : -ENOENT;
    if (o->rc == 0 && o->want == 0 && (!p || !same_value(k, p, got)))
        mismatch(o, "took a wrong value (%zu bytes, expected %zu)", got, k->vl);
    if (o->rc != 0 && p)
        mismatch(o, "a failed take gave a pointer");
    free(p);
    if (o->rc == o->want)
        model_del(k);
}

/* ---- update ---- */

struct upd {
    int decision;
    shmkv_update_out out;
    const struct mkey *k;
    int calls, wrong;
};

static int upd_fn(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                  shmkv_update_out *out)
{
    struct upd *u = ctx;
    u->calls++;
    if (klen != u->k->kl || memcmp(key, u->k->k, klen) != 0 || (val != NULL) != u->k->present ||
        (val && !same_value(u->k, val, vlen)))
        u->wrong++;
    *out = u->out;
    return u->decision;
}

static void op_update(struct op *o)
{
    struct mkey *k = o->k;
    o->name = "update";
    uint64_t pick = h_below(o->r, 100);
    struct upd u = { .k = k };
    u.decision = pick < 30 ? SHMKV_UPDATE_KEEP : pick < 60 ? SHMKV_UPDATE_SET
               : pick < 80 ? SHMKV_UPDATE_DELETE : pick < 87 ? -EIO : pick < 94 ? 42 : SHMKV_UPDATE_SET;
    h_fill_random(o->r, o->val, o->vl);
    u.out = (shmkv_update_out){ .val = o->val, .vlen = o->vl };
    if (h_below(o->r, 3) == 0)
        u.out.flags = SHMKV_KEEP_TTL;
    else
        u.out.ttl_ms = rand_ttl(o->r);
    if (pick >= 94) /* an invalid out */
        u.out.val = NULL, u.out.vlen = 3;
    o->rc = shmkv_update(o->h, k->k, k->kl, upd_fn, &u);
    o->want = u.decision == -EIO ? -EIO : u.decision == 42 || pick >= 94 ? -EINVAL : 0;
    if (u.calls < 1 || u.wrong)
        mismatch(o, "the callback was called %d times, saw %d wrong values", u.calls, u.wrong);
    if (o->rc != 0 || o->want != 0)
        return;
    if (u.decision == SHMKV_UPDATE_SET)
        model_set(k, o->val, o->vl,
                  u.out.flags ? (k->present ? k->exp : 0) : model_expiry(u.out.ttl_ms));
    else if (u.decision == SHMKV_UPDATE_DELETE)
        model_del(k);
}

/* ---- put_many ---- */

static void op_put_many(struct op *o)
{
    o->name = "put_many";
    enum { MAXN = 24, VMAX = 120 };
    shmkv_pair p[MAXN];
    int idx[MAXN], want[MAXN], wstored = 0;
    size_t n = 1 + (size_t)h_below(o->r, MAXN);
    for (size_t j = 0; j < n; j++) {
        idx[j] = j == 0 ? o->ki : j > 1 && h_below(o->r, 4) == 0 ? idx[h_below(o->r, j)]
                                                                 : (int)h_below(o->r, NKEYS);
        struct mkey *kj = &M->keys[idx[j]];
        model_tick(kj);
        unsigned char *v = o->val + j * VMAX;
        size_t vl = (size_t)h_below(o->r, VMAX);
        h_fill_random(o->r, v, vl);
        p[j] = (shmkv_pair){ kj->k, kj->kl, v, vl, rand_ttl(o->r), 12345 };
        want[j] = 0;
        switch (h_below(o->r, 30)) {
        case 0: p[j].ttl_ms = SHMKV_TTL_MAX + 1; want[j] = -EINVAL; break;
        case 1: p[j].klen = 0; want[j] = -EINVAL; break;
        case 2: p[j].val = NULL; want[j] = vl ? -EINVAL : 0; break;
        default: break;
        }
        wstored += want[j] == 0;
    }
    o->rc = shmkv_put_many(o->h, p, n);
    o->want = wstored;
    o->ntouched = 0;
    for (size_t j = 0; j < n; j++) {
        if (p[j].rc != want[j])
            mismatch(o, "pair %zu (key %d): %s, expected %s", j, idx[j], h_errname(p[j].rc),
                     h_errname(want[j]));
        if (want[j] == 0)
            model_set(&M->keys[idx[j]], p[j].val ? p[j].val : "", p[j].vlen, model_expiry(p[j].ttl_ms));
        o->touched[o->ntouched++] = idx[j];
    }
}

/* ---- leases ---- */

/* The keys of the last leases granted: most fills go to one of them. */
static int recent_leases[8], nrecent;

static void op_get_lease(struct op *o)
{
    struct mkey *k = o->k;
    int ro = h_below(o->r, 8) == 0;
    o->name = ro ? "get_lease (read-only)" : "get_lease";
    uint64_t ms = (uint64_t)UNIT * h_range(o->r, 1, 2), lease = 77;
    size_t got = (size_t)-1;
    o->rc = shmkv_get_lease(ro ? o->ro : o->h, k->k, k->kl, o->buf, VAL_CAP, &got, ms, &lease);
    o->want = k->present ? 0 : -ENOENT;
    if (o->rc != o->want)
        return;
    if (k->present || ro || k->lease) {
        if (lease != 0)
            mismatch(o, "lease %llu granted (%s)", (unsigned long long)lease,
                     k->present ? "a hit" : ro ? "read-only" : "another lease is pending");
        if (k->present && !same_value(k, o->buf, got))
            mismatch(o, "a wrong value");
    } else if (lease <= M->last_token) {
        mismatch(o, "lease %llu, not a new one (the last %llu)", (unsigned long long)lease,
                 (unsigned long long)M->last_token);
    } else {
        k->lease = M->last_token = lease;
        k->lease_exp = M->now + ms;
        M->granted++;
        recent_leases[nrecent++ % 8] = o->ki;
    }
}

static void op_put_leased(struct op *o)
{
    if (nrecent && h_below(o->r, 4)) {
        o->ki = recent_leases[h_below(o->r, nrecent < 8 ? (uint64_t)nrecent : 8)];
        o->k = &M->keys[o->ki];
        model_tick(o->k);
    }
    struct mkey *k = o->k;
    o->name = "put_leased";
    uint64_t pick = h_below(o->r, 10), token, ttl = rand_ttl(o->r);
    token = k->lease && pick < 7 ? k->lease : pick == 9 ? 0 : 1 + h_below(o->r, M->last_token + 100);
    h_fill_random(o->r, o->val, o->vl);
    o->rc = shmkv_put_leased(o->h, k->k, k->kl, o->val, o->vl, ttl, token);
    o->want = !token ? -EINVAL : k->lease && token == k->lease ? 0 : -ECANCELED;
    if (o->rc == 0 && o->want == 0)
        model_fill(k, o->val, o->vl, model_expiry(ttl));
}

/* ---- lifetimes, read-only handles, clear, the clock ---- */

static void op_expire_ttl(struct op *o)
{
    struct mkey *k = o->k;
    o->want = k->present ? 0 : -ENOENT;
    if (h_below(o->r, 2)) {
        o->name = "expire";
        uint64_t ttl = h_below(o->r, 3) ? rand_ttl(o->r) : 0;
        o->rc = shmkv_expire(o->h, k->k, k->kl, ttl);
        if (o->rc == 0 && o->want == 0) {
            k->exp = model_expiry(ttl);
            M->puts++; /* the pair is written again */
        }
        return;
    }
    o->name = "ttl";
    uint64_t left = 777;
    o->rc = shmkv_ttl(h_below(o->r, 2) ? o->h : o->ro, k->k, k->kl, &left);
    uint64_t want = k->exp ? k->exp - M->now : 0; /* within a UNIT below it */
    if (o->rc == 0 && o->want == 0 && (left > want || (want && left + UNIT <= want)))
        mismatch(o, "%llu ms left, expected %llu", (unsigned long long)left, (unsigned long long)want);
}

static void op_ro_write(struct op *o)
{
    struct mkey *k = o->k;
    o->name = "a write on a read-only handle";
    void *p = NULL;
    size_t got;
    shmkv_pair pair = { k->k, k->kl, "x", 1, 0, 0 };
    switch (h_below(o->r, 6)) {
    case 0: o->rc = shmkv_put(o->ro, k->k, k->kl, "x", 1); break;
    case 1: o->rc = shmkv_incr(o->ro, k->k, k->kl, 1, 0, NULL); break;
    case 2: o->rc = shmkv_append(o->ro, k->k, k->kl, "x", 1); break;
    case 3: o->rc = shmkv_take(o->ro, k->k, k->kl, &p, &got); break;
    case 4: o->rc = shmkv_put_many(o->ro, &pair, 1) == 0 ? pair.rc : 0; break;
    default: o->rc = shmkv_clear(o->ro); break;
    }
    o->want = -EROFS;
}

/* Pairs that expired (and leases that lapsed) are counted by the table
 * when it reaps them: a write of the key, or its background work, which
 * the model cannot foresee.  A delete of every key the model says is
 * gone reaps the rest, so that the counters can be compared exactly. */
static void reap_all(shmkv *db, long *mismatches)
{
    model_tick_all();
    for (int i = 0; i < NKEYS; i++) {
        struct mkey *k = &M->keys[i];
        int rc = k->present || k->lease ? -ENOENT : shmkv_del(db, k->k, k->kl);
        if (rc != -ENOENT && (*mismatches)++ < 10)
            h_fail(__FILE__, __LINE__, "reaping key %d: del returned %s", i, h_errname(rc));
    }
}

static void op_clear_or_clock(struct op *o)
{
    if (h_below(o->r, 100) == 0) {
        o->name = "clear";
        reap_all(o->h, o->mismatches); /* clear counts no expirations */
        o->rc = shmkv_clear(o->h);
        o->want = 0;
        if (o->rc == 0)
            model_clear();
        return;
    }
    o->name = "the clock moving";
    shmkv__clock_advance((int64_t)UNIT);
    M->now += UNIT;
    o->rc = o->want = 0;
}

/* ---- comparing everything ---- */

struct visit_ctx {
    long visits, unknown, dup, wrong;
};

static int visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct visit_ctx *c = ctx;
    c->visits++;
    int i = model_find(key, klen);
    if (i < 0) {
        c->unknown++;
        return 0;
    }
    struct mkey *k = &M->keys[i];
    if (k->seen++)
        c->dup++;
    if (!same_value(k, val, vlen))
        c->wrong++;
    return 0;
}

/* One iteration (foreach, or a scan to its end) against the model. */
static void compare_iteration(shmkv *db, int scan, const char *what, const char *when)
{
    for (int i = 0; i < NKEYS; i++)
        M->keys[i].seen = 0;
    struct visit_ctx c = { 0 };
    if (scan) {
        uint64_t cur = 0;
        do
            CHECK_RC(shmkv_scan(db, &cur, visit, &c), 0);
        while (cur);
    } else {
        CHECK_RC(shmkv_foreach(db, visit, &c), 0);
    }
    long missing = 0;
    for (int i = 0; i < NKEYS; i++)
        missing += M->keys[i].present && !M->keys[i].seen;
    CHECKF(c.visits == (long)M->count && !c.unknown && !c.dup && !c.wrong && !missing,
           "%s, %s: %ld visits, model has %llu pairs; %ld unknown keys, %ld visited twice, "
           "%ld wrong values, %ld missed", when, what, c.visits, (unsigned long long)M->count,
           c.unknown, c.dup, c.wrong, missing);
}

static void compare_all(shmkv *db, shmkv *ro, const char *when)
{
    long reap_mismatches = 0;
    reap_all(db, &reap_mismatches);
    compare_iteration(db, 0, "foreach", when);
    compare_iteration(db, 1, "scan", when);
    compare_iteration(ro, 1, "read-only scan", when);
    CHECK_EQ_U64(shmkv_count(db), M->count);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    uint64_t got[] = { st.keys, st.live_bytes, st.puts, st.dels, st.expirations,
                       st.leases_granted, st.leases_filled, st.leases_voided };
    uint64_t want[] = { M->count, M->live, M->puts, M->dels, M->expired,
                        M->granted, M->filled, M->voided };
    static const char *const names[] = { "keys", "live_bytes", "puts", "dels", "expirations",
                                         "leases_granted", "leases_filled", "leases_voided" };
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
        CHECKF(got[i] == want[i], "%s: stat %s %llu, model %llu", when, names[i],
               (unsigned long long)got[i], (unsigned long long)want[i]);
    /* and every key by get, and its lifetime */
    long bad = 0;
    unsigned char *buf = malloc(VAL_CAP);
    for (int i = 0; i < NKEYS; i++) {
        struct mkey *k = &M->keys[i];
        size_t vl = 0;
        uint64_t left = 0, wl = k->exp ? k->exp - M->now : 0;
        int rc = shmkv_get(db, k->k, k->kl, buf, VAL_CAP, &vl);
        int trc = shmkv_ttl(db, k->k, k->kl, &left);
        if (k->present)
            bad += rc != 0 || !same_value(k, buf, vl) || trc != 0 || left > wl ||
                   (wl && left + UNIT <= wl);
        else
            bad += rc != -ENOENT || trc != -ENOENT;
    }
    free(buf);
    CHECKF(bad == 0 && reap_mismatches == 0, "%s: %ld keys read back wrong", when, bad);
    CHECK_TABLE(db, when);
}

/* After a mismatch: the model takes what the table holds for the key
 * (value and lifetime; a lease cannot be read, so it is forgotten), so
 * one bug does not cascade into thousands of reports. */
static void model_resync(shmkv *db, struct mkey *k)
{
    void *a = NULL;
    size_t vl = 0;
    uint64_t left = 0;
    k->lease = 0;
    if (shmkv_get_alloc(db, k->k, k->kl, &a, &vl) != 0) {
        if (k->present)
            model_del(k), M->dels--;
        return;
    }
    shmkv_ttl(db, k->k, k->kl, &left);
    model_fill(k, a, vl, left ? M->now + (left + UNIT - 1) / UNIT * UNIT : 0);
    M->puts--;
    free(a);
}

/* ---- the runs ---- */

static const struct {
    void (*fn)(struct op *);
    unsigned weight;
} ops[] = {
    { op_put, 30 },        { op_add_replace, 24 }, { op_del, 16 },       { op_get, 20 },
    { op_get_many, 8 },    { op_get_small, 6 },    { op_get_alloc, 6 },  { op_put_ex, 16 },
    { op_put_number, 6 },  { op_incr, 12 },        { op_append, 8 },     { op_take, 6 },
    { op_update, 8 },      { op_put_many, 6 },     { op_get_lease, 8 },  { op_put_leased, 6 },
    { op_expire_ttl, 6 },  { op_ro_write, 1 },     { op_clear_or_clock, 1 },
};

static void (*pick_op(h_rng *r))(struct op *)
{
    unsigned total = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        total += ops[i].weight;
    unsigned x = (unsigned)h_below(r, total);
    size_t i = 0;
    while (x >= ops[i].weight)
        x -= ops[i++].weight;
    return ops[i].fn;
}

struct cfg {
    const char *what;
    shmkv_options opts;
    int two_handles;
};

static void run_seed(uint64_t seed, const struct cfg *cfg, long nops)
{
    char name[128], when[128];
    h_name(name, sizeof name, "model");
    model_init(seed);
    nrecent = 0;
    shmkv *db = NULL, *db2 = NULL, *ro;
    CHECK_RC(shmkv_open(name, &cfg->opts, &db), 0);
    if (!db)
        return;
    if (cfg->two_handles)
        CHECK_RC(shmkv_open(name, NULL, &db2), 0);
    if (!(ro = open_ro(name)))
        return;
    h_rng r = h_rng_new(seed);
    long mismatches = 0;
    struct op o = { .ro = ro, .r = &r, .seed = seed, .mismatches = &mismatches };
    o.val = malloc(VAL_CAP + 8192);
    o.buf = malloc(VAL_CAP + 8192);
    double t0 = h_now();
    for (o.n = 1; o.n <= nops; o.n++) {
        o.h = (db2 && (h_rand(&r) & 1)) ? db2 : db;
        /* half the operations on a hot tenth of the keys */
        o.ki = (h_rand(&r) & 1) ? (int)h_below(&r, NKEYS / 10) : (int)h_below(&r, NKEYS);
        o.k = &M->keys[o.ki];
        o.vl = h_below(&r, 100) < 2 ? BIG_VAL + (size_t)h_below(&r, 4096) : (size_t)h_below(&r, 301);
        o.ntouched = 0;
        model_tick(o.k);
        pick_op(&r)(&o);
        if (o.rc != o.want) {
            mismatch(&o, "returned %s, model says %s", h_errname(o.rc), h_errname(o.want));
            model_resync(o.h, o.k);
        }
        if (mismatches && o.ntouched) /* a batch's keys, whatever went wrong in it */
            for (int j = 0; j < o.ntouched; j++)
                model_resync(o.h, &M->keys[o.touched[j]]);
        if (o.n % (nops / 8) == 0) {
            snprintf(when, sizeof when, "%s, seed %llu, after %ld ops", cfg->what,
                     (unsigned long long)seed, o.n);
            compare_all(db, ro, when);
            if (db2)
                compare_all(db2, ro, when);
        }
        if (o.n == nops / 2) { /* reopen midway and go on */
            shmkv_close(db);
            db = NULL;
            shmkv_options reopen = { 0 };
            CHECK_RC(shmkv_open(name, &reopen, &db), 0);
            if (!db)
                break;
            snprintf(when, sizeof when, "%s, seed %llu, after reopen", cfg->what, (unsigned long long)seed);
            compare_all(db, ro, when);
        }
    }
    if (mismatches > 10)
        h_note("seed %llu: %ld mismatches in all", (unsigned long long)seed, mismatches);
    shmkv_stats st;
    if (db && shmkv_stat(db, &st) == 0)
        h_note("%s, seed %llu: %ld ops in %.2f s; keys %llu live %llu file %llu; %llu expired, "
               "leases %llu granted %llu filled %llu voided", cfg->what, (unsigned long long)seed,
               nops, h_now() - t0, (unsigned long long)st.keys, (unsigned long long)st.live_bytes,
               (unsigned long long)st.file_bytes, (unsigned long long)st.expirations,
               (unsigned long long)st.leases_granted, (unsigned long long)st.leases_filled,
               (unsigned long long)st.leases_voided);
    shmkv_close(db);
    shmkv_close(db2);
    shmkv_close(ro);
    CHECK_RC(shmkv_unlink(name), 0);
    free(o.val);
    free(o.buf);
}

static const struct cfg cfgs[] = {
    { "default options", { .flags = SHMKV_CREATE }, 0 },
    { "max 64 MiB, expected 2000 keys",
      { .flags = SHMKV_CREATE, .max_bytes = 64u << 20, .expected_keys = NKEYS }, 0 },
    { "max 16 MiB", { .flags = SHMKV_CREATE, .max_bytes = 16u << 20 }, 0 },
    { "two handles", { .flags = SHMKV_CREATE }, 1 },
    { "expected 100000 keys", { .flags = SHMKV_CREATE, .expected_keys = 100000 }, 0 },
    { "default options, another seed", { .flags = SHMKV_CREATE }, 0 },
};

/* Configuration i with its own seed: a part.  Under ThreadSanitizer (a
 * check of this one thread's memory accesses, 5 to 15 times slower) a
 * third of the operations. */
static void run_cfg(size_t i)
{
    run_seed(1000 + i * 7919, &cfgs[i], H_TSAN ? 100000 : 300000);
}

static void cfg_default(void) { run_cfg(0); }
static void cfg_max64(void) { run_cfg(1); }
static void cfg_max16(void) { run_cfg(2); }
static void cfg_two_handles(void) { run_cfg(3); }
static void cfg_expected(void) { run_cfg(4); }
static void cfg_default_seed2(void) { run_cfg(5); }

static const struct h_part parts[] = {
    { "default", cfg_default },         { "max_64mib", cfg_max64 },
    { "max_16mib", cfg_max16 },         { "two_handles", cfg_two_handles },
    { "expected_keys", cfg_expected },  { "default_seed2", cfg_default_seed2 },
};

int main(int argc, char **argv)
{
    int rc = h_main(argc, argv, "test_model", parts, H_NPARTS(parts));
    model_free();
    free(M);
    return rc;
}
