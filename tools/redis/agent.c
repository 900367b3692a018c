/*
 * agent.c - shmkv-redis sync: the loop, the heartbeat, and clearing the
 * table whenever the agent cannot be sure it saw every invalidation
 * (agent.h; the protocol is docs/near-cache.md).
 *
 * The table is trusted by readers only while the agent's record is in it.
 * The record is written with a lifetime that ends heartbeat_ms after the
 * basis (agent_link.c: the moment before which every acknowledged write's
 * invalidation has been applied), so an agent that is killed, stopped or
 * cut off stops being trusted within heartbeat_ms, by itself.  When a
 * connection fails, a ping goes unanswered, the cluster's map changes or
 * the table cannot be written, agent_lost takes the record down and
 * clears the table; the next connection clears it again once tracking is
 * on, before any record is published: so a reader's lease granted before
 * that clear is voided by it, and one granted after it reads a Redis that
 * is tracked.
 */
#include "agent.h"

#include "shmkv-redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t agent_stop;

static const char agent_key[] = SHMKV_REDIS_AGENT_KEY;
#define AGENT_KEY_LEN SHMKV_REDIS_AGENT_KEY_LEN

static void vlog(const char *fmt, va_list ap)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    fprintf(stderr, "shmkv-redis sync %s: ", when);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void agent_log(const struct agent *a, const char *fmt, ...)
{
    if (a->o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

int agent_clear(struct agent *a)
{
    a->published = 0;
    shmkv_del(a->db, agent_key, AGENT_KEY_LEN); /* readers stop trusting first */
    int rc = shmkv_clear(a->db);
    if (rc)
        fprintf(stderr, "shmkv-redis sync: cannot clear the table %s: %s\n", a->o->table, shmkv_strerror(rc));
    return rc ? -1 : 0;
}

int agent_lost(struct agent *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!a->o->quiet || a->connected)
        vlog(fmt, ap);
    va_end(ap);
    a->connected = 0;
    links_close(a);
    /* no record may stand until the table is clear: try until it is */
    while (agent_clear(a) && !agent_stop)
        nap_ms(100);
    return -1;
}

/* Write the record, to lapse heartbeat_ms after the basis. */
static void heartbeat(struct agent *a, uint64_t now)
{
    uint64_t basis = links_basis(a);
    if (!basis || basis == a->published || basis + a->o->heartbeat_ms <= now)
        return;
    int rc = shmkv_put_ttl(a->db, agent_key, AGENT_KEY_LEN, a->text, a->text_len,
                           basis + a->o->heartbeat_ms - now);
    if (rc) {
        agent_log(a, "cannot write the heartbeat: %s", shmkv_strerror(rc));
        return;
    }
    if (!a->announced++)
        agent_log(a, "in sync with %d master%s: heartbeat published", a->n, a->n == 1 ? "" : "s");
    a->published = basis;
}

static int open_table(struct agent *a)
{
    shmkv_options so = {.flags = SHMKV_CREATE | SHMKV_CACHE, .max_bytes = a->o->max_bytes, .mode = a->o->mode};
    int rc = shmkv_open(a->o->table, &so, &a->db);
    if (rc)
        fprintf(stderr, "shmkv-redis sync: cannot open the table %s: %s\n", a->o->table, shmkv_strerror(rc));
    return rc;
}

static void make_record(struct agent *a)
{
    struct record *r = &a->rec;
    memset(r, 0, sizeof *r);
    r->pid = getpid();
    if (getrandom(&r->generation, sizeof r->generation, 0) != (ssize_t)sizeof r->generation)
        r->generation = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
    r->heartbeat_ms = a->o->heartbeat_ms;
    r->max_ttl_ms = a->o->max_ttl_ms;
    r->nprefixes = a->o->nprefixes;
    for (int i = 0; i < r->nprefixes; i++) {
        r->plen[i] = strlen(a->o->prefix[i]);
        memcpy(r->prefix[i], a->o->prefix[i], r->plen[i]);
    }
    a->text_len = record_format(r, a->text);
}

/* Track every master, then clear the table; 0, or -1 after a failure
 * (logged when its reason changes). */
static int connect_all(struct agent *a)
{
    char before[ERR_MAX];
    snprintf(before, sizeof before, "%s", a->why);
    if (links_connect(a)) {
        if (strcmp(before, a->why))
            agent_log(a, "cannot track %s yet: %s", a->o->redis, a->why);
        return -1;
    }
    a->why[0] = 0;
    if (agent_clear(a)) {
        links_close(a);
        return -1;
    }
    a->connected = 1;
    a->announced = 0;
    a->next_topo_ms = 0;
    agent_log(a, "tracking %d master%s of %s", a->n, a->n == 1 ? "" : "s", a->o->redis);
    return 0;
}

/* Wait for the links until the next tick, and read what came. */
static void wait_links(struct agent *a, uint64_t tick_ms)
{
    struct pollfd pfd[2 * TOPO_MAX_MASTERS];
    int n = links_pollfds(a, pfd);
    int r = poll(pfd, (nfds_t)n, (int)tick_ms);
    if (r > 0)
        links_read(a, pfd);
    else if (r < 0 && errno != EINTR)
        agent_lost(a, "poll: %s", strerror(errno));
}

static void on_signal(int sig)
{
    (void)sig;
    agent_stop = 1;
}

static void signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll returns at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int agent_run(const struct agent_opts *o)
{
    struct agent *a = calloc(1, sizeof *a);
    if (!a || (a->o = o, open_table(a))) {
        free(a);
        return 3;
    }
    signals();
    make_record(a);
    agent_log(a, "starting (pid %d, generation %016" PRIx64 ") on table %s", (int)getpid(), a->rec.generation,
              o->table);
    /* ten pings per heartbeat, at most every 100 ms */
    uint64_t tick = o->heartbeat_ms / 10 < 100 ? (o->heartbeat_ms / 10 ? o->heartbeat_ms / 10 : 1) : 100;
    uint64_t backoff = 50, next_tick = 0;
    int rc = agent_clear(a) ? 3 : 0; /* a starting agent trusts nothing in the table */
    while (!rc && !agent_stop) {
        if (!a->connected) {
            if (connect_all(a)) {
                poll(NULL, 0, (int)backoff); /* a signal ends it */
                backoff = backoff < 1000 ? backoff * 2 : 1000;
                continue;
            }
            backoff = 50;
            next_tick = 0;
        }
        uint64_t now = boot_ms();
        if (now >= next_tick) {
            next_tick = now + tick;
            if (links_tick(a, now))
                continue;
        }
        wait_links(a, next_tick - now);
        if (a->connected)
            heartbeat(a, boot_ms());
    }
    if (o->refresh)
        agent_log(a, "refreshed %" PRIu64 " invalidated keys (%" PRIu64 " not: busy, a reader's lease, gone, or a newer write)",
                  a->refreshed, a->refresh_skipped);
    agent_log(a, "stopping: clearing the table");
    links_close(a);
    if (agent_clear(a))
        rc = 3;
    shmkv_close(a->db);
    free(a->topo);
    free(a);
    return rc;
}
