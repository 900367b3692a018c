/*
 * ops.c - the public operations: writes under a shard lock, lock-free
 * reads, iteration and statistics.
 *
 * A write: lock the key's shard; find the key's slot (or reserve an empty
 * one); append the new record to the shard's log; publish it with one
 * atomic store into the slot; retire the old record; then do a bounded
 * amount of background work (one bucket split, a few records of
 * compaction).  A writer killed anywhere in here leaves the pair either
 * old or new (see log.c and index.c for why the structures stay sound).
 *
 * A read takes no lock and writes nothing (optimistic concurrency):
 *   e1 = shard epoch; find slot; copy record; e2 = shard epoch; retry if e1 != e2
 * Records are immutable once published and their memory is only reused
 * after their shard's epoch is bumped, so an unchanged epoch proves the
 * copy is a record that really was the key's value during the read.  A miss is
 * trusted only if the shard's layout and seq did not change either.
 */
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>

enum wmode { W_PUT, W_ADD, W_REPLACE, W_TOUCH };

static int check_key(shmkv *db, const void *key, size_t klen)
{
    if (!db || !key || !klen)
        return -EINVAL;
    return klen > SHMKV_KEY_MAX ? -E2BIG : 0;
}

/* A key for a write that brings no value (delete, expire). */
static int check_key_write(shmkv *db, const void *key, size_t klen)
{
    int r = check_key(db, key, klen);
    return r ? r : db->rdonly ? -EROFS : 0;
}

/* Largest record a table takes: one that fits its data area; in cache
 * mode an eighth of it, so evicting can always make room. */
static int check_write(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (!val && vlen)
        return -EINVAL;
    uint64_t room = db->reserve - db->data_off;
    if (vlen > SHMKV_VAL_MAX || rec_size(klen, vlen, 8) + RUN_HDR > (db->cache ? room / 8 : room))
        return -E2BIG;
    return db->rdonly ? -EROFS : 0;
}

/* After -ENOSPC in a store: compact every other shard.  Called with no
 * lock held. */
static bool clean_others(shmkv *db, struct shard *mine)
{
    bool freed = false;
    for (uint64_t i = 0; i < (1ull << db->shard_bits); i++) {
        struct shard *s = &db->shards[i];
        if (s == mine || shard_lock(db, s))
            continue;
        freed |= log_clean_some(db, s);
        shard_unlock(s);
    }
    return freed;
}

/* Eviction in a cache follows the age of runs across shards, not just
 * within the writer's own: each shard evicts from its oldest run, and the
 * shard that evicts is the one whose oldest run is oldest.  These pick
 * it: among all shards (slow path, after -ENOSPC), or among the writer's
 * own and two others chosen by bits of the key's hash (the bounded step
 * of every write while space is short: two random choices make per-shard
 * FIFOs behave close to one global FIFO). */
static struct shard *oldest_of(shmkv *db, struct shard **cand, unsigned n)
{
    struct shard *best = NULL;
    uint32_t best_stamp = 0, st;
    for (unsigned i = 0; i < n; i++)
        if (cand[i] && log_oldest(db, cand[i], &st) && (!best || stamp_older(st, best_stamp))) {
            best = cand[i];
            best_stamp = st;
        }
    return best;
}

/* Slow path: evict a run from the shard holding the oldest.  Called with
 * no lock held.  False if no shard has anything left to evict. */
static bool evict_oldest(shmkv *db, struct shard *mine)
{
    uint64_t n = 1ull << db->shard_bits;
    struct shard *best = NULL;
    uint32_t best_stamp = 0, st;
    for (uint64_t i = 0; i < n; i++)
        if (log_oldest(db, &db->shards[i], &st) && (!best || stamp_older(st, best_stamp))) {
            best = &db->shards[i];
            best_stamp = st;
        }
    bool freed = false;
    if (best && shard_lock(db, best) == 0) {
        freed = log_evict_some(db, best);
        shard_unlock(best);
    }
    /* nothing but open runs (or the oldest went meanwhile): evict from
     * every shard that has anything, the writer's own first */
    for (uint64_t i = 0; i <= n && !freed; i++) {
        struct shard *s = i ? &db->shards[i - 1] : mine;
        if ((i && s == mine) || shard_lock(db, s))
            continue;
        freed = log_evict_some(db, s);
        shard_unlock(s);
    }
    return freed;
}

