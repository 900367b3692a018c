/*
 * list.c - lists under keys: the mechanics, under the shard's lock and
 * both its lanes, but a tail push and a head pop in the lanes (below).
 *
 * A list key's slot holds an ordinary immutable record (REC_LIST) whose
 * value is the offset of the list's run (RUN_LIST, one unit): the list's
 * mutable state (struct list, format.h) and, while it is small, its ring.
 * The elements lie in the ring itself, one after the other, each framed
 * by a tag (length and check) at both ends so that either end can be
 * walked: a push copies its bytes in, a pop copies them out, and the ring
 * space a pop frees is the next push's, so a queue that carries any
 * number of elements over its life needs only as much memory as it holds
 * at once, and no compaction ever visits an element.  The ring doubles
 * into a run of its own (RUN_RING) when full (one of 1 MiB or more only
 * when its consumer makes no room: queue.c).  An element too big for a
 * ring (huge_min and more), and every element of a push that would take
 * the ring past RING_INLINE_MAX (16 MiB: a deep queue), is a record of its own
 * (REC_ELEM, in the log, a huge run or a chain, written like a value)
 * whose offset its ring entry holds: compaction moves such a record as
 * it moves a pair's, and rewrites the entry.
 *
 * Why bytes in a ring and not records in the log (formats up to 4): a
 * queue's elements are written once, read once and dropped, and as log
 * records each one paid a record header, a log append, a ring slot, the
 * run's live accounting on the way in and out, a validation against its
 * run on every touch and finally compaction; across processes each of
 * those is a cache line the pusher and the popper pass back and forth
 * under the shard lock they share (BENCHMARKS.md 10).
 *
 * Crash safety, each change ordered so that the file is right after every
 * store, with one store as the commit:
 *  - push: write the elements' bytes in the free part of the ring (and
 *    append the records of out-of-line ones), then move the end word
 *    (position and index) with one store.  Killed before it, the bytes lie
 *    in free space and the records are garbage nothing references.
 *  - pop: move the end word, then retire the out-of-line records
 *    (accounting only).
 *  - ring growth: the new ring is journaled (pending_ring) from its
 *    allocation, filled, switched to with one store of the ring word
 *    (offset and size together), then the old one is journaled and freed.
 *    Positions do not change: the byte at position p moves from old[8p &
 *    (cap - 1)] to new[8p & (2cap - 1)].
 *  - a move from one list to another (queue.c holds both locks): the
 *    destination's push is committed first, then the source's pop; the
 *    source's journal (move_*) records both end words from before, the
 *    destination's (move_src) the source, so the repairs of the two
 *    shards agree on whether the push was committed and finish the pop
 *    exactly then (repair_move): an element is in one list or the other,
 *    never both, never neither.
 *  - create and delete: journaled in shard.pending_list.
 * Every change but a lane's moves ver on after its commit, for lock-free
 * copies (which compare the head as well).
 * The shard's repair (shard.c) finishes or forgets each of these and
 * counts the out-of-line elements' live bytes into their runs.
 */
#include "list.h"

#include "alloc.h"
#include "atomics.h"
#include "fault.h"
#include "map.h"
#include "sleepers.h"

#include "shmkv.h"

#include <errno.h>
#include <string.h>

#define LIST_MAX (1u << 31)   /* elements: lengths are 32-bit differences */
#define RING_MAX_LOG 34u      /* the biggest ring, 16 GiB: positions count 8-byte units modulo 2^32 */
#define RING_INLINE_MAX (1u << 24) /* elements' bytes go into a ring only up to 16 MiB */
#define RING_PACE_MIN (1u << 20)   /* a ring this big grows only when no pop comes (queue.c) */
#define PACE_SLACK 64              /* a pusher that waits in one for pops waits for 1/64 of it */
#define TAG_CHECK 0x454c454du /* a tag's high half is its low half ^ this */
#define TAG_OUT (1u << 31)    /* the element lies out of line: its payload is a record's offset */

static uint64_t ring_off(uint64_t w) { return w & ~63ull; }
static uint64_t ring_cap(uint64_t w) { return 1ull << (w & 63); }

/* Is a ring word's size one a ring can have? */
static bool ring_size_ok(uint64_t w) { return (w & 63) <= RING_MAX_LOG && (w & 63) >= 6; }

/* Is the ring word of list run lrun sound: the inline ring, or a ring run
 * of s big enough? */
static bool ring_ok(shmkv *db, struct shard *s, uint64_t lrun, uint64_t w)
{
    uint64_t off = ring_off(w), cap = ring_cap(w);
    if (!ring_size_ok(w))
        return false;
    if (off == lrun + LIST_RING_OFF)
        return cap == LIST_INLINE;
    return off >= RUN_HDR && shmkv__run_ok(db, off - RUN_HDR, RUN_RING, s) &&
           RUN_HDR + cap <= run_at(db, off - RUN_HDR)->nunits << UNIT_SHIFT;
}

