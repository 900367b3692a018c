/*
 * test_near_single.c - the near cache in front of one Redis server (a real
 * redis-server on a Unix socket in the test's directory): reading
 * through, invalidation latency, fills racing with writes, flushes, the
 * agent killed, stopped and restarted, Redis restarted under the agent.
 */
#include "kit.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* long enough that a busy machine's stalls of the agent (a second, at
 * times) do not let its record lapse in the middle of a part */
#define HEARTBEAT_MS 2000
/* what this test's own polling may add to a measured fall-back on a busy
 * machine (its reads, its naps, being scheduled) */
#define POLL_SLACK_MS 200

struct fixture {
    struct srv redis;
    char table[64];
    shmkv *db;
    struct agent_proc agent;
    struct route *rt;           /* the test's own client, to write */
    shmkv_redis *nr;            /* a reader */
};

static const char *const prefixes[] = {"--prefix", "u:", "--prefix", "race:", "--prefix", "lat:",
                                       "--max-ttl", "5000", "--heartbeat", "2000", NULL};
static const char *const refreshing[] = {"--prefix", "u:", "--prefix", "race:", "--prefix", "lat:",
                                         "--max-ttl", "5000", "--heartbeat", "2000", "--refresh", NULL};
enum { NO_AGENT, AGENT, AGENT_REFRESH };

static void start(struct fixture *f, int with_agent)
{
    memset(f, 0, sizeof *f);
    srv_start(&f->redis, "redis", 0);
    f->db = table_new(f->table, sizeof f->table);
    char err[ERR_MAX];
    CHECKF(route_open(f->redis.addr, 0, 2000, &f->rt, err, sizeof err) == 0, "%s", err);
    CHECK_RC(shmkv_redis_open(f->db, f->redis.addr, NULL, &f->nr), 0);
    if (with_agent) {
        agent_start(&f->agent, f->table, f->redis.addr, with_agent == AGENT_REFRESH ? refreshing : prefixes);
        CHECKF(agent_wait_alive(f->db, 10, 0) == 0, "no heartbeat 10 s after the agent started");
    }
}

static void stop(struct fixture *f)
{
    if (h_failures_local() || (getenv("SHMKV_TEST_VERBOSE") && *getenv("SHMKV_TEST_VERBOSE")))
        agent_show_log(&f->agent);
    agent_signal(&f->agent, SIGTERM);
    shmkv_redis_close(f->nr);
    route_close(f->rt);
    srv_kill(&f->redis, SIGTERM);
    CHECK_TABLE(f->db, "at the end");
    shmkv_close(f->db);
    CHECK_RC(shmkv_unlink(f->table), 0);
}

static void set(struct fixture *f, const char *key, const char *val)
{
    freeReplyObject(must_cmd(f->rt, "SET", key, val));
}

/* Wait until the agent has applied every write made so far (so that no
 * invalidation of them is still on its way to void a fill). */
static void settle(struct fixture *f)
{
    CHECKF(agent_wait_synced(f->db, boot_ms(), 5) == 0, "the agent did not catch up within 5 s");
}

/* shmkv_redis_get must give want (NULL: -ENOENT) from source src (-1: any). */
static void expect_get(struct fixture *f, const char *key, const char *want, int src, int line)
{
    void *val = NULL;
    size_t len;
    int got_src = -1;
    int rc = shmkv_redis_get(f->nr, key, strlen(key), &val, &len, &got_src);
    if (!want) {
        if (rc != -ENOENT)
            h_fail(__FILE__, line, "get %s: %s, expected -ENOENT", key, h_errname(rc));
        return;
    }
    if (rc || len != strlen(want) || memcmp(val, want, len))
        h_fail(__FILE__, line, "get %s: %s \"%.*s\", expected \"%s\"", key, h_errname(rc), rc ? 0 : (int)len,
               rc ? "" : (char *)val, want);
    else if (src >= 0 && got_src != src)
        h_fail(__FILE__, line, "get %s: from source %d, expected %d", key, got_src, src);
    free(val);
}
#define EXPECT_GET(f, k, w, s) expect_get(f, k, w, s, __LINE__)

/* A fill right after a write may lose its lease to that write's own
 * invalidation (read from Redis, not stored): the value must be right
 * every time, and stored soon. */
