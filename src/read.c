/*
 * read.c - the lock-free reads of the public API: get, get_alloc, ttl,
 * get_many.
 *
 * A read takes no lock and writes nothing (optimistic concurrency, the
 * view of index.h):
 *   view_begin; find the slot; copy the record; view_recycled? retry
 * Records are immutable once published and their memory is only reused
 * after their shard's epoch is bumped, so an unchanged epoch proves the
 * copy is a record that really was the key's value during the read.  A
 * miss is trusted only if the shard's layout and seq did not change
 * either (view_moved).
 *
 * The epoch moves whenever any run of the shard is released, so a long
 * copy (a value of hundreds of megabytes) can keep losing to writers of
 * other keys of its shard.  From the second retry on, a look also guards
 * the copy by the record's own run: its (kind, stamp), read while the
 * epoch still proved the record real, change whenever that run is
 * released (alloc.c gives every run a fresh stamp when it is freed or
 * handed out, and a huge value's head changes before its pieces go).  A
 * copy is then good if the epoch or the run's (kind, stamp) held, and
 * only writes of the key itself can make a read-only reader retry.
 *
 * The one write that changes a published record, an increment rewriting
 * its digits in place (patch.c), is told apart after the copy by the
 * shard's patch word (view_patch): moved, look again; naming the record
 * all along, the value is the journal's.
 */
#include "read.h"

#include "api.h"
#include "clock.h"
#include "fault.h"
#include "hash.h"
#include "index.h"
#include "log.h"
#include "map.h"
#include "patch.h"
#include "shard.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

/* Where a found value goes: into (buf, cap), or a fresh malloc. */
struct sink {
    void *buf;
    size_t cap;
    void **alloc;
    uint64_t *expiry;   /* shmkv_ttl: the record's expiry, no value */
    /* lists (shmkv__read_list): called with a REC_LIST record's list run,
     * racily (the look validates afterwards); NULL: a list's key is
     * -EMEDIUMTYPE */
    int (*list)(shmkv *db, uint64_t lrun, void *ctx);
    void *lctx;
};

/* What one optimistic look gives: an API result, or a retry. */
enum { LOOK_RETRY = 1, LOOK_NEXT = 2 };

/* Is the slot value v the key's record?  0: yes, with its header in *rh;
 * LOOK_NEXT: another key's; -EBADMSG: the record lies out of bounds. */
/* Do the n bytes at a (in the table) equal those at b?  Keys of 8 to 16
 * bytes, the common case, are compared as two overlapping words, not by
 * a call. */
