/*
 * worker.c - shmkv-bench's workers: what each worker thread does in a
 * phase, timed and checked.
 *
 * Keys are numbers 0..N-1 (make_key turns them into bytes).  Worker w of
 * W owns keys [N w / W, N (w+1) / W): PUT inserts them, DEL deletes them,
 * and in MIX only the owner updates a key to its next version (--op: by a
 * delete and a put, by a put, or by an increment), so after MIX every
 * key's last version is known exactly.  Gets go to any key.
 *
 * Values: make_val's bytes, or with --op incr counters, decimal text
 * (make_counter: key i at version v holds i + v N, and each increment adds
 * N).  The owner checks what each of its increments returns: exactly the
 * next version's counter.
 *
 * Versions.  seqs[i] is 2 x the version of key i while no update runs, and
 * odd while its owner updates it (seq_cst store before the delete, release
 * store after the put); dirty has a bit per key set on its first update, so
 * a get of a key never updated (nearly all of them) reads one bit of a
 * small bitmap, not the big array.  A get of key i reads s1 (the sequence,
 * 0 if the bit is clear) before and, unless it found exactly version s1/2,
 * s2 after.  Accepted:
 *   - exactly version s1/2 (s1 even), or
 *   - only in MIX, when an update of the key overlapped the get (s1 odd or
 *     s2 != s1): a correct value of version s1/2 .. (s2+1)/2, or "absent"
 *     if the update deletes (--op delput);
 *   - "absent", at any time, from a store run as a cache (--cache), which may
 *     have evicted the key (counted as a miss; a delete that finds nothing
 *     is then fine too).
 * Anything else (a value of another key, a torn value, a missing key, a
 * delete that found nothing) is a mismatch: counted, the first described,
 * and the run fails.
 *
 * Timing: every --sample-th operation (or batch) is timed with
 * clock_gettime(CLOCK_MONOTONIC) into a histogram per operation type; a
 * batch or pipeline round trip counts as one sample of each type in it.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

#define STEP_UPDATE 3 /* MIX: delete, then put, of one of the worker's keys */

/* The stream of steps of one worker in one phase. */
struct gen {
    enum phase ph;
    uint64_t j, hi;              /* PUT, DEL, GET: position and end */
    uint64_t own_lo, own_n;      /* the worker's keys */
    uint64_t left;               /* MIX: steps left (UINT64_MAX: until stopped) */
    uint64_t get_below;          /* MIX: a step is a get when rng_next() < this */
    struct rng rng;
    uint64_t nkeys;
    const uint32_t *order;       /* GET: the order of the keys */
    _Atomic int *stop;           /* MIX by time: set when time is up */
    uint32_t *ring;              /* Zipf: pre-drawn ranks - 1 (NULL: uniform) */
    size_t ringlen, rpos;
    int pend, pend_type;         /* a step handed back */
    uint32_t pend_idx;
};

struct ws {
    struct wctx c;
    const struct config *cfg;
    struct sizes ks, vs;         /* cfg's key and value sizes, at hand */
    _Atomic uint64_t *dirty;     /* the shared version arrays */
    _Atomic uint32_t *seqs;
    _Atomic uint64_t *prog;      /* operations done, for the progress lines */
    struct wres *r;
    const struct sysops *o;
    enum phase ph;
    int w;
    unsigned depth;              /* operations per exec() call */
    int use_exec;
    int lean;                    /* GET by run_lean (--lean-gets) */
    int (*exec)(struct wctx *c, struct op *ops, unsigned n);   /* exec or put_batch */
    int counters;                /* --op incr: values are counters */
    int versions;                /* MIX ran: look versions up */
    unsigned cd;                 /* countdown to the next timed operation */
    size_t kstride, vstride, vcap;
    unsigned char *kb, *vb, *gb, *eb;
    struct op *ops;
    int corrupt_pending;         /* --self-test-corrupt */
    struct gen g;
};

