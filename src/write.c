/*
 * write.c - the write machinery (write.h), and the plain writes of the
 * public API: put, put_ttl, add, replace, put_ex, del, clear, put_many.
 *
 * A round: lock the key's shard; find the key's record (or a free slot);
 * decide; append the new record to the shard's log; publish it with one
 * atomic store into the slot; retire the old one; then a bounded amount of
 * background work (a burst of bucket splits, a few records of compaction or
 * eviction).  A writer killed anywhere in here leaves the pair either old
 * or new (log.c and index.c say why the structures stay sound).  When
 * there is no room, the write lets go of its lock, makes room elsewhere
 * (compacting other shards, or in a cache evicting the oldest run) and
 * runs the round again.
 */
#include "write.h"

#include "alloc.h"
#include "api.h"
#include "clean.h"
#include "clock.h"
#include "evict.h"
#include "fault.h"
#include "hash.h"
#include "list.h"
#include "log.h"
#include "map.h"
#include "patch.h"
#include "shard.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

void shmkv__wreq_setup(shmkv *db, struct wreq *w, const void *key, size_t klen, shmkv__decide_fn decide, void *arg)
{
    memset(w, 0, sizeof *w);
    w->key = key;
    w->klen = klen;
    w->decide = decide;
    w->arg = arg;
    w->h = shmkv__key_hash(db, key, klen);
    w->tag = w->h & TAG_MASK;
    w->s = shard_of(db, w->h);
}

void shmkv__wreq_init(shmkv *db, struct wreq *w, const void *key, size_t klen, shmkv__decide_fn decide, void *arg)
{
    shmkv__wreq_setup(db, w, key, klen, decide, arg);
    shmkv__index_prefetch(db, w->s, w->tag, &w->home);
}

uint64_t shmkv__wreq_now(shmkv *db, struct wreq *w)
{
    if (!w->now)
        w->now = shmkv__clock_now(db);
    return w->now;
}

const void *shmkv__cur_value(shmkv *db, struct wreq *w, const struct cur *c, size_t *vlen, int *rc)
{
    const struct rec *r = c->r;
    *vlen = r->vlen;
    if (!(r->dist & REC_CHAIN))
        return rec_key(r) + r->klen; /* whole inside its run (rec_run checked it) */
    free(w->tmp);
    if (!(w->tmp = xmalloc(r->vlen ? r->vlen : 1))) {
        *rc = -ENOMEM;
        return NULL;
    }
    if (!shmkv__rec_value(db, off_of(db, r), r, w->tmp)) {
        *rc = -EBADMSG;
        return NULL;
    }
    return w->tmp;
}

/* ---- a round ---- */

/* If the key's record has expired, remove it: to every operation an
 * expired key is an absent one (and an expired lease has lapsed). */
static void reap(shmkv *db, struct wreq *w, struct found *f)
{
    const struct rec *r = at(db, slot_off(f->val));
    if (!(r->dist & REC_EXT) || !expired(rec_expiry(r), shmkv__wreq_now(db, w)))
        return;
    if (rec_type(r) == REC_PAIR)
        atomic_fetch_add_explicit(&w->s->expirations, 1, memory_order_relaxed);
    shmkv__log_drop(db, w->s, w->tag, f->slot, slot_off(f->val));
    f->slot = NULL;
    /* the drop may have unlinked the overflow bucket that held the free
     * slot index_find saw (a record published there would be lost):
     * let index_reserve find one again */
    f->empty = NULL;
}

static bool rec_sound(shmkv *db, uint64_t off)
{
    const struct rec *r = at(db, off); /* its header and key: index_find checked them */
    if (!(r->dist & REC_CHAIN) && r->vlen <= UNIT)
        return mem_ok(db, off, rec_bytes(r));
    return shmkv__rec_run(db, off) != 0;
}

