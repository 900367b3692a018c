/*
 * shmkv-bench: throughput, latency, memory and correctness of shmkv next to
 * LMDB, Redis, memcached and Boost.Interprocess, with several processes.
 *
 *   shmkv-bench [--procs N] [--threads T] [--keys N] [--key-size B|A-B]
 *               [--val-size B|A-B] [--system LIST|all] [--runs R] [--json] ...
 *   (shmkv-bench --help lists every option)
 *
 * For each run and system, a fresh store, then the phases (as in
 * SharedHashFile's test):
 *
 *   PUT  each worker inserts its share of the N unique keys (--put-batch B:
 *        B pairs a call, where the system has a batch);
 *   MIX  for --mix-seconds (5) or --mix-ops steps, each step a get of a
 *        random key (--mix-get 98 %) or else an update of a random key of
 *        the worker's own share to a new version of its value: a delete and
 *        a put, a put (--op put), or an increment of a counter (--op incr);
 *   GET  every key once in a random order, each worker its share (with
 *        --dist zipf: N gets of Zipf-distributed keys);
 *   DEL  each worker deletes its share.
 *
 * Workers (--procs processes of --threads threads) are fork()ed before each
 * phase (phases.c), attach to the store, map its pages in (as a long-lived
 * process would have them; --no-prefault skips this, see prefault() in
 * worker.c), say they are ready and block on a pipe; closing the pipe
 * releases them together.  A phase's time runs (CLOCK_MONOTONIC) from the
 * release to the last worker's finish; "M ops/s" counts every get, put,
 * delete and increment (a MIX update by delete and put is two) over that
 * time, and the figures in brackets are each worker's own operations over
 * its own time.  Once a second a progress line goes to stderr (when it is
 * a terminal, or with --progress): total M ops/s and each worker's share.
 *
 * Every get is checked against the value expected for its key and version
 * (worker.c says how, and what a get racing an update may see); a
 * mismatch fails the run.  After each phase the store is asked how many
 * keys it holds, and how much memory: shmkv's file bytes, LMDB's pages in
 * use, Redis' used_memory, memcached's "bytes" (and the servers' RSS).
 *
 * Latency: every --sample-th (64th) operation is timed with two
 * clock_gettime(CLOCK_MONOTONIC) calls; the header reports what a call
 * costs.  p50/p99/p99.9 come from a histogram of those samples (6 %
 * buckets), max is the largest sample; --sample 1 times every operation
 * (an exact max, at the cost of two clock reads per operation).
 *
 * With --cache PCT it also runs shmkv-cache, a table created with
 * SHMKV_CACHE and max_bytes = PCT % of the working set (and memcached gets
 * that budget and evicts): for these a get may miss and a delete find
 * nothing, while every value they do return is still checked.
 * shmkv-bench --hitratio is another mode: hit ratios of shmkv's cache, an
 * exact LRU and memcached over Zipf workloads (hitratio.c).
 *
 * Everything it creates (files, server directories, servers) is removed at
 * the end, also on SIGINT/SIGTERM/SIGHUP.  Exit status: 0 if every run
 * passed, 1 if one failed, 2 on bad usage.
 */
#include "bench.h"
#include "shmkv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --hitratio: its own defaults, then hitratio.c. */
static int hitratio(struct bench *b)
{
    struct config *c = &b->cfg;
    if (!option_given(c, "keys"))
        c->nkeys = c->quick ? 20000 : 250000;
    if (c->quick && !option_given(c, "requests"))
        c->hr_requests = 100000;
    if (c->quick && !option_given(c, "warmup"))
        c->hr_warmup = 200000;
    if (!c->systems)
        c->systems = "shmkv,lru,memcached";
    if (strlen(c->dir) > 200) {
        fprintf(stderr, "shmkv-bench: --dir: path too long\n");
        return 2;
    }
    cleanup_on_signals(&b->cl);
    int rc = hitratio_main(c, &b->cl);
    systems_stop();
    remove_tracked(&b->cl);
    return rc;
}

/* The cache budget of --cache (or of a shmkv-cache named in --system): the
 * working set as a store holds it, per pair an 8-byte record header, key
 * and value padded to 8 bytes, and some 13 bytes of index (a slot in a
 * 64-byte bucket of 7, split at 5 keys), so a cache of PCT % holds about
 * PCT % of the pairs. */
static void size_cache(struct config *c)
{
    if (c->cache_pct <= 0)
        c->cache_pct = 50;
    for (uint64_t i = 0; i < c->nkeys; i++)
        c->ws_bytes += ((8 + key_len(&c->key, i) + val_len(&c->val, i, 0) + 7) & ~(uint64_t)7) + 13;
    c->cache_bytes = (uint64_t)((double)c->ws_bytes * c->cache_pct / 100);
    if (c->cache_bytes < SHMKV_MIN_BYTES)
        c->cache_bytes = SHMKV_MIN_BYTES;
    c->cache_mc_mib = (c->cache_bytes + (1u << 20) - 1) >> 20;
    if (c->cache_mc_mib < 2)
        c->cache_mc_mib = 2; /* memcached: -m at least twice its item limit (1 MiB) */
}

/* What the options mean together: --quick's defaults, what follows from
 * the others, the checks across them.  Returns 0 or 2 (bad usage, said). */
