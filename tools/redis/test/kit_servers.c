/*
 * kit_servers.c - redis-server processes and a Redis Cluster for the
 * tests (kit.h), in the test's private directory.
 */
#include "kit.h"

#include "cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A loopback port nobody listens on now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) {
        h_fail(__FILE__, __LINE__, "no free port: %s", strerror(errno));
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t spawn(char *const argv[], const char *log)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        h_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
        exit(1);
    }
    return pid;
}

static void launch(struct srv *s)
{
    char log[260], port[16], bus[16], sock[260], conf[260];
    snprintf(log, sizeof log, "%s/log", s->dir);
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(bus, sizeof bus, "%d", s->bus_port);
    snprintf(sock, sizeof sock, "%s/redis.sock", s->dir);
    snprintf(conf, sizeof conf, "%s/nodes.conf", s->dir);
    char *common[] = {"redis-server", "--save", "", "--appendonly", "no", "--dir", s->dir, "--daemonize", "no",
                      "--bind", "127.0.0.1", "--port", port};
    char *argv[40];
    int n = 0;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        argv[n++] = common[i];
    if (s->port) {
        char *more[] = {"--cluster-enabled", "yes", "--cluster-config-file", conf, "--cluster-node-timeout", "1000",
                        "--cluster-port", bus, "--cluster-replica-validity-factor", "0"};
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            argv[n++] = more[i];
    } else {
        char *more[] = {"--unixsocket", sock, "--unixsocketperm", "700"};
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            argv[n++] = more[i];
    }
    argv[n] = NULL;
    s->pid = spawn(argv, log);
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            h_fail(__FILE__, __LINE__, "redis-server exited at once; its log is %s", log);
            exit(1);
        }
        struct addr a;
        char err[ERR_MAX];
        redisContext *c = addr_parse(s->addr, &a, err, sizeof err) ? NULL : conn_open(&a, 1000, err, sizeof err);
        redisReply *r = c ? redisCommand(c, "PING") : NULL;
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (c)
            redisFree(c);
        if (ok)
            return;
        nap_ms(10);
    }
    h_fail(__FILE__, __LINE__, "redis-server at %s did not answer within 10 s", s->addr);
    exit(1);
}

void srv_start(struct srv *s, const char *name, int cluster_node)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s/%s", h_dir(), name);
    if (mkdir(s->dir, 0700) && errno != EEXIST) {
        h_fail(__FILE__, __LINE__, "mkdir %s: %s", s->dir, strerror(errno));
        exit(1);
    }
    if (cluster_node) {
        s->port = free_port();
        do
            s->bus_port = free_port();
        while (s->bus_port == s->port);
        snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
    } else {
        snprintf(s->addr, sizeof s->addr, "%s/redis.sock", s->dir);
    }
    launch(s);
}

void srv_restart(struct srv *s)
{
    if (s->pid)
        srv_kill(s, SIGKILL);
    launch(s);
}

void srv_kill(struct srv *s, int sig)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, sig);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

redisContext *srv_conn(const struct srv *s)
{
    struct addr a;
    char err[ERR_MAX];
    redisContext *c = addr_parse(s->addr, &a, err, sizeof err) ? NULL : conn_open(&a, 5000, err, sizeof err);
    if (!c) {
        h_fail(__FILE__, __LINE__, "cannot connect to %s: %s", s->addr, err);
        exit(1);
    }
    return c;
}

redisReply *srv_cmd(const struct srv *s, const char *words)
{
    redisContext *c = srv_conn(s);
    char err[ERR_MAX];
    redisReply *r = conn_words(c, words, err, sizeof err);
    redisFree(c);
    return r;
}

int run_program(char *const argv[], const char *log, double timeout_s)
{
    pid_t pid = spawn(argv, log);
    double end = h_now() + timeout_s;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (h_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        nap_ms(20);
    }
}

