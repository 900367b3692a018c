/*
 * iterate.c - shmkv_foreach and shmkv_scan: every pair, shard by shard.
 *
 * Each shard's pairs are copied into a private batch, then handed to the
 * callback with no lock held, so the callback may call into the table.  On
 * a writable handle the copy is made under the shard's lock; on a
 * read-only one optimistically, validated by the shard's view (index.h)
 * and retried while writers change the shard (a value an increment is
 * rewriting in place is taken from its journal, patch.h).
 */
#include "api.h"
#include "clock.h"
#include "fault.h"
#include "index.h"
#include "list.h"
#include "log.h"
#include "map.h"
#include "patch.h"
#include "shard.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* One shard's pairs (and lists), copied out:
 * [u32 kind][u32 klen][u32 vlen][key][value] ... */
struct batch {
    uint8_t *p;
    size_t len, cap;
    uint64_t now;       /* table time when the shard's copy began */
    const struct view *vw; /* a read-only handle's view of the shard; NULL: locked */
    bool lists;         /* lists too (shmkv_scan_all), their elements as the value */
};

#define ENTRY_HDR 12u

static int grow(struct batch *b, uint64_t need)
{
    if (b->len + need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need)
        cap *= 2;
    uint8_t *np = xrealloc(b->p, cap);
    if (!np)
        return -ENOMEM;
    b->p = np;
    b->cap = cap;
    return 0;
}

static void put_hdr(struct batch *b, size_t at, uint32_t kind, uint32_t klen, uint64_t vlen)
{
    uint32_t h[3] = {kind, klen, (uint32_t)vlen};
    memcpy(b->p + at, h, sizeof h);
}

/* A list's entry: its key, then its elements as the list_copy encoding. */
static int collect_list(shmkv *db, struct shard *s, uint64_t o, const struct rec *rh, struct batch *b)
{
    uint64_t lrun = 0;
    if (rh->vlen == sizeof lrun)
        racy_copy(&lrun, (const uint8_t *)at(db, o) + rec_head(rh) + rh->klen, sizeof lrun);
    uint32_t kind = 0;
    if (lrun >= db->data_off && mem_ok(db, lrun, UNIT))
        racy_copy(&kind, &run_at(db, lrun)->kind, sizeof kind);
    if (kind != RUN_LIST || run_at(db, lrun)->shard != shard_index(db, s))
        return db->rdonly ? -ESTALE : -EBADMSG;
    size_t pos = b->len;
    int r = grow(b, ENTRY_HDR + rh->klen);
    if (r)
        return r;
    racy_copy(b->p + pos + ENTRY_HDR, (const uint8_t *)at(db, o) + rec_head(rh), rh->klen);
    b->len += ENTRY_HDR + rh->klen;
    if ((r = shmkv__list_copy(db, lrun, 0, -1, &b->p, &b->len, &b->cap)))
        return r == -ESTALE && !db->rdonly ? -EBADMSG : r;
    if (b->len - pos - ENTRY_HDR - rh->klen > UINT32_MAX)
        return -E2BIG;
    put_hdr(b, pos, SHMKV_KIND_LIST, rh->klen, b->len - pos - ENTRY_HDR - rh->klen);
    return 0;
}

static int collect(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
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
        if (ext_type(ext) == REC_LIST && b->lists)
            return collect_list(db, s, o, &rh, b);
        if (ext_type(ext) != REC_PAIR || expired(exp, b->now))
            return 0; /* expired pairs and pending leases are absent; lists are not pairs */
    }
    int r = grow(b, ENTRY_HDR + n);
    if (r)
        return r;
    put_hdr(b, b->len, SHMKV_KIND_PAIR, rh.klen, rh.vlen);
    racy_copy(b->p + b->len + ENTRY_HDR, (const uint8_t *)at(db, o) + rec_head(&rh), rh.klen);
    uint8_t *val = b->p + b->len + ENTRY_HDR + rh.klen;
    if (!shmkv__rec_value(db, o, &rh, val))
        return -EBADMSG;
    if (b->vw && patch_rec(b->vw->patch) == o) { /* an increment in flight: its journal has the value */
        if ((r = shmkv__patch_read(s, b->vw, val, rh.vlen)))
            return r == VIEW_PATCHED ? -ESTALE : r;
    }
    b->len += ENTRY_HDR + n;
    return 0;
}

/* Copy one shard's pairs into b: under its lock on a writable handle, or
 * optimistically (retrying while writers change it) on a read-only one. */
static int snapshot(shmkv *db, struct shard *s, struct batch *b)
{
    if (!db->rdonly) {
        int r = shmkv__shard_lock(db, s);
        if (!r && b->lists && (r = shmkv__lanes_take(db, s))) /* lists copied whole: no lane moves them */
            shmkv__shard_unlock(s);
        if (r)
            return r;
        b->len = 0;
        b->vw = NULL;
        b->now = shmkv__clock_now(db);
        r = shmkv__index_walk(db, s, WALK_PLACED, collect, b);
        if (b->lists)
            shmkv__lanes_drop(s);
        shmkv__shard_unlock(s);
        return r;
    }
    for (unsigned tries = 0; tries < 10000; tries++) {
        struct view vw;
        view_begin(s, &vw);
        b->vw = &vw;
        b->len = 0;
        b->now = shmkv__clock_now(db);
        int r = shmkv__index_walk(db, s, WALK_PLACED, collect, b);
        if (!view_moved(s, &vw) && r != -ESTALE)
            return r;
        if (r == -ENOMEM)
            return r;
        if (tries > 4) {
            struct timespec ts = {0, 1000L * (tries < 1000 ? tries : 1000)};
            nanosleep(&ts, NULL);
        }
    }
    return -EAGAIN;
}

/* Hand the entries of one shard's batch to fn (or efn, with kinds). */
static int visit(const struct batch *b, shmkv_visit_fn fn, shmkv_entry_fn efn, void *ctx)
{
    int r = 0;
    for (size_t pos = 0; pos < b->len && !r;) {
        uint32_t h[3];
        memcpy(h, b->p + pos, sizeof h);
        const uint8_t *k = b->p + pos + ENTRY_HDR;
        r = efn ? efn(ctx, (int)h[0], k, h[1], k + h[1], h[2]) : fn(ctx, k, h[1], k + h[1], h[2]);
        pos += ENTRY_HDR + (size_t)h[1] + h[2];
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
            r = visit(&b, fn, NULL, ctx);
    free(b.p);
    return r;
}

/* The cursor is the number of shards done (0: none; nshards: all, given
 * back as 0), so a scan needs no state in the table and a cursor can be
 * kept across processes. */
static int scan(shmkv *db, uint64_t *cursor, shmkv_visit_fn fn, shmkv_entry_fn efn, void *ctx)
{
    if (!db || !cursor || (!fn && !efn) || *cursor >= nshards(db))
        return -EINVAL;
    struct batch b = {.lists = efn != NULL};
    uint64_t i = *cursor;
    int r = snapshot(db, &db->shards[i], &b);
    if (!r) {
        *cursor = i + 1 < nshards(db) ? i + 1 : 0;
        r = visit(&b, fn, efn, ctx);
    }
    free(b.p);
    return r;
}

SHMKV_API int shmkv_scan(shmkv *db, uint64_t *cursor, shmkv_visit_fn fn, void *ctx)
{
    return fn ? scan(db, cursor, fn, NULL, ctx) : -EINVAL;
}

SHMKV_API int shmkv_scan_all(shmkv *db, uint64_t *cursor, shmkv_entry_fn fn, void *ctx)
{
    return fn ? scan(db, cursor, NULL, fn, ctx) : -EINVAL;
}
