/*
 * kit_race.c - fills racing with writes, checked key by key against Redis
 * once the writes stop; and the invalidation latency (kit.h).
 *
 * Writers change the keys every way Redis can (SET, SET PX, DEL, APPEND,
 * PEXPIRE, PERSIST); fillers read them through the table.  Half the fills
 * sleep up to 2 ms between Redis's answer and the leased store (the hook
 * of hooks.h), so writes land in that window all the time: without the
 * lease, stale values would be stored (the test's negative control,
 * leased = 0, shows the check finds them).
 */
#include "kit.h"

#include "hooks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A fill gives its value the lifetime Redis has left for the key less
 * the time since it asked, computed just before its store; shmkv counts
 * the lifetime from the store, so a filler preempted between the two
 * gives it that much more (docs/near-cache.md).  The check allows for it;
 * a fill that ignored PTTL or the time spent would be caught. */
#define OUTLIVE_SLACK_MS 50

struct race_shared {
    _Atomic uint64_t last_write_ms; /* boot_ms() after the last write attempt */
    atomic_long fills, hits;
    atomic_int stop;                /* set by race_finish */
};

static __thread h_rng hook_rng;

static void random_delay(const void *key, size_t klen)
{
    (void)key;
    (void)klen;
    if (h_below(&hook_rng, 2))
        nanosleep(&(struct timespec){0, (long)h_below(&hook_rng, 2000) * 1000}, NULL);
}

void race_key(int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "race:%d", i);
}

redisReply *must_cmd(struct route *rt, const char *verb, const char *key, const char *arg)
{
    redisReply *r = route_cmd(rt, verb, key, strlen(key), arg, arg ? strlen(arg) : 0);
    CHECKF(r && r->type != REDIS_REPLY_ERROR, "%s %s: %s", verb, key,
           r ? r->str : route_error(rt));
    return r;
}

static struct route *route_for(const struct race *r)
{
    struct route *rt;
    char err[ERR_MAX];
    int rc = route_open(r->addr, r->cluster, 2000, &rt, err, sizeof err);
    CHECKF(rc == 0, "connecting to %s: %s", r->addr, err);
    return rc ? NULL : rt;
}

/* One write of a random kind; its reply is not judged (in a failover
 * writes fail for a moment). */
