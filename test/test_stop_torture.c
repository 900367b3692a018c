/*
 * test_stop_torture.c - writers stopped (SIGSTOP), not only killed: at
 * random instants and at the library's pause points in turn, while the
 * others go on; then continued (SIGCONT) or killed (SIGKILL), in turn.
 *
 * Two parts, a table each: a store (16 MiB, 64 shards, growing from
 * 18,000 to 36,000 keys so buckets keep splitting; small values and some
 * of 40 to 64 KiB in runs of their own) and a cache (16 MiB, 4 shards,
 * some 50 MiB of pairs: every write evicts).  Three writers put, put_ttl
 * (lifetimes of 20 ms to 2 s), add, replace, delete and expire, logging
 * each key's acknowledged state in shared memory as test_torture does;
 * tens of the keys share a bucket (found by hashing, with the library's
 * internals), so overflow buckets stay in use.  Two readers (a writable
 * and a read-only handle) get, run foreach and shmkv_check.  The main
 * process stops a writer by SIGSTOP or at a pause point it has it arm
 * (the writers' points of src/fault.h: EVICTING in the cache only, and
 * SPLIT_PUBLISHED and SPLIT_COMPACTED in the store only, as a full
 * cache's index no longer grows), holds it 5 to 100 ms
 * (every 8th: 1.2 s) running foreach and checks itself, then continues or
 * kills it.  Every 4 s all park, every process's table clock moves on
 * 2.5 s (every lifetime ends) and the whole table is verified.  Asserted:
 *  - every acknowledged write survives (in the cache: a key is absent or
 *    holds its acknowledged value); a killed writer's key holds its
 *    acknowledged state or the result of the write in flight;
 *  - reads never wait for writers: a get takes under 1 s (less than the
 *    long holds), a foreach or check under 5 s, and foreach hands over no
 *    pair twice; a write gives -ETIMEDOUT only while a writer is stopped,
 *    within 0.9 s (before a live holder's second is up), or after a
 *    writable check held every lock; any other write is done in 2.5 s
 *    (times 2 under ASan);
 *  - a read-only check gives 0 or -EAGAIN, never -EBADMSG (a false
 *    report); a writable one 0 or -ETIMEDOUT; with all parked both give 0
 *    (the leak check included: no run lost), and foreach on both handles
 *    visits exactly the keys gets find;
 *  - every point was stopped at, continued and killed (a part runs up to
 *    3 times its time until then), grouped keys sat in overflow buckets.
 *
 * SHMKV_STOP_SECONDS (default 24, half each part) and SHMKV_STOP_SEED
 * configure it; a long run: SHMKV_STOP_SECONDS=1800 build/test/test_stop_torture.
 * Each part prints one line: STOP RESULT phase=... stops=... kills=...
 * conts=... violations=0 false_reports=0 ...
 */
#include "stop_torture.h"
#include "clock.h"
#include "handle.h"
#include "stop_helpers.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


struct shared *S;

static pid_t g_pid[NWORKERS];
static shmkv *g_db, *g_ro;
static h_rng g_r;
static uint64_t g_seed;
static struct { /* what a phase did */
    long stops, random_stops, kills, conts, verifies, in_overflow, at[PAUSE_POINTS], unreached[PAUSE_POINTS];
} g_t;
static const char *const point_names[PAUSE_POINTS] = {"locked", "record_written", "slot_published",
                                                      "split_published", "run_unlinked", "alloc_locked",
                                                      "evicting", "move_pushed", "piece_unlinked", "patching",
                                                      "list_copying", "growing_ahead", "split_compacted"};

static void start_worker(int w)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        uint64_t seed = h_mix64(g_seed ^ (uint64_t)getpid());
        if (w < NWRITERS)
            stop_writer_run(w, seed);
        stop_reader_run(w - NWRITERS, w == NWRITERS + 1, seed);
    }
    g_pid[w] = pid;
    if (w < NWRITERS)
        atomic_store(&S->w[w].pid, (int32_t)pid);
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

/* Writer w was killed: the key it held holds its acknowledged state or
 * the result of the write in flight, which becomes the acknowledged one
 * (its lifetime as shmkv_ttl tells). */
