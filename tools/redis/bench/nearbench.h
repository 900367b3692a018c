/*
 * nearbench.h - shmkv-redis-bench: N worker processes read Zipf-distributed
 * keys of Redis with a share of writes, in three ways (BENCHMARKS.md,
 * docs/near-cache.md):
 *
 *   redis   every read a GET to Redis
 *   local   each process its own in-process cache, invalidated by its own
 *           tracking connection (RESP2, BCAST, as the agent's): what
 *           per-process client-side caching gives
 *   shmkv   the near cache: one shared table per host, one agent
 *           (shmkv-redis sync), shmkv_redis_get in every worker
 *   refresh the same with the agent's --refresh (a written key that was
 *           cached is read again by the agent, not by its next reader)
 *
 *   main.c     options, the Redis server and the agent, runs, the report
 *   workers.c  a worker's loop, the local cache, the staleness prober
 */
#ifndef SHMKV_NEARBENCH_H
#define SHMKV_NEARBENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "shmkv.h"

enum mode { MODE_REDIS, MODE_LOCAL, MODE_SHMKV, MODE_REFRESH, NMODES };
#define MODE_NEAR(m) ((m) == MODE_SHMKV || (m) == MODE_REFRESH)
extern const char *const mode_name[NMODES];

#define NB_MAX_WORKERS 64
#define MAX_PROBES 4096
#define PROBE_KEYS 64

struct setup {
    const char *redis;           /* the server's socket */
    const char *table;           /* shmkv mode's table */
    uint64_t table_bytes;        /* its max_bytes */
    uint64_t nkeys;
    size_t value_bytes;
    double zipf_s, write_share;
    unsigned write_depth;        /* writes pipelined this deep (1: each waits) */
    double warmup_s, seconds;
    double probe_every_s;
    int agent_nice;              /* the agent's nice value (0: as the bench's) */
};

/* What the processes of one run share (MAP_SHARED). */
struct nb_shared {
    atomic_int go, stop;         /* 1: measure from now; 1: end */
    struct {
        uint64_t reads, hits, writes;
        uint64_t cache_bytes;    /* local mode: the process's cache's heap bytes */
        int failed;
    } w[NB_MAX_WORKERS];
    atomic_uint nprobes;
    double probe_ms[MAX_PROBES]; /* write acknowledged -> old value gone */
};

/* The key of id i ("k:000123") and a value for it; their lengths. */
size_t key_text(uint64_t i, char *buf);
size_t value_text(uint64_t i, uint64_t version, size_t bytes, char *buf);

/* Run worker number w (a forked process) until sh->stop; it ends with _exit. */
void worker_main(const struct setup *s, enum mode m, int w, shmkv *db, struct nb_shared *sh);
/* The staleness prober of the caching modes: writes a probe key it has
 * cached, times the write's acknowledgement until the old value is gone
 * (deleted, or with --refresh replaced). */
void prober_main(const struct setup *s, enum mode m, shmkv *db, struct nb_shared *sh);

#endif
