/*
 * test_bucket_scan.c - the branch-free scan of a bucket (index.h
 * shmkv__bucket_scan), which every get and every write uses to find the
 * slots that may hold a key and, for writes, the empty ones.
 *
 * The SSE2 version packs the bucket's sixteen 32-bit halves into one mask
 * and must agree, bit for bit, with the plain definition (a slot is a hit
 * when it is not 0 and its low 24 bits are the tag, bit 2i + 2 for slot
 * i, and shmkv__hit_slot names it; empty when it is 0, bit i; the link in
 * front of the slots is never a slot):
 *  - random: buckets drawn so that every case comes up often (the tag in
 *    a slot with anything in its other bits, high halves that are all
 *    ones, the tag's bits in the link, empty slots, a slot whose low half
 *    is 0 but not its high half), each scanned with and without asking
 *    for the empty slots;
 *  - edges: the tag 0 (which matches no empty slot: the scalar way),
 *    the largest tag, full, empty and all-hit buckets, the link alone
 *    matching;
 *  - split_bits: shmkv__bucket_bit (the slots whose tag has a bit: those
 *    a split moves) and its count, for every tag bit.
 * (Under TSan the scan is the scalar loop, compared with itself.)
 */
#include "harness.h"

#include "index.h"

#include <stdint.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* The definition the scan must agree with. */
static unsigned ref_scan(const struct bucket *bk, uint64_t tag, unsigned *empty)
{
    unsigned m = 0, e = 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        uint64_t v = atomic_load_explicit(&bk->slot[i], memory_order_relaxed);
        if (v && (v & TAG_MASK) == tag)
            m |= 1u << (2 * i + 2);
        if (!v)
            e |= 1u << i;
    }
    *empty = e;
    return m;
}

/* A slot (or link) value for the probe's tag: every kind the scan must
 * tell apart. */
static uint64_t draw(uint64_t tag)
{
    uint64_t hi = rnd() & ~TAG_MASK;
    switch (rnd() % 8) {
    case 0: return 0;                                   /* empty */
    case 1: return hi | tag;                            /* the tag, any other bits */
    case 2: return 0xffffffff00000000ull | tag;         /* the tag, high half all ones */
    case 3: return (rnd() & TAG_MASK) | hi;             /* another tag */
    case 4: return (uint64_t)(rnd() | 1) << 32;         /* low half 0, high half not */
    case 5: return (tag ^ 1) | hi;                      /* one bit off */
    case 6: return tag | (1ull << TAG_BITS);            /* the tag, a bit just above it */
    default: return rnd();
    }
}

static void check_bucket(const struct bucket *bk, uint64_t tag, const char *what)
{
    unsigned want_e, got_e = 0xdead;
    unsigned want = ref_scan(bk, tag, &want_e);
    unsigned got = shmkv__bucket_scan(bk, tag, &got_e);
    unsigned got_only = shmkv__bucket_scan(bk, tag, NULL);
    CHECKF(got == want && got_e == want_e && got_only == want,
           "%s, tag %#llx: hits %#x (%#x without empties), empty %#x; want %#x, %#x", what,
           (unsigned long long)tag, got, got_only, got_e, want, want_e);
    /* each hit, lowest first, names its slot */
    unsigned i = 0, hits = got;
    for (; i < SLOTS && hits; i++) {
        if (!(want & 1u << (2 * i + 2)))
            continue;
        CHECKF(shmkv__hit_slot((struct bucket *)bk, hits) == &bk->slot[i], "%s: hit %u names slot %td", what,
               i, shmkv__hit_slot((struct bucket *)bk, hits) - bk->slot);
        hits &= hits - 1;
    }
    CHECKF(!hits, "%s: hits %#x left over", what, hits);
}

static void fill(struct bucket *bk, uint64_t tag)
{
    atomic_store_explicit(&bk->next, draw(tag), memory_order_relaxed);
    for (unsigned i = 0; i < SLOTS; i++)
        atomic_store_explicit(&bk->slot[i], draw(tag), memory_order_relaxed);
}

