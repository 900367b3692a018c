/*
 * test_rdonly.c - read-only handles (SHMKV_RDONLY):
 *  - read while another process writes continuously: every get validates,
 *    every write op returns -EROFS, foreach works (0, or -EAGAIN as the
 *    header allows under constant writes) and sees every pair nobody
 *    writes exactly once;
 *  - the reader sees the table grow;
 *  - a table file with mode 0400 opens read-only;
 *  - permissions: -EACCES where the caller may not open the file or
 *    directory (as an unprivileged user: a child drops to "nobody" when the
 *    test runs as root).
 */
#include "harness.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NKEYS 2000
#define NSTABLE 200 /* keys NKEYS..NKEYS+NSTABLE-1 are never written after setup */
#define BUF_CAP (160 * 1024)

static size_t make_key(char *k, int i)
{
    return (size_t)snprintf(k, 32, "ro-key-%d", i);
}

struct shared {
    int stop;
    int throttle_us; /* writer pause between operations */
    long writer_ops;
    int grow_phase; /* 1: writer inserts fresh keys "grow-%d"; 2: done, waiting;
                     * 0: normal writes */
    int grown;      /* how many grow keys exist (published after each put) */
};

static struct shared *S;

static void writer(const char *name)
{
    shmkv *db = NULL;
    alarm(120);
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        h_child_exit();
    h_rng r = h_rng_new(4242);
    unsigned char *v = malloc(BUF_CAP);
    uint64_t seq = 1;
    while (!__atomic_load_n(&S->stop, __ATOMIC_RELAXED)) {
        int phase = __atomic_load_n(&S->grow_phase, __ATOMIC_ACQUIRE);
        if (phase == 2) {
            h_sleep(0.001);
            continue;
        }
        if (phase == 1) {
            int g = S->grown;
            char k[32];
            size_t kl = (size_t)snprintf(k, sizeof k, "grow-%d", g);
            h_val_make(v, 100, k, kl, (uint64_t)g);
            CHECK_RC(shmkv_put(db, k, kl, v, 100), 0);
            __atomic_store_n(&S->grown, g + 1, __ATOMIC_RELEASE);
            if (g + 1 >= 100000)
                __atomic_store_n(&S->grow_phase, 2, __ATOMIC_RELEASE);
            continue;
        }
        int ki = (int)h_below(&r, NKEYS);
        char k[32];
        size_t kl = make_key(k, ki);
        size_t vl = h_below(&r, 50) == 0 ? 65536 + (size_t)h_below(&r, 65536)
                                         : H_VAL_MIN + (size_t)h_below(&r, 300);
        unsigned kind = (unsigned)h_below(&r, 10);
        if (kind < 7) {
            h_val_make(v, vl, k, kl, seq++);
            CHECK_RC(shmkv_put(db, k, kl, v, vl), 0);
        } else {
            int rc = shmkv_del(db, k, kl);
            CHECK(rc == 0 || rc == -ENOENT);
        }
        __atomic_add_fetch(&S->writer_ops, 1, __ATOMIC_RELAXED);
        int us = __atomic_load_n(&S->throttle_us, __ATOMIC_RELAXED);
        if (us)
            h_sleep(us * 1e-6);
    }
    free(v);
    shmkv_close(db);
    h_child_exit();
}

struct fe {
    int seen[NSTABLE];
    long pairs, bad;
};

static int fe_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct fe *c = ctx;
    c->pairs++;
    if (!h_val_check(val, vlen, key, klen, NULL)) {
        c->bad++;
        return 0;
    }
    char k[40];
    int i;
    if (klen < sizeof k) {
        memcpy(k, key, klen);
        k[klen] = 0;
        if (sscanf(k, "ro-key-%d", &i) == 1 && i >= NKEYS && i < NKEYS + NSTABLE)
            c->seen[i - NKEYS]++;
    }
    return 0;
}