/* ---- bytes in the ring ---- */

static uint64_t ring_at(uint64_t w, uint32_t pos) { return ring_off(w) + (((uint64_t)pos << 3) & (ring_cap(w) - 1)); }

static void ring_write(shmkv *db, uint64_t w, uint32_t pos, const void *src, size_t n)
{
    uint64_t b = ((uint64_t)pos << 3) & (ring_cap(w) - 1), first = ring_cap(w) - b < n ? ring_cap(w) - b : n;
    if (!n)
        return;
    memcpy(at(db, ring_off(w) + b), src, first);
    if (n > first)
        memcpy(at(db, ring_off(w)), (const uint8_t *)src + first, n - first);
}

/* Read racily: lock-free copies read rings that writers change. */
static void ring_read(shmkv *db, uint64_t w, uint32_t pos, void *dst, size_t n)
{
    uint64_t b = ((uint64_t)pos << 3) & (ring_cap(w) - 1), first = ring_cap(w) - b < n ? ring_cap(w) - b : n;
    if (!n)
        return;
    racy_copy(dst, at(db, ring_off(w) + b), first);
    if (n > first)
        racy_copy((uint8_t *)dst + first, at(db, ring_off(w)), n - first);
}

/* Ask for the lines of units units from pos, all at once.  An element
 * that a popper is about to read was just written by a pusher on another
 * core: its tags and then the copy's loads would ask for its lines one
 * after the other, a few at a time (4 KiB elements between two processes:
 * 3 to 6 % more a second, BENCHMARKS.md 10.5). */
#define RING_PREFETCH_MIN 1024 /* bytes: smaller elements are a line or few */

static void ring_prefetch(shmkv *db, uint64_t w, uint32_t pos, uint32_t units)
{
    uint64_t b = ((uint64_t)pos << 3) & (ring_cap(w) - 1), n = (uint64_t)units << 3;
    for (uint64_t i = 0; i < n; i += 64)
        __builtin_prefetch((const uint8_t *)at(db, ring_off(w)) + ((b + i) & (ring_cap(w) - 1)), 0, 3);
}

static uint64_t ring_word(shmkv *db, uint64_t w, uint32_t pos)
{
    uint64_t v;
    racy_copy(&v, at(db, ring_at(w, pos)), sizeof v);
    return v;
}

/* ---- elements: tag, payload padded to 8, tag ---- */

static uint64_t tag_make(uint32_t len, bool out)
{
    uint32_t lo = len | (out ? TAG_OUT : 0);
    return (uint64_t)(lo ^ TAG_CHECK) << 32 | lo;
}

static uint32_t elem_units(uint32_t len) { return 2 + (len + 7) / 8; }

/* An element: tag, payload, tag at pos.  Most lie whole before the
 * ring's end, and then the tags are two plain stores around one copy
 * (a queue of small elements spends its pushes here). */
static void elem_write(shmkv *db, uint64_t w, uint32_t pos, uint64_t tag, const void *src, uint32_t len)
{
    uint64_t b = ((uint64_t)pos << 3) & (ring_cap(w) - 1), n = (uint64_t)elem_units(len) << 3;
    if (b + n > ring_cap(w)) {
        ring_write(db, w, pos, &tag, 8);
        ring_write(db, w, pos + 1, src, len);
        ring_write(db, w, pos + (uint32_t)(n >> 3) - 1, &tag, 8);
        return;
    }
    uint8_t *p = (uint8_t *)at(db, ring_off(w) + b);
    memcpy(p, &tag, 8);
    if (len)
        memcpy(p + 8, src, len);
    memcpy(p + n - 8, &tag, 8);
}

/* Does a value of vlen bytes lie out of line?  When its record would be
 * huge: then the log writes it as it writes a huge value. */
static bool goes_out(const shmkv *db, size_t vlen) { return rec_size(8, vlen, 8) >= db->huge_min; }

struct elem {
    uint32_t pos, units, len; /* where it starts, its units, its payload's bytes */
    bool out;
};

/* The element at one end of a span of avail units: from the head, the
 * one starting at pos; from the tail, the one ending there.  False if its
 * tags are not sound or it does not fit the span. */
static bool elem_at(shmkv *db, uint64_t w, int end, uint32_t pos, uint32_t avail, struct elem *e)
{
    if (avail < 2)
        return false;
    uint64_t t = ring_word(db, w, end == SHMKV_HEAD ? pos : pos - 1);
    if ((uint32_t)(t >> 32) != ((uint32_t)t ^ TAG_CHECK))
        return false;
    e->len = (uint32_t)t & ~TAG_OUT;
    e->out = (uint32_t)t & TAG_OUT;
    e->units = elem_units(e->len);
    if (e->units > avail || (e->out && e->len != 8))
        return false;
    e->pos = end == SHMKV_HEAD ? pos : pos - e->units;
    if (e->len >= RING_PREFETCH_MIN) /* before the other tag's line, which is one of them */
        ring_prefetch(db, w, e->pos, e->units);
    return ring_word(db, w, end == SHMKV_HEAD ? pos + e->units - 1 : e->pos) == t;
}

