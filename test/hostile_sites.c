/*
 * hostile_sites.c - every field test_hostile damages, and the values it
 * writes there (see hostile.h).
 *
 * A site is one field of one structure of src/format.h in the built table:
 * the header, shard S, two buckets and a free overflow bucket, four slots
 * and their records (plain, with a lifetime, huge, chained), and the run
 * headers of every kind of run.  Each kind of field has its list of
 * hostile values: 0, 1, all ones, the top bit, one more or less; offsets
 * at the file's size, past it, its last word, misaligned, into the header
 * or the shard array, at a structure of another kind (or another shard's)
 * and back at the structure itself (a cycle); run kinds; lock words naming
 * the caller, a live process, a dead one.
 *
 * What shmkv_repair must make of it: locks, counters, journal fields, free
 * lists, the run list's tail and leaked runs it repairs without losing a
 * pair (HR_FIX), unless the value is one the field can hold in a sound
 * table (a journal naming a run of the right kind: repair then finishes
 * that "interrupted" step as it must); everything else may be reported.
 */
#include "hostile.h"

#include "format.h"

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum hval {
    HV_ZERO, HV_ONE, HV_ONES, HV_HIGH, HV_INC, HV_DEC, HV_FSZ, HV_PAST, HV_END, HV_MIS1, HV_MIS8, HV_HDR,
    HV_SHARDS, HV_WRONG0, HV_WRONG1, HV_WRONG2, HV_SELF, HV_TID_SELF, HV_TID_LIVE, HV_TID_GONE, HV_K_FREE,
    HV_K_LOG, HV_K_HUGE, HV_K_INDEX, HV_K_NEW, HV_K_DEFER, HV_K_ODD, HV_LEVEL, HV_EXT, HV_CHAIN, HV_LEAK,
    HV_N
};

static const char *const hv_names[HV_N] = {
    "0", "1", "all-ones", "top-bit", "+1", "-1", "file-size", "past-end", "last-word", "misaligned+1",
    "misaligned+8", "into-header", "into-shards", "wrong0", "wrong1", "wrong2", "self", "tid-of-caller",
    "tid-live(1)", "tid-dead", "FREE", "LOG!", "HUGE", "INDX", "NEW!", "DEFR", "unknown-kind", "level+1",
    "flip-EXT", "flip-CHAIN", "leaked-run",
};

#define L(...) {__VA_ARGS__, -1}
static const int class_values[HC_CLASSES][HVALS_MAX] = {
    [HC_OFF] = L(HV_ZERO, HV_ONE, HV_ONES, HV_FSZ, HV_PAST, HV_END, HV_MIS1, HV_MIS8, HV_HDR, HV_SHARDS,
                 HV_WRONG0, HV_WRONG1, HV_WRONG2, HV_SELF),
    [HC_COUNT] = L(HV_ZERO, HV_ONE, HV_ONES, HV_HIGH, HV_INC, HV_DEC, HV_FSZ),
    [HC_SMALL] = L(HV_ZERO, HV_ONE, HV_ONES, HV_HIGH, HV_INC, HV_DEC),
    [HC_KIND] = L(HV_ZERO, HV_ONES, HV_K_FREE, HV_K_LOG, HV_K_HUGE, HV_K_INDEX, HV_K_NEW, HV_K_DEFER, HV_K_ODD),
    [HC_WORD] = L(HV_ONES, HV_HIGH, HV_TID_SELF, HV_TID_LIVE, HV_TID_GONE),
    [HC_LAYOUT] = L(HV_ZERO, HV_ONE, HV_ONES, HV_HIGH, HV_INC, HV_DEC, HV_LEVEL),
    [HC_DIST] = L(HV_ZERO, HV_ONE, HV_ONES, HV_HIGH, HV_INC, HV_DEC, HV_EXT, HV_CHAIN),
    [HC_SLOTOFF] = L(HV_ZERO, HV_ONES, HV_FSZ, HV_PAST, HV_END, HV_MIS8, HV_HDR, HV_SHARDS, HV_WRONG0,
                     HV_WRONG1, HV_WRONG2, HV_SELF),
    [HC_TAG] = L(HV_ZERO, HV_ONES, HV_HIGH, HV_INC),
    [HC_READS] = L(HV_ZERO, HV_ONE, HV_HIGH, HV_ONES),
    [HC_EXPIRY] = L(HV_ZERO, HV_ONE, HV_ONES, HV_HIGH, HV_DEC),
    [HC_LEAK] = L(HV_LEAK),
};

