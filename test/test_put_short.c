/*
 * test_put_short.c - a plain put's short way (write.c, put_lean).
 *
 * A put with no options into a store appends its record and counts it
 * before it looks at the key's bucket, and leaves to the general way
 * whatever the look finds that it does not handle, undoing its counts.
 * These parts hold it to the general way's answers and to exact counts:
 *   - differential: the same random writes (plain puts of small and huge
 *     values, puts with lifetimes, deletes, list pushes, leases, pairs
 *     that expire, in differential_expiry) on two tables, one through
 *     shmkv_put (the short way) and one through shmkv_put_ex with empty
 *     options (the general way): the same return codes, the same pairs,
 *     lifetimes and lists, the same counts (where no pair expired unmet),
 *     both sound for the checker (which holds the counters to the
 *     slots);
 *   - fallbacks: each thing the short way hands on, with its exact
 *     effect: a list's key (-EMEDIUMTYPE, the list intact, the undone
 *     record's bytes counted as garbage and not as live), a pair with a
 *     lifetime (gone), an expired pair (one key, not two), a pending
 *     lease (voided); and full first buckets, which it handles itself
 *     (every key there once, no garbage);
 *   - overwrite: an overwrite keeps the key's count and read count and
 *     turns exactly the old record's bytes into garbage.
 * In a cache (SHMKV_CACHE) the short way also takes the eviction step a
 * cache short of space takes after every write:
 *   - differential_cache: the differential on two caches with room for
 *     everything (no eviction on either side: the same answers exactly);
 *   - cache_reads_kept: keys read, then overwritten, survive a flood that
 *     takes the keys overwritten unread (the read count stays in the slot);
 *   - cache_evicts_ahead: a flood of new keys keeps the cache's free space
 *     near its low-water mark, as eviction ahead of need does, where
 *     evicting only when an append finds no room lets it fall to the
 *     allocator's headroom (a short way that skipped the step failed
 *     here).
 * The last two run through both ways, each held to the same checks; they
 * read the library's internals (src/) for the cache's free space.
 */
#include "harness.h"
#include "api_helpers.h"
#include "evict.h"
#include "handle.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const shmkv_put_opts no_opts; /* non-NULL: the general way */

/* ---- differential ------------------------------------------------------ */

#define DKEYS 600
#define DSTEPS 12000

struct side {
    shmkv *db;
    int general;
};

static int put_on(struct side *s, const void *k, size_t kl, const void *v, size_t vl)
{
    return s->general ? shmkv_put_ex(s->db, k, kl, v, vl, &no_opts) : shmkv_put(s->db, k, kl, v, vl);
}

/* A value of n bytes for step i (n up to 300 k: some huge). */
static size_t make_value(h_rng *r, unsigned char *v, size_t cap, uint64_t i)
{
    uint64_t pick = h_below(r, 100);
    size_t n = pick < 85 ? (size_t)h_below(r, 64) : pick < 98 ? (size_t)h_range(r, 64, 2000)
                                                              : (size_t)h_range(r, 20000, 300000);
    n = n < cap ? n : cap;
    for (size_t j = 0; j < n; j++)
        v[j] = (unsigned char)(i * 131 + j * 7);
    return n;
}

struct collect {
    char *keys[DKEYS * 2];
    size_t n;
};

static int note_key(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val, (void)vlen;
    struct collect *c = ctx;
    if (c->n < DKEYS * 2) {
        c->keys[c->n] = calloc(1, klen + 1);
        memcpy(c->keys[c->n++], key, klen);
    }
    return 0;
}

/* Every key of a is in b with the same value and lifetime class; and,
 * exact (no pair of either has expired unmet: a count holds such a pair
 * until a write meets it, and the two sides' cleaners meet them at their
 * own times), the counts agree. */
