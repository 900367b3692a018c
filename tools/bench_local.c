/*
 * bench_local.c - shmkv-bench's systems that need no server: shmkv itself,
 * LMDB (built when <lmdb.h> was found, -DHAVE_LMDB) and Boost.Interprocess.
 *
 * shmkv: one handle per worker process, shared by its threads; with
 * --batch B the gets go through shmkv_get_many() B at a time.
 *
 * LMDB: the environment in the same directory as shmkv's table (/dev/shm
 * by default), MDB_WRITEMAP|MDB_NOSYNC|MDB_NOMETASYNC|MDB_NORDAHEAD, one
 * environment per process, one write transaction per put or delete (the
 * atomicity of one shmkv write), and one read transaction per get, kept
 * per thread and reused with mdb_txn_reset()/mdb_txn_renew().
 *
 * Boost (-DHAVE_BOOST): the C side of bench_boost.cpp.
 */
#include "bench.h"
#include "shmkv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LMDB
#include <lmdb.h>
#endif

/* ---- shmkv ------------------------------------------------------------ */

static const char *shmkv_version(void)
{
    return SHMKV_VERSION_STRING;
}

static int shmkv_setup(struct store *s, char *err, size_t n)
{
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_CREATE | SHMKV_EXCL;
    o.expected_keys = cfg.presize ? cfg.nkeys : 0;
    if (s->sd->cache) {
        o.flags |= SHMKV_CACHE;
        o.max_bytes = cfg.cache_bytes;
    }
    snprintf(s->path, sizeof s->path, "%s/table", run_dir);
    snprintf(s->mapfile, sizeof s->mapfile, "%s", s->path);
    track_file(s->path);
    shmkv *db;
    int rc = shmkv_open(s->path, &o, &db);
    if (rc) {
        snprintf(err, n, "shmkv_open %s: %s", s->path, shmkv_strerror(rc));
        return -1;
    }
    shmkv_close(db);
    return 0;
}

static int shmkv_teardown(struct store *s, char *err, size_t n)
{
    int rc = shmkv_unlink(s->path);
    untrack_file(s->path);
    if (rc) {
        snprintf(err, n, "shmkv_unlink %s: %s", s->path, shmkv_strerror(rc));
        return -1;
    }
    return 0;
}

static int shmkv_inspect(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    shmkv *db;
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_RDONLY;
    int rc = shmkv_open(s->path, &o, &db);
    if (rc) {
        snprintf(err, n, "shmkv_open %s: %s", s->path, shmkv_strerror(rc));
        return -1;
    }
    shmkv_stats st;
    rc = shmkv_stat(db, &st);
    shmkv_close(db);
    if (rc) {
        snprintf(err, n, "shmkv_stat: %s", shmkv_strerror(rc));
        return -1;
    }
    si->keys = st.keys;
    si->mem_bytes = st.file_bytes;
    si->mem_what = "file bytes";
    snprintf(si->detail, sizeof si->detail,
             "table: %" PRIu64 " keys, file %.1f MiB (used %.1f, index %.1f, log %.1f, "
             "garbage %.1f), %" PRIu64 " shards, %" PRIu64 " buckets + %" PRIu64
             " overflow, load %.2f, %" PRIu64 " splits, %" PRIu64 " lock waits",
             st.keys, (double)st.file_bytes / 1048576.0, (double)st.used_bytes / 1048576.0,
             (double)st.index_bytes / 1048576.0, (double)st.log_bytes / 1048576.0,
             (double)st.garbage_bytes / 1048576.0, st.shards, st.buckets,
             st.overflow_buckets, st.load_factor, st.splits, st.lock_waits);
    if (st.cache) {
        size_t used = strlen(si->detail);
        snprintf(si->detail + used, sizeof si->detail - used,
                 "; cache of %.1f MiB: live %.1f MiB, %" PRIu64 " evictions, %" PRIu64
                 " hits, %" PRIu64 " misses", (double)st.max_bytes / 1048576.0,
                 (double)st.live_bytes / 1048576.0, st.evictions, st.hits, st.misses);
    }
    snprintf(si->json, sizeof si->json,
             "{\"keys\": %" PRIu64 ", \"live_bytes\": %" PRIu64 ", \"used_bytes\": %" PRIu64
             ", \"file_bytes\": %" PRIu64 ", \"shards\": %" PRIu64 ", \"buckets\": %" PRIu64
             ", \"overflow_buckets\": %" PRIu64 ", \"index_bytes\": %" PRIu64
             ", \"log_bytes\": %" PRIu64 ", \"garbage_bytes\": %" PRIu64
             ", \"free_bytes\": %" PRIu64 ", \"load_factor\": %.4f, \"splits\": %" PRIu64
             ", \"runs_cleaned\": %" PRIu64 ", \"lock_waits\": %" PRIu64 ", \"cache\": %"
             PRIu64 ", \"max_bytes\": %" PRIu64 ", \"evictions\": %" PRIu64 ", \"hits\": %"
             PRIu64 ", \"misses\": %" PRIu64 "}",
             st.keys, st.live_bytes, st.used_bytes, st.file_bytes, st.shards, st.buckets,
             st.overflow_buckets, st.index_bytes, st.log_bytes, st.garbage_bytes,
             st.free_bytes, st.load_factor, st.splits, st.runs_cleaned, st.lock_waits,
             st.cache, st.max_bytes, st.evictions, st.hits, st.misses);
    return 0;
}

