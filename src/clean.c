/*
 * clean.c - compaction, expiry and the eviction mechanism.
 *
 * Every run counts its live bytes.  Overwrites and deletes turn bytes into
 * garbage; when a shard's garbage passes a quarter of its log, each write
 * also moves a few records out of the run with the most garbage (the
 * greedy policy of log-structured file systems) until that run is empty
 * and can be released.  A record is live iff its key's slot points at it,
 * so moving one is just another append plus one atomic slot store.  The
 * work per operation is bounded (CLEAN_BUDGET records): no pause ever
 * grows with the table.
 *
 * Expiry.  Each run keeps the bytes of its live records that have an
 * expiry and the latest of their times; once that time has passed, those
 * bytes count as garbage, so the greedy cleaner picks the run, and it
 * drops (rather than moves) every expired record it meets.  Nothing ever
 * sweeps the table: a shard notes the earliest time one of its runs
 * becomes wholly due (exp_next) and looks only then.
 *
 * Eviction (cache mode) uses the same walk over the shard's oldest run,
 * deciding per record: expired or never read since it was written or last
 * kept -> dropped (evicted); read -> moved to the open run with its read
 * count lowered by one (FIFO with reinsertion, i.e. CLOCK with a 2-bit
 * count per key, at the granularity of runs).  When and where to evict is
 * evict.c's business.
 */
#include "clean.h"

#include "alloc.h"
#include "atomics.h"
#include "clock.h"
#include "hash.h"
#include "index.h"
#include "list.h"
#include "log.h"
#include "map.h"
#include "shard.h"

/* Table time, read at most once a step and only when an expiry is to be
 * compared: most steps meet none, and reading the clock was a tenth of a
 * write's time when every write also ran a step. */
struct clock_once {
    shmkv *db;
    uint64_t t;
};

static bool due(struct clock_once *now, uint64_t expiry)
{
    if (!expiry)
        return false;
    if (!now->t)
        now->t = shmkv__clock_now(now->db);
    return expired(expiry, now->t);
}

/* Bytes of a run that cleaning it would reclaim now. */
static uint64_t reclaimable(struct run *run, struct clock_once *now)
{
    uint64_t live = atomic_load_explicit(&run->live, memory_order_relaxed);
    uint64_t g = run->kind == RUN_LOG ? atomic_load_explicit(&run->used, memory_order_relaxed) - RUN_HDR - live : 0;
    if (due(now, run->exp_max))
        g += run->exp_bytes < live ? run->exp_bytes : live;
    return g;
}

/* The run with the most to reclaim (garbage and due expiries).  Also
 * recomputes exp_next: the earliest time another run becomes due. */
static uint64_t pick_greedy(shmkv *db, struct shard *s, struct clock_once *now, bool open_too)
{
    uint64_t best = 0, best_g = 0, n = 0, most = runs_bound(db);
    s->exp_next = 0;
    for (uint64_t ro = s->runs; ro && n < most; ro = run_at(db, ro)->next, n++) {
        if (!shmkv__run_listed(db, ro, s))
            break;
        struct run *run = run_at(db, ro);
        if (run->exp_bytes)
            shmkv__note_expiry(s, run->exp_max);
        bool ripe = run->exp_bytes && due(now, run->exp_max);
        if (ro == s->open_run && !ripe && !open_too)
            continue; /* the open run is cleaned for its expiries, or for room */
        uint64_t g = reclaimable(run, now);
        /* any due expiry qualifies, or exp_next would keep us looking */
        if (g > best_g && (g >= 64 || ripe)) {
            best = ro;
            best_g = g;
        }
    }
    return best;
}

/* The oldest run that is not the open one (cache eviction). */
uint64_t shmkv__clean_oldest(shmkv *db, struct shard *s)
{
    unsigned n = 0;
    for (uint64_t ro = s->runs; ro && n < 2; ro = run_at(db, ro)->next, n++) {
        if (!shmkv__run_listed(db, ro, s))
            break;
        if (ro != s->open_run)
            return ro;
    }
    return 0;
}

enum fate { KEEP, MOVE, DROP_EXPIRED, DROP_EVICTED };

/* What becomes of a live record of the run being cleaned. */
static enum fate fate_of(struct shard *s, const struct rec *r, uint64_t slotval, struct clock_once *now, bool force)
{
    if (due(now, rec_expiry(r)))
        return DROP_EXPIRED;
    if (!s->clean_evict)
        return MOVE;
    return slot_reads(slotval) && !force ? MOVE : DROP_EVICTED;
}

static void drop(shmkv *db, struct shard *s, uint64_t tag, _Atomic uint64_t *slot, uint64_t off, enum fate f)
{
    bool pair = rec_type(at(db, off)) == REC_PAIR; /* a lease dropped is voided, not a pair reclaimed */
    shmkv__log_drop(db, s, tag, slot, off);
    if (pair)
        atomic_fetch_add_explicit(f == DROP_EXPIRED ? &s->expirations : &s->evictions, 1, memory_order_relaxed);
}

