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
 *   PUT  each worker inserts its share of the N unique keys;
 *   MIX  for --mix-seconds (5) or --mix-ops steps, each step a get of a
 *        random key (--mix-get 98 %) or else a delete and a put of a random
 *        key of the worker's own share, with a new version of its value;
 *   GET  every key once in a random order, each worker its share (with
 *        --dist zipf: N gets of Zipf-distributed keys);
 *   DEL  each worker deletes its share.
 *
 * Workers (--procs processes of --threads threads) are fork()ed before each
 * phase, attach to the store, map its pages in (as a long-lived process
 * would have them; --no-prefault skips this, see prefault() in
 * bench_worker.c), say they are ready and block on a pipe; closing the pipe
 * releases them together.  A phase's time runs
 * (CLOCK_MONOTONIC) from the release to the last worker's finish; "M ops/s"
 * counts every get, put and delete (a MIX update is two) over that time,
 * and the figures in brackets are each worker's own operations over its
 * own time.  Once a second a progress line goes to stderr (when it is a
 * terminal, or with --progress): total M ops/s and each worker's share.
 *
 * Every get is checked against the value expected for its key and version
 * (bench_worker.c says how, and what a get racing an update may see); a
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
 * exact LRU and memcached over Zipf workloads (bench_hitratio.c).
 *
 * Everything it creates (files, server directories, servers) is removed at
 * the end, also on SIGINT/SIGTERM/SIGHUP.  Exit status: 0 if every run
 * passed, 1 if one failed, 2 on bad usage.
 */
#include "bench.h"
#include "shmkv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct config cfg = {
    .procs = 2, .threads = 1, .nkeys = 1000000,
    .key_min = 8, .key_max = 8, .val_min = 8, .val_max = 8,
    .runs = 1, .batch = 1, .pipeline = 16,
    .mix_get = 0.98, .mix_seconds = 5, .zipf_s = 0.99,
    .sample = 64, .phase_on = { 1, 1, 1, 1 }, .dir = "/dev/shm", .prefault = 1,
};

static const char *const ph_name[NPH] = { "PUT", "MIX", "GET", "DEL" };
static const char *const op_name[NOPT] = { "get", "put", "del" };

static int json, show_progress;
static const char *tsv_path;
static double timer_ns; /* what one clock_gettime costs */

/* ---- cleanup ---------------------------------------------------------- */

char run_dir[256];
static char tracked[8][384];
static pid_t parent_pid;
static volatile pid_t kids[MAX_PROCS];

static const struct sysops *const all_ops[] = {
    &shmkv_sysops,
#ifdef HAVE_LMDB
    &lmdb_sysops,
#endif
#ifdef HAVE_HIREDIS
    &redis_sysops,
#endif
#ifdef HAVE_MEMCACHED
    &memcached_sysops,
#endif
#ifdef HAVE_BOOST
    &boost_sysops,
#endif
};
#define NOPS (sizeof all_ops / sizeof all_ops[0])

void track_file(const char *path)
{
    for (int i = 0; i < 8; i++)
        if (!tracked[i][0]) {
            snprintf(tracked[i], sizeof tracked[i], "%s", path);
            return;
        }
}

void untrack_file(const char *path)
{
    for (int i = 0; i < 8; i++)
        if (!strcmp(tracked[i], path))
            tracked[i][0] = 0;
}

/* Async-signal-safe: unlink, rmdir. */
static void remove_tracked(void)
{
    for (int i = 0; i < 8; i++)
        if (tracked[i][0] && unlink(tracked[i]) != 0)
            rmdir(tracked[i]);
    if (run_dir[0])
        rmdir(run_dir);
}

static void on_signal(int sig)
{
    if (getpid() == parent_pid) {
        for (int i = 0; i < MAX_PROCS; i++)
            if (kids[i] > 0)
                kill(kids[i], SIGKILL);
        for (size_t i = 0; i < NOPS; i++)
            if (all_ops[i]->kill_now)
                all_ops[i]->kill_now();
        remove_tracked();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- the systems chosen ----------------------------------------------- */

static struct sysdef sysdefs[MAX_SYS];
static int nsys;
static char skipped[1024]; /* what 'all' left out, and why */

static const struct sysops *ops_named(const char *base)
{
    for (size_t i = 0; i < NOPS; i++)
        if (!strcmp(all_ops[i]->base, base))
            return all_ops[i];
    return NULL;
}

/* Add system NAME: a base name, or "redis-pD" / "memcached-pD".  Returns 0,
 * or -1 with a message when it is unknown or unavailable. */
static int add_system(const char *name, int quiet)
{
    char base[32];
    unsigned depth = 0;
    int cache = 0;
    if (!strcmp(name, "shmkv-cache")) { /* shmkv created with SHMKV_CACHE (--cache) */
        cache = 1;
        name = "shmkv";
    }
    const char *dash = strstr(name, "-p");
    size_t bl = dash ? (size_t)(dash - name) : strlen(name);
    if (bl >= sizeof base)
        goto unknown;
    memcpy(base, name, bl);
    base[bl] = 0;
    if (dash) {
        char *end;
        unsigned long d = strtoul(dash + 2, &end, 10);
        if (*end || d < 2 || d > MAX_DEPTH || (strcmp(base, "redis") && strcmp(base, "memcached")))
            goto unknown;
        depth = (unsigned)d;
    }
    static const char *const known[] = { "shmkv", "lmdb", "redis", "memcached", "boost" };
    int is_known = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        is_known |= !strcmp(base, known[i]);
    if (!is_known)
        goto unknown;
    const struct sysops *o = ops_named(base);
    const char *why = !o ? "built without it (its headers were not found; "
                           "scripts/install-deps.sh bench, then rebuild)"
                    : o->unavailable ? o->unavailable() : NULL;
    if (why) {
        if (!quiet)
            fprintf(stderr, "shmkv-bench: %s: %s\n", name, why);
        size_t used = strlen(skipped);
        if (!dash && used < sizeof skipped)
            snprintf(skipped + used, sizeof skipped - used, "%s%s (%s)", used ? "; " : "",
                     name, why);
        return -1;
    }
    struct sysdef sd;
    memset(&sd, 0, sizeof sd);
    snprintf(sd.name, sizeof sd.name, "%s%s", name, cache ? "-cache" : "");
    sd.ops = o;
    /* with --cache, memcached is given the same budget and evicts too */
    sd.cache = cache || (cfg.cache_pct > 0 && !strcmp(base, "memcached"));
    if (depth) {
        sd.depth = depth;
        sd.pipelined = !strcmp(base, "redis");
    } else {
        sd.depth = o->exec && o->batches_gets && cfg.batch > 1 ? cfg.batch : 1;
    }
    for (int i = 0; i < nsys; i++)
        if (!strcmp(sysdefs[i].name, sd.name))
            return 0;
    if (nsys == MAX_SYS) {
        fprintf(stderr, "shmkv-bench: too many systems\n");
        return -1;
    }
    sysdefs[nsys++] = sd;
    return 0;
unknown:
    fprintf(stderr, "shmkv-bench: unknown system %s (shmkv, shmkv-cache, lmdb, redis, redis-pD, "
            "memcached, memcached-pD, boost, all)\n", name);
    return -1;
}

static int add_all(int quiet)
{
    char p[32];
    add_system("shmkv", quiet);
    add_system("lmdb", quiet);
    add_system("redis", quiet);
    snprintf(p, sizeof p, "redis-p%u", cfg.pipeline);
    add_system(p, quiet);
    add_system("memcached", quiet);
    snprintf(p, sizeof p, "memcached-p%u", cfg.pipeline);
    add_system(p, quiet);
    add_system("boost", quiet);
    return 0;
}

static int parse_systems(const char *list)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "all"))
            add_all(1);
        else if (add_system(t, 0))
            return -1;
    }
    return nsys ? 0 : -1;
}

