/*
 * fuzz_open.c - libFuzzer target: open a damaged table file and use it.
 *
 * Input, one of:
 *   - any bytes: they are the whole table file;
 *   - "OVL1" t  (offset:u32le len:u8 bytes[len])*  : the template table t
 *     (t mod 5: empty, small, chained, split, cache; see fuzz_common.h, built once
 *     at start-up with a fixed hash seed) with each patch written over it
 *     at offset mod its size.  This gets the fuzzer past the header's
 *     checksum straight to the structures that are not covered by it
 *     (allocator state, shard layouts, run lists, buckets, records, locks).
 *
 * Then: open read-only and read (get, get_alloc, ttl, get_many, foreach,
 * count, stat, check); open read-write and read and write (put small and
 * huge values, put_ttl, expire, del, foreach, check; clear when the
 * input's length is 3 mod 4); open read-only again and read what the
 * writer left.  Every call must return 0 or an error (a negative errno the
 * header documents for it); nothing may crash, hang (run with -timeout) or
 * touch memory outside the mapping (ASan, SIGSEGV, SIGBUS all count).
 *
 * Mutexes are tamed before the file is opened: a lock word naming a thread
 * makes every lock attempt wait a second (the library's bound for a live
 * holder), and a damaged mutex type is glibc's to interpret, so every
 * mutex is reset to an unlocked one.  A dead owner (the owner-died bit of
 * its word) is kept: it sends the first locker through the repair code,
 * on the fuzzer's data.
 */
#include "fuzz_common.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char *tpl[FZ_TEMPLATES];
static size_t tpl_len[FZ_TEMPLATES];
static char file[PATH_MAX];
static unsigned char *buf;
#define BUF_CAP (128 * 1024)
/* An unlocked mutex as the library initialises it (taken from a template). */
static unsigned char canon_mutex[sizeof(pthread_mutex_t)];

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_open: %s returned %d (%s)\n", what, rc, shmkv_strerror(rc));
    abort();
}

/* Errors any call may give on a damaged file, beyond its own. */
static int damaged_ok(int rc)
{
    return rc == -EBADMSG || rc == -ENOMEM || rc == -ETIMEDOUT;
}

static void load_templates(void)
{
    for (int t = 0; t < FZ_TEMPLATES; t++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/template-%d", fz_dir(), t);
        if (fz_build_template(t, p) != 0) {
            fprintf(stderr, "fuzz_open: cannot build template %d\n", t);
            abort();
        }
        FILE *f = fopen(p, "rb");
        if (!f || fseek(f, 0, SEEK_END) != 0)
            abort();
        tpl_len[t] = (size_t)ftell(f);
        rewind(f);
        tpl[t] = malloc(tpl_len[t]);
        if (!tpl[t] || fread(tpl[t], 1, tpl_len[t], f) != tpl_len[t])
            abort();
        fclose(f);
        unlink(p);
    }
}

/* A damaged record can claim a value of up to 4 GiB, and the library
 * allocates what a record claims before it checks the record (reported as
 * a bug; test/test_damage.c checks it).  Under ASan such allocations are
 * slow enough to look like hangs: refuse them (the library then returns
 * -ENOMEM) so the fuzzer goes on looking for other things. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=64";
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    load_templates();
    memcpy(canon_mutex, tpl[0] + offsetof(struct hdr, alloc_lock), sizeof canon_mutex);
    memset(canon_mutex, 0, 4); /* the lock word: unlocked */
    fz_path(file, sizeof file, "fuzz-open.tbl");
    buf = malloc(BUF_CAP);
    return 0;
}

/* Every mutex in the file image becomes an unlocked one again, keeping
 * only the owner-died bit of its lock word (see the top of this file).
 * The rest of a mutex is not the library's to check: glibc reads its
 * type from it.  (What the library does with a damaged type is tested
 * deterministically in test/test_faults.c.) */
static void tame_locks(unsigned char *img, size_t len)
{
    const unsigned died = 0x40000000u;
    size_t lock_at[1 + (1u << SHARD_BITS_MAX)];
    size_t n = 0;
    lock_at[n++] = offsetof(struct hdr, alloc_lock);
    if (len >= sizeof(struct hdr)) {
        const struct hdr *h = (const struct hdr *)img;
        uint32_t bits = h->shard_bits <= SHARD_BITS_MAX ? h->shard_bits : 0;
        if (h->shards_off == sizeof(struct hdr))
            for (uint64_t i = 0; i < (1ull << bits); i++)
                lock_at[n++] = sizeof(struct hdr) + i * sizeof(struct shard) +
                               offsetof(struct shard, lock);
    }
    for (size_t i = 0; i < n; i++) {
        if (lock_at[i] + sizeof(pthread_mutex_t) > len)
            continue;
        unsigned w;
        memcpy(&w, img + lock_at[i], 4);
        w &= died;
        memcpy(img + lock_at[i], canon_mutex, sizeof canon_mutex);
        memcpy(img + lock_at[i], &w, 4);
    }
}

static int visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    /* touch every byte: ASan checks the copies are real memory */
    size_t *sum = ctx;
    const unsigned char *k = key, *v = val;
    for (size_t i = 0; i < klen; i++)
        *sum += k[i];
    for (size_t i = 0; i < vlen; i++)
        *sum += v[i];
    return 0;
}

