/*
 * sys_ideal.c - "ideal": the least a table of shmkv's shape can do, as a
 * yardstick for shmkv-bench's figures.  Not a product and not a peer: it
 * answers "how fast could any shared-memory hash table whose get is two
 * dependent misses be, under this harness, on this machine?", which is
 * where the targets of a get and of a put meet their floor.
 *
 * Its shape is shmkv's, stripped to the loads and stores a get and a put
 * cannot avoid:
 *   - a file in the run's directory: a header, then nb buckets of eight
 *     64-bit slots (one cache line each, as shmkv's), then the records;
 *   - a slot is (tag << 40) | (record offset / 8); 0 is empty and 1 a
 *     deleted slot (records start past 8, so no record's slot is 1);
 *   - a key's home bucket is its hash's low bits; a full bucket sends it to
 *     the next one (linear probing, bucket by bucket); a search stops at
 *     the first empty slot, as a slot once used is never empty again;
 *   - a record is {klen, vlen, key, value}, appended and never moved or
 *     reused, so a reader never needs to check that it read a whole one:
 *     a put writes its record, then publishes its slot (release), and a
 *     get that sees the slot sees the record (acquire);
 *   - each thread appends to a chunk of its own, taken 1 MiB at a time
 *     from the header's counter (no lock anywhere).
 * So a get is: hash, the bucket (miss one), the record (miss two), compare
 * the key, copy the value; a put is: hash, the bucket (a miss), the record
 * written to lines the thread owns, a compare-and-swap of the slot.
 *
 * What it leaves out is what a real table must have: no growth (sized for
 * the run's keys at setup), no reuse of a deleted record's bytes (the
 * record area is sized for the keys twice, plus MIX's updates; a full one
 * fails the run), no crash safety (a process killed mid-put leaves nothing
 * broken only because nothing is ever freed), no expiry, no checks of a
 * hostile file, no concurrent writers of one key (the bench updates a key
 * only from its owner).  Every value it returns is verified by the harness
 * like any system's.
 *
 * --ideal-pad N makes each get first run N empty loop turns: how much a
 * get may add to this one before consecutive gets stop overlapping
 * (BENCHMARKS 9.8).
 *
 * --ideal-guards gives its gets the least that shmkv's guarantees ask of
 * a lock-free reader, and nothing else (BENCHMARKS 9.10):
 *   - a table that grows: the home bucket is found as linear hashing
 *     finds it (a layout word of level and split point, read first, then
 *     a directory of bucket pieces, chunk c of base << (c - 1) buckets in
 *     four pieces, as shmkv's), here over the same contiguous buckets;
 *   - a hostile file: the layout, the directory entry, the bucket and the
 *     record checked against the mapping before they are read;
 *   - writers that reuse memory: one version word (not shmkv's four) read
 *     before the bucket and again after the copy, behind a fence; a
 *     moved word would send the get round again (nothing here moves it).
 * Writers are unchanged: they never move the word, as a put in shmkv
 * moves none of its counters.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDEAL_SLOTS 8
#define IDEAL_TOMB 1ull
#define IDEAL_CHUNK (1ull << 20)
#define IDEAL_OFF_MASK ((1ull << 40) - 1)

#define IDEAL_DIR 128               /* directory entries (--ideal-guards) */

struct ideal_head {
    uint64_t nb;                   /* buckets: a power of two */
    uint64_t rec_lo, size;         /* the record area: [rec_lo, size) */
    _Atomic uint64_t next;         /* the next chunk of the record area */
    /* --ideal-guards: the index as a growing table would describe it */
    _Atomic uint64_t layout;       /* level << 32 | split point */
    _Atomic uint64_t version;      /* a reader's view: moved by nothing here */
    uint32_t base_bits;            /* log2 of chunk 0's buckets */
    _Atomic uint64_t dir[IDEAL_DIR]; /* byte offset of each bucket piece */
};

