/*
 * phases.c - one phase of shmkv-bench, as the parent runs it.
 *
 * The workers (--procs processes of --threads threads) are fork()ed,
 * attach to the store, map its pages in, say they are ready on a pipe and
 * block on another; closing that one releases them together.  A phase's
 * time runs (CLOCK_MONOTONIC) from the release to the last worker's
 * finish.  Meanwhile the parent reaps them, stops MIX when its time is up
 * and, once a second, prints a progress line.  Then it adds up what the
 * workers did (struct wres, in shared memory) and asks the store how many
 * keys it holds and how much memory it takes.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- shared memory ---------------------------------------------------- */

int shared_init(struct bench *b)
{
    const struct config *cfg = &b->cfg;
    struct shared *sh = &b->sh;
    sh->wres = shared_alloc(sizeof *sh->wres * (size_t)cfg->workers);
    sh->progress = shared_alloc(sizeof *sh->progress * (size_t)cfg->workers);
    sh->stop = shared_alloc(4096);
    sh->order = malloc(sizeof *sh->order * (size_t)cfg->nkeys);
    if (!sh->order) {
        fprintf(stderr, "shmkv-bench: out of memory\n");
        return -1;
    }
    /* The GET order: a fixed random permutation (Fisher-Yates). */
    struct rng rg;
    rng_seed(&rg, 0x243f6a8885a308d3ULL);
    for (uint64_t i = 0; i < cfg->nkeys; i++)
        sh->order[i] = (uint32_t)i;
    for (uint64_t i = cfg->nkeys - 1; i > 0; i--) {
        uint64_t j = rng_below(&rg, i + 1);
        uint32_t t = sh->order[i];
        sh->order[i] = sh->order[j];
        sh->order[j] = t;
    }
    return 0;
}

void shared_reset_versions(struct bench *b)
{
    size_t db = (b->cfg.nkeys + 63) / 64 * 8, sb = b->cfg.nkeys * 4;
    if (b->sh.dirty) {
        munmap((void *)b->sh.dirty, db);
        munmap((void *)b->sh.seqs, sb);
    }
    b->sh.dirty = shared_alloc(db);
    b->sh.seqs = shared_alloc(sb);
}

/* ---- starting and waiting --------------------------------------------- */

/* Fork the worker processes; returns how many started (all of them unless
 * fork failed, which is said). */
static int start_workers(struct bench *b, struct store *s, enum phase ph, int ready[2],
                         int go[2])
{
    int started = 0;
    fflush(NULL);
    for (int p = 0; p < b->cfg.procs; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("shmkv-bench: fork");
            break;
        }
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            worker_process(b, s, ph, p, ready[1], go[0]);
        }
        b->cl.kids[p] = pid;
        started++;
    }
    close(ready[1]);
    close(go[0]);
    return started;
}

/* Wait until every worker is attached (or gone), then release them at *t0;
 * returns how many said they were ready. */
static int release_workers(int ready_fd, int go_fd, double *t0)
{
    int nready = 0;
    char c;
    for (;;) {
        ssize_t r = read(ready_fd, &c, 1);
        if (r == 1)
            nready++;
        else if (r == 0 || errno != EINTR)
            break;
    }
    close(ready_fd);
    *t0 = now_sec();
    close(go_fd);
    return nready;
}

