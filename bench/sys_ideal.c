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
 * --ideal-pad N makes each get (batched too) first run N empty loop
 * turns: how much a get may add to this one before consecutive gets stop
 * overlapping (BENCHMARKS 9.8), or a batch slows (9.12).
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
 *     moved word would send the get round again (nothing here moves it);
 * and its writers the least that a put and a delete keeping shmkv's
 * guarantees do (BENCHMARKS 9.12): a lock per shard (256, as shmkv's)
 * whose word names its holder, so that a dead one could be found, taken
 * in a line shared with the shard's log tail and counters; a record
 * appended to the shard's log under it, published with one release
 * store; replaced bytes counted dead for a compaction.  A shard owns the
 * buckets b with b % 256 its number, so a probe stays in them.  Left
 * out: growth, the journal a taker-over repairs from, compaction itself.
 * Writers never move the version word, as a put in shmkv moves none of
 * its counters.
 *
 * Two knobs for the guarded put, to see where a put's time goes
 * (BENCHMARKS 9.18): --ideal-shmkv-lines makes it take shmkv's lock (the
 * holder's boot, start time and id written after the word, a generation
 * moved on both ways, an exchange to unlock) and write the three shard
 * lines shmkv's put writes (the lock's, the counters', the open log
 * chunk's header with its tail and live bytes); --ideal-put-pad N and
 * --ideal-put-prepad N add N turns of a dependent loop after the look
 * (the work a put does once its bucket has come) or before the lock
 * (while it is on its way).
 *
 * --batch N: gets in groups of 16 in shmkv_get_many's stages (every home
 * bucket asked for, then each first matching record or overflow bucket,
 * then the gets, straight from the slot the stages found, with the
 * guarded get's checks under --ideal-guards): the least a batched get of
 * this shape costs.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IDEAL_SLOTS 8
#define IDEAL_TOMB 1ull
#define IDEAL_CHUNK (1ull << 20)
#define IDEAL_OFF_MASK ((1ull << 40) - 1)

#define IDEAL_DIR 128               /* directory entries (--ideal-guards) */
#define IDEAL_SHARDS 256            /* lock stripes (--ideal-guards), as shmkv's */
#define IDEAL_SHARD_CHUNK (64ull << 10) /* a shard's log grows by this much */
#define IDEAL_BKT (4096 + IDEAL_SHARDS * 128) /* the buckets: past the header and the shards */

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

/* --ideal-guards: a shard's writer state, what shmkv's put must write,
 * packed in one line (a): the lock naming its holder, the shard's log
 * tail, its counters.  With --ideal-shmkv-lines, as shmkv lays it out
 * (format.h): the lock's line (s) holds the lock word, the holder's
 * identity and a generation, and the open log chunk's offset; the
 * counters have a line of their own (c); the log's tail and live bytes
 * are in the open chunk's header (struct ideal_run): three lines written
 * by every put. */
struct ideal_shard {
    union {
        struct {
            _Atomic uint64_t lock;         /* 0, or the holder: pid << 32 | tid */
            uint64_t pos, end;             /* the shard's log: the next record, its chunk's end */
            uint64_t live, dead, puts, dels; /* pairs, bytes of replaced records, writes */
            uint64_t pad;
        } a;
        struct {
            _Atomic uint32_t word, boot;   /* 0 or the holder's tid; its boot */
            _Atomic uint64_t owner, start, gen; /* its id, its start time; odd while held */
            uint64_t run;                  /* the open chunk: an ideal_run, then records */
            uint64_t pad[3];
        } s;
    };
    struct {
        uint64_t live, dead, puts, dels, pad[4];
    } c;
};

/* --ideal-shmkv-lines: the header of a shard's log chunk */
struct ideal_run {
    _Atomic uint64_t used, live;   /* bytes appended (the header's included), live bytes */
    uint64_t pad[6];
};

_Static_assert(sizeof(struct ideal_shard) == 128, "a shard is two lines");
_Static_assert(sizeof(struct ideal_run) == 64, "a chunk's header is a line");

