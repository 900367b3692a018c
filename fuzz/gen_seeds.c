/*
 * gen_seeds.c - writes the fuzzers' seed corpora (fuzz/corpus/TARGET),
 * small and deterministic (fixed hash seeds, lock identities cleared):
 *
 *   fuzz_open/  four real format-3 table files of 256 KiB (templates
 *               "small", "chained", "split", "cache": see fuzz_common.c;
 *               the cache's records carry expiry times), and overlay
 *               inputs ("OVL1" t patches...) aimed at what the header's
 *               checksum does not cover: allocator marks and free lists,
 *               shard layouts, bucket directories, run lists, deferred
 *               runs, record headers, and the locks: holders gone (a tid
 *               that no thread has), alive (pid 1), stopped or of another
 *               PID namespace, this very thread (fuzz_open.c's stand-ins)
 *               with its identity or with another boot's or start time,
 *               odd gens, waiter bits, words naming nobody; most with
 *               journal entries left half done, so repair runs;
 *   fuzz_ops/   operation programs (see fuzz_ops.c for the encoding), each
 *               a few dozen operations: fills to -ENOSPC, huge and chained
 *               values, add/replace, read-only reopen, get_many, the
 *               longest keys; lifetimes (put_ttl, expire, ttl, the clock
 *               moved) with the hostile ones (1 ms, SHMKV_TTL_MAX and
 *               beyond), clear, check through both handles, repair; the
 *               same against caches (evictions, the eighth-of-the-table
 *               limit).
 *
 * Usage: gen_seeds CORPUS_DIR [REGRESSIONS_DIR]
 *   (make fuzz-seeds writes fuzz/corpus; with a second directory it also
 *   writes the crafted regression inputs, fuzz/regressions/fuzz_open/f3-*,
 *   format-3 versions of inputs that once broke the library)
 */
#include "fuzz_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void emit(const char *dir, const char *target, const char *name, const void *data, size_t len)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, target);
    mkdir(dir, 0755);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", dir, target, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
}

/* ---- overlays ---- */

static unsigned char *tpl[FZ_TEMPLATES];
static size_t tpl_len[FZ_TEMPLATES];

struct ovl {
    unsigned char b[4096];
    size_t n;
};

static void ovl_start(struct ovl *o, int t)
{
    memset(o->b, 0, sizeof o->b);
    memcpy(o->b, "OVL1", 4);
    o->b[4] = (unsigned char)t;
    o->n = 5;
}

static void ovl_patch(struct ovl *o, uint64_t off, const void *data, size_t len)
{
    uint32_t off32 = (uint32_t)off;
    memcpy(o->b + o->n, &off32, 4);
    o->b[o->n + 4] = (unsigned char)len;
    memcpy(o->b + o->n + 5, data, len);
    o->n += 5 + len;
}

static void ovl_u64(struct ovl *o, uint64_t off, uint64_t v) { ovl_patch(o, off, &v, 8); }
static void ovl_u32(struct ovl *o, uint64_t off, uint32_t v) { ovl_patch(o, off, &v, 4); }

#define HDR(f) offsetof(struct hdr, f)
#define SHARD(i, f) (sizeof(struct hdr) + (uint64_t)(i) * sizeof(struct shard) + offsetof(struct shard, f))
#define LOCK(at, f) ((at) + offsetof(struct lock, f))

/* A lock's word and identity, written whole. */
static void ovl_lock(struct ovl *o, uint64_t at, uint32_t word, uint32_t boot, uint64_t owner, uint64_t start)
{
    ovl_u32(o, LOCK(at, word), word);
    ovl_u32(o, LOCK(at, boot), boot);
    ovl_u64(o, LOCK(at, owner), owner);
    ovl_u64(o, LOCK(at, start), start);
}

/* A field of template t's image. */
static uint64_t tpl_u64(int t, uint64_t off)
{
    uint64_t v;
    memcpy(&v, tpl[t] + off, 8);
    return v;
}

