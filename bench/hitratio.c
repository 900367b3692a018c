/*
 * hitratio.c - shmkv-bench --hitratio: how many gets a cache answers.
 *
 * For each Zipf skew s and cache size (a percentage of the working set's
 * bytes, rounded to whole MiB so that memcached's -m can say it exactly),
 * the same request stream is replayed against each system as a
 * cache-aside loop: get the key; on a miss, put it.  The first --warmup
 * requests fill the cache and are not counted; the hit ratio is that of the
 * next --requests.
 *
 * Keys: key i (0 <= i < N) is the 16 hex digits of mix64(i); Zipf rank r
 * is key r - 1.  Values: key i's value has a fixed length drawn
 * log-uniformly from 100 B..10 KiB by a hash of i (so every system sees
 * the same sizes, and a key's size says nothing of its popularity), and
 * contents derived from i; every value a system returns is checked.
 * The working set is the key + value bytes of all N keys.
 *
 * Systems, each given the same budget B:
 *   shmkv      a table created with SHMKV_CACHE and max_bytes = B (which
 *              counts the whole file: header, index, record headers, free
 *              space); hit ratio from its own get results.
 *   lru        an exact LRU simulated here: the key + value bytes of the
 *              cached keys are at most B (no overhead counted at all); a
 *              hit moves the key to the front, a miss inserts it there and
 *              evicts from the back until it fits.  Keys are the numbers
 *              0..N-1, so the "hash map" is an array indexed by key number
 *              (a perfect hash), with a doubly linked list through it: O(1)
 *              per request.
 *   memcached  a fresh memcached -m B/MiB (its defaults otherwise: slab
 *              allocator, segmented LRU, evicting) on a Unix socket,
 *              spoken to in its text protocol: gets in batches of up to 32
 *              distinct keys ("get k1 k2 ..."), and the batch's misses set
 *              with "noreply" in the same write as the next batch's get.
 *              The only difference from one get and set at a time: a set
 *              of a batch's miss comes after the batch's other gets, which
 *              are of other keys (a set could evict one of them in between
 *              only if memcached's LRU tail held it; at 32 of hundreds of
 *              thousands of requests this does not show in the ratio).
 *
 * Single process, one request at a time (memcached: per batch; see
 * hitratio_mc.c).
 */
#include "hitratio.h"
#include "shmkv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HR_MIN_MIB 4   /* smallest budget (memcached refuses -m 1: its default
                        * item limit, 1 MiB, must be at most half of -m) */
#define MIB 1048576.0

static const char *const sys_name[NS] = { "shmkv", "lru", "memcached" };

/* ---- keys and values -------------------------------------------------- */

size_t hr_vlen(uint64_t i)
{
    double u = (double)(mix64(i ^ 0x3243f6a8885a308dULL) >> 11) * 0x1.0p-53;
    double v = HR_VMIN * exp(u * log((double)HR_VMAX / HR_VMIN));
    size_t n = (size_t)v;
    return n < HR_VMIN ? HR_VMIN : n > HR_VMAX ? HR_VMAX : n;
}

void hr_key(uint64_t i, char *k)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = mix64(i);
    for (int j = 0; j < HR_KLEN; j++)
        k[j] = hex[(h >> (4 * j)) & 15];
}

size_t hr_val(uint64_t i, unsigned char *v)
{
    size_t n = hr_vlen(i);
    uint64_t seed = mix64(i ^ 0x13198a2e03707344ULL);
    for (size_t o = 0; o < n; o += 8) {
        seed = mix64(seed + 0x9e3779b97f4a7c15ULL);
        memcpy(v + o, &seed, n - o < 8 ? n - o : 8);
    }
    return n;
}

int hr_check(uint64_t i, const void *v, size_t len, unsigned char *exp)
{
    return len == hr_vlen(i) && hr_val(i, exp) == len && memcmp(exp, v, len) == 0;
}

/* ---- one cell's results ----------------------------------------------- */

static double ratio(const struct replay *rp, const struct cell *c, int s)
{
    return c->have[s] && rp->nreq > rp->warm ? (double)c->hits[s] / (double)(rp->nreq - rp->warm)
                                             : 0;
}

/* ---- LRU -------------------------------------------------------------- */

struct lru {
    int32_t *prev, *next;          /* -1: none */
    uint8_t *in;
    int32_t head, tail;            /* most and least recently used */
    uint64_t bytes, keys, evictions;
};

