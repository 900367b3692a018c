/*
 * sys_lmdb.c - LMDB as shmkv-bench's peer (built where <lmdb.h> is found).
 *
 * The environment in the run's directory (under --dir, /dev/shm by
 * default), MDB_WRITEMAP|MDB_NOSYNC|MDB_NOMETASYNC|MDB_NORDAHEAD, one
 * environment per process, one write transaction per put or delete (the
 * atomicity of one shmkv write), and one read transaction per get, kept
 * per thread and reused with mdb_txn_reset()/mdb_txn_renew().  With
 * --put-batch B one write transaction holds B puts; --op incr is a read,
 * an addition and a put in one write transaction.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned lmdb_flags = MDB_WRITEMAP | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NORDAHEAD;

static const char *lmdb_version(void)
{
    static char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", MDB_VERSION_MAJOR, MDB_VERSION_MINOR, MDB_VERSION_PATCH);
    return v;
}

static size_t lmdb_mapsize(const struct config *cfg)
{
    /* far more than the B-tree can need: pages of 4 KiB at least a quarter
     * full, plus overflow pages for big values, plus slack; on tmpfs only
     * the pages written take memory. */
    uint64_t per = (uint64_t)cfg->key.max + cfg->val.max + 64;
    if (cfg->val.max > 1000)
        per += cfg->val.max + 4096;
    uint64_t sz = cfg->nkeys * per * 4 + (256u << 20);
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
    if ((rc = mdb_env_set_mapsize(env, lmdb_mapsize(s->cfg))) == 0 &&
        (rc = mdb_env_set_maxreaders(env, (unsigned)s->cfg->workers + 8)) == 0 &&
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

/* The environment's files in directory s->path. */
static void lmdb_file(const struct store *s, int i, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", s->path, i ? "lock.mdb" : "data.mdb");
}

static int lmdb_setup(struct store *s, char *err, size_t n)
{
    snprintf(s->path, sizeof s->path, "%s/lmdb", s->cl->run_dir);
    if (mkdir(s->path, 0700) != 0) {
        snprintf(err, n, "mkdir %s: %s", s->path, strerror(errno));
        return -1;
    }
    char f[384];
    for (int i = 0; i < 2; i++) {
        lmdb_file(s, i, f, sizeof f);
        track_file(s->cl, f);
    }
    track_file(s->cl, s->path); /* removed after the files (rmdir) */
    lmdb_file(s, 0, s->mapfile, sizeof s->mapfile);
    if (lmdb_open_env(s, err, n))
        return -1;
    int rc = 0;
    if ((size_t)mdb_env_get_maxkeysize(s->h) < s->cfg->key.max) {
        snprintf(err, n, "lmdb: keys of %zu bytes are longer than LMDB's limit of %d",
                 s->cfg->key.max, mdb_env_get_maxkeysize(s->h));
        rc = -1;
    }
    mdb_env_close(s->h);
    s->h = NULL;
    return rc;
}

static int lmdb_teardown(struct store *s, char *err, size_t n)
{
    int rc = 0;
    char f[384];
    for (int i = 0; i < 2; i++) {
        lmdb_file(s, i, f, sizeof f);
        if (unlink(f) != 0 && errno != ENOENT && !rc) {
            snprintf(err, n, "unlink %s: %s", f, strerror(errno));
            rc = -1;
        }
        untrack_file(s->cl, f);
    }
    if (rmdir(s->path) != 0 && !rc) {
        snprintf(err, n, "rmdir %s: %s", s->path, strerror(errno));
        rc = -1;
    }
    untrack_file(s->cl, s->path);
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
        return RES_ERR;
    }
    mdb_txn_reset(txn);
    c->conn = txn;
    return RES_OK;
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
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_renew", rc), RES_ERR;
    rc = mdb_get(txn, c->s->dbi, &mk, &mv);
    if (rc == 0) {
        *vl = mv.mv_size;
        if (mv.mv_size <= cap)
            memcpy(buf, mv.mv_data, mv.mv_size);
    }
    mdb_txn_reset(txn);
    if (rc == MDB_NOTFOUND)
        return RES_ABSENT;
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_get", rc), RES_ERR;
    return RES_OK;
}

