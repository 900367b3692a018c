/*
 * log.c - per-shard record logs and their compaction.
 *
 * Each shard appends its records to its open log run (4 KiB to 256 KiB,
 * sized to about a quarter of the shard's log so small tables stay small
 * and big ones allocate rarely).  A record is written completely, the
 * run's used mark is raised, and only then is its slot published, so a
 * writer killed at any instant leaves either an unpublished record (dead
 * bytes, reclaimed later) or a complete one.  Records of a quarter of the
 * table's largest log run or more (32 KiB in tables of 16 MiB and up) get
 * a run of their own, released as soon as they are overwritten; when no
 * single free run is big enough they are spread over a chain of runs.
 *
 * Every log run counts its live bytes.  Overwrites and deletes turn bytes
 * into garbage; when a shard's garbage passes a quarter of its log, each
 * write also moves a few records out of the run with the most garbage
 * (the greedy policy of log-structured file systems) until that run is
 * empty and can be released.  A record is live iff its key's slot points
 * at it, so the cleaner needs no other bookkeeping, and moving one is just
 * another append plus one atomic slot store.  The work per operation is
 * bounded (CLEAN_BUDGET records): no pause ever grows with the table.
 *
 * A released run may still be read by lock-free readers: run_free() bumps
 * its shard's epoch first, and readers validate against it.
 */
#include "internal.h"

#define CLEAN_BUDGET 16u

static struct rec *rec_at(shmkv *db, uint64_t off) { return at(db, off); }

/* The run a record lies in, validated; 0 if the record or run is bad. */
uint64_t rec_run(shmkv *db, uint64_t off)
{
    if (!mem_ok(db, off, sizeof(struct rec)))
        return 0;
    struct rec *r = rec_at(db, off);
    uint64_t dist = (uint64_t)(r->dist & REC_DIST) << 3;
    if (dist < RUN_HDR || dist > off)
        return 0;
    uint64_t ro = off - dist;
    if (ro < db->data_off || !mem_ok(db, ro, RUN_HDR))
        return 0;
    struct run *run = run_at(db, ro);
    if (run->kind != RUN_LOG && run->kind != RUN_HUGE)
        return 0;
    /* a chained record's value goes on in other runs; its key may not */
    uint64_t inside = r->dist & REC_CHAIN ? sizeof(struct rec) + r->klen : rec_size(r->klen, r->vlen);
    if (off + inside > ro + (run->nunits << UNIT_SHIFT))
        return 0;
    return ro;
}

/* The next run of a chained huge record, validated; 0 if bad. */
static uint64_t chain_next(shmkv *db, uint64_t ro)
{
    uint64_t nx = run_at(db, ro)->next;
    if (!nx || nx < db->data_off || (nx - db->data_off) % UNIT || !mem_ok(db, nx, RUN_HDR))
        return 0;
    struct run *r = run_at(db, nx);
    return r->kind == RUN_HUGE && r->nunits && mem_ok(db, nx, r->nunits << UNIT_SHIFT) ? nx : 0;
}

/* Copy the value of the record at off (header rh, already copied out) to
 * dst, following the chain of a chained record.  Used by lock-free
 * readers, so every step is bounds-checked and the copy may be of memory
 * a writer is recycling: the caller validates with the epoch.  Returns
 * false if an offset or length is out of bounds. */
bool rec_value(shmkv *db, uint64_t off, const struct rec *rh, void *dst)
{
    uint64_t p = off + sizeof *rh + rh->klen, left = rh->vlen;
    uint8_t *d = dst;
    if (!(rh->dist & REC_CHAIN)) {
        if (!mem_ok(db, off, sizeof *rh + (uint64_t)rh->klen + left))
            return false;
        racy_copy(d, at(db, p), left);
        return true;
    }
    uint64_t ro = off - RUN_HDR;
    for (unsigned n = 0; left; n++) {
        if (!mem_ok(db, ro, RUN_HDR) || n > (1u << 20))
            return false;
        uint64_t end = ro + (run_at(db, ro)->nunits << UNIT_SHIFT);
        if (end <= p || !mem_ok(db, p, end - p))
            return false;
        uint64_t chunk = end - p < left ? end - p : left;
        racy_copy(d, at(db, p), chunk);
        d += chunk;
        left -= chunk;
        if (left) {
            if (!(ro = chain_next(db, ro)))
                return false;
            p = ro + RUN_HDR;
        }
    }
    return true;
}

static void add_live(struct run *run, int64_t d)
{
    atomic_store_explicit(&run->live, atomic_load_explicit(&run->live, memory_order_relaxed) + (uint64_t)d,
                          memory_order_relaxed);
}

