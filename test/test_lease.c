/*
 * test_lease.c - shmkv_get_lease and shmkv_put_leased in one process.
 *
 * A lease is granted on a miss, once; it is invisible to every reader
 * (get, get_many, get_alloc, ttl, count, foreach, scan, stat); it is
 * filled once; every kind of write of its key voids it (put_leased then
 * stores nothing), the failed conditional ones do not; it lapses after
 * its lifetime (and the default one); wrong tokens are refused; clear
 * and cache eviction void it; read-only handles are never granted one;
 * the stats counters count exactly.  (test_atomic: leases between
 * processes.)
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A miss on key that must grant a lease (0 if it did not). */
static uint64_t grant_at(int line, shmkv *db, const char *k, uint64_t lease_ms)
{
    char buf[16];
    size_t vl = 0;
    uint64_t lease = 77;
    int rc = shmkv_get_lease(db, k, strlen(k), buf, sizeof buf, &vl, lease_ms, &lease);
    if (rc != -ENOENT || lease == 0)
        h_fail(__FILE__, line, "get_lease of %s: %s, lease %llu (a grant expected)", k,
               h_errname(rc), (unsigned long long)lease);
    return rc == -ENOENT ? lease : 0;
}
#define GRANT(db, k, ms) grant_at(__LINE__, db, k, ms)

/* A miss on key that must not grant one (another is live). */
static void no_grant_at(int line, shmkv *db, const char *k)
{
    char buf[16];
    size_t vl = 0;
    uint64_t lease = 77;
    int rc = shmkv_get_lease(db, k, strlen(k), buf, sizeof buf, &vl, 0, &lease);
    if (rc != -ENOENT || lease != 0)
        h_fail(__FILE__, line, "get_lease of %s: %s, lease %llu (a miss without one expected)",
               k, h_errname(rc), (unsigned long long)lease);
}
#define NO_GRANT(db, k) no_grant_at(__LINE__, db, k)

static void check_leases_at(int line, shmkv *db, uint64_t granted, uint64_t filled, uint64_t voided)
{
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    if (st.leases_granted != granted || st.leases_filled != filled || st.leases_voided != voided)
        h_fail(__FILE__, line, "leases granted %llu filled %llu voided %llu, expected %llu %llu %llu",
               (unsigned long long)st.leases_granted, (unsigned long long)st.leases_filled,
               (unsigned long long)st.leases_voided, (unsigned long long)granted,
               (unsigned long long)filled, (unsigned long long)voided);
}
#define CHECK_LEASES(db, g, f, v) check_leases_at(__LINE__, db, g, f, v)

static int count_visit(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl, (void)v, (void)vl;
    ++*(int *)ctx;
    return 0;
}

/* Every reader misses a pending lease. */
static void check_invisible(shmkv *db, const char *k)
{
    size_t kl = strlen(k), vl;
    char buf[16];
    CHECK_ABSENT(db, k, kl);
    shmkv_item it = { .key = k, .klen = kl, .buf = buf, .cap = sizeof buf };
    CHECK_EQ_INT(shmkv_get_many(db, &it, 1), 0);
    CHECK_RC(it.rc, -ENOENT);
    uint64_t left;
    CHECK_RC(shmkv_ttl(db, k, kl, &left), -ENOENT);
    CHECK_EQ_U64(shmkv_count(db), 0);
    int n = 0;
    CHECK_RC(shmkv_foreach(db, count_visit, &n), 0);
    uint64_t cur = 0;
    do
        CHECK_RC(shmkv_scan(db, &cur, count_visit, &n), 0);
    while (cur);
    CHECK_EQ_INT(n, 0);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, 0);
    CHECK_EQ_U64(st.live_bytes, 0);
    (void)vl;
}