const char *hostile_value_name(int v) { return v >= 0 && v < HV_N ? hv_names[v] : "?"; }
bool hostile_value_slow(int v) { return v == HV_TID_LIVE; }

unsigned hostile_values(const struct hsite *s, int *out)
{
    unsigned n = 0;
    for (const int *v = class_values[s->cls]; *v >= 0; v++) {
        if ((*v >= HV_WRONG0 && *v <= HV_WRONG2 && !s->wrong[*v - HV_WRONG0]) || (*v == HV_SELF && !s->self))
            continue;
        out[n++] = *v;
    }
    return n;
}

enum hrepair hostile_repair(const struct hsite *s, int v)
{
    if (v >= HV_WRONG0 && v <= HV_WRONG2 && (s->plausible >> (v - HV_WRONG0) & 1))
        return HR_ANY;
    return (enum hrepair)s->repair;
}

/* A process id that names no process: a child that has exited and been reaped. */
static uint32_t dead_pid(void)
{
    static uint32_t pid;
    if (!pid) {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        waitpid(p, NULL, 0);
        pid = (uint32_t)p;
    }
    return pid;
}

static uint64_t field_get(const unsigned char *image, const struct hsite *s)
{
    uint64_t v = 0;
    memcpy(&v, image + s->off, s->width); /* little-endian */
    return s->bits ? (v >> s->shift) & ((1ull << s->bits) - 1) : v;
}

static void field_put(unsigned char *image, const struct hsite *s, uint64_t x)
{
    uint64_t v = 0;
    memcpy(&v, image + s->off, s->width);
    if (s->bits) {
        uint64_t m = ((1ull << s->bits) - 1) << s->shift;
        v = (v & ~m) | ((x << s->shift) & m);
    } else {
        v = x;
    }
    memcpy(image + s->off, &v, s->width);
}

static uint64_t value_of(const struct htable *t, const struct hsite *s, int v, uint64_t orig)
{
    unsigned nbits = s->bits ? s->bits : s->width * 8u;
    uint64_t ones = nbits == 64 ? ~0ull : (1ull << nbits) - 1;
    static const uint32_t kinds[] = {RUN_FREE, RUN_LOG, RUN_HUGE, RUN_INDEX, RUN_NEW, RUN_DEFER, 0x21444142};
    switch (v) {
    case HV_ZERO: return 0;
    case HV_ONE: return 1;
    case HV_ONES: return ones;
    case HV_HIGH: return 1ull << (nbits - 1);
    case HV_INC: case HV_MIS1: return orig + 1;
    case HV_DEC: return orig - 1;
    case HV_FSZ: return t->len;
    case HV_PAST: return t->len + UNIT;
    case HV_END: return t->len - 8;
    case HV_MIS8: return orig + 8;
    case HV_HDR: return 64;
    case HV_SHARDS: return t->shards_off + 128;
    case HV_WRONG0: case HV_WRONG1: case HV_WRONG2: return s->wrong[v - HV_WRONG0];
    case HV_SELF: return s->self;
    case HV_TID_SELF: return (uint32_t)gettid();
    case HV_TID_LIVE: return 1;
    case HV_TID_GONE: return dead_pid();
    case HV_LEVEL: return orig + (1ull << 32);
    case HV_EXT: return orig ^ REC_EXT;
    case HV_CHAIN: return orig ^ REC_CHAIN;
    default: return v >= HV_K_FREE && v <= HV_K_ODD ? kinds[v - HV_K_FREE] : orig;
    }
}

bool hostile_apply(const struct htable *t, const struct hsite *s, int v, unsigned char *image)
{
    if (s->cls == HC_LEAK)
        return true; /* the leak image is the damage */
    uint64_t orig = field_get(image, s), x;
    if (s->cls == HC_SLOTOFF) /* offsets are stored in 8-byte units */
        x = value_of(t, s, v, orig << 3) >> 3;
    else
        x = value_of(t, s, v, orig);
    unsigned nbits = s->bits ? s->bits : s->width * 8u;
    if (nbits < 64)
        x &= (1ull << nbits) - 1;
    if (x == orig)
        return false;
    field_put(image, s, x);
    return true;
}