/* The next position of a walk from end past e. */
static uint32_t walk_past(int end, uint32_t pos, const struct elem *e)
{
    return end == SHMKV_HEAD ? pos + e->units : pos - e->units;
}

/* An element's value size (and, out of line, its record, validated). */
static bool elem_size(shmkv *db, uint64_t w, const struct elem *e, size_t *vlen, uint64_t *off, struct rec *rh)
{
    *off = 0;
    if (!e->out) {
        *vlen = e->len;
        return true;
    }
    *off = ring_word(db, w, e->pos + 1);
    if (!shmkv__rec_run(db, *off))
        return false;
    racy_copy(rh, at(db, *off), sizeof *rh);
    *vlen = rh->vlen;
    return true;
}

static bool elem_copy(shmkv *db, uint64_t w, const struct elem *e, uint64_t off, const struct rec *rh, void *dst)
{
    if (!off) {
        ring_read(db, w, e->pos + 1, dst, e->len);
        return true;
    }
    return shmkv__rec_value(db, off, rh, dst);
}

/* ---- the list ---- */

/* Is lrun a sound list run of s?  *w: its ring word. */
static bool list_ok(shmkv *db, struct shard *s, uint64_t lrun, uint64_t *w)
{
    if (!shmkv__run_ok(db, lrun, RUN_LIST, s))
        return false;
    *w = atomic_load_explicit(&list_at(db, lrun)->ring, memory_order_relaxed);
    return ring_ok(db, s, lrun, *w);
}

uint64_t shmkv__list_run(shmkv *db, struct shard *s, uint64_t off)
{
    const struct rec *r = at(db, off);
    uint64_t lrun, w;
    if (r->vlen != sizeof lrun || !mem_ok(db, off, rec_bytes(r)))
        return 0;
    memcpy(&lrun, rec_key(r) + r->klen, sizeof lrun);
    return list_ok(db, s, lrun, &w) ? lrun : 0;
}

int shmkv__list_create(shmkv *db, struct shard *s, uint64_t *lrun)
{
    int e = shmkv__run_alloc(db, 1, RUN_LIST, shard_index(db, s), false, &s->pending_list);
    if (e)
        return e;
    uint64_t ro = s->pending_list;
    struct list *l = list_at(db, ro);
    memset(l, 0, sizeof *l);
    atomic_store_explicit(&l->ring, (ro + LIST_RING_OFF) | (uint64_t)__builtin_ctz(LIST_INLINE),
                          memory_order_relaxed);
    *lrun = ro;
    return 0;
}

/* Move ver on: only holders of the shard's lock write it, so a load and
 * a release store, no locked add (which would wait for the store buffer
 * on every push and pop). */
static void changed(struct list *l)
{
    atomic_store_explicit(&l->ver, atomic_load_explicit(&l->ver, memory_order_relaxed) + 1, memory_order_release);
}

/* Grow the ring to at least need bytes (see the crash notes at the top). */
static int ring_grow(shmkv *db, struct shard *s, uint64_t lrun, uint64_t need)
{
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed), cap = ring_cap(w), ncap = cap;
    while (ncap < need)
        ncap *= 2;
    uint32_t head = END_POS(atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed));
    uint32_t tail = END_POS(atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed));
    int e = shmkv__run_alloc(db, units_of(RUN_HDR + ncap), RUN_RING, shard_index(db, s), false, &l->pending_ring);
    if (e)
        return e;
    uint64_t nw = (l->pending_ring + RUN_HDR) | (uint64_t)__builtin_ctzll(ncap);
    for (uint64_t b = (uint64_t)head << 3, left = (uint64_t)(tail - head) << 3; left;) {
        uint64_t so = b & (cap - 1), no = b & (ncap - 1), n = left;
        n = cap - so < n ? cap - so : n;
        n = ncap - no < n ? ncap - no : n;
        memcpy(at(db, ring_off(nw) + no), at(db, ring_off(w) + so), n);
        b += n;
        left -= n;
    }
    atomic_store_explicit(&l->ring, nw, memory_order_release); /* the commit: offset and size together */
    changed(l);
    if (ring_off(w) != lrun + LIST_RING_OFF) {
        l->pending_ring = ring_off(w) - RUN_HDR;
        shmkv__run_free(db, s, l->pending_ring);
    }
    l->pending_ring = 0;
    return 0;
}