/* Nor do the writes that need a present key see it (they change nothing). */
static void check_not_present(shmkv *db, const char *k)
{
    size_t kl = strlen(k);
    shmkv_put_opts eq = { .flags = SHMKV_IF_EQUAL, .expected = "", .elen = 0 };
    CHECK_RC(shmkv_expire(db, k, kl, 100), -ENOENT);
    CHECK_RC(shmkv_replace(db, k, kl, "r", 1), -ENOENT);
    CHECK_RC(shmkv_put_ex(db, k, kl, "e", 1, &eq), -ENOENT);
}

static void test_grant_fill(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "lease-fill");
    uint64_t l1 = GRANT(db, "k", 0);
    NO_GRANT(db, "k");
    check_invisible(db, "k");
    check_not_present(db, "k");
    shmkv *ro = open_ro(name);
    check_invisible(ro, "k");
    NO_GRANT(ro, "k");
    CHECK_RC(shmkv_put_leased(db, "k", 1, "wrong", 5, 0, l1 + 1), -ECANCELED);
    CHECK_RC(shmkv_put_leased(db, "other", 5, "wrong", 5, 0, l1), -ECANCELED);
    CHECK_ABSENT(db, "other", 5);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "filled", 6, 0, l1), 0);
    CHECK_VAL(db, "k", 1, "filled", 6);
    CHECK_TTL(db, "k", 1, 0, 0);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "again", 5, 0, l1), -ECANCELED); /* filled once */
    CHECK_VAL(db, "k", 1, "filled", 6);
    /* a hit: the value, no lease; a small buffer: -ENOBUFS and the length */
    char buf[16];
    size_t vl = 0;
    uint64_t lease = 5;
    CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, &vl, 0, &lease), 0);
    CHECK(lease == 0 && vl == 6 && memcmp(buf, "filled", 6) == 0);
    lease = 5;
    CHECK_RC(shmkv_get_lease(db, "k", 1, buf, 3, &vl, 0, &lease), -ENOBUFS);
    CHECK(lease == 0 && vl == 6);
    lease = 5;
    CHECK_RC(shmkv_get_lease(ro, "k", 1, buf, sizeof buf, &vl, 0, &lease), 0);
    CHECK_EQ_U64(lease, 0);
    /* a fill with a lifetime; tokens are never handed out twice */
    uint64_t l2 = GRANT(db, "t", 0);
    CHECK(l2 > l1);
    CHECK_RC(shmkv_put_leased(db, "t", 1, "ttl", 3, 2000, l2), 0);
    CHECK_TTL(db, "t", 1, 2000, 250);
    /* an empty value fills too */
    uint64_t l3 = GRANT(db, "e", 0);
    CHECK_RC(shmkv_put_leased(db, "e", 1, NULL, 0, 0, l3), 0);
    CHECK_VAL(db, "e", 1, "", 0);
    CHECK_LEASES(db, 3, 3, 0);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, 3);
    CHECK_EQ_U64(st.puts, 3);
    shmkv_close(ro);
    FINISH_TABLE(db, name, "after filled leases");
}

