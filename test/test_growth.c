/*
 * test_growth.c - growth and steady state.
 *  - One table grows from empty (no sizing hint) to 2 M keys of 8-byte keys
 *    and values; every key is then read back, the index must have grown
 *    (stat().buckets) and the bytes used per key must be reasonable.
 *  - Another table holds a fixed set of 200 k keys under 3 M random
 *    put/overwrite/delete operations: the file after the churn must be no
 *    larger than twice what it was after the initial load, and every key
 *    must hold its last value.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NGROW (H_ASAN ? 1000000u : 2000000u)
#define NCHURN_KEYS 200000u
#define NCHURN_OPS (H_ASAN ? 1500000u : 3000000u)
#define BYTES_PER_KEY_MAX 128.0 /* 16 bytes of payload per key */

static void key_of(unsigned char k[8], uint64_t i)
{
    memcpy(k, &i, 8);
}

static uint64_t val_of(uint64_t i, uint64_t version)
{
    return h_mix64(i * 0x9e3779b97f4a7c15ULL + version);
}

static void test_grow(void)
{
    char name[128], path[PATH_MAX];
    h_name(name, sizeof name, "grow");
    h_path(path, sizeof path, name);
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return;
    shmkv_stats st0, st;
    CHECK_RC(shmkv_stat(db, &st0), 0);

    double t0 = h_now();
    long bad = 0;
    for (uint64_t i = 0; i < NGROW; i++) {
        unsigned char k[8];
        key_of(k, i);
        uint64_t v = val_of(i, 0);
        int rc = shmkv_put(db, k, 8, &v, 8);
        if (rc != 0 && bad++ < 5)
            CHECKF(0, "put of key %llu returned %s", (unsigned long long)i, h_errname(rc));
        if ((i & 0x3ffff) == 0 && i) {
            /* the count keeps up on the way */
            CHECK_EQ_U64(shmkv_count(db), i + 1);
        }
    }
    double t_put = h_now() - t0;
    CHECK_EQ_INT(bad, 0);

    t0 = h_now();
    for (uint64_t i = 0; i < NGROW; i++) {
        unsigned char k[8];
        key_of(k, i);
        uint64_t v = 0;
        size_t vl = 0;
        int rc = shmkv_get(db, k, 8, &v, 8, &vl);
        if ((rc != 0 || vl != 8 || v != val_of(i, 0)) && bad++ < 5)
            CHECKF(0, "key %llu: get returned %s, %zu bytes", (unsigned long long)i,
                   h_errname(rc), vl);
    }
    double t_get = h_now() - t0;
    CHECK_EQ_INT(bad, 0);
    /* keys never put are absent */
    for (uint64_t i = NGROW; i < NGROW + 10000; i++) {
        unsigned char k[8];
        key_of(k, i);
        size_t vl;
        if (shmkv_get(db, k, 8, NULL, 0, &vl) != -ENOENT)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);

    CHECK_RC(shmkv_stat(db, &st), 0);
    double per_key = (double)st.used_bytes / (double)st.keys;
    h_note("grew to %u keys: put %.2f s (%.2f M/s), get %.2f s (%.2f M/s); buckets %llu -> "
           "%llu, overflow %llu, splits %llu, load factor %.2f; used %llu bytes = %.1f "
           "bytes/key (index %llu, log %llu, garbage %llu, free %llu), file %llu",
           NGROW, t_put, NGROW / t_put / 1e6, t_get, NGROW / t_get / 1e6,
           (unsigned long long)st0.buckets, (unsigned long long)st.buckets,
           (unsigned long long)st.overflow_buckets, (unsigned long long)st.splits,
           st.load_factor, (unsigned long long)st.used_bytes, per_key,
           (unsigned long long)st.index_bytes, (unsigned long long)st.log_bytes,
           (unsigned long long)st.garbage_bytes, (unsigned long long)st.free_bytes,
           (unsigned long long)st.file_bytes);
    CHECK_EQ_U64(st.keys, NGROW);
    CHECK_EQ_U64(st.live_bytes, 16ull * NGROW);
    CHECK(st.buckets > st0.buckets);
    CHECK(st.buckets * 7 >= NGROW / 2); /* the index grew with the keys */
    CHECK(st.splits > 0);
    /* splits keep up with the keys, in bursts (index.c): every shard has
     * room for 5 keys a bucket, at most SPLIT_BURST (8) buckets ahead, and
     * is some buckets ahead on average where one split at a time would
     * leave each shard less than one bucket ahead */
    CHECKF(st.buckets * 5 >= st.keys, "%llu buckets for %llu keys", (unsigned long long)st.buckets,
           (unsigned long long)st.keys);
    uint64_t room = st.buckets * 5 - st.keys;
    CHECKF(room <= 40 * st.shards && room >= 10 * st.shards, "room for %llu more keys in %llu shards",
           (unsigned long long)room, (unsigned long long)st.shards);
    CHECKF(per_key <= BYTES_PER_KEY_MAX, "%.1f bytes used per key of 16 bytes", per_key);
    CHECK(st.file_bytes == (uint64_t)h_file_size(path));
    CHECK_TABLE(db, "after growing");

    /* reopen: all still there */
    shmkv_close(db);
    shmkv_options o = { 0 };
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    if (db) {
        CHECK_EQ_U64(shmkv_count(db), NGROW);
        for (uint64_t i = 0; i < NGROW; i += 97) {
            unsigned char k[8];
            key_of(k, i);
            uint64_t v = 0;
            size_t vl = 0;
            if (shmkv_get(db, k, 8, &v, 8, &vl) != 0 || v != val_of(i, 0))
                bad++;
        }
        CHECK_EQ_INT(bad, 0);
        shmkv_close(db);
    }
    CHECK_RC(shmkv_unlink(name), 0);
}

