/*
 * write.c - the writes of the public API: put, put_ttl, add, replace,
 * expire, del, clear.
 *
 * A write: lock the key's shard; find the key's slot (or reserve an empty
 * one); append the new record to the shard's log; publish it with one
 * atomic store into the slot; retire the old record; then do a bounded
 * amount of background work (one bucket split, a few records of
 * compaction or eviction).  A writer killed anywhere in here leaves the
 * pair either old or new (see log.c and index.c for why the structures
 * stay sound).  When there is no room, the write lets go of its lock,
 * makes room elsewhere (compacting other shards, or in a cache evicting
 * the oldest run) and tries again.
 */
#include "api.h"
#include "clean.h"
#include "clock.h"
#include "evict.h"
#include "fault.h"
#include "hash.h"
#include "index.h"
#include "log.h"
#include "shard.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

enum wmode { W_PUT, W_ADD, W_REPLACE, W_TOUCH };

/* One write, as the API call asked for it, and what its rounds learn. */
struct wreq {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
    enum wmode mode;
    uint64_t ttl_ms;                /* 0: no expiry */
    uint64_t h, tag;                /* the key's hash and index tag */
    struct shard *s;                /* the key's shard */
    void *copy;                     /* W_TOUCH: the value, copied out under the lock */
    uint64_t now;                   /* table time, read lazily (0: not yet) */
};

static uint64_t now_of(shmkv *db, struct wreq *w)
{
    if (!w->now)
        w->now = shmkv__clock_now(db);
    return w->now;
}

/* If the key's record (found in f) has expired, remove it and forget it:
 * to every operation an expired key is an absent one. */
static void reap(shmkv *db, struct wreq *w, struct found *f)
{
    if (!f->slot)
        return;
    const struct rec *r = at(db, slot_off(f->val));
    if (!(r->dist & REC_EXT) || !expired(rec_expiry(r), now_of(db, w)))
        return;
    shmkv__log_drop(db, w->s, w->tag, f->slot, slot_off(f->val));
    atomic_fetch_add_explicit(&w->s->expirations, 1, memory_order_relaxed);
    f->slot = NULL;
    /* the drop may have unlinked the overflow bucket that held the free
     * slot index_find saw (a record published there would be lost):
     * let index_reserve find one again */
    f->empty = NULL;
}

/* Find the key's live slot (f->slot, or NULL) and check the write's
 * condition on it. */
static int find_key(shmkv *db, struct wreq *w, struct found *f)
{
    int r = shmkv__index_find(db, w->s, w->tag, w->key, w->klen, f);
    if (r)
        return r;
    reap(db, w, f);
    if (w->mode == W_ADD && f->slot)
        return -EEXIST;
    if ((w->mode == W_REPLACE || w->mode == W_TOUCH) && !f->slot)
        return -ENOENT;
    return 0;
}

/* expire rewrites the key's own value: copy it out of its record, anew
 * on every attempt (the key may have been written between two rounds,
 * while the lock was let go). */
static int take_value(shmkv *db, struct wreq *w, const struct found *f)
{
    if (w->mode != W_TOUCH)
        return 0;
    free(w->copy);
    w->copy = NULL;
    struct rec rh = *(const struct rec *)at(db, slot_off(f->val));
    if (!(w->copy = xmalloc(rh.vlen ? rh.vlen : 1)))
        return -ENOMEM;
    if (!shmkv__rec_value(db, slot_off(f->val), &rh, w->copy))
        return -EBADMSG;
    w->val = w->copy;
    w->vlen = rh.vlen;
    return 0;
}

/* Find the key and append its new record, without publishing it.  No
 * room: compact (or in a cache evict) this shard once, then look again
 * (the key's record may have moved or gone). */
static int place(shmkv *db, struct wreq *w, struct found *f, _Atomic uint64_t **slot, uint64_t *off,
                 uint64_t *expiry)
{
    for (int tries = 0;; tries++) {
        int r = find_key(db, w, f);
        if (!r)
            r = take_value(db, w, f);
        if (r)
            return r;
        *expiry = w->ttl_ms ? now_of(db, w) + w->ttl_ms : 0;
        *slot = f->slot ? f->slot : f->empty;
        r = *slot ? 0 : shmkv__index_reserve(db, w->s, w->tag, slot);
        if (!r)
            r = shmkv__log_append(db, w->s, w->key, w->klen, w->val, w->vlen, *expiry, false, off);
        if (r != -ENOSPC || tries >= 1 ||
            !(db->cache ? shmkv__evict_some(db, w->s) : shmkv__clean_some(db, w->s)))
            return r;
    }
}

/* Publish the record at off in slot, retire the old one, count. */
static void publish(shmkv *db, struct wreq *w, const struct found *f, _Atomic uint64_t *slot, uint64_t off,
                    uint64_t expiry)
{
    struct shard *s = w->s;
    /* an overwrite keeps the key's read count */
    uint64_t nv = slot_make(off, w->tag);
    atomic_store_explicit(slot, f->slot ? slot_with_reads(nv, slot_reads(f->val)) : nv, memory_order_release);
    shmkv__pause_at(PAUSE_SLOT_PUBLISHED);
    s->pending_huge = 0;
    shmkv__log_adopt(db, s, off);
    int64_t delta = (int64_t)(w->klen + w->vlen);
    if (f->slot) {
        const struct rec *old = at(db, slot_off(f->val));
        delta -= (int64_t)old->klen + (int64_t)old->vlen;
        shmkv__log_retire(db, s, slot_off(f->val));
    } else {
        add64(&s->keys, 1);
        shmkv__index_maybe_split(db, s);
    }
    add64(&s->live_bytes, delta);
    add64(&s->puts, 1);
    if (expiry)
        shmkv__clock_note(db, w->now);
}

