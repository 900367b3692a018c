/*
 * test_api.c - every public function and every documented error code of
 * shmkv.h, single-threaded (plus forked children where a crash must be
 * told apart from a wrong answer).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const shmkv_options OPT_CREATE = { .flags = SHMKV_CREATE };

static shmkv *open_new(char *name, size_t cap, const char *tag)
{
    shmkv *db = NULL;
    h_name(name, cap, tag);
    int rc = shmkv_open(name, &OPT_CREATE, &db);
    CHECK_RC(rc, 0);
    if (rc != 0) {
        h_note("cannot create a table, giving up");
        exit(h_done());
    }
    return db;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Check that key holds exactly (val, vlen), through get and get_alloc. */
static void check_val_at(int line, shmkv *db, const void *key, size_t klen,
                         const void *val, size_t vlen)
{
    size_t cap = vlen + 16;
    unsigned char *buf = malloc(cap);
    size_t got = (size_t)-1;
    int rc = shmkv_get(db, key, klen, buf, cap, &got);
    if (rc != 0) {
        h_fail(__FILE__, line, "get returned %s, expected 0", h_errname(rc));
    } else if (got != vlen) {
        h_fail(__FILE__, line, "get length %zu, expected %zu", got, vlen);
    } else if (vlen && memcmp(buf, val, vlen) != 0) {
        h_fail(__FILE__, line, "get returned wrong bytes");
    }
    /* exact capacity */
    got = (size_t)-1;
    rc = shmkv_get(db, key, klen, buf, vlen, &got);
    if (rc != 0 || got != vlen || (vlen && memcmp(buf, val, vlen) != 0))
        h_fail(__FILE__, line, "get with cap == vlen: rc %s len %zu", h_errname(rc), got);
    free(buf);

    void *a = NULL;
    got = (size_t)-1;
    rc = shmkv_get_alloc(db, key, klen, &a, &got);
    if (rc != 0) {
        h_fail(__FILE__, line, "get_alloc returned %s, expected 0", h_errname(rc));
    } else {
        if (a == NULL)
            h_fail(__FILE__, line, "get_alloc gave a NULL pointer");
        else if (got != vlen)
            h_fail(__FILE__, line, "get_alloc length %zu, expected %zu", got, vlen);
        else if (vlen && memcmp(a, val, vlen) != 0)
            h_fail(__FILE__, line, "get_alloc returned wrong bytes");
    }
    free(a);
}
#define CHECK_VAL(db, k, kl, v, vl) check_val_at(__LINE__, db, k, kl, v, vl)

static void check_absent_at(int line, shmkv *db, const void *key, size_t klen)
{
    unsigned char buf[8];
    size_t got;
    int rc = shmkv_get(db, key, klen, buf, sizeof buf, &got);
    if (rc != -ENOENT)
        h_fail(__FILE__, line, "get of an absent key returned %s", h_errname(rc));
    void *a = NULL;
    rc = shmkv_get_alloc(db, key, klen, &a, &got);
    if (rc != -ENOENT)
        h_fail(__FILE__, line, "get_alloc of an absent key returned %s", h_errname(rc));
    if (rc == 0)
        free(a);
}
#define CHECK_ABSENT(db, k, kl) check_absent_at(__LINE__, db, k, kl)

/* ------------------------------------------------------------------------ */

