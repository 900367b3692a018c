/*
 * test_list_threads.c - lists between threads of one process: the
 * ThreadSanitizer version of test_queue (TSan cannot follow processes).
 *
 * Producer threads push checksummed elements to "q" (singly and in
 * batches), mover threads move them on to "mid" one at a time, waiting
 * when "q" is empty, and consumer threads pop them from "mid" (singly and
 * in batches, waiting): every element arrives exactly once, and in its
 * producer's order for each consumer (a move is one atomic step, so the
 * order survives it); pipeline_shard: the same with both lists in one
 * shard.  Meanwhile a thread reads the lists lock-free
 * (llen) and through lrange, on the shared handle and on a read-only one,
 * and two threads churn a list that is pushed to, waited on and deleted
 * again and again.  Afterwards the table must be sound.  ends and lanes:
 * both ends of one list pushed and popped at once, copied lock-free
 * meanwhile; bounded: the same with pushers that wait for room (below);
 * deep: producers far ahead of a consumer, past a full ring of 16 MiB,
 * where their pushes wait for its pops; crowded: a slow writer (lrange on
 * a writable handle: the shard's lock and both lanes) of a list beside
 * one whose lanes many threads keep busy gets its lanes every time.
 */
#include "harness.h"
#include "list_helpers.h"
#include "stop_helpers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY(s) s, strlen(s)
#define NPROD 3
#define NMOVE 2
#define NCONS 3
#define PER_PROD (H_ASAN ? 20000u : 60000u)
#define BATCH 16

static shmkv *db, *ro;
static char mid[32] = "mid"; /* or a key in the shard of "q" (pipeline_shard) */
static _Atomic long received;
static _Atomic int stop;
static _Atomic uint8_t got[NPROD][PER_PROD];
static const char *const TAG[NPROD] = {"t0", "t1", "t2"};

/* A check failed: the threads stop rather than wait for elements a
 * failed pusher never pushes (a producer's -EBADMSG once left the
 * consumers waiting until the test's timeout killed it, 280 s). */
static bool failed(void) { return h_failures_local() > 0; }

/* Which of the n pushers (by tags) made this element, and its number
 * (below per): -1 if none did, or it is damaged. */
static int whose(const void *v, size_t vl, const char *const *tags, int n, uint64_t per, uint64_t *seq)
{
    for (int p = 0; p < n; p++)
        if ((*seq = elem_seq(v, vl, tags[p])) != UINT64_MAX)
            return *seq < per ? p : -1;
    return -1;
}

/* The next batch of a pusher of tag that has pushed s of per: one
 * element or up to BATCH, made in eb, described in el; returns its size. */
static size_t next_batch(h_rng *r, const char *tag, uint64_t s, uint64_t per, uint8_t (*eb)[ELEM_MAX],
                         shmkv_elem *el)
{
    uint64_t n = h_below(r, 2) ? 1 : 1 + h_below(r, BATCH);
    n = n < per - s ? n : per - s;
    for (uint64_t i = 0; i < n; i++)
        el[i] = (shmkv_elem){eb[i], elem_make(eb[i], tag, s + i)};
    return (size_t)n;
}

static void *producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    h_rng r = h_rng_new((uint64_t)p + 1);
    uint8_t eb[BATCH][ELEM_MAX];
    shmkv_elem el[BATCH];
    for (uint64_t s = 0; s < PER_PROD && !failed();) {
        size_t n = next_batch(&r, TAG[p], s, PER_PROD, eb, el);
        CHECK_RC(shmkv_push_many(db, KEY("q"), el, n, SHMKV_TAIL), 0);
        s += n;
    }
    return NULL;
}

