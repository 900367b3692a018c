/*
 * sys_memcached.c - memcached through libmemcached as shmkv-bench's peer
 * (built where <libmemcached/memcached.h> is found; memcached must be in
 * PATH).
 *
 * memcached -s SOCK -a 0700 -m MB -M (servers.c: the bench's own child, in
 * a private directory; -M: errors instead of evictions, so nothing is
 * silently lost), binary protocol, a connection per worker thread; with
 * --cache, -m the cache budget (whole MiB) and no -M: it evicts, like
 * shmkv-cache.  It is started afresh for every run rather than flushed:
 * flush_all only invalidates items lazily, so curr_items and bytes would
 * still count the old ones.  "memcached" is one request per operation (with
 * --batch B, gets through memcached_mget of B keys); "memcached-pD" takes
 * its gets D at a time through memcached_mget and its writes one by one
 * (libmemcached can only pipeline writes as "quiet" requests, which report
 * no per-operation result, so --put-batch has nothing to measure here).
 * --op incr is memcached_increment.  Memory: the "bytes" statistic.
 */
#include "bench.h"
#include "servers.h"

#include <inttypes.h>
#include <libmemcached/memcached.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The server, known to this file only (the signal handler reaches it
 * through mc_kill_now).  SIGKILL stops it: it takes most of a second to
 * stop on SIGTERM, and has nothing to save. */
static struct server mc_sv = { .prog = "memcached", .stop_sig = SIGKILL };
static memcached_st *mc_ctl; /* the parent's own connection */

static uint64_t mem_budget_mb(const struct config *cfg)
{
    /* generous: a memcached item is about 56 bytes plus key and value,
     * rounded up to its slab class (up to 25 %) */
    uint64_t per = (uint64_t)cfg->key.max + cfg->val.max + 100;
    return (cfg->nkeys * per * 3 / 2 >> 20) + 256;
}

static const char *mc_unavailable(const struct config *cfg)
{
    if (!find_program("memcached"))
        return "memcached not found in PATH (scripts/install-deps.sh bench)";
    if (cfg->key.max > 250)
        return "memcached keys are at most 250 bytes";
    if (cfg->val.max > (512u << 20))
        return "values too large for memcached";
    return NULL;
}

static const char *mc_version(void)
{
    static char v[64], srv[32];
    if (!v[0])
        snprintf(v, sizeof v, "server %s, libmemcached %s",
                 program_version("memcached -V 2>/dev/null", "memcached ", srv, sizeof srv),
                 LIBMEMCACHED_VERSION_STRING);
    return v;
}

static void mc_kill_now(void)
{
    server_kill_now(&mc_sv);
}

static void mc_stop(void)
{
    if (mc_ctl) {
        memcached_free(mc_ctl);
        mc_ctl = NULL;
    }
    server_stop(&mc_sv);
}

static memcached_st *mc_connect(const char *sock)
{
    memcached_st *m = memcached_create(NULL);
    if (!m)
        return NULL;
    if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1) != MEMCACHED_SUCCESS ||
        memcached_server_add_unix_socket(m, sock) != MEMCACHED_SUCCESS) {
        memcached_free(m);
        return NULL;
    }
    return m;
}

/* Start memcached -m MIB with room for CONNS connections; ITEM_MIB (if not
 * 0) is its item size limit; with NO_EVICT (-M) a full memcached fails
 * writes instead of evicting. */
static int mc_start(uint64_t mib, int conns, uint64_t item_mib, int no_evict, char *err,
                    size_t n)
{
    if (server_prepare(&mc_sv, "memcached", err, n))
        return -1;
    char mb[32], c[16], itemsz[32];
    snprintf(mb, sizeof mb, "%" PRIu64, mib);
    snprintf(c, sizeof c, "%d", conns);
    char *argv[16] = { "memcached", "-s", mc_sv.sock, "-a", "0700", "-m", mb, "-c", c };
    int a = 9;
    if (item_mib) {
        snprintf(itemsz, sizeof itemsz, "%" PRIu64 "m", item_mib);
        argv[a++] = "-I";
        argv[a++] = itemsz;
    }
    if (no_evict)
        argv[a++] = "-M";
    if (geteuid() == 0) { /* memcached refuses to run as root without -u */
        argv[a++] = "-u";
        argv[a++] = "root";
    }
    argv[a] = NULL;
    if (server_start(&mc_sv, argv, err, n)) {
        server_remove_dir(&mc_sv);
        return -1;
    }
    return 0;
}

