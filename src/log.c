/*
 * log.c - per-shard record logs: appending, the run list, live bytes.
 *
 * Each shard appends its records to its open log run (4 KiB to 128 KiB,
 * sized to about a quarter of the shard's log so small tables stay small
 * and big ones allocate rarely; in cache mode every log run has the
 * table's segment size).  A record is written completely, the run's used
 * mark is raised, and only then is its slot published, so a writer killed
 * at any instant leaves either an unpublished record (dead bytes,
 * reclaimed later) or a complete one.  Records of a quarter of the largest
 * log run or more get a run of their own (a huge run), released as soon as
 * they are overwritten; when no single free run is big enough they are
 * spread over a chain of runs.  A shard's log runs and huge runs form one
 * list in the order they were opened, oldest first: the FIFO that cache
 * mode evicts from (evict.c).
 *
 * Every run counts its live bytes (and, for expiry, the bytes of its live
 * records that have an expiry and the latest of their times).  Overwrites
 * and deletes turn bytes into garbage, which the cleaner (clean.c)
 * reclaims; a run whose last live record is retired is released at once.
 * A record is live iff its key's slot points at it, so nothing else needs
 * bookkeeping.
 *
 * A released run may still be read by lock-free readers: shmkv__run_free() bumps
 * its shard's epoch first, and readers validate against it.
 */
#include "log.h"

#include "alloc.h"
#include "atomics.h"
#include "fault.h"
#include "index.h"
#include "map.h"

#include <errno.h>
#include <string.h>

static struct rec *rec_at(shmkv *db, uint64_t off) { return at(db, off); }

/* The run a record lies in, validated; 0 if the record or run is bad. */
/* shmkv__rec_run with every check (mem_ok may ask fstat), for what the
 * fast path below does not pass: chained records, records past the size
 * this process has verified, damage. */
static __attribute__((noinline)) uint64_t rec_run_checked(shmkv *db, uint64_t off)
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
    uint64_t inside = r->dist & REC_CHAIN ? rec_head(r) + r->klen : rec_bytes(r);
    if (run->nunits > OFF_LIMIT >> UNIT_SHIFT || off + inside > ro + (run->nunits << UNIT_SHIFT) ||
        !mem_ok(db, off, inside)) /* the header may claim more than the file holds */
        return 0;
    /* and opens a huge run whose chain holds all of its value (else the
     * checker and repair passed a value that every read of it calls
     * damaged: found by test_hostile) */
    if ((r->dist & REC_CHAIN) && (run->kind != RUN_HUGE || dist != RUN_HDR || !shmkv__rec_value(db, off, r, NULL)))
        return 0;
    return ro;
}

/* The common case, a whole record inside memory this process verified,
 * with no call on its path (so nothing to save: it runs several times
 * per element a queue moves); anything else takes rec_run_checked. */
uint64_t shmkv__rec_run(shmkv *db, uint64_t off)
{
    uint64_t known = atomic_load_explicit(&db->known_size, memory_order_relaxed);
    if (off >= db->data_off && off + sizeof(struct rec) <= known) {
        const struct rec *r = rec_at(db, off);
        uint64_t dist = (uint64_t)(r->dist & REC_DIST) << 3, ro = off - dist;
        /* then the run's header lies between data_off and the record */
        if (!(r->dist & REC_CHAIN) && dist >= RUN_HDR && dist <= off && ro >= db->data_off) {
            const struct run *run = run_at(db, ro);
            uint64_t end = off + rec_bytes(r);
            if ((run->kind == RUN_LOG || run->kind == RUN_HUGE) && run->nunits <= OFF_LIMIT >> UNIT_SHIFT &&
                end <= ro + (run->nunits << UNIT_SHIFT) && end <= known)
                return ro;
        }
    }
    return rec_run_checked(db, off);
}

uint64_t shmkv__log_rec_size(shmkv *db, uint64_t ro, uint64_t pos, uint64_t limit)
{
    uint64_t off = ro + pos;
    if (!mem_ok(db, off, sizeof(struct rec)))
        return 0;
    const struct rec *r = rec_at(db, off);
    uint64_t sz = rec_bytes(r);
    return r->klen && sz <= limit - pos && mem_ok(db, off, sz) ? sz : 0;
}

