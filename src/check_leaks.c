/*
 * check_leaks.c - the checker's leak pass: mark every run something
 * references (a shard's directory, chains and free overflow buckets, its
 * journal fields; check.c marks the run lists, deferred lists and free
 * lists as it checks them), then report, or for repair free, every run in
 * use that nothing references.  Also here: the index's own invariants that
 * the marking walks meet (a directory entry that is no bucket piece, a
 * chain or free list reaching outside the shard's index runs, a bucket two
 * chains reach).
 */
#include "check.h"

#include "alloc.h"
#include "index.h"
#include "map.h"

/* An index run is referenced by a directory entry (bucket pieces) or by
 * the overflow buckets it holds, linked into chains or the free list. */
static void mark_index(shmkv *db, struct chk *c, uint64_t off)
{
    if (!in_runs(db, c, off) || (off - db->data_off) % UNIT)
        return;
    uint64_t u = unit_of(db, off);
    if (c->head[u] == HEAD_INDEX && !c->role[u])
        c->role[u] = ROLE_INDEX;
}

static void mark_journal(shmkv *db, struct chk *c, uint64_t off)
{
    if (in_runs(db, c, off) && !((off - db->data_off) % UNIT) && !c->role[unit_of(db, off)])
        c->role[unit_of(db, off)] = ROLE_JOURNAL;
}

/* Is ro the start of an index run of shard s? */
static bool index_run(shmkv *db, struct shard *s, const struct chk *c, uint64_t ro)
{
    return in_runs(db, c, ro) && !((ro - db->data_off) % UNIT) && c->head[unit_of(db, ro)] == HEAD_INDEX &&
           run_at(db, ro)->shard == shard_index(db, s);
}

/* Does the overflow bucket at o lie in an index run of shard s: a run of
 * its own, or the spare tail of a bucket piece the directory holds?  A
 * link anywhere else (a free run, say) would hand that space to the index
 * once the allocator gives it out again. */
static bool ov_placed(shmkv *db, struct shard *s, const struct chk *c, uint64_t o)
{
    uint64_t ro = o & ~(UNIT - 1);
    for (unsigned d = 0;; d++) { /* its own unit's run, then each piece's */
        if (o >= ro + RUN_HDR && index_run(db, s, c, ro) && o < ro + (run_at(db, ro)->nunits << UNIT_SHIFT))
            return true;
        if (d == DIR_MAX * PIECES)
            return false;
        ro = atomic_load_explicit(&s->dir[d], memory_order_relaxed) - RUN_HDR;
    }
}