struct ideal {
    unsigned char *base;
    size_t size;
    struct ideal_head *hd;
    _Atomic uint64_t *slot;        /* nb * IDEAL_SLOTS */
    struct ideal_shard *sh;        /* IDEAL_SHARDS */
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

/* The directory over the contiguous buckets at IDEAL_BKT: level 5 (six
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
            atomic_init(&hd->dir[d], IDEAL_BKT + b * 64);
    }
}

_Static_assert(sizeof(struct ideal_head) <= 4096, "the header is its page");

struct ideal_thread {
    uint64_t pos, end;             /* this thread's chunk */
    uint64_t me;                   /* --ideal-guards: this thread as a lock holder */
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
    uint64_t nb = IDEAL_SHARDS; /* a bucket belongs to shard b % IDEAL_SHARDS */
    while (nb * IDEAL_SLOTS * 5 < c->nkeys * 8) /* a load of at most 5/8 */
        nb *= 2;
    struct ideal_head hd = { .nb = nb, .rec_lo = IDEAL_BKT + nb * 64 };
    ideal_dir_init(&hd);
    hd.size = hd.rec_lo + 2 * c->nkeys * rec_bytes(c->key.max, c->val.max) + (256ull << 20) +
              (uint64_t)c->workers * IDEAL_CHUNK + IDEAL_SHARDS * IDEAL_SHARD_CHUNK;
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
    t->slot = (_Atomic uint64_t *)(t->base + IDEAL_BKT);
    t->sh = (struct ideal_shard *)(t->base + 4096);
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
    si->mem_bytes = IDEAL_BKT + t.hd->nb * 64 + used;
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
    struct ideal_thread *th = calloc(1, sizeof *th);
    if (!(c->conn = th)) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return RES_ERR;
    }
    th->me = (uint64_t)getpid() << 32 | (uint32_t)syscall(SYS_gettid);
    return RES_OK;
}

static void ideal_close_thread(struct wctx *c)
{
    free(c->conn);
    c->conn = NULL;
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
    if ((off & 63) || off < IDEAL_BKT || off + 64 > t->size)
        return NULL;
    return (_Atomic uint64_t *)(t->base + off);
}

/* --ideal-guards: the home bucket of hash h as a growing table finds it
 * (the layout's level and split point, as shmkv's bucket_for): its
 * number, or -1 when the layout is not one this file can hold. */
static int64_t ideal_home(const struct ideal *t, uint64_t h)
{
    uint64_t lay = atomic_load_explicit(&t->hd->layout, memory_order_acquire);
    unsigned bits = t->hd->base_bits + (unsigned)(lay >> 32);
    uint64_t split = (uint32_t)lay;
    if (bits >= 40 || split >= 1ull << bits)
        return -1;
    uint64_t m = (1ull << bits) - 1, b = h & m;
    return (int64_t)(b < split ? h & (2 * m + 1) : b);
}

/* The slot holding key k (whose hash is h), its value as found in *val;
 * or, when it is absent, NULL and *free the first deleted or empty slot of
 * its probe (NULL if none).  The value found is the one to use: the slot
 * may change at any moment after (a delete, another put).  Guarded, the
 * caller holds h's shard lock: the probe goes through the directory over
 * the shard's own buckets (b + IDEAL_SHARDS), and a record outside the
 * file ends it (NULL, no free slot: the put fails the run). */
static _Atomic uint64_t *ideal_find(const struct ideal *t, uint64_t h, const unsigned char *k, size_t kl,
                                    bool guarded, _Atomic uint64_t **free, uint64_t *val)
{
    uint64_t tag = h >> 40, step = guarded ? IDEAL_SHARDS : 1;
    int64_t home = guarded ? ideal_home(t, h) : (int64_t)(h & t->mask);
    *free = NULL;
    if (home < 0)
        return NULL;
    for (uint64_t b = (uint64_t)home, left = t->hd->nb / step; left; b = (b + step) & t->mask, left--) {
        _Atomic uint64_t *bk = guarded ? ideal_bucket(t, b) : &t->slot[b * IDEAL_SLOTS];
        if (!bk)
            return *free = NULL;
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
            uint64_t o = (v & IDEAL_OFF_MASK) << 3;
            if (guarded && (o < t->hd->rec_lo || o + 8 + kl > t->size))
                return *free = NULL;
            const uint32_t *r = (const uint32_t *)(t->base + o);
            if (r[0] == kl && key_eq((const unsigned char *)(r + 2), k, kl)) {
                *val = v;
                return &bk[i];
            }
        }
    }
    return NULL;
}

