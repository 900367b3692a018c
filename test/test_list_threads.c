/*
 * test_list_threads.c - lists between threads of one process: the
 * ThreadSanitizer version of test_queue (TSan cannot follow processes).
 *
 * Producer threads push checksummed elements to "q" (singly and in
 * batches), mover threads move them on to "mid" one at a time, waiting
 * when "q" is empty, and consumer threads pop them from "mid" (singly and
 * in batches, waiting): every element arrives exactly once, and in its
 * producer's order for each consumer (a move is one atomic step, so the
 * order survives it).  Meanwhile a thread reads the lists lock-free
 * (llen) and through lrange, on the shared handle and on a read-only one,
 * and two threads churn a list that is pushed to, waited on and deleted
 * again and again.  Afterwards the table must be sound.
 */
#include "harness.h"
#include "list_helpers.h"

#include <errno.h>
#include <pthread.h>
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
static _Atomic long received;
static _Atomic int stop;
static _Atomic uint8_t got[NPROD][PER_PROD];
static const char *const TAG[NPROD] = {"t0", "t1", "t2"};

static void *producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    h_rng r = h_rng_new((uint64_t)p + 1);
    uint8_t eb[BATCH][ELEM_MAX];
    shmkv_elem el[BATCH];
    for (uint64_t s = 0; s < PER_PROD;) {
        uint64_t n = h_below(&r, 2) ? 1 : 1 + h_below(&r, BATCH);
        n = n < PER_PROD - s ? n : PER_PROD - s;
        for (uint64_t i = 0; i < n; i++)
            el[i] = (shmkv_elem){eb[i], elem_make(eb[i], TAG[p], s + i)};
        CHECK_RC(shmkv_push_many(db, KEY("q"), el, (size_t)n, SHMKV_TAIL), 0);
        s += n;
    }
    return NULL;
}

static void *mover(void *arg)
{
    (void)arg;
    uint8_t buf[ELEM_MAX];
    size_t vl;
    while (!atomic_load(&stop)) {
        int rc = shmkv_move(db, KEY("q"), SHMKV_HEAD, KEY("mid"), SHMKV_TAIL, buf, sizeof buf, &vl, 20);
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
    while (atomic_load(&received) < (long)(NPROD * PER_PROD)) {
        int rc = shmkv_pop_many(db, KEY("mid"), SHMKV_HEAD, buf, BATCH * ELEM_MAX, lens,
                                h_below(&r, 2) ? 1 : BATCH, &n, 20);
        if (rc == -EAGAIN)
            continue;
        CHECK_RC(rc, 0);
        if (rc)
            break;
        for (size_t i = 0, pos = 0; i < n; pos += lens[i++]) {
            int p = 0;
            uint64_t seq = UINT64_MAX;
            for (; p < NPROD && (seq = elem_seq(buf + pos, lens[i], TAG[p])) == UINT64_MAX; p++)
                ;
            if (p == NPROD || seq >= PER_PROD || (int64_t)seq <= last[p]) {
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
        CHECK_RC(shmkv_llen(ro, KEY("mid"), &len), 0);
        int rc = shmkv_lrange(db, KEY("mid"), 0, 50, count_elem, &n);
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

static void pipeline(void)
{
    char name[64];
    h_name(name, sizeof name, "lthreads");
    shmkv_options o = {.flags = SHMKV_CREATE};
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    o.flags = SHMKV_RDONLY;
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
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
    long missing = 0, twice = 0;
    for (int p = 0; p < NPROD; p++)
        for (uint64_t s = 0; s < PER_PROD; s++) {
            missing += got[p][s] == 0;
            twice += got[p][s] > 1;
        }
    CHECKF(missing == 0 && twice == 0, "%ld elements never arrived, %ld more than once", missing, twice);
    CHECK_LIST(db, "q", NULL, 0);
    CHECK_LIST(db, "mid", NULL, 0);
    CHECK_TABLE(db, "after the threads");
    h_note("%u elements through push, move and pop in %.1f s", NPROD * PER_PROD, h_now() - t0);
    shmkv_close(ro);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {{"pipeline", pipeline}};
    return h_main(argc, argv, "test_list_threads", parts, H_NPARTS(parts));
}
