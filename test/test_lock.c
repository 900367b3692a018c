/*
 * test_lock.c - the table's own locks (src/lock.c, format 3): who may take
 * a held lock over, and who must be waited for.
 *
 * Each part puts a holder in one state and has another process (or
 * thread) write to the holder's shard:
 *  - gone: a holder that exited, was killed, or whose thread ended while
 *    holding: the lock is taken over at once (within 0.1 s), the recovery
 *    is counted (lock_recoveries), the table is sound;
 *  - zombie: a holder killed but not yet reaped is gone too;
 *  - stopped: a holder stopped by SIGSTOP: writes to its shard give
 *    -ETIMEDOUT within 0.5 s (not after the full second), reads and other
 *    shards go on, nothing is taken over, and after SIGCONT the holder's
 *    write completes and the table is sound;
 *  - busy: a live holder is waited for: a write waits while it holds the
 *    lock, and gives -ETIMEDOUT after about a second if it holds longer;
 *  - relay: the second is per holder: holders that pass the lock straight
 *    on to each other are waited through (1.5 s in all), and the wait
 *    ends a second into the hold of one that keeps it;
 *  - crowd: 12 threads writing to one shard on 2 CPUs for 2 s: every
 *    write succeeds and every key ends at its last value;
 *  - growing: a holder growing the file by 48 MiB in slow steps (1.5 s)
 *    is waited for: the second counts from its last step;
 *  - traced: a holder a tracer holds (ptrace: state t, as strace leaves a
 *    writer at each system call it makes, a few of them under a lock) is
 *    a busy one: a write waits while the tracer holds it and goes on once
 *    the tracer lets go, or gives -ETIMEDOUT after about a second; never
 *    at once, and nothing is taken over (a write beside a writer under
 *    strace failed at once);
 *  - image: a copy of the file made while a writer was stopped holding a
 *    lock (at PAUSE_LOCKED and at PAUSE_RECORD_WRITTEN), its writer then
 *    killed, opened by another process: it works, writes succeed, the
 *    checker passes (issue 18, item 5: such a lock stayed held for ever);
 *  - other_boot: the same copy with the lock's boot tag changed is
 *    recovered even though the holder it names is alive (and an unchanged
 *    copy, whose holder is alive and stopped, is not);
 *  - other_pidns: a holder in another PID namespace (unshare(2) where we
 *    may; else a stopped holder whose namespace tag is changed in the
 *    file, and that case always) is waited for, about a second, and never
 *    taken over, though it is stopped.
 * The same thread taking a lock twice gets -EDEADLK (lock.c), but no
 * public function can do that, so it is not tested here.
 *
 * The test reads the library's internals (src/): a shard's lock, to take
 * it directly and to change the fields a waiter judges a holder by.
 */
#include "harness.h"
#include "format.h"
#include "handle.h"
#include "host.h"
#include "shard.h"
#include "stop_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY "lock-key"
#define KL (sizeof KEY - 1)
#define NKEYS 200
#define TAKEOVER_S 0.1 /* a gone holder's lock is taken over within this */
#define STOPPED_S 0.5  /* a stopped holder's waiters give up within this */

/* A table of NKEYS pairs and KEY, all at seq 1. */
static shmkv *new_table(char *name, size_t cap, const char *tag)
{
    h_name(name, cap, tag);
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        exit(h_done());
    unsigned char v[100];
    for (int i = 0; i < NKEYS; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "pair-%d", i);
        h_val_make(v, sizeof v, k, kl, 1);
        CHECK_RC(shmkv_put(db, k, kl, v, sizeof v), 0);
    }
    h_val_make(v, sizeof v, KEY, KL, 1);
    CHECK_RC(shmkv_put(db, KEY, KL, v, sizeof v), 0);
    return db;
}

static struct shard *key_shard_of(shmkv *db) { return &db->shards[key_shard(db, KEY, KL)]; }

static uint64_t recoveries(shmkv *db)
{
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    return st.lock_recoveries;
}

/* KEY's seq in the table (0: absent or invalid). */
static uint64_t key_seq(shmkv *db)
{
    unsigned char buf[128];
    size_t vl = 0;
    uint64_t seq = 0;
    if (shmkv_get(db, KEY, KL, buf, sizeof buf, &vl) || !h_val_check(buf, vl, KEY, KL, &seq))
        return 0;
    return seq;
}

/* Put KEY at seq; returns the seconds it took, the result in *rc. */
static double timed_put(shmkv *db, uint64_t seq, int *rc)
{
    unsigned char v[100];
    h_val_make(v, sizeof v, KEY, KL, seq);
    double t0 = h_now();
    *rc = shmkv_put(db, KEY, KL, v, sizeof v);
    return h_now() - t0;
}

