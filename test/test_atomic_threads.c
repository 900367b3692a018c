/*
 * test_atomic_threads.c - the games of test_atomic between the threads of
 * one process: exact increments, compare-and-swap counters, one winner
 * per round of take, one lease per round of misses (store and cache),
 * fills refused after a put, del or clear; readers of counters that
 * are rewritten in place (src/patch.c) never see a torn value.
 *
 * ThreadSanitizer cannot follow processes, so this is the version it
 * runs (make test-tsan): every writer is a thread it can see.  All share
 * one handle: two handles map the table twice, and TSan, which knows
 * memory by its address, would see no order between lock operations made
 * through different mappings of one lock (and report races that are not).
 */
#include "harness.h"
#include "api_helpers.h"
#include "atomic_work.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define SCALE (H_TSAN ? 20 : H_ASAN ? 5 : 1) /* the sanitizers' slowness */
#define INCRS (100000L / SCALE)              /* per thread */
#define CAS_EACH (20000L / SCALE)
#define ROUNDS (300 / (H_TSAN ? 3 : 1))

static char g_name[64];
static shmkv *g_db;
static struct results *g_res;
static struct game *g_game;
static long g_cas_lost; /* atomic */

typedef void (*work_fn)(shmkv *db, unsigned worker);
struct job {
    unsigned worker;
    work_fn fn;
};

static void *job_main(void *p)
{
    struct job *j = p;
    j->fn(g_db, j->worker);
    return NULL;
}

/* NTHREADS threads running fn; the calling thread runs drive (if any)
 * meanwhile. */
