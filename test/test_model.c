/*
 * test_model.c - random operation sequences applied both to a table and to
 * a simple in-process model; every return code and every value compared,
 * and the whole table compared with the model (foreach, count, stat) after
 * each phase.  The table is closed and reopened midway.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 2000
#define KEY_MAX_LEN 40
#define BIG_VAL 20480

struct mkey {
    unsigned char k[KEY_MAX_LEN];
    size_t kl;
    uint64_t h;
    int present;
    size_t vl;
    unsigned char *v;
    int seen;
};

struct model {
    struct mkey keys[NKEYS];
    uint32_t by_hash[NKEYS]; /* indexes sorted by hash of key */
    uint64_t count, live, puts, dels;
};

static struct model *M;

static int cmp_hash(const void *a, const void *b)
{
    uint64_t x = M->keys[*(const uint32_t *)a].h, y = M->keys[*(const uint32_t *)b].h;
    return x < y ? -1 : x > y;
}

static void model_init(uint64_t seed)
{
    h_rng r = h_rng_new(seed ^ 0x1111);
    for (int i = 0; i < NKEYS; i++) {
        struct mkey *k = &M->keys[i];
        free(k->v);
        memset(k, 0, sizeof *k);
        for (;;) {
            /* lengths 1..40, short ones rarer (there are only 256 1-byte keys) */
            k->kl = 1 + (size_t)h_below(&r, KEY_MAX_LEN);
            h_fill_random(&r, k->k, k->kl);
            if (i % 5 == 0 && k->kl > 2)
                k->k[k->kl / 2] = 0; /* NUL bytes inside keys */
            int dup = 0;
            for (int j = 0; j < i && !dup; j++)
                dup = M->keys[j].kl == k->kl && memcmp(M->keys[j].k, k->k, k->kl) == 0;
            if (!dup)
                break;
        }
        k->h = h_hash(k->k, k->kl);
        M->by_hash[i] = (uint32_t)i;
    }
    qsort(M->by_hash, NKEYS, sizeof M->by_hash[0], cmp_hash);
    M->count = M->live = M->puts = M->dels = 0;
}

static int model_find(const void *key, size_t klen)
{
    uint64_t h = h_hash(key, klen);
    size_t lo = 0, hi = NKEYS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (M->keys[M->by_hash[mid]].h < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < NKEYS && M->keys[M->by_hash[lo]].h == h; lo++) {
        struct mkey *k = &M->keys[M->by_hash[lo]];
        if (k->kl == klen && memcmp(k->k, key, klen) == 0)
            return (int)M->by_hash[lo];
    }
    return -1;
}

static void model_set(struct mkey *k, const void *v, size_t vl)
{
    if (k->present)
        M->live -= k->kl + k->vl;
    else
        M->count++;
    free(k->v);
    k->v = malloc(vl ? vl : 1);
    memcpy(k->v, v, vl);
    k->vl = vl;
    k->present = 1;
    M->live += k->kl + vl;
    M->puts++;
}

static void model_del(struct mkey *k)
{
    M->live -= k->kl + k->vl;
    M->count--;
    free(k->v);
    k->v = NULL;
    k->vl = 0;
    k->present = 0;
    M->dels++;
}

static void model_resync(shmkv *db, struct mkey *k)
{
    void *a = NULL;
    size_t vl = 0;
    int rc = shmkv_get_alloc(db, k->k, k->kl, &a, &vl);
    if (k->present) {
        M->live -= k->kl + k->vl;
        M->count--;
        free(k->v);
        k->v = NULL;
        k->present = 0;
    }
    if (rc == 0) {
        k->v = a;
        k->vl = vl;
        k->present = 1;
        M->live += k->kl + vl;
        M->count++;
    }
}

struct visit_ctx {
    long visits, unknown, dup, wrong;
};

static int visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct visit_ctx *c = ctx;
    c->visits++;
    int i = model_find(key, klen);
    if (i < 0) {
        c->unknown++;
        return 0;
    }
    struct mkey *k = &M->keys[i];
    if (k->seen++)
        c->dup++;
    if (!k->present || k->vl != vlen || (vlen && memcmp(k->v, val, vlen) != 0))
        c->wrong++;
    return 0;
}

