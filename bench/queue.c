/*
 * queue.c - shmkv-bench --queue: producer and consumer processes passing
 * messages through a queue (queue.h): shmkv's lists next to POSIX message
 * queues, a pipe, Redis lists and SharedHashFile's queues.
 *
 * Throughput: for 1 and 2 producers, 1 and 2 consumers, messages of 64 B
 * and 4 KiB, single and in batches of 64: the producers push
 * --queue-items messages in all (each its share, in order), the consumers
 * pop them, waiting in the kernel when the queue is empty (SharedHashFile
 * polls: it cannot wait).  The time runs from the release of all
 * processes together to the last message popped; every message is
 * counted and checksummed (its tag), so a lost, doubled or damaged one
 * fails the run.  Then each consumer is sent a stop message.  A cell
 * whose first run is over in less than --queue-min-ms is run again with
 * proportionally more messages (cell_items), so that the fast systems'
 * figures are not mostly their start-up; the report lists those cells.
 *
 * Wake-up latency: one producer, one consumer waiting on the empty queue;
 * the producer pushes a 64-byte message stamped with the time just before
 * its push, waits until the consumer has it, pauses 100 us so that the
 * consumer sleeps again, and so on (--queue-wakes times); the latency is
 * the time from the stamp to the consumer's pop returning.
 */
#include "bench.h"
#include "queue.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QMAX_PROCS 2
#define HDR 16                     /* tag, stamp */

static const struct qpeer *const peers[] = {&qpeer_shmkv, &qpeer_mq, &qpeer_pipe, &qpeer_redis, &qpeer_redis_p,
                                            &qpeer_shf, &qpeer_shmkv_b};
#define NPEERS (sizeof peers / sizeof peers[0])

/* What the processes of one run report, in shared memory.  Each side's
 * report and the consumers' count have cache lines of their own: a
 * producer's per-message store and a consumer's per-message add on one
 * line cost every system a cross-core round trip per message, the
 * harness's and not the queue's (some 20 % of shmkv's 4 KiB singles). */
struct qside {
    _Alignas(64) uint64_t n, sum;  /* messages, the sum of mix64(tag) */
    _Atomic uint64_t last_ns;      /* consumer: when its pop completed the count (0: not it) */
    int error;
    char err[300];
};
struct qshared {
    _Alignas(64) _Atomic uint64_t consumed;
    _Alignas(64) _Atomic uint32_t acked;        /* the latency test: messages the consumer has */
    struct qside prod[QMAX_PROCS], cons[QMAX_PROCS];
    struct hist lat;
};

static struct qshared *S;

static uint64_t tag_of(int p, uint64_t seq) { return (uint64_t)p << 40 | seq; }

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
    struct timespec ts = {0, 50000000};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, v, &ts, NULL, 0);
}