/* ---- the catalogue ---------------------------------------------------------- */

struct cat {
    struct hsite *out;
    unsigned n;
};

/* A site at absolute offset off (the header's fields), or (site()) in the
 * structure at base, which the table may lack (base 0: no site). */
static struct hsite *site_v(struct cat *c, uint64_t base, uint64_t off, unsigned width, int cls, int repair,
                            const char *fmt, va_list ap)
{
    static struct hsite dummy;
    CHECKF(c->n < HSITES_MAX, "more than %d sites", HSITES_MAX);
    if (c->n == HSITES_MAX || (base == 0 && off == 0))
        return memset(&dummy, 0, sizeof dummy);
    struct hsite *s = &c->out[c->n++];
    memset(s, 0, sizeof *s);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    s->off = base + off;
    s->width = (uint8_t)width;
    s->cls = (uint8_t)cls;
    s->repair = (uint8_t)repair;
    return s;
}

__attribute__((format(printf, 6, 7)))
static struct hsite *hdr_site(struct cat *c, uint64_t off, unsigned width, int cls, int repair, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct hsite *s = site_v(c, 1, off - 1, width, cls, repair, fmt, ap); /* base 1: present */
    va_end(ap);
    return s;
}

__attribute__((format(printf, 7, 8)))
static struct hsite *site(struct cat *c, uint64_t base, uint64_t off, unsigned width, int cls, int repair,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct hsite *s = base ? site_v(c, base, off, width, cls, repair, fmt, ap) : site_v(c, 0, 0, 0, 0, 0, fmt, ap);
    va_end(ap);
    return s;
}

static void wrong(struct hsite *s, uint64_t a, uint64_t b, uint64_t c, unsigned plausible)
{
    s->wrong[0] = a;
    s->wrong[1] = b;
    s->wrong[2] = c;
    s->plausible = (uint8_t)plausible;
}

#define F(type, field) offsetof(struct type, field), sizeof(((struct type *)0)->field)

static void lock_sites(struct cat *c, uint64_t base, const char *who)
{
    site(c, base, F(lock, word), HC_WORD, HR_FIX, "%s.lock.word", who);
    site(c, base, F(lock, boot), HC_SMALL, HR_FIX, "%s.lock.boot", who);
    site(c, base, F(lock, owner), HC_COUNT, HR_FIX, "%s.lock.owner", who);
    site(c, base, F(lock, start), HC_COUNT, HR_FIX, "%s.lock.start", who);
    site(c, base, F(lock, gen), HC_COUNT, HR_FIX, "%s.lock.gen", who);
}