/* Every pair is there, each at seq 1. */
static void check_pairs(shmkv *db, const char *when)
{
    int bad = 0;
    for (int i = 0; i < NKEYS; i++) {
        char k[32];
        unsigned char buf[128];
        size_t kl = (size_t)snprintf(k, sizeof k, "pair-%d", i), vl = 0;
        uint64_t seq = 0;
        bad += shmkv_get(db, k, kl, buf, sizeof buf, &vl) || !h_val_check(buf, vl, k, kl, &seq) || seq != 1;
    }
    CHECKF(bad == 0, "%s: %d pairs lost or wrong", when, bad);
}

/* The lock of KEY's shard is held by someone gone: one put takes it over
 * at once, counts the recovery, and the table is sound. */
static void take_over(shmkv *db, uint64_t seq, const char *what)
{
    uint64_t r0 = recoveries(db);
    int rc;
    double dt = timed_put(db, seq, &rc);
    CHECKF(rc == 0 && dt < TAKEOVER_S, "%s: put returned %s after %.3f s", what, h_errname(rc), dt);
    CHECKF(recoveries(db) == r0 + 1, "%s: %llu recoveries counted, not 1", what,
           (unsigned long long)(recoveries(db) - r0));
    CHECK_EQ_U64(key_seq(db), seq);
    h_note("%s: taken over in %.2f ms", what, dt * 1e3);
    CHECK_TABLE(db, what);
}

struct put_arg {
    uint64_t seq;
};

/* A paused child's work: put KEY at seq. */
static void put_key(shmkv *db, void *arg)
{
    int rc;
    timed_put(db, ((struct put_arg *)arg)->seq, &rc);
    CHECK_RC(rc, 0);
}

static void *lock_and_leave(void *arg)
{
    shmkv *db = arg;
    CHECK_RC(shmkv__shard_lock(db, key_shard_of(db)), 0);
    return NULL; /* the thread ends holding the lock */
}

static void part_gone(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "gone");
    /* a process that exits holding the lock */
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv *mine = child_open(name);
        CHECK_RC(shmkv__shard_lock(mine, key_shard_of(mine)), 0);
        h_child_exit(); /* holding it */
    }
    h_wait(pid, "holder that exits");
    take_over(db, 2, "a holder that exited");

    /* a process killed holding it */
    if ((pid = fork_paused(name, PAUSE_LOCKED, 0, put_key, &(struct put_arg){9})) > 0)
        kill_child(pid);
    take_over(db, 3, "a holder killed with SIGKILL");

    /* a thread that ends holding it, in a process that goes on (this one) */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, lock_and_leave, db) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    take_over(db, 4, "a holder thread that ended");
    check_pairs(db, "after three holders went");
    shmkv_close(db);
    shmkv_unlink(name);
}

static void part_zombie(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "zombie");
    pid_t pid = fork_paused(name, PAUSE_LOCKED, 0, put_key, &(struct put_arg){9});
    if (pid > 0) {
        CHECK(kill(pid, SIGKILL) == 0);
        siginfo_t si;
        CHECK(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0); /* dead, not reaped */
        CHECKF(proc_state(pid) == 'Z', "the killed holder is in state '%c', not a zombie", proc_state(pid));
        take_over(db, 2, "a killed holder not yet reaped (zombie)");
        kill_child(pid); /* reap */
    }
    check_pairs(db, "after a zombie holder");
    shmkv_close(db);
    shmkv_unlink(name);
}

static int count_pairs(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl, (void)v, (void)vl;
    ++*(long *)ctx;
    return 0;
}

/* op's result must be -ETIMEDOUT, and quickly: a stopped holder is not
 * waited for. */
#define GIVES_UP_FAST(op, what)                                                                     \
    do {                                                                                            \
        double t0_ = h_now();                                                                       \
        int rc_ = (op);                                                                             \
        double dt_ = h_now() - t0_;                                                                 \
        CHECKF(rc_ == -ETIMEDOUT && dt_ < STOPPED_S, "%s with a stopped holder: %s after %.3f s",   \
               what, h_errname(rc_), dt_);                                                          \
    } while (0)