static void lru_unlink(struct lru *l, int32_t k)
{
    if (l->prev[k] >= 0)
        l->next[l->prev[k]] = l->next[k];
    else
        l->head = l->next[k];
    if (l->next[k] >= 0)
        l->prev[l->next[k]] = l->prev[k];
    else
        l->tail = l->prev[k];
}

static void lru_push_front(struct lru *l, int32_t k)
{
    l->prev[k] = -1;
    l->next[k] = l->head;
    if (l->head >= 0)
        l->prev[l->head] = k;
    l->head = k;
    if (l->tail < 0)
        l->tail = k;
}

static int run_lru(const struct replay *rp, struct cell *c)
{
    uint64_t nkeys = rp->nkeys, nreq = rp->nreq, warm = rp->warm;
    const uint32_t *reqs = rp->reqs;
    struct lru l = { .head = -1, .tail = -1 };
    l.prev = malloc(nkeys * sizeof *l.prev);
    l.next = malloc(nkeys * sizeof *l.next);
    l.in = calloc(nkeys, 1);
    if (!l.prev || !l.next || !l.in) {
        fprintf(stderr, "shmkv-bench: out of memory\n");
        free(l.prev), free(l.next), free(l.in);
        return -1;
    }
    double t0 = now_sec();
    uint64_t hits = 0;
    for (uint64_t r = 0; r < nreq; r++) {
        int32_t k = (int32_t)reqs[r];
        if (l.in[k]) {
            hits += r >= warm;
            if (l.head != k) {
                lru_unlink(&l, k);
                lru_push_front(&l, k);
            }
            continue;
        }
        uint64_t sz = HR_KLEN + hr_vlen((uint64_t)k);
        if (sz > c->budget)
            continue;
        while (l.bytes + sz > c->budget) {
            int32_t v = l.tail;
            lru_unlink(&l, v);
            l.in[v] = 0;
            l.bytes -= HR_KLEN + hr_vlen((uint64_t)v);
            l.keys--;
            l.evictions++;
        }
        lru_push_front(&l, k);
        l.in[k] = 1;
        l.bytes += sz;
        l.keys++;
    }
    c->secs[S_LRU] = now_sec() - t0;
    c->hits[S_LRU] = hits;
    c->evictions[S_LRU] = l.evictions;
    c->keys[S_LRU] = l.keys;
    c->bytes[S_LRU] = l.bytes;
    c->have[S_LRU] = 1;
    free(l.prev), free(l.next), free(l.in);
    return 0;
}

/* ---- shmkv ------------------------------------------------------------ */

static int run_shmkv(const struct replay *rp, struct cell *c)
{
    unsigned char *vb = rp->vb, *gb = rp->gb, *eb = rp->eb;
    if (run_dir_open(rp->cl, rp->cfg->dir))
        return -1;
    char path[320];
    snprintf(path, sizeof path, "%s/cache", rp->cl->run_dir);
    track_file(rp->cl, path);
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_CREATE | SHMKV_EXCL | SHMKV_CACHE;
    o.max_bytes = c->budget;
    shmkv *db;
    int rc = shmkv_open(path, &o, &db), failed = 0;
    if (rc) {
        fprintf(stderr, "shmkv-bench: shmkv_open %s: %s\n", path, shmkv_strerror(rc));
        failed = 1;
        goto out;
    }
    char k[HR_KLEN];
    uint64_t hits = 0, wrong = 0;
    double t0 = now_sec();
    for (uint64_t r = 0; r < rp->nreq; r++) {
        uint64_t i = rp->reqs[r];
        size_t len;
        hr_key(i, k);
        rc = shmkv_get(db, k, HR_KLEN, gb, HR_VMAX, &len);
        if (rc == 0) {
            hits += r >= rp->warm;
            if (!hr_check(i, gb, len, eb) && wrong++ == 0)
                fprintf(stderr, "shmkv-bench: shmkv: key %" PRIu64 ": a wrong value "
                        "(%zu bytes)\n", i, len);
            continue;
        }
        if (rc != -ENOENT) {
            fprintf(stderr, "shmkv-bench: shmkv_get: %s\n", shmkv_strerror(rc));
            failed = 1;
            break;
        }
        size_t vl = hr_val(i, vb);
        if ((rc = shmkv_put(db, k, HR_KLEN, vb, vl)) != 0) {
            fprintf(stderr, "shmkv-bench: shmkv_put (%zu bytes): %s\n", vl, shmkv_strerror(rc));
            failed = 1;
            break;
        }
    }
    c->secs[S_SHMKV] = now_sec() - t0;
    if (wrong) {
        fprintf(stderr, "shmkv-bench: shmkv: %" PRIu64 " wrong values\n", wrong);
        failed = 1;
    }
    shmkv_stats st;
    if (!failed && shmkv_stat(db, &st) == 0) {
        c->hits[S_SHMKV] = hits;
        c->evictions[S_SHMKV] = st.evictions;
        c->keys[S_SHMKV] = st.keys;
        c->bytes[S_SHMKV] = st.live_bytes;
        c->sh_used = st.used_bytes;
        c->sh_file = st.file_bytes;
        c->sh_index = st.index_bytes;
        c->have[S_SHMKV] = 1;
    }
    if (!failed && (rc = shmkv_check(db, stderr)) != 0) {
        fprintf(stderr, "shmkv-bench: shmkv_check after the replay: %s\n", shmkv_strerror(rc));
        failed = 1;
    }
    shmkv_close(db);
out:
    shmkv_unlink(path);
    untrack_file(rp->cl, path);
    if (run_dir_close(rp->cl))
        failed = 1;
    return failed ? -1 : 0;
}

