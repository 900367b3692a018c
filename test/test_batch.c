/*
 * test_batch.c - shmkv_get_many: present, absent, too small a buffer and
 * bad items each get their own rc in one batch, nothing is written past a
 * value or into the buffer of a failed item; also on a read-only handle.
 * put_many_deep: shmkv_put_many into a table that grows well past the size
 * from which batches prefetch in stages (write.c PUT_DEEP), from two
 * writer processes at once whose batches share keys, while a third
 * process reads: every value read is one a writer wrote for that key, and
 * at the end every key holds its last version.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_get_many(void)
{
    char name[128];
    shmkv *db = open_new(name, sizeof name, "getmany");
    /* keys k0..k99 with values of i bytes ('a' + i % 26); odd ones absent */
    unsigned char v[200];
    for (int i = 0; i < 100; i += 2) {
        char k[16];
        int kl = snprintf(k, sizeof k, "k%d", i);
        memset(v, 'a' + i % 26, (size_t)i);
        CHECK_RC(shmkv_put(db, k, (size_t)kl, v, (size_t)i), 0);
    }
    CHECK_RC(shmkv_get_many(NULL, NULL, 0), -EINVAL);
    CHECK_RC(shmkv_get_many(db, NULL, 3), -EINVAL);
    CHECK_RC(shmkv_get_many(db, NULL, 0), 0);

    enum { N = 120 };
    shmkv_item *it = calloc(N, sizeof *it);
    char (*keys)[16] = calloc(N, 16);
    unsigned char (*bufs)[128] = calloc(N, 128);
    for (int i = 0; i < N; i++) {
        int kl = snprintf(keys[i], 16, "k%d", i); /* 100..119 never existed */
        it[i].key = keys[i];
        it[i].klen = (size_t)kl;
        it[i].buf = bufs[i];
        it[i].cap = 128;
        it[i].vlen = 7777;
        it[i].rc = 12345;
        memset(bufs[i], 0xEE, 128);
    }
    /* some special items */
    it[10].cap = 5;        /* value of 10 bytes: -ENOBUFS, vlen 10, buf untouched */
    it[20].buf = NULL;     /* NULL buffer, cap 0 */
    it[20].cap = 0;
    it[0].buf = NULL;      /* k0 has a 0-byte value: fits in cap 0 */
    it[0].cap = 0;
    it[30].cap = 30;       /* exactly enough */
    it[40].key = NULL;     /* bad items get their own rc */
    it[42].klen = 0;
    unsigned char *bigkey = calloc(1, 65536);
    it[44].key = bigkey;
    it[44].klen = 65536;
    int found = shmkv_get_many(db, it, N);
    int want_found = 0;
    for (int i = 0; i < N; i++) {
        int want_rc;
        size_t want_len = (size_t)i;
        if (i == 40 || i == 42)
            want_rc = -EINVAL;
        else if (i == 44)
            want_rc = -E2BIG;
        else if (i % 2 || i >= 100)
            want_rc = -ENOENT;
        else if (i == 10 || i == 20)
            want_rc = -ENOBUFS;
        else
            want_rc = 0;
        want_found += want_rc == 0;
        CHECKF(it[i].rc == want_rc, "get_many item %d: rc %s, expected %s", i,
               h_errname(it[i].rc), h_errname(want_rc));
        if (want_rc == 0 || want_rc == -ENOBUFS)
            CHECKF(it[i].vlen == want_len, "get_many item %d: vlen %zu, expected %zu", i,
                   it[i].vlen, want_len);
        if (want_rc == 0) {
            memset(v, 'a' + i % 26, (size_t)i);
            CHECKF(i == 0 || memcmp(bufs[i], v, (size_t)i) == 0, "get_many item %d: wrong value",
                   i);
            CHECKF(i == 0 || bufs[i][i] == 0xEE, "get_many item %d: wrote past the value", i);
        }
        if (want_rc != 0 && it[i].buf) {
            int untouched = 1;
            for (int j = 0; j < 128; j++)
                untouched &= bufs[i][j] == 0xEE;
            CHECKF(untouched, "get_many item %d (%s): buffer written", i, h_errname(want_rc));
        }
    }
    CHECK_EQ_INT(found, want_found);
    /* n = 1 and an empty batch */
    CHECK_RC(shmkv_get_many(db, it + 2, 1), 1);
    CHECK_RC(shmkv_get_many(db, it, 0), 0);
    /* on a read-only handle */
    shmkv_options o = { .flags = SHMKV_RDONLY };
    shmkv *ro = NULL;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    if (ro) {
        for (int i = 0; i < N; i++)
            it[i].rc = 12345;
        CHECK_RC(shmkv_get_many(ro, it, N), want_found);
        shmkv_close(ro);
    }
    free(bigkey);
    free(it);
    free(keys);
    free(bufs);
    shmkv_close(db);
}

/* put_many_deep: writer w (0 or 1) owns keys with id % 2 == w and writes
 * each in versions 1..VERS, in batches of 16 that also carry a key twice
 * (its version v - 1 first, then v: the later wins); writer 1 also
 * writes, in the same batches, keys of writer 0 with the bytes of their
 * last version (shared keys, whose final value is then the same whatever
 * the order); writer 0's batches carry a bad pair (an empty key) among
 * the others, which gets -EINVAL and changes nothing. */
