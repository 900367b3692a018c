/*
 * test_queue_wait.c - waiting pops and moves, between processes.
 *
 *  timeout:   pop, pop_many and move on an empty or absent list return
 *             -EAGAIN after about their timeout (0: at once).
 *  eintr:     a signal ends a wait with -EINTR (a pop's, a bounded push's).
 *  wake_one:  of four processes waiting (pops, then moves; on a list, then
 *             on an absent key), one push wakes exactly one: one returns
 *             with the element, the others go on waiting; three more
 *             elements release the three.
 *  pingpong:  two processes bounce an element back and forth through two
 *             lists, each sleeping until the other pushes: no wake-up is
 *             lost (a lost one would cost a whole sleep slice, 100 ms).
 *  killed:    a waiter killed with SIGKILL leaves the list usable, and the
 *             other waiter is still woken.
 *  recreated: a waiter follows its list deleted and made anew, and a key
 *             that becomes a pair ends its wait with -EMEDIUMTYPE.
 *  neighbour: a waiter on an empty list sleeps while another list of its
 *             shard is busy (every push moves the word waiters watch
 *             before they sleep: they watch once, then sleep), using
 *             little CPU over its whole wait.
 *  bounded:   shmkv_push_bounded: its arguments, a full list refusing at
 *             once or after the timeout, pushers asleep on a full list
 *             woken one per place a pop makes, a killed one, a deleted list.
 *  forget:    a popper (a bounded pusher) killed in its sleep stops costing
 *             every push (pop) a futex wake within two epochs of the
 *             sleepers' count (sleepers.h), while one asleep for several
 *             epochs is still woken at once by a push, and one stopped
 *             in its sleep past that still gets its element when let go.
 * The limits allow for a heavily loaded machine: what they catch is a wait
 * that ends far too early, never, or for the wrong reason.
 */
#include "harness.h"
#include "list_helpers.h"
#include "sleepers.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY(s) s, strlen(s)
#define SLACK_S 5.0 /* how late a loaded machine may be */
#define NWAIT 4

static char g_name[64];

/* What the waiters report. */
struct waiters {
    _Atomic int started, returned;
    _Atomic int rc[NWAIT];
    uint64_t seq[NWAIT];
};
static struct waiters *W;

static shmkv *open_table(void)
{
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(g_name, NULL, &db), 0);
    if (!db)
        h_child_exit();
    return db;
}

static shmkv *new_table(const char *tag)
{
    h_name(g_name, sizeof g_name, tag);
    shmkv_options o = {.flags = SHMKV_CREATE};
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(g_name, &o, &db), 0);
    return db;
}

static void drop_table(shmkv *db)
{
    CHECK_TABLE(db, "at the end");
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(g_name), 0);
}

/* Is process pid asleep in the futex call (its wait, or a lock's)? */
static int in_futex(pid_t pid)
{
    char path[64], line[64] = "";
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(line, sizeof line, f) && atol(line) == SYS_futex;
    fclose(f);
    return ok;
}

/* Wait until each of pids has gone to sleep in the kernel. */
static void await_sleepers(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        double end = h_now() + SLACK_S * 4;
        while (!in_futex(pids[i]) && h_now() < end)
            h_sleep(0.001);
        CHECKF(in_futex(pids[i]), "waiter %d never went to sleep", i);
    }
    h_sleep(0.02);
}

/* Wait until W->returned reaches n (false if it did not in time). */
static int await_returns(int n, double secs)
{
    for (double end = h_now() + secs; atomic_load(&W->returned) < n && h_now() < end;)
        h_sleep(0.001);
    return atomic_load(&W->returned) >= n;
}

