/*
 * fuzz_common.h - shared by the libFuzzer targets (fuzz_open.c, fuzz_ops.c)
 * and the seed generator (gen_seeds.c).
 *
 *  - a private temporary directory, removed at exit, and those of earlier
 *    fuzzer processes that crashed removed at start-up (fz_dir);
 *  - deterministic tables (up to the pointers glibc leaves in unlocked
 *    robust mutexes): a new table gets a random hash seed, which would
 *    make every run of a fuzzer see different files; fz_create() patches a
 *    fixed seed into the fresh, empty table (and its header checksum), so
 *    a crash input found once reproduces on every run;
 *  - the template tables fuzz_open overlays its inputs onto, also written
 *    out whole as seeds by gen_seeds.
 *
 * The library is built with SHMKV_TEST_HOOKS here, so shmkv__clock_advance()
 * (src/clock.c) moves this process's table clock forward: expiry without
 * sleeping.
 *
 * Needs src/format.h (struct hdr, hash64): the fuzzers compile the
 * library's sources themselves.
 */
#ifndef SHMKV_FUZZ_COMMON_H
#define SHMKV_FUZZ_COMMON_H

#include "format.h"
#include "handle.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FZ_UNUSED __attribute__((unused))

/* src/clock.c, test builds: move this process's table clock forward. */
void shmkv__clock_advance(int64_t ms);

static char fz_dir_path[PATH_MAX];