static int lmdb_write(struct wctx *c, const unsigned char *k, size_t kl,
                      const unsigned char *v, size_t vl, int del)
{
    MDB_val mk = { kl, (void *)k }, mv = { vl, (void *)v };
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->s->h, NULL, 0, &txn);
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_begin", rc), RES_ERR;
    rc = del ? mdb_del(txn, c->s->dbi, &mk, NULL) : mdb_put(txn, c->s->dbi, &mk, &mv, 0);
    if (rc) {
        mdb_txn_abort(txn);
        if (rc == MDB_NOTFOUND)
            return RES_ABSENT;
        return lmdb_fail(c->err, sizeof c->err, del ? "mdb_del" : "mdb_put", rc), RES_ERR;
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_commit", rc), RES_ERR;
    return RES_OK;
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

/* The value at mk in txn, a counter, plus delta (a read-modify-write). */
static int lmdb_add(struct wctx *c, MDB_txn *txn, MDB_val *mk, int64_t delta, int64_t *result)
{
    MDB_val mv;
    int64_t v;
    char text[24];
    int rc = mdb_get(txn, c->s->dbi, mk, &mv);
    if (rc == MDB_NOTFOUND)
        return RES_ABSENT;
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_get", rc), RES_ERR;
    if (parse_counter(mv.mv_data, mv.mv_size, &v) || __builtin_add_overflow(v, delta, &v)) {
        snprintf(c->err, sizeof c->err, "lmdb incr: the value is not a counter, or would overflow");
        return RES_ERR;
    }
    mv.mv_size = (size_t)snprintf(text, sizeof text, "%" PRId64, v);
    mv.mv_data = text;
    if ((rc = mdb_put(txn, c->s->dbi, mk, &mv, 0)) != 0)
        return lmdb_fail(c->err, sizeof c->err, "mdb_put", rc), RES_ERR;
    *result = v;
    return RES_OK;
}

static int lmdb_incr_op(struct wctx *c, const unsigned char *k, size_t kl, int64_t delta,
                        int64_t *result)
{
    MDB_val mk = { kl, (void *)k };
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->s->h, NULL, 0, &txn);
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_begin", rc), RES_ERR;
    int res = lmdb_add(c, txn, &mk, delta, result);
    if (res != RES_OK) {
        mdb_txn_abort(txn);
        return res;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_commit", rc), RES_ERR;
    return RES_OK;
}

/* The puts of a batch in one write transaction. */
static int lmdb_put_batch(struct wctx *c, struct op *ops, unsigned n)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->s->h, NULL, 0, &txn);
    if (rc)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_begin", rc), RES_ERR;
    for (unsigned j = 0; j < n; j++) {
        MDB_val mk = { ops[j].klen, (void *)ops[j].key }, mv = { ops[j].vlen, (void *)ops[j].val };
        if ((rc = mdb_put(txn, c->s->dbi, &mk, &mv, 0)) != 0) {
            mdb_txn_abort(txn);
            return lmdb_fail(c->err, sizeof c->err, "mdb_put", rc), RES_ERR;
        }
        ops[j].rc = RES_OK;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail(c->err, sizeof c->err, "mdb_txn_commit", rc), RES_ERR;
    return RES_OK;
}

const struct sysops lmdb_sysops = {
    .base = "lmdb",
    .version = lmdb_version,
    .setup = lmdb_setup,
    .teardown = lmdb_teardown,
    .inspect = lmdb_inspect,
    .open_proc = lmdb_open_env,
    .close_proc = lmdb_close_proc,
    .open_thread = lmdb_open_thread,
    .close_thread = lmdb_close_thread,
    .get = lmdb_get_op,
    .put = lmdb_put_op,
    .del = lmdb_del_op,
    .incr = lmdb_incr_op,
    .put_batch = lmdb_put_batch,
};
