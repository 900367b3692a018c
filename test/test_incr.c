/*
 * test_incr.c - the read-modify-writes of one key: shmkv_incr,
 * shmkv_append and shmkv_take.
 *
 * incr: every malformed text (-EDOM, the value untouched), both ends of
 * int64 and -ERANGE past them, absent and expired keys counting as 0 with
 * the call's lifetime, existing keys keeping theirs.  append: creation,
 * lifetimes, -E2BIG exactly at the limit of a small store and at a
 * cache's max_bytes/8 (nothing changed), chained values.  take: exactly
 * the value, then gone; empty values; chained values; leases voided.
 * And bad arguments and read-only handles for all three.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char big_key[SHMKV_KEY_MAX + 1];

/* ---- incr ---- */

/* key holds the decimal text of want. */
static void check_num_at(int line, shmkv *db, const char *k, int64_t want)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%" PRId64, want);
    check_val_at(__FILE__, line, db, k, strlen(k), text, (size_t)n);
}
#define CHECK_NUM(db, k, want) check_num_at(__LINE__, db, k, want)

static void test_incr_basic(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "incr-basic");
    int64_t res = 99;
    CHECK_RC(shmkv_incr(db, "c", 1, 5, 0, &res), 0);
    CHECK_EQ_INT(res, 5);
    CHECK_NUM(db, "c", 5);
    CHECK_TTL(db, "c", 1, 0, 0);
    CHECK_RC(shmkv_incr(db, "c", 1, -7, 0, &res), 0);
    CHECK_EQ_INT(res, -2);
    CHECK_RC(shmkv_incr(db, "c", 1, 0, 0, NULL), 0); /* result may be NULL */
    CHECK_NUM(db, "c", -2);
    CHECK_RC(shmkv_incr(db, "z", 1, 0, 0, &res), 0); /* absent counts as 0 */
    CHECK_EQ_INT(res, 0);
    CHECK_NUM(db, "z", 0);
    for (int i = 0; i < 1000; i++)
        CHECK_RC(shmkv_incr(db, "c", 1, 3, 0, NULL), 0);
    CHECK_NUM(db, "c", 2998);
    /* text put by anyone else counts */
    CHECK_RC(shmkv_put(db, "t", 1, "-0", 2), 0);
    CHECK_RC(shmkv_incr(db, "t", 1, 1, 0, &res), 0);
    CHECK_EQ_INT(res, 1);
    CHECK_RC(shmkv_put(db, "t", 1, "007", 3), 0);
    CHECK_RC(shmkv_incr(db, "t", 1, 1, 0, &res), 0);
    CHECK_EQ_INT(res, 8);
    CHECK_NUM(db, "t", 8);

    /* lifetimes: an absent key gets the call's, an existing one keeps its own */
    CHECK_RC(shmkv_incr(db, "l", 1, 1, 1000, &res), 0);
    CHECK_TTL(db, "l", 1, 1000, 250);
    shmkv__clock_advance(400);
    CHECK_RC(shmkv_incr(db, "l", 1, 1, 5000, &res), 0);
    CHECK_EQ_INT(res, 2);
    CHECK_TTL(db, "l", 1, 600, 250);
    CHECK_RC(shmkv_incr(db, "c", 1, 1, 5000, NULL), 0);
    CHECK_TTL(db, "c", 1, 0, 0);
    shmkv__clock_advance(600);
    CHECK_ABSENT(db, "l", 1);
    CHECK_RC(shmkv_incr(db, "l", 1, 10, 2000, &res), 0); /* expired counts as 0 */
    CHECK_EQ_INT(res, 10);
    CHECK_TTL(db, "l", 1, 2000, 250);
    CHECK_RC(shmkv_incr(db, "m", 1, 1, SHMKV_TTL_MAX, NULL), 0);
    CHECK_TTL(db, "m", 1, SHMKV_TTL_MAX, 1000);

    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, 5);
    CHECK_EQ_U64(st.puts, 4 + 1000 + 4 + 5); /* every increment and put above */
    FINISH_TABLE(db, name, "after increments");
}

