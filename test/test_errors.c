/*
 * test_errors.c - bad arguments to every function (NULL handles, keys,
 * values and output pointers, empty and too long keys, too long values)
 * give their documented errors and change nothing; shmkv_strerror gives a
 * distinct, static text for every code.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_bad_args(void)
{
    char name[128];
    shmkv *db = open_new(name, sizeof name, "badargs");
    unsigned char *bigkey = calloc(1, 65536 + 1);
    unsigned char buf[64];
    size_t vl;
    void *a = NULL;

    /* NULL handle */
    CHECK_RC(shmkv_put(NULL, "k", 1, "v", 1), -EINVAL);
    CHECK_RC(shmkv_add(NULL, "k", 1, "v", 1), -EINVAL);
    CHECK_RC(shmkv_replace(NULL, "k", 1, "v", 1), -EINVAL);
    CHECK_RC(shmkv_get(NULL, "k", 1, buf, sizeof buf, &vl), -EINVAL);
    CHECK_RC(shmkv_get_alloc(NULL, "k", 1, &a, &vl), -EINVAL);
    CHECK_RC(shmkv_del(NULL, "k", 1), -EINVAL);
    CHECK_EQ_U64(shmkv_count(NULL), 0);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(NULL, &st), -EINVAL);
    CHECK_RC(shmkv_stat(db, NULL), -EINVAL);
    shmkv_close(NULL); /* ignored */

    /* NULL key, zero-length key */
    CHECK_RC(shmkv_put(db, NULL, 1, "v", 1), -EINVAL);
    CHECK_RC(shmkv_put(db, "k", 0, "v", 1), -EINVAL);
    CHECK_RC(shmkv_put(db, NULL, 0, "v", 1), -EINVAL);
    CHECK_RC(shmkv_add(db, NULL, 1, "v", 1), -EINVAL);
    CHECK_RC(shmkv_add(db, "k", 0, "v", 1), -EINVAL);
    CHECK_RC(shmkv_replace(db, NULL, 1, "v", 1), -EINVAL);
    CHECK_RC(shmkv_replace(db, "k", 0, "v", 1), -EINVAL);
    CHECK_RC(shmkv_get(db, NULL, 1, buf, sizeof buf, &vl), -EINVAL);
    CHECK_RC(shmkv_get(db, "k", 0, buf, sizeof buf, &vl), -EINVAL);
    CHECK_RC(shmkv_get_alloc(db, NULL, 1, &a, &vl), -EINVAL);
    CHECK_RC(shmkv_get_alloc(db, "k", 0, &a, &vl), -EINVAL);
    CHECK_RC(shmkv_del(db, NULL, 1), -EINVAL);
    CHECK_RC(shmkv_del(db, "k", 0), -EINVAL);

    /* NULL value with a non-zero length */
    CHECK_RC(shmkv_put(db, "k", 1, NULL, 1), -EINVAL);
    CHECK_RC(shmkv_add(db, "k", 1, NULL, 5), -EINVAL);
    CHECK_RC(shmkv_replace(db, "k", 1, NULL, 1), -EINVAL);
    CHECK_EQ_U64(shmkv_count(db), 0);
    CHECK_ABSENT(db, "k", 1);

    /* output pointers */
    CHECK_RC(shmkv_get(db, "k", 1, buf, sizeof buf, NULL), -EINVAL);
    CHECK_RC(shmkv_get_alloc(db, "k", 1, NULL, &vl), -EINVAL);
    CHECK_RC(shmkv_get_alloc(db, "k", 1, &a, NULL), -EINVAL);

    /* key too long: 65536 bytes (a real buffer, so reading it is legal) */
    memset(bigkey, 'K', 65536);
    CHECK_RC(shmkv_put(db, bigkey, 65536, "v", 1), -E2BIG);
    CHECK_RC(shmkv_add(db, bigkey, 65536, "v", 1), -E2BIG);
    CHECK_RC(shmkv_replace(db, bigkey, 65536, "v", 1), -E2BIG);
    CHECK_RC(shmkv_get(db, bigkey, 65536, buf, sizeof buf, &vl), -E2BIG);
    CHECK_RC(shmkv_get_alloc(db, bigkey, 65536, &a, &vl), -E2BIG);
    CHECK_RC(shmkv_del(db, bigkey, 65536), -E2BIG);

    /* value too long: only the length may be looked at */
    if (sizeof(size_t) > 4) {
        size_t toolong = (size_t)SHMKV_VAL_MAX + 1;
        CHECK_RC(shmkv_put(db, "k", 1, buf, toolong), -E2BIG);
        CHECK_RC(shmkv_add(db, "k", 1, buf, toolong), -E2BIG);
        CHECK_RC(shmkv_replace(db, "k", 1, buf, toolong), -E2BIG);
    }
    CHECK_EQ_U64(shmkv_count(db), 0);

    /* NULL value with length 0 is a valid empty value */
    CHECK_RC(shmkv_put(db, "k", 1, NULL, 0), 0);
    CHECK_VAL(db, "k", 1, "", 0);
    CHECK_RC(shmkv_add(db, "k2", 2, NULL, 0), 0);
    CHECK_RC(shmkv_replace(db, "k2", 2, NULL, 0), 0);
    CHECK_VAL(db, "k2", 2, "", 0);
    CHECK_EQ_U64(shmkv_count(db), 2);

    /* foreach arguments */
    CHECK_RC(shmkv_foreach(NULL, NULL, NULL), -EINVAL);
    CHECK_RC(shmkv_foreach(db, NULL, NULL), -EINVAL);

    /* unlink arguments */
    CHECK_RC(shmkv_unlink(NULL), -EINVAL);
    CHECK_RC(shmkv_unlink(""), -EINVAL);

    shmkv_close(db);
    free(bigkey);
}