static int shmkv_open_proc(struct store *s, char *err, size_t n)
{
    shmkv_options o;
    memset(&o, 0, sizeof o);
    shmkv *db;
    int rc = shmkv_open(s->path, &o, &db);
    if (rc) {
        snprintf(err, n, "shmkv_open %s: %s", s->path, shmkv_strerror(rc));
        return -1;
    }
    s->h = db;
    return 0;
}

static void shmkv_close_proc(struct store *s)
{
    shmkv_close(s->h);
    s->h = NULL;
}

static int shmkv_open_thread(struct wctx *c)
{
    c->aux = calloc(c->s->sd->depth, sizeof(shmkv_item));
    if (!c->aux) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return R_ERR;
    }
    return R_OK;
}

static void shmkv_close_thread(struct wctx *c)
{
    free(c->aux);
    c->aux = NULL;
}

static int shmkv_fail(struct wctx *c, const char *what, int rc)
{
    snprintf(c->err, sizeof c->err, "shmkv_%s: %s", what, shmkv_strerror(rc));
    return R_ERR;
}

static int shmkv_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                        unsigned char *buf, size_t cap, size_t *vl)
{
    int rc = shmkv_get(c->s->h, k, kl, buf, cap, vl);
    if (rc == 0 || rc == -ENOBUFS)
        return R_OK; /* a value too long: *vl says so, the check fails it */
    if (rc == -ENOENT)
        return R_ABSENT;
    return shmkv_fail(c, "get", rc);
}

static int shmkv_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                        const unsigned char *v, size_t vl)
{
    int rc = shmkv_put(c->s->h, k, kl, v, vl);
    return rc ? shmkv_fail(c, "put", rc) : R_OK;
}

static int shmkv_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    int rc = shmkv_del(c->s->h, k, kl);
    if (rc == -ENOENT)
        return R_ABSENT;
    return rc ? shmkv_fail(c, "del", rc) : R_OK;
}

/* Runs of consecutive gets through shmkv_get_many(), writes one by one. */
static int shmkv_exec(struct wctx *c, struct op *ops, unsigned n)
{
    shmkv_item *it = c->aux;
    unsigned j = 0;
    while (j < n) {
        if (ops[j].type != OP_GET) {
            struct op *o = &ops[j++];
            o->rc = o->type == OP_PUT ? shmkv_put_op(c, o->key, o->klen, o->val, o->vlen)
                                      : shmkv_del_op(c, o->key, o->klen);
            if (o->rc == R_ERR)
                return R_ERR;
            continue;
        }
        unsigned m = 0;
        while (j + m < n && ops[j + m].type == OP_GET) {
            struct op *o = &ops[j + m];
            it[m].key = o->key;
            it[m].klen = o->klen;
            it[m].buf = o->buf;
            it[m].cap = o->cap;
            m++;
        }
        int rc = shmkv_get_many(c->s->h, it, m);
        if (rc < 0)
            return shmkv_fail(c, "get_many", rc);
        for (unsigned b = 0; b < m; b++) {
            struct op *o = &ops[j + b];
            o->outlen = it[b].vlen;
            if (it[b].rc == 0 || it[b].rc == -ENOBUFS)
                o->rc = R_OK;
            else if (it[b].rc == -ENOENT)
                o->rc = R_ABSENT;
            else
                return shmkv_fail(c, "get_many", it[b].rc);
        }
        j += m;
    }
    return R_OK;
}