/* Read for `secs` seconds; returns the number of successful foreach runs. */
static long read_phase(shmkv *ro, double secs, const char *what)
{
    h_rng r = h_rng_new(99);
    unsigned char *buf = malloc(BUF_CAP);
    struct fe *c = malloc(sizeof *c);
    long gets = 0, found = 0, bad = 0, erofs_bad = 0, fe_ok = 0, fe_again = 0, fe_bad = 0;
    double end = h_now() + secs;
    while (h_now() < end) {
        for (int j = 0; j < 200; j++) {
            int ki = (int)h_below(&r, NKEYS + NSTABLE);
            char k[32];
            size_t kl = make_key(k, ki);
            size_t vl = 0;
            int rc = shmkv_get(ro, k, kl, buf, BUF_CAP, &vl);
            gets++;
            if (rc == 0) {
                found++;
                if (!h_val_check(buf, vl, k, kl, NULL) && bad++ < 5)
                    CHECKF(0, "%s: get of %s gave an invalid value (%zu bytes)", what, k, vl);
            } else if (rc != -ENOENT || ki >= NKEYS) {
                if (bad++ < 5)
                    CHECKF(0, "%s: get of %s returned %s", what, k, h_errname(rc));
            }
            if (j % 10 == 0) {
                void *a = NULL;
                rc = shmkv_get_alloc(ro, k, kl, &a, &vl);
                if (rc == 0) {
                    if (!h_val_check(a, vl, k, kl, NULL) && bad++ < 5)
                        CHECKF(0, "%s: get_alloc of %s gave an invalid value", what, k);
                    free(a);
                } else if (rc != -ENOENT && bad++ < 5) {
                    CHECKF(0, "%s: get_alloc returned %s", what, h_errname(rc));
                }
                /* every write: -EROFS, whether the key exists or not */
                static const char v[H_VAL_MIN] = { 0 };
                erofs_bad += shmkv_put(ro, k, kl, v, sizeof v) != -EROFS;
                erofs_bad += shmkv_add(ro, k, kl, v, sizeof v) != -EROFS;
                erofs_bad += shmkv_replace(ro, k, kl, v, sizeof v) != -EROFS;
                erofs_bad += shmkv_del(ro, k, kl) != -EROFS;
                erofs_bad += shmkv_put(ro, "ro-never", 8, NULL, 0) != -EROFS;
                erofs_bad += shmkv_del(ro, "ro-never", 8) != -EROFS;
            }
        }
        memset(c, 0, sizeof *c);
        int rc = shmkv_foreach(ro, fe_visit, c);
        if (rc == -EAGAIN) {
            fe_again++;
        } else if (rc != 0) {
            if (fe_bad++ < 5)
                CHECKF(0, "%s: foreach on a read-only handle returned %s", what, h_errname(rc));
        } else {
            fe_ok++;
            int wrong = 0;
            for (int i = 0; i < NSTABLE; i++)
                wrong += c->seen[i] != 1;
            if ((wrong || c->bad) && fe_bad++ < 5)
                CHECKF(0, "%s: foreach: %d untouched keys not visited exactly once, %ld "
                       "invalid pairs", what, wrong, c->bad);
        }
        shmkv_stats st;
        CHECK_RC(shmkv_stat(ro, &st), 0);
        CHECK(shmkv_count(ro) >= NSTABLE);
    }
    CHECK_EQ_INT(erofs_bad, 0);
    CHECK(found > 0);
    h_note("%s: %ld gets (%ld found), foreach %ld ok, %ld -EAGAIN; writer at %ld ops", what,
           gets, found, fe_ok, fe_again, __atomic_load_n(&S->writer_ops, __ATOMIC_RELAXED));
    free(buf);
    free(c);
    return fe_ok;
}

