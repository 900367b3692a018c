/*
 * kit.h - what the near-cache tests share: real Redis servers and a Redis
 * Cluster started in the test's private directory (kit_servers.c), the
 * agent as a process (kit_agent.c), and the randomized race of fills
 * against writes with its key-by-key check against Redis (kit_race.c).
 *
 * Every server and agent is a child of the test, in its process group:
 * the harness's guardian kills whatever a failed test leaves behind, and
 * the tests stop them themselves when they pass.
 */
#ifndef SHMKV_REDIS_TEST_KIT_H
#define SHMKV_REDIS_TEST_KIT_H

#include "harness.h"
#include "shmkv-redis.h"

#include "route.h"

#include <hiredis/hiredis.h>
#include <sys/types.h>

/* ---- servers (kit_servers.c) ---------------------------------------------- */

struct srv {
    pid_t pid;
    int port, bus_port;        /* cluster nodes: TCP on 127.0.0.1; else 0 */
    char dir[200];
    char addr[240];            /* what --redis takes: the socket's path, or 127.0.0.1:PORT */
    char id[48];               /* cluster node id */
};

/* Start redis-server in a directory of its own: on a Unix socket, or as a
 * cluster node on loopback ports; returns when it answers PING. */
void srv_start(struct srv *s, const char *name, int cluster_node);
/* Start it again in the same place (same socket or port). */
void srv_restart(struct srv *s);
/* Send sig and wait for it to go. */
void srv_kill(struct srv *s, int sig);
/* A connection to it (the test fails and ends if there is none). */
redisContext *srv_conn(const struct srv *s);
/* One command (plain words) on a fresh connection; the reply. */
redisReply *srv_cmd(const struct srv *s, const char *words);

#define CLUSTER_NODES 6
struct cluster {
    struct srv node[CLUSTER_NODES];     /* 0..2 masters, 3..5 replicas after create */
};
/* Six nodes, then redis-cli --cluster create with one replica a master;
 * returns when every node sees the cluster ok. */
void cluster_start(struct cluster *c);
void cluster_stop(struct cluster *c);
/* Wait until every live node says cluster_state:ok and the same masters
 * cover all slots; 0, or -1 after timeout_s. */
int cluster_wait_ok(struct cluster *c, double timeout_s);
/* The index of the node that is master of slot; -1 if none is known. */
int cluster_master_of(struct cluster *c, unsigned slot);
/* Run a program (argv, NULL-terminated) with its output in log; its exit
 * status, or -1 if it ran past timeout_s (it is killed). */
int run_program(char *const argv[], const char *log, double timeout_s);

/* ---- the agent (kit_agent.c) ------------------------------------------------ */

struct agent_proc {
    pid_t pid;
    char log[240];
};

/* The shmkv-redis program of this build (build/redis/test/test_x ->
 * build/shmkv-redis), in buf of PATH_MAX bytes. */
void tool_path(char *buf, size_t cap);
/* Start shmkv-redis sync TABLE --redis ADDR with extra options (a
 * NULL-terminated list; may be NULL). */
void agent_start(struct agent_proc *a, const char *table, const char *addr, const char *const *extra);
/* Send sig; wait for it to exit (unless sig is SIGSTOP or SIGCONT). */
void agent_signal(struct agent_proc *a, int sig);
/* What a stopped --refresh agent logged it did: keys refreshed, and
 * not; 0, or -1 if its log has no such line. */
int agent_log_refreshed(const struct agent_proc *a, unsigned long long *done, unsigned long long *not);
/* Print the end of its log (after a failure). */
void agent_show_log(const struct agent_proc *a);
/* Wait until an agent's heartbeat is in db (of this generation, if gen is
 * not 0, or of another one if other_than is not 0); 0, or -1 after timeout_s. */
int agent_wait_alive(shmkv *db, double timeout_s, uint64_t other_than);
/* Wait until the agent has applied every write acknowledged before
 * t_ms (boot_ms()); 0 or -1 after timeout_s. */
int agent_wait_synced(shmkv *db, uint64_t t_ms, double timeout_s);
/* A cache table for the tests (64 MiB). */
shmkv *table_new(char *name, size_t cap);

/* ---- the race (kit_race.c) ---------------------------------------------------- */

#define RACE_MAX_KIDS 16
struct race_shared;
struct race {
    const char *addr;          /* Redis, or a node of the cluster */
    int cluster;
    shmkv *db;                 /* opened before the children fork */
    int nkeys, writers, fillers;
    double seconds;            /* of one round */
    int leased;                /* 1: shmkv_redis_get; 0: a naive fill without a lease */
    /* out, summed over the rounds */
    long fills, hits, checked, cached, stale;
    /* a round under way */
    struct race_shared *sh;
    int nkids;
    pid_t kids[RACE_MAX_KIDS];
};

/* One round: writers and fillers race for r->seconds, then writes stop,
 * the agent catches up, and every key is checked against Redis (read
 * first) and its lifetime against PTTL.  Returns the stale keys found
 * (also added to r->stale; with leased, each is a failure). */
long race_round(struct race *r, uint64_t seed);
/* The same in two halves, for a round during which the test does
 * something (a reshard, a failover): the racers run until race_finish
 * stops them, or for at most seconds. */
void race_start(struct race *r, uint64_t seed, double seconds);
long race_finish(struct race *r);
/* The keys of the race: "race:<i>" spread over every slot. */
void race_key(int i, char *buf, size_t cap);
/* Each key's value in Redis against the table's; the stale keys. */
long race_check(struct race *r);

/* Invalidation latency: n times, fill a key through the table, write it
 * in Redis, and measure from the write's acknowledgement until the table
 * no longer has it.  Fills lat_ms[0..n) (sorted). */
void measure_invalidation(const char *addr, int cluster, shmkv *db, int n, double *lat_ms);

/* route_cmd that must work (else the check fails at the caller). */
redisReply *must_cmd(struct route *rt, const char *verb, const char *key, const char *arg);

#endif
