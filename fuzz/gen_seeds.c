/*
 * gen_seeds.c - writes the fuzzers' seed corpora (fuzz/corpus/TARGET), small and
 * deterministic (fixed hash seeds):
 *
 *   fuzz_open/  four real table files of 256 KiB (templates "empty",
 *               "small", "chained", "cache": see fuzz_common.h; the cache's
 *               records carry expiry times), and overlay inputs
 *               ("OVL1" t patches...) aimed at the fields the header's
 *               checksum does not cover: allocator marks and free lists,
 *               dead lock owners with pending journal entries (so repair
 *               runs), shard layouts, bucket directories, run lists,
 *               record headers;
 *   fuzz_ops/   operation programs (see fuzz_ops.c for the encoding):
 *               fills to -ENOSPC, huge and chained values, add/replace,
 *               read-only reopen, get_many, the longest keys; lifetimes
 *               (put_ttl, expire, ttl, advance_clock), clear, and the same
 *               against caches (evictions, the eighth-of-the-table limit).
 *
 * Usage: gen_seeds DIR   (make fuzz-seeds writes fuzz/corpus)
 */
#include "fuzz_common.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

static const char *g_out;

static void emit(const char *target, const char *name, const void *data, size_t len)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", g_out, target);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
}

/* ---- overlays ---- */
struct ovl {
    unsigned char b[4096];
    size_t n;
};

