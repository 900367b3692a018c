/*
 * queue.c - lists and queues of the public API: push, pop (waiting in the
 * kernel), move, llen, lrange.
 *
 * A push at the tail of an existing list and a pop at its head go
 * through the shard's lane for that end (lane_push, lane_pop: list.c),
 * without the shard's lock, when one store can commit them; everything
 * else is a decision under the key's shard lock and both lanes (write.h)
 * that works on the list with list.c; the list's REC_LIST record is
 * written only when a push creates the list.  A pop that finds nothing to
 * take notes the futex word a push moves (the list's own word, or the
 * shard's when the list does not exist yet) and watches it for a few tens
 * of microseconds (wait.c); if nothing comes, it tries again the slow
 * way, this time counting itself among the sleepers while it still holds
 * the lock and the lanes, and sleeps on the word after letting go: a
 * push, which moves the word under the tail lane before waking, can never
 * slip in between unseen (no lost wake-up).  A push wakes one sleeper per
 * element; a deletion wakes them all.  Sleeps are sliced (wait.c)
 * so a sleeper also notices a list deleted and made anew elsewhere.
 */
#include "api.h"
#include "clean.h"
#include "fault.h"
#include "hash.h"
#include "host.h"
#include "list.h"
#include "map.h"
#include "read.h"
#include "shard.h"
#include "sleepers.h"
#include "wait.h"
#include "write.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int check_list_write(const shmkv *db, const void *key, size_t klen, int end)
{
    int r = check_key_write(db, key, klen);
    if (r)
        return r;
    if (end != SHMKV_HEAD && end != SHMKV_TAIL)
        return -EINVAL;
    return db->cache ? -EOPNOTSUPP : 0;
}

/* An element's size rule: its record (keyed by the 8-byte list run) must
 * fit the table, as a value's must. */
static int check_elem(const shmkv *db, const void *val, size_t vlen)
{
    if (!val && vlen)
        return -EINVAL;
    return vlen > SHMKV_VAL_MAX || rec_size(8, vlen, 8) + RUN_HDR > db->reserve - db->data_off ? -E2BIG : 0;
}

/* A list write of key (nothing prefetched: see shmkv__wreq_setup). */
static void wreq_setup_list(shmkv *db, struct wreq *w, const void *key, size_t klen, shmkv__decide_fn decide,
                            void *arg)
{
    shmkv__wreq_setup(db, w, key, klen, decide, arg);
    w->lists = true;
}

/* ---- the lanes' memo of a list ----
 *
 * A lane's holder looks its key up to find the list run, every time: a
 * third of a lane push's or pop's own work.  Each thread remembers, per
 * end, the last list it found: its handle, key and list run, and the
 * lane's gen then.  Holding that lane again with gen unchanged, no list
 * of the shard has been freed since (a free moves gen holding both lanes,
 * so between two holds of either), so the key still names that list (a
 * key leaves a list only by its deletion; compaction moves its record,
 * not its run) and the run is the list's: no look needed. */

#define MEMO_KEY 56

struct memo {
    uint64_t serial;            /* the handle (shmkv.serial; 0: empty) */
    uint64_t gen, lrun;
    size_t klen;
    uint8_t key[MEMO_KEY];
};

static _Thread_local struct memo memos[2];

/* The list run of w's key, for the holder of its shard's lane[end]: from
 * the memo, or by a look (remembered).  0, -EMEDIUMTYPE (a pair), or
 * LIST_SLOW (absent, damaged, or writers disturbed every look: the slow
 * way decides; never -EAGAIN, which the lanes' callers take for a full or
 * empty list). */
static int lane_find(shmkv *db, const struct wreq *w, int end, uint64_t *lrun)
{
    struct memo *m = &memos[end];
    uint64_t gen = atomic_load_explicit(&w->s->lane[end].gen, memory_order_relaxed); /* stable: we hold the lane */
    if (m->serial == db->serial && m->gen == gen && m->klen == w->klen && !memcmp(m->key, w->key, w->klen)) {
        *lrun = m->lrun;
        return 0;
    }
    int r = shmkv__find_list(db, w->h, w->key, w->klen, lrun);
    if (!r && w->klen <= MEMO_KEY) {
        *m = (struct memo){.serial = db->serial, .gen = gen, .lrun = *lrun, .klen = w->klen};
        memcpy(m->key, w->key, w->klen);
    }
    return r == 0 || r == -EMEDIUMTYPE ? r : LIST_SLOW;
}