static void test_open_flags(void)
{
    char name[128], path[PATH_MAX];
    shmkv *db = NULL, *db2 = NULL;
    shmkv_options o;

    /* missing table without CREATE */
    h_name(name, sizeof name, "flags");
    h_path(path, sizeof path, name);
    memset(&o, 0, sizeof o);
    CHECK_RC(shmkv_open(name, &o, &db), -ENOENT);
    o.flags = SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &db), -ENOENT);
    CHECK(!exists(path));

    /* CREATE|EXCL on a new name, then again */
    o.flags = SHMKV_CREATE | SHMKV_EXCL;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    CHECK(exists(path));
    CHECK_RC(shmkv_put(db, "a", 1, "1", 1), 0);
    CHECK_RC(shmkv_open(name, &o, &db2), -EEXIST);
    /* EXCL without CREATE: -EINVAL, existing or not */
    o.flags = SHMKV_EXCL;
    CHECK_RC(shmkv_open(name, &o, &db2), -EINVAL);
    o.flags = SHMKV_EXCL | SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &db2), -EINVAL);
    char missing[128];
    h_name(missing, sizeof missing, "flags-missing");
    o.flags = SHMKV_EXCL;
    CHECK_RC(shmkv_open(missing, &o, &db2), -EINVAL);
    /* unknown flag bits */
    o.flags = SHMKV_CREATE | (1u << 5);
    CHECK_RC(shmkv_open(name, &o, &db2), -EINVAL);
    o.flags = 1u << 31;
    CHECK_RC(shmkv_open(name, &o, &db2), -EINVAL);
    o.flags = SHMKV_CREATE | 0x100;
    CHECK_RC(shmkv_open(missing, &o, &db2), -EINVAL);
    h_path(path, sizeof path, missing);
    CHECK(!exists(path)); /* a rejected open creates nothing */

    /* plain open of the existing table sees its contents */
    o.flags = 0;
    CHECK_RC(shmkv_open(name, &o, &db2), 0);
    CHECK_VAL(db2, "a", 1, "1", 1);
    /* CREATE on an existing table attaches to it */
    shmkv *db3 = NULL;
    o.flags = SHMKV_CREATE;
    CHECK_RC(shmkv_open(name, &o, &db3), 0);
    CHECK_VAL(db3, "a", 1, "1", 1);
    CHECK_RC(shmkv_put(db3, "b", 1, "2", 1), 0);
    CHECK_VAL(db, "b", 1, "2", 1);
    CHECK_VAL(db2, "b", 1, "2", 1);
    shmkv_close(db3);
    shmkv_close(db2);

    /* RDONLY: reads work, every write is -EROFS, also where the write
     * would otherwise fail for another reason */
    o.flags = SHMKV_RDONLY;
    shmkv *ro = NULL;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    CHECK_VAL(ro, "a", 1, "1", 1);
    CHECK_RC(shmkv_put(ro, "a", 1, "x", 1), -EROFS);
    CHECK_RC(shmkv_put(ro, "new", 3, "x", 1), -EROFS);
    CHECK_RC(shmkv_put(ro, "new", 3, NULL, 0), -EROFS);
    CHECK_RC(shmkv_add(ro, "a", 1, "x", 1), -EROFS);   /* exists */
    CHECK_RC(shmkv_add(ro, "new", 3, "x", 1), -EROFS);
    CHECK_RC(shmkv_replace(ro, "a", 1, "x", 1), -EROFS);
    CHECK_RC(shmkv_replace(ro, "new", 3, "x", 1), -EROFS); /* absent */
    CHECK_RC(shmkv_del(ro, "a", 1), -EROFS);
    CHECK_RC(shmkv_del(ro, "new", 3), -EROFS);          /* absent */
    CHECK_VAL(ro, "a", 1, "1", 1);
    CHECK_ABSENT(ro, "new", 3);
    CHECK_EQ_U64(shmkv_count(ro), 2);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(ro, &st), 0);
    CHECK_EQ_U64(st.keys, 2);
    /* a writer's change is seen by the read-only handle */
    CHECK_RC(shmkv_put(db, "c", 1, "3", 1), 0);
    CHECK_VAL(ro, "c", 1, "3", 1);
    shmkv_close(ro);
    shmkv_close(db);

    /* NULL opts means {.flags = SHMKV_CREATE} */
    h_name(name, sizeof name, "nullopts");
    h_path(path, sizeof path, name);
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    CHECK(exists(path));
    CHECK_RC(shmkv_put(db, "k", 1, "v", 1), 0);
    shmkv_close(db);
    CHECK_RC(shmkv_open(name, NULL, &db), 0); /* and it attaches to an existing one */
    CHECK_VAL(db, "k", 1, "v", 1);
    shmkv_close(db);

    /* CREATE|RDONLY creates the table, then attaches read-only */
    h_name(name, sizeof name, "create-ro");
    h_path(path, sizeof path, name);
    o.flags = SHMKV_CREATE | SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    CHECK(exists(path));
    CHECK_EQ_U64(shmkv_count(ro), 0);
    CHECK_RC(shmkv_put(ro, "k", 1, "v", 1), -EROFS);
    CHECK_ABSENT(ro, "k", 1);
    o.flags = 0;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    CHECK_RC(shmkv_put(db, "k", 1, "v", 1), 0);
    CHECK_VAL(ro, "k", 1, "v", 1);
    shmkv_close(db);
    shmkv_close(ro);

    /* max_bytes limits */
    h_name(name, sizeof name, "maxb");
    h_path(path, sizeof path, name);
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_CREATE;
    o.max_bytes = SHMKV_MIN_BYTES - 1;
    CHECK_RC(shmkv_open(name, &o, &db), -EINVAL);
    o.max_bytes = 1;
    CHECK_RC(shmkv_open(name, &o, &db), -EINVAL);
    o.max_bytes = (8ULL << 40) + 1;
    CHECK_RC(shmkv_open(name, &o, &db), -EINVAL);
    o.max_bytes = UINT64_MAX;
    CHECK_RC(shmkv_open(name, &o, &db), -EINVAL);
    CHECK(!exists(path));
    o.max_bytes = SHMKV_MIN_BYTES; /* the smallest accepted */
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    if (db) {
        CHECK_RC(shmkv_stat(db, &st), 0);
        CHECK_EQ_U64(st.max_bytes, SHMKV_MIN_BYTES);
        CHECK(h_file_size(path) <= (long long)SHMKV_MIN_BYTES);
        for (int i = 0; i < 20; i++) {
            char k[16];
            int kl = snprintf(k, sizeof k, "key%d", i);
            CHECK_RC(shmkv_put(db, k, (size_t)kl, k, (size_t)kl), 0);
        }
        CHECK_EQ_U64(shmkv_count(db), 20);
        /* a pair larger than the whole max_bytes: -E2BIG, nothing changed */
        unsigned char *big = calloc(1, SHMKV_MIN_BYTES + 1);
        CHECK_RC(shmkv_put(db, "big", 3, big, SHMKV_MIN_BYTES + 1), -E2BIG);
        CHECK_RC(shmkv_put(db, "key0", 4, big, SHMKV_MIN_BYTES), -E2BIG);
        CHECK_RC(shmkv_add(db, "big", 3, big, SHMKV_MIN_BYTES), -E2BIG);
        CHECK_RC(shmkv_replace(db, "key0", 4, big, SHMKV_MIN_BYTES), -E2BIG);
        CHECK_VAL(db, "key0", 4, "key0", 4);
        CHECK_ABSENT(db, "big", 3);
        CHECK_EQ_U64(shmkv_count(db), 20);
        free(big);
        shmkv_close(db);
    }

    /* bad arguments to open */
    o.flags = SHMKV_CREATE;
    o.max_bytes = 0;
    CHECK_RC(shmkv_open(NULL, &o, &db), -EINVAL);
    CHECK_RC(shmkv_open("", &o, &db), -EINVAL);
    CHECK_RC(shmkv_open(NULL, NULL, &db), -EINVAL);
    h_name(name, sizeof name, "nullout");
    h_path(path, sizeof path, name);
    CHECK_RC(shmkv_open(name, &o, NULL), -EINVAL);
    CHECK(!exists(path));
}

