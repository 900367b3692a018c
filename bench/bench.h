/*
 * bench.h - what the parts of shmkv-bench share; the systems' interface is
 * sys.h.
 *
 *   main.c         the run loop: for each run and system a fresh store and
 *                  its phases
 *   options.c      the options table, from which parsing and --help come
 *   systems.c      the table of systems, and the choice of those to run
 *   phases.c       one phase: fork the workers, release them, gather what
 *                  they did
 *   worker.c       a worker process and its threads: the timed, checked
 *                  operations
 *   report.c       the text, JSON and TSV reports
 *   cleanup.c      what to remove and kill at the end or on a signal
 *   util.c         keys and values, random numbers, Zipf, latency histograms
 *   stall.c        --stall-probe
 *   hitratio.c     --hitratio: shmkv's cache against an exact LRU and
 *                  memcached (hitratio_mc.c; hitratio.h)
 *   queue.c        --queue: shmkv's lists as queues against POSIX message
 *                  queues, a pipe, Redis lists, SharedHashFile (queue.h;
 *                  queue_peers.c, queue_redis.c, queue_shf.c)
 *   sys_*.c        the systems (sys.h); servers.c runs Redis' and
 *                  memcached's servers; boost_map.cpp is the C++ behind
 *                  sys_boost.c
 *
 * Everything is reached through one struct bench that main() owns and
 * passes down; nothing mutable is shared between files otherwise (the
 * servers' processes are each known to their own file only).
 */
#ifndef SHMKV_BENCH_H
#define SHMKV_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sys.h"

#define MAX_PROCS 256
#define MAX_THREADS 64
#define MAX_WORKERS 1024
#define MAX_RUNS 100
#define MAX_DEPTH 1024
#define MAX_SYS 12
#define HR_MAX_CELLS 16

enum optype { OP_GET, OP_PUT, OP_DEL, OP_INCR, NOPT };
enum mixop { MIX_DELPUT, MIX_PUT, MIX_INCR };  /* what a MIX update is (--op) */
enum phase { PH_PUT, PH_MIX, PH_GET, PH_DEL, NPH };

extern const char *const ph_name[NPH];   /* "PUT", ... */
extern const char *const op_name[NOPT];  /* "get", ... */

/* ---- configuration: what the options decide (options.c) --------------- */

struct sizes { size_t min, max; };        /* bytes: fixed when min == max */
struct numlist { double v[HR_MAX_CELLS]; int n; };

struct config {
    int procs, threads, workers;   /* workers = procs * threads */
    uint64_t nkeys;
    struct sizes key, val;
    int runs;
    unsigned batch;                /* gets per batch call (--batch) */
    int lean_gets;                 /* GET: keys made first, values checked after (--lean-gets) */
    unsigned ideal_pad;            /* ideal's gets: empty loop turns first (--ideal-pad) */
    int ideal_guards;              /* ideal's gets: shmkv's guarantees' least (--ideal-guards) */
    unsigned ideal_put_pad[2];     /* ideal's guarded puts: loop turns before and after the look
                                    * (--ideal-put-pad, --ideal-put-prepad) */
    int ideal_shmkv_lines;         /* ideal's guarded puts: shmkv's lock and shard lines
                                    * (--ideal-shmkv-lines) */
    unsigned put_batch;            /* PUT: pairs per batch call (--put-batch) */
    int mix_op;                    /* MIX_*: what a MIX update is (--op) */
    unsigned pipeline;             /* depth of the pipelined variants */
    double mix_get;                /* MIX: share of steps that are gets, 0..1 */
    double mix_seconds;            /* MIX duration, or ... */
    uint64_t mix_ops;              /* ... this many steps in all (0: by time) */
    int zipf;                      /* key distribution of MIX and GET */
    double zipf_s;
    int presize;
    int prefault;                  /* map the store's pages in before a phase */
    unsigned sample;               /* time every sample-th operation */
    int phase_on[NPH];
    int self_test_corrupt;
    const char *dir;               /* where files of serverless stores go */
    const char *systems;           /* --system (NULL: the mode's default) */
    double cache_pct;              /* --cache: cache budget, % of the working set (0: off) */
    int json, progress, quick, list_systems;
    const char *tsv;
    double stall_secs;             /* --stall-probe (0: not asked for) */
    int hitratio;                  /* --hitratio, and what only it uses: */
    uint64_t hr_requests, hr_warmup;   /* counted requests, and uncounted before them */
    struct numlist hr_skews;
    struct numlist hr_pcts;        /* cache sizes, % of the working set's bytes */
    int queue;                     /* --queue, and what only it uses: */
    uint64_t queue_items, queue_wakes;
    double queue_timeout;          /* a run taking longer fails */
    double queue_min_ms;           /* a cell's first run shorter: more messages */
    uint64_t given;                /* bit i: the table's option i was given */
    /* derived from the above once they are parsed */
    uint64_t ws_bytes;             /* working set: key + value bytes of every key */
    uint64_t cache_bytes;          /* shmkv-cache's max_bytes */
    uint64_t cache_mc_mib;         /* memcached's -m in cache mode */
};

