/*
 * bench.h - what the parts of shmkv-bench share.
 *
 *   shmkv-bench.c   options, the phases, the workers, the reports
 *   bench_util.c    keys and values, random numbers, Zipf, latency histograms
 *   bench_local.c   the systems without a server: shmkv, LMDB, Boost
 *   bench_net.c     the servers: Redis (hiredis), memcached (libmemcached)
 *   bench_hitratio.c --hitratio: shmkv's cache against an exact LRU and memcached
 *   bench_boost.cpp Boost.Interprocess unordered_map (C++, optional)
 */
#ifndef SHMKV_BENCH_H
#define SHMKV_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_PROCS 256
#define MAX_THREADS 64
#define MAX_WORKERS 1024
#define MAX_RUNS 100
#define MAX_DEPTH 1024
#define MAX_SYS 12

enum optype { OP_GET, OP_PUT, OP_DEL, NOPT };
enum phase { PH_PUT, PH_MIX, PH_GET, PH_DEL, NPH };

/* Everything the options decide; set by main() before anything runs. */
struct config {
    int procs, threads, workers;   /* workers = procs * threads */
    uint64_t nkeys;
    size_t key_min, key_max;       /* key bytes: fixed when min == max */
    size_t val_min, val_max;
    int runs;
    unsigned batch;                /* gets per batch call (--batch) */
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
    double cache_pct;              /* --cache: cache budget, % of the working set (0: off) */
    uint64_t ws_bytes;             /* working set: key + value bytes of every key */
    uint64_t cache_bytes;          /* shmkv-cache's max_bytes */
    uint64_t cache_mc_mib;         /* memcached's -m in cache mode */
};
extern struct config cfg;

/* ---- bench_util.c ----------------------------------------------------- */

uint64_t mix64(uint64_t x);
double now_sec(void);
uint64_t now_ns(void);
int stall_probe(double secs); /* --stall-probe: prints gaps per CPU; 0 or 1 */

size_t key_len(uint64_t i);
size_t make_key(uint64_t i, unsigned char *k);            /* returns its length */
size_t val_len(uint64_t i, uint32_t ver);
size_t make_val(uint64_t i, uint32_t ver, unsigned char *v);
uint32_t val_version(uint64_t i, const unsigned char *v, size_t len);

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

/* ---- systems ---------------------------------------------------------- */

/* Result of one operation. */
#define R_OK 0      /* done / found */
#define R_ABSENT 1  /* get: no such key; delete: there was nothing to delete */
#define R_ERR (-1)  /* failed: wctx.err says why */

struct op {
    uint8_t type;                  /* OP_* */
    uint32_t idx;                  /* key number */
    uint32_t seq;                  /* GET: key's sequence before; PUT: version */
    const unsigned char *key;
    size_t klen;
    const unsigned char *val;      /* PUT */
    size_t vlen;
    unsigned char *buf;            /* GET: where the value goes */
    size_t cap;
    size_t outlen;                 /* GET: the value's length (even if > cap) */
    int rc;                        /* R_* */
};

struct sysdef;

/* One store, as the parent or one worker process sees it. */
struct store {
    const struct sysdef *sd;
    char path[320];
    char mapfile[384];             /* the file a worker maps (prefaulted), or "" */
    void *h;                       /* per process: shmkv *, MDB_env *, ... */
    unsigned dbi;
};

/* One worker thread. */
struct wctx {
    struct store *s;
    int w;
    void *conn;                    /* per thread: MDB_txn *, redisContext *, ... */
    void *aux;
    char err[256];
};

/* What the parent learns about a store after a phase. */
struct storeinfo {
    uint64_t keys;
    uint64_t mem_bytes;            /* file bytes, B-tree pages, used_memory, bytes */
    uint64_t rss;                  /* server RSS, bytes (0: no server) */
    const char *mem_what;          /* what mem_bytes is */
    char detail[480];              /* one line for the text report */
    char json[640];                /* ", \"stats\": {...}" */
};

