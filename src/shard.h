/*
 * shard.h - taking a shard's lock, and repairing the shard when its last
 * holder is found gone mid-change (shard.c).
 */
#ifndef SHMKV_SHARD_H
#define SHMKV_SHARD_H

#include "handle.h"

#include <stdbool.h>
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

/* The shard's lanes (format.h, list.c).  A lane's holder changes one end
 * of one list with one store, so a lane taken over from a gone holder
 * needs no repair.  lane_take: 0 with lane[end] held, or as shard_lock.
 * lanes_take: both (head, then tail), for a holder of the shard's lock
 * about to change lists; lanes_drop lets both go. */
int shmkv__lane_take(shmkv *db, struct shard *s, int end);
void shmkv__lane_drop(struct shard *s, int end);
int shmkv__lanes_take(shmkv *db, struct shard *s);
/* Did lane[end]'s holder (the caller) find it closed: a holder of the
 * shard's lock is taking or holds both lanes, or was gone mid-change
 * and the shard is not yet repaired?  Either way, the slow way. */
bool shmkv__lane_closed(const struct shard *s, int end);
void shmkv__lanes_drop(struct shard *s);

/* Repair a shard as if its last holder had died (its lock and lanes held). */
int shmkv__shard_repair(shmkv *db, struct shard *s);

#endif
