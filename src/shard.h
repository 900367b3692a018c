/*
 * shard.h - taking a shard's lock, and repairing the shard when its last
 * holder is found gone mid-change (shard.c).
 */
#ifndef SHMKV_SHARD_H
#define SHMKV_SHARD_H

#include "handle.h"

#include <stdint.h>

/* 0 with the lock held, or -ETIMEDOUT (a live holder kept it, or it is
 * stopped), -EDEADLK (this thread holds it), or a repair error.  _for
 * waits at most wait_ns for a live holder (0: not at all). */
int shmkv__shard_lock(shmkv *db, struct shard *s);
int shmkv__shard_lock_for(shmkv *db, struct shard *s, int64_t wait_ns);
void shmkv__shard_unlock(struct shard *s);
/* A hint, no lock: start loading, for writing, the lines every write of
 * the shard dirties (its lock's and its counters'). */
void shmkv__shard_prefetch(const shmkv *db, struct shard *s);

/* Repair a shard as if its last holder had died (the lock held). */
int shmkv__shard_repair(shmkv *db, struct shard *s);

#endif