int shmkv__write_find(shmkv *db, struct wreq *w, struct cur *c)
{
    memset(c, 0, sizeof *c);
    int r = shmkv__index_find(db, w->s, w->tag, w->key, w->klen, &w->home, &c->f);
    if (r)
        return r;
    /* the whole record in the file before anything reads past its key,
     * which is all index_find checked (a damaged dist or REC_CHAIN bit
     * made a plain record of a chain's head, and expire copied megabytes
     * past the file: bug 35); within its run (a chained one: with its
     * chain) when it is big.  A small plain record takes no more: the
     * run's header is one more line on every overwrite's and delete's
     * path (5 % of 10 M random deletes), and at worst such a record's
     * value reads a few bytes of the next run, which the checker
     * reports. */
    if (c->f.slot && !rec_sound(db, slot_off(c->f.val)))
        return -EBADMSG;
    if (c->f.slot)
        reap(db, w, &c->f);
    if (c->f.slot) {
        c->r = at(db, slot_off(c->f.val));
        c->present = rec_type(c->r) == REC_PAIR;
        c->lease = rec_type(c->r) == REC_LEASE;
        if (rec_type(c->r) == REC_LIST && !(c->list = shmkv__list_run(db, w->s, slot_off(c->f.val))))
            return -EBADMSG;
    }
    return 0;
}

static uint64_t plan_vlen(const struct plan *p)
{
    uint64_t vlen = 0;
    for (unsigned i = 0; i < p->nval; i++)
        vlen += p->val[i].len;
    return vlen;
}

/* The size rule of check_write (api.h), for a value a decision made. */
static int fits(const shmkv *db, size_t klen, const struct plan *p)
{
    uint64_t vlen = plan_vlen(p);
    if (vlen > SHMKV_VAL_MAX)
        return -E2BIG;
    return db->cache ? (klen + vlen > db->max_bytes / 8 ? -E2BIG : 0)
                     : (rec_size(klen, vlen, 8) + RUN_HDR > db->reserve - db->data_off ? -E2BIG : 0);
}

/* Publish the record at off in slot, retire the old one, count. */
static void publish(shmkv *db, struct wreq *w, const struct cur *c, const struct plan *p, _Atomic uint64_t *slot,
                    uint64_t off)
{
    struct shard *s = w->s;
    /* an overwrite keeps the key's read count */
    uint64_t nv = slot_make(off, w->tag);
    atomic_store_explicit(slot, c->f.slot ? slot_with_reads(nv, slot_reads(c->f.val)) : nv, memory_order_release);
    shmkv__pause_at(PAUSE_SLOT_PUBLISHED);
    s->pending_huge = 0;
    shmkv__log_adopt_new(db, s, off);
    if (c->f.slot) {
        if (c->lease && p->fills_lease)
            atomic_fetch_add_explicit(&s->leases_filled, 1, memory_order_relaxed);
        else
            shmkv__log_count(s, c->r, -1);
        shmkv__log_retire(db, s, slot_off(c->f.val));
    } else {
        shmkv__index_maybe_split(db, s);
    }
    const struct rec *nr = at(db, off);
    shmkv__log_count(s, nr, 1);
    if (rec_type(nr) == REC_LIST)
        s->pending_list = 0; /* the new list is reached from its slot now */
    if (rec_type(nr) == REC_PAIR)
        add64(&s->puts, 1);
    if (ext_expiry(p->ext))
        shmkv__clock_note(db, w->now);
}

/* Does the plan's record go into the shard's log?  (A huge one gets a run
 * of its own, journaled in pending_huge until it is published: it is
 * written only once its slot is sure.) */
static bool plan_small(const shmkv *db, size_t klen, const struct plan *p)
{
    return rec_size(klen, plan_vlen(p), p->ext ? 8 : 0) < db->huge_min; /* as log_append sizes it */
}

static int append(shmkv *db, struct wreq *w, const struct plan *p, uint64_t *off)
{
    return shmkv__log_append(db, w->s, w->key, w->klen, p->val, p->nval, p->ext, false, off);
}

/* Append the plan's record and publish it.  No room: compact (or in a
 * cache evict) this shard once, then -ENOSPC so the round runs again (the
 * key's record may have moved). */
