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
 * cannot lock and reports what it sees; writers may cause false alarms.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct chk {
    FILE *out;
    unsigned problems;
    /* per run (by unit index from data_off): what references it */
    uint8_t *role;     /* 0 none, 1 free list, 2 shard run list */
    uint64_t *live;    /* live bytes found through slots */
    uint64_t nunits;
    uint8_t *seen;     /* record offsets seen, bit per 8 bytes of the data area */
    uint64_t keys, live_bytes;
    uint64_t top;      /* end of the runs when the check began */
};

enum { ROLE_NONE, ROLE_FREE, ROLE_LIST };

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
    uint64_t off = slot_off(v), ro = rec_run(db, off);
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
    uint64_t h = hash64(rec_key(r), r->klen, db->seed0, db->seed1);
    if (run->shard != si || shard_of(db, h) != s)
        bad(c, "shard %u: record %#llx belongs to shard %u (run) / %u (hash)", si, (unsigned long long)off,
            run->shard, shard_index(db, shard_of(db, h)));
    if ((h & TAG_MASK) != slot_tag(v))
        bad(c, "shard %u: slot tag %#llx does not match the key's %#llx", si,
            (unsigned long long)slot_tag(v), (unsigned long long)(h & TAG_MASK));
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_relaxed);
    uint64_t b = bucket_for(lay, db->base_bits, h & TAG_MASK);
    struct bucket *home = bucket_at(db, s, b), *bk = home;
    bool in_chain = false;
    for (unsigned n = 0; bk && n < CHAIN_MAX && !in_chain; n++, bk = bucket_next(db, bk))
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
    if (!layout_ok(atomic_load_explicit(&s->layout, memory_order_relaxed), db->base_bits)) {
        bad(c, "shard %u: layout out of range", si);
        return;
    }
    if (index_walk(db, s, check_slot, c))
        bad(c, "shard %u: index walk failed (bad bucket or endless chain)", si);
    bool open_seen = !s->open_run;
    unsigned n = 0;
    uint64_t last = 0;
    for (uint64_t ro = s->runs; ro; ro = run_at(db, ro)->next) {
        bool huge = run_ok(db, ro, RUN_HUGE, s);
        if ((!huge && !run_ok(db, ro, RUN_LOG, s)) || ++n > (1u << 24)) {
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
                if (!run_ok(db, p, RUN_HUGE, s) || p >= c->top || c->role[unit_of(db, p)]) {
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
        if (r->kind != RUN_FREE && r->kind != RUN_NEW && r->shard >= (1u << db->shard_bits))
            bad(c, "run %#llx owned by shard %u of %u", (unsigned long long)off, r->shard, 1u << db->shard_bits);
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

SHMKV_API int shmkv_check(shmkv *db, FILE *report)
{
    if (!db)
        return -EINVAL;
    uint64_t shards = 1ull << db->shard_bits, locked = 0;
    int r = 0;
    if (!db->rdonly) {
        for (; locked < shards; locked++)
            if ((r = shard_lock(db, &db->shards[locked])))
                goto unlock;
        if ((r = alloc_lock(db)))
            goto unlock;
    }
    struct chk c = {.out = report};
    uint64_t top = atomic_load_explicit(&db->hdr->top, memory_order_relaxed);
    if (top < db->data_off)
        top = db->data_off;
    c.top = top;
    c.nunits = (top - db->data_off) >> UNIT_SHIFT;
    c.role = xcalloc(c.nunits + 1, 1);
    c.live = xcalloc(c.nunits + 1, sizeof *c.live);
    c.seen = xcalloc(((top - db->data_off) >> 6) + 1, 1);
    if (!c.role || !c.live || !c.seen) {
        r = -ENOMEM;
    } else {
        check_runs(db, &c);
        for (uint64_t i = 0; i < shards; i++)
            check_shard(db, &db->shards[i], &c);
        r = c.problems ? -EBADMSG : 0;
    }
    free(c.role);
    free(c.live);
    free(c.seen);
    if (!db->rdonly)
        alloc_unlock(db);
unlock:
    while (locked)
        shard_unlock(&db->shards[--locked]);
    return r;
}