static int mc_setup(struct store *s, char *err, size_t n)
{
    /* --cache: the cache budget, evicting; else generous, and -M */
    const struct config *cfg = s->cfg;
    uint64_t mib = s->sd->cache ? cfg->cache_mc_mib : mem_budget_mb(cfg);
    uint64_t item = ((uint64_t)cfg->val.max + cfg->key.max + 4096 + 0xfffff) >> 20;
    if (mc_start(mib, 4096, item < 1 ? 1 : item, !s->sd->cache, err, n))
        return -1;
    if (!(mc_ctl = mc_connect(mc_sv.sock))) {
        snprintf(err, n, "libmemcached: cannot set up a connection");
        mc_stop();
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", mc_sv.sock);
    return 0;
}

int mc_cache_start(uint64_t mib, char *sock, size_t socklen, char *err, size_t n)
{
    if (mc_start(mib, 64, 0, 0, err, n))
        return -1;
    snprintf(sock, socklen, "%s", mc_sv.sock);
    return 0;
}

const char *mc_server_version(void)
{
    static char srv[32];
    if (!srv[0])
        program_version("memcached -V 2>/dev/null", "memcached ", srv, sizeof srv);
    return srv;
}

static int mc_teardown(struct store *s, char *err, size_t n)
{
    (void)s, (void)err, (void)n;
    mc_stop();
    return 0;
}

static int mc_inspect(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    (void)s;
    memcached_return_t rc;
    memcached_stat_st *st = memcached_stat(mc_ctl, NULL, &rc);
    if (!st || rc != MEMCACHED_SUCCESS) {
        snprintf(err, n, "memcached stats: %s", memcached_strerror(mc_ctl, rc));
        if (st)
            memcached_stat_free(mc_ctl, st);
        return -1;
    }
    si->keys = st->curr_items;
    si->mem_bytes = st->bytes;
    si->mem_what = "bytes";
    si->rss = proc_rss(mc_sv.pid);
    snprintf(si->detail, sizeof si->detail,
             "server: %" PRIu64 " items, bytes %.1f MiB, limit %.0f MiB, RSS %.1f MiB",
             si->keys, (double)si->mem_bytes / 1048576.0,
             (double)st->limit_maxbytes / 1048576.0, (double)si->rss / 1048576.0);
    snprintf(si->json, sizeof si->json,
             "{\"curr_items\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"limit_maxbytes\": %llu"
             ", \"rss\": %" PRIu64 "}", si->keys, si->mem_bytes,
             (unsigned long long)st->limit_maxbytes, si->rss);
    memcached_stat_free(mc_ctl, st);
    return 0;
}

struct mc_thread {
    memcached_result_st res;
    const char **keys;
    size_t *lens;
};

static int mc_open_thread(struct wctx *c)
{
    memcached_st *m = mc_connect(c->s->path);
    struct mc_thread *t = calloc(1, sizeof *t);
    unsigned d = c->s->sd->depth;
    if (t) {
        t->keys = calloc(d, sizeof *t->keys);
        t->lens = calloc(d, sizeof *t->lens);
    }
    if (!m || !t || !t->keys || !t->lens || !memcached_result_create(m, &t->res)) {
        snprintf(c->err, sizeof c->err, "libmemcached: cannot set up a connection");
        if (m)
            memcached_free(m);
        if (t) {
            free(t->keys);
            free(t->lens);
        }
        free(t);
        return RES_ERR;
    }
    c->conn = m;
    c->aux = t;
    return RES_OK;
}

static void mc_close_thread(struct wctx *c)
{
    struct mc_thread *t = c->aux;
    if (t) {
        memcached_result_free(&t->res);
        free(t->keys);
        free(t->lens);
        free(t);
    }
    if (c->conn)
        memcached_free(c->conn);
    c->conn = c->aux = NULL;
}

static int mc_fail(struct wctx *c, const char *what, memcached_return_t rc)
{
    snprintf(c->err, sizeof c->err, "memcached %s: %s", what,
             memcached_strerror(c->conn, rc));
    return RES_ERR;
}

static int mc_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                     unsigned char *buf, size_t cap, size_t *vl)
{
    memcached_return_t rc;
    uint32_t flags;
    size_t len = 0;
    char *v = memcached_get(c->conn, (const char *)k, kl, &len, &flags, &rc);
    if (rc == MEMCACHED_NOTFOUND) {
        free(v);
        return RES_ABSENT;
    }
    if (rc != MEMCACHED_SUCCESS) {
        free(v);
        return mc_fail(c, "get", rc);
    }
    *vl = len;
    if (len <= cap && v)
        memcpy(buf, v, len);
    free(v);
    return RES_OK;
}

