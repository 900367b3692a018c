/*
 * options.c - shmkv-bench's options: one table, from which come the
 * getopt_long array, the parsing and --help.
 *
 * A row is an option (its long name, a short letter or 0, the name of its
 * argument in the help or NULL for none, the kind of argument and where it
 * goes in struct config, its bounds, its help) or, without a name, a
 * paragraph of the help.  What the options mean together (--quick's
 * defaults, the checks across options) is main.c's.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind {
    K_TEXT,     /* not an option: a paragraph of the help */
    K_HELP,     /* print the help */
    K_ON,       /* no argument: the int becomes 1 */
    K_OFF,      /* no argument: the int becomes 0 */
    K_INT,      /* a whole number in [min, max], into an int */
    K_UNS,      /* ... into an unsigned */
    K_U64,      /* ... into a uint64_t */
    K_NUM,      /* a number in [fmin, fmax], into a double */
    K_SIZES,    /* B or A-B, each in [min, max], into a struct sizes */
    K_LIST,     /* numbers in [fmin, fmax], comma-separated, into a struct numlist */
    K_STR,      /* the argument itself, into a const char * */
    K_SET,      /* the argument, given to set() */
};

struct optdef {
    const char *name;
    char shortc;
    const char *arg;
    enum kind kind;
    size_t off;                    /* offsetof(struct config, the field) */
    uint64_t min, max;             /* K_INT, K_UNS, K_U64, K_SIZES */
    double fmin, fmax;             /* K_NUM, K_LIST */
    int (*set)(struct config *c, const char *arg);   /* K_SET: 0 or -1 */
    const char *help;              /* lines after the first are indented */
};

#define AT(f) .off = offsetof(struct config, f)
#define ON(f) .kind = K_ON, AT(f)
#define OFF(f) .kind = K_OFF, AT(f)
#define INT(f, lo, hi) .kind = K_INT, AT(f), .min = (lo), .max = (hi)
#define UNS(f, lo, hi) .kind = K_UNS, AT(f), .min = (lo), .max = (hi)
#define U64(f, lo, hi) .kind = K_U64, AT(f), .min = (lo), .max = (hi)
#define NUM(f, lo, hi) .kind = K_NUM, AT(f), .fmin = (lo), .fmax = (hi)
#define SIZES(f, lo, hi) .kind = K_SIZES, AT(f), .min = (lo), .max = (hi)
#define LIST(f, lo, hi) .kind = K_LIST, AT(f), .fmin = (lo), .fmax = (hi)
#define STR(f) .kind = K_STR, AT(f)
#define SET(fn) .kind = K_SET, .set = (fn)
#define TEXT(t) { NULL, .kind = K_TEXT, .help = (t) }

static int set_phases(struct config *c, const char *list);
static int set_mix_get(struct config *c, const char *arg);
static int set_dist(struct config *c, const char *arg);
static int set_op(struct config *c, const char *arg);