/* Note the bucket at off as met (chains, then the free list); was it already? */
static bool link_once(shmkv *db, struct chk *c, uint64_t off)
{
    if (!in_runs(db, c, off))
        return true; /* outside the runs: reported as such */
    uint64_t bit = (off - db->data_off) / BUCKET_BYTES;
    bool was = c->linked[bit >> 3] & (1u << (bit & 7));
    c->linked[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    return !was;
}

/* The shard's index runs are referenced by its directory, its chains and
 * its free overflow buckets.  A free bucket must be linked nowhere else: a
 * writer takes it, clears it and links it into a chain, and one that a
 * chain already held then drops that chain's keys (found by fuzz_open:
 * after a repair that passed, a put cleared two keys' slots and published
 * its record from two chains).  Repair (reclaim) cuts the free list before
 * such a bucket; the ones after it are lost, 64 bytes each. */
static void mark_shard_refs(shmkv *db, struct shard *s, struct chk *c, bool reclaim)
{
    /* a bucket piece is an index run of its own, big enough: a split
     * writes into whatever an entry in use, or to be used, points at */
    for (unsigned d = 0; d < DIR_MAX * PIECES; d++) {
        uint64_t p = atomic_load_explicit(&s->dir[d], memory_order_relaxed), ro = p - RUN_HDR;
        uint64_t n = shmkv__dir_buckets(d, db->base_bits);
        if (!p || !n)
            continue;
        if (p < RUN_HDR || !index_run(db, s, c, ro) ||
            (run_at(db, ro)->nunits << UNIT_SHIFT) < RUN_HDR + n * BUCKET_BYTES)
            bad(c, "shard %u: directory entry %u (%#llx) is no bucket piece of its own", shard_index(db, s), d,
                (ull)p);
        else
            mark_index(db, c, ro);
    }
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    uint64_t budget = c->nunits * (UNIT / BUCKET_BYTES) + 1;
    /* overflow buckets live in one-unit index runs (or in the tails of
     * bucket pieces, which the directory reaches): a bucket's unit is its
     * run's first */
    if (shmkv__layout_fits(db, lay))
        for (uint64_t b = 0, nb = shmkv__bucket_count(lay, db->base_bits); b < nb && budget; b++) {
            struct bucket *home = shmkv__bucket_at(db, s, b);
            for (struct bucket *bk = home; bk && budget; bk = shmkv__bucket_next(db, bk), budget--) {
                if (bk != home && !ov_placed(db, s, c, off_of(db, bk)))
                    bad(c, "shard %u: bucket %llu's chain reaches %#llx, outside its index runs", shard_index(db, s),
                        (ull)b, (ull)off_of(db, bk));
                mark_index(db, c, off_of(db, bk) & ~(UNIT - 1));
                /* a bucket two chains reach (or one twice) is walked twice:
                 * empty, it passes every other test, and the first put
                 * into it publishes its record from both (fuzz_open) */
                if (!link_once(db, c, off_of(db, bk)))
                    bad(c, "shard %u: bucket %llu's chain reaches %#llx, which another chain reaches too",
                        shard_index(db, s), (ull)b, (ull)off_of(db, bk));
            }
        }
    for (uint64_t o = s->ov_free, prev = 0; o && budget && mem_ok(db, o, BUCKET_BYTES) && !(o % BUCKET_BYTES);
         budget--) {
        bool placed = ov_placed(db, s, c, o), once = placed && link_once(db, c, o);
        if (!once && reclaim) {
            if (prev)
                atomic_store_explicit(&((struct bucket *)at(db, prev))->next, 0, memory_order_relaxed);
            else
                s->ov_free = 0;
            break;
        }
        if (!placed)
            bad(c, "shard %u: the free overflow buckets reach %#llx, outside its index runs", shard_index(db, s),
                (ull)o);
        else if (!once)
            bad(c, "shard %u: free overflow bucket %#llx is linked elsewhere too", shard_index(db, s), (ull)o);
        mark_index(db, c, o & ~(UNIT - 1));
        prev = o;
        o = atomic_load_explicit(&((struct bucket *)at(db, o))->next, memory_order_relaxed);
    }
    mark_journal(db, c, s->pending_free);
    mark_journal(db, c, s->pending_huge);
    mark_journal(db, c, s->pending_log);
    mark_journal(db, c, s->pending_piece);
    mark_journal(db, c, s->pending_index);
    mark_journal(db, c, s->pending_defer);
    mark_journal(db, c, s->pending_list);
}

/* Does something reference a unit inside the run at unit u, past its
 * first (a run header the tiling never meets: reported already)? */
static bool claimed_inside(shmkv *db, const struct chk *c, uint64_t u)
{
    uint64_t n = run_at(db, db->data_off + (u << UNIT_SHIFT))->nunits; /* the tiling bounded it */
    for (uint64_t k = u + 1; k < u + n && k < c->nunits; k++)
        if (c->role[k] || c->live[k])
            return true;
    return false;
}

/* Runs in use that nothing references: reported, or freed (check.h). */
unsigned shmkv__check_leaks(shmkv *db, struct chk *c, bool reclaim)
{
    static const char *const names[] = {"", "free", "log", "huge", "index", "unfinished", "deferred", "list",
                                        "list ring"};
    bool split_pending = false;
    unsigned leaked = 0;
    for (uint64_t i = 0; i < nshards(db); i++) {
        mark_shard_refs(db, &db->shards[i], c, reclaim);
        split_pending |= db->shards[i].pending_split != 0;
    }
    for (uint64_t u = 0; u < c->nunits; u++) {
        uint8_t h = c->head[u];
        if (h == HEAD_NONE || h == HEAD_FREE || c->role[u] || (h == HEAD_INDEX && split_pending))
            continue;
        uint64_t off = db->data_off + (u << UNIT_SHIFT);
        if (claimed_inside(db, c, u)) {
            bad(c, "%s run %#llx spans a run something references", names[h], (ull)off);
            continue; /* damage: freeing it would hand those records out */
        }
        leaked++;
        if (reclaim)
            shmkv__run_reclaim(db, off);
        else
            bad(c, "%s run %#llx is referenced by nothing (leaked)", names[h], (ull)off);
    }
    return leaked;
}
