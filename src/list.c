/*
 * list.c - lists under keys: the mechanics, under the shard's lock.
 *
 * A list key's slot holds an ordinary immutable record (REC_LIST) whose
 * value is the offset of the list's run (RUN_LIST, one unit): the list's
 * mutable state (struct list, format.h) and, while it is small, its ring.
 * Each element is an immutable record of its own in the shard's log
 * (REC_ELEM), written like a value and reclaimed by the same compaction,
 * so a queue that carries any number of elements over its life needs only
 * as much memory as it holds at once.  Element i is found through
 * ring[i & (cap - 1)]; the ring doubles into a run of its own (RUN_RING)
 * when full.
 *
 * Crash safety, each change ordered so that the file is right after every
 * store, with one store as the commit:
 *  - push: append the element records, store their ring slots, then move
 *    the end word (index and push count) with one store.  Killed before
 *    it, the records are garbage nothing references.
 *  - pop: move the end word, then retire the records (accounting only).
 *  - ring growth: the new ring is journaled (pending_ring) from its
 *    allocation, filled, switched to with one store of the ring word
 *    (offset and size together), then the old one is journaled and freed.
 *  - a move from one list to another (queue.c holds both locks): the
 *    destination's push is committed first, then the source's pop; the
 *    source's journal (move_*) records both end words from before, the
 *    destination's (move_src) the source, so the repairs of the two
 *    shards agree on whether the push was committed and finish the pop
 *    exactly then (repair_move): an element is in one list or the other,
 *    never both, never neither.
 *  - create and delete: journaled in shard.pending_list.
 * The shard's repair (shard.c) finishes or forgets each of these and
 * counts the elements' live bytes into their runs.
 */
#include "list.h"

#include "alloc.h"
#include "atomics.h"
#include "fault.h"
#include "map.h"

#include "shmkv.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LIST_MAX (1u << 31) /* elements: lengths are 32-bit differences */

static uint64_t ring_off(uint64_t w) { return w & ~63ull; }
static uint64_t ring_cap(uint64_t w) { return 1ull << (w & 63); }

/* Is the ring word of list run lrun sound: the inline ring, or a ring run
 * of s big enough for its slots? */
static bool ring_ok(shmkv *db, struct shard *s, uint64_t lrun, uint64_t w)
{
    uint64_t off = ring_off(w), cap = ring_cap(w);
    if ((w & 63) > 40)
        return false;
    if (off == lrun + LIST_RING_OFF)
        return cap == LIST_INLINE;
    return off >= RUN_HDR && shmkv__run_ok(db, off - RUN_HDR, RUN_RING, s) &&
           RUN_HDR + cap * 8 <= run_at(db, off - RUN_HDR)->nunits << UNIT_SHIFT;
}

static _Atomic uint64_t *slot_of(shmkv *db, uint64_t w, uint32_t i)
{
    return (_Atomic uint64_t *)at(db, ring_off(w) + (i & (ring_cap(w) - 1)) * 8);
}

uint64_t shmkv__list_run(shmkv *db, struct shard *s, uint64_t off)
{
    const struct rec *r = at(db, off);
    uint64_t lrun;
    if (r->vlen != sizeof lrun || !mem_ok(db, off, rec_bytes(r)))
        return 0;
    memcpy(&lrun, rec_key(r) + r->klen, sizeof lrun);
    if (!shmkv__run_ok(db, lrun, RUN_LIST, s))
        return 0;
    struct list *l = list_at(db, lrun);
    return ring_ok(db, s, lrun, atomic_load_explicit(&l->ring, memory_order_relaxed)) ? lrun : 0;
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

/* Double the ring (see the crash notes at the top). */
static int ring_grow(shmkv *db, struct shard *s, uint64_t lrun)
{
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed), cap = ring_cap(w) * 2;
    uint32_t head = END_INDEX(atomic_load_explicit(&l->end[SHMKV_HEAD], memory_order_relaxed));
    uint32_t tail = END_INDEX(atomic_load_explicit(&l->end[SHMKV_TAIL], memory_order_relaxed));
    int e = shmkv__run_alloc(db, units_of(RUN_HDR + cap * 8), RUN_RING, shard_index(db, s), false, &l->pending_ring);
    if (e)
        return e;
    uint64_t nw = (l->pending_ring + RUN_HDR) | (uint64_t)__builtin_ctzll(cap);
    for (uint32_t i = head; i != tail; i++)
        atomic_store_explicit(slot_of(db, nw, i), atomic_load_explicit(slot_of(db, w, i), memory_order_relaxed),
                              memory_order_relaxed);
    atomic_store_explicit(&l->ring, nw, memory_order_release); /* the commit: offset and size together */
    if (ring_off(w) != lrun + LIST_RING_OFF) {
        l->pending_ring = ring_off(w) - RUN_HDR;
        shmkv__run_free(db, s, l->pending_ring);
    }
    l->pending_ring = 0;
    return 0;
}

