/*
 * fuzz_lists.c - the list half of fuzz_ops: push, pop, move, llen, lrange
 * and del on four list keys, each against a deque (its model), and the
 * kind clashes between lists and pairs (fuzz_lists.h has the encoding).
 *
 * What is checked, besides every return code and byte:
 *  - push_many is all or nothing and keeps its order at the tail, reverses
 *    it at the head; pop_many takes from one end while the elements fit
 *    the buffer, and -ENOBUFS (nothing removed, the first length told)
 *    when the first does not; a pop or move of an empty or absent list is
 *    -EAGAIN (no wait: timeout 0) and makes no list;
 *  - move takes from one end of the source and puts the same bytes at one
 *    end of the destination (the same list included), and creates the
 *    destination only when it moves something;
 *  - a list call on a pair's key and a pair call on a list's key return
 *    -EMEDIUMTYPE and change nothing; a cache refuses every list write
 *    (-EOPNOTSUPP); a read-only handle every one (-EROFS);
 *  - -ENOSPC only when the pairs and lists together may hold an eighth of
 *    max_bytes (as fuzz_ops allows for pairs), changing nothing.
 * Each list holds at most LMAX elements in the model: a push or move that
 * would pass that is skipped, not sent.
 */
#include "fuzz_lists.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NLISTS 4
#define LMAX 64
#define BATCH 8
#define ELEM_MAX 65537 /* the largest element value_len gives */
#define OVERHEAD 64    /* an element's record and ring slot, at most */
#define LIST_OVERHEAD 8192

const char *const fl_names[FL_COUNT_] = {"push", "pop", "move", "llen", "lrange", "ldel", "clash"};

struct elem {
    const unsigned char *v;
    size_t len;
};

struct mlist {
    bool present;
    bool maybe; /* absent or empty: a move that ran out of space may have made it */
    size_t n;
    struct elem e[LMAX]; /* e[0] is the head */
};

static struct {
    struct mlist l[NLISTS];
    char key[NLISTS][16];
    size_t kl[NLISTS];
    bool cache;
    uint64_t max_bytes, seq;
    const unsigned char *pat;
    size_t vmax;
    unsigned char *buf; /* BATCH elements of ELEM_MAX bytes */
    bool trace;         /* $FUZZ_OPS_TRACE: print each result */
} L;

void fl_init(const unsigned char *pat, size_t vmax)
{
    L.pat = pat;
    L.vmax = vmax;
    L.buf = malloc((size_t)BATCH * ELEM_MAX);
    L.trace = getenv("FUZZ_OPS_TRACE") != NULL;
    if (!L.buf || vmax < ELEM_MAX)
        abort();
    for (int j = 0; j < NLISTS; j++)
        L.kl[j] = (size_t)snprintf(L.key[j], sizeof L.key[j], "list-%d", j);
}

void fl_reset(bool cache, uint64_t max_bytes)
{
    memset(L.l, 0, sizeof L.l);
    L.cache = cache;
    L.max_bytes = max_bytes;
    L.seq = 0;
}

void fl_clear(void)
{
    memset(L.l, 0, sizeof L.l);
}

uint64_t fl_count(void)
{
    uint64_t n = 0;
    for (int j = 0; j < NLISTS; j++)
        n += L.l[j].present;
    return n;
}

uint64_t fl_maybe_count(void)
{
    uint64_t n = 0;
    for (int j = 0; j < NLISTS; j++)
        n += L.l[j].maybe;
    return n;
}

uint64_t fl_live_bytes(void)
{
    uint64_t b = 0;
    for (int j = 0; j < NLISTS; j++)
        b += L.l[j].present ? L.kl[j] + 8 : 0; /* a list's record: its key and a run offset */
    return b;
}

uint64_t fl_maybe_bytes(void)
{
    uint64_t b = 0;
    for (int j = 0; j < NLISTS; j++)
        b += L.l[j].maybe ? L.kl[j] + 8 : 0;
    return b;
}

uint64_t fl_used_bound(void)
{
    uint64_t b = 0;
    for (int j = 0; j < NLISTS; j++) {
        if (!L.l[j].present && !L.l[j].maybe)
            continue;
        b += LIST_OVERHEAD;
        for (size_t k = 0; k < L.l[j].n; k++)
            b += L.l[j].e[k].len + OVERHEAD;
    }
    return b;
}

/* -ENOSPC for a list write adding add bytes: only a table that is not a
 * cache and may hold an eighth of its max_bytes. */
