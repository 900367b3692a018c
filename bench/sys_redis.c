/*
 * sys_redis.c - Redis through hiredis as shmkv-bench's peer (built where
 * <hiredis/hiredis.h> is found; redis-server must be in PATH).
 *
 * redis-server --save '' --appendonly no --port 0 --unixsocket ...
 * --unixsocketperm 700 (servers.c: the bench's own child, in a private
 * directory), started once and emptied with FLUSHALL before and after each
 * run.  Every worker thread has its own connection.  "redis" sends one
 * command per operation (with --batch B, gets as MGET of B keys);
 * "redis-pD" pipelines every phase D commands deep (redisAppendCommandArgv,
 * then D replies).  --op incr is INCRBY; --put-batch B is MSET of B pairs
 * (redis-pD: B SETs pipelined).  Memory: INFO used_memory.
 */
#include "bench.h"
#include "servers.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server, known to this file only (the signal handler reaches it
 * through redis_kill_now). */
static struct server redis_sv = { .prog = "redis-server" };
static redisContext *redis_ctl; /* the parent's own connection */

static const char *redis_unavailable(const struct config *c)
{
    (void)c;
    return find_program("redis-server") ? NULL : "redis-server not found in PATH "
           "(scripts/install-deps.sh bench)";
}

static const char *redis_version(void)
{
    static char v[64], srv[32];
    if (!v[0])
        snprintf(v, sizeof v, "server %s, hiredis %d.%d.%d",
                 program_version("redis-server --version 2>/dev/null", "v=", srv, sizeof srv),
                 HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    return v;
}

static void redis_kill_now(void)
{
    server_kill_now(&redis_sv);
}

static void redis_stop(void)
{
    if (redis_ctl) {
        redisFree(redis_ctl);
        redis_ctl = NULL;
    }
    server_stop(&redis_sv);
}

/* One command (words separated by spaces) on the parent's connection;
 * returns the reply or NULL. */
static redisReply *redis_ctl_cmd(const char *cmd, char *err, size_t n)
{
    char buf[64], *save = NULL;
    const char *argv[4];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", cmd);
    for (char *t = strtok_r(buf, " ", &save); t && argc < 4; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    redisReply *r = redisCommandArgv(redis_ctl, argc, argv, NULL);
    if (!r)
        snprintf(err, n, "redis %s: %s", cmd, redis_ctl->errstr);
    else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, n, "redis %s: %s", cmd, r->str);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

static int redis_flush(char *err, size_t n)
{
    redisReply *r = redis_ctl_cmd("FLUSHALL", err, n);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

static int redis_setup(struct store *s, char *err, size_t n)
{
    if (!redis_sv.pid) {
        if (server_prepare(&redis_sv, "redis", err, n))
            return -1;
        char *argv[] = { "redis-server", "--save", "", "--appendonly", "no",
                         "--port", "0", "--unixsocket", redis_sv.sock,
                         "--unixsocketperm", "700", "--dir", redis_sv.dir,
                         "--daemonize", "no", "--loglevel", "warning", NULL };
        if (server_start(&redis_sv, argv, err, n)) {
            server_remove_dir(&redis_sv);
            return -1;
        }
        redis_ctl = redisConnectUnix(redis_sv.sock);
        if (!redis_ctl || redis_ctl->err) {
            snprintf(err, n, "connecting to redis: %s",
                     redis_ctl ? redis_ctl->errstr : "out of memory");
            redis_stop();
            return -1;
        }
    }
    snprintf(s->path, sizeof s->path, "%s", redis_sv.sock);
    return redis_flush(err, n);
}

static int redis_teardown(struct store *s, char *err, size_t n)
{
    (void)s;
    return redis_flush(err, n);
}

static uint64_t info_field(const char *info, const char *name)
{
    const char *p = strstr(info, name);
    return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

static int redis_inspect(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    (void)s;
    redisReply *r = redis_ctl_cmd("DBSIZE", err, n);
    if (!r)
        return -1;
    si->keys = (uint64_t)r->integer;
    freeReplyObject(r);
    if (!(r = redis_ctl_cmd("INFO memory", err, n)))
        return -1;
    si->mem_bytes = r->type == REDIS_REPLY_STRING ? info_field(r->str, "\nused_memory:") : 0;
    freeReplyObject(r);
    si->mem_what = "used_memory";
    si->rss = proc_rss(redis_sv.pid);
    snprintf(si->detail, sizeof si->detail,
             "server: %" PRIu64 " keys, used_memory %.1f MiB, RSS %.1f MiB", si->keys,
             (double)si->mem_bytes / 1048576.0, (double)si->rss / 1048576.0);
    snprintf(si->json, sizeof si->json,
             "{\"keys\": %" PRIu64 ", \"used_memory\": %" PRIu64 ", \"rss\": %" PRIu64 "}",
             si->keys, si->mem_bytes, si->rss);
    return 0;
}

/* The most words of a command this thread sends (c->aux holds them). */
static size_t redis_argc_max(const struct wctx *c)
{
    size_t mget = c->s->sd->depth + 1, mset = 2 * (size_t)c->s->cfg->put_batch + 1;
    return mget > mset ? mget : mset;
}

static int redis_open_thread(struct wctx *c)
{
    redisContext *rc = redisConnectUnix(c->s->path);
    if (!rc || rc->err) {
        snprintf(c->err, sizeof c->err, "connecting to redis: %s",
                 rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return RES_ERR;
    }
    c->conn = rc;
    /* argv and lengths for MGET of up to depth keys, or MSET of put_batch pairs */
    c->aux = malloc((sizeof(char *) + sizeof(size_t)) * redis_argc_max(c));
    if (!c->aux) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return RES_ERR;
    }
    return RES_OK;
}

static void redis_close_thread(struct wctx *c)
{
    if (c->conn)
        redisFree(c->conn);
    c->conn = NULL;
    free(c->aux);
    c->aux = NULL;
}

static int redis_lost(struct wctx *c)
{
    redisContext *rc = c->conn;
    snprintf(c->err, sizeof c->err, "redis: %s", rc->err ? rc->errstr : "no reply");
    return RES_ERR;
}

static int redis_bad_reply(struct wctx *c, const redisReply *r, const char *cmd)
{
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(c->err, sizeof c->err, "redis %s: %s", cmd, r->str);
    else
        snprintf(c->err, sizeof c->err, "redis %s: unexpected reply type %d", cmd, r->type);
    return RES_ERR;
}

/* Turn the reply to one operation into its result. */
static int redis_result(struct wctx *c, struct op *o, const redisReply *r)
{
    switch (o->type) {
    case OP_GET:
        if (r->type == REDIS_REPLY_NIL)
            return RES_ABSENT;
        if (r->type != REDIS_REPLY_STRING)
            return redis_bad_reply(c, r, "GET");
        o->outlen = r->len;
        if ((size_t)r->len <= o->cap)
            memcpy(o->buf, r->str, r->len);
        return RES_OK;
    case OP_PUT:
        if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0)
            return redis_bad_reply(c, r, "SET");
        return RES_OK;
    case OP_INCR:
        if (r->type != REDIS_REPLY_INTEGER)
            return redis_bad_reply(c, r, "INCRBY");
        o->num = r->integer;
        return RES_OK;
    default:
        if (r->type != REDIS_REPLY_INTEGER)
            return redis_bad_reply(c, r, "DEL");
        return r->integer == 1 ? RES_OK : RES_ABSENT;
    }
}

/* The words of o's command; num holds INCRBY's delta as text. */
static int redis_argv(const struct op *o, const char **argv, size_t *len, char num[24])
{
    static const char *const name[NOPT] = { "GET", "SET", "DEL", "INCRBY" };
    argv[0] = name[o->type];
    len[0] = strlen(argv[0]);
    argv[1] = (const char *)o->key;
    len[1] = o->klen;
    if (o->type == OP_INCR) {
        argv[2] = num;
        len[2] = (size_t)snprintf(num, 24, "%" PRId64, o->num);
        return 3;
    }
    if (o->type != OP_PUT)
        return 2;
    argv[2] = (const char *)o->val;
    len[2] = o->vlen;
    return 3;
}

static int redis_one(struct wctx *c, struct op *o)
{
    const char *argv[3];
    size_t len[3];
    char num[24];
    int argc = redis_argv(o, argv, len, num);
    redisReply *r = redisCommandArgv(c->conn, argc, argv, len);
    if (!r)
        return redis_lost(c);
    int rc = redis_result(c, o, r);
    freeReplyObject(r);
    return rc;
}

static int redis_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                        unsigned char *buf, size_t cap, size_t *vl)
{
    struct op o = { .type = OP_GET, .key = k, .klen = kl, .buf = buf, .cap = cap };
    int rc = redis_one(c, &o);
    *vl = o.outlen;
    return rc;
}

static int redis_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                        const unsigned char *v, size_t vl)
{
    struct op o = { .type = OP_PUT, .key = k, .klen = kl, .val = v, .vlen = vl };
    return redis_one(c, &o);
}

static int redis_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    struct op o = { .type = OP_DEL, .key = k, .klen = kl };
    return redis_one(c, &o);
}