static int carry_write(shmkv *db, struct wreq *w, const struct cur *c, const struct plan *p, bool *retry)
{
    int r = fits(db, w->klen, p);
    if (r)
        return r;
    _Atomic uint64_t *slot = c->f.slot ? c->f.slot : c->f.empty;
    uint64_t off = 0;
    /* a small record first when the slot is still to find: it is beyond a
     * full first bucket, whose overflow bucket index_find asked for, and
     * the append overlaps that miss (a record appended for a slot that
     * then fails is garbage, as a killed writer's is) */
    if (!slot && plan_small(db, w->klen, p))
        r = append(db, w, p, &off);
    if (!r && !slot)
        r = shmkv__index_reserve(db, w->s, w->tag, &slot);
    if (!r && !off)
        r = append(db, w, p, &off);
    if (r == -ENOSPC && !*retry) {
        *retry = db->cache ? shmkv__evict_some(db, w->s) : shmkv__clean_some(db, w->s);
        return -ENOSPC;
    }
    if (!r)
        publish(db, w, c, p, slot, off);
    *retry = false;
    return r;
}

/* Is a cache short of space (*pressure)?  Then the shard with the oldest
 * run of s and two others chosen by h: returned when it is not s (NULL:
 * s, or no pressure). */
static struct shard *evict_other(shmkv *db, struct shard *s, uint64_t h, bool *pressure)
{
    *pressure = db->cache && shmkv__evict_pressure(db);
    struct shard *w = *pressure ? shmkv__evict_where(db, s, h) : NULL;
    return w == s ? NULL : w;
}

/* The bounded background step after a write.  Returns the shard a cache
 * should evict a little from, when it is another one (its lock is taken
 * after ours is released). */
static struct shard *background(shmkv *db, struct wreq *w)
{
    bool pressure;
    struct shard *elsewhere = evict_other(db, w->s, w->h, &pressure);
    if (!elsewhere)
        shmkv__clean_step(db, w->s, pressure);
    return elsewhere;
}

/* One round, the shard's lock held. */
static int round_body(shmkv *db, struct wreq *w, struct shard **elsewhere, bool *laned)
{
    for (bool retry = false;;) {
        struct cur c;
        struct plan p = {0};
        w->now = 0;
        w->rc = 0;
        int r = shmkv__write_find(db, w, &c);
        if (!r && c.list && !w->lists)
            r = -EMEDIUMTYPE; /* a write of a pair to a list's key */
        if (!r && c.list && !*laned && !(r = shmkv__lanes_take(db, w->s)))
            *laned = true;
        if (!r)
            r = w->decide(db, w, &c, &p);
        if (r || (p.act == ACT_NONE && !p.work))
            return r ? r : w->rc;
        if (p.act == ACT_PATCH) { /* nothing for the cleaner: no background step */
            shmkv__patch(db, w->s, slot_off(c.f.val), p.val[0].p, p.val[0].len);
            shmkv__slot_use(db, c.f.slot, atomic_load_explicit(c.f.slot, memory_order_relaxed));
            return w->rc;
        }
        if (p.act == ACT_DELETE) {
            if (c.f.slot) {
                if (c.present || c.list)
                    add64(&w->s->dels, 1);
                w->s->pending_list = c.list; /* journal: the list's runs outlive its slot a moment */
                shmkv__log_drop(db, w->s, w->tag, c.f.slot, slot_off(c.f.val));
                if (c.list)
                    shmkv__list_free(db, w->s, c.list, true);
                w->s->pending_list = 0;
            }
        } else if (p.act == ACT_WRITE && (r = carry_write(db, w, &c, &p, &retry))) {
            if (p.new_list) /* never published: it and its elements go (found by fuzz_ops) */
                shmkv__list_free(db, w->s, p.new_list, true);
            if (r == -ENOSPC && retry)
                continue; /* room was made here: look again */
            return r;
        }
        *elsewhere = background(db, w);
        return w->rc;
    }
}

/* One round.  A decision about a key that holds a list holds the shard's
 * lanes as well, from the look that finds the list on, so that no push
 * or pop of the lanes (list.c) runs beside it.  (A list that a decision
 * makes needs none: no lane can find it before its slot is published,
 * and nothing touches it after.) */
