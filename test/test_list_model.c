/*
 * test_list_model.c - random list operations applied both to a table and
 * to an in-process model (a deque per key), every return code and every
 * element compared: push, push_many, pop, pop_many (short buffers and
 * small maxima included), move between any two keys and ends, llen,
 * lrange with any indexes, and put, get and del turning keys from lists
 * to pairs and back (-EMEDIUMTYPE both ways).  After each phase the whole
 * table is compared with the model (lrange and llen of every key,
 * scan_all, count) and checked; the table is closed and reopened midway.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 12
#define BIG 20000
#define BUFCAP (64 * (BIG + 64))

enum { K_ABSENT, K_LIST, K_PAIR };

struct elem {
    size_t len;
    uint8_t *b;
};

/* A key of the model: absent, a pair (value in pv) or a list (a deque). */
struct mkey {
    char k[8];
    int kind;
    struct elem *e;     /* ring of cap slots, elements head .. head + n - 1 */
    size_t head, n, cap;
    size_t pvl;
    uint8_t pv[16];
};

static struct mkey K[NKEYS];
static long mismatches;
static uint8_t *buf, *buf2;

static struct elem *at_(struct mkey *m, size_t i) { return &m->e[(m->head + i) % m->cap]; }

static void m_push(struct mkey *m, struct elem e, int end)
{
    if (m->n == m->cap) { /* double, unrolled from head */
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct elem *ne = malloc(cap * sizeof *ne);
        for (size_t i = 0; i < m->n; i++)
            ne[i] = *at_(m, i);
        free(m->e);
        m->e = ne;
        m->cap = cap;
        m->head = 0;
    }
    if (end == SHMKV_HEAD) {
        m->head = (m->head + m->cap - 1) % m->cap;
        m->e[m->head] = e;
    } else {
        *at_(m, m->n) = e;
    }
    m->n++;
    m->kind = K_LIST;
}

static struct elem m_pop(struct mkey *m, int end)
{
    struct elem e = end == SHMKV_HEAD ? *at_(m, 0) : *at_(m, m->n - 1);
    if (end == SHMKV_HEAD)
        m->head = (m->head + 1) % m->cap;
    m->n--;
    return e;
}

static struct elem *m_end(struct mkey *m, int end, size_t k) { return at_(m, end == SHMKV_HEAD ? k : m->n - 1 - k); }

static void m_clear(struct mkey *m)
{
    while (m->n)
        free(m_pop(m, SHMKV_HEAD).b);
    m->kind = K_ABSENT;
}

static struct elem new_elem(h_rng *r)
{
    size_t len = h_below(r, 50) == 0 ? BIG - (size_t)h_below(r, 1000) : (size_t)h_below(r, 120);
    struct elem e = {len, malloc(len ? len : 1)};
    h_fill_random(r, e.b, len);
    return e;
}

#define MISMATCH(...)                                                                    \
    do {                                                                                 \
        if (mismatches++ < 10)                                                           \
            h_fail(__FILE__, __LINE__, __VA_ARGS__);                                     \
    } while (0)

/* The rc a list call on m gets before anything else: -EMEDIUMTYPE on a pair. */
static int kind_rc(const struct mkey *m) { return m->kind == K_PAIR ? -EMEDIUMTYPE : 0; }

static void op_push(shmkv *db, h_rng *r, struct mkey *m, long op)
{
    int end = (int)h_below(r, 2);
    size_t n = h_below(r, 3) ? 1 : 1 + (size_t)h_below(r, 64);
    struct elem e[64];
    shmkv_elem el[64];
    for (size_t i = 0; i < n; i++) {
        e[i] = new_elem(r);
        el[i] = (shmkv_elem){e[i].b, e[i].len};
    }
    int rc = n == 1 && h_below(r, 2) ? shmkv_push(db, m->k, strlen(m->k), e[0].b, e[0].len, end)
                                     : shmkv_push_many(db, m->k, strlen(m->k), el, n, end);
    int want = kind_rc(m);
    if (rc != want)
        MISMATCH("op %ld: push of %zu at %d onto %s returned %s, expected %s", op, n, end, m->k, h_errname(rc),
                 h_errname(want));
    for (size_t i = 0; i < n; i++)
        if (rc == 0 && want == 0)
            m_push(m, e[i], end);
        else
            free(e[i].b);
}