/* ---- shared memory ---------------------------------------------------- */

static void *shared(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "shmkv-bench: mmap %zu bytes: %s\n", bytes, strerror(errno));
        exit(1);
    }
    return p;
}

/* Fresh version arrays (all zero) for a new store. */
static void reset_versions(void)
{
    size_t db = (cfg.nkeys + 63) / 64 * 8, sb = cfg.nkeys * 4;
    if (dirty) {
        munmap((void *)dirty, db);
        munmap((void *)seqs, sb);
    }
    dirty = shared(db);
    seqs = shared(sb);
}

/* ---- one phase -------------------------------------------------------- */

struct measure {
    int ok;
    double secs;
    uint64_t ops[NOPT], total;
    uint64_t checked, wrong, absent_race, other_ver, faults;
    uint64_t misses, del_absent;   /* cache mode: gets that missed, deletes that found nothing */
    double *wmops;                 /* each worker's own M ops/s */
    struct hist lat[NOPT];
    struct storeinfo si;
    int have_si;
    double bpp;                    /* memory bytes per pair (0: unknown) */
};

static struct measure *meas[MAX_SYS][NPH][MAX_RUNS];

static double mops_of(const struct measure *m)
{
    return m && m->secs > 0 ? (double)m->total / m->secs / 1e6 : 0;
}

static void print_progress(const struct sysdef *sd, enum phase ph, double elapsed,
                           double dt, uint64_t *last)
{
    uint64_t tot = 0, d[MAX_WORKERS];
    for (int w = 0; w < cfg.workers; w++) {
        uint64_t n = atomic_load_explicit(&progress[w].n, memory_order_relaxed);
        d[w] = n - last[w];
        last[w] = n;
        tot += d[w];
    }
    char line[4096];
    int len = snprintf(line, sizeof line, "%-13s %s %4.0f s %9.3f M ops/s  per worker:",
                       sd->name, ph_name[ph], elapsed, (double)tot / dt / 1e6);
    for (int w = 0; w < cfg.workers && len < (int)sizeof line - 16; w++)
        len += snprintf(line + len, sizeof line - (size_t)len, " %3.0f%%",
                        tot ? 100.0 * (double)d[w] / (double)tot : 0.0);
    fprintf(stderr, "%s\n", line);
}

static void sleep_until(double t)
{
    double d = t - now_sec();
    if (d <= 0)
        return;
    struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };
    nanosleep(&ts, NULL);
}

static int run_phase(struct store *s, enum phase ph, struct measure *m)
{
    int ready[2], go[2];
    memset(wres, 0, sizeof *wres * (size_t)cfg.workers);
    memset(progress, 0, sizeof *progress * (size_t)cfg.workers);
    atomic_store(stop_flag, 0);
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) {
        perror("shmkv-bench: pipe");
        return -1;
    }
    fflush(NULL);
    int started = 0, ok = 1;
    for (int p = 0; p < cfg.procs; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("shmkv-bench: fork");
            ok = 0;
            break;
        }
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            worker_process(s, ph, p, ready[1], go[0]);
        }
        kids[p] = pid;
        started++;
    }
    close(ready[1]);
    close(go[0]);

    /* Wait until every worker is attached (or gone), then release them. */
    int nready = 0;
    char c;
    for (;;) {
        ssize_t r = read(ready[0], &c, 1);
        if (r == 1)
            nready++;
        else if (r == 0 || errno != EINTR)
            break;
    }
    close(ready[0]);
    double t0 = now_sec();
    close(go[1]);
    if (nready != cfg.workers)
        ok = 0;

    double deadline = ph == PH_MIX && !cfg.mix_ops ? t0 + cfg.mix_seconds : 0;
    double last_print = t0;
    uint64_t *last = calloc((size_t)cfg.workers, sizeof *last);
    for (int left = started; left > 0;) {
        for (int p = 0; p < cfg.procs; p++) {
            int st;
            if (kids[p] <= 0 || waitpid(kids[p], &st, WNOHANG) != kids[p])
                continue;
            if (WIFSIGNALED(st)) {
                fprintf(stderr, "shmkv-bench: %s %s worker process %d killed by signal %d\n",
                        s->sd->name, ph_name[ph], p, WTERMSIG(st));
                ok = 0;
            }
            kids[p] = 0;
            left--;
        }
        if (!left)
            break;
        double t = now_sec(), wake = t + 0.005;
        if (deadline && t >= deadline) {
            atomic_store(stop_flag, 1);
            deadline = 0;
        }
        if (show_progress && last && t >= last_print + 1) {
            print_progress(s->sd, ph, t - t0, t - last_print, last);
            last_print = t;
        }
        if (deadline && deadline < wake)
            wake = deadline;
        sleep_until(wake);
    }
    free(last);

    double end = t0;
    m->wmops = calloc((size_t)cfg.workers, sizeof *m->wmops);
    for (int w = 0; w < cfg.workers; w++) {
        struct wres *r = &wres[w];
        if (r->error) {
            fprintf(stderr, "shmkv-bench: %s %s worker %d: %s\n", s->sd->name, ph_name[ph], w,
                    r->err);
            ok = 0;
        }
        if (r->wrong) {
            fprintf(stderr, "shmkv-bench: %s %s worker %d: %" PRIu64 " mismatches; the first: "
                    "%s\n", s->sd->name, ph_name[ph], w, r->wrong, r->first_wrong);
            ok = 0;
        }
        if (r->end > end)
            end = r->end;
        uint64_t n = 0;
        for (int t = 0; t < NOPT; t++) {
            m->ops[t] += r->ops[t];
            n += r->ops[t];
            hist_merge(&m->lat[t], &r->lat[t]);
        }
        m->total += n;
        m->checked += r->checked;
        m->wrong += r->wrong;
        m->absent_race += r->absent_race;
        m->other_ver += r->other_ver;
        m->misses += r->misses;
        m->del_absent += r->del_absent;
        m->faults += r->faults;
        if (m->wmops && r->end > t0)
            m->wmops[w] = (double)n / (r->end - t0) / 1e6;
    }
    m->secs = end - t0;
    uint64_t want = ph == PH_PUT ? m->ops[OP_PUT] : ph == PH_DEL ? m->ops[OP_DEL]
                  : ph == PH_GET ? m->ops[OP_GET] : cfg.nkeys;
    if (ok && want != cfg.nkeys) {
        fprintf(stderr, "shmkv-bench: %s %s: %" PRIu64 " operations, expected %" PRIu64 "\n",
                s->sd->name, ph_name[ph], want, cfg.nkeys);
        ok = 0;
    }
    char err[512] = "";
    if (s->sd->ops->inspect(s, &m->si, err, sizeof err) != 0) {
        fprintf(stderr, "shmkv-bench: %s: looking at the store: %s\n", s->sd->name, err);
        ok = 0;
    } else {
        m->have_si = 1;
        uint64_t keys = ph == PH_DEL ? 0 : cfg.nkeys;
        /* a cache holds what it kept: at most every key, none after DEL */
        if (s->sd->cache ? m->si.keys > keys : m->si.keys != keys) {
            fprintf(stderr, "shmkv-bench: %s holds %" PRIu64 " keys after %s, expected %"
                    PRIu64 "\n", s->sd->name, m->si.keys, ph_name[ph], keys);
            ok = 0;
        }
        if (m->si.keys)
            m->bpp = (double)m->si.mem_bytes / (double)m->si.keys;
    }
    m->ok = ok;
    return ok ? 0 : -1;
}

