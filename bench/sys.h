/*
 * sys.h - what a system (shmkv or a peer) gives shmkv-bench: one const
 * struct sysops of functions.
 *
 * Adding a peer: a file bench/sys_NAME.c that defines NAME_sysops, its
 * SYSOPS line below and its entry in systems.c's table; and, in
 * bench/bench.mk, the block that adds the file (and its libraries) to the
 * build when it can be built.
 *
 * The life of a store, per run:
 *   parent   setup (a fresh, empty store; its files go under
 *            s->cl->run_dir, each recorded with track_file so that a signal
 *            removes it), then per phase inspect, at the end teardown
 *   worker   per phase a fresh process: open_proc, then per thread
 *            open_thread, the operations (get/put/del, or exec for several
 *            at once), close_thread; close_proc
 * kill_now and stop (optional) are for what outlives a store: a server.
 */
#ifndef SHMKV_BENCH_SYS_H
#define SHMKV_BENCH_SYS_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct cleanup;

/* Result of one operation (RES_, as <unistd.h> has an R_OK of its own). */
#define RES_OK 0        /* done / found */
#define RES_ABSENT 1    /* get: no such key; delete: there was nothing to delete */
#define RES_ERR (-1)    /* failed: wctx.err says why */

/* One operation of an exec() call. */
struct op {
    uint8_t type;                  /* OP_* */
    uint32_t idx;                  /* key number */
    uint32_t seq;                  /* GET: key's sequence before; PUT: version */
    const unsigned char *key;
    size_t klen;
    const unsigned char *val;      /* PUT */
    size_t vlen;
    int64_t num;                   /* INCR: the delta; after exec, the new value */
    unsigned char *buf;            /* GET: where the value goes */
    size_t cap;
    size_t outlen;                 /* GET: the value's length (even if > cap) */
    int rc;                        /* RES_* */
};

struct sysdef;

/* One store, as the parent or one worker process sees it. */
struct store {
    const struct sysdef *sd;
    const struct config *cfg;
    struct cleanup *cl;            /* the run's directory, files to remove */
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
#define KEYS_UNCOUNTED UINT64_MAX /* storeinfo.keys of a store that cannot count them */

struct storeinfo {
    uint64_t keys;
    uint64_t mem_bytes;            /* file bytes, B-tree pages, used_memory, bytes */
    uint64_t rss;                  /* server RSS, bytes (0: no server) */
    const char *mem_what;          /* what mem_bytes is */
    char detail[480];              /* one line for the text report */
    char json[640];                /* a JSON object of the store's own figures */
};

/* Functions that may be NULL say so. */
struct sysops {
    const char *base;              /* "shmkv", "redis", ... */
    const char *(*unavailable)(const struct config *c);   /* why not, or NULL; may be NULL */
    const char *(*version)(void);
    void (*kill_now)(void);        /* may be NULL; async-signal-safe: kill servers */
    void (*stop)(void);            /* may be NULL; at the end: stop servers */
    int (*setup)(struct store *s, char *err, size_t n);     /* a fresh empty store */
    int (*teardown)(struct store *s, char *err, size_t n);
    int (*inspect)(struct store *s, struct storeinfo *si, char *err, size_t n);
    int (*open_proc)(struct store *s, char *err, size_t n); /* may be NULL */
    void (*close_proc)(struct store *s);                    /* may be NULL */
    int (*open_thread)(struct wctx *c);                     /* may be NULL; RES_OK or RES_ERR */
    void (*close_thread)(struct wctx *c);                   /* may be NULL */
    int (*get)(struct wctx *c, const unsigned char *k, size_t kl,
               unsigned char *buf, size_t cap, size_t *vl);
    int (*put)(struct wctx *c, const unsigned char *k, size_t kl,
               const unsigned char *v, size_t vl);
    int (*del)(struct wctx *c, const unsigned char *k, size_t kl);
    /* Add delta to the counter (decimal text) at k; *result the new value.
     * RES_OK, RES_ABSENT (where an increment of an absent key fails), or
     * RES_ERR.  NULL: the system has no increment (--op incr). */
    int (*incr)(struct wctx *c, const unsigned char *k, size_t kl, int64_t delta,
                int64_t *result);
    /* Several operations at once, in order (NULL: one at a time).  Returns
     * RES_OK with each op's rc set, or RES_ERR if the connection failed. */
    int (*exec)(struct wctx *c, struct op *ops, unsigned n);
    /* n puts (OP_PUT) in one call, the system's own batch (--put-batch; at
     * most cfg->put_batch, which open_thread sizes for): RES_OK, each op's rc
     * RES_OK; or RES_ERR (c->err says why).  NULL: the system has none. */
    int (*put_batch)(struct wctx *c, struct op *ops, unsigned n);
    int batches_gets;              /* exec groups gets (--batch applies) */
};

/* A system as chosen to run: "redis-p16" is redis_sysops at depth 16. */
struct sysdef {
    char name[32];
    const struct sysops *ops;
    unsigned depth;                /* operations per exec() call; 1: no exec */
    int pipelined;                 /* writes go through exec() too */
    int cache;                     /* evicts (--cache): a get may miss, a delete
                                    * find nothing, and the store hold fewer keys */
    int sized;                     /* shmkv-sized: told the key count at creation */
};

/* Each defined by its sys_*.c.  Weak: where the build leaves a peer's file
 * out (its headers or sources were not found), its address is NULL, and
 * systems.c's table says "built without it". */
#define SYSOPS(name) extern const struct sysops name __attribute__((weak))
SYSOPS(shmkv_sysops);
SYSOPS(lmdb_sysops);
SYSOPS(redis_sysops);
SYSOPS(memcached_sysops);
SYSOPS(boost_sysops);
SYSOPS(shf_sysops);
SYSOPS(shmcache_sysops);
SYSOPS(ideal_sysops);

/* servers.c, for the server peers and --hitratio */
int find_program(const char *name);

#ifdef HAVE_MEMCACHED
/* sys_memcached.c, for --hitratio: start memcached (the bench's own,
 * private, on a Unix socket) with -m MIB and its default eviction (no -M);
 * sets sock.  Stopped by memcached_sysops.stop (and kill_now on a signal).
 * Returns 0 or -1. */
int mc_cache_start(uint64_t mib, char *sock, size_t socklen, char *err, size_t n);
const char *mc_server_version(void);
#endif

#endif /* SHMKV_BENCH_SYS_H */