static void sleep_ns(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* ---- the processes ---------------------------------------------------- */

/* A child's end: its error into side, exit status 0 or 1. */
__attribute__((noreturn)) static void child_exit(struct qconn *c, struct qside *side, int rc)
{
    if (rc) {
        side->error = 1;
        snprintf(side->err, sizeof side->err, "%s", c->err[0] ? c->err : "failed");
    }
    _exit(rc ? 1 : 0);
}

static void producer(struct qrun *q, int p, int nprod, uint64_t items, struct qconn *c)
{
    unsigned char *msgs = calloc(QBATCH_MAX, q->size);
    struct qside *me = &S->prod[p];
    uint64_t share = items / (uint64_t)nprod + ((uint64_t)p < items % (uint64_t)nprod);
    int rc = msgs ? 0 : -1;
    for (uint64_t seq = 0; !rc && seq < share;) {
        unsigned n = share - seq < q->batch ? (unsigned)(share - seq) : q->batch;
        for (unsigned i = 0; i < n; i++) { /* (no stamp: the latency test's prober stamps its own) */
            uint64_t tag = tag_of(p, seq + i);
            memcpy(msgs + i * q->size, &tag, 8);
            me->sum += mix64(tag);
        }
        rc = q->p->push(c, msgs, n);
        seq += n;
        me->n = seq;
    }
    if (!rc && q->p->flush)
        rc = q->p->flush(c);
    free(msgs);
    child_exit(c, me, rc);
}

/* Pop until a stop message; latency: time each and acknowledge it.
 * Throughput: the consumer whose pop brings the count to items notes the
 * time (a clock read per pop would be the harness's cost, not the
 * queue's: a tenth of a 4 KiB message's time through shmkv). */
static void consumer(struct qrun *q, int k, uint64_t items, int latency, struct qconn *c)
{
    unsigned char *buf = malloc(QBATCH_MAX * q->size);
    struct qside *me = &S->cons[k];
    int rc = buf ? 0 : -1;
    for (int stop = 0; !rc && !stop;) {
        unsigned n = 0;
        rc = q->p->pop(c, buf, q->batch, &n);
        uint64_t t = latency ? now_ns() : 0;
        for (unsigned i = 0; !rc && i < n; i++) {
            uint64_t tag, stamp;
            memcpy(&tag, buf + i * q->size, 8);
            memcpy(&stamp, buf + i * q->size + 8, 8);
            if (tag == QMSG_STOP) {
                stop = 1;
                continue;
            }
            me->n++;
            me->sum += mix64(tag) + (q->corrupt && k == 0 && me->n == 1); /* the self-test's error */
            if (latency) {
                hist_add(&S->lat, t - stamp);
                atomic_fetch_add(&S->acked, 1);
                futex_wake(&S->acked);
            }
        }
        if (n && !stop && atomic_fetch_add(&S->consumed, n) + n >= items)
            me->last_ns = now_ns();
    }
    free(buf);
    child_exit(c, me, rc);
}

/* The latency test's producer: one message at a time to a waiting consumer. */
static void prober(struct qrun *q, uint64_t wakes, struct qconn *c)
{
    unsigned char *msg = calloc(1, q->size);
    int rc = msg ? 0 : -1;
    for (uint32_t i = 0; !rc && i < wakes; i++) {
        for (uint32_t a; (a = atomic_load(&S->acked)) < i;)
            futex_wait(&S->acked, a);
        sleep_ns(100000); /* the consumer is asleep again */
        uint64_t tag = tag_of(0, i), t = now_ns();
        memcpy(msg, &tag, 8);
        memcpy(msg + 8, &t, 8);
        S->prod[0].sum += mix64(tag);
        rc = q->p->push(c, msg, 1);
        if (!rc && q->p->flush)
            rc = q->p->flush(c);
        S->prod[0].n = i + 1;
    }
    free(msg);
    child_exit(c, &S->prod[0], rc);
}

enum role { PRODUCER, CONSUMER, PROBER };

/* All messages popped, and the time of the last one noted. */
static bool ended(int ncons, uint64_t items)
{
    bool timed = false;
    for (int i = 0; i < ncons; i++)
        timed |= atomic_load(&S->cons[i].last_ns) != 0;
    return atomic_load(&S->consumed) >= items && timed;
}

/* Fork a process of the run: it opens its connection, says it is ready
 * on ready[1], waits for go[1] to close, then works.  Its pid, or -1. */
static pid_t spawn(struct qrun *q, enum role role, int i, int nprod, uint64_t items, int latency, const int *ready,
                   const int *go)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid)
        return pid;
    struct qconn c = {.q = q};
    struct qside *side = role == CONSUMER ? &S->cons[i] : &S->prod[i];
    char b = 1;
    close(ready[0]);
    close(go[1]);
    if (q->p->open(q, &c))
        child_exit(&c, side, -1);
    if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 0)
        child_exit(&c, side, -1);
    if (role == PRODUCER)
        producer(q, i, nprod, items, &c);
    else if (role == CONSUMER)
        consumer(q, i, items, latency, &c);
    prober(q, items, &c);
    _exit(1); /* not reached */
}

/* ---- a run ------------------------------------------------------------- */

struct qresult {
    int ok;
    double secs, mps;              /* time, M messages/s */
    char why[400];
};

/* Stop the consumers: a stop message at a time, until all have exited (a
 * consumer popping a batch may take two). */