static int redis_incr_op(struct wctx *c, const unsigned char *k, size_t kl, int64_t delta,
                         int64_t *result)
{
    struct op o = { .type = OP_INCR, .key = k, .klen = kl, .num = delta };
    int rc = redis_one(c, &o);
    *result = o.num;
    return rc;
}

static int redis_mget(struct wctx *c, struct op *ops, unsigned m)
{
    const char **argv = c->aux;
    size_t *len = (size_t *)(argv + redis_argc_max(c));
    argv[0] = "MGET";
    len[0] = 4;
    for (unsigned j = 0; j < m; j++) {
        argv[j + 1] = (const char *)ops[j].key;
        len[j + 1] = ops[j].klen;
    }
    redisReply *r = redisCommandArgv(c->conn, (int)m + 1, argv, len);
    if (!r)
        return redis_lost(c);
    int rc = RES_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != m)
        rc = redis_bad_reply(c, r, "MGET");
    for (unsigned j = 0; rc == RES_OK && j < m; j++)
        if ((ops[j].rc = redis_result(c, &ops[j], r->element[j])) == RES_ERR)
            rc = RES_ERR;
    freeReplyObject(r);
    return rc;
}

static int redis_exec(struct wctx *c, struct op *ops, unsigned n)
{
    if (c->s->sd->pipelined) {
        for (unsigned j = 0; j < n; j++) {
            const char *argv[3];
            size_t len[3];
            char num[24];
            int argc = redis_argv(&ops[j], argv, len, num);
            if (redisAppendCommandArgv(c->conn, argc, argv, len) != REDIS_OK)
                return redis_lost(c);
        }
        for (unsigned j = 0; j < n; j++) {
            void *rp;
            if (redisGetReply(c->conn, &rp) != REDIS_OK || !rp)
                return redis_lost(c);
            ops[j].rc = redis_result(c, &ops[j], rp);
            freeReplyObject(rp);
            if (ops[j].rc == RES_ERR)
                return RES_ERR;
        }
        return RES_OK;
    }
    unsigned j = 0;
    while (j < n) {
        unsigned m = 0;
        while (j + m < n && ops[j + m].type == OP_GET)
            m++;
        if (m > 1) {
            if (redis_mget(c, ops + j, m) != RES_OK)
                return RES_ERR;
            j += m;
            continue;
        }
        if ((ops[j].rc = redis_one(c, &ops[j])) == RES_ERR)
            return RES_ERR;
        j++;
    }
    return RES_OK;
}