/* What a guarded look answers besides RES_OK and RES_ABSENT. */
enum { IDEAL_RETRY = 2, IDEAL_OTHER = 3 };

/* The record slot value v names, if it is key k's: its value copied and
 * RES_OK; IDEAL_OTHER if it is another key's; guarded, IDEAL_RETRY when
 * the record reaches outside the file or the version word moved from ver
 * (read before the slot) by the time the copy is done. */
static int ideal_read(const struct ideal *t, uint64_t v, const unsigned char *k, size_t kl, unsigned char *buf,
                      size_t cap, size_t *vl, bool guarded, uint64_t ver)
{
    uint64_t off = (v & IDEAL_OFF_MASK) << 3;
    if (guarded && (off < t->hd->rec_lo || off + 8 + kl > t->size))
        return IDEAL_RETRY;
    const uint32_t *r = (const uint32_t *)(t->base + off);
    if (r[0] != kl || !key_eq((const unsigned char *)(r + 2), k, kl))
        return IDEAL_OTHER;
    if (guarded && off + 8 + kl + r[1] > t->size)
        return IDEAL_RETRY;
    *vl = r[1];
    if (r[1] <= cap)
        copy_val(buf, (const unsigned char *)(r + 2) + kl, r[1]);
    if (!guarded)
        return RES_OK;
    atomic_thread_fence(memory_order_acquire); /* the copy before the re-read */
    return atomic_load_explicit(&t->hd->version, memory_order_relaxed) == ver ? RES_OK : IDEAL_RETRY;
}

/* A get with the guards (the file header's comment): RES_OK, RES_ABSENT,
 * or IDEAL_RETRY to look again (the view moved, or a check failed). */
static int ideal_get_guarded(const struct ideal *t, uint64_t h, const unsigned char *k, size_t kl,
                             unsigned char *buf, size_t cap, size_t *vl)
{
    int64_t home = ideal_home(t, h);
    if (home < 0)
        return IDEAL_RETRY;
    uint64_t b = (uint64_t)home;
    _Atomic uint64_t *bk = ideal_bucket(t, b);
    if (!bk)
        return IDEAL_RETRY;
    __builtin_prefetch(bk);
    uint64_t ver = atomic_load_explicit(&t->hd->version, memory_order_acquire), tag = h >> 40;
    for (uint64_t left = t->hd->nb / IDEAL_SHARDS; left; left--) {
        for (unsigned i = 0; i < IDEAL_SLOTS; i++) {
            uint64_t v = atomic_load_explicit(&bk[i], memory_order_acquire);
            if (!v)
                return RES_ABSENT;
            int r;
            if (v != IDEAL_TOMB && v >> 40 == tag && (r = ideal_read(t, v, k, kl, buf, cap, vl, true, ver)) != IDEAL_OTHER)
                return r;
        }
        if (!(bk = ideal_bucket(t, (b = (b + IDEAL_SHARDS) & t->mask))))
            return IDEAL_RETRY;
    }
    return RES_ABSENT;
}

/* A get of k, whose hash is h. */
static int ideal_get_h(struct wctx *c, uint64_t h, const unsigned char *k, size_t kl, unsigned char *buf,
                       size_t cap, size_t *vl)
{
    const struct ideal *t = c->s->h;
    if (c->s->cfg->ideal_guards) {
        int r;
        for (unsigned tries = 0; (r = ideal_get_guarded(t, h, k, kl, buf, cap, vl)) == IDEAL_RETRY; tries++)
            if (tries == 100) {
                snprintf(c->err, sizeof c->err, "ideal: a guard failed 100 times in a row");
                return RES_ERR;
            }
        return r;
    }
    uint64_t v;
    _Atomic uint64_t *fr;
    if (!ideal_find(t, h, k, kl, false, &fr, &v))
        return RES_ABSENT;
    return ideal_read(t, v, k, kl, buf, cap, vl, false, 0); /* the key's (ideal_find compared it) */
}

