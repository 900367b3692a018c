/*
 * index.c - per-shard linear hashing over one-cache-line buckets.
 *
 * Each shard is an independent hash index.  A bucket is 64 bytes: a link
 * to an overflow bucket and 7 slots {2-bit read count, 38-bit record
 * offset, 24-bit tag}.
 * A lookup reads one bucket line, and a record line only on a tag match.
 *
 * Growth is linear hashing (Litwin): the shard has (base << level) + split
 * buckets; a key's bucket is tag mod (base << level), or mod
 * (base << (level+1)) when that lands below split.  Once a shard averages
 * more than SPLIT_KEYS_PER_BUCKET keys per bucket, the bucket at split is
 * divided in two and split advances, SPLIT_BURST times in a row: a few
 * buckets' worth of work, never a rehash of the shard, let alone the
 * table.  Bucket numbers come from the tag's low bits, so a split decides
 * where each slot goes without reading its record.  Buckets live in
 * chunks that double in size (chunk 0 holds base buckets, chunk c holds
 * base << (c-1), allocated in four pieces as the split pointer reaches
 * them), so a bucket's address is a few shifts and an add, and no bucket
 * ever moves in memory.
 *
 * Concurrency.  Writers hold the shard lock.  Readers take no lock and
 * write nothing; they rely on these rules:
 *  - A slot changes by one atomic store (release): empty -> record,
 *    record -> newer record of the same key, record -> empty; or, in
 *    cache mode, by a reader's compare-and-swap that raises only its
 *    read count (which can only succeed on the exact value it read).  A key's
 *    slot never moves within its chain, so a reader walking the chain
 *    finds it if it was there throughout.
 *  - Slots move between chains only by a split: the destination chain is
 *    built completely, then layout is published (seq_publish: ordered
 *    after the copies and before the clearing), then the moved slots are
 *    cleared from the source and seq is bumped.  An overflow bucket is
 *    reused only after it was unlinked and seq bumped (seq_bump, ordered
 *    before the stores that reuse it).  A reader that misses therefore
 *    trusts the miss only if layout and seq are the same after the walk
 *    as before (view_moved); otherwise it looks again.
 *  - A split is journaled in shard.pending_split, so a writer killed mid
 *    way leaves a state index_repair() can finish.
 */
#include "index.h"

#include "alloc.h"
#include "fault.h"
#include "map.h"

#include <errno.h>
#include <string.h>

static struct bucket *home(shmkv *db, struct shard *s, uint64_t tag)
{
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    return shmkv__bucket_at(db, s, shmkv__bucket_for(lay, db->base_bits, tag));
}

/* How many buckets directory entry d holds (0: one no layout uses, the
 * second to last entries of a chunk that is not pieced). */
uint64_t shmkv__dir_buckets(unsigned d, uint32_t base_bits)
{
    unsigned c = d / PIECES, k = d % PIECES;
    if (!c)
        return k ? 0 : 1ull << base_bits;
    unsigned lb = base_bits + c - 1, pb = lb >= PIECE_MIN_BITS ? lb - PIECE_BITS : lb;
    return c >= DIR_MAX || (pb == lb && k) ? 0 : 1ull << pb;
}

/* Start loading the key's home bucket ahead of need: before taking the
 * lock (the acquisition then overlaps the cache miss), or for the next
 * records a compaction step will look up.  Only a hint (a prefetch never
 * faults), so a layout that changes meanwhile costs only the wasted load.
 * Notes the bucket in h (buckets never move: a later hint, or index_find
 * while the layout is the same, may use it). */
void shmkv__index_prefetch(shmkv *db, struct shard *s, uint64_t tag, struct home *h)
{
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    struct bucket *bk = shmkv__bucket_at(db, s, shmkv__bucket_for(lay, db->base_bits, tag));
    if (bk)
        __builtin_prefetch(bk, 1);
    if (h)
        *h = (struct home){bk, lay};
}

/* Once the home bucket bk has arrived: start loading the record of its
 * first slot with the key's tag, which a write will compare and retire,
 * or, with no such slot, the overflow bucket the write walks on to.  Also
 * only a hint, read without the lock. */