/* ------------------------------------------------------------------------ */

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

static void test_names(void)
{
    char name[PATH_MAX], path[PATH_MAX], dir[1024];
    shmkv *db = NULL;
    shmkv_options o = { .flags = SHMKV_CREATE };

    /* a name without '/' lands in $SHMKV_DIR */
    h_name(name, sizeof name, "indir");
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    h_path(path, sizeof path, name);
    CHECK(exists(path));
    CHECK_RC(shmkv_put(db, "k", 1, "v", 1), 0);
    shmkv_close(db);

    /* a name with '/' is a path */
    h_path(dir, sizeof dir, "subdir");
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/table-in-subdir", dir);
    CHECK_RC(shmkv_open(path, &o, &db), 0);
    CHECK(exists(path));
    {
        char wrong[PATH_MAX];
        h_path(wrong, sizeof wrong, "table-in-subdir");
        CHECK(!exists(wrong));
    }
    CHECK_RC(shmkv_put(db, "p", 1, "q", 1), 0);
    shmkv_close(db);
    o.flags = 0;
    CHECK_RC(shmkv_open(path, &o, &db), 0);
    CHECK_VAL(db, "p", 1, "q", 1);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(path), 0);
    CHECK(!exists(path));

    /* a relative path with '/' is relative to the working directory */
    char cwd[PATH_MAX];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    o.flags = SHMKV_CREATE;
    CHECK_RC(shmkv_open("./relative-table", &o, &db), 0);
    snprintf(path, sizeof path, "%s/relative-table", dir);
    CHECK(exists(path));
    shmkv_close(db);
    CHECK_RC(shmkv_unlink("./relative-table"), 0);
    CHECK(!exists(path));
    CHECK(chdir(cwd) == 0);

    /* $SHMKV_DIR unset: /dev/shm */
    {
        char saved[PATH_MAX];
        snprintf(saved, sizeof saved, "%s", getenv("SHMKV_DIR"));
        char devshm_name[128];
        h_name(devshm_name, sizeof devshm_name, "shmkv-test-api-devshm");
        snprintf(path, sizeof path, "/dev/shm/%s", devshm_name);
        h_cleanup_path(path);
        unsetenv("SHMKV_DIR");
        CHECK_RC(shmkv_open(devshm_name, &o, &db), 0);
        CHECK(exists(path));
        shmkv_close(db);
        CHECK_RC(shmkv_unlink(devshm_name), 0);
        CHECK(!exists(path));
        setenv("SHMKV_DIR", saved, 1);
    }

    /* $SHMKV_DIR pointing to a missing directory; a path in a missing one */
    {
        char missing_dir[PATH_MAX];
        h_path(missing_dir, sizeof missing_dir, "no-such-dir");
        setenv("SHMKV_DIR", missing_dir, 1);
        CHECK_RC(shmkv_open("x", &o, &db), -ENOENT);
        CHECK_RC(shmkv_unlink("x"), -ENOENT);
        setenv("SHMKV_DIR", h_dir(), 1);
        snprintf(path, sizeof path, "%s/no-such-dir/sub/table", h_dir());
        CHECK_RC(shmkv_open(path, &o, &db), -ENOENT);
        o.flags = 0;
        CHECK_RC(shmkv_open(path, &o, &db), -ENOENT);
        o.flags = SHMKV_CREATE;
        CHECK(!exists(missing_dir));
    }

    /* long names */
    {
        char n200[201];
        memset(n200, 'n', 200);
        n200[200] = 0;
        CHECK_RC(shmkv_open(n200, &o, &db), 0);
        h_path(path, sizeof path, n200);
        CHECK(exists(path));
        shmkv_close(db);
        CHECK_RC(shmkv_unlink(n200), 0);

        char n256[257];
        memset(n256, 'n', 256);
        n256[256] = 0;
        CHECK_RC(shmkv_open(n256, &o, &db), -ENAMETOOLONG);
        CHECK_RC(shmkv_unlink(n256), -ENAMETOOLONG);
        char *n5000 = malloc(5001);
        memset(n5000, 'n', 5000);
        n5000[5000] = 0;
        CHECK_RC(shmkv_open(n5000, &o, &db), -ENAMETOOLONG);
        /* a path longer than PATH_MAX, made of short components */
        snprintf(n5000, 5001, "%s", h_dir());
        size_t len = strlen(n5000);
        while (len + 11 < 5000) {
            memcpy(n5000 + len, "/abcdefghi", 10);
            len += 10;
        }
        n5000[len] = 0;
        CHECK_RC(shmkv_open(n5000, &o, &db), -ENAMETOOLONG);
        CHECK_RC(shmkv_unlink(n5000), -ENAMETOOLONG);
        free(n5000);
    }

    /* a symbolic link is never followed; its target stays untouched */
    {
        char target[128], tpath[PATH_MAX], lpath[PATH_MAX];
        shmkv *t = open_new(target, sizeof target, "symtarget");
        CHECK_RC(shmkv_put(t, "tk", 2, "tv", 2), 0);
        shmkv_close(t);
        h_path(tpath, sizeof tpath, target);
        size_t before_len = 0, after_len = 0;
        void *before = h_read_file(tpath, &before_len);
        CHECK(before != NULL);

        h_path(lpath, sizeof lpath, "symlink");
        CHECK(symlink(tpath, lpath) == 0);
        unsigned flag_sets[] = { 0, SHMKV_CREATE, SHMKV_RDONLY, SHMKV_CREATE | SHMKV_RDONLY };
        for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
            shmkv_options so = { .flags = flag_sets[i] };
            db = NULL;
            int rc = shmkv_open("symlink", &so, &db);
            CHECKF(rc == -ELOOP, "flags %#x: open of a symlink returned %s", flag_sets[i],
                   h_errname(rc));
            if (rc == 0)
                shmkv_close(db);
            rc = shmkv_open(lpath, &so, &db);
            CHECKF(rc == -ELOOP, "flags %#x: open of a symlink path returned %s",
                   flag_sets[i], h_errname(rc));
            if (rc == 0)
                shmkv_close(db);
        }
        void *after = h_read_file(tpath, &after_len);
        CHECK(after != NULL);
        CHECK(before_len == after_len);
        if (before && after && before_len == after_len)
            CHECK(memcmp(before, after, before_len) == 0);
        free(before);
        free(after);
        struct stat lst;
        CHECK(lstat(lpath, &lst) == 0 && S_ISLNK(lst.st_mode));

        /* a dangling symlink: the target must not be created */
        char dpath[PATH_MAX], dtarget[PATH_MAX];
        h_path(dpath, sizeof dpath, "dangling");
        h_path(dtarget, sizeof dtarget, "dangling-target");
        CHECK(symlink(dtarget, dpath) == 0);
        CHECK_RC(shmkv_open("dangling", &o, &db), -ELOOP);
        CHECK(!exists(dtarget));

        /* the target still works */
        o.flags = 0;
        CHECK_RC(shmkv_open(target, &o, &t), 0);
        CHECK_VAL(t, "tk", 2, "tv", 2);
        shmkv_close(t);
        o.flags = SHMKV_CREATE;
    }

    /* a directory */
    {
        char dpath[PATH_MAX];
        h_path(dpath, sizeof dpath, "a-directory");
        CHECK(mkdir(dpath, 0700) == 0);
        unsigned flag_sets[] = { 0, SHMKV_CREATE, SHMKV_RDONLY, SHMKV_CREATE | SHMKV_RDONLY };
        for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
            shmkv_options so = { .flags = flag_sets[i] };
            db = NULL;
            int rc = shmkv_open("a-directory", &so, &db);
            CHECKF(rc == -EISDIR, "flags %#x: open of a directory returned %s",
                   flag_sets[i], h_errname(rc));
            if (rc == 0)
                shmkv_close(db);
            rc = shmkv_open(dpath, &so, &db);
            CHECKF(rc == -EISDIR, "flags %#x: open of a directory path returned %s",
                   flag_sets[i], h_errname(rc));
            if (rc == 0)
                shmkv_close(db);
        }
        CHECK_EQ_INT(h_dir_entries(dpath), 0);
    }
}