static inline bool key_eq(const uint8_t *a, const void *b, size_t n)
{
#ifndef SHMKV_TSAN
    if (n >= 8 && n <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b0, b, 8);
        memcpy(&b1, (const uint8_t *)b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
#endif
    return racy_cmp(a, b, n) == 0;
}

static inline int match(shmkv *db, uint64_t v, const void *key, size_t klen, struct rec *rh)
{
    uint64_t o = slot_off(v);
    if (!mem_ok(db, o, sizeof *rh))
        return -EBADMSG;
    racy_copy(rh, at(db, o), sizeof *rh);
    if (rh->klen != klen)
        return LOOK_NEXT;
    if (!mem_ok(db, o, rec_head(rh) + klen))
        return -EBADMSG;
    return key_eq((const uint8_t *)at(db, o) + rec_head(rh), key, klen) ? 0 : LOOK_NEXT;
}


/* The record's run's identity, for a guarded look (0 run: unguarded). */
struct guard {
    uint64_t run;
    uint32_t kind, stamp;
};

/* Sample the guard of the record at o (header rh, copied racily).  The
 * epoch is checked after, so the record, its header and the run it names
 * were real when sampled; false if not (retry). */
static bool guard_begin(shmkv *db, struct shard *s, const struct view *vw, uint64_t o, const struct rec *rh,
                        struct guard *g)
{
    uint64_t dist = (uint64_t)(rh->dist & REC_DIST) << 3;
    g->run = o - dist;
    if (dist < RUN_HDR || dist > o || (g->run - db->data_off) % UNIT || !mem_ok(db, g->run, RUN_HDR)) {
        g->run = 0; /* damage (if the epoch held): look unguarded, and let the copy's checks tell */
        return !view_recycled(s, vw);
    }
    struct run *r = run_at(db, g->run);
    racy_copy(&g->kind, &r->kind, sizeof g->kind);
    racy_copy(&g->stamp, &r->stamp, sizeof g->stamp);
    return !view_recycled(s, vw);
}

/* After copying: may the record's memory have been reused meanwhile?
 * Not if the epoch held, nor if the guarded run's identity held. */
static bool recycled(shmkv *db, struct shard *s, const struct view *vw, const struct guard *g)
{
    if (!view_recycled(s, vw))
        return false;
    if (!g->run)
        return true;
    struct run *r = run_at(db, g->run);
    uint32_t kind, stamp;
    racy_copy(&kind, &r->kind, sizeof kind);
    racy_copy(&stamp, &r->stamp, sizeof stamp);
    return kind != g->kind || stamp != g->stamp;
}

/* A look for a list found the key's record at o: hand its list run to
 * out->list.  A pair is -EMEDIUMTYPE; a lease or an expired pair is
 * absent. */
static int take_list(shmkv *db, struct shard *s, const struct view *vw, const struct guard *g, uint64_t o,
                     const struct rec *rh, struct sink *out)
{
    uint64_t ext = 0, lrun = 0;
    if (rh->dist & REC_EXT)
        racy_copy(&ext, at(db, o + sizeof *rh), 8);
    int r = -EMEDIUMTYPE; /* (the clock read only for a record that can expire: a list's cannot,
                           * and every push and pop of the lanes looks its list up) */
    if (ext_type(ext) == REC_LEASE || (ext_expiry(ext) && expired(ext_expiry(ext), shmkv__clock_now(db)))) {
        r = -ENOENT;
    } else if (ext_type(ext) == REC_LIST) {
        if (rh->vlen == sizeof lrun && mem_ok(db, o, rec_head(rh) + rh->klen + sizeof lrun))
            racy_copy(&lrun, (const uint8_t *)at(db, o) + rec_head(rh) + rh->klen, sizeof lrun);
        uint32_t kind = 0;
        if (lrun >= db->data_off && mem_ok(db, lrun, UNIT))
            racy_copy(&kind, &run_at(db, lrun)->kind, sizeof kind);
        r = kind == RUN_LIST ? out->list(db, lrun, out->lctx) : -EBADMSG;
    }
    return recycled(db, s, vw, g) ? LOOK_RETRY : r;
}

/* The key's record is at o (header rh): copy what the sink wants, then
 * validate.  Returns 0, -ENOBUFS, -ENOENT (expired), -ENOMEM, -EBADMSG,
 * or LOOK_RETRY if the record may have been recycled under us. */
static int take(shmkv *db, struct shard *s, const struct view *vw, const struct guard *g, uint64_t o,
                const struct rec *rh, struct sink *out)
{
    uint64_t exp = 0;
    if (out->list)
        return take_list(db, s, vw, g, o, rh, out);
    if (rh->dist & REC_EXT) {
        uint64_t ext;
        racy_copy(&ext, at(db, o + sizeof *rh), 8);
        exp = ext_expiry(ext);
        /* expired, or a pending lease: absent; a list: not a pair (unless
         * the record was recycled under us) */
        if (ext_type(ext) != REC_PAIR || expired(exp, shmkv__clock_now(db)))
            return recycled(db, s, vw, g) ? LOOK_RETRY : ext_type(ext) == REC_LIST ? -EMEDIUMTYPE : -ENOENT;
    }
    /* a length no record in this file can have: damage (or a record
     * recycled under us, which the epoch check tells) */
    if ((uint64_t)rh->vlen > atomic_load_explicit(&db->known_size, memory_order_relaxed))
        return recycled(db, s, vw, g) ? LOOK_RETRY : -EBADMSG;
    int r = 0;
    void *dst = NULL;
    if (out->expiry) {
        /* only the expiry is wanted */
    } else if (out->alloc) {
        if (!(dst = xmalloc(rh->vlen ? rh->vlen : 1)))
            return -ENOMEM;
    } else if (out->cap >= rh->vlen) {
        dst = out->buf;
    } else {
        r = -ENOBUFS;
    }
    bool ok = true;
    if (dst && !(rh->dist & REC_CHAIN) && mem_ok(db, o, rec_head(rh) + rh->klen + rh->vlen))
        racy_copy(dst, (const uint8_t *)at(db, o) + rec_head(rh) + rh->klen, rh->vlen); /* inline: the usual case */
    else if (dst)
        ok = shmkv__rec_value(db, o, rh, dst);
    if (recycled(db, s, vw, g) || !ok) {
        if (out->alloc)
            free(dst);
        return recycled(db, s, vw, g) ? LOOK_RETRY : -EBADMSG; /* out of bounds, not because of a writer */
    }
    /* an increment rewriting the value in place (patch.c) */
    int pt = dst ? view_patch(s, vw, o) : VIEW_CLEAN;
    if (pt == VIEW_JOURNAL)
        pt = shmkv__patch_read(s, vw, dst, rh->vlen);
    if (pt) {
        if (out->alloc)
            free(dst);
        return pt == VIEW_PATCHED ? LOOK_RETRY : pt;
    }
    if (out->alloc)
        *out->alloc = dst;
    if (out->expiry)
        *out->expiry = exp;
    return r;
}

/* One optimistic look for the key in shard s (guarded: see the top): 0 or
 * a negative errno, or LOOK_RETRY when a writer changed something the
 * look depended on. */
static int look(shmkv *db, struct shard *s, const void *key, size_t klen, uint64_t tag, bool guarded,
                struct sink *out, size_t *vlen)
{
    struct view vw;
    view_begin(s, &vw);
    struct bucket *bk = shmkv__bucket_at(db, s, shmkv__bucket_for(vw.layout, db->base_bits, tag));
    bool suspect = !bk;
    for (unsigned n = 0; bk && !suspect; n++) {
        if (n > CHAIN_MAX) {
            suspect = true;
            break;
        }
        for (unsigned hits = shmkv__bucket_scan(bk, tag, NULL); hits && !suspect; hits &= hits - 1) {
            _Atomic uint64_t *slot = shmkv__hit_slot(bk, hits);
            uint64_t v = atomic_load_explicit(slot, memory_order_acquire);
            struct rec rh;
            if (!v || slot_tag(v) != tag)
                continue; /* changed since: as if looked at a moment later */
            int m = match(db, v, key, klen, &rh);
            if (m == LOOK_NEXT)
                continue;
            if (m) {
                suspect = true;
                break;
            }
            struct guard g = {0};
            if (guarded && !guard_begin(db, s, &vw, slot_off(v), &rh, &g))
                return LOOK_RETRY;
            int r = take(db, s, &vw, &g, slot_off(v), &rh, out);
            if (r == -EBADMSG) {
                suspect = true;
                break;
            }
            if (r == 0 || r == -ENOBUFS) {
                if (!out->expiry)
                    shmkv__slot_use(db, slot, v);
                *vlen = rh.vlen;
            }
            return r;
        }
        /* past the first bucket only if the chain's filter has the tag */
        uint64_t nx = atomic_load_explicit(&bk->next, memory_order_acquire);
        nx = shmkv__chain_on(nx, tag, n);
        bk = nx && !suspect ? shmkv__bucket_link(db, nx) : NULL;
        suspect |= nx && !bk;
    }
    if (view_moved(s, &vw))
        return LOOK_RETRY;
    return suspect ? -EBADMSG : -ENOENT;
}

/* Count a get in the stripe of the CPU this thread runs on (sched_getcpu
 * is a read of the thread's rseq area on current glibc).  Relaxed: these
 * are statistics. */
static void count_read(shmkv *db, bool hit)
{
    int cpu = sched_getcpu();
    struct read_stripe *st = &db->hdr->reads[(unsigned)(cpu < 0 ? 0 : cpu) % READ_STRIPES];
    atomic_fetch_add_explicit(hit ? &st->hits : &st->misses, 1, memory_order_relaxed);
}

/* Optimistic looks until one is not disturbed by a writer.  A writable
 * handle that keeps losing the race (a value so big that copying it
 * outlasts the gaps between run releases in its shard) takes the shard
 * lock for one look, which then cannot be disturbed: reads always finish.
 * A read-only handle cannot lock; it backs off instead. */
static int lookup_at(shmkv *db, uint64_t h, const void *key, size_t klen, struct sink *out, size_t *vlen)
{
    uint64_t tag = h & TAG_MASK;
    struct shard *s = shard_of(db, h);
    for (unsigned tries = 0;; tries++) {
        bool locked = tries == 16 && !db->rdonly && shmkv__shard_lock(db, s) == 0;
        int r = look(db, s, key, klen, tag, tries >= 2, out, vlen);
        if (locked)
            shmkv__shard_unlock(s);
        if (r != LOOK_RETRY) {
            if (db->count_reads && !out->expiry && (r == 0 || r == -ENOBUFS || r == -ENOENT))
                count_read(db, r != -ENOENT);
            return r;
        }
        if (tries > 4) {
            struct timespec ts = {0, 1000L * (tries < 1000 ? tries : 1000)};
            nanosleep(&ts, NULL);
        }
    }
}

static int lookup(shmkv *db, const void *key, size_t klen, struct sink *out, size_t *vlen)
{
    return lookup_at(db, shmkv__key_hash(db, key, klen), key, klen, out, vlen);
}

int shmkv__read_list(shmkv *db, const void *key, size_t klen, int (*fn)(shmkv *db, uint64_t lrun, void *ctx),
                     void *ctx)
{
    struct sink out = {.list = fn, .lctx = ctx, .expiry = &(uint64_t){0}};
    size_t vlen;
    return lookup(db, key, klen, &out, &vlen);
}

static int note_run(shmkv *db, uint64_t lrun, void *ctx)
{
    (void)db;
    *(uint64_t *)ctx = lrun;
    return 0;
}

int shmkv__find_list(shmkv *db, uint64_t h, const void *key, size_t klen, uint64_t *lrun)
{
    struct sink out = {.list = note_run, .lctx = lrun, .expiry = &(uint64_t){0}};
    struct shard *s = shard_of(db, h);
    size_t vlen;
    for (unsigned tries = 0; tries < 16; tries++) {
        int r = look(db, s, key, klen, h & TAG_MASK, tries >= 2, &out, &vlen);
        if (r != LOOK_RETRY)
            return r;
    }
    return -EAGAIN;
}

/* Copy n bytes from the table: values of 4 to 16 bytes as two
 * overlapping words each way, not by a call (forced inline: gcc called
 * it, and the call cost single gets 5 %: BENCHMARKS 9.10). */
__attribute__((always_inline)) static inline void copy_small(void *dst, const uint8_t *src, size_t n)
{
#ifndef SHMKV_TSAN
    if (n == 8) /* one store, at an address that does not wait for the record (BENCHMARKS 9.8) */
        return copy_ends(dst, src, 8, 8);
    if (n >= 8 && n <= 16)
        return copy_ends(dst, src, n, 8);
    if (n >= 4 && n < 8)
        return copy_ends(dst, src, n, 4);
#endif
    if (n)  /* dst may be NULL with a zero-length buffer */
        racy_copy(dst, src, n);
}

/* The usual get, in one straight line: a pair with no lifetime, in one
 * piece, that fits the buffer, met on the first look.  Anything else
 * (an expiry, a chained value, -ENOBUFS, a writer's race, damage, a table
 * that counts reads) returns FAST_NO, and the get takes the general way
 * (look), which decides it.
 *
 * Its length is its speed.  A get is two dependent misses, the bucket
 * and then the record; the CPU starts the next get's bucket load while
 * this one's record load is still out only if everything between the two
 * (the rest of this get, the caller's code, the next get up to its
 * bucket) fits its reorder window, and a caller that makes and checks
 * each key uses most of it.  So the home bucket's address comes first and
 * its load is started at once; the view's counters are read after it
 * (each only needs to be read before what it guards); bounds are checked
 * once for the record's head and key and once for its value, against the
 * size this process verified (an offset from a slot is below 2^40: the
 * sums cannot wrap); and the shard stays in one register rather than
 * three addresses in it.  Measured against an ideal table and with the
 * bench's own work around each get: BENCHMARKS 9.8. */
enum { FAST_NO = 1 };

/* A home bucket's hits not yet known: get_fast_at scans the bucket. */
#define HITS_SCAN (~0u)

/* The usual get from the key's home bucket bk, found under layout lay;
 * inlined into both its callers (called, it cost single gets a fifth:
 * BENCHMARKS 9.8).  home_hits: the home bucket's tag matches, when a
 * batch's prefetch stage has scanned it already (after reading lay, which
 * is all the view asks of the scan: the slots themselves are loaded here,
 * after the view's other counters), or HITS_SCAN.  A match made after
 * that scan is missed as if the get had run then: the get overlapped the
 * write that made it. */
__attribute__((always_inline)) static inline int get_fast_at(shmkv *db, struct shard *s, struct bucket *bk,
                                                             uint64_t lay, unsigned home_hits, const void *key,
                                                             size_t klen, uint64_t tag, void *buf, size_t cap,
                                                             size_t *vlen)
{
    struct view vw = {.layout = lay};
    view_begin_rest(s, &vw);
    __asm__("" : "+r"(s)); /* keep s, not three addresses in it, for the re-reads */
    for (unsigned n = 0;;) {
        unsigned hits = home_hits != HITS_SCAN ? home_hits : shmkv__bucket_scan(bk, tag, NULL);
        home_hits = HITS_SCAN;
        for (; hits; hits &= hits - 1) {
            _Atomic uint64_t *slot = shmkv__hit_slot(bk, hits);
            uint64_t v = atomic_load_explicit(slot, memory_order_acquire), o = slot_off(v);
            uint64_t known = atomic_load_explicit(&db->known_size, memory_order_relaxed);
            if (slot_tag(v) != tag || o < db->data_off || o + sizeof(struct rec) + klen > known)
                return FAST_NO; /* raced, or past what this process mapped: the general way decides */
            struct rec rh;
            racy_copy(&rh, at(db, o), sizeof rh);
            const uint8_t *k = (const uint8_t *)at(db, o) + sizeof rh;
            if (rh.klen != klen)
                continue;
            /* (an ext word would put the key 8 bytes on) */
            if ((rh.dist & (REC_EXT | REC_CHAIN)) || rh.vlen > cap || o + sizeof rh + klen + rh.vlen > known)
                return FAST_NO;
            if (!key_eq(k, key, klen))
                continue;
            copy_small(buf, k + klen, rh.vlen);
            if (view_recycled(s, &vw) || view_patch(s, &vw, o) != VIEW_CLEAN)
                return FAST_NO;
            shmkv__slot_use(db, slot, v);
            *vlen = rh.vlen;
            return 0;
        }
        uint64_t nx = atomic_load_explicit(&bk->next, memory_order_acquire);
        nx = shmkv__chain_on(nx, tag, n);
        if (!nx || ++n == 4)
            return nx || view_moved(s, &vw) ? FAST_NO : -ENOENT;
        if (!(bk = shmkv__bucket_link(db, nx)))
            return FAST_NO;
    }
}

static inline int get_fast(shmkv *db, struct shard *s, const void *key, size_t klen, uint64_t tag, void *buf,
                           size_t cap, size_t *vlen)
{
    uint64_t lay = seq_begin(&s->layout);
    struct bucket *bk = shmkv__bucket_at(db, s, shmkv__bucket_for(lay, db->base_bits, tag));
    if (!bk)
        return FAST_NO;
    __builtin_prefetch(bk);
    return get_fast_at(db, s, bk, lay, HITS_SCAN, key, klen, tag, buf, cap, vlen);
}

/* A get the fast path did not decide: the general way, out of line so
 * that its registers and stack do not weigh on the fast path's, and
 * marked cold so that the compiler lays the fast path out as one straight
 * run (without `cold` single gets lost 5 %, BENCHMARKS 9.10; a table
 * that counts reads takes this way every time, and pays for the count
 * more than for the layout). */
__attribute__((noinline, cold)) static int get_slow(shmkv *db, uint64_t h, const void *key, size_t klen, void *buf,
                                                    size_t cap, size_t *vlen)
{
    struct sink out = {.buf = buf, .cap = cap};
    return lookup_at(db, h, key, klen, &out, vlen);
}

/* shmkv_get's arguments when they are not plainly good: the error. */
static int get_args(const shmkv *db, const void *key, size_t klen, const void *buf, size_t cap, const size_t *vlen)
{
    int r = check_key(db, key, klen);
    return r ? r : !vlen || (!buf && cap) ? -EINVAL : 0;
}

SHMKV_API int shmkv_get(shmkv *db, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen)
{
    if (__builtin_expect(!db || !key || klen - 1 >= SHMKV_KEY_MAX || !vlen || (!buf && cap), 0)) {
        int r = get_args(db, key, klen, buf, cap, vlen);
        if (r)
            return r;
    }
    uint64_t h = shmkv__key_hash(db, key, klen);
    int r;
    if (!db->count_reads && (r = get_fast(db, shard_of(db, h), key, klen, h & TAG_MASK, buf, cap, vlen)) != FAST_NO)
        return r;
    return get_slow(db, h, key, klen, buf, cap, vlen);
}

SHMKV_API int shmkv_ttl(shmkv *db, const void *key, size_t klen, uint64_t *remaining_ms)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (!remaining_ms)
        return -EINVAL;
    uint64_t exp = 0;
    size_t vlen;
    struct sink out = {.expiry = &exp};
    if ((r = lookup(db, key, klen, &out, &vlen)))
        return r;
    uint64_t now = shmkv__clock_now(db);
    *remaining_ms = !exp ? 0 : exp > now ? exp - now : 1;
    return 0;
}

