/*
 * agent_link.c - the agent's connections to each master (agent.h).
 *
 * Per master, connection a: CLIENT ID, then SUBSCRIBE __redis__:invalidate
 * (RESP2: invalidations arrive as messages on that channel); connection b:
 * CLIENT TRACKING on REDIRECT <a's id> BCAST [PREFIX p]... (Redis keeps no
 * per-key state: every write of a key under a prefix is announced).  With
 * --refresh, b also carries the agent's GET and PTTL of the keys it fills
 * again (agent_refresh.c): its replies are matched to requests in order,
 * pings, slot maps and refreshes alike.
 *
 * The heartbeat's basis.  Redis queues a write's invalidation (BCAST
 * messages are sent just before replies go out) on a before it sends the
 * writer its acknowledgement, and a's replies come in order; so once the
 * agent has read the answer to a PING it sent on a at time t, it has read
 * every invalidation of every write acknowledged before t.  The basis is
 * the oldest such t over all masters' a, and b's (b alive at t means its
 * tracking was on until then) and, in a cluster, the sent time of the
 * last CLUSTER SLOTS that still named the masters being tracked.
 */
#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVALIDATE "__redis__:invalidate"

static int reply_is(const redisReply *r, const char *s)
{
    return r->type == REDIS_REPLY_STRING && r->len == strlen(s) && !memcmp(r->str, s, r->len);
}

/* Connection a of master t: subscribed; sets *id to its client id. */
static int setup_a(struct agent *a, struct tracked *t, long long *id)
{
    char at[ADDR_MAX + 8];
    addr_format(&t->m.addr, at, sizeof at);
    if (!(t->a.c = conn_open(&t->m.addr, a->o->timeout_ms, a->why, sizeof a->why)))
        return -1;
    redisReply *r = conn_words(t->a.c, "CLIENT ID", a->why, sizeof a->why);
    int rc = !r || reply_expect(r, REDIS_REPLY_INTEGER, "CLIENT ID", a->why, sizeof a->why) ? -1 : 0;
    if (r)
        *id = r->integer;
    freeReplyObject(r);
    if (rc)
        return -1;
    r = conn_words(t->a.c, "SUBSCRIBE " INVALIDATE, a->why, sizeof a->why);
    rc = !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !reply_is(r->element[0], "subscribe") ? -1 : 0;
    if (r && rc)
        snprintf(a->why, sizeof a->why, "%s: SUBSCRIBE " INVALIDATE " was refused", at);
    freeReplyObject(r);
    return rc;
}

/* Connection b of master t: tracking redirected to a's id. */
static int setup_b(struct agent *a, struct tracked *t, long long id)
{
    if (!(t->b.c = conn_open(&t->m.addr, a->o->timeout_ms, a->why, sizeof a->why)))
        return -1;
    const char *argv[7 + 2 * RECORD_MAX_PREFIXES];
    size_t lens[7 + 2 * RECORD_MAX_PREFIXES];
    char idtext[32];
    int argc = 0;
    snprintf(idtext, sizeof idtext, "%lld", id);
    const char *words[] = {"CLIENT", "TRACKING", "on", "REDIRECT", idtext, "BCAST"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        argv[argc] = words[i];
        lens[argc++] = strlen(words[i]);
    }
    for (int i = 0; i < a->rec.nprefixes; i++) {
        argv[argc] = "PREFIX";
        lens[argc++] = 6;
        argv[argc] = (const char *)a->rec.prefix[i];
        lens[argc++] = a->rec.plen[i];
    }
    redisReply *r = conn_argv(t->b.c, argc, argv, lens, a->why, sizeof a->why);
    int rc = !r || reply_expect(r, REDIS_REPLY_STATUS, "CLIENT TRACKING", a->why, sizeof a->why) ? -1 : 0;
    freeReplyObject(r);
    return rc;
}

void links_close(struct agent *a)
{
    for (int i = 0; i < a->n; i++) {
        struct link *l[2] = {&a->t[i].a, &a->t[i].b};
        for (int j = 0; j < 2; j++) {
            for (int k = 0; k < l[j]->nreq; k++)
                if (link_req(l[j], k)->kind == REQ_PTTL) /* a refresh's last request */
                    refresh_drop(link_req(l[j], k)->fill);
            if (l[j]->c)
                redisFree(l[j]->c);
            memset(l[j], 0, sizeof *l[j]);
        }
    }
    a->n = 0;
}

/* The cluster's masters, from the first node that answers: those given,
 * then every node of the last map. */
static int fetch_topo(struct agent *a, struct topo *t)
{
    struct addr seeds[16];
    int nseeds = addr_list_parse(a->o->redis, seeds, 16, a->why, sizeof a->why);
    int nask = nseeds + (a->topo ? a->topo->nknown : 0);
    for (int i = 0; i < nask; i++) {
        const struct addr *at = i < nseeds ? &seeds[i] : &a->topo->known[i - nseeds];
        redisContext *c = conn_open(at, a->o->timeout_ms, a->why, sizeof a->why);
        int rc = c ? topo_fetch(c, t, a->why, sizeof a->why) : -1;
        if (c)
            redisFree(c);
        if (rc == 0)
            return 0;
    }
    return -1;
}