struct ideal {
    unsigned char *base;
    size_t size;
    struct ideal_head *hd;
    _Atomic uint64_t *slot;        /* nb * IDEAL_SLOTS */
    uint64_t mask;
};

/* Where bucket b is in a directory of chunks (chunk 0: 2^base buckets;
 * chunk c >= 1: 2^(base + c - 1)), chunks of 4096 buckets or more in four
 * pieces: the directory entry (IDEAL_DIR if none) and the index within
 * its piece.  The arithmetic of shmkv's dir_slot, written out here. */
static unsigned ideal_dir_slot(uint64_t b, unsigned base, uint64_t *idx)
{
    uint64_t q = b >> base;
    if (!q) {
        *idx = b;
        return 0;
    }
    unsigned c = 64u - (unsigned)__builtin_clzll(q), lb = base + c - 1, pb = lb >= 12 ? lb - 2 : lb;
    uint64_t rel = b - (1ull << lb);
    *idx = rel & ((1ull << pb) - 1);
    unsigned d = c * 4 + (unsigned)(rel >> pb);
    return d < IDEAL_DIR ? d : IDEAL_DIR;
}

/* The directory over the contiguous buckets at 4096: level 5 (six
 * chunks), no split under way. */
static void ideal_dir_init(struct ideal_head *hd)
{
    unsigned nbits = (unsigned)__builtin_ctzll(hd->nb), base = nbits > 6 ? nbits - 5 : 1;
    hd->base_bits = base;
    atomic_init(&hd->layout, (uint64_t)(nbits - base) << 32);
    atomic_init(&hd->version, 0);
    for (uint64_t b = 0; b < hd->nb; b++) {
        uint64_t idx;
        unsigned d = ideal_dir_slot(b, base, &idx);
        if (idx == 0 && d < IDEAL_DIR)
            atomic_init(&hd->dir[d], 4096 + b * 64);
    }
}

struct ideal_thread {
    uint64_t pos, end;             /* this thread's chunk */
};

static const char *ideal_version(void) { return "bench"; }