struct sysops {
    const char *base;              /* "shmkv", "redis", ... */
    const char *(*unavailable)(void);   /* why not, or NULL */
    const char *(*version)(void);
    void (*kill_now)(void);        /* async-signal-safe: kill servers, remove files */
    void (*stop)(void);            /* at the end: stop servers, remove files */
    int (*setup)(struct store *s, char *err, size_t n);     /* a fresh empty store */
    int (*teardown)(struct store *s, char *err, size_t n);
    int (*inspect)(struct store *s, struct storeinfo *si, char *err, size_t n);
    int (*open_proc)(struct store *s, char *err, size_t n); /* in a worker process */
    void (*close_proc)(struct store *s);
    int (*open_thread)(struct wctx *c);                     /* R_OK or R_ERR */
    void (*close_thread)(struct wctx *c);
    int (*get)(struct wctx *c, const unsigned char *k, size_t kl,
               unsigned char *buf, size_t cap, size_t *vl);
    int (*put)(struct wctx *c, const unsigned char *k, size_t kl,
               const unsigned char *v, size_t vl);
    int (*del)(struct wctx *c, const unsigned char *k, size_t kl);
    /* Several operations at once, in order (NULL: one at a time).  Returns
     * R_OK with each op's rc set, or R_ERR if the connection failed. */
    int (*exec)(struct wctx *c, struct op *ops, unsigned n);
    int batches_gets;              /* exec groups gets (--batch applies) */
};

struct sysdef {
    char name[32];
    const struct sysops *ops;
    unsigned depth;                /* operations per exec() call; 1: no exec */
    int pipelined;                 /* writes go through exec() too */
    int cache;                     /* evicts (--cache): a get may miss, a delete
                                    * find nothing, and the store hold fewer keys */
};

extern const struct sysops shmkv_sysops;
#ifdef HAVE_LMDB
extern const struct sysops lmdb_sysops;
#endif
#ifdef HAVE_BOOST
extern const struct sysops boost_sysops;
#endif
#ifdef HAVE_HIREDIS
extern const struct sysops redis_sysops;
#endif
#ifdef HAVE_MEMCACHED
extern const struct sysops memcached_sysops;
#endif

/* ---- bench_worker.c: the workers ------------------------------------- */

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

extern struct wres *wres;          /* cfg.workers entries */
extern struct progress *progress;  /* cfg.workers entries */
extern _Atomic int *stop_flag;     /* MIX by time: set when time is up */
extern _Atomic uint64_t *dirty;    /* bit per key: updated in MIX */
extern _Atomic uint32_t *seqs;     /* per key: 2 x version, +1 while updating */
extern uint32_t *order;            /* GET order: a permutation of the keys */

/* Run one worker process (procs' p-th) for a phase; never returns. */
void worker_process(struct store *s, enum phase ph, int p, int ready_fd, int go_fd);

/* shmkv-bench.c: the private directory of the current run's store files
 * (under --dir), and files to remove at the end or on a signal. */
extern char run_dir[256];
void track_file(const char *path);
void untrack_file(const char *path);

/* bench_net.c helpers, also used by shmkv-bench.c */
int find_program(const char *name);
uint64_t proc_rss(pid_t pid);
#ifdef HAVE_MEMCACHED
/* For --hitratio: start memcached (the bench's own, private, on a Unix
 * socket) with -m MIB and its default eviction (no -M); sets sock.  Stopped
 * by memcached_sysops.stop (and kill_now on a signal).  Returns 0 or -1. */
int mc_cache_start(uint64_t mib, char *sock, size_t socklen, char *err, size_t n);
const char *mc_server_version(void);
#endif

/* ---- bench_hitratio.c: --hitratio ------------------------------------- */

#define HR_MAX_CELLS 16
struct hrconf {
    uint64_t requests, warmup;     /* counted requests, and uncounted before them */
    double skews[HR_MAX_CELLS];
    int nskews;
    double pcts[HR_MAX_CELLS];     /* cache sizes, % of the working set's bytes */
    int npcts;
    const char *systems;           /* of shmkv,lru,memcached */
    int json;
    const char *tsv;
};
int hitratio_main(const struct hrconf *h);

#endif /* SHMKV_BENCH_H */