int links_connect(struct agent *a)
{
    struct topo *t = calloc(1, sizeof *t);
    if (!t)
        return snprintf(a->why, sizeof a->why, "out of memory"), -1;
    int rc = 0;
    if (a->o->cluster) {
        rc = fetch_topo(a, t);
    } else {
        t->nmasters = 1;
        rc = addr_parse(a->o->redis, &t->masters[0].addr, a->why, sizeof a->why) ? -1 : 0;
    }
    for (int i = 0; i < t->nmasters && rc == 0; i++) {
        long long id = 0;
        a->t[i].m = t->masters[i];
        a->n = i + 1;
        rc = setup_a(a, &a->t[i], &id) || setup_b(a, &a->t[i], id) ? -1 : 0;
    }
    if (rc == 0 && a->o->cluster) {
        /* the map again, now that tracking is on: a change while we set up
         * (a failover) would otherwise go unseen until the next check */
        struct topo *again = malloc(sizeof *again);
        uint64_t sent = boot_ms();
        rc = !again || topo_fetch(a->t[0].b.c, again, a->why, sizeof a->why) ? -1 : 0;
        if (rc == 0 && !topo_equal(t, again)) {
            snprintf(a->why, sizeof a->why, "the cluster's masters changed while tracking was set up");
            rc = -1;
        }
        a->topo_ok_ms = sent;
        free(again);
    }
    if (a->o->cluster && t->nmasters) { /* its nodes are where to ask next time */
        free(a->topo);
        a->topo = t;
        t = NULL;
    }
    free(t);
    if (rc)
        links_close(a);
    return rc;
}

int links_pollfds(const struct agent *a, struct pollfd *pfd)
{
    for (int i = 0; i < a->n; i++) {
        pfd[2 * i] = (struct pollfd){.fd = a->t[i].a.c->fd, .events = POLLIN};
        pfd[2 * i + 1] = (struct pollfd){.fd = a->t[i].b.c->fd, .events = POLLIN};
    }
    return 2 * a->n;
}

/* Delete the keys of an invalidation that came from master t; with
 * --refresh, fill again those that were in the table or being refreshed. */
static int delete_keys(struct agent *a, struct tracked *t, const redisReply *keys, const char *at)
{
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if (k->type != REDIS_REPLY_STRING)
            return agent_lost(a, "an invalidation with a key that is not a string");
        if (!k->len || key_reserved(k->str, k->len) || k->len > SHMKV_KEY_MAX)
            continue; /* never stored */
        int rc = shmkv_del(a->db, k->str, k->len);
        if (rc && rc != -ENOENT)
            return agent_lost(a, "cannot delete an invalidated key: %s", shmkv_strerror(rc));
        /* refresh what was in the table, and a refresh this write overtook
         * (the delete voided its lease; it would store nothing) */
        if (a->o->refresh && (rc == 0 || (t->b.nfill && refresh_pending(&t->b, k->str, k->len))) &&
            refresh_start(a, &t->b, k->str, k->len, at))
            return -1;
    }
    return 0;
}

void link_push(struct link *l, int kind, uint64_t seq, uint64_t now, struct refill *fill)
{
    *link_req(l, l->nreq++) = (struct req){kind, seq, now, fill};
}

/* The answer to the oldest request of l; 0 or -1 (agent_lost called). */
static int answered(struct agent *a, struct link *l, const redisReply *r, const char *at)
{
    if (!l->nreq)
        return agent_lost(a, "%s: a reply nothing asked for", at);
    struct req q = *link_req(l, 0);
    int kind = q.kind;
    uint64_t seq = q.seq, sent = q.sent_ms;
    l->head = (l->head + 1) % LINK_MAX_REQ;
    l->nreq--;
    if (kind == REQ_GET || kind == REQ_PTTL) {
        l->nfill--;
        refresh_answered(a, &q, r); /* an error too (a MOVED key, say): the refresh gives up */
        return 0;
    }
    if (r->type == REDIS_REPLY_ERROR)
        return agent_lost(a, "%s: %.*s", at, (int)r->len, r->str);
    if (kind == REQ_PING) {
        char want[32];
        snprintf(want, sizeof want, "%" PRIu64, seq);
        int ok = r->type == REDIS_REPLY_STATUS ? !strcmp(r->str, "PONG")
                 : r->type == REDIS_REPLY_ARRAY && r->elements == 2 && reply_is(r->element[0], "pong") &&
                       reply_is(r->element[1], want);
        if (!ok)
            return agent_lost(a, "%s: a wrong answer to PING", at);
        l->acked_ms = sent;
        return 0;
    }
    struct topo *t = malloc(sizeof *t);
    char err[ERR_MAX];
    if (!t || topo_parse(r, t, err, sizeof err)) {
        free(t);
        return agent_lost(a, "%s: CLUSTER SLOTS: %s", at, t ? err : "out of memory");
    }
    int same = topo_equal(t, a->topo), masters = same || topo_same_masters(t, a->topo);
    if (!same) {
        /* the same masters serve other slots (a migration): every write is
         * still tracked, yet what a master served goes */
        free(a->topo);
        a->topo = t;
        t = NULL;
    }
    free(t);
    if (!masters)
        return agent_lost(a, "the cluster's masters changed (seen from %s)", at);
    if (!same) {
        agent_log(a, "the cluster's slot map changed (seen from %s): clearing the table", at);
        if (agent_clear(a))
            return agent_lost(a, "cannot clear the table");
    }
    if (sent > a->topo_ok_ms)
        a->topo_ok_ms = sent;
    return 0;
}

