/*
 * fuzz_common.c - the fuzzers' table in memory, their deterministic table
 * images and fuzz_open's templates (see fuzz_common.h).
 */
#include "fuzz_common.h"

#include "hash.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, strerror(errno));
    abort();
}

/* ---- the table in memory ---- */

static int memfd(void)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("shmkv-fuzz", MFD_CLOEXEC)) < 0)
        die("memfd_create");
    return fd;
}

size_t fz_used(const void *img, size_t len)
{
    static const unsigned char zero[4096];
    const unsigned char *p = img;
    size_t used = len;
    while (used > sizeof zero) {
        size_t page = (used - 1) / sizeof zero * sizeof zero;
        if (memcmp(p + page, zero, used - page) != 0)
            break;
        used = page;
    }
    return used;
}

/* ftruncate to used first: what the last input left past it is cut loose
 * (the rest of the file is then a hole, read as zeros); the pages before
 * it are reused, not freed and cleared again. */
void fz_load(const void *img, size_t used, size_t len)
{
    int fd = memfd();
    if (ftruncate(fd, (off_t)used) != 0 || pwrite(fd, img, used, 0) != (ssize_t)used ||
        ftruncate(fd, (off_t)len) != 0)
        die("loading the memfd");
}

int fz_attach(bool rdonly, shmkv **db)
{
    *db = NULL;
    return shmkv__open_fd(memfd(), rdonly, db);
}

unsigned char *fz_image(size_t *len)
{
    struct stat st;
    int fd = memfd();
    if (fstat(fd, &st) != 0)
        die("fstat");
    unsigned char *img = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!img || pread(fd, img, (size_t)st.st_size, 0) != (ssize_t)st.st_size)
        die("reading the memfd");
    *len = (size_t)st.st_size;
    return img;
}

/* Creation needs a name: a private directory, used once and removed. */
static unsigned char *create_image(uint64_t max_bytes, unsigned flags, size_t *len)
{
    const char *t = getenv("TMPDIR");
    char dir[PATH_MAX], path[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/shmkv-fuzz-XXXXXX", t && *t ? t : "/dev/shm");
    if (!mkdtemp(dir))
        die(dir);
    snprintf(path, sizeof path, "%s/table", dir);
    shmkv_options o = { .flags = SHMKV_CREATE | SHMKV_EXCL | flags, .max_bytes = max_bytes };
    shmkv *db = NULL;
    int rc = shmkv_open(path, &o, &db);
    shmkv_close(db);
    FILE *f = rc ? NULL : fopen(path, "rb");
    unsigned char *img = NULL;
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && (img = malloc((size_t)st.st_size)) &&
        fread(img, 1, (size_t)st.st_size, f) == (size_t)st.st_size)
        *len = (size_t)st.st_size;
    else
        img = NULL;
    if (f)
        fclose(f);
    unlink(path);
    rmdir(dir);
    if (!img) {
        fprintf(stderr, "fuzz: cannot create a %llu-byte table: %s\n", (unsigned long long)max_bytes,
                shmkv_strerror(rc));
        abort();
    }
    return img;
}

unsigned char *fz_fresh(uint64_t max_bytes, unsigned flags, size_t *len)
{
    unsigned char *img = create_image(max_bytes, flags, len);
    struct hdr h;
    memcpy(&h, img, sizeof h);
    h.seed[0] = 0x243f6a8885a308d3ull;
    h.seed[1] = 0x13198a2e03707344ull;
    /* as src/table.c computes it */
    h.geo_sum = shmkv__hash64(&h.version, offsetof(struct hdr, geo_sum) - offsetof(struct hdr, version),
                              0x5eed, 0x6e0);
    memcpy(img + offsetof(struct hdr, seed), h.seed, sizeof h.seed);
    memcpy(img + offsetof(struct hdr, geo_sum), &h.geo_sum, sizeof h.geo_sum);
    fz_locks_forget(img, *len);
    fz_load(img, fz_used(img, *len), *len);
    shmkv *db;
    int rc = fz_attach(false, &db);
    shmkv_close(db);
    if (rc != 0) {
        fprintf(stderr, "fuzz: a table with a fixed hash seed is refused (%s): "
                        "update fz_fresh to how src/table.c checks the header\n", shmkv_strerror(rc));
        abort();
    }
    return img;
}

size_t fz_locks(const unsigned char *img, size_t len, size_t *at, size_t cap)
{
    size_t n = 0;
    if (n < cap)
        at[n++] = offsetof(struct hdr, alloc_lock);
    if (len >= sizeof(struct hdr)) {
        struct hdr h;
        memcpy(&h, img, sizeof h);
        if (h.shards_off == sizeof(struct hdr) && h.shard_bits <= SHARD_BITS_MAX)
            for (uint64_t i = 0; i < (1ull << h.shard_bits) && n + 3 <= cap; i++) {
                size_t sh = sizeof(struct hdr) + i * sizeof(struct shard);
                at[n++] = sh + offsetof(struct shard, lock);
                at[n++] = sh + offsetof(struct shard, lane[0].lock);
                at[n++] = sh + offsetof(struct shard, lane[1].lock);
            }
    }
    while (n && at[n - 1] + sizeof(struct lock) > len)
        n--;
    return n;
}

void fz_locks_forget(unsigned char *img, size_t len)
{
    static size_t at[FZ_LOCKS_MAX];
    size_t n = fz_locks(img, len, at, FZ_LOCKS_MAX);
    for (size_t i = 0; i < n; i++)
        memset(img + at[i], 0, offsetof(struct lock, gen));
}

/* ---- values and keys ---- */

/* Kept out of the fuzzer's coverage instrumentation: it is not what is
 * being tested, and instrumented it would take much of each run. */
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
void fz_fill(unsigned char *v, size_t len, uint64_t a, uint64_t b)
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

