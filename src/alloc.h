/*
 * alloc.h - the run allocator and file growth (alloc.c).
 *
 * Runs of 4 KiB units tile the data area; this layer hands them out and
 * takes them back under the allocator's lock, and grows the file.
 */
#ifndef SHMKV_ALLOC_H
#define SHMKV_ALLOC_H

#include "handle.h"
#include "map.h"

#include <stdbool.h>
#include <stdint.h>

/* Units ordinary allocations leave free so compaction can always move. */
uint64_t shmkv__headroom_units(const shmkv *db);

/* Allocate a run of nunits units of the given kind for shard.  *out
 * receives its offset before the allocator's lock is released: callers
 * pass a journal field or a link in the file, so that a writer killed
 * right after allocating leaks nothing.  reserve: may use the headroom.
 * Returns 0, -ENOSPC, -EBADMSG, or a lock error. */
int shmkv__run_alloc(shmkv *db, uint64_t nunits, uint32_t kind, uint32_t shard, bool reserve, uint64_t *out);

/* Give a run of shard s back (the caller holds s's lock and journaled
 * the run).  If the allocator's lock cannot be had (its holder is
 * stopped), the run waits on s's deferred list instead, so a release
 * never fails half done. */
void shmkv__run_free(shmkv *db, struct shard *s, uint64_t off);

/* Free s's deferred runs if the allocator's lock is free right now; also
 * finishes a drain that died (s's lock held). */
void shmkv__run_drain(shmkv *db, struct shard *s);

/* Repair: a journaled run of s that may have been left deferred but off
 * the list goes back on it.  True if the run is a deferred one. */
bool shmkv__run_settle(shmkv *db, struct shard *s, uint64_t off);

/* Is off the header of a sound run of this kind (and shard, if s)?
 * Inline: every append asks it of the open run (a call cost a put 3 %,
 * BENCHMARKS 9.12). */
static inline bool shmkv__run_ok(shmkv *db, uint64_t off, uint32_t kind, const struct shard *s)
{
    if (off < db->data_off || (off - db->data_off) % UNIT || !mem_ok(db, off, RUN_HDR))
        return false;
    struct run *r = run_at(db, off);
    return r->kind == kind && (!s || r->shard == shard_index(db, s)) && r->nunits >= 1 &&
           r->nunits <= OFF_LIMIT >> UNIT_SHIFT && mem_ok(db, off, r->nunits << UNIT_SHIFT) &&
           atomic_load_explicit(&r->used, memory_order_relaxed) <= (r->nunits << UNIT_SHIFT);
}

/* The work of shmkv__alloc_ahead (below), when there may be some. */
void shmkv__alloc_ahead_step(shmkv *db);

#define GROW_MAX (8ull << 20) /* largest growth step: ~1.5 ms to fallocate and map in */

/* Growth steps: a sixteenth of the file (at least 1 MiB), to keep
 * fallocate calls rare without holding much unused memory, and at most
 * GROW_MAX, since each process maps a step in at once (map_in). */
static inline uint64_t shmkv__grow_step(uint64_t cur)
{
    uint64_t step = cur / 16;
    return step < (1u << 20) ? 1u << 20 : step > GROW_MAX ? GROW_MAX : step;
}

/* Called by a writer holding no lock as it leaves a write: maps in what
 * the file grew by, and grows it ahead of the allocator when little is
 * left past top, so that growth rarely happens under the allocator's lock.
 * Best effort; never fails.  The usual case inline: the file mapped in,
 * and more than a quarter step left past top: nothing to do (a call for
 * that cost a put 2 %, BENCHMARKS 9.12).  alloc_ahead_due asks whether
 * there may be work (a put's short way asks before its look, works after
 * its unlock), alloc_ahead asks and works. */
static inline bool shmkv__alloc_ahead_due(shmkv *db)
{
    struct hdr *h = db->hdr;
    uint64_t size = atomic_load_explicit(&h->file_size, memory_order_acquire);
    uint64_t top = atomic_load_explicit(&h->top, memory_order_relaxed);
    return !(size <= atomic_load_explicit(&db->mapped_in, memory_order_relaxed) && top <= size &&
             size - top >= shmkv__grow_step(size) / 4);
}

static inline void shmkv__alloc_ahead(shmkv *db)
{
    if (shmkv__alloc_ahead_due(db))
        shmkv__alloc_ahead_step(db);
}

/* The allocator's lock (repairs the free lists after a gone holder):
 * waiting up to LOCK_WAIT_NS, or wait_ns. */
int shmkv__alloc_lock(shmkv *db);
int shmkv__alloc_lock_for(shmkv *db, int64_t wait_ns);
void shmkv__alloc_unlock(shmkv *db);

/* Repair, the allocator's lock held: rebuild the free lists from the run
 * headers; give back a run nothing references (shmkv_repair). */
int shmkv__alloc_rebuild(shmkv *db);
void shmkv__run_reclaim(shmkv *db, uint64_t off);

#endif
