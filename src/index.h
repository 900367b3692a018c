/*
 * index.h - each shard's hash index: linear hashing over one-line buckets
 * (index.c), and the view a lock-free reader takes of a shard.
 */
#ifndef SHMKV_INDEX_H
#define SHMKV_INDEX_H

#include "atomics.h"
#include "handle.h"
#include "map.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- the reader's view (the protocol of atomics.h over a shard) ----
 *
 * A lock-free reader samples the shard's four counters before it looks:
 * epoch (a run of the shard was released: copied record bytes may be
 * reused memory), layout (a split moved slots to a new bucket), seq
 * (slots left a chain: a split cleaned its source, an overflow bucket was
 * unlinked) and patch (an increment rewrote a value in place, patch.c).
 * A copied record is good if the epoch did not move and no rewrite of its
 * value began or ended meanwhile (view_patch); a miss is trusted only if
 * none of the four moved. */
struct view {
    uint64_t epoch, layout, seq, patch;
};

/* The counters but the layout.  A reader that locates its bucket first
 * (the layout says where it is) and starts its load reads these after:
 * each counter only has to be read before what it guards. */
static inline void view_begin_rest(const struct shard *s, struct view *v)
{
    v->epoch = seq_begin(&s->epoch);
    v->seq = seq_begin(&s->seq);
    v->patch = seq_begin(&s->patch);
}

static inline void view_begin(const struct shard *s, struct view *v)
{
    v->layout = seq_begin(&s->layout);
    view_begin_rest(s, v);
}

/* After copying a record: might its memory have been reused meanwhile? */
static inline bool view_recycled(const struct shard *s, const struct view *v)
{
    seq_end();
    return seq_changed(&s->epoch, v->epoch);
}

/* After a miss or a walk: might anything the reader looked at have moved? */
static inline bool view_moved(const struct shard *s, const struct view *v)
{
    seq_end();
    return seq_changed(&s->epoch, v->epoch) || seq_changed(&s->layout, v->layout) ||
           seq_changed(&s->seq, v->seq) || seq_changed(&s->patch, v->patch);
}

/* After view_recycled (its fence) said a copy of the value of the record
 * at o is real: could an in-place rewrite have torn it?
 *   VIEW_CLEAN   no rewrite began or ended while the reader looked, and
 *                none of o was in flight: the copy stands;
 *   VIEW_PATCHED the patch word moved: look again;
 *   VIEW_JOURNAL a rewrite of o was in flight all along (its writer may be
 *                dead): the value is the journal's (shmkv__patch_read).
 * A rewrite publishes the patch word before its first byte and moves it
 * again after its last, so a copy that met any byte of it sees the word
 * moved, or in flight for o from beginning to end. */
enum { VIEW_CLEAN, VIEW_PATCHED, VIEW_JOURNAL };

static inline int view_patch(const struct shard *s, const struct view *v, uint64_t o)
{
    if (seq_changed(&s->patch, v->patch))
        return VIEW_PATCHED;
    return patch_rec(v->patch) == o ? VIEW_JOURNAL : VIEW_CLEAN;
}

/* Cache mode: note a use of the key in its slot's read count (v: the
 * slot as last seen), unless the count is at its top (hot keys then cost
 * no write).  The CAS only succeeds on the exact value seen, so it can
 * never revive or redirect a slot a writer has changed meanwhile; a
 * reader raising the count at the same moment did the same.  Gets call
 * it, and increments rewritten in place, whose record stays in its old
 * run where a new one would have gone to the newest (clean.c's eviction
 * gives a used key its second chance). */
static inline void shmkv__slot_use(shmkv *db, _Atomic uint64_t *slot, uint64_t v)
{
    if (db->mark_reads && slot_reads(v) < SLOT_READS_MAX)
        atomic_compare_exchange_strong_explicit(slot, &v, v + SLOT_READ1, memory_order_relaxed,
                                                memory_order_relaxed);
}

/* ---- geometry ---- */

/* Inline: every lookup goes through them. */
static inline uint32_t lay_level(uint64_t lay) { return (uint32_t)(lay >> 32); }
static inline uint64_t lay_split(uint64_t lay) { return (uint32_t)lay; }