void shmkv__index_prefetch_rec(shmkv *db, struct bucket *bk, uint64_t tag)
{
    unsigned hits = shmkv__bucket_scan(bk, tag, NULL);
    if (hits) {
        uint64_t v = atomic_load_explicit(shmkv__hit_slot(bk, hits), memory_order_relaxed);
        if (mem_ok(db, slot_off(v), 64))
            __builtin_prefetch(at(db, slot_off(v)), 1);
        return;
    }
    if (shmkv__chain_on(atomic_load_explicit(&bk->next, memory_order_relaxed), tag, 0))
        shmkv__index_prefetch_next(db, bk);
}

void shmkv__index_prefetch_next(shmkv *db, struct bucket *bk)
{
    struct bucket *ov = shmkv__bucket_next(db, bk);
    if (ov)
        __builtin_prefetch(ov, 1);
}

/* Does the shard (in layout lay) hold more keys than its buckets should,
 * counting early more keys to come, and can it still grow? */
static bool split_due(shmkv *db, struct shard *s, uint64_t lay, uint64_t early)
{
    uint32_t bb = db->base_bits;
    uint64_t keys = atomic_load_explicit(&s->keys, memory_order_relaxed);
    return shmkv__layout_ok(lay, bb) && bb + lay_level(lay) + 1 <= TAG_BITS &&
           keys + early > shmkv__bucket_count(lay, bb) * SPLIT_KEYS_PER_BUCKET;
}

/* Does the record at off hold this key?  Writers only (under lock). */
static bool rec_is(shmkv *db, uint64_t off, const void *key, size_t klen)
{
    if (!mem_ok(db, off, sizeof(struct rec)))
        return false;
    const struct rec *r = at(db, off);
    return r->klen == klen && mem_ok(db, off, rec_head(r) + klen) && memcmp(rec_key(r), key, klen) == 0;
}

int shmkv__index_find(shmkv *db, struct shard *s, uint64_t tag, const void *key, size_t klen, const struct home *h,
                      struct found *f)
{
    bool hinted = h && h->bk && atomic_load_explicit(&s->layout, memory_order_relaxed) == h->lay;
    struct bucket *first = hinted ? h->bk : home(db, s, tag), *bk = first;
    f->slot = f->empty = NULL;
    for (unsigned n = 0; bk; n++) {
        if (n > CHAIN_MAX)
            return -EBADMSG;
        unsigned empty, hits = shmkv__bucket_scan(bk, tag, &empty);
        if (empty && !f->empty) /* (used only when the key is not found) */
            f->empty = &bk->slot[__builtin_ctz(empty)];
        for (; hits; hits &= hits - 1) {
            _Atomic uint64_t *slot = shmkv__hit_slot(bk, hits);
            uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
            if (v && slot_tag(v) == tag && rec_is(db, slot_off(v), key, klen)) {
                f->slot = slot;
                f->val = v;
                return 0;
            }
        }
        /* the chain's filter may say the key is in no overflow bucket (so
         * an empty slot offered beyond the first bucket is one whose
         * publishing needs no new bit: the filter has the tag already) */
        uint64_t nx = atomic_load_explicit(&bk->next, memory_order_acquire), on = shmkv__chain_on(nx, tag, n);
        if (!on && !f->empty && (bk = shmkv__bucket_link(db, nx))) {
            /* absent, its first bucket full: index_reserve will walk on */
            __builtin_prefetch(bk, 1);
            return 0;
        }
        bk = shmkv__bucket_link(db, on);
    }
    return first ? 0 : -EBADMSG;
}

int shmkv__index_find_off(shmkv *db, struct shard *s, uint64_t tag, uint64_t off, _Atomic uint64_t **slot)
{
    uint64_t want = slot_make(off, tag);
    struct bucket *bk = home(db, s, tag);
    for (unsigned n = 0; bk && n <= CHAIN_MAX; n++) {
        for (unsigned i = 0; i < SLOTS; i++)
            if (slot_with_reads(atomic_load_explicit(&bk->slot[i], memory_order_relaxed), 0) == want) {
                *slot = &bk->slot[i];
                return 0;
            }
        bk = shmkv__bucket_next(db, bk);
    }
    return -ENOENT;
}

/* Set tag's bit in the filter of the chain whose first bucket is first,
 * before a slot of one of its overflow buckets is published with tag.
 * (The slot's release store orders it: a reader that sees the slot sees
 * the bit.) */