static const struct optdef defs[] = {
    { "procs", .arg = "N", INT(procs, 1, MAX_PROCS), .help = "worker processes (default 2)" },
    { "threads", .arg = "T", INT(threads, 1, MAX_THREADS),
      .help = "threads per process (default 1)" },
    { "keys", .arg = "N", U64(nkeys, 1, UINT32_MAX - 1), .help = "unique keys (default 1000000)" },
    { "key-size", .arg = "B|A-B", SIZES(key, 1, 511),
      .help = "key bytes, fixed or a range (default 8)" },
    { "val-size", .arg = "B|A-B", SIZES(val, 8, 64u << 20),
      .help = "value bytes, at least 8 (default 8)" },
    { "system", .arg = "LIST", STR(systems),
      .help = "comma-separated: shmkv, shmkv-cache, shmkv-sized (told the\n"
              "key count: expected_keys = N), lmdb, redis, redis-pD,\n"
              "memcached, memcached-pD, boost, shf, libshmcache (built\n"
              "when given their sources), ideal (a yardstick, not a store:\n"
              "bench/sys_ideal.c), or all (default: all, those available)" },
    { "list-systems", ON(list_systems),
      .help = "print what 'all' runs here, one per line, and exit" },
    { "phases", .arg = "LIST", SET(set_phases),
      .help = "of put,mix,get,del (default all; put is needed)" },
    { "mix-get", .arg = "PCT", SET(set_mix_get),
      .help = "MIX: percentage of gets, the rest delete+put (default 98)" },
    { "op", .arg = "OP", SET(set_op),
      .help = "what a MIX update of a key is: delput (default: a delete,\n"
              "then a put of a new version), put (a put of a new version\n"
              "over the old), incr (an increment of a counter: shmkv_incr,\n"
              "Redis INCRBY, memcached incr, LMDB a read-modify-write in a\n"
              "write transaction; values are then counters, decimal text)" },
    { "mix-seconds", .arg = "S", NUM(mix_seconds, 0.001, 86400),
      .help = "MIX duration (default 5)" },
    { "mix-ops", .arg = "N", U64(mix_ops, 1, UINT64_MAX / 2),
      .help = "MIX: this many steps in all instead of a duration" },
    { "dist", .arg = "D", SET(set_dist),
      .help = "uniform or zipf: the keys of MIX and GET (default uniform)" },
    { "zipf-s", .arg = "S", NUM(zipf_s, 0.01, 10), .help = "Zipf exponent (default 0.99)" },
    { "batch", .arg = "B", UNS(batch, 1, MAX_DEPTH),
      .help = "gets B at a time where the system can: shmkv_get_many,\n"
              "Redis MGET, memcached_mget (default 1)" },
    { "lean-gets", ON(lean_gets),
      .help = "GET makes 64 keys, gets them back to back, then checks\n"
              "the 64 values (default: make, get and check each in turn)" },
    { "ideal-pad", .arg = "N", UNS(ideal_pad, 0, 1u << 20),
      .help = "ideal: each get first runs N empty loop turns (how much\n"
              "work a get may add before gets stop overlapping; default 0)" },
    { "ideal-guards", ON(ideal_guards),
      .help = "ideal: gets with the least shmkv's guarantees ask (a\n"
              "growing index's directory, bounds, a version word)" },
    { "ideal-put-pad", .arg = "N", UNS(ideal_put_pad[1], 0, 1u << 20),
      .help = "ideal (guarded): each put runs N turns of a loop that needs\n"
              "the look's result, after the look (default 0)" },
    { "ideal-put-prepad", .arg = "N", UNS(ideal_put_pad[0], 0, 1u << 20),
      .help = "ideal (guarded): the same before the lock, once the\n"
              "bucket is asked for (default 0)" },
    { "ideal-shmkv-lines", ON(ideal_shmkv_lines),
      .help = "ideal (guarded): puts take shmkv's lock (the holder's\n"
              "identity, a generation, an exchange to unlock), append\n"
              "behind a run header and count on a line of their own" },
    { "put-batch", .arg = "B", UNS(put_batch, 1, MAX_DEPTH),
      .help = "PUT stores B pairs a call where the system can:\n"
              "shmkv_put_many, LMDB a write transaction per batch, Redis\n"
              "MSET (redis-pD: B SETs pipelined) (default 1)" },
    { "pipeline", .arg = "D", UNS(pipeline, 2, MAX_DEPTH),
      .help = "depth of redis-pD/memcached-pD in 'all' (default 16)" },
    { "runs", .arg = "R", INT(runs, 1, MAX_RUNS),
      .help = "repeat everything R times, report medians (default 1)" },
    { "sample", .arg = "K", UNS(sample, 1, 1u << 20),
      .help = "time every K-th operation (default 64; 1: all)" },
    { "progress", ON(progress),
      .help = "a line per second per phase on stderr (default: if a tty)" },
    { "json", ON(json), .help = "print the results as JSON instead of text" },
    { "tsv", .arg = "FILE", STR(tsv),
      .help = "also write one line per system and phase (medians) to FILE" },
    { "presize", ON(presize), .help = "create the shmkv table with expected_keys = N" },
    { "no-prefault", OFF(prefault),
      .help = "workers do not map the store's pages in before a phase" },
    { "dir", .arg = "DIR", STR(dir), .help = "where shmkv and LMDB files go (default /dev/shm)" },
    { "quick", ON(quick), .help = "a smoke test: 20000 keys, MIX 1 s, unless set otherwise" },
    { "cache", .arg = "PCT", NUM(cache_pct, 0.001, 1000),
      .help = "also run shmkv-cache: shmkv created with SHMKV_CACHE and\n"
              "max_bytes = PCT % of the working set (what the pairs take\n"
              "in a store: 8 B header, key and value padded to 8 B, ~13 B\n"
              "of index each; at least SHMKV_MIN_BYTES), so it holds\n"
              "about PCT % of them; memcached then gets\n"
              "that budget too (whole MiB, rounded up) and evicts.  For\n"
              "these a get may miss and a delete find nothing (counted,\n"
              "not errors); values read are still checked" },
    { "stall-probe", .arg = "S", NUM(stall_secs, 0.1, 3600),
      .help = "only measure the machine: one process per CPU reads the\n"
              "clock in a loop for S seconds and counts the gaps, times\n"
              "it was not running (an operation lasting d s meets one\n"
              "with probability ~ d x gaps/s: a floor under p99.9)" },
    { "self-test-corrupt", ON(self_test_corrupt),
      .help = "for the bench's own test: one expected value (of a get in\n"
              "GET, of an increment in MIX) is made wrong, so the run must\n"
              "fail with a mismatch" },
    { "help", 'h', .kind = K_HELP, .help = "print this help and exit" },
    TEXT("Hit ratio (shmkv-bench --hitratio [options]): a cache-aside loop (get; on a\n"
         "miss, put) over Zipf keys with values of 100 B..10 KiB (log-uniform, fixed\n"
         "per key), for each skew and cache size: shmkv (SHMKV_CACHE, max_bytes = the\n"
         "budget), an exact LRU simulation counting key + value bytes against the same\n"
         "budget, and memcached -m budget.  It also takes --keys (default 250000),\n"
         "--system LIST (of shmkv,lru,memcached; default all three), --dir, --json,\n"
         "--tsv FILE and --quick (20000 keys, 200000 + 100000 requests).\n"),
    { "hitratio", ON(hitratio), .help = "measure hit ratios instead of the phases" },
    { "requests", .arg = "N", U64(hr_requests, 1, UINT32_MAX),
      .help = "requests counted (default 2000000)" },
    { "warmup", .arg = "N", U64(hr_warmup, 0, UINT32_MAX),
      .help = "requests before them, not counted (default 1000000)" },
    { "skews", .arg = "LIST", LIST(hr_skews, 0.01, 10),
      .help = "Zipf exponents (default 0.7,0.9,0.99,1.2)" },
    { "cache-pcts", .arg = "LIST", LIST(hr_pcts, 0.001, 100),
      .help = "cache sizes, % of the working set's bytes, rounded to\n"
              "whole MiB, at least 4 (default 1,5,10)" },
    TEXT("Queues (shmkv-bench --queue [options]): 1 and 2 producer processes and 1\n"
         "and 2 consumer processes pass messages of 64 B and 4 KiB, one at a time and\n"
         "in batches of 64, through shmkv's lists (unbounded, and shmkv-b: bounded,\n"
         "producers waiting for room), POSIX message queues, a pipe, Redis lists\n"
         "(RPUSH/BLPOP, and pipelined) and SharedHashFile's queues where built;\n"
         "consumers wait in the kernel.  Millions of messages a second per cell, every\n"
         "message checked, then the wake-up latency of a waiting consumer.  It also\n"
         "takes --system LIST (of shmkv,mq,pipe,redis,redis-p,shf,shmkv-b), --runs R,\n"
         "--dir and --quick (20000 messages, 500 wake-ups).\n"),
    { "queue", ON(queue), .help = "measure queues instead of the phases" },
    { "queue-items", .arg = "N", U64(queue_items, 1, 1ull << 40),
      .help = "messages per cell (default 200000)" },
    { "queue-wakes", .arg = "N", U64(queue_wakes, 1, 10000000),
      .help = "wake-ups timed for the latency (default 5000)" },
    { "queue-min-ms", .arg = "MS", NUM(queue_min_ms, 0, 60000),
      .help = "a cell whose first run is shorter is measured with more\n"
              "messages, up to 64x (default 100; 0: never)" },
    { "queue-timeout", .arg = "S", NUM(queue_timeout, 1, 86400),
      .help = "a queue run taking longer fails (default 120)" },
    TEXT("Phases: PUT (each worker inserts its share of the keys), MIX (gets of random\n"
         "keys, and updates (--op) of random keys of the worker's share), GET (every key\n"
         "once in random order; N Zipf draws with --dist zipf), DEL (each worker its\n"
         "share).  Every value read is checked; a mismatch fails the run.\n"
         "Per phase: total M ops/s (every get, put, delete and increment / time from\n"
         "release to the last finish), each worker's own M ops/s in brackets, latency\n"
         "percentiles of the timed operations (a batch is timed as a whole), memory\n"
         "bytes per pair, page faults and the workers' CPU time per operation (which\n"
         "says more than M ops/s where other jobs share the CPUs; for Redis and\n"
         "memcached the clients' share only, not the server's).\n"),
};
#define NDEFS (sizeof defs / sizeof defs[0])
_Static_assert(NDEFS <= 64, "struct config's given has a bit per row");