static void test_reader_vs_writer(void)
{
    char name[128];
    shmkv *db = NULL;
    h_name(name, sizeof name, "rdonly");
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return;
    unsigned char v[64];
    for (int i = 0; i < NKEYS + NSTABLE; i++) {
        char k[32];
        size_t kl = make_key(k, i);
        h_val_make(v, sizeof v, k, kl, 0);
        CHECK_RC(shmkv_put(db, k, kl, v, sizeof v), 0);
    }
    shmkv_close(db);

    S = h_shm_alloc(sizeof *S);
    shmkv_options o = { .flags = SHMKV_RDONLY };
    shmkv *ro = NULL;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    shmkv_stats st0, st1;
    CHECK_RC(shmkv_stat(ro, &st0), 0);
    long before = (long)shmkv_count(ro);
    /* first the writer grows the table; the reader sees every new key */
    S->grow_phase = 1;
    pid_t pid = h_fork();
    if (pid == 0)
        writer(name);

    if (ro) {
        int checked = 0;
        long bad = 0;
        double deadline = h_now() + 60;
        while (checked < 100000 && h_now() < deadline) {
            int g = __atomic_load_n(&S->grown, __ATOMIC_ACQUIRE);
            for (; checked < g; checked++) {
                char k[32];
                size_t kl = (size_t)snprintf(k, sizeof k, "grow-%d", checked);
                unsigned char buf[128];
                size_t vl = 0;
                uint64_t seq = 0;
                int rc = shmkv_get(ro, k, kl, buf, sizeof buf, &vl);
                if ((rc != 0 || !h_val_check(buf, vl, k, kl, &seq) || seq != (uint64_t)checked) &&
                    bad++ < 5)
                    CHECKF(0, "grow key %d: get returned %s", checked, h_errname(rc));
            }
        }
        CHECK_EQ_INT(checked, 100000);
        CHECK_EQ_INT(bad, 0);
        CHECK_RC(shmkv_stat(ro, &st1), 0);
        CHECKF(st1.file_bytes > st0.file_bytes && st1.keys == st0.keys + 100000 &&
                   st1.buckets > st0.buckets,
               "growth: file %llu -> %llu, keys %llu -> %llu, buckets %llu -> %llu "
               "(count before %ld)",
               (unsigned long long)st0.file_bytes, (unsigned long long)st1.file_bytes,
               (unsigned long long)st0.keys, (unsigned long long)st1.keys,
               (unsigned long long)st0.buckets, (unsigned long long)st1.buckets, before);
        /* then random writes: full speed */
        __atomic_store_n(&S->grow_phase, 0, __ATOMIC_RELEASE);
        read_phase(ro, H_ASAN ? 3.0 : 2.0, "unthrottled writer");
        /* a writer pausing 50 us between operations: foreach must get
         * through (a few thousand writes a second cannot starve it) */
        __atomic_store_n(&S->throttle_us, 50, __ATOMIC_RELAXED);
        long ok = read_phase(ro, 1.5, "throttled writer");
        CHECK(ok > 0);
        __atomic_store_n(&S->throttle_us, 0, __ATOMIC_RELAXED);
        /* the checker on a read-only handle while the writer runs: it may
         * not be able to take a quiet view, but it must never report a
         * problem the table does not have */
        int clean = 0, runs = 0;
        for (double end = h_now() + (H_ASAN ? 4.0 : 2.0); h_now() < end; runs++) {
            char *rep = NULL;
            size_t rlen = 0;
            FILE *f = open_memstream(&rep, &rlen);
            int rc = shmkv_check(ro, f);
            fclose(f);
            CHECKF(rc == 0, "check on a read-only handle with a live writer: %s\n%s", h_errname(rc), rep);
            clean += rc == 0;
            free(rep);
        }
        h_note("read-only checks during writes: %d of %d clean", clean, runs);
    }
    __atomic_store_n(&S->stop, 1, __ATOMIC_RELAXED);
    h_wait(pid, "writer");

    /* quiescent: foreach on the read-only handle returns 0 and agrees with
     * count and with a writable handle's view */
    if (ro) {
        struct fe *c = calloc(1, sizeof *c);
        CHECK_RC(shmkv_foreach(ro, fe_visit, c), 0);
        CHECK_EQ_INT(c->bad, 0);
        CHECK_EQ_U64((uint64_t)c->pairs, shmkv_count(ro));
        shmkv_stats st;
        CHECK_RC(shmkv_stat(ro, &st), 0);
        CHECK_EQ_U64(st.keys, (uint64_t)c->pairs);
        CHECK_TABLE(ro, "read-only handle, quiescent");
        free(c);
        shmkv_close(ro);
    }
    h_shm_free(S, sizeof *S);
    CHECK_RC(shmkv_unlink(name), 0);
}

static void fill_small(const char *name_or_path, int n)
{
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name_or_path, NULL, &db), 0);
    if (!db)
        return;
    unsigned char v[40];
    for (int i = 0; i < n; i++) {
        char k[32];
        size_t kl = make_key(k, i);
        h_val_make(v, sizeof v, k, kl, (uint64_t)i);
        CHECK_RC(shmkv_put(db, k, kl, v, sizeof v), 0);
    }
    shmkv_close(db);
}

static long check_small(shmkv *db, int n)
{
    long bad = 0;
    for (int i = 0; i < n; i++) {
        char k[32];
        size_t kl = make_key(k, i);
        unsigned char buf[64];
        size_t vl = 0;
        uint64_t seq = 0;
        bad += shmkv_get(db, k, kl, buf, sizeof buf, &vl) != 0 ||
               !h_val_check(buf, vl, k, kl, &seq) || seq != (uint64_t)i;
    }
    return bad;
}

