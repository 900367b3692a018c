/*
 * test_scan.c - shmkv_scan (the resumable iteration) and shmkv_put_many
 * (the batched puts).
 *
 * scan: one piece a call, as many calls as the table has shards, the
 * cursor 0 only after the last; every pair exactly once; a stop resumes
 * after its piece; -EINVAL for cursors past the last shard and NULL
 * arguments (the cursor untouched); expired pairs and pending leases
 * skipped; read-only handles; a cursor carried over to another handle;
 * callbacks that write the table.  (test_atomic: scans while other
 * processes write.)
 *
 * put_many: each pair's own result among mixed valid and invalid ones,
 * pairs of one key in their order (within and across the internal
 * groups of 16), lifetimes, read-only handles, a full store, a cache
 * filled several times over, the puts counter.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 5000

static size_t key_of(char *k, int i) { return (size_t)snprintf(k, 32, "scan-%d", i); }

/* Visits of one scan: per key, and per call. */
struct tally {
    int seen[NKEYS];
    long visits, bad, unknown;
    int stop_at;      /* fn returns 5 at this visit of the call (0: never) */
    int call_visits;  /* visits in the current call */
    shmkv *del_db;    /* fn deletes each key it visits through this handle */
};

static int tally_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct tally *t = ctx;
    t->visits++;
    t->call_visits++;
    int i;
    char k[32], z[32] = { 0 };
    memcpy(z, key, klen < sizeof z - 1 ? klen : sizeof z - 1); /* keys are not NUL-terminated */
    if (klen < 6 || klen > 12 || sscanf(z, "scan-%d", &i) != 1 || i < 0 || i >= NKEYS ||
        key_of(k, i) != klen || memcmp(k, key, klen) != 0) {
        t->unknown++;
        return 0;
    }
    t->seen[i]++;
    if (!h_val_check(val, vlen, key, klen, NULL))
        t->bad++;
    if (t->del_db && shmkv_del(t->del_db, key, klen) != 0)
        t->bad++;
    return t->stop_at && t->call_visits == t->stop_at ? 5 : 0;
}

static void fill(shmkv *db, int n)
{
    unsigned char v[64];
    char k[32];
    for (int i = 0; i < n; i++) {
        size_t kl = key_of(k, i);
        h_val_make(v, H_VAL_MIN + (size_t)(i % 40), k, kl, (uint64_t)i);
        CHECK_RC(shmkv_put(db, k, kl, v, H_VAL_MIN + (size_t)(i % 40)), 0);
    }
}

/* A whole scan: returns the number of calls; counts[c] gets the visits of
 * call c, after[c] the cursor it left. */
static int full_scan(shmkv *db, struct tally *t, int *counts, uint64_t *after, int max_calls)
{
    uint64_t cur = 0;
    int calls = 0;
    do {
        t->call_visits = 0;
        int rc = shmkv_scan(db, &cur, tally_visit, t);
        CHECK_RC(rc, 0);
        if (rc)
            break;
        if (calls < max_calls) {
            if (counts)
                counts[calls] = t->call_visits;
            if (after)
                after[calls] = cur;
        }
        calls++;
    } while (cur && calls <= max_calls);
    return calls;
}

static uint64_t shards_of(shmkv *db)
{
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    return st.shards;
}

static void check_all_once(const struct tally *t, int n, const char *when)
{
    int missing = 0, twice = 0;
    for (int i = 0; i < n; i++) {
        missing += t->seen[i] == 0;
        twice += t->seen[i] > 1;
    }
    CHECKF(missing == 0 && twice == 0 && t->bad == 0 && t->unknown == 0 && t->visits == n,
           "%s: %d keys missed, %d seen twice, %ld bad, %ld unknown, %ld visits of %d", when,
           missing, twice, t->bad, t->unknown, t->visits, n);
}

