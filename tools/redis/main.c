/*
 * shmkv-redis: a per-host near cache in front of Redis (docs/near-cache.md).
 *
 *   shmkv-redis sync TABLE --redis ADDR [--cluster] [--prefix P]...
 *                    [--max-ttl MS] [--heartbeat MS] [--timeout MS]
 *                    [--max-bytes SIZE] [--mode MODE] [--refresh] [--quiet]
 *   shmkv-redis get TABLE KEY --redis ADDR [--cluster] [--ttl MS] [--source]
 *
 * Exit status as the shmkv tool's: 0 success, 1 not found, 2 usage, 3
 * anything else.
 */
#include "shmkv-redis.h"

#include "agent.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EX_OK = 0, EX_NOTFOUND = 1, EX_USAGE = 2, EX_FAIL = 3 };

static const char usage_text[] =
    "usage: shmkv-redis sync TABLE --redis ADDR [--cluster] [--prefix P]... [--max-ttl MS]\n"
    "                        [--heartbeat MS] [--timeout MS] [--max-bytes SIZE] [--mode MODE]\n"
    "                        [--refresh] [--quiet]\n"
    "       shmkv-redis get TABLE KEY --redis ADDR [--cluster] [--ttl MS] [--source]\n"
    "\n"
    "sync: the per-host agent.  Keeps the table (a cache, created with --max-bytes,\n"
    "  default 64M, if absent) consistent with Redis: deletes every key Redis\n"
    "  invalidates (CLIENT TRACKING, BCAST, over the keys starting with a --prefix,\n"
    "  or all), clears the table when it cannot be sure it saw every invalidation,\n"
    "  and publishes a heartbeat that readers check (it lapses --heartbeat ms,\n"
    "  default 1000, after the agent last proved it was in sync).  --max-ttl caps\n"
    "  how long readers keep a value.  --refresh: an invalidated key that was in the\n"
    "  table is read from Redis again by the agent (under a lease, as a reader's\n"
    "  fill), so that its next reader finds the new value instead of missing.\n"
    "  Runs until SIGTERM or SIGINT, then clears the table.\n"
    "get: read KEY through the table: from shared memory when present and the\n"
    "  agent alive, else from Redis (stored with a lease for the others).  Prints\n"
    "  the value and a newline; --source also prints where it came from (table,\n"
    "  filled, redis) on stderr.  Exit 1 if Redis has no such key.\n"
    "ADDR: HOST:PORT, unix:PATH or /PATH; with --cluster, any node of the cluster,\n"
    "  or several separated by commas (asked in turn when the others are down).\n";

__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "shmkv-redis: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fputs(usage_text, stderr);
    return EX_USAGE;
}