/* ---- text output ------------------------------------------------------ */

static int prec_of(double v)
{
    return v >= 0.995 ? 2 : v >= 0.00995 ? 3 : 5;
}

static void print_lat(const char *indent, const struct hist *h, const char *what)
{
    if (!h->count)
        return;
    printf("%s%s  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f us  (%" PRIu64 " timed)\n", indent,
           what, hist_quantile_us(h, 0.5), hist_quantile_us(h, 0.99),
           hist_quantile_us(h, 0.999), (double)h->max_ns / 1000.0, h->count);
}

static void print_phase(const struct sysdef *sd, enum phase ph, const struct measure *m,
                        int run)
{
    const char *ind = "                ";
    double total = mops_of(m);
    int prec = prec_of(total);
    printf("%-13s %s %10" PRIu64 " ops %9.*f M ops/s  [", sd->name, ph_name[ph], m->total,
           prec, total);
    for (int w = 0; w < cfg.workers; w++)
        printf("%s%.*f", w ? " " : "", prec, m->wmops ? m->wmops[w] : 0.0);
    printf("]");
    if (m->bpp > 0)
        printf("  %.1f B/pair", m->bpp);
    if (m->total)
        printf("  %.2f faults/op", (double)m->faults / (double)m->total);
    if (cfg.runs > 1)
        printf("  [run %d/%d]", run + 1, cfg.runs);
    if (!m->ok)
        printf("  FAILED");
    printf("\n");
    for (int t = 0; t < NOPT; t++)
        print_lat(ind, &m->lat[t], op_name[t]);
    if (ph == PH_MIX)
        printf("%s%" PRIu64 " gets, %" PRIu64 " deletes, %" PRIu64 " puts; ", ind,
               m->ops[OP_GET], m->ops[OP_DEL], m->ops[OP_PUT]);
    if (ph == PH_MIX || ph == PH_GET) {
        printf("%s%" PRIu64 " values checked, %" PRIu64 " wrong", ph == PH_GET ? ind : "",
               m->checked, m->wrong);
        if (sd->cache)
            printf(", %" PRIu64 " misses (hit ratio %.1f %%)", m->misses,
                   m->ops[OP_GET] ? 100.0 * (double)(m->ops[OP_GET] - m->misses) /
                                        (double)m->ops[OP_GET] : 0.0);
        if (ph == PH_MIX)
            printf(", %" PRIu64 " raced an update (%" PRIu64 " absent, %" PRIu64
                   " another version)", m->absent_race + m->other_ver, m->absent_race,
                   m->other_ver);
        printf("\n");
    }
    if (ph == PH_DEL)
        printf("%s%" PRIu64 " deletes, %" PRIu64 " found nothing%s\n", ind, m->ops[OP_DEL],
               m->wrong + m->del_absent, sd->cache ? " (evicted)" : "");
    if (m->have_si && (ph == PH_PUT || ph == PH_MIX) && m->si.detail[0])
        printf("%s%s\n", ind, m->si.detail);
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median (and min, max) of f over the runs that have a measure. */
static double median_of(int sys, enum phase ph, double (*f)(const struct measure *),
                        double *lo, double *hi)
{
    double v[MAX_RUNS];
    int n = 0;
    for (int r = 0; r < cfg.runs; r++)
        if (meas[sys][ph][r])
            v[n++] = f(meas[sys][ph][r]);
    if (!n)
        return *lo = *hi = 0;
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    *lo = v[0];
    *hi = v[n - 1];
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double bpp_of(const struct measure *m)
{
    return m->bpp;
}

static void merged_hist(int sys, enum phase ph, int t, struct hist *h)
{
    memset(h, 0, sizeof *h);
    for (int r = 0; r < cfg.runs; r++)
        if (meas[sys][ph][r])
            hist_merge(h, &meas[sys][ph][r]->lat[t]);
}

static int phase_ok(int sys, enum phase ph, int *nruns)
{
    int ok = 1;
    *nruns = 0;
    for (int r = 0; r < cfg.runs; r++)
        if (meas[sys][ph][r]) {
            ok &= meas[sys][ph][r]->ok;
            ++*nruns;
        }
    return ok;
}

static void print_summary(void)
{
    printf("# medians of %d runs (min, max); latency over all runs' samples, us\n", cfg.runs);
    for (int sys = 0; sys < nsys; sys++)
        for (int ph = 0; ph < NPH; ph++) {
            double lo, hi, med = median_of(sys, (enum phase)ph, mops_of, &lo, &hi);
            int n;
            phase_ok(sys, (enum phase)ph, &n);
            if (!n)
                continue;
            int prec = prec_of(med);
            printf("%-13s %s median %.*f M ops/s (%.*f, %.*f)", sysdefs[sys].name, ph_name[ph],
                   prec, med, prec, lo, prec, hi);
            for (int t = 0; t < NOPT; t++) {
                struct hist h;
                merged_hist(sys, (enum phase)ph, t, &h);
                if (h.count)
                    printf("  %s p50 %.2f p99 %.2f p99.9 %.2f max %.2f", op_name[t],
                           hist_quantile_us(&h, 0.5), hist_quantile_us(&h, 0.99),
                           hist_quantile_us(&h, 0.999), (double)h.max_ns / 1000.0);
            }
            printf("\n");
        }
}

/* ---- JSON and TSV ----------------------------------------------------- */

static void json_lat(const struct hist *h)
{
    printf("{\"samples\": %" PRIu64 ", \"mean\": %.3f, \"p50\": %.3f, \"p99\": %.3f, "
           "\"p999\": %.3f, \"max\": %.3f}", h->count,
           h->count ? (double)h->sum_ns / (double)h->count / 1000.0 : 0.0,
           hist_quantile_us(h, 0.5), hist_quantile_us(h, 0.99), hist_quantile_us(h, 0.999),
           (double)h->max_ns / 1000.0);
}

static void print_config_json(void)
{
    printf("  \"shmkv_version\": \"%s\",\n  \"procs\": %d,\n  \"threads\": %d,\n"
           "  \"keys\": %" PRIu64 ",\n  \"key_size\": [%zu, %zu],\n  \"val_size\": [%zu, %zu],\n"
           "  \"runs\": %d,\n  \"presize\": %s,\n  \"prefault\": %s,\n  \"batch\": %u,\n"
           "  \"pipeline\": %u,\n"
           "  \"dist\": \"%s\",\n  \"zipf_s\": %.3f,\n  \"mix_get\": %.4f,\n"
           "  \"mix_seconds\": %.3f,\n  \"mix_ops\": %" PRIu64 ",\n  \"cpus\": %ld,\n"
           "  \"timer\": {\"clock\": \"CLOCK_MONOTONIC\", \"ns_per_call\": %.1f, "
           "\"sample_every\": %u},\n", SHMKV_VERSION_STRING, cfg.procs, cfg.threads,
           cfg.nkeys, cfg.key_min, cfg.key_max, cfg.val_min, cfg.val_max, cfg.runs,
           cfg.presize ? "true" : "false", cfg.prefault ? "true" : "false", cfg.batch,
           cfg.pipeline,
           cfg.zipf ? "zipf" : "uniform", cfg.zipf_s, cfg.mix_get, cfg.mix_seconds,
           cfg.mix_ops, sysconf(_SC_NPROCESSORS_ONLN), timer_ns, cfg.sample);
    printf("  \"cache_pct\": %.3f,\n  \"working_set_bytes\": %" PRIu64 ",\n"
           "  \"cache_max_bytes\": %" PRIu64 ",\n  \"cache_memcached_mib\": %" PRIu64 ",\n",
           cfg.cache_pct, cfg.ws_bytes, cfg.cache_bytes, cfg.cache_mc_mib);
    printf("  \"systems\": [");
    for (int i = 0; i < nsys; i++)
        printf("%s{\"name\": \"%s\", \"version\": \"%s\", \"depth\": %u, \"pipelined\": %s, "
               "\"cache\": %s}", i ? ", " : "", sysdefs[i].name,
               sysdefs[i].ops->version ? sysdefs[i].ops->version() : "",
               sysdefs[i].depth, sysdefs[i].pipelined ? "true" : "false",
               sysdefs[i].cache ? "true" : "false");
    printf("],\n");
}

static void print_json(void)
{
    printf("{\n");
    print_config_json();
    printf("  \"results\": [");
    int first = 1;
    for (int r = 0; r < cfg.runs; r++)
        for (int sys = 0; sys < nsys; sys++)
            for (int ph = 0; ph < NPH; ph++) {
                const struct measure *m = meas[sys][ph][r];
                if (!m)
                    continue;
                printf("%s\n    {\"system\": \"%s\", \"phase\": \"%s\", \"run\": %d, "
                       "\"ok\": %s, \"seconds\": %.6f, \"ops\": %" PRIu64 ", \"mops\": %.4f, "
                       "\"ops_by_type\": {\"get\": %" PRIu64 ", \"put\": %" PRIu64
                       ", \"del\": %" PRIu64 "}, \"worker_mops\": [", first ? "" : ",",
                       sysdefs[sys].name, ph_name[ph], r + 1, m->ok ? "true" : "false",
                       m->secs, m->total, mops_of(m), m->ops[OP_GET], m->ops[OP_PUT],
                       m->ops[OP_DEL]);
                first = 0;
                for (int w = 0; w < cfg.workers; w++)
                    printf("%s%.4f", w ? ", " : "", m->wmops ? m->wmops[w] : 0.0);
                printf("], \"checks\": {\"values_checked\": %" PRIu64 ", \"wrong\": %" PRIu64
                       ", \"absent_during_update\": %" PRIu64
                       ", \"other_version_during_update\": %" PRIu64 ", \"cache_misses\": %"
                       PRIu64 ", \"cache_deletes_absent\": %" PRIu64 "}, "
                       "\"page_faults\": %" PRIu64 ", \"latency_us\": {", m->checked, m->wrong,
                       m->absent_race, m->other_ver, m->misses, m->del_absent, m->faults);
                int f2 = 1;
                for (int t = 0; t < NOPT; t++)
                    if (m->lat[t].count) {
                        printf("%s\"%s\": ", f2 ? "" : ", ", op_name[t]);
                        json_lat(&m->lat[t]);
                        f2 = 0;
                    }
                printf("}");
                if (m->have_si)
                    printf(", \"memory\": {\"what\": \"%s\", \"bytes\": %" PRIu64 ", \"rss\": %"
                           PRIu64 ", \"bytes_per_pair\": %.2f}, \"stats\": %s",
                           m->si.mem_what ? m->si.mem_what : "", m->si.mem_bytes, m->si.rss,
                           m->bpp, m->si.json[0] ? m->si.json : "{}");
                printf("}");
            }
    printf("\n  ],\n  \"summary\": [");
    first = 1;
    for (int sys = 0; sys < nsys; sys++)
        for (int ph = 0; ph < NPH; ph++) {
            int n, ok = phase_ok(sys, (enum phase)ph, &n);
            if (!n)
                continue;
            double lo, hi, med = median_of(sys, (enum phase)ph, mops_of, &lo, &hi);
            double blo, bhi, bpp = median_of(sys, (enum phase)ph, bpp_of, &blo, &bhi);
            printf("%s\n    {\"system\": \"%s\", \"phase\": \"%s\", \"runs\": %d, \"ok\": %s, "
                   "\"mops_median\": %.4f, \"mops_min\": %.4f, \"mops_max\": %.4f, "
                   "\"bytes_per_pair\": %.2f, \"latency_us\": {", first ? "" : ",",
                   sysdefs[sys].name, ph_name[ph], n, ok ? "true" : "false", med, lo, hi, bpp);
            first = 0;
            int f2 = 1;
            for (int t = 0; t < NOPT; t++) {
                struct hist h;
                merged_hist(sys, (enum phase)ph, t, &h);
                if (!h.count)
                    continue;
                printf("%s\"%s\": ", f2 ? "" : ", ", op_name[t]);
                json_lat(&h);
                f2 = 0;
            }
            printf("}}");
        }
    printf("\n  ]\n}\n");
}

/* One line per system and phase: medians over the runs, latency (us) over
 * all runs' samples; "-" where there is none.  Read by bench-compare.sh. */
static int write_tsv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "shmkv-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "system\tphase\truns\tok\tmops\tmops_min\tmops_max\tbytes_per_pair\twrong");
    for (int t = 0; t < NOPT; t++)
        fprintf(f, "\t%s_p50\t%s_p99\t%s_p999\t%s_max", op_name[t], op_name[t], op_name[t],
                op_name[t]);
    fprintf(f, "\tcache\tgets\tmisses\n");
    for (int sys = 0; sys < nsys; sys++)
        for (int ph = 0; ph < NPH; ph++) {
            int n, ok = phase_ok(sys, (enum phase)ph, &n);
            if (!n)
                continue;
            double lo, hi, med = median_of(sys, (enum phase)ph, mops_of, &lo, &hi);
            double blo, bhi, bpp = median_of(sys, (enum phase)ph, bpp_of, &blo, &bhi);
            uint64_t wrong = 0, gets = 0, misses = 0;
            for (int r = 0; r < cfg.runs; r++)
                if (meas[sys][ph][r]) {
                    wrong += meas[sys][ph][r]->wrong;
                    gets += meas[sys][ph][r]->ops[OP_GET];
                    misses += meas[sys][ph][r]->misses;
                }
            fprintf(f, "%s\t%s\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.2f\t%" PRIu64, sysdefs[sys].name,
                    ph_name[ph], n, ok, med, lo, hi, bpp, wrong);
            for (int t = 0; t < NOPT; t++) {
                struct hist h;
                merged_hist(sys, (enum phase)ph, t, &h);
                if (!h.count)
                    fprintf(f, "\t-\t-\t-\t-");
                else
                    fprintf(f, "\t%.3f\t%.3f\t%.3f\t%.3f", hist_quantile_us(&h, 0.5),
                            hist_quantile_us(&h, 0.99), hist_quantile_us(&h, 0.999),
                            (double)h.max_ns / 1000.0);
            }
            fprintf(f, "\t%d\t%" PRIu64 "\t%" PRIu64 "\n", sysdefs[sys].cache, gets, misses);
        }
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: shmkv-bench [options]\n"
        "  --procs N          worker processes (default 2)\n"
        "  --threads T        threads per process (default 1)\n"
        "  --keys N           unique keys (default 1000000)\n"
        "  --key-size B|A-B   key bytes, fixed or a range (default 8)\n"
        "  --val-size B|A-B   value bytes, at least 8 (default 8)\n"
        "  --system LIST      comma-separated: shmkv, lmdb, redis, redis-pD, memcached,\n"
        "                     memcached-pD, boost, or all (default: all, those available)\n"
        "  --list-systems     print what 'all' runs here, one per line, and exit\n"
        "  --phases LIST      of put,mix,get,del (default all; put is needed)\n"
        "  --mix-get PCT      MIX: percentage of gets, the rest delete+put (default 98)\n"
        "  --mix-seconds S    MIX duration (default 5)\n"
        "  --mix-ops N        MIX: this many steps in all instead of a duration\n"
        "  --dist D           uniform or zipf: the keys of MIX and GET (default uniform)\n"
        "  --zipf-s S         Zipf exponent (default 0.99)\n"
        "  --batch B          gets B at a time where the system can: shmkv_get_many,\n"
        "                     Redis MGET, memcached_mget (default 1)\n"
        "  --pipeline D       depth of redis-pD/memcached-pD in 'all' (default 16)\n"
        "  --runs R           repeat everything R times, report medians (default 1)\n"
        "  --sample K         time every K-th operation (default 64; 1: all)\n"
        "  --progress         a line per second per phase on stderr (default: if a tty)\n"
        "  --json             print the results as JSON instead of text\n"
        "  --tsv FILE         also write one line per system and phase (medians) to FILE\n"
        "  --presize          create the shmkv table with expected_keys = N\n"
        "  --no-prefault      workers do not map the store's pages in before a phase\n"
        "  --dir DIR          where shmkv and LMDB files go (default /dev/shm)\n"
        "  --quick            a smoke test: 20000 keys, MIX 1 s, unless set otherwise\n"
        "  --cache PCT        also run shmkv-cache: shmkv created with SHMKV_CACHE and\n"
        "                     max_bytes = PCT %% of the working set (what the pairs take\n"
        "                     in a store: 8 B header, key and value padded to 8 B, ~13 B\n"
        "                     of index each; at least SHMKV_MIN_BYTES), so it holds\n"
        "                     about PCT %% of them; memcached then gets\n"
        "                     that budget too (whole MiB, rounded up) and evicts.  For\n"
        "                     these a get may miss and a delete find nothing (counted,\n"
        "                     not errors); values read are still checked\n"
        "  --stall-probe S    only measure the machine: one process per CPU reads the\n"
        "                     clock in a loop for S seconds and counts the gaps, times\n"
        "                     it was not running (an operation lasting d s meets one\n"
        "                     with probability ~ d x gaps/s: a floor under p99.9)\n"
        "  --help\n"
        "Hit ratio (shmkv-bench --hitratio [options]): a cache-aside loop (get; on a\n"
        "miss, put) over Zipf keys with values of 100 B..10 KiB (log-uniform, fixed\n"
        "per key), for each skew and cache size: shmkv (SHMKV_CACHE, max_bytes = the\n"
        "budget), an exact LRU simulation counting key + value bytes against the same\n"
        "budget, and memcached -m budget.  Options: --keys (default 250000), --requests\n"
        "N counted (default 2000000) after --warmup N uncounted (default 1000000),\n"
        "--skews LIST (0.7,0.9,0.99,1.2), --cache-pcts LIST (1,5,10: %% of the working\n"
        "set's bytes, rounded to whole MiB, at least 4), --system LIST (shmkv,lru,memcached),\n"
        "--dir, --json, --tsv FILE, --quick (20000 keys, 200000 + 100000 requests).\n"
        "Phases: PUT (each worker inserts its share of the keys), MIX (gets of random\n"
        "keys, and delete+put of random keys of the worker's share), GET (every key\n"
        "once in random order; N Zipf draws with --dist zipf), DEL (each worker its\n"
        "share).  Every value read is checked; a mismatch fails the run.\n"
        "Per phase: total M ops/s (every get, put and delete / time from release to\n"
        "the last finish), each worker's own M ops/s in brackets, latency percentiles\n"
        "of the timed operations, memory bytes per pair, page faults per operation.\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_range(const char *s, uint64_t lo, uint64_t hi, size_t *a, size_t *b)
{
    char buf[64];
    uint64_t x, y;
    snprintf(buf, sizeof buf, "%s", s);
    char *dash = strchr(buf, '-');
    if (dash)
        *dash = 0;
    if (parse_u64(buf, lo, hi, &x))
        return -1;
    y = x;
    if (dash && (parse_u64(dash + 1, lo, hi, &y) || y < x))
        return -1;
    *a = (size_t)x;
    *b = (size_t)y;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* A comma-separated list of up to HR_MAX_CELLS numbers in [lo, hi]; returns
 * how many, or -1. */
static int parse_list(const char *list, double lo, double hi, double *out)
{
    char buf[256], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == HR_MAX_CELLS || parse_double(t, lo, hi, &out[n]))
            return -1;
        n++;
    }
    return n ? n : -1;
}

static int parse_phases(const char *list)
{
    char buf[64], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    memset(cfg.phase_on, 0, sizeof cfg.phase_on);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int p = 0; p < NPH; p++)
            if (!strcasecmp(t, ph_name[p]))
                cfg.phase_on[p] = found = 1;
        if (!found)
            return -1;
    }
    return cfg.phase_on[PH_PUT] ? 0 : -1;
}