static void test_cursor(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "scan-cur");
    uint64_t shards = shards_of(db);
    CHECK(shards > 1);
    struct tally *t = calloc(1, sizeof *t);
    /* an empty table: a call per shard all the same */
    CHECK_EQ_INT(full_scan(db, t, NULL, NULL, 1 << 20), (int)shards);
    CHECK_EQ_INT(t->visits, 0);
    fill(db, NKEYS);
    uint64_t *after = calloc(shards, sizeof *after);
    CHECK_EQ_INT(full_scan(db, t, NULL, after, (int)shards), (int)shards);
    check_all_once(t, NKEYS, "a scan");
    for (uint64_t c = 0; c + 1 < shards; c++)
        CHECKF(after[c] != 0, "the cursor was 0 after call %llu of %llu", (unsigned long long)c,
               (unsigned long long)shards);
    /* again from 0: the same */
    memset(t, 0, sizeof *t);
    CHECK_EQ_INT(full_scan(db, t, NULL, NULL, (int)shards), (int)shards);
    check_all_once(t, NKEYS, "a second scan");
    /* cursors no scan gives, and NULL arguments: -EINVAL, cursor untouched */
    uint64_t bad[] = { shards, shards + 1, UINT64_MAX, 1ull << 32 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t cur = bad[i];
        CHECK_RC(shmkv_scan(db, &cur, tally_visit, t), -EINVAL);
        CHECK_EQ_U64(cur, bad[i]);
    }
    uint64_t cur = 0;
    CHECK_RC(shmkv_scan(NULL, &cur, tally_visit, t), -EINVAL);
    CHECK_RC(shmkv_scan(db, NULL, tally_visit, t), -EINVAL);
    CHECK_RC(shmkv_scan(db, &cur, NULL, t), -EINVAL);
    CHECK_EQ_U64(cur, 0);
    /* the last piece alone: the cursor comes back 0 */
    cur = shards - 1;
    CHECK_RC(shmkv_scan(db, &cur, tally_visit, t), 0);
    CHECK_EQ_U64(cur, 0);
    free(after);
    free(t);
    FINISH_TABLE(db, name, NULL);

    /* a table of one shard: one call */
    shmkv *small = open_with(name, sizeof name, "scan-small", 0, SHMKV_MIN_BYTES);
    CHECK_EQ_U64(shards_of(small), 1);
    fill(small, 100);
    t = calloc(1, sizeof *t);
    CHECK_EQ_INT(full_scan(small, t, NULL, NULL, 10), 1);
    check_all_once(t, 100, "a scan of one shard");
    free(t);
    FINISH_TABLE(small, name, NULL);
}

/* fn returning non-zero: returned, and the scan resumes after the piece,
 * whose other pairs are not visited. */
static void test_stop(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "scan-stop");
    fill(db, NKEYS);
    int shards = (int)shards_of(db);
    int *counts = calloc((size_t)shards, sizeof *counts);
    uint64_t *after = calloc((size_t)shards, sizeof *after);
    struct tally *t = calloc(1, sizeof *t);
    full_scan(db, t, counts, after, shards);
    int piece = shards / 2;
    while (counts[piece] < 10)
        piece = (piece + 1) % shards;
    memset(t, 0, sizeof *t);
    uint64_t cur = 0;
    for (int c = 0; c < shards; c++) {
        t->call_visits = 0;
        t->stop_at = c == piece ? 10 : 0;
        int rc = shmkv_scan(db, &cur, tally_visit, t);
        CHECK_RC(rc, c == piece ? 5 : 0);
        CHECK_EQ_INT(t->call_visits, c == piece ? 10 : counts[c]);
        CHECK_EQ_U64(cur, after[c]);
    }
    CHECK_EQ_U64(cur, 0);
    CHECK_EQ_INT(t->visits, NKEYS - (counts[piece] - 10));
    int twice = 0;
    for (int i = 0; i < NKEYS; i++)
        twice += t->seen[i] > 1;
    CHECK_EQ_INT(twice, 0);
    free(counts);
    free(after);
    free(t);
    FINISH_TABLE(db, name, NULL);
}

/* Expired pairs and pending leases are skipped, by writable and read-only
 * handles alike; a cursor works on another handle of the table. */
static void test_skip_rdonly(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "scan-ro");
    fill(db, NKEYS);
    char k[32], buf[8];
    for (int i = 0; i < 300; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "gone-%d", i), vl;
        if (i % 2)
            CHECK_RC(shmkv_put_ttl(db, k, kl, "short", 5, 10), 0);
        else {
            uint64_t lease = 0;
            CHECK_RC(shmkv_get_lease(db, k, kl, buf, sizeof buf, &vl, 0, &lease), -ENOENT);
            CHECK(lease != 0);
        }
    }
    shmkv__clock_advance(10);
    shmkv *ro = open_ro(name);
    int shards = (int)shards_of(db);
    struct tally *t = calloc(1, sizeof *t);
    CHECK_EQ_INT(full_scan(ro, t, NULL, NULL, shards), shards);
    check_all_once(t, NKEYS, "a read-only scan");
    memset(t, 0, sizeof *t);
    CHECK_EQ_INT(full_scan(db, t, NULL, NULL, shards), shards);
    check_all_once(t, NKEYS, "a writable scan");
    /* half on one handle, the rest on the other */
    memset(t, 0, sizeof *t);
    uint64_t cur = 0;
    for (int c = 0; c < shards; c++)
        CHECK_RC(shmkv_scan(c < shards / 2 ? db : ro, &cur, tally_visit, t), 0);
    CHECK_EQ_U64(cur, 0);
    check_all_once(t, NKEYS, "a scan over two handles");
    free(t);
    shmkv_close(ro);
    FINISH_TABLE(db, name, "after scans");
}