/* Visit the out-of-line records of the n elements written from position
 * pos towards the far end (a push's, walked again). */
static void visit_out(shmkv *db, struct shard *s, uint64_t w, int end, uint32_t pos, size_t n,
                      void (*fn)(shmkv *db, struct shard *s, uint64_t off))
{
    int from = end == SHMKV_TAIL ? SHMKV_HEAD : SHMKV_TAIL; /* a tail push wrote upwards */
    struct elem e;
    for (size_t k = 0; k < n && elem_at(db, w, from, pos, UINT32_MAX, &e); k++, pos = walk_past(from, pos, &e)) {
        uint64_t off = e.out ? ring_word(db, w, e.pos + 1) : 0;
        if (off && shmkv__rec_run(db, off))
            fn(db, s, off);
    }
}

/* A push that failed after writing j elements pushes nothing: the
 * records of its out-of-line ones are runs of their own that nothing
 * would ever count live: release them now.  (Found by fuzz_ops: push_many
 * of big elements into a full table leaked their runs.) */
static void release_huge(shmkv *db, struct shard *s, uint64_t off)
{
    uint64_t ro = shmkv__rec_run(db, off);
    if (ro && run_at(db, ro)->kind == RUN_HUGE)
        shmkv__run_release(db, s, ro);
}

int shmkv__list_push(shmkv *db, struct shard *s, uint64_t lrun, const struct piece *vals, size_t n, int end)
{
    struct list *l = list_at(db, lrun);
    uint64_t ew = atomic_load_explicit(&l->end[end].w, memory_order_relaxed);
    uint64_t hw = atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed);
    uint64_t tw = atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed);
    if (n > LIST_MAX - 1 - list_len(hw, tw))
        return -EOVERFLOW;
    uint64_t used = END_POS(tw) - END_POS(hw), need = used; /* units */
    for (size_t j = 0; j < n; j++)
        need += elem_units(goes_out(db, vals[j].len) ? 8 : (uint32_t)vals[j].len);
    /* a ring past RING_INLINE_MAX takes only entries: the bytes of a
     * deep queue go to the log, so that no doubling copies more than
     * that (a queue whose producers ran far ahead once grew its ring
     * to hundreds of megabytes, and the copy held the lock past the
     * others' one-second wait) */
    bool spill = need << 3 > RING_INLINE_MAX;
    if (spill)
        need = used + n * elem_units(8);
    if (need > 1ull << (RING_MAX_LOG - 3))
        return -EOVERFLOW;
    if (need << 3 > ring_cap(atomic_load_explicit(&l->ring, memory_order_relaxed))) {
        int e = ring_grow(db, s, lrun, need << 3);
        if (e)
            return e;
    }
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    uint32_t pos = END_POS(ew);
    size_t outs = 0;
    for (size_t j = 0; j < n; j++) {
        bool out = spill || goes_out(db, vals[j].len);
        outs += out;
        uint32_t len = out ? 8 : (uint32_t)vals[j].len, u = elem_units(len), p = end == SHMKV_TAIL ? pos : pos - u;
        uint64_t off = 0, tag = tag_make(len, out);
        if (out) {
            int e = shmkv__log_append(db, s, &lrun, sizeof lrun, &vals[j], 1, ext_make(REC_ELEM, p), false, &off);
            if (e) {
                visit_out(db, s, w, end, END_POS(ew), j, release_huge);
                return e;
            }
        }
        elem_write(db, w, p, tag, out ? &off : vals[j].p, len);
        s->pending_huge = 0; /* an out-of-line element's run: reached from the ring from the commit on */
        pos = end == SHMKV_TAIL ? pos + u : pos - u;
        if (!out) /* (the log paused for an out-of-line one's record) */
            shmkv__pause_at(PAUSE_RECORD_WRITTEN);
    }
    uint32_t idx = end == SHMKV_TAIL ? END_INDEX(ew) + (uint32_t)n : END_INDEX(ew) - (uint32_t)n;
    atomic_store_explicit(&l->end[end].w, (uint64_t)pos << 32 | idx, memory_order_release); /* the commit */
    changed(l);
    visit_out(db, s, w, end, END_POS(ew), n, shmkv__log_adopt);
    return outs ? 1 : 0;
}