static const struct config defaults = {
    .procs = 2, .threads = 1, .nkeys = 1000000,
    .key = { 8, 8 }, .val = { 8, 8 },
    .runs = 1, .batch = 1, .put_batch = 1, .pipeline = 16,
    .mix_get = 0.98, .mix_seconds = 5, .zipf_s = 0.99,
    .sample = 64, .phase_on = { 1, 1, 1, 1 }, .dir = "/dev/shm", .prefault = 1,
    .hr_requests = 2000000, .hr_warmup = 1000000,
    .hr_skews = { { 0.7, 0.9, 0.99, 1.2 }, 4 }, .hr_pcts = { { 1, 5, 10 }, 3 },
    .queue_items = 200000, .queue_wakes = 5000, .queue_timeout = 120, .queue_min_ms = 100,
};

/* ---- --help -------------------------------------------------------------- */

#define HELP_COL 21 /* where the options' help starts */

static void usage(FILE *f)
{
    fputs("usage: shmkv-bench [options]\n", f);
    for (size_t i = 0; i < NDEFS; i++) {
        const struct optdef *o = &defs[i];
        if (o->kind == K_TEXT) {
            fputs(o->help, f);
            continue;
        }
        char left[64];
        int n = o->shortc ? snprintf(left, sizeof left, "  -%c, --%s", o->shortc, o->name)
                          : snprintf(left, sizeof left, "  --%s", o->name);
        if (o->arg)
            n += snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
        if (n + 2 > HELP_COL) /* no room for the help: it starts on the next line */
            fprintf(f, "%s\n%*s", left, HELP_COL, "");
        else
            fprintf(f, "%s%*s", left, HELP_COL - n, "");
        for (const char *h = o->help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n')
                fprintf(f, "%*s", HELP_COL, "");
        }
        fputc('\n', f);
    }
}

