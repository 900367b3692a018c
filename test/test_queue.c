/*
 * test_queue.c - lists as queues between processes.
 *
 *  fifo:      4 producer and 4 consumer processes pass 1 M checksummed
 *             elements through one list (push at the tail, singly and in
 *             batches; blocking pops at the head, singly and in batches):
 *             every element is received exactly once and, by each
 *             consumer, in the order its producer pushed them.
 *  move_kill: the reliable queue: consumers move each job to a processing
 *             list of their own, then on to "done"; they are killed with
 *             SIGKILL again and again, and a reaper moves a killed
 *             consumer's processing list back to the queue before starting
 *             another.  In the end every job is in "done" exactly once.
 *  push_kill: producers killed again and again while consumers pop: an
 *             acknowledged push is received exactly once; an interrupted
 *             one (a single push or a batch) entirely or not at all.
 * Sizes shrink under ASan (H_ASAN); the structure stays.
 */
#include "harness.h"
#include "list_helpers.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY(s) s, strlen(s)
#define NPROD 4
#define NCONS 4
#define BATCH 32

static const char *const PROD[NPROD] = {"prod-0", "prod-1", "prod-2", "prod-3"};

/* Which producer made this element, and its number: -1 if none did. */
static int whose(const void *v, size_t vl, uint64_t *seq)
{
    for (int p = 0; p < NPROD; p++)
        if ((*seq = elem_seq(v, vl, PROD[p])) != UINT64_MAX)
            return p;
    return -1;
}

/* Push elements lo .. hi-1 of producer p at the tail: one push or one
 * batch. */
static int push_range(shmkv *db, const char *key, int p, uint64_t lo, uint64_t hi)
{
    static uint8_t eb[BATCH][ELEM_MAX];
    shmkv_elem el[BATCH];
    for (uint64_t s = lo; s < hi; s++)
        el[s - lo] = (shmkv_elem){eb[s - lo], elem_make(eb[s - lo], PROD[p], s)};
    return hi - lo == 1 ? shmkv_push(db, KEY(key), el[0].val, el[0].vlen, SHMKV_TAIL)
                        : shmkv_push_many(db, KEY(key), el, (size_t)(hi - lo), SHMKV_TAIL);
}

static shmkv *open_named(const char *name)
{
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        h_child_exit();
    return db;
}

static pid_t spawn(void (*fn)(const char *, int), const char *name, int i)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        fn(name, i);
        h_child_exit();
    }
    return pid;
}

/* A new table (its name into name) with NCONS consumers and NPROD
 * producers started on it. */
static shmkv *start(char *name, const char *tag, void (*prod_fn)(const char *, int), pid_t *prod,
                    void (*cons_fn)(const char *, int), pid_t *cons)
{
    h_name(name, 64, tag);
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        exit(h_done());
    for (int i = 0; i < NCONS; i++)
        cons[i] = spawn(cons_fn, name, i);
    for (int i = 0; i < NPROD; i++)
        prod[i] = spawn(prod_fn, name, i);
    return db;
}

