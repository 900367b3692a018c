/*
 * test_expire.c - per-key expiry: put_ttl, expire, ttl.
 *
 * Time is moved with the test-build hook shmkv__clock_advance(), so no
 * test sleeps.  Checked: an expired key is absent to every function (get,
 * get_many, ttl, del, replace, expire, add, foreach); overwrite semantics
 * (put clears a lifetime, put_ttl sets one, expire changes it and keeps
 * the value); expired space is reclaimed by ordinary writes to other keys,
 * with no sweep, in store and cache mode, for small and huge values; the
 * expirations counter and the checker agree; bad arguments and read-only
 * handles.
 *
 * Regressions (issue 18): a key with a lifetime in an overflow bucket,
 * expired, then written again by put, add or put_ttl must be found
 * (item 1: the write went to a slot of the bucket its reaping had just
 * unlinked); lifetimes above SHMKV_TTL_MAX, up to UINT64_MAX, are refused
 * and change nothing, SHMKV_TTL_MAX itself works (item 9: they wrapped
 * and expired at once).  These read the library's internals (src/) to put
 * keys in one bucket's chain.
 */
#include "harness.h"
#include "stop_helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void shmkv__clock_advance(int64_t ms);

static int present(shmkv *db, const char *k)
{
    char v[64];
    size_t vl;
    return shmkv_get(db, k, strlen(k), v, sizeof v, &vl) == 0;
}

struct seen { int n, bad; };

static int visit(void *ctx, const void *k, size_t kl, const void *v, size_t vlen)
{
    struct seen *seen = ctx;
    (void)v, (void)vlen;
    seen->n++;
    if (kl == 1 && (*(const char *)k == 'f' || *(const char *)k == 'd'))
        seen->bad++;
    return 0;
}

static void test_semantics(void)
{
    char name[64];
    h_name(name, sizeof name, "exp-sem");
    shmkv *db, *ro;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    uint64_t left = 99;
    CHECK_RC(shmkv_put_ttl(db, "a", 1, "va", 2, 1000), 0);
    CHECK_RC(shmkv_put(db, "b", 1, "vb", 2), 0);
    CHECK_RC(shmkv_ttl(db, "a", 1, &left), 0);
    CHECK(left >= 990 && left <= 1000);
    CHECK_RC(shmkv_ttl(db, "b", 1, &left), 0);
    CHECK_EQ_U64(left, 0); /* no expiry */
    CHECK_RC(shmkv_ttl(db, "zz", 2, &left), -ENOENT);
    CHECK_RC(shmkv_ttl(db, "a", 1, NULL), -EINVAL);
    CHECK_RC(shmkv_ttl(NULL, "a", 1, &left), -EINVAL);
    CHECK_RC(shmkv_put_ttl(db, NULL, 1, "x", 1, 5), -EINVAL);

    shmkv__clock_advance(900);
    CHECK(present(db, "a"));
    shmkv__clock_advance(101);
    CHECK(!present(db, "a"));
    CHECK(present(db, "b"));
    CHECK_RC(shmkv_ttl(db, "a", 1, &left), -ENOENT);
    size_t vl;
    char buf[8];
    shmkv_item it = {.key = "a", .klen = 1, .buf = buf, .cap = sizeof buf};
    CHECK_EQ_INT(shmkv_get_many(db, &it, 1), 0);
    CHECK_RC(it.rc, -ENOENT);
    void *p = NULL;
    CHECK_RC(shmkv_get_alloc(db, "a", 1, &p, &vl), -ENOENT);
    CHECK_RC(shmkv_replace(db, "a", 1, "x", 1), -ENOENT);
    CHECK_RC(shmkv_expire(db, "a", 1, 100), -ENOENT);
    CHECK_RC(shmkv_del(db, "a", 1), -ENOENT);
    CHECK_RC(shmkv_add(db, "a", 1, "new", 3), 0); /* absent, so add works */
    CHECK_RC(shmkv_get(db, "a", 1, buf, sizeof buf, &vl), 0);
    CHECK_MEM(buf, "new", 3);
    CHECK_RC(shmkv_ttl(db, "a", 1, &left), 0);
    CHECK_EQ_U64(left, 0);

    /* put clears a lifetime; put_ttl sets one; expire changes it */
    CHECK_RC(shmkv_put_ttl(db, "c", 1, "vc", 2, 50), 0);
    CHECK_RC(shmkv_put(db, "c", 1, "vc2", 3), 0);
    shmkv__clock_advance(100);
    CHECK(present(db, "c"));
    CHECK_RC(shmkv_expire(db, "c", 1, 200), 0);
    CHECK_RC(shmkv_get(db, "c", 1, buf, sizeof buf, &vl), 0);
    CHECK(vl == 3 && !memcmp(buf, "vc2", 3)); /* the value is kept */
    CHECK_RC(shmkv_ttl(db, "c", 1, &left), 0);
    CHECK(left > 150 && left <= 200);
    CHECK_RC(shmkv_expire(db, "c", 1, 0), 0); /* persist */
    shmkv__clock_advance(500);
    CHECK(present(db, "c"));
    CHECK_RC(shmkv_expire(db, "zz", 2, 10), -ENOENT);

    /* read-only handles see expiry and cannot set it */
    CHECK_RC(shmkv_put_ttl(db, "d", 1, "vd", 2, 100), 0);
    shmkv_options rdo = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &rdo, &ro), 0);
    CHECK_RC(shmkv_put_ttl(ro, "e", 1, "x", 1, 10), -EROFS);
    CHECK_RC(shmkv_expire(ro, "d", 1, 10), -EROFS);
    CHECK_RC(shmkv_ttl(ro, "d", 1, &left), 0);
    CHECK(left > 0 && left <= 100);
    CHECK(present(ro, "d"));
    shmkv__clock_advance(101);
    CHECK(!present(ro, "d"));

    /* foreach skips expired pairs */
    CHECK_RC(shmkv_put_ttl(db, "f", 1, "vf", 2, 10), 0);
    shmkv__clock_advance(11);
    struct seen seen = {0, 0};
    CHECK_RC(shmkv_foreach(db, visit, &seen), 0);
    CHECK_RC(shmkv_foreach(ro, visit, &seen), 0);
    CHECK_EQ_INT(seen.bad, 0);
    CHECK_EQ_INT(seen.n, 2 * 3); /* a, b, c in each */

    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK(st.expirations >= 1); /* at least "a", reaped by add */
    CHECK_TABLE(db, "after expiry semantics");
    shmkv_close(ro);
    shmkv_close(db);
    shmkv_unlink(name);
}

