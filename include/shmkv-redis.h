/*
 * shmkv-redis.h - a per-host near cache in front of Redis or Redis Cluster.
 *
 * Part of libshmkv-redis (tools/redis), built where hiredis is installed;
 * link with -lshmkv-redis -lshmkv -lhiredis -pthread.  The core library
 * (shmkv.h) does not depend on it.
 *
 * One shmkv table per host holds copies of Redis string values.  The agent,
 * `shmkv-redis sync TABLE --redis ADDR`, one per host, keeps it consistent
 * with Redis: it asks Redis for invalidations (CLIENT TRACKING, BCAST mode)
 * and deletes every key Redis names, clears the table whenever it cannot
 * be sure it saw every invalidation, and publishes a heartbeat in the
 * table.  Any number of worker processes read through the table with
 * shmkv_redis_get(): a value from shared memory when the table has it and
 * the agent is alive; otherwise from Redis, then stored with a lease
 * (shmkv_get_lease / shmkv_put_leased) so that a write racing with the
 * fill can never leave a stale value behind.  docs/near-cache.md gives the
 * protocol (so that a process with any Redis client in any language can
 * take part), the argument that no interleaving leaves a stale value, and
 * the staleness bound.
 *
 * Conventions, as in shmkv.h: functions returning int return 0 or a
 * negative errno value; keys and values are binary.  Writes go to Redis
 * with any Redis client (the near cache learns of them from Redis): this
 * library only reads.
 *
 * Thread safety: a shmkv_redis handle owns Redis connections and may be
 * used by one thread at a time; give each thread its own (they may share
 * the shmkv handle).  Handles must not cross fork(): open them in the
 * process that uses them.  hiredis writes to its sockets with write(2):
 * a process using this library should ignore SIGPIPE, or a Redis server
 * that closes a connection can kill it.
 */
#ifndef SHMKV_REDIS_H
#define SHMKV_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "shmkv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The agent's record: the table's one reserved pair (its key is a NUL
 * byte then "shmkv-redis:agent").  Redis keys that begin with a NUL byte
 * are never cached. */
#define SHMKV_REDIS_AGENT_KEY "\0shmkv-redis:agent"
#define SHMKV_REDIS_AGENT_KEY_LEN 18u

/** A reader: a table and the Redis connections to fill it from. */
typedef struct shmkv_redis shmkv_redis;

/** Flags for shmkv_redis_options.flags. */
enum {
    SHMKV_REDIS_CLUSTER = 1 << 0, /* addr is any node of a Redis Cluster: each
                                   * key is read from the master of its slot
                                   * (following MOVED and ASK) */
};

/** How to read.  Zero-initialise, then set what you need. */
typedef struct shmkv_redis_options {
    unsigned flags;        /* SHMKV_REDIS_* */
    uint64_t timeout_ms;   /* connecting to Redis and each reply; 0: 1000 */
    uint64_t lease_ms;     /* lifetime of a fill's lease; 0: 1000 */
    uint64_t ttl_ms;       /* longest lifetime of a value stored by a fill, on
                            * top of the key's own (its PTTL in Redis) and the
                            * agent's --max-ttl; 0: no cap of its own */
    uint64_t wait_ms;      /* how long a miss waits for another process's fill
                            * of the same key before reading Redis itself;
                            * 0: 5 */
} shmkv_redis_options;

/** Where shmkv_redis_get() found the value (its *source). */
enum {
    SHMKV_REDIS_FROM_TABLE = 0, /* shared memory: a hit */
    SHMKV_REDIS_FILLED = 1,     /* Redis, and stored in the table for the others */
    SHMKV_REDIS_FROM_REDIS = 2, /* Redis, not stored: no live agent, a key the
                                 * agent does not track, a fill that lost its
                                 * lease to a write, or a value the table
                                 * refuses (too large) */
};

/**
 * Make a reader of the table db (opened by the caller, writable, and kept
 * open for as long as the reader lives) filling from the Redis server at
 * addr: "HOST:PORT", "unix:PATH" or a path starting with '/'.  With
 * SHMKV_REDIS_CLUSTER, addr is any node of the cluster, or several
 * separated by commas (each asked in turn while the others do not
 * answer), and the masters are learnt at once.  opts NULL: all defaults.
 * Returns 0 and sets *out, or -EINVAL (NULL db, addr or out, an address
 * that does not parse, unknown flags), -ENOMEM, -EIO (Redis cannot be
 * reached or, with SHMKV_REDIS_CLUSTER, does not describe a cluster;
 * *out is NULL and nothing is left open).  Connections are otherwise
 * made when first needed and made again after a failure.
 */
int shmkv_redis_open(shmkv *db, const char *addr, const shmkv_redis_options *opts, shmkv_redis **out);

/** Close the reader's connections and free it.  The table stays open.
 *  NULL is ignored. */
void shmkv_redis_close(shmkv_redis *r);

/**
 * Read a key through the near cache, like Redis GET.  On success *val is a
 * malloc()ed copy of the value (free it; never NULL, even for an empty
 * value), *vlen its length, and *source (may be NULL) says where it came
 * from (SHMKV_REDIS_FROM_*).
 *
 * While the agent's heartbeat is in the table, a key the table holds is
 * returned from shared memory.  A miss takes the key's lease: the holder
 * reads GET and PTTL from Redis and stores the value with the lifetime
 * Redis has left for it (capped by the agent's --max-ttl and ttl_ms); a
 * reader that finds another process's lease waits up to wait_ms for its
 * fill, then reads Redis itself.  Without a heartbeat, or for a key the
 * agent does not track (--prefix), every read goes to Redis and nothing is
 * stored.  A table that fails (a lock held too long, damage) is passed by:
 * the read goes to Redis.
 *
 * Returns 0, or -ENOENT (no such key in Redis), -EMEDIUMTYPE (the key
 * holds another type than a string), -EIO (Redis could not be reached, or
 * answered an error: shmkv_redis_error() says which), -ENOMEM, -EINVAL
 * (NULL r, key, val or vlen, or klen 0).  Keys of any length are read;
 * those longer than SHMKV_KEY_MAX are never stored.
 */
int shmkv_redis_get(shmkv_redis *r, const void *key, size_t klen, void **val, size_t *vlen, int *source);

/** The message of the reader's last -EIO (or the last failure to store a
 *  fill), "" when there was none; valid until the next call on r. */
const char *shmkv_redis_error(const shmkv_redis *r);

/** What the agent publishes about itself (shmkv_redis_agent()). */
typedef struct shmkv_redis_agent_info {
    int64_t pid;            /* the agent's process id */
    uint64_t generation;    /* random, new each time an agent starts */
    uint64_t heartbeat_ms;  /* how long the record outlives the agent's last
                             * proof that it had every invalidation */
    uint64_t max_ttl_ms;    /* its --max-ttl (0: none) */
    int prefixes;           /* how many --prefix it tracks (0: every key) */
    uint64_t synced_ms_ago; /* every write Redis acknowledged more than this
                             * many milliseconds ago has been applied to the
                             * table (to within 1 ms) */
} shmkv_redis_agent_info;

/**
 * Is an agent keeping db consistent now, and what did it publish?  Returns
 * 0 and fills *info (may be NULL) while the agent's heartbeat is in the
 * table; -ENOENT when it is not (no agent, or one that has stopped or lost
 * Redis: readers then go to Redis); -EBADMSG when the record is not one
 * this library understands; -EINVAL (NULL db).  Lock-free.
 */
int shmkv_redis_agent(shmkv *db, shmkv_redis_agent_info *info);

#ifdef __cplusplus
}
#endif

#endif /* SHMKV_REDIS_H */