static void test_args(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "lease-args");
    char buf[16];
    size_t vl;
    uint64_t lease = 0;
    static const char big_key[SHMKV_KEY_MAX + 1];
    CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, &vl, 0, NULL), -EINVAL);
    CHECK_RC(shmkv_get_lease(NULL, "k", 1, buf, sizeof buf, &vl, 0, &lease), -EINVAL);
    CHECK_RC(shmkv_get_lease(db, NULL, 1, buf, sizeof buf, &vl, 0, &lease), -EINVAL);
    CHECK_RC(shmkv_get_lease(db, "k", 0, buf, sizeof buf, &vl, 0, &lease), -EINVAL);
    CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, NULL, 0, &lease), -EINVAL);
    CHECK_RC(shmkv_get_lease(db, big_key, sizeof big_key, buf, sizeof buf, &vl, 0, &lease), -E2BIG);
    CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, &vl, SHMKV_TTL_MAX + 1, &lease), -EINVAL);
    CHECK_EQ_U64(lease, 0);
    CHECK_LEASES(db, 0, 0, 0);
    CHECK_RC(shmkv_put(db, "hit", 3, "v", 1), 0);
    CHECK_RC(shmkv_get_lease(db, "hit", 3, buf, sizeof buf, &vl, SHMKV_TTL_MAX + 1, &lease), -EINVAL);
    lease = GRANT(db, "k", SHMKV_TTL_MAX);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "v", 1, 0, 0), -EINVAL);
    CHECK_RC(shmkv_put_leased(NULL, "k", 1, "v", 1, 0, lease), -EINVAL);
    CHECK_RC(shmkv_put_leased(db, NULL, 1, "v", 1, 0, lease), -EINVAL);
    CHECK_RC(shmkv_put_leased(db, "k", 0, "v", 1, 0, lease), -EINVAL);
    CHECK_RC(shmkv_put_leased(db, "k", 1, NULL, 1, 0, lease), -EINVAL);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "v", 1, SHMKV_TTL_MAX + 1, lease), -EINVAL);
    CHECK_RC(shmkv_put_leased(db, big_key, sizeof big_key, "v", 1, 0, lease), -E2BIG);
    /* a read-only handle: no grant, no fill; the lease survives it all */
    shmkv *ro = open_ro(name);
    uint64_t l2 = 9;
    CHECK_RC(shmkv_get_lease(ro, "x", 1, buf, sizeof buf, &vl, 0, &l2), -ENOENT);
    CHECK_EQ_U64(l2, 0);
    CHECK_RC(shmkv_get_lease(ro, "x", 1, buf, sizeof buf, &vl, SHMKV_TTL_MAX + 1, &l2), -EINVAL);
    CHECK_RC(shmkv_put_leased(ro, "k", 1, "v", 1, 0, lease), -EROFS);
    shmkv_close(ro);
    CHECK_LEASES(db, 1, 0, 0);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "v", 1, 0, lease), 0);
    CHECK_LEASES(db, 1, 1, 0);
    FINISH_TABLE(db, name, NULL);
}

/* A write of each kind after the grant: the lease is void, put_leased
 * stores nothing and returns -ECANCELED. */
enum voider { V_PUT, V_PUT_TTL, V_ADD, V_IF_ABSENT, V_DEL, V_TAKE, V_INCR, V_APPEND, V_UPD_SET,
              V_UPD_DEL, V_PUT_MANY, V_CLEAR, V_NVOIDERS };
static const char *const voider_name[] = { "put", "put_ttl", "add", "put_ex IF_ABSENT", "del",
                                           "take", "incr", "append", "update SET",
                                           "update DELETE", "put_many", "clear" };

static int upd_set(void *ctx, const void *k, size_t kl, const void *v, size_t vl, shmkv_update_out *o)
{
    (void)k, (void)kl, (void)v, (void)vl;
    o->val = "upd";
    o->vlen = 3;
    return *(int *)ctx;
}

