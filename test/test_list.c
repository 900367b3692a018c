/*
 * test_list.c - the list calls one at a time, as they are meant to be
 * used: push, push_many, pop, pop_many, llen, move, lrange, scan_all, and
 * del, count and check on lists, and what each leaves behind.  Their error
 * codes are test_list_errors'; space (ring growth, big elements, a full
 * table, reuse) is test_list_space's; waiting is test_queue's.
 */
#include "harness.h"
#include "api_helpers.h"
#include "list_helpers.h"

#include "handle.h"
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KEY(s) s, strlen(s)

static const uint64_t S123[] = {1, 2, 3};

static void push_pop(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "pushpop");
    uint8_t buf[ELEM_MAX];
    size_t vl;
    for (uint64_t i = 10; i <= 12; i++)
        CHECK_RC(elem_push(db, "q", i, SHMKV_TAIL), 0);
    CHECK_RC(elem_push(db, "q", 9, SHMKV_HEAD), 0);
    CHECK_RC(elem_push(db, "q", 8, SHMKV_HEAD), 0);
    CHECK_LIST(db, "q", ((uint64_t[]){8, 9, 10, 11, 12}), 5);
    CHECK_RC(shmkv_pop(db, KEY("q"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(buf, vl, "q"), 8);
    CHECK_RC(shmkv_pop(db, KEY("q"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(buf, vl, "q"), 12);
    CHECK_LIST(db, "q", ((uint64_t[]){9, 10, 11}), 3);
    CHECK_TABLE(db, "after pushes and pops at both ends");

    /* batches: at the tail in order, at the head reversed */
    uint8_t e[4][ELEM_MAX];
    shmkv_elem el[4];
    for (int i = 0; i < 4; i++)
        el[i] = (shmkv_elem){e[i], elem_make(e[i], "b", 100 + (uint64_t)i)};
    CHECK_RC(shmkv_push_many(db, KEY("b"), el, 2, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_push_many(db, KEY("b"), el + 2, 2, SHMKV_HEAD), 0);
    CHECK_LIST(db, "b", ((uint64_t[]){103, 102, 100, 101}), 4);
    CHECK_RC(shmkv_push_many(db, KEY("b"), el, 0, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_push_many(db, KEY("none"), NULL, 0, SHMKV_TAIL), 0); /* creates nothing */

    /* empty elements, popped with no buffer at all */
    CHECK_RC(shmkv_push(db, KEY("z"), NULL, 0, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_push(db, KEY("z"), "", 0, SHMKV_HEAD), 0);
    CHECK_RC(shmkv_pop(db, KEY("z"), SHMKV_HEAD, NULL, 0, &vl, 0), 0);
    CHECK_EQ_U64(vl, 0);
    uint64_t len = 9;
    CHECK_RC(shmkv_llen(db, KEY("z"), &len), 0);
    CHECK_EQ_U64(len, 1);

    /* an absent list: pop -EAGAIN, llen 0, and it stays absent */
    CHECK_RC(shmkv_pop(db, KEY("absent"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EAGAIN);
    CHECK_RC(shmkv_llen(db, KEY("absent"), &len), 0);
    CHECK_EQ_U64(len, 0);
    CHECK_LIST(db, "absent", NULL, 0);
    CHECK_EQ_U64(shmkv_count(db), 3);
    CHECK_TABLE(db, "after batches and empty elements");
    close_unlink(db, name);
}


struct scan_seen {
    long pairs, lists, bad;
    int seen_l, seen_e, seen_z;
};

/* scan_all's entries: the pairs as values, the lists as [u32 len][bytes]... */
static int scan_entry(void *ctx, int kind, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct scan_seen *s = ctx;
    const uint8_t *p = val;
    if (kind == SHMKV_KIND_PAIR) {
        s->pairs++;
        s->bad += !(klen == 1 && !memcmp(key, "P", 1) && vlen == 2 && !memcmp(val, "pv", 2)) &&
                  !(klen == 2 && !memcmp(key, "P2", 2) && vlen == 0);
        return 0;
    }
    s->bad += kind != SHMKV_KIND_LIST;
    s->lists++;
    if (klen == 1 && !memcmp(key, "L", 1)) { /* 1, 2, 3 */
        s->seen_l++;
        size_t pos = 0;
        for (uint64_t i = 1; i <= 3; i++) {
            uint32_t n;
            if (pos + 4 > vlen) {
                s->bad++;
                return 0;
            }
            memcpy(&n, p + pos, 4);
            s->bad += pos + 4 + n > vlen || elem_seq(p + pos + 4, n, "L") != i;
            pos += 4 + (size_t)n;
        }
        s->bad += pos != vlen;
    } else if (klen == 1 && !memcmp(key, "E", 1)) { /* an empty list */
        s->seen_e++;
        s->bad += vlen != 0;
    } else if (klen == 1 && !memcmp(key, "Z", 1)) { /* "ab", then an empty element */
        s->seen_z++;
        s->bad += vlen != 4 + 2 + 4 || memcmp(p, &(uint32_t){2}, 4) || memcmp(p + 4, "ab", 2) ||
                  memcmp(p + 6, &(uint32_t){0}, 4);
    } else {
        s->bad++;
    }
    return 0;
}

static int count_visit(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl, (void)v, (void)vl;
    ++*(long *)ctx;
    return 0;
}

static void scan_all(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "scan");
    uint8_t buf[8];
    size_t vl;
    CHECK_RC(shmkv_put(db, KEY("P2"), "", 0), 0);
    CHECK_RC(shmkv_push(db, KEY("E"), "e", 1, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_pop(db, KEY("E"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
    CHECK_RC(shmkv_push(db, KEY("Z"), "ab", 2, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_push(db, KEY("Z"), NULL, 0, SHMKV_TAIL), 0);
    shmkv *ro;
    shmkv_options o = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    shmkv *handles[2] = {db, ro};
    for (int h = 0; h < 2; h++) {
        struct scan_seen s = {0};
        uint64_t cur = 0;
        int rc, calls = 0;
        do
            rc = shmkv_scan_all(handles[h], &cur, scan_entry, &s);
        while (rc == 0 && cur != 0 && ++calls < 100000);
        CHECK_RC(rc, 0);
        CHECKF(s.pairs == 2 && s.lists == 3 && s.bad == 0 && s.seen_l == 1 && s.seen_e == 1 && s.seen_z == 1,
               "handle %d: scan_all saw %ld pairs, %ld lists (L %d, E %d, Z %d), %ld wrong", h, s.pairs, s.lists,
               s.seen_l, s.seen_e, s.seen_z, s.bad);
        /* foreach and scan visit pairs only */
        long visits = 0;
        CHECK_RC(shmkv_foreach(handles[h], count_visit, &visits), 0);
        CHECK_EQ_INT(visits, 2);
        visits = 0;
        cur = 0;
        do
            rc = shmkv_scan(handles[h], &cur, count_visit, &visits);
        while (rc == 0 && cur != 0);
        CHECK_RC(rc, 0);
        CHECK_EQ_INT(visits, 2);
    }
    shmkv_close(ro);
    close_unlink(db, name);
}

/* Lists survive emptying (until deleted), a close and a reopen. */
static void persistence(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "persist");
    uint8_t buf[ELEM_MAX];
    size_t vl;
    for (int i = 0; i < 3; i++)
        CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), 0);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EAGAIN);
    /* empty, but still a list: lrange finds it, the pair calls refuse it, it counts */
    CHECK_RC(shmkv_lrange(db, KEY("L"), 0, -1, visit_none, NULL), 0);
    CHECK_RC(shmkv_put(db, KEY("L"), "x", 1), -EMEDIUMTYPE);
    CHECK_EQ_U64(shmkv_count(db), 2);
    /* fifty more lists, in every shard, through a close and a reopen */
    char k[32];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "list-%d", i);
        for (int j = 0; j <= i; j++)
            CHECK_RC(elem_push(db, k, (uint64_t)j, SHMKV_TAIL), 0);
    }
    shmkv_close(db);
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    uint64_t want[50];
    for (int j = 0; j < 50; j++)
        want[j] = (uint64_t)j;
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "list-%d", i);
        CHECK_LIST(db, k, want, (size_t)i + 1);
    }
    CHECK_RC(shmkv_lrange(db, KEY("L"), 0, -1, visit_none, NULL), 0);
    CHECK_EQ_U64(shmkv_count(db), 52);
    CHECK_TABLE(db, "after a reopen");
    /* and a list keeps working after the reopen */
    CHECK_RC(elem_push(db, "list-0", 99, SHMKV_HEAD), 0);
    CHECK_LIST(db, "list-0", ((uint64_t[]){99, 0}), 2);
    close_unlink(db, name);
}

/* shmkv_del takes a list whole, its elements and ring with it. */
static void del_list(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "del");
    shmkv_stats before, after;
    CHECK_RC(shmkv_stat(db, &before), 0);
    for (uint64_t i = 0; i < 3000; i++) /* a grown ring, some elements big */
        if (i % 500 == 7) {
            uint8_t *v = malloc(200000);
            h_val_make(v, 200000, "D", 1, i);
            CHECK_RC(shmkv_push(db, KEY("D"), v, 200000, SHMKV_TAIL), 0);
            free(v);
        } else {
            CHECK_RC(elem_push(db, "D", i, i % 2 ? SHMKV_TAIL : SHMKV_HEAD), 0);
        }
    CHECK_EQ_U64(shmkv_count(db), 3);
    CHECK_RC(shmkv_del(db, KEY("D")), 0);
    CHECK_RC(shmkv_del(db, KEY("D")), -ENOENT);
    CHECK_LIST(db, "D", NULL, 0);
    CHECK_RC(shmkv_lrange(db, KEY("D"), 0, -1, visit_none, NULL), -ENOENT);
    CHECK_EQ_U64(shmkv_count(db), 2);
    CHECK_TABLE(db, "after deleting a big list"); /* also: no run of it leaked */
    CHECK_RC(shmkv_stat(db, &after), 0);
    CHECK_EQ_U64(after.live_bytes, before.live_bytes);
    CHECK_LIST(db, "L", S123, 3);
    /* an empty list deletes too */
    CHECK_RC(shmkv_push(db, KEY("E"), "e", 1, SHMKV_TAIL), 0);
    uint8_t buf[8];
    size_t vl;
    CHECK_RC(shmkv_pop(db, KEY("E"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
    CHECK_RC(shmkv_del(db, KEY("E")), 0);
    CHECK_EQ_U64(shmkv_count(db), 2);
    /* clear takes lists with the pairs */
    CHECK_RC(shmkv_clear(db), 0);
    CHECK_EQ_U64(shmkv_count(db), 0);
    CHECK_LIST(db, "L", NULL, 0);
    CHECK_TABLE(db, "after clear");
    CHECK_RC(elem_push(db, "L", 5, SHMKV_TAIL), 0);
    CHECK_LIST(db, "L", ((uint64_t[]){5}), 1);
    close_unlink(db, name);
}

/* Move one element from src's end to dst's end: it is element seq of tag. */
static void move_one(shmkv *db, const char *src, int from, const char *dst, int to, const char *tag, uint64_t seq)
{
    uint8_t buf[ELEM_MAX];
    size_t vl = 0;
    CHECK_RC(shmkv_move(db, KEY(src), from, KEY(dst), to, buf, sizeof buf, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(buf, vl, tag), seq);
}

#define RINGS 40
#define PER_RING 5

static void move(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "move");
    uint8_t buf[ELEM_MAX];
    size_t vl;
    move_one(db, "L", SHMKV_HEAD, "M", SHMKV_TAIL, "L", 1); /* M made by the move */
    move_one(db, "L", SHMKV_TAIL, "M", SHMKV_HEAD, "L", 3);
    CHECK_LIST(db, "L", ((uint64_t[]){2}), 1);
    CHECK_LIST_OF(db, "M", "L", ((uint64_t[]){3, 1}), 2);
    move_one(db, "M", SHMKV_HEAD, "L", SHMKV_HEAD, "L", 3);
    move_one(db, "M", SHMKV_TAIL, "L", SHMKV_TAIL, "L", 1);
    CHECK_LIST(db, "L", ((uint64_t[]){3, 2, 1}), 3);
    CHECK_LIST(db, "M", NULL, 0);
    /* within one list: a rotation either way, and nothing at all at one end */
    move_one(db, "L", SHMKV_HEAD, "L", SHMKV_TAIL, "L", 3);
    CHECK_LIST(db, "L", ((uint64_t[]){2, 1, 3}), 3);
    move_one(db, "L", SHMKV_TAIL, "L", SHMKV_HEAD, "L", 3);
    move_one(db, "L", SHMKV_HEAD, "L", SHMKV_HEAD, "L", 3);
    move_one(db, "L", SHMKV_TAIL, "L", SHMKV_TAIL, "L", 1);
    CHECK_LIST(db, "L", ((uint64_t[]){3, 2, 1}), 3);
    /* nothing to move (an empty or absent source): the destination is not made */
    CHECK_RC(shmkv_move(db, KEY("M"), SHMKV_HEAD, KEY("N"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EAGAIN);
    CHECK_RC(shmkv_move(db, KEY("absent"), SHMKV_HEAD, KEY("N"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EAGAIN);
    CHECK_EQ_U64(shmkv_count(db), 3);
    CHECK_TABLE(db, "after moves");
    /* at random among 40 lists (their keys in many shards, some sharing one) */
    char k[RINGS][16];
    for (int i = 0; i < RINGS; i++) {
        snprintf(k[i], sizeof k[i], "ring-%d", i);
        for (uint64_t j = 0; j < PER_RING; j++)
            CHECK_RC(elem_push(db, "ring", (uint64_t)i * PER_RING + j, SHMKV_TAIL), 0);
        for (uint64_t j = 0; j < PER_RING; j++)
            move_one(db, "ring", SHMKV_HEAD, k[i], SHMKV_TAIL, "ring", (uint64_t)i * PER_RING + j);
    }
    h_rng r = h_rng_new(5);
    for (int step = 0; step < 4000; step++) {
        int a = (int)h_below(&r, RINGS), b = (int)h_below(&r, RINGS);
        int rc = shmkv_move(db, KEY(k[a]), (int)h_below(&r, 2), KEY(k[b]), (int)h_below(&r, 2), buf, sizeof buf,
                            &vl, 0);
        CHECK(rc == 0 || rc == -EAGAIN);
        CHECK(rc || elem_seq(buf, vl, "ring") < RINGS * PER_RING);
    }
    uint8_t seen[RINGS * PER_RING] = {0};
    size_t total = 0;
    for (int i = 0; i < RINGS; i++) {
        uint64_t got[RINGS * PER_RING];
        size_t n = 0;
        CHECK_RC(list_seqs(db, k[i], "ring", got, RINGS * PER_RING, &n), 0);
        for (size_t j = 0; j < n && j < RINGS * PER_RING; j++)
            if (got[j] < RINGS * PER_RING)
                seen[got[j]]++;
        total += n;
    }
    CHECK_EQ_U64(total, RINGS * PER_RING);
    for (int i = 0; i < RINGS * PER_RING; i++)
        CHECKF(seen[i] == 1, "element %d is in %d lists", i, seen[i]);
    CHECK_TABLE(db, "after moves among 40 lists");
    close_unlink(db, name);
}

/* pop_many: as many as fit and max allows, packed, lengths in lens. */
static void pop_many(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "popmany");
    for (uint64_t i = 0; i < 20; i++)
        CHECK_RC(elem_push(db, "q", i, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_push(db, KEY("q"), NULL, 0, SHMKV_TAIL), 0); /* an empty element at the tail */
    uint8_t buf[ELEM_MAX * 20];
    size_t lens[20], n = 0;
    /* room for elements 0 and 1 and part of 2: two */
    size_t cap = elem_len(0) + elem_len(1) + elem_len(2) - 1;
    CHECK_RC(shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, buf, cap, lens, 20, &n, 0), 0);
    CHECK_EQ_U64(n, 2);
    CHECK(lens[0] == elem_len(0) && lens[1] == elem_len(1));
    CHECK_EQ_U64(elem_seq(buf, lens[0], "q"), 0);
    CHECK_EQ_U64(elem_seq(buf + lens[0], lens[1], "q"), 1);
    /* max limits: three, exactly, with room for all */
    CHECK_RC(shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, buf, sizeof buf, lens, 3, &n, 0), 0);
    CHECK_EQ_U64(n, 3);
    size_t pos = 0;
    for (size_t j = 0; j < n; pos += lens[j++])
        CHECK_EQ_U64(elem_seq(buf + pos, lens[j], "q"), 2 + j);
    /* from the tail: the last first (the empty one) */
    CHECK_RC(shmkv_pop_many(db, KEY("q"), SHMKV_TAIL, buf, sizeof buf, lens, 3, &n, 0), 0);
    CHECK_EQ_U64(n, 3);
    CHECK(lens[0] == 0 && elem_seq(buf, lens[1], "q") == 19 && elem_seq(buf + lens[1], lens[2], "q") == 18);
    /* more asked than there are; a buffer exactly the size of what is left */
    size_t left = 0;
    for (uint64_t i = 5; i < 18; i++)
        left += elem_len(i);
    CHECK_RC(shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, buf, left, lens, 20, &n, 0), 0);
    CHECK_EQ_U64(n, 13);
    pos = 0;
    for (size_t j = 0; j < n; pos += lens[j++])
        CHECK_EQ_U64(elem_seq(buf + pos, lens[j], "q"), 5 + j);
    CHECK_EQ_U64(pos, left);
    CHECK_RC(shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, buf, sizeof buf, lens, 20, &n, 0), -EAGAIN);
    CHECK_EQ_U64(n, 0);
    CHECK_LIST(db, "q", NULL, 0);
    /* an element out of line (big) between two in the ring: all three
     * come in one call (the head's lane leaves such a batch to the slow
     * way whole: found by fuzz_ops, when it popped only the first) */
    size_t big = 512u << 10;
    uint8_t *bb = malloc(big), *out = malloc(big + 2 * ELEM_MAX);
    memset(bb, 'B', big);
    shmkv_elem el[3] = {{buf, elem_make(buf, "q", 0)}, {bb, big}, {buf + ELEM_MAX, elem_make(buf + ELEM_MAX, "q", 2)}};
    CHECK_RC(shmkv_push_many(db, KEY("q"), el, 3, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, out, big + 2 * ELEM_MAX, lens, 3, &n, 0), 0);
    CHECK_EQ_U64(n, 3);
    CHECK(n == 3 && lens[1] == big && elem_seq(out, lens[0], "q") == 0 && !memcmp(out + lens[0], bb, big) &&
          elem_seq(out + lens[0] + big, lens[2], "q") == 2);
    free(bb);
    free(out);
    CHECK_TABLE(db, "after pop_many");
    close_unlink(db, name);
}

/* Redis LRANGE: the elements from start to stop, both included. */
static size_t redis_range(int64_t n, int64_t start, int64_t stop, int64_t *first)
{
    if (start < 0)
        start = n + start < 0 ? 0 : n + start;
    if (stop < 0)
        stop = n + stop;
    if (stop >= n)
        stop = n - 1;
    *first = start;
    return start > stop || start >= n ? 0 : (size_t)(stop - start + 1);
}

struct range_seen {
    uint64_t seqs[8];
    size_t n, stop_after;
};

static int range_visit(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    struct range_seen *s = ctx;
    CHECK(kl == 3 && !memcmp(k, "rng", 3));
    if (s->n < 8)
        s->seqs[s->n] = elem_seq(v, vl, "rng");
    return ++s->n == s->stop_after ? 42 : 0;
}

static void lrange(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "lrange");
    int64_t idx[] = {INT64_MIN, -8, -6, -5, -4, -2, -1, 0, 1, 2, 4, 5, 6, 8, INT64_MAX};
    const size_t nidx = sizeof idx / sizeof idx[0];
    uint8_t buf[ELEM_MAX];
    size_t vl;
    CHECK_RC(shmkv_lrange(db, KEY("rng"), 0, -1, range_visit, NULL), -ENOENT);
    CHECK_RC(elem_push(db, "rng", 0, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_pop(db, KEY("rng"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
    for (int64_t n = 0; n <= 5; n++) { /* elements 0..n-1 */
        if (n)
            CHECK_RC(elem_push(db, "rng", (uint64_t)n - 1, SHMKV_TAIL), 0);
        for (size_t a = 0; a < nidx; a++)
            for (size_t b = 0; b < nidx; b++) {
                struct range_seen s = {.stop_after = 99};
                int64_t first;
                size_t want = redis_range(n, idx[a], idx[b], &first);
                CHECK_RC(shmkv_lrange(db, KEY("rng"), idx[a], idx[b], range_visit, &s), 0);
                int ok = s.n == want;
                for (size_t j = 0; ok && j < want; j++)
                    ok = s.seqs[j] == (uint64_t)first + j;
                CHECKF(ok, "lrange %lld %lld of %lld elements: %zu visited, %zu expected", (long long)idx[a],
                       (long long)idx[b], (long long)n, s.n, want);
            }
    }
    /* fn's non-zero return stops the range and is returned */
    struct range_seen s = {.stop_after = 2};
    CHECK_RC(shmkv_lrange(db, KEY("rng"), 0, -1, range_visit, &s), 42);
    CHECK_EQ_U64(s.n, 2);
    close_unlink(db, name);
}

/* A list counts as one key, in count and stat, whatever it holds. */
static void count_stat(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "count");
    shmkv_stats st;
    for (uint64_t i = 0; i < 100; i++)
        CHECK_RC(elem_push(db, "L2", i, SHMKV_HEAD), 0);
    CHECK_EQ_U64(shmkv_count(db), 3);
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, 3);
    CHECK_RC(shmkv_del(db, KEY("L2")), 0);
    CHECK_EQ_U64(shmkv_count(db), 2);
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, 2);
    CHECK_EQ_U64(st.dels, 1);
    close_unlink(db, name);
}

/* A thread remembers the list run its last lane push and pop found
 * (queue.c's memo); a list deleted and its run reused by another list
 * must void it, whoever deleted it. */
static struct shard *shard_of_key(shmkv *db, const char *key)
{
    return shard_of(db, shmkv__hash64(key, strlen(key), db->seed0, db->seed1));
}

static void memo(void)
{
    char name[64], b[16];
    shmkv *db = open_new(name, sizeof name, "memo"), *other = NULL;
    CHECK_RC(shmkv_open(name, NULL, &other), 0);
    for (int i = 0;; i++) { /* b in a's shard, whose lanes a run of it would pass */
        snprintf(b, sizeof b, "b%d", i);
        if (shard_of_key(db, b) == shard_of_key(db, "a"))
            break;
    }
    for (int by_other = 0; by_other < 2; by_other++) {
        CHECK_RC(elem_push(db, "a", 0, SHMKV_TAIL), 0); /* made the slow way */
        CHECK_RC(elem_push(db, "a", 1, SHMKV_TAIL), 0); /* the lane's: remembered */
        uint8_t buf[ELEM_MAX];
        size_t vl;
        CHECK_RC(shmkv_pop(db, KEY("a"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), 0); /* remembered too */
        CHECK_RC(shmkv_del(by_other ? other : db, KEY("a")), 0);
        CHECK_RC(elem_push(db, b, 7, SHMKV_TAIL), 0); /* likely in a's old run */
        CHECK_RC(elem_push(db, b, 8, SHMKV_TAIL), 0);
        CHECK_RC(elem_push(db, "a", 2, SHMKV_TAIL), 0); /* a new "a", not into b */
        CHECK_LIST(db, "a", ((uint64_t[]){2}), 1);
        CHECK_RC(shmkv_pop(db, KEY("a"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), 0);
        CHECK_EQ_U64(elem_seq(buf, vl, "a"), 2);
        CHECK_RC(shmkv_pop(db, KEY("a"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EAGAIN);
        CHECK_LIST_OF(db, b, b, ((uint64_t[]){7, 8}), 2);
        CHECK_RC(shmkv_del(db, KEY("a")), 0);
        CHECK_RC(shmkv_del(db, KEY(b)), 0);
    }
    CHECK_TABLE(db, "after the memo's lists");
    shmkv_close(other);
    close_unlink(db, name);
}

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {
        {"push_pop", push_pop},       {"scan_all", scan_all}, {"persistence", persistence},
        {"del", del_list},            {"move", move},         {"pop_many", pop_many},
        {"lrange", lrange},           {"count_stat", count_stat}, {"memo", memo},
    };
    return h_main(argc, argv, "test_list", parts, H_NPARTS(parts));
}