/* ------------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------------ */

static void test_mode(void)
{
    char name[128], path[PATH_MAX];
    shmkv *db = NULL;
    mode_t old = umask(077);
    struct {
        unsigned mode, want;
    } cases[] = { { 0, 0600 }, { 0644, 0644 }, { 0666, 0666 }, { 0640, 0640 }, { 0400, 0400 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* (a table its owner may not write is attached read-only, so the
         * test also works for a user other than root) */
        int writable = !cases[i].mode || (cases[i].mode & 0200);
        shmkv_options o = { .flags = SHMKV_CREATE | (writable ? 0 : SHMKV_RDONLY),
                            .mode = cases[i].mode };
        h_name(name, sizeof name, "mode");
        h_path(path, sizeof path, name);
        CHECK_RC(shmkv_open(name, &o, &db), 0);
        CHECKF(h_file_mode(path) == (int)cases[i].want, "mode %#o: file has %#o, want %#o",
               cases[i].mode, h_file_mode(path), cases[i].want);
        if (db) {
            CHECK_RC(shmkv_put(db, "k", 1, "v", 1), writable ? 0 : -EROFS);
            shmkv_close(db);
        }
        /* reopening with another mode does not change the file's */
        o.flags = SHMKV_CREATE | SHMKV_RDONLY;
        o.mode = 0604;
        CHECK_RC(shmkv_open(name, &o, &db), 0);
        CHECK_EQ_INT(h_file_mode(path), (int)cases[i].want);
        shmkv_close(db);
    }
    /* with a permissive umask the default is still 0600 */
    umask(0);
    h_name(name, sizeof name, "mode-umask0");
    h_path(path, sizeof path, name);
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    CHECK_EQ_INT(h_file_mode(path), 0600);
    shmkv_close(db);
    umask(old);
}

/* ------------------------------------------------------------------------ */

static void test_reopen(void)
{
    char name[128];
    shmkv *db = NULL;
    shmkv_options o = { .flags = SHMKV_CREATE, .max_bytes = 8u << 20, .expected_keys = 5000 };
    h_name(name, sizeof name, "reopen");
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    unsigned char v[100];
    for (int i = 0; i < 1000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "r%d", i);
        h_val_make(v, sizeof v, k, (size_t)kl, (uint64_t)i);
        CHECK_RC(shmkv_put(db, k, (size_t)kl, v, sizeof v), 0);
    }
    shmkv_stats s1, s2;
    CHECK_RC(shmkv_stat(db, &s1), 0);
    CHECK_EQ_U64(s1.max_bytes, 8u << 20);
    shmkv_close(db);

    shmkv_options o2 = { .flags = SHMKV_CREATE, .max_bytes = 64u << 20,
                         .expected_keys = 1000000 };
    for (int round = 0; round < 3; round++) {
        const shmkv_options *op = round == 0 ? &o2 : round == 1 ? NULL : &o;
        CHECK_RC(shmkv_open(name, op, &db), 0);
        CHECK_RC(shmkv_stat(db, &s2), 0);
        CHECK_EQ_U64(s2.max_bytes, s1.max_bytes);
        CHECK_EQ_U64(s2.shards, s1.shards);
        CHECK_EQ_U64(s2.buckets, s1.buckets);
        CHECK_EQ_U64(s2.keys, 1000);
        CHECK_EQ_U64(s2.live_bytes, s1.live_bytes);
        CHECK_EQ_U64(s2.puts, 1000);
        int bad = 0;
        for (int i = 0; i < 1000; i++) {
            char k[16];
            int kl = snprintf(k, sizeof k, "r%d", i);
            unsigned char buf[200];
            size_t vl = 0;
            uint64_t seq = 0;
            if (shmkv_get(db, k, (size_t)kl, buf, sizeof buf, &vl) != 0 || vl != sizeof v ||
                !h_val_check(buf, vl, k, (size_t)kl, &seq) || seq != (uint64_t)i)
                bad++;
        }
        CHECK_EQ_INT(bad, 0);
        shmkv_close(db);
    }
}