/* ---- reports ---------------------------------------------------------- */

static void print_text(const struct replay *rp, const struct cell *cells, int n, const int *on)
{
    printf("%5s %6s %9s", "skew", "cache", "budget");
    for (int s = 0; s < NS; s++)
        if (on[s])
            printf(" %10s", sys_name[s]);
    if (on[S_SHMKV] && on[S_LRU])
        printf(" %11s", "shmkv-lru");
    if (on[S_SHMKV])
        printf("  %-44s", "shmkv: keys, live MiB, evictions, s");
    if (on[S_MC])
        printf("  %s", "memcached: items, bytes MiB, evictions, s");
    printf("\n");
    for (int i = 0; i < n; i++) {
        const struct cell *c = &cells[i];
        char b[32];
        snprintf(b, sizeof b, "%.0f MiB", (double)c->budget / MIB);
        printf("%5.2f %5.3g%% %9s", c->skew, c->pct, b);
        for (int s = 0; s < NS; s++)
            if (on[s]) {
                if (c->have[s])
                    printf(" %9.2f%%", 100 * ratio(rp, c, s));
                else
                    printf(" %10s", "-");
            }
        if (on[S_SHMKV] && on[S_LRU]) {
            if (c->have[S_SHMKV] && c->have[S_LRU])
                printf(" %+10.2fpp", 100 * (ratio(rp, c, S_SHMKV) - ratio(rp, c, S_LRU)));
            else
                printf(" %11s", "-");
        }
        if (on[S_SHMKV]) {
            char d[64];
            snprintf(d, sizeof d, "%" PRIu64 ", %.1f, %" PRIu64 ", %.1f", c->keys[S_SHMKV],
                     (double)c->bytes[S_SHMKV] / MIB, c->evictions[S_SHMKV], c->secs[S_SHMKV]);
            printf("  %-44s", d);
        }
        if (on[S_MC])
            printf("  %" PRIu64 ", %.1f, %" PRIu64 ", %.1f", c->keys[S_MC],
                   (double)c->bytes[S_MC] / MIB, c->evictions[S_MC], c->secs[S_MC]);
        printf("\n");
    }
    if (on[S_LRU]) {
        printf("# lru holds (keys, key+value MiB) at the end:");
        for (int i = 0; i < n; i++)
            printf("%s %" PRIu64 "/%.1f", i ? "," : "", cells[i].keys[S_LRU],
                   (double)cells[i].bytes[S_LRU] / MIB);
        printf("\n");
    }
}