static void test_incr_edom(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "incr-edom");
    static const struct { const char *v; size_t n; } bad[] = {
        { "", 0 }, { "-", 1 }, { "+1", 2 }, { " 1", 2 }, { "1 ", 2 }, { "12a", 3 },
        { "a12", 3 }, { "1\0", 2 }, { "\0001", 2 }, { "--1", 3 }, { "1-", 2 }, { "0x10", 4 },
        { "1.5", 3 }, { "1e3", 3 }, { "-+1", 3 }, { "\n1", 2 }, { "1\n", 2 },
        { "12345678901234567890", 20 }, { "00000000000000000001", 20 },
        { "-00000000000000000001", 21 }, { "9223372036854775808", 19 },
        { "-9223372036854775809", 20 }, { "9999999999999999999", 19 },
        { "18446744073709551616", 20 }, { "\xd9\xa1", 2 }, /* U+0661, an Arabic-Indic one */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(shmkv_put_ttl(db, "k", 1, bad[i].v, bad[i].n, 60000), 0);
        int64_t res = 4242;
        int rc = shmkv_incr(db, "k", 1, 1, 0, &res);
        CHECKF(rc == -EDOM, "incr of \"%.*s\" (%zu bytes): %s", (int)bad[i].n, bad[i].v,
               bad[i].n, h_errname(rc));
        CHECK_EQ_INT(res, 4242);
        CHECK_VAL(db, "k", 1, bad[i].v, bad[i].n);
        CHECK_TTL(db, "k", 1, 60000, 1000);
    }
    /* the longest texts that are numbers */
    static const struct { const char *v; int64_t n; } good[] = {
        { "9223372036854775807", INT64_MAX }, { "-9223372036854775808", INT64_MIN },
        { "0000000000000000001", 1 }, { "-000000000000000001", -1 }, { "1234567890123456789", 1234567890123456789 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK_RC(shmkv_put(db, "k", 1, good[i].v, strlen(good[i].v)), 0);
        int64_t res = 0;
        CHECK_RC(shmkv_incr(db, "k", 1, 0, 0, &res), 0);
        CHECKF(res == good[i].n, "\"%s\" read as %" PRId64, good[i].v, res);
        CHECK_NUM(db, "k", good[i].n); /* rewritten in its shortest form */
    }
    FINISH_TABLE(db, name, "after -EDOM");
}

static void test_incr_range(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "incr-range");
    int64_t res = 0;
    CHECK_RC(shmkv_incr(db, "k", 1, INT64_MAX, 0, &res), 0);
    CHECK_EQ_INT(res, INT64_MAX);
    res = 77;
    CHECK_RC(shmkv_incr(db, "k", 1, 1, 0, &res), -ERANGE);
    CHECK_EQ_INT(res, 77);
    CHECK_RC(shmkv_incr(db, "k", 1, INT64_MAX, 0, &res), -ERANGE);
    CHECK_NUM(db, "k", INT64_MAX);
    CHECK_RC(shmkv_incr(db, "k", 1, INT64_MIN, 0, &res), 0);
    CHECK_EQ_INT(res, -1);
    CHECK_RC(shmkv_incr(db, "k", 1, INT64_MIN, 0, &res), -ERANGE); /* -1 + INT64_MIN */
    CHECK_RC(shmkv_incr(db, "k", 1, INT64_MIN + 1, 0, &res), 0);
    CHECK_EQ_INT(res, INT64_MIN);
    CHECK_NUM(db, "k", INT64_MIN);
    CHECK_RC(shmkv_incr(db, "k", 1, -1, 0, &res), -ERANGE);
    CHECK_RC(shmkv_incr(db, "k", 1, INT64_MIN, 0, &res), -ERANGE);
    CHECK_NUM(db, "k", INT64_MIN);
    CHECK_RC(shmkv_incr(db, "k", 1, 0, 0, &res), 0);
    CHECK_RC(shmkv_incr(db, "k", 1, INT64_MAX, 0, &res), 0);
    CHECK_EQ_INT(res, -1);
    /* an absent key: 0 + INT64_MIN fits, and a failure creates nothing */
    CHECK_RC(shmkv_incr(db, "n", 1, INT64_MIN, 0, &res), 0);
    CHECK_EQ_INT(res, INT64_MIN);
    CHECK_RC(shmkv_put(db, "p", 1, "1", 1), 0);
    CHECK_RC(shmkv_incr(db, "p", 1, INT64_MAX, 0, &res), -ERANGE);
    CHECK_NUM(db, "p", 1);
    CHECK_RC(shmkv_put(db, "p", 1, "-2", 2), 0);
    CHECK_RC(shmkv_incr(db, "p", 1, INT64_MIN + 1, 0, &res), -ERANGE);
    CHECK_RC(shmkv_incr(db, "p", 1, INT64_MIN + 2, 0, &res), 0);
    CHECK_EQ_INT(res, INT64_MIN);
    CHECK_EQ_U64(shmkv_count(db), 3);
    FINISH_TABLE(db, name, "after -ERANGE");
}