static void filter_add(struct bucket *first, uint64_t tag)
{
    uint64_t n = atomic_load_explicit(&first->next, memory_order_relaxed);
    if (!(n & tag_filter_bit(tag)))
        atomic_store_explicit(&first->next, n | tag_filter_bit(tag), memory_order_relaxed);
}

/* The filter bits of bk's tags. */
static uint64_t filter_of(const struct bucket *bk)
{
    uint64_t f = 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        uint64_t v = atomic_load_explicit(&bk->slot[i], memory_order_relaxed);
        f |= v ? tag_filter_bit(slot_tag(v)) : 0;
    }
    return f;
}

static void ov_put(shmkv *db, struct shard *s, struct bucket *bk)
{
    atomic_store_explicit(&bk->next, s->ov_free, memory_order_relaxed);
    s->ov_free = off_of(db, bk);
}

/* An empty overflow bucket from the shard's free list, which is refilled
 * from the spare tails of index runs or, when empty, a new index unit. */
static int ov_get(shmkv *db, struct shard *s, struct bucket **out)
{
    uint64_t off = s->ov_free;
    if (!off || (off & (BUCKET_BYTES - 1)) || !mem_ok(db, off, BUCKET_BYTES)) { /* none, or a bad link */
        /* journaled until its first bucket is on the free list */
        int e = shmkv__run_alloc(db, 1, RUN_INDEX, shard_index(db, s), false, &s->pending_index);
        if (e)
            return e;
        s->ov_free = 0;
        shmkv__index_adopt_tail(db, s, s->pending_index, 0);
        s->pending_index = 0;
        off = s->ov_free;
    }
    s->ov_free = atomic_load_explicit(&((struct bucket *)at(db, off))->next, memory_order_relaxed);
    /* the next taker reads the new head's link (a miss, 5 % of batched
     * puts growing 10 M keys): start loading it now */
    if (s->ov_free && mem_ok(db, s->ov_free, BUCKET_BYTES))
        prefetch_w(db, at(db, s->ov_free));
    struct bucket *bk = at(db, off);
    atomic_store_explicit(&bk->next, 0, memory_order_relaxed);
    for (unsigned i = 0; i < SLOTS; i++)
        atomic_store_explicit(&bk->slot[i], 0, memory_order_relaxed);
    *out = bk;
    return 0;
}
/* Find (or make, by linking an empty overflow bucket) a free slot in the
 * chain for tag.  Nothing visible changes: the slot stays 0 until the
 * caller stores into it. */
int shmkv__index_reserve(shmkv *db, struct shard *s, uint64_t tag, _Atomic uint64_t **out)
{
    struct bucket *first = home(db, s, tag), *bk = first, *last = NULL;
    for (unsigned n = 0; bk; n++) {
        if (n > CHAIN_MAX)
            return -EBADMSG;
        for (unsigned i = 0; i < SLOTS; i++)
            if (!atomic_load_explicit(&bk->slot[i], memory_order_relaxed)) {
                *out = &bk->slot[i];
                if (n)
                    filter_add(first, tag);
                return 0;
            }
        last = bk;
        bk = shmkv__bucket_next(db, bk);
    }
    if (!last)
        return -EBADMSG;
    struct bucket *ov;
    int e = ov_get(db, s, &ov);
    if (e)
        return e;
    /* link the (empty) bucket: release so readers see it zeroed (the
     * link of a chain's first bucket keeps its filter) */
    filter_add(first, tag);
    uint64_t was = atomic_load_explicit(&last->next, memory_order_relaxed);
    atomic_store_explicit(&last->next, link_filter(was) | off_of(db, ov), memory_order_release);
    add64(&s->ov_used, 1);
    *out = &ov->slot[0];
    return 0;
}

static bool bucket_empty(struct bucket *bk)
{
    for (unsigned i = 0; i < SLOTS; i++)
        if (atomic_load_explicit(&bk->slot[i], memory_order_relaxed))
            return false;
    return true;
}