static void write_once(struct route *rt, h_rng *g, const char *key, uint64_t n)
{
    char val[64], ms[24];
    const char *argv[5] = {"SET", key, val, "PX", ms};
    size_t lens[5] = {3, strlen(key), 0, 2, 0};
    int argc = 3;
    snprintf(val, sizeof val, "v%" PRIu64 "-%" PRIu64, n, h_rand(g) % 1000);
    snprintf(ms, sizeof ms, "%" PRIu64, 30 + h_below(g, 400));
    switch (h_below(g, 20)) {
    case 0: case 1: argv[0] = "DEL"; argc = 2; break;
    case 2: case 3: argc = 5; break;
    case 4: argv[0] = "APPEND"; break;
    case 5: argv[0] = "PEXPIRE"; argv[2] = ms; break;
    case 6: argv[0] = "PERSIST"; argc = 2; break;
    default: break;
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    struct rcmd cmd = {argc, argv, lens};
    redisReply *rep = NULL;
    if (route_run(rt, key, strlen(key), 1, &cmd, &rep) == 0)
        freeReplyObject(rep);
    else
        nap_ms(5);
}

static void writer(const struct race *r, struct race_shared *sh, uint64_t seed, double end)
{
    struct route *rt = route_for(r);
    h_rng g = h_rng_new(seed);
    for (uint64_t n = 0; rt && h_now() < end && !atomic_load(&sh->stop); n++) {
        char key[32];
        race_key((int)h_below(&g, (uint64_t)r->nkeys), key, sizeof key);
        write_once(rt, &g, key, n);
        uint64_t t = boot_ms(), old = atomic_load(&sh->last_write_ms);
        while (old < t && !atomic_compare_exchange_weak(&sh->last_write_ms, &old, t))
            ;
    }
    route_close(rt);
}

/* The negative control's fill: no lease, a plain put after the read. */
static void naive_get(struct route *rt, shmkv *db, const char *key, struct race_shared *sh)
{
    char buf[256];
    size_t len;
    if (shmkv_get(db, key, strlen(key), buf, sizeof buf, &len) == 0) {
        atomic_fetch_add(&sh->hits, 1);
        return;
    }
    redisReply *g = route_cmd(rt, "GET", key, strlen(key), NULL, 0);
    if (g && g->type == REDIS_REPLY_STRING) {
        random_delay(key, strlen(key));
        if (shmkv_put(db, key, strlen(key), g->str, g->len) == 0)
            atomic_fetch_add(&sh->fills, 1);
    }
    freeReplyObject(g);
}

static void filler(const struct race *r, struct race_shared *sh, uint64_t seed, double end)
{
    h_rng g = h_rng_new(seed);
    hook_rng = h_rng_new(seed ^ 0x5eed);
    shmkv_redis__before_store = random_delay;
    shmkv_redis_options o = {.flags = r->cluster ? SHMKV_REDIS_CLUSTER : 0u, .timeout_ms = 2000};
    shmkv_redis *nr = NULL;
    struct route *rt = r->leased ? NULL : route_for(r);
    int rc = r->leased ? shmkv_redis_open(r->db, r->addr, &o, &nr) : 0;
    CHECKF(rc == 0, "shmkv_redis_open: %s", h_errname(rc));
    while (rc == 0 && h_now() < end && !atomic_load(&sh->stop)) {
        char key[32];
        race_key((int)h_below(&g, (uint64_t)r->nkeys), key, sizeof key);
        if (!r->leased) {
            naive_get(rt, r->db, key, sh);
            continue;
        }
        void *val;
        size_t vlen;
        int src;
        int got = shmkv_redis_get(nr, key, strlen(key), &val, &vlen, &src);
        if (got == 0) {
            free(val);
            if (src != SHMKV_REDIS_FROM_REDIS)
                atomic_fetch_add(src == SHMKV_REDIS_FROM_TABLE ? &sh->hits : &sh->fills, 1);
        } else if (got != -ENOENT && got != -EIO) {
            CHECKF(0, "shmkv_redis_get %s: %s", key, h_errname(got));
        }
    }
    shmkv_redis_close(nr);
    route_close(rt);
}

/* Redis's value and PTTL of key (read first), against the table's. */
static int key_is_stale(struct race *r, struct route *rt, const char *key)
{
    const char *get[2] = {"GET", key}, *pttl[2] = {"PTTL", key};
    size_t lens[2] = {3, strlen(key)}, plens[2] = {4, strlen(key)};
    struct rcmd cmds[2] = {{2, get, lens}, {2, pttl, plens}};
    redisReply *rep[2];
    if (route_run(rt, key, strlen(key), 2, cmds, rep)) {
        CHECKF(0, "reading %s from Redis: %s", key, route_error(rt));
        return 0;
    }
    char buf[256];
    size_t len;
    uint64_t left = 0;
    int in_table = shmkv_get(r->db, key, strlen(key), buf, sizeof buf, &len) == 0 &&
                   shmkv_ttl(r->db, key, strlen(key), &left) == 0;
    const redisReply *v = rep[0];
    long long p = rep[1]->integer;
    int stale = 0;
    r->checked++;
    if (in_table) {
        r->cached++;
        if (v->type != REDIS_REPLY_STRING || v->len != len || memcmp(v->str, buf, len))
            stale = 1;
        else if (p >= 0 && (left == 0 || left > (uint64_t)p + OUTLIVE_SLACK_MS))
            stale = 2; /* would outlive Redis's copy */
        if (stale && r->stale < 5)
            h_note("%s key %s: table \"%.*s\" (ttl %" PRIu64 " ms), Redis %s%.*s%s (pttl %lld)",
                   stale == 1 ? "stale" : "outliving", key, (int)len, buf, left,
                   v->type == REDIS_REPLY_STRING ? "\"" : "", v->type == REDIS_REPLY_STRING ? (int)v->len : 3,
                   v->type == REDIS_REPLY_STRING ? v->str : "nil", v->type == REDIS_REPLY_STRING ? "\"" : "", p);
    }
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return stale != 0;
}

long race_check(struct race *r)
{
    struct route *rt = route_for(r);
    long stale = 0;
    for (int i = 0; rt && i < r->nkeys; i++) {
        char key[32];
        race_key(i, key, sizeof key);
        stale += key_is_stale(r, rt, key);
    }
    route_close(rt);
    return stale;
}

void race_start(struct race *r, uint64_t seed, double seconds)
{
    r->sh = h_shm_alloc(sizeof *r->sh);
    double end = h_now() + seconds;
    r->nkids = r->writers + r->fillers < RACE_MAX_KIDS ? r->writers + r->fillers : RACE_MAX_KIDS;
    for (int i = 0; i < r->nkids; i++) {
        if ((r->kids[i] = h_fork()) == 0) {
            if (i < r->writers)
                writer(r, r->sh, seed * 131 + (uint64_t)i, end);
            else
                filler(r, r->sh, seed * 131 + (uint64_t)i, end);
            h_child_exit();
        }
    }
}

long race_finish(struct race *r)
{
    atomic_store(&r->sh->stop, 1);
    for (int i = 0; i < r->nkids; i++)
        h_wait(r->kids[i], i < r->writers ? "writer" : "filler");
    r->fills += atomic_load(&r->sh->fills);
    r->hits += atomic_load(&r->sh->hits);
    uint64_t last = atomic_load(&r->sh->last_write_ms);
    h_shm_free(r->sh, sizeof *r->sh);
    r->sh = NULL;
    CHECKF(agent_wait_synced(r->db, last, 15) == 0, "the agent did not catch up with the writes within 15 s");
    long stale = race_check(r);
    r->stale += stale;
    if (r->leased)
        CHECKF(stale == 0, "%ld key(s) of the table differ from Redis after the writes stopped", stale);
    return stale;
}

long race_round(struct race *r, uint64_t seed)
{
    race_start(r, seed, r->seconds);
    h_sleep(r->seconds);
    return race_finish(r);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void measure_invalidation(const char *addr, int cluster, shmkv *db, int n, double *lat_ms)
{
    struct race r = {.addr = addr, .cluster = cluster};
    struct route *rt = route_for(&r);
    shmkv_redis *nr = NULL;
    shmkv_redis_options o = {.flags = cluster ? SHMKV_REDIS_CLUSTER : 0u};
    CHECK_RC(shmkv_redis_open(db, addr, &o, &nr), 0);
    for (int i = 0; rt && nr && i < n; i++) {
        char key[32], buf[64];
        size_t len;
        snprintf(key, sizeof key, "lat:%d", i);
        freeReplyObject(must_cmd(rt, "SET", key, "before"));
        /* The SET's own invalidation may reach the agent after a fill
         * stored the value, and delete it (a miss, never a stale value):
         * fill until the value is still there 20 ms after it was seen
         * (found in CI: the value was there, then gone at the check). */
        for (double end = h_now() + 3; h_now() < end;) {
            if (shmkv_get(db, key, strlen(key), buf, sizeof buf, &len) == 0) {
                nap_ms(20);
                if (shmkv_get(db, key, strlen(key), buf, sizeof buf, &len) == 0)
                    break;
            }
            void *val;
            int src = -1;
            if (shmkv_redis_get(nr, key, strlen(key), &val, &len, &src) == 0)
                free(val);
            if (src != SHMKV_REDIS_FILLED)
                nap_ms(1);
        }
        CHECKF(shmkv_get(db, key, strlen(key), buf, sizeof buf, &len) == 0, "%s is not in the table", key);
        freeReplyObject(must_cmd(rt, "SET", key, "after"));
        uint64_t acked = mono_ns(), gone;
        while (shmkv_get(db, key, strlen(key), buf, sizeof buf, &len) == 0 && mono_ns() - acked < 3000000000u)
            nanosleep(&(struct timespec){0, 20000}, NULL);
        gone = mono_ns();
        lat_ms[i] = (double)(gone - acked) / 1e6;
    }
    shmkv_redis_close(nr);
    route_close(rt);
    qsort(lat_ms, (size_t)n, sizeof *lat_ms, by_value);
}