const struct sysops shmkv_sysops = {
    .base = "shmkv",
    .version = shmkv_version,
    .setup = shmkv_setup,
    .teardown = shmkv_teardown,
    .inspect = shmkv_inspect,
    .open_proc = shmkv_open_proc,
    .close_proc = shmkv_close_proc,
    .open_thread = shmkv_open_thread,
    .close_thread = shmkv_close_thread,
    .get = shmkv_get_op,
    .put = shmkv_put_op,
    .del = shmkv_del_op,
    .exec = shmkv_exec,
    .batches_gets = 1,
};

/* ---- LMDB ------------------------------------------------------------- */

#ifdef HAVE_LMDB
static const unsigned lmdb_flags = MDB_WRITEMAP | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NORDAHEAD;

static const char *lmdb_version(void)
{
    static char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", MDB_VERSION_MAJOR, MDB_VERSION_MINOR, MDB_VERSION_PATCH);
    return v;
}

static size_t lmdb_mapsize(void)
{
    /* far more than the B-tree can need: pages of 4 KiB at least a quarter
     * full, plus overflow pages for big values, plus slack; on tmpfs only
     * the pages written take memory. */
    uint64_t per = (uint64_t)cfg.key_max + cfg.val_max + 64;
    if (cfg.val_max > 1000)
        per += cfg.val_max + 4096;
    uint64_t sz = cfg.nkeys * per * 4 + (256u << 20);
    return (size_t)((sz + 0xfffff) & ~(uint64_t)0xfffff);
}

static int lmdb_fail(char *err, size_t n, const char *what, int rc)
{
    snprintf(err, n, "lmdb %s: %s", what, mdb_strerror(rc));
    return -1;
}

static int lmdb_open_env(struct store *s, char *err, size_t n)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc)
        return lmdb_fail(err, n, "mdb_env_create", rc);
    if ((rc = mdb_env_set_mapsize(env, lmdb_mapsize())) == 0 &&
        (rc = mdb_env_set_maxreaders(env, (unsigned)cfg.workers + 8)) == 0 &&
        (rc = mdb_env_open(env, s->path, lmdb_flags, 0600)) == 0) {
        MDB_txn *txn;
        MDB_dbi dbi;
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
            if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0) {
                rc = mdb_txn_commit(txn);
                s->dbi = dbi;
            } else {
                mdb_txn_abort(txn);
            }
        }
    }
    if (rc) {
        mdb_env_close(env);
        return lmdb_fail(err, n, "open", rc);
    }
    s->h = env;
    return 0;
}

static char lmdb_files[2][384];

static int lmdb_setup(struct store *s, char *err, size_t n)
{
    snprintf(s->path, sizeof s->path, "%s/lmdb", run_dir);
    if (mkdir(s->path, 0700) != 0) {
        snprintf(err, n, "mkdir %s: %s", s->path, strerror(errno));
        return -1;
    }
    snprintf(lmdb_files[0], sizeof lmdb_files[0], "%s/data.mdb", s->path);
    snprintf(lmdb_files[1], sizeof lmdb_files[1], "%s/lock.mdb", s->path);
    snprintf(s->mapfile, sizeof s->mapfile, "%s", lmdb_files[0]);
    track_file(lmdb_files[0]);
    track_file(lmdb_files[1]);
    track_file(s->path); /* removed after the files (rmdir) */
    if (lmdb_open_env(s, err, n))
        return -1;
    int rc = 0;
    if ((size_t)mdb_env_get_maxkeysize(s->h) < cfg.key_max) {
        snprintf(err, n, "lmdb: keys of %zu bytes are longer than LMDB's limit of %d",
                 cfg.key_max, mdb_env_get_maxkeysize(s->h));
        rc = -1;
    }
    mdb_env_close(s->h);
    s->h = NULL;
    return rc;
}

static int lmdb_teardown(struct store *s, char *err, size_t n)
{
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        if (unlink(lmdb_files[i]) != 0 && errno != ENOENT && !rc) {
            snprintf(err, n, "unlink %s: %s", lmdb_files[i], strerror(errno));
            rc = -1;
        }
        untrack_file(lmdb_files[i]);
    }
    if (rmdir(s->path) != 0 && !rc) {
        snprintf(err, n, "rmdir %s: %s", s->path, strerror(errno));
        rc = -1;
    }
    untrack_file(s->path);
    return rc;
}