static void unlink_run(shmkv *db, struct shard *s, uint64_t ro)
{
    uint64_t *link = &s->runs;
    for (unsigned n = 0; *link && n < (1u << 24); n++) {
        if (!run_ok(db, *link, RUN_LOG, s)) {
            *link = 0; /* corrupt list: cut it (leaks, never crashes) */
            return;
        }
        if (*link == ro) {
            *link = run_at(db, ro)->next;
            return;
        }
        link = &run_at(db, *link)->next;
    }
}

/* Release a huge run and the runs chained to it, the head last.  Each
 * further piece is journaled in pending_piece, unlinked from the head (so
 * the head never points at a freed run, which may be someone else's by
 * the time anyone looks), then freed: a writer killed anywhere here
 * leaves the head and the rest of the chain for repair to finish. */
static void huge_free(shmkv *db, struct shard *s, uint64_t head)
{
    for (unsigned n = 0; n < (1u << 20); n++) {
        uint64_t nx = run_at(db, head)->next ? chain_next(db, head) : 0;
        if (!nx)
            break;
        s->pending_piece = nx;
        run_at(db, head)->next = run_at(db, nx)->next;
        run_free(db, nx);
        s->pending_piece = 0;
    }
    run_free(db, head);
}

/* Release a log or huge run of this shard.  Journaled in pending_free so a
 * writer dying between unlinking and freeing does not leak the run. */
static void release_run(shmkv *db, struct shard *s, uint64_t ro)
{
    struct run *run = run_at(db, ro);
    s->pending_free = ro;
    if (run->kind == RUN_LOG) {
        unlink_run(db, s, ro);
        add64(&s->log_bytes, -(int64_t)(atomic_load_explicit(&run->used, memory_order_relaxed) - RUN_HDR));
        if (s->open_run == ro)
            s->open_run = 0;
        if (s->clean_run == ro)
            s->clean_run = 0;
    }
    if (run->kind == RUN_HUGE)
        huge_free(db, s, ro);
    else
        run_free(db, ro);
    s->pending_free = 0;
    atomic_fetch_add_explicit(&s->cleaned, 1, memory_order_relaxed);
}

static void write_rec(shmkv *db, uint64_t off, uint64_t run, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    struct rec *r = rec_at(db, off);
    r->klen = (uint16_t)klen;
    r->dist = (uint16_t)((off - run) >> 3);
    r->vlen = (uint32_t)vlen;
    memcpy(r + 1, key, klen);
    if (vlen)
        memcpy((uint8_t *)(r + 1) + klen, val, vlen);
}

/* Write a huge record across a chain of runs (first one at ro). */
static void write_chain(shmkv *db, uint64_t ro, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct rec *r = rec_at(db, ro + RUN_HDR);
    r->klen = (uint16_t)klen;
    r->dist = (uint16_t)((RUN_HDR >> 3) | REC_CHAIN);
    r->vlen = (uint32_t)vlen;
    memcpy(r + 1, key, klen);
    uint64_t p = ro + RUN_HDR + sizeof *r + klen;
    const uint8_t *v = val;
    while (ro) {
        uint64_t end = ro + (run_at(db, ro)->nunits << UNIT_SHIFT), chunk = end - p < vlen ? end - p : vlen;
        if (chunk)
            memcpy(at(db, p), v, chunk);
        atomic_store_explicit(&run_at(db, ro)->used, p + chunk - ro, memory_order_relaxed);
        v += chunk;
        vlen -= chunk;
        ro = run_at(db, ro)->next;
        p = ro + RUN_HDR;
    }
}

/* No single run was free for a huge record of total bytes (header
 * included): take the largest pieces to be had, halving the request on
 * each refusal, and chain them.  The first piece must hold the record
 * header and key.  All or nothing. */
static int alloc_chain(shmkv *db, struct shard *s, uint64_t total, uint64_t first_min, bool reserve,
                       uint64_t *out)
{
    uint64_t head = 0, tail = 0, want = units_of(total) / 2, have = 0;
    int e = 0;
    while (have < total) {
        uint64_t min = head ? 1 : units_of(first_min), need = units_of(total - have + (head ? RUN_HDR : 0));
        if (want > need)
            want = need;
        if (want < min)
            want = min;
        /* the allocator stores the new run's offset before it lets go of
         * its lock, straight into the chain (or the shard's journal for
         * the first piece): a writer killed here leaks nothing */
        e = run_alloc(db, want, RUN_HUGE, shard_index(db, s), reserve,
                      head ? &run_at(db, tail)->next : &s->pending_huge);
        if (e == -ENOSPC && want > min) {
            want /= 2;
            continue;
        }
        if (e)
            break;
        uint64_t ro = head ? run_at(db, tail)->next : s->pending_huge;
        if (!head)
            head = ro;
        tail = ro;
        have += (want << UNIT_SHIFT) - (head == ro ? 0 : RUN_HDR);
    }
    if (e) {
        if (head)
            huge_free(db, s, head);
        s->pending_huge = 0;
        return e;
    }
    *out = head;
    return 0;
}