/* ---- push ---- */

struct push_arg {
    const shmkv_elem *elems;
    size_t n;
    int end;
    uint64_t max;               /* the most elements the list may hold after the push */
    bool now;                   /* a bounded push that may not wait: not for room in a big ring either */
    bool slack;                 /* waiting in a big ring: try only once pops made room for more (list.c) */
    uint64_t lrun;              /* a list this push made */
    struct wait wt;             /* full: where to wait for room */
};

static void wake_shard(struct shard *s)
{
    atomic_fetch_add_explicit(&s->list_wake, 1, memory_order_release);
    shmkv__sleepers_wake(&s->list_waiters, &s->list_wake, UINT32_MAX);
}

static int decide_push(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    struct push_arg *a = w->arg;
    if (c->present)
        return -EMEDIUMTYPE;
    uint64_t lrun = c->list;
    int r = 0;
    a->wt.word = NULL;
    a->wt.waiters = NULL;
    if (lrun) {
        struct list *l = list_at(db, lrun);
        uint64_t len = list_len(atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed),
                                atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed));
        if (len > a->max - a->n) { /* full for this push: wait for a pop (a->n <= a->max) */
            shmkv__wait_prepare(&a->wt, &l->end[SHMKV_HEAD].wake, &w->s->lane[SHMKV_HEAD].sleepers);
            w->rc = -EAGAIN;
            return 0;
        }
    }
    if (!lrun && (r = shmkv__list_create(db, w->s, &lrun))) /* journaled in pending_list */
        return r;
    struct piece one[16], *v = a->n <= 16 ? one : xmalloc(a->n * sizeof *v);
    if (!v)
        r = -ENOMEM;
    for (size_t i = 0; v && i < a->n; i++)
        v[i] = (struct piece){a->elems[i].val, a->elems[i].vlen};
    if (!r)
        r = shmkv__list_push(db, w->s, lrun, v, a->n, a->end);
    if (v != one)
        free(v);
    p->work = r > 0; /* records went to the log: the background step keeps up with them */
    r = r > 0 ? 0 : r;
    if (r) {
        if (!c->list) /* the new list was never published: nothing reaches it */
            shmkv__list_free(db, w->s, lrun, false);
        return r;
    }
    shmkv__list_wake(w->s, list_at(db, lrun), (uint32_t)(a->n < UINT32_MAX ? a->n : UINT32_MAX));
    if (c->list)
        return 0;
    /* publish the new list (a lease on the key is voided by it) */
    a->lrun = p->new_list = lrun;
    p->act = ACT_WRITE;
    p->val[0] = (struct piece){&a->lrun, sizeof a->lrun};
    p->nval = 1;
    p->ext = ext_make(REC_LIST, 0);
    wake_shard(w->s);
    return 0;
}

/* A push at the tail of an existing list through the tail's lane (list.c):
 * 0, -EAGAIN (full: a->wt.word and .seen to watch, not counted as a
 * sleeper), an error, or LIST_SLOW (nothing done: the shard's lock's
 * way).  The lane is taken before the list is looked up, so the list
 * found cannot be deleted (which takes both lanes) until the push is
 * over. */
