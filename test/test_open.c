/*
 * test_open.c - opening tables: every flag and its errors, max_bytes
 * limits, names and paths ($SHMKV_DIR, relative and long paths, symbolic
 * links, directories), file modes, reopening with other options, unlink,
 * two handles of one table in one process, and mappings on 2 MiB
 * boundaries (for huge pages); and, in the test build, the tables' hash
 * seeds made from $SHMKV_TEST_TABLE_SEED, which the harness sets and
 * names when a test fails (the same value, the same seeds).
 */
#include "harness.h"
#include "api_helpers.h"
#include "format.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The start of path's mapping in this process, from /proc/self/maps; 0
 * if it is not mapped. */
static unsigned long mapping_of(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 128];
    unsigned long lo = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        size_t n = strlen(line), k = strlen(path);
        if (n >= k && strcmp(line + n - k, path) == 0 && sscanf(line, "%lx-", &lo) == 1)
            break;
        lo = 0;
    }
    if (f)
        fclose(f);
    return lo;
}

/* Every handle maps its table at a 2 MiB boundary (read-only ones too),
 * so that a file system that gives huge pages can map them. */
static void test_huge_aligned(void)
{
    char name[64], path[PATH_MAX];
    h_name(name, sizeof name, "aligned");
    h_path(path, sizeof path, name);
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = 3u << 20};
    shmkv *a, *b, *ro;
    CHECK_RC(shmkv_open(name, &o, &a), 0);
    o.flags = 0;
    CHECK_RC(shmkv_open(name, &o, &b), 0);
    o.flags = SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    char real[PATH_MAX];
    CHECK(realpath(path, real) != NULL);
    unsigned long first = mapping_of(real);
    CHECKF(first != 0, "%s is not mapped", real);
    CHECKF(first % (2ul << 20) == 0, "mapped at %#lx", first);
    /* every mapping of it, not only the first */
    FILE *f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 128];
    int seen = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo;
        if (strstr(line, real) && sscanf(line, "%lx-", &lo) == 1) {
            seen++;
            CHECKF(lo % (2ul << 20) == 0, "a mapping at %#lx", lo);
        }
    }
    if (f)
        fclose(f);
    CHECK_EQ_INT(seen, 3);
    CHECK_RC(shmkv_put(a, "k", 1, "v", 1), 0);
    CHECK_VAL(ro, "k", 1, "v", 1);
    shmkv_close(ro);
    shmkv_close(b);
    shmkv_close(a);
    CHECK_EQ_U64(mapping_of(real), 0); /* closing unmaps all of it */
    CHECK_RC(shmkv_unlink(name), 0);
}

/* The hash seeds in table name's header. */
static void seeds_of(const char *name, uint64_t seed[2])
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", h_dir(), name);
    size_t len = 0;
    struct hdr *h = h_read_file(path, &len);
    CHECK(h && len >= sizeof *h);
    seed[0] = h && len >= sizeof *h ? h->seed[0] : 0;
    seed[1] = h && len >= sizeof *h ? h->seed[1] : 0;
    free(h);
}

/* In a child: with $SHMKV_TEST_TABLE_SEED set to env (unset if NULL),
 * create two tables and put their seeds in out[0..3]. */
static void seeds_made(const char *env, const char *tag, uint64_t *out)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        if (env)
            setenv("SHMKV_TEST_TABLE_SEED", env, 1);
        else
            unsetenv("SHMKV_TEST_TABLE_SEED");
        for (int i = 0; i < 2; i++) {
            char name[64];
            snprintf(name, sizeof name, "seeds-%s-%d", tag, i);
            shmkv *db = NULL;
            CHECK_RC(shmkv_open(name, NULL, &db), 0);
            shmkv_close(db);
            seeds_of(name, out + 2 * i);
            shmkv_unlink(name);
        }
        h_child_exit();
    }
    h_wait(pid, tag);
}

static void test_table_seeds(void)
{
    const char *set = getenv("SHMKV_TEST_TABLE_SEED");
    CHECKF(set && *set, "the harness did not set SHMKV_TEST_TABLE_SEED");
    uint64_t *s = h_shm_alloc(16 * sizeof *s); /* 4 runs of 2 tables, 2 words each */
    seeds_made("12345", "a", s);
    seeds_made("12345", "b", s + 4);
    seeds_made("12346", "c", s + 8);
    seeds_made(NULL, "d", s + 12);
    for (int w = 0; w < 4; w++)
        CHECKF(s[w] == s[4 + w], "the same value gave other seeds (word %d)", w);
    CHECK(s[0] != s[2] && s[1] != s[3]); /* a process's second table has its own */
    CHECK(s[0] != s[8] && s[2] != s[10]); /* another value, others */
    CHECK(s[12] != s[0] && s[12] != s[8] && s[12] != s[14]); /* unset: random */
    for (int w = 0; w < 16; w++)
        CHECKF(s[w], "seed word %d is 0", w);
    h_shm_free(s, 16 * sizeof *s);
}

static const struct h_part parts[] = {
    { "flags", test_open_flags },
    { "names", test_names },
    { "mode", test_mode },
    { "reopen", test_reopen },
    { "unlink", test_unlink },
    { "two_handles", test_two_handles },
    { "huge_aligned", test_huge_aligned },
    { "table_seeds", test_table_seeds },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_open", parts, H_NPARTS(parts));
}