static uint64_t same_tables(shmkv *a, shmkv *b, bool exact)
{
    struct collect ca = {0}, cb = {0};
    CHECK_RC(shmkv_foreach(a, note_key, &ca), 0);
    CHECK_RC(shmkv_foreach(b, note_key, &cb), 0);
    CHECK_EQ_U64(ca.n, cb.n);
    if (exact)
        CHECK_EQ_U64(shmkv_count(a), shmkv_count(b));
    for (size_t i = 0; i < ca.n; i++) {
        void *va = NULL, *vb = NULL;
        size_t la = 0, lb = 0;
        const char *k = ca.keys[i];
        CHECK_RC(shmkv_get_alloc(a, k, strlen(k), &va, &la), 0);
        CHECK_RC(shmkv_get_alloc(b, k, strlen(k), &vb, &lb), 0);
        CHECKF(la == lb && (!la || !memcmp(va, vb, la)), "key %s: values differ (%zu and %zu bytes)", k, la, lb);
        uint64_t ta = 0, tb = 0;
        CHECK_RC(shmkv_ttl(a, k, strlen(k), &ta), 0);
        CHECK_RC(shmkv_ttl(b, k, strlen(k), &tb), 0);
        CHECKF((ta == 0) == (tb == 0), "key %s: lifetimes differ (%llu and %llu ms)", k, (unsigned long long)ta,
               (unsigned long long)tb);
        free(va), free(vb);
    }
    for (size_t i = 0; i < ca.n; i++)
        free(ca.keys[i]);
    for (size_t i = 0; i < cb.n; i++)
        free(cb.keys[i]);
    shmkv_stats sa = stats_of(a), sb = stats_of(b);
    if (exact)
        CHECK_EQ_U64(sa.keys, sb.keys);
    CHECK_EQ_U64(sa.puts, sb.puts);
    return ca.n;
}

/* The same writes on two tables; expiring, the clock jumps past every
 * lifetime given so far at each comparison, so that pairs expire on the
 * way. */
static void differential(bool expiring, bool cache)
{
    char na[64], nb[64];
    /* a cache with room for all: 600 keys, values up to 300 KB */
    unsigned flags = cache ? SHMKV_CACHE : 0;
    uint64_t max = cache ? 256ull << 20 : 0;
    struct side s[2] = {{open_with(na, sizeof na, "short", flags, max), 0},
                        {open_with(nb, sizeof nb, "general", flags, max), 1}};
    static unsigned char v[300000];
    unsigned char buf[64];
    h_rng r = h_rng_new(0x5107); /* fixed: a failure runs again the same */
    int lists = 0, leases = 0, huge = 0, fails = 0;
    uint64_t expired = 0; /* pairs the clock's jumps took away */
    for (uint64_t i = 0; i < DSTEPS; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "k%llu", (unsigned long long)h_below(&r, DKEYS));
        uint64_t op = h_below(&r, 100), ttl = 3600000;
        size_t vl = make_value(&r, v, sizeof v, i);
        huge += vl >= 20000;
        int rc[2];
        for (int j = 0; j < 2; j++) {
            shmkv *db = s[j].db;
            uint64_t lease = 0;
            size_t got;
            if (op < 70)
                rc[j] = put_on(&s[j], k, kl, v, vl);
            else if (op < 78)
                rc[j] = shmkv_put_ttl(db, k, kl, v, vl, ttl);
            else if (op < 86)
                rc[j] = shmkv_del(db, k, kl);
            else if (op < 93)
                rc[j] = shmkv_push(db, k, kl, v, vl < 64 ? vl : 64, SHMKV_TAIL);
            else
                rc[j] = shmkv_get_lease(db, k, kl, buf, sizeof buf, &got, 3600000, &lease);
            if (op >= 93 && rc[j] == -ENOENT && lease)
                rc[j] = 1; /* granted: the same on both sides */
        }
        CHECKF(rc[0] == rc[1], "step %llu (op %llu, key %s, %zu bytes): %d by the short way, %d by the general one",
               (unsigned long long)i, (unsigned long long)op, k, vl, rc[0], rc[1]);
        lists += op >= 86 && op < 93 && rc[0] == 0;
        leases += rc[0] == 1;
        fails += op < 70 && rc[0] != 0;
        if (i % 2000 == 1999) {
            /* expiring: every lifetime given so far passes, on both sides
             * at once (the test clock; real time, running on between the
             * two sides' steps, made a 1 ms lifetime pass on one side only) */
            uint64_t before = same_tables(s[0].db, s[1].db, !expiring);
            if (expiring) {
                shmkv__clock_advance(2 * 3600000);
                expired += before - same_tables(s[0].db, s[1].db, false);
            }
        }
    }
    same_tables(s[0].db, s[1].db, !expiring);
    if (cache) { /* else the two sides' evictions were free to differ */
        CHECK_EQ_U64(stats_of(s[0].db).evictions, 0);
        CHECK_EQ_U64(stats_of(s[1].db).evictions, 0);
        CHECK_EQ_U64(stats_of(s[0].db).cache, 1);
    }
    h_note("%d steps: %d list pushes, %d leases granted, %d huge values, %d plain puts refused (a list's key), "
           "%llu pairs found expired", DSTEPS, lists, leases, huge, fails, (unsigned long long)expired);
    CHECK(leases > 0 && huge > 0);
    CHECK(cache || (lists > 0 && fails > 0)); /* (a cache holds no lists) */
    CHECK(!expiring || expired > 0);
    FINISH_TABLE(s[0].db, na, "after the short way's writes");
    FINISH_TABLE(s[1].db, nb, "after the general way's writes");
}

