/*
 * alloc.c - the run allocator and file growth.
 *
 * Everything past the shard array is carved into runs: contiguous spans of
 * 4 KiB units, each opened by a struct run header.  Runs tile
 * [data_off, top) without gaps, which is the invariant everything here
 * rests on: walking from data_off by nunits visits every run, so the free
 * lists can always be rebuilt from the headers alone (alloc_repair).
 *
 * Free runs sit in 41 singly linked lists by size class floor(log2 units).
 * Allocation is first fit from the smallest class that can hold the
 * request, splitting the tail off a larger run, else bump allocation at
 * top.  Released runs that end at top shrink top instead.  When nothing
 * fits and an eighth or more of the runs' space is free (or the file can
 * grow no more), adjacent free runs are coalesced by one walk and the
 * search is repeated, so fragmentation turns neither into unbounded
 * growth nor into a spurious -ENOSPC.
 *
 * The file is extended with fallocate() before top passes file_size, so a
 * full file system yields -ENOSPC here, never SIGBUS later.
 *
 * Crash safety: every step that changes the walkable skeleton is one
 * aligned store made after the memory it exposes is valid (a split writes
 * the tail's header before shrinking the run that covered it; a bump
 * writes the header before raising top).  A holder that dies mid-way
 * leaves at worst stale list links or a RUN_NEW run, both fixed by the
 * rebuild the next lock holder runs on EOWNERDEAD.
 *
 * Compaction needs room to move live records before it can release their
 * old run, so ordinary allocations leave a small headroom free; compaction
 * (reserve = true) may dip into it.
 */
#include "alloc.h"

#include "atomics.h"
#include "fault.h"
#include "host.h"
#include "lock.h"
#include "map.h"

#include <errno.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned class_of(uint64_t nunits) { return 63u - (unsigned)__builtin_clzll(nunits); }

static uint64_t cap_units(const shmkv *db) { return (db->reserve - db->data_off) >> UNIT_SHIFT; }

uint64_t shmkv__headroom_units(const shmkv *db)
{
    uint64_t h = cap_units(db) / 64;
    return h < 4 ? 4 : h > 256 ? 256 : h;
}

/* The file may not grow past the process's RLIMIT_FSIZE: the kernel would
 * kill the writer with SIGXFSZ.  The limit is per process, so it is asked
 * at every growth (a rare step). */
static uint64_t fsize_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) || rl.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    return (uint64_t)rl.rlim_cur;
}

/* file_size moves only up: a writer growing ahead (below) publishes
 * without the allocator's lock.  Release: the file's new size (fallocate)
 * comes before the header says it (marks_ok in table.c reads backwards). */
static void raise_size(struct hdr *h, uint64_t to)
{
    uint64_t cur = atomic_load_explicit(&h->file_size, memory_order_relaxed);
    while (cur < to && !atomic_compare_exchange_weak_explicit(&h->file_size, &cur, to, memory_order_release,
                                                              memory_order_relaxed))
        ;
}

/* fallocate [from, to), GROW_MAX at a time, moving grow_progress on
 * after each step: the growth runs under the allocator's lock and the
 * caller's (a shard's, its lanes), and the waiters for those count their
 * second from the last step (lock.c).  A growth of 32 MiB (a list's ring
 * doubling to 16 MiB) took a second on a VM whose host backs freed memory
 * again only when it is touched: every waiter gave up (test_list_threads).
 * 0 or a positive errno. */
static int fallocate_steps(shmkv *db, uint64_t from, uint64_t to)
{
    for (uint64_t at = from; at < to;) {
        uint64_t n = to - at < GROW_MAX ? to - at : GROW_MAX;
        int r;
        shmkv__stall_at(STALL_GROW_STEP);
        do {
            r = shmkv__fault_hit(FAULT_FALLOCATE) ? ENOSPC : fallocate(db->fd, 0, (off_t)at, (off_t)n) ? errno : 0;
        } while (r == EINTR);
        if (r == EOPNOTSUPP)
            r = posix_fallocate(db->fd, (off_t)at, (off_t)n);
        if (r)
            return r;
        atomic_fetch_add_explicit(&db->hdr->grow_progress, 1, memory_order_relaxed);
        at += n;
    }
    return 0;
}