/* A layout read from the file is checked before any shift uses it. */
static inline bool shmkv__layout_ok(uint64_t lay, uint32_t base_bits)
{
    return base_bits + lay_level(lay) < TAG_BITS && lay_split(lay) < (1ull << (base_bits + lay_level(lay)));
}

static inline uint64_t shmkv__bucket_count(uint64_t lay, uint32_t base_bits)
{
    return (1ull << (base_bits + lay_level(lay))) + lay_split(lay);
}

static inline uint64_t shmkv__bucket_for(uint64_t lay, uint32_t base_bits, uint64_t tag)
{
    if (!shmkv__layout_ok(lay, base_bits))
        return UINT64_MAX; /* no such bucket: bucket_at says NULL */
    uint64_t m = (1ull << (base_bits + lay_level(lay))) - 1;
    uint64_t b = tag & m;
    if (b < lay_split(lay))
        b = tag & (2 * m + 1);
    return b;
}

/* Where bucket b lives: directory entry and index within that piece.
 * Chunk 0 holds base buckets, chunk c >= 1 holds base << (c-1).  Chunks
 * of PIECE_MIN buckets or more are allocated in PIECES equal pieces, so
 * growth commits memory a quarter of a level at a time. */
static inline unsigned dir_slot(uint64_t b, uint32_t base_bits, uint64_t *idx, uint64_t *piece_len)
{
    uint64_t q = b >> base_bits;
    if (!q) {
        *idx = b;
        *piece_len = 1ull << base_bits;
        return 0;
    }
    unsigned c = 64u - (unsigned)__builtin_clzll(q);
    if (c >= DIR_MAX)
        return DIR_MAX * PIECES;
    unsigned lb = base_bits + c - 1; /* log2 buckets in the chunk */
    unsigned pb = lb >= PIECE_MIN_BITS ? lb - PIECE_BITS : lb; /* ... per piece */
    uint64_t rel = b - (1ull << (base_bits + c - 1));
    *idx = rel & ((1ull << pb) - 1);
    *piece_len = 1ull << pb;
    return c * PIECES + (unsigned)(rel >> pb);
}

static inline struct bucket *shmkv__bucket_at(shmkv *db, struct shard *s, uint64_t b)
{
    uint64_t idx, len;
    unsigned d = dir_slot(b, db->base_bits, &idx, &len);
    if (d >= DIR_MAX * PIECES)
        return NULL;
    uint64_t off = atomic_load_explicit(&s->dir[d], memory_order_acquire) + idx * BUCKET_BYTES;
    return !(off & (BUCKET_BYTES - 1)) && mem_ok(db, off, BUCKET_BYTES) ? at(db, off) : NULL;
}

/* The slots of bk that may hold tag, as a mask of hits (slot i: bit
 * 2i + 2, the place of its low half among the bucket's sixteen 32-bit
 * halves; shmkv__hit_slot names a hit's slot), and if empty is not NULL
 * its empty slots (bit i: slot i): compares with no branch on which slot
 * matches (that branch cannot be predicted, and a wrong guess costs more
 * than the compares; a write's scan of its bucket, a branch a slot, cost
 * batched puts 8 %: BENCHMARKS 7.8).  Only a hint to a reader: each hit's
 * slot is loaded again, atomically, before it is used.  With SSE2 the
 * whole bucket is compared in four 16-byte loads and packed into one mask
 * of its sixteen halves (a tag is the low 24 bits of its slot's low half;
 * the link's lane is dropped); the hits stay spread out as the halves
 * are, which saves a get a dozen instructions of packing them into eight
 * bits (BENCHMARKS 9.10).  A tag of 0 would match empty slots, so it
 * takes the scalar way, as TSan builds do (TSan does not see vector loads
 * of atomics).  test_bucket_scan holds the two to the same answers. */
#define HITS_LANES 0xfffcu /* the slots' halves: the link's two, bits 0 and 1, dropped */

static inline _Atomic uint64_t *shmkv__hit_slot(struct bucket *bk, unsigned hits)
{
    return &bk->slot[(__builtin_ctz(hits) >> 1) - 1];
}