/* Is the record at off live, and where is the slot that points at it: the
 * key's index slot (*tag set), or for a list's element its ring slot
 * (*tag = UINT64_MAX)? */
static bool referenced(shmkv *db, struct shard *s, uint64_t off, _Atomic uint64_t **slot, uint64_t *tag)
{
    const struct rec *r = at(db, off);
    if (rec_type(r) == REC_ELEM) {
        *tag = UINT64_MAX;
        return shmkv__list_elem_live(db, s, off, slot);
    }
    if (!r->klen) /* every record has a key: damage, which nothing can point at (and hashing none is UB) */
        return false;
    uint64_t h = shmkv__key_hash(db, rec_key(r), r->klen);
    *tag = h & TAG_MASK;
    return shard_of(db, h) == s && shmkv__index_find_off(db, s, *tag, off, slot) == 0;
}

/* The victim is a huge run: drop its record, or (evicting, and it was
 * read) keep it by moving the run to the young end of the list with its
 * read count lowered: no bytes are copied. */
static void clean_huge(shmkv *db, struct shard *s, uint64_t ro, struct clock_once *now, bool force)
{
    uint64_t off = ro + RUN_HDR, tag;
    struct rec *r = (struct rec *)at(db, off);
    _Atomic uint64_t *slot;
    s->clean_run = 0;
    if (!shmkv__rec_run(db, off) || !referenced(db, s, off, &slot, &tag)) {
        shmkv__run_release(db, s, ro); /* nothing points here: garbage */
        return;
    }
    if (tag == UINT64_MAX)
        return; /* a list's element: lists are not evicted, and it never expires */
    uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
    enum fate f = fate_of(s, r, v, now, force);
    if (f == DROP_EXPIRED || f == DROP_EVICTED) {
        drop(db, s, tag, slot, off, f);
    } else if (s->clean_evict) {
        s->pending_log = ro; /* journal: off the list for a moment */
        shmkv__run_list_unlink(db, s, ro);
        shmkv__run_list_append(db, s, ro);
        s->pending_log = 0;
        atomic_store_explicit(slot, slot_with_reads(v, slot_reads(v) - 1), memory_order_relaxed);
    }
}

/* Prefetch the home buckets of the records of run ro from pos on (at
 * most n, below used); returns where it stopped.  Each record's index
 * probe is a cache miss: started together they load in parallel, and a
 * compaction step costs about one miss instead of one per record. */
static uint64_t prefetch_probes(shmkv *db, struct shard *s, uint64_t ro, uint64_t pos, uint64_t used, unsigned n)
{
    for (uint64_t sz; n-- && pos < used && (sz = shmkv__log_rec_size(db, ro, pos, used)); pos += sz) {
        const struct rec *r = at(db, ro + pos);
        if (rec_type(r) != REC_ELEM)
            shmkv__index_prefetch(db, s, shmkv__key_hash(db, rec_key(r), r->klen) & TAG_MASK, NULL);
    }
    return pos;
}

/* Move or drop up to budget records of the victim run; release it when
 * done.  A new victim is the oldest run if evict, else the greedy pick.
 * Evicting drops what cannot be moved; force drops read records too.  In
 * a store, force lets the greedy pick be the open run: room is wanted now,
 * and a full table's garbage may all be there (found by test_nospc: a
 * delete then an add in a full table failed).  Returns false if it could
 * make no progress. */