static int file_grow(shmkv *db, uint64_t need)
{
    struct hdr *h = db->hdr;
    uint64_t cur = atomic_load_explicit(&h->file_size, memory_order_relaxed);
    if (need <= cur)
        return 0;
    if (need > db->reserve)
        return -ENOSPC;
    /* a step at a time; fall back to the exact need when space is short */
    uint64_t want = cur + shmkv__grow_step(cur);
    if (want < need)
        want = need;
    if (want > db->reserve)
        want = db->reserve;
    want = (want + UNIT - 1) & ~(UNIT - 1);
    if (want > db->reserve)
        want = db->reserve & ~(UNIT - 1);
    uint64_t lim = fsize_limit();
    if (need > lim)
        return -ENOSPC; /* the file can grow no more: as a quota would say */
    if (want > lim)
        want = need;
    for (int attempt = 0; attempt < 2; attempt++) {
        uint64_t to = attempt ? need : want;
        int r = fallocate_steps(db, cur, to);
        if (r == 0) {
            raise_size(h, to);
            atomic_fetch_add_explicit(&db->grew_locked, 1, memory_order_relaxed);
            return 0;
        }
        if (r != ENOSPC && r != EFBIG && r != EDQUOT)
            return -r;
        if (to == need)
            break;
    }
    return -ENOSPC;
}

/* ---- growing ahead ----
 *
 * Growth made by the allocator, under its lock, stalls every writer that
 * needs a run meanwhile, and behind their shard locks the writers of those
 * shards: fallocate of a step, then each process's map_in of it, take a
 * millisecond or more.  On 16 cores, 16 processes putting 10 M keys were
 * off the CPU half their time and puts stopped scaling past 8 processes;
 * on 2 cores, perf traced such sleeps (some 5 % of the writers' time) to
 * this convoy.  So a writer leaving a write, no lock held, grows the
 * file a quarter step past its end once less than a quarter step is left
 * after top, and maps in what others grew.  While that keeps up, the file
 * is at most half a step past top (the allocator's own growth leaves up
 * to a step; growing by halves kept more slack on average and took a
 * 10 M-key table from 44.5 to 45.0 bytes a pair).  2 MiB at 8 MiB steps
 * still lasts milliseconds of 16 writers' puts, longer than fallocating
 * and mapping it in takes.  One process at a time: the claim is a stamp
 * in ms, taken over once AHEAD_STALE_MS old (its holder died or was
 * stopped; a late one's growth is harmless, fallocate of allocated space
 * a no-op).  All of it best effort: a failure here leaves growth to the
 * allocator, which reports it. */
#define AHEAD_STALE_MS 1000u

static bool ahead_claim(struct hdr *h, uint32_t now)
{
    uint32_t c = atomic_load_explicit(&h->grow_claim, memory_order_relaxed);
    return (!c || now - c >= AHEAD_STALE_MS) &&
           atomic_compare_exchange_strong_explicit(&h->grow_claim, &c, now, memory_order_acquire,
                                                   memory_order_relaxed);
}