long shmkv__list_peek(shmkv *db, uint64_t lrun, int end, size_t max, void *buf, size_t cap, size_t *lens)
{
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    uint64_t hw = atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed);
    uint64_t tw = atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed);
    uint32_t len = list_len(hw, tw), avail = END_POS(tw) - END_POS(hw), pos = END_POS(end == SHMKV_HEAD ? hw : tw);
    size_t used = 0, k = 0;
    for (struct elem e; k < max && k < len; k++, avail -= e.units, pos = walk_past(end, pos, &e)) {
        size_t vl;
        uint64_t off;
        struct rec rh;
        if (!elem_at(db, w, end, pos, avail, &e) || !elem_size(db, w, &e, &vl, &off, &rh))
            return -EBADMSG;
        if (vl > cap - used) {
            if (k)
                break;
            lens[0] = vl;
            return -ENOBUFS;
        }
        /* buf may be NULL (cap 0) for an element of 0 bytes: no
         * arithmetic on it then */
        if (vl && !elem_copy(db, w, &e, off, &rh, (uint8_t *)buf + used))
            return -EBADMSG;
        lens[k] = vl;
        used += vl;
    }
    return (long)k;
}

/* ---- the lanes: a tail push and a head pop side by side ---- */

/* The lanes' rules, which let them run together without the shard's lock
 * (every other change holds it and both lanes):
 *  - a lane push only writes bytes past the tail, into room that the head
 *    it read (acquire: the popper had copied them out before it moved the
 *    head) leaves free, and commits by storing the tail (release: its
 *    bytes are there before a popper can see them);
 *  - a lane pop only reads elements before the tail it read (acquire), and
 *    commits by storing the head (release);
 *  - neither writes anything else of the list (not ver: a lock-free copy
 *    compares the head as well, and only a head pop frees bytes that a
 *    tail push may then write over), and neither touches an out-of-line
 *    element, whose entry compaction may rewrite under the shard's lock;
 *  - the ring word changes only under both lanes, so a lane's holder
 *    reads it once. */

/* The other end's word, for the lane of end mine: as this lane last read
 * it, while ver has not moved since (no slow change: only the other lane
 * moved it since, towards this end's advantage: a head only forward,
 * freeing room; a tail only forward, adding elements), else read afresh
 * (acquire: what its lane did before it stored the word is done), as it
 * is when fresh.  Saves a pusher the line of a head a popper writes, and
 * a popper with elements in hand the tail's. */
static uint64_t lane_other(struct list *l, int mine, bool fresh)
{
    struct list_end *e = &l->end[mine];
    uint64_t v = atomic_load_explicit(&l->ver, memory_order_relaxed); /* stable: changed under both lanes */
    if (!fresh && e->other_ver == v)
        return e->other;
    e->other = atomic_load_explicit(&l->end[!mine].w, memory_order_acquire);
    e->other_ver = v;
    return e->other;
}

int shmkv__list_lane_push(shmkv *db, struct shard *s, uint64_t lrun, const struct piece *vals, size_t n,
                          uint64_t max, bool slack, uint32_t *seen)
{
    uint64_t w;
    if (!list_ok(db, s, lrun, &w))
        return LIST_SLOW;
    struct list *l = list_at(db, lrun);
    uint64_t tw = atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed), units = 0;
    for (size_t j = 0; j < n; j++) {
        if (goes_out(db, vals[j].len))
            return LIST_SLOW;
        units += elem_units((uint32_t)vals[j].len);
    }
    for (bool fresh = false;; fresh = true) {
        if (fresh) /* the head's word before the head: see lane_pop's *seen */
            *seen = atomic_load_explicit(&l->end[SHMKV_HEAD].wake, memory_order_acquire);
        uint64_t hw = lane_other(l, SHMKV_TAIL, fresh), need = (uint32_t)(END_POS(tw) - END_POS(hw)) + units;
        bool room = n <= max && list_len(hw, tw) <= max - n;
        uint64_t want = (need << 3) + (slack ? ring_cap(w) / PACE_SLACK : 0);
        bool deep = want > RING_INLINE_MAX || (want > ring_cap(w) && ring_cap(w) >= RING_PACE_MIN);
        if (room && n <= LIST_MAX - 1 - list_len(hw, tw) && need << 3 <= ring_cap(w) && !deep)
            break;
        if (fresh) /* full (for this pusher), a deep queue's spill, growth, or too many elements */
            return !room ? -EAGAIN : deep ? LIST_DEEP : LIST_SLOW;
    }
    uint32_t pos = END_POS(tw);
    for (size_t j = 0; j < n; j++) {
        uint32_t len = (uint32_t)vals[j].len, u = elem_units(len);
        elem_write(db, w, pos, tag_make(len, false), vals[j].p, len);
        pos += u;
        shmkv__pause_at(PAUSE_RECORD_WRITTEN);
    }
    atomic_store_explicit(&l->end[SHMKV_TAIL].w, (uint64_t)pos << 32 | (END_INDEX(tw) + (uint32_t)n),
                          memory_order_release); /* the commit */
    return 0;
}