static void measure_timer(void)
{
    enum { N = 200000 };
    uint64_t t0 = now_ns(), x = 0;
    for (int i = 0; i < N; i++)
        x += now_ns();
    timer_ns = (double)(now_ns() - t0) / N;
    (void)x;
}

static void print_header(void)
{
    printf("# shmkv-bench: %d procs x %d thread%s, %" PRIu64 " keys, key ", cfg.procs,
           cfg.threads, cfg.threads > 1 ? "s" : "", cfg.nkeys);
    if (cfg.key_min == cfg.key_max)
        printf("%zu B", cfg.key_min);
    else
        printf("%zu-%zu B", cfg.key_min, cfg.key_max);
    if (cfg.val_min == cfg.val_max)
        printf(", value %zu B", cfg.val_min);
    else
        printf(", value %zu-%zu B", cfg.val_min, cfg.val_max);
    printf(", keys %s", cfg.zipf ? "Zipf" : "uniform");
    if (cfg.zipf)
        printf(" s=%.2f", cfg.zipf_s);
    if (cfg.phase_on[PH_MIX]) {
        printf(", MIX %.0f%% get ", cfg.mix_get * 100);
        if (cfg.mix_ops)
            printf("for %" PRIu64 " steps", cfg.mix_ops);
        else
            printf("for %.3g s", cfg.mix_seconds);
    }
    if (cfg.batch > 1)
        printf(", gets in batches of %u", cfg.batch);
    printf(", %d run%s, %ld cpus, files in %s%s%s\n", cfg.runs, cfg.runs > 1 ? "s" : "",
           sysconf(_SC_NPROCESSORS_ONLN), cfg.dir, cfg.presize ? ", shmkv presized" : "",
           cfg.prefault ? "" : ", no prefault");
    if (cfg.cache_pct > 0)
        printf("# cache mode (--cache %g): working set %" PRIu64 " bytes as a store holds them; shmkv-cache "
               "max_bytes %" PRIu64 " (%.1f %%)%s; memcached -m %" PRIu64 " MiB without -M "
               "(evicting); a get that misses, or a delete that finds nothing, is no error "
               "for these\n", cfg.cache_pct, cfg.ws_bytes, cfg.cache_bytes,
               100.0 * (double)cfg.cache_bytes / (double)cfg.ws_bytes,
               cfg.cache_bytes == SHMKV_MIN_BYTES ? " (SHMKV_MIN_BYTES)" : "", cfg.cache_mc_mib);
    printf("# systems:");
    for (int i = 0; i < nsys; i++)
        printf("%s %s%s%s%s", i ? ";" : "", sysdefs[i].name,
               sysdefs[i].ops->version ? " (" : "",
               sysdefs[i].ops->version ? sysdefs[i].ops->version() : "",
               sysdefs[i].ops->version ? ")" : "");
    if (skipped[0])
        printf("\n# not available here: %s", skipped);
    printf("\n# latency: every %u%s operation timed with clock_gettime(CLOCK_MONOTONIC) "
           "at %.1f ns a call (%.2f ns per operation on average); batches and pipelines "
           "are timed as a whole\n", cfg.sample, cfg.sample == 1 ? "" :
           cfg.sample % 10 == 1 && cfg.sample % 100 != 11 ? "st" :
           cfg.sample % 10 == 2 && cfg.sample % 100 != 12 ? "nd" :
           cfg.sample % 10 == 3 && cfg.sample % 100 != 13 ? "rd" : "th",
           timer_ns, 2 * timer_ns / cfg.sample);
    fflush(stdout);
}