void shmkv__alloc_ahead_step(shmkv *db)
{
    if (db->rdonly)
        return;
    struct hdr *h = db->hdr;
    uint64_t size = atomic_load_explicit(&h->file_size, memory_order_acquire);
    if (size > atomic_load_explicit(&db->mapped_in, memory_order_relaxed))
        shmkv__map_refresh(db);
    uint64_t top = atomic_load_explicit(&h->top, memory_order_relaxed), part = shmkv__grow_step(size) / 4;
    if (top > size || size - top >= part)
        return;
    /* after a failure (a full file system), not again at this size: a
     * failing fallocate at the end of every write would cost a syscall each */
    if (size == atomic_load_explicit(&db->ahead_failed, memory_order_relaxed))
        return;
    uint32_t now = (uint32_t)(shmkv__host_mono_ns() / 1000000) | 1;
    if (!ahead_claim(h, now))
        return;
    size = atomic_load_explicit(&h->file_size, memory_order_acquire); /* it may have moved meanwhile */
    uint64_t to = size + part, cap = db->reserve & ~(UNIT - 1);
    to = (to + UNIT - 1) & ~(UNIT - 1);
    if (to > cap)
        to = cap;
    /* a failure here is silent: the allocator grows under its lock when
     * it must, and its caller sees that failure if it fails too */
    if (to > size && to <= fsize_limit() && !shmkv__fault_hit(FAULT_FALLOCATE) &&
        fallocate(db->fd, 0, (off_t)size, (off_t)(to - size)) == 0) {
        /* Map in first: a tmpfs zeroes a fallocated page when it is first
         * mapped, under the page's lock, and others who mapped it in at
         * the same time slept on that lock, page after page.  Others map
         * in once the header says (above); by then it is done. */
        shmkv__map_refresh(db);
        shmkv__pause_at(PAUSE_GROWING_AHEAD);
        raise_size(h, to);
        atomic_fetch_add_explicit(&db->grew_ahead, 1, memory_order_relaxed);
    } else {
        atomic_store_explicit(&db->ahead_failed, size, memory_order_relaxed);
    }
    atomic_compare_exchange_strong_explicit(&h->grow_claim, &now, 0, memory_order_release, memory_order_relaxed);
}

static void list_push(shmkv *db, uint64_t off)
{
    struct hdr *h = db->hdr;
    struct run *r = run_at(db, off);
    unsigned c = class_of(r->nunits);
    r->next = h->free_head[c];
    h->free_head[c] = off;
}

static bool run_sane(shmkv *db, uint64_t off, uint64_t top)
{
    if (off < db->data_off || off >= top || (off - db->data_off) % UNIT)
        return false;
    if (!mem_ok(db, off, RUN_HDR))
        return false;
    struct run *r = run_at(db, off);
    return r->nunits >= 1 && r->nunits <= ((top - off) >> UNIT_SHIFT);
}

/* Walk every run: merge neighbouring free runs, turn RUN_NEW (allocated
 * by a holder that died) into free, rebuild the lists and counters, and
 * give a free tail back to top.  Caller holds alloc_lock. */
static int rebuild(shmkv *db)
{
    struct hdr *h = db->hdr;
    uint64_t top = atomic_load_explicit(&h->top, memory_order_relaxed);
    uint64_t off = db->data_off, free_units = 0, last_free = 0;

    memset(h->free_head, 0, sizeof h->free_head);
    while (off < top) {
        if (!run_sane(db, off, top))
            return -EBADMSG;
        struct run *r = run_at(db, off);
        if (r->kind == RUN_NEW)
            r->kind = RUN_FREE;
        if (r->kind == RUN_FREE) {
            /* absorb following free runs: one store per merge, and the
             * absorbed headers simply become interior bytes */
            for (;;) {
                uint64_t nx = off + (r->nunits << UNIT_SHIFT);
                if (nx >= top || !run_sane(db, nx, top))
                    break;
                struct run *n = run_at(db, nx);
                if (n->kind != RUN_FREE && n->kind != RUN_NEW)
                    break;
                r->nunits += n->nunits;
            }
            last_free = off;
        } else {
            last_free = 0;
        }
        off += r->nunits << UNIT_SHIFT;
    }
    if (last_free) /* a free run at the end: hand it back to top */
        atomic_store_explicit(&h->top, top = last_free, memory_order_relaxed);
    for (off = db->data_off; off < top; off += run_at(db, off)->nunits << UNIT_SHIFT) {
        struct run *r = run_at(db, off);
        if (r->kind == RUN_FREE) {
            list_push(db, off);
            free_units += r->nunits;
        }
    }
    atomic_store_explicit(&h->free_units, free_units, memory_order_relaxed);
    return 0;
}