static struct shard *evict_where(shmkv *db, struct shard *s, uint64_t h)
{
    uint64_t mask = (1ull << db->shard_bits) - 1;
    struct shard *cand[3] = {s, &db->shards[(h >> 8) & mask], &db->shards[(h >> 20) & mask]};
    struct shard *w = oldest_of(db, cand, 3);
    return w ? w : s;
}

/* Lazily read table time: most writes never need it. */
static uint64_t now_of(shmkv *db, uint64_t *now)
{
    if (!*now)
        *now = clock_now(db);
    return *now;
}

/* If the key's record (found in f) has expired, remove it and forget it:
 * to every operation an expired key is an absent one. */
static void reap(shmkv *db, struct shard *s, uint64_t tag, struct found *f, uint64_t *now)
{
    if (!f->slot)
        return;
    const struct rec *r = at(db, slot_off(f->val));
    if (!(r->dist & REC_EXT) || !expired(rec_expiry(r), now_of(db, now)))
        return;
    log_drop(db, s, tag, f->slot, slot_off(f->val));
    atomic_fetch_add_explicit(&s->expirations, 1, memory_order_relaxed);
    f->slot = NULL;
}

/* The write path of put/add/replace/expire, under the key's shard lock:
 * find the key, append the new record, publish it with one slot store,
 * retire the old one, then a bounded step of background work.  ttl_ms
 * 0: no expiry.  W_TOUCH rewrites the key's own value with a new expiry. */
static int write_op(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, enum wmode mode,
                    uint64_t ttl_ms)
{
    /* expire: only the key is checked; its value fits, being stored */
    int r = mode == W_TOUCH ? check_key_write(db, key, klen) : check_write(db, key, klen, val, vlen);
    if (r)
        return r;
    uint64_t h = hash64(key, klen, db->seed0, db->seed1), tag = h & TAG_MASK;
    struct shard *s = shard_of(db, h);
    index_prefetch(db, s, tag);
    void *copy = NULL; /* W_TOUCH: the value, copied out under the lock */
    int stuck = 0;
    for (int round = 0;; round++) {
        struct shard *elsewhere = NULL; /* cache: the shard to evict from */
        if ((r = shard_lock(db, s)))
            break;
        struct found f;
        _Atomic uint64_t *slot;
        uint64_t off, now = 0, expiry = 0;
        for (int tries = 0;; tries++) {
            if ((r = index_find(db, s, tag, key, klen, &f)))
                goto out;
            reap(db, s, tag, &f, &now);
            if (mode == W_ADD && f.slot) {
                r = -EEXIST;
                goto out;
            }
            if ((mode == W_REPLACE || mode == W_TOUCH) && !f.slot) {
                r = -ENOENT;
                goto out;
            }
            if (mode == W_TOUCH && !copy) {
                struct rec rh = *(const struct rec *)at(db, slot_off(f.val));
                if (!(copy = xmalloc(rh.vlen ? rh.vlen : 1))) {
                    r = -ENOMEM;
                    goto out;
                }
                if (!rec_value(db, slot_off(f.val), &rh, copy)) {
                    r = -EBADMSG;
                    goto out;
                }
                val = copy;
                vlen = rh.vlen;
            }
            expiry = ttl_ms ? now_of(db, &now) + ttl_ms : 0;
            slot = f.slot ? f.slot : f.empty;
            r = slot ? 0 : index_reserve(db, s, tag, &slot);
            if (!r)
                r = log_append(db, s, key, klen, val, vlen, expiry, false, &off);
            /* No room: compact, or evict (cache), then look again (the
             * key's record may have moved or gone).  A cache evicts a few
             * runs here, then from every shard in turn (clean_others), so
             * one shard does not drain itself of newer pairs than others
             * keep. */
            if (r != -ENOSPC || tries >= 1 || !(db->cache ? log_evict_some(db, s) : log_clean_some(db, s)))
                break;
        }
        if (r)
            goto out;
        /* an overwrite keeps the key's read count */
        uint64_t nv = slot_make(off, tag);
        atomic_store_explicit(slot, f.slot ? slot_with_reads(nv, slot_reads(f.val)) : nv, memory_order_release);
        s->pending_huge = 0;
        log_adopt(db, s, off);
        int64_t delta = (int64_t)(klen + vlen);
        if (f.slot) {
            const struct rec *old = at(db, slot_off(f.val));
            delta -= (int64_t)old->klen + (int64_t)old->vlen;
            log_retire(db, s, slot_off(f.val));
        } else {
            add64(&s->keys, 1);
            index_maybe_split(db, s);
        }
        add64(&s->live_bytes, delta);
        add64(&s->puts, 1);
        if (expiry)
            clock_note(db, now);
        if (db->cache && log_pressure(db))
            elsewhere = evict_where(db, s, h);
        if (elsewhere == s || !elsewhere)
            log_clean_step(db, s);
    out:
        shard_unlock(s);
        if (elsewhere && elsewhere != s && shard_lock(db, elsewhere) == 0) {
            log_evict_step(db, elsewhere);
            shard_unlock(elsewhere);
        }
        if (r != -ENOSPC || round >= (db->cache ? 1 << 16 : 1))
            break;
        if (!db->cache) {
            if (!clean_others(db, s))
                break;
        } else if (!evict_oldest(db, s)) {
            /* nothing left to evict: other writers (or a clear) may be
             * between freeing space and using it; look again a few times */
            if (++stuck > 16)
                break;
            sched_yield();
        }
    }
    free(copy);
    return r;
}