static void check_nospc(uint64_t add)
{
    uint64_t have = fo_pair_bytes() + fl_used_bound() + add;
    if (have < L.max_bytes / 8)
        fo_fail("-ENOSPC with at most %llu bytes in a %llu-byte table", (unsigned long long)have,
                (unsigned long long)L.max_bytes);
}

static size_t elem_len(unsigned cls, unsigned b)
{
    static const size_t big[] = {4096, 16384, 32769, ELEM_MAX};
    switch (cls % 4) {
    case 0: return 0;
    case 1: return 1 + b % 64;
    case 2: return 65 + b * 16;
    default: return big[b % 4];
    }
}

/* ---- the deque ---- */

static void put_end(struct mlist *m, int end, struct elem e)
{
    if (end == SHMKV_TAIL) {
        m->e[m->n++] = e;
    } else {
        memmove(m->e + 1, m->e, m->n * sizeof m->e[0]);
        m->e[0] = e;
        m->n++;
    }
}

static struct elem at_end(const struct mlist *m, int end, size_t k) /* k-th from that end */
{
    return end == SHMKV_HEAD ? m->e[k] : m->e[m->n - 1 - k];
}

static void take_end(struct mlist *m, int end, size_t k)
{
    if (end == SHMKV_HEAD)
        memmove(m->e, m->e + k, (m->n - k) * sizeof m->e[0]);
    m->n -= k;
}

/* The rc every list write gets before it looks at the list. */
static int write_gate(bool rdonly)
{
    return rdonly ? -EROFS : L.cache ? -EOPNOTSUPP : 0;
}

static void expect(int rc, int want, const char *what, int j)
{
    if (L.trace)
        fprintf(stderr, "  %s list %d: rc %d (model: %d, %zu elements)\n", what, j, rc, want, L.l[j].n);
    if (rc != want)
        fo_fail("%s list %d: rc %d, expected %d", what, j, rc, want);
}

/* ---- the operations ---- */

static void do_push(shmkv *db, bool rdonly, struct in *in)
{
    int j = (int)(next(in) % NLISTS), end = (int)(next(in) & 1);
    size_t n = 1 + next(in) % BATCH;
    shmkv_elem el[BATCH];
    uint64_t add = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned cls = next(in), b = next(in);
        el[k].vlen = elem_len(cls, b);
        el[k].val = L.pat + (++L.seq * 8191 + (uint64_t)j) % L.vmax;
        add += el[k].vlen + OVERHEAD;
    }
    struct mlist *m = &L.l[j];
    if (m->n + n > LMAX)
        return;
    unsigned how = next(in);
    uint64_t max = n + how / 4 % 8; /* how % 4 == 3: a bounded push, not waiting */
    int rc = how % 4 == 3 ? shmkv_push_bounded(db, L.key[j], L.kl[j], el, n, end, max, 0)
             : n == 1     ? shmkv_push(db, L.key[j], L.kl[j], el[0].val, el[0].vlen, end)
                          : shmkv_push_many(db, L.key[j], L.kl[j], el, n, end);
    int want = write_gate(rdonly);
    if (!want && how % 4 == 3 && m->n + n > max) { /* full for this push: nothing changes */
        expect(rc, -EAGAIN, "push_bounded", j);
        return;
    }
    if (rc == -ENOSPC && !want) {
        if (L.trace)
            fprintf(stderr, "  push list %d: -ENOSPC\n", j);
        check_nospc(add + (m->present ? 0 : LIST_OVERHEAD));
        return;
    }
    expect(rc, want, n == 1 ? "push" : "push_many", j);
    if (rc)
        return;
    m->present = true;
    m->maybe = false;
    for (size_t k = 0; k < n; k++)
        put_end(m, end, (struct elem){el[k].val, el[k].vlen});
}

/* The buffer a pop offers for the first k elements at that end (c: 0 no
 * buffer, 255 all of it, odd one byte short). */
static size_t cap_of(const struct mlist *m, int end, unsigned c, size_t max)
{
    if (c == 0)
        return 0;
    if (c == 255 || !m->n)
        return (size_t)BATCH * ELEM_MAX;
    size_t k = 1 + c / 2 % max, need = 0;
    for (size_t i = 0; i < k && i < m->n; i++)
        need += at_end(m, end, i).len;
    return need - (c & 1 && need);
}

static void check_bytes(const unsigned char *got, struct elem e, const char *what, int j, size_t k)
{
    if (e.len && memcmp(got, e.v, e.len))
        fo_fail("%s list %d: element %zu has other bytes", what, j, k);
}