/* ------------------------------------------------------------------------ */

static void test_unlink(void)
{
    char name[128], path[PATH_MAX];
    shmkv *db = open_new(name, sizeof name, "unlink");
    h_path(path, sizeof path, name);
    shmkv *db2 = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db2), 0);
    CHECK_RC(shmkv_put(db, "k", 1, "v", 1), 0);
    CHECK_RC(shmkv_unlink(name), 0);
    CHECK(!exists(path));
    shmkv_options o = { 0 };
    shmkv *x = NULL;
    CHECK_RC(shmkv_open(name, &o, &x), -ENOENT);
    o.flags = SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &x), -ENOENT);
    CHECK_RC(shmkv_unlink(name), -ENOENT);
    /* open handles keep working on the old table */
    CHECK_RC(shmkv_put(db, "k2", 2, "v2", 2), 0);
    CHECK_VAL(db2, "k", 1, "v", 1);
    CHECK_VAL(db2, "k2", 2, "v2", 2);
    /* a new table of that name is a different, empty one */
    CHECK_RC(shmkv_open(name, NULL, &x), 0);
    CHECK_EQ_U64(shmkv_count(x), 0);
    CHECK_RC(shmkv_put(x, "new", 3, "t", 1), 0);
    CHECK_ABSENT(db, "new", 3);
    CHECK_EQ_U64(shmkv_count(db), 2);
    shmkv_close(x);
    shmkv_close(db);
    shmkv_close(db2);
    CHECK_RC(shmkv_unlink(name), 0);
    char missing[128];
    h_name(missing, sizeof missing, "never-created");
    CHECK_RC(shmkv_unlink(missing), -ENOENT);
}

/* ------------------------------------------------------------------------ */

/* In a child (so a crash is reported as such): every way of opening the
 * file gives -EBADMSG and leaves it as it was. */
static void expect_badmsg(const char *path, const char *what)
{
    size_t before_len = 0;
    void *before = h_read_file(path, &before_len);
    int entries = h_dir_entries(h_dir());
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        unsigned flag_sets[] = { 0, SHMKV_CREATE, SHMKV_RDONLY, SHMKV_CREATE | SHMKV_RDONLY };
        for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
            shmkv_options o = { .flags = flag_sets[i] };
            shmkv *db = NULL;
            int rc = shmkv_open(path, &o, &db);
            CHECKF(rc == -EBADMSG, "%s, flags %#x: open returned %s, expected -EBADMSG", what,
                   flag_sets[i], h_errname(rc));
            if (rc == 0)
                shmkv_close(db);
        }
        h_child_exit();
    }
    h_wait(pid, what);
    size_t after_len = 0;
    void *after = h_read_file(path, &after_len);
    CHECKF(before && after && before_len == after_len && memcmp(before, after, before_len) == 0,
           "%s: a failed open changed the file", what);
    CHECKF(h_dir_entries(h_dir()) == entries, "%s: a failed open left files behind", what);
    free(before);
    free(after);
}

static void make_real_table(const char *path, int keys)
{
    shmkv *db = NULL;
    shmkv_options o = { .flags = SHMKV_CREATE };
    unlink(path);
    CHECK_RC(shmkv_open(path, &o, &db), 0);
    if (!db)
        return;
    unsigned char v[64];
    for (int i = 0; i < keys; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "c%d", i);
        h_val_make(v, sizeof v, k, (size_t)kl, (uint64_t)i);
        CHECK_RC(shmkv_put(db, k, (size_t)kl, v, sizeof v), 0);
    }
    shmkv_close(db);
}

