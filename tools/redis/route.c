/*
 * route.c - commands sent to their key's master (route.h).
 *
 * A single server is a cluster of one master serving every slot, so the
 * two cases share everything but where the map comes from.
 */
#include "route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTEMPTS 6
#define SEEDS_MAX 16

struct route {
    int cluster;
    uint64_t timeout_ms;
    int nseeds;
    struct addr seeds[SEEDS_MAX];             /* the addresses given */
    struct topo topo;                        /* single server: one master, one range */
    redisContext *conn[TOPO_MAX_MASTERS];    /* by master index, opened when needed */
    char err[ERR_MAX];
};

static void drop_conn(struct route *rt, int i)
{
    if (rt->conn[i]) {
        redisFree(rt->conn[i]);
        rt->conn[i] = NULL;
    }
}

redisContext *route_master(struct route *rt, int i)
{
    if (i < 0 || i >= rt->topo.nmasters) {
        snprintf(rt->err, sizeof rt->err, "no master %d", i);
        return NULL;
    }
    if (!rt->conn[i])
        rt->conn[i] = conn_open(&rt->topo.masters[i].addr, rt->timeout_ms, rt->err, sizeof rt->err);
    return rt->conn[i];
}

int route_masters(struct route *rt)
{
    return rt->topo.nmasters;
}

static int same_addr(const struct addr *a, const struct addr *b)
{
    return a->port == b->port && !strcmp(a->host, b->host);
}

/* Read the slot map again from any node that answers (the masters first,
 * then the other nodes last seen, then the addresses given), keeping the
 * connections to masters that stay masters.  0 or -1. */
static int refresh(struct route *rt)
{
    struct topo *t = malloc(sizeof *t);
    if (!t)
        return snprintf(rt->err, sizeof rt->err, "out of memory"), -1;
    int got = -1, nm = rt->topo.nmasters, nk = rt->topo.nknown, nask = nm + nk + rt->nseeds;
    for (int i = 0; i < nask && got; i++) {
        const struct addr *a = i < nm        ? &rt->topo.masters[i].addr
                               : i < nm + nk ? &rt->topo.known[i - nm]
                                             : &rt->seeds[i - nm - nk];
        int own = i < rt->topo.nmasters && rt->conn[i];
        redisContext *c = own ? rt->conn[i] : conn_open(a, rt->timeout_ms, rt->err, sizeof rt->err);
        if (!c)
            continue;
        got = topo_fetch(c, t, rt->err, sizeof rt->err);
        if (!own)
            redisFree(c);
        else if (got)
            drop_conn(rt, i); /* it may be broken: connect afresh next time */
    }
    if (got == 0) {
        redisContext *keep[TOPO_MAX_MASTERS] = {0};
        for (int i = 0; i < rt->topo.nmasters; i++)
            for (int j = 0; j < t->nmasters && rt->conn[i]; j++)
                if (same_addr(&rt->topo.masters[i].addr, &t->masters[j].addr) && !keep[j]) {
                    keep[j] = rt->conn[i];
                    rt->conn[i] = NULL;
                }
        for (int i = 0; i < rt->topo.nmasters; i++)
            drop_conn(rt, i);
        memcpy(rt->conn, keep, sizeof keep);
        rt->topo = *t;
    }
    free(t);
    return got;
}

int route_open(const char *addr, int cluster, uint64_t timeout_ms, struct route **out, char *err, size_t n)
{
    *out = NULL;
    struct route *rt = calloc(1, sizeof *rt);
    if (!rt)
        return snprintf(err, n, "out of memory"), -ENOMEM;
    int rc = addr_list_parse(addr, rt->seeds, cluster ? SEEDS_MAX : 1, err, n);
    if (rc < 0) {
        free(rt);
        return rc;
    }
    rt->nseeds = rc;
    rt->cluster = cluster;
    rt->timeout_ms = timeout_ms;
    if (cluster) {
        if (refresh(rt)) {
            snprintf(err, n, "%s", rt->err);
            free(rt);
            return -EIO;
        }
    } else {
        rt->topo.nmasters = rt->topo.nranges = 1;
        rt->topo.masters[0].addr = rt->seeds[0];
        rt->topo.ranges[0].hi = SLOTS - 1;
        if (!route_master(rt, 0)) {
            snprintf(err, n, "%s", rt->err);
            free(rt);
            return -EIO;
        }
    }
    *out = rt;
    return 0;
}