static int repair_alloc(void *ctx) { return rebuild(ctx); }

int shmkv__alloc_lock_for(shmkv *db, int64_t wait_ns)
{
    struct lock_note note;
    int r = shmkv__lock_take(&db->hdr->alloc_lock, wait_ns, &db->hdr->grow_progress, repair_alloc, db, &note);
    if (note.recovered)
        atomic_fetch_add_explicit(&db->hdr->alloc_recoveries, 1, memory_order_relaxed);
    if (r == 0)
        shmkv__pause_at(PAUSE_ALLOC_LOCKED);
    return r;
}

int shmkv__alloc_lock(shmkv *db) { return shmkv__alloc_lock_for(db, LOCK_WAIT_NS); }

void shmkv__alloc_unlock(shmkv *db) { shmkv__lock_drop(&db->hdr->alloc_lock); }

static void init_run(shmkv *db, uint64_t off, uint64_t nunits, uint32_t kind, uint32_t shard)
{
    struct run *r = run_at(db, off);
    r->shard = shard;
    r->nunits = nunits;
    r->next = 0;
    atomic_store_explicit(&r->used, RUN_HDR, memory_order_relaxed);
    atomic_store_explicit(&r->live, 0, memory_order_relaxed);
    r->chain = r->exp_max = r->exp_bytes = 0;
    /* a fresh stamp, so a reader validating by (kind, stamp) never takes
     * a new run at an old run's place for the old one */
    r->stamp = atomic_fetch_add_explicit(&db->hdr->run_stamp, 1, memory_order_relaxed);
    r->kind = kind;
}

/* First fit from the free lists.  Returns the run's offset (a RUN_NEW
 * run) or 0. */
static uint64_t take_free(shmkv *db, uint64_t n, uint32_t shard)
{
    struct hdr *h = db->hdr;
    uint64_t top = atomic_load_explicit(&h->top, memory_order_relaxed);
    for (unsigned c = class_of(n); c < NCLASS; c++) {
        uint64_t *link = &h->free_head[c];
        unsigned steps = 0;
        while (*link && steps++ < 1024) {
            uint64_t off = *link;
            if (!run_sane(db, off, top) || run_at(db, off)->kind != RUN_FREE) {
                *link = 0; /* corrupt list: cut it; rebuild can recover */
                break;
            }
            struct run *r = run_at(db, off);
            if (r->nunits == n) {
                *link = r->next;
                init_run(db, off, n, RUN_NEW, shard);
                return off;
            }
            if (r->nunits > n) {
                uint64_t rest = r->nunits - n;
                uint64_t tail = off + (rest << UNIT_SHIFT);
                /* header of the tail first, then shrink: the walk is valid
                 * after either store */
                init_run(db, tail, n, RUN_NEW, shard);
                *link = r->next;
                r->nunits = rest;
                list_push(db, off);
                return tail;
            }
            link = &r->next;
        }
    }
    return 0;
}

/* Give the caller a RUN_NEW run: its offset goes into *out (a journal
 * field or a link in the file) before the run takes its kind.  A writer
 * killed before that store leaves a RUN_NEW run, which the rebuild that
 * follows on the allocator lock frees; after it, the caller's journal
 * reaches the run.  (Taking the kind first leaked the run: found by
 * test_cache's kills in CI.)  The fence keeps the compiler from swapping
 * the two stores; a killed process loses no store it made. */
static void hand_over(shmkv *db, uint64_t off, uint32_t kind, uint64_t *out)
{
    *out = off;
    atomic_signal_fence(memory_order_seq_cst);
    run_at(db, off)->kind = kind;
}