static int lane_push(shmkv *db, const struct wreq *w)
{
    struct push_arg *a = w->arg;
    if (a->end != SHMKV_TAIL || a->n > 64)
        return LIST_SLOW; /* (pieces on the stack) */
    struct piece v[64];
    for (size_t i = 0; i < a->n; i++)
        v[i] = (struct piece){a->elems[i].val, a->elems[i].vlen};
    struct shard *s = w->s;
    int r = shmkv__lane_take(db, s, SHMKV_TAIL);
    if (r)
        return r;
    uint64_t lrun;
    r = shmkv__lane_closed(s, SHMKV_TAIL) ? LIST_SLOW : lane_find(db, w, SHMKV_TAIL, &lrun);
    if (!r && !(r = shmkv__list_lane_push(db, s, lrun, v, a->n, a->max, a->slack, &a->wt.seen)))
        shmkv__list_wake(s, list_at(db, lrun), (uint32_t)a->n);
    if (r == -EAGAIN || r == LIST_DEEP)
        a->wt.word = &list_at(db, lrun)->end[SHMKV_HEAD].wake;
    shmkv__lane_drop(s, SHMKV_TAIL);
    return r == 0 || r == -EMEDIUMTYPE || r == -EAGAIN || r == LIST_DEEP ? r : LIST_SLOW;
}

/* Pushes that would grow a big ring.  A producer faster than its consumer
 * deepens the list, and the deeper it gets the slower both sides go:
 *  - each doubling of a ring of 1 MiB or more copies it, with both lanes
 *    held, the consumer stopped (8 MiB to 16: some 12 ms with the new
 *    memory mapped in), and a ring bigger than the cores' caches makes
 *    every element a trip to memory;
 *  - past 16 MiB the elements spill to the log (list.c): the first spill
 *    doubles the ring again for their entries, and the pushes of the rest
 *    take the shard's lock, which starves the consumer's lane.
 * Two producers ahead of one consumer moved 4 KiB messages at 1.8 M/s
 * against 3, a producer 100 ms ahead at 0.45 (BENCHMARKS.md 10.5, 10.6):
 * the queue was slowest just when its consumer had most to catch up on.
 *
 * So a push that would grow a ring of 1 MiB or more (RING_PACE_MIN), or
 * spill, first waits for a pop, as a bounded push does: it watches the
 * head's wake word (SPIN_NS), then sleeps on it, counted among the
 * shard's head sleepers (which every pop wakes), and tries the lane again
 * whenever a pop moves it; while it watches, it waits for a 64th of the
 * ring to be free, not just for room for its elements, so that the two
 * sides meet once per run of elements (at every element, 64-byte messages
 * ran at half their speed).  While a consumer keeps taking elements, its
 * producers keep pace with it at that depth, the bytes stay in a ring
 * that stays in the caches, and a producer that waits gives its CPU to
 * the consumer.  The list is still unbounded and the push never waits
 * for long: when no pop comes for DEEP_WAIT_NS (longer than the hiccups
 * of a busy VM, which made a 50 us wait spill now and then), or after
 * DEEP_MAX_NS of waiting in all, the push grows the ring or spills as
 * before.  A thread that waited in vain does so at once until the head
 * moves again (or for DEEP_IDLE_NS), so that producers ahead of a
 * consumer that stopped or went away wait now and then, not at every
 * push. */
#define DEEP_WAIT_NS 200000
#define DEEP_MAX_NS 2000000
#define DEEP_IDLE_NS 20000000

static _Thread_local struct {
    _Atomic uint32_t *word;     /* the head's wake word that did not move */
    uint32_t seen;              /* its value then */
    int64_t until;              /* spill without a wait until then (CLOCK_MONOTONIC ns) */
} deep_idle;

/* Count the caller among the head's sleepers and note the word's value,
 * under the head's lane, which every pop holds while it moves the word
 * and reads the count: a pop after this wakes the caller, a pop before
 * it left room that the caller's next try sees. */
static int deep_count(shmkv *db, struct shard *s, struct wait *dw, _Atomic uint32_t *word)
{
    int r = shmkv__lane_take(db, s, SHMKV_HEAD);
    if (r)
        return r;
    dw->counted = true;
    shmkv__wait_prepare(dw, word, &s->lane[SHMKV_HEAD].sleepers);
    shmkv__lane_drop(s, SHMKV_HEAD);
    return 0;
}

/* Sleep on dw's word until a pop moves it or until end (ns): moved? */
static bool deep_sleep(struct wait *dw, int64_t end)
{
    struct timespec d = {end / 1000000000L, end % 1000000000L};
    shmkv__wait_sleep(dw, &d); /* (a signal: as no pop, the push spills) */
    shmkv__wait_awake(dw);
    return racy_u32(dw->word) != dw->seen;
}