static int round_locked(shmkv *db, struct wreq *w, struct shard **elsewhere)
{
    bool laned = false;
    int r = round_body(db, w, elsewhere, &laned);
    if (laned)
        shmkv__lanes_drop(w->s);
    return r;
}

/* A cache's eviction step in another shard, after a round let go of its
 * own lock (never waiting for that one: it is only a step). */
static void evict_elsewhere(shmkv *db, struct shard *elsewhere)
{
    if (elsewhere && shmkv__shard_lock_for(db, elsewhere, 0) == 0) {
        shmkv__evict_step(db, elsewhere);
        shmkv__shard_unlock(elsewhere);
    }
}

/* One round under the shard's lock, which *held may already be (a batch's
 * pair before went to the same shard; NULL: none held), and which stays
 * held afterwards if keep (and the round needs no lock elsewhere, nor
 * room: then it is let go). */
static int write_round(shmkv *db, struct wreq *w, struct shard **held, bool keep)
{
    if (*held != w->s) {
        if (*held)
            shmkv__shard_unlock(*held);
        *held = NULL;
        int r = shmkv__shard_lock(db, w->s);
        if (r)
            return r;
        *held = w->s;
    }
    struct shard *elsewhere = NULL;
    int r = round_locked(db, w, &elsewhere);
    if (!keep || elsewhere || r == -ENOSPC) {
        shmkv__shard_unlock(*held);
        *held = NULL;
    }
    evict_elsewhere(db, elsewhere);
    return r;
}

/* After -ENOSPC, with no lock held: make room.  A store compacts every
 * shard (the writer's too: it may be the only one) for as long as that
 * frees space, before the write tries again: a pass releases a run or so
 * per shard, and a big value may need dozens (found by test_nospc).  One
 * pass per try was not enough: a failed try can leave as much garbage as
 * a pass frees (a push_many's new list record, in a run of its own once
 * the pass closed the open one), and a table with 20 KB of pairs in 256 KiB
 * filled up with such runs (found by fuzz_ops).  False when there is
 * nothing more to try.  A cache retries a few times when there is nothing
 * left to evict: other writers (or a clear) may be between freeing space
 * and using it. */
bool shmkv__write_make_room(shmkv *db, struct wreq *w, int round, int *stuck)
{
    if (!db->cache) {
        if (round >= 256)
            return false;
        bool freed = false;
        for (int pass = 0; pass < 4096 && shmkv__clean_others(db, NULL); pass++)
            freed = true;
        return freed;
    }
    if (round >= 1 << 16)
        return false;
    if (shmkv__evict_oldest(db, w->s))
        return true;
    sched_yield();
    return ++*stuck <= 16;
}

int shmkv__write(shmkv *db, struct wreq *w)
{
    int r, stuck = 0;
    for (int round = 0;; round++) {
        struct shard *held = NULL; /* write_round lets go of it: keep is false */
        if ((r = write_round(db, w, &held, false)) != -ENOSPC || !shmkv__write_make_room(db, w, round, &stuck))
            break;
    }
    if (w->tmp) {
        free(w->tmp);
        w->tmp = NULL;
    }
    shmkv__alloc_ahead(db);
    return r;
}

/* ---- put and its conditions ---- */

struct put_arg {
    const void *val;
    size_t vlen;
    unsigned flags;
    uint64_t ttl_ms;
    const void *expected;
    size_t elen;
};

/* The plan of a put: the pair with a's value, expiring at exp (0: never). */
static int plan_pair(struct plan *p, const struct put_arg *a, uint64_t exp)
{
    p->act = ACT_WRITE;
    p->val[0] = (struct piece){a->val, a->vlen};
    p->nval = 1;
    p->ext = ext_make(REC_PAIR, exp);
    return 0;
}