static void part_stopped(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "stopped"), *ro = NULL;
    shmkv_options rdo = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &rdo, &ro), 0);
    pid_t pid = fork_paused(name, PAUSE_LOCKED, 0, put_key, &(struct put_arg){2});
    if (pid < 0 || !ro)
        return;
    uint64_t r0 = recoveries(db);
    int rc;
    double dt = timed_put(db, 3, &rc);
    CHECKF(rc == -ETIMEDOUT && dt < STOPPED_S, "put with a stopped holder: %s after %.3f s", h_errname(rc), dt);
    h_note("a write to a stopped holder's shard gave %s after %.2f ms", h_errname(rc), dt * 1e3);
    GIVES_UP_FAST(shmkv_del(db, KEY, KL), "del");
    GIVES_UP_FAST(shmkv_expire(db, KEY, KL, 1000), "expire");
    long n = 0;
    GIVES_UP_FAST(shmkv_foreach(db, count_pairs, &n), "writable foreach");
    GIVES_UP_FAST(shmkv_check(db, NULL), "writable check");
    /* reads do not wait; other shards are not affected */
    double t0 = h_now();
    CHECK_EQ_U64(key_seq(db), 1);
    CHECK_EQ_U64(key_seq(ro), 1);
    n = 0;
    CHECK_RC(shmkv_foreach(ro, count_pairs, &n), 0);
    CHECK_EQ_INT(n, NKEYS + 1);
    check_pairs(db, "while a holder is stopped");
    char k[32];
    long next = 0;
    size_t kl = key_find(db, k, sizeof k, "other-", &next, -1, -1);
    while (key_shard(db, k, kl) == key_shard(db, KEY, KL))
        kl = key_find(db, k, sizeof k, "other-", &next, -1, -1);
    CHECK_RC(shmkv_put(db, k, kl, "x", 1), 0);
    CHECK_RC(shmkv_del(db, k, kl), 0);
    CHECKF(h_now() - t0 < 0.5, "reads and other shards took %.3f s", h_now() - t0);
    /* the read-only checker cannot see the stopped writer's shard quietly */
    t0 = h_now();
    CHECK_RC(shmkv_check(ro, NULL), -EAGAIN);
    CHECKF(h_now() - t0 < 3.0, "the read-only check took %.3f s", h_now() - t0);
    CHECK_EQ_U64(recoveries(db), r0); /* nothing was taken over */
    cont_child(pid, "the stopped holder");
    CHECK_EQ_U64(key_seq(db), 2); /* its write completed */
    dt = timed_put(db, 3, &rc);
    CHECKF(rc == 0 && dt < 0.1, "put after SIGCONT: %s after %.3f s", h_errname(rc), dt);
    CHECK_RC(shmkv_check(ro, stderr), 0);
    CHECK_TABLE(db, "after a stopped holder went on");
    shmkv_close(ro);
    shmkv_close(db);
    shmkv_unlink(name);
}

struct hold {
    _Atomic int locked;
};

/* A child that takes KEY's shard lock, holds it for hold_s while alive
 * and sleeping, checks nobody took it over, and lets go. */
static pid_t fork_holder(const char *name, struct hold *sh, double hold_s)
{
    atomic_store(&sh->locked, 0);
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv *db = child_open(name);
        struct shard *s = key_shard_of(db);
        CHECK_RC(shmkv__shard_lock(db, s), 0);
        atomic_store(&sh->locked, 1);
        h_sleep(hold_s);
        CHECKF((atomic_load(&s->lock.word) & LOCK_TID) == (uint32_t)gettid(),
               "a live holder's lock was taken over while it slept");
        shmkv__shard_unlock(s);
        shmkv_close(db);
        h_child_exit();
    }
    while (pid > 0 && !atomic_load(&sh->locked))
        usleep(100);
    return pid;
}

static void part_busy(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "busy");
    struct hold *sh = h_shm_alloc(sizeof *sh);
    shmkv_stats st0, st;
    CHECK_RC(shmkv_stat(db, &st0), 0);
    /* held for 0.3 s: the write waits, then succeeds */
    pid_t pid = fork_holder(name, sh, 0.3);
    int rc;
    double dt = timed_put(db, 2, &rc);
    CHECKF(rc == 0 && dt > 0.2 && dt < 0.9, "put while a live holder keeps the lock 0.3 s: %s after %.3f s",
           h_errname(rc), dt);
    h_wait(pid, "holder for 0.3 s");
    /* held for 1.6 s: the write gives up after about a second */
    pid = fork_holder(name, sh, 1.6);
    dt = timed_put(db, 3, &rc);
    CHECKF(rc == -ETIMEDOUT && dt > 0.9 && dt < 1.5, "put while a live holder keeps the lock 1.6 s: %s after %.3f s",
           h_errname(rc), dt);
    h_wait(pid, "holder for 1.6 s");
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK(st.lock_waits >= st0.lock_waits + 2);
    CHECK_EQ_U64(st.lock_recoveries, st0.lock_recoveries); /* a live holder is never taken over */
    CHECK_EQ_U64(key_seq(db), 2);
    CHECK_TABLE(db, "after busy holders");
    h_shm_free(sh, sizeof *sh);
    shmkv_close(db);
    shmkv_unlink(name);
}

