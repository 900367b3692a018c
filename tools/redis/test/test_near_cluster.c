/*
 * test_near_cluster.c - the near cache in front of a Redis Cluster: three
 * masters and three replicas started by the test on loopback ports
 * (redis-cli --cluster create, cluster-node-timeout 1000 ms); fills racing
 * with writes across the slots, then during a slot migration (redis-cli
 * --cluster reshard), then while a master is killed and its replica
 * promoted: after each, no key of the table differs from Redis.  The agent
 * of those two parts runs with --refresh, so its own fills meet MOVED and
 * ASK answers, a changing slot map and a lost master too.
 *
 * The cluster is made once, by the first part that needs it, and the
 * parts run in the order of the table (the failover leaves a master dead).
 */
#include "kit.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct cluster cl;
static int cl_up;
static pid_t cl_owner;

static void cluster_down(void)
{
    if (cl_up && getpid() == cl_owner)
        cluster_stop(&cl);
    cl_up = 0;
}

static struct cluster *the_cluster(void)
{
    if (!cl_up) {
        cluster_start(&cl);
        cl_up = 1;
        cl_owner = getpid();
        atexit(cluster_down);
    }
    return &cl;
}

struct fixture {
    struct cluster *c;
    char seed[240];             /* the address given to the agent */
    char nodes[CLUSTER_NODES * 250]; /* every node, the seed first: for readers and writers */
    char table[64];
    shmkv *db;
    struct agent_proc agent;
    int refresh;                /* the agent runs with --refresh */
};

static void start(struct fixture *f, int seed_node, int refresh)
{
    memset(f, 0, sizeof *f);
    f->refresh = refresh;
    f->c = the_cluster();
    snprintf(f->seed, sizeof f->seed, "%s", f->c->node[seed_node].addr);
    snprintf(f->nodes, sizeof f->nodes, "%s", f->seed);
    for (int i = 0; i < CLUSTER_NODES; i++)
        if (i != seed_node)
            snprintf(f->nodes + strlen(f->nodes), sizeof f->nodes - strlen(f->nodes), ",%s", f->c->node[i].addr);
    f->db = table_new(f->table, sizeof f->table);
    static const char *const opts[] = {"--cluster", "--prefix", "race:", "--prefix", "lat:", NULL};
    static const char *const refreshing[] = {"--cluster", "--prefix", "race:", "--prefix", "lat:", "--refresh", NULL};
    agent_start(&f->agent, f->table, f->seed, refresh ? refreshing : opts);
    CHECKF(agent_wait_alive(f->db, 15, 0) == 0, "no heartbeat 15 s after the agent started");
}

static void stop(struct fixture *f)
{
    if (h_failures_local() || (getenv("SHMKV_TEST_VERBOSE") && *getenv("SHMKV_TEST_VERBOSE")))
        agent_show_log(&f->agent);
    agent_signal(&f->agent, SIGTERM);
    unsigned long long done = 0, not = 0;
    if (f->refresh) {
        CHECK(agent_log_refreshed(&f->agent, &done, &not) == 0);
        h_note("the agent refreshed %llu keys, %llu not", done, not);
        CHECK(done > 0);
    }
    CHECK_TABLE(f->db, "at the end");
    shmkv_close(f->db);
    CHECK_RC(shmkv_unlink(f->table), 0);
}

static struct race race_for(struct fixture *f)
{
    return (struct race){.addr = f->nodes, .cluster = 1, .db = f->db, .nkeys = 48, .writers = 2, .fillers = 3,
                         .seconds = 0.4, .leased = 1};
}

