/*
 * shard.h - taking a shard's lock, and repairing the shard when its last
 * holder died mid-change (shard.c).
 */
#ifndef SHMKV_SHARD_H
#define SHMKV_SHARD_H

#include "handle.h"

/* 0 with the lock held, or -ETIMEDOUT / -EBADMSG / a repair error. */
int shmkv__shard_lock(shmkv *db, struct shard *s);
void shmkv__shard_unlock(struct shard *s);

#endif