static int write_tsv(const struct replay *rp, const char *path, const struct cell *cells,
                     int n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "shmkv-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "skew\tpct\tbudget_bytes\tshmkv\tlru\tmemcached\tshmkv_keys\tshmkv_live_bytes"
            "\tshmkv_evictions\tshmkv_used_bytes\tshmkv_index_bytes\tlru_keys\tlru_bytes"
            "\tmemcached_items\tmemcached_bytes\tmemcached_evictions\tmemcached_limit"
            "\tshmkv_secs\tlru_secs\tmemcached_secs\n");
    for (int i = 0; i < n; i++) {
        const struct cell *c = &cells[i];
        fprintf(f, "%.3f\t%.3f\t%" PRIu64, c->skew, c->pct, c->budget);
        for (int s = 0; s < NS; s++)
            if (c->have[s])
                fprintf(f, "\t%.6f", ratio(rp, c, s));
            else
                fprintf(f, "\t-");
        fprintf(f, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
                "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
                "\t%.3f\t%.3f\t%.3f\n", c->keys[S_SHMKV], c->bytes[S_SHMKV],
                c->evictions[S_SHMKV], c->sh_used, c->sh_index, c->keys[S_LRU], c->bytes[S_LRU],
                c->keys[S_MC], c->bytes[S_MC], c->evictions[S_MC], c->mc_limit,
                c->secs[S_SHMKV], c->secs[S_LRU], c->secs[S_MC]);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static void print_json(const struct replay *rp, const struct cell *cells, int n, uint64_t ws,
                       int failed)
{
    printf("{\n  \"mode\": \"hitratio\",\n  \"shmkv_version\": \"%s\",\n  \"keys\": %" PRIu64
           ",\n  \"key_bytes\": %d,\n  \"value_bytes\": [%d, %d],\n  \"working_set_bytes\": %"
           PRIu64 ",\n  \"warmup\": %" PRIu64 ",\n  \"requests\": %" PRIu64 ",\n  \"ok\": %s,\n"
           "  \"cells\": [", SHMKV_VERSION_STRING, rp->nkeys, HR_KLEN, HR_VMIN, HR_VMAX, ws,
           rp->cfg->hr_warmup, rp->cfg->hr_requests, failed ? "false" : "true");
    for (int i = 0; i < n; i++) {
        const struct cell *c = &cells[i];
        printf("%s\n    {\"skew\": %.3f, \"pct\": %.3f, \"budget_bytes\": %" PRIu64, i ? "," : "",
               c->skew, c->pct, c->budget);
        for (int s = 0; s < NS; s++) {
            if (!c->have[s])
                continue;
            printf(", \"%s\": {\"hit_ratio\": %.6f, \"hits\": %" PRIu64 ", \"keys\": %" PRIu64
                   ", \"bytes\": %" PRIu64 ", \"evictions\": %" PRIu64 ", \"seconds\": %.3f",
                   sys_name[s], ratio(rp, c, s), c->hits[s], c->keys[s], c->bytes[s],
                   c->evictions[s], c->secs[s]);
            if (s == S_SHMKV)
                printf(", \"used_bytes\": %" PRIu64 ", \"file_bytes\": %" PRIu64
                       ", \"index_bytes\": %" PRIu64, c->sh_used, c->sh_file, c->sh_index);
            if (s == S_MC)
                printf(", \"limit_maxbytes\": %" PRIu64 ", \"set_errors\": %" PRIu64,
                       c->mc_limit, c->mc_set_errors);
            printf("}");
        }
        printf("}");
    }
    printf("\n  ]\n}\n");
}

/* ---- main ------------------------------------------------------------- */

/* Which of the systems LIST names (and can run here); 0 or -1 (said). */
static int choose(const char *list, int *on)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int s;
        for (s = 0; s < NS && strcmp(t, sys_name[s]); s++)
            ;
        if (s == NS) {
            fprintf(stderr, "shmkv-bench: --hitratio: unknown system %s (shmkv, lru, "
                    "memcached)\n", t);
            return -1;
        }
        on[s] = 1;
    }
    const char *mc_why = NULL;
#ifdef HAVE_MEMCACHED
    if (on[S_MC] && !find_program("memcached"))
        mc_why = "memcached not found in PATH (scripts/install-deps.sh bench)";
#else
    if (on[S_MC])
        mc_why = "built without libmemcached (scripts/install-deps.sh bench, then rebuild)";
#endif
    if (mc_why) {
        fprintf(stderr, "shmkv-bench: memcached left out: %s\n", mc_why);
        on[S_MC] = 0;
    }
    return 0;
}