static int decide_put(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    const struct put_arg *a = w->arg;
    if ((a->flags & SHMKV_IF_ABSENT) && c->present)
        return -EEXIST;
    if ((a->flags & (SHMKV_IF_PRESENT | SHMKV_IF_EQUAL)) && !c->present)
        return -ENOENT;
    if (a->flags & SHMKV_IF_EQUAL) {
        size_t vlen;
        int rc = 0;
        const void *v = shmkv__cur_value(db, w, c, &vlen, &rc);
        if (!v)
            return rc;
        if (vlen != a->elen || (vlen && memcmp(v, a->expected, vlen)))
            return -ECANCELED;
    }
    uint64_t exp = (a->flags & SHMKV_KEEP_TTL) ? (c->present ? rec_expiry(c->r) : 0) : expiry_in(db, w, a->ttl_ms);
    return plan_pair(p, a, exp);
}

/* A put with no options: nothing to decide (BENCHMARKS 9.12). */
static int decide_put_plain(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    (void)db, (void)c;
    return plan_pair(p, w->arg, 0);
}

#define PUT_FLAGS (SHMKV_IF_ABSENT | SHMKV_IF_PRESENT | SHMKV_IF_EQUAL | SHMKV_KEEP_TTL)

static int check_put_opts(const shmkv_put_opts *o)
{
    if (!o)
        return 0;
    unsigned f = o->flags;
    if ((f & ~PUT_FLAGS) || ((f & SHMKV_IF_ABSENT) && (f & (SHMKV_IF_PRESENT | SHMKV_IF_EQUAL))) ||
        ((f & SHMKV_KEEP_TTL) && o->ttl_ms) || ((f & SHMKV_IF_EQUAL) && !o->expected && o->elen))
        return -EINVAL;
    return o->ttl_ms > SHMKV_TTL_MAX ? -EINVAL : 0;
}

/* A put by the general way: checked, its request made, its write run. */
static int put_general(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen,
                       const shmkv_put_opts *opts)
{
    struct put_arg a = {.val = val, .vlen = vlen};
    if (opts) {
        a.flags = opts->flags;
        a.ttl_ms = opts->ttl_ms;
        a.expected = opts->expected;
        a.elen = opts->elen;
    }
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, opts ? decide_put : decide_put_plain, &a);
    /* and the open log run's header and the lines the record will go to:
     * the put's stores would otherwise wait for them at the unlock (5 %
     * of single puts growing 10 M keys, BENCHMARKS 7.8) */
    shmkv__log_prefetch(db, w.s, LOG_PF_RUN | LOG_PF_TAIL);
    return shmkv__write(db, &w);
}

/* ---- a plain put's short way ----
 *
 * A put waits mostly for its key's bucket, and how much of that wait the
 * next put overlaps depends on how many instructions lie between the look
 * at the bucket and the next put's request for its own: the edge is sharp
 * (BENCHMARKS 9.18: 50 instructions more there cost the yardstick's put
 * 4 %, 100 cost it 23 %), and the general way (decide, plan, append,
 * publish, count) did some 600 of them after the look.  So a plain put
 * does before the look what does not depend on it: appends its record,
 * counts it live and as a new key, splits a bucket if that is due, asks
 * whether compaction (in a cache short of space: eviction, here or in
 * another shard) is due; after it, only publishes, for an overwrite
 * counts the old record out (keeping a cache key's read count), and takes
 * the background step.  Whatever else the look meets (an old record with
 * an ext word: an expiry, a lease, a list; damage; no memory for an
 * overflow bucket, or in a full cache for the record) it undoes and
 * leaves to the general way, its record left as garbage, as a killed
 * writer's is.
 * Counting before publishing is safe for the same reason: a taker-over's
 * repair counts everything again from the slots (log_repair). */
static bool put_lean_fits(const shmkv *db, size_t klen, size_t vlen)
{
    return rec_size(klen, vlen, 0) < db->huge_min;
}

/* Compiled twice, for a store (inlined in shmkv_put_ex, as before) and
 * for a cache (a function of its own): one body that asked db->cache for
 * both cost a store's presized put 4 to 6 % (BENCHMARKS 3.1), the few
 * instructions it added and the code's new shape around the look. */