static int stop_consumers(struct qrun *q, pid_t *cons, int ncons, char *why, size_t n)
{
    struct qconn c = {.q = q};
    unsigned char *msg = calloc(1, q->size);
    int left = ncons, rc = msg && !q->p->open(q, &c) ? 0 : -1;
    uint64_t stop = QMSG_STOP;
    if (msg)
        memcpy(msg, &stop, 8);
    for (int tries = 0; !rc && left && tries < 3000; tries++) {
        rc = q->p->push(&c, msg, 1);
        if (!rc && q->p->flush)
            rc = q->p->flush(&c);
        for (int w = 0, before = left; w < 100 && left == before; w++) { /* one of them ends */
            for (int i = 0; i < ncons; i++)
                if (cons[i] > 0 && waitpid(cons[i], NULL, WNOHANG) == cons[i])
                    cons[i] = 0, left--;
            if (left == before)
                sleep_ns(1000000);
        }
    }
    if (rc)
        snprintf(why, n, "stopping the consumers: %s", c.err[0] ? c.err : "cannot open the queue");
    else if (left)
        snprintf(why, n, "%d consumers did not stop", left);
    q->p->close(&c);
    free(msg);
    return rc || left ? -1 : 0;
}

/* Every message pushed popped exactly once: the counts and sums agree. */
static void verify(int nprod, int ncons, uint64_t items, struct qresult *r)
{
    uint64_t pn = 0, ps = 0, cn = 0, cs = 0;
    for (int i = 0; i < nprod; i++)
        pn += S->prod[i].n, ps += S->prod[i].sum;
    for (int i = 0; i < ncons; i++)
        cn += S->cons[i].n, cs += S->cons[i].sum;
    for (int i = 0; i < QMAX_PROCS && !r->why[0]; i++)
        if (S->prod[i].error || S->cons[i].error)
            snprintf(r->why, sizeof r->why, "%s %d: %s", S->prod[i].error ? "producer" : "consumer", i,
                     S->prod[i].error ? S->prod[i].err : S->cons[i].err);
    if (!r->why[0] && (pn != items || cn != items || ps != cs))
        snprintf(r->why, sizeof r->why, "%" PRIu64 " messages pushed, %" PRIu64 " popped (of %" PRIu64 "), checksums %s",
                 pn, cn, items, ps == cs ? "agree" : "differ");
    r->ok = !r->why[0];
}

/* One run: nprod producers (or the prober), ncons consumers. */
static void run(struct qrun *q, int nprod, int ncons, uint64_t items, int latency, double timeout,
                struct qresult *r)
{
    int ready[2], go[2];
    pid_t prod[QMAX_PROCS] = {0}, cons[QMAX_PROCS] = {0};
    memset(S, 0, sizeof *S);
    memset(r, 0, sizeof *r);
    if (q->p->setup(q, r->why, sizeof r->why))
        return;
    if (pipe(ready) || pipe(go)) {
        snprintf(r->why, sizeof r->why, "pipe: %s", strerror(errno));
        q->p->teardown(q);
        return;
    }
    for (int i = 0; i < ncons; i++)
        q->cl->kids[i] = cons[i] = spawn(q, CONSUMER, i, nprod, items, latency, ready, go);
    for (int i = 0; i < nprod; i++)
        q->cl->kids[QMAX_PROCS + i] = prod[i] = spawn(q, latency ? PROBER : PRODUCER, i, nprod, items, latency, ready, go);
    close(ready[1]);
    close(go[0]);
    char b;
    for (int i = 0; i < nprod + ncons; i++)
        if (read(ready[0], &b, 1) != 1)
            break; /* a process failed: verify says which */
    uint64_t t0 = now_ns();
    double end = now_sec() + timeout;
    close(go[1]);
    for (int left = nprod; left && now_sec() < end;) {
        for (int i = 0; i < nprod; i++)
            if (prod[i] > 0 && waitpid(prod[i], NULL, WNOHANG) == prod[i])
                prod[i] = 0, left--;
        if (left)
            sleep_ns(1000000);
    }
    while (!ended(ncons, items) && now_sec() < end) {
        int dead = 0;
        for (int i = 0; i < ncons; i++)
            dead |= S->cons[i].error;
        if (dead)
            break;
        sleep_ns(1000000);
    }
    if (now_sec() >= end) { /* too slow: stop everything, fail the run */
        snprintf(r->why, sizeof r->why, "not done after %.0f s (%" PRIu64 " of %" PRIu64 " messages popped)", timeout,
                 (uint64_t)atomic_load(&S->consumed), items);
        for (int i = 0; i < QMAX_PROCS; i++) {
            if (i < nprod && prod[i] > 0)
                kill(prod[i], SIGKILL), waitpid(prod[i], NULL, 0);
            if (i < ncons && cons[i] > 0)
                kill(cons[i], SIGKILL), waitpid(cons[i], NULL, 0), cons[i] = 0;
        }
    }
    uint64_t t1 = t0;
    for (int i = 0; i < ncons; i++)
        t1 = S->cons[i].last_ns > t1 ? S->cons[i].last_ns : t1;
    if (!r->why[0] && stop_consumers(q, cons, ncons, r->why, sizeof r->why))
        for (int i = 0; i < ncons; i++)
            if (cons[i] > 0)
                kill(cons[i], SIGKILL), waitpid(cons[i], NULL, 0);
    close(ready[0]);
    memset((void *)q->cl->kids, 0, sizeof q->cl->kids);
    q->p->teardown(q);
    if (!r->why[0])
        verify(nprod, ncons, items, r);
    r->secs = (double)(t1 - t0) / 1e9;
    r->mps = r->secs > 0 ? (double)items / r->secs / 1e6 : 0;
}

