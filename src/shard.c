/*
 * shard.c - a shard's lock and its repair.
 *
 * Every multi-step change a writer makes under a shard's lock is journaled
 * or idempotent, so the next holder after a dead one repairs the shard
 * from the journal fields and a recount: the index first (a half-done
 * split, an unplaced index run), then the log (run list, live bytes, a
 * half-released run, an unpublished huge value).
 */
#include "shard.h"

#include "index.h"
#include "lock.h"
#include "log.h"

struct repair_ctx {
    shmkv *db;
    struct shard *s;
};

static int repair_shard(void *ctx)
{
    struct repair_ctx *c = ctx;
    int r = shmkv__index_repair(c->db, c->s);
    return r ? r : shmkv__log_repair(c->db, c->s);
}

int shmkv__shard_lock(shmkv *db, struct shard *s)
{
    struct repair_ctx c = {db, s};
    bool waited;
    int r = shmkv__lock_take(&s->lock, repair_shard, &c, &waited, &s->recoveries);
    if (r == 0 && waited)
        add64(&s->lock_waits, 1);
    return r;
}

void shmkv__shard_unlock(struct shard *s) { shmkv__lock_drop(&s->lock); }