/* --ideal-pad: work that is not the get's, before each get */
static void ideal_pad(const struct wctx *c)
{
    for (unsigned i = c->s->cfg->ideal_pad; i; i--)
        __asm__ volatile("nop");
}

static int ideal_get(struct wctx *c, const unsigned char *k, size_t kl, unsigned char *buf, size_t cap, size_t *vl)
{
    ideal_pad(c);
    return ideal_get_h(c, ideal_hash(k, kl), k, kl, buf, cap, vl);
}

/* A record of k and v appended at *pos, in a chunk ending at *end (a
 * thread's, or guarded a shard's), a new chunk of the record area taken
 * when it is full: its offset, or 0 when the record area is used up. */
static uint64_t ideal_append(const struct ideal *t, uint64_t *pos, uint64_t *end, uint64_t chunk,
                             const unsigned char *k, size_t kl, const unsigned char *v, size_t vl)
{
    uint64_t need = rec_bytes(kl, vl);
    if (*end - *pos < need) {
        uint64_t want = need > chunk ? need : chunk;
        uint64_t at = atomic_fetch_add_explicit(&t->hd->next, want, memory_order_relaxed);
        if (at + want > t->hd->size)
            return 0;
        *pos = at;
        *end = at + want;
    }
    uint64_t off = *pos;
    uint32_t *r = (uint32_t *)(t->base + off);
    r[0] = (uint32_t)kl;
    r[1] = (uint32_t)vl;
    memcpy(r + 2, k, kl);
    memcpy((unsigned char *)(r + 2) + kl, v, vl);
    *pos += need;
    return off;
}

/* --ideal-guards: take shard sh's lock as thread me (the word names its
 * holder, so that a holder found dead could be taken over; this yardstick
 * never needs to, and only waits).  --ideal-shmkv-lines: as shmkv's
 * (lock.c): the word, then the holder's boot, start time and id, then
 * the generation moved to odd. */
static void ideal_lock(struct ideal_shard *sh, uint64_t me, bool lines)
{
    if (lines) {
        uint32_t none = 0;
        while (!atomic_compare_exchange_weak_explicit(&sh->s.word, &none, (uint32_t)me, memory_order_acquire,
                                                      memory_order_relaxed)) {
            none = 0;
            __builtin_ia32_pause();
        }
        atomic_store_explicit(&sh->s.boot, 1, memory_order_relaxed);
        atomic_store_explicit(&sh->s.start, me ^ 0x5bd1e995u, memory_order_relaxed);
        atomic_store_explicit(&sh->s.owner, me, memory_order_release);
        atomic_store_explicit(&sh->s.gen, atomic_load_explicit(&sh->s.gen, memory_order_relaxed) + 1,
                              memory_order_release);
        return;
    }
    uint64_t none = 0;
    while (!atomic_compare_exchange_weak_explicit(&sh->a.lock, &none, me, memory_order_acquire,
                                                  memory_order_relaxed)) {
        none = 0;
        __builtin_ia32_pause();
    }
}

/* The unlock: shmkv's moves the generation on and exchanges the word (to
 * see whether a waiter sleeps on it: none does here). */
static void ideal_unlock(struct ideal_shard *sh, bool lines)
{
    if (lines) {
        atomic_store_explicit(&sh->s.gen, atomic_load_explicit(&sh->s.gen, memory_order_relaxed) + 1,
                              memory_order_release);
        (void)atomic_exchange_explicit(&sh->s.word, 0, memory_order_release);
        return;
    }
    atomic_store_explicit(&sh->a.lock, 0, memory_order_release);
}

