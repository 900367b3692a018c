/*
 * shard.c - a shard's lock and its repair.
 *
 * Every multi-step change a writer makes under a shard's lock is journaled
 * or idempotent, so the next holder after a gone one repairs the shard
 * from the journal fields and a recount: an in-place increment left in
 * flight, the index (a half-done split, an unplaced index run), the log
 * (run list, live bytes, a half-released run, an unpublished huge value),
 * then the runs whose release waits for the allocator.
 *
 * The order of the locks: shards' (in index order), then their lanes
 * (in shard order, head before tail), then the allocator's.  A lane's
 * holder takes no other lock.
 *
 * Runs released while the allocator's lock was out of reach (its holder
 * stopped) wait on the shard's deferred list; each holder of the shard's
 * lock frees them as soon as the allocator is free again.  The list's
 * head sits on the lock's cache line, so looking costs nothing.
 */
#include "shard.h"

#include "alloc.h"
#include "fault.h"
#include "index.h"
#include "list.h"
#include "lock.h"
#include "log.h"
#include "patch.h"

struct repair_ctx {
    shmkv *db;
    struct shard *s;
};

/* Each list the index reaches: finish its journals, count its elements'
 * live bytes; note whether the journaled list (created or being deleted)
 * is one of them. */
static int repair_list(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
    (void)slot;
    bool *journaled_seen = ctx;
    uint64_t off = slot_off(v), lrun;
    if (!shmkv__rec_run(db, off) || rec_type(at(db, off)) != REC_LIST)
        return 0;
    if (!(lrun = shmkv__list_run(db, s, off)))
        return 0; /* damaged: the checker reports it, shmkv_repair drops it */
    *journaled_seen |= lrun == s->pending_list;
    shmkv__list_repair(db, s, lrun);
    return 0;
}

int shmkv__shard_repair(shmkv *db, struct shard *s)
{
    shmkv__patch_repair(db, s); /* first: it touches one value, which nothing below moves */
    int r = shmkv__index_repair(db, s);
    if (!r)
        r = shmkv__log_repair(db, s);
    if (!r) { /* the lists (both lanes held: none changes under us) */
        bool seen = false;
        r = shmkv__index_walk(db, s, WALK_ALL, repair_list, &seen);
        /* a list created but never published, or being deleted: free it */
        if (!r && s->pending_list && !seen && shmkv__run_ok(db, s->pending_list, RUN_LIST, s))
            shmkv__list_free(db, s, s->pending_list, false);
        s->pending_list = 0;
        shmkv__log_repair_end(db, s);
    }
    shmkv__run_drain(db, s);
    return r;
}

static int repair_cb(void *ctx)
{
    struct repair_ctx *c = ctx;
    int r = shmkv__lanes_take(c->db, c->s);
    if (r)
        return r;
    r = shmkv__shard_repair(c->db, c->s);
    shmkv__lanes_drop(c->s);
    return r;
}

int shmkv__shard_lock_for(shmkv *db, struct shard *s, int64_t wait_ns)
{
    struct repair_ctx c = {db, s};
    struct lock_note note;
    int r = shmkv__lock_take(&s->lock, wait_ns, &db->hdr->grow_progress, repair_cb, &c, &note);
    if (note.waited)
        add64(&s->lock_waits, 1);
    if (note.recovered)
        atomic_fetch_add_explicit(&s->recoveries, 1, memory_order_relaxed);
    /* runs waiting for the allocator.  Not pending_defer: it is set only
     * inside a drain under this lock, so it survives only a holder that
     * died, whose lock is taken over with a repair (which drains); and
     * it shares a line with the journal of index growth, the lease
     * counters and the list wake word, which other processes write:
     * reading it cost puts a coherence miss */
    if (r == 0 && s->deferred)
        shmkv__run_drain(db, s);
    /* a rewrite in flight under a lock nobody held: damage (or an image
     * whose lock word was cleared); finish or drop it before its word can
     * name a record that replaces this one */
    if (r == 0 && !note.recovered && patch_rec(atomic_load_explicit(&s->patch, memory_order_relaxed)))
        shmkv__patch_repair(db, s);
    if (r == 0)
        shmkv__pause_at(PAUSE_LOCKED);
    return r;
}

void shmkv__shard_prefetch(const shmkv *db, struct shard *s)
{
    __builtin_prefetch(&s->layout);
    prefetch_w(db, &s->lock);
    prefetch_w(db, &s->keys);
    __builtin_prefetch(&s->patch); /* shard_lock_for reads the patch word */
}

int shmkv__shard_lock(shmkv *db, struct shard *s) { return shmkv__shard_lock_for(db, s, LOCK_WAIT_NS); }

void shmkv__shard_unlock(struct shard *s) { shmkv__lock_drop(&s->lock); }

/* A lane's holder commits with one store: nothing to repair. */
static int lane_repair(void *ctx)
{
    (void)ctx;
    return 0;
}

int shmkv__lane_take(shmkv *db, struct shard *s, int end)
{
    struct lock_note note;
    int r = shmkv__lock_take(&s->lane[end].lock, LOCK_WAIT_NS, &db->hdr->grow_progress, lane_repair, NULL, &note);
    if (note.recovered)
        atomic_fetch_add_explicit(&s->recoveries, 1, memory_order_relaxed);
    return r;
}

void shmkv__lane_drop(struct shard *s, int end) { shmkv__lock_drop(&s->lane[end].lock); }

bool shmkv__lane_closed(const struct shard *s, int end)
{
    return atomic_load_explicit(&s->lane[end].closed, memory_order_acquire);
}

/* closed is set before both lanes are taken (the shard's lock held),
 * so before any list changes, and cleared only when the lists are right
 * again, before they are let go: a holder gone in between leaves it set
 * (format.h).  Set before the lanes are taken, not once they are held: a
 * lane's next holder finds it set and takes the slow way, where it waits
 * for the shard's lock, so the lanes quieten while their taker waits.
 * Set after, three producers taking turns at a hot tail lane kept a
 * reader of another list of the shard, holding the shard's lock and the
 * head lane, waiting for the tail for over a second, and the consumers
 * waiting for the head gave up (-ETIMEDOUT, test_list_threads). */
static void lanes_close(struct shard *s, uint32_t closed)
{
    atomic_store_explicit(&s->lane[SHMKV_HEAD].closed, closed, memory_order_release);
    atomic_store_explicit(&s->lane[SHMKV_TAIL].closed, closed, memory_order_release);
}

int shmkv__lanes_take(shmkv *db, struct shard *s)
{
    lanes_close(s, 1);
    int r = shmkv__lane_take(db, s, SHMKV_HEAD);
    if (!r && (r = shmkv__lane_take(db, s, SHMKV_TAIL)))
        shmkv__lane_drop(s, SHMKV_HEAD);
    if (r)
        lanes_close(s, 0); /* nothing changed: the lanes may go on */
    return r;
}

void shmkv__lanes_drop(struct shard *s)
{
    lanes_close(s, 0);
    shmkv__lane_drop(s, SHMKV_TAIL);
    shmkv__lane_drop(s, SHMKV_HEAD);
}
