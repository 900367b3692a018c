/*
 * sys_shmkv.c - shmkv itself, as shmkv-bench measures it: one handle per
 * worker process, shared by its threads; with --batch B the gets go
 * through shmkv_get_many() B at a time, with --put-batch B the puts of PUT
 * through shmkv_put_many(); --op incr is shmkv_incr().  shmkv-cache
 * (--cache) is the same table created with SHMKV_CACHE; shmkv-sized the
 * same table told the key count when it is created (expected_keys = N,
 * as --presize does for shmkv), the way libshmcache is given its
 * max_key_count: so one run can hold both.
 */
#include "bench.h"
#include "shmkv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *shmkv_version(void)
{
    return SHMKV_VERSION_STRING;
}

static int shmkv_setup(struct store *s, char *err, size_t n)
{
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_CREATE | SHMKV_EXCL;
    o.expected_keys = s->cfg->presize || s->sd->sized ? s->cfg->nkeys : 0;
    if (s->sd->cache) {
        o.flags |= SHMKV_CACHE;
        o.max_bytes = s->cfg->cache_bytes;
    }
    snprintf(s->path, sizeof s->path, "%s/table", s->cl->run_dir);
    snprintf(s->mapfile, sizeof s->mapfile, "%s", s->path);
    track_file(s->cl, s->path);
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
    untrack_file(s->cl, s->path);
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

/* c->aux: room for the items of a get batch or the pairs of a put batch */
static int shmkv_open_thread(struct wctx *c)
{
    unsigned n = c->s->sd->depth > c->s->cfg->put_batch ? c->s->sd->depth : c->s->cfg->put_batch;
    c->aux = calloc(n, sizeof(shmkv_item) > sizeof(shmkv_pair) ? sizeof(shmkv_item) : sizeof(shmkv_pair));
    if (!c->aux) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return RES_ERR;
    }
    return RES_OK;
}

static void shmkv_close_thread(struct wctx *c)
{
    free(c->aux);
    c->aux = NULL;
}

static int shmkv_fail(struct wctx *c, const char *what, int rc)
{
    snprintf(c->err, sizeof c->err, "shmkv_%s: %s", what, shmkv_strerror(rc));
    return RES_ERR;
}

static int shmkv_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                        unsigned char *buf, size_t cap, size_t *vl)
{
    int rc = shmkv_get(c->s->h, k, kl, buf, cap, vl);
    if (rc == 0 || rc == -ENOBUFS)
        return RES_OK; /* a value too long: *vl says so, the check fails it */
    if (rc == -ENOENT)
        return RES_ABSENT;
    return shmkv_fail(c, "get", rc);
}

static int shmkv_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                        const unsigned char *v, size_t vl)
{
    int rc = shmkv_put(c->s->h, k, kl, v, vl);
    return rc ? shmkv_fail(c, "put", rc) : RES_OK;
}

static int shmkv_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    int rc = shmkv_del(c->s->h, k, kl);
    if (rc == -ENOENT)
        return RES_ABSENT;
    return rc ? shmkv_fail(c, "del", rc) : RES_OK;
}

static int shmkv_incr_op(struct wctx *c, const unsigned char *k, size_t kl, int64_t delta,
                         int64_t *result)
{
    int rc = shmkv_incr(c->s->h, k, kl, delta, 0, result);
    return rc ? shmkv_fail(c, "incr", rc) : RES_OK;
}

static int shmkv_put_batch(struct wctx *c, struct op *ops, unsigned n)
{
    shmkv_pair *p = c->aux;
    for (unsigned j = 0; j < n; j++)
        p[j] = (shmkv_pair){ .key = ops[j].key, .klen = ops[j].klen, .val = ops[j].val,
                             .vlen = ops[j].vlen };
    int stored = shmkv_put_many(c->s->h, p, n);
    if (stored < 0)
        return shmkv_fail(c, "put_many", stored);
    for (unsigned j = 0; j < n; j++) {
        if (p[j].rc)
            return shmkv_fail(c, "put_many", p[j].rc);
        ops[j].rc = RES_OK;
    }
    if ((unsigned)stored != n) { /* every rc 0, yet not every pair stored */
        snprintf(c->err, sizeof c->err, "shmkv_put_many stored %d of %u pairs, every rc 0",
                 stored, n);
        return RES_ERR;
    }
    return RES_OK;
}

/* Runs of consecutive gets through shmkv_get_many(), writes one by one. */
static int shmkv_exec(struct wctx *c, struct op *ops, unsigned n)
{
    shmkv_item *it = c->aux;
    unsigned j = 0;
    while (j < n) {
        if (ops[j].type != OP_GET) {
            struct op *o = &ops[j++];
            o->rc = o->type == OP_PUT  ? shmkv_put_op(c, o->key, o->klen, o->val, o->vlen)
                  : o->type == OP_INCR ? shmkv_incr_op(c, o->key, o->klen, o->num, &o->num)
                                       : shmkv_del_op(c, o->key, o->klen);
            if (o->rc == RES_ERR)
                return RES_ERR;
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
                o->rc = RES_OK;
            else if (it[b].rc == -ENOENT)
                o->rc = RES_ABSENT;
            else
                return shmkv_fail(c, "get_many", it[b].rc);
        }
        j += m;
    }
    return RES_OK;
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
    .incr = shmkv_incr_op,
    .exec = shmkv_exec,
    .put_batch = shmkv_put_batch,
    .batches_gets = 1,
};