#define KEEP 4096

/* Many pairs expire; writes to other keys reclaim their space, with the
 * work bounded per write and no sweep. */
static void test_reclaim(unsigned flags, uint64_t max_bytes, size_t vsize, int n)
{
    char name[64];
    h_name(name, sizeof name, "exp-reclaim");
    shmkv_options o = {.flags = SHMKV_CREATE | flags, .max_bytes = max_bytes};
    shmkv *db;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    char *val = calloc(1, vsize);
    char k[32];
    for (int i = 0; i < n; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "ttl-%d", i);
        h_val_make(val, vsize, k, kl, 1);
        CHECK_RC(shmkv_put_ttl(db, k, kl, val, vsize, 1000 + (uint64_t)(i % 7)), 0);
    }
    for (int i = 0; i < KEEP; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "keep-%d", i);
        CHECK_RC(shmkv_put(db, k, kl, "kept", 4), 0);
    }
    shmkv_stats st0, st;
    CHECK_RC(shmkv_stat(db, &st0), 0);
    CHECK_EQ_U64(st0.expirations, 0);
    shmkv__clock_advance(2000);
    /* ordinary writes to other keys (spread over every shard: a shard's
     * space is reclaimed by writes to it, or when another shard finds no
     * room) each do a bounded step */
    int writes = 0;
    for (; writes < 200000; writes++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "keep-%d", writes % KEEP);
        CHECK_RC(shmkv_put(db, k, kl, "kept", 4), 0);
        if (writes % 64 == 0) {
            CHECK_RC(shmkv_stat(db, &st), 0);
            if (st.expirations == (uint64_t)n)
                break;
        }
    }
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%s, %d values of %zu B: all %llu reclaimed after %d writes to other keys; log %llu -> %llu B",
           flags & SHMKV_CACHE ? "cache" : "store", n, vsize, (unsigned long long)st.expirations, writes,
           (unsigned long long)st0.log_bytes, (unsigned long long)st.log_bytes);
    CHECK_EQ_U64(st.expirations, (uint64_t)n);
    CHECK_EQ_U64(st.keys, KEEP);
    CHECK(writes < n * 4 + 20000); /* bounded work per write, not a sweep at the end */
    CHECK_TABLE(db, "after reclaiming expired pairs");
    free(val);
    shmkv_close(db);
    shmkv_unlink(name);
}

static void reclaim_store(void)
{
    test_reclaim(0, 0, 100, 20000);
}

static void reclaim_huge(void)
{
    test_reclaim(0, 0, 100000, 40); /* huge values, own runs */
}

static void reclaim_cache(void)
{
    test_reclaim(SHMKV_CACHE, 64u << 20, 200, 20000);
}

/* Issue 18, item 1.  In one bucket: seven keys fill it, Y and then X
 * (with a lifetime) go to an overflow bucket, Y is deleted (its slot, the
 * first of that bucket, is free: a write looking for room finds it), X
 * expires; writing X again reaps it, which empties and unlinks the
 * overflow bucket, and the new X must land in a slot that is still
 * reachable. */
