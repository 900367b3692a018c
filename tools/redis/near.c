/*
 * near.c - the read-through helper (include/shmkv-redis.h): the reader's
 * half of the protocol of docs/near-cache.md.
 *
 *   1. Trust the table only while the agent's record is in it.
 *   2. A hit is the answer.
 *   3. A miss takes the key's lease, then reads the agent's record again
 *      (a new agent may track other prefixes), then GET and PTTL from
 *      Redis, then stores with shmkv_put_leased: a write of the key whose
 *      invalidation the agent applies in between voids the lease, so the
 *      value read before that write is never stored.
 *   4. Anything else (no agent, a key the agent does not track, another
 *      process's lease that is not filled in time, a table error) reads
 *      Redis and stores nothing.
 */
#include "shmkv-redis.h"

#include "hooks.h"
#include "record.h"
#include "route.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HIT_BUF 1024
#define WAIT_YIELD_NS 100000u

void (*shmkv_redis__before_store)(const void *key, size_t klen);

struct shmkv_redis {
    shmkv *db;
    struct route *rt;
    shmkv_redis_options o;
    /* the agent's record as last read: its text, and parsed */
    size_t rec_len;
    char rec_text[RECORD_TEXT_MAX];
    struct record rec;
    char err[ERR_MAX];
};

static const char agent_key[] = SHMKV_REDIS_AGENT_KEY;