/* ---- relay and crowd: the second is per holder ----
 *
 * Holders that pass the lock straight on to each other are waited
 * through, however long they take together; only one that keeps it a
 * second makes a waiter give up (a waiter that kept losing to brief
 * holders gave up after a second in all).  The passing is done by hand,
 * so that the waiter cannot slip in between (a real hand-over leaves a
 * free word a waiter may win): the next holder swaps its id into the
 * busy word and notes itself as a taker does (lock.c note_holder),
 * moving gen on by two (a release and a take).  The previous holder
 * stays alive until then. */
struct relay {
    shmkv *db;
    int n;                      /* holders */
    const double *hold_s;       /* how long each keeps the lock */
    _Atomic int turn;           /* the holder that may take the lock now */
    _Atomic int held;           /* the holders that have taken it */
};

struct relay_seat {
    struct relay *r;
    int i;
};

static void relay_take(struct lock *l)
{
    const struct host_me *me = shmkv__host_me();
    uint32_t v = atomic_load(&l->word);
    CHECKF((v & LOCK_TID) && atomic_compare_exchange_strong(&l->word, &v, (me->tid & LOCK_TID) | (v & LOCK_WAITERS)),
           "the lock was not busy when passed on");
    atomic_store(&l->boot, (uint32_t)me->boot);
    atomic_store(&l->start, me->start);
    atomic_store(&l->owner, (uint64_t)me->ns << 32 | me->tid);
    atomic_fetch_add(&l->gen, 2);
}

static void *relay_holder(void *arg)
{
    struct relay_seat *seat = arg;
    struct relay *r = seat->r;
    struct shard *s = key_shard_of(r->db);
    int i = seat->i;
    while (atomic_load(&r->turn) != i)
        usleep(100);
    if (i == 0)
        CHECK_RC(shmkv__shard_lock(r->db, s), 0);
    else
        relay_take(&s->lock);
    atomic_store(&r->held, i + 1);
    h_sleep(r->hold_s[i]);
    CHECKF((atomic_load(&s->lock.word) & LOCK_TID) == (uint32_t)gettid(), "holder %d's lock was taken over", i);
    if (i == r->n - 1) {
        shmkv__shard_unlock(s);
        return NULL;
    }
    atomic_store(&r->turn, i + 1); /* stay alive until the next has it */
    while (atomic_load(&r->held) == i + 1)
        usleep(100);
    return NULL;
}

/* Holders keep KEY's shard lock for hold_s[0..n) one after the other: a
 * put of KEY at seq meanwhile gives want after lo_s to hi_s. */
static void relay_put(shmkv *db, const double *hold_s, int n, uint64_t seq, int want, double lo_s, double hi_s)
{
    struct relay r = {.db = db, .n = n, .hold_s = hold_s};
    struct relay_seat seats[8];
    pthread_t t[8];
    for (int i = 0; i < n; i++) {
        seats[i] = (struct relay_seat){&r, i};
        CHECK(pthread_create(&t[i], NULL, relay_holder, &seats[i]) == 0);
    }
    while (!atomic_load(&r.held))
        usleep(100);
    uint64_t r0 = recoveries(db);
    int rc;
    double dt = timed_put(db, seq, &rc);
    CHECKF(rc == want && dt > lo_s && dt < hi_s, "put while %d holders pass the lock on: %s after %.3f s", n,
           h_errname(rc), dt);
    h_note("%d holders passed the lock on: the put gave %s after %.3f s", n, h_errname(rc), dt);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_U64(recoveries(db), r0); /* a live holder is never taken over */
}

static void part_relay(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "relay");
    /* five holders of 0.3 s, 1.5 s in all: the put waits them out */
    static const double brief[] = {0.3, 0.3, 0.3, 0.3, 0.3};
    relay_put(db, brief, 5, 2, 0, 1.3, 2.5);
    CHECK_EQ_U64(key_seq(db), 2);
    /* three brief ones, then one that keeps it 1.6 s: the put gives up a
     * second into that one's hold */
    static const double stuck[] = {0.3, 0.3, 0.3, 1.6};
    relay_put(db, stuck, 4, 3, -ETIMEDOUT, 1.7, 2.5);
    CHECK_EQ_U64(key_seq(db), 2);
    check_pairs(db, "after the relays");
    CHECK_TABLE(db, "after the relays");
    shmkv_close(db);
    shmkv_unlink(name);
}