static uint64_t pow2_ceil(uint64_t x) { return x <= 1 ? 1 : 1ull << (64 - __builtin_clzll(x - 1)); }

/* A new open log run big enough for sz more bytes. */
static int open_new_run(shmkv *db, struct shard *s, uint64_t sz, bool reserve)
{
    uint64_t want = pow2_ceil(atomic_load_explicit(&s->log_bytes, memory_order_relaxed) / 4 + 1);
    uint64_t need = pow2_ceil(RUN_HDR + sz);
    if (want < need)
        want = need;
    if (want < LOG_RUN_MIN)
        want = LOG_RUN_MIN;
    if (want > db->run_max)
        want = db->run_max;
    /* journaled: the allocator stores the run in pending_log before it
     * lets go of its lock, so a writer killed before linking it leaks
     * nothing (log_repair frees it) */
    int e = run_alloc(db, want >> UNIT_SHIFT, RUN_LOG, shard_index(db, s), reserve, &s->pending_log);
    if (e == -ENOSPC && want > need) /* nearly full: settle for what fits */
        e = run_alloc(db, units_of(need), RUN_LOG, shard_index(db, s), reserve, &s->pending_log);
    if (e)
        return e;
    uint64_t ro = s->pending_log;
    run_at(db, ro)->next = s->runs;
    s->runs = ro;
    s->open_run = ro;
    s->pending_log = 0;
    return 0;
}

int log_append(shmkv *db, struct shard *s, const void *key, size_t klen, const void *val,
               size_t vlen, bool reserve, uint64_t *out)
{
    uint64_t sz = rec_size(klen, vlen);
    if (sz >= db->huge_min) {
        uint64_t ro;
        /* journaled in pending_huge by the allocator itself (cleared by
         * the caller once the record is published) */
        int e = run_alloc(db, units_of(RUN_HDR + sz), RUN_HUGE, shard_index(db, s), reserve, &s->pending_huge);
        bool chained = e == -ENOSPC;
        if (chained) /* space enough in total, maybe, but not in one piece */
            e = alloc_chain(db, s, RUN_HDR + sz, RUN_HDR + sizeof(struct rec) + klen, reserve, &ro);
        if (e)
            return e;
        ro = s->pending_huge;
        if (chained) {
            write_chain(db, ro, key, klen, val, vlen);
        } else {
            write_rec(db, ro + RUN_HDR, ro, key, klen, val, vlen);
            atomic_store_explicit(&run_at(db, ro)->used, RUN_HDR + sz, memory_order_relaxed);
        }
        *out = ro + RUN_HDR;
        return 0;
    }
    struct run *run = s->open_run && run_ok(db, s->open_run, RUN_LOG, s) ? run_at(db, s->open_run) : NULL;
    if (!run || atomic_load_explicit(&run->used, memory_order_relaxed) + sz > (run->nunits << UNIT_SHIFT)) {
        int e = open_new_run(db, s, sz, reserve);
        if (e)
            return e;
        run = run_at(db, s->open_run);
    }
    uint64_t used = atomic_load_explicit(&run->used, memory_order_relaxed);
    write_rec(db, s->open_run + used, s->open_run, key, klen, val, vlen);
    /* raise used before the slot can point here, so a crash never lets a
     * later append overwrite a published record */
    atomic_store_explicit(&run->used, used + sz, memory_order_release);
    add64(&s->log_bytes, (int64_t)(sz));
    *out = s->open_run + used;
    return 0;
}

void log_adopt(shmkv *db, struct shard *s, uint64_t off)
{
    uint64_t ro = rec_run(db, off);
    if (!ro)
        return;
    struct rec *r = rec_at(db, off);
    uint64_t sz = rec_size(r->klen, r->vlen);
    add_live(run_at(db, ro), (int64_t)sz);
    if (run_at(db, ro)->kind == RUN_LOG)
        add64(&s->rec_live, (int64_t)(sz));
}

