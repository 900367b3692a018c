/*
 * patch.c - increments that rewrite a counter's digits in place.
 *
 * Every other write appends a new record and swings the key's slot to it;
 * the old record becomes garbage for the cleaner.  For a counter that is
 * most of an increment's cost (a log append, the slot store, the old
 * record's retirement, its later compaction), and under 8 PHP workers
 * incrementing it was 0.63x APCu's rate (BENCHMARKS.md, section 4).  When
 * the new value's text is as long as the old one (nine increments of ten
 * by one of a two-digit counter, more for longer ones), the record stays
 * and only its digits change.
 *
 * The protocol: a seqlock whose "writing" state names the record, so a
 * writer that dies mid-rewrite never makes a reader wait.
 *
 *   writer (shard lock held)              reader, having copied record o
 *   journal = the new text                the epoch held? (view_recycled)
 *   patch = gen+1 | o      (publish)      patch moved since it looked?
 *   o's value = the new text                 -> look again
 *   patch = gen+1 | 0      (publish)      patch named o all along?
 *                                            -> the journal's text
 *
 * A copy that met any byte of the rewrite either sees the word moved or
 * saw it name o from before its copy to after (index.h, view_patch).  The
 * journal is written before the word names o and rewritten only after the
 * word moved on, so a journal copy followed by an unchanged word is that
 * rewrite's new value (patch.h, shmkv__patch_read).  gen (26 bits) makes
 * every rewrite's word differ from the last one's.
 *
 * Crash safety: a writer killed mid-rewrite leaves the word naming o;
 * readers meanwhile return the journal's text, as if the increment had
 * happened when the word was published.  The next holder of the lock
 * (shard.c's repair) writes the journal's text over o's value again (a
 * redo: the old digits are never needed) and moves the word on.
 */
#include "patch.h"

#include "fault.h"
#include "log.h"
#include "map.h"

static uint8_t *value_at(shmkv *db, uint64_t off)
{
    const struct rec *r = at(db, off);
    return (uint8_t *)at(db, off) + rec_head(r) + r->klen;
}

void shmkv__patch(shmkv *db, struct shard *s, uint64_t off, const void *text, size_t n)
{
    uint64_t gen = patch_gen(atomic_load_explicit(&s->patch, memory_order_relaxed)) + 1;
    uint8_t *val = value_at(db, off);
    s->patch_len = (uint32_t)n;
    memcpy(s->patch_text, text, n);
    seq_publish(&s->patch, gen << PATCH_GEN_SHIFT | off >> 3); /* the journal before, the digits after */
    size_t half = n / 2;  /* in two steps, so a test can stop the writer between them */
    memcpy(val, text, half);
    shmkv__pause_at(PAUSE_PATCHING);
    memcpy(val + half, (const uint8_t *)text + half, n - half);
    seq_publish(&s->patch, gen << PATCH_GEN_SHIFT); /* release: the digits before */
    add64(&s->patches, 1);
}

bool shmkv__parse_int(const uint8_t *p, size_t n, int64_t *v)
{
    bool neg = n && p[0] == '-';
    size_t i = neg;
    if (n - i < 1 || n - i > 19)
        return false;
    uint64_t u = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9)
            return false;
        u = u * 10 + d; /* 19 digits fit a uint64 */
    }
    if (u > (uint64_t)INT64_MAX + neg)
        return false;
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/* What is wrong with the rewrite in flight (or NULL): the journal must
 * hold an integer's text (all shmkv_incr writes) as long as the value of
 * a pair's record, in one piece, in a run of this shard. */
static const char *in_flight_damage(shmkv *db, struct shard *s, uint64_t off)
{
    uint64_t ro = shmkv__rec_run(db, off);
    if (!ro || run_at(db, ro)->shard != shard_index(db, s))
        return "the patch journal names no record of the shard";
    const struct rec *r = at(db, off);
    if (rec_type(r) != REC_PAIR || !r->klen || (r->dist & REC_CHAIN))
        return "the patch journal names a record that is not a pair in one piece";
    int64_t v;
    if (s->patch_len != r->vlen || s->patch_len > PATCH_MAX || !shmkv__parse_int(s->patch_text, s->patch_len, &v))
        return "the patch journal's text is not a value of its record's length";
    return NULL;
}

void shmkv__patch_repair(shmkv *db, struct shard *s)
{
    uint64_t p = atomic_load_explicit(&s->patch, memory_order_relaxed), off = patch_rec(p);
    if (!off)
        return;
    if (!in_flight_damage(db, s, off))
        memcpy(value_at(db, off), s->patch_text, s->patch_len);
    seq_publish(&s->patch, patch_gen(p) << PATCH_GEN_SHIFT);
}

const char *shmkv__patch_damage(shmkv *db, struct shard *s)
{
    uint64_t off = patch_rec(atomic_load_explicit(&s->patch, memory_order_relaxed));
    if (!off)
        return NULL;
    /* only a holder of the lock rewrites (a read-only check that raced
     * one sees the lock's gen move, and looks again) */
    if (!atomic_load_explicit(&s->lock.word, memory_order_relaxed))
        return "a patch is in flight with its shard's lock free";
    return in_flight_damage(db, s, off);
}