/* Many threads writing keys of one shard at once, far more than there
 * are CPUs, for CROWD_S: every write succeeds (none gives up on a lock
 * that keeps moving), and every key ends at its last value. */
#define CROWD_THREADS 12
#define CROWD_KEYS 8
#define CROWD_S (H_ASAN ? 1.0 : 2.0)

struct crowd {
    shmkv *db;
    int id;
    char keys[CROWD_KEYS][32];
    size_t klen[CROWD_KEYS];
    uint64_t last[CROWD_KEYS];
    long puts, failed;
    int first_rc;
};

static void *crowd_writer(void *arg)
{
    struct crowd *c = arg;
    unsigned char v[64];
    double end = h_now() + CROWD_S;
    for (uint64_t seq = 1; h_now() < end; seq++)
        for (int k = 0; k < CROWD_KEYS; k++) {
            h_val_make(v, sizeof v, c->keys[k], c->klen[k], seq);
            int rc = shmkv_put(c->db, c->keys[k], c->klen[k], v, sizeof v);
            if (rc) {
                c->first_rc = c->failed++ ? c->first_rc : rc;
                continue;
            }
            c->last[k] = seq;
            c->puts++;
        }
    return NULL;
}

static void part_crowd(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "crowd");
    static struct crowd cw[CROWD_THREADS];
    pthread_t t[CROWD_THREADS];
    long next = 0, puts = 0;
    for (int i = 0; i < CROWD_THREADS; i++) {
        cw[i] = (struct crowd){.db = db, .id = i};
        for (int k = 0; k < CROWD_KEYS; k++) /* all in KEY's shard */
            cw[i].klen[k] = key_find(db, cw[i].keys[k], sizeof cw[i].keys[k], "crowd-", &next,
                                     key_shard(db, KEY, KL), -1);
    }
    for (int i = 0; i < CROWD_THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, crowd_writer, &cw[i]) == 0);
    for (int i = 0; i < CROWD_THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECKF(cw[i].failed == 0, "writer %d: %ld of its puts failed (the first: %s)", i, cw[i].failed,
               h_errname(cw[i].first_rc));
        puts += cw[i].puts;
        for (int k = 0; k < CROWD_KEYS; k++) {
            unsigned char buf[128];
            size_t vl = 0;
            uint64_t seq = 0;
            CHECK_RC(shmkv_get(db, cw[i].keys[k], cw[i].klen[k], buf, sizeof buf, &vl), 0);
            CHECKF(h_val_check(buf, vl, cw[i].keys[k], cw[i].klen[k], &seq) && seq == cw[i].last[k],
                   "writer %d's key %d: seq %llu, not its last %llu", i, k, (unsigned long long)seq,
                   (unsigned long long)cw[i].last[k]);
        }
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%d threads on one shard: %ld puts in %.0f s, %llu lock waits", CROWD_THREADS, puts, CROWD_S,
           (unsigned long long)st.lock_waits);
    CHECK(st.lock_waits > 0);
    check_pairs(db, "after the crowd");
    CHECK_TABLE(db, "after the crowd");
    shmkv_close(db);
    shmkv_unlink(name);
}

/* ---- growing: a holder growing the file is waited for while it goes ----
 *
 * A put of a 48 MiB value grows the file under its shard's lock (and the
 * allocator's), in steps of 8 MiB, each made to take 0.25 s here (a stall
 * point before each step's fallocate), 1.5 s in all: a put to the same
 * shard waits it out and succeeds, since the growth's steps move
 * grow_progress on (a growth of 32 MiB took a second on a VM, and its
 * waiters gave up). */
static _Thread_local bool slow_grower;
static _Atomic int grow_steps;

static void slow_steps(int point)
{
    if (!slow_grower || point != STALL_GROW_STEP)
        return;
    atomic_fetch_add(&grow_steps, 1);
    h_sleep(0.25);
}

struct grower {
    shmkv *db;
    char key[32];
    size_t klen, vlen;
    int rc;
};

static void *grow_put(void *arg)
{
    struct grower *g = arg;
    unsigned char *v = malloc(g->vlen);
    if (!v)
        return NULL;
    h_val_make(v, g->vlen, g->key, g->klen, 1);
    slow_grower = true;
    g->rc = shmkv_put(g->db, g->key, g->klen, v, g->vlen);
    free(v);
    return NULL;
}