/* A waiter: pop (how 0) or move to its own list (how 1) from key, for ever. */
static pid_t spawn_waiter(int i, int how, const char *key)
{
    pid_t pid = h_fork();
    if (pid)
        return pid;
    shmkv *db = open_table();
    uint8_t buf[ELEM_MAX];
    size_t vl = 0;
    char mine[24];
    snprintf(mine, sizeof mine, "mine-%d", i);
    atomic_fetch_add(&W->started, 1);
    int rc = how ? shmkv_move(db, KEY(key), SHMKV_HEAD, KEY(mine), SHMKV_TAIL, buf, sizeof buf, &vl, -1)
                 : shmkv_pop(db, KEY(key), SHMKV_HEAD, buf, sizeof buf, &vl, -1);
    W->seq[i] = rc == 0 ? elem_seq(buf, vl, "src") : UINT64_MAX;
    atomic_store(&W->rc[i], rc);
    atomic_fetch_add(&W->returned, 1);
    shmkv_close(db);
    h_child_exit();
}

/* ---- timeout ---- */

static void expect_timeout(shmkv *db, const char *key, int what, int64_t ms)
{
    uint8_t buf[ELEM_MAX];
    size_t vl, lens[4], n;
    double t0 = h_now();
    int rc = what == 0   ? shmkv_pop(db, KEY(key), SHMKV_TAIL, buf, sizeof buf, &vl, ms)
             : what == 1 ? shmkv_pop_many(db, KEY(key), SHMKV_HEAD, buf, sizeof buf, lens, 4, &n, ms)
                         : shmkv_move(db, KEY(key), SHMKV_HEAD, KEY("dst"), SHMKV_HEAD, buf, sizeof buf, &vl, ms);
    double secs = h_now() - t0;
    CHECK_RC(rc, -EAGAIN);
    CHECKF(secs >= ms / 1000.0 - 0.002 && secs < ms / 1000.0 + SLACK_S,
           "call %d on %s with a timeout of %lld ms returned after %.3f s", what, key, (long long)ms, secs);
}