size_t fz_key(char *k, int i)
{
    return (size_t)snprintf(k, 32, "k%d", i);
}

int fz_put_ttl(shmkv *db, const char *k, size_t kl, size_t vl, uint64_t seq, uint64_t ttl_ms)
{
    static unsigned char v[65536];
    if (vl > sizeof v)
        vl = sizeof v;
    fz_fill(v, vl, kl, seq);
    return ttl_ms ? shmkv_put_ttl(db, k, kl, v, vl, ttl_ms) : shmkv_put(db, k, kl, v, vl);
}

/* ---- fuzz_open's templates ---- */

/* the empty one has 4 shards; the others 1 (kept small: every check and
 * foreach of an input walks all they hold) */
const uint64_t fz_template_bytes[FZ_TEMPLATES] = {
    1u << 20, 256u << 10, 256u << 10, 256u << 10, 256u << 10,
};
const char *const fz_template_names[FZ_TEMPLATES] = {
    "empty", "small", "chained", "split", "cache",
};
static const unsigned template_flags[FZ_TEMPLATES] = { 0, 0, 0, 0, SHMKV_CACHE };

/* small, medium, and (in a 256 KiB table: 4 KiB and up) huge values;
 * overwrites and deletes leave garbage behind */
static int fill_small(shmkv *db)
{
    static const size_t sizes[] = { 0, 1, 7, 24, 100, 300, 1000, 3000, 4100, 9000, 16000, 30 };
    char k[32];
    int r = 0;
    for (int i = 0; i < 24; i++)
        r |= fz_put_ttl(db, k, fz_key(k, i), sizes[i % 12], (uint64_t)i, 0);
    for (int i = 0; i < 24; i += 3)
        r |= fz_put_ttl(db, k, fz_key(k, i), sizes[(i + 5) % 12], 100u + (uint64_t)i, 0);
    for (int i = 1; i < 24; i += 7)
        r |= shmkv_del(db, k, fz_key(k, i));
    return r;
}

/* fragment the table with 5 KiB runs, then a value that fits in no single
 * free run: it is chained over several */
static int fill_chained(shmkv *db)
{
    int n = 0, r = fill_small(db);
    char f[32];
    for (; n < 64; n++) {
        size_t fl = (size_t)snprintf(f, sizeof f, "frag%d", n);
        if (fz_put_ttl(db, f, fl, 5000, (uint64_t)n, 0) != 0)
            break;
    }
    for (int i = 0; i < n; i += 2) {
        size_t fl = (size_t)snprintf(f, sizeof f, "frag%d", i);
        r |= shmkv_del(db, f, fl);
    }
    return r | fz_put_ttl(db, "chained", 7, 40000, 7, 0);
}

/* enough keys for bucket splits (some 36) and overflow buckets (24) */
static int fill_split(shmkv *db)
{
    char k[32];
    int r = 0;
    for (int i = 0; i < 500; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "s%d", i);
        r |= fz_put_ttl(db, k, kl, 24 + (size_t)(i % 50), (uint64_t)i, 0);
    }
    for (int i = 0; i < 500; i += 9) {
        size_t kl = (size_t)snprintf(k, sizeof k, "s%d", i);
        r |= shmkv_del(db, k, kl);
    }
    return r;
}

/* a 256 KiB cache whose records carry expiry times: some far off (a day),
 * some already past (1 s, then the clock moved on by 10 s: their records
 * stay until writers meet them), some given or cleared by expire; then
 * twice the cache's size of 3 KB values under other keys, so it has
 * evicted and its runs are full */
static int fill_cache(shmkv *db)
{
    static const size_t sizes[] = { 0, 1, 7, 24, 100, 300, 1000, 3000, 4100, 9000, 16000, 30 };
    static const uint64_t ttls[] = { 86400000, 1000, 0, 3600000 };
    char k[32];
    int r = 0;
    for (int i = 0; i < 24; i++)
        r |= fz_put_ttl(db, k, fz_key(k, i), sizes[i % 12] % 5000, (uint64_t)i, ttls[i % 4]);
    shmkv__clock_advance(10000);
    for (int i = 2; i < 24; i += 8)
        r |= shmkv_expire(db, k, fz_key(k, i), 7200000);
    r |= shmkv_expire(db, k, fz_key(k, 3), 0);
    r |= shmkv_expire(db, k, fz_key(k, 5), 600000) != -ENOENT; /* expired */
    for (int i = 0; i < 170; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "f%d", i);
        r |= fz_put_ttl(db, k, kl, 3000, (uint64_t)i, i % 3 ? 0 : 86400000);
    }
    for (int i = 0; i < 24; i += 5) /* read: their read counts go up */
        (void)shmkv_get(db, k, fz_key(k, i), NULL, 0, &(size_t){0});
    shmkv_stats st;
    return r | (shmkv_stat(db, &st) != 0 || !st.cache || !st.evictions);
}

unsigned char *fz_template(int t, size_t *len)
{
    free(fz_fresh(fz_template_bytes[t], template_flags[t], len)); /* now in the memfd */
    shmkv *db;
    int r = fz_attach(false, &db);
    if (r == 0) {
        switch (t) {
        case 1: r = fill_small(db); break;
        case 2: r = fill_chained(db); break;
        case 3: r = fill_split(db); break;
        case 4: r = fill_cache(db); break;
        default: break;
        }
        shmkv_close(db);
    }
    if (r != 0) {
        fprintf(stderr, "fuzz: cannot build template %s\n", fz_template_names[t]);
        abort();
    }
    unsigned char *img = fz_image(len);
    fz_locks_forget(img, *len);
    return img;
}
