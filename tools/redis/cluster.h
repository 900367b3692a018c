/*
 * cluster.h - Redis Cluster as the near cache sees it: a key's slot, and
 * the masters that serve the slots, read from CLUSTER SLOTS.
 */
#ifndef SHMKV_REDIS_CLUSTER_H
#define SHMKV_REDIS_CLUSTER_H

#include "conn.h"

#define SLOTS 16384
#define TOPO_MAX_MASTERS 64
#define TOPO_MAX_RANGES 1024
#define NODE_ID_MAX 41

/* A key's slot: CRC16 (XMODEM) of the key, or of its {hash tag}, mod 16384. */
unsigned key_slot(const void *key, size_t klen);

struct master {
    struct addr addr;
    char id[NODE_ID_MAX];   /* the node's id ("" if the server did not give one) */
};

/* Which master serves which slots: ranges sorted by their first slot, each
 * naming its master by index.  Two views of a cluster compare equal
 * (topo_equal) exactly when every slot has the same master (same id and
 * address); replicas are not part of it. */
struct topo {
    int nmasters, nranges;
    struct master masters[TOPO_MAX_MASTERS];
    struct { unsigned lo, hi; int master; } ranges[TOPO_MAX_RANGES];
    /* every node CLUSTER SLOTS named, replicas too: where to ask again
     * when the masters cannot be reached */
    int nknown;
    struct addr known[TOPO_MAX_MASTERS * 4];
};

/* Read the topology from a CLUSTER SLOTS reply; 0, or -1 with err set. */
int topo_parse(const redisReply *r, struct topo *t, char *err, size_t n);
/* Ask the node at c (CLUSTER SLOTS); 0, or -1 with err set. */
int topo_fetch(redisContext *c, struct topo *t, char *err, size_t n);
int topo_equal(const struct topo *a, const struct topo *b);
/* Do a and b have the same masters (ids and addresses), whatever slots
 * they serve? */
int topo_same_masters(const struct topo *a, const struct topo *b);
/* The master of a slot, -1 if no range holds it. */
int topo_master_of(const struct topo *t, unsigned slot);

#endif