static uint32_t ring_next(struct gen *g)
{
    uint32_t v = g->ring[g->rpos];
    if (++g->rpos == g->ringlen)
        g->rpos = 0;
    return v;
}

static int next_step(struct gen *g, int *type, uint32_t *idx)
{
    if (g->pend) {
        g->pend = 0;
        *type = g->pend_type;
        *idx = g->pend_idx;
        return 1;
    }
    switch (g->ph) {
    case PH_PUT:
    case PH_DEL:
        if (g->j >= g->hi)
            return 0;
        *type = g->ph == PH_PUT ? OP_PUT : OP_DEL;
        *idx = (uint32_t)g->j++;
        return 1;
    case PH_GET:
        if (g->j >= g->hi)
            return 0;
        *type = OP_GET;
        *idx = g->ring ? ring_next(g) : g->order[g->j];
        g->j++;
        return 1;
    default:
        if (!g->left || atomic_load_explicit(g->stop, memory_order_relaxed))
            return 0;
        g->left--;
        if (rng_next(&g->rng) < g->get_below) {
            *type = OP_GET;
            *idx = g->ring ? ring_next(g) : (uint32_t)rng_below(&g->rng, g->nkeys);
        } else {
            *type = STEP_UPDATE;
            uint64_t r = g->ring ? ring_next(g) : rng_below(&g->rng, g->own_n);
            *idx = (uint32_t)(g->own_lo + r % g->own_n);
        }
        return 1;
    }
}

static void push_back(struct gen *g, int type, uint32_t idx)
{
    g->pend = 1;
    g->pend_type = type;
    g->pend_idx = idx;
}

/* ---- versions --------------------------------------------------------- */

static uint32_t key_seq(const struct ws *ws, uint32_t i)
{
    if (!ws->versions ||
        !(atomic_load_explicit(&ws->dirty[i >> 6], memory_order_acquire) >> (i & 63) & 1))
        return 0;
    return atomic_load_explicit(&ws->seqs[i], memory_order_acquire);
}

static uint32_t begin_update(struct ws *ws, uint32_t i)
{
    uint64_t bit = 1ULL << (i & 63);
    if (!(atomic_load_explicit(&ws->dirty[i >> 6], memory_order_relaxed) & bit))
        atomic_fetch_or(&ws->dirty[i >> 6], bit);
    uint32_t s = atomic_load_explicit(&ws->seqs[i], memory_order_relaxed);
    atomic_store(&ws->seqs[i], s + 1); /* seq_cst: visible before the delete */
    return s;
}

static void end_update(struct ws *ws, uint32_t i, uint32_t s)
{
    atomic_store_explicit(&ws->seqs[i], s, memory_order_release);
}

/* The value of key i at version ver, into v; its length. */
static size_t value_of(const struct ws *ws, uint32_t i, uint32_t ver, unsigned char *v)
{
    return ws->counters ? make_counter(ws->cfg->nkeys, i, ver, v) : make_val(&ws->vs, i, ver, v);
}

/* The version a value read for key i names (UINT32_MAX: none). */
static uint32_t version_of(const struct ws *ws, uint32_t i, const unsigned char *v, size_t len)
{
    return ws->counters ? counter_version(ws->cfg->nkeys, i, v, len) : val_version(i, v, len);
}

__attribute__((format(printf, 2, 3)))
static void wrong(struct ws *ws, const char *fmt, ...)
{
    if (ws->r->wrong++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ws->r->first_wrong, sizeof ws->r->first_wrong, fmt, ap);
        va_end(ap);
    }
}

/* Check what a get of key i found: rc RES_OK (buf, len) or RES_ABSENT; s1 is
 * the key's sequence read before the get. */