static void reads(shmkv *db, int rdonly)
{
    char k[32];
    for (int i = 0; i < 40; i++) {
        size_t kl = i < 24 ? fz_key(k, i) : (size_t)snprintf(k, sizeof k, "s%d", (i - 24) * 87);
        size_t vl = 0;
        int rc = shmkv_get(db, k, kl, buf, BUF_CAP, &vl);
        if (rc && rc != -ENOENT && rc != -ENOBUFS && !damaged_ok(rc))
            die("get", rc);
        if (rc == 0 && vl > BUF_CAP)
            die("get (length beyond the buffer)", rc);
        rc = shmkv_get(db, k, kl, NULL, 0, &vl);
        if (rc && rc != -ENOENT && rc != -ENOBUFS && !damaged_ok(rc))
            die("get with no buffer", rc);
        void *p = NULL;
        rc = shmkv_get_alloc(db, k, kl, &p, &vl);
        if (rc && rc != -ENOENT && !damaged_ok(rc))
            die("get_alloc", rc);
        if (rc == 0) {
            size_t s = 0;
            visit(&s, k, 0, p, vl);
            free(p);
        }
        uint64_t left = 0;
        rc = shmkv_ttl(db, k, kl, &left);
        if (rc && rc != -ENOENT && !damaged_ok(rc))
            die("ttl", rc);
    }
    shmkv_item it[8];
    char keys[8][32];
    for (int j = 0; j < 8; j++) {
        it[j] = (shmkv_item){ .key = keys[j], .klen = fz_key(keys[j], j * 3), .buf = buf,
                              .cap = BUF_CAP / 8 };
        it[j].buf = buf + (size_t)j * (BUF_CAP / 8);
    }
    int n = shmkv_get_many(db, it, 8);
    if (n < 0 || n > 8)
        die("get_many", n);
    size_t sum = 0;
    int rc = shmkv_foreach(db, visit, &sum);
    if (rc && !damaged_ok(rc) && !(rdonly && rc == -EAGAIN))
        die("foreach", rc);
    (void)shmkv_count(db);
    shmkv_stats st;
    if ((rc = shmkv_stat(db, &st)) != 0)
        die("stat", rc);
    rc = shmkv_check(db, NULL);
    if (rc && !damaged_ok(rc))
        die("check", rc);
}

static void writes(shmkv *db)
{
    char k[32];
    for (int i = 0; i < 30; i++) {
        size_t kl = i % 3 == 2 ? (size_t)snprintf(k, sizeof k, "new%d", i) : fz_key(k, i);
        size_t vl = i % 5 == 4 ? 6000 + (size_t)i * 1000 : (size_t)i * 13;
        fz_fill(buf, vl, kl, (uint64_t)i);
        int rc = shmkv_put(db, k, kl, buf, vl);
        if (rc && rc != -ENOSPC && rc != -E2BIG && !damaged_ok(rc))
            die("put", rc);
        if (rc == -ETIMEDOUT || rc == -EBADMSG)
            return; /* damaged: each further write could wait again */
        if (i % 4 == 1) {
            rc = shmkv_put_ttl(db, k, kl, buf, vl, 1000u * (uint64_t)(i + 1));
            if (rc && rc != -ENOSPC && rc != -E2BIG && !damaged_ok(rc))
                die("put_ttl", rc);
            if (rc == -ETIMEDOUT || rc == -EBADMSG)
                return;
        }
        if (i % 4 == 2) {
            rc = shmkv_expire(db, k, fz_key(k, i + 2), i % 8 == 2 ? 0 : 5000);
            if (rc && rc != -ENOENT && rc != -ENOSPC && rc != -E2BIG && !damaged_ok(rc))
                die("expire", rc);
            if (rc == -ETIMEDOUT || rc == -EBADMSG)
                return;
        }
        rc = shmkv_del(db, k, fz_key(k, i + 1));
        if (rc && rc != -ENOENT && !damaged_ok(rc))
            die("del", rc);
        if (rc == -ETIMEDOUT || rc == -EBADMSG)
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *img;
    size_t len;
    if (size >= 5 && memcmp(data, "OVL1", 4) == 0) {
        int t = data[4] % FZ_TEMPLATES;
        len = tpl_len[t];
        img = malloc(len);
        memcpy(img, tpl[t], len);
        for (size_t p = 5; p + 5 <= size;) {
            uint32_t off;
            memcpy(&off, data + p, 4);
            size_t n = data[p + 4];
            p += 5;
            if (n > size - p)
                n = size - p;
            off %= (uint32_t)len;
            if (n > len - off)
                n = len - off;
            memcpy(img + off, data + p, n);
            p += n;
        }
    } else {
        len = size;
        img = malloc(len ? len : 1);
        memcpy(img, data, len);
    }
    tame_locks(img, len);
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, img, len) != (ssize_t)len)
        abort();
    close(fd);
    free(img);

    static const unsigned flags[] = { SHMKV_RDONLY, 0, SHMKV_RDONLY };
    for (int pass = 0; pass < 3; pass++) {
        shmkv_options o = { .flags = flags[pass] };
        shmkv *db = NULL;
        int rc = shmkv_open(file, &o, &db);
        if (rc != 0) {
            if (rc != -EBADMSG && rc != -ENOMEM)
                die("open", rc);
            break; /* refused: it is refused every time */
        }
        reads(db, flags[pass] & SHMKV_RDONLY);
        if (!(flags[pass] & SHMKV_RDONLY)) {
            writes(db);
            if (size % 4 == 3 && (rc = shmkv_clear(db)) != 0 && !damaged_ok(rc))
                die("clear", rc);
        }
        shmkv_close(db);
    }
    unlink(file);
    return 0;
}
