/*
 * write.h - the machinery every write of the API shares (write.c).
 *
 * A write is a decision about one key, taken under the key's shard lock
 * from what the key holds now, then carried out:
 *
 *   lock; find the key's record (an expired one is reaped: absent);
 *   decide(key's state) -> nothing, write a new record, or delete;
 *   carry it out (append, publish with one slot store, retire the old);
 *   a bounded step of background work; unlock.
 *
 * Each call of the API (put_ex, incr, append, take, update, the leases)
 * is a decide function.  A writer killed at any instant leaves the old
 * state or the new, never a mix: the new record is complete before the
 * one slot store that publishes it (log.c, index.c).  When there is no
 * room the round lets go of its lock, makes room elsewhere and runs again
 * from the start, so a decision may be taken more than once: decide
 * functions must be repeatable (free what a previous round allocated).
 */
#ifndef SHMKV_WRITE_H
#define SHMKV_WRITE_H

#include "handle.h"
#include "index.h"
#include "log.h"

#include <stdbool.h>
#include <stdint.h>

/* What the key holds, as the round found it under the lock. */
struct cur {
    struct found f;             /* its slot (NULL if none), a free slot */
    const struct rec *r;        /* its record, if f.slot */
    bool present;               /* a live pair */
    bool lease;                 /* a pending lease (invisible to others) */
    uint64_t list;              /* a list: its list run (list.c) */
};

/* ACT_PATCH: rewrite the present value in place with val[0] (an
 * increment whose text keeps its length; patch.h says when that may be). */
enum act { ACT_NONE, ACT_WRITE, ACT_DELETE, ACT_PATCH };

/* What the round is to do. */
struct plan {
    enum act act;
    struct piece val[2];        /* ACT_WRITE: the new value, in pieces; ACT_PATCH: val[0] */
    unsigned nval;
    uint64_t ext;               /* ACT_WRITE: the new record's ext word (type, expiry) */
    bool fills_lease;           /* ACT_WRITE over a lease: it is filled, not voided */
    bool work;                  /* ACT_NONE that wrote or retired records (a list push
                                 * or pop out of line): do the background step all the same */
    uint64_t new_list;          /* ACT_WRITE publishing a list made by decide (with its
                                 * elements): freed if the write fails */
};

struct wreq;
/* Decide from c what to do (set p); return 0 to carry it out (the call
 * then returns w->rc), or a negative errno to change nothing. */
typedef int (*shmkv__decide_fn)(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p);

struct wreq {
    const void *key;
    size_t klen;
    shmkv__decide_fn decide;
    void *arg;                  /* the call's own arguments and results */
    int rc;                     /* the call's result once the plan is carried out */
    bool lists;                 /* the decision takes list keys; else they give -EMEDIUMTYPE */
    uint64_t h, tag;            /* the key's hash and index tag */
    struct shard *s;            /* the key's shard */
    struct home home;           /* its home bucket, as prefetched before the lock */
    uint64_t now;               /* table time, read lazily (0: not yet) */
    void *tmp;                  /* memory a decision allocated (freed at the end) */
};

/* Prepare w for key (hash, shard), prefetching nothing: batches prefetch
 * in stages, and a list's lane reads the bucket and had better not take
 * its line for writing. */
void shmkv__wreq_setup(shmkv *db, struct wreq *w, const void *key, size_t klen, shmkv__decide_fn decide, void *arg);

/* Prepare w for key (hash, shard, prefetch its bucket). */
void shmkv__wreq_init(shmkv *db, struct wreq *w, const void *key, size_t klen, shmkv__decide_fn decide, void *arg);

/* Run the write: rounds until done or failed; frees w->tmp.  Returns the
 * decision's error, w->rc, or -E2BIG, -ENOSPC, -ETIMEDOUT, -EBADMSG... */
int shmkv__write(shmkv *db, struct wreq *w);

/* Under the key's shard lock: what the key holds now (an expired pair or
 * lapsed lease is reaped on the way).  0 or -EBADMSG. */
int shmkv__write_find(shmkv *db, struct wreq *w, struct cur *c);

/* After -ENOSPC, with no lock held: make room elsewhere for round (from
 * 0) of w; false when there is nothing more to try. */
bool shmkv__write_make_room(shmkv *db, struct wreq *w, int round, int *stuck);

/* Table time, read once per round. */
uint64_t shmkv__wreq_now(shmkv *db, struct wreq *w);

/* The current record's value: a pointer into the table (valid under the
 * lock) or, for a value chained over several runs, a copy in w->tmp.
 * NULL only on -ENOMEM or damage (*rc says which). */
const void *shmkv__cur_value(shmkv *db, struct wreq *w, const struct cur *c, size_t *vlen, int *rc);

/* The expiry a write gives: ttl_ms from now, or 0 (never). */
static inline uint64_t expiry_in(shmkv *db, struct wreq *w, uint64_t ttl_ms)
{
    return ttl_ms ? shmkv__wreq_now(db, w) + ttl_ms : 0;
}

#endif