static void header_sites(struct cat *c, const struct htable *t)
{
    const struct hloc *a = &t->at;
    /* immutable: covered by the checksum, so open refuses the file */
    static const struct { const char *name; size_t off, width; int cls; } fixed[] = {
        {"magic", F(hdr, magic), HC_COUNT}, {"version", F(hdr, version), HC_SMALL},
        {"hdr_bytes", F(hdr, hdr_bytes), HC_SMALL}, {"shard_bytes", F(hdr, shard_bytes), HC_SMALL},
        {"lock_bytes", F(hdr, lock_bytes), HC_SMALL}, {"shard_bits", F(hdr, shard_bits), HC_SMALL},
        {"base_bits", F(hdr, base_bits), HC_SMALL}, {"tflags", F(hdr, tflags), HC_SMALL},
        {"pad0", F(hdr, pad0), HC_SMALL}, {"seed[0]", F(hdr, seed[0]), HC_COUNT},
        {"seed[1]", F(hdr, seed[1]), HC_COUNT}, {"reserve", F(hdr, reserve), HC_OFF},
        {"max_bytes", F(hdr, max_bytes), HC_COUNT}, {"shards_off", F(hdr, shards_off), HC_OFF},
        {"data_off", F(hdr, data_off), HC_OFF}, {"seg_bytes", F(hdr, seg_bytes), HC_COUNT},
        {"geo_sum", F(hdr, geo_sum), HC_COUNT},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        hdr_site(c, fixed[i].off, (unsigned)fixed[i].width, fixed[i].cls, HR_ANY, "hdr.%s", fixed[i].name);
    /* a wrong clock changes when pairs with a lifetime expire, nothing else */
    hdr_site(c, F(hdr, boot_id), HC_COUNT, HR_FIXP, "hdr.boot_id");
    hdr_site(c, F(hdr, clock_base), HC_COUNT, HR_FIXP, "hdr.clock_base");
    hdr_site(c, F(hdr, clock_hw), HC_COUNT, HR_FIXP, "hdr.clock_hw");
    lock_sites(c, offsetof(struct hdr, alloc_lock), "hdr.alloc_lock");
    wrong(hdr_site(c, F(hdr, file_size), HC_OFF, HR_ANY, "hdr.file_size"), t->data_off, a->huge, 0, 0);
    wrong(hdr_site(c, F(hdr, top), HC_OFF, HR_ANY, "hdr.top"), t->data_off, a->huge, a->chain_piece, 0);
    hdr_site(c, F(hdr, free_units), HC_COUNT, HR_FIX, "hdr.free_units");
    uint64_t fh = offsetof(struct hdr, free_head);
    wrong(hdr_site(c, fh + 8 * a->free_class, 8, HC_OFF, HR_FIX, "hdr.free_head[%u]", a->free_class), a->index_run,
          a->log_open, a->defer_run, 0);
    wrong(hdr_site(c, fh + 8 * a->empty_class, 8, HC_OFF, HR_FIX, "hdr.free_head[%u](empty)", a->empty_class),
          a->free_run, a->huge, a->chain_piece, 0);
    hdr_site(c, F(hdr, alloc_recoveries), HC_COUNT, HR_FIX, "hdr.alloc_recoveries");
    hdr_site(c, F(hdr, run_stamp), HC_SMALL, HR_FIX, "hdr.run_stamp");
    hdr_site(c, F(hdr, reads[0].hits), HC_COUNT, HR_FIX, "hdr.reads[0].hits");
}

/* The shard's links to runs and buckets: what each is made to point at
 * wrongly (fields of struct hloc), which of those it may hold in a sound
 * table (a journal naming a run of the right kind: repair then finishes
 * the step it records), and what repair must make of it. */
#define AT(f) offsetof(struct hloc, f)
static const struct {
    const char *name;
    size_t off;
    int repair;
    size_t wrong[3];
    unsigned plausible;
} links[] = {
    {"open_run", offsetof(struct shard, open_run), HR_FIX, {AT(log_closed), AT(huge), AT(other_log)}, 0},
    {"deferred", offsetof(struct shard, deferred), HR_FIX, {AT(log_closed), AT(huge), AT(free_run)}, 0},
    {"pending_huge", offsetof(struct shard, pending_huge), HR_FIX, {AT(huge), AT(chain_piece), AT(log_closed)}, 2},
    {"pending_free", offsetof(struct shard, pending_free), HR_FIX, {AT(log_closed), AT(index_run), AT(other_log)}, 1},
    {"pending_log", offsetof(struct shard, pending_log), HR_FIX, {AT(log_closed), AT(chain_piece), AT(index_run)}, 2},
    {"pending_piece", offsetof(struct shard, pending_piece), HR_FIX, {AT(chain_piece), AT(huge), AT(index_run)}, 3},
    {"pending_index", offsetof(struct shard, pending_index), HR_FIX, {AT(index_run), AT(log_closed), AT(other_index)},
     0},
    {"pending_defer", offsetof(struct shard, pending_defer), HR_FIX, {AT(defer_run), AT(log_closed), AT(huge)}, 0},
    {"clean_run", offsetof(struct shard, clean_run), HR_FIX, {AT(log_closed), AT(index_run), AT(other_log)}, 0},
    {"runs", offsetof(struct shard, runs), HR_ANY, {AT(log_open), AT(index_run), AT(other_log)}, 0},
    {"runs_tail", offsetof(struct shard, runs_tail), HR_FIX, {AT(log_closed), AT(huge), AT(other_log)}, 0},
    {"ov_free", offsetof(struct shard, ov_free), HR_FIX, {AT(rec_plain), AT(ov_bucket), AT(home_bucket)}, 0},
};

static uint64_t loc(const struct hloc *a, size_t field) { return *(const uint64_t *)((const char *)a + field); }

static void shard_sites(struct cat *c, const struct htable *t)
{
    const struct hloc *a = &t->at;
    uint64_t b = a->shard;
    site(c, b, F(shard, layout), HC_LAYOUT, HR_ANY, "shard.layout");
    site(c, b, F(shard, seq), HC_COUNT, HR_FIX, "shard.seq");
    site(c, b, F(shard, epoch), HC_COUNT, HR_FIX, "shard.epoch");
    /* an in-place increment's journal naming nothing real: dropped */
    site(c, b, F(shard, patch), HC_COUNT, HR_FIX, "shard.patch");
    site(c, b, F(shard, patch_len), HC_SMALL, HR_FIX, "shard.patch_len");
    wrong(site(c, b, F(shard, dir[0]), HC_OFF, HR_ANY, "shard.dir[0]"), a->other_index + RUN_HDR,
          a->log_open + RUN_HDR, a->ov_bucket, 0);
    wrong(site(c, b, F(shard, dir[PIECES]), HC_OFF, HR_ANY, "shard.dir[%u](unused)", PIECES),
          a->other_index + RUN_HDR, a->log_open + RUN_HDR, a->index_run + RUN_HDR, 0);
    lock_sites(c, b + offsetof(struct shard, lock), "shard");
    static const struct { const char *name; size_t off, width; } counters[] = {
        {"log_bytes", F(shard, log_bytes)}, {"rec_live", F(shard, rec_live)}, {"keys", F(shard, keys)},
        {"live_bytes", F(shard, live_bytes)}, {"puts", F(shard, puts)}, {"dels", F(shard, dels)},
        {"exp_next", F(shard, exp_next)}, {"clean_pos", F(shard, clean_pos)}, {"clean_evict", F(shard, clean_evict)},
        {"pending_split", F(shard, pending_split)}, {"ov_used", F(shard, ov_used)}, {"splits", F(shard, splits)},
        {"cleaned", F(shard, cleaned)}, {"lock_waits", F(shard, lock_waits)}, {"recoveries", F(shard, recoveries)},
        {"evictions", F(shard, evictions)}, {"expirations", F(shard, expirations)}, {"oldest", F(shard, oldest)},
        {"patches", F(shard, patches)},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        site(c, b, counters[i].off, (unsigned)counters[i].width, HC_COUNT, HR_FIX, "shard.%s", counters[i].name);
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        wrong(site(c, b, links[i].off, 8, HC_OFF, links[i].repair, "shard.%s", links[i].name),
              loc(a, links[i].wrong[0]), loc(a, links[i].wrong[1]), loc(a, links[i].wrong[2]), links[i].plausible);
}

static void index_sites(struct cat *c, const struct htable *t)
{
    const struct hloc *a = &t->at;
    struct hsite *s = site(c, a->home_bucket, F(bucket, next), HC_OFF, HR_ANY, "bucket(home).next");
    s->self = a->home_bucket;
    wrong(s, a->rec_plain, a->index_run, a->other_index + RUN_HDR, 0);
    /* the filter of the home bucket's chain (the link's top two bytes):
     * one that leaves out a tag hides that key from writers until the
     * repair makes it again */
    site(c, a->home_bucket, offsetof(struct bucket, next) + LINK_BITS / 8, 2, HC_SMALL, HR_FIX, "bucket(home).filter");
    s = site(c, a->ov_bucket, F(bucket, next), HC_OFF, HR_ANY, "bucket(overflow).next");
    s->self = a->ov_bucket;
    wrong(s, a->home_bucket, a->ov_free, a->rec_other, 0);
    s = site(c, a->ov_free, F(bucket, next), HC_OFF, HR_ANY, "bucket(free).next");
    s->self = a->ov_free;
    wrong(s, a->home_bucket, a->rec_plain, a->index_run, 0);
    static const char *const names[] = {"plain", "overflow", "ttl", "huge", "chain"};
    uint64_t slots[] = {a->slot_plain, a->slot_ov, a->slot_ttl, a->slot_huge, a->slot_chain};
    uint64_t recs[] = {a->rec_plain, a->rec_plain, a->rec_ttl, a->rec_huge, a->rec_chain};
    for (unsigned i = 0; i < 5; i++) {
        s = site(c, slots[i], 0, 8, HC_SLOTOFF, HR_ANY, "slot(%s).offset", names[i]);
        s->shift = TAG_BITS;
        s->bits = 38;
        s->self = slots[i] & ~(uint64_t)(BUCKET_BYTES - 1);
        wrong(s, a->rec_other, recs[i] == a->rec_plain ? a->rec_ttl : a->rec_plain, a->log_open, 0);
        s = site(c, slots[i], 0, 8, HC_TAG, HR_ANY, "slot(%s).tag", names[i]);
        s->bits = TAG_BITS;
        s = site(c, slots[i], 0, 8, HC_READS, HR_FIX, "slot(%s).reads", names[i]);
        s->shift = SLOT_READS_SHIFT;
        s->bits = 2;
    }
}

static void record_sites(struct cat *c, const struct htable *t)
{
    const struct hloc *a = &t->at;
    static const char *const names[] = {"plain", "ttl", "huge", "chain"};
    uint64_t recs[] = {a->rec_plain, a->rec_ttl, a->rec_huge, a->rec_chain};
    for (unsigned i = 0; i < 4; i++) {
        site(c, recs[i], F(rec, klen), HC_SMALL, HR_ANY, "rec(%s).klen", names[i]);
        site(c, recs[i], F(rec, dist), HC_DIST, HR_ANY, "rec(%s).dist", names[i]);
        site(c, recs[i], F(rec, vlen), HC_SMALL, HR_ANY, "rec(%s).vlen", names[i]);
    }
    site(c, a->rec_ttl, sizeof(struct rec), 8, HC_EXPIRY, HR_ANY, "rec(ttl).expiry");
}

/* A run header: its links and shape may be reported, its counters and age
 * are recounted; a free or deferred run's are all rebuilt. */
static void run_sites(struct cat *c, const struct htable *t, uint64_t ro, const char *name)
{
    const struct hloc *a = &t->at;
    bool spare = ro == a->free_run || ro == a->defer_run;
    int shape = spare ? HR_FIX : HR_ANY;
    site(c, ro, F(run, kind), HC_KIND, shape, "run(%s).kind", name);
    site(c, ro, F(run, shard), HC_SMALL, shape, "run(%s).shard", name);
    site(c, ro, F(run, nunits), HC_COUNT, HR_ANY, "run(%s).nunits", name);
    struct hsite *s = site(c, ro, F(run, next), HC_OFF, shape, "run(%s).next", name);
    s->self = ro;
    wrong(s, ro == a->index_run ? a->other_index : a->index_run, a->other_log,
          a->free_run == ro ? a->huge : a->free_run, 0);
    site(c, ro, F(run, used), HC_COUNT, shape, "run(%s).used", name);
    site(c, ro, F(run, live), HC_COUNT, HR_FIX, "run(%s).live", name);
    s = site(c, ro, F(run, chain), HC_OFF, shape, "run(%s).chain", name);
    s->self = ro;
    wrong(s, a->log_closed, a->free_run, ro == a->huge ? a->chain_head : a->huge, 0);
    site(c, ro, F(run, exp_max), HC_COUNT, HR_FIX, "run(%s).exp_max", name);
    site(c, ro, F(run, exp_bytes), HC_SMALL, HR_FIX, "run(%s).exp_bytes", name);
    site(c, ro, F(run, stamp), HC_SMALL, HR_FIX, "run(%s).stamp", name);
}

unsigned hostile_sites(const struct htable *t, struct hsite *out)
{
    struct cat c = {out, 0};
    const struct hloc *a = &t->at;
    (void)dead_pid(); /* before any case forks */
    header_sites(&c, t);
    shard_sites(&c, t);
    index_sites(&c, t);
    record_sites(&c, t);
    run_sites(&c, t, a->log_open, "log-open");
    run_sites(&c, t, a->log_closed, "log-closed");
    run_sites(&c, t, a->huge, "huge");
    run_sites(&c, t, a->chain_head, "chain-head");
    run_sites(&c, t, a->chain_piece, "chain-piece");
    run_sites(&c, t, a->index_run, "index");
    run_sites(&c, t, a->free_run, "free");
    run_sites(&c, t, a->defer_run, "deferred");
    site(&c, t->data_off, 0, 8, HC_LEAK, HR_FIX, "leaked run");
    return c.n;
}