/* A record stopped being live (its slot was overwritten or cleared). */
void log_retire(shmkv *db, struct shard *s, uint64_t off)
{
    uint64_t ro = rec_run(db, off);
    if (!ro)
        return;
    struct run *run = run_at(db, ro);
    if (run->shard != shard_index(db, s))
        return;
    struct rec *r = rec_at(db, off);
    uint64_t sz = rec_size(r->klen, r->vlen);
    if (run->kind == RUN_HUGE) {
        release_run(db, s, ro);
        return;
    }
    add_live(run, -(int64_t)sz);
    add64(&s->rec_live, -(int64_t)(sz));
    if (!atomic_load_explicit(&run->live, memory_order_relaxed) && ro != s->open_run && ro != s->clean_run)
        release_run(db, s, ro);
}

static bool needs_cleaning(struct shard *s)
{
    uint64_t log = atomic_load_explicit(&s->log_bytes, memory_order_relaxed);
    uint64_t garbage = log - atomic_load_explicit(&s->rec_live, memory_order_relaxed);
    return garbage >= UNIT && garbage * 4 >= log;
}

static uint64_t pick_victim(shmkv *db, struct shard *s)
{
    uint64_t best = 0, best_garbage = 0;
    unsigned n = 0;
    for (uint64_t ro = s->runs; ro && n < (1u << 24); ro = run_at(db, ro)->next, n++) {
        if (!run_ok(db, ro, RUN_LOG, s))
            break;
        if (ro == s->open_run)
            continue;
        struct run *run = run_at(db, ro);
        uint64_t g = atomic_load_explicit(&run->used, memory_order_relaxed) - RUN_HDR -
                     atomic_load_explicit(&run->live, memory_order_relaxed);
        if (g > best_garbage && g >= 64) {
            best = ro;
            best_garbage = g;
        }
    }
    return best;
}

/* Move up to budget records out of the victim run.  Returns false if it
 * could not make progress (no victim, or no room to move records). */
static bool clean(shmkv *db, struct shard *s, unsigned budget)
{
    if (!s->clean_run) {
        s->clean_run = pick_victim(db, s);
        s->clean_pos = RUN_HDR;
        if (!s->clean_run)
            return false;
    }
    uint64_t ro = s->clean_run;
    if (!run_ok(db, ro, RUN_LOG, s)) {
        s->clean_run = 0;
        return false;
    }
    struct run *run = run_at(db, ro);
    uint64_t used = atomic_load_explicit(&run->used, memory_order_relaxed);
    while (budget-- && s->clean_pos < used && atomic_load_explicit(&run->live, memory_order_relaxed)) {
        uint64_t off = ro + s->clean_pos;
        if (!mem_ok(db, off, sizeof(struct rec)))
            break;
        struct rec *r = rec_at(db, off);
        uint64_t sz = rec_size(r->klen, r->vlen);
        if (!r->klen || s->clean_pos + sz > used || !mem_ok(db, off, sz)) {
            s->clean_run = 0; /* unparseable (corrupt): leave this run alone */
            return false;
        }
        uint64_t h = hash64(r + 1, r->klen, db->seed0, db->seed1);
        _Atomic uint64_t *slot;
        if (shard_of(db, h) == s && index_find_off(db, s, h & TAG_MASK, off, &slot) == 0) {
            uint64_t noff;
            if (log_append(db, s, r + 1, r->klen, (uint8_t *)(r + 1) + r->klen, r->vlen, true, &noff))
                return false; /* no room even in the headroom: try later */
            atomic_store_explicit(slot, slot_make(noff, h & TAG_MASK), memory_order_release);
            log_adopt(db, s, noff);
            add_live(run, -(int64_t)sz);
            add64(&s->rec_live, -(int64_t)(sz));
        }
        s->clean_pos += sz;
    }
    /* Done when every record was looked at (then no slot can point into
     * the run: we hold the lock and appends go elsewhere) or when the live
     * count says nothing in it is referenced any more. */
    uint64_t left = atomic_load_explicit(&run->live, memory_order_relaxed);
    if (s->clean_pos >= used || !left) {
        add64(&s->rec_live, -(int64_t)(left));
        release_run(db, s, ro);
    }
    return true;
}

void log_clean_step(shmkv *db, struct shard *s)
{
    if (s->clean_run || needs_cleaning(s))
        clean(db, s, CLEAN_BUDGET);
}

/* Clean until a run has been released or nothing more can be done.
 * Used when an allocation failed.  Returns true if space was freed. */
