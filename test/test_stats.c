/*
 * test_stats.c - read counters (SHMKV_STATS) and the write counters.
 *
 * A table created with SHMKV_STATS counts every get (single or batched)
 * as a hit or a miss, exactly; read-only handles count nothing (they
 * cannot write), and a table created without the flag has readers that
 * write nothing at all, so its counters stay 0.  The write counters
 * (puts, dels) are exact too.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>

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

int main(void)
{
    h_init("test_stats");
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
    return h_done();
}
