/*
 * check.c - the integrity checker, and the operator's repair.
 *
 * A pass walks the whole file and verifies every invariant the other files
 * rely on: the header, the run tiling, the free lists, each shard's run
 * list, deferred list and counters, and every slot (its record lies in a
 * run of its shard, the record's key hashes to that slot, no record is
 * referenced twice, per-run live bytes add up), and that every run in use
 * is referenced by something.  Every offset it follows is bounds-checked
 * against the file's real size, so a damaged file, or one a writer
 * changes under a read-only checker, gives reports, never a signal; its
 * work is bounded by that size too.
 *
 * On a writable handle the checker takes every shard lock (in index order,
 * then the allocator's: the order writers use, so no deadlock), so the
 * pass is exact while writers wait.  A read-only handle cannot lock; it
 * trusts only what it saw while no writer was inside, by the locks' gen
 * counters (odd while held, bumped on every take and release: lock.c):
 * first whole passes, and if writers never pause for a whole one, each
 * shard on its own while its own lock was quiet (and the allocator's part
 * if its lock pauses too; the leak check needs a whole quiet pass).  A
 * shard it could not see quietly it says it could not check (-EAGAIN), so
 * writers at work never cause a false report.
 *
 * shmkv_repair, for an operator with no writer attached, forgets every
 * lock's holder, repairs every shard as after a crash, rebuilds the free
 * lists, frees the runs nothing references, then checks.
 *
 * The pass's state is struct chk (check.h); the leak pass, which marks
 * what the index and the journal fields reference, is check_leaks.c.
 */
#include "check.h"

#include "alloc.h"
#include "api.h"
#include "fault.h"
#include "hash.h"
#include "index.h"
#include "list.h"
#include "lock.h"
#include "log.h"
#include "map.h"
#include "patch.h"
#include "shard.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNDO_BIT (1ull << 63)

void shmkv__check_bad(struct chk *c, const char *fmt, ...)
{
    c->problems++;
    if (!c->out || c->problems > 100)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("shmkv check: ", c->out);
    vfprintf(c->out, fmt, ap);
    fputc('\n', c->out);
    va_end(ap);
}

/* Is ro where the walk of the tiling met a run of kind want (HEAD_*)?
 * (Only when the tiling was walked in this pass: a read-only check that
 * takes the shards one at a time while writers work cannot tell.)  A
 * run header the walk never meets lies inside another run, whatever it
 * says: that run's owner (or the allocator, if it is free) may write over
 * it.  (Found by fuzz_open: a run whose length damage had stretched over
 * the next one, a live log run; repair freed it as leaked, called the
 * table sound, and the next put overwrote the log run's records.) */
static bool tiled(shmkv *db, const struct chk *c, uint64_t ro, uint8_t want)
{
    return in_runs(db, c, ro) && !((ro - db->data_off) % UNIT) && (!c->heads_now || c->head[unit_of(db, ro)] == want);
}

static void remember(struct chk *c, uint64_t x)
{
    if (!c->undoing)
        return;
    if (c->nundo == c->capundo) {
        size_t cap = c->capundo ? c->capundo * 2 : 1024;
        uint64_t *p = xrealloc(c->undo, cap * sizeof *p);
        if (!p) { /* cannot undo: leave the marks (later shards may see stale ones) */
            c->undoing = false;
            return;
        }
        c->undo = p;
        c->capundo = cap;
    }
    c->undo[c->nundo++] = x;
}

static void set_role(struct chk *c, uint64_t u, uint8_t role)
{
    c->role[u] = role;
    remember(c, u);
}

static void undo_marks(struct chk *c);

static void chk_reset(struct chk *c)
{
    if (c->undoing) {
        undo_marks(c);
        return;
    }
    memset(c->role, 0, c->nunits + 1);
    memset(c->head, 0, c->nunits + 1);
    memset(c->live, 0, (c->nunits + 1) * sizeof *c->live);
    memset(c->seen, 0, (c->nunits << (UNIT_SHIFT - 6)) + 1);
    memset(c->linked, 0, (c->nunits << (UNIT_SHIFT - 9)) + 1);
    c->keys = c->live_bytes = 0;
}