/* lane_push, waiting for a pop while the push would grow a big ring or
 * spill (LIST_DEEP). */
static int lane_push_deep(shmkv *db, const struct wreq *w)
{
    struct push_arg *a = w->arg;
    int r = lane_push(db, w);
    if (r != LIST_DEEP || a->now)
        return r == LIST_DEEP ? LIST_SLOW : r;
    int64_t start = shmkv__host_mono_ns(), spin = SPIN_NS;
    if (deep_idle.word == a->wt.word && racy_u32(a->wt.word) == deep_idle.seen && start < deep_idle.until)
        return LIST_SLOW; /* no pop since this thread waited in vain, a while ago */
    a->slack = true; /* (a watcher is woken by no one: it may wait for more room) */
    while (spin > 0 && shmkv__wait_spin(&a->wt, &spin))
        if ((r = lane_push(db, w)) != LIST_DEEP)
            break;
    a->slack = false;
    if (r != LIST_DEEP)
        return r;
    for (;;) {
        struct wait dw = {0};
        if ((r = deep_count(db, w->s, &dw, a->wt.word)))
            return r;
        r = lane_push(db, w); /* room made before the count */
        int64_t now = shmkv__host_mono_ns(), end = now + DEEP_WAIT_NS;
        end = end < start + DEEP_MAX_NS ? end : start + DEEP_MAX_NS;
        if (r != LIST_DEEP || now >= end) {
            shmkv__wait_awake(&dw);
            return r == LIST_DEEP ? LIST_SLOW : r;
        }
        if (!deep_sleep(&dw, end)) {
            if (end - now == DEEP_WAIT_NS) { /* a whole wait without a pop */
                deep_idle.word = dw.word;
                deep_idle.seen = dw.seen;
                deep_idle.until = shmkv__host_mono_ns() + DEEP_IDLE_NS;
            }
            return LIST_SLOW;
        }
        if ((r = lane_push(db, w)) != LIST_DEEP)
            return r;
    }
}

/* A push, waiting for room while the list would hold more than max. */
static int push_wait(shmkv *db, const void *key, size_t klen, const shmkv_elem *elems, size_t n, int end,
                     uint64_t max, int64_t timeout_ms)
{
    int r = check_list_write(db, key, klen, end);
    if (r)
        return r;
    if ((!elems && n) || !max || n > max)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((r = check_elem(db, elems[i].val, elems[i].vlen)))
            return r;
    if (!n)
        return 0;
    struct push_arg a = {.elems = elems, .n = n, .end = end, .max = max, .now = max != UINT64_MAX && !timeout_ms};
    struct wreq w;
    wreq_setup_list(db, &w, key, klen, decide_push, &a);
    return shmkv__wait_loop(db, &w, &a.wt, lane_push_deep, timeout_ms);
}

SHMKV_API int shmkv_push_many(shmkv *db, const void *key, size_t klen, const shmkv_elem *elems, size_t n, int end)
{
    return push_wait(db, key, klen, elems, n, end, UINT64_MAX, 0);
}

SHMKV_API int shmkv_push_bounded(shmkv *db, const void *key, size_t klen, const shmkv_elem *elems, size_t n, int end,
                                 uint64_t max_len, int64_t timeout_ms)
{
    return push_wait(db, key, klen, elems, n, end, max_len, timeout_ms);
}

SHMKV_API int shmkv_push(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, int end)
{
    shmkv_elem e = {val, vlen};
    return shmkv_push_many(db, key, klen, &e, 1, end);
}

/* ---- pop ---- */

struct pop_arg {
    int end;
    void *buf;
    size_t cap, *lens, max, n;
    struct wait wt;             /* nothing found: where to wait for a push */
};