/* The whole table against the model. */
static void compare_all(shmkv *db, const char *when)
{
    for (int i = 0; i < NKEYS; i++)
        M->keys[i].seen = 0;
    struct visit_ctx c = { 0 };
    int rc = shmkv_foreach(db, visit, &c);
    CHECK_RC(rc, 0);
    CHECKF(c.visits == (long)M->count, "%s: foreach visited %ld pairs, model has %llu", when,
           c.visits, (unsigned long long)M->count);
    CHECKF(c.unknown == 0 && c.dup == 0 && c.wrong == 0,
           "%s: foreach: %ld unknown keys, %ld visited twice, %ld wrong values", when,
           c.unknown, c.dup, c.wrong);
    long missing = 0;
    for (int i = 0; i < NKEYS; i++)
        if (M->keys[i].present && !M->keys[i].seen)
            missing++;
    CHECKF(missing == 0, "%s: foreach missed %ld present keys", when, missing);
    CHECK_EQ_U64(shmkv_count(db), M->count);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECKF(st.keys == M->count && st.live_bytes == M->live && st.puts == M->puts &&
               st.dels == M->dels,
           "%s: stat keys %llu live %llu puts %llu dels %llu; model %llu %llu %llu %llu", when,
           (unsigned long long)st.keys, (unsigned long long)st.live_bytes,
           (unsigned long long)st.puts, (unsigned long long)st.dels,
           (unsigned long long)M->count, (unsigned long long)M->live,
           (unsigned long long)M->puts, (unsigned long long)M->dels);
    /* and every key by get */
    long bad = 0;
    unsigned char *buf = malloc(BIG_VAL + 8192);
    for (int i = 0; i < NKEYS; i++) {
        struct mkey *k = &M->keys[i];
        size_t vl = 0;
        rc = shmkv_get(db, k->k, k->kl, buf, BIG_VAL + 8192, &vl);
        if (k->present)
            bad += rc != 0 || vl != k->vl || (vl && memcmp(buf, k->v, vl) != 0);
        else
            bad += rc != -ENOENT;
    }
    free(buf);
    CHECKF(bad == 0, "%s: %ld keys read back wrong", when, bad);
    CHECK_TABLE(db, when);
}

struct cfg {
    const char *what;
    shmkv_options opts;
    int two_handles;
};

