/*
 * test_update.c - shmkv_update, the general read-modify-write.
 *
 * The callback sees exactly the key and its current value (NULL when
 * absent, expired or only leased; a real pointer for an empty value,
 * the whole value when it is chained over several runs); each decision
 * (KEEP, SET with a lifetime or KEEP_TTL, DELETE) does what it says on
 * present, absent and leased keys; an error, a garbage decision or an
 * invalid out changes nothing; calling back into the table for the same
 * lock gives -EDEADLK; bad arguments and read-only handles never call
 * the callback.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* What the callback does, and what it saw. */
struct upd {
    int decision;            /* its return value */
    shmkv_update_out out;    /* copied to *out on SET (and for the invalid-out tests) */
    /* seen */
    int calls;
    int absent;              /* val was NULL */
    size_t vlen;
    unsigned char *val;      /* a copy (malloc'ed) */
    char key[64];
    size_t klen;
    /* for the reentrancy test */
    shmkv *db;
    int inner_rc;
};

static int fn(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
              shmkv_update_out *out)
{
    struct upd *u = ctx;
    u->calls++;
    u->absent = val == NULL;
    u->vlen = vlen;
    free(u->val);
    u->val = malloc(vlen ? vlen : 1);
    if (val)
        memcpy(u->val, val, vlen);
    u->klen = klen;
    memcpy(u->key, key, klen < sizeof u->key ? klen : sizeof u->key);
    if (u->db) /* another write of this very key: its shard's lock is ours */
        u->inner_rc = shmkv_put(u->db, key, klen, "inner", 5);
    *out = u->out;
    return u->decision;
}

static int update(shmkv *db, const char *k, struct upd *u)
{
    u->calls = 0;
    return shmkv_update(db, k, strlen(k), fn, u);
}

static void done(struct upd *u)
{
    free(u->val);
    u->val = NULL;
}

static void test_decisions(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "upd-dec");
    struct upd u = { 0 };
    /* absent: val NULL; KEEP and DELETE do nothing, return 0 */
    u.decision = SHMKV_UPDATE_KEEP;
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK(u.calls == 1 && u.absent && u.vlen == 0);
    CHECK(u.klen == 4 && memcmp(u.key, "key1", 4) == 0);
    u.decision = SHMKV_UPDATE_DELETE;
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK_ABSENT(db, "key1", 4);
    /* SET creates, with a lifetime */
    u.decision = SHMKV_UPDATE_SET;
    u.out = (shmkv_update_out){ .val = "one", .vlen = 3, .ttl_ms = 1000 };
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK(u.calls == 1 && u.absent);
    CHECK_VAL(db, "key1", 4, "one", 3);
    CHECK_TTL(db, "key1", 4, 1000, 250);
    /* present: the callback sees the value */
    u.out = (shmkv_update_out){ .val = "two\0", .vlen = 4, .flags = SHMKV_KEEP_TTL };
    shmkv__clock_advance(300);
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK(!u.absent && u.vlen == 3 && memcmp(u.val, "one", 3) == 0);
    CHECK_VAL(db, "key1", 4, "two\0", 4);
    CHECK_TTL(db, "key1", 4, 700, 250); /* kept */
    u.out = (shmkv_update_out){ .val = "three", .vlen = 5 };
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK_TTL(db, "key1", 4, 0, 0); /* SET without KEEP_TTL: its own (none) */
    u.decision = SHMKV_UPDATE_KEEP;
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK(u.vlen == 5 && memcmp(u.val, "three", 5) == 0);
    CHECK_VAL(db, "key1", 4, "three", 5);
    /* an empty value is no absent one */
    u.decision = SHMKV_UPDATE_SET;
    u.out = (shmkv_update_out){ .val = NULL, .vlen = 0 };
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK_VAL(db, "key1", 4, "", 0);
    u.decision = SHMKV_UPDATE_KEEP;
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK(!u.absent && u.vlen == 0);
    /* DELETE */
    u.decision = SHMKV_UPDATE_DELETE;
    CHECK_RC(update(db, "key1", &u), 0);
    CHECK_ABSENT(db, "key1", 4);
    /* KEEP_TTL on an absent key: none; an expired key is absent */
    u.decision = SHMKV_UPDATE_SET;
    u.out = (shmkv_update_out){ .val = "k", .vlen = 1, .flags = SHMKV_KEEP_TTL };
    CHECK_RC(update(db, "key2", &u), 0);
    CHECK_TTL(db, "key2", 4, 0, 0);
    CHECK_RC(shmkv_put_ttl(db, "key3", 4, "old", 3, 50), 0);
    shmkv__clock_advance(50);
    u.decision = SHMKV_UPDATE_KEEP;
    CHECK_RC(update(db, "key3", &u), 0);
    CHECK(u.absent);
    u.out = (shmkv_update_out){ .val = "max", .vlen = 3, .ttl_ms = SHMKV_TTL_MAX };
    u.decision = SHMKV_UPDATE_SET;
    CHECK_RC(update(db, "key3", &u), 0);
    CHECK_TTL(db, "key3", 4, SHMKV_TTL_MAX, 1000);

    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, 2);
    CHECK_EQ_U64(st.puts, 7); /* six SETs and a put_ttl */
    CHECK_EQ_U64(st.dels, 1);
    done(&u);
    FINISH_TABLE(db, name, "after updates");
}