static void test_incr_args(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "incr-args");
    int64_t res = 5;
    CHECK_RC(shmkv_incr(NULL, "k", 1, 1, 0, &res), -EINVAL);
    CHECK_RC(shmkv_incr(db, NULL, 1, 1, 0, &res), -EINVAL);
    CHECK_RC(shmkv_incr(db, "k", 0, 1, 0, &res), -EINVAL);
    CHECK_RC(shmkv_incr(db, big_key, sizeof big_key, 1, 0, &res), -E2BIG);
    CHECK_RC(shmkv_incr(db, "k", 1, 1, SHMKV_TTL_MAX + 1, &res), -EINVAL);
    CHECK_RC(shmkv_incr(db, "k", 1, 1, UINT64_MAX, &res), -EINVAL);
    CHECK_EQ_INT(res, 5);
    CHECK_ABSENT(db, "k", 1);
    CHECK_RC(shmkv_put(db, "k", 1, "1", 1), 0);
    shmkv *ro = open_ro(name);
    CHECK_RC(shmkv_incr(ro, "k", 1, 1, 0, &res), -EROFS);
    CHECK_RC(shmkv_incr(ro, "new", 3, 1, 0, &res), -EROFS);
    CHECK_NUM(db, "k", 1);
    CHECK_EQ_U64(shmkv_count(db), 1);
    shmkv_close(ro);
    FINISH_TABLE(db, name, NULL);
}

/* ---- append ---- */

static void test_append_basic(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "append");
    CHECK_RC(shmkv_append(db, "k", 1, "ab", 2), 0); /* creates */
    CHECK_VAL(db, "k", 1, "ab", 2);
    CHECK_TTL(db, "k", 1, 0, 0);
    CHECK_RC(shmkv_append(db, "k", 1, "c\0d", 3), 0);
    CHECK_VAL(db, "k", 1, "abc\0d", 5);
    CHECK_RC(shmkv_append(db, "k", 1, NULL, 0), 0);
    CHECK_RC(shmkv_append(db, "k", 1, "", 0), 0);
    CHECK_VAL(db, "k", 1, "abc\0d", 5);
    CHECK_RC(shmkv_append(db, "e", 1, NULL, 0), 0); /* an empty pair */
    CHECK_VAL(db, "e", 1, "", 0);
    /* an existing pair keeps its lifetime; an expired one is absent */
    CHECK_RC(shmkv_put_ttl(db, "t", 1, "x", 1, 1000), 0);
    shmkv__clock_advance(300);
    CHECK_RC(shmkv_append(db, "t", 1, "y", 1), 0);
    CHECK_VAL(db, "t", 1, "xy", 2);
    CHECK_TTL(db, "t", 1, 700, 250);
    shmkv__clock_advance(700);
    CHECK_ABSENT(db, "t", 1);
    CHECK_RC(shmkv_append(db, "t", 1, "z", 1), 0);
    CHECK_VAL(db, "t", 1, "z", 1);
    CHECK_TTL(db, "t", 1, 0, 0);
    /* growing one value step by step past the sizes of small records */
    unsigned char *want = malloc(70000);
    for (size_t len = 0; len < 70000;) {
        size_t n = len < 1000 ? 7 : 3001;
        if (len + n > 70000)
            n = 70000 - len;
        for (size_t i = 0; i < n; i++)
            want[len + i] = (unsigned char)((len + i) * 131 + 7);
        CHECK_RC(shmkv_append(db, "g", 1, want + len, n), 0);
        len += n;
    }
    CHECK_VAL(db, "g", 1, want, 70000);
    free(want);

    CHECK_RC(shmkv_append(NULL, "k", 1, "x", 1), -EINVAL);
    CHECK_RC(shmkv_append(db, NULL, 1, "x", 1), -EINVAL);
    CHECK_RC(shmkv_append(db, "k", 0, "x", 1), -EINVAL);
    CHECK_RC(shmkv_append(db, "k", 1, NULL, 1), -EINVAL);
    CHECK_RC(shmkv_append(db, big_key, sizeof big_key, "x", 1), -E2BIG);
    shmkv *ro = open_ro(name);
    CHECK_RC(shmkv_append(ro, "k", 1, "x", 1), -EROFS);
    CHECK_VAL(db, "k", 1, "abc\0d", 5);
    shmkv_close(ro);
    FINISH_TABLE(db, name, "after appends");
}