SHMKV_API int shmkv_get_alloc(shmkv *db, const void *key, size_t klen, void **val, size_t *vlen)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (!val || !vlen)
        return -EINVAL;
    *val = NULL;
    struct sink out = {.alloc = val};
    return lookup(db, key, klen, &out, vlen);
}

/* Batched gets in groups of BATCH: hash every key and prefetch its bucket,
 * then prefetch the record of each bucket's first tag match (or, with no
 * match, its overflow bucket, and then that one's record), then do the
 * ordinary lookups, which now find those lines in cache.  Prefetches are
 * only hints (they never fault), and correctness rests entirely on
 * lookup(), so a batch behaves exactly like n single gets. */
#define BATCH 16

/* The record a bucket's matching tag names, asked for; or, when none of
 * its tags matches, its overflow bucket (returned: the key, if present,
 * is there or further on).  *hits: the bucket's tag matches. */
static struct bucket *prefetch_rec(shmkv *db, struct bucket *bk, uint64_t tag, unsigned *hits)
{
    if ((*hits = shmkv__bucket_scan(bk, tag, NULL))) {
        uint64_t v = atomic_load_explicit(shmkv__hit_slot(bk, *hits), memory_order_relaxed);
        if (v && mem_ok(db, slot_off(v), 64))
            __builtin_prefetch(at(db, slot_off(v)));
        return NULL;
    }
    uint64_t nx = shmkv__chain_on(atomic_load_explicit(&bk->next, memory_order_relaxed), tag, 0);
    struct bucket *nb = nx ? shmkv__bucket_link(db, nx) : NULL;
    if (nb)
        __builtin_prefetch(nb);
    return nb;
}