enum { DKEYS = 600000, VERS = 2, DBATCH = 16 };

struct dval {
    uint64_t id, version, check;
};

static struct dval dval_of(uint64_t id, uint64_t version)
{
    return (struct dval){id, version, id * 0x9e3779b97f4a7c15ull ^ version};
}

static void deep_writer(const char *name, int w)
{
    shmkv *db = NULL;
    shmkv_options o = {0};
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    if (!db)
        h_child_exit();
    uint64_t keys[DBATCH];
    struct dval vals[DBATCH];
    shmkv_pair p[DBATCH];
    for (uint64_t v = 1; v <= VERS; v++)
        for (uint64_t id = (uint64_t)w; id < DKEYS; id += 2 * (DBATCH - 2)) {
            size_t n = 0;
            for (uint64_t k = id; k < id + 2 * (DBATCH - 2) && k < DKEYS; k += 2) {
                keys[n] = k;
                vals[n] = dval_of(k, v);
                n++;
            }
            /* the first key again, an older version first (later wins) */
            keys[n] = keys[0];
            vals[n] = dval_of(keys[0], v - 1);
            size_t older = n++;
            for (size_t j = 0; j < n; j++)
                p[j] = (shmkv_pair){&keys[j], 8, &vals[j], sizeof vals[j], 0, 12345};
            shmkv_pair t = p[older]; /* the older one goes first */
            memmove(p + 1, p, older * sizeof p[0]);
            p[0] = t;
            if (w == 1 && n < DBATCH) { /* and a key of writer 0, as writer 0 ends it */
                keys[n] = id - 1;
                vals[n] = dval_of(id - 1, VERS);
                p[n] = (shmkv_pair){&keys[n], 8, &vals[n], sizeof vals[n], 0, 12345};
                n++;
            }
            size_t bad = SIZE_MAX;
            if (w == 0 && n < DBATCH && n > 6) { /* a bad pair inside a prefetch group: passed over */
                bad = 5;
                memmove(p + bad + 1, p + bad, (n - bad) * sizeof p[0]);
                p[bad] = (shmkv_pair){&keys[0], 0, &vals[0], sizeof vals[0], 0, 12345};
                n++;
            }
            int stored = shmkv_put_many(db, p, n);
            CHECK((size_t)stored == n - (bad != SIZE_MAX));
            for (size_t j = 0; j < n; j++)
                CHECK_RC(p[j].rc, j == bad ? -EINVAL : 0);
        }
    shmkv_close(db);
    h_child_exit();
}

static void deep_reader(const char *name, int rounds)
{
    shmkv *db = NULL;
    shmkv_options o = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    if (!db)
        h_child_exit();
    uint64_t x = 88172645463325252ull;
    static uint8_t seen[DKEYS]; /* no key is ever deleted: once seen, always there */
    for (int r = 0; r < rounds; r++) {
        /* one round in four a batch: its prefetch stages scan the home
         * buckets before the gets load their slots, while the writers
         * split buckets and compact under them */
        uint64_t ids[16];
        struct dval got[16];
        shmkv_item it[16];
        size_t n = r % 4 ? 1 : 16;
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            ids[j] = x % DKEYS;
            it[j] = (shmkv_item){.key = &ids[j], .klen = 8, .buf = &got[j], .cap = sizeof got[j]};
        }
        if (n == 1)
            it[0].rc = shmkv_get(db, &ids[0], 8, &got[0], sizeof got[0], &it[0].vlen);
        else
            CHECK(shmkv_get_many(db, it, n) >= 0);
        for (size_t j = 0; j < n; j++) {
            if (it[j].rc == -ENOENT && !seen[ids[j]])
                continue;
            CHECK_RC(it[j].rc, 0);
            seen[ids[j]] = 1;
            CHECK(it[j].vlen == sizeof got[j]);
            struct dval want = dval_of(ids[j], got[j].version);
            CHECK(got[j].id == ids[j] && got[j].version <= VERS && got[j].check == want.check);
        }
    }
    shmkv_close(db);
    h_child_exit();
}

static void test_put_many_deep(void)
{
    char name[128];
    shmkv *db = open_new(name, sizeof name, "deep");
    pid_t r = h_fork();
    if (r == 0)
        deep_reader(name, H_ASAN ? 200000 : 1000000);
    pid_t w[2];
    for (int i = 0; i < 2; i++)
        if ((w[i] = h_fork()) == 0)
            deep_writer(name, i);
    for (int i = 0; i < 2; i++)
        h_wait(w[i], "writer");
    h_wait(r, "reader");
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK(st.file_bytes > (24u << 20)); /* past write.c's PUT_DEEP (16 MiB) */
    CHECK(st.keys == DKEYS);
    for (uint64_t id = 0; id < DKEYS; id++) {
        struct dval got;
        size_t len = 0;
        CHECK_RC(shmkv_get(db, &id, 8, &got, sizeof got, &len), 0);
        struct dval want = dval_of(id, VERS);
        if (got.version != VERS || got.check != want.check || got.id != id) {
            CHECK(got.version == VERS && got.check == want.check && got.id == id);
            break;
        }
    }
    CHECK_RC(shmkv_check(db, NULL), 0);
    shmkv_close(db);
}

static const struct h_part parts[] = {
    { "get_many", test_get_many },
    { "put_many_deep", test_put_many_deep },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_batch", parts, H_NPARTS(parts));
}