static void part_differential(void) { differential(false, false); }
static void part_differential_expiry(void) { differential(true, false); }
static void part_differential_cache(void) { differential(false, true); }

/* ---- fallbacks --------------------------------------------------------- */

static uint64_t rec_bytes_of(size_t klen, size_t vlen) { return (8 + klen + vlen + 7) & ~7ull; }

static void part_fallbacks(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "fallbacks");
    /* a list's key: refused, the list intact; the record appended before
     * the look is garbage, not live */
    CHECK_RC(shmkv_push(db, "q", 1, "e1", 2, SHMKV_TAIL), 0);
    shmkv_stats before = stats_of(db);
    CHECK_RC(shmkv_put(db, "q", 1, "value", 5), -EMEDIUMTYPE);
    shmkv_stats after = stats_of(db);
    CHECK_EQ_U64(after.garbage_bytes - before.garbage_bytes, rec_bytes_of(1, 5));
    CHECK_EQ_U64(after.keys, before.keys);
    CHECK_EQ_U64(after.puts, before.puts);
    uint64_t len = 0;
    CHECK_RC(shmkv_llen(db, "q", 1, &len), 0);
    CHECK_EQ_U64(len, 1);
    CHECK_TABLE(db, "after a plain put on a list's key");

    /* a pair with a lifetime: replaced by one without */
    CHECK_RC(shmkv_put_ttl(db, "t", 1, "old", 3, 3600000), 0);
    CHECK_RC(shmkv_put(db, "t", 1, "new", 3), 0);
    CHECK_VAL(db, "t", 1, "new", 3);
    CHECK_TTL(db, "t", 1, 0, 0);

    /* an expired pair: one key afterwards, not two */
    CHECK_RC(shmkv_put_ttl(db, "x", 1, "old", 3, 1), 0);
    usleep(5000);
    uint64_t keys = stats_of(db).keys;
    CHECK_RC(shmkv_put(db, "x", 1, "fresh", 5), 0);
    CHECK_VAL(db, "x", 1, "fresh", 5);
    CHECK_EQ_U64(stats_of(db).keys, keys);

    /* a pending lease: the put lands and voids it */
    unsigned char buf[16];
    size_t vl;
    uint64_t lease = 0, voided = stats_of(db).leases_voided;
    CHECK_RC(shmkv_get_lease(db, "l", 1, buf, sizeof buf, &vl, 0, &lease), -ENOENT);
    CHECK(lease != 0);
    CHECK_RC(shmkv_put(db, "l", 1, "direct", 6), 0);
    CHECK_RC(shmkv_put_leased(db, "l", 1, "late", 4, 0, lease), -ECANCELED);
    CHECK_VAL(db, "l", 1, "direct", 6);
    CHECK_EQ_U64(stats_of(db).leases_voided, voided + 1);
    CHECK_EQ_U64(shmkv_count(db), 4); /* q, t, x, l */
    CHECK_TABLE(db, "after the short way's fallbacks");
    FINISH_TABLE(db, name, NULL);

    /* full first buckets: a table that starts with few buckets, filled
     * faster than it splits within a shard's burst */
    db = open_new(name, sizeof name, "full-buckets");
    const int n = 60000;
    for (int i = 0; i < n; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "f%d", i);
        CHECK_RC(shmkv_put(db, k, kl, k, kl), 0);
    }
    for (int i = 0; i < n; i += 7) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "f%d", i);
        CHECK_VAL(db, k, kl, k, kl);
    }
    shmkv_stats st = stats_of(db);
    CHECK_EQ_U64(st.keys, (uint64_t)n);
    CHECK_EQ_U64(st.garbage_bytes, 0);
    CHECK(st.overflow_buckets > 0);
    FINISH_TABLE(db, name, "after 60000 new keys by the short way");
}

