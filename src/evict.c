/*
 * evict.c - cache mode's policy: when to evict, and from which shard.
 *
 * When the table's free space falls below a low-water mark (about a
 * thirty-second of the table), each write also cleans a few records of an
 * oldest run (clean.c decides each record's fate: CLOCK-2).  A write that
 * still finds no space evicts whole runs of its own shard, then of the
 * shard with the oldest run, so a put in cache mode never fails for lack
 * of space.
 *
 * Ages across shards.  Per-shard FIFOs evict each shard's oldest, but a
 * shard that receives more inserts would then keep its pairs for less time
 * than a quiet one.  Every listed run carries an age stamp, and each shard
 * publishes the stamp of its oldest evictable run (shard.oldest, log.c).
 * The bounded step of a write evicts from the oldest of its own shard and
 * two others chosen by bits of its key's hash (two random choices make
 * per-shard FIFOs behave close to one global FIFO); the slow path after
 * -ENOSPC scans every shard.
 *
 * Evicting never waits for a busy shard (EVICT_WAIT_NS): its holder may be
 * stopped, and any other shard's oldest run frees space as well.
 */
#include "evict.h"

#include "clean.h"
#include "fault.h"
#include "lock.h"
#include "log.h"
#include "shard.h"

#define EVICT_WAIT_NS 0 /* spin briefly, never sleep, on another shard's lock */

uint64_t shmkv__evict_avail(shmkv *db)
{
    struct hdr *h = db->hdr;
    uint64_t top = atomic_load_explicit(&h->top, memory_order_relaxed);
    return (atomic_load_explicit(&h->free_units, memory_order_relaxed) << UNIT_SHIFT) +
           (db->reserve > top ? db->reserve - top : 0);
}

bool shmkv__evict_pressure(shmkv *db)
{
    return shmkv__evict_avail(db) < db->low_water;
}

/* The age of the shard's oldest evictable run, read without its lock (a
 * hint: it may change meanwhile).  False if the shard has nothing to
 * evict but its open run. */
static bool oldest_stamp(const struct shard *s, uint32_t *stamp)
{
    uint64_t v = atomic_load_explicit(&s->oldest, memory_order_relaxed);
    *stamp = (uint32_t)v;
    return v != 0;
}

/* The shard with the oldest run among shards pick[0..n), or among the
 * first n shards if pick is NULL; NULL if none has a run to evict. */
static struct shard *oldest_of(shmkv *db, const uint64_t *pick, uint64_t n)
{
    struct shard *best = NULL;
    uint32_t best_stamp = 0, st;
    for (uint64_t i = 0; i < n; i++) {
        struct shard *s = &db->shards[pick ? pick[i] : i];
        if (oldest_stamp(s, &st) && (!best || stamp_older(st, best_stamp))) {
            best = s;
            best_stamp = st;
        }
    }
    return best;
}

struct shard *shmkv__evict_where(shmkv *db, struct shard *s, uint64_t h)
{
    uint64_t mask = nshards(db) - 1;
    uint64_t pick[3] = {shard_index(db, s), (h >> 8) & mask, (h >> 20) & mask};
    struct shard *w = oldest_of(db, pick, 3);
    return w ? w : s;
}

void shmkv__evict_step(shmkv *db, struct shard *s)
{
    shmkv__pause_at(PAUSE_EVICTING);
    shmkv__clean(db, s, CLEAN_BUDGET, true, false);
}

/* Evict runs of this shard (oldest first, read records kept while there
 * is room to move them) until one is released.  When only the open run
 * is left, it is closed and evicted too. */
bool shmkv__evict_some(shmkv *db, struct shard *s)
{
    uint64_t before = atomic_load_explicit(&s->cleaned, memory_order_relaxed);
    shmkv__pause_at(PAUSE_EVICTING);
    if (s->clean_run && !s->clean_evict)
        s->clean_run = 0; /* finish nothing half-compacted: evict instead */
    for (unsigned i = 0; i < (1u << 16); i++) {
        if (atomic_load_explicit(&s->cleaned, memory_order_relaxed) != before)
            return true;
        if (!s->clean_run && !shmkv__clean_oldest(db, s) && s->open_run)
            shmkv__log_close_open(db, s);
        if (!shmkv__clean(db, s, 256, true, i > 64))
            break;
    }
    return atomic_load_explicit(&s->cleaned, memory_order_relaxed) != before;
}

/* Slow path: evict a run from the shard holding the oldest.  Called with
 * no lock held.  False if no shard has anything left to evict. */
bool shmkv__evict_oldest(shmkv *db, struct shard *mine)
{
    uint64_t n = nshards(db);
    struct shard *best = oldest_of(db, NULL, n);
    bool freed = false;
    if (best && shmkv__shard_lock_for(db, best, EVICT_WAIT_NS) == 0) {
        freed = shmkv__evict_some(db, best);
        shmkv__shard_unlock(best);
    }
    /* nothing but open runs, the oldest went meanwhile, or its shard is
     * busy: evict from every shard that has anything, the writer's own
     * first */
    for (uint64_t i = 0; i <= n && !freed; i++) {
        struct shard *s = i ? &db->shards[i - 1] : mine;
        if ((i && s == mine) || shmkv__shard_lock_for(db, s, i ? EVICT_WAIT_NS : LOCK_WAIT_NS))
            continue;
        freed = shmkv__evict_some(db, s);
        shmkv__shard_unlock(s);
    }
    return freed;
}