/* An error, a garbage decision or an invalid out: nothing changes. */
static void test_refusals(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "upd-ref");
    CHECK_RC(shmkv_put_ttl(db, "k", 1, "keep me", 7, 60000), 0);
    struct upd u = { 0 };
    static const struct { int decision; int want; } rets[] = {
        { -EIO, -EIO }, { -ENOENT, -ENOENT }, { -ECANCELED, -ECANCELED }, { -1, -1 },
        { INT_MIN, INT_MIN }, { 3, -EINVAL }, { 7, -EINVAL }, { 100, -EINVAL },
        { INT_MAX, -EINVAL },
    };
    u.out = (shmkv_update_out){ .val = "x", .vlen = 1 };
    for (size_t i = 0; i < sizeof rets / sizeof rets[0]; i++) {
        u.decision = rets[i].decision;
        int rc = update(db, "k", &u);
        CHECKF(rc == rets[i].want, "callback returning %d: %s", rets[i].decision, h_errname(rc));
        CHECK_EQ_INT(u.calls, 1);
        rc = update(db, "absent", &u);
        CHECKF(rc == rets[i].want, "callback returning %d on an absent key: %s", rets[i].decision,
               h_errname(rc));
    }
    static const shmkv_update_out bad[] = {
        { .val = NULL, .vlen = 1 },
        { .val = "x", .vlen = 1, .flags = 1u << 0 },
        { .val = "x", .vlen = 1, .flags = SHMKV_KEEP_TTL | SHMKV_IF_ABSENT },
        { .val = "x", .vlen = 1, .flags = 1u << 30 },
        { .val = "x", .vlen = 1, .flags = SHMKV_KEEP_TTL, .ttl_ms = 5 },
        { .val = "x", .vlen = 1, .ttl_ms = SHMKV_TTL_MAX + 1 },
    };
    u.decision = SHMKV_UPDATE_SET;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        u.out = bad[i];
        int rc = update(db, "k", &u);
        CHECKF(rc == -EINVAL, "invalid out %zu: %s", i, h_errname(rc));
        rc = update(db, "absent", &u);
        CHECKF(rc == -EINVAL, "invalid out %zu on an absent key: %s", i, h_errname(rc));
    }
    CHECK_VAL(db, "k", 1, "keep me", 7);
    CHECK_TTL(db, "k", 1, 60000, 1000);
    CHECK_ABSENT(db, "absent", 6);

    /* a value too long for the table */
    char sname[64];
    shmkv *small = open_with(sname, sizeof sname, "upd-small", 0, SHMKV_MIN_BYTES);
    CHECK_RC(shmkv_put(small, "k", 1, "small", 5), 0);
    void *huge = calloc(1, SHMKV_MIN_BYTES);
    u.out = (shmkv_update_out){ .val = huge, .vlen = SHMKV_MIN_BYTES };
    CHECK_RC(update(small, "k", &u), -E2BIG);
    CHECK_VAL(small, "k", 1, "small", 5);
    free(huge);
    FINISH_TABLE(small, sname, NULL);

    /* bad arguments and read-only handles: the callback is never called */
    u.decision = SHMKV_UPDATE_DELETE;
    u.calls = 0;
    static const char big_key[SHMKV_KEY_MAX + 1];
    CHECK_RC(shmkv_update(NULL, "k", 1, fn, &u), -EINVAL);
    CHECK_RC(shmkv_update(db, NULL, 1, fn, &u), -EINVAL);
    CHECK_RC(shmkv_update(db, "k", 0, fn, &u), -EINVAL);
    CHECK_RC(shmkv_update(db, "k", 1, NULL, &u), -EINVAL);
    CHECK_RC(shmkv_update(db, big_key, sizeof big_key, fn, &u), -E2BIG);
    shmkv *ro = open_ro(name);
    CHECK_RC(shmkv_update(ro, "k", 1, fn, &u), -EROFS);
    shmkv_close(ro);
    CHECK_EQ_INT(u.calls, 0);
    CHECK_VAL(db, "k", 1, "keep me", 7);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.puts, 1);
    CHECK_EQ_U64(st.dels, 0);
    done(&u);
    FINISH_TABLE(db, name, "after refused updates");
}

