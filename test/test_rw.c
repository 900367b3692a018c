/*
 * test_rw.c - the single-key operations: put, get, get_alloc, add, replace
 * and del with their documented results (binary keys, empty values, too
 * small buffers), and keys and values of every size a layout could have a
 * boundary at.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_semantics(void)
{
    char name[128];
    shmkv *db = open_new(name, sizeof name, "sem");
    unsigned char buf[256];
    size_t vl;

    CHECK_ABSENT(db, "alpha", 5);
    CHECK_RC(shmkv_del(db, "alpha", 5), -ENOENT);
    CHECK_RC(shmkv_replace(db, "alpha", 5, "x", 1), -ENOENT);
    CHECK_ABSENT(db, "alpha", 5); /* replace of an absent key changed nothing */

    /* put inserts, put overwrites (shorter, longer, same length) */
    CHECK_RC(shmkv_put(db, "alpha", 5, "one", 3), 0);
    CHECK_VAL(db, "alpha", 5, "one", 3);
    CHECK_RC(shmkv_put(db, "alpha", 5, "two!", 4), 0);
    CHECK_VAL(db, "alpha", 5, "two!", 4);
    CHECK_RC(shmkv_put(db, "alpha", 5, "t", 1), 0);
    CHECK_VAL(db, "alpha", 5, "t", 1);
    CHECK_RC(shmkv_put(db, "alpha", 5, "u", 1), 0);
    CHECK_VAL(db, "alpha", 5, "u", 1);

    /* add */
    CHECK_RC(shmkv_add(db, "alpha", 5, "nope", 4), -EEXIST);
    CHECK_VAL(db, "alpha", 5, "u", 1); /* unchanged */
    CHECK_RC(shmkv_add(db, "beta", 4, "B", 1), 0);
    CHECK_VAL(db, "beta", 4, "B", 1);
    CHECK_RC(shmkv_add(db, "beta", 4, "C", 1), -EEXIST);
    CHECK_VAL(db, "beta", 4, "B", 1);

    /* replace */
    CHECK_RC(shmkv_replace(db, "beta", 4, "replaced", 8), 0);
    CHECK_VAL(db, "beta", 4, "replaced", 8);

    /* del */
    CHECK_RC(shmkv_del(db, "beta", 4), 0);
    CHECK_ABSENT(db, "beta", 4);
    CHECK_RC(shmkv_del(db, "beta", 4), -ENOENT);
    CHECK_RC(shmkv_replace(db, "beta", 4, "x", 1), -ENOENT);
    CHECK_ABSENT(db, "beta", 4);
    CHECK_RC(shmkv_add(db, "beta", 4, "again", 5), 0); /* add after delete */
    CHECK_VAL(db, "beta", 4, "again", 5);
    CHECK_EQ_U64(shmkv_count(db), 2);

    /* zero-length values */
    CHECK_RC(shmkv_put(db, "empty", 5, "", 0), 0);
    CHECK_VAL(db, "empty", 5, "", 0);
    vl = 12345;
    CHECK_RC(shmkv_get(db, "empty", 5, NULL, 0, &vl), 0);
    CHECK_EQ_U64(vl, 0);
    CHECK_RC(shmkv_add(db, "empty", 5, "x", 1), -EEXIST); /* it is present */
    CHECK_RC(shmkv_replace(db, "empty", 5, "now full", 8), 0);
    CHECK_VAL(db, "empty", 5, "now full", 8);
    CHECK_RC(shmkv_replace(db, "empty", 5, NULL, 0), 0);
    CHECK_VAL(db, "empty", 5, "", 0);
    CHECK_RC(shmkv_del(db, "empty", 5), 0);
    CHECK_ABSENT(db, "empty", 5);

    /* binary keys with NUL bytes, prefixes of each other */
    static const char k1[] = { 'a', 0, 'b' };
    static const char k2[] = { 'a', 0, 'c' };
    static const char k3[] = { 'a' };
    static const char k4[] = { 'a', 0 };
    static const char k5[] = { 0 };
    static const char k6[] = { 0, 0, 0, 0 };
    CHECK_RC(shmkv_put(db, k1, 3, "v1", 2), 0);
    CHECK_RC(shmkv_put(db, k2, 3, "v2", 2), 0);
    CHECK_RC(shmkv_put(db, k3, 1, "v3", 2), 0);
    CHECK_RC(shmkv_put(db, k4, 2, "v4", 2), 0);
    CHECK_RC(shmkv_put(db, k5, 1, "v5", 2), 0);
    CHECK_RC(shmkv_put(db, k6, 4, "v6\0x", 4), 0);
    CHECK_VAL(db, k1, 3, "v1", 2);
    CHECK_VAL(db, k2, 3, "v2", 2);
    CHECK_VAL(db, k3, 1, "v3", 2);
    CHECK_VAL(db, k4, 2, "v4", 2);
    CHECK_VAL(db, k5, 1, "v5", 2);
    CHECK_VAL(db, k6, 4, "v6\0x", 4);
    CHECK_ABSENT(db, k6, 3);
    CHECK_ABSENT(db, "a\0", 3);
    CHECK_RC(shmkv_del(db, k4, 2), 0);
    CHECK_VAL(db, k1, 3, "v1", 2);
    CHECK_VAL(db, k3, 1, "v3", 2);
    CHECK_ABSENT(db, k4, 2);
    /* "alpha" vs "alph" vs "alphaa" */
    CHECK_ABSENT(db, "alph", 4);
    CHECK_ABSENT(db, "alphaa", 6);

    /* get with cap too small: -ENOBUFS, *vlen = needed, buf untouched */
    CHECK_RC(shmkv_put(db, "hello", 5, "hello world", 11), 0);
    memset(buf, 0xA5, sizeof buf);
    vl = 0;
    CHECK_RC(shmkv_get(db, "hello", 5, buf, 10, &vl), -ENOBUFS);
    CHECK_EQ_U64(vl, 11);
    int untouched = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        untouched &= buf[i] == 0xA5;
    CHECK(untouched);
    vl = 0;
    CHECK_RC(shmkv_get(db, "hello", 5, buf, 1, &vl), -ENOBUFS);
    CHECK_EQ_U64(vl, 11);
    vl = 0;
    CHECK_RC(shmkv_get(db, "hello", 5, NULL, 0, &vl), -ENOBUFS);
    CHECK_EQ_U64(vl, 11);
    vl = 0;
    CHECK_RC(shmkv_get(db, "hello", 5, buf, 0, &vl), -ENOBUFS);
    CHECK_EQ_U64(vl, 11);
    untouched = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        untouched &= buf[i] == 0xA5;
    CHECK(untouched);
    vl = 0;
    CHECK_RC(shmkv_get(db, "hello", 5, buf, 11, &vl), 0);
    CHECK_EQ_U64(vl, 11);
    CHECK(memcmp(buf, "hello world", 11) == 0);
    CHECK(buf[11] == 0xA5); /* nothing written past the value */

    /* get_alloc of a zero-length value gives a non-NULL pointer */
    CHECK_RC(shmkv_put(db, "z", 1, NULL, 0), 0);
    void *a = NULL;
    vl = 99;
    CHECK_RC(shmkv_get_alloc(db, "z", 1, &a, &vl), 0);
    CHECK(a != NULL);
    CHECK_EQ_U64(vl, 0);
    free(a);

    /* every successful write counted by stat(); failed ones not */
    shmkv_close(db);
}