/* Unlink the empty overflow buckets of a chain and give them back, and
 * set the chain's filter to the tags its overflow buckets hold now.  The
 * seq bump before any of them can be reused tells readers that were
 * walking them to look again if they missed.  (A filter that loses bits
 * hides no key: the tags it drops are in no bucket of the chain.)  A
 * damaged chain may loop: the walk stops after CHAIN_MAX buckets, as
 * every other one does (found by fuzz_open: a split's trim of a file
 * whose chain came back on itself never returned). */
static void chain_trim(shmkv *db, struct shard *s, struct bucket *head)
{
    struct bucket *prev = head, *bk = shmkv__bucket_next(db, head);
    uint64_t filter = 0;
    for (unsigned n = 0; bk && n <= CHAIN_MAX; n++) {
        struct bucket *nx = shmkv__bucket_next(db, bk);
        if (bucket_empty(bk)) {
            uint64_t was = atomic_load_explicit(&prev->next, memory_order_relaxed);
            atomic_store_explicit(&prev->next,
                                  link_filter(was) | link_off(atomic_load_explicit(&bk->next, memory_order_relaxed)),
                                  memory_order_release);
            seq_bump(&s->seq); /* before ov_put's stores reuse it */
            add64(&s->ov_used, -1);
            ov_put(db, s, bk);
        } else {
            filter |= filter_of(bk);
            prev = bk;
        }
        bk = nx;
    }
    uint64_t was = atomic_load_explicit(&head->next, memory_order_relaxed);
    if (link_filter(was) != filter)
        atomic_store_explicit(&head->next, link_off(was) | filter, memory_order_release);
}

void shmkv__index_remove(shmkv *db, struct shard *s, uint64_t tag, _Atomic uint64_t *slot)
{
    atomic_store_explicit(slot, 0, memory_order_release);
    struct bucket *head = home(db, s, tag);
    struct bucket *bk = (struct bucket *)((uintptr_t)slot & ~(uintptr_t)(BUCKET_BYTES - 1));
    if (head && bk != head) /* (the chain was just walked: it is in cache) */
        chain_trim(db, s, head);
}

/* Make sure the piece holding bucket b exists. */
static int piece_ensure(shmkv *db, struct shard *s, uint64_t b)
{
    uint64_t idx, len, r;
    unsigned d = dir_slot(b, db->base_bits, &idx, &len);
    if (d >= DIR_MAX * PIECES)
        return -ENOSPC;
    if (atomic_load_explicit(&s->dir[d], memory_order_relaxed))
        return 0;
    /* journaled in pending_index until the directory holds it, so a
     * writer killed in between leaks nothing (index_repair frees it) */
    int e = shmkv__run_alloc(db, units_of(RUN_HDR + len * BUCKET_BYTES), RUN_INDEX, shard_index(db, s), false,
                      &s->pending_index);
    if (e)
        return e;
    r = s->pending_index;
    atomic_store_explicit(&s->dir[d], r + RUN_HDR, memory_order_release);
    s->pending_index = 0;
    shmkv__index_adopt_tail(db, s, r, len);
    return 0;
}

/* A piece of 2^k buckets plus its run header never fills its last unit;
 * the rest of that unit becomes overflow buckets for the shard. */
void shmkv__index_adopt_tail(shmkv *db, struct shard *s, uint64_t run, uint64_t nbuckets)
{
    uint64_t end = run + (run_at(db, run)->nunits << UNIT_SHIFT);
    for (uint64_t off = run + RUN_HDR + nbuckets * BUCKET_BYTES; off + BUCKET_BYTES <= end; off += BUCKET_BYTES)
        ov_put(db, s, at(db, off));
}

static void bucket_clear(struct bucket *bk)
{
    atomic_store_explicit(&bk->next, 0, memory_order_relaxed);
    for (unsigned i = 0; i < SLOTS; i++)
        atomic_store_explicit(&bk->slot[i], 0, memory_order_relaxed);
}

/* Give back the overflow buckets a split took for its destination.  The
 * destination is not yet reachable, so no reader can be inside them. */
static void split_undo(shmkv *db, struct shard *s, struct bucket *dst)
{
    unsigned n = 0;
    for (struct bucket *b = shmkv__bucket_next(db, dst); b && n++ <= CHAIN_MAX;) {
        struct bucket *nx = shmkv__bucket_next(db, b);
        ov_put(db, s, b);
        b = nx;
    }
    bucket_clear(dst);
    s->pending_split = 0;
}