static uint64_t data_off_of(int t) { return tpl_u64(t, HDR(data_off)); }

/* The offset of the record of key "k<i>" (no expiry) in template t. */
static uint64_t record_of(int t, int i)
{
    char k[32];
    size_t kl = fz_key(k, i);
    for (uint64_t p = data_off_of(t); p + sizeof(struct rec) + kl <= tpl_len[t]; p += 8) {
        struct rec r;
        memcpy(&r, tpl[t] + p, sizeof r);
        if (r.klen == kl && !(r.dist & REC_EXT) && memcmp(tpl[t] + p + sizeof r, k, kl) == 0)
            return p;
    }
    fprintf(stderr, "gen_seeds: no record of %s in template %d\n", k, t);
    exit(1);
}

static void emit_ovl(const char *dir, const char *name, const struct ovl *o)
{
    emit(dir, "fuzz_open", name, o->b, o->n);
}

/* Damaged locks, each with something for the repair that follows. */
static void lock_overlays(const char *dir)
{
    struct ovl o;
    const uint64_t l0 = SHARD(0, lock), la = HDR(alloc_lock), d1 = data_off_of(1);
    const uint64_t self = (uint64_t)FZ_SELF_NS << 32 | FZ_SELF_TID;

    /* gone holders: no such thread; with a split or a release half done */
    ovl_start(&o, 1);
    ovl_lock(&o, l0, FZ_GONE_TID, 0, 0, 0);
    ovl_u64(&o, SHARD(0, pending_split), 5);
    emit_ovl(dir, "lock-gone-pending-split", &o);

    ovl_start(&o, 2);
    ovl_lock(&o, l0, FZ_GONE_TID | LOCK_WAITERS, 0x1234, FZ_GONE_TID, 777);
    ovl_u64(&o, SHARD(0, pending_huge), data_off_of(2) + 8 * UNIT);
    emit_ovl(dir, "lock-gone-waiters-pending-huge", &o);

    ovl_start(&o, 1);
    ovl_lock(&o, la, FZ_GONE_TID, 0, 0, 0);
    ovl_u64(&o, HDR(free_units), 1u << 30);
    emit_ovl(dir, "lock-alloc-gone-bad-free-units", &o);

    ovl_start(&o, 1);
    ovl_lock(&o, la, FZ_GONE_TID, 0, 0, 0);
    ovl_u64(&o, d1 + offsetof(struct run, nunits), 0);
    emit_ovl(dir, "lock-alloc-gone-bad-run", &o);

    /* a word naming nobody (tid 0, only the waiters bit) */
    ovl_start(&o, 0);
    ovl_lock(&o, l0, LOCK_WAITERS, 0, 0, 0);
    ovl_u64(&o, SHARD(0, keys), 5);
    ovl_u64(&o, SHARD(0, ov_free), data_off_of(0));
    emit_ovl(dir, "lock-nobody-bad-counts", &o);

    /* a holder of another boot (a disk table after a power cut) */
    ovl_start(&o, 0);
    ovl_lock(&o, SHARD(2, lock), 4242, 0xb007b007, 4242, 99);
    ovl_u64(&o, SHARD(2, layout), 0xffffffffull);
    emit_ovl(dir, "lock-other-boot-bad-layout", &o);

    /* alive (pid 1: waited for, then -ETIMEDOUT) and in another PID
     * namespace (never taken over) */
    ovl_start(&o, 1);
    ovl_lock(&o, l0, 1, 0, 0, 0);
    emit_ovl(dir, "lock-alive-init", &o);

    ovl_start(&o, 4);
    ovl_lock(&o, l0, FZ_GONE_TID, 0, (uint64_t)0x51515151 << 32 | FZ_GONE_TID, 5);
    emit_ovl(dir, "lock-other-pid-namespace", &o);

    /* this thread's own lock (-EDEADLK), and locks naming this thread's
     * id for another holder: of another boot, or an earlier thread with
     * the id (another start time); both must be taken over */
    ovl_start(&o, 1);
    ovl_lock(&o, l0, FZ_SELF_TID, FZ_SELF_BOOT, self, FZ_SELF_START);
    emit_ovl(dir, "lock-self", &o);

    ovl_start(&o, 1);
    ovl_lock(&o, l0, FZ_SELF_TID, 0xb007b007, self, FZ_SELF_START);
    ovl_u64(&o, SHARD(0, pending_free), tpl_u64(1, SHARD(0, runs)));
    emit_ovl(dir, "lock-self-other-boot", &o);

    ovl_start(&o, 2);
    ovl_lock(&o, la, FZ_SELF_TID | LOCK_WAITERS, FZ_SELF_BOOT, self, 12345);
    emit_ovl(dir, "lock-alloc-self-reused-tid", &o);

    /* odd gens: a holder that was inside when the image was taken; a
     * read-only check waits for it, then says it could not check */
    ovl_start(&o, 0);
    ovl_u64(&o, LOCK(SHARD(1, lock), gen), 7);
    ovl_u64(&o, LOCK(la, gen), 3);
    emit_ovl(dir, "lock-odd-gens", &o);

    /* a deferred run that is also on the run list */
    ovl_start(&o, 1);
    uint64_t run = tpl_u64(1, SHARD(0, runs));
    ovl_u32(&o, run + offsetof(struct run, kind), RUN_DEFER);
    ovl_u64(&o, SHARD(0, deferred), run);
    emit_ovl(dir, "deferred-listed-run", &o);
}

