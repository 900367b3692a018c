/*
 * test_corrupt.c - tables that are not sound: shmkv_check on sound tables
 * and on tables with damaged records, files that are not tables (empty,
 * random, another magic or format version, truncated), and real tables
 * damaged at random.  Whatever is opened that way runs in a forked child,
 * so a crash or a hang is told apart from a wrong answer.
 */
#include "harness.h"
#include "api_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ------------------------------------------------------------------------ */

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

static const struct h_part parts[] = {
    { "check", test_check },
    { "headers", test_corrupt },
    { "random", test_corrupt_fuzz },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_corrupt", parts, H_NPARTS(parts));
}