long shmkv__list_lane_pop(shmkv *db, struct shard *s, uint64_t lrun, size_t max, void *buf, size_t cap,
                          size_t *lens, uint32_t *seen)
{
    uint64_t w;
    if (!list_ok(db, s, lrun, &w))
        return LIST_SLOW;
    struct list *l = list_at(db, lrun);
    /* the wake word before the tail: a push after the tail's load moves
     * it after this load, so a watcher of *seen sees it move */
    uint64_t hw = atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed);
    uint64_t tw = lane_other(l, SHMKV_HEAD, false);
    if (list_len(hw, tw) < max) {
        *seen = atomic_load_explicit(&l->end[SHMKV_TAIL].wake, memory_order_acquire);
        tw = lane_other(l, SHMKV_HEAD, true);
    }
    uint32_t len = list_len(hw, tw), avail = END_POS(tw) - END_POS(hw), pos = END_POS(hw);
    if ((uint64_t)avail << 3 > ring_cap(w) || len > avail)
        return LIST_SLOW;
    size_t used = 0, k = 0;
    for (struct elem e; k < max && k < len; k++, avail -= e.units, pos += e.units) {
        if (!elem_at(db, w, SHMKV_HEAD, pos, avail, &e) || e.out)
            return LIST_SLOW; /* out of line, or not sound: the slow way's (which pops as many) */
        if (e.len > cap - used) {
            if (k)
                break;
            lens[0] = e.len;
            return -ENOBUFS;
        }
        if (e.len)
            ring_read(db, w, e.pos + 1, (uint8_t *)buf + used, e.len);
        lens[k] = e.len;
        used += e.len;
    }
    if (!k)
        return 0;
    atomic_store_explicit(&l->end[SHMKV_HEAD].w, (uint64_t)pos << 32 | (END_INDEX(hw) + (uint32_t)k),
                          memory_order_release); /* the commit */
    shmkv__list_room(s, l, (uint32_t)k);
    return (long)k;
}

/* Move an end past n elements (the pop's commit, one store), then retire
 * the out-of-line ones among them (if retire: a repair's recount has not
 * counted them). */
static bool take_off(shmkv *db, struct shard *s, uint64_t lrun, int end, uint32_t n, bool retire)
{
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    uint64_t ew = atomic_load_explicit(&l->end[end].w, memory_order_relaxed);
    uint64_t hw = atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed);
    uint64_t tw = atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed);
    uint32_t avail = END_POS(tw) - END_POS(hw), pos = END_POS(ew), k = 0, outs = 0;
    for (struct elem e; k < n && elem_at(db, w, end, pos, avail, &e); k++, avail -= e.units)
        pos = walk_past(end, pos, &e), outs += e.out;
    uint32_t idx = end == SHMKV_TAIL ? END_INDEX(ew) - k : END_INDEX(ew) + k;
    atomic_store_explicit(&l->end[end].w, (uint64_t)pos << 32 | idx, memory_order_release);
    changed(l);
    shmkv__list_room(s, l, k);
    if (outs && retire) /* the elements' bytes stay as they were until a push reuses them */
        visit_out(db, s, w, end == SHMKV_HEAD ? SHMKV_TAIL : SHMKV_HEAD, END_POS(ew), k, shmkv__log_retire);
    return outs;
}

bool shmkv__list_pop(shmkv *db, struct shard *s, uint64_t lrun, int end, uint32_t n)
{
    return take_off(db, s, lrun, end, n, true);
}

void shmkv__list_room(struct shard *s, struct list *l, uint32_t n)
{
    /* moved only under the head's lane, under which bounded pushers
     * register (queue.c): as list_wake, for the other end */
    _Atomic uint32_t *word = &l->end[SHMKV_HEAD].wake;
    atomic_store_explicit(word, atomic_load_explicit(word, memory_order_relaxed) + 1, memory_order_release);
    shmkv__sleepers_wake(&s->lane[SHMKV_HEAD].sleepers, word, n);
}

void shmkv__list_wake(struct shard *s, struct list *l, uint32_t n)
{
    /* moved only under the lock, under which sleepers register (queue.c);
     * the kernel compares it when they sleep.  (The shard's word moves
     * only when a list is made: poppers of lists not made yet sleep there.) */
    _Atomic uint32_t *word = &l->end[SHMKV_TAIL].wake;
    atomic_store_explicit(word, atomic_load_explicit(word, memory_order_relaxed) + 1, memory_order_release);
    shmkv__sleepers_wake(&s->list_waiters, word, n);
}

void shmkv__list_forget(struct shard *s)
{
    atomic_fetch_add_explicit(&s->lane[SHMKV_HEAD].gen, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->lane[SHMKV_TAIL].gen, 1, memory_order_relaxed);
}

