/*
 * test_iter.c - shmkv_foreach: every pair exactly once, the callback's
 * early stop, after deletes and overwrites, on a read-only handle, and
 * callbacks that read, write, delete and iterate the table they visit.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FE_N 1000

struct fe_ctx {
    int seen[FE_N];
    int calls;
    int stop_at;
    int stop_value;
    int bad;
    unsigned char keys[FE_N][4 + 20];
    size_t klens[FE_N];
    size_t vlens[FE_N];
};

static void fe_key(struct fe_ctx *c, h_rng *r, int i)
{
    c->klens[i] = 4 + (size_t)h_below(r, 21);
    memcpy(c->keys[i], &i, 4);
    h_fill_random(r, c->keys[i] + 4, c->klens[i] - 4);
    c->vlens[i] = H_VAL_MIN + (size_t)h_below(r, 200);
}

static int fe_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct fe_ctx *c = ctx;
    c->calls++;
    int i;
    if (klen < 4) {
        c->bad++;
        return 0;
    }
    memcpy(&i, key, 4);
    if (i < 0 || i >= FE_N || klen != c->klens[i] || memcmp(key, c->keys[i], klen) != 0 ||
        vlen != c->vlens[i] || !h_val_check(val, vlen, key, klen, NULL)) {
        c->bad++;
        return 0;
    }
    c->seen[i]++;
    if (c->stop_at && c->calls == c->stop_at)
        return c->stop_value;
    return 0;
}

static void fe_reset(struct fe_ctx *c)
{
    memset(c->seen, 0, sizeof c->seen);
    c->calls = c->bad = c->stop_at = c->stop_value = 0;
}

static void test_foreach(void)
{
    char name[128];
    shmkv *db = open_new(name, sizeof name, "foreach");
    struct fe_ctx *c = calloc(1, sizeof *c);
    h_rng r = h_rng_new(7);
    unsigned char val[256];

    /* empty table */
    CHECK_RC(shmkv_foreach(db, fe_visit, c), 0);
    CHECK_EQ_INT(c->calls, 0);

    for (int i = 0; i < FE_N; i++) {
        fe_key(c, &r, i);
        h_val_make(val, c->vlens[i], c->keys[i], c->klens[i], (uint64_t)i);
        CHECK_RC(shmkv_put(db, c->keys[i], c->klens[i], val, c->vlens[i]), 0);
    }
    CHECK_EQ_U64(shmkv_count(db), FE_N);

    fe_reset(c);
    CHECK_RC(shmkv_foreach(db, fe_visit, c), 0);
    CHECK_EQ_INT(c->calls, FE_N);
    CHECK_EQ_INT(c->bad, 0);
    int once = 1;
    for (int i = 0; i < FE_N; i++)
        once &= c->seen[i] == 1;
    CHECK(once);

    /* early stop returns the callback's value */
    fe_reset(c);
    c->stop_at = 10;
    c->stop_value = 7;
    CHECK_RC(shmkv_foreach(db, fe_visit, c), 7);
    CHECK_EQ_INT(c->calls, 10);
    fe_reset(c);
    c->stop_at = 1;
    c->stop_value = -12345;
    CHECK_RC(shmkv_foreach(db, fe_visit, c), -12345);
    CHECK_EQ_INT(c->calls, 1);
    fe_reset(c);
    c->stop_at = FE_N; /* stop at the very last pair */
    c->stop_value = 1;
    CHECK_RC(shmkv_foreach(db, fe_visit, c), 1);
    CHECK_EQ_INT(c->calls, FE_N);

    /* after deleting half and overwriting a quarter */
    for (int i = 0; i < FE_N; i += 2)
        CHECK_RC(shmkv_del(db, c->keys[i], c->klens[i]), 0);
    for (int i = 1; i < FE_N; i += 4) {
        c->vlens[i] = H_VAL_MIN + (size_t)h_below(&r, 200);
        h_val_make(val, c->vlens[i], c->keys[i], c->klens[i], 1000000u + (unsigned)i);
        CHECK_RC(shmkv_put(db, c->keys[i], c->klens[i], val, c->vlens[i]), 0);
    }
    fe_reset(c);
    CHECK_RC(shmkv_foreach(db, fe_visit, c), 0);
    CHECK_EQ_INT(c->calls, FE_N / 2);
    CHECK_EQ_INT(c->bad, 0);
    once = 1;
    for (int i = 0; i < FE_N; i++)
        once &= c->seen[i] == (i % 2);
    CHECK(once);

    /* on a read-only handle */
    shmkv_options o = { .flags = SHMKV_RDONLY };
    shmkv *ro = NULL;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    fe_reset(c);
    CHECK_RC(shmkv_foreach(ro, fe_visit, c), 0);
    CHECK_EQ_INT(c->calls, FE_N / 2);
    CHECK_EQ_INT(c->bad, 0);
    shmkv_close(ro);

    shmkv_close(db);
    free(c);
}