/* Step 1: count the slots of src's chain that move (tag & half), and get
 * every overflow bucket the destination chain needs before touching
 * anything, so a failure leaves no trace.  Journals the split. */
static int split_prepare(shmkv *db, struct shard *s, struct bucket *src, uint64_t half, uint64_t sbucket,
                         struct bucket *dst)
{
    unsigned moving = 0, n = 0;
    for (struct bucket *bk = src; bk && n <= CHAIN_MAX; bk = shmkv__bucket_next(db, bk), n++)
        moving += shmkv__slots_count(shmkv__bucket_bit(bk, half));
    s->pending_split = sbucket + 1;
    bucket_clear(dst);
    struct bucket *tail = dst;
    for (unsigned need = moving > SLOTS ? (moving - 1) / SLOTS : 0; need; need--) {
        struct bucket *ov;
        int e = ov_get(db, s, &ov);
        if (e) {
            split_undo(db, s, dst);
            return e;
        }
        atomic_store_explicit(&tail->next, off_of(db, ov), memory_order_relaxed);
        tail = ov;
    }
    return 0;
}

/* Step 2: copy the moving slots into the (still unreachable) destination.
 * False if the destination chain ended before they did: only damage does
 * that (a bucket linked from two chains, freed by one of them while the
 * other still led to it, then handed to this destination while the walk
 * of the source went through it: found by fuzz_open, a writer on a table
 * nobody had repaired); the caller then gives the split up. */
static bool split_copy(shmkv *db, struct shard *s, struct bucket *src, uint64_t half, struct bucket *dst)
{
    struct bucket *w = dst;
    unsigned wi = 0, ovs = 0, n = 0;
    uint64_t filter = 0; /* the tags it puts beyond dst */
    for (struct bucket *bk = src; bk && n <= CHAIN_MAX; bk = shmkv__bucket_next(db, bk), n++)
        for (unsigned m = shmkv__bucket_bit(bk, half); m; m &= m - 1) {
            if (wi == SLOTS) {
                if (!(w = shmkv__bucket_next(db, w)))
                    return false;
                wi = 0;
                ovs++;
            }
            uint64_t v = atomic_load_explicit(&bk->slot[__builtin_ctz(m)], memory_order_relaxed);
            atomic_store_explicit(&w->slot[wi++], v, memory_order_relaxed);
            filter |= ovs ? tag_filter_bit(slot_tag(v)) : 0;
        }
    /* the destination's filter, before the layout makes it reachable */
    atomic_store_explicit(&dst->next, atomic_load_explicit(&dst->next, memory_order_relaxed) | filter,
                          memory_order_relaxed);
    add64(&s->ov_used, ovs);
    return true;
}

#define COMPACT_BUCKETS 16u /* the part of a chain a split compacts */

/* The slots of the first COMPACT_BUCKETS buckets of the chain at head,
 * in walk order, into sl; a bucket met again (damage) ends them.  A
 * split compacts only these, so only these can hold a key twice. */
static unsigned chain_slots(shmkv *db, struct bucket *head, _Atomic uint64_t **sl)
{
    struct bucket *seen[COMPACT_BUCKETS];
    unsigned nb = 0;
    for (struct bucket *bk = head; bk && nb < COMPACT_BUCKETS; bk = shmkv__bucket_next(db, bk)) {
        for (unsigned i = 0; i < nb; i++)
            if (seen[i] == bk)
                return nb * SLOTS;
        seen[nb] = bk;
        for (unsigned i = 0; i < SLOTS; i++)
            sl[nb * SLOTS + i] = &bk->slot[i];
        nb++;
    }
    return nb * SLOTS;
}

/* Step 3b: the keys that stayed in the source's overflow buckets, copied
 * into the holes the moved keys left nearer its head, the last bucket's
 * first (so that it empties and chain_trim gives it back).  The originals
 * stay until the caller has bumped seq, so a reader that missed both
 * sees the bump; a writer stopped in between leaves keys in two slots,
 * which walks hand over once (index_walk) and a repair clears
 * (index_repair).  Returns how many moved, their old slots in from. */