/* One run of one system: a fresh store, the phases, teardown. */
static int run_system(int sys, int run)
{
    struct sysdef *sd = &sysdefs[sys];
    struct store s;
    memset(&s, 0, sizeof s);
    s.sd = sd;
    int failed = 0;
    snprintf(run_dir, sizeof run_dir, "%s/shmkv-bench.XXXXXX", cfg.dir);
    if (!mkdtemp(run_dir)) {
        fprintf(stderr, "shmkv-bench: mkdtemp %s: %s\n", run_dir, strerror(errno));
        run_dir[0] = 0;
        return 1;
    }
    reset_versions();
    char err[1024] = "";
    if (sd->ops->setup(&s, err, sizeof err) != 0) {
        fprintf(stderr, "shmkv-bench: %s: creating the store: %s\n", sd->name, err);
        failed = 1;
    } else {
        for (int ph = 0; ph < NPH; ph++) {
            if (!cfg.phase_on[ph])
                continue;
            struct measure *m = calloc(1, sizeof *m);
            if (!m) {
                fprintf(stderr, "shmkv-bench: out of memory\n");
                failed = 1;
                break;
            }
            meas[sys][ph][run] = m;
            if (run_phase(&s, (enum phase)ph, m) != 0)
                failed = 1;
            if (!json)
                print_phase(sd, (enum phase)ph, m, run);
            if (!m->ok)
                break;
        }
        if (sd->ops->teardown(&s, err, sizeof err) != 0) {
            fprintf(stderr, "shmkv-bench: %s: removing the store: %s\n", sd->name, err);
            failed = 1;
        }
    }
    remove_tracked();
    struct stat sb;
    if (stat(run_dir, &sb) == 0) {
        fprintf(stderr, "shmkv-bench: %s is not empty; left in place\n", run_dir);
        failed = 1;
    }
    run_dir[0] = 0;
    return failed;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "procs", required_argument, NULL, 'p' },
        { "threads", required_argument, NULL, 'T' },
        { "keys", required_argument, NULL, 'n' },
        { "key-size", required_argument, NULL, 'k' },
        { "val-size", required_argument, NULL, 'v' },
        { "system", required_argument, NULL, 's' },
        { "list-systems", no_argument, NULL, 'L' },
        { "phases", required_argument, NULL, 'H' },
        { "mix-get", required_argument, NULL, 'g' },
        { "mix-seconds", required_argument, NULL, 'S' },
        { "mix-ops", required_argument, NULL, 'O' },
        { "dist", required_argument, NULL, 'D' },
        { "zipf-s", required_argument, NULL, 'z' },
        { "batch", required_argument, NULL, 'b' },
        { "pipeline", required_argument, NULL, 'l' },
        { "runs", required_argument, NULL, 'r' },
        { "sample", required_argument, NULL, 'K' },
        { "progress", no_argument, NULL, 'G' },
        { "json", no_argument, NULL, 'j' },
        { "tsv", required_argument, NULL, 't' },
        { "presize", no_argument, NULL, 'P' },
        { "no-prefault", no_argument, NULL, 'F' },
        { "dir", required_argument, NULL, 'd' },
        { "quick", no_argument, NULL, 'q' },
        { "self-test-corrupt", no_argument, NULL, 'X' },
        { "cache", required_argument, NULL, 'C' },
        { "hitratio", no_argument, NULL, 'R' },
        { "stall-probe", required_argument, NULL, 'Y' },
        { "requests", required_argument, NULL, 'Q' },
        { "warmup", required_argument, NULL, 'W' },
        { "skews", required_argument, NULL, 'Z' },
        { "cache-pcts", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int keys_given = 0, mix_given = 0, quick = 0, list = 0, opt, hitratio = 0;
    int req_given = 0, warm_given = 0, systems_given = 0;
    const char *systems = "all";
    struct hrconf hr = { .requests = 2000000, .warmup = 1000000,
                         .skews = { 0.7, 0.9, 0.99, 1.2 }, .nskews = 4,
                         .pcts = { 1, 5, 10 }, .npcts = 3 };
    uint64_t u;
    double d;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (parse_u64(optarg, 1, MAX_PROCS, &u))
                goto bad;
            cfg.procs = (int)u;
            break;
        case 'T':
            if (parse_u64(optarg, 1, MAX_THREADS, &u))
                goto bad;
            cfg.threads = (int)u;
            break;
        case 'n':
            if (parse_u64(optarg, 1, UINT32_MAX - 1, &cfg.nkeys))
                goto bad;
            keys_given = 1;
            break;
        case 'k':
            if (parse_range(optarg, 1, 511, &cfg.key_min, &cfg.key_max))
                goto bad;
            break;
        case 'v':
            if (parse_range(optarg, 8, 64u << 20, &cfg.val_min, &cfg.val_max))
                goto bad;
            break;
        case 's':
            systems = optarg;
            systems_given = 1;
            break;
        case 'C':
            if (parse_double(optarg, 0.001, 1000, &cfg.cache_pct))
                goto bad;
            break;
        case 'R':
            hitratio = 1;
            break;
        case 'Y': {
            double secs;
            if (parse_double(optarg, 0.1, 3600, &secs))
                goto bad;
            return stall_probe(secs);
        }
        case 'Q':
            if (parse_u64(optarg, 1, UINT32_MAX, &hr.requests))
                goto bad;
            req_given = 1;
            break;
        case 'W':
            if (parse_u64(optarg, 0, UINT32_MAX, &hr.warmup))
                goto bad;
            warm_given = 1;
            break;
        case 'Z':
            if ((hr.nskews = parse_list(optarg, 0.01, 10, hr.skews)) < 0)
                goto bad;
            break;
        case 'c':
            if ((hr.npcts = parse_list(optarg, 0.001, 100, hr.pcts)) < 0)
                goto bad;
            break;
        case 'L':
            list = 1;
            break;
        case 'H':
            if (parse_phases(optarg))
                goto bad;
            break;
        case 'g':
            if (parse_double(optarg, 0, 100, &d))
                goto bad;
            cfg.mix_get = d / 100;
            break;
        case 'S':
            if (parse_double(optarg, 0.001, 86400, &cfg.mix_seconds))
                goto bad;
            mix_given = 1;
            break;
        case 'O':
            if (parse_u64(optarg, 1, UINT64_MAX / 2, &cfg.mix_ops))
                goto bad;
            mix_given = 1;
            break;
        case 'D':
            if (!strcmp(optarg, "zipf"))
                cfg.zipf = 1;
            else if (!strcmp(optarg, "uniform"))
                cfg.zipf = 0;
            else
                goto bad;
            break;
        case 'z':
            if (parse_double(optarg, 0.01, 10, &cfg.zipf_s))
                goto bad;
            break;
        case 'b':
            if (parse_u64(optarg, 1, MAX_DEPTH, &u))
                goto bad;
            cfg.batch = (unsigned)u;
            break;
        case 'l':
            if (parse_u64(optarg, 2, MAX_DEPTH, &u))
                goto bad;
            cfg.pipeline = (unsigned)u;
            break;
        case 'r':
            if (parse_u64(optarg, 1, MAX_RUNS, &u))
                goto bad;
            cfg.runs = (int)u;
            break;
        case 'K':
            if (parse_u64(optarg, 1, 1u << 20, &u))
                goto bad;
            cfg.sample = (unsigned)u;
            break;
        case 'G':
            show_progress = 1;
            break;
        case 'j':
            json = 1;
            break;
        case 't':
            tsv_path = optarg;
            break;
        case 'P':
            cfg.presize = 1;
            break;
        case 'F':
            cfg.prefault = 0;
            break;
        case 'd':
            cfg.dir = optarg;
            break;
        case 'q':
            quick = 1;
            break;
        case 'X':
            cfg.self_test_corrupt = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    if (hitratio) {
        if (!keys_given)
            cfg.nkeys = quick ? 20000 : 250000;
        if (quick && !req_given)
            hr.requests = 100000;
        if (quick && !warm_given)
            hr.warmup = 200000;
        hr.systems = systems_given ? systems : "shmkv,lru,memcached";
        hr.json = json;
        hr.tsv = tsv_path;
        if (strlen(cfg.dir) > 200) {
            fprintf(stderr, "shmkv-bench: --dir: path too long\n");
            return 2;
        }
        parent_pid = getpid();
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        signal(SIGPIPE, SIG_IGN);
        int rc = hitratio_main(&hr);
        for (size_t i = 0; i < NOPS; i++)
            if (all_ops[i]->stop)
                all_ops[i]->stop();
        remove_tracked();
        return rc;
    }
    if (quick && !keys_given)
        cfg.nkeys = 20000;
    if (quick && !mix_given)
        cfg.mix_seconds = 1;
    if (!show_progress && isatty(2))
        show_progress = 1;
    cfg.workers = cfg.procs * cfg.threads;
    if (cfg.workers > MAX_WORKERS) {
        fprintf(stderr, "shmkv-bench: at most %d workers\n", MAX_WORKERS);
        return 2;
    }
    if (strlen(cfg.dir) > 200) {
        fprintf(stderr, "shmkv-bench: --dir: path too long\n");
        return 2;
    }
    if (cfg.nkeys < (uint64_t)cfg.workers) {
        fprintf(stderr, "shmkv-bench: fewer keys than workers\n");
        return 2;
    }
    if (cfg.key_min < 8 && cfg.nkeys > (1ULL << (8 * cfg.key_min))) {
        fprintf(stderr, "shmkv-bench: %" PRIu64 " unique keys do not fit in %zu bytes\n",
                cfg.nkeys, cfg.key_min);
        return 2;
    }
    if (list) {
        add_all(0);
        for (int i = 0; i < nsys; i++)
            printf("%s\n", sysdefs[i].name);
        return 0;
    }
    if (cfg.cache_pct > 0 || strstr(systems, "shmkv-cache")) {
        if (cfg.cache_pct <= 0)
            cfg.cache_pct = 50;
        /* the working set as a store holds it: per pair an 8-byte record
         * header, key and value padded to 8 bytes, and some 13 bytes of
         * index (a slot in a 64-byte bucket of 7, split at 5 keys), so a
         * cache of PCT % holds about PCT % of the pairs */
        for (uint64_t i = 0; i < cfg.nkeys; i++)
            cfg.ws_bytes += ((8 + key_len(i) + val_len(i, 0) + 7) & ~(uint64_t)7) + 13;
        cfg.cache_bytes = (uint64_t)((double)cfg.ws_bytes * cfg.cache_pct / 100);
        if (cfg.cache_bytes < SHMKV_MIN_BYTES)
            cfg.cache_bytes = SHMKV_MIN_BYTES;
        cfg.cache_mc_mib = (cfg.cache_bytes + (1u << 20) - 1) >> 20;
        if (cfg.cache_mc_mib < 2)
            cfg.cache_mc_mib = 2; /* memcached: -m at least twice its item limit (1 MiB) */
    }
    if (parse_systems(systems))
        return 2;
    if (cfg.cache_pct > 0 && !strstr(systems, "shmkv-cache") && add_system("shmkv-cache", 0))
        return 2;

    parent_pid = getpid();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);

    wres = shared(sizeof *wres * (size_t)cfg.workers);
    progress = shared(sizeof *progress * (size_t)cfg.workers);
    stop_flag = shared(4096);
    order = malloc(sizeof *order * (size_t)cfg.nkeys);
    if (!order) {
        fprintf(stderr, "shmkv-bench: out of memory\n");
        return 1;
    }
    /* The GET order: a fixed random permutation (Fisher-Yates). */
    struct rng rg;
    rng_seed(&rg, 0x243f6a8885a308d3ULL);
    for (uint64_t i = 0; i < cfg.nkeys; i++)
        order[i] = (uint32_t)i;
    for (uint64_t i = cfg.nkeys - 1; i > 0; i--) {
        uint64_t j = rng_below(&rg, i + 1);
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    measure_timer();
    if (!json)
        print_header();

    int failed = 0;
    for (int r = 0; r < cfg.runs; r++)
        for (int sys = 0; sys < nsys; sys++)
            failed |= run_system(sys, r);
    for (size_t i = 0; i < NOPS; i++)
        if (all_ops[i]->stop)
            all_ops[i]->stop();

    if (!json && cfg.runs > 1)
        print_summary();
    if (json)
        print_json();
    if (tsv_path && write_tsv(tsv_path))
        failed = 1;
    free(order);
    if (failed && !json)
        printf("FAILED\n");
    return failed ? 1 : 0;

bad:
    fprintf(stderr, "shmkv-bench: bad arguments; see shmkv-bench --help\n");
    return 2;
}