static void finish(shmkv *db, const char *name, const char *when)
{
    CHECK_TABLE(db, when);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static void kill_wait(pid_t pid)
{
    int st;
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

/* ---- fifo ---- */

#define FIFO_ELEMS (H_ASAN ? 100000u : 1000000u)
#define PER_PROD (FIFO_ELEMS / NPROD)

struct fifo {
    _Atomic long received;
    _Atomic uint8_t got[NPROD][PER_PROD];
};
static struct fifo *F;

static void fifo_producer(const char *name, int p)
{
    shmkv *db = open_named(name);
    h_rng r = h_rng_new((uint64_t)p + 100);
    for (uint64_t s = 0; s < PER_PROD;) {
        uint64_t n = h_below(&r, 3) ? 1 + h_below(&r, BATCH) : 1;
        n = n < PER_PROD - s ? n : PER_PROD - s;
        int rc = push_range(db, "q", p, s, s + n);
        CHECK_RC(rc, 0);
        if (rc)
            break;
        s += n;
    }
    shmkv_close(db);
}

/* What a consumer saw: elements out of order per producer, damaged. */
struct seen {
    int64_t last[NPROD];
    long order, bad;
};

/* Pop from "q" (single elements and batches) until done() holds with the
 * list found empty, handing each element to see (p -1: damaged). */
static void consume(const char *name, uint64_t seed, int (*done)(void), void (*see)(struct seen *, int, uint64_t),
                    struct seen *sn)
{
    shmkv *db = open_named(name);
    h_rng r = h_rng_new(seed);
    uint8_t *buf = malloc(BATCH * ELEM_MAX);
    size_t lens[BATCH], n;
    for (int stop = 0; !stop;) {
        stop = done();
        size_t max = h_below(&r, 2) ? 1 : BATCH;
        int rc = shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, buf, BATCH * ELEM_MAX, lens, max, &n, 20);
        if (rc == -EAGAIN)
            continue;
        stop = 0;
        CHECK_RC(rc, 0);
        if (rc)
            break;
        size_t pos = 0;
        for (size_t i = 0; i < n; pos += lens[i++]) {
            uint64_t seq;
            int p = whose(buf + pos, lens[i], &seq);
            see(sn, p, seq);
        }
    }
    free(buf);
    shmkv_close(db);
}

static int fifo_done(void) { return atomic_load(&F->received) >= (long)FIFO_ELEMS; }

static void fifo_see(struct seen *sn, int p, uint64_t seq)
{
    if (p < 0 || seq >= PER_PROD) {
        sn->bad++;
        return;
    }
    sn->order += (int64_t)seq <= sn->last[p];
    sn->last[p] = (int64_t)seq;
    atomic_fetch_add(&F->got[p][seq], 1);
    atomic_fetch_add(&F->received, 1);
}

static void fifo_consumer(const char *name, int c)
{
    struct seen sn = {{-1, -1, -1, -1}, 0, 0};
    consume(name, (uint64_t)c + 200, fifo_done, fifo_see, &sn);
    CHECKF(sn.bad == 0 && sn.order == 0, "consumer %d: %ld damaged elements, %ld out of order", c, sn.bad, sn.order);
}

static void fifo(void)
{
    char name[64];
    F = h_shm_alloc(sizeof *F);
    pid_t pids[NPROD + NCONS];
    double t0 = h_now();
    shmkv *db = start(name, "fifo", fifo_producer, pids, fifo_consumer, pids + NPROD);
    for (int i = 0; i < NPROD + NCONS; i++)
        h_wait(pids[i], i < NPROD ? "producer" : "consumer");
    double secs = h_now() - t0;
    long missing = 0, twice = 0;
    for (int p = 0; p < NPROD; p++)
        for (uint64_t s = 0; s < PER_PROD; s++) {
            missing += F->got[p][s] == 0;
            twice += F->got[p][s] > 1;
        }
    CHECKF(missing == 0 && twice == 0 && F->received == (long)FIFO_ELEMS,
           "%ld received of %u: %ld never, %ld more than once", (long)F->received, FIFO_ELEMS, missing, twice);
    CHECK_LIST(db, "q", NULL, 0);
    h_note("%u elements through one list by %d producers and %d consumers in %.1f s", FIFO_ELEMS, NPROD, NCONS, secs);
    h_shm_free(F, sizeof *F);
    finish(db, name, "after the fifo run");
}

/* ---- move_kill: the reliable queue ---- */

#define JOBS (H_ASAN ? 20000u : 200000u)
#define JOBS_PER (JOBS / NPROD)
#define KILL_S (H_ASAN ? 4.0 : 6.0)

struct reliable {
    _Atomic uint32_t delivered[NPROD][JOBS_PER]; /* moved into a processing list */
};
static struct reliable *R;

static void proc_key(char *k, int slot) { snprintf(k, 16, "proc-%d", slot); }

static void job_producer(const char *name, int p)
{
    shmkv *db = open_named(name);
    for (uint64_t s = 0; s < JOBS_PER; s += 8)
        CHECK_RC(push_range(db, "jobs", p, s, s + 8 < JOBS_PER ? s + 8 : JOBS_PER), 0);
    shmkv_close(db);
}

/* Take a job into processing, check it, finish it (on to "done"). */
static void job_consumer(const char *name, int slot)
{
    shmkv *db = open_named(name);
    char pk[16];
    proc_key(pk, slot);
    uint8_t buf[ELEM_MAX], buf2[ELEM_MAX];
    size_t vl, vl2;
    uint64_t done = 0;
    while (shmkv_llen(db, KEY("done"), &done) == 0 && done < JOBS) {
        int rc = shmkv_move(db, KEY("jobs"), SHMKV_HEAD, KEY(pk), SHMKV_TAIL, buf, sizeof buf, &vl, 50);
        if (rc == -EAGAIN)
            continue;
        CHECK_RC(rc, 0);
        uint64_t seq;
        int p = whose(buf, vl, &seq);
        CHECKF(p >= 0 && seq < JOBS_PER, "consumer %d: a damaged job", slot);
        if (rc || p < 0 || seq >= JOBS_PER)
            break;
        atomic_fetch_add(&R->delivered[p][seq], 1);
        if (seq % 64 == 0)
            h_sleep(0.001); /* a slow job: kills find some in processing */
        rc = shmkv_move(db, KEY(pk), SHMKV_HEAD, KEY("done"), SHMKV_TAIL, buf2, sizeof buf2, &vl2, 0);
        CHECKF(rc == 0 && vl2 == vl && !memcmp(buf, buf2, vl), "consumer %d: finishing: %s", slot, h_errname(rc));
    }
    shmkv_close(db);
}

/* What a reaper does for a dead consumer: its jobs back to the queue. */
static long drain(shmkv *db, int slot)
{
    char pk[16];
    proc_key(pk, slot);
    uint8_t buf[ELEM_MAX];
    size_t vl;
    long n = 0;
    int rc;
    while ((rc = shmkv_move(db, KEY(pk), SHMKV_TAIL, KEY("jobs"), SHMKV_HEAD, buf, sizeof buf, &vl, 0)) == 0)
        n++;
    CHECK_RC(rc, -EAGAIN);
    return n;
}

struct done_seen {
    uint8_t n[NPROD][JOBS_PER];
    long bad;
};

static int see_done(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    struct done_seen *d = ctx;
    uint64_t seq;
    int p = whose(v, vl, &seq);
    (void)k, (void)kl;
    if (p < 0 || seq >= JOBS_PER)
        d->bad++;
    else
        d->n[p][seq]++;
    return 0;
}

static void move_kill(void)
{
    char name[64];
    R = h_shm_alloc(sizeof *R);
    pid_t prod[NPROD], cons[NCONS];
    shmkv *db = start(name, "reliable", job_producer, prod, job_consumer, cons);
    h_rng r = h_rng_new(77);
    long kills = 0, drained = 0;
    uint64_t done = 0;
    for (double end = h_now() + KILL_S; h_now() < end && shmkv_llen(db, KEY("done"), &done) == 0 && done < JOBS;) {
        h_sleep((double)h_below(&r, 5000) / 1e6);
        int slot = (int)h_below(&r, NCONS);
        kill_wait(cons[slot]);
        kills++;
        drained += drain(db, slot);
        cons[slot] = spawn(job_consumer, name, slot);
        if (kills % 25 == 0)
            CHECK_TABLE(db, "while consumers are being killed");
    }
    for (int i = 0; i < NPROD; i++)
        h_wait(prod[i], "producer");
    for (int i = 0; i < NCONS; i++)
        h_wait(cons[i], "consumer");
    /* every job in "done" once; nothing anywhere else */
    struct done_seen *d = calloc(1, sizeof *d);
    CHECK_RC(shmkv_lrange(db, KEY("done"), 0, -1, see_done, d), 0);
    long missing = 0, twice = 0, redelivered = 0;
    for (int p = 0; p < NPROD; p++)
        for (uint64_t s = 0; s < JOBS_PER; s++) {
            missing += d->n[p][s] == 0;
            twice += d->n[p][s] > 1;
            redelivered += R->delivered[p][s] > 1;
        }
    CHECKF(d->bad == 0 && missing == 0 && twice == 0, "done: %ld damaged, %ld jobs missing, %ld twice", d->bad, missing,
           twice);
    CHECK_LIST(db, "jobs", NULL, 0);
    for (int i = 0; i < NCONS; i++) {
        char pk[16];
        proc_key(pk, i);
        CHECK_LIST(db, pk, NULL, 0);
    }
    CHECKF(kills >= 20 && drained > 0, "%ld kills, %ld jobs found in processing", kills, drained);
    h_note("%u jobs, %ld consumers killed, %ld jobs taken back from processing, %ld delivered more than once", JOBS,
           kills, drained, redelivered);
    free(d);
    h_shm_free(R, sizeof *R);
    finish(db, name, "after the reliable queue");
}

/* ---- push_kill: producers killed ---- */

#define PK_MAX (H_ASAN ? 100000u : 400000u) /* elements a producer slot may push */
#define PK_KILLS 150

struct pslot {
    _Atomic uint64_t next;              /* pushes below are acknowledged */
    _Atomic uint64_t pend_lo, pend_hi;  /* a push in flight (pend_hi 0: none) */
    uint32_t ndoubt;
    uint64_t doubt[PK_KILLS][2];        /* interrupted pushes */
};

struct pk {
    struct pslot slot[NPROD];
    _Atomic int stop;                   /* consumers: finish when the list is empty */
    _Atomic uint8_t got[NPROD][PK_MAX];
};
static struct pk *P;

static void pk_producer(const char *name, int p)
{
    shmkv *db = open_named(name);
    struct pslot *s = &P->slot[p];
    h_rng r = h_rng_new((uint64_t)getpid());
    for (uint64_t lo = atomic_load(&s->next); lo < PK_MAX;) {
        uint64_t hi = lo + (h_below(&r, 2) ? 1 : 1 + h_below(&r, BATCH));
        hi = hi < PK_MAX ? hi : PK_MAX;
        atomic_store(&s->pend_lo, lo);
        atomic_store(&s->pend_hi, hi);
        int rc = push_range(db, "q", p, lo, hi);
        CHECK_RC(rc, 0);
        if (rc)
            break;
        atomic_store(&s->next, hi); /* acknowledged */
        atomic_store(&s->pend_hi, 0);
        lo = hi;
    }
    shmkv_close(db);
}

static int pk_done(void) { return atomic_load(&P->stop); }

static void pk_see(struct seen *sn, int p, uint64_t seq)
{
    if (p < 0 || seq >= PK_MAX)
        sn->bad++;
    else
        atomic_fetch_add(&P->got[p][seq], 1);
}

static void pk_consumer(const char *name, int c)
{
    struct seen sn = {{0}, 0, 0};
    consume(name, (uint64_t)c + 300, pk_done, pk_see, &sn);
    CHECKF(sn.bad == 0, "consumer %d: %ld damaged elements", c, sn.bad);
}

/* After producer slot p was killed: note the push it may have been in. */
static void pk_reap(struct pslot *s)
{
    uint64_t hi = atomic_load(&s->pend_hi), next = atomic_load(&s->next);
    if (hi && next < hi && s->ndoubt < PK_KILLS) { /* in flight: there or not, as a whole */
        s->doubt[s->ndoubt][0] = next;
        s->doubt[s->ndoubt++][1] = hi;
        atomic_store(&s->next, hi); /* never pushed again */
    }
    atomic_store(&s->pend_hi, 0);
}

/* Each element received once, those of an interrupted push all or none. */
static void pk_verify(void)
{
    long lost = 0, twice = 0, split = 0, extra = 0, in = 0, out = 0;
    for (int p = 0; p < NPROD; p++) {
        struct pslot *s = &P->slot[p];
        uint32_t d = 0;
        for (uint64_t q = 0; q < PK_MAX; q++) {
            uint8_t g = P->got[p][q];
            twice += g > 1;
            while (d < s->ndoubt && q >= s->doubt[d][1])
                d++;
            if (d < s->ndoubt && q >= s->doubt[d][0]) { /* in doubt */
                split += g != P->got[p][s->doubt[d][0]];
                if (q == s->doubt[d][0])
                    g ? in++ : out++;
            } else if (q < s->next) {
                lost += g == 0;
            } else {
                extra += g != 0;
            }
        }
    }
    CHECKF(lost == 0 && twice == 0 && split == 0 && extra == 0,
           "%ld acknowledged elements lost, %ld received twice, %ld interrupted batches split, %ld never pushed seen",
           lost, twice, split, extra);
    h_note("interrupted pushes: %ld there whole, %ld not at all", in, out);
}

static void push_kill(void)
{
    char name[64];
    P = h_shm_alloc(sizeof *P);
    pid_t prod[NPROD], cons[NCONS];
    shmkv *db = start(name, "pushkill", pk_producer, prod, pk_consumer, cons);
    h_rng r = h_rng_new(99);
    for (int k = 0; k < PK_KILLS; k++) {
        h_sleep((double)h_below(&r, 10000) / 1e6);
        int p = (int)h_below(&r, NPROD);
        kill_wait(prod[p]);
        pk_reap(&P->slot[p]);
        prod[p] = spawn(pk_producer, name, p);
    }
    for (int i = 0; i < NPROD; i++) { /* the last producers are stopped too: they may be anywhere */
        kill_wait(prod[i]);
        pk_reap(&P->slot[i]);
    }
    atomic_store(&P->stop, 1);
    for (int i = 0; i < NCONS; i++)
        h_wait(cons[i], "consumer");
    CHECK_LIST(db, "q", NULL, 0);
    pk_verify();
    h_shm_free(P, sizeof *P);
    finish(db, name, "after producers were killed");
}

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {{"fifo", fifo}, {"move_kill", move_kill}, {"push_kill", push_kill}};
    return h_main(argc, argv, "test_queue", parts, H_NPARTS(parts));
}