/* One reply or message read from a link. */
static int handle(struct agent *a, struct tracked *t, int is_a, const redisReply *r, const char *at)
{
    struct link *l = is_a ? &t->a : &t->b;
    if (is_a && r->type == REDIS_REPLY_ERROR)
        return agent_lost(a, "%s: %.*s", at, (int)r->len, r->str);
    if (is_a && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && reply_is(r->element[0], "message")) {
        const redisReply *what = r->element[2];
        if (!reply_is(r->element[1], INVALIDATE))
            return agent_lost(a, "%s: a message of another channel", at);
        if (what->type == REDIS_REPLY_ARRAY)
            return delete_keys(a, t, what, at);
        if (what->type != REDIS_REPLY_NIL)
            return agent_lost(a, "%s: an invalidation of an unknown form", at);
        agent_log(a, "%s: FLUSHALL or FLUSHDB: clearing the table", at);
        return agent_clear(a) ? agent_lost(a, "cannot clear the table") : 0;
    }
    return answered(a, l, r, at);
}

int links_read(struct agent *a, const struct pollfd *pfd)
{
    for (int i = 0; i < a->n; i++) {
        char at[ADDR_MAX + 8];
        addr_format(&a->t[i].m.addr, at, sizeof at);
        for (int j = 0; j < 2; j++) {
            struct link *l = j ? &a->t[i].b : &a->t[i].a;
            if (!pfd[2 * i + j].revents)
                continue;
            if (redisBufferRead(l->c) != REDIS_OK)
                return agent_lost(a, "%s: connection lost: %s", at, l->c->errstr);
            void *r;
            while (redisGetReplyFromReader(l->c, &r) == REDIS_OK && r) {
                int rc = handle(a, &a->t[i], !j, r, at);
                freeReplyObject(r);
                if (rc)
                    return -1; /* the links are gone */
            }
            if (l->c->err)
                return agent_lost(a, "%s: %s", at, l->c->errstr);
        }
    }
    return 0;
}

/* Send a request on l; a subscribed connection's PING carries a number,
 * which its answer repeats. */
static int send_req(struct agent *a, struct link *l, int kind, int subscribed, uint64_t now, const char *at)
{
    int done = 0;
    uint64_t seq = ++a->seq;
    if (kind == REQ_SLOTS)
        redisAppendCommand(l->c, "CLUSTER SLOTS");
    else if (subscribed)
        redisAppendCommand(l->c, "PING %" PRIu64, seq);
    else
        redisAppendCommand(l->c, "PING");
    while (!done)
        if (redisBufferWrite(l->c, &done) != REDIS_OK)
            return agent_lost(a, "%s: connection lost: %s", at, l->c->errstr);
    link_push(l, kind, seq, now, NULL);
    return 0;
}

/* Room for one more ping or slot map: at most 4 wait at once. */
static int room(const struct link *l)
{
    return l->nreq - l->nfill < 4;
}

int links_tick(struct agent *a, uint64_t now)
{
    uint64_t limit = 2 * a->o->heartbeat_ms;
    for (int i = 0; i < a->n; i++) {
        char at[ADDR_MAX + 8];
        addr_format(&a->t[i].m.addr, at, sizeof at);
        for (int j = 0; j < 2; j++) {
            struct link *l = j ? &a->t[i].b : &a->t[i].a;
            if (l->nreq && now - link_req(l, 0)->sent_ms > limit)
                return agent_lost(a, "%s: no answer within %" PRIu64 " ms", at, limit);
            int pinging = 0;
            for (int k = 0; k < l->nreq; k++)
                pinging |= link_req(l, k)->kind == REQ_PING;
            if (!pinging && room(l) && send_req(a, l, REQ_PING, !j, now, at))
                return -1;
        }
    }
    if (a->o->cluster && now >= a->next_topo_ms) {
        struct link *b = &a->t[a->topo_next++ % a->n].b;
        a->next_topo_ms = now + 200;
        if (room(b) && send_req(a, b, REQ_SLOTS, 0, now, "CLUSTER SLOTS"))
            return -1;
    }
    return 0;
}

uint64_t links_basis(const struct agent *a)
{
    uint64_t basis = a->o->cluster ? a->topo_ok_ms : UINT64_MAX;
    for (int i = 0; i < a->n; i++) {
        const struct link *l[2] = {&a->t[i].a, &a->t[i].b};
        for (int j = 0; j < 2; j++)
            if (l[j]->acked_ms < basis)
                basis = l[j]->acked_ms;
    }
    return a->n ? basis : 0;
}