/* A write of the same key from inside the callback: -EDEADLK, not a hang;
 * the update goes on with the callback's decision. */
static void test_reentry(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "upd-reent");
    CHECK_RC(shmkv_put(db, "k", 1, "v", 1), 0);
    struct upd u = { .decision = SHMKV_UPDATE_SET, .db = db };
    u.out = (shmkv_update_out){ .val = "outer", .vlen = 5 };
    CHECK_RC(update(db, "k", &u), 0);
    CHECK_RC(u.inner_rc, -EDEADLK);
    CHECK_VAL(db, "k", 1, "outer", 5);
    done(&u);
    FINISH_TABLE(db, name, "after a write from inside a callback");
}

/* The callback of a chained value sees all of it; SET and DELETE work. */
static void test_chained(void)
{
    char name[64];
    int nmid;
    shmkv *db = open_fragmented(name, sizeof name, "upd-chain", &nmid);
    size_t n = 4 * FRAG_HOLE + 77;
    unsigned char *v = malloc(n), *w = malloc(n + 10);
    h_val_make(v, n, "big", 3, 1);
    h_val_make(w, n + 10, "big", 3, 2);
    CHECK_RC(shmkv_put(db, "big", 3, v, n), 0);
    struct upd u = { .decision = SHMKV_UPDATE_SET };
    u.out = (shmkv_update_out){ .val = w, .vlen = n + 10 };
    CHECK_RC(update(db, "big", &u), 0);
    CHECK(u.vlen == n && memcmp(u.val, v, n) == 0);
    CHECK_VAL(db, "big", 3, w, n + 10);
    u.decision = SHMKV_UPDATE_DELETE;
    CHECK_RC(update(db, "big", &u), 0);
    CHECK(u.vlen == n + 10 && memcmp(u.val, w, n + 10) == 0);
    CHECK_ABSENT(db, "big", 3);
    done(&u);
    free(v);
    free(w);
    FINISH_TABLE(db, name, "after updates of a chained value");
}

/* A leased key is absent to the callback; KEEP leaves the lease, SET and
 * DELETE void it. */
static void test_leased(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "upd-lease");
    struct upd u = { .decision = SHMKV_UPDATE_KEEP };
    unsigned decisions[] = { SHMKV_UPDATE_KEEP, SHMKV_UPDATE_SET, SHMKV_UPDATE_DELETE };
    for (int i = 0; i < 3; i++) {
        char buf[8];
        size_t vl;
        uint64_t lease = 0;
        CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, &vl, 0, &lease), -ENOENT);
        CHECK(lease != 0);
        u.decision = (int)decisions[i];
        u.out = (shmkv_update_out){ .val = "set", .vlen = 3 };
        CHECK_RC(update(db, "k", &u), 0);
        CHECK(u.absent);
        int rc = shmkv_put_leased(db, "k", 1, "filled", 6, 0, lease);
        CHECKF(rc == (i == 0 ? 0 : -ECANCELED), "put_leased after update deciding %u: %s",
               decisions[i], h_errname(rc));
        if (i == 1)
            CHECK_VAL(db, "k", 1, "set", 3);
        else if (i == 2)
            CHECK_ABSENT(db, "k", 1);
        shmkv_del(db, "k", 1);
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.leases_granted, 3);
    CHECK_EQ_U64(st.leases_filled, 1);
    CHECK_EQ_U64(st.leases_voided, 2);
    done(&u);
    FINISH_TABLE(db, name, "after updates of leased keys");
}

static const struct h_part parts[] = {
    { "decisions", test_decisions },
    { "refusals", test_refusals },
    { "reentry", test_reentry },
    { "chained", test_chained },
    { "leased", test_leased },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_update", parts, H_NPARTS(parts));
}