static void run_seed(uint64_t seed, const struct cfg *cfg, long nops)
{
    char name[128];
    h_name(name, sizeof name, "model");
    model_init(seed);
    shmkv *db = NULL, *db2 = NULL;
    CHECK_RC(shmkv_open(name, &cfg->opts, &db), 0);
    if (!db)
        return;
    if (cfg->two_handles)
        CHECK_RC(shmkv_open(name, NULL, &db2), 0);
    h_rng r = h_rng_new(seed);
    unsigned char *val = malloc(BIG_VAL + 8192);
    unsigned char *buf = malloc(BIG_VAL + 8192);
    long mismatches = 0;
    double t0 = h_now();

    for (long op = 1; op <= nops; op++) {
        shmkv *h = (db2 && (h_rand(&r) & 1)) ? db2 : db;
        /* half the operations on a hot tenth of the keys */
        int ki = (h_rand(&r) & 1) ? (int)h_below(&r, NKEYS / 10) : (int)h_below(&r, NKEYS);
        struct mkey *k = &M->keys[ki];
        size_t vl = h_below(&r, 100) < 2 ? BIG_VAL + (size_t)h_below(&r, 4096)
                                         : (size_t)h_below(&r, 301);
        unsigned kind = (unsigned)h_below(&r, 100);
        int rc, want;
        const char *opname;
        if (kind < 30) {
            opname = "put";
            h_fill_random(&r, val, vl);
            rc = shmkv_put(h, k->k, k->kl, val, vl);
            want = 0;
            if (rc == 0)
                model_set(k, val, vl);
        } else if (kind < 42) {
            opname = "add";
            h_fill_random(&r, val, vl);
            rc = shmkv_add(h, k->k, k->kl, val, vl);
            want = k->present ? -EEXIST : 0;
            if (rc == 0 && want == 0)
                model_set(k, val, vl);
        } else if (kind < 54) {
            opname = "replace";
            h_fill_random(&r, val, vl);
            rc = shmkv_replace(h, k->k, k->kl, val, vl);
            want = k->present ? 0 : -ENOENT;
            if (rc == 0 && want == 0)
                model_set(k, val, vl);
        } else if (kind < 70) {
            opname = "del";
            rc = shmkv_del(h, k->k, k->kl);
            want = k->present ? 0 : -ENOENT;
            if (rc == 0 && want == 0)
                model_del(k);
        } else if (kind < 85) {
            opname = "get";
            size_t got = (size_t)-1;
            rc = shmkv_get(h, k->k, k->kl, buf, BIG_VAL + 8192, &got);
            want = k->present ? 0 : -ENOENT;
            if (rc == 0 && want == 0 &&
                (got != k->vl || (got && memcmp(buf, k->v, got) != 0))) {
                if (mismatches++ < 10)
                    h_fail(__FILE__, __LINE__, "seed %llu op %ld: get returned a wrong value "
                           "(%zu bytes, expected %zu)", (unsigned long long)seed, op, got,
                           k->vl);
            }
        } else if (kind < 90) {
            /* a batch of 6: this key and 5 more, some with short buffers */
            opname = "get_many";
            shmkv_item it[6];
            int idx[6];
            unsigned char *bbuf = buf;
            for (int j = 0; j < 6; j++) {
                idx[j] = j == 0 ? ki : (int)h_below(&r, NKEYS);
                struct mkey *kj = &M->keys[idx[j]];
                it[j].key = kj->k;
                it[j].klen = kj->kl;
                it[j].cap = h_below(&r, 4) == 0 ? (size_t)h_below(&r, 64) : 4096;
                it[j].buf = it[j].cap ? bbuf : NULL;
                bbuf += it[j].cap;
                it[j].vlen = (size_t)-1;
                it[j].rc = 1;
            }
            int nfound = shmkv_get_many(h, it, 6), wfound = 0;
            rc = want = 0;
            for (int j = 0; j < 6; j++) {
                struct mkey *kj = &M->keys[idx[j]];
                int w = !kj->present ? -ENOENT : kj->vl > it[j].cap ? -ENOBUFS : 0;
                wfound += w == 0;
                int ok = it[j].rc == w;
                if (ok && w != -ENOENT)
                    ok = it[j].vlen == kj->vl;
                if (ok && w == 0 && kj->vl)
                    ok = memcmp(it[j].buf, kj->v, kj->vl) == 0;
                if (!ok && mismatches++ < 10)
                    h_fail(__FILE__, __LINE__, "seed %llu op %ld: get_many item %d (key %d, "
                           "%s, %zu bytes, cap %zu): rc %s vlen %zu, expected %s",
                           (unsigned long long)seed, op, j, idx[j],
                           kj->present ? "present" : "absent", kj->vl, it[j].cap,
                           h_errname(it[j].rc), it[j].vlen, h_errname(w));
            }
            if (nfound != wfound && mismatches++ < 10)
                h_fail(__FILE__, __LINE__, "seed %llu op %ld: get_many returned %d, %d found",
                       (unsigned long long)seed, op, nfound, wfound);
        } else if (kind < 95) {
            opname = "get (small buffer)";
            size_t cap = k->present && k->vl ? (size_t)h_below(&r, k->vl) : 0;
            size_t got = (size_t)-1;
            buf[0] = 0x5A;
            rc = shmkv_get(h, k->k, k->kl, cap ? buf : NULL, cap, &got);
            want = !k->present ? -ENOENT : k->vl > cap ? -ENOBUFS : 0;
            if (rc == want && rc != -ENOENT && got != k->vl) {
                if (mismatches++ < 10)
                    h_fail(__FILE__, __LINE__, "seed %llu op %ld: get reported length %zu, "
                           "expected %zu", (unsigned long long)seed, op, got, k->vl);
            }
            if (rc == -ENOBUFS && buf[0] != 0x5A && mismatches++ < 10)
                h_fail(__FILE__, __LINE__, "seed %llu op %ld: get with a short buffer wrote "
                       "to it", (unsigned long long)seed, op);
        } else {
            opname = "get_alloc";
            void *a = NULL;
            size_t got = (size_t)-1;
            rc = shmkv_get_alloc(h, k->k, k->kl, &a, &got);
            want = k->present ? 0 : -ENOENT;
            if (rc == 0 && want == 0 &&
                (!a || got != k->vl || (got && memcmp(a, k->v, got) != 0))) {
                if (mismatches++ < 10)
                    h_fail(__FILE__, __LINE__, "seed %llu op %ld: get_alloc returned a wrong "
                           "value", (unsigned long long)seed, op);
            }
            if (rc == 0)
                free(a);
        }
        if (rc != want) {
            if (mismatches++ < 10)
                h_fail(__FILE__, __LINE__, "seed %llu op %ld: %s of key %d (%s) returned %s, "
                       "model says %s", (unsigned long long)seed, op, opname, ki,
                       k->present ? "present" : "absent", h_errname(rc), h_errname(want));
            /* resynchronise the model with what the table holds, so one
             * bug does not cascade into thousands of reports */
            model_resync(h, k);
        }

        if (op % (nops / 8) == 0) {
            char when[96];
            snprintf(when, sizeof when, "%s, seed %llu, after %ld ops", cfg->what,
                     (unsigned long long)seed, op);
            compare_all(db, when);
            if (db2)
                compare_all(db2, when);
        }
        if (op == nops / 2) {
            /* reopen midway and go on */
            shmkv_close(db);
            db = NULL;
            shmkv_options o = { 0 };
            CHECK_RC(shmkv_open(name, &o, &db), 0);
            if (!db)
                break;
            char when[96];
            snprintf(when, sizeof when, "%s, seed %llu, after reopen", cfg->what,
                     (unsigned long long)seed);
            compare_all(db, when);
        }
    }
    if (mismatches > 10)
        h_note("seed %llu: %ld mismatches in all", (unsigned long long)seed, mismatches);
    shmkv_stats st;
    if (db && shmkv_stat(db, &st) == 0)
        h_note("%s, seed %llu: %ld ops in %.2f s; keys %llu live %llu used %llu file %llu "
               "garbage %llu free %llu runs_cleaned %llu buckets %llu",
               cfg->what, (unsigned long long)seed, nops, h_now() - t0,
               (unsigned long long)st.keys, (unsigned long long)st.live_bytes,
               (unsigned long long)st.used_bytes, (unsigned long long)st.file_bytes,
               (unsigned long long)st.garbage_bytes, (unsigned long long)st.free_bytes,
               (unsigned long long)st.runs_cleaned, (unsigned long long)st.buckets);
    shmkv_close(db);
    shmkv_close(db2);
    CHECK_RC(shmkv_unlink(name), 0);
    free(val);
    free(buf);
}