/* The puts of a batch as one MSET; redis-pD pipelines them as SETs. */
static int redis_put_batch(struct wctx *c, struct op *ops, unsigned n)
{
    if (c->s->sd->pipelined)
        return redis_exec(c, ops, n);
    const char **argv = c->aux;
    size_t *len = (size_t *)(argv + redis_argc_max(c));
    argv[0] = "MSET";
    len[0] = 4;
    for (unsigned j = 0; j < n; j++) {
        argv[2 * j + 1] = (const char *)ops[j].key;
        len[2 * j + 1] = ops[j].klen;
        argv[2 * j + 2] = (const char *)ops[j].val;
        len[2 * j + 2] = ops[j].vlen;
    }
    redisReply *r = redisCommandArgv(c->conn, 2 * (int)n + 1, argv, len);
    if (!r)
        return redis_lost(c);
    int rc = r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK") ? RES_OK
                                                                    : redis_bad_reply(c, r, "MSET");
    freeReplyObject(r);
    for (unsigned j = 0; rc == RES_OK && j < n; j++)
        ops[j].rc = RES_OK;
    return rc;
}

const struct sysops redis_sysops = {
    .base = "redis",
    .unavailable = redis_unavailable,
    .version = redis_version,
    .kill_now = redis_kill_now,
    .stop = redis_stop,
    .setup = redis_setup,
    .teardown = redis_teardown,
    .inspect = redis_inspect,
    .open_thread = redis_open_thread,
    .close_thread = redis_close_thread,
    .get = redis_get_op,
    .put = redis_put_op,
    .del = redis_del_op,
    .incr = redis_incr_op,
    .exec = redis_exec,
    .put_batch = redis_put_batch,
    .batches_gets = 1,
};