static int lmdb_inspect(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    if (lmdb_open_env(s, err, n))
        return -1;
    MDB_stat ms;
    MDB_envinfo info;
    int rc;
    if ((rc = mdb_env_stat(s->h, &ms)) == 0 && (rc = mdb_env_info(s->h, &info)) == 0) {
        uint64_t pages = (uint64_t)info.me_last_pgno + 1;
        si->keys = ms.ms_entries;
        si->mem_bytes = pages * ms.ms_psize;
        si->mem_what = "pages in use";
        snprintf(si->detail, sizeof si->detail,
                 "env: %zu entries, %" PRIu64 " pages of %u B in use (%.1f MiB), "
                 "B-tree depth %u", ms.ms_entries, pages, ms.ms_psize,
                 (double)si->mem_bytes / 1048576.0, ms.ms_depth);
        snprintf(si->json, sizeof si->json,
                 "{\"entries\": %zu, \"pages\": %" PRIu64 ", \"page_size\": %u, "
                 "\"depth\": %u}", ms.ms_entries, pages, ms.ms_psize, ms.ms_depth);
    }
    mdb_env_close(s->h);
    s->h = NULL;
    return rc ? lmdb_fail(err, n, "stat", rc) : 0;
}

static int lmdb_open_proc(struct store *s, char *err, size_t n)
{
    return lmdb_open_env(s, err, n);
}

static void lmdb_close_proc(struct store *s)
{
    mdb_env_close(s->h);
    s->h = NULL;
}

static int lmdb_open_thread(struct wctx *c)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->s->h, NULL, MDB_RDONLY, &txn);
    if (rc) {
        lmdb_fail(c->err, sizeof c->err, "mdb_txn_begin", rc);
        return R_ERR;
    }
    mdb_txn_reset(txn);
    c->conn = txn;
    return R_OK;
}

static void lmdb_close_thread(struct wctx *c)
{
    mdb_txn_abort(c->conn);
    c->conn = NULL;
}

static int lmdb_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                       unsigned char *buf, size_t cap, size_t *vl)
{
    MDB_val mk = { kl, (void *)k }, mv;
    MDB_txn *txn = c->conn;
    int rc = mdb_txn_renew(txn);
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_renew", rc), R_ERR;
    rc = mdb_get(txn, c->s->dbi, &mk, &mv);
    if (rc == 0) {
        *vl = mv.mv_size;
        if (mv.mv_size <= cap)
            memcpy(buf, mv.mv_data, mv.mv_size);
    }
    mdb_txn_reset(txn);
    if (rc == MDB_NOTFOUND)
        return R_ABSENT;
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_get", rc), R_ERR;
    return R_OK;
}

static int lmdb_write(struct wctx *c, const unsigned char *k, size_t kl,
                      const unsigned char *v, size_t vl, int del)
{
    MDB_val mk = { kl, (void *)k }, mv = { vl, (void *)v };
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->s->h, NULL, 0, &txn);
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_begin", rc), R_ERR;
    rc = del ? mdb_del(txn, c->s->dbi, &mk, NULL) : mdb_put(txn, c->s->dbi, &mk, &mv, 0);
    if (rc) {
        mdb_txn_abort(txn);
        if (rc == MDB_NOTFOUND)
            return R_ABSENT;
        return lmdb_fail(c->err, sizeof c->err, del ? "mdb_del" : "mdb_put", rc), R_ERR;
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_commit", rc), R_ERR;
    return R_OK;
}

static int lmdb_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                       const unsigned char *v, size_t vl)
{
    return lmdb_write(c, k, kl, v, vl, 0);
}

static int lmdb_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    return lmdb_write(c, k, kl, NULL, 0, 1);
}

const struct sysops lmdb_sysops = {
    .base = "lmdb",
    .version = lmdb_version,
    .setup = lmdb_setup,
    .teardown = lmdb_teardown,
    .inspect = lmdb_inspect,
    .open_proc = lmdb_open_proc,
    .close_proc = lmdb_close_proc,
    .open_thread = lmdb_open_thread,
    .close_thread = lmdb_close_thread,
    .get = lmdb_get_op,
    .put = lmdb_put_op,
    .del = lmdb_del_op,
};
#endif /* HAVE_LMDB */