static int finish_config(struct config *c)
{
    if (c->quick && !option_given(c, "keys"))
        c->nkeys = 20000;
    if (c->quick && !option_given(c, "mix-seconds") && !option_given(c, "mix-ops"))
        c->mix_seconds = 1;
    if (!c->progress && isatty(2))
        c->progress = 1;
    if (!c->systems)
        c->systems = "all";
    c->workers = c->procs * c->threads;
    if (c->workers > MAX_WORKERS) {
        fprintf(stderr, "shmkv-bench: at most %d workers\n", MAX_WORKERS);
        return 2;
    }
    if (strlen(c->dir) > 200) {
        fprintf(stderr, "shmkv-bench: --dir: path too long\n");
        return 2;
    }
    if (c->nkeys < (uint64_t)c->workers) {
        fprintf(stderr, "shmkv-bench: fewer keys than workers\n");
        return 2;
    }
    if (c->key.min < 8 && c->nkeys > (1ULL << (8 * c->key.min))) {
        fprintf(stderr, "shmkv-bench: %" PRIu64 " unique keys do not fit in %zu bytes\n",
                c->nkeys, c->key.min);
        return 2;
    }
    if (c->mix_op == MIX_INCR && (c->cache_pct > 0 || strstr(c->systems, "shmkv-cache"))) {
        fprintf(stderr, "shmkv-bench: --op incr: counters in a cache that evicts lose counts, so "
                "no exact value could be checked (drop --cache)\n");
        return 2;
    }
    if (c->mix_op == MIX_INCR) {
        if (option_given(c, "val-size")) {
            fprintf(stderr, "shmkv-bench: --op incr: values are counters (decimal text), "
                    "--val-size does not apply\n");
            return 2;
        }
        c->val = (struct sizes){ 1, 20 }; /* up to 2^64: 20 digits */
    }
    if (!c->list_systems && (c->cache_pct > 0 || strstr(c->systems, "shmkv-cache")))
        size_cache(c);
    return 0;
}

/* The systems of --system, and shmkv-cache if --cache asks for it; 0 or 2. */
static int choose_systems(struct bench *b)
{
    const struct config *c = &b->cfg;
    if (systems_choose(&b->sys, c, c->systems))
        return 2;
    if (c->cache_pct > 0 && !strstr(c->systems, "shmkv-cache") &&
        systems_add(&b->sys, c, "shmkv-cache", 0))
        return 2;
    return 0;
}

/* The phases of one run of system SYS on store S; 0, or 1 if one failed. */
static int run_phases(struct bench *b, int sys, int run, struct store *s)
{
    int failed = 0;
    for (int ph = 0; ph < NPH; ph++) {
        if (!b->cfg.phase_on[ph])
            continue;
        struct measure *m = calloc(1, sizeof *m);
        if (!m) {
            fprintf(stderr, "shmkv-bench: out of memory\n");
            return 1;
        }
        b->meas[sys][ph][run] = m;
        if (run_phase(b, s, (enum phase)ph, m) != 0)
            failed = 1;
        if (!b->cfg.json)
            report_phase(b, s->sd, (enum phase)ph, m, run);
        if (!m->ok)
            break;
    }
    return failed;
}

/* One run of one system: a fresh store, the phases, teardown; 0, or 1 if
 * something failed. */
static int run_system(struct bench *b, int sys, int run)
{
    const struct sysdef *sd = &b->sys.d[sys];
    struct store s = { .sd = sd, .cfg = &b->cfg, .cl = &b->cl };
    if (run_dir_open(&b->cl, b->cfg.dir))
        return 1;
    shared_reset_versions(b);
    int failed = 0;
    char err[1024] = "";
    if (sd->ops->setup(&s, err, sizeof err) != 0) {
        fprintf(stderr, "shmkv-bench: %s: creating the store: %s\n", sd->name, err);
        failed = 1;
    } else {
        failed = run_phases(b, sys, run, &s);
        if (sd->ops->teardown(&s, err, sizeof err) != 0) {
            fprintf(stderr, "shmkv-bench: %s: removing the store: %s\n", sd->name, err);
            failed = 1;
        }
    }
    if (run_dir_close(&b->cl))
        failed = 1;
    return failed;
}

int main(int argc, char **argv)
{
    static struct bench b; /* large (the measures): not on the stack */
    const struct config *c = &b.cfg;
    int rc = parse_options(&b.cfg, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (c->stall_secs > 0)
        return stall_probe(c->stall_secs);
    if (c->hitratio)
        return hitratio(&b);
    if (c->queue) {
        if (c->quick && !option_given(c, "queue-items"))
            b.cfg.queue_items = 20000;
        if (c->quick && !option_given(c, "queue-wakes"))
            b.cfg.queue_wakes = 500;
        return queue_main(c, &b.cl);
    }
    if ((rc = finish_config(&b.cfg)) != 0)
        return rc;
    if (c->list_systems) {
        systems_add_all(&b.sys, c, 0);
        for (int i = 0; i < b.sys.n; i++)
            printf("%s\n", b.sys.d[i].name);
        return 0;
    }
    if ((rc = choose_systems(&b)) != 0)
        return rc;

    cleanup_on_signals(&b.cl);
    if (shared_init(&b))
        return 1;
    b.timer_ns = clock_cost_ns();
    if (!c->json)
        report_header(&b);
    int failed = 0;
    for (int r = 0; r < c->runs; r++)
        for (int sys = 0; sys < b.sys.n; sys++)
            failed |= run_system(&b, sys, r);
    systems_stop();

    if (!c->json && c->runs > 1)
        report_summary(&b);
    if (c->json)
        report_json(&b);
    if (c->tsv && report_tsv(&b, c->tsv))
        failed = 1;
    free(b.sh.order);
    if (failed && !c->json)
        printf("FAILED\n");
    return failed ? 1 : 0;
}