/* ---- the matrix and the report ------------------------------------------ */

struct cell {
    int prod, cons;
    size_t size;
    unsigned batch;
};

static const struct cell cells[] = {
    {1, 1, 64, 1},   {1, 1, 64, 64},   {1, 2, 64, 1},   {1, 2, 64, 64},
    {2, 1, 64, 1},   {2, 1, 64, 64},   {2, 2, 64, 1},   {2, 2, 64, 64},
    {1, 1, 4096, 1}, {1, 1, 4096, 64}, {1, 2, 4096, 1}, {1, 2, 4096, 64},
    {2, 1, 4096, 1}, {2, 1, 4096, 64}, {2, 2, 4096, 1}, {2, 2, 4096, 64},
};
#define NCELLS (sizeof cells / sizeof cells[0])

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The peers of --system (all: those that can run here). */
static int choose(const struct config *c, const struct qpeer **use, int *n)
{
    const char *list = c->systems ? c->systems : "all";
    *n = 0;
    for (size_t i = 0; i < NPEERS; i++) {
        const char *why = !peers[i]                ? NULL
                          : peers[i]->unavailable ? peers[i]->unavailable() : NULL;
        if (!peers[i]) /* a peer whose file the build left out (queue.h) */
            continue;
        char pat[40];
        snprintf(pat, sizeof pat, ",%s,", peers[i]->name);
        char all[300];
        snprintf(all, sizeof all, ",%s,", list);
        int named = strstr(all, pat) != NULL;
        if (!named && strcmp(list, "all"))
            continue;
        if (why) {
            printf("# %s: left out: %s\n", peers[i]->name, why);
            if (named)
                return -1;
            continue;
        }
        use[(*n)++] = peers[i];
    }
    return *n ? 0 : -1;
}

static void machine(void)
{
    char line[256] = "?", model[256] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fgets(line, sizeof line, f))
        line[strcspn(line, "\n")] = 0;
    if (f)
        fclose(f);
    if ((f = fopen("/proc/cpuinfo", "r"))) {
        while (fgets(model, sizeof model, f) && strncmp(model, "model name", 10))
            ;
        fclose(f);
    }
    char *m = strchr(model, ':');
    printf("# machine: %ld CPUs, %s", sysconf(_SC_NPROCESSORS_ONLN), m ? m + 2 : "?\n");
    printf("# load average (1, 5, 15 min): %s\n", line);
}

/* One run of a cell; 0 if it failed (said on stderr). */
static int run_cell(const struct config *c, struct cleanup *clean, const struct qpeer *p, const struct cell *cl,
                    uint64_t items, struct qresult *res)
{
    struct qrun q = {.p = p, .size = cl->size, .batch = cl->batch, .dir = c->dir, .cl = clean,
                     .corrupt = c->self_test_corrupt};
    run(&q, cl->prod, cl->cons, items, 0, c->queue_timeout, res);
    if (!res->ok)
        fprintf(stderr, "shmkv-bench: %s, P %d C %d, %zu B, batch %u: %s\n", p->name, cl->prod, cl->cons, cl->size,
                cl->batch, res->why);
    return res->ok;
}