/* A push that failed after appending j elements pushes nothing: their
 * records in log runs are garbage, which compaction reclaims, but a huge
 * element's run of its own would never be (nothing counts it live):
 * release it now.  (Found by fuzz_ops: push_many of big elements into a
 * full table leaked their runs.) */
static void unpush(shmkv *db, struct shard *s, uint64_t w, uint32_t first, uint32_t step, size_t j)
{
    for (size_t k = 0; k < j; k++) {
        uint64_t ro = shmkv__rec_run(db, atomic_load_explicit(slot_of(db, w, first + (uint32_t)k * step),
                                                               memory_order_relaxed));
        if (ro && run_at(db, ro)->kind == RUN_HUGE)
            shmkv__run_release(db, s, ro);
    }
}

int shmkv__list_push(shmkv *db, struct shard *s, uint64_t lrun, const struct piece *vals, size_t n, int end)
{
    struct list *l = list_at(db, lrun);
    uint64_t ew = atomic_load_explicit(&l->end[end], memory_order_relaxed);
    uint32_t len = list_len(atomic_load_explicit(&l->end[SHMKV_HEAD], memory_order_relaxed),
                            atomic_load_explicit(&l->end[SHMKV_TAIL], memory_order_relaxed));
    if (n > LIST_MAX - 1 - len)
        return -EOVERFLOW;
    while (len + n > ring_cap(atomic_load_explicit(&l->ring, memory_order_relaxed))) {
        int e = ring_grow(db, s, lrun);
        if (e)
            return e;
    }
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    /* element j goes to index first + j (tail) or first - j (head) */
    uint32_t first = end == SHMKV_TAIL ? END_INDEX(ew) : END_INDEX(ew) - 1, step = end == SHMKV_TAIL ? 1 : -1u;
    for (size_t j = 0; j < n; j++) {
        uint32_t i = first + (uint32_t)j * step;
        uint64_t off;
        int e = shmkv__log_append(db, s, &lrun, sizeof lrun, &vals[j], 1, ext_make(REC_ELEM, i), false, &off);
        if (e) {
            unpush(db, s, w, first, step, j);
            return e;
        }
        atomic_store_explicit(slot_of(db, w, i), off, memory_order_release);
        s->pending_huge = 0; /* a huge element's run: reached from the ring from the commit on */
    }
    atomic_store_explicit(&l->end[end], (uint64_t)(END_PUSHES(ew) + (uint32_t)n) << 32 | (first + (uint32_t)n * step + (end == SHMKV_HEAD)),
                          memory_order_release); /* the commit */
    for (size_t j = 0; j < n; j++)
        shmkv__log_adopt(db, s, atomic_load_explicit(slot_of(db, w, first + (uint32_t)j * step), memory_order_relaxed));
    return 0;
}

uint64_t shmkv__list_elem(shmkv *db, uint64_t lrun, int end, uint32_t k)
{
    struct list *l = list_at(db, lrun);
    uint32_t e = END_INDEX(atomic_load_explicit(&l->end[end], memory_order_acquire));
    uint32_t i = end == SHMKV_TAIL ? e - 1 - k : e + k;
    uint64_t off = atomic_load_explicit(slot_of(db, atomic_load_explicit(&l->ring, memory_order_acquire), i),
                                        memory_order_acquire);
    return mem_ok(db, off, sizeof(struct rec)) ? off : 0;
}