SHMKV_API int shmkv_put(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return write_op(db, key, klen, val, vlen, W_PUT, 0);
}

SHMKV_API int shmkv_put_ttl(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, uint64_t ttl_ms)
{
    return write_op(db, key, klen, val, vlen, W_PUT, ttl_ms);
}

SHMKV_API int shmkv_add(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return write_op(db, key, klen, val, vlen, W_ADD, 0);
}

SHMKV_API int shmkv_replace(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return write_op(db, key, klen, val, vlen, W_REPLACE, 0);
}

SHMKV_API int shmkv_expire(shmkv *db, const void *key, size_t klen, uint64_t ttl_ms)
{
    return write_op(db, key, klen, NULL, 0, W_TOUCH, ttl_ms);
}

SHMKV_API int shmkv_del(shmkv *db, const void *key, size_t klen)
{
    int r = check_key_write(db, key, klen);
    if (r)
        return r;
    uint64_t h = hash64(key, klen, db->seed0, db->seed1), tag = h & TAG_MASK, now = 0;
    struct shard *s = shard_of(db, h);
    index_prefetch(db, s, tag);
    if ((r = shard_lock(db, s)))
        return r;
    struct found f;
    if ((r = index_find(db, s, tag, key, klen, &f)) == 0) {
        reap(db, s, tag, &f, &now);
        if (!f.slot) {
            r = -ENOENT;
        } else {
            log_drop(db, s, tag, f.slot, slot_off(f.val));
            add64(&s->dels, 1);
        }
        log_clean_step(db, s);
    }
    shard_unlock(s);
    return r;
}

/* Remove every pair, shard by shard (each under its lock, briefly). */
SHMKV_API int shmkv_clear(shmkv *db)
{
    if (!db)
        return -EINVAL;
    if (db->rdonly)
        return -EROFS;
    for (uint64_t i = 0; i < (1ull << db->shard_bits); i++) {
        struct shard *s = &db->shards[i];
        int r = shard_lock(db, s);
        if (r)
            return r;
        log_clear(db, s);
        shard_unlock(s);
    }
    return 0;
}

/* Where a found value goes: into (buf, cap), or a fresh malloc. */
struct sink {
    void *buf;
    size_t cap;
    void **alloc;
    uint64_t *expiry;   /* shmkv_ttl: the record's expiry, no value */
};

#define LOOKUP_RETRY 1

/* One optimistic look for the key in shard s: 0 or a negative errno, or
 * LOOKUP_RETRY when a writer changed something the look depended on. */