static void expect_filled(struct fixture *f, const char *key, const char *want, int line)
{
    for (double end = h_now() + 3; h_now() < end;) {
        void *val = NULL;
        size_t len;
        int src = -1;
        int rc = shmkv_redis_get(f->nr, key, strlen(key), &val, &len, &src);
        int right = rc == 0 && len == strlen(want) && !memcmp(val, want, len);
        free(val);
        if (!right || src == SHMKV_REDIS_FROM_TABLE) {
            h_fail(__FILE__, line, "get %s: %s, source %d", key, right ? "right value" : "wrong value", src);
            return;
        }
        if (src == SHMKV_REDIS_FILLED)
            return;
        nap_ms(2);
    }
    h_fail(__FILE__, line, "get %s: not stored within 3 s", key);
}
#define EXPECT_FILLED(f, k, w) expect_filled(f, k, w, __LINE__)

static int in_table(struct fixture *f, const char *key)
{
    char buf[64];
    size_t len;
    return shmkv_get(f->db, key, strlen(key), buf, sizeof buf, &len) != -ENOENT;
}

/* ---- reading through ------------------------------------------------------ */

static void part_read_through(void)
{
    struct fixture f;
    start(&f, 0);
    set(&f, "u:1", "one");
    EXPECT_GET(&f, "u:1", "one", SHMKV_REDIS_FROM_REDIS); /* no agent: nothing stored */
    CHECK(!in_table(&f, "u:1"));
    CHECK_RC(shmkv_redis_agent(f.db, NULL), -ENOENT);

    agent_start(&f.agent, f.table, f.redis.addr, prefixes);
    CHECK(agent_wait_alive(f.db, 10, 0) == 0);
    shmkv_redis_agent_info info;
    CHECK_RC(shmkv_redis_agent(f.db, &info), 0);
    CHECK_EQ_INT(info.pid, f.agent.pid);
    CHECK_EQ_U64(info.heartbeat_ms, HEARTBEAT_MS);
    CHECK_EQ_U64(info.max_ttl_ms, 5000);
    CHECK_EQ_INT(info.prefixes, 3);
    CHECK(info.synced_ms_ago <= HEARTBEAT_MS);

    EXPECT_FILLED(&f, "u:1", "one");
    EXPECT_GET(&f, "u:1", "one", SHMKV_REDIS_FROM_TABLE);
    set(&f, "other", "x"); /* outside every prefix: never stored */
    EXPECT_GET(&f, "other", "x", SHMKV_REDIS_FROM_REDIS);
    CHECK(!in_table(&f, "other"));
    set(&f, "u:empty", "");
    EXPECT_FILLED(&f, "u:empty", "");
    EXPECT_GET(&f, "u:empty", "", SHMKV_REDIS_FROM_TABLE);

    /* absent, or not a string: an error, and the lease is given back */
    uint64_t lease;
    size_t len;
    EXPECT_GET(&f, "u:none", NULL, -1);
    CHECK_RC(shmkv_get_lease(f.db, "u:none", 6, NULL, 0, &len, 0, &lease), -ENOENT);
    CHECK(lease != 0);
    CHECK_RC(shmkv_del(f.db, "u:none", 6), -ENOENT);
    freeReplyObject(must_cmd(f.rt, "RPUSH", "u:list", "a"));
    void *val;
    CHECK_RC(shmkv_redis_get(f.nr, "u:list", 6, &val, &len, NULL), -EMEDIUMTYPE);
    CHECK_RC(shmkv_get_lease(f.db, "u:list", 6, NULL, 0, &len, 0, &lease), -ENOENT);
    CHECK(lease != 0);

    /* lifetimes: the key's own, the agent's --max-ttl, the reader's ttl_ms */
    uint64_t left;
    freeReplyObject(route_cmd(f.rt, "SET", "u:ttl", 5, "t", 1));
    freeReplyObject(must_cmd(f.rt, "PEXPIRE", "u:ttl", "400"));
    EXPECT_FILLED(&f, "u:ttl", "t");
    CHECK_RC(shmkv_ttl(f.db, "u:ttl", 5, &left), 0);
    CHECKF(left > 0 && left <= 400, "left %" PRIu64, left);
    EXPECT_GET(&f, "u:1", "one", SHMKV_REDIS_FROM_TABLE);
    CHECK_RC(shmkv_ttl(f.db, "u:1", 3, &left), 0);
    CHECKF(left > 0 && left <= 5000, "left %" PRIu64, left); /* --max-ttl, though Redis has none */
    shmkv_redis_options o = {.ttl_ms = 300};
    shmkv_redis *capped;
    CHECK_RC(shmkv_redis_open(f.db, f.redis.addr, &o, &capped), 0);
    set(&f, "u:2", "two");
    settle(&f);
    CHECK_RC(shmkv_redis_get(capped, "u:2", 3, &val, &len, NULL), 0);
    free(val);
    CHECK_RC(shmkv_ttl(f.db, "u:2", 3, &left), 0);
    CHECKF(left > 0 && left <= 300, "left %" PRIu64, left);
    shmkv_redis_close(capped);
    h_sleep(0.45);
    CHECK(!in_table(&f, "u:ttl"));
    EXPECT_GET(&f, "u:ttl", NULL, -1);

    /* a value the cache refuses (over max_bytes / 8) is still read */
    size_t big = 9u << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'h', big);
    huge[big] = 0;
    set(&f, "u:big", huge);
    EXPECT_GET(&f, "u:big", huge, SHMKV_REDIS_FROM_REDIS);
    CHECK(!in_table(&f, "u:big"));
    free(huge);
    stop(&f);
}