/* The callback may write the table: here it deletes what it visits. */
static void test_writing_callback(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "scan-wr");
    fill(db, NKEYS);
    struct tally *t = calloc(1, sizeof *t);
    t->del_db = db;
    full_scan(db, t, NULL, NULL, 1 << 20);
    check_all_once(t, NKEYS, "a deleting scan");
    CHECK_EQ_U64(shmkv_count(db), 0);
    free(t);
    FINISH_TABLE(db, name, "after a deleting scan");
}

/* ---- put_many ---- */

static void test_many_args(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "many-args");
    shmkv_pair p = { .key = "k", .klen = 1, .val = "v", .vlen = 1, .rc = 99 };
    CHECK_RC(shmkv_put_many(NULL, &p, 1), -EINVAL);
    CHECK_RC(shmkv_put_many(db, NULL, 1), -EINVAL);
    CHECK_EQ_INT(p.rc, 99);
    CHECK_RC(shmkv_put_many(db, NULL, 0), 0);
    CHECK_RC(shmkv_put_many(db, &p, 0), 0);
    CHECK_EQ_INT(p.rc, 99);
    CHECK_ABSENT(db, "k", 1);
    shmkv *ro = open_ro(name);
    shmkv_pair ps[20];
    for (int i = 0; i < 20; i++)
        ps[i] = (shmkv_pair){ .key = "k", .klen = 1, .val = "v", .vlen = 1, .rc = 99 };
    CHECK_RC(shmkv_put_many(ro, ps, 20), 0);
    for (int i = 0; i < 20; i++)
        CHECK_RC(ps[i].rc, -EROFS);
    shmkv_close(ro);
    CHECK_ABSENT(db, "k", 1);
    CHECK_EQ_U64(stats_of(db).puts, 0);
    FINISH_TABLE(db, name, NULL);
}

/* Valid and invalid pairs mixed over several groups: each its own rc. */
static void test_many_mixed(void)
{
    char name[64];
    shmkv *db = open_with(name, sizeof name, "many-mixed", 0, 1u << 20);
    enum { N = 70 };
    static const char big_key[SHMKV_KEY_MAX + 1];
    void *big_val = calloc(1, 2u << 20);
    shmkv_pair p[N];
    char keys[N][16];
    int want[N], nvalid = 0;
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "m%d", i);
        p[i] = (shmkv_pair){ .key = keys[i], .klen = strlen(keys[i]), .val = keys[i],
                             .vlen = strlen(keys[i]), .ttl_ms = (uint64_t)(i % 3) * 1000, .rc = 12345 };
        want[i] = 0;
        switch (i % 9) {
        case 1: p[i].key = NULL; want[i] = -EINVAL; break;
        case 3: p[i].klen = 0; want[i] = -EINVAL; break;
        case 4: p[i].key = big_key; p[i].klen = sizeof big_key; want[i] = -E2BIG; break;
        case 5: p[i].val = NULL; want[i] = -EINVAL; break;
        case 7: p[i].ttl_ms = SHMKV_TTL_MAX + 1; want[i] = -EINVAL; break;
        case 8: p[i].val = big_val; p[i].vlen = 2u << 20; want[i] = -E2BIG; break;
        default: nvalid++; break;
        }
        if (i % 9 == 6) { /* NULL value of length 0: a valid empty one */
            p[i].val = NULL;
            p[i].vlen = 0;
        }
    }
    CHECK_EQ_INT(shmkv_put_many(db, p, N), nvalid);
    for (int i = 0; i < N; i++) {
        CHECKF(p[i].rc == want[i], "pair %d: %s, expected %s", i, h_errname(p[i].rc),
               h_errname(want[i]));
        size_t kl = strlen(keys[i]);
        if (want[i] == 0) {
            CHECK_VAL(db, keys[i], kl, p[i].val, p[i].vlen);
            CHECK_TTL(db, keys[i], kl, p[i].ttl_ms, 250);
        } else if (p[i].key != big_key) {
            CHECK_ABSENT(db, keys[i], kl);
        }
    }
    CHECK_EQ_U64(shmkv_count(db), (uint64_t)nvalid);
    CHECK_EQ_U64(stats_of(db).puts, (uint64_t)nvalid);
    free(big_val);
    FINISH_TABLE(db, name, "after a mixed batch");
}

/* Pairs of one key in one batch: each written in its order, the last one
 * stays (value and lifetime); invalid ones in between change nothing. */
