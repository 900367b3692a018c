/*
 * test_stats.c - shmkv_count and shmkv_stat, the write counters and the
 * read counters (SHMKV_STATS).
 *
 * count_stat: through adds, deletes and overwrites (and failed ones, which
 * count nothing) every figure of shmkv_stat stays consistent with the
 * others, with shmkv_count and with the file, for any handle.
 *
 * read_counters: a table created with SHMKV_STATS counts every get (single
 * or batched) as a hit or a miss, exactly; read-only handles count nothing
 * (they cannot write), and a table created without the flag has readers
 * that write nothing at all, so its counters stay 0.  The write counters
 * (puts, dels) are exact too.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void check_stat_consistent(shmkv *db, const char *path, uint64_t keys,
                                  uint64_t live, uint64_t puts, uint64_t dels)
{
    shmkv_stats st;
    memset(&st, 0xEE, sizeof st);
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, keys);
    CHECK_EQ_U64(shmkv_count(db), keys);
    CHECK_EQ_U64(st.live_bytes, live);
    CHECK_EQ_U64(st.puts, puts);
    CHECK_EQ_U64(st.dels, dels);
    CHECK_EQ_U64(st.file_bytes, (uint64_t)h_file_size(path));
    CHECK(st.used_bytes <= st.file_bytes);
    CHECK(st.file_bytes <= st.max_bytes);
    CHECK(st.used_bytes >= st.index_bytes);
    CHECK(st.used_bytes >= st.log_bytes);
    CHECK(st.log_bytes >= st.live_bytes);
    CHECK(st.garbage_bytes <= st.log_bytes);
    CHECK(st.shards >= 1);
    CHECK(st.buckets >= 1);
    CHECK(st.index_bytes >= 64 * st.buckets);
    double lf = st.buckets ? (double)st.keys / ((double)st.buckets * 7.0) : -1;
    CHECKF(fabs(st.load_factor - lf) <= 1e-9 + 1e-6 * lf, "load_factor %g, expected %g",
           st.load_factor, lf);
    CHECK_EQ_U64(st.lock_recoveries, 0);
}

static void test_count_stat(void)
{
    char name[128], path[PATH_MAX];
    shmkv *db = NULL;
    shmkv_options o = { .flags = SHMKV_CREATE, .max_bytes = 16u << 20 };
    h_name(name, sizeof name, "stat");
    h_path(path, sizeof path, name);
    CHECK_RC(shmkv_open(name, &o, &db), 0);

    uint64_t keys = 0, live = 0, puts = 0, dels = 0;
    check_stat_consistent(db, path, 0, 0, 0, 0);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.max_bytes, 16u << 20);
    CHECK_EQ_U64(st.garbage_bytes, 0);

    h_rng r = h_rng_new(99);
    static size_t vlen[3000];
    unsigned char v[1024];
    for (int i = 0; i < 3000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        vlen[i] = (size_t)h_below(&r, 1000);
        h_fill_random(&r, v, vlen[i]);
        CHECK_RC(shmkv_add(db, k, (size_t)kl, v, vlen[i]), 0);
        keys++, puts++, live += (uint64_t)kl + vlen[i];
        CHECK_RC(shmkv_add(db, k, (size_t)kl, v, vlen[i]), -EEXIST); /* not counted */
    }
    check_stat_consistent(db, path, keys, live, puts, dels);
    for (int i = 0; i < 3000; i += 3) {
        char k[16];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        CHECK_RC(shmkv_del(db, k, (size_t)kl), 0);
        keys--, dels++, live -= (uint64_t)kl + vlen[i];
        CHECK_RC(shmkv_del(db, k, (size_t)kl), -ENOENT);
        CHECK_RC(shmkv_replace(db, k, (size_t)kl, v, 1), -ENOENT);
    }
    check_stat_consistent(db, path, keys, live, puts, dels);
    for (int i = 1; i < 3000; i += 3) {
        char k[16];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        size_t nl = (size_t)h_below(&r, 1000);
        CHECK_RC(shmkv_replace(db, k, (size_t)kl, v, nl), 0);
        puts++, live = live - vlen[i] + nl;
        vlen[i] = nl;
        CHECK_RC(shmkv_put(db, k, (size_t)kl, v, nl), 0);
        puts++;
    }
    check_stat_consistent(db, path, keys, live, puts, dels);
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("stat after 3000 adds, 1000 dels, 2000 overwrites: used %llu file %llu "
           "index %llu log %llu garbage %llu free %llu shards %llu buckets %llu",
           (unsigned long long)st.used_bytes, (unsigned long long)st.file_bytes,
           (unsigned long long)st.index_bytes, (unsigned long long)st.log_bytes,
           (unsigned long long)st.garbage_bytes, (unsigned long long)st.free_bytes,
           (unsigned long long)st.shards, (unsigned long long)st.buckets);
    shmkv_close(db);

    /* the counters are kept in the table: another handle sees the same */
    o.flags = SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    check_stat_consistent(db, path, keys, live, puts, dels);
    shmkv_close(db);

    /* max_bytes 0: the limit reported is the reservation, at most 1 TiB */
    shmkv *d0 = open_new(name, sizeof name, "stat0");
    CHECK_RC(shmkv_stat(d0, &st), 0);
    CHECK(st.max_bytes > 0 && st.max_bytes <= (1ULL << 40));
    CHECK(st.file_bytes <= st.max_bytes);
    shmkv_close(d0);
}

