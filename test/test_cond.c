/*
 * test_cond.c - shmkv_put_ex: conditional writes and SHMKV_KEEP_TTL.
 *
 * Every flag and every combination the header refuses, each condition
 * against absent, present, expired and leased keys (a failed condition
 * changes nothing, not even the key's lifetime), compare-and-swap on
 * empty, binary and chained values (a value spread over several runs of
 * a fragmented table), lifetimes kept or not, read-only handles, and the
 * puts counter moving only when something was written.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int put_if(shmkv *db, const char *k, const char *v, unsigned flags, const char *expected)
{
    shmkv_put_opts o = { .flags = flags, .expected = expected, .elen = expected ? strlen(expected) : 0 };
    return shmkv_put_ex(db, k, strlen(k), v, strlen(v), &o);
}

/* Bad arguments and refused flag combinations: -EINVAL, nothing written. */
static void test_args(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "cond-args");
    CHECK_RC(shmkv_put(db, "k", 1, "old", 3), 0);
    uint64_t puts = stats_of(db).puts;
    static const char big_key[SHMKV_KEY_MAX + 1];
    shmkv_put_opts none = { 0 };
    CHECK_RC(shmkv_put_ex(NULL, "k", 1, "v", 1, &none), -EINVAL);
    CHECK_RC(shmkv_put_ex(db, NULL, 1, "v", 1, &none), -EINVAL);
    CHECK_RC(shmkv_put_ex(db, "k", 0, "v", 1, &none), -EINVAL);
    CHECK_RC(shmkv_put_ex(db, big_key, sizeof big_key, "v", 1, &none), -E2BIG);
    CHECK_RC(shmkv_put_ex(db, "k", 1, NULL, 1, &none), -EINVAL);
    static const shmkv_put_opts bad[] = {
        { .flags = 1u << 4 },
        { .flags = 1u << 31 },
        { .flags = SHMKV_IF_ABSENT | SHMKV_IF_PRESENT },
        { .flags = SHMKV_IF_ABSENT | SHMKV_IF_EQUAL, .expected = "old", .elen = 3 },
        { .flags = SHMKV_IF_ABSENT | SHMKV_IF_PRESENT | SHMKV_IF_EQUAL, .expected = "old", .elen = 3 },
        { .flags = SHMKV_KEEP_TTL, .ttl_ms = 1 },
        { .flags = SHMKV_KEEP_TTL | SHMKV_IF_PRESENT, .ttl_ms = 1000 },
        { .flags = SHMKV_IF_EQUAL, .expected = NULL, .elen = 3 },
        { .ttl_ms = SHMKV_TTL_MAX + 1 },
        { .flags = SHMKV_IF_PRESENT, .ttl_ms = UINT64_MAX },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = shmkv_put_ex(db, "k", 1, "new", 3, &bad[i]);
        CHECKF(rc == -EINVAL, "options %zu (flags %#x ttl %llu): %s", i, bad[i].flags,
               (unsigned long long)bad[i].ttl_ms, h_errname(rc));
    }
    CHECK_VAL(db, "k", 1, "old", 3);
    CHECK_EQ_U64(stats_of(db).puts, puts);
    /* the limits themselves are accepted */
    shmkv_put_opts max = { .ttl_ms = SHMKV_TTL_MAX };
    CHECK_RC(shmkv_put_ex(db, "k", 1, "max", 3, &max), 0);
    CHECK_TTL(db, "k", 1, SHMKV_TTL_MAX, 1000);
    /* opts NULL is a plain put: no lifetime */
    CHECK_RC(shmkv_put_ex(db, "k", 1, "plain", 5, NULL), 0);
    CHECK_VAL(db, "k", 1, "plain", 5);
    CHECK_TTL(db, "k", 1, 0, 0);
    /* NULL expected with elen 0 is the empty value; NULL value with vlen 0 */
    CHECK_RC(shmkv_put_ex(db, "e", 1, NULL, 0, NULL), 0);
    shmkv_put_opts empty = { .flags = SHMKV_IF_EQUAL };
    CHECK_RC(shmkv_put_ex(db, "e", 1, "was empty", 9, &empty), 0);
    CHECK_VAL(db, "e", 1, "was empty", 9);
    CHECK_EQ_U64(stats_of(db).puts, puts + 4);

    /* a read-only handle refuses every kind */
    shmkv *ro = open_ro(name);
    static const unsigned kinds[] = { 0, SHMKV_IF_ABSENT, SHMKV_IF_PRESENT, SHMKV_IF_EQUAL,
                                      SHMKV_KEEP_TTL };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        CHECK_RC(put_if(ro, "k", "ro", kinds[i], "plain"), -EROFS);
    CHECK_VAL(db, "k", 1, "plain", 5);
    CHECK_EQ_U64(stats_of(db).puts, puts + 4);
    shmkv_close(ro);
    FINISH_TABLE(db, name, "after refused writes");
}