static void overlays(const char *dir)
{
    struct ovl o;
    char name[64];
    for (int t = 0; t < FZ_TEMPLATES; t++) {
        ovl_start(&o, t);
        snprintf(name, sizeof name, "ovl-%s-untouched", fz_template_names[t]);
        emit_ovl(dir, name, &o);
        o.n += 2; /* a length of 3 mod 4: the writer clears the table too */
        snprintf(name, sizeof name, "ovl-%s-cleared", fz_template_names[t]);
        emit_ovl(dir, name, &o);
    }
    uint64_t d2 = data_off_of(2), d3 = data_off_of(3);

    ovl_start(&o, 1);
    ovl_u64(&o, HDR(file_size), ~0ull);
    emit_ovl(dir, "ovl-small-file-size-huge", &o);

    ovl_start(&o, 1);
    ovl_u64(&o, HDR(top), 0);
    emit_ovl(dir, "ovl-small-top-zero", &o);

    ovl_start(&o, 2);
    ovl_u64(&o, HDR(free_head) + 3 * 8, d2 + 12345);
    ovl_u64(&o, HDR(free_head) + 1 * 8, d2);
    emit_ovl(dir, "ovl-chained-free-lists", &o);

    ovl_start(&o, 3);
    ovl_u64(&o, SHARD(0, dir) + 8, 0x1234); /* the second bucket chunk */
    emit_ovl(dir, "ovl-split-bad-dir", &o);

    ovl_start(&o, 3);
    ovl_lock(&o, SHARD(0, lock), FZ_GONE_TID, 0, 0, 0);
    ovl_u64(&o, SHARD(0, ov_free), d3 + 64);
    ovl_u64(&o, SHARD(0, open_run), 0);
    ovl_u64(&o, SHARD(0, clean_run), d3 + 3);
    emit_ovl(dir, "ovl-split-gone-bad-cursors", &o);

    ovl_start(&o, 0); /* the last shard of four, its first bucket chunk */
    ovl_u64(&o, SHARD(3, dir), data_off_of(0) + 5);
    ovl_u64(&o, SHARD(3, keys), ~0ull);
    emit_ovl(dir, "ovl-empty-shard3-bad-dir", &o);

    ovl_start(&o, 1);
    ovl_u64(&o, SHARD(0, runs), data_off_of(1) + 8);
    emit_ovl(dir, "ovl-small-bad-run-list", &o);

    ovl_start(&o, 2);
    ovl_u32(&o, record_of(2, 7), 0xffffffffu); /* a record header */
    ovl_u64(&o, SHARD(0, epoch), 77);
    emit_ovl(dir, "ovl-chained-bad-record", &o);

    ovl_start(&o, 3);
    ovl_u64(&o, d3 + RUN_HDR + 8, 0xdeadbeefcafef00dull); /* bucket 0's first slot */
    emit_ovl(dir, "ovl-split-bad-slot", &o);

    ovl_start(&o, 4);
    ovl_u64(&o, HDR(boot_id), 0x1234); /* another boot: the clock is rebased */
    ovl_u64(&o, HDR(clock_hw), ~0ull >> 1);
    emit_ovl(dir, "ovl-cache-other-boot-clock", &o);

    lock_overlays(dir);
}