/* ------------------------------------------------------------------------ */

static void reads(shmkv *db, int n_hit, int n_miss)
{
    char k[32], v[32];
    size_t vl;
    for (int i = 0; i < n_hit; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "key-%d", i % 10);
        CHECK_RC(shmkv_get(db, k, kl, v, sizeof v, &vl), 0);
    }
    for (int i = 0; i < n_miss; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "absent-%d", i);
        CHECK_RC(shmkv_get(db, k, kl, v, sizeof v, &vl), -ENOENT);
    }
}

static void test_read_counters(void)
{
    char name[64], plain[64];
    h_name(name, sizeof name, "stats");
    h_name(plain, sizeof plain, "nostats");
    shmkv_options o = {.flags = SHMKV_CREATE | SHMKV_STATS};
    shmkv *db, *ro, *p;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    CHECK_RC(shmkv_open(plain, NULL, &p), 0);
    char k[32];
    for (int i = 0; i < 10; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "key-%d", i);
        CHECK_RC(shmkv_put(db, k, kl, "v", 1), 0);
        CHECK_RC(shmkv_put(p, k, kl, "v", 1), 0);
    }
    CHECK_RC(shmkv_put(db, "key-0", 5, "w", 1), 0);
    CHECK_RC(shmkv_del(db, "key-9", 5), 0);
    CHECK_RC(shmkv_put(db, "key-9", 5, "v", 1), 0);
    CHECK_RC(shmkv_del(db, "absent", 6), -ENOENT); /* failures count nothing */
    CHECK_RC(shmkv_add(db, "key-1", 5, "v", 1), -EEXIST);

    reads(db, 37, 5);
    /* a value too big for the buffer was still found: a hit */
    size_t vl;
    CHECK_RC(shmkv_get(db, "key-1", 5, NULL, 0, &vl), -ENOBUFS);
    shmkv_item it[3] = {{.key = "key-2", .klen = 5}, {.key = "nope", .klen = 4}, {.key = "key-3", .klen = 5}};
    char b0[8], b2[8];
    it[0].buf = b0, it[0].cap = 8, it[2].buf = b2, it[2].cap = 8;
    CHECK_EQ_INT(shmkv_get_many(db, it, 3), 2);

    shmkv_options ro_o = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &ro_o, &ro), 0);
    reads(ro, 20, 20); /* not counted: a read-only handle cannot write */
    reads(p, 20, 20);  /* not counted: the table was made without SHMKV_STATS */

    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.read_stats, 1);
    CHECK_EQ_U64(st.hits, 37 + 1 + 2);
    CHECK_EQ_U64(st.misses, 5 + 1);
    CHECK_EQ_U64(st.puts, 10 + 1 + 1);
    CHECK_EQ_U64(st.dels, 1);
    CHECK_RC(shmkv_stat(ro, &st), 0);
    CHECK_EQ_U64(st.hits, 40);
    CHECK_RC(shmkv_stat(p, &st), 0);
    CHECK_EQ_U64(st.read_stats, 0);
    CHECK_EQ_U64(st.hits, 0);
    CHECK_EQ_U64(st.misses, 0);

    /* the flag is part of the table: reopening without it still counts */
    shmkv *again;
    CHECK_RC(shmkv_open(name, NULL, &again), 0);
    reads(again, 1, 1);
    CHECK_RC(shmkv_stat(again, &st), 0);
    CHECK_EQ_U64(st.hits, 41);
    CHECK_EQ_U64(st.misses, 7);
    CHECK_TABLE(db, "after counting");
    shmkv_close(again);
    shmkv_close(ro);
    shmkv_close(db);
    shmkv_close(p);
    CHECK_RC(shmkv_unlink(name), 0);
    CHECK_RC(shmkv_unlink(plain), 0);
}

static const struct h_part parts[] = {
    { "count_stat", test_count_stat },
    { "read_counters", test_read_counters },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_stats", parts, H_NPARTS(parts));
}