/* What the prefetch stages learn of each key of a batch, for its get: its
 * hash and shard, its home bucket with the layout it was found under
 * (NULL: the key is not valid, or no bucket; shmkv_get decides), and that
 * bucket's tag matches. */
struct batch_key {
    uint64_t h, lay;
    struct shard *s;
    struct bucket *home;
    unsigned hits;
};

static void prefetch_batch(shmkv *db, shmkv_item *items, size_t m, struct batch_key *bkey)
{
    struct bucket *bk[BATCH];
    uint64_t tag[BATCH];
    for (size_t j = 0; j < m; j++) {
        shmkv_item *it = &items[j];
        bk[j] = bkey[j].home = NULL;
        if (!it->key || !it->klen || it->klen > SHMKV_KEY_MAX)
            continue;
        uint64_t h = shmkv__key_hash(db, it->key, it->klen);
        struct shard *s = shard_of(db, h);
        tag[j] = h & TAG_MASK;
        uint64_t lay = seq_begin(&s->layout);
        bk[j] = shmkv__bucket_at(db, s, shmkv__bucket_for(lay, db->base_bits, tag[j]));
        if (bk[j])
            __builtin_prefetch(bk[j]);
        bkey[j] = (struct batch_key){.h = h, .lay = lay, .s = s, .home = bk[j]};
    }
    /* then each record, or the overflow bucket of a key not in its home
     * bucket (a table grown to 10 M keys has some 600 000 overflow
     * buckets), and then that one's record: without this stage such a
     * key's lookup waited on two misses in a row (batches of a grown
     * table 10.3-10.7 -> 12.9-13.0 M/s, BENCHMARKS.md 9.4).  The home
     * bucket's matches are kept for the get, which need not scan it
     * again (BENCHMARKS 9.12). */
    for (size_t j = 0; j < m; j++)
        if (bk[j])
            bk[j] = prefetch_rec(db, bk[j], tag[j], &bkey[j].hits);
    for (size_t j = 0; j < m; j++) {
        unsigned ignored;
        if (bk[j])
            prefetch_rec(db, bk[j], tag[j], &ignored);
    }
}