static void ovl_start(struct ovl *o, int t)
{
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

static uint64_t data_off_of(int t)
{
    uint32_t bits = 0;
    for (uint64_t n = fz_template_bytes[t] / (256 * 1024); n > 1; n >>= 1)
        bits++;
    return (sizeof(struct hdr) + (sizeof(struct shard) << bits) + UNIT - 1) & ~(UNIT - 1);
}

static void overlays(void)
{
    struct ovl o;
    const uint32_t died = 0x40000000u;
    char name[64];
    for (int t = 0; t < FZ_TEMPLATES; t++) {
        ovl_start(&o, t);
        snprintf(name, sizeof name, "ovl-%s-untouched", fz_template_names[t]);
        emit("fuzz_open", name, o.b, o.n);
    }
    uint64_t d1 = data_off_of(1), d2 = data_off_of(2), d3 = data_off_of(3);

    ovl_start(&o, 1);
    ovl_u64(&o, HDR(file_size), ~0ull);
    emit("fuzz_open", "ovl-small-file-size-huge", o.b, o.n);

    ovl_start(&o, 1);
    ovl_u64(&o, HDR(top), 0);
    emit("fuzz_open", "ovl-small-top-zero", o.b, o.n);

    ovl_start(&o, 2);
    ovl_u64(&o, HDR(free_head) + 3 * 8, d2 + 12345);
    ovl_u64(&o, HDR(free_head) + 1 * 8, d2);
    emit("fuzz_open", "ovl-chained-free-lists", o.b, o.n);

    ovl_start(&o, 1);
    ovl_u32(&o, HDR(alloc_lock), died);
    ovl_u64(&o, HDR(free_units), 1u << 30);
    emit("fuzz_open", "ovl-small-alloc-owner-died", o.b, o.n);

    ovl_start(&o, 1);
    ovl_u32(&o, HDR(alloc_lock), died);
    ovl_u64(&o, d1 + offsetof(struct run, nunits), 0);
    emit("fuzz_open", "ovl-small-alloc-died-bad-run", o.b, o.n);

    ovl_start(&o, 1);
    ovl_u32(&o, SHARD(0, lock), died);
    ovl_u64(&o, SHARD(0, pending_split), 5);
    emit("fuzz_open", "ovl-small-died-pending-split", o.b, o.n);

    ovl_start(&o, 1);
    ovl_u32(&o, SHARD(0, lock), died);
    ovl_u64(&o, SHARD(0, pending_free), d1 + UNIT);
    emit("fuzz_open", "ovl-small-died-pending-free", o.b, o.n);

    ovl_start(&o, 2);
    ovl_u32(&o, SHARD(0, lock), died);
    ovl_u64(&o, SHARD(0, pending_huge), d2 + 8 * UNIT);
    emit("fuzz_open", "ovl-chained-died-pending-huge", o.b, o.n);

    ovl_start(&o, 3);
    ovl_u32(&o, SHARD(2, lock), died);
    ovl_u64(&o, SHARD(2, layout), 0xffffffffull);
    emit("fuzz_open", "ovl-split-bad-layout", o.b, o.n);

    ovl_start(&o, 3);
    ovl_u64(&o, SHARD(1, dir) + 8, 0x1234);
    emit("fuzz_open", "ovl-split-bad-dir", o.b, o.n);

    ovl_start(&o, 3);
    ovl_u32(&o, SHARD(3, lock), died);
    ovl_u64(&o, SHARD(3, ov_free), d3 + 64);
    ovl_u64(&o, SHARD(3, open_run), 0);
    ovl_u64(&o, SHARD(3, clean_run), d3 + 3);
    emit("fuzz_open", "ovl-split-died-bad-cursors", o.b, o.n);

    ovl_start(&o, 1);
    ovl_u64(&o, SHARD(0, runs), d1 + 8);
    emit("fuzz_open", "ovl-small-bad-run-list", o.b, o.n);

    ovl_start(&o, 2);
    ovl_u32(&o, d2 + 2 * UNIT + RUN_HDR, 0xffffffffu); /* a record header */
    ovl_u64(&o, SHARD(0, epoch), 77);
    emit("fuzz_open", "ovl-chained-bad-record", o.b, o.n);

    ovl_start(&o, 0);
    ovl_u32(&o, SHARD(0, lock), died);
    ovl_u64(&o, SHARD(0, keys), 5);
    ovl_u64(&o, SHARD(0, ov_free), d1);
    emit("fuzz_open", "ovl-empty-died-bad-counts", o.b, o.n);

    ovl_start(&o, 3);
    ovl_u64(&o, d3 + 3 * UNIT + RUN_HDR + 8, 0xdeadbeefcafef00dull); /* a bucket slot */
    emit("fuzz_open", "ovl-split-bad-slot", o.b, o.n);
}

/* ---- raw tables ---- */
static void raw_tables(void)
{
    static const int raw[] = { 0, 1, 2, 4 };
    for (int j = 0; j < 4; j++) {
        int t = raw[j];
        char p[PATH_MAX + 32], name[64];
        snprintf(p, sizeof p, "%s/raw-%d", fz_dir(), t);
        if (fz_build_template(t, p) != 0) {
            fprintf(stderr, "gen_seeds: template %d failed\n", t);
            exit(1);
        }
        FILE *f = fopen(p, "rb");
        static unsigned char img[1u << 20];
        size_t n = f ? fread(img, 1, sizeof img, f) : 0;
        if (f)
            fclose(f);
        snprintf(name, sizeof name, "table-%s", fz_template_names[t]);
        emit("fuzz_open", name, img, n);
        unlink(p);
    }
}

/* ---- operation programs (encoding: fuzz_ops.c) ---- */
enum { PUT, ADD, REPLACE, DEL, GET, GET_ALLOC, GET_MANY, FOREACH, STAT, CHECK, REOPEN, PUT_NULL,
       PUT_TTL, EXPIRE, TTL, CLEAR, ADVANCE };
/* ttl bytes (fuzz_ops.c ttl_of): 0 never, n: (n - 1) minutes + 30 s */
enum { NEVER = 0, T30S = 1, T90S = 2, T150S = 3, T5M = 6, T15M = 16 };

struct prog {
    unsigned char b[8192];
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

static void programs(void)
{
    struct prog p;

    /* basic round trip in each table size */
    for (int t = 0; t < 3; t++) {
        p.n = 0;
        op(&p, 1, t);
        for (int k = 0; k < 6; k++)
            op(&p, 4, PUT, k, 1 + k % 4, 10 * k);
        for (int k = 0; k < 6; k++)
            op(&p, 3, GET, k, 255);
        op(&p, 2, DEL, 2);
        op(&p, 1, FOREACH);
        op(&p, 1, CHECK);
        char name[32];
        snprintf(name, sizeof name, "roundtrip-%d", t);
        emit("fuzz_ops", name, p.b, p.n);
    }

    /* fill a 256 KiB table with huge values until -ENOSPC, delete, refill */
    p.n = 0;
    op(&p, 1, 0);
    for (int r = 0; r < 2; r++) {
        for (int k = 0; k < 18; k++)
            op(&p, 4, PUT, k, 4, 200);
        for (int k = 0; k < 18; k += 2)
            op(&p, 2, DEL, k);
    }
    op(&p, 4, PUT, 7, 5, 9); /* the largest value: chained if fragmented */
    op(&p, 1, CHECK);
    op(&p, 1, FOREACH);
    emit("fuzz_ops", "fill-huge-256k", p.b, p.n);

    /* thresholds */
    p.n = 0;
    op(&p, 1, 1);
    for (int b = 0; b < 10; b++)
        op(&p, 4, PUT, b, 5, b);
    for (int b = 0; b < 10; b++)
        op(&p, 3, GET, b, 1);
    op(&p, 1, STAT);
    emit("fuzz_ops", "size-edges", p.b, p.n);

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
    emit("fuzz_ops", "add-replace", p.b, p.n);

    /* read-only reopen: writes refused, reads fine; back to read-write */
    p.n = 0;
    op(&p, 1, 1);
    op(&p, 4, PUT, 1, 2, 40);
    op(&p, 4, PUT, 2, 4, 40);
    op(&p, 2, REOPEN, 1);
    op(&p, 4, PUT, 3, 1, 1);
    op(&p, 2, DEL, 1);
    op(&p, 3, GET, 2, 255);
    op(&p, 1, FOREACH);
    op(&p, 2, REOPEN, 0);
    op(&p, 2, DEL, 1);
    op(&p, 1, CHECK);
    emit("fuzz_ops", "reopen-rdonly", p.b, p.n);

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
    op(&p, 1, CHECK);
    emit("fuzz_ops", "long-keys", p.b, p.n);

    /* get_many over present, absent and too-long keys */
    p.n = 0;
    op(&p, 1, 2);
    for (int k = 0; k < 12; k++)
        op(&p, 4, PUT, k, k % 5, k * 20);
    op(&p, 2, GET_MANY, 16);
    for (int k = 0; k < 16; k++)
        op(&p, 1, k * 3 % 24);
    emit("fuzz_ops", "get-many", p.b, p.n);

    /* churn: overwrites of one key with growing and shrinking values */
    p.n = 0;
    op(&p, 1, 0);
    for (int r = 0; r < 60; r++)
        op(&p, 4, PUT, r % 3, (r * 7) % 6, r * 13);
    op(&p, 1, CHECK);
    op(&p, 1, STAT);
    emit("fuzz_ops", "churn", p.b, p.n);

    /* many small keys then deletes: splits don't happen at 24 keys, but
     * overflow of buckets by tag does not matter; mixed everything */
    p.n = 0;
    op(&p, 1, 1);
    for (int r = 0; r < 200; r++) {
        int k = (r * 5) % 24;
        op(&p, 4, r % 4 == 3 ? DEL : PUT, k, r % 6, r);
        if (r % 4 == 3)
            p.n -= 2;
        if (r % 25 == 0)
            op(&p, 1, FOREACH);
    }
    op(&p, 1, CHECK);
    emit("fuzz_ops", "mixed", p.b, p.n);

    /* lifetimes in each table size, plain and cache: put_ttl, ttl, the
     * clock moved past some expiry times, reads, expire (new lifetime,
     * none, of an expired key), a put clearing an expiry, writes meeting
     * expired records */
    for (int t = 0; t < 6; t++) {
        p.n = 0;
        op(&p, 1, t);
        for (int k = 0; k < 8; k++)
            op(&p, 5, PUT_TTL, k, 1 + k % 4, 10 * k, k % 4 == 0 ? NEVER : k % 4 == 1 ? T30S : k % 4 == 2 ? T90S : T5M);
        for (int k = 0; k < 8; k++)
            op(&p, 2, TTL, k);
        op(&p, 1, STAT);
        op(&p, 2, ADVANCE, 1); /* 1 minute: the 30 s ones expire */
        for (int k = 0; k < 8; k++)
            op(&p, 3, GET, k, 255);
        op(&p, 2, TTL, 1);
        op(&p, 1, FOREACH);
        op(&p, 1, STAT);
        op(&p, 3, EXPIRE, 2, T5M);  /* 90 s -> 5.5 min */
        op(&p, 3, EXPIRE, 1, T5M);  /* expired: -ENOENT */
        op(&p, 3, EXPIRE, 3, NEVER);
        op(&p, 4, PUT, 6, 1, 3);    /* clears key 6's expiry */
        op(&p, 2, ADVANCE, 2);
        for (int k = 0; k < 8; k++)
            op(&p, 2, TTL, k);
        op(&p, 4, ADD, 5, 2, 9);    /* key 5 (30 s) expired: add succeeds */
        op(&p, 4, REPLACE, 1, 2, 9); /* expired: -ENOENT */
        op(&p, 2, DEL, 2);
        op(&p, 1, FOREACH);
        op(&p, 2, ADVANCE, 15);
        op(&p, 1, STAT);
        op(&p, 1, CHECK);
        char name[32];
        snprintf(name, sizeof name, "ttl-%s-%d", t < 3 ? "table" : "cache", t % 3);
        emit("fuzz_ops", name, p.b, p.n);
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
    emit("fuzz_ops", "ttl-rdonly", p.b, p.n);

    /* clear: of a full table, then refill; clear of an empty one */
    p.n = 0;
    op(&p, 1, 0);
    for (int k = 0; k < 18; k++)
        op(&p, 4, PUT, k, 4, 200);
    op(&p, 1, CLEAR);
    op(&p, 1, STAT);
    op(&p, 1, CHECK);
    for (int k = 0; k < 10; k++)
        op(&p, 5, PUT_TTL, k, 3, 100, k % 3 ? T90S : NEVER);
    op(&p, 2, ADVANCE, 2);
    op(&p, 1, CLEAR);
    op(&p, 1, CLEAR);
    op(&p, 4, PUT, 0, 1, 1);
    op(&p, 1, FOREACH);
    op(&p, 1, CHECK);
    emit("fuzz_ops", "clear", p.b, p.n);

    /* caches: fill far past the limit (evictions), reads in between so
     * read counts matter, pairs near and over an eighth of the table */
    for (int t = 3; t < 6; t++) {
        p.n = 0;
        op(&p, 1, t);
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 19; k++) {
                op(&p, 4, PUT, k, 4, 40 + 50 * r);
                if (k % 3 == 0)
                    op(&p, 3, GET, k / 2, 255);
            }
            op(&p, 1, FOREACH);
            op(&p, 1, STAT);
        }
        op(&p, 4, PUT, 7, 5, 9);   /* 100 KiB: over an eighth of 256 KiB */
        op(&p, 4, PUT, 8, 3, 250); /* about 32 KiB: near an eighth of 256 KiB */
        op(&p, 5, PUT_TTL, 9, 4, 255, T90S);
        op(&p, 2, ADVANCE, 2);
        op(&p, 2, GET_MANY, 19);
        for (int k = 0; k < 19; k++)
            op(&p, 1, k);
        op(&p, 1, CHECK);
        char name[32];
        snprintf(name, sizeof name, "cache-evict-%d", t - 3);
        emit("fuzz_ops", name, p.b, p.n);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    mkdir(g_out, 0755);
    raw_tables();
    overlays();
    programs();
    return 0;
}