static void check_get(struct ws *ws, uint32_t i, uint32_t s1, int rc,
                      const unsigned char *buf, size_t len)
{
    struct wres *r = ws->r;
    r->checked++;
    if (rc == RES_ABSENT && ws->c.s->sd->cache) {
        r->misses++; /* a cache may have evicted it: fine (a wrong value is not) */
        return;
    }
    if (rc == RES_OK && !(s1 & 1)) {
        size_t el = value_of(ws, i, s1 / 2, ws->eb);
        if (ws->corrupt_pending && ws->ph == PH_GET) {
            ws->eb[el - 1] ^= 0x40; /* --self-test-corrupt: a wrong expectation */
            ws->corrupt_pending = 0;
        }
        if (el == len && memcmp(ws->eb, buf, len) == 0)
            return;
    }
    uint32_t s2 = s1;
    if (ws->ph == PH_MIX) {
        atomic_thread_fence(memory_order_acquire);
        s2 = atomic_load_explicit(&ws->seqs[i], memory_order_acquire);
    }
    int raced = ws->ph == PH_MIX && ((s1 & 1) || s2 != s1);
    if (raced && rc == RES_ABSENT && ws->cfg->mix_op == MIX_DELPUT) {
        r->absent_race++;
        return;
    }
    uint32_t v = rc == RES_OK ? version_of(ws, i, buf, len) : UINT32_MAX;
    if (raced && v >= s1 / 2 && v <= (s2 + 1) / 2) {
        size_t el = value_of(ws, i, v, ws->eb);
        if (el == len && memcmp(ws->eb, buf, len) == 0) {
            r->other_ver++;
            return;
        }
    }
    if (rc == RES_ABSENT)
        wrong(ws, "%s: key %" PRIu32 " is missing (expected version %" PRIu32 ")",
              ws->o->base, i, s1 / 2);
    else
        wrong(ws, "%s: key %" PRIu32 ": got %zu bytes that are not version %" PRIu32
              " of its value (%zu bytes)%s", ws->o->base, i, len, s1 / 2,
              value_of(ws, i, s1 / 2, ws->eb),
              raced ? ", nor any version written during the get" : "");
}

/* ---- one operation at a time ------------------------------------------ */

static uint64_t timer_start(struct ws *ws)
{
    if (--ws->cd)
        return 0;
    ws->cd = ws->cfg->sample;
    return now_ns();
}

static void timer_stop(struct ws *ws, int type, uint64_t t0)
{
    if (t0)
        hist_add(&ws->r->lat[type], now_ns() - t0);
}

static int do_put(struct ws *ws, uint32_t i, uint32_t ver)
{
    size_t kl = make_key(&ws->ks, i, ws->kb), vl = value_of(ws, i, ver, ws->vb);
    uint64_t t0 = timer_start(ws);
    int rc = ws->o->put(&ws->c, ws->kb, kl, ws->vb, vl);
    timer_stop(ws, OP_PUT, t0);
    ws->r->ops[OP_PUT]++;
    return rc == RES_OK ? 0 : -1;
}

static int do_del(struct ws *ws, uint32_t i)
{
    size_t kl = make_key(&ws->ks, i, ws->kb);
    uint64_t t0 = timer_start(ws);
    int rc = ws->o->del(&ws->c, ws->kb, kl);
    timer_stop(ws, OP_DEL, t0);
    ws->r->ops[OP_DEL]++;
    if (rc == RES_ABSENT && ws->c.s->sd->cache)
        ws->r->del_absent++; /* evicted */
    else if (rc == RES_ABSENT)
        wrong(ws, "%s: deleting key %" PRIu32 " found nothing", ws->o->base, i);
    return rc == RES_ERR ? -1 : 0;
}

/* What the increment to version ver of key i returned (rc, result): the
 * next counter exactly, the owner being the only one to update the key. */
static void check_incr(struct ws *ws, uint32_t i, uint32_t ver, int rc, int64_t result)
{
    uint64_t want = i + (uint64_t)ver * ws->cfg->nkeys;
    if (ws->corrupt_pending) { /* --self-test-corrupt: a wrong expectation */
        want++;
        ws->corrupt_pending = 0;
    }
    if (rc == RES_ABSENT)
        wrong(ws, "%s: incrementing key %" PRIu32 " found no such key", ws->o->base, i);
    else if ((uint64_t)result != want)
        wrong(ws, "%s: incrementing key %" PRIu32 " to version %" PRIu32 " gave %" PRId64
              ", expected %" PRIu64, ws->o->base, i, ver, result, want);
}