/* ------------------------------------------------------------------------ */

static void test_strerror(void)
{
    const int codes[] = { 0, -ENOENT, -EEXIST, -ENOSPC, -EBADMSG, -EROFS,
                          -ENOBUFS, -E2BIG, -EINVAL, -9999 };
    const size_t n = sizeof codes / sizeof codes[0];
    char copies[10][256];
    for (size_t i = 0; i < n; i++) {
        const char *s = shmkv_strerror(codes[i]);
        CHECKF(s != NULL, "shmkv_strerror(%d) is NULL", codes[i]);
        if (!s) {
            copies[i][0] = 0;
            continue;
        }
        CHECKF(strlen(s) > 0, "shmkv_strerror(%d) is empty", codes[i]);
        snprintf(copies[i], sizeof copies[i], "%s", s);
        /* static: the same text every time */
        const char *again = shmkv_strerror(codes[i]);
        CHECK(again && strcmp(again, s) == 0);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            CHECKF(strcmp(copies[i], copies[j]) != 0,
                   "shmkv_strerror(%d) == shmkv_strerror(%d) == \"%s\"", codes[i], codes[j],
                   copies[i]);
    /* any other value: never NULL or empty */
    const int others[] = { -1, -EAGAIN, -ENOMEM, -EACCES, -ELOOP, -EISDIR, -ENAMETOOLONG,
                           -100000, 1, 12345 };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        const char *s = shmkv_strerror(others[i]);
        CHECKF(s != NULL && strlen(s) > 0, "shmkv_strerror(%d)", others[i]);
        if (s && others[i] < 0)
            CHECKF(strcmp(s, copies[0]) != 0, "shmkv_strerror(%d) reads like success: \"%s\"",
                   others[i], s);
    }
    for (int e = 1; e < 200; e++) {
        const char *s = shmkv_strerror(-e);
        CHECKF(s != NULL && strlen(s) > 0, "shmkv_strerror(-%d)", e);
    }
}

static const struct h_part parts[] = {
    { "bad_args", test_bad_args },
    { "strerror", test_strerror },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_errors", parts, H_NPARTS(parts));
}