static void after_kill(int w, pid_t dead)
{
    struct wslot *me = &S->w[w];
    int i = atomic_load(&me->key);
    if (i < 0)
        return;
    struct keylog *L = &S->keys[i];
    if (atomic_load(&L->owner) != dead) { /* killed before its claim */
        atomic_store(&me->key, -1);
        return;
    }
    static unsigned char buf[HUGE_MAX];
    uint64_t seq = 0, vlen = 0, t0 = shmkv__clock_now(g_db);
    int found = stop_read_key(g_db, i, buf, &seq, &vlen, "after a kill");
    uint64_t t1 = shmkv__clock_now(g_db), left = 0;
    int op = (int)atomic_load(&L->pend_op);
    struct state p = stop_result_of(L, op, L->pend_t0, t0);
    char who[48];
    snprintf(who, sizeof who, "a writer killed in a %s", op_names[op]);
    if (!op || !stop_could_be(&p, found, seq, vlen, t0, t1))
        stop_expect(&L->acked, found, seq, vlen, t0, t1, i, who);
    char k[96];
    size_t kl = stop_key_of(i, k);
    t0 = shmkv__clock_now(g_db);
    int rc = found > 0 ? shmkv_ttl(g_db, k, kl, &left) : -ENOENT;
    t1 = shmkv__clock_now(g_db);
    L->acked = (struct state){rc == 0, seq, vlen, left ? t0 + left : 0, left ? t1 + left : 0};
    atomic_store(&L->pend_op, OP_NONE);
    stop_release(me, L);
}

/* Stop writer w at a random instant (point < 0) or at a pause point.
 * False if it never got there (the point is disarmed again). */
static bool stop_writer(int w, int point)
{
    struct wslot *me = &S->w[w];
    pid_t pid = g_pid[w];
    atomic_fetch_add(&S->stop_gen, 1); /* odd: writes may give up from now on */
    if (point < 0) {
        usleep((useconds_t)h_below(&g_r, 3000));
        CHECK(kill(pid, SIGSTOP) == 0);
        int r = wait_stopped(pid, 5.0, NULL);
        CHECKF(r == 1, "a writer did not stop on SIGSTOP");
        return r == 1;
    }
    atomic_store(&me->arm, 1 + point + 16 * (long)h_below(&g_r, 8));
    if (wait_stopped(pid, 2.0, NULL) == 1)
        return true;
    atomic_store(&me->arm, DISARM); /* not reached: take it back (it may still stop there first) */
    double end = h_now() + 5.0;
    while (atomic_load(&me->arm) && h_now() < end)
        if (wait_stopped(pid, 0.001, NULL) == 1)
            return true;
    CHECKF(!atomic_load(&me->arm), "a writer does not take its pause point back");
    atomic_fetch_add(&S->stop_gen, 1);
    return false;
}

/* Writer w is stopped: hold it a while, check meanwhile, then continue
 * it or kill it (and start another in its place). */
static void hold_and_end(int w, int point, bool kill_it)
{
    atomic_fetch_add(&S->w[w].stopped, 1);
    double end = h_now() + (g_t.stops % 8 == 7 ? LONG_HOLD_S : 0.005 + (double)h_below(&g_r, 95) / 1000);
    if (g_t.stops % 2 == 0 || point == PAUSE_SPLIT_PUBLISHED || point == PAUSE_SPLIT_COMPACTED)
        stop_reader_scan(g_ro, true, false); /* what the stopped writer left half done is seen once */
    if (g_t.stops % 4 == 1)
        stop_reader_scan(g_ro, true, true);
    if (g_t.stops % 6 == 3)
        stop_reader_scan(g_db, false, true);
    while (h_now() < end)
        usleep(1000);
    pid_t pid = g_pid[w];
    if (kill_it) {
        kill_child(pid);
        after_kill(w, pid);
        start_worker(w);
        g_t.kills++;
    } else {
        CHECK(kill(pid, SIGCONT) == 0);
        g_t.conts++;
    }
    atomic_fetch_add(&S->stop_gen, 1); /* even: nobody stopped */
}

static void park_all(void)
{
    uint32_t p = atomic_fetch_add(&S->park, 1) + 1;
    double end = h_now() + 10.0 * SLOW;
    for (int w = 0; w < NWORKERS; w++)
        while (atomic_load(&S->parked[w]) != p && h_now() < end)
            usleep(500);
    for (int w = 0; w < NWORKERS; w++)
        CHECKF(atomic_load(&S->parked[w]) == p, "worker %d does not park", w);
}

/* foreach on db visits exactly the keys found[] says are there. */
static void foreach_agrees(shmkv *db, const uint8_t *found, const char *kind, const char *when)
{
    static struct scan sc;
    sc.kind = kind;
    memset(sc.seen, 0, sizeof sc.seen);
    CHECK_RC(shmkv_foreach(db, stop_scan_visit, &sc), 0);
    for (int i = 0, wrong = 0; i < MAXKEYS; i++)
        if (!sc.seen[i] != !found[i] && wrong++ < 5)
            VIOLATION("%s: %s foreach %s key %d, which a get %s", when, kind, sc.seen[i] ? "visits" : "misses", i,
                      found[i] ? "finds" : "misses");
}