static inline __attribute__((always_inline)) int put_lean_in(shmkv *db, const void *key, size_t klen,
                                                             const void *val, size_t vlen, bool cache)
{
    uint64_t h = shmkv__key_hash(db, key, klen), tag = h & TAG_MASK, off;
    struct shard *s = shard_of(db, h);
    struct home home;
    shmkv__index_prefetch(db, s, tag, &home);
    shmkv__log_prefetch(db, s, LOG_PF_RUN | LOG_PF_TAIL);
    int r = shmkv__shard_lock(db, s);
    if (r)
        return r;
    struct piece val1 = {val, vlen};
    if (shmkv__log_append(db, s, key, klen, &val1, 1, 0, false, &off)) {
        shmkv__shard_unlock(s); /* no room: the general way makes some */
        return put_general(db, key, klen, val, vlen, NULL);
    }
    const struct rec *nr = at(db, off);
    shmkv__log_adopt_new(db, s, off);
    shmkv__log_count(s, nr, 1);
    shmkv__index_maybe_split(db, s);
    /* the background work's questions too (their answers are needed only
     * after the publish): asked after the look they cost a presized put
     * 15 % with two processes, 26 % with one (BENCHMARKS 9.20) */
    add64(&s->puts, 1);
    /* a cache short of space evicts a step as the general way does
     * (background): here, or after the unlock in the shard with the
     * oldest run of three */
    bool pressure = false;
    struct shard *elsewhere = cache ? evict_other(db, s, h, &pressure) : NULL;
    bool clean = !elsewhere && shmkv__clean_due(db, s, pressure), ahead = shmkv__alloc_ahead_due(db);
    struct found f;
    /* absent, its first bucket full: a slot further on (the record is
     * already written, so this miss overlaps nothing of ours) */
    if (shmkv__index_find(db, s, tag, key, klen, &home, &f) ||
        (!f.slot && !f.empty && shmkv__index_reserve(db, s, tag, &f.empty)))
        goto undo;
    if (f.slot) {
        uint64_t was = slot_off(f.val);
        const struct rec *old = at(db, was);
        if ((old->dist & (REC_EXT | REC_CHAIN)) || !rec_sound(db, was))
            goto undo;
        atomic_store_explicit(f.slot, slot_with_reads(slot_make(off, tag), slot_reads(f.val)), memory_order_release);
        shmkv__pause_at(PAUSE_SLOT_PUBLISHED);
        shmkv__log_count(s, old, -1);
        shmkv__log_retire(db, s, was);
    } else {
        atomic_store_explicit(f.empty, slot_make(off, tag), memory_order_release);
        shmkv__pause_at(PAUSE_SLOT_PUBLISHED);
    }
    if (clean)
        shmkv__clean(db, s, CLEAN_BUDGET, pressure, false);
    shmkv__shard_unlock(s);
    if (cache)
        evict_elsewhere(db, elsewhere);
    if (ahead)
        shmkv__alloc_ahead_step(db);
    return 0;
undo:
    add64(&s->puts, -1);
    shmkv__log_count(s, nr, -1);
    shmkv__log_retire(db, s, off);
    shmkv__shard_unlock(s);
    return put_general(db, key, klen, val, vlen, NULL);
}

static __attribute__((noinline)) int put_lean_cache(shmkv *db, const void *key, size_t klen, const void *val,
                                                     size_t vlen)
{
    return put_lean_in(db, key, klen, val, vlen, true);
}

static int put_lean(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return put_lean_in(db, key, klen, val, vlen, false);
}

SHMKV_API int shmkv_put_ex(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen,
                           const shmkv_put_opts *opts)
{
    int r = check_write(db, key, klen, val, vlen);
    if (!r)
        r = check_put_opts(opts);
    if (r)
        return r;
    if (!opts && !db->cache && put_lean_fits(db, klen, vlen))
        return put_lean(db, key, klen, val, vlen);
    if (!opts && db->cache && put_lean_fits(db, klen, vlen)) /* (a second test: see put_lean_in) */
        return put_lean_cache(db, key, klen, val, vlen);
    return put_general(db, key, klen, val, vlen, opts);
}

SHMKV_API int shmkv_put(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return shmkv_put_ex(db, key, klen, val, vlen, NULL);
}