static void overflow_rewrite(void)
{
    static const char *const modes[] = {"put", "add", "put_ttl"};
    char name[64];
    h_name(name, sizeof name, "exp-overflow");
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = 1u << 20, .expected_keys = 10};
    shmkv *db;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    long next = 0;
    uint64_t keys = 0;
    for (int m = 0; m < 3; m++) {
        char k[9][32];
        size_t kl[9];
        for (int i = 0; i < 9; i++) { /* same shard, same bucket */
            kl[i] = key_find(db, k[i], sizeof k[i], "ovf-", &next, 0, 10 + m);
            int rc = i < 8 ? shmkv_put(db, k[i], kl[i], "v", 1) : shmkv_put_ttl(db, k[i], kl[i], "old", 3, 100);
            CHECK_RC(rc, 0);
        }
        const char *x = k[8], *y = k[7];
        unsigned slot = 9;
        CHECK_EQ_INT(key_place(db, y, kl[7], &slot), 1); /* an overflow bucket, */
        CHECK_EQ_INT(slot, 0);                           /* its first slot */
        CHECK_EQ_INT(key_place(db, x, kl[8], &slot), 1);
        CHECK_EQ_INT(slot, 1);
        CHECK_RC(shmkv_del(db, y, kl[7]), 0);
        CHECK_EQ_INT(key_place(db, x, kl[8], &slot), 1); /* X is still there, alone */
        shmkv__clock_advance(200);
        CHECK(!present(db, x));
        int rc = m == 0 ? shmkv_put(db, x, kl[8], "new", 3)
               : m == 1 ? shmkv_add(db, x, kl[8], "new", 3)
                        : shmkv_put_ttl(db, x, kl[8], "new", 3, 100000);
        CHECKF(rc == 0, "%s of an expired key in an overflow bucket: %s", modes[m], h_errname(rc));
        char buf[8];
        size_t vl = 0;
        rc = shmkv_get(db, x, kl[8], buf, sizeof buf, &vl);
        CHECKF(rc == 0 && vl == 3 && !memcmp(buf, "new", 3), "get after %s of an expired key in an overflow bucket: %s",
               modes[m], h_errname(rc));
        keys += 8;
        CHECK_EQ_U64(shmkv_count(db), keys);
        struct seen seen = {0, 0};
        CHECK_RC(shmkv_foreach(db, visit, &seen), 0);
        CHECK_EQ_INT(seen.n, (int)keys);
        CHECK_TABLE(db, modes[m]);
    }
    shmkv_close(db);
    shmkv_unlink(name);
}

/* Issue 18, item 9: lifetimes past SHMKV_TTL_MAX are refused and change
 * nothing; SHMKV_TTL_MAX itself is a lifetime of some 2,230 years. */
static void ttl_limits(void)
{
    static const uint64_t bad[] = {UINT64_MAX, UINT64_MAX - 1, (uint64_t)INT64_MAX + 1, SHMKV_TTL_MAX + 1};
    char name[64];
    h_name(name, sizeof name, "exp-limits");
    shmkv *db;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    CHECK_RC(shmkv_put(db, "k", 1, "v1", 2), 0);
    CHECK_RC(shmkv_put_ttl(db, "t", 1, "v1", 2, 5000), 0);
    uint64_t left;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(shmkv_put_ttl(db, "k", 1, "v2", 2, bad[i]), -EINVAL);
        CHECK_RC(shmkv_put_ttl(db, "n", 1, "v2", 2, bad[i]), -EINVAL);
        CHECK_RC(shmkv_expire(db, "k", 1, bad[i]), -EINVAL);
        CHECK_RC(shmkv_expire(db, "t", 1, bad[i]), -EINVAL);
        char buf[8];
        size_t vl = 0;
        CHECK(shmkv_get(db, "k", 1, buf, sizeof buf, &vl) == 0 && vl == 2 && !memcmp(buf, "v1", 2));
        CHECK(!present(db, "n"));
        CHECK_RC(shmkv_ttl(db, "k", 1, &left), 0);
        CHECK_EQ_U64(left, 0); /* still no lifetime */
        CHECK_RC(shmkv_ttl(db, "t", 1, &left), 0);
        CHECK(left > 4000 && left <= 5000); /* still its own */
    }
    CHECK_EQ_U64(shmkv_count(db), 2);
    CHECK_RC(shmkv_put_ttl(db, "m", 1, "v", 1, SHMKV_TTL_MAX), 0);
    CHECK_RC(shmkv_expire(db, "k", 1, SHMKV_TTL_MAX), 0);
    shmkv__clock_advance(1000000000); /* 11 days on */
    const char *const lasting[] = {"m", "k"};
    for (int i = 0; i < 2; i++) {
        CHECK(present(db, lasting[i]));
        CHECK_RC(shmkv_ttl(db, lasting[i], 1, &left), 0);
        CHECK(left > SHMKV_TTL_MAX - 1000000000 - 60000 && left <= SHMKV_TTL_MAX - 1000000000);
    }
    CHECK(!present(db, "t"));
    CHECK_TABLE(db, "after lifetimes at the limit");
    shmkv_close(db);
    shmkv_unlink(name);
}

static const struct h_part parts[] = {
    { "semantics", test_semantics },
    { "reclaim_store", reclaim_store },
    { "reclaim_huge", reclaim_huge },
    { "reclaim_cache", reclaim_cache },
    { "overflow_rewrite", overflow_rewrite },
    { "ttl_limits", ttl_limits },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_expire", parts, H_NPARTS(parts));
}