static void patch_file(const char *path, long off, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, data, len, off) == (ssize_t)len);
    close(fd);
}

static void test_corrupt(void)
{
    char path[PATH_MAX];
    h_rng r = h_rng_new(1234);

    h_path(path, sizeof path, "corrupt-empty");
    CHECK(h_write_file(path, "", 0) == 0);
    expect_badmsg(path, "an empty file");

    h_path(path, sizeof path, "corrupt-tiny");
    CHECK(h_write_file(path, "shmkv", 5) == 0);
    expect_badmsg(path, "a 5-byte file");

    h_path(path, sizeof path, "corrupt-random");
    size_t rlen = 1u << 20;
    unsigned char *rnd = malloc(rlen);
    h_fill_random(&r, rnd, rlen);
    CHECK(h_write_file(path, rnd, rlen) == 0);
    expect_badmsg(path, "a file of random bytes");
    free(rnd);

    h_path(path, sizeof path, "corrupt-zeros");
    unsigned char *zeros = calloc(1, 1u << 20);
    CHECK(h_write_file(path, zeros, 1u << 20) == 0);
    expect_badmsg(path, "a file of zeros");
    free(zeros);

    /* a real table with its magic changed */
    h_path(path, sizeof path, "corrupt-magic");
    make_real_table(path, 100);
    {
        size_t len = 0;
        unsigned char *f = h_read_file(path, &len);
        CHECK(f && len >= 12);
        if (f && len >= 12) {
            unsigned char m[8];
            for (int i = 0; i < 8; i++)
                m[i] = f[i] ^ 0xFF;
            patch_file(path, 0, m, 8);
            expect_badmsg(path, "a table with a wrong magic");
            /* one byte of the magic is enough */
            patch_file(path, 0, f, 8);
            unsigned char b = f[3] ^ 0x01;
            patch_file(path, 3, &b, 1);
            expect_badmsg(path, "a table with one bit of its magic flipped");
        }
        free(f);
    }

    /* a real table with another format version */
    h_path(path, sizeof path, "corrupt-version");
    make_real_table(path, 100);
    {
        size_t len = 0;
        unsigned char *f = h_read_file(path, &len);
        CHECK(f && len >= 12);
        if (f && len >= 12) {
            uint32_t ver;
            memcpy(&ver, f + 8, 4);
            uint32_t other = ver + 1;
            patch_file(path, 8, &other, 4);
            expect_badmsg(path, "a table of format version + 1");
            other = ver ^ 0x80000000u;
            patch_file(path, 8, &other, 4);
            expect_badmsg(path, "a table of a far other format version");
            /* and the untouched table still opens */
            patch_file(path, 8, &ver, 4);
            shmkv *db = NULL;
            CHECK_RC(shmkv_open(path, NULL, &db), 0);
            CHECK_EQ_U64(shmkv_count(db), 100);
            shmkv_close(db);
        }
        free(f);
    }

    /* a real table truncated */
    h_path(path, sizeof path, "corrupt-trunc100");
    make_real_table(path, 100);
    CHECK(truncate(path, 100) == 0);
    expect_badmsg(path, "a table truncated to 100 bytes");

    h_path(path, sizeof path, "corrupt-trunc8");
    make_real_table(path, 100);
    CHECK(truncate(path, 8) == 0);
    expect_badmsg(path, "a table truncated to 8 bytes");

    h_path(path, sizeof path, "corrupt-trunc-half");
    make_real_table(path, 2000);
    {
        long long sz = h_file_size(path);
        CHECK(sz > 8192);
        CHECK(truncate(path, (off_t)(sz / 2)) == 0);
        expect_badmsg(path, "a table truncated to half its size");
    }
}

/*
 * Random damage anywhere in a real table: whatever open and the operations
 * return, none of them may crash or hang (each case in a child with an
 * alarm).  Return codes must be ones the header documents.
 */
static int fuzz_rc_ok(int rc)
{
    return rc == 0 || rc == -ENOENT || rc == -EBADMSG || rc == -ENOSPC || rc == -EEXIST ||
           rc == -ENOMEM || rc == -ENOBUFS || rc == -EAGAIN || rc == -ETIMEDOUT;
}

static int fuzz_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key;
    (void)val;
    size_t *sum = ctx;
    *sum += klen + vlen;
    return 0;
}