static int mc_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                     const unsigned char *v, size_t vl)
{
    memcached_return_t rc = memcached_set(c->conn, (const char *)k, kl, (const char *)v, vl,
                                          0, 0);
    return rc == MEMCACHED_SUCCESS ? RES_OK : mc_fail(c, "set", rc);
}

static int mc_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    memcached_return_t rc = memcached_delete(c->conn, (const char *)k, kl, 0);
    if (rc == MEMCACHED_NOTFOUND)
        return RES_ABSENT;
    return rc == MEMCACHED_SUCCESS ? RES_OK : mc_fail(c, "delete", rc);
}

static int mc_incr_op(struct wctx *c, const unsigned char *k, size_t kl, int64_t delta,
                      int64_t *result)
{
    uint64_t v = 0;
    if (delta < 0 || delta > UINT32_MAX) { /* memcached adds an unsigned 32-bit offset */
        snprintf(c->err, sizeof c->err, "memcached incr: delta %" PRId64 " out of its range", delta);
        return RES_ERR;
    }
    memcached_return_t rc = memcached_increment(c->conn, (const char *)k, kl, (uint32_t)delta, &v);
    if (rc == MEMCACHED_NOTFOUND)
        return RES_ABSENT;
    if (rc != MEMCACHED_SUCCESS)
        return mc_fail(c, "incr", rc);
    *result = (int64_t)v;
    return RES_OK;
}

/* m gets through one memcached_mget.  The replies come in the order of the
 * keys, misses left out, so each one is matched to the next key it names. */
static int mc_mget(struct wctx *c, struct op *ops, unsigned m)
{
    struct mc_thread *t = c->aux;
    for (unsigned j = 0; j < m; j++) {
        t->keys[j] = (const char *)ops[j].key;
        t->lens[j] = ops[j].klen;
        ops[j].rc = RES_ABSENT;
    }
    memcached_return_t rc = memcached_mget(c->conn, t->keys, t->lens, m);
    if (rc != MEMCACHED_SUCCESS)
        return mc_fail(c, "mget", rc);
    unsigned next = 0;
    int out = RES_OK;
    for (;;) {
        memcached_result_st *res = memcached_fetch_result(c->conn, &t->res, &rc);
        if (!res)
            break;
        const char *k = memcached_result_key_value(res);
        size_t kl = memcached_result_key_length(res);
        while (next < m && (ops[next].klen != kl || memcmp(ops[next].key, k, kl) != 0))
            next++;
        if (next == m) {
            if (out == RES_OK)
                snprintf(c->err, sizeof c->err, "memcached mget: a reply for a key not "
                         "asked for (or out of order)");
            out = RES_ERR; /* go on reading, so the connection stays in step */
            continue;
        }
        struct op *o = &ops[next++];
        size_t len = memcached_result_length(res);
        o->outlen = len;
        if (len <= o->cap)
            memcpy(o->buf, memcached_result_value(res), len);
        o->rc = RES_OK;
    }
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS)
        return mc_fail(c, "fetch", rc);
    return out;
}

static int mc_exec(struct wctx *c, struct op *ops, unsigned n)
{
    unsigned j = 0;
    while (j < n) {
        unsigned m = 0;
        while (j + m < n && ops[j + m].type == OP_GET)
            m++;
        if (m > 1) {
            if (mc_mget(c, ops + j, m) != RES_OK)
                return RES_ERR;
            j += m;
            continue;
        }
        struct op *o = &ops[j++];
        if (o->type == OP_GET)
            o->rc = mc_get_op(c, o->key, o->klen, o->buf, o->cap, &o->outlen);
        else if (o->type == OP_PUT)
            o->rc = mc_put_op(c, o->key, o->klen, o->val, o->vlen);
        else if (o->type == OP_INCR)
            o->rc = mc_incr_op(c, o->key, o->klen, o->num, &o->num);
        else
            o->rc = mc_del_op(c, o->key, o->klen);
        if (o->rc == RES_ERR)
            return RES_ERR;
    }
    return RES_OK;
}

const struct sysops memcached_sysops = {
    .base = "memcached",
    .unavailable = mc_unavailable,
    .version = mc_version,
    .kill_now = mc_kill_now,
    .stop = mc_stop,
    .setup = mc_setup,
    .teardown = mc_teardown,
    .inspect = mc_inspect,
    .open_thread = mc_open_thread,
    .close_thread = mc_close_thread,
    .get = mc_get_op,
    .put = mc_put_op,
    .del = mc_del_op,
    .incr = mc_incr_op,
    .exec = mc_exec,
    .batches_gets = 1,
};