/* Format-3 versions of the regression inputs of formats 1 and 2, which
 * patched offsets that now hold other fields (fuzz/regressions/README). */
static void regressions(const char *dir)
{
    struct ovl o;
    const uint64_t d1 = data_off_of(1);
    const char *r = "fuzz_open";

    ovl_start(&o, 1); /* the runs' end lowered under live records */
    ovl_patch(&o, HDR(top), (const unsigned char[2]){ 0, 0 }, 2);
    emit(dir, r, "f3-check-record-past-top", o.b, o.n);

    ovl_start(&o, 1); /* a record whose key is 0 bytes long */
    ovl_patch(&o, record_of(1, 4), (const unsigned char[2]){ 0, 0 }, 2);
    emit(dir, r, "f3-check-zero-length-key", o.b, o.n);

    ovl_start(&o, 1); /* repair after a gone holder: a misaligned release */
    ovl_lock(&o, SHARD(0, lock), FZ_GONE_TID, 0, 0, 0);
    ovl_u64(&o, SHARD(0, pending_free), d1 + 10);
    emit(dir, r, "f3-repair-misaligned-pending-free", o.b, o.n);

    ovl_start(&o, 1); /* ... a misaligned new log run and run list */
    ovl_lock(&o, SHARD(0, lock), FZ_GONE_TID, 0, 0, 0);
    ovl_u64(&o, SHARD(0, pending_log), d1 + 0x1234);
    ovl_u64(&o, tpl_u64(1, SHARD(0, runs)) + offsetof(struct run, next), d1 + 0x4c2);
    emit(dir, r, "f3-repair-misaligned-pending-log-list", o.b, o.n);

    ovl_start(&o, 1); /* writers unlinking runs from a misaligned list */
    ovl_u64(&o, SHARD(0, runs), d1 + 0xc2);
    emit(dir, r, "f3-unlink-misaligned-run-list", o.b, o.n);
}

/* ---- raw tables ---- */
static void raw_tables(const char *dir)
{
    static const int raw[] = { 1, 2, 3, 4 };
    for (int j = 0; j < 4; j++) {
        char name[64];
        snprintf(name, sizeof name, "table-%s", fz_template_names[raw[j]]);
        emit(dir, "fuzz_open", name, tpl[raw[j]], tpl_len[raw[j]]);
    }
}

/* ---- operation programs (encoding: fuzz_ops.c) ---- */
enum { PUT, ADD, REPLACE, DEL, GET, GET_ALLOC, GET_MANY, FOREACH, STAT, CHECK, REOPEN, PUT_NULL,
       PUT_TTL, EXPIRE, TTL, CLEAR, ADVANCE, REPAIR, PUT_MANY = REPAIR + 1 + 7 /* after the 7 list opcodes */,
       INCR };
/* incr delta bytes (fuzz_ops.c do_incr): b < 240: b % 21 - 10; then the ends of int64 */
#define DELTA(d) ((d) + 10)
enum { D_MAX = 240, D_MIN };
/* ttl bytes (fuzz_ops.c ttl_of): 0 never, n < 238: (n - 1) minutes + 30 s;
 * then 1 ms, 999 ms, SHMKV_TTL_MAX, one less, one more, 2^63, UINT64_MAX */
