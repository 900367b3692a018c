/*
 * agent.h - shmkv-redis sync, the per-host agent (docs/near-cache.md).
 *
 *   agent.c       the loop: connect, wait, tick; the heartbeat; clearing
 *                 the table whenever it cannot be sure (agent_lost)
 *   agent_link.c  the connections to each master: tracking set up, pings,
 *                 and the replies and invalidations read from them
 *   agent_refresh.c  --refresh: an invalidated key that was in the table
 *                 is filled again by the agent, under a lease
 */
#ifndef SHMKV_REDIS_AGENT_H
#define SHMKV_REDIS_AGENT_H

#include "shmkv.h"

#include "cluster.h"
#include "record.h"

#include <poll.h>
#include <signal.h>

struct agent_opts {
    const char *table;
    const char *redis;           /* the server, or any node of the cluster */
    int cluster;
    int nprefixes;
    const char *prefix[RECORD_MAX_PREFIXES];
    uint64_t max_ttl_ms;         /* published for readers; 0: none */
    uint64_t heartbeat_ms;       /* the record's lifetime after the last proof */
    uint64_t timeout_ms;         /* connecting, and each blocking reply */
    uint64_t max_bytes;          /* a new table's size (a cache) */
    unsigned mode;               /* a new table's permissions (0: 0600) */
    int quiet;                   /* log nothing but errors */
    int refresh;                 /* fill invalidated keys that were cached again */
};

/* What a connection waits for, oldest first: pings and slot maps, and
 * the two replies of each refresh (GET, then PTTL). */
enum { REQ_PING, REQ_SLOTS, REQ_GET, REQ_PTTL };
#define REFRESH_MAX 64               /* refreshes in flight per connection */
#define LINK_MAX_REQ (4 + 2 * REFRESH_MAX)

struct refill;                       /* agent_refresh.c */

struct req {
    int kind;
    uint64_t seq, sent_ms;
    struct refill *fill;             /* REQ_GET, REQ_PTTL */
};

struct link {
    redisContext *c;
    int head, nreq;                  /* a ring of nreq requests from req[head] */
    int nfill;                       /* of them, refreshes' (two each, GET and PTTL) */
    struct req req[LINK_MAX_REQ];
    uint64_t acked_ms;               /* when the last answered ping was sent */
};

/* The k-th oldest request l waits for. */
static inline struct req *link_req(struct link *l, int k)
{
    return &l->req[(l->head + k) % LINK_MAX_REQ];
}

/* A master the agent tracks: a, subscribed to __redis__:invalidate; b, the
 * connection whose tracking redirects to a (also pinged: its tracking
 * lives exactly as long as it does). */
struct tracked {
    struct master m;
    struct link a, b;
};

struct agent {
    const struct agent_opts *o;
    shmkv *db;
    struct record rec;
    char text[RECORD_TEXT_MAX];
    size_t text_len;
    int connected;               /* tracking is on everywhere, and the table was cleared since */
    int n;
    struct tracked t[TOPO_MAX_MASTERS];
    struct topo *topo;           /* cluster: the slot map being tracked */
    uint64_t topo_ok_ms;         /* cluster: sent time of the last CLUSTER SLOTS that agreed */
    uint64_t next_topo_ms;
    int topo_next;               /* which master to ask next */
    uint64_t seq;                /* of pings */
    uint64_t published;          /* the basis of the heartbeat in the table (0: none) */
    int announced;               /* "in sync" was logged for this connection */
    char why[ERR_MAX];           /* why the last connection attempt failed */
    uint64_t refreshed, refresh_skipped; /* --refresh: stored, and not (logged at the end) */
};

extern volatile sig_atomic_t agent_stop;

int agent_run(const struct agent_opts *o);   /* the exit status */
void agent_log(const struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Not sure every invalidation was seen: take the heartbeat down, clear the
 * table, drop every connection.  Returns -1 (for the callers' returns). */
int agent_lost(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear the table (and take the heartbeat down); 0 or -1 (logged). */
int agent_clear(struct agent *a);

/* agent_link.c */
int links_connect(struct agent *a);          /* tracking on every master; 0 or -1 (a->why) */
void links_close(struct agent *a);
/* Read what the links have for us (after poll); 0 or -1 (agent_lost called). */
int links_read(struct agent *a, const struct pollfd *pfd);
int links_pollfds(const struct agent *a, struct pollfd *pfd);
/* Send what a tick sends: pings, topology checks; fail a link that is
 * too slow to answer.  0 or -1 (agent_lost called). */
int links_tick(struct agent *a, uint64_t now);
/* The time before which every write Redis acknowledged has been applied
 * (0 if not known): the heartbeat's basis. */
uint64_t links_basis(const struct agent *a);
/* Queue a request's record on l (the command is already sent). */
void link_push(struct link *l, int kind, uint64_t seq, uint64_t now, struct refill *fill);

/* agent_refresh.c */
/* key was in the table until the invalidation just applied: take its
 * lease and send GET and PTTL on l (the tracking connection of the master
 * that announced it); 0, or -1 (agent_lost called). */
int refresh_start(struct agent *a, struct link *l, const char *key, size_t klen, const char *at);
/* Is a refresh of key on its way on l? */
int refresh_pending(struct link *l, const char *key, size_t klen);
/* The reply r to a refresh's request q (any reply, errors included). */
void refresh_answered(struct agent *a, const struct req *q, const redisReply *r);
/* Forget a refresh whose link closed (its lease lapses, or a clear voids it). */
void refresh_drop(struct refill *f);

#endif