/* Move an end past n elements (the pop's commit, one store); the index of
 * the first element taken off. */
static uint32_t take_off(struct list *l, int end, uint32_t n)
{
    uint64_t ew = atomic_load_explicit(&l->end[end], memory_order_relaxed);
    uint32_t idx = end == SHMKV_TAIL ? END_INDEX(ew) - n : END_INDEX(ew) + n;
    atomic_store_explicit(&l->end[end], (ew & ~0xffffffffull) | idx, memory_order_release);
    return end == SHMKV_TAIL ? idx : END_INDEX(ew);
}

void shmkv__list_pop(shmkv *db, struct shard *s, uint64_t lrun, int end, uint32_t n)
{
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    uint32_t first = take_off(l, end, n);
    /* the popped elements' slots keep their offsets until pushes reuse them */
    for (uint32_t k = 0, i = first; k < n; k++, i++) {
        uint64_t off = atomic_load_explicit(slot_of(db, w, i), memory_order_relaxed);
        if (shmkv__rec_run(db, off))
            shmkv__log_retire(db, s, off);
    }
}

void shmkv__list_wake(struct shard *s, struct list *l, uint32_t n)
{
    atomic_fetch_add_explicit(&l->wake, 1, memory_order_release);
    /* and the shard's word, which poppers watch before they sleep
     * (queue.c spin_on); one about to sleep on it (for a list not made
     * yet) then finds it moved and looks again, which is harmless */
    atomic_fetch_add_explicit(&s->list_wake, 1, memory_order_release);
    if (atomic_load_explicit(&s->list_waiters, memory_order_relaxed))
        syscall(SYS_futex, (uint32_t *)&l->wake, FUTEX_WAKE, n > INT_MAX ? INT_MAX : (int)n, NULL, NULL, 0);
}

void shmkv__list_free(shmkv *db, struct shard *s, uint64_t lrun, bool retire)
{
    s->pending_list = lrun;
    struct list *l = list_at(db, lrun);
    if (retire)
        shmkv__list_pop(db, s, lrun, SHMKV_HEAD,
                        list_len(atomic_load_explicit(&l->end[SHMKV_HEAD], memory_order_relaxed),
                                 atomic_load_explicit(&l->end[SHMKV_TAIL], memory_order_relaxed)));
    shmkv__list_wake(s, l, UINT32_MAX); /* sleepers look again: the list is gone */
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    if (ring_off(w) != lrun + LIST_RING_OFF) {
        l->pending_ring = ring_off(w) - RUN_HDR;
        shmkv__run_free(db, s, l->pending_ring);
        l->pending_ring = 0;
    }
    shmkv__run_free(db, s, lrun);
    s->pending_list = 0;
}

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
    uint32_t head = END_INDEX(atomic_load_explicit(&l->end[SHMKV_HEAD], memory_order_relaxed));
    uint32_t tail = END_INDEX(atomic_load_explicit(&l->end[SHMKV_TAIL], memory_order_relaxed));
    uint32_t i = (uint32_t)(rec_extword(r) & 0xffffffffu);
    if (!ring_ok(db, s, lrun, w) || i - head >= tail - head)
        return false;
    *slot = slot_of(db, w, i);
    return atomic_load_explicit(*slot, memory_order_relaxed) == off;
}

/* The journal of a move is in two halves: the source list's (move_*:
 * the destination, both end words from before) and the destination's
 * (move_src), and the two lists' shards are repaired apart, in any order,
 * maybe by different processes.  Whether the push was committed is known
 * exactly only while nobody else has pushed to the destination: until the
 * destination's shard is taken over.  So the destination's repair settles
 * the question in the source's move_dst word (compare-and-swap: the
 * destination | 1, pushed; 0, not) before anyone can push there, and the
 * source's repair decides by the destination's push count only if it gets
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
            uint64_t dw = atomic_load_explicit(&l->end[ls->move_to], memory_order_relaxed);
            bool pushed = END_PUSHES(dw) != END_PUSHES(ls->move_dst_end);
            atomic_compare_exchange_strong(&ls->move_dst, &armed, pushed ? lrun | 1 : 0);
        }
    }
    l->move_src = 0;
}

/* A move out of this list was interrupted: if the destination's push was
 * committed, commit the pop too.  The element is not retired: the
 * repair's recount has not counted it (list_repair counts what is left). */
