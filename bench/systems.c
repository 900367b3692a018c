/*
 * systems.c - the systems shmkv-bench knows (one table entry each), and
 * the choice of those a run measures.
 *
 * A name is a system's base name ("shmkv", "redis"), "shmkv-cache" (shmkv
 * created with SHMKV_CACHE, --cache), "shmkv-sized" (shmkv created with
 * expected_keys = N: told the key count, as libshmcache is), or
 * "redis-pD" / "memcached-pD": the same at pipeline depth D.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every system the bench has code for, in the order 'all' runs them; ops is
 * NULL where the build left the system's file out (sys.h). */
static const struct system {
    const char *base;
    int pipelines;                 /* takes "BASE-pD" */
    const struct sysops *ops;
} table[] = {
    { "shmkv", 0, &shmkv_sysops },
    { "lmdb", 0, &lmdb_sysops },
    { "redis", 1, &redis_sysops },
    { "memcached", 1, &memcached_sysops },
    { "boost", 0, &boost_sysops },
    { "shf", 0, &shf_sysops },
    { "libshmcache", 0, &shmcache_sysops },
    { "ideal", 0, &ideal_sysops },
};
#define NSYSTEMS (sizeof table / sizeof table[0])

static const struct system *system_named(const char *base)
{
    for (size_t i = 0; i < NSYSTEMS; i++)
        if (!strcmp(base, table[i].base))
            return &table[i];
    return NULL;
}

static int unknown(const char *name)
{
    fprintf(stderr, "shmkv-bench: unknown system %s (shmkv, shmkv-cache, shmkv-sized, lmdb, redis, redis-pD, "
            "memcached, memcached-pD, boost, shf, libshmcache, ideal, all)\n", name);
    return -1;
}

/* Say why NAME cannot run (and keep it for the report's list of what 'all'
 * left out, unless it is a pipelined variant: its base says it). */
static int unavailable(struct systems *ss, const char *name, const char *why, int quiet,
                       int variant)
{
    if (!quiet)
        fprintf(stderr, "shmkv-bench: %s: %s\n", name, why);
    size_t used = strlen(ss->skipped);
    if (!variant && used < sizeof ss->skipped)
        snprintf(ss->skipped + used, sizeof ss->skipped - used, "%s%s (%s)", used ? "; " : "",
                 name, why);
    return -1;
}

int systems_add(struct systems *ss, const struct config *c, const char *name, int quiet)
{
    char base[32];
    unsigned depth = 0;
    int cache = 0, sized = 0;
    if (!strcmp(name, "shmkv-cache")) { /* shmkv created with SHMKV_CACHE (--cache) */
        cache = 1;
        name = "shmkv";
    } else if (!strcmp(name, "shmkv-sized")) { /* shmkv created with expected_keys = N */
        sized = 1;
        name = "shmkv";
    }
    const char *dash = strstr(name, "-p");
    size_t bl = dash ? (size_t)(dash - name) : strlen(name);
    if (bl >= sizeof base)
        return unknown(name);
    memcpy(base, name, bl);
    base[bl] = 0;
    const struct system *sys = system_named(base);
    if (!sys)
        return unknown(name);
    if (dash) {
        char *end;
        unsigned long d = strtoul(dash + 2, &end, 10);
        if (*end || d < 2 || d > MAX_DEPTH || !sys->pipelines)
            return unknown(name);
        depth = (unsigned)d;
    }
    const struct sysops *o = sys->ops;
    const char *why = !o ? "built without it (its headers were not found; "
                           "scripts/install-deps.sh bench, then rebuild)"
                    : o->unavailable ? o->unavailable(c) : NULL;
    if (!why && c->mix_op == MIX_INCR && c->phase_on[PH_MIX] && !o->incr)
        why = "--op incr not supported: it has no increment";
    if (!why && c->put_batch > 1 && !o->put_batch)
        why = "--put-batch not supported: it has no batch of puts with a result per pair";
    if (why)
        return unavailable(ss, name, why, quiet, dash != NULL);
    struct sysdef sd;
    memset(&sd, 0, sizeof sd);
    snprintf(sd.name, sizeof sd.name, "%s%s", name, cache ? "-cache" : sized ? "-sized" : "");
    sd.ops = o;
    sd.sized = sized;
    /* with --cache, memcached is given the same budget and evicts too */
    sd.cache = cache || (c->cache_pct > 0 && !strcmp(base, "memcached"));
    if (depth) {
        sd.depth = depth;
        sd.pipelined = !strcmp(base, "redis");
    } else {
        sd.depth = o->exec && o->batches_gets && c->batch > 1 ? c->batch : 1;
    }
    for (int i = 0; i < ss->n; i++)
        if (!strcmp(ss->d[i].name, sd.name))
            return 0;
    if (ss->n == MAX_SYS) {
        fprintf(stderr, "shmkv-bench: too many systems\n");
        return -1;
    }
    ss->d[ss->n++] = sd;
    return 0;
}

/* Every system (shmkv also told the key count, unless --presize tells it
 * anyway), and each one that pipelines also at --pipeline's depth. */
void systems_add_all(struct systems *ss, const struct config *c, int quiet)
{
    for (size_t i = 0; i < NSYSTEMS; i++) {
        systems_add(ss, c, table[i].base, quiet);
        if (!strcmp(table[i].base, "shmkv") && !c->presize)
            systems_add(ss, c, "shmkv-sized", quiet);
        if (table[i].pipelines) {
            char p[32];
            snprintf(p, sizeof p, "%s-p%u", table[i].base, c->pipeline);
            systems_add(ss, c, p, quiet);
        }
    }
}

int systems_choose(struct systems *ss, const struct config *c, const char *list)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "all"))
            systems_add_all(ss, c, 1);
        else if (systems_add(ss, c, t, 0))
            return -1;
    }
    return ss->n ? 0 : -1;
}

void systems_kill_now(void)
{
    for (size_t i = 0; i < NSYSTEMS; i++)
        if (table[i].ops && table[i].ops->kill_now)
            table[i].ops->kill_now();
}

void systems_stop(void)
{
    for (size_t i = 0; i < NSYSTEMS; i++)
        if (table[i].ops && table[i].ops->stop)
            table[i].ops->stop();
}