/* IF_ABSENT and IF_PRESENT against absent, present and expired keys. */
static void test_absent_present(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "cond-ap");
    CHECK_RC(put_if(db, "a", "1", SHMKV_IF_PRESENT, NULL), -ENOENT);
    CHECK_ABSENT(db, "a", 1);
    CHECK_RC(put_if(db, "a", "1", SHMKV_IF_ABSENT, NULL), 0);
    CHECK_VAL(db, "a", 1, "1", 1);
    CHECK_RC(put_if(db, "a", "2", SHMKV_IF_ABSENT, NULL), -EEXIST);
    CHECK_VAL(db, "a", 1, "1", 1);
    CHECK_RC(put_if(db, "a", "3", SHMKV_IF_PRESENT, NULL), 0);
    CHECK_VAL(db, "a", 1, "3", 1);
    /* IF_PRESENT with IF_EQUAL: both must hold */
    CHECK_RC(put_if(db, "a", "4", SHMKV_IF_PRESENT | SHMKV_IF_EQUAL, "3"), 0);
    CHECK_RC(put_if(db, "a", "5", SHMKV_IF_PRESENT | SHMKV_IF_EQUAL, "3"), -ECANCELED);
    CHECK_VAL(db, "a", 1, "4", 1);
    CHECK_RC(put_if(db, "b", "5", SHMKV_IF_PRESENT | SHMKV_IF_EQUAL, "3"), -ENOENT);

    /* an expired key is absent; a failed condition keeps the lifetime */
    shmkv_put_opts o = { .flags = SHMKV_IF_ABSENT, .ttl_ms = 1000 };
    CHECK_RC(shmkv_put_ex(db, "t", 1, "short", 5, &o), 0);
    CHECK_TTL(db, "t", 1, 1000, 250);
    CHECK_RC(shmkv_put_ex(db, "t", 1, "again", 5, &o), -EEXIST);
    CHECK_TTL(db, "t", 1, 1000, 250);
    shmkv__clock_advance(1000);
    CHECK_ABSENT(db, "t", 1);
    CHECK_RC(put_if(db, "t", "x", SHMKV_IF_PRESENT, NULL), -ENOENT);
    CHECK_RC(put_if(db, "t", "x", SHMKV_IF_EQUAL, "short"), -ENOENT);
    CHECK_ABSENT(db, "t", 1);
    CHECK_RC(put_if(db, "t", "fresh", SHMKV_IF_ABSENT, NULL), 0);
    CHECK_VAL(db, "t", 1, "fresh", 5);
    CHECK_TTL(db, "t", 1, 0, 0);
    CHECK_EQ_U64(shmkv_count(db), 2);
    FINISH_TABLE(db, name, "after IF_ABSENT / IF_PRESENT");
}

