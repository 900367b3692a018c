/*
 * agent_refresh.c - shmkv-redis sync --refresh: the agent fills again the
 * keys it invalidates that were in the table (agent.h; the protocol and
 * why it keeps the table consistent: docs/near-cache.md, "Refresh").
 *
 * Without it, every write of a cached key costs the next reader of the
 * key a miss: a round trip to Redis while it waits.  With it, the agent
 * deletes the key as always, then takes the key's lease itself and sends
 * GET and PTTL on the tracking connection of the master that announced
 * the write; when both replies are in, it stores the value under the
 * lease, exactly as a reader's fill would.  A reader that comes in
 * between finds the agent's lease and waits a little for the value (as
 * for another reader's fill), or reads Redis.
 *
 * It is a reader's fill in every respect that matters for consistency: the
 * lease is taken after the delete, the GET runs after the lease, and a
 * later write's invalidation, applied by this same agent before or after
 * the store, voids the lease or deletes the stored value.  Only keys that
 * were in the table are refreshed (a key readers never asked for stays
 * out), and keys written again while their refresh is on its way (the
 * delete voided its lease: it is sent again, to read the newer value); at
 * most REFRESH_MAX at a time per master; any error (a key of another
 * type, a MOVED slot, a value too large) just gives the lease up.
 */
#include "agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REFRESH_LEASE_MS 1000

struct refill {
    uint64_t lease, t0;              /* the key's lease; boot_ms() when GET was sent */
    int have;                        /* the GET's answer was a string: val, vlen */
    char *val;
    size_t vlen, klen;
    char key[];
};

int refresh_start(struct agent *a, struct link *l, const char *key, size_t klen, const char *at)
{
    char buf[8];
    size_t len;
    uint64_t lease = 0;
    if (l->nfill >= 2 * REFRESH_MAX ||
        shmkv_get_lease(a->db, key, klen, buf, sizeof buf, &len, REFRESH_LEASE_MS, &lease) != -ENOENT || !lease) {
        a->refresh_skipped++; /* busy, or a reader's lease (or value) is already there */
        return 0;
    }
    struct refill *f = malloc(sizeof *f + klen);
    if (!f) {
        shmkv_del(a->db, key, klen); /* give the lease up */
        a->refresh_skipped++;
        return 0;
    }
    *f = (struct refill){.lease = lease, .t0 = boot_ms(), .klen = klen};
    memcpy(f->key, key, klen);
    const char *get[2] = {"GET", key}, *pttl[2] = {"PTTL", key};
    size_t lens[2] = {3, klen}, plens[2] = {4, klen};
    redisAppendCommandArgv(l->c, 2, get, lens);
    redisAppendCommandArgv(l->c, 2, pttl, plens);
    link_push(l, REQ_GET, 0, f->t0, f);
    link_push(l, REQ_PTTL, 0, f->t0, f);
    l->nfill += 2;
    for (int done = 0; !done;)
        if (redisBufferWrite(l->c, &done) != REDIS_OK)
            return agent_lost(a, "%s: connection lost: %s", at, l->c->errstr);
    return 0;
}

void refresh_answered(struct agent *a, const struct req *q, const redisReply *r)
{
    struct refill *f = q->fill;
    if (q->kind == REQ_GET) {
        if (r->type == REDIS_REPLY_STRING && (f->val = malloc(r->len ? r->len : 1))) {
            memcpy(f->val, r->str, r->len);
            f->vlen = r->len;
            f->have = 1;
        }
        return;
    }
    /* the lifetime a reader's fill would give it, capped by --max-ttl only */
    int64_t ttl = record_fill_ttl(r->type == REDIS_REPLY_INTEGER ? r->integer : -2, boot_ms() - f->t0 + 1,
                                  a->o->max_ttl_ms, 0);
    int rc = f->have && ttl >= 0 ? shmkv_put_leased(a->db, f->key, f->klen, f->val, f->vlen, (uint64_t)ttl, f->lease)
                                 : -ENOENT;
    if (rc == 0)
        a->refreshed++;
    else
        a->refresh_skipped++;
    /* nothing to store, or refused (too large, say): give the lease up,
     * so that readers need not wait it out.  -ECANCELED: a newer write's
     * invalidation voided it, and the key is left alone. */
    if (rc && rc != -ECANCELED)
        shmkv_del(a->db, f->key, f->klen);
    refresh_drop(f);
}

int refresh_pending(struct link *l, const char *key, size_t klen)
{
    for (int k = 0; k < l->nreq; k++) {
        const struct req *q = link_req(l, k);
        if (q->kind == REQ_PTTL && q->fill->klen == klen && !memcmp(q->fill->key, key, klen))
            return 1;
    }
    return 0;
}

void refresh_drop(struct refill *f)
{
    free(f->val);
    free(f);
}
