/*
 * test_lock_sched.c - a lock's waiters and the scheduler: what counts
 * against the second a waiter gives a live holder (lock.c) is the
 * holder's own time, not the time it waits for a CPU.
 *
 *  - starved: a holder pinned to one CPU at nice 19, with three busy
 *    threads at nice 0 on the same CPU, keeps a shard's lock 1.6 s of
 *    wall time while it runs a few milliseconds of it (it is queued for
 *    the CPU the rest).  A put to its shard waits it out and succeeds; it
 *    gave -ETIMEDOUT after a second before (with two test programs on 2
 *    CPUs, holders preempted in the middle of a put waited 0.3 to 0.8 s
 *    for a CPU, and their waiters gave up);
 *  - spinning: a holder that runs on its CPU the whole time it keeps the
 *    lock (1.6 s of CPU time, nothing else on that CPU) makes the put
 *    give -ETIMEDOUT after about a second (sooner than the holder lets
 *    go), as a sleeping holder does (test_lock busy).
 * starved checks the holder's own CPU time, so that a scheduler that did
 * not starve it fails the part rather than passing it unexamined.
 *
 * The test reads the library's internals (src/) to take a shard's lock
 * directly.
 */
#include "harness.h"
#include "handle.h"
#include "shard.h"
#include "stop_helpers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define KEY "sched-key"
#define KL (sizeof KEY - 1)
#define HOLD_S 1.6 /* wall time the holder keeps the lock */
#define BUSY 3     /* busy threads beside a starved holder */

struct holder {
    shmkv *db;
    int cpu;           /* pinned there */
    int nice;
    bool by_cpu;       /* hold until HOLD_S of CPU time is used (else of wall time) */
    _Atomic int state; /* 0 starting, 1 holding, 2 done */
    _Atomic int stop;  /* for the busy threads */
    double cpu_s;      /* the holder's CPU time while it held the lock */
    double held_s;
};

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    CHECKF(sched_setaffinity(0, sizeof set, &set) == 0, "cannot pin a thread to CPU %d: %s", cpu, strerror(errno));
}

/* The CPUs this process may use: the first, and another if any (-1). */
static void two_cpus(int *first, int *other)
{
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    *first = *other = -1;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        if (*first < 0)
            *first = c;
        else if (*other < 0)
            *other = c;
    }
    CHECK(*first >= 0);
}

static struct shard *key_shard_of(shmkv *db) { return &db->shards[key_shard(db, KEY, KL)]; }

/* Take KEY's shard lock and keep it HOLD_S of wall time, or of its own
 * CPU time, running whenever the scheduler lets it. */
static void *hold(void *arg)
{
    struct holder *h = arg;
    pin(h->cpu);
    CHECK(setpriority(PRIO_PROCESS, (id_t)gettid(), h->nice) == 0);
    struct shard *s = key_shard_of(h->db);
    CHECK_RC(shmkv__shard_lock(h->db, s), 0);
    double t0 = h_now(), c0 = h_thread_cpu_s();
    atomic_store(&h->state, 1);
    while ((h->by_cpu ? h_thread_cpu_s() - c0 : h_now() - t0) < HOLD_S)
        ;
    h->cpu_s = h_thread_cpu_s() - c0;
    h->held_s = h_now() - t0;
    CHECKF((atomic_load(&s->lock.word) & LOCK_TID) == (uint32_t)gettid(), "a live holder's lock was taken over");
    shmkv__shard_unlock(s);
    atomic_store(&h->state, 2);
    return NULL;
}

static void *busy(void *arg)
{
    struct holder *h = arg;
    pin(h->cpu);
    while (!atomic_load(&h->stop))
        ;
    return NULL;
}

/* Put KEY at seq while a holder (at nice, with nbusy busy threads on its
 * CPU) keeps its shard's lock: the put's result and seconds. */
static double put_beside(int nice, int nbusy, bool by_cpu, uint64_t seq, int *rc, struct holder *h)
{
    char name[64];
    h_name(name, sizeof name, "lock-sched");
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    unsigned char v[64];
    h_val_make(v, sizeof v, KEY, KL, 1);
    CHECK_RC(shmkv_put(db, KEY, KL, v, sizeof v), 0);
    int other;
    *h = (struct holder){.db = db, .nice = nice, .by_cpu = by_cpu};
    two_cpus(&h->cpu, &other);
    if (other >= 0)
        pin(other); /* the waiter beside, where there is room */
    pthread_t ht, bt[BUSY];
    CHECK(pthread_create(&ht, NULL, hold, h) == 0);
    while (!atomic_load(&h->state))
        usleep(100);
    for (int i = 0; i < nbusy; i++)
        CHECK(pthread_create(&bt[i], NULL, busy, h) == 0);
    h_val_make(v, sizeof v, KEY, KL, seq);
    double t0 = h_now();
    *rc = shmkv_put(db, KEY, KL, v, sizeof v);
    double dt = h_now() - t0;
    while (atomic_load(&h->state) != 2) /* starved to the end, whatever the put gave */
        usleep(1000);
    atomic_store(&h->stop, 1);
    pthread_join(ht, NULL);
    for (int i = 0; i < nbusy; i++)
        pthread_join(bt[i], NULL);
    unsigned char buf[64];
    size_t vl = 0;
    uint64_t got = 0;
    CHECK_RC(shmkv_get(db, KEY, KL, buf, sizeof buf, &vl), 0);
    CHECK(h_val_check(buf, vl, KEY, KL, &got));
    CHECK_EQ_U64(got, *rc == 0 ? seq : 1);
    CHECK_TABLE(db, "after a holder beside busy threads");
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
    h_note("holder at nice %d with %d busy threads: held %.2f s, ran %.3f s of it; the put gave %s after %.2f s",
           nice, nbusy, h->held_s, h->cpu_s, h_errname(*rc), dt);
    return dt;
}

static void part_starved(void)
{
    struct holder h;
    int rc;
    double dt = put_beside(19, BUSY, false, 2, &rc, &h);
    CHECKF(h.cpu_s < 0.4, "the holder was not starved: it ran %.3f s of its %.2f s hold", h.cpu_s, h.held_s);
    CHECKF(rc == 0 && dt > HOLD_S - 0.3, "put beside a starved holder: %s after %.2f s (held %.2f s)",
           h_errname(rc), dt, h.held_s);
}

static void part_spinning(void)
{
    struct holder h;
    int rc;
    double dt = put_beside(0, 0, true, 2, &rc, &h);
    CHECKF(rc == -ETIMEDOUT && dt > 0.9 && dt < h.held_s - 0.2, "put beside a holder spinning %.1f s: %s after %.2f s",
           h.held_s, h_errname(rc), dt);
}

static const struct h_part parts[] = {
    { "starved", part_starved },
    { "spinning", part_spinning },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_lock_sched", parts, H_NPARTS(parts));
}