static int decide_pop(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    struct pop_arg *a = w->arg;
    a->wt.word = NULL;
    a->wt.waiters = NULL;
    if (c->present)
        return -EMEDIUMTYPE;
    w->rc = -EAGAIN;
    if (!c->list) {
        shmkv__wait_prepare(&a->wt, &w->s->list_wake, &w->s->list_waiters);
        return 0;
    }
    struct list *l = list_at(db, c->list);
    uint32_t len = list_len(atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed),
                            atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed));
    if (!len) {
        shmkv__wait_prepare(&a->wt, &l->end[SHMKV_TAIL].wake, &w->s->list_waiters);
        return 0;
    }
    long k = shmkv__list_peek(db, c->list, a->end, a->max, a->buf, a->cap, a->lens);
    if (k < 0)
        return (int)k;
    p->work = shmkv__list_pop(db, w->s, c->list, a->end, (uint32_t)k); /* garbage in the log: as above */
    a->n = (size_t)k;
    w->rc = 0;
    return 0;
}

/* A pop at the head of an existing list through the head's lane (as
 * lane_push): 0 (a->n popped), -EAGAIN (empty: a->wt.word and .seen to
 * watch, not counted as a sleeper), an error, or LIST_SLOW. */
static int lane_pop(shmkv *db, const struct wreq *w)
{
    struct pop_arg *a = w->arg;
    if (a->end != SHMKV_HEAD)
        return LIST_SLOW;
    struct shard *s = w->s;
    int r = shmkv__lane_take(db, s, SHMKV_HEAD);
    if (r)
        return r;
    uint64_t lrun;
    long k = shmkv__lane_closed(s, SHMKV_HEAD) ? LIST_SLOW : lane_find(db, w, SHMKV_HEAD, &lrun);
    if (!k && (k = shmkv__list_lane_pop(db, s, lrun, a->max, a->buf, a->cap, a->lens, &a->wt.seen)) == 0) {
        a->wt.word = &list_at(db, lrun)->end[SHMKV_TAIL].wake;
        k = -EAGAIN;
    }
    shmkv__lane_drop(s, SHMKV_HEAD);
    if (k > 0) {
        a->n = (size_t)k;
        return 0;
    }
    return k == -EAGAIN || k == -EMEDIUMTYPE || k == -ENOBUFS ? (int)k : LIST_SLOW;
}

SHMKV_API int shmkv_pop_many(shmkv *db, const void *key, size_t klen, int end, void *buf, size_t cap, size_t *lens,
                             size_t max, size_t *n, int64_t timeout_ms)
{
    int r = check_list_write(db, key, klen, end);
    if (r)
        return r;
    if (!lens || !n || !max || (!buf && cap))
        return -EINVAL;
    *n = 0;
    struct pop_arg a = {.end = end, .buf = buf, .cap = cap, .lens = lens, .max = max};
    struct wreq w;
    wreq_setup_list(db, &w, key, klen, decide_pop, &a);
    if ((r = shmkv__wait_loop(db, &w, &a.wt, lane_pop, timeout_ms)) == 0)
        *n = a.n;
    return r;
}

SHMKV_API int shmkv_pop(shmkv *db, const void *key, size_t klen, int end, void *buf, size_t cap, size_t *vlen,
                        int64_t timeout_ms)
{
    if (!vlen)
        return -EINVAL;
    size_t n;
    return shmkv_pop_many(db, key, klen, end, buf, cap, vlen, 1, &n, timeout_ms);
}

/* ---- move ---- */

/* Make dst's list if it does not exist: a push of nothing. */
static int ensure_list(shmkv *db, const void *key, size_t klen)
{
    struct push_arg a = {.end = SHMKV_TAIL, .max = UINT64_MAX};
    struct wreq w;
    shmkv__wreq_init(db, &w, key, klen, decide_push, &a);
    w.lists = true;
    return shmkv__write(db, &w);
}

/* Both shards' locks (in index order), then both shards' lanes: a move
 * changes lists beyond what a lane may (list.c). */
static int lock_pair(shmkv *db, struct shard *a, struct shard *b)
{
    struct shard *lo = a < b ? a : b, *hi = a < b ? b : a;
    int r = shmkv__shard_lock(db, lo);
    if (r)
        return r;
    if (lo != hi && (r = shmkv__shard_lock(db, hi))) {
        shmkv__shard_unlock(lo);
        return r;
    }
    if (!(r = shmkv__lanes_take(db, lo)) && lo != hi && (r = shmkv__lanes_take(db, hi)))
        shmkv__lanes_drop(lo);
    if (r) {
        shmkv__shard_unlock(lo);
        if (lo != hi)
            shmkv__shard_unlock(hi);
    }
    return r;
}