static void part_growing(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "growing");
    struct grower g = {.db = db, .vlen = 48u << 20, .rc = 1};
    long next = 0;
    g.klen = key_find(db, g.key, sizeof g.key, "big-", &next, key_shard(db, KEY, KL), -1);
    atomic_store(&grow_steps, 0);
    shmkv__stall_set(slow_steps);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, grow_put, &g) == 0);
    double t0 = h_now();
    while (!atomic_load(&grow_steps) && h_now() - t0 < 10) /* it holds the lock, growing */
        usleep(100);
    uint64_t r0 = recoveries(db);
    int rc;
    double dt = timed_put(db, 2, &rc);
    pthread_join(t, NULL);
    shmkv__stall_set(NULL);
    CHECKF(rc == 0 && dt > 1.0 && dt < 4.0, "put while a holder grew the file in %d slow steps: %s after %.3f s",
           atomic_load(&grow_steps), h_errname(rc), dt);
    h_note("a holder grew the file in %d steps of 0.25 s: the put waited %.3f s and gave %s",
           atomic_load(&grow_steps), dt, h_errname(rc));
    CHECK_RC(g.rc, 0);
    CHECK(atomic_load(&grow_steps) >= 5);
    CHECK_EQ_U64(key_seq(db), 2);
    CHECK_EQ_U64(recoveries(db), r0);
    unsigned char *buf = malloc(g.vlen);
    size_t vl = 0;
    uint64_t seq = 0;
    CHECK_RC(shmkv_get(db, g.key, g.klen, buf, g.vlen, &vl), 0);
    CHECK(h_val_check(buf, vl, g.key, g.klen, &seq) && seq == 1);
    free(buf);
    check_pairs(db, "after a slow growth");
    CHECK_TABLE(db, "after a slow growth");
    shmkv_close(db);
    shmkv_unlink(name);
}

/* A tracer: attaches to pid, stops it (PTRACE_INTERRUPT), says so, holds
 * it stopped for hold_s and lets go.  A thread of its own, since only the
 * thread that attached may detach, and the test's own thread is inside a
 * write meanwhile. */
struct tracer {
    pid_t pid;
    double hold_s;
    _Atomic int state; /* 0 attaching, 1 tracee stopped, -1 failed */
};

static void *trace_hold(void *arg)
{
    struct tracer *t = arg;
    int st = 0;
    if (ptrace(PTRACE_SEIZE, t->pid, NULL, NULL) || ptrace(PTRACE_INTERRUPT, t->pid, NULL, NULL) ||
        waitpid(t->pid, &st, __WALL) != t->pid || !WIFSTOPPED(st)) {
        CHECKF(0, "ptrace could not stop the holder: %s", strerror(errno));
        atomic_store(&t->state, -1);
        return NULL;
    }
    CHECKF(proc_state(t->pid) == 't', "a traced holder's state is '%c', not 't'", proc_state(t->pid));
    atomic_store(&t->state, 1);
    h_sleep(t->hold_s);
    CHECK(ptrace(PTRACE_DETACH, t->pid, NULL, NULL) == 0);
    return NULL;
}

/* Holder pid stopped by a tracer for hold_s: a put of KEY at seq gives
 * want_rc after between lo_s and hi_s. */
static void put_while_traced(shmkv *db, pid_t pid, double hold_s, uint64_t seq, int want_rc, double lo_s,
                             double hi_s)
{
    struct tracer t = {.pid = pid, .hold_s = hold_s};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, trace_hold, &t) == 0);
    while (!atomic_load(&t.state))
        usleep(100);
    int rc = 0;
    double dt = atomic_load(&t.state) > 0 ? timed_put(db, seq, &rc) : 0;
    CHECKF(rc == want_rc && dt > lo_s && dt < hi_s, "put while a tracer holds the lock's holder %.1f s: %s after %.3f s",
           hold_s, h_errname(rc), dt);
    h_note("a tracer held the holder %.1f s: the put gave %s after %.3f s", hold_s, h_errname(rc), dt);
    pthread_join(th, NULL);
}