static void part_bad_arguments(void)
{
    struct fixture f;
    start(&f, 0);
    shmkv_redis *r = (shmkv_redis *)1;
    void *val;
    size_t len;
    CHECK_RC(shmkv_redis_open(NULL, f.redis.addr, NULL, &r), -EINVAL);
    CHECK_RC(shmkv_redis_open(f.db, NULL, NULL, &r), -EINVAL);
    CHECK_RC(shmkv_redis_open(f.db, f.redis.addr, NULL, NULL), -EINVAL);
    CHECK_RC(shmkv_redis_open(f.db, "no-port", NULL, &r), -EINVAL);
    CHECK(r == NULL);
    CHECK_RC(shmkv_redis_open(f.db, "127.0.0.1:0", NULL, &r), -EINVAL);
    shmkv_redis_options o = {.flags = 1u << 7};
    CHECK_RC(shmkv_redis_open(f.db, f.redis.addr, &o, &r), -EINVAL);
    char gone[300];
    snprintf(gone, sizeof gone, "%s/no-such.sock", h_dir());
    CHECK_RC(shmkv_redis_open(f.db, gone, NULL, &r), -EIO);
    o.flags = SHMKV_REDIS_CLUSTER; /* a server that is no cluster */
    CHECK_RC(shmkv_redis_open(f.db, f.redis.addr, &o, &r), -EIO);
    CHECK_RC(shmkv_redis_get(f.nr, "k", 0, &val, &len, NULL), -EINVAL);
    CHECK_RC(shmkv_redis_get(f.nr, NULL, 1, &val, &len, NULL), -EINVAL);
    CHECK_RC(shmkv_redis_get(NULL, "k", 1, &val, &len, NULL), -EINVAL);
    CHECK_RC(shmkv_redis_agent(NULL, NULL), -EINVAL);
    /* a later agent's settings are ignored, whatever they hold */
    static const char later[] = "shmkv-redis 1\npid 1\nheartbeat-ms 1000\nmode cluster\nflag\nmax-ttl-ms 7\n";
    CHECK_RC(shmkv_put(f.db, SHMKV_REDIS_AGENT_KEY, SHMKV_REDIS_AGENT_KEY_LEN, later, sizeof later - 1), 0);
    shmkv_redis_agent_info info;
    CHECK_RC(shmkv_redis_agent(f.db, &info), 0);
    CHECK_EQ_U64(info.max_ttl_ms, 7);
    /* a record that is not one */
    CHECK_RC(shmkv_put(f.db, SHMKV_REDIS_AGENT_KEY, SHMKV_REDIS_AGENT_KEY_LEN, "junk", 4), 0);
    CHECK_RC(shmkv_redis_agent(f.db, NULL), -EBADMSG);
    set(&f, "u:1", "one");
    EXPECT_GET(&f, "u:1", "one", SHMKV_REDIS_FROM_REDIS); /* not trusted: read from Redis */
    CHECK(!in_table(&f, "u:1"));
    /* Redis gone: -EIO with a reason */
    srv_kill(&f.redis, SIGKILL);
    CHECK_RC(shmkv_redis_get(f.nr, "u:1", 3, &val, &len, NULL), -EIO);
    CHECK(shmkv_redis_error(f.nr)[0] != 0);
    srv_restart(&f.redis);
    stop(&f);
}