static void test_churn(void)
{
    char name[128], path[PATH_MAX];
    h_name(name, sizeof name, "churn");
    h_path(path, sizeof path, name);
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return;
    uint32_t *ver = calloc(NCHURN_KEYS, sizeof *ver); /* 0: absent */
    uint64_t present = 0;
    long bad = 0;
    for (uint64_t i = 0; i < NCHURN_KEYS; i++) {
        unsigned char k[8];
        key_of(k, i);
        uint64_t v = val_of(i, 1);
        bad += shmkv_put(db, k, 8, &v, 8) != 0;
        ver[i] = 1;
        present++;
    }
    CHECK_EQ_INT(bad, 0);
    shmkv_stats st_load, st;
    CHECK_RC(shmkv_stat(db, &st_load), 0);
    uint64_t max_file = st_load.file_bytes, max_used = st_load.used_bytes;

    h_rng r = h_rng_new(5150);
    double t0 = h_now();
    for (uint64_t op = 0; op < NCHURN_OPS; op++) {
        uint64_t i = h_below(&r, NCHURN_KEYS);
        unsigned char k[8];
        key_of(k, i);
        int rc;
        if (ver[i] && (h_rand(&r) & 1)) {
            rc = shmkv_del(db, k, 8);
            ver[i] = 0;
            present--;
        } else {
            uint32_t nv = (uint32_t)(op + 2);
            uint64_t v = val_of(i, nv);
            rc = shmkv_put(db, k, 8, &v, 8);
            if (!ver[i])
                present++;
            ver[i] = nv;
        }
        if (rc != 0 && bad++ < 5)
            CHECKF(0, "churn op %llu returned %s", (unsigned long long)op, h_errname(rc));
        if ((op & 0xffff) == 0) {
            CHECK_RC(shmkv_stat(db, &st), 0);
            if (st.file_bytes > max_file)
                max_file = st.file_bytes;
            if (st.used_bytes > max_used)
                max_used = st.used_bytes;
        }
    }
    double t_churn = h_now() - t0;
    CHECK_EQ_INT(bad, 0);
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("churn: %u ops over %u keys in %.2f s; file after load %llu, after churn %llu "
           "(peak %llu); used after load %llu, after churn %llu (peak %llu); garbage %llu, "
           "free %llu, runs_cleaned %llu, %llu keys",
           NCHURN_OPS, NCHURN_KEYS, t_churn, (unsigned long long)st_load.file_bytes,
           (unsigned long long)st.file_bytes, (unsigned long long)max_file,
           (unsigned long long)st_load.used_bytes, (unsigned long long)st.used_bytes,
           (unsigned long long)max_used, (unsigned long long)st.garbage_bytes,
           (unsigned long long)st.free_bytes, (unsigned long long)st.runs_cleaned,
           (unsigned long long)st.keys);
    CHECKF(st.file_bytes <= 2 * st_load.file_bytes,
           "the file grew from %llu to %llu bytes under churn of a fixed key set",
           (unsigned long long)st_load.file_bytes, (unsigned long long)st.file_bytes);
    CHECK((uint64_t)h_file_size(path) == st.file_bytes);
    CHECK_EQ_U64(st.keys, present);
    CHECK_EQ_U64(shmkv_count(db), present);
    CHECK_EQ_U64(st.live_bytes, 16 * present);

    for (uint64_t i = 0; i < NCHURN_KEYS; i++) {
        unsigned char k[8];
        key_of(k, i);
        uint64_t v = 0;
        size_t vl = 0;
        int rc = shmkv_get(db, k, 8, &v, 8, &vl);
        int ok = ver[i] ? rc == 0 && vl == 8 && v == val_of(i, ver[i]) : rc == -ENOENT;
        if (!ok && bad++ < 5)
            CHECKF(0, "after churn: key %llu: get returned %s", (unsigned long long)i,
                   h_errname(rc));
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_TABLE(db, "after churn");
    free(ver);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static const struct h_part parts[] = {
    { "grow", test_grow },
    { "churn", test_churn },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_growth", parts, H_NPARTS(parts));
}