static void print_progress(const struct bench *b, const struct sysdef *sd, enum phase ph,
                           double elapsed, double dt, uint64_t *last)
{
    uint64_t tot = 0, d[MAX_WORKERS];
    int nw = b->cfg.workers;
    for (int w = 0; w < nw; w++) {
        uint64_t n = atomic_load_explicit(&b->sh.progress[w].n, memory_order_relaxed);
        d[w] = n - last[w];
        last[w] = n;
        tot += d[w];
    }
    char line[4096];
    int len = snprintf(line, sizeof line, "%-13s %s %4.0f s %9.3f M ops/s  per worker:",
                       sd->name, ph_name[ph], elapsed, (double)tot / dt / 1e6);
    for (int w = 0; w < nw && len < (int)sizeof line - 16; w++)
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

/* Reap the STARTED workers released at T0, stopping MIX by time and
 * printing progress meanwhile; 0, or -1 if one was killed (said). */
static int wait_workers(struct bench *b, const struct sysdef *sd, enum phase ph, int started,
                        double t0)
{
    const struct config *cfg = &b->cfg;
    volatile pid_t *kids = b->cl.kids;
    int rc = 0;
    double deadline = ph == PH_MIX && !cfg->mix_ops ? t0 + cfg->mix_seconds : 0;
    double last_print = t0;
    uint64_t *last = calloc((size_t)cfg->workers, sizeof *last);
    for (int left = started; left > 0;) {
        for (int p = 0; p < cfg->procs; p++) {
            int st;
            if (kids[p] <= 0 || waitpid(kids[p], &st, WNOHANG) != kids[p])
                continue;
            if (WIFSIGNALED(st)) {
                fprintf(stderr, "shmkv-bench: %s %s worker process %d killed by signal %d\n",
                        sd->name, ph_name[ph], p, WTERMSIG(st));
                rc = -1;
            }
            kids[p] = 0;
            left--;
        }
        if (!left)
            break;
        double t = now_sec(), wake = t + 0.005;
        if (deadline && t >= deadline) {
            atomic_store(b->sh.stop, 1);
            deadline = 0;
        }
        if (cfg->progress && last && t >= last_print + 1) {
            print_progress(b, sd, ph, t - t0, t - last_print, last);
            last_print = t;
        }
        if (deadline && deadline < wake)
            wake = deadline;
        sleep_until(wake);
    }
    free(last);
    return rc;
}

/* ---- what the phase did ----------------------------------------------- */

/* Add up the workers' results into m; 0, or -1 if one failed (said). */
static int gather(const struct bench *b, const struct sysdef *sd, enum phase ph, double t0,
                  struct measure *m)
{
    int rc = 0, nw = b->cfg.workers;
    double end = t0;
    m->wmops = calloc((size_t)nw, sizeof *m->wmops);
    for (int w = 0; w < nw; w++) {
        const struct wres *r = &b->sh.wres[w];
        if (r->error) {
            fprintf(stderr, "shmkv-bench: %s %s worker %d: %s\n", sd->name, ph_name[ph], w,
                    r->err);
            rc = -1;
        }
        if (r->wrong) {
            fprintf(stderr, "shmkv-bench: %s %s worker %d: %" PRIu64 " mismatches; the first: "
                    "%s\n", sd->name, ph_name[ph], w, r->wrong, r->first_wrong);
            rc = -1;
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
        m->cpu += r->cpu;
        if (m->wmops && r->end > t0)
            m->wmops[w] = (double)n / (r->end - t0) / 1e6;
    }
    m->secs = end - t0;
    return rc;
}

/* Ask the store what it holds after the phase; 0, or -1 if it cannot say or
 * holds the wrong number of keys (said). */
static int inspect_store(const struct bench *b, struct store *s, enum phase ph,
                         struct measure *m)
{
    char err[512] = "";
    if (s->sd->ops->inspect(s, &m->si, err, sizeof err) != 0) {
        fprintf(stderr, "shmkv-bench: %s: looking at the store: %s\n", s->sd->name, err);
        return -1;
    }
    int rc = 0;
    m->have_si = 1;
    uint64_t keys = ph == PH_DEL ? 0 : b->cfg.nkeys;
    /* a cache holds what it kept: at most every key, none after DEL; a
     * store that cannot count (KEYS_UNCOUNTED) is judged by its phases'
     * checks of every value alone */
    if (m->si.keys == KEYS_UNCOUNTED) {
        m->bpp = keys ? (double)m->si.mem_bytes / (double)keys : 0;
        return 0;
    }
    if (s->sd->cache ? m->si.keys > keys : m->si.keys != keys) {
        fprintf(stderr, "shmkv-bench: %s holds %" PRIu64 " keys after %s, expected %" PRIu64
                "\n", s->sd->name, m->si.keys, ph_name[ph], keys);
        rc = -1;
    }
    if (m->si.keys)
        m->bpp = (double)m->si.mem_bytes / (double)m->si.keys;
    return rc;
}

int run_phase(struct bench *b, struct store *s, enum phase ph, struct measure *m)
{
    const struct config *cfg = &b->cfg;
    int ready[2], go[2];
    memset(b->sh.wres, 0, sizeof *b->sh.wres * (size_t)cfg->workers);
    memset(b->sh.progress, 0, sizeof *b->sh.progress * (size_t)cfg->workers);
    atomic_store(b->sh.stop, 0);
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) {
        perror("shmkv-bench: pipe");
        return -1;
    }
    int started = start_workers(b, s, ph, ready, go);
    int ok = started == cfg->procs;
    double t0;
    if (release_workers(ready[0], go[1], &t0) != cfg->workers)
        ok = 0;
    if (wait_workers(b, s->sd, ph, started, t0))
        ok = 0;
    if (gather(b, s->sd, ph, t0, m))
        ok = 0;
    uint64_t want = ph == PH_PUT ? m->ops[OP_PUT] : ph == PH_DEL ? m->ops[OP_DEL]
                  : ph == PH_GET ? m->ops[OP_GET] : cfg->nkeys;
    if (ok && want != cfg->nkeys) {
        fprintf(stderr, "shmkv-bench: %s %s: %" PRIu64 " operations, expected %" PRIu64 "\n",
                s->sd->name, ph_name[ph], want, cfg->nkeys);
        ok = 0;
    }
    if (inspect_store(b, s, ph, m))
        ok = 0;
    m->ok = ok;
    return ok ? 0 : -1;
}
