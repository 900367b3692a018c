/*
 * test_atomic_threads.c - the games of test_atomic between the threads of
 * one process: exact increments, compare-and-swap counters, one winner
 * per round of take, one lease per round of misses (store and cache),
 * fills refused after a put, del or clear.
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

#include <pthread.h>
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
    { "cas", test_cas },
    { "take", test_take },
    { "leases_store", test_leases_store },
    { "leases_cache", test_leases_cache },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_atomic_threads", parts, H_NPARTS(parts));
}