/* Does the write; returns what the key must hold after it (NULL: absent). */
static const char *void_by(shmkv *db, enum voider v)
{
    void *p = NULL;
    size_t vl;
    int d;
    shmkv_put_opts o = { .flags = SHMKV_IF_ABSENT };
    shmkv_pair pair = { .key = "k", .klen = 1, .val = "many", .vlen = 4 };
    switch (v) {
    case V_PUT: CHECK_RC(shmkv_put(db, "k", 1, "put", 3), 0); return "put";
    case V_PUT_TTL: CHECK_RC(shmkv_put_ttl(db, "k", 1, "ttl", 3, 9000), 0); return "ttl";
    case V_ADD: CHECK_RC(shmkv_add(db, "k", 1, "add", 3), 0); return "add";
    case V_IF_ABSENT: CHECK_RC(shmkv_put_ex(db, "k", 1, "ifa", 3, &o), 0); return "ifa";
    case V_DEL: CHECK_RC(shmkv_del(db, "k", 1), -ENOENT); return NULL;
    case V_TAKE: CHECK_RC(shmkv_take(db, "k", 1, &p, &vl), -ENOENT); return NULL;
    case V_INCR: CHECK_RC(shmkv_incr(db, "k", 1, 42, 0, NULL), 0); return "42";
    case V_APPEND: CHECK_RC(shmkv_append(db, "k", 1, "app", 3), 0); return "app";
    case V_UPD_SET: d = SHMKV_UPDATE_SET; CHECK_RC(shmkv_update(db, "k", 1, upd_set, &d), 0); return "upd";
    case V_UPD_DEL: d = SHMKV_UPDATE_DELETE; CHECK_RC(shmkv_update(db, "k", 1, upd_set, &d), 0); return NULL;
    case V_PUT_MANY: CHECK_EQ_INT(shmkv_put_many(db, &pair, 1), 1); return "many";
    case V_CLEAR: CHECK_RC(shmkv_clear(db), 0); return NULL;
    default: return NULL;
    }
}

static void test_voided(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "lease-void");
    uint64_t puts = 0, dels = 0;
    for (int v = 0; v < V_NVOIDERS; v++) {
        uint64_t lease = GRANT(db, "k", 0);
        const char *want = void_by(db, (enum voider)v);
        int rc = shmkv_put_leased(db, "k", 1, "stale", 5, 0, lease);
        CHECKF(rc == -ECANCELED, "put_leased after %s: %s", voider_name[v], h_errname(rc));
        if (want)
            CHECK_VAL(db, "k", 1, want, strlen(want));
        else
            CHECK_ABSENT(db, "k", 1);
        CHECK_LEASES(db, (uint64_t)v + 1, 0, (uint64_t)v + 1);
        puts += want != NULL;
        if (want) {
            CHECK_RC(shmkv_del(db, "k", 1), 0);
            dels++;
        }
    }
    /* conditions that fail leave the lease alone */
    uint64_t lease = GRANT(db, "k", 0);
    check_not_present(db, "k");
    int d = SHMKV_UPDATE_KEEP;
    CHECK_RC(shmkv_update(db, "k", 1, upd_set, &d), 0);
    d = -EIO;
    CHECK_RC(shmkv_update(db, "k", 1, upd_set, &d), -EIO);
    CHECK_RC(shmkv_put(db, "other", 5, "o", 1), 0);
    CHECK_RC(shmkv_del(db, "other", 5), 0);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "filled", 6, 0, lease), 0);
    CHECK_VAL(db, "k", 1, "filled", 6);
    CHECK_LEASES(db, V_NVOIDERS + 1, 1, V_NVOIDERS);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.puts, puts + 2);
    CHECK_EQ_U64(st.dels, dels + 1);
    CHECK_EQ_U64(st.keys, 1);
    FINISH_TABLE(db, name, "after voided leases");
}

/* A lease lapses after its lifetime (given, or 10 s by default): then a
 * new one is granted and the old token is refused. */