void shmkv__list_free(shmkv *db, struct shard *s, uint64_t lrun, bool retire)
{
    s->pending_list = lrun;
    shmkv__list_forget(s); /* (a list a decision made and never published needs it not; harmless) */
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    if (retire)
        visit_out(db, s, w, SHMKV_TAIL, END_POS(atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed)),
                  list_len(atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed),
                           atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed)),
                  shmkv__log_retire);
    changed(l);
    shmkv__list_wake(s, l, UINT32_MAX); /* sleepers look again: the list is gone */
    shmkv__list_room(s, l, UINT32_MAX);
    if (ring_off(w) != lrun + LIST_RING_OFF) {
        l->pending_ring = ring_off(w) - RUN_HDR;
        shmkv__run_free(db, s, l->pending_ring);
        l->pending_ring = 0;
    }
    shmkv__run_free(db, s, lrun);
    s->pending_list = 0;
}

/* An out-of-line element's record names its list and the ring position
 * of its entry; it is live while an element of the list starts there and
 * points back at it.  (Payload bytes that happen to look like such an
 * entry could keep a dead record alive: a leak the checker reports, never
 * a live record dropped.) */
bool shmkv__list_elem_live(shmkv *db, struct shard *s, uint64_t off, _Atomic uint64_t **slot)
{
    const struct rec *r = at(db, off);
    uint64_t lrun;
    if (r->klen != sizeof lrun)
        return false;
    memcpy(&lrun, rec_key(r), sizeof lrun);
    if (!shmkv__run_ok(db, lrun, RUN_LIST, s))
        return false;
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    uint32_t head = END_POS(atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed));
    uint32_t tail = END_POS(atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed));
    uint32_t pos = (uint32_t)rec_extword(r);
    struct elem e;
    if (!ring_ok(db, s, lrun, w) || (uint64_t)(tail - head) << 3 > ring_cap(w) || pos - head >= tail - head ||
        !elem_at(db, w, SHMKV_HEAD, pos, tail - pos, &e) || !e.out)
        return false;
    *slot = (_Atomic uint64_t *)at(db, ring_at(w, pos + 1));
    return atomic_load_explicit(*slot, memory_order_relaxed) == off;
}

void shmkv__list_elem_moved(shmkv *db, uint64_t off)
{
    uint64_t lrun;
    memcpy(&lrun, rec_key(at(db, off)), sizeof lrun); /* list_elem_live checked it */
    changed(list_at(db, lrun));
}

/* The journal of a move is in two halves: the source list's (move_*:
 * the destination, both end words from before) and the destination's
 * (move_src), and the two lists' shards are repaired apart, in any order,
 * maybe by different processes.  Whether the push was committed is known
 * exactly only while nobody else has changed the destination: until the
 * destination's shard is taken over.  So the destination's repair settles
 * the question in the source's move_dst word (compare-and-swap: the
 * destination | 1, pushed; 0, not) before anyone can push there, and the
 * source's repair decides by the destination's end word only if it gets
 * to the word first (its own compare-and-swap); otherwise the settled
 * answer wins. */

/* A move into this list (lrun) was interrupted: settle it. */
static void settle_move_in(shmkv *db, uint64_t lrun)
{
    struct list *l = list_at(db, lrun);
    uint64_t src = l->move_src;
    if (src && shmkv__run_ok(db, src, RUN_LIST, NULL) && run_at(db, src)->kind == RUN_LIST) {
        struct list *ls = list_at(db, src);
        uint64_t armed = lrun;
        if (ls->move_to <= SHMKV_TAIL && atomic_load(&ls->move_dst) == armed) {
            uint64_t dw = atomic_load_explicit(&l->end[ls->move_to].w, memory_order_relaxed);
            bool pushed = dw != ls->move_dst_end; /* nobody else touched it since */
            atomic_compare_exchange_strong(&ls->move_dst, &armed, pushed ? lrun | 1 : 0);
        }
    }
    l->move_src = 0;
}

/* A move out of this list was interrupted: if the destination's push was
 * committed, commit the pop too.  The element is not retired: the
 * repair's recount has not counted it (list_repair counts what is left). */
static void repair_move(shmkv *db, struct shard *s, uint64_t lrun)
{
    struct list *l = list_at(db, lrun);
    uint64_t d = atomic_load(&l->move_dst), dst = d & ~1ull;
    bool pushed = d & 1;
    if (!dst || l->move_to > SHMKV_TAIL || l->move_from > SHMKV_TAIL)
        pushed = false;
    else if (!pushed && shmkv__run_ok(db, dst, RUN_LIST, NULL) && run_at(db, dst)->kind == RUN_LIST) {
        uint64_t dw = atomic_load_explicit(&list_at(db, dst)->end[l->move_to].w, memory_order_acquire);
        pushed = dw != l->move_dst_end;
        if (!atomic_compare_exchange_strong(&l->move_dst, &d, 0))
            pushed = d & 1; /* the destination's repair settled it first */
    }
    if (pushed && atomic_load_explicit(&l->end[l->move_from].w, memory_order_relaxed) == l->move_src_end)
        take_off(db, s, lrun, (int)l->move_from, 1, false);
    atomic_store(&l->move_dst, 0);
}