/* Allocate a run of n units.  *out receives its offset before the
 * allocator's lock is released: callers pass a journal field or a link in
 * the file, so that a writer killed right after allocating leaks nothing. */
int shmkv__run_alloc(shmkv *db, uint64_t n, uint32_t kind, uint32_t shard, bool reserve, uint64_t *out)
{
    struct hdr *h = db->hdr;
    int r = shmkv__alloc_lock(db);
    if (r)
        return r;
    uint64_t top = atomic_load_explicit(&h->top, memory_order_relaxed);
    if (top < db->data_off || top > db->reserve || !mem_ok(db, db->data_off, top - db->data_off)) {
        r = -EBADMSG;
        goto out;
    }
    uint64_t avail = atomic_load_explicit(&h->free_units, memory_order_relaxed) +
                     ((db->reserve - top) >> UNIT_SHIFT);
    uint64_t keep = reserve ? 0 : shmkv__headroom_units(db);
    if (n + keep > avail) {
        r = -ENOSPC;
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        uint64_t off = take_free(db, n, shard);
        if (off && !mem_ok(db, off, n << UNIT_SHIFT)) {
            r = -EBADMSG;
            goto out;
        }
        if (off) {
            atomic_store_explicit(&h->free_units,
                                  atomic_load_explicit(&h->free_units, memory_order_relaxed) - n,
                                  memory_order_relaxed);
            hand_over(db, off, kind, out);
            goto out;
        }
        top = atomic_load_explicit(&h->top, memory_order_relaxed);
        /* Plenty free but in pieces too small: coalesce before growing,
         * or a churn of big values would grow the file without bound. */
        uint64_t fu = atomic_load_explicit(&h->free_units, memory_order_relaxed);
        if (pass == 0 && fu >= n && fu * 8 >= (top - db->data_off) >> UNIT_SHIFT) {
            if ((r = rebuild(db)))
                goto out;
            continue;
        }
        if (top + (n << UNIT_SHIFT) <= db->reserve) {
            r = file_grow(db, top + (n << UNIT_SHIFT));
            if (r)
                goto out;
            if (!mem_ok(db, top, n << UNIT_SHIFT)) { /* header lies about the file */
                r = -EBADMSG;
                goto out;
            }
            init_run(db, top, n, RUN_NEW, shard);
            atomic_store_explicit(&h->top, top + (n << UNIT_SHIFT), memory_order_release);
            hand_over(db, top, kind, out);
            goto out;
        }
        /* enough space in total but not in one piece: coalesce, retry */
        if ((r = rebuild(db)))
            goto out;
    }
    r = -ENOSPC;
out:
    shmkv__alloc_unlock(db);
    return r;
}

/* Give run off back to the free lists (the allocator's lock held).
 * Readers of the owning shard may still be copying records out of this
 * run.  Bumping that shard's epoch before the run can be handed out
 * again makes any such copy fail its validation and retry: the bump is
 * announced before any later store that reuses the memory. */
static void free_locked(shmkv *db, uint64_t off)
{
    struct hdr *h = db->hdr;
    struct run *r = run_at(db, off);
    if (r->shard < nshards(db))
        seq_bump_shared(&db->shards[r->shard].epoch);
    uint64_t n = r->nunits;
    uint64_t top = atomic_load_explicit(&h->top, memory_order_relaxed);
    r->kind = RUN_FREE;
    r->stamp = atomic_fetch_add_explicit(&h->run_stamp, 1, memory_order_relaxed); /* see init_run */
    if (off + (n << UNIT_SHIFT) == top) {
        atomic_store_explicit(&h->top, off, memory_order_release);
    } else {
        list_push(db, off);
        atomic_store_explicit(&h->free_units,
                              atomic_load_explicit(&h->free_units, memory_order_relaxed) + n,
                              memory_order_relaxed);
    }
}