bool shmkv__clean(shmkv *db, struct shard *s, unsigned budget, bool evict, bool force)
{
    struct clock_once now = {db, 0};
    if (!s->clean_run) {
        s->clean_run = evict ? shmkv__clean_oldest(db, s) : pick_greedy(db, s, &now, force);
        s->clean_pos = RUN_HDR;
        s->clean_evict = evict;
        if (!s->clean_run)
            return false;
        if (s->clean_run == s->open_run)
            shmkv__log_close_open(db, s); /* appends (and moves) go to a new run */
    }
    uint64_t ro = s->clean_run;
    if (s->clean_pos < RUN_HDR || s->clean_pos % 8)
        s->clean_pos = RUN_HDR; /* damage: no record starts there; walking the run again is always safe
                                 * (found by fuzz_open: a misaligned record read, UBSan) */
    if (shmkv__run_ok(db, ro, RUN_HUGE, s)) {
        clean_huge(db, s, ro, &now, force);
        return true;
    }
    if (!shmkv__run_ok(db, ro, RUN_LOG, s)) {
        s->clean_run = 0;
        return false;
    }
    struct run *run = run_at(db, ro);
    uint64_t used = atomic_load_explicit(&run->used, memory_order_relaxed), ahead = 0;
    while (budget-- && s->clean_pos < used && atomic_load_explicit(&run->live, memory_order_relaxed)) {
        if (s->clean_pos >= ahead)
            ahead = prefetch_probes(db, s, ro, s->clean_pos, used, CLEAN_BUDGET);
        uint64_t off = ro + s->clean_pos, sz = shmkv__log_rec_size(db, ro, s->clean_pos, used);
        if (!sz) {
            s->clean_run = 0; /* unparseable (corrupt): leave this run alone */
            return false;
        }
        struct rec *r = (struct rec *)at(db, off);
        uint64_t tag;
        _Atomic uint64_t *slot;
        if (referenced(db, s, off, &slot, &tag)) {
            bool elem = tag == UINT64_MAX;
            uint64_t v = atomic_load_explicit(slot, memory_order_relaxed), noff;
            enum fate f = elem ? MOVE : fate_of(s, r, v, &now, force);
            if (f == MOVE) {
                const uint8_t *k = rec_key(r);
                struct piece val = {k + r->klen, r->vlen};
                if (shmkv__log_append(db, s, k, r->klen, &val, 1, rec_extword(r), true, &noff)) {
                    if (!s->clean_evict)
                        return false; /* no room even in the headroom: try later */
                    f = DROP_EVICTED; /* a cache makes room regardless */
                }
            }
            if (f == MOVE) {
                unsigned reads = slot_reads(v);
                reads -= s->clean_evict && reads;
                atomic_store_explicit(slot, elem ? noff : slot_with_reads(slot_make(noff, tag), reads),
                                      memory_order_release);
                if (elem)
                    shmkv__list_elem_moved(db, off);
                shmkv__log_adopt_new(db, s, noff);
                shmkv__log_retire(db, s, off);
            } else {
                drop(db, s, tag, slot, off, f);
            }
        }
        s->clean_pos += sz;
    }
    /* Done when every record was looked at (then no slot can point into
     * the run: we hold the lock and appends go elsewhere) or when the live
     * count says nothing in it is referenced any more. */
    uint64_t left = atomic_load_explicit(&run->live, memory_order_relaxed);
    if (s->clean_pos >= used || !left) {
        sub64(&s->rec_live, left);
        shmkv__run_release(db, s, ro);
    }
    return true;
}

static bool needs_cleaning(shmkv *db, struct shard *s, bool pressure)
{
    uint64_t log = atomic_load_explicit(&s->log_bytes, memory_order_relaxed);
    uint64_t garbage = log - atomic_load_explicit(&s->rec_live, memory_order_relaxed);
    if (garbage >= UNIT && garbage * 4 >= log)
        return true;
    if (s->exp_next && s->exp_next <= shmkv__clock_now(db))
        return true;
    return pressure;
}

bool shmkv__clean_due(shmkv *db, struct shard *s, bool pressure)
{
    return s->clean_run || needs_cleaning(db, s, pressure);
}

void shmkv__clean_step(shmkv *db, struct shard *s, bool pressure)
{
    if (shmkv__clean_due(db, s, pressure))
        shmkv__clean(db, s, CLEAN_BUDGET, pressure, false);
}

/* Clean until a run has been released or nothing more can be done.
 * Used when an allocation failed.  Returns true if space was freed. */
bool shmkv__clean_some(shmkv *db, struct shard *s)
{
    uint64_t before = atomic_load_explicit(&s->cleaned, memory_order_relaxed);
    for (unsigned i = 0; i < (1u << 16); i++) {
        if (atomic_load_explicit(&s->cleaned, memory_order_relaxed) != before)
            return true;
        if (!shmkv__clean(db, s, 256, false, true))
            return false;
    }
    return atomic_load_explicit(&s->cleaned, memory_order_relaxed) != before;
}


/* Bytes the allocator can hand out: free runs and the file's unused end. */
static uint64_t room(shmkv *db)
{
    uint64_t top = atomic_load_explicit(&db->hdr->top, memory_order_relaxed);
    return (atomic_load_explicit(&db->hdr->free_units, memory_order_relaxed) << UNIT_SHIFT) +
           (db->reserve > top ? db->reserve - top : 0);
}

/* After -ENOSPC in a store: compact every shard but mine (NULL: every
 * one).  Called with no lock held; a shard whose lock stays busy for a while is passed over.
 * Taking a shard's lock also frees the runs waiting on its deferred list
 * (shard.c): room made that way counts too, or a write would fail with
 * -ENOSPC right after freeing what it needed (test_stop alloc_kill). */
#define CLEAN_OTHERS_WAIT_NS 10000000L
bool shmkv__clean_others(shmkv *db, struct shard *mine)
{
    bool freed = false;
    uint64_t room0 = room(db);
    for (uint64_t i = 0; i < nshards(db); i++) {
        struct shard *s = &db->shards[i];
        if (s == mine || shmkv__shard_lock_for(db, s, CLEAN_OTHERS_WAIT_NS))
            continue; /* busy (maybe stopped): the others may free enough */
        freed |= shmkv__clean_some(db, s);
        shmkv__shard_unlock(s);
    }
    return freed || room(db) > room0;
}