/* pop_many's expectation: how many of max fit cap, or -ENOBUFS / -EAGAIN. */
static long fits(struct mkey *m, int end, size_t cap, size_t max)
{
    if (m->kind != K_LIST || !m->n)
        return -EAGAIN;
    size_t used = 0, k = 0;
    for (; k < max && k < m->n && m_end(m, end, k)->len <= cap - used; k++)
        used += m_end(m, end, k)->len;
    return k ? (long)k : -ENOBUFS;
}

static void op_pop(shmkv *db, h_rng *r, struct mkey *m, long op)
{
    int end = (int)h_below(r, 2);
    size_t max = h_below(r, 2) ? 1 : 1 + (size_t)h_below(r, 70);
    size_t cap = h_below(r, 8) ? BUFCAP : (size_t)h_below(r, 200);
    size_t lens[70], n = 99;
    int many = max > 1 || h_below(r, 2);
    int rc = many ? shmkv_pop_many(db, m->k, strlen(m->k), end, buf, cap, lens, max, &n, 0)
                  : shmkv_pop(db, m->k, strlen(m->k), end, buf, cap, lens, 0);
    long k = m->kind == K_PAIR ? -EMEDIUMTYPE : fits(m, end, cap, max);
    int want = k < 0 ? (int)k : 0;
    if (rc != want || (many && rc == 0 && n != (size_t)k)) {
        MISMATCH("op %ld: pop of %zu (cap %zu) at %d from %s (%zu elements) returned %s (n %zu), expected %s (%ld)", op,
                 max, cap, end, m->k, m->n, h_errname(rc), n, h_errname(want), k);
        return;
    }
    if (rc == -ENOBUFS && lens[0] != m_end(m, end, 0)->len)
        MISMATCH("op %ld: -ENOBUFS gave length %zu, expected %zu", op, lens[0], m_end(m, end, 0)->len);
    size_t pos = 0;
    for (long i = 0; rc == 0 && i < k; i++) {
        struct elem e = m_pop(m, end);
        if (lens[i] != e.len || memcmp(buf + pos, e.b, e.len))
            MISMATCH("op %ld: pop from %s: element %ld of %zu bytes differs", op, m->k, i, e.len);
        pos += e.len;
        free(e.b);
    }
}

static void op_move(shmkv *db, h_rng *r, struct mkey *s, struct mkey *d, long op)
{
    int from = (int)h_below(r, 2), to = (int)h_below(r, 2);
    size_t cap = h_below(r, 8) ? BUFCAP : (size_t)h_below(r, 200), vl = 0;
    int rc = shmkv_move(db, s->k, strlen(s->k), from, d->k, strlen(d->k), to, buf, cap, &vl, 0);
    int want = s->kind == K_PAIR || d->kind == K_PAIR ? -EMEDIUMTYPE : (int)fits(s, from, cap, 1);
    want = want > 0 ? 0 : want;
    if (rc != want) {
        MISMATCH("op %ld: move %s/%d -> %s/%d (cap %zu) returned %s, expected %s", op, s->k, from, d->k, to, cap,
                 h_errname(rc), h_errname(want));
        return;
    }
    if (rc == 0) {
        struct elem e = m_pop(s, from);
        if (vl != e.len || memcmp(buf, e.b, e.len))
            MISMATCH("op %ld: move gave a different element", op);
        m_push(d, e, to);
    }
}

/* Redis LRANGE's indexes: first and count of elements start..stop of n. */
static size_t range_of(int64_t n, int64_t start, int64_t stop, int64_t *first)
{
    start = start < 0 ? (n + start < 0 ? 0 : n + start) : start;
    stop = stop < 0 ? n + stop : stop >= n ? n - 1 : stop;
    *first = start;
    return start > stop || start >= n ? 0 : (size_t)(stop - start + 1);
}

struct range_cmp {
    struct mkey *m;
    int64_t next;
    long bad, seen;
};

static int range_visit(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    struct range_cmp *c = ctx;
    (void)k, (void)kl;
    struct elem *e = (size_t)c->next < c->m->n ? at_(c->m, (size_t)c->next) : NULL;
    c->bad += !e || e->len != vl || memcmp(e->b, v, vl);
    c->next++;
    c->seen++;
    return 0;
}