/* ---- the tool --------------------------------------------------------------- */

static int run_tool(const char *log, const char *const *args)
{
    char tool[PATH_MAX];
    tool_path(tool, sizeof tool);
    const char *argv[16] = {tool};
    int i = 0;
    while (args[i] && i < 14) {
        argv[i + 1] = args[i];
        i++;
    }
    argv[i + 1] = NULL;
    unlink(log);
    return run_program((char *const *)argv, log, 20);
}

static int log_has(const char *log, const char *text)
{
    size_t len;
    char *s = h_read_file(log, &len);
    int yes = s && memmem(s, len, text, strlen(text)) != NULL;
    free(s);
    return yes;
}

static void part_tool(void)
{
    struct fixture f;
    start(&f, 1);
    char log[300];
    h_path(log, sizeof log, "tool.log");
    set(&f, "u:cli", "hello");
    settle(&f);
    const char *get[] = {"get", f.table, "u:cli", "--redis", f.redis.addr, "--source", NULL};
    CHECK_EQ_INT(run_tool(log, get), 0);
    CHECK(log_has(log, "hello\n") && log_has(log, "filled\n"));
    CHECK_EQ_INT(run_tool(log, get), 0);
    CHECK(log_has(log, "hello\n") && log_has(log, "table\n"));
    const char *missing[] = {"get", f.table, "u:nothing", "--redis", f.redis.addr, NULL};
    CHECK_EQ_INT(run_tool(log, missing), 1);
    CHECK(log_has(log, "no such key"));
    const char *no_table[] = {"get", "no-such-table", "u:cli", "--redis", f.redis.addr, NULL};
    CHECK_EQ_INT(run_tool(log, no_table), 3);
    const char *bad_addr[] = {"get", f.table, "u:cli", "--redis", "nowhere", NULL};
    CHECK_EQ_INT(run_tool(log, bad_addr), 2);
    const char *usage[][10] = {
        {"sync", f.table, NULL},                                             /* no --redis */
        {"sync", f.table, "--redis", f.redis.addr, "--heartbeat", "5", NULL}, /* too short */
        {"sync", f.table, "--redis", f.redis.addr, "--ttl", "5", NULL},       /* get's option */
        {"get", f.table, "--redis", f.redis.addr, NULL},                      /* no key */
        {"sync", f.table, "--redis", f.redis.addr, "--max-bytes", "12Q", NULL},
        {"sync", f.table, "--redis", f.redis.addr, "--prefix", "ab", "--prefix", "a", NULL}, /* overlapping */
        {"sync", f.table, "--redis", "/a.sock,/b.sock", NULL},                 /* a list without --cluster */
        {"status", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        CHECKF(run_tool(log, usage[i]) == 2, "usage case %zu", i);
    const char *help[] = {"--help", NULL};
    CHECK_EQ_INT(run_tool(log, help), 0);
    CHECK(log_has(log, "usage: shmkv-redis sync"));
    stop(&f);
}

/* ---- invalidation and the race --------------------------------------------- */

static void part_invalidation(void)
{
    struct fixture f;
    start(&f, 1);
    enum { N = 300 };
    static double lat[N];
    measure_invalidation(f.redis.addr, 0, f.db, N, lat);
    double p50 = lat[N / 2], p99 = lat[N * 99 / 100], max = lat[N - 1];
    h_note("invalidation, write acknowledged -> gone from the table, %d samples: p50 %.2f ms, p99 %.2f ms, "
           "max %.2f ms", N, p50, p99, max);
    CHECKF(p99 < 10, "p99 %.2f ms: the target is under 10 ms", p99);
    CHECKF(max < HEARTBEAT_MS, "max %.2f ms", max);
    stop(&f);
}

static void part_race(void)
{
    struct fixture f;
    start(&f, 1);
    struct race r = {.addr = f.redis.addr, .db = f.db, .nkeys = 24, .writers = 2, .fillers = 3,
                     .seconds = 0.4, .leased = 1};
    for (int round = 0; round < 8; round++)
        race_round(&r, (uint64_t)round + 1);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(f.db, &st), 0);
    h_note("race: %ld fills, %ld hits, %ld keys checked, %ld of them cached; leases %" PRIu64 " granted, %" PRIu64
           " filled, %" PRIu64 " voided", r.fills, r.hits, r.checked, r.cached, st.leases_granted, st.leases_filled,
           st.leases_voided);
    CHECK(r.fills > 100 && r.hits > 100 && r.cached > 0);
    CHECK(st.leases_voided > 0); /* writes did land between fills' reads and stores */
    stop(&f);
}

/* The same race with the agent's --refresh: the agent fills invalidated
 * keys again while readers fill and writers write; no key may be stale. */
static void part_race_refresh(void)
{
    struct fixture f;
    start(&f, AGENT_REFRESH);
    struct race r = {.addr = f.redis.addr, .db = f.db, .nkeys = 24, .writers = 2, .fillers = 3,
                     .seconds = 0.4, .leased = 1};
    for (int round = 0; round < 8; round++)
        race_round(&r, (uint64_t)round + 200);
    agent_signal(&f.agent, SIGTERM);
    unsigned long long done = 0, not = 0;
    CHECK(agent_log_refreshed(&f.agent, &done, &not) == 0);
    h_note("race with --refresh: %ld fills, %ld hits, %ld keys checked, %ld of them cached; the agent refreshed "
           "%llu keys, %llu not", r.fills, r.hits, r.checked, r.cached, done, not);
    CHECK(r.checked > 0 && r.cached > 0 && done > 50);
    stop(&f);
}

/* The negative control: the same race with fills that take no lease must
 * leave stale values, or the race test could not see one. */
static void part_race_unleased(void)
{
    struct fixture f;
    start(&f, 1);
    struct race r = {.addr = f.redis.addr, .db = f.db, .nkeys = 24, .writers = 2, .fillers = 3,
                     .seconds = 0.4, .leased = 0};
    for (int round = 0; round < 15 && !r.stale; round++)
        race_round(&r, (uint64_t)round + 100);
    h_note("without leases: %ld stale key(s) found", r.stale);
    CHECKF(r.stale > 0, "fills without a lease left no stale value: the race test cannot tell");
    stop(&f);
}

/* ---- flushes, the agent's life, Redis's --------------------------------------- */

static int wait_gone(struct fixture *f, const char *key, double timeout_s)
{
    double end = h_now() + timeout_s;
    while (in_table(f, key) && h_now() < end)
        nap_ms(1);
    return in_table(f, key) ? -1 : 0;
}

static void part_flush(void)
{
    struct fixture f;
    start(&f, 1);
    const char *flushes[] = {"FLUSHALL", "FLUSHDB", "FLUSHALL ASYNC"};
    for (size_t i = 0; i < 3; i++) {
        set(&f, "u:a", "a");
        set(&f, "u:b", "b");
        EXPECT_FILLED(&f, "u:a", "a");
        EXPECT_FILLED(&f, "u:b", "b");
        redisReply *r = srv_cmd(&f.redis, flushes[i]);
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        CHECKF(wait_gone(&f, "u:a", 1) == 0 && wait_gone(&f, "u:b", 1) == 0, "%s did not clear the table",
               flushes[i]);
        CHECK(agent_wait_alive(f.db, 2, 0) == 0);
        EXPECT_GET(&f, "u:a", NULL, -1);
    }
    stop(&f);
}

static void part_agent_killed(void)
{
    struct fixture f;
    start(&f, 1);
    set(&f, "u:k", "old");
    EXPECT_FILLED(&f, "u:k", "old");
    EXPECT_GET(&f, "u:k", "old", SHMKV_REDIS_FROM_TABLE);
    agent_signal(&f.agent, SIGKILL);
    double killed = h_now();
    set(&f, "u:k", "new"); /* nobody invalidates it now */
    void *val;
    size_t len;
    int src = SHMKV_REDIS_FROM_TABLE;
    while (src == SHMKV_REDIS_FROM_TABLE && h_now() - killed < 5) {
        CHECK_RC(shmkv_redis_get(f.nr, "u:k", 3, &val, &len, &src), 0);
        CHECK(len == 3 && !memcmp(val, src == SHMKV_REDIS_FROM_TABLE ? "old" : "new", 3));
        free(val);
        nap_ms(1);
    }
    double fell_back = h_now() - killed;
    h_note("readers fell back to Redis %.0f ms after the agent was killed (heartbeat %d ms)", fell_back * 1e3,
           HEARTBEAT_MS);
    CHECKF(fell_back * 1e3 <= HEARTBEAT_MS + POLL_SLACK_MS, "%.0f ms", fell_back * 1e3);
    CHECK_RC(shmkv_redis_agent(f.db, NULL), -ENOENT);
    EXPECT_GET(&f, "u:k", "new", SHMKV_REDIS_FROM_REDIS);
    EXPECT_GET(&f, "u:k", "new", SHMKV_REDIS_FROM_REDIS); /* nothing stored without an agent */

    /* a restarted agent starts from an empty table */
    CHECK_RC(shmkv_put(f.db, "u:junk", 6, "stale", 5), 0);
    shmkv_redis_agent_info before;
    memset(&before, 0, sizeof before);
    agent_start(&f.agent, f.table, f.redis.addr, prefixes);
    CHECK(agent_wait_alive(f.db, 10, 0) == 0);
    CHECK_RC(shmkv_redis_agent(f.db, &before), 0);
    CHECK_EQ_INT(before.pid, f.agent.pid);
    CHECK_EQ_U64(shmkv_count(f.db), 1); /* its record only */
    CHECK(!in_table(&f, "u:k") && !in_table(&f, "u:junk"));
    EXPECT_FILLED(&f, "u:k", "new");
    stop(&f);
}

static void part_agent_stopped(void)
{
    struct fixture f;
    start(&f, 1);
    set(&f, "u:s", "old");
    EXPECT_FILLED(&f, "u:s", "old");
    shmkv_redis_agent_info info;
    CHECK_RC(shmkv_redis_agent(f.db, &info), 0);
    agent_signal(&f.agent, SIGSTOP);
    set(&f, "u:s", "new"); /* its invalidation waits in the agent's socket */
    double stopped = h_now();
    while (shmkv_redis_agent(f.db, NULL) == 0 && h_now() - stopped < 5)
        nap_ms(1);
    CHECKF((h_now() - stopped) * 1e3 <= HEARTBEAT_MS + POLL_SLACK_MS, "the heartbeat lasted %.0f ms after SIGSTOP",
           (h_now() - stopped) * 1e3);
    EXPECT_GET(&f, "u:s", "new", SHMKV_REDIS_FROM_REDIS);
    agent_signal(&f.agent, SIGCONT);
    CHECK(agent_wait_alive(f.db, 5, 0) == 0);
    shmkv_redis_agent_info after;
    CHECK_RC(shmkv_redis_agent(f.db, &after), 0);
    CHECK_EQ_U64(after.generation, info.generation); /* the same agent, resumed */
    CHECK(!in_table(&f, "u:s"));                     /* the invalidation was applied */
    EXPECT_FILLED(&f, "u:s", "new");
    stop(&f);
}

static void part_agent_before_redis(void)
{
    struct fixture f;
    start(&f, 0);
    srv_kill(&f.redis, SIGKILL);
    agent_start(&f.agent, f.table, f.redis.addr, prefixes);
    CHECK(agent_wait_alive(f.db, 0.5, 0) == -1);
    srv_restart(&f.redis);
    CHECKF(agent_wait_alive(f.db, 5, 0) == 0, "the agent did not connect once Redis was up");
    set(&f, "u:late", "v");
    EXPECT_FILLED(&f, "u:late", "v");
    stop(&f);
}

static void part_redis_restarted(void)
{
    struct fixture f;
    start(&f, 1);
    set(&f, "u:r", "before");
    EXPECT_FILLED(&f, "u:r", "before");
    CHECK(in_table(&f, "u:r"));
    srv_restart(&f.redis); /* empty again: nothing persisted */
    CHECKF(wait_gone(&f, "u:r", 2) == 0, "the table kept a value of the Redis that restarted");
    CHECKF(agent_wait_alive(f.db, 5, 0) == 0, "no heartbeat after Redis restarted");
    EXPECT_GET(&f, "u:r", NULL, -1);
    set(&f, "u:r", "after");
    EXPECT_FILLED(&f, "u:r", "after");
    set(&f, "u:r", "later");
    CHECKF(wait_gone(&f, "u:r", 1) == 0, "invalidations stopped after the reconnection");
    EXPECT_FILLED(&f, "u:r", "later");
    CHECK(log_has(f.agent.log, "connection lost"));
    stop(&f);
}

/* Either of the agent's connections closed by the server: it cannot know
 * what it missed, so it clears, tracks again, and goes on. */
static void part_connection_killed(void)
{
    struct fixture f;
    start(&f, 1);
    const char *kills[] = {"CLIENT KILL TYPE pubsub", "CLIENT KILL TYPE normal"};
    for (int i = 0; i < 2; i++) {
        set(&f, "u:c", "before");
        EXPECT_FILLED(&f, "u:c", "before");
        redisReply *r = srv_cmd(&f.redis, kills[i]);
        CHECKF(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 1, "%s", kills[i]);
        freeReplyObject(r);
        CHECKF(wait_gone(&f, "u:c", 2) == 0, "%s: the table was not cleared", kills[i]);
        CHECKF(agent_wait_alive(f.db, 5, 0) == 0, "%s: no heartbeat after", kills[i]);
        set(&f, "u:c", "after");
        settle(&f);
        EXPECT_FILLED(&f, "u:c", "after");
        set(&f, "u:c", "later");
        CHECKF(wait_gone(&f, "u:c", 1) == 0, "%s: invalidations stopped", kills[i]);
    }
    stop(&f);
}

static void part_graceful_stop(void)
{
    struct fixture f;
    start(&f, 1);
    set(&f, "u:g", "g");
    EXPECT_FILLED(&f, "u:g", "g");
    agent_signal(&f.agent, SIGTERM);
    CHECK_RC(shmkv_redis_agent(f.db, NULL), -ENOENT);
    CHECK_EQ_U64(shmkv_count(f.db), 0);
    stop(&f);
}

/* ---- --refresh ------------------------------------------------------------------ */

/* Wait until the table holds key with value want (NULL: not at all). */
static int wait_value(struct fixture *f, const char *key, const char *want, double timeout_s)
{
    for (double end = h_now() + timeout_s;; nap_ms(1)) {
        char buf[64];
        size_t len;
        int rc = shmkv_get(f->db, key, strlen(key), buf, sizeof buf, &len);
        if (want ? rc == 0 && len == strlen(want) && !memcmp(buf, want, len) : rc == -ENOENT)
            return 0;
        if (h_now() > end)
            return -1;
    }
}

static void part_refresh(void)
{
    struct fixture f;
    start(&f, AGENT_REFRESH);
    shmkv_redis_agent_info info;
    CHECK_RC(shmkv_redis_agent(f.db, &info), 0);
    /* a cached key written in Redis: the agent puts the new value in, no reader asks */
    set(&f, "u:r", "one");
    EXPECT_FILLED(&f, "u:r", "one");
    set(&f, "u:r", "two");
    CHECKF(wait_value(&f, "u:r", "two", 3) == 0, "the new value was not refreshed within 3 s");
    EXPECT_GET(&f, "u:r", "two", SHMKV_REDIS_FROM_TABLE);
    /* its lifetime is Redis's, capped by --max-ttl (5 s) */
    redisReply *px = srv_cmd(&f.redis, "SET u:r short PX 800");
    CHECK(px && px->type == REDIS_REPLY_STATUS);
    freeReplyObject(px);
    CHECK(wait_value(&f, "u:r", "short", 3) == 0);
    uint64_t left = 0;
    int rc = shmkv_ttl(f.db, "u:r", 3, &left);
    CHECKF(rc == -ENOENT || (rc == 0 && left > 0 && left <= 800), "%s, ttl %" PRIu64 " ms after PX 800",
           h_errname(rc), left);
    set(&f, "u:r", "three");
    CHECK(wait_value(&f, "u:r", "three", 3) == 0);
    CHECK_RC(shmkv_ttl(f.db, "u:r", 3, &left), 0);
    CHECKF(left > 0 && left <= 5000, "ttl %" PRIu64 " ms: --max-ttl is 5000", left);
    /* a key no reader cached is not fetched by the agent */
    set(&f, "u:cold", "c");
    set(&f, "u:cold", "c2");
    settle(&f);
    nap_ms(50);
    CHECK(!in_table(&f, "u:cold"));
    /* a deleted key goes, and stays gone */
    freeReplyObject(must_cmd(f.rt, "DEL", "u:r", NULL));
    CHECK(wait_value(&f, "u:r", NULL, 3) == 0);
    settle(&f);
    nap_ms(50);
    CHECK(!in_table(&f, "u:r"));
    EXPECT_GET(&f, "u:r", NULL, -1);
    /* a key that becomes a list: GET answers WRONGTYPE, the refresh gives up
     * and the agent goes on with the same connections */
    set(&f, "u:l", "a");
    EXPECT_FILLED(&f, "u:l", "a");
    redisContext *c = srv_conn(&f.redis);
    const char *tx[] = {"MULTI", "DEL u:l", "RPUSH u:l x", "EXEC"};
    for (int i = 0; i < 4; i++) {
        redisReply *r = redisCommand(c, tx[i]);
        CHECK(r && r->type != REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
    redisFree(c);
    settle(&f);
    CHECK(wait_value(&f, "u:l", NULL, 3) == 0);
    nap_ms(50);
    CHECK(!in_table(&f, "u:l"));
    shmkv_redis_agent_info after;
    CHECK_RC(shmkv_redis_agent(f.db, &after), 0);
    CHECK_EQ_U64(after.generation, info.generation);
    CHECK(!log_has(f.agent.log, "lost") && !log_has(f.agent.log, "clearing"));
    /* one write of more cached keys than the agent refreshes at once (an
     * MSET: one invalidation naming them all): it refreshes what it can
     * take, deletes the rest, and every key then reads the new value */
    enum { MANY = 200 };
    char keys[MANY][16], vals[MANY][16];
    const char *argv[1 + 2 * MANY] = {"MSET"};
    for (int i = 0; i < MANY; i++) {
        snprintf(keys[i], sizeof keys[i], "u:m:%d", i);
        snprintf(vals[i], sizeof vals[i], "old%d", i);
        set(&f, keys[i], vals[i]);
        EXPECT_FILLED(&f, keys[i], vals[i]);
        snprintf(vals[i], sizeof vals[i], "new%d", i);
        argv[1 + 2 * i] = keys[i];
        argv[2 + 2 * i] = vals[i];
    }
    c = srv_conn(&f.redis);
    redisReply *ok = redisCommandArgv(c, 1 + 2 * MANY, argv, NULL);
    CHECK(ok && ok->type == REDIS_REPLY_STATUS);
    freeReplyObject(ok);
    redisFree(c);
    settle(&f);
    /* the refreshes' replies come after: look until one has (5 s at most;
     * under ASan on a busy machine 200 ms was not always enough), never
     * finding an old value meanwhile */
    int refreshed = 0, stale = 0;
    for (double end = h_now() + 5; !stale && !refreshed && h_now() < end; nap_ms(20)) {
        for (int i = 0; i < MANY; i++) { /* one look each: the new value, another, or none */
            char buf[64];
            size_t len;
            int got = shmkv_get(f.db, keys[i], strlen(keys[i]), buf, sizeof buf, &len);
            if (got == 0 && len == strlen(vals[i]) && !memcmp(buf, vals[i], len))
                refreshed++;
            else if (got != -ENOENT)
                stale++;
        }
    }
    for (int i = 0; i < MANY; i++)
        EXPECT_GET(&f, keys[i], vals[i], -1);
    h_note("one MSET of %d cached keys: %d refreshed, %d stale", MANY, refreshed, stale);
    CHECK(refreshed >= 1 && stale == 0);
    CHECK_EQ_U64(shmkv_redis_agent(f.db, &after) == 0 ? after.generation : 0, info.generation);
    /* what the agent counted */
    agent_signal(&f.agent, SIGTERM);
    unsigned long long done = 0, not = 0;
    CHECK(agent_log_refreshed(&f.agent, &done, &not) == 0);
    CHECKF(done >= 4 && not >= 1, "refreshed %llu, not %llu", done, not);
    stop(&f);
}

static const struct h_part parts[] = {
    {"read_through", part_read_through},
    {"bad_arguments", part_bad_arguments},
    {"tool", part_tool},
    {"invalidation", part_invalidation},
    {"race", part_race},
    {"race_unleased", part_race_unleased},
    {"refresh", part_refresh},
    {"race_refresh", part_race_refresh},
    {"flush", part_flush},
    {"agent_killed", part_agent_killed},
    {"agent_stopped", part_agent_stopped},
    {"agent_before_redis", part_agent_before_redis},
    {"redis_restarted", part_redis_restarted},
    {"connection_killed", part_connection_killed},
    {"graceful_stop", part_graceful_stop},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* hiredis writes to sockets Redis may have closed */
    return h_main(argc, argv, "test_near_single", parts, H_NPARTS(parts));
}