/* IF_EQUAL: every way a value can differ, binary values, empty ones. */
static void test_if_equal(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "cond-eq");
    shmkv_put_opts o = { .flags = SHMKV_IF_EQUAL };
    CHECK_RC(put_if(db, "k", "new", SHMKV_IF_EQUAL, "x"), -ENOENT);
    CHECK_ABSENT(db, "k", 1);
    CHECK_RC(shmkv_put(db, "k", 1, "abc", 3), 0);
    static const struct { const char *v; size_t n; } differ[] = {
        { "abd", 3 }, { "ab", 2 }, { "abcd", 4 }, { "", 0 }, { "ABC", 3 }, { "abc\0", 4 },
    };
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
        o.expected = differ[i].v;
        o.elen = differ[i].n;
        int rc = shmkv_put_ex(db, "k", 1, "no", 2, &o);
        CHECKF(rc == -ECANCELED, "expected value %zu: %s", i, h_errname(rc));
    }
    CHECK_VAL(db, "k", 1, "abc", 3);
    o.expected = "abc";
    o.elen = 3;
    CHECK_RC(shmkv_put_ex(db, "k", 1, "", 0, &o), 0);
    CHECK_VAL(db, "k", 1, "", 0);
    /* now empty: only an empty expected value matches */
    CHECK_RC(shmkv_put_ex(db, "k", 1, "x", 1, &o), -ECANCELED);
    o.expected = NULL;
    o.elen = 0;
    CHECK_RC(shmkv_put_ex(db, "k", 1, "bin\0ary", 7, &o), 0);
    CHECK_RC(shmkv_put_ex(db, "k", 1, "x", 1, &o), -ECANCELED);
    o.expected = "bin\0arz";
    o.elen = 7;
    CHECK_RC(shmkv_put_ex(db, "k", 1, "x", 1, &o), -ECANCELED);
    o.expected = "bin\0ary";
    CHECK_RC(shmkv_put_ex(db, "k", 1, "x", 1, &o), 0);
    CHECK_VAL(db, "k", 1, "x", 1);
    /* a compare-and-swap loop: each round exactly the expected old value */
    char cur[16] = "x", next[16];
    for (int i = 0; i < 100; i++) {
        snprintf(next, sizeof next, "v%d", i);
        CHECK_RC(put_if(db, "k", next, SHMKV_IF_EQUAL, cur), 0);
        CHECK_RC(put_if(db, "k", "stale", SHMKV_IF_EQUAL, cur), -ECANCELED);
        memcpy(cur, next, sizeof cur);
    }
    CHECK_VAL(db, "k", 1, "v99", 3);
    FINISH_TABLE(db, name, "after compare-and-swap");
}

/* IF_EQUAL against values chained over several runs (and chained new
 * values): a difference anywhere in them is seen. */
static void test_if_equal_chained(void)
{
    char name[64];
    int nmid;
    shmkv *db = open_fragmented(name, sizeof name, "cond-chain", &nmid);
    size_t n = 4 * FRAG_HOLE + 123;
    unsigned char *v = malloc(n), *w = malloc(n), *x = malloc(n);
    h_val_make(v, n, "big", 3, 1);
    h_val_make(w, n, "big", 3, 2);
    CHECK_RC(shmkv_put(db, "big", 3, v, n), 0);
    shmkv_put_opts o = { .flags = SHMKV_IF_EQUAL, .expected = x, .elen = n };
    size_t where[] = { 0, FRAG_HOLE - 1, FRAG_HOLE, 2 * FRAG_HOLE + 7, n - 1 };
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        memcpy(x, v, n);
        x[where[i]] ^= 0x40;
        int rc = shmkv_put_ex(db, "big", 3, w, n, &o);
        CHECKF(rc == -ECANCELED, "a difference at byte %zu of %zu: %s", where[i], n, h_errname(rc));
    }
    o.elen = n - 1; /* a prefix */
    CHECK_RC(shmkv_put_ex(db, "big", 3, w, n, &o), -ECANCELED);
    CHECK_VAL(db, "big", 3, v, n);
    memcpy(x, v, n);
    o.elen = n;
    CHECK_RC(shmkv_put_ex(db, "big", 3, w, n, &o), 0);
    CHECK_VAL(db, "big", 3, w, n);
    o.expected = w; /* chained to small */
    CHECK_RC(shmkv_put_ex(db, "big", 3, "small", 5, &o), 0);
    CHECK_VAL(db, "big", 3, "small", 5);
    for (int i = 1; i < nmid; i += 2) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "mid-%d", i), vl;
        CHECK_RC(shmkv_get(db, k, kl, x, n, &vl), 0);
        CHECK(vl == FRAG_HOLE && h_val_check(x, vl, k, kl, NULL));
    }
    free(v);
    free(w);
    free(x);
    FINISH_TABLE(db, name, "after compare-and-swap of chained values");
}