static uint64_t ideal_hash(const unsigned char *k, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    for (; n >= 8; n -= 8, k += 8) {
        memcpy(&w, k, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    w = 0;
    memcpy(&w, k, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    return h ^ h >> 29;
}

/* Keys of 8 to 16 bytes (the standard comparison's) compared with two
 * loads each, as shmkv's get does; others by memcmp. */
static int key_eq(const unsigned char *a, const unsigned char *b, size_t n)
{
    if (n < 8 || n > 16)
        return !memcmp(a, b, n);
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8), memcpy(&a1, a + n - 8, 8);
    memcpy(&b0, b, 8), memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* The same for copying a value. */
static void copy_val(unsigned char *d, const unsigned char *s, size_t n)
{
    if (n < 8 || n > 16) {
        memcpy(d, s, n);
        return;
    }
    uint64_t a, b;
    memcpy(&a, s, 8), memcpy(&b, s + n - 8, 8);
    memcpy(d, &a, 8), memcpy(d + n - 8, &b, 8);
}

static uint64_t rec_bytes(size_t kl, size_t vl) { return (8 + kl + vl + 7) & ~7ull; }

static int ideal_setup(struct store *s, char *err, size_t n)
{
    const struct config *c = s->cfg;
    uint64_t nb = 1;
    while (nb * IDEAL_SLOTS * 5 < c->nkeys * 8) /* a load of at most 5/8 */
        nb *= 2;
    struct ideal_head hd = { .nb = nb, .rec_lo = 4096 + nb * 64 };
    ideal_dir_init(&hd);
    hd.size = hd.rec_lo + 2 * c->nkeys * rec_bytes(c->key.max, c->val.max) +
              (256ull << 20) + (uint64_t)c->workers * IDEAL_CHUNK;
    atomic_init(&hd.next, hd.rec_lo);
    snprintf(s->path, sizeof s->path, "%s/ideal", s->cl->run_dir);
    snprintf(s->mapfile, sizeof s->mapfile, "%s", s->path);
    track_file(s->cl, s->path);
    int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)hd.size) || pwrite(fd, &hd, sizeof hd, 0) != (ssize_t)sizeof hd) {
        snprintf(err, n, "%s: %s", s->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int ideal_teardown(struct store *s, char *err, size_t n)
{
    int rc = unlink(s->path);
    untrack_file(s->cl, s->path);
    if (rc) {
        snprintf(err, n, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int ideal_map(struct store *s, struct ideal *t, char *err, size_t n)
{
    int fd = open(s->path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        snprintf(err, n, "%s: %s", s->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    t->size = (size_t)st.st_size;
    t->base = mmap(NULL, t->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (t->base == MAP_FAILED) {
        snprintf(err, n, "mmap %s: %s", s->path, strerror(errno));
        return -1;
    }
    t->hd = (struct ideal_head *)t->base;
    t->slot = (_Atomic uint64_t *)(t->base + 4096);
    t->mask = t->hd->nb - 1;
    return 0;
}

static void ideal_unmap(struct ideal *t) { munmap(t->base, t->size); }

static int ideal_inspect(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    struct ideal t;
    if (ideal_map(s, &t, err, n))
        return -1;
    uint64_t keys = 0, used = atomic_load(&t.hd->next) - t.hd->rec_lo;
    for (uint64_t i = 0; i < t.hd->nb * IDEAL_SLOTS; i++)
        keys += atomic_load_explicit(&t.slot[i], memory_order_relaxed) > IDEAL_TOMB;
    si->keys = keys;
    si->mem_bytes = 4096 + t.hd->nb * 64 + used;
    si->mem_what = "bucket and record bytes";
    snprintf(si->detail, sizeof si->detail, "%" PRIu64 " keys, %" PRIu64 " buckets, records %.1f MiB",
             keys, t.hd->nb, (double)used / 1048576.0);
    snprintf(si->json, sizeof si->json, "{\"keys\": %" PRIu64 ", \"buckets\": %" PRIu64 ", \"record_bytes\": %"
             PRIu64 "}", keys, t.hd->nb, used);
    ideal_unmap(&t);
    return 0;
}

static int ideal_open_proc(struct store *s, char *err, size_t n)
{
    struct ideal *t = malloc(sizeof *t);
    if (!t || ideal_map(s, t, err, n)) {
        if (!t)
            snprintf(err, n, "out of memory");
        free(t);
        return -1;
    }
    s->h = t;
    return 0;
}

static void ideal_close_proc(struct store *s)
{
    ideal_unmap(s->h);
    free(s->h);
    s->h = NULL;
}

static int ideal_open_thread(struct wctx *c)
{
    if (!(c->conn = calloc(1, sizeof(struct ideal_thread)))) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return RES_ERR;
    }
    return RES_OK;
}

static void ideal_close_thread(struct wctx *c)
{
    free(c->conn);
    c->conn = NULL;
}

/* The slot holding key k (whose hash is h), its value as found in *val;
 * or, when it is absent, NULL and *free the first deleted or empty slot of
 * its probe (NULL if none).  The value found is the one to use: the slot
 * may change at any moment after (a delete, another put). */
static _Atomic uint64_t *ideal_find(const struct ideal *t, uint64_t h, const unsigned char *k, size_t kl,
                                    _Atomic uint64_t **free, uint64_t *val)
{
    uint64_t tag = h >> 40;
    *free = NULL;
    for (uint64_t b = h & t->mask, left = t->hd->nb; left; b = (b + 1) & t->mask, left--) {
        _Atomic uint64_t *bk = &t->slot[b * IDEAL_SLOTS];
        for (unsigned i = 0; i < IDEAL_SLOTS; i++) {
            uint64_t v = atomic_load_explicit(&bk[i], memory_order_acquire);
            if (v <= IDEAL_TOMB) {
                if (!*free)
                    *free = &bk[i];
                if (!v)
                    return NULL;
                continue;
            }
            if (v >> 40 != tag)
                continue;
            const uint32_t *r = (const uint32_t *)(t->base + ((v & IDEAL_OFF_MASK) << 3));
            if (r[0] == kl && key_eq((const unsigned char *)(r + 2), k, kl)) {
                *val = v;
                return &bk[i];
            }
        }
    }
    return NULL;
}

/* --ideal-guards: bucket b's address as a growing table finds it, checked
 * against the mapping; NULL if the directory names no bucket there. */
static _Atomic uint64_t *ideal_bucket(const struct ideal *t, uint64_t b)
{
    uint64_t idx;
    unsigned d = ideal_dir_slot(b, t->hd->base_bits, &idx);
    if (d >= IDEAL_DIR)
        return NULL;
    uint64_t off = atomic_load_explicit(&t->hd->dir[d], memory_order_acquire) + idx * 64;
    if ((off & 63) || off < 4096 || off + 64 > t->size)
        return NULL;
    return (_Atomic uint64_t *)(t->base + off);
}

/* A get with the guards (the file header's comment): RES_OK, RES_ABSENT,
 * or 2 to look again (the view moved, or a check failed). */
static int ideal_get_guarded(const struct ideal *t, uint64_t h, const unsigned char *k, size_t kl,
                             unsigned char *buf, size_t cap, size_t *vl)
{
    uint64_t lay = atomic_load_explicit(&t->hd->layout, memory_order_acquire);
    unsigned bits = t->hd->base_bits + (unsigned)(lay >> 32);
    uint64_t split = (uint32_t)lay;
    if (bits >= 40 || split >= 1ull << bits)
        return 2;
    uint64_t m = (1ull << bits) - 1, b = h & m;
    if (b < split)
        b = h & (2 * m + 1);
    _Atomic uint64_t *bk = ideal_bucket(t, b);
    if (!bk)
        return 2;
    __builtin_prefetch(bk);
    uint64_t ver = atomic_load_explicit(&t->hd->version, memory_order_acquire), tag = h >> 40;
    for (uint64_t left = t->hd->nb; left; left--) {
        for (unsigned i = 0; i < IDEAL_SLOTS; i++) {
            uint64_t v = atomic_load_explicit(&bk[i], memory_order_acquire);
            if (!v)
                return RES_ABSENT;
            if (v == IDEAL_TOMB || v >> 40 != tag)
                continue;
            uint64_t o = (v & IDEAL_OFF_MASK) << 3;
            if (o < t->hd->rec_lo || o + 8 + kl > t->size)
                return 2;
            const uint32_t *r = (const uint32_t *)(t->base + o);
            if (r[0] != kl || !key_eq((const unsigned char *)(r + 2), k, kl))
                continue;
            *vl = r[1];
            if (o + 8 + kl + r[1] > t->size)
                return 2;
            if (r[1] <= cap)
                copy_val(buf, (const unsigned char *)(r + 2) + kl, r[1]);
            atomic_thread_fence(memory_order_acquire); /* the copy before the re-read */
            return atomic_load_explicit(&t->hd->version, memory_order_relaxed) == ver ? RES_OK : 2;
        }
        if (!(bk = ideal_bucket(t, (b = (b + 1) & t->mask))))
            return 2;
    }
    return RES_ABSENT;
}

static int ideal_get(struct wctx *c, const unsigned char *k, size_t kl, unsigned char *buf, size_t cap, size_t *vl)
{
    const struct ideal *t = c->s->h;
    for (unsigned i = c->s->cfg->ideal_pad; i; i--)
        __asm__ volatile("nop"); /* --ideal-pad: work that is not the get's */
    if (c->s->cfg->ideal_guards) {
        int r;
        for (unsigned tries = 0; (r = ideal_get_guarded(t, ideal_hash(k, kl), k, kl, buf, cap, vl)) == 2; tries++)
            if (tries == 100) {
                snprintf(c->err, sizeof c->err, "ideal: a guard failed 100 times in a row");
                return RES_ERR;
            }
        return r;
    }
    uint64_t v;
    _Atomic uint64_t *fr;
    if (!ideal_find(t, ideal_hash(k, kl), k, kl, &fr, &v))
        return RES_ABSENT;
    const uint32_t *r = (const uint32_t *)(t->base + ((v & IDEAL_OFF_MASK) << 3));
    *vl = r[1];
    if (r[1] <= cap)
        copy_val(buf, (const unsigned char *)(r + 2) + kl, r[1]);
    return RES_OK;
}

/* A record of k and v in this thread's chunk: its offset, or 0 when the
 * record area is used up. */
static uint64_t ideal_append(struct wctx *c, const unsigned char *k, size_t kl, const unsigned char *v, size_t vl)
{
    const struct ideal *t = c->s->h;
    struct ideal_thread *th = c->conn;
    uint64_t need = rec_bytes(kl, vl);
    if (th->end - th->pos < need) {
        uint64_t want = need > IDEAL_CHUNK ? need : IDEAL_CHUNK;
        uint64_t at = atomic_fetch_add_explicit(&t->hd->next, want, memory_order_relaxed);
        if (at + want > t->hd->size)
            return 0;
        th->pos = at;
        th->end = at + want;
    }
    uint64_t off = th->pos;
    uint32_t *r = (uint32_t *)(t->base + off);
    r[0] = (uint32_t)kl;
    r[1] = (uint32_t)vl;
    memcpy(r + 2, k, kl);
    memcpy((unsigned char *)(r + 2) + kl, v, vl);
    th->pos += need;
    return off;
}

static int ideal_put(struct wctx *c, const unsigned char *k, size_t kl, const unsigned char *v, size_t vl)
{
    const struct ideal *t = c->s->h;
    uint64_t h = ideal_hash(k, kl), off = ideal_append(c, k, kl, v, vl);
    if (!off) {
        snprintf(c->err, sizeof c->err, "ideal: the record area is full");
        return RES_ERR;
    }
    uint64_t nv = (h >> 40) << 40 | off >> 3;
    for (;;) {
        uint64_t was;
        _Atomic uint64_t *fr, *sl = ideal_find(t, h, k, kl, &fr, &was);
        if (sl) { /* only the key's owner writes it: a plain release store */
            atomic_store_explicit(sl, nv, memory_order_release);
            return RES_OK;
        }
        if (!fr) {
            snprintf(c->err, sizeof c->err, "ideal: every bucket is full");
            return RES_ERR;
        }
        uint64_t old = atomic_load_explicit(fr, memory_order_relaxed);
        if (old <= IDEAL_TOMB &&
            atomic_compare_exchange_strong_explicit(fr, &old, nv, memory_order_release, memory_order_relaxed))
            return RES_OK;
        /* another key took the slot first: look again */
    }
}

static int ideal_del(struct wctx *c, const unsigned char *k, size_t kl)
{
    const struct ideal *t = c->s->h;
    uint64_t was;
    _Atomic uint64_t *fr, *sl = ideal_find(t, ideal_hash(k, kl), k, kl, &fr, &was);
    if (!sl)
        return RES_ABSENT;
    atomic_store_explicit(sl, IDEAL_TOMB, memory_order_release);
    return RES_OK;
}

const struct sysops ideal_sysops = {
    .base = "ideal",
    .version = ideal_version,
    .setup = ideal_setup,
    .teardown = ideal_teardown,
    .inspect = ideal_inspect,
    .open_proc = ideal_open_proc,
    .close_proc = ideal_close_proc,
    .open_thread = ideal_open_thread,
    .close_thread = ideal_close_thread,
    .get = ideal_get,
    .put = ideal_put,
    .del = ideal_del,
};