static void timeout(void)
{
    shmkv *db = new_table("timeout");
    CHECK_RC(shmkv_push(db, KEY("empty"), "x", 1, SHMKV_TAIL), 0);
    uint8_t buf[8];
    size_t vl;
    CHECK_RC(shmkv_pop(db, KEY("empty"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
    const char *keys[] = {"empty", "absent"};
    for (int k = 0; k < 2; k++)
        for (int what = 0; what < 3; what++) {
            expect_timeout(db, keys[k], what, 0);
            expect_timeout(db, keys[k], what, 1);
            expect_timeout(db, keys[k], what, 250);
        }
    /* longer than a sleep slice (100 ms), so the wait is several */
    expect_timeout(db, "empty", 0, 1100);
    CHECK_EQ_U64(shmkv_count(db), 1); /* no "dst", no "absent" */
    drop_table(db);
}

/* ---- eintr ---- */

static void on_usr1(int sig) { (void)sig; }

static void eintr(void)
{
    shmkv *db = new_table("eintr");
    W = h_shm_alloc(sizeof *W);
    CHECK_RC(shmkv_push(db, KEY("full"), "x", 1, SHMKV_TAIL), 0); /* full for a bound of 1 */
    for (int i = 0; i < 3; i++) { /* pops waiting for ever and for a minute; a bounded push */
        pid_t pid = h_fork();
        if (pid == 0) {
            struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
            sigaction(SIGUSR1, &sa, NULL);
            shmkv *c = open_table();
            uint8_t buf[8];
            size_t vl;
            shmkv_elem e = {"y", 1};
            int rc = i == 2 ? shmkv_push_bounded(c, KEY("full"), &e, 1, SHMKV_TAIL, 1, -1)
                            : shmkv_pop(c, KEY("q"), SHMKV_HEAD, buf, sizeof buf, &vl, i ? 60000 : -1);
            CHECK_RC(rc, -EINTR);
            shmkv_close(c);
            h_child_exit();
        }
        await_sleepers(&pid, 1);
        /* again until it ends: a signal that lands between two sleeps
         * (they are sliced) interrupts nothing */
        int st = 0;
        for (int tries = 0; tries < 1000 && waitpid(pid, &st, WNOHANG) == 0; tries++) {
            kill(pid, SIGUSR1);
            h_sleep(0.05);
        }
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the interrupted waiter: status %#x", st);
    }
    h_shm_free(W, sizeof *W);
    drop_table(db);
}

/* ---- wake_one ---- */

static void wake_round(shmkv *db, int how, int absent)
{
    memset(W, 0, sizeof *W);
    if (!absent) { /* an empty list */
        CHECK_RC(elem_push(db, "src", 0, SHMKV_TAIL), 0);
        uint8_t buf[ELEM_MAX];
        size_t vl;
        CHECK_RC(shmkv_pop(db, KEY("src"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
    }
    pid_t pids[NWAIT];
    for (int i = 0; i < NWAIT; i++)
        pids[i] = spawn_waiter(i, how, "src");
    await_sleepers(pids, NWAIT);
    CHECK_EQ_INT(atomic_load(&W->returned), 0);
    CHECK_RC(elem_push(db, "src", 1, SHMKV_TAIL), 0);
    CHECKF(await_returns(1, SLACK_S), "how %d absent %d: no waiter woke for a push", how, absent);
    h_sleep(0.3); /* time for a second to wake, wrongly */
    CHECKF(atomic_load(&W->returned) == 1, "how %d absent %d: one push, %d waiters returned", how, absent,
           atomic_load(&W->returned));
    uint8_t eb[3][ELEM_MAX];
    shmkv_elem el[3];
    for (int i = 0; i < 3; i++)
        el[i] = (shmkv_elem){eb[i], elem_make(eb[i], "src", 2 + (uint64_t)i)};
    CHECK_RC(shmkv_push_many(db, KEY("src"), el, 3, SHMKV_TAIL), 0);
    CHECKF(await_returns(NWAIT, SLACK_S * 2), "how %d absent %d: %d of %d waiters returned", how, absent,
           atomic_load(&W->returned), NWAIT);
    for (int i = 0; i < NWAIT; i++)
        h_wait(pids[i], "waiter");
    unsigned seen = 0;
    for (int i = 0; i < NWAIT; i++) {
        CHECK_RC(W->rc[i], 0);
        if (W->seq[i] >= 1 && W->seq[i] <= 4)
            seen |= 1u << W->seq[i];
    }
    CHECKF(seen == 0x1e, "how %d absent %d: the waiters got elements %#x", how, absent, seen);
    CHECK_LIST(db, "src", NULL, 0);
    CHECK_RC(shmkv_del(db, KEY("src")), 0);
}

static void wake_one(void)
{
    shmkv *db = new_table("wakeone");
    W = h_shm_alloc(sizeof *W);
    for (int how = 0; how < 2; how++)
        for (int absent = 0; absent < 2; absent++)
            wake_round(db, how, absent);
    h_shm_free(W, sizeof *W);
    drop_table(db);
}

/* ---- pingpong ---- */

#define ROUNDS (H_ASAN ? 500 : 2000)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pingpong(void)
{
    shmkv *db = new_table("pingpong");
    pid_t pid = h_fork();
    if (pid == 0) { /* bounce every ping back as a pong */
        shmkv *c = open_table();
        uint8_t buf[ELEM_MAX];
        size_t vl;
        for (int i = 0; i < ROUNDS; i++) {
            CHECK_RC(shmkv_pop(c, KEY("ping"), SHMKV_HEAD, buf, sizeof buf, &vl, 30000), 0);
            CHECK_RC(shmkv_push(c, KEY("pong"), buf, vl, SHMKV_TAIL), 0);
        }
        shmkv_close(c);
        h_child_exit();
    }
    double *rtt = malloc(ROUNDS * sizeof *rtt);
    uint8_t buf[ELEM_MAX];
    size_t vl;
    int stalls = 0;
    for (int i = 0; i < ROUNDS; i++) {
        double t0 = h_now();
        CHECK_RC(elem_push(db, "ping", (uint64_t)i, SHMKV_TAIL), 0);
        int rc = shmkv_pop(db, KEY("pong"), SHMKV_HEAD, buf, sizeof buf, &vl, 30000);
        rtt[i] = h_now() - t0;
        CHECK_RC(rc, 0);
        if (rc)
            break;
        CHECK_EQ_U64(elem_seq(buf, vl, "ping"), (uint64_t)i);
        stalls += rtt[i] >= 0.095;
    }
    h_wait(pid, "ponger");
    qsort(rtt, ROUNDS, sizeof *rtt, cmp_double);
    h_note("%d round trips: p50 %.0f us, p99 %.0f us, max %.1f ms, %d of 95 ms or more", ROUNDS,
           rtt[ROUNDS / 2] * 1e6, rtt[ROUNDS * 99 / 100] * 1e6, rtt[ROUNDS - 1] * 1e3, stalls);
    /* a lost wake-up costs a sleep slice (100 ms): common ones would show
     * in the median, rare ones as stalls; a loaded machine makes a few */
    CHECKF(rtt[ROUNDS / 2] < 0.02 && stalls <= ROUNDS / 100, "p50 %.1f ms, %d stalls", rtt[ROUNDS / 2] * 1e3,
           stalls);
    free(rtt);
    drop_table(db);
}

/* ---- killed ---- */

static void killed(void)
{
    shmkv *db = new_table("killed");
    W = h_shm_alloc(sizeof *W);
    for (int absent = 0; absent < 2; absent++) {
        memset(W, 0, sizeof *W);
        if (!absent) {
            CHECK_RC(shmkv_push(db, KEY("src"), "x", 1, SHMKV_TAIL), 0);
            uint8_t b[8];
            size_t vl;
            CHECK_RC(shmkv_pop(db, KEY("src"), SHMKV_TAIL, b, sizeof b, &vl, 0), 0);
        }
        pid_t pids[2] = {spawn_waiter(0, 0, "src"), spawn_waiter(1, 0, "src")};
        await_sleepers(pids, 2);
        kill(pids[0], SIGKILL);
        int st;
        waitpid(pids[0], &st, 0);
        CHECK(WIFSIGNALED(st));
        CHECK_RC(elem_push(db, "src", 7, SHMKV_TAIL), 0);
        CHECKF(await_returns(1, SLACK_S), "the live waiter did not wake");
        h_wait(pids[1], "waiter");
        CHECK_RC(W->rc[1], 0);
        CHECK_EQ_U64(W->seq[1], 7);
        /* the list works as before */
        CHECK_RC(elem_push(db, "src", 8, SHMKV_TAIL), 0);
        CHECK_RC(elem_push(db, "src", 9, SHMKV_HEAD), 0);
        CHECK_LIST(db, "src", ((uint64_t[]){9, 8}), 2);
        CHECK_TABLE(db, "after a waiter was killed");
        CHECK_RC(shmkv_del(db, KEY("src")), 0);
    }
    h_shm_free(W, sizeof *W);
    drop_table(db);
}

/* ---- recreated ---- */

static void recreated(void)
{
    shmkv *db = new_table("recreated");
    W = h_shm_alloc(sizeof *W);
    CHECK_RC(elem_push(db, "src", 0, SHMKV_TAIL), 0);
    uint8_t b[ELEM_MAX];
    size_t vl;
    CHECK_RC(shmkv_pop(db, KEY("src"), SHMKV_TAIL, b, sizeof b, &vl, 0), 0);
    pid_t pid = spawn_waiter(0, 0, "src");
    await_sleepers(&pid, 1);
    CHECK_RC(shmkv_del(db, KEY("src")), 0); /* wakes it: it finds no list, waits on */
    h_sleep(0.3);
    CHECK_EQ_INT(atomic_load(&W->returned), 0);
    CHECK_RC(elem_push(db, "src", 5, SHMKV_TAIL), 0); /* a new list */
    CHECKF(await_returns(1, SLACK_S), "the waiter missed its list made anew");
    h_wait(pid, "waiter");
    CHECK_RC(W->rc[0], 0);
    CHECK_EQ_U64(W->seq[0], 5);
    /* the key becomes a pair under a waiter */
    memset(W, 0, sizeof *W);
    pid = spawn_waiter(0, 0, "src");
    await_sleepers(&pid, 1);
    CHECK_RC(shmkv_del(db, KEY("src")), 0);
    CHECK_RC(shmkv_put(db, KEY("src"), "pair", 4), 0);
    CHECKF(await_returns(1, SLACK_S), "the waiter did not see its key become a pair");
    h_wait(pid, "waiter");
    CHECK_RC(W->rc[0], -EMEDIUMTYPE);
    h_shm_free(W, sizeof *W);
    drop_table(db);
}

/* ---- freed: a waiter whose list is deleted writes nothing into it ---- */

#define NFILL 3000

static void freed(void)
{
    shmkv *db = new_table("freed");
    W = h_shm_alloc(sizeof *W);
    CHECK_RC(elem_push(db, "src", 0, SHMKV_TAIL), 0);
    uint8_t v[300];
    size_t vl;
    CHECK_RC(shmkv_pop(db, KEY("src"), SHMKV_TAIL, v, sizeof v, &vl, 0), 0);
    pid_t pid = spawn_waiter(0, 0, "src");
    await_sleepers(&pid, 1);
    /* stopped while asleep: it wakes only once the list's memory has new
     * owners (pairs' records, as like as not) */
    kill(pid, SIGSTOP);
    int st;
    CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
    CHECK_RC(shmkv_del(db, KEY("src")), 0);
    char k[32];
    for (int i = 0; i < NFILL; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "fill-%d", i);
        h_val_make(v, sizeof v, k, kl, (uint64_t)i);
        CHECK_RC(shmkv_put(db, k, kl, v, sizeof v), 0);
    }
    kill(pid, SIGCONT);
    h_sleep(0.2); /* it looks at its list again, finds none, sleeps on */
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    long bad = 0;
    for (int i = 0; i < NFILL; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "fill-%d", i);
        bad += shmkv_get(db, k, kl, v, sizeof v, &vl) != 0 || !h_val_check(v, vl, k, kl, NULL);
    }
    CHECKF(bad == 0, "%ld values damaged by a waiter of a deleted list", bad);
    h_shm_free(W, sizeof *W);
    drop_table(db);
}

/* neighbour: a table of one shard, a waiter on "idle" for 1.5 s while this
 * process pushes and pops on "busy" for 1.2 s.  (A waiter that watched
 * again after every move of the word it had seen would keep going for as
 * long as the pushes came faster than its watch; it watches once a call.) */
static void neighbour(void)
{
    h_name(g_name, sizeof g_name, "neighbour");
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = 256 << 10}; /* one shard */
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(g_name, &o, &db), 0);
    if (!db)
        return;
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv *cdb = open_table();
        char buf[16];
        size_t len;
        struct timespec t0, t1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        CHECK_RC(shmkv_pop(cdb, KEY("idle"), SHMKV_HEAD, buf, sizeof buf, &len, 1500), -EAGAIN);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        double cpu = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        CHECKF(cpu < 0.3, "the waiter used %.3f s of CPU in its 1.5 s wait", cpu);
        shmkv_close(cdb);
        h_child_exit();
    }
    double end = h_now() + 1.2;
    char buf[16];
    size_t len;
    for (unsigned i = 0; h_now() < end; i++) {
        CHECK_RC(shmkv_push(db, KEY("busy"), &i, sizeof i, SHMKV_TAIL), 0);
        CHECK_RC(shmkv_pop(db, KEY("busy"), SHMKV_HEAD, buf, sizeof buf, &len, 0), 0);
        for (double t = h_now() + 10e-6; h_now() < t;) /* a push every ~10 us: more often than */
            ;                                          /* a waiter watches, without hogging the lock */
    }
    h_wait(pid, "waiter");
    drop_table(db);
}

/* ---- bounded ---- */

/* Push element seq of tag "src" to key, bounded to max, waiting ms. */
static int push_max(shmkv *db, const char *key, uint64_t seq, int end, uint64_t max, int64_t ms)
{
    uint8_t b[ELEM_MAX];
    shmkv_elem e = {b, elem_make(b, "src", seq)};
    return shmkv_push_bounded(db, KEY(key), &e, 1, end, max, ms);
}

/* A bounded pusher waiting for ever: element 100 + i at the tail of key. */
static pid_t spawn_pusher(int i, const char *key, uint64_t max)
{
    pid_t pid = h_fork();
    if (pid)
        return pid;
    shmkv *db = open_table();
    atomic_fetch_add(&W->started, 1);
    atomic_store(&W->rc[i], push_max(db, key, 100 + (uint64_t)i, SHMKV_TAIL, max, -1));
    atomic_fetch_add(&W->returned, 1);
    shmkv_close(db);
    h_child_exit();
}

static void bounded(void)
{
    shmkv *db = new_table("bounded");
    W = h_shm_alloc(sizeof *W);
    uint8_t b[ELEM_MAX];
    size_t vl;
    shmkv_elem two[2] = {{"a", 1}, {"b", 1}};
    /* arguments: a bound nothing fits, a pair's key */
    CHECK_RC(shmkv_push_bounded(db, KEY("q"), two, 1, SHMKV_TAIL, 0, 0), -EINVAL);
    CHECK_RC(shmkv_push_bounded(db, KEY("q"), two, 2, SHMKV_TAIL, 1, -1), -EINVAL);
    CHECK_RC(shmkv_push_bounded(db, KEY("q"), NULL, 1, SHMKV_TAIL, 5, 0), -EINVAL);
    CHECK_RC(shmkv_push_bounded(db, KEY("q"), two, 1, 7, 5, 0), -EINVAL);
    CHECK_RC(shmkv_put(db, KEY("pair"), "v", 1), 0);
    CHECK_RC(shmkv_push_bounded(db, KEY("pair"), two, 1, SHMKV_TAIL, 5, 0), -EMEDIUMTYPE);
    /* an absent list is made; a full one refuses at once, or after the timeout */
    for (uint64_t i = 0; i < 3; i++)
        CHECK_RC(push_max(db, "q", i, SHMKV_TAIL, 3, 0), 0);
    CHECK_RC(push_max(db, "q", 9, SHMKV_TAIL, 3, 0), -EAGAIN);
    CHECK_RC(push_max(db, "q", 9, SHMKV_HEAD, 3, 0), -EAGAIN);
    double t0 = h_now();
    CHECK_RC(push_max(db, "q", 9, SHMKV_TAIL, 3, 80), -EAGAIN);
    double secs = h_now() - t0;
    CHECKF(secs >= 0.078 && secs < 0.08 + SLACK_S, "a full push with a timeout of 80 ms returned after %.3f s", secs);
    CHECK_RC(shmkv_push_bounded(db, KEY("q"), two, 2, SHMKV_TAIL, 4, 0), -EAGAIN); /* one place, two elements */
    CHECK_LIST_OF(db, "q", "src", ((uint64_t[]){0, 1, 2}), 3);
    CHECK_RC(push_max(db, "q", 3, SHMKV_TAIL, 4, 0), 0); /* a wider bound: room */
    CHECK_RC(shmkv_pop(db, KEY("q"), SHMKV_TAIL, b, sizeof b, &vl, 0), 0);

    /* two pushers asleep on the full list; one pop wakes one, the other
     * sleeps on; a killed sleeper leaves the list usable */
    memset(W, 0, sizeof *W);
    pid_t pids[3] = {spawn_pusher(0, "q", 3), spawn_pusher(1, "q", 3), spawn_pusher(2, "q", 3)};
    await_sleepers(pids, 3);
    CHECK_EQ_U64(atomic_load(&W->returned), 0);
    kill(pids[2], SIGKILL);
    int st;
    waitpid(pids[2], &st, 0);
    CHECK(WIFSIGNALED(st));
    CHECK_RC(shmkv_pop(db, KEY("q"), SHMKV_HEAD, b, sizeof b, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(b, vl, "src"), 0);
    CHECKF(await_returns(1, SLACK_S), "no sleeping pusher woke for the room a pop made");
    h_sleep(0.05);
    CHECK_EQ_U64(atomic_load(&W->returned), 1); /* one place: one pusher */
    uint64_t len = 0;
    CHECK_RC(shmkv_llen(db, KEY("q"), &len), 0);
    CHECK_EQ_U64(len, 3);
    CHECK_RC(shmkv_pop(db, KEY("q"), SHMKV_HEAD, b, sizeof b, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(b, vl, "src"), 1);
    CHECKF(await_returns(2, SLACK_S), "the second pusher did not wake");
    h_wait(pids[0], "pusher");
    h_wait(pids[1], "pusher");
    CHECK_RC(W->rc[0], 0);
    CHECK_RC(W->rc[1], 0);
    uint64_t got[3];
    size_t n = 0;
    CHECK_RC(list_seqs(db, "q", "src", got, 3, &n), 0);
    CHECKF(n == 3 && got[0] == 2 && ((got[1] == 100 && got[2] == 101) || (got[1] == 101 && got[2] == 100)),
           "the list holds %zu elements, not 2 and the two pushers'", n);
    /* a deleted list wakes its pushers, which make it anew */
    memset(W, 0, sizeof *W);
    pids[0] = spawn_pusher(0, "q", 3);
    await_sleepers(pids, 1);
    CHECK_RC(shmkv_del(db, KEY("q")), 0);
    CHECKF(await_returns(1, SLACK_S), "a pusher did not wake when its list was deleted");
    h_wait(pids[0], "pusher");
    CHECK_RC(W->rc[0], 0);
    CHECK_LIST_OF(db, "q", "src", ((uint64_t[]){100}), 1);

    /* no wake-up lost: a pusher asleep on a list of one place is back
     * within milliseconds of each pop (a lost one costs a sleep slice) */
    enum { BROUNDS = 40 };
    CHECK_RC(shmkv_del(db, KEY("q")), 0);
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv *cdb = open_table();
        for (uint64_t i = 0; i < BROUNDS; i++)
            CHECK_RC(push_max(cdb, "q", i, SHMKV_TAIL, 1, -1), 0);
        shmkv_close(cdb);
        h_child_exit();
    }
    double rtt[BROUNDS];
    for (int i = 0; i < BROUNDS; i++) {
        double end = h_now() + SLACK_S;
        while (shmkv_llen(db, KEY("q"), &len) == 0 && len == 0 && h_now() < end)
            sched_yield();
        CHECK_EQ_U64(len, 1);
        h_sleep(0.002); /* the pusher's next push finds no room and sleeps */
        double t = h_now();
        CHECK_RC(shmkv_pop(db, KEY("q"), SHMKV_HEAD, b, sizeof b, &vl, 0), 0);
        CHECK_EQ_U64(elem_seq(b, vl, "src"), (uint64_t)i);
        end = h_now() + SLACK_S;
        while (i + 1 < BROUNDS && shmkv_llen(db, KEY("q"), &len) == 0 && len == 0 && h_now() < end)
            sched_yield();
        rtt[i] = h_now() - t;
    }
    h_wait(pid, "pusher");
    qsort(rtt, BROUNDS - 1, sizeof rtt[0], cmp_double);
    CHECKF(rtt[BROUNDS / 2] < 0.02, "a sleeping pusher took %.1f ms (median) to push after a pop",
           rtt[BROUNDS / 2] * 1e3);
    h_shm_free(W, sizeof *W);
    drop_table(db);
}

/* ---- forget ---- */

/* Push an element and pop it back, n times, with nobody waiting: how
 * many futex wakes did this process make meanwhile? */
static long quiet_wakes(shmkv *db, const char *key, int n)
{
    uint8_t b[ELEM_MAX];
    size_t vl;
    long w0 = shmkv__sleepers_wakes();
    for (int i = 0; i < n; i++) {
        CHECK_RC(elem_push(db, key, (uint64_t)i, SHMKV_TAIL), 0);
        CHECK_RC(shmkv_pop(db, KEY(key), SHMKV_HEAD, b, sizeof b, &vl, 0), 0);
    }
    return shmkv__sleepers_wakes() - w0;
}

static void kill_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st));
}

