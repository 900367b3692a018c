/*
 * test_batch.c - shmkv_get_many: present, absent, too small a buffer and
 * bad items each get their own rc in one batch, nothing is written past a
 * value or into the buffer of a failed item; also on a read-only handle.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const struct h_part parts[] = {
    { "get_many", test_get_many },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_batch", parts, H_NPARTS(parts));
}
