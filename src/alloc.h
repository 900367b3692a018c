/*
 * alloc.h - the run allocator and file growth (alloc.c).
 *
 * Runs of 4 KiB units tile the data area; this layer hands them out and
 * takes them back under the allocator's lock, and grows the file.
 */
#ifndef SHMKV_ALLOC_H
#define SHMKV_ALLOC_H

#include "handle.h"

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

/* Give a run back (bumping its shard's epoch first, for readers). */
void shmkv__run_free(shmkv *db, uint64_t off);

/* Is off the header of a sound run of this kind (and shard, if s)? */
bool shmkv__run_ok(shmkv *db, uint64_t off, uint32_t kind, const struct shard *s);

/* The allocator's lock (repairs the free lists after a dead holder). */
int shmkv__alloc_lock(shmkv *db);
void shmkv__alloc_unlock(shmkv *db);

#endif