/* Does node s see the cluster ok, with every slot served? */
static int node_ok(const struct srv *s, struct topo *t)
{
    redisReply *info = srv_cmd(s, "CLUSTER INFO");
    int ok = info && info->type == REDIS_REPLY_STRING && strstr(info->str, "cluster_state:ok");
    freeReplyObject(info);
    redisReply *slots = ok ? srv_cmd(s, "CLUSTER SLOTS") : NULL;
    char err[ERR_MAX];
    ok = slots && topo_parse(slots, t, err, sizeof err) == 0;
    freeReplyObject(slots);
    unsigned covered = 0;
    for (int i = 0; ok && i < t->nranges; i++)
        covered += t->ranges[i].hi - t->ranges[i].lo + 1;
    return ok && covered == SLOTS;
}

/* Is every master of t one of our nodes that is alive? */
static int masters_alive(const struct cluster *c, const struct topo *t)
{
    for (int m = 0; m < t->nmasters; m++) {
        int alive = 0;
        for (int i = 0; i < CLUSTER_NODES; i++)
            alive |= c->node[i].pid > 0 && c->node[i].port == t->masters[m].addr.port;
        if (!alive)
            return 0;
    }
    return 1;
}

int cluster_wait_ok(struct cluster *c, double timeout_s)
{
    struct topo *t = malloc(sizeof *t), *first = malloc(sizeof *first);
    double end = h_now() + timeout_s;
    int rc = -1;
    while (rc && h_now() < end) {
        int all = 1, seen = 0;
        for (int i = 0; i < CLUSTER_NODES && all; i++) {
            if (!c->node[i].pid)
                continue;
            all = node_ok(&c->node[i], seen ? t : first) && (!seen || topo_equal(t, first)) &&
                  masters_alive(c, seen ? t : first);
            seen = 1;
        }
        if (all)
            rc = 0;
        else
            nap_ms(50);
    }
    free(t);
    free(first);
    return rc;
}

void cluster_start(struct cluster *c)
{
    char *argv[CLUSTER_NODES + 8];
    int n = 0;
    argv[n++] = "redis-cli";
    argv[n++] = "--cluster";
    argv[n++] = "create";
    for (int i = 0; i < CLUSTER_NODES; i++) {
        char name[32];
        snprintf(name, sizeof name, "node-%d", i);
        srv_start(&c->node[i], name, 1);
        argv[n++] = c->node[i].addr;
    }
    argv[n++] = "--cluster-replicas";
    argv[n++] = "1";
    argv[n++] = "--cluster-yes";
    argv[n] = NULL;
    char log[260];
    snprintf(log, sizeof log, "%s/cluster-create.log", h_dir());
    int rc = run_program(argv, log, 60);
    CHECKF(rc == 0, "redis-cli --cluster create: status %d (its output: %s)", rc, log);
    CHECKF(cluster_wait_ok(c, 30) == 0, "the cluster is not ok 30 s after its creation");
    for (int i = 0; i < CLUSTER_NODES; i++) {
        redisReply *r = srv_cmd(&c->node[i], "CLUSTER MYID");
        if (r && r->type == REDIS_REPLY_STRING)
            snprintf(c->node[i].id, sizeof c->node[i].id, "%s", r->str);
        freeReplyObject(r);
    }
}

void cluster_stop(struct cluster *c)
{
    for (int i = 0; i < CLUSTER_NODES; i++)
        srv_kill(&c->node[i], SIGKILL);
}

int cluster_master_of(struct cluster *c, unsigned slot)
{
    struct topo *t = malloc(sizeof *t);
    int found = -1;
    for (int i = 0; i < CLUSTER_NODES && found < 0; i++) {
        if (!c->node[i].pid || !node_ok(&c->node[i], t))
            continue;
        int m = topo_master_of(t, slot);
        for (int j = 0; m >= 0 && j < CLUSTER_NODES; j++)
            if (c->node[j].port == t->masters[m].addr.port)
                found = j;
    }
    free(t);
    return found;
}