static void repair_move(shmkv *db, uint64_t lrun)
{
    struct list *l = list_at(db, lrun);
    uint64_t d = atomic_load(&l->move_dst), dst = d & ~1ull;
    bool pushed = d & 1;
    if (!dst || l->move_to > SHMKV_TAIL || l->move_from > SHMKV_TAIL)
        pushed = false;
    else if (!pushed && shmkv__run_ok(db, dst, RUN_LIST, NULL) && run_at(db, dst)->kind == RUN_LIST) {
        uint64_t dw = atomic_load_explicit(&list_at(db, dst)->end[l->move_to], memory_order_acquire);
        pushed = END_PUSHES(dw) != END_PUSHES(l->move_dst_end);
        if (!atomic_compare_exchange_strong(&l->move_dst, &d, 0))
            pushed = d & 1; /* the destination's repair settled it first */
    }
    if (pushed && atomic_load_explicit(&l->end[l->move_from], memory_order_relaxed) == l->move_src_end)
        take_off(l, (int)l->move_from, 1);
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
    repair_move(db, lrun);
    uint32_t head = END_INDEX(atomic_load_explicit(&l->end[SHMKV_HEAD], memory_order_relaxed));
    uint32_t tail = END_INDEX(atomic_load_explicit(&l->end[SHMKV_TAIL], memory_order_relaxed));
    if (tail - head > ring_cap(w)) /* damage: forget the elements rather than read past the ring */
        atomic_store_explicit(&l->end[SHMKV_TAIL], (atomic_load(&l->end[SHMKV_TAIL]) & ~0xffffffffull) | head,
                              memory_order_relaxed);
    for (uint32_t i = head; i != tail && tail - head <= ring_cap(w); i++) {
        uint64_t off = atomic_load_explicit(slot_of(db, w, i), memory_order_relaxed);
        if (shmkv__rec_run(db, off))
            shmkv__log_adopt(db, s, off);
    }
}

int shmkv__list_copy(shmkv *db, uint64_t lrun, int64_t start, int64_t stop, uint8_t **p, size_t *len, size_t *cap)
{
    struct list *l = list_at(db, lrun);
    uint64_t h = atomic_load_explicit(&l->end[SHMKV_HEAD], memory_order_acquire);
    uint64_t t = atomic_load_explicit(&l->end[SHMKV_TAIL], memory_order_acquire);
    int64_t n = list_len(h, t), a = start < 0 ? n + start : start, b = stop < 0 ? n + stop : stop;
    a = a < 0 ? 0 : a;
    b = b >= n ? n - 1 : b;
    for (int64_t k = a; k <= b; k++) {
        uint64_t off = shmkv__list_elem(db, lrun, SHMKV_HEAD, (uint32_t)k);
        struct rec rh;
        if (!off || !shmkv__rec_run(db, off))
            return -ESTALE;
        racy_copy(&rh, at(db, off), sizeof rh);
        if (rh.vlen > atomic_load_explicit(&db->known_size, memory_order_relaxed))
            return -ESTALE;
        if (*len + 4 + rh.vlen > *cap) {
            size_t c = *cap ? *cap : 4096;
            while (c < *len + 4 + rh.vlen)
                c *= 2;
            uint8_t *np = xrealloc(*p, c);
            if (!np)
                return -ENOMEM;
            *p = np;
            *cap = c;
        }
        uint32_t n32 = rh.vlen;
        memcpy(*p + *len, &n32, 4);
        if (!shmkv__rec_value(db, off, &rh, *p + *len + 4))
            return -ESTALE;
        *len += 4 + rh.vlen;
    }
    seq_end();
    return atomic_load_explicit(&l->end[SHMKV_HEAD], AFTER_FENCE) == h &&
                   atomic_load_explicit(&l->end[SHMKV_TAIL], AFTER_FENCE) == t ? 0 : -ESTALE;
}