static void test_mode_0400(void)
{
    char name[128], path[PATH_MAX];
    h_name(name, sizeof name, "ro0400");
    h_path(path, sizeof path, name);
    fill_small(name, 500);
    CHECK(chmod(path, 0400) == 0);
    shmkv_options o = { .flags = SHMKV_RDONLY };
    shmkv *ro = NULL;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    if (ro) {
        CHECK_EQ_INT(check_small(ro, 500), 0);
        CHECK_EQ_U64(shmkv_count(ro), 500);
        CHECK_RC(shmkv_put(ro, "x", 1, "y", 1), -EROFS);
        shmkv_close(ro);
    }
    /* CREATE|RDONLY of an existing 0400 table attaches to it */
    o.flags = SHMKV_CREATE | SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    if (ro) {
        CHECK_EQ_INT(check_small(ro, 500), 0);
        shmkv_close(ro);
    }
    CHECK_EQ_INT(h_file_mode(path), 0400);
    if (geteuid() != 0) {
        /* no write permission: a writable open is refused */
        shmkv *w = NULL;
        CHECK_RC(shmkv_open(name, NULL, &w), -EACCES);
    }
}

/* As an unprivileged user (root drops to nobody in a child). */
static void test_eacces(void)
{
    char priv[128], pub[128], privpath[PATH_MAX], pubpath[PATH_MAX];
    h_name(priv, sizeof priv, "private");
    h_name(pub, sizeof pub, "public");
    h_path(privpath, sizeof privpath, priv);
    h_path(pubpath, sizeof pubpath, pub);
    fill_small(priv, 10);
    shmkv_options pubo = { .flags = SHMKV_CREATE, .mode = 0644 };
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(pub, &pubo, &db), 0);
    shmkv_close(db);
    fill_small(pub, 50);
    CHECK_EQ_INT(h_file_mode(privpath), 0600);
    CHECK_EQ_INT(h_file_mode(pubpath), 0644);

    char subdir[PATH_MAX];
    h_path(subdir, sizeof subdir, "closed-dir");
    CHECK(mkdir(subdir, 0700) == 0);
    int as_root = geteuid() == 0;
    if (as_root)
        CHECK(chmod(h_dir(), 0755) == 0); /* let nobody in */
    else /* the owner: take the permissions away instead */
        CHECK(chmod(privpath, 0) == 0 && chmod(subdir, 0) == 0 && chmod(pubpath, 0444) == 0);

    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        if (as_root) {
            if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
                CHECKF(0, "cannot drop privileges to nobody");
                h_child_exit();
            }
        }
        shmkv *h = NULL;
        shmkv_options o = { 0 };
        /* a file the user may not read or write */
        CHECK_RC(shmkv_open(priv, &o, &h), -EACCES);
        o.flags = SHMKV_RDONLY;
        CHECK_RC(shmkv_open(priv, &o, &h), -EACCES);
        /* readable but not writable: read-only works, writable is refused */
        o.flags = 0;
        CHECK_RC(shmkv_open(pub, &o, &h), -EACCES);
        o.flags = SHMKV_RDONLY;
        CHECK_RC(shmkv_open(pub, &o, &h), 0);
        if (h) {
            CHECK_EQ_INT(check_small(h, 50), 0);
            CHECK_RC(shmkv_put(h, "x", 1, "y", 1), -EROFS);
            shmkv_close(h);
        }
        /* a directory the user may not enter, or not write */
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/t", subdir);
        o.flags = SHMKV_CREATE;
        CHECK_RC(shmkv_open(p, &o, &h), -EACCES);
        if (as_root) {
            /* h_dir() is 0755 root: not writable for nobody */
            char newname[128];
            h_name(newname, sizeof newname, "nobody-new");
            CHECK_RC(shmkv_open(newname, &o, &h), -EACCES);
            CHECK_RC(shmkv_unlink(pub), -EACCES);
        }
        h_child_exit();
    }
    h_wait(pid, "unprivileged child");
    chmod(h_dir(), 0700);
    chmod(privpath, 0600);
    chmod(subdir, 0700);
    chmod(pubpath, 0644);
    /* nothing was changed or removed */
    CHECK(h_file_size(pubpath) > 0);
    shmkv_options o = { .flags = SHMKV_RDONLY };
    CHECK_RC(shmkv_open(pub, &o, &db), 0);
    if (db) {
        CHECK_EQ_INT(check_small(db, 50), 0);
        shmkv_close(db);
    }
}

static const struct h_part parts[] = {
    { "reader_vs_writer", test_reader_vs_writer },
    { "mode_0400", test_mode_0400 },
    { "eacces", test_eacces },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_rdonly", parts, H_NPARTS(parts));
}