/* With every worker parked (or gone): the clock moves on past every
 * lifetime, every key holds its acknowledged state, foreach on both
 * handles visits exactly the keys gets find, both checkers find the
 * table sound. */
static void verify(const char *when)
{
    atomic_fetch_add(&S->clock_adv, CLOCK_STEP_MS);
    stop_sync_clock();
    static unsigned char buf[HUGE_MAX];
    static uint8_t found[MAXKEYS];
    memset(found, 0, sizeof found);
    int32_t hi = atomic_load(&S->hi);
    for (int i = 0; i < (hi < MAXKEYS ? hi : MAXKEYS); i++) {
        uint64_t seq = 0, vlen = 0, t0 = shmkv__clock_now(g_db);
        int got = stop_read_key(g_db, i, buf, &seq, &vlen, when);
        stop_expect(&S->keys[i].acked, got, seq, vlen, t0, shmkv__clock_now(g_db), i, when);
        found[i] = got > 0;
    }
    for (int i = 0; i < NGROUPED; i++) {
        char k[96];
        unsigned slot;
        g_t.in_overflow += key_place(g_db, k, stop_key_of(i, k), &slot) > 0;
    }
    foreach_agrees(g_db, found, "writable", when);
    foreach_agrees(g_ro, found, "read-only", when);
    if (CHECK_TABLE(g_db, when))
        atomic_fetch_add(&S->violations, 1);
    int rc = shmkv_check(g_ro, stderr);
    if (rc)
        FALSE_REPORT("%s: read-only check with nobody writing: %s", when, h_errname(rc));
    g_t.verifies++;
}

static void start_phase(bool cache)
{
    memset(S, 0, sizeof *S);
    atomic_store(&S->clock_adv, g_clock_applied); /* this process's clock has moved on in earlier phases */
    S->cache = cache;
    h_name(S->name, sizeof S->name, cache ? "stop-cache" : "stop-store");
    shmkv_options o = {.flags = SHMKV_CREATE | (cache ? SHMKV_CACHE : 0), .max_bytes = 16u << 20};
    CHECK_RC(shmkv_open(S->name, &o, &g_db), 0);
    shmkv_options rdo = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(S->name, &rdo, &g_ro), 0);
    if (!g_db || !g_ro)
        exit(h_done());
    /* tens sharing a bucket while their shard has up to 2^16 / shards of them (more than it will) */
    uint64_t mask = (1ull << (16 - g_db->shard_bits)) - 1;
    for (int g = 0; g < GROUPS; g++)
        key_group(g_db, S->grouped + g * GROUP_KEYS, GROUP_KEYS, g * GROUP_KEYS,
                  (unsigned)((uint64_t)g * nshards(g_db) / GROUPS), h_below(&g_r, mask + 1), mask);
    static unsigned char val[HUGE_MAX];
    for (int i = 0; i < PRELOAD; i++) {
        char k[96];
        size_t kl = stop_key_of(i, k), vl = stop_pick_vlen(&g_r, i);
        uint64_t seq = atomic_fetch_add(&S->seq, 1) + 1;
        h_val_make(val, vl, k, kl, seq);
        CHECK_RC(shmkv_put(g_db, k, kl, val, vl), 0);
        S->keys[i].acked = (struct state){1, seq, vl, 0, 0};
    }
    atomic_store(&S->hi, PRELOAD);
    for (int w = 0; w < NWORKERS; w++) {
        if (w < NWRITERS)
            atomic_store(&S->w[w].key, -1);
        start_worker(w);
    }
}

static void end_phase(void)
{
    atomic_store(&S->stop, 1);
    for (int w = 0; w < NWORKERS; w++) {
        kill(g_pid[w], SIGCONT); /* none should be stopped; if one is, it has been reported */
        h_wait(g_pid[w], w < NWRITERS ? "writer" : "reader");
    }
    verify("at the end");
    shmkv_close(g_ro);
    shmkv_close(g_db);
    shmkv_unlink(S->name);
}

/* The pause points of a part, stopped at in turn (-1 ends a list): a
 * store never evicts, and a full cache's index no longer splits (the
 * store's does). */