static void undo_marks(struct chk *c)
{
    for (size_t i = 0; i < c->nundo; i++) {
        uint64_t x = c->undo[i];
        if (x & UNDO_BIT) {
            x &= ~UNDO_BIT;
            c->seen[x >> 3] &= (uint8_t)~(1u << (x & 7));
        } else {
            c->role[x] = 0;
            c->live[x] = 0;
        }
    }
    c->nundo = 0;
}

/* Size the pass by the runs' end as it is now, within the real file:
 * grow the arrays (zeroed) if the runs grew since the last sizing. */
static int chk_size(shmkv *db, struct chk *c)
{
    uint64_t top = atomic_load_explicit(&db->hdr->top, memory_order_acquire);
    if (top < db->data_off || (top - db->data_off) % UNIT || !mem_ok(db, db->data_off, top - db->data_off)) {
        bad(c, "the runs' end %#llx lies outside the file", (ull)top);
        top = db->data_off;
    }
    uint64_t n = (top - db->data_off) >> UNIT_SHIFT;
    if (c->role && n <= c->capunits) { /* arrays big enough: zero past the old end */
        if (n > c->nunits) {
            memset(c->role + c->nunits + 1, 0, n - c->nunits);
            memset(c->head + c->nunits + 1, 0, n - c->nunits);
            memset(c->live + c->nunits + 1, 0, (n - c->nunits) * sizeof *c->live);
            memset(c->seen + (c->nunits << (UNIT_SHIFT - 6)) + 1, 0, (n - c->nunits) << (UNIT_SHIFT - 6));
            memset(c->linked + (c->nunits << (UNIT_SHIFT - 9)) + 1, 0, (n - c->nunits) << (UNIT_SHIFT - 9));
        }
        c->top = top;
        c->nunits = n;
        return 0;
    }
    bool had = c->role != NULL; /* before the reallocation: what to zero is from the old end */
    uint8_t *role = xrealloc(c->role, n + 1), *head = role ? xrealloc(c->head, n + 1) : NULL;
    c->role = role ? role : c->role;
    c->head = head ? head : c->head;
    uint64_t *live = head ? xrealloc(c->live, (n + 1) * sizeof *live) : NULL;
    c->live = live ? live : c->live;
    uint8_t *seen = live ? xrealloc(c->seen, (n << (UNIT_SHIFT - 6)) + 1) : NULL;
    c->seen = seen ? seen : c->seen;
    uint8_t *linked = seen ? xrealloc(c->linked, (n << (UNIT_SHIFT - 9)) + 1) : NULL;
    if (!linked)
        return -ENOMEM;
    c->linked = linked;
    uint64_t old = had ? c->nunits + 1 : 0, sold = had ? (c->nunits << (UNIT_SHIFT - 6)) + 1 : 0;
    memset(c->role + old, 0, n + 1 - old);
    memset(c->head + old, 0, n + 1 - old);
    memset(c->live + old, 0, (n + 1 - old) * sizeof *c->live);
    memset(c->seen + sold, 0, (n << (UNIT_SHIFT - 6)) + 1 - sold);
    uint64_t lold = had ? (c->nunits << (UNIT_SHIFT - 9)) + 1 : 0;
    memset(c->linked + lold, 0, (n << (UNIT_SHIFT - 9)) + 1 - lold);
    c->top = top;
    c->nunits = c->capunits = n;
    return 0;
}

static int chk_init(shmkv *db, struct chk *c, FILE *out)
{
    memset(c, 0, sizeof *c);
    c->out = out;
    return chk_size(db, c);
}

static void chk_free(struct chk *c)
{
    free(c->role);
    free(c->head);
    free(c->live);
    free(c->seen);
    free(c->linked);
    free(c->undo);
}

static uint8_t head_kind(uint32_t kind)
{
    switch (kind) {
    case RUN_FREE: return HEAD_FREE;
    case RUN_LOG: return HEAD_LOG;
    case RUN_HUGE: return HEAD_HUGE;
    case RUN_INDEX: return HEAD_INDEX;
    case RUN_DEFER: return HEAD_DEFER;
    case RUN_LIST: return HEAD_LIST;
    case RUN_RING: return HEAD_RING;
    default: return HEAD_NEW;
    }
}

/* ---- one shard ---- */