/* ---- overwrite ---------------------------------------------------------- */

static void part_overwrite(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "overwrite");
    CHECK_RC(shmkv_put(db, "key", 3, "first value", 11), 0);
    shmkv_stats a = stats_of(db);
    CHECK_EQ_U64(a.garbage_bytes, 0);
    CHECK_RC(shmkv_put(db, "key", 3, "second", 6), 0);
    shmkv_stats b = stats_of(db);
    CHECK_VAL(db, "key", 3, "second", 6);
    CHECK_EQ_U64(b.keys, 1);
    CHECK_EQ_U64(b.puts, a.puts + 1);
    CHECK_EQ_U64(b.garbage_bytes, rec_bytes_of(3, 11));
    CHECK_EQ_U64(b.live_bytes, 3 + 6);
    FINISH_TABLE(db, name, "after an overwrite by the short way");
}

/* ---- cache mode ------------------------------------------------------- */

#define CACHE_BYTES (4u << 20)
#define CVAL 100

static int put_way(shmkv *db, bool general, const char *k, size_t kl, const void *v, size_t vl)
{
    return general ? shmkv_put_ex(db, k, kl, v, vl, &no_opts) : shmkv_put(db, k, kl, v, vl);
}

/* n new keys "<prefix><from..from+n)" of CVAL bytes; all must be taken */
static void flood(shmkv *db, bool general, const char *prefix, int from, int n)
{
    char k[32], v[CVAL];
    for (int i = from; i < from + n; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "%s%d", prefix, i);
        h_val_make(v, CVAL, k, kl, 1);
        int rc = put_way(db, general, k, kl, v, CVAL);
        CHECKF(rc == 0, "put of %s into a full cache: %s", k, h_errname(rc));
        if (rc)
            return;
    }
}

/* How many of "<prefix><0..n)" the read-only handle finds (marking none),
 * each with its right value (version ver). */
static int left_of(shmkv *ro, const char *prefix, int n, int ver)
{
    char k[32], v[CVAL + 8];
    size_t vl;
    int left = 0;
    for (int i = 0; i < n; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "%s%d", prefix, i);
        if (shmkv_get(ro, k, kl, v, sizeof v, &vl) == 0) {
            uint64_t seq = 0;
            CHECKF(vl == CVAL && h_val_check(v, vl, k, kl, &seq) && seq == (uint64_t)ver,
                   "%s: not version %d's value", k, ver);
            left++;
        }
    }
    return left;
}

/* Keys read and then overwritten keep their read count: a flood that
 * takes nearly all the keys overwritten unread leaves them. */