static void part_consistency(void)
{
    struct fixture f;
    start(&f, 1, 0);
    /* the race's keys live on every master */
    int on[CLUSTER_NODES] = {0};
    for (int i = 0; i < 48; i++) {
        char key[32];
        race_key(i, key, sizeof key);
        int m = cluster_master_of(f.c, key_slot(key, strlen(key)));
        CHECK(m >= 0);
        on[m >= 0 ? m : 0]++;
    }
    int masters = 0;
    for (int i = 0; i < CLUSTER_NODES; i++)
        masters += on[i] > 0;
    CHECK_EQ_INT(masters, 3);

    enum { N = 150 };
    static double lat[N];
    measure_invalidation(f.nodes, 1, f.db, N, lat);
    h_note("cluster invalidation, %d samples: p50 %.2f ms, p99 %.2f ms, max %.2f ms", N, lat[N / 2],
           lat[N * 99 / 100], lat[N - 1]);
    CHECKF(lat[N * 99 / 100] < 10, "p99 %.2f ms: the target is under 10 ms", lat[N * 99 / 100]);

    struct race r = race_for(&f);
    for (int round = 0; round < 6; round++)
        race_round(&r, (uint64_t)round + 1);
    h_note("cluster race: %ld fills, %ld hits, %ld keys checked, %ld of them cached", r.fills, r.hits, r.checked,
           r.cached);
    CHECK(r.fills > 50 && r.cached > 0);
    stop(&f);
}

/* Move slots from the master of slot 0 to another while the race runs. */
static void part_reshard(void)
{
    struct fixture f;
    start(&f, 0, 1);
    int from = cluster_master_of(f.c, 0), to = cluster_master_of(f.c, SLOTS - 1);
    CHECK(from >= 0 && to >= 0 && from != to);
    if (from < 0 || to < 0) {
        stop(&f);
        return;
    }
    struct race r = race_for(&f);
    race_round(&r, 50); /* warm */
    char log[300];
    h_path(log, sizeof log, "reshard.log");
    char *argv[] = {"redis-cli", "--cluster", "reshard", f.c->node[from].addr, "--cluster-from", f.c->node[from].id,
                    "--cluster-to", f.c->node[to].id, "--cluster-slots", "300", "--cluster-yes", NULL};
    race_start(&r, 51, 60);
    int rc = run_program(argv, log, 60);
    h_sleep(0.3); /* the race goes on after the move */
    race_finish(&r);
    CHECKF(rc == 0, "redis-cli --cluster reshard: status %d (its output: %s)", rc, log);
    CHECK_EQ_INT(cluster_master_of(f.c, 0), to);
    CHECK(cluster_wait_ok(f.c, 10) == 0);
    for (int round = 0; round < 2; round++)
        race_round(&r, (uint64_t)round + 52);
    h_note("reshard race: %ld fills, %ld hits, %ld keys checked, %ld of them cached", r.fills, r.hits, r.checked,
           r.cached);
    CHECK(r.fills > 20);
    stop(&f);
}

/* Kill the master the agent was given as its address, while the race runs;
 * its replica takes over. */
static void part_failover(void)
{
    struct fixture f;
    struct cluster *c = the_cluster();
    int victim = cluster_master_of(c, SLOTS / 2);
    CHECK(victim >= 0);
    if (victim < 0)
        return;
    start(&f, victim, 1);
    struct race r = race_for(&f);
    race_round(&r, 70); /* warm */
    shmkv_redis_agent_info before;
    CHECK_RC(shmkv_redis_agent(f.db, &before), 0);
    race_start(&r, 71, 60);
    h_sleep(0.3);
    double killed = h_now();
    srv_kill(&c->node[victim], SIGKILL);
    int promoted = cluster_wait_ok(c, 30);
    double took = h_now() - killed;
    h_sleep(0.5); /* the race goes on after the failover */
    race_finish(&r);
    CHECKF(promoted == 0, "no replica took over within 30 s");
    int now_master = cluster_master_of(c, SLOTS / 2);
    CHECK(now_master >= 0 && now_master != victim);
    h_note("failover: slots served again %.1f s after the master was killed", took);
    for (int round = 0; round < 2; round++)
        race_round(&r, (uint64_t)round + 72);
    shmkv_redis_agent_info after;
    CHECK_RC(shmkv_redis_agent(f.db, &after), 0);
    CHECK_EQ_U64(after.generation, before.generation); /* the same agent, reconnected */
    h_note("failover race: %ld fills, %ld hits, %ld keys checked, %ld of them cached", r.fills, r.hits, r.checked,
           r.cached);
    CHECK(r.fills > 20);
    stop(&f);
}

static const struct h_part parts[] = {
    {"consistency", part_consistency},
    {"reshard", part_reshard},
    {"failover", part_failover},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* hiredis writes to sockets Redis may have closed */
    return h_main(argc, argv, "test_near_cluster", parts, H_NPARTS(parts));
}