static void do_pop(shmkv *db, bool rdonly, struct in *in)
{
    int j = (int)(next(in) % NLISTS), end = (int)(next(in) & 1);
    size_t max = 1 + next(in) % BATCH;
    struct mlist *m = &L.l[j];
    size_t cap = cap_of(m, end, next(in), max), lens[BATCH] = {0}, n = 99;
    void *buf = cap ? L.buf : NULL;
    int rc = max == 1 ? shmkv_pop(db, L.key[j], L.kl[j], end, buf, cap, &lens[0], 0)
                      : shmkv_pop_many(db, L.key[j], L.kl[j], end, buf, cap, lens, max, &n, 0);
    /* the model: as many as fit, from that end */
    size_t fit = 0, used = 0;
    while (fit < max && fit < m->n && used + at_end(m, end, fit).len <= cap)
        used += at_end(m, end, fit++).len;
    int want = write_gate(rdonly);
    if (!want)
        want = !m->n ? -EAGAIN : !fit ? -ENOBUFS : 0;
    expect(rc, want, max == 1 ? "pop" : "pop_many", j);
    if (rc == -ENOBUFS && lens[0] != at_end(m, end, 0).len)
        fo_fail("pop list %d: -ENOBUFS telling %zu bytes, the element has %zu", j, lens[0], at_end(m, end, 0).len);
    if (rc)
        return;
    if (max > 1 && n != fit)
        fo_fail("pop_many list %d: %zu elements, expected %zu", j, n, fit);
    used = 0;
    for (size_t k = 0; k < fit; k++) {
        struct elem e = at_end(m, end, k);
        if (lens[k] != e.len)
            fo_fail("pop list %d: element %zu of %zu bytes, expected %zu", j, k, lens[k], e.len);
        check_bytes(L.buf + used, e, "pop", j, k);
        used += e.len;
    }
    take_end(m, end, fit);
}

static void do_move(shmkv *db, bool rdonly, struct in *in)
{
    int a = (int)(next(in) % NLISTS), from = (int)(next(in) & 1);
    int b = (int)(next(in) % NLISTS), to = (int)(next(in) & 1);
    struct mlist *ms = &L.l[a], *md = &L.l[b];
    size_t cap = cap_of(ms, from, next(in), 1), vl = 12345;
    if (md->n >= LMAX)
        return;
    int rc = shmkv_move(db, L.key[a], L.kl[a], from, L.key[b], L.kl[b], to, cap ? L.buf : NULL, cap, &vl, 0);
    int want = write_gate(rdonly);
    if (!want)
        want = !ms->n ? -EAGAIN : at_end(ms, from, 0).len > cap ? -ENOBUFS : 0;
    if (rc == -ENOSPC && !want) {
        if (L.trace)
            fprintf(stderr, "  move list %d: -ENOSPC\n", a);
        check_nospc(at_end(ms, from, 0).len + OVERHEAD + (md->present ? 0 : LIST_OVERHEAD));
        md->maybe = !md->present; /* made, empty, before the room ran out (shmkv.h) */
        return;
    }
    expect(rc, want, "move", a);
    if (rc == -ENOBUFS && vl != at_end(ms, from, 0).len)
        fo_fail("move list %d: -ENOBUFS telling %zu bytes", a, vl);
    if (rc)
        return;
    struct elem e = at_end(ms, from, 0);
    if (vl != e.len)
        fo_fail("move list %d: %zu bytes, expected %zu", a, vl, e.len);
    check_bytes(L.buf, e, "move", a, 0);
    take_end(ms, from, 1);
    md->present = true;
    md->maybe = false;
    put_end(md, to, e);
}

static void check_llen(shmkv *db, int j)
{
    uint64_t n = 12345;
    int rc = shmkv_llen(db, L.key[j], L.kl[j], &n);
    expect(rc, 0, "llen", j);
    if (n != L.l[j].n)
        fo_fail("llen list %d: %llu, model %zu", j, (unsigned long long)n, L.l[j].n);
}

struct range {
    const struct mlist *m;
    size_t at, end; /* the next model index expected, one past the last */
    int j;
};

static int visit_elem(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct range *r = ctx;
    if (klen != L.kl[r->j] || memcmp(key, L.key[r->j], klen))
        fo_fail("lrange list %d: visited with another key", r->j);
    if (r->at >= r->end)
        fo_fail("lrange list %d: more elements than the range holds", r->j);
    struct elem e = r->m->e[r->at];
    if (vlen != e.len)
        fo_fail("lrange list %d: element %zu of %zu bytes, model %zu", r->j, r->at, vlen, e.len);
    check_bytes(val, e, "lrange", r->j, r->at);
    r->at++;
    return 0;
}