static void op_range(shmkv *db, struct mkey *m, int64_t start, int64_t stop, long op)
{
    int64_t first;
    size_t want_n = range_of((int64_t)m->n, start, stop, &first);
    struct range_cmp c = {m, first, 0, 0};
    int rc = shmkv_lrange(db, m->k, strlen(m->k), start, stop, range_visit, &c);
    int want = m->kind == K_PAIR ? -EMEDIUMTYPE : m->kind == K_ABSENT ? -ENOENT : 0;
    if (rc != want || (rc == 0 && (c.bad || c.seen != (long)want_n)))
        MISMATCH("op %ld: lrange %lld %lld of %s (%zu) returned %s, %ld elements (%ld wrong), expected %s, %zu", op,
                 (long long)start, (long long)stop, m->k, m->n, h_errname(rc), c.seen, c.bad, h_errname(want), want_n);
    uint64_t len = 99;
    rc = shmkv_llen(db, m->k, strlen(m->k), &len);
    if (rc != kind_rc(m) || (rc == 0 && len != m->n))
        MISMATCH("op %ld: llen of %s returned %s, %llu; model %zu", op, m->k, h_errname(rc), (unsigned long long)len,
                 m->n);
}

static void op_pair(shmkv *db, h_rng *r, struct mkey *m, long op)
{
    const char *k = m->k;
    size_t kl = strlen(k), vl = 0;
    int rc, want;
    switch (h_below(r, 3)) {
    case 0: /* put */
        rc = shmkv_put(db, k, kl, "pair", 4);
        want = m->kind == K_LIST ? -EMEDIUMTYPE : 0;
        if (rc == 0 && want == 0) {
            m->kind = K_PAIR;
            memcpy(m->pv, "pair", m->pvl = 4);
        }
        break;
    case 1: /* get */
        rc = shmkv_get(db, k, kl, buf2, 16, &vl);
        want = m->kind == K_LIST ? -EMEDIUMTYPE : m->kind == K_ABSENT ? -ENOENT : 0;
        if (rc == 0 && want == 0 && (vl != m->pvl || memcmp(buf2, m->pv, vl)))
            MISMATCH("op %ld: get of %s gave another value", op, k);
        break;
    default: /* del, rarely: lists grow long between */
        if (h_below(r, 4))
            return;
        rc = shmkv_del(db, k, kl);
        want = m->kind == K_ABSENT ? -ENOENT : 0;
        if (rc == 0 && want == 0)
            m_clear(m);
    }
    if (rc != want)
        MISMATCH("op %ld: pair call on %s (kind %d) returned %s, expected %s", op, k, m->kind, h_errname(rc),
                 h_errname(want));
}

static int collect(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl;
    struct elem e = {vl, malloc(vl ? vl : 1)};
    memcpy(e.b, v, vl);
    m_push(ctx, e, SHMKV_TAIL);
    return 0;
}

/* A key found different: take the table's word for it. */
static void resync(shmkv *db, struct mkey *m)
{
    m_clear(m);
    size_t vl;
    if (shmkv_get(db, m->k, strlen(m->k), m->pv, sizeof m->pv, &vl) == 0) {
        m->kind = K_PAIR;
        m->pvl = vl;
    } else if (shmkv_lrange(db, m->k, strlen(m->k), 0, -1, collect, m) == 0) {
        m->kind = K_LIST;
    }
}

struct scan_cmp {
    long lists, pairs, bad;
};

static int scan_visit(void *ctx, int kind, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct scan_cmp *c = ctx;
    struct mkey *m = NULL;
    for (int i = 0; i < NKEYS; i++)
        if (strlen(K[i].k) == klen && !memcmp(K[i].k, key, klen))
            m = &K[i];
    if (!m || (kind == SHMKV_KIND_PAIR) != (m->kind == K_PAIR) || (kind == SHMKV_KIND_LIST) != (m->kind == K_LIST)) {
        c->bad++;
        return 0;
    }
    c->pairs += kind == SHMKV_KIND_PAIR;
    c->lists += kind == SHMKV_KIND_LIST;
    if (kind == SHMKV_KIND_PAIR) {
        c->bad += vlen != m->pvl || memcmp(val, m->pv, vlen);
        return 0;
    }
    size_t pos = 0;
    for (size_t i = 0; i < m->n; i++) {
        uint32_t n;
        struct elem *e = at_(m, i);
        if (pos + 4 > vlen)
            return c->bad++, 0;
        memcpy(&n, (const uint8_t *)val + pos, 4);
        c->bad += n != e->len || pos + 4 + n > vlen || memcmp((const uint8_t *)val + pos + 4, e->b, e->len);
        pos += 4 + (size_t)n;
    }
    c->bad += pos != vlen;
    return 0;
}