void shmkv__list_repair(shmkv *db, struct shard *s, uint64_t lrun)
{
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    if (l->pending_ring) { /* a new ring never switched to, or an old one not yet freed */
        if (ring_off(w) != l->pending_ring + RUN_HDR && shmkv__run_ok(db, l->pending_ring, RUN_RING, s))
            shmkv__run_free(db, s, l->pending_ring);
        l->pending_ring = 0;
    }
    settle_move_in(db, lrun);
    repair_move(db, s, lrun);
    /* damage: keep the elements up to the first that is not sound
     * rather than read past the ring */
    uint64_t hw = atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed);
    uint64_t tw = atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed);
    uint32_t len = list_len(hw, tw), avail = END_POS(tw) - END_POS(hw), pos = END_POS(hw), k = 0;
    if ((uint64_t)avail << 3 > ring_cap(w))
        len = 0;
    for (struct elem e; k < len && elem_at(db, w, SHMKV_HEAD, pos, avail, &e); k++, avail -= e.units)
        pos = walk_past(SHMKV_HEAD, pos, &e);
    if (k < len || avail)
        atomic_store_explicit(&l->end[SHMKV_TAIL].w, (uint64_t)pos << 32 | (END_INDEX(hw) + k), memory_order_relaxed);
    changed(l);
    visit_out(db, s, w, SHMKV_TAIL, END_POS(hw), k, shmkv__log_adopt); /* counted live again */
}

uint32_t shmkv__list_walk(shmkv *db, uint64_t lrun, void (*fn)(void *ctx, uint32_t pos, uint64_t out), void *ctx)
{
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    uint64_t hw = atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed);
    uint64_t tw = atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed);
    uint32_t len = list_len(hw, tw), avail = END_POS(tw) - END_POS(hw), pos = END_POS(hw), k = 0;
    if ((uint64_t)avail << 3 > ring_cap(w))
        return 0;
    for (struct elem e; k < len && elem_at(db, w, SHMKV_HEAD, pos, avail, &e); k++, avail -= e.units) {
        fn(ctx, e.pos, e.out ? ring_word(db, w, e.pos + 1) : 0);
        pos = walk_past(SHMKV_HEAD, pos, &e);
    }
    return k == len && !avail ? len : k;
}

/* Room for n more bytes in *p. */
static int room_for(uint8_t **p, size_t *len, size_t *cap, size_t n)
{
    if (*len + n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < *len + n)
        c *= 2;
    uint8_t *np = xrealloc(*p, c);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = c;
    return 0;
}

int shmkv__list_copy(shmkv *db, uint64_t lrun, int64_t start, int64_t stop, uint8_t **p, size_t *len, size_t *cap)
{
    struct list *l = list_at(db, lrun);
    uint64_t v = atomic_load_explicit(&l->ver, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_acquire);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_acquire);
    int64_t n = list_len(h, t), a = start < 0 ? n + start : start, b = stop < 0 ? n + stop : stop;
    a = a < 0 ? 0 : a;
    b = b >= n ? n - 1 : b;
    uint32_t avail = END_POS(t) - END_POS(h), pos = END_POS(h);
    if (!ring_size_ok(w) || !mem_ok(db, ring_off(w), ring_cap(w)) ||
        (uint64_t)avail << 3 > ring_cap(w))
        return -ESTALE;
    shmkv__pause_at(PAUSE_LIST_COPYING);
    struct elem e;
    for (int64_t k = 0; k <= b; k++, avail -= e.units, pos = walk_past(SHMKV_HEAD, pos, &e)) {
        size_t vl;
        uint64_t off;
        struct rec rh;
        if (!elem_at(db, w, SHMKV_HEAD, pos, avail, &e) || !elem_size(db, w, &e, &vl, &off, &rh) ||
            vl > atomic_load_explicit(&db->known_size, memory_order_relaxed))
            return -ESTALE;
        if (k < a)
            continue;
        if (room_for(p, len, cap, 4 + vl))
            return -ENOMEM;
        uint32_t n32 = (uint32_t)vl;
        memcpy(*p + *len, &n32, 4);
        if (!elem_copy(db, w, &e, off, &rh, *p + *len + 4))
            return -ESTALE;
        *len += 4 + vl;
    }
    seq_end();
    /* the head too: a lane pop moves no ver, and a lane push may then
     * write over what it freed (a lane push alone writes past the tail) */
    return atomic_load_explicit(&l->ver, AFTER_FENCE) == v &&
                   atomic_load_explicit(&l->end[SHMKV_HEAD].w, AFTER_FENCE) == h
               ? 0
               : -ESTALE;
}