static unsigned split_compact(shmkv *db, struct bucket *src, _Atomic uint64_t **from)
{
    _Atomic uint64_t *sl[COMPACT_BUCKETS * SLOTS];
    unsigned n = chain_slots(db, src, sl), k = 0;
    for (unsigned i = 0, j = n;; i++, j--) {
        while (i < n && atomic_load_explicit(sl[i], memory_order_relaxed))
            i++;
        while (j > 0 && !atomic_load_explicit(sl[j - 1], memory_order_relaxed))
            j--;
        if (i + 1 >= j || i / SLOTS == (j - 1) / SLOTS) /* no hole in an earlier bucket */
            return k;
        atomic_store_explicit(sl[i], atomic_load_explicit(sl[j - 1], memory_order_relaxed), memory_order_relaxed);
        from[k++] = sl[j - 1];
    }
}

/* After a writer died in a split's compaction: clear the second slot of
 * any key the chain at head holds twice. */
static void chain_dedupe(shmkv *db, struct bucket *head)
{
    _Atomic uint64_t *sl[COMPACT_BUCKETS * SLOTS];
    unsigned n = chain_slots(db, head, sl);
    for (unsigned i = 1; i < n; i++) {
        uint64_t v = slot_with_reads(atomic_load_explicit(sl[i], memory_order_relaxed), 0);
        for (unsigned j = 0; v && j < i; j++)
            if (slot_with_reads(atomic_load_explicit(sl[j], memory_order_relaxed), 0) == v) {
                atomic_store_explicit(sl[i], 0, memory_order_relaxed);
                break;
            }
    }
}

/* Step 3: publish the new layout (from here readers look for the moved
 * keys in the destination), then clear them from the source, compact the
 * source's chain and bump seq.  seq_publish orders the layout after the
 * copies and before the clearing, so a reader that sees a cleared slot
 * also sees the new layout; seq_bump orders the compaction's copies
 * before the clearing of their originals. */
static void split_publish(shmkv *db, struct shard *s, struct bucket *src, uint64_t half, uint64_t layout)
{
    seq_publish(&s->layout, layout);
    shmkv__pause_at(PAUSE_SPLIT_PUBLISHED);
    unsigned n = 0;
    for (struct bucket *bk = src; bk && n <= CHAIN_MAX; bk = shmkv__bucket_next(db, bk), n++)
        for (unsigned m = shmkv__bucket_bit(bk, half); m; m &= m - 1)
            atomic_store_explicit(&bk->slot[__builtin_ctz(m)], 0, memory_order_relaxed);
    _Atomic uint64_t *from[COMPACT_BUCKETS * SLOTS];
    unsigned k = split_compact(db, src, from);
    if (k) {
        shmkv__pause_at(PAUSE_SPLIT_COMPACTED);
        shmkv__stall_at(STALL_SPLIT_COMPACTED);
    }
    seq_bump(&s->seq);
    for (unsigned i = 0; i < k; i++)
        atomic_store_explicit(from[i], 0, memory_order_relaxed);
    chain_trim(db, s, src);
    s->pending_split = 0;
}

/* Split the bucket at the split pointer if the shard (with early more
 * keys) is loaded enough: false if it was not split.  Failure to find
 * memory just postpones the split: chains grow a little meanwhile. */
static bool split_one(shmkv *db, struct shard *s, uint64_t early)
{
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    uint32_t L = lay_level(lay), bb = db->base_bits;
    if (!split_due(db, s, lay, early))
        return false;
    uint64_t sb = lay_split(lay), half = 1ull << (bb + L), dstb = sb + half;
    if (piece_ensure(db, s, dstb))
        return false;
    struct bucket *src = shmkv__bucket_at(db, s, sb), *dst = shmkv__bucket_at(db, s, dstb);
    if (!src || !dst || split_prepare(db, s, src, half, sb, dst))
        return false;
    if (!split_copy(db, s, src, half, dst)) {
        split_undo(db, s, dst);
        return false;
    }
    split_publish(db, s, src, half, sb + 1 == half ? (uint64_t)(L + 1) << 32 : ((uint64_t)L << 32) | (sb + 1));
    add64(&s->splits, 1);
    return true;
}

/* Start loading the buckets a burst of splits will divide (neighbours
 * in memory), their destinations, and then each source's overflow
 * bucket: the sources went longest without a split, are the shard's
 * most loaded, and nearly all have one.  The loads overlap, where one
 * split at a time waited on its source and then its overflow bucket. */