/* ---- Boost.Interprocess (bench_boost.cpp) ----------------------------- */

#ifdef HAVE_BOOST
const char *bb_version(void);
int bb_create(const char *name, uint64_t bytes, char *err, size_t n);
void *bb_open(const char *name, char *err, size_t n);
void bb_close(void *h);
int bb_remove(const char *name);
int bb_stats(const char *name, uint64_t *keys, uint64_t *used, uint64_t *size, char *err,
             size_t n);
int bb_get(void *h, const unsigned char *k, size_t kl, unsigned char *buf, size_t cap,
           size_t *vl, char *err, size_t n);
int bb_put(void *h, const unsigned char *k, size_t kl, const unsigned char *v, size_t vl,
           char *err, size_t n);
int bb_del(void *h, const unsigned char *k, size_t kl, char *err, size_t n);

static char boost_file[384];

/* s->path holds the segment's name (a file in /dev/shm). */
static int boost_setup(struct store *s, char *err, size_t n)
{
    static unsigned seq;
    snprintf(s->path, sizeof s->path, "shmkv-bench-boost.%d.%u", (int)getpid(), seq++);
    snprintf(boost_file, sizeof boost_file, "/dev/shm/%s", s->path);
    snprintf(s->mapfile, sizeof s->mapfile, "%s", boost_file);
    track_file(boost_file);
    /* a fixed size: room for the pairs, the buckets and MIX's churn; only
     * the pages touched take memory */
    uint64_t bytes = cfg.nkeys * ((uint64_t)cfg.key_max + cfg.val_max + 160) * 2 + (128u << 20);
    return bb_create(s->path, bytes, err, n);
}

static int boost_teardown(struct store *s, char *err, size_t n)
{
    int rc = bb_remove(s->path);
    untrack_file(boost_file);
    if (rc)
        snprintf(err, n, "removing segment %s failed", s->path);
    return rc;
}

static int boost_inspect(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    uint64_t size = 0;
    if (bb_stats(s->path, &si->keys, &si->mem_bytes, &size, err, n))
        return -1;
    si->mem_what = "segment bytes in use";
    snprintf(si->detail, sizeof si->detail, "segment: %" PRIu64 " keys, %.1f MiB in use of %.1f",
             si->keys, (double)si->mem_bytes / 1048576.0, (double)size / 1048576.0);
    snprintf(si->json, sizeof si->json, "{\"keys\": %" PRIu64 ", \"used_bytes\": %" PRIu64
             ", \"segment_bytes\": %" PRIu64 "}", si->keys, si->mem_bytes, size);
    return 0;
}

static int boost_open_proc(struct store *s, char *err, size_t n)
{
    s->h = bb_open(s->path, err, n);
    return s->h ? 0 : -1;
}

static void boost_close_proc(struct store *s)
{
    bb_close(s->h);
    s->h = NULL;
}

static int boost_open_thread(struct wctx *c)
{
    (void)c;
    return R_OK;
}

static void boost_close_thread(struct wctx *c)
{
    (void)c;
}

static int boost_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                        unsigned char *buf, size_t cap, size_t *vl)
{
    int rc = bb_get(c->s->h, k, kl, buf, cap, vl, c->err, sizeof c->err);
    return rc == 0 ? R_OK : rc == 1 ? R_ABSENT : R_ERR;
}

static int boost_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                        const unsigned char *v, size_t vl)
{
    return bb_put(c->s->h, k, kl, v, vl, c->err, sizeof c->err) ? R_ERR : R_OK;
}

static int boost_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    int rc = bb_del(c->s->h, k, kl, c->err, sizeof c->err);
    return rc == 0 ? R_OK : rc == 1 ? R_ABSENT : R_ERR;
}

const struct sysops boost_sysops = {
    .base = "boost",
    .version = bb_version,
    .setup = boost_setup,
    .teardown = boost_teardown,
    .inspect = boost_inspect,
    .open_proc = boost_open_proc,
    .close_proc = boost_close_proc,
    .open_thread = boost_open_thread,
    .close_thread = boost_close_thread,
    .get = boost_get_op,
    .put = boost_put_op,
    .del = boost_del_op,
};
#endif /* HAVE_BOOST */