/* The defaults, then argv, into *c.  Returns 0; 1 if it printed the help;
 * 2 on bad usage (said on stderr). */
int parse_options(struct config *c, int argc, char **argv);
int option_given(const struct config *c, const char *name);

/* ---- cleanup (cleanup.c) ----------------------------------------------- */

/* What to remove and kill at the end, or on SIGINT/SIGTERM/SIGHUP. */
struct cleanup {
    pid_t parent;                  /* the bench: its children clean up nothing */
    volatile pid_t kids[MAX_PROCS];/* the current phase's worker processes */
    char run_dir[256];             /* the current run's private directory */
    char files[8][384];            /* to remove (unlink, else rmdir), in order */
    void (*undo)(void);            /* may be NULL; async-signal-safe: put back
                                    * what the run changed (--queue: msg_max) */
};

void cleanup_on_signals(struct cleanup *cl); /* also ignores SIGPIPE */
void track_file(struct cleanup *cl, const char *path);
void untrack_file(struct cleanup *cl, const char *path);
void remove_tracked(struct cleanup *cl);
/* Make run_dir, a fresh private directory under dir; 0 or -1 (said). */
int run_dir_open(struct cleanup *cl, const char *dir);
/* Remove what is tracked and run_dir; 0, or -1 (said) if it was not empty. */
int run_dir_close(struct cleanup *cl);

/* ---- util.c ------------------------------------------------------------ */

uint64_t mix64(uint64_t x);
double now_sec(void);
uint64_t now_ns(void);
double clock_cost_ns(void);        /* what one now_ns() costs */

size_t key_len(const struct sizes *ks, uint64_t i);
size_t make_key(const struct sizes *ks, uint64_t i, unsigned char *k); /* its length */
size_t val_len(const struct sizes *vs, uint64_t i, uint32_t ver);
size_t make_val(const struct sizes *vs, uint64_t i, uint32_t ver, unsigned char *v);
uint32_t val_version(uint64_t i, const unsigned char *v, size_t len);
/* --op incr: key i's value is a counter, the decimal text of i + v N (N
 * keys, v its version), so an increment by N makes the next version */
size_t make_counter(uint64_t nkeys, uint64_t i, uint32_t ver, unsigned char *v);
uint32_t counter_version(uint64_t nkeys, uint64_t i, const unsigned char *v, size_t len);
/* A counter's text as an int64 (an optional '-', 1 to 19 digits); 0 or -1. */
int parse_counter(const unsigned char *p, size_t len, int64_t *out);

struct rng { uint64_t s[4]; };
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
uint64_t rng_below(struct rng *r, uint64_t n);  /* uniform in [0, n) */
double rng_unit(struct rng *r);                 /* uniform in [0, 1) */

/* Zipf over ranks 1..n with exponent s > 0: rejection-inversion sampling
 * (W. Hormann and G. Derflinger, "Rejection-inversion to generate variates
 * from monotone discrete distributions", 1996), exact, O(1) per draw. */
struct zipf { double s, n, hx1, hn, sq; };
void zipf_init(struct zipf *z, uint64_t n, double s);
uint64_t zipf_draw(const struct zipf *z, struct rng *r);

/* Latency histogram: log-linear buckets, 16 per power of two (6 % wide). */
#define HIST_BUCKETS 976
struct hist {
    uint64_t count, sum_ns, max_ns;
    uint64_t b[HIST_BUCKETS];
};
void hist_add(struct hist *h, uint64_t ns);
void hist_merge(struct hist *into, const struct hist *from);
double hist_quantile_us(const struct hist *h, double q);  /* bucket midpoint */