static void unlock_pair(struct shard *a, struct shard *b)
{
    shmkv__lanes_drop(a);
    if (b != a)
        shmkv__lanes_drop(b);
    shmkv__shard_unlock(a);
    if (b != a)
        shmkv__shard_unlock(b);
}

struct move {
    struct wreq ws, wd;         /* the source's key, the destination's */
    int from, to;
    struct pop_arg a;           /* the element: into a.buf; sleeping */
};

/* One try with both locks held: 0 moved, -EAGAIN nothing to move (sleep
 * as m->a says), 1 the destination list must be made first, or an error. */
static int move_locked(shmkv *db, struct move *m)
{
    struct cur cs, cd;
    int r = shmkv__write_find(db, &m->ws, &cs);
    if (!r)
        r = shmkv__write_find(db, &m->wd, &cd);
    if (r)
        return r;
    if (cs.present || cd.present)
        return -EMEDIUMTYPE;
    struct list *ls = cs.list ? list_at(db, cs.list) : NULL;
    uint32_t len = ls ? list_len(atomic_load_explicit(&ls->end[SHMKV_HEAD].w, memory_order_relaxed),
                                 atomic_load_explicit(&ls->end[SHMKV_TAIL].w, memory_order_relaxed)) : 0;
    if (!len) {
        if (ls)
            shmkv__wait_prepare(&m->a.wt, &ls->end[SHMKV_TAIL].wake, &m->ws.s->list_waiters);
        else
            shmkv__wait_prepare(&m->a.wt, &m->ws.s->list_wake, &m->ws.s->list_waiters);
        return -EAGAIN;
    }
    long k = shmkv__list_peek(db, cs.list, m->from, 1, m->a.buf, m->a.cap, m->a.lens);
    if (k < 0)
        return (int)k;
    if (!cd.list) /* only now: a move that fails (-ENOBUFS) makes no list */
        return 1;
    m->a.n = 1;
    if (cs.list == cd.list && m->from == m->to)
        return 0; /* popped and pushed back where it was */
    struct list *ld = list_at(db, cd.list);
    ls->move_to = (uint32_t)m->to;
    ls->move_from = (uint32_t)m->from;
    ls->move_dst_end = atomic_load_explicit(&ld->end[m->to].w, memory_order_relaxed);
    ls->move_src_end = atomic_load_explicit(&ls->end[m->from].w, memory_order_relaxed);
    ld->move_src = cs.list; /* the destination's half of the journal */
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store(&ls->move_dst, cd.list); /* the journal is armed: list.c's repair_move */
    struct piece v = {m->a.buf, m->a.lens[0]};
    r = shmkv__list_push(db, m->wd.s, cd.list, &v, 1, m->to);
    r = r > 0 ? 0 : r; /* (the move does its shards' background steps) */
    if (!r) {
        shmkv__pause_at(PAUSE_MOVE_PUSHED);
        shmkv__list_pop(db, m->ws.s, cs.list, m->from, 1);
    }
    atomic_store(&ls->move_dst, 0);
    atomic_signal_fence(memory_order_seq_cst);
    ld->move_src = 0;
    if (!r)
        shmkv__list_wake(m->wd.s, ld, 1);
    return r;
}