static void split_burst_prefetch(shmkv *db, struct shard *s, uint64_t lay)
{
    uint64_t sb = lay_split(lay), half = 1ull << (db->base_bits + lay_level(lay));
    struct bucket *src[SPLIT_BURST], *dst;
    unsigned n = 0;
    prefetch_w(db, &s->pending_split); /* the splits' journal, the overflow free list */
    prefetch_w(db, &s->ov_used);       /* and their counters, on the next line */
    for (; n < SPLIT_BURST && sb + n < half && (src[n] = shmkv__bucket_at(db, s, sb + n)); n++) {
        __builtin_prefetch(src[n], 1);
        if ((dst = shmkv__bucket_at(db, s, sb + n + half)))
            __builtin_prefetch(dst, 1);
    }
    for (unsigned i = 0; i < n; i++)
        shmkv__index_prefetch_next(db, src[i]);
}

/* Once the shard holds more keys than its buckets should, split a burst
 * of SPLIT_BURST buckets, which leaves room for that many buckets' keys
 * before the next burst.  Each split is journaled and published on its
 * own as before; a burst writes the layout's line (which every writer
 * and reader of the shard reads) once in a while instead of every
 * SPLIT_KEYS_PER_BUCKET keys, and its misses overlap. */
void shmkv__index_maybe_split(shmkv *db, struct shard *s)
{
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    if (!split_due(db, s, lay, 0))
        return;
    split_burst_prefetch(db, s, lay);
    /* each split of the burst as if the keys of the rest were there */
    const uint64_t early = (uint64_t)(SPLIT_BURST - 1) * SPLIT_KEYS_PER_BUCKET;
    for (unsigned i = 0; i < SPLIT_BURST; i++)
        if (!split_one(db, s, early))
            break;
}

/* An index run allocated by a writer that died before the directory or
 * the overflow free list took it: nothing else can reach it, so free it. */
static void repair_pending_index(shmkv *db, struct shard *s)
{
    uint64_t r = s->pending_index;
    s->pending_index = 0;
    if (shmkv__run_settle(db, s, r) || !shmkv__run_ok(db, r, RUN_INDEX, s))
        return;
    uint64_t end = r + (run_at(db, r)->nunits << UNIT_SHIFT);
    for (unsigned d = 0; d < DIR_MAX * PIECES; d++) {
        uint64_t p = atomic_load_explicit(&s->dir[d], memory_order_relaxed);
        if (p >= r && p < end)
            return;
    }
    if (s->ov_free >= r && s->ov_free < end)
        return;
    shmkv__run_free(db, s, r);
}

/* After a writer died holding the lock: free an index run it had not yet
 * placed, and finish a split it interrupted by dropping from the source
 * chain every slot that the current layout places elsewhere, and the
 * second slot of a key its compaction had copied but not yet cleared.
 * If the layout was not yet published this drops nothing; the half-built
 * destination is unreachable and will be cleared by the next split. */
int shmkv__index_repair(shmkv *db, struct shard *s)
{
    if (s->pending_index)
        repair_pending_index(db, s);
    if (!s->pending_split)
        return 0;
    uint64_t src = s->pending_split - 1;
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    struct bucket *sb = shmkv__layout_ok(lay, db->base_bits) && src < shmkv__bucket_count(lay, db->base_bits)
                            ? shmkv__bucket_at(db, s, src) : NULL;
    unsigned n = 0;
    for (struct bucket *bk = sb; bk && n <= CHAIN_MAX; bk = shmkv__bucket_next(db, bk), n++)
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t v = atomic_load_explicit(&bk->slot[i], memory_order_relaxed);
            if (v && shmkv__bucket_for(lay, db->base_bits, slot_tag(v)) != src)
                atomic_store_explicit(&bk->slot[i], 0, memory_order_relaxed);
        }
    if (sb)
        chain_dedupe(db, sb);
    seq_bump(&s->seq);
    if (sb)
        chain_trim(db, s, sb);
    s->pending_split = 0;
    return 0;
}

/* The operator's repair: every chain's filter made again from the tags
 * it holds (a damaged filter hides keys from writers, which then add
 * them twice), and its empty overflow buckets unlinked. */