/* The largest value put accepts for a 1-byte key (the boundary of
 * -E2BIG), found by bisection: puts below it may store or not. */
static size_t largest_value(shmkv *db, unsigned char *buf, size_t hi)
{
    size_t lo = 0;
    while (lo + 1 < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int rc = shmkv_put(db, "p", 1, buf, mid);
        CHECKF(rc == 0 || rc == -ENOSPC || rc == -E2BIG, "put of %zu: %s", mid, h_errname(rc));
        if (rc == -E2BIG)
            hi = mid;
        else
            lo = mid;
    }
    shmkv_del(db, "p", 1);
    return lo;
}

/* -E2BIG when the result would pass the table's limits, at exactly the
 * size put refuses; the value stays as it was. */
static void append_limit(unsigned flags, uint64_t max_bytes)
{
    char name[64];
    shmkv *db = open_with(name, sizeof name, "append-lim", flags, max_bytes);
    unsigned char *buf = calloc(1, max_bytes);
    size_t limit = largest_value(db, buf, max_bytes);
    if (flags & SHMKV_CACHE)
        CHECK_EQ_U64(limit + 1, max_bytes / 8); /* key and value: an eighth */
    else
        CHECKF(limit > max_bytes / 2 && limit < max_bytes, "largest value %zu", limit);
    size_t head = limit / 3;
    for (size_t i = 0; i < limit; i++)
        buf[i] = (unsigned char)(i * 7 + 1);
    CHECK_RC(shmkv_put(db, "k", 1, buf, head), 0);
    CHECK_RC(shmkv_append(db, "k", 1, buf + head, limit + 1 - head), -E2BIG);
    CHECK_RC(shmkv_append(db, "k", 1, buf + head, limit - head + 4096), -E2BIG);
    CHECK_VAL(db, "k", 1, buf, head);
    /* up to the limit itself is no -E2BIG (a store may lack the room) */
    int rc = shmkv_append(db, "k", 1, buf + head, limit - head);
    CHECKF(rc == 0 || (rc == -ENOSPC && !(flags & SHMKV_CACHE)), "append to the limit: %s",
           h_errname(rc));
    h_note("%s of %llu bytes: largest value %zu; an append up to it: %s",
           flags & SHMKV_CACHE ? "cache" : "store", (unsigned long long)max_bytes, limit, h_errname(rc));
    CHECK_VAL(db, "k", 1, buf, rc == 0 ? limit : head);
    if (rc == 0)
        CHECK_RC(shmkv_append(db, "k", 1, "x", 1), -E2BIG);
    free(buf);
    FINISH_TABLE(db, name, "after appends to the limit");
}

static void test_append_limit_store(void) { append_limit(0, SHMKV_MIN_BYTES); }
static void test_append_limit_cache(void) { append_limit(SHMKV_CACHE, 4u << 20); }

/* Appending to a value chained over several runs, and making one. */
static void test_append_chained(void)
{
    char name[64];
    int nmid;
    shmkv *db = open_fragmented(name, sizeof name, "append-chain", &nmid);
    size_t n = 5 * FRAG_HOLE + 999;
    unsigned char *v = malloc(n);
    h_val_make(v, n, "big", 3, 7);
    size_t steps[] = { 100, 2 * FRAG_HOLE, 17, 3 * FRAG_HOLE - 117, 999 };
    size_t len = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        CHECK_RC(shmkv_append(db, "big", 3, v + len, steps[i]), 0);
        len += steps[i];
        CHECK_VAL(db, "big", 3, v, len);
    }
    CHECK_EQ_U64(len, n);
    CHECK(h_val_check(v, n, "big", 3, NULL));
    free(v);
    FINISH_TABLE(db, name, "after appends to a chained value");
}

/* ---- take ---- */

