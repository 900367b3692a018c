/*
 * evict.h - cache mode: when the table is short of space, and which
 * shard's oldest run to evict (evict.c).
 */
#ifndef SHMKV_EVICT_H
#define SHMKV_EVICT_H

#include "handle.h"

#include <stdbool.h>
#include <stdint.h>

/* Free bytes: in free runs, and between the allocated top and the
 * reservation's end. */
uint64_t shmkv__evict_avail(shmkv *db);

/* Free space is below the low-water mark: writes evict ahead of need. */
bool shmkv__evict_pressure(shmkv *db);

/* The shard a write (key hash h, in shard s) should evict from: the one
 * with the oldest run among s and two others chosen by h. */
struct shard *shmkv__evict_where(shmkv *db, struct shard *s, uint64_t h);

/* One bounded eviction step in s (lock held). */
void shmkv__evict_step(shmkv *db, struct shard *s);

/* No room even after compaction: evict runs of s until one is released
 * (lock held), or of the shard with the oldest run (no lock held).  True
 * if space was freed. */
bool shmkv__evict_some(shmkv *db, struct shard *s);
bool shmkv__evict_oldest(shmkv *db, struct shard *mine);

#endif