static const struct cfg cfgs[] = {
    { "default options", { .flags = SHMKV_CREATE }, 0 },
    { "max 64 MiB, expected 2000 keys",
      { .flags = SHMKV_CREATE, .max_bytes = 64u << 20, .expected_keys = NKEYS }, 0 },
    { "max 16 MiB", { .flags = SHMKV_CREATE, .max_bytes = 16u << 20 }, 0 },
    { "two handles", { .flags = SHMKV_CREATE }, 1 },
    { "expected 100000 keys", { .flags = SHMKV_CREATE, .expected_keys = 100000 }, 0 },
    { "default options, another seed", { .flags = SHMKV_CREATE }, 0 },
};

/* Configuration i with its own seed: a part. */
static void run_cfg(size_t i)
{
    run_seed(1000 + i * 7919, &cfgs[i], 300000);
}

static void cfg_default(void) { run_cfg(0); }
static void cfg_max64(void) { run_cfg(1); }
static void cfg_max16(void) { run_cfg(2); }
static void cfg_two_handles(void) { run_cfg(3); }
static void cfg_expected(void) { run_cfg(4); }
static void cfg_default_seed2(void) { run_cfg(5); }

static const struct h_part parts[] = {
    { "default", cfg_default },         { "max_64mib", cfg_max64 },
    { "max_16mib", cfg_max16 },         { "two_handles", cfg_two_handles },
    { "expected_keys", cfg_expected },  { "default_seed2", cfg_default_seed2 },
};

int main(int argc, char **argv)
{
    M = calloc(1, sizeof *M);
    int rc = h_main(argc, argv, "test_model", parts, H_NPARTS(parts));
    for (int i = 0; i < NKEYS; i++)
        free(M->keys[i].v);
    free(M);
    return rc;
}