static int do_incr(struct ws *ws, uint32_t i, uint32_t ver)
{
    size_t kl = make_key(&ws->ks, i, ws->kb);
    int64_t result = 0;
    uint64_t t0 = timer_start(ws);
    int rc = ws->o->incr(&ws->c, ws->kb, kl, (int64_t)ws->cfg->nkeys, &result);
    timer_stop(ws, OP_INCR, t0);
    ws->r->ops[OP_INCR]++;
    if (rc == RES_ERR)
        return -1;
    check_incr(ws, i, ver, rc, result);
    return 0;
}

/* A MIX update of key i, one of its owner's, to version ver (--op): the
 * operations it took, or -1 if one failed. */
static int do_update(struct ws *ws, uint32_t i, uint32_t ver)
{
    switch (ws->cfg->mix_op) {
    case MIX_INCR: return do_incr(ws, i, ver) ? -1 : 1;
    case MIX_PUT: return do_put(ws, i, ver) ? -1 : 1;
    default: return do_del(ws, i) || do_put(ws, i, ver) ? -1 : 2;
    }
}

static int run_single(struct ws *ws)
{
    int type;
    uint32_t i;
    uint64_t n = 0;
    _Atomic uint64_t *prog = ws->prog;
    while (next_step(&ws->g, &type, &i)) {
        if (type == OP_GET) {
            uint32_t s1 = key_seq(ws, i);
            size_t kl = make_key(&ws->ks, i, ws->kb), len = 0;
            uint64_t t0 = timer_start(ws);
            int rc = ws->o->get(&ws->c, ws->kb, kl, ws->gb, ws->vcap, &len);
            timer_stop(ws, OP_GET, t0);
            if (rc == RES_ERR)
                return -1;
            ws->r->ops[OP_GET]++;
            check_get(ws, i, s1, rc, ws->gb, len);
            n++;
        } else if (type == OP_PUT) {
            if (do_put(ws, i, 0))
                return -1;
            n++;
        } else if (type == OP_DEL) {
            if (do_del(ws, i))
                return -1;
            n++;
        } else {
            uint32_t s = begin_update(ws, i);
            int done = do_update(ws, i, s / 2 + 1);
            if (done < 0)
                return -1;
            end_update(ws, i, s + 2);
            n += (uint64_t)done;
        }
        atomic_store_explicit(prog, n, memory_order_relaxed);
    }
    return 0;
}

/* ---- batches and pipelines -------------------------------------------- */

/* A MIX update of key i into ws->ops from slot n on (--op: a delete and a
 * put, a put, or an increment); the slots it took. */
static unsigned batch_update(struct ws *ws, unsigned n, uint32_t i)
{
    struct op *op = &ws->ops[n];
    unsigned char *kb = ws->kb + n * ws->kstride;
    uint32_t ver = begin_update(ws, i) / 2 + 1;
    size_t kl = make_key(&ws->ks, i, kb);
    if (ws->cfg->mix_op == MIX_INCR) {
        *op = (struct op){ .type = OP_INCR, .idx = i, .seq = ver, .key = kb, .klen = kl,
                           .num = (int64_t)ws->cfg->nkeys };
        return 1;
    }
    unsigned slots = ws->cfg->mix_op == MIX_DELPUT ? 2 : 1;
    if (slots == 2)
        *op++ = (struct op){ .type = OP_DEL, .idx = i, .key = kb, .klen = kl };
    unsigned char *vb = ws->vb + (n + slots - 1) * ws->vstride;
    *op = (struct op){ .type = OP_PUT, .idx = i, .seq = ver, .key = kb, .klen = kl, .val = vb,
                       .vlen = value_of(ws, i, ver, vb) };
    return slots;
}

