/*
 * queue_redis.c - Redis lists as a queue system of shmkv-bench --queue
 * (built where hiredis is, like sys_redis.c, whose server it uses: the
 * bench's own redis-server on a Unix socket, emptied for each run).
 *
 *  redis     RPUSH q m (a batch: RPUSH q m1 .. mB, one command), a round
 *            trip each; BLPOP q 0 (a batch: BLMPOP 0 1 q LEFT COUNT B).
 *  redis-p   the same, with the pushes pipelined REDIS_DEPTH deep: the
 *            replies are read once that many commands are out.
 */
#include "queue.h"

#include "bench.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_DEPTH 64

static const char *redis_q_unavailable(void)
{
    return redis_sysops.unavailable ? redis_sysops.unavailable(NULL) : NULL;
}

static int redis_q_setup(struct qrun *q, char *err, size_t n)
{
    static struct store s; /* the server outlives runs; systems_stop stops it */
    if (redis_sysops.setup(&s, err, n)) /* starts it once, then FLUSHALL */
        return -1;
    snprintf(q->path, sizeof q->path, "%s", s.path);
    return 0;
}

static void redis_q_teardown(struct qrun *q)
{
    (void)q; /* the next setup empties it */
}

static int redis_fail(struct qconn *c, const char *what)
{
    redisContext *r = c->h;
    snprintf(c->err, sizeof c->err, "%s: %s", what, r && r->err ? r->errstr : "unexpected reply");
    return -1;
}

static int redis_q_open(struct qrun *q, struct qconn *c)
{
    redisContext *r = redisConnectUnix(q->path);
    c->h = r;
    if (!r || r->err)
        return redis_fail(c, "connect");
    c->aux = malloc((QBATCH_MAX + 8) * (sizeof(char *) + sizeof(size_t)));
    return c->aux ? 0 : redis_fail(c, "malloc");
}

static void redis_q_close(struct qconn *c)
{
    if (c->h)
        redisFree(c->h);
    free(c->aux);
}

/* Read n replies of pushes, each an integer. */
static int drain(struct qconn *c, unsigned n)
{
    for (; n; n--) {
        redisReply *rep;
        if (redisGetReply(c->h, (void **)&rep) != REDIS_OK)
            return redis_fail(c, "RPUSH");
        int ok = rep->type == REDIS_REPLY_INTEGER;
        freeReplyObject(rep);
        if (!ok)
            return redis_fail(c, "RPUSH");
    }
    return 0;
}

/* RPUSH q m1 .. mn, appended; answered at once unless pipelined. */
static int push(struct qconn *c, const unsigned char *msgs, unsigned n, unsigned depth)
{
    const char **argv = c->aux;
    size_t *lens = (size_t *)(argv + QBATCH_MAX + 8);
    argv[0] = "RPUSH", lens[0] = 5;
    argv[1] = "q", lens[1] = 1;
    for (unsigned i = 0; i < n; i++)
        argv[2 + i] = (const char *)msgs + i * c->q->size, lens[2 + i] = c->q->size;
    if (redisAppendCommandArgv(c->h, (int)n + 2, argv, lens) != REDIS_OK)
        return redis_fail(c, "RPUSH");
    if (++c->pending < depth)
        return 0;
    unsigned k = c->pending;
    c->pending = 0;
    return drain(c, k);
}

static int redis_q_push(struct qconn *c, const unsigned char *msgs, unsigned n)
{
    return push(c, msgs, n, 1);
}

static int redis_q_push_p(struct qconn *c, const unsigned char *msgs, unsigned n)
{
    return push(c, msgs, n, REDIS_DEPTH);
}

static int redis_q_flush(struct qconn *c)
{
    unsigned k = c->pending;
    c->pending = 0;
    return drain(c, k);
}

/* Copy a reply element that must be a message. */
static int take(struct qconn *c, const redisReply *e, unsigned char *to)
{
    if (e->type != REDIS_REPLY_STRING || e->len != c->q->size)
        return redis_fail(c, "a popped element");
    memcpy(to, e->str, e->len);
    return 0;
}

static int redis_q_pop(struct qconn *c, unsigned char *buf, unsigned max, unsigned *n)
{
    char count[16];
    snprintf(count, sizeof count, "%u", max);
    redisReply *rep = max == 1 ? redisCommand(c->h, "BLPOP q 0")
                               : redisCommand(c->h, "BLMPOP 0 1 q LEFT COUNT %s", count);
    *n = 0;
    if (!rep)
        return redis_fail(c, max == 1 ? "BLPOP" : "BLMPOP");
    int rc = -1;
    /* BLPOP: [key, value]; BLMPOP: [key, [values...]] */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
        const redisReply *v = rep->element[1];
        if (max == 1)
            rc = take(c, v, buf), *n = 1;
        else if (v->type == REDIS_REPLY_ARRAY && v->elements >= 1 && v->elements <= max)
            for (rc = 0; rc == 0 && *n < v->elements; ++*n)
                rc = take(c, v->element[*n], buf + *n * c->q->size);
    }
    freeReplyObject(rep);
    return rc ? redis_fail(c, max == 1 ? "BLPOP" : "BLMPOP") : 0;
}

static const char *redis_q_version(void)
{
    return redis_sysops.version ? redis_sysops.version() : "?";
}

const struct qpeer qpeer_redis = {
    .name = "redis", .unavailable = redis_q_unavailable, .version = redis_q_version, .setup = redis_q_setup,
    .teardown = redis_q_teardown, .open = redis_q_open, .close = redis_q_close, .push = redis_q_push,
    .pop = redis_q_pop, .note = "RPUSH (a batch in one), BLPOP / BLMPOP COUNT, a round trip each",
};

const struct qpeer qpeer_redis_p = {
    .name = "redis-p", .unavailable = redis_q_unavailable, .version = redis_q_version, .setup = redis_q_setup,
    .teardown = redis_q_teardown, .open = redis_q_open, .close = redis_q_close, .push = redis_q_push_p,
    .flush = redis_q_flush, .pop = redis_q_pop,
    .note = "as redis, the RPUSHes pipelined 64 deep",
};
