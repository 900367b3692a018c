/*
 * check.c - the integrity checker.
 *
 * Walks the whole file and verifies every invariant the other files rely
 * on: the header, the run tiling, the free lists, each shard's run list
 * and counters, and every slot (its record lies in a run of its shard,
 * the record's key hashes to that slot, no record is referenced twice,
 * per-run live bytes add up).
 *
 * On a writable handle it takes every shard lock (in index order, then
 * the allocator's: the same order writers use, so no deadlock), so the
 * report is exact while writers wait a moment.  On a read-only handle it
 * cannot lock: it walks the table up to three times and trusts a walk
 * during which no writer changed anything; failing that, it reports only
 * the problems every walk found (damage is stable, a torn view is not).
 * Every run that is not free must be referenced by something; one that
 * is not is reported as leaked.
 */
#include "api.h"
#include "alloc.h"
#include "fault.h"
#include "hash.h"
#include "index.h"
#include "lock.h"
#include "log.h"
#include "map.h"
#include "shard.h"

#include <errno.h>
#include <string.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct chk {
    FILE *out;
    unsigned problems;
    /* per run (by unit index from data_off): what references it */
    uint8_t *role;     /* what references the run starting at a unit (ROLE_*) */
    uint8_t *head;     /* the kind of the run starting at a unit (HEAD_*), 0: none */
    uint64_t *live;    /* live bytes found through slots */
    uint64_t nunits;
    uint8_t *seen;     /* record offsets seen, bit per 8 bytes of the data area */
    uint64_t keys, live_bytes;
    uint64_t top;      /* end of the runs when the check began */
};

enum { ROLE_NONE, ROLE_FREE, ROLE_LIST, ROLE_INDEX, ROLE_JOURNAL };
enum { HEAD_NONE, HEAD_FREE, HEAD_LOG, HEAD_HUGE, HEAD_INDEX, HEAD_NEW };

static uint8_t head_kind(uint32_t kind)
{
    switch (kind) {
    case RUN_FREE: return HEAD_FREE;
    case RUN_LOG: return HEAD_LOG;
    case RUN_HUGE: return HEAD_HUGE;
    case RUN_INDEX: return HEAD_INDEX;
    default: return HEAD_NEW;
    }
}

static void bad(struct chk *c, const char *fmt, ...)
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

static uint64_t unit_of(shmkv *db, uint64_t off) { return (off - db->data_off) >> UNIT_SHIFT; }