/* The bounded background step after a write.  Returns the shard a cache
 * should evict a little from, when it is another one (its lock is taken
 * after ours is released). */
static struct shard *background(shmkv *db, struct wreq *w)
{
    bool pressure = db->cache && shmkv__evict_pressure(db);
    struct shard *elsewhere = pressure ? shmkv__evict_where(db, w->s, w->h) : NULL;
    if (!elsewhere || elsewhere == w->s) {
        shmkv__clean_step(db, w->s, pressure);
        return NULL;
    }
    return elsewhere;
}

/* One attempt under the shard's lock. */
static int write_round(shmkv *db, struct wreq *w)
{
    int r = shmkv__shard_lock(db, w->s);
    if (r)
        return r;
    struct found f;
    _Atomic uint64_t *slot;
    uint64_t off, expiry;
    struct shard *elsewhere = NULL;
    w->now = 0;
    r = place(db, w, &f, &slot, &off, &expiry);
    if (!r) {
        publish(db, w, &f, slot, off, expiry);
        elsewhere = background(db, w);
    }
    shmkv__shard_unlock(w->s);
    if (elsewhere && shmkv__shard_lock_for(db, elsewhere, 0) == 0) { /* never wait: it is only a step */
        shmkv__evict_step(db, elsewhere);
        shmkv__shard_unlock(elsewhere);
    }
    return r;
}

/* After -ENOSPC, with no lock held: make room in other shards.  False
 * when there is nothing more to try.  A cache retries a few times when
 * there is nothing left to evict: other writers (or a clear) may be
 * between freeing space and using it. */
static bool make_room(shmkv *db, struct wreq *w, int round, int *stuck)
{
    if (!db->cache)
        return round < 1 && shmkv__clean_others(db, w->s);
    if (round >= 1 << 16)
        return false;
    if (shmkv__evict_oldest(db, w->s))
        return true;
    sched_yield();
    return ++*stuck <= 16;
}

static int write_op(shmkv *db, struct wreq *w)
{
    /* expire: only the key is checked; its value fits, being stored */
    int r = w->mode == W_TOUCH ? check_key_write(db, w->key, w->klen)
                               : check_write(db, w->key, w->klen, w->val, w->vlen);
    if (r)
        return r;
    if (w->ttl_ms > SHMKV_TTL_MAX)
        return -EINVAL;
    w->h = shmkv__hash64(w->key, w->klen, db->seed0, db->seed1);
    w->tag = w->h & TAG_MASK;
    w->s = shard_of(db, w->h);
    shmkv__index_prefetch(db, w->s, w->tag);
    int stuck = 0;
    for (int round = 0;; round++)
        if ((r = write_round(db, w)) != -ENOSPC || !make_room(db, w, round, &stuck))
            break;
    free(w->copy);
    return r;
}

#define WRITE(mode_, val_, vlen_, ttl_) \
    write_op(db, &(struct wreq){.key = key, .klen = klen, .val = (val_), .vlen = (vlen_), .mode = (mode_), \
                                .ttl_ms = (ttl_)})

SHMKV_API int shmkv_put(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return WRITE(W_PUT, val, vlen, 0);
}

SHMKV_API int shmkv_put_ttl(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, uint64_t ttl_ms)
{
    return WRITE(W_PUT, val, vlen, ttl_ms);
}

SHMKV_API int shmkv_add(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return WRITE(W_ADD, val, vlen, 0);
}

SHMKV_API int shmkv_replace(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return WRITE(W_REPLACE, val, vlen, 0);
}

SHMKV_API int shmkv_expire(shmkv *db, const void *key, size_t klen, uint64_t ttl_ms)
{
    return WRITE(W_TOUCH, NULL, 0, ttl_ms);
}

SHMKV_API int shmkv_del(shmkv *db, const void *key, size_t klen)
{
    int r = check_key_write(db, key, klen);
    if (r)
        return r;
    struct wreq w = {.key = key, .klen = klen, .mode = W_REPLACE};
    w.h = shmkv__hash64(key, klen, db->seed0, db->seed1);
    w.tag = w.h & TAG_MASK;
    w.s = shard_of(db, w.h);
    shmkv__index_prefetch(db, w.s, w.tag);
    if ((r = shmkv__shard_lock(db, w.s)))
        return r;
    struct found f;
    if ((r = find_key(db, &w, &f)) == 0) {
        shmkv__log_drop(db, w.s, w.tag, f.slot, slot_off(f.val));
        add64(&w.s->dels, 1);
    }
    if (r == 0 || r == -ENOENT)
        shmkv__clean_step(db, w.s, db->cache && shmkv__evict_pressure(db));
    shmkv__shard_unlock(w.s);
    return r;
}

/* Remove every pair, shard by shard (each under its lock, briefly). */
SHMKV_API int shmkv_clear(shmkv *db)
{
    if (!db)
        return -EINVAL;
    if (db->rdonly)
        return -EROFS;
    for (uint64_t i = 0; i < nshards(db); i++) {
        struct shard *s = &db->shards[i];
        int r = shmkv__shard_lock(db, s);
        if (r)
            return r;
        shmkv__log_clear(db, s);
        shmkv__shard_unlock(s);
    }
    return 0;
}