/* A get of a valid item whose hash and home bucket its batch's prefetch
 * found: as shmkv_get, without finding them again (the layout read then
 * was read before the bucket's slots, which is all the view asks). */
static int get_hashed(shmkv *db, const struct batch_key *bk, shmkv_item *it)
{
    uint64_t tag = bk->h & TAG_MASK;
    int r;
    if (!db->count_reads && (r = get_fast_at(db, bk->s, bk->home, bk->lay, bk->hits, it->key, it->klen, tag,
                                             it->buf, it->cap, &it->vlen)) != FAST_NO)
        return r;
    return get_slow(db, bk->h, it->key, it->klen, it->buf, it->cap, &it->vlen);
}

SHMKV_API int shmkv_get_many(shmkv *db, shmkv_item *items, size_t n)
{
    if (!db || (!items && n))
        return -EINVAL;
    int found = 0;
    for (size_t i0 = 0; i0 < n; i0 += BATCH) {
        size_t m = n - i0 < BATCH ? n - i0 : BATCH;
        struct batch_key bkey[BATCH];
        prefetch_batch(db, items + i0, m, bkey);
        for (size_t j = 0; j < m; j++) {
            shmkv_item *it = &items[i0 + j];
            it->vlen = 0;
            it->rc = bkey[j].home && (it->buf || !it->cap) ? get_hashed(db, &bkey[j], it)
                                                           : shmkv_get(db, it->key, it->klen, it->buf, it->cap, &it->vlen);
            found += it->rc == 0;
        }
    }
    return found;
}