#if defined(__SSE2__) && !defined(SHMKV_TSAN)
#include <emmintrin.h>
/* Bits 0, 2, ..., 14 of x as bits 0 to 7. */
static inline unsigned shmkv__even_bits(unsigned x)
{
    x &= 0x5555;
    x = (x | x >> 1) & 0x3333;
    x = (x | x >> 2) & 0x0f0f;
    return (x | x >> 4) & 0x00ff;
}

/* The bucket's eight 64-bit lanes (the link, then the slots) as one
 * byte per 32-bit half: byte 2i is lane i's low half, 2i+1 its high. */
static inline unsigned shmkv__halves_mask(__m128i a, __m128i b, __m128i c, __m128i d)
{
    return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
}

static inline unsigned shmkv__bucket_scan(const struct bucket *bk, uint64_t tag, unsigned *empty)
{
    if (__builtin_expect(tag != 0, 1)) {
        const __m128i *p = (const __m128i *)(const void *)bk;
        __m128i x0 = _mm_load_si128(p), x1 = _mm_load_si128(p + 1), x2 = _mm_load_si128(p + 2),
                x3 = _mm_load_si128(p + 3);
        /* a lane matches when its low half's tag bits do (the high halves
         * are compared with a value no masked half has, so no odd bit is
         * ever set) */
        __m128i mask = _mm_set_epi32(0, (int)TAG_MASK, 0, (int)TAG_MASK), want = _mm_set_epi32(-1, (int)tag, -1, (int)tag);
        unsigned m = shmkv__halves_mask(_mm_cmpeq_epi32(_mm_and_si128(x0, mask), want),
                                        _mm_cmpeq_epi32(_mm_and_si128(x1, mask), want),
                                        _mm_cmpeq_epi32(_mm_and_si128(x2, mask), want),
                                        _mm_cmpeq_epi32(_mm_and_si128(x3, mask), want));
        if (empty) { /* ... and is empty when both its halves are zero */
            __m128i z = _mm_setzero_si128();
            unsigned e = shmkv__halves_mask(_mm_cmpeq_epi32(x0, z), _mm_cmpeq_epi32(x1, z), _mm_cmpeq_epi32(x2, z),
                                            _mm_cmpeq_epi32(x3, z));
            *empty = shmkv__even_bits(e & e >> 1) >> 1; /* lane 0 is the link */
        }
        return m & HITS_LANES;
    }
#else
static inline unsigned shmkv__bucket_scan(const struct bucket *bk, uint64_t tag, unsigned *empty)
{
#endif
    unsigned m = 0, e = 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        uint64_t v = atomic_load_explicit(&bk->slot[i], memory_order_relaxed);
        m |= (unsigned)((v != 0) & (slot_tag(v) == tag)) << (2 * i + 2);
        e |= (unsigned)(v == 0) << i;
    }
    if (empty)
        *empty = e;
    return m;
}

/* The slots of bk whose tag has bit (a power of two below 2^TAG_BITS; an
 * empty slot's tag is 0), bit i for slot i: the slots a split at bit
 * moves.  Without a branch per slot (which slots move is a coin toss for
 * each, and the mispredicted branches were most of a split's time), and
 * with SSE2 in four compares of the bucket's halves, which took a split's
 * three passes over its chain from some 300 instructions to 60. */
static inline unsigned shmkv__bucket_bit(const struct bucket *bk, uint64_t bit)
{
#if defined(__SSE2__) && !defined(SHMKV_TSAN)
    const __m128i *p = (const __m128i *)(const void *)bk;
    __m128i b = _mm_set_epi32(0, (int)bit, 0, (int)bit), z = _mm_setzero_si128();
    /* a half without the bit compares equal to 0: the high halves always */
    unsigned clear = shmkv__halves_mask(_mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(p), b), z),
                                        _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(p + 1), b), z),
                                        _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(p + 2), b), z),
                                        _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(p + 3), b), z));
    return (~shmkv__even_bits(clear) >> 1) & ((1u << SLOTS) - 1); /* lane 0 is the link */
#else
    unsigned m = 0;
    for (unsigned i = 0; i < SLOTS; i++)
        m |= (unsigned)((slot_tag(atomic_load_explicit(&bk->slot[i], memory_order_relaxed)) & bit) != 0) << i;
    return m;
#endif
}