/* Redis's LRANGE indices over n elements: [*lo, *hi) */
static void range_of(int64_t start, int64_t stop, size_t n, size_t *lo, size_t *hi)
{
    int64_t len = (int64_t)n;
    if (start < 0)
        start = start + len < 0 ? 0 : start + len;
    if (stop < 0)
        stop += len;
    if (stop >= len)
        stop = len - 1;
    *lo = *hi = 0;
    if (start <= stop) {
        *lo = (size_t)start;
        *hi = (size_t)stop + 1;
    }
}

static void check_lrange(shmkv *db, int j, int64_t start, int64_t stop)
{
    struct mlist *m = &L.l[j];
    struct range r = {m, 0, 0, j};
    range_of(start, stop, m->n, &r.at, &r.end);
    int rc = shmkv_lrange(db, L.key[j], L.kl[j], start, stop, visit_elem, &r);
    if (m->maybe && (rc == 0 || rc == -ENOENT)) { /* now known */
        m->present = rc == 0;
        m->maybe = false;
    }
    expect(rc, m->present ? 0 : -ENOENT, "lrange", j);
    if (rc == 0 && r.at != r.end)
        fo_fail("lrange list %d [%lld, %lld]: stopped at %zu of %zu", j, (long long)start, (long long)stop,
                r.at, r.end);
}

static void do_ldel(shmkv *db, bool rdonly, int j)
{
    struct mlist *m = &L.l[j];
    int rc = shmkv_del(db, L.key[j], L.kl[j]);
    int want = rdonly ? -EROFS : m->present || (m->maybe && rc == 0) ? 0 : -ENOENT;
    expect(rc, want, "del", j);
    if (!rdonly)
        *m = (struct mlist){0};
}

/* A list call on a pair's key, or a pair call on a list's key: refused
 * for the kind, after the checks every call of its sort makes first. */
static void do_clash(shmkv *db, bool rdonly, struct in *in)
{
    unsigned b = next(in);
    size_t vl = 0;
    uint64_t n = 0;
    if (b & 1) {
        const void *k;
        size_t kl;
        int i = fo_pair_key(b >> 1, &k, &kl);
        if (!fo_pair_live(i) || kl > SHMKV_KEY_MAX)
            return;
        int gate = write_gate(rdonly);
        expect(shmkv_push(db, k, kl, "x", 1, SHMKV_TAIL), gate ? gate : -EMEDIUMTYPE, "push on a pair", i);
        expect(shmkv_pop(db, k, kl, SHMKV_HEAD, NULL, 0, &vl, 0), gate ? gate : -EMEDIUMTYPE, "pop on a pair", i);
        expect(shmkv_llen(db, k, kl, &n), -EMEDIUMTYPE, "llen on a pair", i);
        return;
    }
    int j = (int)(b >> 1) % NLISTS;
    if (!L.l[j].present)
        return;
    uint64_t left;
    expect(shmkv_get(db, L.key[j], L.kl[j], NULL, 0, &vl), -EMEDIUMTYPE, "get on", j);
    expect(shmkv_ttl(db, L.key[j], L.kl[j], &left), -EMEDIUMTYPE, "ttl on", j);
    expect(shmkv_put(db, L.key[j], L.kl[j], "x", 1), rdonly ? -EROFS : -EMEDIUMTYPE, "put on", j);
    expect(shmkv_add(db, L.key[j], L.kl[j], "x", 1), rdonly ? -EROFS : -EMEDIUMTYPE, "add on", j);
}

void fl_op(shmkv *db, bool rdonly, int op, struct in *in)
{
    int j;
    switch (op) {
    case FL_PUSH: do_push(db, rdonly, in); break;
    case FL_POP: do_pop(db, rdonly, in); break;
    case FL_MOVE: do_move(db, rdonly, in); break;
    case FL_LLEN: check_llen(db, (int)(next(in) % NLISTS)); break;
    case FL_LRANGE:
        j = (int)(next(in) % NLISTS);
        int64_t start = (int8_t)next(in), stop = (int8_t)next(in);
        check_lrange(db, j, start, stop);
        break;
    case FL_LDEL: do_ldel(db, rdonly, (int)(next(in) % NLISTS)); break;
    case FL_CLASH: do_clash(db, rdonly, in); break;
    }
}

void fl_check_all(shmkv *db)
{
    for (int j = 0; j < NLISTS; j++) {
        check_llen(db, j);
        check_lrange(db, j, 0, -1);
    }
}