/* The messages a cell's runs carry: --queue-items, or more (up to 64
 * times) where a first run with that many took under --queue-min-ms,
 * so that a fast system's time is its steady work and not what starting
 * up costs (a queue's first allocations, the processes' release): 200 000
 * messages in batches of 64 pass in some 5 ms.  A first run long enough
 * counts as the cell's first (*first: its M/s, else 0); a shorter one only
 * sizes the cell.  0 if it failed. */
#define CELL_SCALE_MAX 64
static uint64_t cell_items(const struct config *c, struct cleanup *clean, const struct qpeer *p, const struct cell *cl,
                           double *first)
{
    struct qresult res;
    uint64_t items = c->queue_items;
    *first = 0;
    if (c->queue_min_ms <= 0)
        return items;
    if (!run_cell(c, clean, p, cl, items, &res))
        return 0;
    double want = c->queue_min_ms / 1e3 / (res.secs > 1e-6 ? res.secs : 1e-6);
    if (want <= 1)
        *first = res.mps;
    return want <= 1 ? items : items * (uint64_t)(want < CELL_SCALE_MAX ? ceil(want) : CELL_SCALE_MAX);
}

static int throughput(const struct config *c, struct cleanup *clean, const struct qpeer **use, int n,
                      double (*mps)[NPEERS])
{
    int failed = 0, scaled = 0;
    uint64_t items = c->queue_items, more[NCELLS][NPEERS] = {{0}};
    printf("\nthroughput, millions of messages a second (median of %d), %" PRIu64 " messages a cell", c->runs, items);
    if (c->queue_min_ms > 0)
        printf(" (more, up to %dx, where a first run took under %.0f ms: below)", CELL_SCALE_MAX, c->queue_min_ms);
    printf("\n");
    printf("%-2s %-2s %5s %5s |", "P", "C", "size", "batch");
    for (int s = 0; s < n; s++)
        printf(" %8s", use[s]->name);
    printf(" | shmkv/mq\n");
    for (size_t k = 0; k < NCELLS; k++) {
        const struct cell *cl = &cells[k];
        printf("%-2d %-2d %5zu %5u |", cl->prod, cl->cons, cl->size, cl->batch);
        fflush(stdout);
        for (int s = 0; s < n; s++) {
            double v[MAX_RUNS];
            uint64_t cell = cell_items(c, clean, use[s], cl, &v[0]);
            int ok = cell > 0;
            for (int r = v[0] > 0; r < c->runs && ok; r++) {
                struct qresult res;
                ok = run_cell(c, clean, use[s], cl, cell, &res);
                v[r] = res.mps;
            }
            if (cell > items)
                more[k][s] = cell, scaled++;
            qsort(v, (size_t)c->runs, sizeof v[0], cmp_double);
            mps[k][s] = ok ? v[c->runs / 2] : 0;
            failed |= !ok;
            if (ok)
                printf(" %8.3f", mps[k][s]);
            else
                printf(" %8s", "FAILED");
            fflush(stdout);
        }
        double a = mps[k][0], b = n > 1 && use[1] == &qpeer_mq ? mps[k][1] : 0;
        printf(a > 0 && b > 0 ? " | %7.1fx\n" : " |\n", a / (b > 0 ? b : 1));
    }
    if (scaled)
        printf("cells with more messages:\n");
    for (size_t k = 0; scaled && k < NCELLS; k++) {
        int any = 0;
        for (int s = 0; s < n; s++)
            if (more[k][s])
                printf("%s %s %" PRIu64, any++ ? "," : " ", use[s]->name, more[k][s]);
        if (any)
            printf("  (%dP%dC %zu B x%u)\n", cells[k].prod, cells[k].cons, cells[k].size, cells[k].batch);
    }
    return failed;
}