/* GET with a lean caller (--lean-gets): the keys of LEAN gets made first,
 * then the gets back to back, each value kept, then every value checked.
 * The same gets and checks as run_single's, in three loops instead of
 * one: a get and the harness around it (making the key, computing the
 * expected value) are more instructions than the CPU's reorder window
 * holds, so in run_single the next get's loads wait for this one's; here
 * only a get and a few instructions lie between two gets, as in a caller
 * that has its keys at hand.  Every LEAN-th get is timed, alone. */
#define LEAN 64
static int run_lean(struct ws *ws)
{
    uint32_t idx[LEAN], seq[LEAN];
    size_t kl[LEAN], len[LEAN];
    int rc[LEAN], type;
    uint64_t total = 0;
    for (;;) {
        unsigned n = 0;
        while (n < LEAN && next_step(&ws->g, &type, &idx[n])) {
            seq[n] = key_seq(ws, idx[n]);
            kl[n] = make_key(&ws->ks, idx[n], ws->kb + n * ws->kstride);
            n++;
        }
        if (!n)
            return 0;
        for (unsigned k = 0; k < n; k++) {
            uint64_t t0 = timer_start(ws);
            rc[k] = ws->o->get(&ws->c, ws->kb + k * ws->kstride, kl[k], ws->gb + k * ws->vstride, ws->vcap,
                               &len[k]);
            timer_stop(ws, OP_GET, t0);
        }
        for (unsigned k = 0; k < n; k++) {
            if (rc[k] == RES_ERR)
                return -1;
            ws->r->ops[OP_GET]++;
            check_get(ws, idx[k], seq[k], rc[k], ws->gb + k * ws->vstride, len[k]);
        }
        atomic_store_explicit(ws->prog, total += n, memory_order_relaxed);
    }
}

static int run_batch(struct ws *ws)
{
    const struct config *cfg = ws->cfg;
    unsigned d = ws->depth, every = cfg->sample / d ? cfg->sample / d : 1, cd = every;
    unsigned slots = cfg->mix_op == MIX_DELPUT ? 2 : 1;   /* of an update */
    uint64_t total = 0;
    _Atomic uint64_t *prog = ws->prog;
    for (;;) {
        unsigned n = 0;
        int type;
        uint32_t i;
        while (n < d && next_step(&ws->g, &type, &i)) {
            struct op *op = &ws->ops[n];
            unsigned char *kb = ws->kb + n * ws->kstride;
            if (type == STEP_UPDATE) {
                /* needs its slots (two for a delete and a put), and the
                 * key's earlier update in this batch (if any) finished */
                if (n + slots > d || (atomic_load_explicit(&ws->seqs[i], memory_order_relaxed) & 1)) {
                    push_back(&ws->g, type, i);
                    break;
                }
                n += batch_update(ws, n, i);
                continue;
            }
            op->type = (uint8_t)type;
            op->idx = i;
            op->key = kb;
            op->klen = make_key(&ws->ks, i, kb);
            if (type == OP_GET) {
                op->seq = key_seq(ws, i);
                op->buf = ws->gb + n * ws->vstride;
                op->cap = ws->vcap;
                op->outlen = 0;
            } else if (type == OP_PUT) {
                unsigned char *vb = ws->vb + n * ws->vstride;
                op->val = vb;
                op->vlen = value_of(ws, i, 0, vb);
            }
            n++;
        }
        if (!n)
            break;
        uint64_t t0 = 0;
        if (--cd == 0) {
            cd = every;
            t0 = now_ns();
        }
        int rc = ws->exec(&ws->c, ws->ops, n);
        if (t0) {
            uint64_t ns = now_ns() - t0;
            int seen[NOPT] = { 0 };
            for (unsigned j = 0; j < n; j++)
                seen[ws->ops[j].type] = 1;
            for (int t = 0; t < NOPT; t++)
                if (seen[t])
                    hist_add(&ws->r->lat[t], ns);
        }
        if (rc == RES_ERR)
            return -1;
        for (unsigned j = 0; j < n; j++) {
            struct op *op = &ws->ops[j];
            ws->r->ops[op->type]++;
            if (op->type == OP_GET)
                check_get(ws, op->idx, op->seq, op->rc, op->buf, op->outlen);
            else if (op->type == OP_DEL && op->rc == RES_ABSENT && ws->c.s->sd->cache)
                ws->r->del_absent++;
            else if (op->type == OP_DEL && op->rc == RES_ABSENT)
                wrong(ws, "%s: deleting key %" PRIu32 " found nothing", ws->o->base, op->idx);
            else if (op->type == OP_PUT && ws->ph == PH_MIX)
                end_update(ws, op->idx, 2 * op->seq);
            else if (op->type == OP_INCR) {
                check_incr(ws, op->idx, op->seq, op->rc, op->num);
                end_update(ws, op->idx, 2 * op->seq);
            }
        }
        total += n;
        atomic_store_explicit(prog, total, memory_order_relaxed);
    }
    return 0;
}