/* ---- the arguments --------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* B or A-B with A <= B. */
static int parse_sizes(const char *s, uint64_t lo, uint64_t hi, struct sizes *out)
{
    char buf[64];
    uint64_t x, y;
    snprintf(buf, sizeof buf, "%s", s);
    char *dash = strchr(buf, '-');
    if (dash)
        *dash = 0;
    if (parse_u64(buf, lo, hi, &x))
        return -1;
    y = x;
    if (dash && (parse_u64(dash + 1, lo, hi, &y) || y < x))
        return -1;
    out->min = (size_t)x;
    out->max = (size_t)y;
    return 0;
}

/* One to HR_MAX_CELLS numbers, comma-separated. */
static int parse_list(const char *list, double lo, double hi, struct numlist *out)
{
    char buf[256], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == HR_MAX_CELLS || parse_double(t, lo, hi, &out->v[n]))
            return -1;
        n++;
    }
    out->n = n;
    return n ? 0 : -1;
}

static int set_phases(struct config *c, const char *list)
{
    char buf[64], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    memset(c->phase_on, 0, sizeof c->phase_on);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int p = 0; p < NPH; p++)
            if (!strcasecmp(t, ph_name[p]))
                c->phase_on[p] = found = 1;
        if (!found)
            return -1;
    }
    return c->phase_on[PH_PUT] ? 0 : -1;
}