/* Shared memory for the workers (MAP_SHARED | MAP_ANONYMOUS); exits on
 * failure, as nothing can run without it. */
void *shared_alloc(size_t bytes);

int stall_probe(double secs);      /* stall.c: prints gaps per CPU; 0 or 1 */

/* ---- the systems chosen (systems.c) ------------------------------------ */

struct systems {
    struct sysdef d[MAX_SYS];      /* in the order they run */
    int n;
    char skipped[1024];            /* what 'all' left out, and why */
};

/* Choose the systems of LIST (comma-separated names, or all); 0 or -1. */
int systems_choose(struct systems *ss, const struct config *c, const char *list);
int systems_add(struct systems *ss, const struct config *c, const char *name, int quiet);
void systems_add_all(struct systems *ss, const struct config *c, int quiet);
void systems_kill_now(void);       /* async-signal-safe: kill servers */
void systems_stop(void);           /* at the end: stop servers */

/* ---- workers, phases and their results --------------------------------- */

/* What one worker (thread) did in one phase; in shared memory. */
struct wres {
    uint64_t ops[NOPT];
    uint64_t checked;              /* gets whose value was checked */
    uint64_t wrong;                /* mismatches: wrong or missing value, a
                                    * delete that found nothing */
    uint64_t absent_race;          /* MIX: absent while an update raced (fine) */
    uint64_t other_ver;            /* MIX: another version while an update raced (fine) */
    uint64_t misses;               /* cache mode: gets that found nothing (fine) */
    uint64_t del_absent;           /* cache mode: deletes that found nothing (fine) */
    uint64_t faults;               /* page faults of the thread */
    double cpu;                    /* CPU seconds it used (user + system;
                                    * a server's are not counted) */
    double end;                    /* CLOCK_MONOTONIC seconds when it finished */
    int error;
    char err[256];                 /* the error that stopped it */
    char first_wrong[256];         /* the first mismatch, described */
    struct hist lat[NOPT];
};

struct progress {
    _Atomic uint64_t n;            /* operations done so far */
    char pad[56];
};

/* What the parent and the workers share: all but order in shared memory. */
struct shared {
    struct wres *wres;             /* cfg.workers entries */
    struct progress *progress;     /* cfg.workers entries */
    _Atomic int *stop;             /* MIX by time: set when time is up */
    _Atomic uint64_t *dirty;       /* bit per key: updated in MIX */
    _Atomic uint32_t *seqs;        /* per key: 2 x version, +1 while updating */
    uint32_t *order;               /* GET order: a permutation of the keys */
};

/* What the parent makes of one phase of one run of one system. */
struct measure {
    int ok;
    double secs;
    uint64_t ops[NOPT], total;
    uint64_t checked, wrong, absent_race, other_ver, faults;
    double cpu;                    /* the workers' CPU seconds */
    uint64_t misses, del_absent;   /* cache mode: gets that missed, deletes that found nothing */
    double *wmops;                 /* each worker's own M ops/s */
    struct hist lat[NOPT];
    struct storeinfo si;
    int have_si;
    double bpp;                    /* memory bytes per pair (0: unknown) */
};

/* Everything of one invocation; main() owns it. */
struct bench {
    struct config cfg;             /* read-only once the options are parsed */
    struct cleanup cl;
    struct shared sh;
    struct systems sys;
    struct measure *meas[MAX_SYS][NPH][MAX_RUNS];
    double timer_ns;               /* what one clock_gettime costs */
};

/* phases.c */
int shared_init(struct bench *b);
void shared_reset_versions(struct bench *b);  /* all zero, for a new store */
int run_phase(struct bench *b, struct store *s, enum phase ph, struct measure *m);

/* worker.c: run worker process p of the phase; never returns. */
void worker_process(const struct bench *b, struct store *s, enum phase ph, int p,
                    int ready_fd, int go_fd);

/* report.c */
void report_header(const struct bench *b);
void report_phase(const struct bench *b, const struct sysdef *sd, enum phase ph,
                  const struct measure *m, int run);
void report_summary(const struct bench *b);
void report_json(const struct bench *b);
int report_tsv(const struct bench *b, const char *path);

/* hitratio.c: --hitratio; returns the exit status. */
int hitratio_main(const struct config *c, struct cleanup *cl);

/* queue.c: --queue; returns the exit status. */
int queue_main(const struct config *c, struct cleanup *cl);

#endif /* SHMKV_BENCH_H */