/* Is slot inside the chain of bucket b? */
static bool in_chain(shmkv *db, struct shard *s, uint64_t b, const _Atomic uint64_t *slot)
{
    struct bucket *bk = shmkv__bucket_at(db, s, b);
    for (unsigned n = 0; bk && n < CHAIN_MAX; n++, bk = shmkv__bucket_next(db, bk))
        if ((uintptr_t)slot >= (uintptr_t)bk && (uintptr_t)slot < (uintptr_t)(bk + 1))
            return true;
    return false;
}

/* A record reached from the index or a list: once only, and its bytes
 * counted live in its run. */
static void seen_once(shmkv *db, struct shard *s, struct chk *c, uint64_t off, uint64_t ro, const struct rec *r)
{
    uint64_t bit = (off - db->data_off) >> 3;
    if (c->seen[bit >> 3] & (1u << (bit & 7)))
        bad(c, "shard %u: record %#llx referenced twice", shard_index(db, s), (ull)off);
    c->seen[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    remember(c, bit | UNDO_BIT);
    c->live[unit_of(db, ro)] += rec_bytes(r);
    remember(c, unit_of(db, ro));
}

/* Mark a list's run (and its ring's) as referenced: once only. */
static bool claim(shmkv *db, struct chk *c, uint64_t ro, uint8_t want)
{
    if (!tiled(db, c, ro, want) || c->role[unit_of(db, ro)])
        return false;
    set_role(c, unit_of(db, ro), ROLE_LIST);
    return true;
}

/* The checker's view of one list's walk (check_list). */
struct list_chk {
    shmkv *db;
    struct shard *s;
    struct chk *c;
    uint64_t lrun;
    bool bad;
};

/* An element: out of line, a record of its own in a run of the shard,
 * keyed by the list run, naming the element's position, reached once. */
static void check_elem(void *ctx, uint32_t pos, uint64_t e)
{
    struct list_chk *lc = ctx;
    if (!e || lc->bad)
        return;
    shmkv *db = lc->db;
    uint32_t si = shard_index(db, lc->s);
    uint64_t ro = shmkv__rec_run(db, e), k = 0;
    const struct rec *r = ro ? at(db, e) : NULL;
    if (r && r->klen == sizeof k)
        memcpy(&k, rec_key(r), sizeof k);
    if (!ro || !in_runs(db, lc->c, e) || run_at(db, ro)->shard != si || rec_type(r) != REC_ELEM || k != lc->lrun ||
        (uint32_t)rec_extword(r) != pos) {
        bad(lc->c, "shard %u: list %#llx's element at %u is not its record", si, (ull)lc->lrun, pos);
        lc->bad = true;
        return;
    }
    seen_once(db, lc->s, lc->c, e, ro, r);
}

/* A list (its record at off): its runs, and its elements, each sound. */
static void check_list(shmkv *db, struct shard *s, struct chk *c, uint64_t off)
{
    uint32_t si = shard_index(db, s);
    uint64_t lrun = shmkv__list_run(db, s, off);
    if (!lrun || !claim(db, c, lrun, HEAD_LIST)) {
        bad(c, "shard %u: list record %#llx names no list run of its own", si, (ull)off);
        return;
    }
    struct list *l = list_at(db, lrun);
    uint64_t w = atomic_load_explicit(&l->ring, memory_order_relaxed);
    if ((w & ~63ull) != lrun + LIST_RING_OFF && !claim(db, c, (w & ~63ull) - RUN_HDR, HEAD_RING))
        bad(c, "shard %u: list %#llx's ring is another's", si, (ull)lrun);
    uint32_t len = list_len(atomic_load_explicit(&l->end[SHMKV_HEAD].w, memory_order_relaxed),
                            atomic_load_explicit(&l->end[SHMKV_TAIL].w, memory_order_relaxed));
    struct list_chk lc = {db, s, c, lrun, false};
    uint32_t k = shmkv__list_walk(db, lrun, check_elem, &lc);
    if (k != len)
        bad(c, "shard %u: list %#llx holds %u elements, and its ring %u sound ones", si, (ull)lrun, len, k);
}

static int check_slot(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
    struct chk *c = ctx;
    uint64_t off = slot_off(v), ro = shmkv__rec_run(db, off); /* bounds-checked, key bytes included */
    uint32_t si = shard_index(db, s);
    struct rec *r = at(db, off);
    if (!ro || !in_runs(db, c, off) || !r->klen || !(tiled(db, c, ro, HEAD_LOG) || tiled(db, c, ro, HEAD_HUGE))) {
        bad(c, "shard %u: slot points at %#llx, not a record with a key in a run", si, (ull)off);
        if (ro && in_runs(db, c, ro)) { /* claimed: a leaked run over it is not freed */
            c->live[unit_of(db, ro)] += 1;
            remember(c, unit_of(db, ro));
        }
        return 0;
    }
    struct run *run = run_at(db, ro);
    if (run->kind == RUN_LOG && off + rec_bytes(r) - ro > atomic_load_explicit(&run->used, memory_order_relaxed))
        bad(c, "shard %u: record %#llx lies past its log run's used mark", si, (ull)off);
    /* A list's element is reached from its ring only.  One a slot points
     * at is live to readers but garbage to the cleaner, which releases its
     * run under the slot (found by fuzz_open: after a repair that passed,
     * a compaction step freed a run under a live slot). */
    if (rec_type(r) == REC_ELEM)
        bad(c, "shard %u: slot points at %#llx, a list's element", si, (ull)off);
    uint64_t h = shmkv__key_hash(db, rec_key(r), r->klen);
    if (run->shard != si || shard_of(db, h) != s)
        bad(c, "shard %u: record %#llx belongs to shard %u (run) / %u (hash)", si, (ull)off, run->shard,
            shard_index(db, shard_of(db, h)));
    if ((h & TAG_MASK) != slot_tag(v))
        bad(c, "shard %u: slot tag %#llx does not match the key's %#llx", si, (ull)slot_tag(v),
            (ull)(h & TAG_MASK));
    uint64_t b = shmkv__bucket_for(atomic_load_explicit(&s->layout, memory_order_relaxed), db->base_bits, h & TAG_MASK);
    struct bucket *first = shmkv__bucket_at(db, s, b);
    if (!in_chain(db, s, b, slot))
        bad(c, "shard %u: key of record %#llx is not in its bucket %llu's chain", si, (ull)off, (ull)b);
    else if ((uintptr_t)slot - (uintptr_t)first >= BUCKET_BYTES &&
             !(atomic_load_explicit(&first->next, memory_order_relaxed) & tag_filter_bit(slot_tag(v))))
        bad(c, "shard %u: key of record %#llx is in an overflow bucket of bucket %llu that its filter leaves out",
            si, (ull)off, (ull)b);
    seen_once(db, s, c, off, ro, r);
    if (rec_type(r) == REC_LIST)
        check_list(db, s, c, off);
    if (type_is_key(rec_type(r))) { /* leases are not keys */
        c->keys++;
        c->live_bytes += (uint64_t)r->klen + r->vlen;
    }
    return 0;
}

/* The pieces of a chained huge value belong to its head. */
static void check_chain(shmkv *db, struct shard *s, struct chk *c, uint64_t ro)
{
    unsigned k = 0;
    for (uint64_t p = run_at(db, ro)->chain; p && k < (1u << 20); p = run_at(db, p)->chain, k++) {
        if (!shmkv__run_ok(db, p, RUN_HUGE, s) || !tiled(db, c, p, HEAD_HUGE) || c->role[unit_of(db, p)]) {
            bad(c, "shard %u: huge run %#llx chains to %#llx, not a piece of its own", shard_index(db, s),
                (ull)ro, (ull)p);
            return;
        }
        set_role(c, unit_of(db, p), ROLE_LIST);
    }
}

/* The live bytes met walking a log run's records from its start to its
 * used mark, as the cleaner does.  A record the walk never meets (damage
 * stretched a dead record over it) would be released with its run (found
 * by fuzz_open: after a repair that passed, a put's compaction step freed
 * a run two slots still pointed into). */
static uint64_t walked_live(shmkv *db, const struct chk *c, uint64_t ro, uint64_t used)
{
    uint64_t met = 0;
    for (uint64_t pos = RUN_HDR, sz; pos < used && (sz = shmkv__log_rec_size(db, ro, pos, used)); pos += sz) {
        uint64_t bit = (ro + pos - db->data_off) >> 3;
        if (c->seen[bit >> 3] & (1u << (bit & 7)))
            met += sz;
    }
    return met;
}

/* The shard's run list: each run sound, once, its live bytes as counted
 * through the slots; returns the log bytes and live bytes of its log runs. */
static void check_run_list(shmkv *db, struct shard *s, struct chk *c, uint64_t *log_bytes, uint64_t *rec_live)
{
    uint32_t si = shard_index(db, s);
    bool open_seen = !s->open_run;
    unsigned n = 0;
    uint64_t last = 0;
    for (uint64_t ro = s->runs; ro; ro = run_at(db, ro)->next) {
        bool huge = shmkv__run_ok(db, ro, RUN_HUGE, s);
        if ((!huge && !shmkv__run_ok(db, ro, RUN_LOG, s)) || ++n > (1u << 24) || !in_runs(db, c, ro)) {
            bad(c, "shard %u: run list reaches %#llx, not a log or huge run of this shard", si, (ull)ro);
            return;
        }
        uint64_t u = unit_of(db, ro);
        if (!tiled(db, c, ro, huge ? HEAD_HUGE : HEAD_LOG)) {
            bad(c, "shard %u: run list reaches %#llx, inside another run", si, (ull)ro);
            set_role(c, u, ROLE_LIST); /* claimed: the run over it is not freed as leaked */
            return;
        }
        if (c->role[u] != ROLE_NONE) {
            bad(c, "shard %u: log run %#llx is also %s", si, (ull)ro,
                c->role[u] == ROLE_FREE ? "free" : "in another list");
            return;
        }
        set_role(c, u, ROLE_LIST);
        last = ro;
        open_seen |= ro == s->open_run;
        struct run *run = run_at(db, ro);
        uint64_t lv = atomic_load_explicit(&run->live, memory_order_relaxed);
        if (lv != c->live[u])
            bad(c, "shard %u: %s run %#llx counts %llu live bytes, slots reach %llu", si, huge ? "huge" : "log",
                (ull)ro, (ull)lv, (ull)c->live[u]);
        if (huge) {
            check_chain(db, s, c, ro);
            continue;
        }
        uint64_t used = atomic_load_explicit(&run->used, memory_order_relaxed);
        if (used < RUN_HDR || used % 8)
            bad(c, "shard %u: log run %#llx's used mark %llu is no record boundary", si, (ull)ro, (ull)used);
        else if (walked_live(db, c, ro, used) != c->live[u])
            bad(c, "shard %u: log run %#llx's records, walked from its start, miss some of its live ones", si,
                (ull)ro);
        *log_bytes += used - RUN_HDR;
        *rec_live += c->live[u];
    }
    if (last != s->runs_tail)
        bad(c, "shard %u: run list ends at %#llx, its tail says %#llx", si, (ull)last, (ull)s->runs_tail);
    if (!open_seen)
        bad(c, "shard %u: open run %#llx is not in its run list", si, (ull)s->open_run);
}

/* Runs released while the allocator was busy: each a RUN_DEFER of ours. */
static void check_deferred(shmkv *db, struct shard *s, struct chk *c)
{
    unsigned n = 0;
    for (uint64_t ro = s->deferred; ro; ro = run_at(db, ro)->next) {
        if (!shmkv__run_ok(db, ro, RUN_DEFER, s) || !tiled(db, c, ro, HEAD_DEFER) || ++n > (1u << 24) ||
            c->role[unit_of(db, ro)]) {
            bad(c, "shard %u: deferred list reaches %#llx, not a deferred run of this shard (once)",
                shard_index(db, s), (ull)ro);
            return;
        }
        set_role(c, unit_of(db, ro), ROLE_LIST);
    }
}

static void check_shard(shmkv *db, struct shard *s, struct chk *c)
{
    uint32_t si = shard_index(db, s);
    uint64_t keys0 = c->keys, bytes0 = c->live_bytes, log_bytes = 0, rec_live = 0;
    if (!shmkv__layout_fits(db, atomic_load_explicit(&s->layout, memory_order_relaxed))) {
        bad(c, "shard %u: layout out of range (more buckets than the file holds)", si);
        return;
    }
    if (shmkv__index_walk(db, s, WALK_ALL, check_slot, c))
        bad(c, "shard %u: index walk failed (bad bucket or endless chain)", si);
    check_run_list(db, s, c, &log_bytes, &rec_live);
    check_deferred(db, s, c);
    const char *pd = shmkv__patch_damage(db, s);
    if (pd)
        bad(c, "shard %u: %s", si, pd);
    if (log_bytes != ld64(&s->log_bytes) || rec_live != ld64(&s->rec_live))
        bad(c, "shard %u: log bytes %llu/%llu and live %llu/%llu (counted/recorded) differ", si, (ull)log_bytes,
            (ull)ld64(&s->log_bytes), (ull)rec_live, (ull)ld64(&s->rec_live));
    if (c->keys - keys0 != ld64(&s->keys) || c->live_bytes - bytes0 != ld64(&s->live_bytes))
        bad(c, "shard %u: %llu keys / %llu bytes found, counters say %llu / %llu", si, (ull)(c->keys - keys0),
            (ull)(c->live_bytes - bytes0), (ull)ld64(&s->keys), (ull)ld64(&s->live_bytes));
}

/* ---- the allocator's part ---- */

static void check_free_lists(shmkv *db, struct chk *c)
{
    struct hdr *h = db->hdr;
    uint64_t free_units = 0;
    for (unsigned k = 0; k < NCLASS; k++) {
        unsigned n = 0;
        for (uint64_t off = h->free_head[k]; off; off = run_at(db, off)->next) {
            if (!in_runs(db, c, off) || (off - db->data_off) % UNIT || ++n > (1u << 24)) {
                bad(c, "free list %u reaches %#llx, outside the runs", k, (ull)off);
                break;
            }
            struct run *r = run_at(db, off); /* below c->top: inside the file */
            if (r->kind != RUN_FREE || !tiled(db, c, off, HEAD_FREE))
                bad(c, "free list %u holds run %#llx of kind %#x%s", k, (ull)off, r->kind,
                    tiled(db, c, off, head_kind(r->kind)) ? "" : ", inside another run");
            if (c->role[unit_of(db, off)]) {
                bad(c, "run %#llx is in the free lists twice", (ull)off);
                break;
            }
            set_role(c, unit_of(db, off), ROLE_FREE);
            free_units += r->nunits;
        }
    }
    if (free_units != ld64(&h->free_units))
        bad(c, "free lists hold %llu units, header says %llu", (ull)free_units, (ull)ld64(&h->free_units));
}

/* The run tiling and the free lists (fills c->head and the free roles). */
static void check_runs(shmkv *db, struct chk *c)
{
    c->heads_now = true;
    for (uint64_t off = db->data_off; off < c->top;) {
        struct run *r = run_at(db, off);
        if (!mem_ok(db, off, RUN_HDR) || !r->nunits || r->nunits > (c->top - off) >> UNIT_SHIFT) {
            bad(c, "run tiling broken at %#llx", (ull)off);
            return;
        }
        if (r->kind != RUN_FREE && r->kind != RUN_LOG && r->kind != RUN_HUGE && r->kind != RUN_INDEX &&
            r->kind != RUN_DEFER && r->kind != RUN_LIST && r->kind != RUN_RING)
            bad(c, "run %#llx has unknown kind %#x", (ull)off, r->kind);
        if (r->kind != RUN_FREE && r->kind != RUN_NEW && r->shard >= nshards(db))
            bad(c, "run %#llx owned by shard %u of %llu", (ull)off, r->shard, (ull)nshards(db));
        c->head[unit_of(db, off)] = head_kind(r->kind);
        off += r->nunits << UNIT_SHIFT;
    }
    check_free_lists(db, c);
}

/* One walk of the whole table, problems written to out. */
static int check_pass(shmkv *db, FILE *out)
{
    struct chk c;
    int r = chk_init(db, &c, out);
    if (!r) {
        check_runs(db, &c);
        for (uint64_t i = 0; i < nshards(db); i++)
            check_shard(db, &db->shards[i], &c);
        shmkv__check_leaks(db, &c, false);
        r = c.problems ? -EBADMSG : 0;
    }
    chk_free(&c);
    return r;
}

/* ---- read-only: look only while no writer is inside ---- */

static void nap(unsigned attempt)
{
    struct timespec ts = {0, shmkv__hurried(50000L << (attempt < 8 ? attempt : 8))}; /* 50 us .. 12.8 ms */
    nanosleep(&ts, NULL);
}

/* The gens of the locks a part depends on: even (nobody inside) now? */
static bool gens_begin(const struct lock *const *locks, size_t n, uint64_t *g)
{
    for (size_t i = 0; i < n; i++)
        if ((g[i] = seq_begin(&locks[i]->gen)) & 1)
            return false;
    return true;
}

static bool gens_held(const struct lock *const *locks, size_t n, const uint64_t *g)
{
    seq_end();
    for (size_t i = 0; i < n; i++)
        if (seq_changed(&locks[i]->gen, g[i]))
            return false;
    return true;
}

/* Run part(db, c, arg) until a run of it saw none of the locks move (at
 * most tries times); copy its report to out.  Returns its problem count,
 * or -EAGAIN if the locks never stayed quiet, -ENOMEM. */
typedef void (*part_fn)(shmkv *db, struct chk *c, void *arg);
static int quiet_part(shmkv *db, struct chk *c, const struct lock *const *locks, size_t n, unsigned tries,
                      part_fn part, void *arg, FILE *out)
{
    uint64_t g[n];
    for (unsigned attempt = 0; attempt < tries; attempt++) {
        if (!gens_begin(locks, n, g)) {
            nap(attempt);
            continue;
        }
        /* the runs' end after the locks' gens: every run a quiet part
         * refers to was there before its writers let go */
        if (chk_size(db, c))
            return -ENOMEM;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            return -ENOMEM;
        unsigned before = c->problems;
        c->out = f;
        part(db, c, arg);
        fclose(f);
        int found = (int)(c->problems - before);
        if (gens_held(locks, n, g)) {
            if (out && text)
                fputs(text, out);
            free(text);
            return found;
        }
        c->problems = before;
        free(text);
        chk_reset(c);
        nap(attempt);
    }
    return -EAGAIN;
}

static void part_whole(shmkv *db, struct chk *c, void *arg)
{
    (void)arg;
    check_runs(db, c);
    for (uint64_t i = 0; i < nshards(db); i++)
        check_shard(db, &db->shards[i], c);
    shmkv__check_leaks(db, c, false);
}

static void part_runs(shmkv *db, struct chk *c, void *arg)
{
    (void)arg;
    check_runs(db, c);
}

static void part_shard(shmkv *db, struct chk *c, void *arg)
{
    check_shard(db, arg, c);
    undo_marks(c);
}

static int check_unlocked(shmkv *db, FILE *report)
{
    uint64_t n = nshards(db);
    const struct lock **locks = xcalloc(3 * n + 1, sizeof *locks); /* each shard's lock and lanes */
    struct chk c;
    int r = chk_init(db, &c, NULL);
    if (!locks || r) {
        free(locks);
        chk_free(&c);
        return -ENOMEM;
    }
    locks[0] = &db->hdr->alloc_lock;
    for (uint64_t i = 0; i < n; i++) {
        locks[3 * i + 1] = &db->shards[i].lock;
        locks[3 * i + 2] = &db->shards[i].lane[SHMKV_HEAD].lock;
        locks[3 * i + 3] = &db->shards[i].lane[SHMKV_TAIL].lock;
    }
    /* A few whole passes first: one that no writer disturbed is exact. */
    r = quiet_part(db, &c, locks, 3 * n + 1, 8, part_whole, NULL, report);
    if (r != -EAGAIN) {
        chk_free(&c);
        free(locks);
        return r < 0 ? r : r ? -EBADMSG : 0;
    }
    /* Writers never paused for a whole pass: each shard while its own lock
     * is quiet, and the allocator's part if its lock pauses too (a writer
     * that allocates all the time may never let it: then it is left out,
     * as is the leak check, which needs every lock quiet at once). */
    unsigned unchecked = 0, problems = 0;
    chk_reset(&c);
    r = quiet_part(db, &c, locks, 1, 16, part_runs, NULL, report);
    problems += r > 0 ? (unsigned)r : 0;
    memset(c.role, 0, c.nunits + 1); /* the free roles were only for the allocator's part */
    c.undoing = true;
    c.heads_now = false; /* runs come and go between the shards' turns */
    for (uint64_t i = 0; i < n && r != -ENOMEM; i++) {
        r = quiet_part(db, &c, &locks[3 * i + 1], 3, 64, part_shard, &db->shards[i], report);
        if (r == -EAGAIN && report)
            fprintf(report, "shmkv check: shard %llu: writers never left it quiet; not checked\n", (ull)i);
        unchecked += r == -EAGAIN;
        problems += r > 0 ? (unsigned)r : 0;
    }
    chk_free(&c);
    free(locks);
    return r == -ENOMEM ? r : problems ? -EBADMSG : unchecked ? -EAGAIN : 0;
}

/* ---- the API ---- */

/* Take every shard's lock, then their lanes, then the allocator's (the
 * writers' order). */
static int lock_all(shmkv *db, uint64_t *locked)
{
    int r = 0;
    uint64_t laned = 0;
    for (*locked = 0; *locked < nshards(db) && !r; ++*locked)
        if ((r = shmkv__shard_lock(db, &db->shards[*locked])))
            break;
    for (; !r && laned < nshards(db); laned++)
        if ((r = shmkv__lanes_take(db, &db->shards[laned])))
            break;
    if (!r)
        r = shmkv__alloc_lock(db);
    if (r) {
        while (laned)
            shmkv__lanes_drop(&db->shards[--laned]);
        while (*locked)
            shmkv__shard_unlock(&db->shards[--*locked]);
    }
    return r;
}

static void unlock_all(shmkv *db)
{
    shmkv__alloc_unlock(db);
    for (uint64_t i = nshards(db); i-- > 0;)
        shmkv__lanes_drop(&db->shards[i]);
    for (uint64_t i = nshards(db); i-- > 0;)
        shmkv__shard_unlock(&db->shards[i]);
}

SHMKV_API int shmkv_check(shmkv *db, FILE *report)
{
    if (!db)
        return -EINVAL;
    if (db->rdonly)
        return check_unlocked(db, report);
    uint64_t locked;
    int r = lock_all(db, &locked);
    if (r)
        return r;
    r = check_pass(db, report);
    unlock_all(db);
    return r;
}

SHMKV_API int shmkv_repair(shmkv *db, FILE *report)
{
    if (!db)
        return -EINVAL;
    if (db->rdonly)
        return -EROFS;
    shmkv__lock_reset(&db->hdr->alloc_lock);
    for (uint64_t i = 0; i < nshards(db); i++) {
        shmkv__lock_reset(&db->shards[i].lock);
        shmkv__lock_reset(&db->shards[i].lane[SHMKV_HEAD].lock);
        shmkv__lock_reset(&db->shards[i].lane[SHMKV_TAIL].lock);
        shmkv__list_forget(&db->shards[i]); /* repair may drop lists without freeing them one by one */
    }
    uint64_t locked;
    int r = lock_all(db, &locked);
    if (r)
        return r;
    r = shmkv__alloc_rebuild(db);
    for (uint64_t i = 0; i < nshards(db) && !r; i++)
        r = shmkv__shard_repair(db, &db->shards[i]);
    for (uint64_t i = 0; i < nshards(db) && !r; i++)
        shmkv__index_refilter(db, &db->shards[i]);
    unsigned leaked = 0;
    if (!r) {
        struct chk c;
        if ((r = chk_init(db, &c, NULL)) == 0) {
            check_runs(db, &c);
            for (uint64_t i = 0; i < nshards(db); i++)
                check_shard(db, &db->shards[i], &c);
            leaked = shmkv__check_leaks(db, &c, true);
        }
        chk_free(&c);
    }
    if (leaked && report)
        fprintf(report, "shmkv repair: freed %u leaked run%s\n", leaked, leaked == 1 ? "" : "s");
    /* also when a step found damage it cannot repair: the report then
     * says what remains (it used to say nothing) */
    if (!r || r == -EBADMSG) {
        int c = check_pass(db, report);
        r = r ? r : c;
    }
    unlock_all(db);
    return r;
}