static void test_corrupt_fuzz(void)
{
    char clean[PATH_MAX], path[PATH_MAX];
    h_path(clean, sizeof clean, "fuzz-clean");
    make_real_table(clean, 300);
    size_t len = 0;
    unsigned char *orig = h_read_file(clean, &len);
    CHECK(orig != NULL && len > 0);
    if (!orig)
        return;
    unsigned char *f = malloc(len);
    h_rng r = h_rng_new(777);
    int cases = H_ASAN ? 40 : 80;
    int *opened = h_shm_alloc(sizeof *opened);
    for (int c = 0; c < cases; c++) {
        memcpy(f, orig, len);
        /* damage: a few random bytes; half the time only in the first 64 KiB
         * (header and index), where it hurts most */
        int nflip = 1 + (int)h_below(&r, 16);
        size_t range = (c % 2 && len > 65536) ? 65536 : len;
        for (int i = 0; i < nflip; i++) {
            size_t off = (size_t)h_below(&r, range);
            if (c % 4 == 3 && off < 16)
                off += 16; /* leave the magic and version alone sometimes */
            f[off] = (unsigned char)h_rand(&r);
        }
        snprintf(path, sizeof path, "%s/fuzz-%d", h_dir(), c);
        CHECK(h_write_file(path, f, len) == 0);
        pid_t pid = h_fork();
        if (pid == 0) {
            alarm(30);
            unsigned flag_sets[] = { SHMKV_RDONLY, 0 };
            for (int fi = 0; fi < 2; fi++) {
                shmkv_options o = { .flags = flag_sets[fi] };
                shmkv *db = NULL;
                int rc = shmkv_open(path, &o, &db);
                CHECKF(rc == 0 || rc == -EBADMSG || rc == -ENOMEM,
                       "fuzz case %d: open returned %s", c, h_errname(rc));
                if (rc != 0)
                    continue;
                if (fi == 0)
                    __atomic_add_fetch(opened, 1, __ATOMIC_RELAXED);
                for (int i = 0; i < 300; i++) {
                    char k[16];
                    int kl = snprintf(k, sizeof k, "c%d", i);
                    unsigned char buf[128];
                    size_t vl = 0;
                    rc = shmkv_get(db, k, (size_t)kl, buf, sizeof buf, &vl);
                    CHECKF(fuzz_rc_ok(rc), "fuzz case %d: get returned %s", c, h_errname(rc));
                    void *a = NULL;
                    rc = shmkv_get_alloc(db, k, (size_t)kl, &a, &vl);
                    CHECKF(fuzz_rc_ok(rc), "fuzz case %d: get_alloc returned %s", c,
                           h_errname(rc));
                    if (rc == 0)
                        free(a);
                }
                size_t sum = 0;
                rc = shmkv_foreach(db, fuzz_visit, &sum);
                CHECKF(fuzz_rc_ok(rc), "fuzz case %d: foreach returned %s", c, h_errname(rc));
                shmkv_stats st;
                (void)shmkv_count(db);
                (void)shmkv_stat(db, &st);
                rc = shmkv_check(db, NULL);
                CHECKF(rc == 0 || rc == -EBADMSG || rc == -ETIMEDOUT || rc == -ENOMEM,
                       "fuzz case %d: shmkv_check returned %s", c, h_errname(rc));
                if (!(flag_sets[fi] & SHMKV_RDONLY)) {
                    /* (a damaged lock costs each write a 1 s wait: stop writing
                     * at the first sign of damage) */
                    int damaged = 0;
                    for (int i = 0; i < 300 && !damaged; i += 3) {
                        char k[16];
                        int kl = snprintf(k, sizeof k, "c%d", i);
                        rc = shmkv_put(db, k, (size_t)kl, "new value", 9);
                        CHECKF(fuzz_rc_ok(rc), "fuzz case %d: put returned %s", c,
                               h_errname(rc));
                        kl = snprintf(k, sizeof k, "n%d", i);
                        rc = shmkv_put(db, k, (size_t)kl, "fresh", 5);
                        CHECKF(fuzz_rc_ok(rc), "fuzz case %d: put returned %s", c,
                               h_errname(rc));
                        damaged |= rc == -EBADMSG || rc == -ETIMEDOUT;
                        kl = snprintf(k, sizeof k, "c%d", i + 1);
                        rc = shmkv_del(db, k, (size_t)kl);
                        CHECKF(fuzz_rc_ok(rc), "fuzz case %d: del returned %s", c,
                               h_errname(rc));
                        damaged |= rc == -EBADMSG || rc == -ETIMEDOUT;
                    }
                }
                shmkv_close(db);
            }
            h_child_exit();
        }
        char what[64];
        snprintf(what, sizeof what, "fuzz case %d", c);
        int status = h_wait(pid, what);
        const char *keep = getenv("SHMKV_TEST_ARTIFACTS");
        if (status != 0 && keep && *keep) {
            /* keep the damaged file that broke the library */
            char kept[PATH_MAX + 64];
            snprintf(kept, sizeof kept, "%s/fuzz-case-%d-pid%d", keep, c, (int)getpid());
            if (h_write_file(kept, f, len) == 0)
                h_note("fuzz case %d: damaged table kept as %s", c, kept);
        }
        unlink(path);
    }
    h_note("corrupt fuzz: %d of %d damaged tables opened", *opened, cases);
    h_shm_free(opened, sizeof *opened);
    free(f);
    free(orig);
}

/* ------------------------------------------------------------------------ */