void route_close(struct route *rt)
{
    if (!rt)
        return;
    for (int i = 0; i < rt->topo.nmasters; i++)
        drop_conn(rt, i);
    free(rt);
}

const char *route_error(const struct route *rt)
{
    return rt->err;
}

static int master_at(const struct route *rt, const struct addr *a)
{
    for (int i = 0; i < rt->topo.nmasters; i++)
        if (same_addr(&rt->topo.masters[i].addr, a))
            return i;
    return -1;
}

/* Where "MOVED 3999 127.0.0.1:6381" or "ASK 3999 ..." sends the command:
 * the master's index, or -1.  MOVED says the map is out of date, so it is
 * read again; ASK is for this one command (a slot being migrated). */
static int redirect_target(struct route *rt, const redisReply *r, int *ask)
{
    char text[ADDR_MAX + 32], *sp, e[ERR_MAX];
    struct addr a;
    snprintf(text, sizeof text, "%.*s", (int)r->len, r->str);
    *ask = !strncmp(text, "ASK ", 4);
    if (!(sp = strrchr(text, ' ')) || addr_parse(sp + 1, &a, e, sizeof e))
        return -1;
    if (!*ask || master_at(rt, &a) < 0)
        refresh(rt);
    return master_at(rt, &a);
}

static int is_redirect(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && (!strncmp(r->str, "MOVED ", 6) || !strncmp(r->str, "ASK ", 4));
}

/* Send the batch (after ASKING if asking) to master m and read its
 * replies; 0, or -1 when the connection failed (and is dropped). */
static int send_batch(struct route *rt, int m, int asking, int ncmd, const struct rcmd *cmds, redisReply **replies)
{
    redisContext *c = route_master(rt, m);
    if (!c)
        return -1;
    if (asking)
        redisAppendCommand(c, "ASKING");
    for (int i = 0; i < ncmd; i++)
        redisAppendCommandArgv(c, cmds[i].argc, cmds[i].argv, cmds[i].lens);
    for (int i = -asking; i < ncmd; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK) {
            snprintf(rt->err, sizeof rt->err, "%s", c->errstr);
            for (int j = 0; j < i; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            drop_conn(rt, m);
            return -1;
        }
        if (i < 0)
            freeReplyObject(r);
        else
            replies[i] = r;
    }
    return 0;
}

int route_run(struct route *rt, const void *key, size_t klen, int ncmd, const struct rcmd *cmds,
              redisReply **replies)
{
    int m = rt->cluster ? topo_master_of(&rt->topo, key_slot(key, klen)) : 0, asking = 0;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        memset(replies, 0, (size_t)ncmd * sizeof *replies);
        if (m < 0 || send_batch(rt, m, asking, ncmd, cmds, replies)) {
            if (attempt)
                nap_ms(10u << attempt); /* a failover or a restart takes a moment */
            if (rt->cluster && refresh(rt) == 0)
                m = topo_master_of(&rt->topo, key_slot(key, klen));
            asking = 0;
            continue;
        }
        if (!rt->cluster || !is_redirect(replies[0]))
            return 0;
        m = redirect_target(rt, replies[0], &asking);
        snprintf(rt->err, sizeof rt->err, "%.*s", (int)replies[0]->len, replies[0]->str);
        for (int i = 0; i < ncmd; i++)
            freeReplyObject(replies[i]);
    }
    memset(replies, 0, (size_t)ncmd * sizeof *replies);
    return -EIO;
}

redisReply *route_cmd(struct route *rt, const char *verb, const void *key, size_t klen,
                      const void *arg, size_t alen)
{
    const char *argv[3] = {verb, key, arg};
    size_t lens[3] = {strlen(verb), klen, alen};
    struct rcmd cmd = {arg ? 3 : 2, argv, lens};
    redisReply *r;
    return route_run(rt, key, klen, 1, &cmd, &r) ? NULL : r;
}