static void run_threads(work_fn fn, void (*drive)(shmkv *db))
{
    pthread_t th[NTHREADS];
    struct job jobs[NTHREADS];
    for (unsigned t = 0; t < NTHREADS; t++) {
        jobs[t] = (struct job){ t, fn };
        CHECK(pthread_create(&th[t], NULL, job_main, &jobs[t]) == 0);
    }
    if (drive)
        drive(g_db);
    for (unsigned t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
}

static void create(unsigned flags, uint64_t max_bytes)
{
    g_db = open_with(g_name, sizeof g_name, "atomic-thr", flags, max_bytes);
}

static void incr_job(shmkv *db, unsigned w) { incr_work(db, g_res, w, INCRS); }

static void cas_job(shmkv *db, unsigned w)
{
    (void)w;
    __atomic_fetch_add(&g_cas_lost, cas_work(db, g_res, CAS_EACH), __ATOMIC_RELAXED);
}

static void take_job(shmkv *db, unsigned w) { (void)w; take_play(db, g_game); }
static void take_driver(shmkv *db) { take_drive(db, g_game); }
static void lease_job(shmkv *db, unsigned w) { (void)w; lease_play(db, g_game); }
static void lease_driver(shmkv *db) { lease_drive(db, g_game); }

static void test_incr(void)
{
    create(0, 0);
    uint64_t per_key = (uint64_t)NTHREADS * INCRS / NCOUNTERS;
    g_res = results_new(NCOUNTERS, per_key + 1);
    double t0 = h_now();
    run_threads(incr_job, NULL);
    h_note("%d x %ld increments of %d counters in %.2f s", NTHREADS, INCRS, NCOUNTERS, h_now() - t0);
    check_counters(g_db, g_res, per_key);
    results_free(g_res);
    FINISH_TABLE(g_db, g_name, "after the increments");
}

static void test_cas(void)
{
    create(0, 0);
    CHECK_RC(shmkv_put(g_db, "cas", 3, "0", 1), 0);
    uint64_t total = (uint64_t)NTHREADS * CAS_EACH;
    g_res = results_new(1, total + 1);
    g_cas_lost = 0;
    run_threads(cas_job, NULL);
    uint64_t max, n = results_count(g_res, 0, &max);
    char v[32];
    size_t vl = 0;
    CHECK_RC(shmkv_get(g_db, "cas", 3, v, sizeof v - 1, &vl), 0);
    v[vl] = 0;
    CHECKF(strtoull(v, NULL, 10) == total && n == total && max == total,
           "CAS counter %s, %llu results up to %llu, %llu swaps made", v, (unsigned long long)n,
           (unsigned long long)max, (unsigned long long)total);
    h_note("%llu compare-and-swaps from %d threads, %ld lost to another writer",
           (unsigned long long)total, NTHREADS, g_cas_lost);
    results_free(g_res);
    FINISH_TABLE(g_db, g_name, "after compare-and-swap");
}

/* Half the threads increment counters (most rewritten in place, some
 * crossing a power of ten), half read them: every value read is decimal
 * and never less than the last one that thread read of it. */
#define RKEYS 8
static long g_writers_left; /* atomic */
static long g_read_bad;     /* atomic */

static void rw_job(shmkv *db, unsigned w)
{
    char k[16];
    if (w < NTHREADS / 2) {
        for (long n = 0; n < INCRS; n++) {
            unsigned i = (unsigned)(n * 7 + w) % RKEYS;
            CHECK_RC(shmkv_incr(db, k, (size_t)snprintf(k, sizeof k, "rw-%u", i), i % 2 ? 1 : 37, 0, NULL), 0);
        }
        __atomic_fetch_sub(&g_writers_left, 1, __ATOMIC_SEQ_CST);
        return;
    }
    long long last[RKEYS] = {0};
    for (unsigned n = 0; __atomic_load_n(&g_writers_left, __ATOMIC_SEQ_CST) > 0; n++) {
        unsigned i = n % RKEYS;
        char v[32];
        size_t vl = 0;
        int rc = shmkv_get(db, k, (size_t)snprintf(k, sizeof k, "rw-%u", i), v, sizeof v - 1, &vl);
        if (rc == -ENOENT)
            continue; /* not yet made */
        v[rc ? 0 : vl] = 0;
        char *end;
        long long x = strtoll(v, &end, 10);
        if (rc || !vl || *end || x < last[i]) {
            if (__atomic_fetch_add(&g_read_bad, 1, __ATOMIC_RELAXED) < 5)
                CHECKF(0, "rw-%u read as \"%s\" (%s) after %lld", i, v, h_errname(rc), last[i]);
            continue;
        }
        last[i] = x;
    }
}

static void test_incr_readers(void)
{
    create(0, 0);
    g_writers_left = NTHREADS / 2;
    g_read_bad = 0;
    run_threads(rw_job, NULL);
    CHECK_EQ_INT(g_read_bad, 0);
    for (unsigned i = 0; i < RKEYS; i++) {
        char k[16], v[32], want[32];
        size_t vl = 0;
        CHECK_RC(shmkv_get(g_db, k, (size_t)snprintf(k, sizeof k, "rw-%u", i), v, sizeof v, &vl), 0);
        /* each writer's INCRS increments spread over the keys by n * 7 + w */
        long long n = 0;
        for (unsigned w = 0; w < NTHREADS / 2; w++)
            for (long j = 0; j < INCRS; j++)
                n += (unsigned)(j * 7 + w) % RKEYS == i;
        CHECK_MEM(v, want, (size_t)snprintf(want, sizeof want, "%lld", n * (i % 2 ? 1 : 37)));
        CHECK_EQ_INT(vl, strlen(want));
    }
    FINISH_TABLE(g_db, g_name, "after increments and reads");
}

/* ROUNDS of a game between the threads, this one driving. */
static void game(unsigned flags, uint64_t max_bytes, work_fn play, void (*drive)(shmkv *))
{
    create(flags, max_bytes);
    g_game = game_new(NTHREADS, ROUNDS);
    run_threads(play, drive);
    game_free(g_game);
    FINISH_TABLE(g_db, g_name, "after the rounds");
}

static void test_take(void) { game(0, 0, take_job, take_driver); }
static void test_leases_store(void) { game(0, 0, lease_job, lease_driver); }
static void test_leases_cache(void) { game(SHMKV_CACHE, 8u << 20, lease_job, lease_driver); }

static const struct h_part parts[] = {
    { "incr", test_incr },
    { "incr_readers", test_incr_readers },
    { "cas", test_cas },
    { "take", test_take },
    { "leases_store", test_leases_store },
    { "leases_cache", test_leases_cache },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_atomic_threads", parts, H_NPARTS(parts));
}