/* --ideal-shmkv-lines: a record appended to the shard's open chunk, its
 * tail and live bytes in the chunk's header, a new chunk when it is full:
 * the record's offset, or 0 when the record area is used up. */
static uint64_t ideal_append_run(const struct ideal *t, struct ideal_shard *sh, const unsigned char *k, size_t kl,
                                 const unsigned char *v, size_t vl)
{
    uint64_t need = rec_bytes(kl, vl);
    struct ideal_run *run = sh->s.run ? (struct ideal_run *)(t->base + sh->s.run) : NULL;
    if (!run || atomic_load_explicit(&run->used, memory_order_relaxed) + need > IDEAL_SHARD_CHUNK) {
        uint64_t at = atomic_fetch_add_explicit(&t->hd->next, IDEAL_SHARD_CHUNK, memory_order_relaxed);
        if (need + sizeof *run > IDEAL_SHARD_CHUNK || at + IDEAL_SHARD_CHUNK > t->hd->size)
            return 0;
        sh->s.run = at;
        run = (struct ideal_run *)(t->base + at);
        atomic_store_explicit(&run->used, sizeof *run, memory_order_relaxed);
    }
    uint64_t used = atomic_load_explicit(&run->used, memory_order_relaxed), pos = sh->s.run + used, end = pos + need;
    uint64_t off = ideal_append(t, &pos, &end, IDEAL_SHARD_CHUNK, k, kl, v, vl);
    atomic_store_explicit(&run->used, used + need, memory_order_release);
    atomic_store_explicit(&run->live, atomic_load_explicit(&run->live, memory_order_relaxed) + need,
                          memory_order_relaxed);
    return off;
}

/* --ideal-put-pad, --ideal-put-prepad: n turns of a loop whose every turn
 * needs the one before, from x (the look's result, or the hash): work of
 * the put's own, in registers (it writes no line). */
static void ideal_put_pad(unsigned n, uint64_t x)
{
    for (; n; n--)
        __asm__ volatile("add $1, %0\n\tnop\n\tnop" : "+r"(x));
    __asm__ volatile("" ::"r"(x));
}

/* --ideal-guards: the least a put that keeps shmkv's guarantees does
 * (BENCHMARKS 9.12): the home bucket asked for before the lock, the
 * shard's lock (its line shared by every writer of the shard), the record
 * at the tail of the shard's log, the look, the slot published with one
 * release store, the replaced record's bytes counted dead for the
 * compaction that reclaims them, the counters, the unlock.  Not there:
 * growth (the buckets are sized for the run), the journal that lets a
 * taker-over repair a dead holder's half-done change, compaction. */
static int ideal_put_guarded(struct wctx *c, uint64_t h, const unsigned char *k, size_t kl,
                             const unsigned char *v, size_t vl)
{
    const struct ideal *t = c->s->h;
    const struct config *cfg = c->s->cfg;
    bool lines = cfg->ideal_shmkv_lines;
    struct ideal_shard *sh = &t->sh[h % IDEAL_SHARDS];
    int64_t home = ideal_home(t, h);
    _Atomic uint64_t *bk = home < 0 ? NULL : ideal_bucket(t, (uint64_t)home);
    if (bk)
        __builtin_prefetch(bk, 1);
    ideal_put_pad(cfg->ideal_put_pad[0], h);
    ideal_lock(sh, ((struct ideal_thread *)c->conn)->me, lines);
    /* the record at the tail of the shard's log */
    uint64_t off = lines ? ideal_append_run(t, sh, k, kl, v, vl)
                         : ideal_append(t, &sh->a.pos, &sh->a.end, IDEAL_SHARD_CHUNK, k, kl, v, vl), was;
    _Atomic uint64_t *fr, *sl = off ? ideal_find(t, h, k, kl, true, &fr, &was) : NULL;
    if (sl || (off && fr)) {
        atomic_store_explicit(sl ? sl : fr, (h >> 40) << 40 | off >> 3, memory_order_release);
        uint64_t *live = lines ? &sh->c.live : &sh->a.live, *dead = lines ? &sh->c.dead : &sh->a.dead;
        if (sl) {
            const uint32_t *r = (const uint32_t *)(t->base + ((was & IDEAL_OFF_MASK) << 3));
            *dead += rec_bytes(r[0], r[1]);
        } else {
            ++*live;
        }
        ++*(lines ? &sh->c.puts : &sh->a.puts);
        ideal_put_pad(cfg->ideal_put_pad[1], sl ? was : (uint64_t)(uintptr_t)fr);
    }
    ideal_unlock(sh, lines);
    if (sl || (off && fr))
        return RES_OK;
    snprintf(c->err, sizeof c->err, off ? "ideal: every bucket of a shard is full, or a record is outside the file"
                                        : "ideal: the record area is full");
    return RES_ERR;
}