static void print_header(const struct config *cfg, uint64_t ws, const int *on)
{
    const char *mc_version = "";
#ifdef HAVE_MEMCACHED
    if (on[S_MC])
        mc_version = mc_server_version();
#else
    (void)on;
#endif
    printf("# shmkv-bench --hitratio: %" PRIu64 " keys of %d B, values %d B..%d B "
           "(log-uniform, fixed per key), working set %.1f MiB (key + value bytes); "
           "Zipf keys; %" PRIu64 " requests counted after %" PRIu64 " of warm-up; "
           "cache-aside (get; on a miss, put); hit ratio of the counted gets\n", cfg->nkeys,
           HR_KLEN, HR_VMIN, HR_VMAX, (double)ws / MIB, cfg->hr_requests, cfg->hr_warmup);
    printf("# budget: the %% of the working set rounded to whole MiB (at least %d); "
           "shmkv: SHMKV_CACHE, max_bytes = budget (the whole file); lru: exact LRU, "
           "key + value bytes <= budget; memcached%s%s: -m budget/MiB, its defaults, "
           "text protocol, gets in batches of %d distinct keys, sets noreply\n",
           HR_MIN_MIB, mc_version[0] ? " " : "", mc_version, MC_BATCH);
    fflush(stdout);
}

/* Each system on cell c (a skew and a cache size); 0 or -1. */
static int run_cell(const struct replay *rp, struct cell *c, const int *on)
{
    int failed = 0;
    if (on[S_SHMKV] && run_shmkv(rp, c))
        failed = 1;
    if (on[S_LRU] && run_lru(rp, c))
        failed = 1;
#ifdef HAVE_MEMCACHED
    if (on[S_MC] && run_memcached(rp, c))
        failed = 1;
#endif
    fprintf(stderr, "# skew %.2f, cache %g %% (%.0f MiB): shmkv %.4f, lru %.4f, "
            "memcached %.4f\n", c->skew, c->pct, (double)c->budget / MIB,
            ratio(rp, c, S_SHMKV), ratio(rp, c, S_LRU), ratio(rp, c, S_MC));
    return failed ? -1 : 0;
}

int hitratio_main(const struct config *cfg, struct cleanup *cl)
{
    int on[NS] = { 0 };
    if (choose(cfg->systems, on))
        return 2;
    struct replay rp = { .cfg = cfg, .cl = cl, .nkeys = cfg->nkeys, .warm = cfg->hr_warmup,
                         .nreq = cfg->hr_warmup + cfg->hr_requests };
    if (rp.nkeys > INT32_MAX) {
        fprintf(stderr, "shmkv-bench: --hitratio: too many keys\n");
        return 2;
    }
    uint64_t ws = 0;
    for (uint64_t i = 0; i < rp.nkeys; i++)
        ws += HR_KLEN + hr_vlen(i);
    const struct numlist *skews = &cfg->hr_skews, *pcts = &cfg->hr_pcts;
    rp.reqs = malloc(rp.nreq * sizeof *rp.reqs);
    rp.vb = malloc(HR_VMAX), rp.gb = malloc(HR_VMAX), rp.eb = malloc(HR_VMAX);
    struct cell *cells = calloc((size_t)(skews->n * pcts->n), sizeof *cells);
    if (!rp.reqs || !rp.vb || !rp.gb || !rp.eb || !cells) {
        fprintf(stderr, "shmkv-bench: out of memory\n");
        return 1;
    }
    if (!cfg->json)
        print_header(cfg, ws, on);
    int n = 0, failed = 0;
    for (int si = 0; si < skews->n && !failed; si++) {
        struct zipf z;
        struct rng rg;
        zipf_init(&z, rp.nkeys, skews->v[si]);
        rng_seed(&rg, 0x7a1bf00dULL + (uint64_t)si);
        for (uint64_t r = 0; r < rp.nreq; r++)
            rp.reqs[r] = (uint32_t)(zipf_draw(&z, &rg) - 1);
        for (int pi = 0; pi < pcts->n && !failed; pi++) {
            struct cell *c = &cells[n++];
            c->skew = skews->v[si];
            c->pct = pcts->v[pi];
            double mib = floor((double)ws * pcts->v[pi] / 100 / MIB + 0.5);
            c->budget = (uint64_t)(mib < HR_MIN_MIB ? HR_MIN_MIB : mib) << 20;
            if (run_cell(&rp, c, on))
                failed = 1;
        }
    }
    if (cfg->json)
        print_json(&rp, cells, n, ws, failed);
    else
        print_text(&rp, cells, n, on);
    if (cfg->tsv && write_tsv(&rp, cfg->tsv, cells, n))
        failed = 1;
    if (failed && !cfg->json)
        printf("FAILED\n");
    free(rp.reqs);
    free(rp.vb), free(rp.gb), free(rp.eb);
    free(cells);
    return failed ? 1 : 0;
}