static void test_take(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "take");
    void *p = (void *)&name;
    size_t vl = 77;
    CHECK_RC(shmkv_take(db, "k", 1, &p, &vl), -ENOENT);
    CHECK(p == NULL);
    CHECK_RC(shmkv_put(db, "k", 1, "val\0ue", 6), 0);
    CHECK_RC(shmkv_take(db, "k", 1, &p, &vl), 0);
    CHECK(p && vl == 6 && memcmp(p, "val\0ue", 6) == 0);
    free(p);
    CHECK_ABSENT(db, "k", 1);
    CHECK_RC(shmkv_take(db, "k", 1, &p, &vl), -ENOENT);
    /* an empty value still gives a pointer */
    CHECK_RC(shmkv_put(db, "e", 1, "", 0), 0);
    vl = 5;
    CHECK_RC(shmkv_take(db, "e", 1, &p, &vl), 0);
    CHECK(p != NULL && vl == 0);
    free(p);
    /* expired is absent */
    CHECK_RC(shmkv_put_ttl(db, "t", 1, "x", 1, 100), 0);
    shmkv__clock_advance(100);
    CHECK_RC(shmkv_take(db, "t", 1, &p, &vl), -ENOENT);
    /* a big value */
    unsigned char *big = malloc(300000);
    h_val_make(big, 300000, "b", 1, 3);
    CHECK_RC(shmkv_put(db, "b", 1, big, 300000), 0);
    CHECK_RC(shmkv_take(db, "b", 1, &p, &vl), 0);
    CHECK(vl == 300000 && h_val_check(p, vl, "b", 1, NULL));
    free(p);
    free(big);

    CHECK_RC(shmkv_put(db, "k", 1, "v", 1), 0);
    CHECK_RC(shmkv_take(NULL, "k", 1, &p, &vl), -EINVAL);
    CHECK_RC(shmkv_take(db, NULL, 1, &p, &vl), -EINVAL);
    CHECK_RC(shmkv_take(db, "k", 0, &p, &vl), -EINVAL);
    CHECK_RC(shmkv_take(db, "k", 1, NULL, &vl), -EINVAL);
    CHECK_RC(shmkv_take(db, "k", 1, &p, NULL), -EINVAL);
    CHECK_RC(shmkv_take(db, big_key, sizeof big_key, &p, &vl), -E2BIG);
    shmkv *ro = open_ro(name);
    CHECK_RC(shmkv_take(ro, "k", 1, &p, &vl), -EROFS);
    CHECK_VAL(db, "k", 1, "v", 1);
    shmkv_close(ro);

    /* take of an absent key voids its pending lease */
    uint64_t lease = 0;
    char buf[8];
    CHECK_RC(shmkv_get_lease(db, "l", 1, buf, sizeof buf, &vl, 0, &lease), -ENOENT);
    CHECK(lease != 0);
    CHECK_RC(shmkv_take(db, "l", 1, &p, &vl), -ENOENT);
    CHECK_RC(shmkv_put_leased(db, "l", 1, "late", 4, 0, lease), -ECANCELED);
    CHECK_ABSENT(db, "l", 1);

    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, 1);
    CHECK_EQ_U64(st.dels, 3);
    CHECK_EQ_U64(st.leases_voided, 1);
    FINISH_TABLE(db, name, "after takes");
}

static void test_take_chained(void)
{
    char name[64];
    int nmid;
    shmkv *db = open_fragmented(name, sizeof name, "take-chain", &nmid);
    size_t n = 6 * FRAG_HOLE + 5;
    unsigned char *v = malloc(n);
    for (int round = 0; round < 3; round++) {
        h_val_make(v, n, "big", 3, (uint64_t)round);
        CHECK_RC(shmkv_put(db, "big", 3, v, n), 0);
        void *p = NULL;
        size_t vl = 0;
        CHECK_RC(shmkv_take(db, "big", 3, &p, &vl), 0);
        CHECK(vl == n && p && memcmp(p, v, n) == 0);
        free(p);
        CHECK_ABSENT(db, "big", 3);
        }
    free(v);
    FINISH_TABLE(db, name, "after taking a chained value");
}

static const struct h_part parts[] = {
    { "incr_basic", test_incr_basic },
    { "incr_edom", test_incr_edom },
    { "incr_range", test_incr_range },
    { "incr_args", test_incr_args },
    { "append_basic", test_append_basic },
    { "append_limit_store", test_append_limit_store },
    { "append_limit_cache", test_append_limit_cache },
    { "append_chained", test_append_chained },
    { "take", test_take },
    { "take_chained", test_take_chained },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_incr", parts, H_NPARTS(parts));
}