#define NPOINTS 7
static const int store_points[NPOINTS + 1] = {PAUSE_LOCKED,          PAUSE_RECORD_WRITTEN, PAUSE_SLOT_PUBLISHED,
                                              PAUSE_SPLIT_PUBLISHED, PAUSE_RUN_UNLINKED,   PAUSE_ALLOC_LOCKED,
                                              PAUSE_SPLIT_COMPACTED, -1};
static const int cache_points[NPOINTS + 1] = {PAUSE_EVICTING,       PAUSE_LOCKED,       PAUSE_RECORD_WRITTEN,
                                              PAUSE_SLOT_PUBLISHED, PAUSE_RUN_UNLINKED, PAUSE_ALLOC_LOCKED, -1};

static int npoints(const int *points)
{
    int n = 0;
    while (points[n] >= 0)
        n++;
    return n;
}

/* Every point stopped at twice (continued, then killed), a few random stops. */
static bool covered(const int *points)
{
    for (int j = 0; j < npoints(points); j++)
        if (g_t.at[points[j]] < 2)
            return false;
    return g_t.random_stops >= 2 && g_t.kills && g_t.conts;
}

static void run_phase(bool cache, double seconds)
{
    g_seed = (uint64_t)env_long("SHMKV_STOP_SEED", 18) * 2 + cache;
    g_r = h_rng_new(g_seed);
    memset(&g_t, 0, sizeof g_t);
    start_phase(cache);
    const int *points = cache ? cache_points : store_points;
    /* the time asked for, longer (up to 3 times) until every point was covered */
    double t_end = h_now() + seconds, t_cap = t_end + 2 * seconds, next_verify = h_now() + VERIFY_EVERY_S;
    for (int turn = 0; (h_now() < t_end || (!covered(points) && h_now() < t_cap)) && h_failures_local() < 20;
         turn++) {
        /* the points in turn, every third stop at a random instant */
        int w = (int)h_below(&g_r, NWRITERS), point = turn % 3 == 2 ? -1 : points[(turn / 3 * 2 + turn % 3) % npoints(points)];
        if (!stop_writer(w, point)) { /* a pause point not reached (a SIGSTOP always stops) */
            g_t.unreached[point >= 0 ? point : 0] += point >= 0;
            continue;
        }
        g_t.stops++;
        ++*(point < 0 ? &g_t.random_stops : &g_t.at[point]);
        /* each point in turn: continued, then killed */
        hold_and_end(w, point, point < 0 ? h_below(&g_r, 2) : !(g_t.at[point] & 1));
        if (h_now() > next_verify) {
            park_all();
            verify("a verification");
            atomic_fetch_add(&S->park, 1);
            next_verify = h_now() + VERIFY_EVERY_S;
        }
    }
    end_phase();
    char at[512];
    int len = 0;
    for (int j = 0; j < npoints(points); j++)
        len += snprintf(at + len, sizeof at - (size_t)len, "%s%s=%ld/%ld", j ? "," : "", point_names[points[j]],
                        g_t.at[points[j]], g_t.unreached[points[j]]);
    printf("STOP RESULT phase=%s seconds=%.0f stops=%ld kills=%ld conts=%ld random=%ld at(stopped/unreached)=%s",
           cache ? "cache" : "store", seconds, g_t.stops, g_t.kills, g_t.conts, g_t.random_stops, at);
#define PRINT(name) printf(" " #name "=%llu", (unsigned long long)S->name);
#define PRINT_MS(name) printf(" longest_" #name "_ms=%.1f", (double)S->us_##name / 1e3);
    COUNTERS(PRINT) LONGEST(PRINT_MS)
    printf(" verifies=%ld grouped_in_overflow=%ld\n", g_t.verifies, g_t.in_overflow);
    CHECKF(covered(points), "not every pause point was stopped at, continued and killed");
    CHECKF(g_t.in_overflow > 0, "no key of the groups was ever seen in an overflow bucket");
    CHECK_EQ_U64(S->violations, 0);
    CHECK_EQ_U64(S->false_reports, 0);
}

static double part_seconds(void) { return (double)env_long("SHMKV_STOP_SECONDS", 24) / 2; }
static void part_store(void) { run_phase(false, part_seconds()); }
static void part_cache(void) { run_phase(true, part_seconds()); }

static const struct h_part parts[] = {
    {"store", part_store},
    {"cache", part_cache},
};

int main(int argc, char **argv)
{
    char t[32];
    snprintf(t, sizeof t, "%ld", env_long("SHMKV_STOP_SECONDS", 24) * 3 + 200);
    setenv("SHMKV_TEST_TIMEOUT", t, 0);
    S = h_shm_alloc(sizeof *S);
    return h_main(argc, argv, "test_stop_torture", parts, H_NPARTS(parts));
}