static void test_random(void)
{
    static _Alignas(64) struct bucket bk;
    for (unsigned n = 0; n < 200000 && !h_failures_local(); n++) {
        uint64_t tag = n % 7 == 0 ? rnd() & 0xff : rnd() & TAG_MASK; /* small tags too */
        fill(&bk, tag);
        check_bucket(&bk, tag, "random bucket");
    }
}

static void set_all(struct bucket *bk, uint64_t link, uint64_t v)
{
    atomic_store_explicit(&bk->next, link, memory_order_relaxed);
    for (unsigned i = 0; i < SLOTS; i++)
        atomic_store_explicit(&bk->slot[i], v, memory_order_relaxed);
}

static void test_edges(void)
{
    static _Alignas(64) struct bucket bk;
    const uint64_t tags[] = {0, 1, 0xabcdef, TAG_MASK, TAG_MASK - 1};
    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
        uint64_t tag = tags[t];
        set_all(&bk, 0, 0);
        check_bucket(&bk, tag, "empty bucket");
        set_all(&bk, tag | 64, tag | 64);
        check_bucket(&bk, tag, "every slot the tag");
        set_all(&bk, tag | (7ull << 40), 0);
        check_bucket(&bk, tag, "only the link has the tag");
        set_all(&bk, 0, (tag ^ TAG_MASK) | (5ull << 30));
        check_bucket(&bk, tag, "full, no hit");
        for (unsigned i = 0; i < SLOTS; i++) { /* one hit, one empty slot, each place */
            set_all(&bk, 0, (tag ^ 2) | (9ull << 33));
            atomic_store_explicit(&bk.slot[i], tag | (3ull << 50), memory_order_relaxed);
            atomic_store_explicit(&bk.slot[(i + 3) % SLOTS], 0, memory_order_relaxed);
            check_bucket(&bk, tag, "one hit and one empty slot");
        }
    }
    /* tag 0: a slot with low 24 bits 0 but other bits set is a hit, an
     * empty slot is not */
    set_all(&bk, 0, 0);
    atomic_store_explicit(&bk.slot[2], 1ull << 30, memory_order_relaxed);
    unsigned e = 0;
    CHECK_EQ_INT(shmkv__bucket_scan(&bk, 0, &e), 1u << (2 * 2 + 2));
    CHECK_EQ_INT(e, 0x7fu & ~(1u << 2));
}

/* shmkv__bucket_bit, the slots a split at bit moves, against its
 * definition: every tag bit, buckets drawn as above (the link's bits and
 * the slots' high halves never count). */
static void test_split_bits(void)
{
    static _Alignas(64) struct bucket bk;
    for (unsigned n = 0; n < 100000 && !h_failures_local(); n++) {
        fill(&bk, rnd() & TAG_MASK);
        if (n % 5 == 0) /* a link with every bit */
            atomic_store_explicit(&bk.next, ~0ull, memory_order_relaxed);
        for (unsigned k = 0; k < TAG_BITS; k++) {
            unsigned want = 0;
            for (unsigned i = 0; i < SLOTS; i++)
                if (atomic_load_explicit(&bk.slot[i], memory_order_relaxed) & (1ull << k))
                    want |= 1u << i;
            unsigned got = shmkv__bucket_bit(&bk, 1ull << k);
            CHECKF(got == want, "bit %u: slots %#x, want %#x", k, got, want);
            CHECK_EQ_INT(shmkv__slots_count(got), (unsigned)__builtin_popcount(want));
        }
    }
    set_all(&bk, ~0ull, 1ull << TAG_BITS | ~TAG_MASK); /* no tag bit anywhere */
    for (unsigned k = 0; k < TAG_BITS; k++)
        CHECK_EQ_INT(shmkv__bucket_bit(&bk, 1ull << k), 0);
}

static const struct h_part parts[] = {
    { "random", test_random },
    { "edges", test_edges },
    { "split_bits", test_split_bits },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_bucket_scan", parts, H_NPARTS(parts));
}