static int ideal_put(struct wctx *c, const unsigned char *k, size_t kl, const unsigned char *v, size_t vl)
{
    const struct ideal *t = c->s->h;
    uint64_t h = ideal_hash(k, kl);
    if (c->s->cfg->ideal_guards)
        return ideal_put_guarded(c, h, k, kl, v, vl);
    struct ideal_thread *th = c->conn;
    uint64_t off = ideal_append(t, &th->pos, &th->end, IDEAL_CHUNK, k, kl, v, vl);
    if (!off) {
        snprintf(c->err, sizeof c->err, "ideal: the record area is full");
        return RES_ERR;
    }
    uint64_t nv = (h >> 40) << 40 | off >> 3;
    for (;;) {
        uint64_t was;
        _Atomic uint64_t *fr, *sl = ideal_find(t, h, k, kl, false, &fr, &was);
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
    bool guarded = c->s->cfg->ideal_guards;
    uint64_t h = ideal_hash(k, kl), was;
    struct ideal_shard *sh = &t->sh[h % IDEAL_SHARDS];
    bool lines = c->s->cfg->ideal_shmkv_lines;
    if (guarded)
        ideal_lock(sh, ((struct ideal_thread *)c->conn)->me, lines);
    _Atomic uint64_t *fr, *sl = ideal_find(t, h, k, kl, guarded, &fr, &was);
    if (sl) {
        atomic_store_explicit(sl, IDEAL_TOMB, memory_order_release);
        if (guarded) {
            const uint32_t *r = (const uint32_t *)(t->base + ((was & IDEAL_OFF_MASK) << 3));
            *(lines ? &sh->c.dead : &sh->a.dead) += rec_bytes(r[0], r[1]);
            --*(lines ? &sh->c.live : &sh->a.live);
            ++*(lines ? &sh->c.dels : &sh->a.dels);
        }
    }
    if (guarded)
        ideal_unlock(sh, lines);
    return sl ? RES_OK : RES_ABSENT;
}

/* --batch: gets a group of IDEAL_BATCH at a time, in shmkv_get_many's
 * stages: every key's hash and home bucket asked for; then each bucket's
 * first matching record asked for (or, a full bucket with no match, the
 * next bucket of the probe, and then its record); then the gets, whose
 * lines are on their way.  The least a batched get of this shape costs
 * (BENCHMARKS 9.12). */
#define IDEAL_BATCH 16

/* The bucket after b in h's probe. */
static uint64_t ideal_probe_next(const struct ideal *t, uint64_t b, bool guarded)
{
    return (b + (guarded ? IDEAL_SHARDS : 1)) & t->mask;
}

/* Bucket b's address (NULL: the directory names none). */
static _Atomic uint64_t *ideal_bucket_any(const struct ideal *t, uint64_t b, bool guarded)
{
    return guarded ? ideal_bucket(t, b) : &t->slot[b * IDEAL_SLOTS];
}

/* Ask for the record of bucket bk's first slot with h's tag (*hit: that
 * slot) and return true; or, when bk is full and holds none, return false
 * (the key is further on). */
static bool ideal_prefetch_rec(const struct ideal *t, _Atomic uint64_t *bk, uint64_t h, _Atomic uint64_t **hit)
{
    for (unsigned i = 0; i < IDEAL_SLOTS; i++) {
        uint64_t v = atomic_load_explicit(&bk[i], memory_order_relaxed);
        if (!v)
            return true;
        if (v >> 40 == h >> 40) {
            uint64_t o = (v & IDEAL_OFF_MASK) << 3;
            if (o + 64 <= t->size)
                __builtin_prefetch(t->base + o);
            *hit = &bk[i];
            return true;
        }
    }
    return false;
}

/* A batched get whose slot the prefetch stages found: the key's record
 * there (RES_OK), or IDEAL_RETRY: look the whole way.  Guarded, the
 * version word is read before the slot, as the guarded get reads it
 * before the bucket (the stages' scan came after the layout, as in
 * shmkv_get_many). */
static int ideal_get_at(const struct ideal *t, _Atomic uint64_t *sl, uint64_t h, bool guarded, struct op *o)
{
    uint64_t ver = guarded ? atomic_load_explicit(&t->hd->version, memory_order_acquire) : 0;
    uint64_t v = atomic_load_explicit(sl, memory_order_acquire);
    if (v >> 40 != h >> 40 || ideal_read(t, v, o->key, o->klen, o->buf, o->cap, &o->outlen, guarded, ver) != RES_OK)
        return IDEAL_RETRY;
    return RES_OK;
}

static int ideal_exec(struct wctx *c, struct op *ops, unsigned n)
{
    const struct ideal *t = c->s->h;
    bool guarded = c->s->cfg->ideal_guards;
    for (unsigned j = 0; j < n;) {
        if (ops[j].type != OP_GET) {
            struct op *o = &ops[j++];
            if (o->type != OP_PUT && o->type != OP_DEL) {
                snprintf(c->err, sizeof c->err, "ideal: no such operation");
                return RES_ERR;
            }
            o->rc = o->type == OP_PUT ? ideal_put(c, o->key, o->klen, o->val, o->vlen) : ideal_del(c, o->key, o->klen);
            if (o->rc == RES_ERR)
                return RES_ERR;
            continue;
        }
        uint64_t h[IDEAL_BATCH], b[IDEAL_BATCH];
        _Atomic uint64_t *bk[IDEAL_BATCH], *hit[IDEAL_BATCH];
        unsigned m = 0;
        for (; m < IDEAL_BATCH && j + m < n && ops[j + m].type == OP_GET; m++) {
            h[m] = ideal_hash(ops[j + m].key, ops[j + m].klen);
            int64_t home = guarded ? ideal_home(t, h[m]) : (int64_t)(h[m] & t->mask);
            bk[m] = home < 0 ? NULL : ideal_bucket_any(t, (b[m] = (uint64_t)home), guarded);
            hit[m] = NULL;
            if (bk[m])
                __builtin_prefetch(bk[m]);
        }
        /* each home bucket's record; a full bucket without one: the next
         * bucket, and then its record */
        for (unsigned i = 0; i < m; i++) {
            if (!bk[i] || ideal_prefetch_rec(t, bk[i], h[i], &hit[i]))
                bk[i] = NULL;
            else if ((bk[i] = ideal_bucket_any(t, ideal_probe_next(t, b[i], guarded), guarded)))
                __builtin_prefetch(bk[i]);
        }
        for (unsigned i = 0; i < m; i++)
            if (bk[i])
                ideal_prefetch_rec(t, bk[i], h[i], &hit[i]);
        /* the gets: from the slot found, if it holds the key */
        for (unsigned i = 0; i < m; i++) {
            struct op *o = &ops[j + i];
            ideal_pad(c);
            if ((!hit[i] || (o->rc = ideal_get_at(t, hit[i], h[i], guarded, o)) != RES_OK) &&
                (o->rc = ideal_get_h(c, h[i], o->key, o->klen, o->buf, o->cap, &o->outlen)) == RES_ERR)
                return RES_ERR;
        }
        j += m;
    }
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
    .exec = ideal_exec,
    .batches_gets = 1,
};