SHMKV_API int shmkv_put_ttl(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, uint64_t ttl_ms)
{
    shmkv_put_opts o = {.ttl_ms = ttl_ms};
    return shmkv_put_ex(db, key, klen, val, vlen, &o);
}

SHMKV_API int shmkv_add(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    shmkv_put_opts o = {.flags = SHMKV_IF_ABSENT};
    return shmkv_put_ex(db, key, klen, val, vlen, &o);
}

SHMKV_API int shmkv_replace(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    shmkv_put_opts o = {.flags = SHMKV_IF_PRESENT};
    return shmkv_put_ex(db, key, klen, val, vlen, &o);
}

/* ---- delete and clear ---- */

/* A delete also voids a pending lease (the key stays absent). */
static int decide_del(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    (void)db;
    if (!c->present && !c->lease && !c->list)
        return -ENOENT;
    p->act = ACT_DELETE;
    w->rc = c->lease ? -ENOENT : 0;
    return 0;
}

SHMKV_API int shmkv_del(shmkv *db, const void *key, size_t klen)
{
    int r = check_key_write(db, key, klen);
    if (r)
        return r;
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_del, NULL);
    w.lists = true; /* a list is deleted whole */
    return shmkv__write(db, &w);
}

/* clear: each list's slot is emptied and its runs freed first (log_clear
 * then empties the index and releases the log runs, elements included). */
static int clear_list(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
    (void)ctx;
    uint64_t off = slot_off(v), lrun;
    if (!shmkv__rec_run(db, off) || rec_type(at(db, off)) != REC_LIST || !(lrun = shmkv__list_run(db, s, off)))
        return 0;
    s->pending_list = lrun;
    atomic_store_explicit(slot, 0, memory_order_release);
    shmkv__list_free(db, s, lrun, false); /* the elements go with the log runs */
    return 0;
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
        if (!r && (r = shmkv__lanes_take(db, s)))
            shmkv__shard_unlock(s);
        if (r)
            return r;
        shmkv__index_walk(db, s, WALK_ALL, clear_list, NULL);
        shmkv__log_clear(db, s);
        shmkv__lanes_drop(s);
        shmkv__shard_unlock(s);
    }
    return 0;
}

/* ---- batched puts ---- */

/* Batched puts as a software pipeline that moves a group of PUT_GROUP
 * pairs a step: a group is hashed, and its shards' lines prefetched (the
 * layout's and, for writing, the lock's and the counters'); a step later
 * its home buckets and open log runs' headers; a step later the records
 * or overflow buckets the buckets lead to and the lines the records will
 * be appended to; a step later it is written, pair by pair in order, as
 * single puts are.  Each put then finds its lines in cache, and the
 * misses of a few pairs overlap.  The prefetches go a group at a time
 * because a prefetch whose page the TLB does not map holds up the
 * retirement of everything after it for its page walk: one at a time
 * (stages a pair apart, the version before) the walks came one after the
 * other, each a fifth of a batched put's time in `perf`, where a group's
 * walks proceed together (BENCHMARKS 7.8).  Prefetching a whole batch at
 * once would not do: the CPU tracks some twenty outstanding misses, and a
 * put has several.  (A stage for the buckets of the shard's next split
 * cost more than it saved once splits came in bursts, which load their
 * own buckets together: BENCHMARKS 7.6.) */
#define PUT_DEEP (16u << 20) /* smaller tables stay in cache: no prefetch stages */
#define PUT_GROUP 4u
#define PUT_STEPS 3u         /* steps from a group's start to its write */
#define PUT_RING 16u         /* >= PUT_GROUP * (PUT_STEPS + 1), a power of two */
_Static_assert(PUT_RING >= PUT_GROUP * (PUT_STEPS + 1) && !(PUT_RING & (PUT_RING - 1)), "the ring holds the pipeline");

struct put_slot {
    struct wreq w;
    struct put_arg a;
};