int shmkv_redis_open(shmkv *db, const char *addr, const shmkv_redis_options *opts, shmkv_redis **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    shmkv_redis_options o = opts ? *opts : (shmkv_redis_options){0};
    if (!db || !addr || (o.flags & ~(unsigned)SHMKV_REDIS_CLUSTER))
        return -EINVAL;
    o.timeout_ms = o.timeout_ms ? o.timeout_ms : 1000;
    o.lease_ms = o.lease_ms ? o.lease_ms : 1000;
    o.wait_ms = o.wait_ms ? o.wait_ms : 5;
    shmkv_redis *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->db = db;
    r->o = o;
    int rc = route_open(addr, o.flags & SHMKV_REDIS_CLUSTER, o.timeout_ms, &r->rt, r->err, sizeof r->err);
    if (rc) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void shmkv_redis_close(shmkv_redis *r)
{
    if (r) {
        route_close(r->rt);
        free(r);
    }
}

const char *shmkv_redis_error(const shmkv_redis *r)
{
    return r ? r->err : "";
}

/* The agent's heartbeat is there (lock-free; counts as no read). */
static int agent_alive(shmkv *db)
{
    uint64_t left;
    return shmkv_ttl(db, agent_key, SHMKV_REDIS_AGENT_KEY_LEN, &left) == 0;
}

/* Read the agent's record into r->rec (parsing it only when its text
 * changed); 0, -ENOENT (no agent) or -EBADMSG. */
static int load_record(shmkv_redis *r)
{
    char text[RECORD_TEXT_MAX];
    size_t len;
    int rc = shmkv_get(r->db, agent_key, SHMKV_REDIS_AGENT_KEY_LEN, text, sizeof text, &len);
    if (rc)
        return rc == -ENOBUFS ? -EBADMSG : rc;
    if (len == r->rec_len && !memcmp(text, r->rec_text, len))
        return 0;
    r->rec_len = 0;
    if (record_parse(text, len, &r->rec))
        return -EBADMSG;
    memcpy(r->rec_text, text, len);
    r->rec_len = len;
    return 0;
}

/* May this key be stored, by the record as it is now in the table? */
static int may_store(shmkv_redis *r, const void *key, size_t klen)
{
    return klen <= SHMKV_KEY_MAX && load_record(r) == 0 && record_cacheable(&r->rec, key, klen);
}

static int set_err(shmkv_redis *r, int rc, const char *what, const redisReply *rep)
{
    if (rep)
        snprintf(r->err, sizeof r->err, "%s: %.*s", what, (int)rep->len, rep->str);
    else
        snprintf(r->err, sizeof r->err, "%s: %s", what, route_error(r->rt));
    return rc;
}

/* The GET reply as the caller's value; 0, -ENOENT, -EMEDIUMTYPE, -EIO. */
static int take_value(shmkv_redis *r, const redisReply *g, void **val, size_t *vlen)
{
    if (g->type == REDIS_REPLY_NIL)
        return -ENOENT;
    if (g->type == REDIS_REPLY_ERROR)
        return set_err(r, strncmp(g->str, "WRONGTYPE", 9) ? -EIO : -EMEDIUMTYPE, "GET", g);
    if (g->type != REDIS_REPLY_STRING)
        return set_err(r, -EIO, "GET: a reply that is not a string", NULL);
    if (!(*val = malloc(g->len ? g->len : 1)))
        return -ENOMEM;
    memcpy(*val, g->str, g->len);
    *vlen = g->len;
    return 0;
}

/* Straight from Redis, storing nothing. */
static int from_redis(shmkv_redis *r, const void *key, size_t klen, void **val, size_t *vlen, int *source)
{
    *source = SHMKV_REDIS_FROM_REDIS;
    redisReply *g = route_cmd(r->rt, "GET", key, klen, NULL, 0);
    if (!g)
        return set_err(r, -EIO, "GET", NULL);
    int rc = take_value(r, g, val, vlen);
    freeReplyObject(g);
    return rc;
}

/* With the key's lease: GET and PTTL from Redis, then the leased store. */
static int fill(shmkv_redis *r, const void *key, size_t klen, uint64_t lease, void **val, size_t *vlen,
                int *source)
{
    if (!may_store(r, key, klen)) {
        shmkv_del(r->db, key, klen); /* give the lease up */
        return from_redis(r, key, klen, val, vlen, source);
    }
    *source = SHMKV_REDIS_FROM_REDIS;
    const char *get[2] = {"GET", key}, *pttl_cmd[2] = {"PTTL", key};
    size_t lens[2] = {3, klen}, plens[2] = {4, klen};
    struct rcmd cmds[2] = {{2, get, lens}, {2, pttl_cmd, plens}};
    redisReply *rep[2];
    uint64_t t0 = boot_ms();
    if (route_run(r->rt, key, klen, 2, cmds, rep)) {
        shmkv_del(r->db, key, klen);
        return set_err(r, -EIO, "GET", NULL);
    }
    int rc = take_value(r, rep[0], val, vlen);
    long long pttl = rep[1]->type == REDIS_REPLY_INTEGER ? rep[1]->integer : -2;
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    if (rc == 0 && shmkv_redis__before_store)
        shmkv_redis__before_store(key, klen);
    /* the lifetime counts from the store: computed just before it */
    int64_t ttl = record_fill_ttl(pttl, boot_ms() - t0 + 1, r->rec.max_ttl_ms, r->o.ttl_ms);
    int stored = -ECANCELED;
    if (rc == 0 && ttl >= 0)
        stored = shmkv_put_leased(r->db, key, klen, *val, *vlen, (uint64_t)ttl, lease);
    if (stored == 0)
        *source = SHMKV_REDIS_FILLED;
    else if (stored != -ECANCELED) {
        snprintf(r->err, sizeof r->err, "storing a fill: %s", shmkv_strerror(stored));
        shmkv_del(r->db, key, klen);
    } else if (rc || ttl < 0)
        shmkv_del(r->db, key, klen); /* nothing to store: give the lease up */
    return rc;
}

int shmkv_redis_get(shmkv_redis *r, const void *key, size_t klen, void **val, size_t *vlen, int *source)
{
    int dummy;
    if (!source)
        source = &dummy;
    if (!r || !key || !klen || !val || !vlen)
        return -EINVAL;
    *val = NULL;
    *vlen = 0;
    r->err[0] = 0;
    if (klen > SHMKV_KEY_MAX || !agent_alive(r->db) ||
        !((r->rec_len && record_cacheable(&r->rec, key, klen)) || may_store(r, key, klen)))
        return from_redis(r, key, klen, val, vlen, source);
    uint64_t start = 0, deadline = 0, nap_us = 50; /* the clock is read only once a wait begins */
    for (;;) {
        char buf[HIT_BUF];
        size_t len;
        uint64_t lease;
        int rc = shmkv_get_lease(r->db, key, klen, buf, sizeof buf, &len, r->o.lease_ms, &lease);
        if (rc == -ENOBUFS)
            rc = shmkv_get_alloc(r->db, key, klen, val, vlen);
        else if (rc == 0 && (*val = malloc(len ? len : 1)) != NULL) {
            memcpy(*val, buf, len);
            *vlen = len;
        } else if (rc == 0)
            return -ENOMEM;
        if (rc == 0) {
            *source = SHMKV_REDIS_FROM_TABLE;
            return 0;
        }
        if (rc == -ENOENT && lease)
            return fill(r, key, klen, lease, val, vlen, source);
        uint64_t now = rc == -ENOENT ? mono_ns() : 0;
        if (rc == -ENOENT && !deadline)
            deadline = (start = now) + r->o.wait_ms * 1000000u;
        else if (rc != -ENOENT || now >= deadline)
            return from_redis(r, key, klen, val, vlen, source);
        /* another process holds the lease (the agent's refresh, often): its
         * fill is one round trip away.  For the first WAIT_YIELD_NS give the
         * CPU to whoever is runnable (the filler, Redis) and look again, as a
         * nap would oversleep a round trip; then nap, longer each time. */
        if (now - start < WAIT_YIELD_NS) {
            sched_yield();
            continue;
        }
        struct timespec ts = {0, (long)nap_us * 1000};
        nanosleep(&ts, NULL);
        nap_us = nap_us < 800 ? nap_us * 2 : nap_us;
    }
}

int shmkv_redis_agent(shmkv *db, shmkv_redis_agent_info *info)
{
    if (!db)
        return -EINVAL;
    char text[RECORD_TEXT_MAX];
    size_t len;
    uint64_t left = 0;
    int rc = shmkv_get(db, agent_key, SHMKV_REDIS_AGENT_KEY_LEN, text, sizeof text, &len);
    if (rc == 0)
        rc = shmkv_ttl(db, agent_key, SHMKV_REDIS_AGENT_KEY_LEN, &left);
    if (rc)
        return rc == -ENOENT ? rc : -EBADMSG;
    struct record rec;
    if (record_parse(text, len, &rec))
        return -EBADMSG;
    if (info) {
        info->pid = rec.pid;
        info->generation = rec.generation;
        info->heartbeat_ms = rec.heartbeat_ms;
        info->max_ttl_ms = rec.max_ttl_ms;
        info->prefixes = rec.nprefixes;
        info->synced_ms_ago = left && left < rec.heartbeat_ms ? rec.heartbeat_ms - left : 0;
    }
    return 0;
}