static void part_traced(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "traced");
    struct hold *sh = h_shm_alloc(sizeof *sh);
    uint64_t r0 = recoveries(db);
    /* the holder keeps the lock 0.2 s, the tracer stops it 0.4 s: the
     * write waits for both and succeeds */
    pid_t pid = fork_holder(name, sh, 0.2);
    put_while_traced(db, pid, 0.4, 2, 0, 0.3, 0.9);
    h_wait(pid, "holder stopped 0.4 s by a tracer");
    CHECK_EQ_U64(key_seq(db), 2);
    /* stopped 1.6 s: the write gives up after about a second */
    pid = fork_holder(name, sh, 0.1);
    put_while_traced(db, pid, 1.6, 3, -ETIMEDOUT, 0.9, 1.5);
    h_wait(pid, "holder stopped 1.6 s by a tracer");
    CHECK_EQ_U64(recoveries(db), r0); /* a traced holder is never taken over */
    CHECK_EQ_U64(key_seq(db), 2);
    CHECK_TABLE(db, "after traced holders");
    h_shm_free(sh, sizeof *sh);
    shmkv_close(db);
    shmkv_unlink(name);
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    void *data = h_read_file(from, &len);
    CHECK(data != NULL);
    if (data)
        CHECK_RC(h_write_file(to, data, len), 0);
    free(data);
}

/* In another process: the copy at path opens and works at once. */
static void copy_works(const char *path, const char *what)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv *db = child_open(path);
        CHECKF(key_seq(db) == 1, "%s: the interrupted write is not all or nothing", what);
        check_pairs(db, what);
        take_over(db, 5, what);
        shmkv_close(db);
        h_child_exit();
    }
    h_wait(pid, what);
}

/* Issue 18, item 5: an image of a table taken while a lock was held. */
static void part_image(void)
{
    static const struct { int point; const char *what; } at[] = {
        {PAUSE_LOCKED, "a copy taken while a writer held a lock"},
        {PAUSE_RECORD_WRITTEN, "a copy taken while a writer had written a record, not yet published"},
    };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        char name[64], path[PATH_MAX], copy[PATH_MAX];
        shmkv *db = new_table(name, sizeof name, "image");
        h_path(path, sizeof path, name);
        h_path(copy, sizeof copy, "image-copy");
        pid_t pid = fork_paused(name, at[i].point, 0, put_key, &(struct put_arg){2});
        if (pid > 0) {
            copy_file(path, copy);
            kill_child(pid);
            copy_works(copy, at[i].what);
        }
        shmkv_close(db);
        shmkv_unlink(name);
        unlink(copy);
    }
}

/* Where the lock of KEY's shard lies in the file. */
static uint64_t lock_off(shmkv *db)
{
    return db->hdr->shards_off + key_shard(db, KEY, KL) * sizeof(struct shard) + offsetof(struct shard, lock);
}

static void part_other_boot(void)
{
    char name[64], path[PATH_MAX], same[PATH_MAX], other[PATH_MAX];
    shmkv *db = new_table(name, sizeof name, "boot");
    h_path(path, sizeof path, name);
    h_path(same, sizeof same, "boot-same");
    h_path(other, sizeof other, "boot-other");
    pid_t pid = fork_paused(name, PAUSE_LOCKED, 0, put_key, &(struct put_arg){2});
    if (pid < 0)
        return;
    copy_file(path, same);
    copy_file(path, other);
    uint32_t boot = atomic_load(&key_shard_of(db)->lock.boot), patched = boot ^ 0x40000000u;
    CHECKF(boot != 0, "the holder recorded no boot tag");
    int fd = open(other, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0 && pwrite(fd, &patched, 4, (off_t)(lock_off(db) + offsetof(struct lock, boot))) == 4);
    close(fd);
    /* the holder it names is alive (stopped) and of this boot: not taken */
    shmkv *cp = NULL;
    CHECK_RC(shmkv_open(same, NULL, &cp), 0);
    if (cp) {
        int rc;
        double dt = timed_put(cp, 5, &rc);
        CHECKF(rc == -ETIMEDOUT && dt < STOPPED_S, "a copy whose holder is stopped: %s after %.3f s",
               h_errname(rc), dt);
        shmkv_close(cp);
    }
    /* the same holder, of another boot: gone, though its tid is alive */
    CHECK_RC(shmkv_open(other, NULL, &cp), 0);
    if (cp) {
        CHECK_EQ_U64(key_seq(cp), 1);
        take_over(cp, 5, "a lock held on another boot");
        shmkv_close(cp);
    }
    cont_child(pid, "the stopped holder");
    CHECK_EQ_U64(key_seq(db), 2);
    CHECK_TABLE(db, "the original, after its holder went on");
    shmkv_close(db);
    shmkv_unlink(name);
    unlink(same);
    unlink(other);
}

/* A write to KEY's shard while its holder is out of sight waits for the
 * full second and takes nothing over; KEY stays at seq. */