/* ---- a worker thread -------------------------------------------------- */

/* Worker w's share of total things starts at share(total, w). */
static uint64_t share(const struct config *cfg, uint64_t total, int w)
{
    return total * (uint64_t)w / (uint64_t)cfg->workers;
}

static int ws_init(struct ws *ws, const struct shared *sh)
{
    struct gen *g = &ws->g;
    ws->dirty = sh->dirty;
    ws->seqs = sh->seqs;
    ws->prog = &sh->progress[ws->w].n;
    const struct config *cfg = ws->cfg;
    ws->depth = ws->c.s->sd->depth;
    ws->use_exec = ws->depth > 1 &&
                   (ws->ph == PH_GET || ws->ph == PH_MIX || ws->c.s->sd->pipelined);
    ws->exec = ws->o->exec;
    if (ws->ph == PH_PUT && cfg->put_batch > 1) { /* systems.c made sure put_batch exists */
        ws->use_exec = 1;
        ws->depth = cfg->put_batch;
        ws->exec = ws->o->put_batch;
    }
    if (!ws->use_exec)
        ws->depth = 1;
    ws->counters = cfg->mix_op == MIX_INCR;
    ws->versions = cfg->phase_on[PH_MIX];
    ws->cd = cfg->sample;
    ws->corrupt_pending = cfg->self_test_corrupt && ws->w == 0;
    ws->ks = cfg->key;
    ws->vs = cfg->val;
    ws->kstride = (cfg->key.max + 15) & ~(size_t)7;
    ws->vstride = (cfg->val.max + 15) & ~(size_t)7;
    ws->vcap = cfg->val.max;
    ws->lean = cfg->lean_gets && ws->ph == PH_GET && !ws->use_exec;
    unsigned bufs = ws->lean ? LEAN : ws->depth;
    ws->kb = malloc(ws->kstride * bufs);
    ws->vb = malloc(ws->vstride * ws->depth);
    ws->gb = malloc(ws->vstride * bufs);
    ws->eb = malloc(ws->vstride);
    ws->ops = calloc(ws->depth, sizeof *ws->ops);
    if (!ws->kb || !ws->vb || !ws->gb || !ws->eb || !ws->ops)
        return -1;

    g->ph = ws->ph;
    g->nkeys = cfg->nkeys;
    g->order = sh->order;
    g->stop = sh->stop;
    g->own_lo = share(cfg, cfg->nkeys, ws->w);
    g->own_n = share(cfg, cfg->nkeys, ws->w + 1) - g->own_lo;
    g->j = g->own_lo;
    g->hi = g->own_lo + g->own_n;
    g->left = UINT64_MAX;
    if (ws->ph == PH_MIX && cfg->mix_ops)
        g->left = share(cfg, cfg->mix_ops, ws->w + 1) - share(cfg, cfg->mix_ops, ws->w);
    g->get_below = cfg->mix_get >= 1 ? UINT64_MAX : (uint64_t)(cfg->mix_get * 0x1p64);
    rng_seed(&g->rng, 0x5eed0000ULL + (uint64_t)ws->w * 16 + (uint64_t)ws->ph);
    if (cfg->zipf && (ws->ph == PH_MIX || ws->ph == PH_GET)) {
        struct zipf z;
        zipf_init(&z, cfg->nkeys, cfg->zipf_s);
        uint64_t want = ws->ph == PH_GET ? g->own_n : g->left;
        g->ringlen = want < (1u << 22) ? (size_t)want : (1u << 22);
        if (g->ringlen < 1)
            g->ringlen = 1;
        if (!(g->ring = malloc(g->ringlen * sizeof *g->ring)))
            return -1;
        for (size_t j = 0; j < g->ringlen; j++)
            g->ring[j] = (uint32_t)(zipf_draw(&z, &g->rng) - 1);
    }
    return 0;
}