static void compare_all(shmkv *db, const char *when, long op)
{
    long present = 0, lists = 0, pairs = 0;
    for (int i = 0; i < NKEYS; i++) {
        op_range(db, &K[i], 0, -1, op);
        present += K[i].kind != K_ABSENT;
        lists += K[i].kind == K_LIST;
        pairs += K[i].kind == K_PAIR;
    }
    struct scan_cmp c = {0};
    uint64_t cur = 0;
    int rc;
    do
        rc = shmkv_scan_all(db, &cur, scan_visit, &c);
    while (rc == 0 && cur);
    CHECK_RC(rc, 0);
    CHECKF(c.bad == 0 && c.lists == lists && c.pairs == pairs, "%s: scan_all saw %ld lists, %ld pairs (%ld wrong); "
           "model %ld, %ld", when, c.lists, c.pairs, c.bad, lists, pairs);
    CHECK_EQ_U64(shmkv_count(db), present);
    CHECK_TABLE(db, when);
}

static void run(uint64_t seed, long nops, int two_handles)
{
    char name[64], when[64];
    h_name(name, sizeof name, "lmodel");
    shmkv *db, *db2 = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (two_handles)
        CHECK_RC(shmkv_open(name, NULL, &db2), 0);
    for (int i = 0; i < NKEYS; i++) {
        m_clear(&K[i]);
        snprintf(K[i].k, sizeof K[i].k, "k%d", i);
    }
    mismatches = 0;
    h_rng r = h_rng_new(seed);
    for (long op = 1; op <= nops; op++) {
        shmkv *h = db2 && h_below(&r, 2) ? db2 : db;
        struct mkey *m = &K[h_below(&r, NKEYS)], *d = &K[h_below(&r, NKEYS)];
        long before = mismatches;
        unsigned kind = (unsigned)h_below(&r, 100);
        if (kind < 30)
            op_push(h, &r, m, op);
        else if (kind < 60)
            op_pop(h, &r, m, op);
        else if (kind < 80)
            op_move(h, &r, m, d, op);
        else if (kind < 92)
            op_range(h, m, (int64_t)h_below(&r, 2 * m->n + 7) - (int64_t)m->n - 3,
                     (int64_t)h_below(&r, 2 * m->n + 7) - (int64_t)m->n - 3, op);
        else
            op_pair(h, &r, m, op);
        if (mismatches != before) { /* one bug must not cascade into thousands */
            resync(db, m);
            resync(db, d);
        }
        if (op % (nops / 6) == 0) {
            snprintf(when, sizeof when, "seed %llu, op %ld", (unsigned long long)seed, op);
            compare_all(db, when, op);
        }
        if (op == nops / 2) { /* close and reopen */
            shmkv_close(db);
            CHECK_RC(shmkv_open(name, NULL, &db), 0);
            compare_all(db, "after a reopen", op);
        }
    }
    CHECKF(mismatches == 0, "seed %llu: %ld mismatches", (unsigned long long)seed, mismatches);
    for (int i = 0; i < NKEYS; i++)
        m_clear(&K[i]);
    shmkv_close(db2);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

#define NOPS (H_ASAN ? 60000 : 200000)
static void one_handle(void) { run(42, NOPS, 0); }
static void two_handles(void) { run(4242, NOPS, 1); }

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {{"one_handle", one_handle}, {"two_handles", two_handles}};
    buf = malloc(BUFCAP);
    buf2 = malloc(BUFCAP);
    int rc = h_main(argc, argv, "test_list_model", parts, H_NPARTS(parts));
    for (int i = 0; i < NKEYS; i++)
        free(K[i].e);
    free(buf);
    free(buf2);
    return rc;
}