/* ------------------------------------------------------------------------ */

static void test_sizes(void)
{
    char name[128];
    shmkv *db = open_new(name, sizeof name, "sizes");
    h_rng r = h_rng_new(42);

    /* keys of 1 and 65535 bytes */
    unsigned char *k = malloc(65535);
    unsigned char *k2 = malloc(65535);
    h_fill_random(&r, k, 65535);
    memcpy(k2, k, 65535);
    k2[65534] ^= 1; /* differs only in the last byte */
    CHECK_RC(shmkv_put(db, k, 65535, "max", 3), 0);
    CHECK_RC(shmkv_put(db, k2, 65535, "max2", 4), 0);
    CHECK_RC(shmkv_put(db, k, 1, "one", 3), 0);
    CHECK_VAL(db, k, 65535, "max", 3);
    CHECK_VAL(db, k2, 65535, "max2", 4);
    CHECK_VAL(db, k, 1, "one", 3);
    CHECK_ABSENT(db, k, 65534);
    CHECK_EQ_U64(shmkv_count(db), 3);
    CHECK_RC(shmkv_add(db, k, 65535, "x", 1), -EEXIST);
    CHECK_RC(shmkv_replace(db, k, 65535, "rep", 3), 0);
    CHECK_VAL(db, k, 65535, "rep", 3);
    CHECK_RC(shmkv_del(db, k, 65535), 0);
    CHECK_ABSENT(db, k, 65535);
    CHECK_VAL(db, k2, 65535, "max2", 4);
    CHECK_RC(shmkv_del(db, k2, 65535), 0);
    CHECK_RC(shmkv_del(db, k, 1), 0);
    CHECK_EQ_U64(shmkv_count(db), 0);

    /* large values: 5 MB and 300 KB, and back to small */
    size_t sizes[] = { 5000000, 300000, 100, 300000, 5000000, 65536, 65537, 24 };
    unsigned char *val = malloc(5000000);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        h_val_make(val, sizes[i], "large", 5, i);
        CHECK_RC(shmkv_put(db, "large", 5, val, sizes[i]), 0);
        CHECK_VAL(db, "large", 5, val, sizes[i]);
        void *a = NULL;
        size_t vl = 0;
        uint64_t seq = 999;
        CHECK_RC(shmkv_get_alloc(db, "large", 5, &a, &vl), 0);
        CHECK(a && vl == sizes[i] && h_val_check(a, vl, "large", 5, &seq) && seq == i);
        free(a);
        shmkv_stats st;
        CHECK_RC(shmkv_stat(db, &st), 0);
        CHECK_EQ_U64(st.keys, 1);
        CHECK_EQ_U64(st.live_bytes, 5 + sizes[i]);
    }
    /* a large value under a maximal key */
    h_val_make(val, 300000, k, 65535, 7);
    CHECK_RC(shmkv_put(db, k, 65535, val, 300000), 0);
    CHECK_VAL(db, k, 65535, val, 300000);
    /* too small a buffer for a large value */
    unsigned char small[100];
    size_t vl = 0;
    CHECK_RC(shmkv_get(db, k, 65535, small, sizeof small, &vl), -ENOBUFS);
    CHECK_EQ_U64(vl, 300000);
    /* large values survive reopen */
    shmkv_close(db);
    shmkv_options o = { 0 };
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    CHECK_VAL(db, k, 65535, val, 300000);
    h_val_make(val, 24, "large", 5, 7);
    CHECK_VAL(db, "large", 5, val, 24);
    shmkv_close(db);

    /* sizes around every boundary a layout could have (8-byte padding,
     * 4 KiB units, 64 KiB "huge" values, 256 KiB runs), for several key
     * lengths; each pair overwritten by the next size */
    static const size_t vsizes[] = { 0, 1, 7, 8, 9, 15, 16, 17, 24, 4000, 4072, 4088, 4096,
                                     4097, 8192, 65512, 65528, 65535, 65536, 65537, 131072,
                                     262080, 262144, 262145, 1048576 };
    static const size_t ksizes[] = { 1, 2, 8, 255, 256, 4096, 65535 };
    const size_t nv = sizeof vsizes / sizeof vsizes[0], nk = sizeof ksizes / sizeof ksizes[0];
    shmkv *b = open_new(name, sizeof name, "boundaries");
    unsigned char *kb = malloc(65535), *vb = malloc(1048576), *gb = malloc(1048576 + 16);
    long bad = 0;
    for (size_t ki = 0; ki < nk; ki++) {
        h_fill_random(&r, kb, ksizes[ki]);
        kb[0] = (unsigned char)ki; /* distinct keys */
        for (size_t vi = 0; vi < nv; vi++) {
            size_t vsz = vsizes[(vi * 7 + ki) % nv];
            h_fill_random(&r, vb, vsz);
            int rc = shmkv_put(b, kb, ksizes[ki], vb, vsz);
            size_t gl = 0;
            int rc2 = shmkv_get(b, kb, ksizes[ki], gb, 1048576 + 16, &gl);
            if (rc != 0 || rc2 != 0 || gl != vsz || memcmp(gb, vb, vsz) != 0) {
                if (bad++ < 5)
                    CHECKF(0, "key of %zu bytes, value of %zu bytes: put %s, get %s, %zu bytes",
                           ksizes[ki], vsz, h_errname(rc), h_errname(rc2), gl);
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_U64(shmkv_count(b), nk);
    CHECK_TABLE(b, "after values of boundary sizes");
    shmkv_close(b);
    free(kb);
    free(vb);
    free(gb);
    free(val);
    free(k);
    free(k2);
}

static const struct h_part parts[] = {
    { "put_get", test_semantics },
    { "sizes", test_sizes },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_rw", parts, H_NPARTS(parts));
}