static void ws_free(struct ws *ws)
{
    free(ws->kb);
    free(ws->vb);
    free(ws->gb);
    free(ws->eb);
    free(ws->ops);
    free(ws->g.ring);
}

struct thr {
    const struct bench *b;
    struct store *s;
    enum phase ph;
    int w;
    int ready_fd, go_fd;
    pthread_barrier_t *bar;
    pthread_t tid;
};

/* CPU seconds this thread has used, exactly (getrusage's may lag by a tick) */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *thread_main(void *arg)
{
    struct thr *t = arg;
    struct ws ws;
    memset(&ws, 0, sizeof ws);
    ws.c.s = t->s;
    ws.c.w = ws.w = t->w;
    ws.cfg = &t->b->cfg;
    ws.r = &t->b->sh.wres[t->w];
    ws.o = t->s->sd->ops;
    ws.ph = t->ph;
    int ok = 1;
    if (ws_init(&ws, &t->b->sh)) {
        snprintf(ws.c.err, sizeof ws.c.err, "out of memory");
        ok = 0;
    } else if (ws.o->open_thread && ws.o->open_thread(&ws.c) != RES_OK) {
        ok = 0;
    }
    char c = 'r';
    if (ok && write(t->ready_fd, &c, 1) != 1)
        ok = 0;
    if (t->bar)
        pthread_barrier_wait(t->bar);
    else
        close(t->ready_fd);
    while (read(t->go_fd, &c, 1) < 0 && errno == EINTR)
        ;
    if (ok) {
        struct rusage ru0, ru1;
        getrusage(RUSAGE_THREAD, &ru0);
        double cpu0 = thread_cpu();
        int rc = ws.use_exec ? run_batch(&ws) : ws.lean ? run_lean(&ws) : run_single(&ws);
        ws.r->end = now_sec();
        ws.r->cpu = thread_cpu() - cpu0;
        getrusage(RUSAGE_THREAD, &ru1);
        ws.r->faults = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt) +
                       (uint64_t)(ru1.ru_majflt - ru0.ru_majflt);
        if (rc)
            ok = 0;
        if (ws.o->close_thread)
            ws.o->close_thread(&ws.c);
    }
    if (!ok) {
        ws.r->error = 1;
        snprintf(ws.r->err, sizeof ws.r->err, "%s", ws.c.err[0] ? ws.c.err : "failed");
    }
    ws_free(&ws);
    return NULL;
}

/* Map in [a, a + len) for reading: MADV_POPULATE_READ, then a read of a
 * byte of each page (which is what fills the page tables where the kernel
 * lacks MADV_POPULATE_READ, and what a VM with shadow page tables needs
 * besides: there the first touch of a populated page still traps). */
static void touch_range(char *a, size_t len)
{
    int rc = madvise(a, len, MADV_POPULATE_READ);
    if (rc != 0 && errno != EINVAL)
        return; /* e.g. EFAULT: part of the range is not backed */
    for (size_t i = 0; i < len; i += 4096)
        (void)*(volatile char *)(a + i);
}