static int set_mix_get(struct config *c, const char *arg)
{
    double pct;
    if (parse_double(arg, 0, 100, &pct))
        return -1;
    c->mix_get = pct / 100;
    return 0;
}

static int set_dist(struct config *c, const char *arg)
{
    if (strcmp(arg, "zipf") && strcmp(arg, "uniform"))
        return -1;
    c->zipf = !strcmp(arg, "zipf");
    return 0;
}

static int set_op(struct config *c, const char *arg)
{
    static const char *const names[] = { [MIX_DELPUT] = "delput", [MIX_PUT] = "put",
                                         [MIX_INCR] = "incr" };
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(arg, names[i])) {
            c->mix_op = i;
            return 0;
        }
    return -1;
}

/* Put ARG where option O says; 0, or -1 if it is not a value O takes. */
static int apply(struct config *c, const struct optdef *o, const char *arg)
{
    void *p = (char *)c + o->off;
    uint64_t u;
    switch (o->kind) {
    case K_ON:
    case K_OFF:
        *(int *)p = o->kind == K_ON;
        return 0;
    case K_INT:
    case K_UNS:
        if (parse_u64(arg, o->min, o->max, &u))
            return -1;
        if (o->kind == K_INT)
            *(int *)p = (int)u;
        else
            *(unsigned *)p = (unsigned)u;
        return 0;
    case K_U64:
        return parse_u64(arg, o->min, o->max, p);
    case K_NUM:
        return parse_double(arg, o->fmin, o->fmax, p);
    case K_SIZES:
        return parse_sizes(arg, o->min, o->max, p);
    case K_LIST:
        return parse_list(arg, o->fmin, o->fmax, p);
    case K_STR:
        *(const char **)p = arg;
        return 0;
    case K_SET:
        return o->set(c, arg);
    default:
        return -1;
    }
}

/* getopt_long's value for row i: its short letter, or a number past them. */
#define LONG_ONLY(i) (256 + (int)(i))

static const struct optdef *def_of(int opt)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (defs[i].kind != K_TEXT && (opt == LONG_ONLY(i) || opt == defs[i].shortc))
            return &defs[i];
    return NULL;
}

int parse_options(struct config *c, int argc, char **argv)
{
    *c = defaults;
    struct option lo[NDEFS + 1];
    char shorts[2 * NDEFS + 1];
    size_t n = 0, ns = 0;
    for (size_t i = 0; i < NDEFS; i++) {
        const struct optdef *o = &defs[i];
        if (o->kind == K_TEXT)
            continue;
        lo[n++] = (struct option){ o->name, o->arg ? required_argument : no_argument, NULL,
                                   o->shortc ? o->shortc : LONG_ONLY(i) };
        if (o->shortc) {
            shorts[ns++] = o->shortc;
            if (o->arg)
                shorts[ns++] = ':';
        }
    }
    lo[n] = (struct option){ NULL, 0, NULL, 0 };
    shorts[ns] = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const struct optdef *o = def_of(opt);
        if (!o) /* getopt_long said what */
            goto bad;
        c->given |= 1ULL << (o - defs);
        if (o->kind == K_HELP) {
            usage(stdout);
            return 1;
        }
        if (apply(c, o, optarg)) {
            fprintf(stderr, "shmkv-bench: --%s %s: not a value it takes\n", o->name, optarg);
            goto bad;
        }
    }
    if (optind == argc)
        return 0;
    fprintf(stderr, "shmkv-bench: unexpected argument %s\n", argv[optind]);
bad:
    fprintf(stderr, "shmkv-bench: bad arguments; see shmkv-bench --help\n");
    return 2;
}

int option_given(const struct config *c, const char *name)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (defs[i].name && !strcmp(defs[i].name, name))
            return c->given >> i & 1;
    return 0;
}
