/*
 * iterate.c - shmkv_foreach and shmkv_scan: every pair, shard by shard.
 *
 * Each shard's pairs are copied into a private batch, then handed to the
 * callback with no lock held, so the callback may call into the table.  On
 * a writable handle the copy is made under the shard's lock; on a
 * read-only one optimistically, validated by the shard's view (index.h)
 * and retried while writers change the shard.
 */
#include "api.h"
#include "clock.h"
#include "fault.h"
#include "index.h"
#include "log.h"
#include "map.h"
#include "shard.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* One shard's pairs, copied out: [u32 klen][u32 vlen][key][value] ... */
struct batch {
    uint8_t *p;
    size_t len, cap;
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
        uint64_t ext;
        racy_copy(&ext, at(db, o + sizeof rh), 8);
        exp = ext_expiry(ext);
        if (ext_type(ext) != REC_PAIR || expired(exp, b->now))
            return 0; /* expired pairs and pending leases are absent */
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
    if (!shmkv__rec_value(db, o, &rh, b->p + b->len + 8 + rh.klen))
        return -EBADMSG;
    b->len += 8 + n;
    return 0;
}

/* Copy one shard's pairs into b: under its lock on a writable handle, or
 * optimistically (retrying while writers change it) on a read-only one. */
static int snapshot(shmkv *db, struct shard *s, struct batch *b)
{
    if (!db->rdonly) {
        int r = shmkv__shard_lock(db, s);
        if (r)
            return r;
        b->len = 0;
        b->now = shmkv__clock_now(db);
        r = shmkv__index_walk(db, s, WALK_PLACED, collect, b);
        shmkv__shard_unlock(s);
        return r;
    }
    for (unsigned tries = 0; tries < 10000; tries++) {
        struct view vw;
        view_begin(s, &vw);
        b->len = 0;
        b->now = shmkv__clock_now(db);
        int r = shmkv__index_walk(db, s, WALK_PLACED, collect, b);
        if (!view_moved(s, &vw) || r == -ENOMEM)
            return r;
        if (tries > 4) {
            struct timespec ts = {0, 1000L * (tries < 1000 ? tries : 1000)};
            nanosleep(&ts, NULL);
        }
    }
    return -EAGAIN;
}

/* Hand the pairs of one shard's batch to fn. */
static int visit(const struct batch *b, shmkv_visit_fn fn, void *ctx)
{
    int r = 0;
    for (size_t pos = 0; pos < b->len && !r;) {
        uint32_t lens[2];
        memcpy(lens, b->p + pos, 8);
        const uint8_t *k = b->p + pos + 8;
        r = fn(ctx, k, lens[0], k + lens[0], lens[1]);
        pos += 8 + (size_t)lens[0] + lens[1];
    }
    return r;
}

SHMKV_API int shmkv_foreach(shmkv *db, shmkv_visit_fn fn, void *ctx)
{
    if (!db || !fn)
        return -EINVAL;
    struct batch b = {0};
    int r = 0;
    for (uint64_t i = 0; i < nshards(db) && !r; i++)
        if (!(r = snapshot(db, &db->shards[i], &b)))
            r = visit(&b, fn, ctx);
    free(b.p);
    return r;
}

/* The cursor is the number of shards done (0: none; nshards: all, given
 * back as 0), so a scan needs no state in the table and a cursor can be
 * kept across processes. */
SHMKV_API int shmkv_scan(shmkv *db, uint64_t *cursor, shmkv_visit_fn fn, void *ctx)
{
    if (!db || !cursor || !fn || *cursor >= nshards(db))
        return -EINVAL;
    struct batch b = {0};
    uint64_t i = *cursor;
    int r = snapshot(db, &db->shards[i], &b);
    if (!r) {
        *cursor = i + 1 < nshards(db) ? i + 1 : 0;
        r = visit(&b, fn, ctx);
    }
    free(b.p);
    return r;
}