static int check_slot(shmkv *db, struct shard *s, uint64_t v, _Atomic uint64_t *slot, void *ctx)
{
    (void)slot;
    struct chk *c = ctx;
    uint64_t off = slot_off(v), ro = shmkv__rec_run(db, off);
    uint32_t si = shard_index(db, s);
    if (!ro) {
        bad(c, "shard %u: slot points at %#llx, not a record in a run", si, (unsigned long long)off);
        return 0;
    }
    struct run *run = run_at(db, ro);
    struct rec *r = at(db, off);
    if (off >= c->top || ro >= c->top || !r->klen) {
        bad(c, "shard %u: slot points at %#llx, past the runs or a record without a key", si,
            (unsigned long long)off);
        return 0;
    }
    uint64_t h = shmkv__hash64(rec_key(r), r->klen, db->seed0, db->seed1);
    if (run->shard != si || shard_of(db, h) != s)
        bad(c, "shard %u: record %#llx belongs to shard %u (run) / %u (hash)", si, (unsigned long long)off,
            run->shard, shard_index(db, shard_of(db, h)));
    if ((h & TAG_MASK) != slot_tag(v))
        bad(c, "shard %u: slot tag %#llx does not match the key's %#llx", si,
            (unsigned long long)slot_tag(v), (unsigned long long)(h & TAG_MASK));
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    uint64_t b = shmkv__bucket_for(lay, db->base_bits, h & TAG_MASK);
    struct bucket *home = shmkv__bucket_at(db, s, b), *bk = home;
    bool in_chain = false;
    for (unsigned n = 0; bk && n < CHAIN_MAX && !in_chain; n++, bk = shmkv__bucket_next(db, bk))
        in_chain = (uintptr_t)slot >= (uintptr_t)bk && (uintptr_t)slot < (uintptr_t)(bk + 1);
    if (!in_chain)
        bad(c, "shard %u: key of record %#llx is not in its bucket %llu's chain", si,
            (unsigned long long)off, (unsigned long long)b);
    uint64_t bit = (off - db->data_off) >> 3;
    if (c->seen[bit >> 3] & (1u << (bit & 7)))
        bad(c, "shard %u: record %#llx referenced twice", si, (unsigned long long)off);
    c->seen[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    c->live[unit_of(db, ro)] += rec_bytes(r);
    c->keys++;
    c->live_bytes += (uint64_t)r->klen + r->vlen;
    return 0;
}

static void check_shard(shmkv *db, struct shard *s, struct chk *c)
{
    uint32_t si = shard_index(db, s);
    uint64_t keys0 = c->keys, bytes0 = c->live_bytes, log_bytes = 0, rec_live = 0;
    if (!shmkv__layout_ok(atomic_load_explicit(&s->layout, memory_order_relaxed), db->base_bits)) {
        bad(c, "shard %u: layout out of range", si);
        return;
    }
    if (shmkv__index_walk(db, s, check_slot, c))
        bad(c, "shard %u: index walk failed (bad bucket or endless chain)", si);
    bool open_seen = !s->open_run;
    unsigned n = 0;
    uint64_t last = 0;
    for (uint64_t ro = s->runs; ro; ro = run_at(db, ro)->next) {
        bool huge = shmkv__run_ok(db, ro, RUN_HUGE, s);
        if ((!huge && !shmkv__run_ok(db, ro, RUN_LOG, s)) || ++n > (1u << 24)) {
            bad(c, "shard %u: run list reaches %#llx, not a log or huge run of this shard", si,
                (unsigned long long)ro);
            break;
        }
        if (ro >= c->top) {
            bad(c, "shard %u: log run %#llx lies past the runs", si, (unsigned long long)ro);
            break;
        }
        uint64_t u = unit_of(db, ro);
        if (c->role[u] != ROLE_NONE) {
            bad(c, "shard %u: log run %#llx is also %s", si, (unsigned long long)ro,
                c->role[u] == ROLE_FREE ? "free" : "in another list");
            break;
        }
        c->role[u] = ROLE_LIST;
        last = ro;
        open_seen |= ro == s->open_run;
        struct run *run = run_at(db, ro);
        uint64_t lv = atomic_load_explicit(&run->live, memory_order_relaxed);
        if (lv != c->live[u])
            bad(c, "shard %u: %s run %#llx counts %llu live bytes, slots reach %llu", si, huge ? "huge" : "log",
                (unsigned long long)ro, (unsigned long long)lv, (unsigned long long)c->live[u]);
        if (huge) { /* the pieces of a chained value belong to it */
            unsigned k = 0;
            for (uint64_t p = run->chain; p && k < (1u << 20); p = run_at(db, p)->chain, k++) {
                if (!shmkv__run_ok(db, p, RUN_HUGE, s) || p >= c->top || c->role[unit_of(db, p)]) {
                    bad(c, "shard %u: huge run %#llx chains to %#llx, not a piece of its own", si,
                        (unsigned long long)ro, (unsigned long long)p);
                    break;
                }
                c->role[unit_of(db, p)] = ROLE_LIST;
            }
            continue;
        }
        log_bytes += atomic_load_explicit(&run->used, memory_order_relaxed) - RUN_HDR;
        rec_live += c->live[u];
    }
    if (last != s->runs_tail)
        bad(c, "shard %u: run list ends at %#llx, its tail says %#llx", si, (unsigned long long)last,
            (unsigned long long)s->runs_tail);
    if (!open_seen)
        bad(c, "shard %u: open run %#llx is not in its run list", si, (unsigned long long)s->open_run);
    if (log_bytes != atomic_load_explicit(&s->log_bytes, memory_order_relaxed) ||
        rec_live != atomic_load_explicit(&s->rec_live, memory_order_relaxed))
        bad(c, "shard %u: log bytes %llu/%llu and live %llu/%llu (counted/recorded) differ", si,
            (unsigned long long)log_bytes, (unsigned long long)atomic_load(&s->log_bytes),
            (unsigned long long)rec_live, (unsigned long long)atomic_load(&s->rec_live));
    if (c->keys - keys0 != atomic_load_explicit(&s->keys, memory_order_relaxed) ||
        c->live_bytes - bytes0 != atomic_load_explicit(&s->live_bytes, memory_order_relaxed))
        bad(c, "shard %u: %llu keys / %llu bytes found, counters say %llu / %llu", si,
            (unsigned long long)(c->keys - keys0), (unsigned long long)(c->live_bytes - bytes0),
            (unsigned long long)atomic_load(&s->keys), (unsigned long long)atomic_load(&s->live_bytes));
}

/* The run tiling and the free lists; run this first (fills c->role). */
static void check_runs(shmkv *db, struct chk *c)
{
    struct hdr *h = db->hdr;
    uint64_t top = atomic_load_explicit(&h->top, memory_order_relaxed), free_units = 0;
    for (uint64_t off = db->data_off; off < top;) {
        struct run *r = run_at(db, off);
        if (!mem_ok(db, off, RUN_HDR) || !r->nunits || r->nunits > (top - off) >> UNIT_SHIFT) {
            bad(c, "run tiling broken at %#llx", (unsigned long long)off);
            return;
        }
        if (r->kind != RUN_FREE && r->kind != RUN_LOG && r->kind != RUN_HUGE && r->kind != RUN_INDEX)
            bad(c, "run %#llx has unknown kind %#x", (unsigned long long)off, r->kind);
        if (r->kind != RUN_FREE && r->kind != RUN_NEW && r->shard >= nshards(db))
            bad(c, "run %#llx owned by shard %u of %u", (unsigned long long)off, r->shard, 1u << db->shard_bits);
        c->head[unit_of(db, off)] = head_kind(r->kind);
        off += r->nunits << UNIT_SHIFT;
    }
    for (unsigned k = 0; k < sizeof h->free_head / sizeof h->free_head[0]; k++) {
        unsigned n = 0;
        for (uint64_t off = h->free_head[k]; off; off = run_at(db, off)->next) {
            if (off < db->data_off || off >= top || (off - db->data_off) % UNIT || ++n > (1u << 24)) {
                bad(c, "free list %u reaches %#llx, outside the runs", k, (unsigned long long)off);
                break;
            }
            struct run *r = run_at(db, off);
            if (r->kind != RUN_FREE)
                bad(c, "free list %u holds run %#llx of kind %#x", k, (unsigned long long)off, r->kind);
            if (c->role[unit_of(db, off)]) {
                bad(c, "run %#llx is in the free lists twice", (unsigned long long)off);
                break;
            }
            c->role[unit_of(db, off)] = ROLE_FREE;
            free_units += r->nunits;
        }
    }
    if (free_units != atomic_load_explicit(&h->free_units, memory_order_relaxed))
        bad(c, "free lists hold %llu units, header says %llu", (unsigned long long)free_units,
            (unsigned long long)atomic_load(&h->free_units));
}

/* An index run is referenced by a directory entry (bucket pieces) or by
 * the overflow buckets it holds, linked into chains or the free list. */
static void mark_index(shmkv *db, struct chk *c, uint64_t off)
{
    if (off < db->data_off || off >= c->top)
        return;
    uint64_t u = unit_of(db, off);
    if (c->head[u] == HEAD_INDEX && !c->role[u])
        c->role[u] = ROLE_INDEX;
}

static void mark_journal(shmkv *db, struct chk *c, uint64_t off)
{
    if (off >= db->data_off && off < c->top && !((off - db->data_off) % UNIT) && !c->role[unit_of(db, off)])
        c->role[unit_of(db, off)] = ROLE_JOURNAL;
}

static void mark_shard_refs(shmkv *db, struct shard *s, struct chk *c)
{
    for (unsigned d = 0; d < DIR_MAX * PIECES; d++) {
        uint64_t p = atomic_load_explicit(&s->dir[d], memory_order_relaxed);
        if (p >= RUN_HDR)
            mark_index(db, c, p - RUN_HDR);
    }
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    if (shmkv__layout_ok(lay, db->base_bits)) {
        uint64_t nb = shmkv__bucket_count(lay, db->base_bits), budget = c->nunits * (UNIT / BUCKET_BYTES) + nb;
        for (uint64_t b = 0; b < nb; b++)
            for (struct bucket *bk = shmkv__bucket_at(db, s, b); bk && budget; bk = shmkv__bucket_next(db, bk), budget--)
                mark_index(db, c, off_of(db, bk));
    }
    uint64_t budget = c->nunits * (UNIT / BUCKET_BYTES);
    for (uint64_t o = s->ov_free; o && budget && mem_ok(db, o, BUCKET_BYTES) && !(o % BUCKET_BYTES); budget--) {
        mark_index(db, c, o);
        o = atomic_load_explicit(&((struct bucket *)at(db, o))->next, memory_order_relaxed);
    }
    mark_journal(db, c, s->pending_free);
    mark_journal(db, c, s->pending_huge);
    mark_journal(db, c, s->pending_log);
    mark_journal(db, c, s->pending_piece);
    mark_journal(db, c, s->pending_index);
}

/* Every run that is not free must be reachable from something: its
 * shard's run list (log runs, huge values and their pieces), its index,
 * or a journal field.  One that is not has leaked: its space is lost
 * until the table is rebuilt. */
static void check_leaks(shmkv *db, struct chk *c)
{
    static const char *const names[] = {"", "free", "log", "huge", "index", "unfinished"};
    bool split_pending = false;
    for (uint64_t i = 0; i < nshards(db); i++) {
        mark_shard_refs(db, &db->shards[i], c);
        split_pending |= db->shards[i].pending_split != 0;
    }
    for (uint64_t u = 0; u < c->nunits; u++) {
        uint8_t h = c->head[u];
        if (h == HEAD_NONE || h == HEAD_FREE || c->role[u] || (h == HEAD_INDEX && split_pending))
            continue;
        bad(c, "%s run %#llx is referenced by nothing (leaked)", names[h],
            (unsigned long long)(db->data_off + (u << UNIT_SHIFT)));
    }
}

/* One walk of the whole table, problems written to out. */
static int check_pass(shmkv *db, FILE *out)
{
    uint64_t shards = 1ull << db->shard_bits;
    struct chk c = {.out = out};
    uint64_t top = atomic_load_explicit(&db->hdr->top, memory_order_relaxed);
    if (top < db->data_off)
        top = db->data_off;
    c.top = top;
    c.nunits = (top - db->data_off) >> UNIT_SHIFT;
    c.role = xcalloc(c.nunits + 1, 1);
    c.head = xcalloc(c.nunits + 1, 1);
    c.live = xcalloc(c.nunits + 1, sizeof *c.live);
    c.seen = xcalloc(((top - db->data_off) >> 6) + 1, 1);
    int r;
    if (!c.role || !c.head || !c.live || !c.seen) {
        r = -ENOMEM;
    } else {
        check_runs(db, &c);
        for (uint64_t i = 0; i < shards; i++)
            check_shard(db, &db->shards[i], &c);
        check_leaks(db, &c);
        r = c.problems ? -EBADMSG : 0;
    }
    free(c.role);
    free(c.head);
    free(c.live);
    free(c.seen);
    return r;
}

/* Changes whenever any writer changes anything the checker looks at. */
static uint64_t generation(shmkv *db)
{
    struct hdr *h = db->hdr;
    uint64_t g = atomic_load_explicit(&h->top, memory_order_acquire) +
                 atomic_load_explicit(&h->free_units, memory_order_acquire) * 3 +
                 atomic_load_explicit(&h->run_stamp, memory_order_acquire) * 5;
    for (uint64_t i = 0; i < nshards(db); i++) {
        struct shard *s = &db->shards[i];
        g = g * 31 + atomic_load_explicit(&s->puts, memory_order_acquire) +
            atomic_load_explicit(&s->dels, memory_order_acquire) * 7 +
            atomic_load_explicit(&s->epoch, memory_order_acquire) * 11 +
            atomic_load_explicit(&s->seq, memory_order_acquire) * 13 +
            atomic_load_explicit(&s->layout, memory_order_acquire) * 17 +
            atomic_load_explicit(&s->evictions, memory_order_acquire) * 19 +
            atomic_load_explicit(&s->expirations, memory_order_acquire) * 23;
    }
    return g;
}

#define RDONLY_PASSES 4

/* A read-only handle cannot stop writers.  A clean pass during which
 * nothing changed is exact.  Otherwise the walk is repeated, a little
 * later each time, and only problems found by every pass are reported:
 * damage stays put, a view torn by a write in flight (or by a writer
 * preempted inside the allocator) does not last.  A writer stopped for
 * good in the middle of a change leaves what the next writer repairs, and
 * that is reported, as it should be. */
static int check_unlocked(shmkv *db, FILE *report)
{
    char *text[RDONLY_PASSES] = {0};
    size_t len;
    int r = 0, passes = 0;
    for (; passes < RDONLY_PASSES; passes++) {
        uint64_t g = generation(db);
        FILE *f = open_memstream(&text[passes], &len);
        if (!f) {
            r = -ENOMEM;
            break;
        }
        r = check_pass(db, f);
        fclose(f);
        if (r == -ENOMEM || !text[passes])
            break;
        if (r == 0 && generation(db) == g) /* quiet throughout and clean: exact */
            break;
        struct timespec ts = {0, 1000000L << passes};
        nanosleep(&ts, NULL);
    }
    if (passes == RDONLY_PASSES) {
        r = 0;
        for (char *line = text[0], *nl; line && *line; line = nl + 1) {
            if (!(nl = strchr(line, '\n')))
                break;
            *nl = 0;
            bool everywhere = true;
            for (int k = 1; k < RDONLY_PASSES; k++)
                everywhere &= strstr(text[k], line) != NULL;
            if (everywhere) {
                r = -EBADMSG;
                if (report)
                    fprintf(report, "%s\n", line);
            }
        }
    }
    for (int k = 0; k < RDONLY_PASSES; k++)
        free(text[k]);
    return r;
}

SHMKV_API int shmkv_check(shmkv *db, FILE *report)
{
    if (!db)
        return -EINVAL;
    if (db->rdonly)
        return check_unlocked(db, report);
    uint64_t shards = 1ull << db->shard_bits, locked = 0;
    int r = 0;
    for (; locked < shards; locked++)
        if ((r = shmkv__shard_lock(db, &db->shards[locked])))
            goto unlock;
    if ((r = shmkv__alloc_lock(db)))
        goto unlock;
    r = check_pass(db, report);
    shmkv__alloc_unlock(db);
unlock:
    while (locked)
        shmkv__shard_unlock(&db->shards[--locked]);
    return r;
}
