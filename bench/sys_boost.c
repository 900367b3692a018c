/*
 * sys_boost.c - Boost.Interprocess as shmkv-bench's peer (built where
 * <boost/interprocess/managed_shared_memory.hpp> is found): the C side of
 * boost_map.cpp, a map in a managed_shared_memory segment.
 */
#include "bench.h"
#include "boost_map.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

/* s->path holds the segment's name; s->mapfile is its file in /dev/shm
 * (where Boost puts it, whatever --dir says). */
static int boost_setup(struct store *s, char *err, size_t n)
{
    static unsigned seq; /* a fresh name for each run's segment */
    snprintf(s->path, sizeof s->path, "shmkv-bench-boost.%d.%u", (int)getpid(), seq++);
    snprintf(s->mapfile, sizeof s->mapfile, "/dev/shm/%s", s->path);
    track_file(s->cl, s->mapfile);
    /* a fixed size: room for the pairs, the buckets and MIX's churn; only
     * the pages touched take memory */
    const struct config *cfg = s->cfg;
    uint64_t bytes = cfg->nkeys * ((uint64_t)cfg->key.max + cfg->val.max + 160) * 2 + (128u << 20);
    return bb_create(s->path, bytes, err, n);
}

static int boost_teardown(struct store *s, char *err, size_t n)
{
    int rc = bb_remove(s->path);
    untrack_file(s->cl, s->mapfile);
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

static int boost_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                        unsigned char *buf, size_t cap, size_t *vl)
{
    int rc = bb_get(c->s->h, k, kl, buf, cap, vl, c->err, sizeof c->err);
    return rc == 0 ? RES_OK : rc == 1 ? RES_ABSENT : RES_ERR;
}

static int boost_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                        const unsigned char *v, size_t vl)
{
    return bb_put(c->s->h, k, kl, v, vl, c->err, sizeof c->err) ? RES_ERR : RES_OK;
}

static int boost_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    int rc = bb_del(c->s->h, k, kl, c->err, sizeof c->err);
    return rc == 0 ? RES_OK : rc == 1 ? RES_ABSENT : RES_ERR;
}

const struct sysops boost_sysops = {
    .base = "boost",
    .version = bb_version,
    .setup = boost_setup,
    .teardown = boost_teardown,
    .inspect = boost_inspect,
    .open_proc = boost_open_proc,
    .close_proc = boost_close_proc,
    .get = boost_get_op,
    .put = boost_put_op,
    .del = boost_del_op,
};