/*
 * Map in every page of PATH that holds data, in every mapping of it in this
 * process (its data extents, by SEEK_DATA/SEEK_HOLE, so sparse maps such as
 * LMDB's or Boost's segment cost no memory).  A worker is a fresh process
 * each phase; without this, a phase on a big store measures the first-touch
 * page faults of its mapping (15 us each for random pages of a 2 GB tmpfs
 * file on a small VM, where the whole 2 GB takes 0.8 s to map in
 * sequentially) rather than the store, and a long-lived process (or a
 * server) would not pay them.
 */
static void prefault(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    FILE *maps = fstat(fd, &st) == 0 ? fopen("/proc/self/maps", "re") : NULL;
    char line[512];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi, off, ino;
        unsigned maj, min;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &maj, &min, &ino) != 6 ||
            ino != (unsigned long)st.st_ino || makedev(maj, min) != st.st_dev)
            continue;
        off_t pos = (off_t)off, end = (off_t)(off + (hi - lo));
        if (end > st.st_size)
            end = st.st_size;
        while (pos < end) {
            off_t d = lseek(fd, pos, SEEK_DATA), h;
            if (d < 0 || d >= end)
                break;
            h = lseek(fd, d, SEEK_HOLE);
            if (h < 0 || h > end)
                h = end;
            touch_range((char *)lo + (d - (off_t)off), (size_t)(h - d));
            pos = h;
        }
    }
    if (maps)
        fclose(maps);
    close(fd);
}

/* Mark the threads of this process failed, with the reason. */
static void fail_threads(struct wres *r, int nt, const char *why)
{
    for (int t = 0; t < nt; t++) {
        r[t].error = 1;
        snprintf(r[t].err, sizeof r[t].err, "%s", why);
    }
}

void worker_process(const struct bench *b, struct store *s, enum phase ph, int p,
                    int ready_fd, int go_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const struct config *cfg = &b->cfg;
    int w0 = p * cfg->threads, nt = cfg->threads;
    struct wres *r = &b->sh.wres[w0];
    char err[256] = "";
    if (s->sd->ops->open_proc && s->sd->ops->open_proc(s, err, sizeof err)) {
        fail_threads(r, nt, err);
        _exit(1);
    }
    if (cfg->prefault && s->mapfile[0])
        prefault(s->mapfile);
    if (cfg->prefault && cfg->phase_on[PH_MIX] && (ph == PH_MIX || ph == PH_GET)) {
        /* the version arrays too (shared anonymous memory, fresh each run) */
        touch_range((char *)b->sh.dirty, (cfg->nkeys + 63) / 64 * 8);
        touch_range((char *)b->sh.seqs, cfg->nkeys * 4);
    }
    struct thr thr[MAX_THREADS];
    for (int t = 0; t < nt; t++)
        thr[t] = (struct thr){ .b = b, .s = s, .ph = ph, .w = w0 + t, .ready_fd = ready_fd,
                               .go_fd = go_fd };
    if (nt == 1) {
        thread_main(&thr[0]);
    } else {
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, (unsigned)nt + 1);
        for (int t = 0; t < nt; t++) {
            thr[t].bar = &bar;
            if (pthread_create(&thr[t].tid, NULL, thread_main, &thr[t]) != 0) {
                fail_threads(r + t, 1, "pthread_create failed");
                _exit(1);
            }
        }
        pthread_barrier_wait(&bar);
        close(ready_fd);
        for (int t = 0; t < nt; t++)
            pthread_join(thr[t].tid, NULL);
    }
    if (s->sd->ops->close_proc)
        s->sd->ops->close_proc(s);
    int bad = 0;
    for (int t = 0; t < nt; t++)
        bad |= r[t].error || r[t].wrong;
    _exit(bad ? 1 : 0);
}