/* KEEP_TTL keeps the expiry instant; without it a write sets its own. */
static void test_keep_ttl(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "cond-ttl");
    shmkv_put_opts keep = { .flags = SHMKV_KEEP_TTL };
    CHECK_RC(shmkv_put_ttl(db, "k", 1, "v1", 2, 1000), 0);
    shmkv__clock_advance(400);
    CHECK_RC(shmkv_put_ex(db, "k", 1, "v2", 2, &keep), 0);
    CHECK_VAL(db, "k", 1, "v2", 2);
    CHECK_TTL(db, "k", 1, 600, 250); /* the same instant, not 1000 ms again */
    keep.flags |= SHMKV_IF_EQUAL;
    keep.expected = "v2";
    keep.elen = 2;
    CHECK_RC(shmkv_put_ex(db, "k", 1, "v3", 2, &keep), 0);
    CHECK_TTL(db, "k", 1, 600, 250);
    shmkv__clock_advance(600);
    CHECK_ABSENT(db, "k", 1);

    /* on an expired or absent key KEEP_TTL writes afresh: no lifetime */
    keep = (shmkv_put_opts){ .flags = SHMKV_KEEP_TTL };
    CHECK_RC(shmkv_put_ex(db, "k", 1, "v4", 2, &keep), 0);
    CHECK_TTL(db, "k", 1, 0, 0);
    CHECK_RC(shmkv_put_ex(db, "n", 1, "v", 1, &keep), 0);
    CHECK_TTL(db, "n", 1, 0, 0);
    /* a key without a lifetime keeps having none */
    CHECK_RC(shmkv_put_ex(db, "n", 1, "w", 1, &keep), 0);
    CHECK_TTL(db, "n", 1, 0, 0);
    /* without KEEP_TTL: the write's own lifetime, or none */
    shmkv_put_opts own = { .flags = SHMKV_IF_PRESENT, .ttl_ms = 5000 };
    CHECK_RC(shmkv_put_ex(db, "n", 1, "x", 1, &own), 0);
    CHECK_TTL(db, "n", 1, 5000, 250);
    own.ttl_ms = 0;
    CHECK_RC(shmkv_put_ex(db, "n", 1, "y", 1, &own), 0);
    CHECK_TTL(db, "n", 1, 0, 0);
    shmkv__clock_advance(10000);
    CHECK_VAL(db, "n", 1, "y", 1);
    /* a failed condition with KEEP_TTL changes nothing */
    CHECK_RC(shmkv_put_ttl(db, "k", 1, "v5", 2, 300), 0);
    keep.flags = SHMKV_KEEP_TTL | SHMKV_IF_ABSENT;
    CHECK_RC(shmkv_put_ex(db, "k", 1, "v6", 2, &keep), -EEXIST);
    CHECK_VAL(db, "k", 1, "v5", 2);
    CHECK_TTL(db, "k", 1, 300, 250);
    FINISH_TABLE(db, name, "after KEEP_TTL");
}

/* A pending lease counts as absent: IF_ABSENT writes and voids it; the
 * other conditions fail and leave it granted. */
static void test_leased(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "cond-lease");
    char buf[16];
    size_t vl;
    uint64_t lease = 0;
    CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, &vl, 0, &lease), -ENOENT);
    CHECK(lease != 0);
    CHECK_RC(put_if(db, "k", "p", SHMKV_IF_PRESENT, NULL), -ENOENT);
    CHECK_RC(put_if(db, "k", "e", SHMKV_IF_EQUAL, ""), -ENOENT);
    CHECK_ABSENT(db, "k", 1);
    CHECK_RC(shmkv_put_leased(db, "k", 1, "filled", 6, 0, lease), 0); /* still valid */
    CHECK_VAL(db, "k", 1, "filled", 6);

    CHECK_RC(shmkv_get_lease(db, "j", 1, buf, sizeof buf, &vl, 0, &lease), -ENOENT);
    CHECK(lease != 0);
    CHECK_RC(put_if(db, "j", "mine", SHMKV_IF_ABSENT, NULL), 0);
    CHECK_RC(shmkv_put_leased(db, "j", 1, "stale", 5, 0, lease), -ECANCELED);
    CHECK_VAL(db, "j", 1, "mine", 4);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.leases_granted, 2);
    CHECK_EQ_U64(st.leases_filled, 1);
    CHECK_EQ_U64(st.leases_voided, 1);
    CHECK_EQ_U64(st.keys, 2);
    FINISH_TABLE(db, name, "after conditions on leased keys");
}

static const struct h_part parts[] = {
    { "args", test_args },
    { "absent_present", test_absent_present },
    { "if_equal", test_if_equal },
    { "if_equal_chained", test_if_equal_chained },
    { "keep_ttl", test_keep_ttl },
    { "leased", test_leased },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_cond", parts, H_NPARTS(parts));
}