static FZ_UNUSED int fz_rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP || type == FTW_D || type == FTW_DNR)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static FZ_UNUSED void fz_cleanup(void)
{
    if (fz_dir_path[0])
        nftw(fz_dir_path, fz_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Remove the private directories of fuzzer processes that are gone (a
 * crash ends a process without running its atexit cleanup). */
static void fz_sweep(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long pid;
        char path[PATH_MAX];
        if (sscanf(e->d_name, "shmkv-fuzz-%ld-", &pid) != 1 || pid <= 0 ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        nftw(path, fz_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
    if (d)
        closedir(d);
}

/* The private directory: $TMPDIR/shmkv-fuzz-PID-XXXXXX (default /dev/shm,
 * else /tmp), removed at exit. */
static FZ_UNUSED const char *fz_dir(void)
{
    if (fz_dir_path[0])
        return fz_dir_path;
    const char *t = getenv("TMPDIR");
    const char *bases[] = { t && *t ? t : "/dev/shm", "/tmp" };
    for (int i = 0; i < 2; i++) {
        fz_sweep(bases[i]);
        snprintf(fz_dir_path, sizeof fz_dir_path, "%s/shmkv-fuzz-%ld-XXXXXX", bases[i],
                 (long)getpid());
        if (mkdtemp(fz_dir_path)) {
            atexit(fz_cleanup);
            return fz_dir_path;
        }
    }
    perror("mkdtemp");
    abort();
}

static FZ_UNUSED void fz_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", fz_dir(), name);
}

/* Replace the fresh table's random hash seed by a fixed one.  Returns 0,
 * or -1 (and leaves the table as it was) if the header's checksum is no
 * longer computed the way this file assumes. */
static FZ_UNUSED int fz_fix_seed(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct hdr h;
    int ok = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h;
    struct hdr orig = h;
    h.seed[0] = 0x243f6a8885a308d3ull;
    h.seed[1] = 0x13198a2e03707344ull;
    h.geo_sum = shmkv__hash64(&h.version, offsetof(struct hdr, geo_sum) - offsetof(struct hdr, version),
                       0x5eed, 0x6e0);
    ok = ok && pwrite(fd, h.seed, sizeof h.seed, offsetof(struct hdr, seed)) == (ssize_t)sizeof h.seed &&
         pwrite(fd, &h.geo_sum, 8, offsetof(struct hdr, geo_sum)) == 8;
    shmkv *db = NULL;
    if (ok && shmkv_open(path, NULL, &db) == 0) {
        shmkv_close(db);
        close(fd);
        return 0;
    }
    /* the checksum is computed some other way now: undo */
    if (pwrite(fd, orig.seed, sizeof orig.seed, offsetof(struct hdr, seed)) < 0 ||
        pwrite(fd, &orig.geo_sum, 8, offsetof(struct hdr, geo_sum)) < 0)
        perror("pwrite");
    close(fd);
    return -1;
}

/* Create a table at path (removing what was there) with a fixed hash seed
 * and open it; flags: creation flags beyond SHMKV_CREATE|SHMKV_EXCL
 * (SHMKV_CACHE, SHMKV_STATS).  Returns the handle or NULL. */
static FZ_UNUSED shmkv *fz_create(const char *path, uint64_t max_bytes, unsigned flags)
{
    static int warned;
    unlink(path);
    shmkv_options o = { .flags = SHMKV_CREATE | SHMKV_EXCL | flags, .max_bytes = max_bytes };
    shmkv *db = NULL;
    if (shmkv_open(path, &o, &db) != 0)
        return NULL;
    shmkv_close(db);
    if (fz_fix_seed(path) != 0 && !warned++)
        fprintf(stderr, "fuzz: could not fix the hash seed; runs will not reproduce exactly\n");
    db = NULL;
    o.flags = 0;
    return shmkv_open(path, &o, &db) == 0 ? db : NULL;
}

/* Deterministic value bytes for (key number, seq).  Kept out of the
 * fuzzer's coverage instrumentation: it is not what is being tested, and
 * instrumented it would take most of each run. */
#if defined(__clang__)
#define FZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FZ_NO_COVERAGE
#endif
static FZ_UNUSED FZ_NO_COVERAGE void fz_fill(unsigned char *v, size_t len, uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull + b * 0xd1b54a32d192ed03ull + len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        x += 0x9e3779b97f4a7c15ull;
        uint64_t z = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        z ^= z >> 31;
        memcpy(v + i, &z, 8);
    }
    for (; i < len; i++)
        v[i] = (unsigned char)(x >> (8 * (i & 7)));
}

/* ---- the templates ------------------------------------------------------ */

enum { FZ_TEMPLATES = 5 };
static const uint64_t fz_template_bytes[FZ_TEMPLATES] = {
    256u << 10, 256u << 10, 256u << 10, 1u << 20, 256u << 10,
};
static FZ_UNUSED const char *const fz_template_names[FZ_TEMPLATES] = {
    "empty", "small", "chained", "split", "cache",
};
static const unsigned fz_template_flags[FZ_TEMPLATES] = { 0, 0, 0, 0, SHMKV_CACHE };

/* Keys the templates hold and fuzz_open asks for: "k0".."k23" (templates
 * 1, 2, 4) and "s0".."s1399" (template 3). */
static FZ_UNUSED size_t fz_key(char *k, int i)
{
    return (size_t)snprintf(k, 32, "k%d", i);
}

/* put (ttl_ms 0) or put_ttl of a derived value */
static FZ_UNUSED int fz_put_ttl(shmkv *db, const char *k, size_t kl, size_t vl, uint64_t seq, uint64_t ttl_ms)
{
    static unsigned char v[65536];
    if (vl > sizeof v)
        vl = sizeof v;
    fz_fill(v, vl, kl, seq);
    return ttl_ms ? shmkv_put_ttl(db, k, kl, v, vl, ttl_ms) : shmkv_put(db, k, kl, v, vl);
}

static FZ_UNUSED int fz_put(shmkv *db, const char *k, size_t kl, size_t vl, uint64_t seq)
{
    return fz_put_ttl(db, k, kl, vl, seq, 0);
}

/* Build template t in a fresh table at path.  0 or -1. */
static FZ_UNUSED int fz_build_template(int t, const char *path)
{
    shmkv *db = fz_create(path, fz_template_bytes[t], fz_template_flags[t]);
    if (!db)
        return -1;
    char k[32];
    int r = 0;
    static const size_t sizes[] = { 0, 1, 7, 24, 100, 300, 1000, 3000, 4100, 9000, 16000, 30 };
    if (t == 1 || t == 2) {
        /* small, medium, and (in a 256 KiB table: 4 KiB and up) huge values;
         * overwrites and deletes leave garbage behind */
        for (int i = 0; i < 24; i++)
            r |= fz_put(db, k, fz_key(k, i), sizes[i % 12], (uint64_t)i);
        for (int i = 0; i < 24; i += 3)
            r |= fz_put(db, k, fz_key(k, i), sizes[(i + 5) % 12], 100u + (uint64_t)i);
        for (int i = 1; i < 24; i += 7)
            r |= shmkv_del(db, k, fz_key(k, i));
    }
    if (t == 2) {
        /* fragment the table with 5 KiB runs, then a value that fits in no
         * single free run: it is chained over several */
        int n = 0;
        char f[32];
        for (; n < 64; n++) {
            size_t fl = (size_t)snprintf(f, sizeof f, "frag%d", n);
            if (fz_put(db, f, fl, 5000, (uint64_t)n) != 0)
                break;
        }
        for (int i = 0; i < n; i += 2) {
            size_t fl = (size_t)snprintf(f, sizeof f, "frag%d", i);
            r |= shmkv_del(db, f, fl);
        }
        r |= fz_put(db, "chained", 7, 40000, 7);
    }
    if (t == 3) {
        /* enough keys for bucket splits and overflow buckets */
        for (int i = 0; i < 1400; i++) {
            size_t kl = (size_t)snprintf(k, sizeof k, "s%d", i);
            r |= fz_put(db, k, kl, 24 + (size_t)(i % 50), (uint64_t)i);
        }
        for (int i = 0; i < 1400; i += 9) {
            size_t kl = (size_t)snprintf(k, sizeof k, "s%d", i);
            r |= shmkv_del(db, k, kl);
        }
    }
    if (t == 4) {
        /* a 256 KiB cache whose records carry expiry times: some far off
         * (a day), some already past (1 s, then the clock moved on by 10 s:
         * their records stay until writers meet them), some given or
         * cleared by expire; then twice the cache's size of 3 KB values
         * under other keys, so it has evicted and its runs are full */
        static const uint64_t ttls[] = { 86400000, 1000, 0, 3600000 };
        for (int i = 0; i < 24; i++)
            r |= fz_put_ttl(db, k, fz_key(k, i), sizes[i % 12] % 5000, (uint64_t)i, ttls[i % 4]);
        shmkv__clock_advance(10000);
        for (int i = 2; i < 24; i += 8)
            r |= shmkv_expire(db, k, fz_key(k, i), 7200000);
        r |= shmkv_expire(db, k, fz_key(k, 3), 0);
        int rc = shmkv_expire(db, k, fz_key(k, 5), 600000); /* expired: -ENOENT */
        r |= rc != -ENOENT;
        for (int i = 0; i < 170; i++) {
            size_t kl = (size_t)snprintf(k, sizeof k, "f%d", i);
            r |= fz_put_ttl(db, k, kl, 3000, (uint64_t)i, i % 3 ? 0 : 86400000);
        }
        for (int i = 0; i < 24; i += 5) /* read: their read counts go up */
            (void)shmkv_get(db, k, fz_key(k, i), NULL, 0, &(size_t){0});
        shmkv_stats st;
        r |= shmkv_stat(db, &st) != 0 || !st.cache || !st.evictions;
    }
    shmkv_close(db);
    return r ? -1 : 0;
}

#endif