/* The next run of a chained huge record, validated; 0 if bad. */
static uint64_t chain_next(shmkv *db, uint64_t ro)
{
    uint64_t nx = racy_u64(&run_at(db, ro)->chain);
    if (!nx || nx < db->data_off || (nx - db->data_off) % UNIT || !mem_ok(db, nx, RUN_HDR))
        return 0;
    struct run *r = run_at(db, nx);
    uint32_t kind;
    racy_copy(&kind, &r->kind, sizeof kind);
    uint64_t nunits = racy_u64(&r->nunits);
    return kind == RUN_HUGE && nunits && mem_ok(db, nx, nunits << UNIT_SHIFT) ? nx : 0;
}

/* Copy the value of the record at off (header rh, already copied out) to
 * dst, following the chain of a chained record.  Used by lock-free
 * readers, so every step is bounds-checked and the copy may be of memory
 * a writer is recycling: the caller validates with the epoch.  Returns
 * false if an offset or length is out of bounds.  dst NULL: only check
 * that the value lies within its runs. */
bool shmkv__rec_value(shmkv *db, uint64_t off, const struct rec *rh, void *dst)
{
    uint64_t p = off + rec_head(rh) + rh->klen, left = rh->vlen;
    uint8_t *d = dst;
    if (!(rh->dist & REC_CHAIN)) {
        if (!mem_ok(db, off, rec_head(rh) + (uint64_t)rh->klen + left))
            return false;
        if (d)
            racy_copy(d, at(db, p), left);
        return true;
    }
    uint64_t ro = off - RUN_HDR;
    for (unsigned n = 0; left; n++) {
        if (!mem_ok(db, ro, RUN_HDR) || n > (1u << 20))
            return false;
        uint64_t end = ro + (racy_u64(&run_at(db, ro)->nunits) << UNIT_SHIFT);
        if (end < p || !mem_ok(db, p, end - p)) /* a key may fill its first run */
            return false;
        uint64_t chunk = end - p < left ? end - p : left;
        if (d) {
            racy_copy(d, at(db, p), chunk);
            d += chunk;
        }
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

/* A run on a shard's list: a log run or the head of a huge value. */
bool shmkv__run_listed(shmkv *db, uint64_t ro, const struct shard *s)
{
    return shmkv__run_ok(db, ro, RUN_LOG, s) || shmkv__run_ok(db, ro, RUN_HUGE, s);
}

/* Publish the age of the shard's oldest evictable run (not the open
 * one) in shard.oldest, so writers of other shards can compare ages
 * without reading this shard's list (which only its lock holder may). */
static void refresh_oldest(shmkv *db, struct shard *s)
{
    uint64_t v = 0, ro = s->runs;
    for (unsigned n = 0; ro && n < 2 && shmkv__run_listed(db, ro, s); n++, ro = run_at(db, ro)->next)
        if (ro != s->open_run) {
            v = 1ull << 32 | run_at(db, ro)->stamp;
            break;
        }
    atomic_store_explicit(&s->oldest, v, memory_order_relaxed);
}

static void set_open(shmkv *db, struct shard *s, uint64_t ro)
{
    atomic_store_explicit(&s->open_run, ro, memory_order_relaxed);
    refresh_oldest(db, s);
}

/* Stop appending to the open run: the next append opens a new one.  Its
 * expiries are noted, since the cleaner looks at closed runs for them. */
void shmkv__log_close_open(shmkv *db, struct shard *s)
{
    if (s->open_run && shmkv__run_ok(db, s->open_run, RUN_LOG, s))
        shmkv__note_expiry(s, run_at(db, s->open_run)->exp_max);
    set_open(db, s, 0);
}

/* Append a run at the new end of the shard's list.  The run's own link
 * is 0 before it becomes reachable; a writer killed between the two
 * stores leaves runs_tail stale, which log_repair recomputes. */
void shmkv__run_list_append(shmkv *db, struct shard *s, uint64_t ro)
{
    run_at(db, ro)->next = 0;
    run_at(db, ro)->stamp = atomic_fetch_add_explicit(&db->hdr->run_stamp, 1, memory_order_relaxed);
    uint64_t t = s->runs_tail;
    if (t && shmkv__run_listed(db, t, s) && !run_at(db, t)->next && s->runs)
        run_at(db, t)->next = ro;
    else if (!s->runs)
        s->runs = ro;
    else { /* stale tail: find the real one */
        uint64_t *link = &s->runs;
        for (uint64_t n = 0, most = runs_bound(db); *link && n < most && shmkv__run_listed(db, *link, s); n++)
            link = &run_at(db, *link)->next;
        *link = ro;
    }
    s->runs_tail = ro;
    refresh_oldest(db, s);
}

void shmkv__run_list_unlink(shmkv *db, struct shard *s, uint64_t ro)
{
    uint64_t *link = &s->runs, prev = 0;
    for (uint64_t n = 0, most = runs_bound(db); *link && n < most; n++) {
        if (!shmkv__run_listed(db, *link, s)) {
            *link = 0; /* corrupt list: cut it (leaks, never crashes) */
            s->runs_tail = prev;
            return;
        }
        if (*link == ro) {
            *link = run_at(db, ro)->next;
            if (s->runs_tail == ro)
                s->runs_tail = prev;
            refresh_oldest(db, s);
            return;
        }
        prev = *link;
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
    /* Lock-free readers may be copying this value, following its chain,
     * which changes under them from the first unlink on, long before a
     * piece is freed (the free bumps the epoch too, but too late: a reader
     * that followed the shortened chain and checked the epoch in between
     * took another piece's bytes for the value, or called it damaged;
     * found by test_torture: -EBADMSG from get, get_many and foreach).
     * So both of the readers' validations move first: the shard's epoch,
     * and the head's stamp for readers guarding their copy by it. */
    seq_bump_shared(&s->epoch);
    run_at(db, head)->stamp = atomic_fetch_add_explicit(&db->hdr->run_stamp, 1, memory_order_relaxed);
    fence_release();
    for (unsigned n = 0; n < (1u << 20); n++) {
        uint64_t nx = run_at(db, head)->chain ? chain_next(db, head) : 0;
        if (!nx)
            break;
        s->pending_piece = nx;
        run_at(db, head)->chain = run_at(db, nx)->chain;
        shmkv__pause_at(PAUSE_PIECE_UNLINKED);
        shmkv__run_free(db, s, nx);
        s->pending_piece = 0;
    }
    shmkv__run_free(db, s, head);
}

/* Release a log or huge run of this shard.  Journaled in pending_free so a
 * writer dying between unlinking and freeing does not leak the run. */
void shmkv__run_release(shmkv *db, struct shard *s, uint64_t ro)
{
    struct run *run = run_at(db, ro);
    s->pending_free = ro;
    shmkv__run_list_unlink(db, s, ro);
    shmkv__pause_at(PAUSE_RUN_UNLINKED);
    if (s->open_run == ro)
        set_open(db, s, 0);
    if (s->clean_run == ro)
        s->clean_run = 0;
    if (run->kind == RUN_HUGE) {
        huge_free(db, s, ro);
    } else {
        sub64(&s->log_bytes, atomic_load_explicit(&run->used, memory_order_relaxed) - RUN_HDR);
        shmkv__run_free(db, s, ro);
    }
    s->pending_free = 0;
    atomic_fetch_add_explicit(&s->cleaned, 1, memory_order_relaxed);
}

/* Copy n bytes that may overlap (a record of this table being rewritten):
 * 4 to 16 of them, a key or value of the usual size, as two words loaded
 * before either is stored, not by a call (BENCHMARKS 9.12). */
static inline void copy_over(void *dst, const void *src, size_t n)
{
    if (n >= 8 && n <= 16)
        copy_ends(dst, src, n, 8);
    else if (n >= 4 && n < 8)
        copy_ends(dst, src, n, 4);
    else if (n) /* an empty value may have no pointer */
        memmove(dst, src, n);
}

/* Write a record's header, ext word and key at off; returns where the value goes. */
static uint8_t *write_head(shmkv *db, uint64_t off, uint64_t dist_bits, const void *key, size_t klen,
                           size_t vlen, uint64_t ext)
{
    struct rec *r = rec_at(db, off);
    r->klen = (uint16_t)klen;
    r->dist = (uint16_t)(dist_bits | (ext ? REC_EXT : 0));
    r->vlen = (uint32_t)vlen;
    uint8_t *p = (uint8_t *)(r + 1);
    if (ext) {
        memcpy(p, &ext, 8);
        p += 8;
    }
    copy_over(p, key, klen);
    return p + klen;
}

/* Where the next bytes of a value given in pieces come from. */
struct pieces_at {
    const struct piece *v;
    unsigned n, i;          /* pieces, and the one being copied */
    size_t pos;             /* bytes of piece i copied so far */
};

/* Copy the next len bytes of the value to dst. */
static void copy_pieces(uint8_t *dst, struct pieces_at *c, uint64_t len)
{
    while (len && c->i < c->n) {
        size_t left = c->v[c->i].len - c->pos, chunk = left < len ? left : (size_t)len;
        /* memmove: a piece may be a record of this table (expire, append,
         * compaction rewrite one), and a damaged length can make it reach
         * into the place being written (found by test_hostile under ASan) */
        if (chunk)
            memmove(dst, (const uint8_t *)c->v[c->i].p + c->pos, chunk);
        dst += chunk;
        len -= chunk;
        c->pos += chunk;
        if (c->pos == c->v[c->i].len) {
            c->i++;
            c->pos = 0;
        }
    }
}

static void write_rec(shmkv *db, uint64_t off, uint64_t run, const void *key, size_t klen,
                      const struct piece *val, unsigned nval, size_t vlen, uint64_t ext)
{
    uint8_t *v = write_head(db, off, (off - run) >> 3, key, klen, vlen, ext);
    if (nval == 1) { /* most writes: no pieces to walk (may overlap: as copy_pieces) */
        copy_over(v, val[0].p, vlen);
        return;
    }
    struct pieces_at c = {val, nval, 0, 0};
    copy_pieces(v, &c, vlen);
}

/* Write a huge record across a chain of runs (first one at ro). */
static void write_chain(shmkv *db, uint64_t ro, const void *key, size_t klen, const struct piece *val,
                        unsigned nval, size_t vlen, uint64_t ext)
{
    uint64_t p = off_of(db, write_head(db, ro + RUN_HDR, (RUN_HDR >> 3) | REC_CHAIN, key, klen, vlen, ext));
    struct pieces_at c = {val, nval, 0, 0};
    while (ro) {
        uint64_t end = ro + (run_at(db, ro)->nunits << UNIT_SHIFT), chunk = end - p < vlen ? end - p : vlen;
        copy_pieces(at(db, p), &c, chunk);
        atomic_store_explicit(&run_at(db, ro)->used, p + chunk - ro, memory_order_relaxed);
        vlen -= chunk;
        ro = run_at(db, ro)->chain;
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
        e = shmkv__run_alloc(db, want, RUN_HUGE, shard_index(db, s), reserve,
                      head ? &run_at(db, tail)->chain : &s->pending_huge);
        if (e == -ENOSPC && want > min) {
            want /= 2;
            continue;
        }
        if (e)
            break;
        uint64_t ro = head ? run_at(db, tail)->chain : s->pending_huge;
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

/* A run stopped taking appends: if its records with an expiry are all due
 * before the shard's next look, look then instead. */
void shmkv__note_expiry(struct shard *s, uint64_t exp_max)
{
    if (exp_max && (!s->exp_next || exp_max < s->exp_next))
        s->exp_next = exp_max;
}

/* A new open log run big enough for sz more bytes. */
static int open_new_run(shmkv *db, struct shard *s, uint64_t sz, bool reserve)
{
    uint64_t want = pow2_ceil(atomic_load_explicit(&s->log_bytes, memory_order_relaxed) / 4 + 1);
    uint64_t need = pow2_ceil(RUN_HDR + sz);
    if (want < need || db->cache)
        want = db->cache ? db->run_max : need;
    if (want < LOG_RUN_MIN)
        want = LOG_RUN_MIN;
    if (want > db->run_max)
        want = db->run_max;
    /* journaled: the allocator stores the run in pending_log before it
     * lets go of its lock, so a writer killed before linking it leaks
     * nothing (log_repair frees it) */
    int e = shmkv__run_alloc(db, want >> UNIT_SHIFT, RUN_LOG, shard_index(db, s), reserve, &s->pending_log);
    if (e == -ENOSPC && want > need) /* nearly full: settle for what fits */
        e = shmkv__run_alloc(db, units_of(need), RUN_LOG, shard_index(db, s), reserve, &s->pending_log);
    if (e)
        return e;
    shmkv__log_close_open(db, s);
    shmkv__run_list_append(db, s, s->pending_log);
    set_open(db, s, s->pending_log);
    s->pending_log = 0;
    return 0;
}

int shmkv__log_append(shmkv *db, struct shard *s, const void *key, size_t klen, const struct piece *val,
                      unsigned nval, uint64_t ext, bool reserve, uint64_t *out)
{
    uint64_t vlen = 0;
    for (unsigned i = 0; i < nval; i++)
        vlen += val[i].len;
    uint64_t sz = rec_size(klen, vlen, ext ? 8 : 0);
    if (sz >= db->huge_min) {
        uint64_t ro;
        /* journaled in pending_huge by the allocator itself (cleared by
         * the caller once the record is published) */
        int e = shmkv__run_alloc(db, units_of(RUN_HDR + sz), RUN_HUGE, shard_index(db, s), reserve, &s->pending_huge);
        bool chained = e == -ENOSPC;
        if (chained) /* space enough in total, maybe, but not in one piece */
            e = alloc_chain(db, s, RUN_HDR + sz, RUN_HDR + sizeof(struct rec) + (ext ? 8 : 0) + klen, reserve, &ro);
        if (e)
            return e;
        ro = s->pending_huge;
        if (chained) {
            write_chain(db, ro, key, klen, val, nval, vlen, ext);
        } else {
            write_rec(db, ro + RUN_HDR, ro, key, klen, val, nval, vlen, ext);
            atomic_store_explicit(&run_at(db, ro)->used, RUN_HDR + sz, memory_order_relaxed);
        }
        shmkv__run_list_append(db, s, ro);
        *out = ro + RUN_HDR;
        shmkv__pause_at(PAUSE_RECORD_WRITTEN);
        return 0;
    }
    uint64_t ro = atomic_load_explicit(&s->open_run, memory_order_relaxed);
    struct run *run = ro && shmkv__run_ok(db, ro, RUN_LOG, s) ? run_at(db, ro) : NULL;
    uint64_t used = run ? atomic_load_explicit(&run->used, memory_order_relaxed) : 0;
    /* records start 8-aligned past the header; a used mark that says
     * otherwise (damage) is no place to append */
    if (!run || used < RUN_HDR || used % 8 || used + sz > (run->nunits << UNIT_SHIFT)) {
        int e = open_new_run(db, s, sz, reserve);
        if (e)
            return e;
        ro = atomic_load_explicit(&s->open_run, memory_order_relaxed);
        run = run_at(db, ro);
        used = atomic_load_explicit(&run->used, memory_order_relaxed);
    }
    write_rec(db, ro + used, ro, key, klen, val, nval, vlen, ext);
    /* raise used before the slot can point here, so a crash never lets a
     * later append overwrite a published record */
    atomic_store_explicit(&run->used, used + sz, memory_order_release);
    add64(&s->log_bytes, (int64_t)(sz));
    *out = ro + used;
    shmkv__pause_at(PAUSE_RECORD_WRITTEN);
    return 0;
}

/* Hints, no lock: load for writing the open run's header (once the
 * shard's lock line, which names the run, has arrived), the lines the
 * next record goes to (once the header, which says where, has), or both
 * (a single put, which has nothing to do meanwhile): the
 * first two, since a small record crosses into the second one time in
 * three, and a store that misses holds up the unlock's exchange until
 * its line arrives (13 % of a batched put's time in `perf` when only the
 * first was loaded, BENCHMARKS 7.8). */
void shmkv__log_prefetch(shmkv *db, struct shard *s, unsigned what)
{
    uint64_t ro = atomic_load_explicit(&s->open_run, memory_order_relaxed);
    /* a run's place (damage may have put anything here: fuzz_open) */
    if (ro < db->data_off || (ro - db->data_off) % UNIT || !mem_ok(db, ro, RUN_HDR))
        return;
    if (what & LOG_PF_RUN)
        prefetch_w(db, run_at(db, ro));
    if (!(what & LOG_PF_TAIL))
        return;
    /* racy: without the lock the run may have been released since, its
     * header now another's record bytes (a look, checked by mem_ok) */
    uint64_t used = racy_u64(&run_at(db, ro)->used);
    if (mem_ok(db, ro + used, 64)) {
        prefetch_w(db, at(db, ro + used));
        prefetch_w(db, at(db, ro + used + 63));
    }
}

/* Account the record at off, in run ro, as live. */
static void adopt_in(shmkv *db, struct shard *s, uint64_t ro, uint64_t off)
{
    struct rec *r = rec_at(db, off);
    struct run *run = run_at(db, ro);
    uint64_t sz = rec_bytes(r), exp = rec_expiry(r);
    add_live(run, (int64_t)sz);
    if (run->kind == RUN_LOG)
        add64(&s->rec_live, (int64_t)(sz));
    if (exp) {
        run->exp_bytes = run->exp_bytes + sz > UINT32_MAX ? UINT32_MAX : (uint32_t)(run->exp_bytes + sz);
        if (exp > run->exp_max)
            run->exp_max = exp;
        shmkv__note_expiry(s, exp);
    }
}

/* Account a record as live in its run (it was just published). */
void shmkv__log_adopt(shmkv *db, struct shard *s, uint64_t off)
{
    uint64_t ro = shmkv__rec_run(db, off);
    if (ro)
        adopt_in(db, s, ro, off);
}

/* The same for a record log_append just wrote under this lock: its
 * header is this writer's own, so its run is where its distance says,
 * without rec_run's checks (a fifth of a small put's log work).  A
 * chained record's run takes them all the same. */
void shmkv__log_adopt_new(shmkv *db, struct shard *s, uint64_t off)
{
    const struct rec *r = rec_at(db, off);
    if (r->dist & REC_CHAIN)
        shmkv__log_adopt(db, s, off);
    else
        adopt_in(db, s, off - ((uint64_t)(r->dist & REC_DIST) << 3), off);
}

/* A record stopped being live (its slot was overwritten or cleared). */
void shmkv__log_retire(shmkv *db, struct shard *s, uint64_t off)
{
    uint64_t ro = shmkv__rec_run(db, off);
    if (!ro)
        return;
    struct run *run = run_at(db, ro);
    if (run->shard != shard_index(db, s))
        return;
    struct rec *r = rec_at(db, off);
    uint64_t sz = rec_bytes(r);
    if (run->kind == RUN_HUGE) {
        shmkv__run_release(db, s, ro);
        return;
    }
    add_live(run, -(int64_t)sz);
    sub64(&s->rec_live, sz);
    if (rec_expiry(r))
        run->exp_bytes -= sz < run->exp_bytes ? (uint32_t)sz : run->exp_bytes;
    if (!atomic_load_explicit(&run->live, memory_order_relaxed) && ro != s->open_run && ro != s->clean_run)
        shmkv__run_release(db, s, ro);
}

/* Remove a live record's pair (or lease): clear its slot, count it gone,
 * retire it.  Only pairs count as keys; a lease removed so is voided. */
void shmkv__log_drop(shmkv *db, struct shard *s, uint64_t tag, _Atomic uint64_t *slot, uint64_t off)
{
    const struct rec *r = rec_at(db, off);
    shmkv__index_remove(db, s, tag, slot);
    shmkv__log_count(s, r, -1);
    shmkv__log_retire(db, s, off);
}

void shmkv__log_count(struct shard *s, const struct rec *r, int sign)
{
    if (type_is_key(rec_type(r))) {
        add64(&s->keys, sign);
        add64(&s->live_bytes, sign * ((int64_t)r->klen + (int64_t)r->vlen));
    } else if (sign < 0) {
        atomic_fetch_add_explicit(&s->leases_voided, 1, memory_order_relaxed);
    }
}

/* Empty the shard wholesale: clear every slot (releasing huge values on
 * the way), then release every log run.  Called with the lock held.
 * Readers: a record's memory is reused only after an epoch bump, and a
 * miss is trusted only if seq did not move, so they see each key either
 * as it was or gone. */
static int clear_slot(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
    (void)ctx;
    if (mem_ok(db, slot_off(v), sizeof(struct rec)) && shmkv__rec_run(db, slot_off(v)) &&
        rec_type(rec_at(db, slot_off(v))) == REC_LEASE)
        atomic_fetch_add_explicit(&s->leases_voided, 1, memory_order_relaxed);
    atomic_store_explicit(slot, 0, memory_order_release);
    return 0;
}

void shmkv__log_clear(shmkv *db, struct shard *s)
{
    shmkv__index_walk(db, s, WALK_ALL, clear_slot, NULL);
    atomic_store_explicit(&s->seq, atomic_load_explicit(&s->seq, memory_order_relaxed) + 1,
                          memory_order_release);
    atomic_store_explicit(&s->keys, 0, memory_order_relaxed);
    atomic_store_explicit(&s->live_bytes, 0, memory_order_relaxed);
    s->clean_run = 0;
    set_open(db, s, 0);
    s->exp_next = 0;
    for (uint64_t n = 0, most = runs_bound(db); s->runs && n < most; n++) {
        if (!shmkv__run_listed(db, s->runs, s)) {
            s->runs = s->runs_tail = 0; /* corrupt: leak rather than free blindly */
            break;
        }
        shmkv__run_release(db, s, s->runs);
    }
    atomic_store_explicit(&s->rec_live, 0, memory_order_relaxed);
}

/* Recount live bytes after a writer died mid-change (called with the
 * index already repaired), from the records the index reaches (the lists
 * count their elements next: shard.c).  Also finishes a journaled run
 * release. */
static int count_slot(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
    (void)ctx;
    uint64_t off = slot_off(v), ro = shmkv__rec_run(db, off);
    if (!ro || run_at(db, ro)->shard != shard_index(db, s)) {
        atomic_store_explicit(slot, 0, memory_order_release); /* dangling: drop it */
        return 0;
    }
    struct rec *r = rec_at(db, off);
    struct run *run = run_at(db, ro);
    uint64_t sz = rec_bytes(r), exp = rec_expiry(r);
    if (run->kind == RUN_HUGE) {
        atomic_store_explicit(&run->live, sz, memory_order_relaxed);
        run->exp_bytes = !exp ? 0 : sz > UINT32_MAX ? UINT32_MAX : (uint32_t)sz;
        run->exp_max = exp;
    } else {
        /* a referenced record lies below its run's used mark (damage can
         * lower the mark: the cleaner would then release the run under
         * its records, or an append write over them; found by
         * test_hostile) */
        if (off + sz - ro > atomic_load_explicit(&run->used, memory_order_relaxed))
            atomic_store_explicit(&run->used, off + sz - ro, memory_order_relaxed);
        add_live(run, (int64_t)sz);
        add64(&s->rec_live, (int64_t)(sz));
        if (exp) {
            run->exp_bytes += (uint32_t)sz;
            run->exp_max = exp > run->exp_max ? exp : run->exp_max;
        }
    }
    shmkv__note_expiry(s, exp);
    if (type_is_key(rec_type(r))) {
        add64(&s->keys, 1);
        add64(&s->live_bytes, (int64_t)r->klen + r->vlen);
    }
    return 0;
}

/* A log run's used mark must be where the walk of its records from the
 * header (the cleaner's, and the checker's) passes: appends go there, and
 * a mark inside a record, or past a gap, hides what is appended after it
 * from that walk, and compaction would free the run under it (found by
 * test_hostile: a mark damaged to 0, 1 or one more).  After a crash it is
 * one already (a record is written before the mark moves over it). */
static void used_on_walk(shmkv *db, uint64_t ro)
{
    struct run *run = run_at(db, ro);
    uint64_t used = atomic_load_explicit(&run->used, memory_order_relaxed), size = run->nunits << UNIT_SHIFT;
    uint64_t pos = RUN_HDR;
    for (uint64_t sz; pos < used && (sz = shmkv__log_rec_size(db, ro, pos, size)); pos += sz) {
    }
    if (pos != used)
        atomic_store_explicit(&run->used, pos, memory_order_relaxed);
}

int shmkv__log_repair(shmkv *db, struct shard *s)
{
    /* a chain piece unlinked but maybe not freed: still a huge run of
     * ours means not freed (nobody else can have taken it: only this
     * shard, locked by us now, could have reallocated it as ours) */
    if (s->pending_piece) {
        if (!shmkv__run_settle(db, s, s->pending_piece) && shmkv__run_ok(db, s->pending_piece, RUN_HUGE, s))
            shmkv__run_free(db, s, s->pending_piece);
        s->pending_piece = 0;
    }
    /* walk the list: drop what is corrupt, find the tail */
    uint64_t *link = &s->runs, tail = 0;
    for (uint64_t n = 0, most = runs_bound(db); *link; n++) {
        if (!shmkv__run_listed(db, *link, s) || n >= most) {
            *link = 0; /* list corrupt: cut it (leaks, never crashes) */
            break;
        }
        tail = *link;
        link = &run_at(db, *link)->next;
    }
    s->runs_tail = tail;
    if (s->pending_log) { /* a log run allocated but maybe not linked */
        uint64_t ro = s->pending_log;
        bool linked = false;
        for (uint64_t x = s->runs; x && !linked; x = run_at(db, x)->next)
            linked = x == ro;
        if (!linked && shmkv__run_ok(db, ro, RUN_LOG, s))
            shmkv__run_free(db, s, ro);
        else if (!linked && shmkv__run_ok(db, ro, RUN_HUGE, s)) /* a kept huge value being moved */
            shmkv__run_list_append(db, s, ro);
        s->pending_log = 0;
    }
    if (s->pending_free) {
        uint64_t ro = s->pending_free;
        bool log = shmkv__run_ok(db, ro, RUN_LOG, s);
        if (!shmkv__run_settle(db, s, ro) && (log || shmkv__run_ok(db, ro, RUN_HUGE, s))) {
            shmkv__run_list_unlink(db, s, ro);
            if (log)
                shmkv__run_free(db, s, ro);
            else
                huge_free(db, s, ro);
        }
        s->pending_free = 0;
    }
    if (s->open_run && !shmkv__run_ok(db, s->open_run, RUN_LOG, s))
        set_open(db, s, 0);
    if (s->clean_run && !shmkv__run_listed(db, s->clean_run, s))
        s->clean_run = 0;
    /* reset the per-run counters, then count again from the index */
    atomic_store_explicit(&s->log_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&s->rec_live, 0, memory_order_relaxed);
    for (uint64_t ro = s->runs; ro; ro = run_at(db, ro)->next) {
        struct run *run = run_at(db, ro);
        atomic_store_explicit(&run->live, 0, memory_order_relaxed);
        run->exp_bytes = run->exp_max = 0;
        if (run->kind == RUN_LOG)
            used_on_walk(db, ro);
    }
    atomic_store_explicit(&s->keys, 0, memory_order_relaxed);
    atomic_store_explicit(&s->live_bytes, 0, memory_order_relaxed);
    s->exp_next = 0;
    int r = shmkv__index_walk(db, s, WALK_ALL | WALK_CUT, count_slot, NULL);
    for (uint64_t ro = s->runs; ro; ro = run_at(db, ro)->next) /* the used marks as count_slot left them */
        if (run_at(db, ro)->kind == RUN_LOG)
            add64(&s->log_bytes, (int64_t)(atomic_load_explicit(&run_at(db, ro)->used, memory_order_relaxed) - RUN_HDR));
    return r;
}

/* After log_repair and the lists' own counting: release the huge runs
 * nothing reached (live 0), among them a huge value whose writer died
 * before publishing it (pending_huge), which may not even be listed. */
void shmkv__log_repair_end(shmkv *db, struct shard *s)
{
    uint64_t ro = s->pending_huge;
    if (ro && shmkv__run_ok(db, ro, RUN_HUGE, s) && !atomic_load_explicit(&run_at(db, ro)->live, memory_order_relaxed)) {
        shmkv__run_list_unlink(db, s, ro);
        huge_free(db, s, ro);
    }
    s->pending_huge = 0;
    for (uint64_t x = s->runs, nx; x; x = nx) {
        nx = run_at(db, x)->next;
        if (run_at(db, x)->kind == RUN_HUGE && !atomic_load_explicit(&run_at(db, x)->live, memory_order_relaxed))
            shmkv__run_release(db, s, x);
    }
    refresh_oldest(db, s);
}