/* The number of bits set in a mask of slots (no libgcc popcount call). */
static inline unsigned shmkv__slots_count(unsigned m)
{
    m = m - ((m >> 1) & 0x55);
    m = (m & 0x33) + ((m >> 2) & 0x33);
    return (m + (m >> 4)) & 0x0f;
}

/* The bucket a link n names; NULL if it names none (0, or damage). */
static inline struct bucket *shmkv__bucket_link(shmkv *db, uint64_t n)
{
    n = link_off(n);
    if (!n)
        return NULL;
    return mem_ok(db, n, BUCKET_BYTES) && !(n & (BUCKET_BYTES - 1)) ? at(db, n) : NULL;
}

static inline struct bucket *shmkv__bucket_next(shmkv *db, struct bucket *bk)
{
    return shmkv__bucket_link(db, atomic_load_explicit(&bk->next, memory_order_acquire));
}

/* Where a lookup of tag that missed in the n-th bucket of its chain (0:
 * the first), whose link is next, goes on: the link, or 0 when that is
 * the first bucket and the chain's filter says no overflow slot holds tag
 * (format.h, struct bucket). */
static inline uint64_t shmkv__chain_on(uint64_t next, uint64_t tag, unsigned n)
{
    return n || (next & tag_filter_bit(tag)) ? link_off(next) : 0;
}

bool shmkv__layout_fits(shmkv *db, uint64_t layout); /* ok, and no more buckets than the file holds */
uint64_t shmkv__dir_buckets(unsigned d, uint32_t base_bits); /* buckets of directory entry d */
/* A key's home bucket as a hint found it before the lock, with the layout
 * it was found under: index_find reuses it while the layout is the same
 * (layouts only grow, and a directory entry is set once). */
struct home {
    struct bucket *bk;
    uint64_t lay;
};

/* Hints, no lock (a batch runs them in stages, some time apart): load a
 * key's home bucket (noted in h unless NULL); once it has arrived, the
 * record its tag points at or else its overflow bucket; a bucket's
 * overflow bucket.  (A burst of splits loads its own buckets, together.) */
void shmkv__index_prefetch(shmkv *db, struct shard *s, uint64_t tag, struct home *h);
void shmkv__index_prefetch_rec(shmkv *db, struct bucket *bk, uint64_t tag);
void shmkv__index_prefetch_next(shmkv *db, struct bucket *bk);

/* ---- writers (shard lock held) ---- */

struct found {
    _Atomic uint64_t *slot;         /* where the key's slot is, or NULL */
    uint64_t val;                   /* its value when found */
    _Atomic uint64_t *empty;        /* first free slot seen in the chain, or NULL */
};
int shmkv__index_find(shmkv *db, struct shard *s, uint64_t tag, const void *key, size_t klen, const struct home *h,
                      struct found *f);
int shmkv__index_find_off(shmkv *db, struct shard *s, uint64_t tag, uint64_t off, _Atomic uint64_t **slot);
int shmkv__index_reserve(shmkv *db, struct shard *s, uint64_t tag, _Atomic uint64_t **slot);
void shmkv__index_remove(shmkv *db, struct shard *s, uint64_t tag, _Atomic uint64_t *slot);
void shmkv__index_maybe_split(shmkv *db, struct shard *s);
void shmkv__index_adopt_tail(shmkv *db, struct shard *s, uint64_t run, uint64_t nbuckets);
int shmkv__index_repair(shmkv *db, struct shard *s);
void shmkv__index_refilter(shmkv *db, struct shard *s); /* shmkv_repair: each chain's filter made again */

/* Call fn for every occupied slot of the shard, bucket by bucket (all of
 * them, or with WALK_PLACED those in the bucket the layout puts them in).
 * With the lock held the walk is exact; without it, the caller validates
 * with a view.  -EBADMSG if the index is damaged; with WALK_CUT (repair,
 * lock held) a link to no bucket is cut instead. */
enum { WALK_ALL = 0, WALK_PLACED = 1, WALK_CUT = 2 };
typedef int (*shmkv__slot_fn)(shmkv *db, struct shard *s, uint64_t slotval, _Atomic uint64_t *slot, void *ctx);
int shmkv__index_walk(shmkv *db, struct shard *s, unsigned flags, shmkv__slot_fn fn, void *ctx);

#endif