static void put_start(shmkv *db, shmkv_pair *p, struct put_slot *ps, bool deep)
{
    p->rc = check_write(db, p->key, p->klen, p->val, p->vlen);
    if (!p->rc && p->ttl_ms > SHMKV_TTL_MAX)
        p->rc = -EINVAL;
    if (p->rc)
        return;
    ps->a = (struct put_arg){.val = p->val, .vlen = p->vlen, .ttl_ms = p->ttl_ms};
    shmkv__wreq_setup(db, &ps->w, p->key, p->klen, decide_put, &ps->a);
    shmkv__shard_prefetch(db, ps->w.s);
    if (!deep) /* as a single put: the home bucket, which the write then reuses */
        shmkv__index_prefetch(db, ps->w.s, ps->w.tag, &ps->w.home);
}

/* Write a pair of the batch: its first round with the lock the pair
 * before may have left held; no room: the single put's way (rounds with
 * room made between them). */
static int put_write(shmkv *db, struct wreq *w, struct shard **held, bool keep)
{
    int r = write_round(db, w, held, keep);
    if (r == -ENOSPC)
        return shmkv__write(db, w);
    free(w->tmp);
    w->tmp = NULL;
    return r;
}

/* Pair j's slot, if j is in the batch and valid. */
static struct put_slot *put_slot_of(shmkv_pair *pairs, struct put_slot *ring, size_t n, size_t j)
{
    return j < n && !pairs[j].rc ? &ring[j % PUT_RING] : NULL;
}

/* The prefetch stages of step k: the home buckets of group k - 1, then
 * what the buckets of group k - 2 lead to. */
static void put_prefetch(shmkv *db, shmkv_pair *pairs, struct put_slot *ring, size_t n, size_t k)
{
    struct put_slot *ps;
    if (k >= 1)
        for (size_t j = (k - 1) * PUT_GROUP; j < k * PUT_GROUP; j++)
            if ((ps = put_slot_of(pairs, ring, n, j))) {
                shmkv__index_prefetch(db, ps->w.s, ps->w.tag, &ps->w.home);
                shmkv__log_prefetch(db, ps->w.s, LOG_PF_RUN);
            }
    if (k >= 2)
        for (size_t j = (k - 2) * PUT_GROUP; j < (k - 1) * PUT_GROUP; j++)
            if ((ps = put_slot_of(pairs, ring, n, j))) {
                if (ps->w.home.bk)
                    shmkv__index_prefetch_rec(db, ps->w.home.bk, ps->w.tag);
                shmkv__log_prefetch(db, ps->w.s, LOG_PF_TAIL);
            }
}

SHMKV_API int shmkv_put_many(shmkv *db, shmkv_pair *pairs, size_t n)
{
    if (!db || (!pairs && n))
        return -EINVAL;
    struct put_slot ring[PUT_RING], *ps, *next;
    struct shard *held = NULL;
    /* a table that fits in cache gains nothing from the stages but their
     * cost (batches ran a third slower than single puts in a 4 MiB one) */
    bool deep = atomic_load_explicit(&db->known_size, memory_order_relaxed) > PUT_DEEP;
    int stored = 0;
    size_t groups = (n + PUT_GROUP - 1) / PUT_GROUP;
    for (size_t k = 0; k < groups + PUT_STEPS; k++) {
        for (size_t j = k * PUT_GROUP; j < (k + 1) * PUT_GROUP && j < n; j++)
            put_start(db, &pairs[j], &ring[j % PUT_RING], deep);
        if (deep)
            put_prefetch(db, pairs, ring, n, k);
        if (k < PUT_STEPS)
            continue; /* no group is due for its write yet */
        for (size_t j = (k - PUT_STEPS) * PUT_GROUP; j < (k - PUT_STEPS + 1) * PUT_GROUP; j++) {
            if (!(ps = put_slot_of(pairs, ring, n, j)))
                continue;
            /* neighbours in the batch that share a shard share a hold of
             * its lock (the next pair has been started: it is ahead) */
            next = put_slot_of(pairs, ring, n, j + 1);
            int r = put_write(db, &ps->w, &held, next && next->w.s == ps->w.s);
            stored += (pairs[j].rc = r) == 0;
        }
    }
    if (held) /* never: the last pair has no next */
        shmkv__shard_unlock(held);
    shmkv__alloc_ahead(db);
    return stored;
}