bool log_clean_some(shmkv *db, struct shard *s)
{
    uint64_t before = atomic_load_explicit(&s->cleaned, memory_order_relaxed);
    for (unsigned i = 0; i < (1u << 16); i++) {
        if (atomic_load_explicit(&s->cleaned, memory_order_relaxed) != before)
            return true;
        if (!clean(db, s, 256))
            return false;
    }
    return atomic_load_explicit(&s->cleaned, memory_order_relaxed) != before;
}

/* Recount live bytes after a writer died mid-change (called with the
 * index already repaired).  Also finishes a journaled run release and
 * drops a huge run that was never published. */
static int count_slot(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
    bool *huge_seen = ctx;
    uint64_t off = slot_off(v), ro = rec_run(db, off);
    if (ro && ro == s->pending_huge)
        *huge_seen = true;
    if (!ro || run_at(db, ro)->shard != shard_index(db, s)) {
        atomic_store_explicit(slot, 0, memory_order_release); /* dangling: drop it */
        return 0;
    }
    struct rec *r = rec_at(db, off);
    uint64_t sz = rec_size(r->klen, r->vlen);
    if (run_at(db, ro)->kind == RUN_HUGE) {
        atomic_store_explicit(&run_at(db, ro)->live, sz, memory_order_relaxed);
    } else {
        add_live(run_at(db, ro), (int64_t)sz);
        add64(&s->rec_live, (int64_t)(sz));
    }
    atomic_store_explicit(&s->keys, atomic_load_explicit(&s->keys, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&s->live_bytes,
                          atomic_load_explicit(&s->live_bytes, memory_order_relaxed) + r->klen + r->vlen,
                          memory_order_relaxed);
    return 0;
}

int log_repair(shmkv *db, struct shard *s)
{
    /* a chain piece unlinked but maybe not freed: still a huge run of
     * ours means not freed (nobody else can have taken it: only this
     * shard, locked by us now, could have reallocated it as ours) */
    if (s->pending_piece) {
        if (run_ok(db, s->pending_piece, RUN_HUGE, s))
            run_free(db, s->pending_piece);
        s->pending_piece = 0;
    }
    if (s->pending_log) { /* a log run allocated but maybe not linked */
        uint64_t ro = s->pending_log, *link = &s->runs;
        unsigned n = 0;
        while (*link && *link != ro && n++ < (1u << 24) && run_ok(db, *link, RUN_LOG, s))
            link = &run_at(db, *link)->next;
        if (*link != ro && run_ok(db, ro, RUN_LOG, s))
            run_free(db, ro);
        s->pending_log = 0;
    }
    if (s->pending_free) {
        uint64_t ro = s->pending_free;
        struct run *run = ro >= db->data_off && !((ro - db->data_off) % UNIT) && mem_ok(db, ro, RUN_HDR)
                              ? run_at(db, ro) : NULL;
        if (run && run->shard == shard_index(db, s) && run->kind == RUN_LOG) {
            unlink_run(db, s, ro);
            run_free(db, ro);
        } else if (run && run->shard == shard_index(db, s) && run->kind == RUN_HUGE) {
            huge_free(db, s, ro);
        }
        s->pending_free = 0;
        if (s->open_run == ro)
            s->open_run = 0;
        if (s->clean_run == ro)
            s->clean_run = 0;
    }
    /* reset the per-run counters, then count again from the index */
    atomic_store_explicit(&s->log_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&s->rec_live, 0, memory_order_relaxed);
    unsigned n = 0;
    for (uint64_t ro = s->runs; ro; ro = run_at(db, ro)->next) {
        if (!run_ok(db, ro, RUN_LOG, s) || ++n > (1u << 24)) {
            s->runs = 0; /* list corrupt: forget it (leaks, never crashes) */
            s->open_run = s->clean_run = 0;
            atomic_store_explicit(&s->log_bytes, 0, memory_order_relaxed);
            break;
        }
        atomic_store_explicit(&run_at(db, ro)->live, 0, memory_order_relaxed);
        add64(&s->log_bytes, (int64_t)(atomic_load_explicit(&run_at(db, ro)->used, memory_order_relaxed) - RUN_HDR));
    }
    atomic_store_explicit(&s->keys, 0, memory_order_relaxed);
    atomic_store_explicit(&s->live_bytes, 0, memory_order_relaxed);
    bool huge_seen = false;
    int r = index_walk(db, s, count_slot, &huge_seen);
    /* a huge value whose writer died before publishing it: release it */
    uint64_t ro = s->pending_huge;
    if (!r && ro && !huge_seen && run_ok(db, ro, RUN_HUGE, s))
        huge_free(db, s, ro);
    s->pending_huge = 0;
    return r;
}