static void cache_reads_kept(bool general)
{
    char name[64], k[32], v[CVAL + 8];
    size_t vl;
    shmkv *db = open_with(name, sizeof name, general ? "reads-general" : "reads-short", SHMKV_CACHE, CACHE_BYTES);
    shmkv *ro = open_ro(name);
    enum { N = 1500 };
    flood(db, general, "read-", 0, N);
    flood(db, general, "unread-", 0, N);
    for (int i = 0; i < N; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "read-%d", i);
        CHECK_RC(shmkv_get(db, k, kl, v, sizeof v, &vl), 0);
    }
    for (int i = 0; i < N; i++) { /* both overwritten, version 2 */
        size_t kl = (size_t)snprintf(k, sizeof k, "read-%d", i);
        h_val_make(v, CVAL, k, kl, 2);
        CHECK_RC(put_way(db, general, k, kl, v, CVAL), 0);
        kl = (size_t)snprintf(k, sizeof k, "unread-%d", i);
        h_val_make(v, CVAL, k, kl, 2);
        CHECK_RC(put_way(db, general, k, kl, v, CVAL), 0);
    }
    /* flood in steps until nearly every unread key is gone */
    int cold = 0, unread = N;
    for (int step = 0; step < 400 && unread > N / 20; step++) {
        flood(db, general, "cold-", cold, 500);
        cold += 500;
        unread = left_of(ro, "unread-", N, 2);
    }
    int read = left_of(ro, "read-", N, 2);
    shmkv_stats st = stats_of(db);
    h_note("%s way: after %d cold keys, %d of %d read keys left, %d of %d unread; %llu evictions",
           general ? "general" : "short", cold, read, N, unread, N, (unsigned long long)st.evictions);
    CHECK(unread <= N / 20);
    CHECK(read >= N * 9 / 10);
    CHECK(st.used_bytes <= CACHE_BYTES);
    shmkv_close(ro);
    FINISH_TABLE(db, name, "after overwrites and a flood");
}

static void part_cache_reads_kept(void)
{
    cache_reads_kept(false);
    cache_reads_kept(true);
}

/* Writes to a cache short of space evict ahead of need: while a flood
 * of new keys goes in, the free space stays near the low-water mark
 * (each write under it evicts a step).  Evicting only when an append
 * finds no room lets it fall to the allocator's headroom, half the mark
 * here, and most samples find it under the mark.  Sampled between
 * batches of puts. */
static void cache_evicts_ahead(bool general)
{
    char name[64];
    shmkv *db = open_with(name, sizeof name, general ? "ahead-general" : "ahead-short", SHMKV_CACHE, CACHE_BYTES);
    uint64_t low = db->low_water, least = UINT64_MAX, samples = 0, pressed = 0;
    for (int i = 0; i < 400; i++) {
        flood(db, general, "k-", i * 200, 200);
        if (stats_of(db).evictions) { /* the cache is full: sample */
            uint64_t a = shmkv__evict_avail(db);
            least = a < least ? a : least;
            samples++;
            pressed += shmkv__evict_pressure(db);
        }
    }
    shmkv_stats st = stats_of(db);
    h_note("%s way: low water %llu bytes, least free %llu over %llu samples (%llu under the mark), %llu evictions, "
           "%llu keys", general ? "general" : "short", (unsigned long long)low, (unsigned long long)least,
           (unsigned long long)samples, (unsigned long long)pressed, (unsigned long long)st.evictions,
           (unsigned long long)st.keys);
    CHECK(samples > 100);
    CHECK(pressed * 4 < samples); /* without the step: over half of them */
    CHECK(least > low * 5 / 8);   /* without the step: the headroom, low / 2 */
    CHECK(st.evictions > 0 && st.used_bytes <= CACHE_BYTES);
    FINISH_TABLE(db, name, "after a flood of new keys");
}

static void part_cache_evicts_ahead(void)
{
    cache_evicts_ahead(false);
    cache_evicts_ahead(true);
}

static const struct h_part parts[] = {
    { "differential", part_differential },
    { "differential_expiry", part_differential_expiry },
    { "fallbacks", part_fallbacks },
    { "overwrite", part_overwrite },
    { "differential_cache", part_differential_cache },
    { "cache_reads_kept", part_cache_reads_kept },
    { "cache_evicts_ahead", part_cache_evicts_ahead },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_put_short", parts, H_NPARTS(parts));
}