SHMKV_API int shmkv_move(shmkv *db, const void *src, size_t slen, int from, const void *dst, size_t dlen, int to,
                         void *buf, size_t cap, size_t *vlen, int64_t timeout_ms)
{
    int r = check_list_write(db, src, slen, from);
    if (!r)
        r = check_list_write(db, dst, dlen, to);
    if (r)
        return r;
    if (!vlen || (!buf && cap))
        return -EINVAL;
    struct move m = {.from = from, .to = to};
    m.a = (struct pop_arg){.end = from, .buf = buf, .cap = cap, .lens = vlen, .max = 1};
    shmkv__wreq_init(db, &m.ws, src, slen, NULL, NULL);
    shmkv__wreq_init(db, &m.wd, dst, dlen, NULL, NULL);
    struct timespec deadline;
    shmkv__wait_deadline(timeout_ms, &deadline);
    int64_t watch = SPIN_NS;
    for (int round = 0, stuck = 0;;) {
        m.a.wt.word = NULL;
        if ((r = lock_pair(db, m.ws.s, m.wd.s)))
            return r;
        m.ws.now = m.wd.now = 0;
        r = move_locked(db, &m);
        if (r == 0) {
            shmkv__clean_step(db, m.ws.s, false);
            if (m.wd.s != m.ws.s)
                shmkv__clean_step(db, m.wd.s, false);
        }
        unlock_pair(m.ws.s, m.wd.s);
        if (r == 1) {
            if ((r = ensure_list(db, dst, dlen)))
                return r;
        } else if (r == -ENOSPC) {
            if (!shmkv__write_make_room(db, &m.wd, round++, &stuck))
                return r;
        } else if (r != -EAGAIN || !m.a.wt.word || !timeout_ms) {
            return r;
        } else if (!m.a.wt.counted) { /* as wait_loop: watch, then a counted try */
            m.a.wt.counted = watch <= 0 || !shmkv__wait_spin(&m.a.wt, &watch);
        } else {
            r = shmkv__wait_sleep(&m.a.wt, &deadline);
            shmkv__wait_awake(&m.a.wt);
            if (r)
                return r == -ETIME ? -EAGAIN : r;
        }
    }
}

/* ---- llen and lrange ---- */

static int read_len(shmkv *db, uint64_t lrun, void *ctx)
{
    struct list *l = list_at(db, lrun);
    *(uint64_t *)ctx = list_len(atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_acquire),
                                atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_acquire));
    return 0;
}

SHMKV_API int shmkv_llen(shmkv *db, const void *key, size_t klen, uint64_t *len)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (!len)
        return -EINVAL;
    *len = 0;
    r = shmkv__read_list(db, key, klen, read_len, len);
    return r == -ENOENT ? 0 : r;
}

/* The elements of a range, copied out: [u32 length][bytes]... */
struct range {
    int64_t start, stop;
    uint8_t *p;
    size_t len, cap;
};

/* Copy the range's elements (as they are now) into rg; -ESTALE if the
 * list moved while copying (read-only handles copy racily). */
static int copy_range(shmkv *db, uint64_t lrun, void *ctx)
{
    struct range *rg = ctx;
    rg->len = 0;
    return shmkv__list_copy(db, lrun, rg->start, rg->stop, &rg->p, &rg->len, &rg->cap);
}

static int decide_range(shmkv *db, struct wreq *w, const struct cur *c, struct plan *p)
{
    (void)p;
    if (c->present)
        return -EMEDIUMTYPE;
    if (!c->list)
        return -ENOENT;
    return copy_range(db, c->list, w->arg);
}

SHMKV_API int shmkv_lrange(shmkv *db, const void *key, size_t klen, int64_t start, int64_t stop,
                           shmkv_visit_fn fn, void *ctx)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (!fn)
        return -EINVAL;
    struct range rg = {.start = start, .stop = stop};
    if (!db->rdonly) { /* copied under the lock: a write that writes nothing */
        struct wreq w;
        shmkv__wreq_init(db, &w, key, klen, decide_range, &rg);
        w.lists = true;
        r = shmkv__write(db, &w);
    } else {
        r = -ESTALE;
        for (unsigned tries = 0; r == -ESTALE && tries < 10000; tries++)
            r = shmkv__read_list(db, key, klen, copy_range, &rg);
        if (r == -ESTALE)
            r = -EAGAIN;
    }
    for (size_t pos = 0; !r && pos < rg.len;) {
        uint32_t n;
        memcpy(&n, rg.p + pos, 4);
        r = fn(ctx, key, klen, rg.p + pos + 4, n);
        pos += 4 + (size_t)n;
    }
    free(rg.p);
    return r;
}