static int lookup_once(shmkv *db, struct shard *s, const void *key, size_t klen, uint64_t tag,
                       struct sink *out, size_t *vlen)
{
    uint64_t e1 = atomic_load_explicit(&s->epoch, memory_order_acquire);
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_acquire);
    uint64_t sq = atomic_load_explicit(&s->seq, memory_order_acquire);
    struct bucket *bk = bucket_at(db, s, bucket_for(lay, db->base_bits, tag));
    bool suspect = !bk;
    for (unsigned n = 0; bk && !suspect; n++) {
        if (n > CHAIN_MAX) {
            suspect = true;
            break;
        }
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t v = atomic_load_explicit(&bk->slot[i], memory_order_acquire);
            if (!v || slot_tag(v) != tag)
                continue;
            uint64_t o = slot_off(v), exp = 0;
            struct rec rh;
            if (!mem_ok(db, o, sizeof rh)) {
                suspect = true;
                break;
            }
            racy_copy(&rh, at(db, o), sizeof rh);
            if (rh.klen != klen)
                continue;
            if (!mem_ok(db, o, rec_head(&rh) + klen)) {
                suspect = true;
                break;
            }
            const uint8_t *p = (const uint8_t *)at(db, o) + rec_head(&rh);
            if (racy_cmp(p, key, klen))
                continue;
            if (rh.dist & REC_EXT) {
                racy_copy(&exp, at(db, o + sizeof rh), 8);
                if (expired(exp, clock_now(db))) {
                    /* gone, unless the record was recycled under us */
                    fence_acquire();
                    return atomic_load_explicit(&s->epoch, AFTER_FENCE) != e1 ? LOOKUP_RETRY : -ENOENT;
                }
            }
            /* a length no record in this file can have: damage (or a
             * record recycled under us, which the epoch check tells) */
            if ((uint64_t)rh.vlen > atomic_load_explicit(&db->known_size, memory_order_relaxed)) {
                fence_acquire();
                if (atomic_load_explicit(&s->epoch, AFTER_FENCE) != e1)
                    return LOOKUP_RETRY;
                suspect = true;
                break;
            }
            int r = 0;
            void *dst = NULL;
            if (out->expiry) {
                /* only the expiry is wanted */
            } else if (out->alloc) {
                if (!(dst = xmalloc(rh.vlen ? rh.vlen : 1)))
                    return -ENOMEM;
            } else if (out->cap >= rh.vlen) {
                dst = out->buf;
            } else {
                r = -ENOBUFS;
            }
            bool ok = !dst || rec_value(db, o, &rh, dst);
            fence_acquire();
            if (atomic_load_explicit(&s->epoch, AFTER_FENCE) != e1 || !ok) {
                if (out->alloc)
                    free(dst);
                if (atomic_load_explicit(&s->epoch, AFTER_FENCE) != e1)
                    return LOOKUP_RETRY; /* the record may have been recycled under us */
                suspect = true; /* out of bounds, and not because of a writer */
                break;
            }
            if (out->alloc)
                *out->alloc = dst;
            if (out->expiry)
                *out->expiry = exp;
            /* cache mode: note the read in the slot's count, unless it is
             * already at its top (hot keys then cost no write).  The CAS
             * only succeeds on the exact value read, so it can never
             * revive or redirect a slot a writer has changed meanwhile. */
            if (db->mark_reads && slot_reads(v) < SLOT_READS_MAX && !out->expiry)
                atomic_compare_exchange_strong_explicit(&bk->slot[i], &v, v + SLOT_READ1, memory_order_relaxed,
                                                        memory_order_relaxed);
            *vlen = rh.vlen;
            return r;
        }
        uint64_t nx = atomic_load_explicit(&bk->next, memory_order_acquire);
        bk = nx ? bucket_next(db, bk) : NULL;
        suspect |= nx && !bk;
    }
    fence_acquire();
    if (atomic_load_explicit(&s->epoch, AFTER_FENCE) != e1 ||
        atomic_load_explicit(&s->layout, AFTER_FENCE) != lay ||
        atomic_load_explicit(&s->seq, AFTER_FENCE) != sq)
        return LOOKUP_RETRY;
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
static int lookup(shmkv *db, const void *key, size_t klen, struct sink *out, size_t *vlen)
{
    uint64_t h = hash64(key, klen, db->seed0, db->seed1), tag = h & TAG_MASK;
    struct shard *s = shard_of(db, h);
    for (unsigned tries = 0;; tries++) {
        bool locked = tries == 16 && !db->rdonly && shard_lock(db, s) == 0;
        int r = lookup_once(db, s, key, klen, tag, out, vlen);
        if (locked)
            shard_unlock(s);
        if (r != LOOKUP_RETRY) {
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

SHMKV_API int shmkv_get(shmkv *db, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (!vlen || (!buf && cap))
        return -EINVAL;
    struct sink out = {.buf = buf, .cap = cap};
    return lookup(db, key, klen, &out, vlen);
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
    uint64_t now = clock_now(db);
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
 * then prefetch the record of each bucket's first tag match, then do the
 * ordinary lookups, which now find those lines in cache.  Prefetches are
 * only hints (they never fault), and correctness rests entirely on
 * lookup(), so a batch behaves exactly like n single gets. */
#define BATCH 16

SHMKV_API int shmkv_get_many(shmkv *db, shmkv_item *items, size_t n)
{
    if (!db || (!items && n))
        return -EINVAL;
    int found = 0;
    for (size_t i0 = 0; i0 < n; i0 += BATCH) {
        size_t m = n - i0 < BATCH ? n - i0 : BATCH;
        struct bucket *bk[BATCH];
        uint64_t tag[BATCH];
        for (size_t j = 0; j < m; j++) {
            shmkv_item *it = &items[i0 + j];
            bk[j] = NULL;
            if (!it->key || !it->klen || it->klen > SHMKV_KEY_MAX)
                continue;
            uint64_t h = hash64(it->key, it->klen, db->seed0, db->seed1);
            struct shard *s = shard_of(db, h);
            tag[j] = h & TAG_MASK;
            uint64_t lay = atomic_load_explicit(&s->layout, memory_order_acquire);
            bk[j] = bucket_at(db, s, bucket_for(lay, db->base_bits, tag[j]));
            if (bk[j])
                __builtin_prefetch(bk[j]);
        }
        for (size_t j = 0; j < m; j++) {
            if (!bk[j])
                continue;
            for (unsigned k = 0; k < SLOTS; k++) {
                uint64_t v = atomic_load_explicit(&bk[j]->slot[k], memory_order_relaxed);
                if (v && slot_tag(v) == tag[j]) {
                    if (mem_ok(db, slot_off(v), 64))
                        __builtin_prefetch(at(db, slot_off(v)));
                    break;
                }
            }
        }
        for (size_t j = 0; j < m; j++) {
            shmkv_item *it = &items[i0 + j];
            it->vlen = 0;
            it->rc = shmkv_get(db, it->key, it->klen, it->buf, it->cap, &it->vlen);
            found += it->rc == 0;
        }
    }
    return found;
}

/* ---- iteration ---- */

/* One shard's pairs, copied out: [u32 klen][u32 vlen][key][value] ... */
struct batch {
    uint8_t *p;
    size_t len, cap;
    bool optimistic;
    uint64_t now;       /* table time when the shard's copy began */
};

static int collect(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
    (void)s;
    (void)slot;
    struct batch *b = ctx;
    uint64_t o = slot_off(v);
    struct rec rh;
    if (!mem_ok(db, o, sizeof rh))
        return -EBADMSG;
    racy_copy(&rh, at(db, o), sizeof rh);
    uint64_t n = (uint64_t)rh.klen + rh.vlen, exp = 0;
    if (!rh.klen || !mem_ok(db, o, rec_head(&rh) + rh.klen) ||
        rh.vlen > atomic_load_explicit(&db->known_size, memory_order_relaxed))
        return -EBADMSG;
    if (rh.dist & REC_EXT) {
        racy_copy(&exp, at(db, o + sizeof rh), 8);
        if (expired(exp, b->now))
            return 0; /* expired pairs are absent pairs */
    }
    if (b->len + 8 + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + 8 + n)
            cap *= 2;
        uint8_t *np = xrealloc(b->p, cap);
        if (!np)
            return -ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    uint32_t lens[2] = {rh.klen, rh.vlen};
    memcpy(b->p + b->len, lens, 8);
    racy_copy(b->p + b->len + 8, (const uint8_t *)at(db, o) + rec_head(&rh), rh.klen);
    if (!rec_value(db, o, &rh, b->p + b->len + 8 + rh.klen))
        return -EBADMSG;
    b->len += 8 + n;
    return 0;
}

/* Copy one shard's pairs into b: under its lock on a writable handle, or
 * optimistically (retrying while writers change it) on a read-only one. */
static int snapshot(shmkv *db, struct shard *s, struct batch *b)
{
    if (!db->rdonly) {
        int r = shard_lock(db, s);
        if (r)
            return r;
        b->len = 0;
        b->now = clock_now(db);
        r = index_walk(db, s, collect, b);
        shard_unlock(s);
        return r;
    }
    for (unsigned tries = 0; tries < 10000; tries++) {
        uint64_t e1 = atomic_load_explicit(&s->epoch, memory_order_acquire);
        uint64_t lay = atomic_load_explicit(&s->layout, memory_order_acquire);
        uint64_t sq = atomic_load_explicit(&s->seq, memory_order_acquire);
        b->len = 0;
        b->now = clock_now(db);
        int r = index_walk(db, s, collect, b);
        fence_acquire();
        bool same = atomic_load_explicit(&s->epoch, AFTER_FENCE) == e1 &&
                    atomic_load_explicit(&s->layout, AFTER_FENCE) == lay &&
                    atomic_load_explicit(&s->seq, AFTER_FENCE) == sq;
        if (same || r == -ENOMEM)
            return r;
        if (tries > 4) {
            struct timespec ts = {0, 1000L * (tries < 1000 ? tries : 1000)};
            nanosleep(&ts, NULL);
        }
    }
    return -EAGAIN;
}

SHMKV_API int shmkv_foreach(shmkv *db, shmkv_visit_fn fn, void *ctx)
{
    if (!db || !fn)
        return -EINVAL;
    struct batch b = {0};
    int r = 0;
    for (uint64_t i = 0; i < (1ull << db->shard_bits) && !r; i++) {
        if ((r = snapshot(db, &db->shards[i], &b)))
            break;
        for (size_t pos = 0; pos < b.len && !r;) {
            uint32_t lens[2];
            memcpy(lens, b.p + pos, 8);
            const uint8_t *k = b.p + pos + 8;
            r = fn(ctx, k, lens[0], k + lens[0], lens[1]);
            pos += 8 + (size_t)lens[0] + lens[1];
        }
    }
    free(b.p);
    return r;
}

/* ---- figures ---- */

static uint64_t ld(const _Atomic uint64_t *p) { return atomic_load_explicit(p, memory_order_relaxed); }

SHMKV_API uint64_t shmkv_count(shmkv *db)
{
    if (!db)
        return 0;
    uint64_t n = 0;
    for (uint64_t i = 0; i < (1ull << db->shard_bits); i++)
        n += ld(&db->shards[i].keys);
    return n;
}

SHMKV_API int shmkv_stat(shmkv *db, shmkv_stats *st)
{
    if (!db || !st)
        return -EINVAL;
    memset(st, 0, sizeof *st);
    struct hdr *h = db->hdr;
    uint64_t rec_live = 0;
    for (uint64_t i = 0; i < (1ull << db->shard_bits); i++) {
        struct shard *s = &db->shards[i];
        st->keys += ld(&s->keys);
        st->live_bytes += ld(&s->live_bytes);
        st->buckets += bucket_count(ld(&s->layout), db->base_bits);
        st->overflow_buckets += ld(&s->ov_used);
        st->log_bytes += ld(&s->log_bytes);
        rec_live += ld(&s->rec_live);
        st->puts += ld(&s->puts);
        st->dels += ld(&s->dels);
        st->splits += ld(&s->splits);
        st->runs_cleaned += ld(&s->cleaned);
        st->lock_waits += ld(&s->lock_waits);
        st->lock_recoveries += ld(&s->recoveries);
        st->evictions += ld(&s->evictions);
        st->expirations += ld(&s->expirations);
    }
    for (unsigned i = 0; i < READ_STRIPES; i++) {
        st->hits += ld(&h->reads[i].hits);
        st->misses += ld(&h->reads[i].misses);
    }
    st->read_stats = (h->tflags & TF_READ_STATS) != 0;
    st->cache = (h->tflags & TF_CACHE) != 0;
    st->lock_recoveries += ld(&h->alloc_recoveries);
    st->garbage_bytes = st->log_bytes > rec_live ? st->log_bytes - rec_live : 0;
    st->shards = 1ull << db->shard_bits;
    st->index_bytes = (st->buckets + st->overflow_buckets) * BUCKET_BYTES;
    st->file_bytes = ld(&h->file_size);
    st->used_bytes = st->file_bytes;
    st->max_bytes = db->reserve;
    st->free_bytes = ld(&h->free_units) * UNIT + (st->file_bytes - ld(&h->top));
    st->load_factor = st->buckets ? (double)st->keys / (double)(st->buckets * SLOTS) : 0;
    return 0;
}