static int latency(const struct config *c, struct cleanup *clean, const struct qpeer **use, int n, double *p50)
{
    int failed = 0;
    printf("\nwake-up latency: a consumer waiting on the empty queue, a 64-byte message at a time\n"
           "(push to pop return; %" PRIu64 " wake-ups each), microseconds\n", c->queue_wakes);
    printf("%-8s %8s %8s %8s %8s\n", "system", "p50", "p99", "p99.9", "max");
    for (int s = 0; s < n; s++) {
        if (use[s] == &qpeer_redis_p)
            continue; /* the same as redis, one message at a time */
        struct qrun q = {.p = use[s], .size = 64, .batch = 1, .dir = c->dir, .cl = clean,
                         .corrupt = c->self_test_corrupt};
        struct qresult res;
        run(&q, 1, 1, c->queue_wakes, 1, c->queue_timeout, &res);
        if (!res.ok) {
            fprintf(stderr, "shmkv-bench: %s, latency: %s\n", use[s]->name, res.why);
            printf("%-8s %8s\n", use[s]->name, "FAILED");
            failed = 1;
            continue;
        }
        p50[s] = hist_quantile_us(&S->lat, 0.5);
        printf("%-8s %8.1f %8.1f %8.1f %8.1f\n", use[s]->name, p50[s], hist_quantile_us(&S->lat, 0.99),
               hist_quantile_us(&S->lat, 0.999), (double)S->lat.max_ns / 1e3);
    }
    return failed;
}

/* The goals of issue 16, against what was measured. */
static void goals(const struct qpeer **use, int n, double (*mps)[NPEERS], const double *p50)
{
    if (n < 2 || use[0] != &qpeer_shmkv || use[1] != &qpeer_mq)
        return;
    double worst_b = 1e9, worst_s = 1e9, worst_sk = 1e9;
    for (size_t k = 0; k < NCELLS; k++) {
        double r = mps[k][1] > 0 ? mps[k][0] / mps[k][1] : 0; /* 0: a run failed */
        if (cells[k].size == 64 && cells[k].batch == 64)
            worst_b = r < worst_b ? r : worst_b;
        if (cells[k].batch == 1 && cells[k].size == 64)
            worst_s = r < worst_s ? r : worst_s;
        if (cells[k].batch == 1 && cells[k].size != 64)
            worst_sk = r < worst_sk ? r : worst_sk;
    }
    printf("\ngoals (the least ratio over the cells it covers):\n");
    if (worst_b > 0 && worst_s > 0 && worst_sk > 0) {
        printf("  batches of 64, 64 B:  shmkv >= 10x mq:  %5.1fx  %s\n", worst_b, worst_b >= 10 ? "met" : "NOT met");
        printf("  single messages, 64 B:  >= 3x mq:       %5.1fx  %s\n", worst_s, worst_s >= 3 ? "met" : "NOT met");
        printf("  single messages, 4 KiB: >= 3x mq:       %5.1fx  %s\n", worst_sk, worst_sk >= 3 ? "met" : "NOT met");
    } else {
        printf("  throughput: not measured (a run failed)\n");
    }
    if (p50[0] > 0)
        printf("  wake-up p50 < 20 us:  shmkv %.1f us      %s\n", p50[0], p50[0] < 20 ? "met" : "NOT met");
    else
        printf("  wake-up: not measured (the run failed)\n");
}

int queue_main(const struct config *c, struct cleanup *cl)
{
    const struct qpeer *use[NPEERS];
    int n;
    cleanup_on_signals(cl);
    cl->undo = mq_restore;
    S = shared_alloc(sizeof *S);
    if (choose(c, use, &n)) {
        fprintf(stderr, "shmkv-bench: --queue: no system to run (of shmkv, mq, pipe, redis, redis-p, shf, shmkv-b)\n");
        return 2;
    }
    long depth;
    printf("# shmkv-bench --queue: processes passing messages; consumers wait in the kernel (shf polls)\n");
    machine();
    printf("# mq holds %s,\n", mq_limits(64, &depth));
    printf("#          %s\n", mq_limits(4096, &depth));
    for (int s = 0; s < n; s++)
        printf("# %-8s %s%s%s\n", use[s]->name, use[s]->note, use[s]->version ? "; " : "",
               use[s]->version ? use[s]->version() : "");
    double(*mps)[NPEERS] = calloc(NCELLS, sizeof *mps), p50[NPEERS] = {0};
    int failed = throughput(c, cl, use, n, mps);
    failed |= latency(c, cl, use, n, p50);
    goals(use, n, mps, p50);
    machine();
    free(mps);
    systems_stop();
    mq_restore();
    return failed;
}