#define EPOCHS2_S 0.6 /* two epochs of the sleepers' count (2 x 268 ms) and some */

static void forget(void)
{
    shmkv *db = new_table("forget");
    W = h_shm_alloc(sizeof *W);
    uint8_t b[ELEM_MAX];
    size_t vl;
    CHECK_RC(elem_push(db, "src", 0, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_pop(db, KEY("src"), SHMKV_HEAD, b, sizeof b, &vl, 0), 0);
    CHECKF(quiet_wakes(db, "src", 100) == 0, "pushes and pops made futex wakes with nobody asleep");

    /* a popper killed in its sleep: pushes wake for it a while, then not */
    pid_t pid = spawn_waiter(0, 0, "src");
    await_sleepers(&pid, 1);
    kill_reap(pid);
    CHECKF(quiet_wakes(db, "src", 10) > 0, "the pushes do not wake a popper just killed asleep (still counted)");
    h_sleep(EPOCHS2_S);
    long n = quiet_wakes(db, "src", 1000);
    CHECKF(n == 0, "1000 pushes and pops made %ld futex wakes for a popper killed %.1f s before", n, EPOCHS2_S);

    /* a bounded pusher killed in its sleep: the same for pops */
    CHECK_RC(elem_push(db, "src", 1, SHMKV_TAIL), 0);
    memset(W, 0, sizeof *W);
    pid = spawn_pusher(0, "src", 1);
    await_sleepers(&pid, 1);
    kill_reap(pid);
    CHECK_RC(shmkv_pop(db, KEY("src"), SHMKV_HEAD, b, sizeof b, &vl, 0), 0);
    h_sleep(EPOCHS2_S);
    n = quiet_wakes(db, "src", 1000);
    CHECKF(n == 0, "1000 pushes and pops made %ld futex wakes for a pusher killed %.1f s before", n, EPOCHS2_S);

    /* a popper stopped (SIGSTOP) in its sleep for longer than its count
     * remembers: let go, it still gets the next element, late by one
     * sleep slice at most */
    memset(W, 0, sizeof *W);
    pid = spawn_waiter(0, 0, "src");
    await_sleepers(&pid, 1);
    kill(pid, SIGSTOP);
    h_sleep(EPOCHS2_S);
    CHECK_RC(elem_push(db, "src", 5, SHMKV_TAIL), 0); /* (the kernel holds no one to wake) */
    kill(pid, SIGCONT);
    CHECKF(await_returns(1, SLACK_S), "a popper stopped in its sleep did not get the element once let go");
    h_wait(pid, "waiter");
    CHECK_RC(W->rc[0], 0);
    CHECK_EQ_U64(W->seq[0], 5);

    /* a popper asleep for several epochs is still counted: each push
     * wakes it at once (uncounted, it would come back only at the end of
     * its sleep slice, 100 ms) */
    enum { LROUNDS = 5 };
    double lat[LROUNDS];
    long w0 = shmkv__sleepers_wakes();
    for (int i = 0; i < LROUNDS; i++) {
        memset(W, 0, sizeof *W);
        pid = spawn_waiter(0, 0, "src");
        await_sleepers(&pid, 1);
        h_sleep(EPOCHS2_S + 0.1 * i);
        double t = h_now();
        CHECK_RC(elem_push(db, "src", 10 + (uint64_t)i, SHMKV_TAIL), 0);
        CHECKF(await_returns(1, SLACK_S), "a popper asleep %.1f s did not wake", EPOCHS2_S + 0.1 * i);
        lat[i] = h_now() - t;
        h_wait(pid, "waiter");
        CHECK_RC(W->rc[0], 0);
        CHECK_EQ_U64(W->seq[0], 10 + (uint64_t)i);
    }
    qsort(lat, LROUNDS, sizeof lat[0], cmp_double);
    CHECKF(lat[LROUNDS / 2] < 0.02, "a long sleeper took %.1f ms (median) to wake after a push", lat[LROUNDS / 2] * 1e3);
    CHECKF(shmkv__sleepers_wakes() - w0 >= LROUNDS / 2 + 1, "only %ld of %d pushes woke their long sleeper",
           shmkv__sleepers_wakes() - w0, LROUNDS);
    h_shm_free(W, sizeof *W);
    drop_table(db);
}

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {
        {"bounded", bounded},
        {"neighbour", neighbour},
        {"timeout", timeout},   {"eintr", eintr},     {"wake_one", wake_one},
        {"pingpong", pingpong}, {"killed", killed},   {"recreated", recreated},
        {"freed", freed},       {"forget", forget},
    };
    return h_main(argc, argv, "test_queue_wait", parts, H_NPARTS(parts));
}