void shmkv__index_refilter(shmkv *db, struct shard *s)
{
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    if (!shmkv__layout_fits(db, lay))
        return;
    for (uint64_t b = 0, nb = shmkv__bucket_count(lay, db->base_bits); b < nb; b++) {
        struct bucket *bk = shmkv__bucket_at(db, s, b);
        if (bk)
            chain_trim(db, s, bk);
    }
}

/* Does the layout fit the file?  A bit flip in a layout's level can claim
 * millions of buckets; no sound shard has more than the file holds. */
bool shmkv__layout_fits(shmkv *db, uint64_t lay)
{
    return shmkv__layout_ok(lay, db->base_bits) &&
           mem_ok(db, db->data_off, shmkv__bucket_count(lay, db->base_bits) * BUCKET_BYTES);
}

/* Is v's record among seen[0..*n), the placed slots of a chain's first
 * COMPACT_BUCKETS buckets walked so far?  If not, it is added.  (A split's
 * compaction stopped between its copies and its clears leaves a key in
 * two of them.) */
static bool seen_before(uint64_t *seen, unsigned *n, uint64_t v)
{
    uint64_t off = slot_off(v);
    for (unsigned i = 0; i < *n; i++)
        if (seen[i] == off)
            return true;
    seen[(*n)++] = off;
    return false;
}

/* Call fn for every occupied slot of the shard, bucket by bucket.  With
 * WALK_PLACED, slots that the walk's layout puts in another bucket are
 * passed over: they are the source copies of a split that published its
 * layout but has not cleared them yet (a writer stopped or killed there),
 * and their keys are reached in their new bucket; so is the second slot
 * of a key that a split's compaction, stopped there, holds twice.  A
 * link to no bucket is damage (readers say -EBADMSG on meeting it):
 * -EBADMSG, or with WALK_CUT (repair) the chain ends there.  (Walks used
 * to end there silently, so the checker called such a chain sound: found
 * by test_hostile.)  A chain that loops is -EBADMSG. */
int shmkv__index_walk(shmkv *db, struct shard *s, unsigned flags, shmkv__slot_fn fn, void *ctx)
{
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_acquire);
    if (!shmkv__layout_fits(db, lay))
        return -EBADMSG;
    uint64_t nb = shmkv__bucket_count(lay, db->base_bits);
    /* a sound shard has no more buckets than the file has room for */
    uint64_t budget = atomic_load_explicit(&db->known_size, memory_order_relaxed) / BUCKET_BYTES + nb;
    for (uint64_t b = 0; b < nb; b++) {
        struct bucket *bk = shmkv__bucket_at(db, s, b);
        if (!bk)
            return -EBADMSG;
        /* a chain that comes back on itself (Brent's cycle finding: mark
         * jumps ahead to the walk at every power of two steps) is damage,
         * found within twice its length: walking it up to the budget made
         * foreach copy its slots once per 64 bytes of the file */
        struct bucket *mark = bk;
        uint64_t seen[COMPACT_BUCKETS * SLOTS];
        unsigned nseen = 0, depth = 0;
        for (uint64_t step = 1, lap = 1; bk; step++, depth++) {
            if (!budget--)
                return -EBADMSG;
            for (unsigned i = 0; i < SLOTS; i++) {
                uint64_t v = atomic_load_explicit(&bk->slot[i], memory_order_acquire);
                if (!v || ((flags & WALK_PLACED) && shmkv__bucket_for(lay, db->base_bits, slot_tag(v)) != b))
                    continue;
                if ((flags & WALK_PLACED) && depth < COMPACT_BUCKETS && seen_before(seen, &nseen, v))
                    continue;
                int r = fn(db, s, v, &bk->slot[i], ctx);
                if (r)
                    return r;
            }
            uint64_t n = link_off(atomic_load_explicit(&bk->next, memory_order_acquire));
            struct bucket *nx = shmkv__bucket_link(db, n);
            if (nx && nx == mark)
                return -EBADMSG;
            if (n && !nx) {
                if (!(flags & WALK_CUT))
                    return -EBADMSG;
                atomic_store_explicit(&bk->next, 0, memory_order_release);
            }
            if (step == lap) {
                mark = nx;
                lap *= 2;
                step = 0;
            }
            bk = nx;
        }
    }
    return 0;
}