static void test_many_duplicates(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "many-dup");
    enum { N = 100, NK = 7 };
    static const struct { const char *k; size_t n; } dkeys[NK] = {
        { "a", 1 }, { "bb", 2 }, { "ccc", 3 }, { "dddd", 4 }, { "a\0", 2 }, { "\0x", 2 }, { "\0y", 2 },
    };
    shmkv_pair p[N];
    char vals[N][16];
    int last[NK];
    for (int i = 0; i < N; i++) {
        int k = (i * 5 + i / 13) % NK;
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        p[i] = (shmkv_pair){ .key = dkeys[k].k, .klen = dkeys[k].n, .val = vals[i],
                             .vlen = strlen(vals[i]), .ttl_ms = (uint64_t)(i % 4) * 1000 };
        if (i % 11 == 10) /* an invalid pair of the key */
            p[i].ttl_ms = SHMKV_TTL_MAX + 1;
        else
            last[k] = i;
    }
    int invalid = N / 11;
    CHECK_EQ_INT(shmkv_put_many(db, p, N), N - invalid);
    for (int k = 0; k < NK; k++) {
        const shmkv_pair *w = &p[last[k]];
        CHECK_VAL(db, w->key, w->klen, w->val, w->vlen);
        CHECK_TTL(db, w->key, w->klen, w->ttl_ms, 250);
    }
    CHECK_EQ_U64(shmkv_count(db), NK);
    CHECK_EQ_U64(stats_of(db).puts, (uint64_t)(N - invalid));
    FINISH_TABLE(db, name, "after a batch of duplicates");
}

/* Big batches: all stored; in a full store some find no room (and those
 * are absent), in a cache none fails. */
static void many_fill(unsigned flags, uint64_t max_bytes, size_t n, size_t vlen)
{
    char name[64];
    shmkv *db = open_with(name, sizeof name, "many-fill", flags, max_bytes);
    shmkv_pair *p = calloc(n, sizeof *p);
    char (*keys)[24] = calloc(n, sizeof *keys);
    unsigned char *vals = malloc(n * vlen);
    for (size_t i = 0; i < n; i++) {
        size_t kl = (size_t)snprintf(keys[i], sizeof keys[i], "fill-%zu", i);
        h_val_make(vals + i * vlen, vlen, keys[i], kl, i);
        p[i] = (shmkv_pair){ .key = keys[i], .klen = kl, .val = vals + i * vlen, .vlen = vlen };
    }
    int stored = shmkv_put_many(db, p, n);
    size_t ok = 0, nospc = 0, present = 0;
    unsigned char *buf = malloc(vlen);
    for (size_t i = 0; i < n; i++) {
        ok += p[i].rc == 0;
        nospc += p[i].rc == -ENOSPC;
        size_t vl;
        int rc = shmkv_get(db, keys[i], p[i].klen, buf, vlen, &vl);
        if (rc == 0) {
            present++;
            CHECK(vl == vlen && h_val_check(buf, vl, keys[i], p[i].klen, NULL));
        }
        if (p[i].rc != 0 && rc == 0)
            h_fail(__FILE__, __LINE__, "pair %zu: %s, yet stored", i, h_errname(p[i].rc));
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%s: %zu pairs of %zu bytes: %d stored, %zu without room, %zu present, %llu evicted",
           flags & SHMKV_CACHE ? "cache" : max_bytes ? "small store" : "store", n, vlen, stored,
           nospc, present, (unsigned long long)st.evictions);
    CHECK_EQ_U64((uint64_t)stored, ok);
    CHECK_EQ_U64(ok + nospc, n);
    CHECK_EQ_U64(st.puts, ok);
    if (flags & SHMKV_CACHE) {
        CHECK_EQ_U64(ok, n);
        CHECK(st.evictions > 0 && present < n);
    } else {
        CHECK_EQ_U64(present, ok); /* a store keeps every pair it took */
        CHECK(max_bytes ? nospc > 0 : nospc == 0);
    }
    free(buf);
    free(p);
    free(keys);
    free(vals);
    FINISH_TABLE(db, name, "after a big batch");
}

static void test_many_big(void) { many_fill(0, 0, 20000, 100); }
static void test_many_full(void) { many_fill(0, 1u << 20, 2000, 1000); }
static void test_many_cache(void) { many_fill(SHMKV_CACHE, 4u << 20, 20000, 1000); }

static const struct h_part parts[] = {
    { "cursor", test_cursor },
    { "stop", test_stop },
    { "skip_rdonly", test_skip_rdonly },
    { "writing_callback", test_writing_callback },
    { "many_args", test_many_args },
    { "many_mixed", test_many_mixed },
    { "many_duplicates", test_many_duplicates },
    { "many_big", test_many_big },
    { "many_full", test_many_full },
    { "many_cache", test_many_cache },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_scan", parts, H_NPARTS(parts));
}