static void test_check(void)
{
    char name[128], path[PATH_MAX];
    CHECK_RC(shmkv_check(NULL, NULL), -EINVAL);
    CHECK_RC(shmkv_check(NULL, stdout), -EINVAL);

    /* sound tables: empty, after all kinds of writes, read-only */
    shmkv *db = open_new(name, sizeof name, "check");
    h_path(path, sizeof path, name);
    CHECK_TABLE(db, "an empty table");
    CHECK_RC(shmkv_check(db, NULL), 0);
    h_rng r = h_rng_new(3);
    unsigned char *v = malloc(200000);
    for (int i = 0; i < 3000; i++) {
        char k[80];
        int kl = snprintf(k, sizeof k, "check-key-%04d-padding-padding-padding-padding-"
                          "padding-padding", i);
        size_t vl = i % 100 == 0 ? 70000 + (size_t)h_below(&r, 100000)
                                 : (size_t)h_below(&r, 500);
        h_fill_random(&r, v, vl);
        CHECK_RC(shmkv_put(db, k, (size_t)kl, v, vl), 0);
        if (i % 3 == 0)
            CHECK_RC(shmkv_put(db, k, (size_t)kl, v, vl / 2), 0);
        if (i % 7 == 0)
            CHECK_RC(shmkv_del(db, k, (size_t)kl), 0);
    }
    CHECK_TABLE(db, "after 3000 puts, overwrites and deletes");
    shmkv_options o = { .flags = SHMKV_RDONLY };
    shmkv *ro = NULL;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    if (ro) {
        CHECK_TABLE(ro, "read-only handle");
        shmkv_close(ro);
    }
    shmkv_close(db);

    /* damage: one byte in the stored key of several records.  Records
     * are found by their key bytes, so this needs no knowledge of the
     * format.  The checker must notice, and reads must not crash. */
    size_t len = 0;
    unsigned char *f = h_read_file(path, &len);
    CHECK(f != NULL);
    int damaged = 0;
    for (int i = 1; f && i < 3000 && damaged < 8; i += 97) {
        if (i % 7 == 0)
            continue;
        char k[80];
        int kl = snprintf(k, sizeof k, "check-key-%04d-padding-padding-padding-padding-"
                          "padding-padding", i);
        unsigned char *hit = memmem(f, len, k, (size_t)kl);
        if (hit) {
            hit[kl / 2] ^= 0x20;
            damaged++;
        }
    }
    CHECK(damaged == 8);
    if (f)
        CHECK(h_write_file(path, f, len) == 0);
    free(f);
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        db = NULL;
        int rc = shmkv_open(name, NULL, &db);
        CHECKF(rc == 0 || rc == -EBADMSG, "open of a table with damaged records: %s",
               h_errname(rc));
        if (rc == 0) {
            char *rep = NULL;
            size_t replen = 0;
            FILE *mf = open_memstream(&rep, &replen);
            rc = shmkv_check(db, mf);
            fclose(mf);
            CHECKF(rc == -EBADMSG && replen > 0,
                   "shmkv_check of a table with 8 damaged keys returned %s, report of %zu bytes",
                   h_errname(rc), replen);
            free(rep);
            for (int i = 0; i < 3000; i++) {
                char k[80];
                int kl = snprintf(k, sizeof k, "check-key-%04d-padding-padding-padding-"
                                  "padding-padding-padding", i);
                size_t vl = 0;
                void *a = NULL;
                rc = shmkv_get_alloc(db, k, (size_t)kl, &a, &vl);
                CHECK(rc == 0 || rc == -ENOENT || rc == -EBADMSG);
                if (rc == 0)
                    free(a);
            }
            shmkv_close(db);
        }
        h_child_exit();
    }
    h_wait(pid, "reading a table with damaged keys");
    free(v);
}

/* ------------------------------------------------------------------------ */

static void test_two_handles(void)
{
    char name[128];
    shmkv *a = open_new(name, sizeof name, "two");
    shmkv *b = NULL;
    CHECK_RC(shmkv_open(name, NULL, &b), 0);
    CHECK(a != b);
    CHECK_RC(shmkv_put(a, "x", 1, "1", 1), 0);
    CHECK_VAL(b, "x", 1, "1", 1);
    CHECK_RC(shmkv_put(b, "x", 1, "22", 2), 0);
    CHECK_VAL(a, "x", 1, "22", 2);
    CHECK_RC(shmkv_add(a, "x", 1, "3", 1), -EEXIST);
    CHECK_RC(shmkv_del(b, "x", 1), 0);
    CHECK_ABSENT(a, "x", 1);
    /* the table grows through one handle, the other sees all of it */
    unsigned char v[200];
    for (int i = 0; i < 20000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "g%d", i);
        h_val_make(v, sizeof v, k, (size_t)kl, (uint64_t)i);
        CHECK_RC(shmkv_put(a, k, (size_t)kl, v, sizeof v), 0);
    }
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "g%d", i);
        unsigned char buf[256];
        size_t vl = 0;
        uint64_t seq;
        if (shmkv_get(b, k, (size_t)kl, buf, sizeof buf, &vl) != 0 ||
            !h_val_check(buf, vl, k, (size_t)kl, &seq) || seq != (uint64_t)i)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_U64(shmkv_count(b), 20000);
    shmkv_close(a);
    CHECK_EQ_U64(shmkv_count(b), 20000); /* closing one leaves the other working */
    CHECK_RC(shmkv_put(b, "after", 5, "close", 5), 0);
    shmkv_close(b);
}

/* Run one part; say so when it was slow. */
#define RUN(fn)                                                            \
    do {                                                                   \
        double t0_ = h_now();                                              \
        fn();                                                              \
        double dt_ = h_now() - t0_;                                        \
        if (dt_ > 1.0)                                                     \
            h_note("%s took %.1f s", #fn, dt_);                            \
    } while (0)

int main(void)
{
    h_init("test_api");
    RUN(test_open_flags);
    RUN(test_bad_args);
    RUN(test_names);
    RUN(test_semantics);
    RUN(test_get_many);
    RUN(test_sizes);
    RUN(test_foreach);
    RUN(test_foreach_reentrant);
    RUN(test_count_stat);
    RUN(test_strerror);
    RUN(test_mode);
    RUN(test_reopen);
    RUN(test_unlink);
    RUN(test_two_handles);
    RUN(test_check);
    RUN(test_corrupt);
    RUN(test_corrupt_fuzz);
    return h_done();
}
