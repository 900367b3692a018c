/*
 * clean.h - reclaiming a shard's log (clean.c): greedy compaction, expiry,
 * and the record-by-record mechanism cache eviction also uses.
 */
#ifndef SHMKV_CLEAN_H
#define SHMKV_CLEAN_H

#include "handle.h"

#include <stdbool.h>
#include <stdint.h>

#define CLEAN_BUDGET 16u /* records a write's background step looks at */

/* Move or drop up to budget records of the shard's victim run, picking a
 * victim first if there is none (the oldest run if evict, else the one
 * with the most garbage); release it when done.  evict: drop what was not
 * read (and keep what was, while there is room); force: drop read records
 * too.  False if no progress could be made.  Lock held. */
bool shmkv__clean(shmkv *db, struct shard *s, unsigned budget, bool evict, bool force);

/* The oldest run that is not the open one (the cache's next victim), or 0. */
uint64_t shmkv__clean_oldest(shmkv *db, struct shard *s);

/* The bounded step of background work after a write: compaction or due
 * expiries when the shard needs it, eviction when the table is under
 * pressure (cache mode).  Lock held. */
void shmkv__clean_step(shmkv *db, struct shard *s, bool pressure);

/* Whether clean_step would work now: a victim run in progress, enough
 * garbage, due expiries, or pressure.  (A put's short way asks before its
 * look and steps after it, so that the question's loads and branches are
 * not among the instructions between its look and the next put's.)
 * Lock held. */
bool shmkv__clean_due(shmkv *db, struct shard *s, bool pressure);

/* A store is out of space: compact this shard until a run is released
 * (lock held), or every other shard (no lock held).  True if space was
 * freed. */
bool shmkv__clean_some(shmkv *db, struct shard *s);
bool shmkv__clean_others(shmkv *db, struct shard *mine);

#endif