/* A count of milliseconds or bytes (with K, M, G for sizes); 0 or -1. */
static int number(const char *s, int size, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-')
        return -1;
    unsigned shift = 0;
    if (size && *end)
        shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 : *end == 'G' || *end == 'g' ? 30 : 99;
    if (shift == 99 || (shift && end[1]) || (!shift && *end) || (shift && v >> (64 - shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

enum { O_REDIS = 1, O_CLUSTER, O_PREFIX, O_MAXTTL, O_HEARTBEAT, O_TIMEOUT, O_MAXBYTES, O_MODE, O_QUIET, O_TTL,
       O_SOURCE, O_HELP, O_REFRESH };
static const struct option longopts[] = {
    {"redis", required_argument, NULL, O_REDIS},         {"cluster", no_argument, NULL, O_CLUSTER},
    {"prefix", required_argument, NULL, O_PREFIX},       {"max-ttl", required_argument, NULL, O_MAXTTL},
    {"heartbeat", required_argument, NULL, O_HEARTBEAT}, {"timeout", required_argument, NULL, O_TIMEOUT},
    {"max-bytes", required_argument, NULL, O_MAXBYTES},  {"mode", required_argument, NULL, O_MODE},
    {"quiet", no_argument, NULL, O_QUIET},               {"ttl", required_argument, NULL, O_TTL},
    {"source", no_argument, NULL, O_SOURCE},             {"help", no_argument, NULL, O_HELP},
    {"refresh", no_argument, NULL, O_REFRESH},
    {NULL, 0, NULL, 0}};

struct cmdline {
    struct agent_opts ao;
    uint64_t ttl_ms;
    int source, is_get;
    unsigned used;      /* options given, as bits of their O_ numbers */
};

static int parse_option(struct cmdline *cl, int opt, const char *arg)
{
    struct agent_opts *o = &cl->ao;
    char *end;
    cl->used |= 1u << opt;
    switch (opt) {
    case O_REDIS: o->redis = arg; return 0;
    case O_CLUSTER: o->cluster = 1; return 0;
    case O_QUIET: o->quiet = 1; return 0;
    case O_REFRESH: o->refresh = 1; return 0;
    case O_SOURCE: cl->source = 1; return 0;
    case O_PREFIX:
        if (!arg[0] || strlen(arg) > RECORD_PREFIX_MAX || o->nprefixes == RECORD_MAX_PREFIXES)
            return usage("--prefix '%s': 1 to 256 bytes, at most 64 prefixes", arg);
        o->prefix[o->nprefixes++] = arg;
        return 0;
    case O_MAXTTL: return number(arg, 0, &o->max_ttl_ms) ? usage("--max-ttl '%s': milliseconds", arg) : 0;
    case O_TTL: return number(arg, 0, &cl->ttl_ms) ? usage("--ttl '%s': milliseconds", arg) : 0;
    case O_HEARTBEAT:
        return number(arg, 0, &o->heartbeat_ms) || o->heartbeat_ms < 10 || o->heartbeat_ms > 3600000
                   ? usage("--heartbeat '%s': 10 to 3600000 milliseconds", arg) : 0;
    case O_TIMEOUT:
        return number(arg, 0, &o->timeout_ms) || !o->timeout_ms ? usage("--timeout '%s': milliseconds", arg) : 0;
    case O_MAXBYTES:
        return number(arg, 1, &o->max_bytes) || o->max_bytes < SHMKV_MIN_BYTES
                   ? usage("--max-bytes '%s': a size of at least 256K (K, M, G)", arg) : 0;
    case O_MODE:
        errno = 0;
        o->mode = (unsigned)strtoul(arg, &end, 8);
        return end == arg || *end || errno || o->mode > 07777 ? usage("--mode '%s': octal permissions", arg) : 0;
    default: return usage(NULL);
    }
}

/* The options allowed for each command, as bits of their O_ numbers. */
#define BIT(o) (1u << (o))
static const unsigned sync_opts = BIT(O_REDIS) | BIT(O_CLUSTER) | BIT(O_PREFIX) | BIT(O_MAXTTL) |
                                  BIT(O_HEARTBEAT) | BIT(O_TIMEOUT) | BIT(O_MAXBYTES) | BIT(O_MODE) | BIT(O_QUIET) |
                                  BIT(O_REFRESH);
static const unsigned get_opts = BIT(O_REDIS) | BIT(O_CLUSTER) | BIT(O_TTL) | BIT(O_SOURCE) | BIT(O_TIMEOUT);

static int cmd_get(const struct cmdline *cl, const char *table, const char *key)
{
    shmkv *db;
    shmkv_options so = {0}; /* no SHMKV_CREATE: the agent makes the table */
    int rc = shmkv_open(table, &so, &db);
    if (rc) {
        fprintf(stderr, "shmkv-redis get: cannot open the table %s: %s%s\n", table, shmkv_strerror(rc),
                rc == -ENOENT ? " (shmkv-redis sync creates it)" : "");
        return EX_FAIL;
    }
    shmkv_redis_options ro = {.flags = cl->ao.cluster ? SHMKV_REDIS_CLUSTER : 0u, .ttl_ms = cl->ttl_ms,
                              .timeout_ms = cl->ao.timeout_ms};
    shmkv_redis *r;
    if ((rc = shmkv_redis_open(db, cl->ao.redis, &ro, &r))) {
        fprintf(stderr, "shmkv-redis get: cannot reach Redis at %s: %s\n", cl->ao.redis, shmkv_strerror(rc));
        shmkv_close(db);
        return rc == -EINVAL ? EX_USAGE : EX_FAIL;
    }
    void *val;
    size_t vlen;
    int source, ex = EX_OK;
    rc = shmkv_redis_get(r, key, strlen(key), &val, &vlen, &source);
    if (rc == 0) {
        fwrite(val, 1, vlen, stdout);
        fputc('\n', stdout);
        free(val);
        if (cl->source)
            fprintf(stderr, "%s\n", source == SHMKV_REDIS_FROM_TABLE ? "table"
                                    : source == SHMKV_REDIS_FILLED   ? "filled" : "redis");
    } else {
        fprintf(stderr, "shmkv-redis get: %s: %s\n", key,
                rc == -EIO ? shmkv_redis_error(r) : rc == -ENOENT ? "no such key in Redis" : shmkv_strerror(rc));
        ex = rc == -ENOENT ? EX_NOTFOUND : EX_FAIL;
    }
    shmkv_redis_close(r);
    shmkv_close(db);
    return fflush(stdout) ? EX_FAIL : ex;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(NULL);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_text, stdout);
        return EX_OK;
    }
    struct cmdline cl = {.ao = {.heartbeat_ms = 1000, .timeout_ms = 1000, .max_bytes = 64u << 20}};
    cl.is_get = !strcmp(argv[1], "get");
    if (!cl.is_get && strcmp(argv[1], "sync"))
        return usage("unknown command '%s'", argv[1]);
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == O_HELP) {
            fputs(usage_text, stdout);
            return EX_OK;
        }
        if (opt == '?' || !(BIT(opt) & (cl.is_get ? get_opts : sync_opts)))
            return usage("an option that %s does not take", argv[1]);
        if (parse_option(&cl, opt, optarg))
            return EX_USAGE;
    }
    int want = cl.is_get ? 2 : 1;
    if (argc - optind != want)
        return usage("%s", cl.is_get ? "get takes TABLE and KEY" : "sync takes TABLE");
    if (!cl.ao.redis)
        return usage("--redis ADDR is required");
    /* Redis refuses prefixes of one another (it would announce a key twice) */
    for (int i = 0; i < cl.ao.nprefixes; i++)
        for (int j = 0; j < cl.ao.nprefixes; j++)
            if (i != j && !strncmp(cl.ao.prefix[i], cl.ao.prefix[j], strlen(cl.ao.prefix[i])))
                return usage("--prefix '%s' overlaps '%s'", cl.ao.prefix[i], cl.ao.prefix[j]);
    struct addr seeds[16];
    char err[ERR_MAX];
    if (addr_list_parse(cl.ao.redis, seeds, cl.ao.cluster ? 16 : 1, err, sizeof err) < 0)
        return usage("--redis: %s", err);
    cl.ao.table = argv[optind];
    if (cl.is_get)
        return cmd_get(&cl, argv[optind], argv[optind + 1]);
    return agent_run(&cl.ao);
}
