/*
 * lease.c - leases, for filling a cache from a slower store without
 * stampedes or stale sets (Nishtala et al., "Scaling Memcache at
 * Facebook", NSDI 2013, 3.2.1).
 *
 * A lease is a record of its own type (REC_LEASE) in the key's slot: its
 * value is the lease's token, its expiry the moment it lapses.  Readers
 * treat it as absent (gets miss, foreach and count skip it), and every
 * write of the key replaces or removes it, which voids it: a put, add,
 * incr, append or update writes a pair over it, a delete or take drops
 * it, clear and eviction remove it, and once lapsed it is reaped like an
 * expired pair.  So shmkv_put_leased, which writes only over the very
 * lease record it was granted (same token), can never store a value read
 * from the slow store before a newer write of the key: that write voided
 * the lease.  Tokens come from one counter in the header, so a lapsed
 * lease's token is never granted again.
 */
#include "api.h"
#include "write.h"

#include <errno.h>
#include <string.h>

#define LEASE_DEFAULT_MS 10000u

struct lease_arg {
    /* get_lease */
    void *buf;
    size_t cap, vlen;
    uint64_t lease_ms, granted;
    /* put_leased: the pair, and the token it fills */
    const void *val;
    size_t plen;
    uint64_t ttl_ms, token;
};

/* Under the lock, after a lock-free miss: the key may have been filled
 * meanwhile (return it), a live lease may exist (no lease), or this
 * caller gets a new one. */
static int decide_get_lease(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    struct lease_arg *a = w->arg;
    if (c->present) {
        size_t vlen;
        int rc = 0;
        const void *cv = shmkv__cur_value(db, w, c, &vlen, &rc);
        if (!cv)
            return rc;
        a->vlen = vlen;
        if (vlen > a->cap)
            return -ENOBUFS;
        if (vlen)
            memcpy(a->buf, cv, vlen);
        return 0; /* ACT_NONE, w->rc 0 */
    }
    w->rc = -ENOENT;
    if (c->lease)
        return 0; /* someone else's, still live */
    a->granted = atomic_fetch_add_explicit(&db->hdr->lease_seq, 1, memory_order_relaxed) + 1;
    p->act = ACT_WRITE;
    p->val[0] = (struct piece){&a->granted, sizeof a->granted};
    p->nval = 1;
    p->ext = ext_make(REC_LEASE, expiry_in(db, w, a->lease_ms));
    atomic_fetch_add_explicit(&w->s->leases_granted, 1, memory_order_relaxed);
    return 0;
}

SHMKV_API int shmkv_get_lease(shmkv *db, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen,
                              uint64_t lease_ms, uint64_t *lease)
{
    if (!lease)
        return -EINVAL;
    *lease = 0;
    if (lease_ms > SHMKV_TTL_MAX)
        return -EINVAL; /* whether or not the key is there, as documented */
    int r = shmkv_get(db, key, klen, buf, cap, vlen);
    if (r != -ENOENT || db->rdonly)
        return r; /* a hit, an error, or a handle that cannot write a lease */
    struct lease_arg a = {.buf = buf, .cap = cap, .lease_ms = lease_ms ? lease_ms : LEASE_DEFAULT_MS};
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_get_lease, &a);
    r = shmkv__write(db, &w);
    if (r == 0 || r == -ENOBUFS)
        *vlen = a.vlen;
    if (r == -ENOENT)
        *lease = a.granted;
    return r;
}

static int decide_put_leased(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    const struct lease_arg *a = w->arg;
    uint64_t token;
    if (!c->lease || c->r->vlen != sizeof token)
        return -ECANCELED; /* a write (or its lapse) voided it */
    memcpy(&token, rec_key(c->r) + c->r->klen, sizeof token);
    if (token != a->token)
        return -ECANCELED; /* another caller's lease */
    p->act = ACT_WRITE;
    p->val[0] = (struct piece){a->val, a->plen};
    p->nval = 1;
    p->ext = ext_make(REC_PAIR, expiry_in(db, w, a->ttl_ms));
    p->fills_lease = true;
    return 0;
}

SHMKV_API int shmkv_put_leased(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen,
                               uint64_t ttl_ms, uint64_t lease)
{
    int r = check_write(db, key, klen, val, vlen);
    if (r)
        return r;
    if (!lease || ttl_ms > SHMKV_TTL_MAX)
        return -EINVAL;
    struct lease_arg a = {.val = val, .plen = vlen, .ttl_ms = ttl_ms, .token = lease};
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_put_leased, &a);
    return shmkv__write(db, &w);
}