static void test_lapse(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "lease-lapse");
    uint64_t l1 = GRANT(db, "k", 1000);
    shmkv__clock_advance(700); /* (real time passes too) */
    NO_GRANT(db, "k");
    shmkv__clock_advance(300);
    uint64_t l2 = GRANT(db, "k", 100); /* the lapsed lease is reaped: voided */
    CHECK(l2 > l1);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "old", 3, 0, l1), -ECANCELED);
    CHECK_LEASES(db, 2, 0, 1);
    shmkv__clock_advance(100);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "late", 4, 0, l2), -ECANCELED);
    CHECK_ABSENT(db, "k", 1);
    CHECK_LEASES(db, 2, 0, 2);
    /* the default lifetime: 10 s */
    uint64_t l3 = GRANT(db, "d", 0);
    shmkv__clock_advance(9500);
    NO_GRANT(db, "d");
    CHECK_RC(shmkv_put_leased(db, "d", 1, "in time", 7, 0, l3), 0);
    CHECK_VAL(db, "d", 1, "in time", 7);
    uint64_t l4 = GRANT(db, "d2", 0);
    shmkv__clock_advance(10000);
    CHECK_RC(shmkv_put_leased(db, "d2", 2, "late", 4, 0, l4), -ECANCELED);
    CHECK_ABSENT(db, "d2", 2);
    /* lapsed leases nobody met again are counted voided once, by clear */
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "many-%d", i);
        GRANT(db, k, 50);
    }
    CHECK_LEASES(db, 104, 1, 3);
    shmkv__clock_advance(50);
    CHECK_RC(shmkv_clear(db), 0);
    CHECK_LEASES(db, 104, 1, 103);
    CHECK_EQ_U64(shmkv_count(db), 0);
    FINISH_TABLE(db, name, "after lapsed leases");
}

/* clear voids every pending lease; new ones are granted after it. */
static void test_clear(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "lease-clear");
    uint64_t lease[50];
    char k[16];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "k%d", i);
        lease[i] = GRANT(db, k, 0);
        CHECK_RC(shmkv_put(db, k + 1, strlen(k + 1), "pair", 4), 0);
    }
    CHECK_EQ_U64(shmkv_count(db), 50);
    CHECK_RC(shmkv_clear(db), 0);
    CHECK_LEASES(db, 50, 0, 50);
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "k%d", i);
        CHECK_RC(shmkv_put_leased(db, k, strlen(k), "stale", 5, 0, lease[i]), -ECANCELED);
        uint64_t l = GRANT(db, k, 0);
        CHECK(l > lease[49]);
        CHECK_RC(shmkv_put_leased(db, k, strlen(k), "fresh", 5, 0, l), 0);
    }
    CHECK_LEASES(db, 100, 50, 50);
    CHECK_EQ_U64(shmkv_count(db), 50);
    FINISH_TABLE(db, name, "after clear");
}

/* In a cache: leases are granted and filled; flooding the cache evicts a
 * pending lease (it is never read), and that voids it. */
static void test_cache(void)
{
    char name[64];
    uint64_t max = 4u << 20;
    shmkv *db = open_with(name, sizeof name, "lease-cache", SHMKV_CACHE, max);
    uint64_t l1 = GRANT(db, "filled", 0);
    CHECK_RC(shmkv_put_leased(db, "filled", 6, "v", 1, 0, l1), 0);
    CHECK_VAL(db, "filled", 6, "v", 1);
    uint64_t l2 = GRANT(db, "evicted", 0);
    char v[1000], k[32];
    memset(v, 'x', sizeof v);
    for (uint64_t i = 0; i < 4 * max / sizeof v; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "flood-%llu", (unsigned long long)i);
        CHECK_RC(shmkv_put(db, k, kl, v, sizeof v), 0);
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK(st.evictions > 0);
    CHECK_RC(shmkv_put_leased(db, "evicted", 7, "late", 4, 0, l2), -ECANCELED);
    CHECK_ABSENT(db, "evicted", 7);
    CHECK_LEASES(db, 2, 1, 1);
    uint64_t l3 = GRANT(db, "evicted", 0);
    CHECK_RC(shmkv_put_leased(db, "evicted", 7, "fresh", 5, 0, l3), 0);
    CHECK_VAL(db, "evicted", 7, "fresh", 5);
    CHECK_LEASES(db, 3, 2, 1);
    FINISH_TABLE(db, name, "after leases in a cache");
}

static const struct h_part parts[] = {
    { "grant_fill", test_grant_fill },
    { "args", test_args },
    { "voided", test_voided },
    { "lapse", test_lapse },
    { "clear", test_clear },
    { "cache", test_cache },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_lease", parts, H_NPARTS(parts));
}