static void waits_for_unseen(shmkv *db, uint64_t seq, const char *what)
{
    uint64_t r0 = recoveries(db);
    uint32_t holder = atomic_load(&key_shard_of(db)->lock.word) & LOCK_TID;
    int rc;
    double dt = timed_put(db, 99, &rc);
    CHECKF(rc == -ETIMEDOUT && dt > 0.9 && dt < 1.6, "%s: put returned %s after %.3f s", what, h_errname(rc), dt);
    CHECK_EQ_U64(recoveries(db), r0);
    CHECKF((atomic_load(&key_shard_of(db)->lock.word) & LOCK_TID) == holder, "%s: the lock changed hands", what);
    CHECK_EQ_U64(key_seq(db), seq);
    h_note("%s: waited %.2f s, took nothing over", what, dt);
}

struct ns_share {
    _Atomic int outer;  /* the holder's pid outside its namespace; < 0: -errno of unshare */
};

/* The holder's pid as this test's /proc (of the parent namespace) says. */
static int outer_pid(void)
{
    char buf[32];
    ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return atoi(buf);
}

/* A child in a new PID namespace, whose second process (its init cannot
 * stop itself) writes KEY and stops holding the lock.  -1: no namespace
 * could be made (no privilege): sh->outer says why. */
static pid_t fork_ns_holder(const char *name, struct ns_share *sh)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWPID)) {
            atomic_store(&sh->outer, -errno);
            h_child_exit();
        }
        for (int level = 0; level < 2; level++) { /* the namespace's init, then the holder */
            pid_t c = h_fork();
            if (c != 0) {
                int st = 1;
                while (c > 0 && waitpid(c, &st, 0) < 0 && errno == EINTR) {
                }
                _exit(c > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 1);
            }
        }
        CHECKF(gettid() != outer_pid(), "the holder's tid is the same in both namespaces");
        atomic_store(&sh->outer, outer_pid());
        shmkv *db = child_open(name);
        shmkv__pause_arm(PAUSE_LOCKED, 0);
        put_key(db, &(struct put_arg){2});
        shmkv_close(db);
        h_child_exit();
    }
    double end = h_now() + 10;
    while (atomic_load(&sh->outer) == 0 && h_now() < end)
        usleep(200);
    int outer = atomic_load(&sh->outer);
    while (outer > 0 && proc_state(outer) != 'T' && h_now() < end)
        usleep(200);
    if (outer > 0 && proc_state(outer) == 'T')
        return pid;
    if (outer < 0) {
        h_note("no PID namespace (unshare: %s): the namespace tag is changed in the file instead",
               strerror(-outer));
        h_wait(pid, "unshare child");
    } else {
        CHECKF(0, "the holder in another PID namespace did not stop");
        kill_child(pid);
    }
    return -1;
}

static void part_other_pidns(void)
{
    char name[64];
    shmkv *db = new_table(name, sizeof name, "pidns");
    struct ns_share *sh = h_shm_alloc(sizeof *sh);
    pid_t pid = fork_ns_holder(name, sh);
    if (pid > 0) {
        waits_for_unseen(db, 1, "a stopped holder in another PID namespace");
        CHECK(kill(atomic_load(&sh->outer), SIGCONT) == 0);
        h_wait(pid, "the namespace's processes");
        CHECK_EQ_U64(key_seq(db), 2);
        CHECK_TABLE(db, "after a holder in another PID namespace");
    }
    /* the decision alone, without privileges: a stopped holder whose
     * namespace tag says another namespace */
    uint64_t seq = key_seq(db);
    pid = fork_paused(name, PAUSE_LOCKED, 0, put_key, &(struct put_arg){seq + 1});
    if (pid > 0) {
        struct lock *l = &key_shard_of(db)->lock;
        uint64_t owner = atomic_load(&l->owner);
        CHECKF(owner >> 32, "the holder recorded no namespace tag");
        atomic_store(&l->owner, owner ^ (2ull << 32));
        waits_for_unseen(db, seq, "a stopped holder tagged with another PID namespace");
        cont_child(pid, "the stopped holder");
        CHECK_EQ_U64(key_seq(db), seq + 1);
        CHECK_TABLE(db, "after a holder tagged with another PID namespace");
    }
    h_shm_free(sh, sizeof *sh);
    shmkv_close(db);
    shmkv_unlink(name);
}

static const struct h_part parts[] = {
    {"gone", part_gone},
    {"zombie", part_zombie},
    {"stopped", part_stopped},
    {"busy", part_busy},
    {"relay", part_relay},
    {"crowd", part_crowd},
    {"growing", part_growing},
    {"traced", part_traced},
    {"image", part_image},
    {"other_boot", part_other_boot},
    {"other_pidns", part_other_pidns},
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_lock", parts, H_NPARTS(parts));
}