/* A sound run of shard s (by its header) that free_locked may take. */
static bool freeable(shmkv *db, uint64_t off, const struct shard *s)
{
    if (off < db->data_off || (off - db->data_off) % UNIT || !mem_ok(db, off, RUN_HDR))
        return false;
    struct run *r = run_at(db, off);
    uint64_t top = atomic_load_explicit(&db->hdr->top, memory_order_relaxed);
    return r->shard == shard_index(db, s) && r->kind != RUN_FREE && r->nunits >= 1 &&
           r->nunits <= (top - off) >> UNIT_SHIFT;
}

/* The allocator is busy (its holder is stopped, or slow): the run waits
 * on its shard's deferred list, which the shard's next lock holder
 * drains.  The caller journaled the run (pending_*) before, so a writer
 * killed between these stores leaves a RUN_DEFER run that repair puts on
 * the list (shmkv__run_settle). */
static void defer(shmkv *db, struct shard *s, uint64_t off)
{
    struct run *r = run_at(db, off);
    /* the kind changes under lock-free readers still copying a value
     * chained through this run (its chain is only followed through huge
     * runs): tell them first, as a release does, or they report the
     * value damaged (found by test_torture under ASan: -EBADMSG from
     * get_many and foreach) */
    seq_bump_shared(&s->epoch);
    r->kind = RUN_DEFER;
    r->next = s->deferred;
    atomic_signal_fence(memory_order_seq_cst); /* the link before the head */
    s->deferred = off;
}

void shmkv__run_free(shmkv *db, struct shard *s, uint64_t off)
{
    if (!freeable(db, off, s))
        return; /* corrupt: leak rather than risk worse */
    /* Once a release of this shard found the allocator busy, the next
     * ones do not wait for it again: releasing many runs (a clear) waited
     * a second for each while a live process held the allocator's lock
     * (49 s for one shmkv_clear in test_hostile). */
    if (shmkv__alloc_lock_for(db, s->deferred ? 0 : LOCK_WAIT_NS) == 0) {
        free_locked(db, off);
        shmkv__alloc_unlock(db);
    } else {
        defer(db, s, off);
    }
}

static bool on_deferred_list(shmkv *db, const struct shard *s, uint64_t off)
{
    unsigned n = 0;
    for (uint64_t x = s->deferred; x && n < (1u << 20); x = run_at(db, x)->next, n++) {
        if (x == off)
            return true;
        if (!mem_ok(db, x, RUN_HDR))
            break;
    }
    return false;
}

bool shmkv__run_settle(shmkv *db, struct shard *s, uint64_t off)
{
    if (!freeable(db, off, s) || run_at(db, off)->kind != RUN_DEFER)
        return false;
    if (!on_deferred_list(db, s, off)) {
        run_at(db, off)->next = s->deferred;
        s->deferred = off;
    }
    return true;
}

void shmkv__run_drain(shmkv *db, struct shard *s)
{
    if (s->pending_defer) { /* a drain that died: the run is off the list */
        uint64_t ro = s->pending_defer;
        s->pending_defer = 0;
        shmkv__run_settle(db, s, ro);
    }
    if (!s->deferred || shmkv__alloc_lock_for(db, 0))
        return;
    for (unsigned n = 0; s->deferred && n < (1u << 20); n++) {
        uint64_t ro = s->deferred;
        if (!freeable(db, ro, s) || run_at(db, ro)->kind != RUN_DEFER) {
            s->deferred = 0; /* corrupt list: cut it (leaks, never crashes) */
            break;
        }
        s->pending_defer = ro;
        s->deferred = run_at(db, ro)->next;
        free_locked(db, ro);
        s->pending_defer = 0;
    }
    shmkv__alloc_unlock(db);
}

int shmkv__alloc_rebuild(shmkv *db) { return rebuild(db); }

void shmkv__run_reclaim(shmkv *db, uint64_t off)
{
    if (off >= db->data_off && !((off - db->data_off) % UNIT) && mem_ok(db, off, RUN_HDR))
        free_locked(db, off);
}