static void *mover(void *arg)
{
    (void)arg;
    uint8_t buf[ELEM_MAX];
    size_t vl;
    while (!atomic_load(&stop) && !failed()) {
        int rc = shmkv_move(db, KEY("q"), SHMKV_HEAD, mid, strlen(mid), SHMKV_TAIL, buf, sizeof buf, &vl, 20);
        if (rc != -EAGAIN)
            CHECK_RC(rc, 0);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    h_rng r = h_rng_new((uint64_t)(intptr_t)arg + 10);
    uint8_t *buf = malloc(BATCH * ELEM_MAX);
    size_t lens[BATCH], n;
    int64_t last[NPROD] = {-1, -1, -1};
    long bad = 0;
    while (atomic_load(&received) < (long)(NPROD * PER_PROD) && !failed()) {
        int rc = shmkv_pop_many(db, mid, strlen(mid), SHMKV_HEAD, buf, BATCH * ELEM_MAX, lens,
                                h_below(&r, 2) ? 1 : BATCH, &n, 20);
        if (rc == -EAGAIN)
            continue;
        CHECK_RC(rc, 0);
        if (rc)
            break;
        for (size_t i = 0, pos = 0; i < n; pos += lens[i++]) {
            uint64_t seq;
            int p = whose(buf + pos, lens[i], TAG, NPROD, PER_PROD, &seq);
            if (p < 0 || (int64_t)seq <= last[p]) {
                bad++;
                continue;
            }
            last[p] = (int64_t)seq;
            atomic_fetch_add(&got[p][seq], 1);
        }
        atomic_fetch_add(&received, (long)n);
    }
    CHECKF(bad == 0, "a consumer saw %ld elements damaged or out of order", bad);
    free(buf);
    return NULL;
}

static int count_elem(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl, (void)v, (void)vl;
    ++*(long *)ctx;
    return 0;
}

/* llen and lrange, writable and read-only handles, while it all runs. */
static void *reader(void *arg)
{
    (void)arg;
    long reads = 0;
    while (!atomic_load(&stop)) {
        uint64_t len;
        long n = 0;
        CHECK_RC(shmkv_llen(db, KEY("q"), &len), 0);
        CHECK_RC(shmkv_llen(ro, mid, strlen(mid), &len), 0);
        int rc = shmkv_lrange(db, mid, strlen(mid), 0, 50, count_elem, &n);
        CHECK(rc == 0 || rc == -ENOENT);
        CHECK(n <= 51);
        rc = shmkv_lrange(ro, KEY("q"), -20, -1, count_elem, &n);
        CHECK(rc == 0 || rc == -ENOENT || rc == -EAGAIN);
        reads++;
    }
    h_note("reader: %ld rounds", reads);
    return NULL;
}

/* One thread pushes to "tmp" and deletes it, again and again; the other
 * waits on it. */
static void *churn(void *arg)
{
    uint8_t buf[ELEM_MAX];
    size_t vl;
    while (!atomic_load(&stop)) {
        if (arg) {
            int rc = shmkv_pop(db, KEY("tmp"), SHMKV_HEAD, buf, sizeof buf, &vl, 10);
            CHECK(rc == 0 || rc == -EAGAIN);
        } else {
            CHECK_RC(shmkv_push(db, KEY("tmp"), "x", 1, SHMKV_TAIL), 0);
            int rc = shmkv_del(db, KEY("tmp"));
            CHECK(rc == 0 || rc == -ENOENT);
        }
    }
    return NULL;
}

/* A new table, on db and read-only on ro. */
static void open_both(char *name, size_t cap, const char *what)
{
    h_name(name, cap, what);
    shmkv_options o = {.flags = SHMKV_CREATE};
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    o.flags = SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
}

static void close_both(const char *name)
{
    shmkv_close(ro);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

/* Every one of producers x per elements arrived once: counts[p * per + s]. */
static void check_once(const _Atomic uint8_t *counts, int producers, uint64_t per)
{
    long missing = 0, twice = 0;
    for (uint64_t i = 0; i < (uint64_t)producers * per; i++) {
        missing += counts[i] == 0;
        twice += counts[i] > 1;
    }
    CHECKF(missing == 0 && twice == 0, "%ld elements never arrived, %ld more than once", missing, twice);
}

static void pipeline_run(bool same_shard)
{
    char name[64];
    open_both(name, sizeof name, "lthreads");
    long next = 0;
    if (same_shard)
        key_find(db, mid, sizeof mid, "mid-", &next, key_shard(db, KEY("q")), -1);
    else
        strcpy(mid, "mid");
    atomic_store(&received, 0);
    atomic_store(&stop, 0);
    memset(got, 0, sizeof got);
    pthread_t prod[NPROD], mov[NMOVE], cons[NCONS], other[3];
    double t0 = h_now();
    for (int i = 0; i < NCONS; i++)
        pthread_create(&cons[i], NULL, consumer, (void *)(intptr_t)i);
    for (int i = 0; i < NMOVE; i++)
        pthread_create(&mov[i], NULL, mover, NULL);
    pthread_create(&other[0], NULL, reader, NULL);
    pthread_create(&other[1], NULL, churn, NULL);
    pthread_create(&other[2], NULL, churn, (void *)1);
    for (int i = 0; i < NPROD; i++)
        pthread_create(&prod[i], NULL, producer, (void *)(intptr_t)i);
    for (int i = 0; i < NPROD; i++)
        pthread_join(prod[i], NULL);
    for (int i = 0; i < NCONS; i++)
        pthread_join(cons[i], NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < NMOVE; i++)
        pthread_join(mov[i], NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(other[i], NULL);
    check_once(&got[0][0], NPROD, PER_PROD);
    CHECK_LIST(db, "q", NULL, 0);
    CHECK_LIST(db, mid, NULL, 0);
    CHECK_TABLE(db, "after the threads");
    h_note("%u elements through push, move and pop in %.1f s", NPROD * PER_PROD, h_now() - t0);
    close_both(name);
}

static void pipeline(void) { pipeline_run(false); }

/* The same with both lists in one shard: the movers take its lock and
 * both lanes for every element, beside the producers' tail lane and the
 * consumers' head lane, and the reader's lrange of "mid" waits for both
 * lanes while they are busy. */
static void pipeline_shard(void) { pipeline_run(true); }

/* ---- ends: both ends of one list at once ----
 *
 * Two threads push at the tail (the tail's lane) and two at the head (the
 * slow way, which takes both lanes), singly and in batches; one thread
 * pops at the head (the head's lane) and one at the tail (the slow way);
 * the list runs empty, fills, and its ring grows and spills now and then.
 * A reader copies the whole list lock-free from a read-only handle: every
 * copy must be a state the list was in, so each element sound and each
 * pusher's elements in its order (ascending from the head for tail
 * pushers, descending for head pushers: pops at either end keep the order
 * of what remains).  Every element is received exactly once. */

#define ENDS_PER (H_ASAN ? 15000u : 40000u)
static const char *const ETAG[4] = {"tail0", "tail1", "head0", "head1"};
static _Atomic uint8_t egot[4][ENDS_PER];
static _Atomic long ereceived;
static int ends_npush; /* pushers 0..ends_npush: 4 (both ends), or 2 (the tail only) */
static bool ends_short; /* keep the list short, its ring small: pushes overwrite popped bytes at once */
static uint64_t ends_bound; /* 0, or push with shmkv_push_bounded to at most this many */

static void *ends_pusher(void *arg)
{
    int p = (int)(intptr_t)arg, end = p < 2 ? SHMKV_TAIL : SHMKV_HEAD;
    h_rng r = h_rng_new((uint64_t)p + 100);
    uint8_t eb[BATCH][ELEM_MAX];
    shmkv_elem el[BATCH];
    for (uint64_t s = 0; s < ENDS_PER && !failed();) {
        size_t n = next_batch(&r, ETAG[p], s, ENDS_PER, eb, el); /* at the head: its last first */
        uint64_t len = 0;
        while (ends_short && !ends_bound && shmkv_llen(db, KEY("ends"), &len) == 0 && len > 8 && !failed())
            sched_yield();
        if (ends_bound) { /* waits while the list is full (in slices: the poppers stop if a check fails) */
            int rc;
            while ((rc = shmkv_push_bounded(db, KEY("ends"), el, n, end, ends_bound, 1000)) == -EAGAIN && !failed())
                ;
            CHECK_RC(rc, 0);
        } else
            CHECK_RC(shmkv_push_many(db, KEY("ends"), el, n, end), 0);
        s += n;
        if (!ends_short && h_below(&r, 256) == 0)
            h_sleep(0.001); /* let the poppers empty it now and then */
    }
    return NULL;
}

static void *ends_popper(void *arg)
{
    int end = arg ? SHMKV_TAIL : SHMKV_HEAD;
    h_rng r = h_rng_new((uint64_t)end + 200);
    uint8_t *buf = malloc(BATCH * ELEM_MAX);
    size_t lens[BATCH], n;
    long bad = 0;
    while (atomic_load(&ereceived) < (long)ends_npush * ENDS_PER && !failed()) {
        int rc = shmkv_pop_many(db, KEY("ends"), end, buf, BATCH * ELEM_MAX, lens, h_below(&r, 2) ? 1 : BATCH, &n,
                                5);
        if (rc == -EAGAIN)
            continue;
        CHECK_RC(rc, 0);
        if (rc)
            break;
        for (size_t i = 0, pos = 0; i < n; pos += lens[i++]) {
            uint64_t seq;
            int p = whose(buf + pos, lens[i], ETAG, 4, ENDS_PER, &seq);
            if (p < 0)
                bad++;
            else
                atomic_fetch_add(&egot[p][seq], 1);
        }
        atomic_fetch_add(&ereceived, (long)n);
        if (!ends_short && h_below(&r, 128) == 0)
            h_sleep(0.001); /* and fill up now and then, its ring growing */
    }
    CHECKF(bad == 0, "a popper at the %s saw %ld damaged elements", end == SHMKV_HEAD ? "head" : "tail", bad);
    free(buf);
    return NULL;
}

struct snap {
    int64_t last[4];
    long elems, bad;
};

static int snap_elem(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl;
    struct snap *sn = ctx;
    uint64_t seq;
    int p = whose(v, vl, ETAG, 4, ENDS_PER, &seq);
    sn->elems++;
    if (p < 0) {
        sn->bad++;
        return 0;
    }
    bool up = p < 2; /* tail pushers ascend from the head, head pushers descend */
    if (sn->last[p] >= 0 && (up ? (int64_t)seq <= sn->last[p] : (int64_t)seq >= sn->last[p]))
        sn->bad++;
    sn->last[p] = (int64_t)seq;
    return 0;
}

static void *ends_reader(void *arg)
{
    (void)arg;
    long copies = 0, elems = 0, bad = 0, busy = 0;
    while (atomic_load(&ereceived) < (long)ends_npush * ENDS_PER && !failed()) {
        struct snap sn = {{-1, -1, -1, -1}, 0, 0};
        int rc = shmkv_lrange(ro, KEY("ends"), 0, -1, snap_elem, &sn);
        CHECK(rc == 0 || rc == -ENOENT || rc == -EAGAIN);
        if (rc == -EAGAIN) { /* writers moved it under every copy (fn saw none of them) */
            busy++;
            continue;
        }
        copies++;
        elems += sn.elems;
        bad += sn.bad + (ends_bound && (uint64_t)sn.elems > ends_bound); /* a copy is a state: within the bound */
    }
    CHECKF(bad == 0, "%ld elements of lock-free copies were damaged or out of order", bad);
    h_note("ends: %ld lock-free copies of %ld elements in all, %ld gave up", copies, elems, busy);
    return NULL;
}

static void ends_run(int npush, int npop, bool short_list, uint64_t bound)
{
    ends_npush = npush;
    ends_short = short_list;
    ends_bound = bound;
    atomic_store(&ereceived, 0);
    memset(egot, 0, sizeof egot);
    char name[64];
    open_both(name, sizeof name, "lends");
    pthread_t push[4], pop[2], reader_t;
    double t0 = h_now();
    for (int i = 0; i < npop; i++)
        pthread_create(&pop[i], NULL, ends_popper, (void *)(intptr_t)i);
    pthread_create(&reader_t, NULL, ends_reader, NULL);
    for (int i = 0; i < npush; i++)
        pthread_create(&push[i], NULL, ends_pusher, (void *)(intptr_t)i);
    for (int i = 0; i < npush; i++)
        pthread_join(push[i], NULL);
    for (int i = 0; i < npop; i++)
        pthread_join(pop[i], NULL);
    pthread_join(reader_t, NULL);
    check_once(&egot[0][0], npush, ENDS_PER);
    CHECK_LIST(db, "ends", NULL, 0);
    CHECK_TABLE(db, "after both ends");
    h_note("%u elements in %.1f s", npush * ENDS_PER, h_now() - t0);
    close_both(name);
}

static void ends(void) { ends_run(4, 2, false, 0); }

/* Only the lanes (tail pushes, head pops) on a list kept short, so that
 * pushes write over bytes pops just freed while the reader copies. */
static void lanes(void) { ends_run(2, 1, true, 0); }

/* Both ends, the pushers bounded to BATCH elements: they sleep on the
 * full list and the pops at both ends wake them (a lost wake-up costs a
 * sleep slice, and their batches must all arrive once). */
static void bounded(void) { ends_run(4, 2, true, BATCH); }

/* ---- deep: producers far ahead of their consumer ----
 *
 * Two threads push 4 KiB elements, unbounded, a few thousand past what a
 * ring of 16 MiB holds; one thread starts popping once the ring is full.
 * The pushes past it wait for the consumer's pops, sleeping among the
 * head's sleepers, or spill to the log when none comes (queue.c,
 * lane_push_deep): either way each element arrives once, in its
 * producer's order. */

#define DEEP_SIZE 4096u
#define DEEP_PER (H_ASAN ? 3000u : 4000u) /* per producer: 2 x 4000 x 4 KiB, half again a full ring */
static _Atomic uint8_t dgot[2][DEEP_PER];

static void deep_elem(uint8_t *b, int p, uint64_t seq)
{
    memset(b, (int)(seq * 7 + (uint64_t)p), DEEP_SIZE);
    memcpy(b, &seq, 8);
    b[8] = (uint8_t)p;
}

static void *deep_pusher(void *arg)
{
    int p = (int)(intptr_t)arg;
    uint8_t *b = malloc(DEEP_SIZE);
    for (uint64_t seq = 0; seq < DEEP_PER && !failed(); seq++) {
        deep_elem(b, p, seq);
        CHECK_RC(shmkv_push(db, KEY("deep"), b, DEEP_SIZE, SHMKV_TAIL), 0);
    }
    free(b);
    return NULL;
}

static void *deep_popper(void *arg)
{
    (void)arg;
    uint8_t *b = malloc(DEEP_SIZE), *want = malloc(DEEP_SIZE);
    int64_t last[2] = {-1, -1};
    long bad = 0;
    size_t vl;
    for (uint64_t len = 0; len < 3500 && !failed();) /* about 14 MiB queued */
        CHECK_RC(shmkv_llen(db, KEY("deep"), &len), 0);
    for (uint64_t n = 0; n < 2 * DEEP_PER && !failed(); n++) {
        int rc = shmkv_pop(db, KEY("deep"), SHMKV_HEAD, b, DEEP_SIZE, &vl, 10000);
        CHECK_RC(rc, 0);
        if (rc)
            break;
        uint64_t seq;
        memcpy(&seq, b, 8);
        int p = b[8];
        if (vl != DEEP_SIZE || p > 1 || seq >= DEEP_PER || (int64_t)seq <= last[p]) {
            bad++;
            continue;
        }
        deep_elem(want, p, seq);
        bad += memcmp(b, want, DEEP_SIZE) != 0;
        last[p] = (int64_t)seq;
        atomic_fetch_add(&dgot[p][seq], 1);
    }
    CHECKF(bad == 0, "the consumer saw %ld elements damaged or out of order", bad);
    free(b);
    free(want);
    return NULL;
}

static void deep(void)
{
    char name[64];
    open_both(name, sizeof name, "ldeep");
    pthread_t t[3];
    double t0 = h_now();
    pthread_create(&t[0], NULL, deep_popper, NULL);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[1 + i], NULL, deep_pusher, (void *)(intptr_t)i);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    check_once(&dgot[0][0], 2, DEEP_PER);
    CHECK_LIST(db, "deep", NULL, 0);
    CHECK_TABLE(db, "after a deep queue");
    h_note("%u elements of 4 KiB through a deep queue in %.1f s", 2 * DEEP_PER, h_now() - t0);
    close_both(name);
}

/* ---- crowded: a slow writer beside busy lanes ----
 *
 * Six threads push to "hot" through its tail lane (bounded, so that the
 * list stays short) and two pop it through the head lane, as fast as they
 * can, while another thread copies "cold", a list of the same shard,
 * again and again with lrange on the writable handle: the shard's lock
 * and both lanes, for a copy of a few elements.  Every copy succeeds.
 * Before the lanes were closed ahead of their taking, such a copy could
 * hold the shard's lock and the head lane while it waited for the tail,
 * which the pushers took in turn: the pipeline's consumers gave up once,
 * their lock held for a second by a thread in lrange (-ETIMEDOUT). */

#define CROWD_PUSHERS 6
#define CROWD_S (H_ASAN ? 1.0 : 2.0)
static char cold_key[32];
static size_t cold_len;
static _Atomic long crowd_pushed, crowd_popped;
static _Atomic int crowd_stop;

static void *crowd_pusher(void *arg)
{
    (void)arg;
    uint8_t e[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    shmkv_elem el = {e, sizeof e};
    while (!atomic_load(&crowd_stop) && !failed()) {
        int rc = shmkv_push_bounded(db, KEY("hot"), &el, 1, SHMKV_TAIL, 256, 10);
        CHECK(rc == 0 || rc == -EAGAIN);
        if (rc == 0)
            atomic_fetch_add(&crowd_pushed, 1);
    }
    return NULL;
}

static void *crowd_popper(void *arg)
{
    (void)arg;
    uint8_t buf[BATCH * 8];
    size_t lens[BATCH], n;
    while (!atomic_load(&crowd_stop) && !failed()) {
        int rc = shmkv_pop_many(db, KEY("hot"), SHMKV_HEAD, buf, sizeof buf, lens, BATCH, &n, 10);
        CHECK(rc == 0 || rc == -EAGAIN);
        if (rc == 0)
            atomic_fetch_add(&crowd_popped, (long)n);
    }
    return NULL;
}

static void *crowd_copier(void *arg)
{
    (void)arg;
    long copies = 0;
    double worst = 0;
    while (!atomic_load(&crowd_stop) && !failed()) {
        long n = 0;
        double t0 = h_now();
        CHECK_RC(shmkv_lrange(db, cold_key, cold_len, 0, -1, count_elem, &n), 0);
        CHECK_EQ_INT(n, 4);
        worst = h_now() - t0 > worst ? h_now() - t0 : worst;
        copies++;
    }
    h_note("crowded: %ld copies of the cold list, the slowest %.1f ms", copies, worst * 1e3);
    return NULL;
}

static void crowded(void)
{
    char name[64];
    open_both(name, sizeof name, "lcrowd");
    long next = 0;
    cold_len = key_find(db, cold_key, sizeof cold_key, "cold-", &next, key_shard(db, KEY("hot")), -1);
    for (int i = 0; i < 4; i++)
        CHECK_RC(shmkv_push(db, cold_key, cold_len, "cold", 4, SHMKV_TAIL), 0);
    pthread_t t[CROWD_PUSHERS + 3];
    int nt = 0;
    for (int i = 0; i < CROWD_PUSHERS; i++)
        pthread_create(&t[nt++], NULL, crowd_pusher, NULL);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[nt++], NULL, crowd_popper, NULL);
    pthread_create(&t[nt++], NULL, crowd_copier, NULL);
    h_sleep(CROWD_S);
    atomic_store(&crowd_stop, 1);
    for (int i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    uint64_t len = 0;
    CHECK_RC(shmkv_llen(db, KEY("hot"), &len), 0);
    CHECK_EQ_U64((uint64_t)atomic_load(&crowd_pushed), (uint64_t)atomic_load(&crowd_popped) + len);
    CHECK_TABLE(db, "after a crowded shard");
    h_note("crowded: %ld elements pushed through the lanes", atomic_load(&crowd_pushed));
    close_both(name);
}

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {{"pipeline", pipeline}, {"pipeline_shard", pipeline_shard}, {"ends", ends}, {"lanes", lanes}, {"bounded", bounded},
                                          {"deep", deep}, {"crowded", crowded}};
    return h_main(argc, argv, "test_list_threads", parts, H_NPARTS(parts));
}
