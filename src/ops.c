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

enum wmode { W_PUT, W_ADD, W_REPLACE };

static int check_key(shmkv *db, const void *key, size_t klen)
{
    if (!db || !key || !klen)
        return -EINVAL;
    return klen > SHMKV_KEY_MAX ? -E2BIG : 0;
}

static int check_write(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (!val && vlen)
        return -EINVAL;
    if (vlen > SHMKV_VAL_MAX || rec_size(klen, vlen) + RUN_HDR > db->reserve - db->data_off)
        return -E2BIG;
    return db->rdonly ? -EROFS : 0;
}

/* After -ENOSPC: compact every other shard that holds garbage.  Called
 * with no lock held. */
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

static int write_op(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, enum wmode mode)
{
    int r = check_write(db, key, klen, val, vlen);
    if (r)
        return r;
    uint64_t h = hash64(key, klen, db->seed0, db->seed1), tag = h & TAG_MASK;
    struct shard *s = shard_of(db, h);
    for (int round = 0;; round++) {
        if ((r = shard_lock(db, s)))
            return r;
        struct found f;
        _Atomic uint64_t *slot;
        uint64_t off;
        if ((r = index_find(db, s, tag, key, klen, &f)))
            goto out;
        if (mode == W_ADD && f.slot) {
            r = -EEXIST;
            goto out;
        }
        if (mode == W_REPLACE && !f.slot) {
            r = -ENOENT;
            goto out;
        }
        slot = f.slot ? f.slot : f.empty;
        if (!slot && (r = index_reserve(db, s, tag, &slot)))
            goto out;
        r = log_append(db, s, key, klen, val, vlen, false, &off);
        if (r == -ENOSPC && log_clean_some(db, s)) {
            /* compaction may have moved our key: find it again */
            if (f.slot && (r = index_find(db, s, tag, key, klen, &f)))
                goto out;
            slot = f.slot ? f.slot : slot;
            r = log_append(db, s, key, klen, val, vlen, false, &off);
        }
        if (r)
            goto out;
        atomic_store_explicit(slot, slot_make(off, tag), memory_order_release);
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
        log_clean_step(db, s);
    out:
        shard_unlock(s);
        if (r != -ENOSPC || round > 0 || !clean_others(db, s))
            return r;
    }
}

SHMKV_API int shmkv_put(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return write_op(db, key, klen, val, vlen, W_PUT);
}

SHMKV_API int shmkv_add(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return write_op(db, key, klen, val, vlen, W_ADD);
}

SHMKV_API int shmkv_replace(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return write_op(db, key, klen, val, vlen, W_REPLACE);
}

SHMKV_API int shmkv_del(shmkv *db, const void *key, size_t klen)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (db->rdonly)
        return -EROFS;
    uint64_t h = hash64(key, klen, db->seed0, db->seed1), tag = h & TAG_MASK;
    struct shard *s = shard_of(db, h);
    if ((r = shard_lock(db, s)))
        return r;
    struct found f;
    if ((r = index_find(db, s, tag, key, klen, &f)) == 0) {
        if (!f.slot) {
            r = -ENOENT;
        } else {
            const struct rec *old = at(db, slot_off(f.val));
            int64_t delta = (int64_t)old->klen + (int64_t)old->vlen;
            index_remove(db, s, tag, f.slot);
            log_retire(db, s, slot_off(f.val));
            add64(&s->keys, -1);
            add64(&s->live_bytes, -delta);
            add64(&s->dels, 1);
            log_clean_step(db, s);
        }
    }
    shard_unlock(s);
    return r;
}

/* Where a found value goes: into (buf, cap), or a fresh malloc. */
struct sink {
    void *buf;
    size_t cap;
    void **alloc;
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
            uint64_t o = slot_off(v);
            struct rec rh;
            if (!mem_ok(db, o, sizeof rh + klen)) {
                suspect = true;
                break;
            }
            racy_copy(&rh, at(db, o), sizeof rh);
            const uint8_t *p = (const uint8_t *)at(db, o) + sizeof rh;
            if (rh.klen != klen || racy_cmp(p, key, klen))
                continue;
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
            if (out->alloc) {
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
            if (db->count_reads && (r == 0 || r == -ENOBUFS || r == -ENOENT))
                atomic_fetch_add_explicit(r == -ENOENT ? &s->misses : &s->hits, 1, memory_order_relaxed);
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
    uint64_t n = (uint64_t)rh.klen + rh.vlen;
    if (!rh.klen || !mem_ok(db, o, sizeof rh + rh.klen) ||
        rh.vlen > atomic_load_explicit(&db->known_size, memory_order_relaxed))
        return -EBADMSG;
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
    racy_copy(b->p + b->len + 8, (const uint8_t *)at(db, o) + sizeof rh, rh.klen);
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
        r = index_walk(db, s, collect, b);
        shard_unlock(s);
        return r;
    }
    for (unsigned tries = 0; tries < 10000; tries++) {
        uint64_t e1 = atomic_load_explicit(&s->epoch, memory_order_acquire);
        uint64_t lay = atomic_load_explicit(&s->layout, memory_order_acquire);
        uint64_t sq = atomic_load_explicit(&s->seq, memory_order_acquire);
        b->len = 0;
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
        st->hits += ld(&s->hits);
        st->misses += ld(&s->misses);
    }
    st->read_stats = (h->tflags & TF_READ_STATS) != 0;
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