enum { NEVER = 0, T30S = 1, T90S = 2, T150S = 3, T5M = 6, T15M = 16,
       T1MS = 238, T999MS, TMAX, TMAX_LESS, TMAX_MORE, T2_63, TU64 };
/* advance bytes: n < 240: n % 16 minutes; 240 + k: (k + 1) * 2^42 ms */
enum { YEARS_139 = 240 };

struct prog {
    unsigned char b[1024];
    size_t n;
};

static void op(struct prog *p, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        p->b[p->n++] = (unsigned char)va_arg(ap, int);
    va_end(ap);
}

static void prog_emit(const char *dir, const struct prog *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void prog_emit(const char *dir, const struct prog *p, const char *fmt, ...)
{
    char name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    emit(dir, "fuzz_ops", name, p->b, p->n);
}

static void programs(const char *dir)
{
    struct prog p;

    /* basic round trip in each table */
    for (int t = 0; t < 6; t++) {
        p.n = 0;
        op(&p, 1, t);
        for (int k = 0; k < 6; k++)
            op(&p, 4, PUT, k, 1 + k % 4, 10 * k);
        for (int k = 0; k < 6; k++)
            op(&p, 3, GET, k, 255);
        op(&p, 2, DEL, 2);
        op(&p, 1, FOREACH);
        op(&p, 2, CHECK, t & 1);
        prog_emit(dir, &p, "roundtrip-%d", t);
    }

    /* fill a 256 KiB table with huge values until -ENOSPC, delete, refill */
    p.n = 0;
    op(&p, 1, 0);
    for (int r = 0; r < 2; r++) {
        for (int k = 0; k < 12; k++)
            op(&p, 4, PUT, k, 4, 200);
        for (int k = 0; k < 12; k += 2)
            op(&p, 2, DEL, k);
    }
    op(&p, 4, PUT, 7, 5, 9); /* the largest value: chained if fragmented */
    op(&p, 2, CHECK, 0);
    op(&p, 1, REPAIR);
    op(&p, 1, FOREACH);
    prog_emit(dir, &p, "fill-huge-256k");

    /* thresholds */
    p.n = 0;
    op(&p, 1, 1);
    for (int b = 0; b < 10; b++)
        op(&p, 4, PUT, b, 5, b);
    for (int b = 0; b < 10; b++)
        op(&p, 3, GET, b, 1);
    op(&p, 1, STAT);
    prog_emit(dir, &p, "size-edges");

    /* add / replace semantics */
    p.n = 0;
    op(&p, 1, 0);
    op(&p, 4, ADD, 3, 1, 5);
    op(&p, 4, ADD, 3, 2, 5);
    op(&p, 4, REPLACE, 4, 1, 5);
    op(&p, 4, REPLACE, 3, 3, 7);
    op(&p, 2, DEL, 3);
    op(&p, 4, REPLACE, 3, 1, 1);
    op(&p, 2, PUT_NULL, 5);
    op(&p, 3, GET, 5, 0);
    op(&p, 1, FOREACH);
    prog_emit(dir, &p, "add-replace");

    /* incr: counters made, rewritten in place (9 -> 10 and 10 -> 9 change
     * the length), with a lifetime kept, on text that is not a number, past
     * the ends of int64, read-only; in a store and in a cache */
    for (int t = 0; t < 4; t += 3) {
        p.n = 0;
        op(&p, 1, t);
        op(&p, 4, INCR, 0, DELTA(9), 0);
        for (int j = 0; j < 4; j++)
            op(&p, 4, INCR, 0, DELTA(1), 0);
        op(&p, 4, INCR, 0, DELTA(-5), 0);
        op(&p, 3, GET, 0, 255);
        op(&p, 5, INCR, 1, DELTA(-3), 1, T5M);
        op(&p, 5, INCR, 1, DELTA(2), 1, T15M);
        op(&p, 2, TTL, 1);
        op(&p, 4, PUT, 2, 1, 5);
        op(&p, 4, INCR, 2, DELTA(1), 0);
        op(&p, 4, INCR, 3, D_MAX, 0);
        op(&p, 4, INCR, 3, DELTA(1), 0);
        op(&p, 4, INCR, 4, D_MIN, 0);
        op(&p, 4, INCR, 4, DELTA(-1), 0);
        op(&p, 2, ADVANCE, 6);
        op(&p, 4, INCR, 1, DELTA(1), 0);
        op(&p, 1, FOREACH);
        op(&p, 2, CHECK, 0);
        op(&p, 2, REOPEN, 1);
        op(&p, 4, INCR, 0, DELTA(1), 0);
        op(&p, 3, GET, 0, 255);
        prog_emit(dir, &p, "incr-%s", t ? "cache" : "store");
    }

    /* put_many: a key twice in one batch (the later wins), lifetimes, a
     * key too long; then a batch of huge values until -ENOSPC (in the
     * store) or eviction (in the cache) */
    for (int t = 0; t < 4; t += 3) {
        p.n = 0;
        op(&p, 1, t);
        op(&p, 2, PUT_MANY, 8);
        for (int k = 0; k < 8; k++) {
            op(&p, 4, k % 6 == 5 ? 3 : k % 6, 1 + k % 3, 10 * k, k & 1);
            if (k & 1)
                op(&p, 1, T5M);
        }
        op(&p, 2, PUT_MANY, 1);
        op(&p, 4, 23, 1, 1, 0); /* the 65536-byte key: -E2BIG */
        op(&p, 1, FOREACH);
        op(&p, 2, PUT_MANY, 12);
        for (int k = 0; k < 12; k++)
            op(&p, 4, k, 4, 200, 0);
        op(&p, 2, ADVANCE, 6);
        op(&p, 1, STAT);
        op(&p, 2, CHECK, 1);
        prog_emit(dir, &p, "put-many-%d", t);
    }

    /* read-only reopen: writes, clear and repair refused, reads and check
     * fine; back to read-write */
    p.n = 0;
    op(&p, 1, 1);
    op(&p, 4, PUT, 1, 2, 40);
    op(&p, 4, PUT, 2, 4, 40);
    op(&p, 2, REOPEN, 1);
    op(&p, 4, PUT, 3, 1, 1);
    op(&p, 2, DEL, 1);
    op(&p, 1, REPAIR);
    op(&p, 1, CLEAR);
    op(&p, 3, GET, 2, 255);
    op(&p, 2, CHECK, 0);
    op(&p, 1, FOREACH);
    op(&p, 2, REOPEN, 0);
    op(&p, 2, DEL, 1);
    op(&p, 2, CHECK, 1);
    prog_emit(dir, &p, "reopen-rdonly");

    /* long keys: 1 byte, 300, 2000, the longest, one too long */
    p.n = 0;
    op(&p, 1, 0);
    for (int k = 19; k < 24; k++) {
        op(&p, 4, PUT, k, 2, 30);
        op(&p, 3, GET, k, 255);
        op(&p, 2, GET_ALLOC, k);
    }
    op(&p, 4, PUT, 22, 4, 255);
    op(&p, 2, DEL, 21);
    op(&p, 2, CHECK, 0);
    prog_emit(dir, &p, "long-keys");

    /* get_many over present, absent and too-long keys */
    p.n = 0;
    op(&p, 1, 2);
    for (int k = 0; k < 12; k++)
        op(&p, 4, PUT, k, k % 5, k * 20);
    op(&p, 2, GET_MANY, 16);
    for (int k = 0; k < 16; k++)
        op(&p, 1, k * 3 % 24);
    prog_emit(dir, &p, "get-many");

    /* churn: overwrites of a few keys with growing and shrinking values */
    p.n = 0;
    op(&p, 1, 0);
    for (int r = 0; r < 30; r++)
        op(&p, 4, PUT, r % 3, (r * 7) % 6, r * 13);
    op(&p, 2, CHECK, 1);
    op(&p, 1, STAT);
    prog_emit(dir, &p, "churn");

    /* mixed writes and deletes over every key, foreach now and then */
    p.n = 0;
    op(&p, 1, 2);
    for (int r = 0; r < 48; r++) {
        int k = (r * 5) % 24;
        if (r % 4 == 3)
            op(&p, 2, DEL, k);
        else
            op(&p, 4, PUT, k, r % 5, r);
        if (r % 16 == 0)
            op(&p, 1, FOREACH);
    }
    op(&p, 1, REPAIR);
    op(&p, 2, CHECK, 0);
    prog_emit(dir, &p, "mixed");

    /* lifetimes in each table, plain and cache: put_ttl, ttl, the clock
     * moved past some expiry times, reads, expire (new lifetime, none, of
     * an expired key), a put clearing an expiry, writes meeting expired
     * records */
    for (int t = 0; t < 6; t++) {
        p.n = 0;
        op(&p, 1, t);
        for (int k = 0; k < 6; k++)
            op(&p, 5, PUT_TTL, k, 1 + k % 4, 10 * k, k % 4 == 0 ? NEVER : k % 4 == 1 ? T30S : k % 4 == 2 ? T90S : T5M);
        op(&p, 2, TTL, 2);
        op(&p, 2, ADVANCE, 1); /* 1 minute: the 30 s ones expire */
        for (int k = 0; k < 6; k++)
            op(&p, 3, GET, k, 255);
        op(&p, 1, STAT);
        op(&p, 3, EXPIRE, 2, T5M);  /* 90 s -> 5.5 min */
        op(&p, 3, EXPIRE, 1, T5M);  /* expired: -ENOENT */
        op(&p, 3, EXPIRE, 3, NEVER);
        op(&p, 4, PUT, 4, 1, 3);    /* clears key 4's expiry */
        op(&p, 2, ADVANCE, 2);
        op(&p, 4, ADD, 5, 2, 9);    /* key 5 (30 s) expired: add succeeds */
        op(&p, 4, REPLACE, 1, 2, 9); /* expired: -ENOENT */
        op(&p, 2, DEL, 2);
        op(&p, 1, FOREACH);
        op(&p, 2, ADVANCE, 15);
        op(&p, 1, STAT);
        op(&p, 2, CHECK, t & 1);
        prog_emit(dir, &p, "ttl-%s-%d", t < 3 ? "table" : "cache", t % 3);
    }

    /* hostile lifetimes: 1 ms and 999 ms (expired or not, the table may say
     * either until the clock moves), SHMKV_TTL_MAX and one less (then the
     * clock moved by 2^42 ms at a time, and minutes, past them), one more,
     * 2^63 and UINT64_MAX (-EINVAL) */
    for (int t = 0; t < 6; t += 3) {
        p.n = 0;
        op(&p, 1, t);
        op(&p, 5, PUT_TTL, 0, 1, 5, T1MS);
        op(&p, 5, PUT_TTL, 1, 2, 5, T999MS);
        op(&p, 5, PUT_TTL, 2, 1, 5, TMAX);
        op(&p, 5, PUT_TTL, 3, 1, 5, TMAX_LESS);
        op(&p, 5, PUT_TTL, 4, 1, 5, TMAX_MORE);
        op(&p, 5, PUT_TTL, 5, 1, 5, TU64);
        op(&p, 4, PUT, 6, 1, 5);
        op(&p, 3, EXPIRE, 6, T2_63);
        op(&p, 3, EXPIRE, 6, TMAX);
        op(&p, 3, GET, 0, 255);
        op(&p, 2, TTL, 1);
        op(&p, 2, TTL, 2);
        op(&p, 6, GET_MANY, 4, 0, 1, 2, 3);
        op(&p, 1, STAT);
        op(&p, 2, ADVANCE, YEARS_139 + 14); /* 15 * 2^42 ms */
        op(&p, 2, TTL, 2);
        op(&p, 1, FOREACH);
        op(&p, 2, ADVANCE, YEARS_139); /* 2^46 ms less about 3 minutes in all */
        op(&p, 2, TTL, 2);
        op(&p, 2, ADVANCE, 4);
        op(&p, 2, TTL, 2);
        op(&p, 4, ADD, 3, 1, 6);
        op(&p, 1, REPAIR);
        op(&p, 1, FOREACH);
        op(&p, 2, CHECK, 0);
        prog_emit(dir, &p, "ttl-hostile-%s", t ? "cache" : "table");
    }

    /* expiry and a read-only handle: ttl works, expire and clear do not */
    p.n = 0;
    op(&p, 1, 1);
    op(&p, 5, PUT_TTL, 4, 2, 50, T150S);
    op(&p, 5, PUT_TTL, 5, 2, 50, T15M);
    op(&p, 2, REOPEN, 1);
    op(&p, 2, TTL, 4);
    op(&p, 3, EXPIRE, 4, NEVER);
    op(&p, 1, CLEAR);
    op(&p, 5, PUT_TTL, 6, 1, 1, T30S);
    op(&p, 2, ADVANCE, 3);
    op(&p, 2, TTL, 4);
    op(&p, 2, TTL, 5);
    op(&p, 2, REOPEN, 0);
    op(&p, 3, EXPIRE, 5, T30S);
    op(&p, 2, ADVANCE, 1);
    op(&p, 1, FOREACH);
    prog_emit(dir, &p, "ttl-rdonly");

    /* clear: of a full table, then refill; clear of an empty one */
    p.n = 0;
    op(&p, 1, 0);
    for (int k = 0; k < 8; k++)
        op(&p, 4, PUT, k, 4, 200);
    op(&p, 1, CLEAR);
    op(&p, 1, STAT);
    op(&p, 2, CHECK, 1);
    for (int k = 0; k < 6; k++)
        op(&p, 5, PUT_TTL, k, 3, 100, k % 3 ? T90S : NEVER);
    op(&p, 2, ADVANCE, 2);
    op(&p, 1, CLEAR);
    op(&p, 1, CLEAR);
    op(&p, 4, PUT, 0, 1, 1);
    op(&p, 1, REPAIR);
    op(&p, 1, FOREACH);
    prog_emit(dir, &p, "clear");

    /* caches: fill past the limit (evictions: twice the 256 KiB one with
     * 26 KiB values, the 1 MiB one with 56 KiB ones; writing 8 MiB for the
     * largest would cost more than it finds), reads in between so read
     * counts matter, pairs near and over an eighth of the table */
    for (int t = 3; t < 6; t++) {
        p.n = 0;
        op(&p, 1, t);
        for (int k = 0; k < (t == 5 ? 6 : 19); k++) {
            op(&p, 4, PUT, k, t == 3 ? 3 : 4, t == 3 ? 200 : 90);
            if (k % 3 == 0)
                op(&p, 3, GET, k / 2, 255);
        }
        op(&p, 1, STAT);
        op(&p, 4, PUT, 7, 5, 9);   /* 100 KiB: over an eighth of 256 KiB */
        op(&p, 4, PUT, 8, 3, 250); /* about 32 KiB: near an eighth of 256 KiB */
        op(&p, 5, PUT_TTL, 9, 4, 255, T90S);
        op(&p, 2, ADVANCE, 2);
        op(&p, 2, GET_MANY, 19);
        for (int k = 0; k < 19; k++)
            op(&p, 1, k);
        op(&p, 1, REPAIR);
        op(&p, 2, CHECK, 1);
        prog_emit(dir, &p, "cache-evict-%d", t - 3);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR [REGRESSIONS_DIR]\n", argv[0]);
        return 2;
    }
    for (int t = 0; t < FZ_TEMPLATES; t++)
        tpl[t] = fz_template(t, &tpl_len[t]);
    raw_tables(argv[1]);
    overlays(argv[1]);
    programs(argv[1]);
    if (argc == 3)
        regressions(argv[2]);
    return 0;
}