/* A callback that uses the table it is iterating. */
struct re_ctx {
    shmkv *db;
    int originals, shadows, nested_calls, bad, del_self;
    int seen[200];
};

static int re_count(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    int *n = ctx;
    (*n)++;
    return 0;
}

static int re_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct re_ctx *c = ctx;
    const unsigned char *k = key;
    if (klen != 5 || (k[0] != 'o' && k[0] != 's')) {
        c->bad++;
        return 0;
    }
    int i;
    memcpy(&i, k + 1, 4);
    if (i < 0 || i >= 200) {
        c->bad++;
        return 0;
    }
    if (k[0] == 's') {
        c->shadows++;
        return 0;
    }
    c->originals++;
    c->seen[i]++;
    /* get the same key */
    unsigned char buf[64];
    size_t vl = 0;
    int rc = shmkv_get(c->db, key, klen, buf, sizeof buf, &vl);
    if (c->del_self) {
        if (rc != 0 || vl != vlen || memcmp(buf, val, vl) != 0)
            c->bad++;
        if (shmkv_del(c->db, key, klen) != 0)
            c->bad++;
        return 0;
    }
    if (rc != 0 || vl != vlen || memcmp(buf, val, vl) != 0)
        c->bad++;
    /* write another key, and the same one */
    unsigned char sk[5];
    memcpy(sk, k, 5);
    sk[0] = 's';
    if (shmkv_put(c->db, sk, 5, val, vlen) != 0)
        c->bad++;
    if (shmkv_add(c->db, sk, 5, val, vlen) != -EEXIST)
        c->bad++;
    if (shmkv_put(c->db, key, klen, val, vlen) != 0)
        c->bad++;
    if (shmkv_count(c->db) < 200)
        c->bad++;
    shmkv_stats st;
    if (shmkv_stat(c->db, &st) != 0)
        c->bad++;
    /* a nested foreach on the same table, once */
    if (c->originals == 1) {
        int n = 0;
        if (shmkv_foreach(c->db, re_count, &n) != 0 || n < 200)
            c->bad++;
        c->nested_calls = n;
    }
    return 0;
}

static void test_foreach_reentrant(void)
{
    char name[128];
    shmkv *db = open_new(name, sizeof name, "reentrant");
    for (int i = 0; i < 200; i++) {
        unsigned char k[5] = { 'o' };
        memcpy(k + 1, &i, 4);
        char v[32];
        int vl = snprintf(v, sizeof v, "value-%d", i);
        CHECK_RC(shmkv_put(db, k, 5, v, (size_t)vl), 0);
    }
    struct re_ctx *c = calloc(1, sizeof *c);
    c->db = db;
    CHECK_RC(shmkv_foreach(db, re_visit, c), 0);
    CHECK_EQ_INT(c->bad, 0);
    CHECK_EQ_INT(c->originals, 200);
    int once = 1;
    for (int i = 0; i < 200; i++)
        once &= c->seen[i] == 1;
    CHECK(once);
    CHECK(c->nested_calls >= 200);
    CHECK_EQ_U64(shmkv_count(db), 400);
    for (int i = 0; i < 200; i++) {
        unsigned char k[5] = { 's' };
        memcpy(k + 1, &i, 4);
        char v[32];
        int vl = snprintf(v, sizeof v, "value-%d", i);
        CHECK_VAL(db, k, 5, v, (size_t)vl);
    }

    /* a callback that deletes the pair it is visiting */
    memset(c, 0, sizeof *c);
    c->db = db;
    c->del_self = 1;
    CHECK_RC(shmkv_foreach(db, re_visit, c), 0);
    CHECK_EQ_INT(c->bad, 0);
    int atmost = 1;
    for (int i = 0; i < 200; i++)
        atmost &= c->seen[i] <= 1;
    CHECK(atmost);
    CHECK_EQ_U64(shmkv_count(db), 400 - (uint64_t)c->originals);
    shmkv_close(db);
    free(c);
}

static const struct h_part parts[] = {
    { "foreach", test_foreach },
    { "reentrant", test_foreach_reentrant },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_iter", parts, H_NPARTS(parts));
}
