/*
 * test_check_race.c - shmkv_check raced against writers.
 *
 * Writer processes put, overwrite and delete values of mixed sizes (a few
 * bytes, 20 KiB, 1 MiB, and 2-3 MiB ones that a fragmented table stores
 * chained over several runs), some with lifetimes of a few milliseconds,
 * while checker processes call shmkv_check in a loop, from read-only and
 * from writable handles.  A writable check locks the table: it must
 * always say 0.  A read-only check cannot lock: it must say 0, or -EAGAIN
 * when writers never left it a quiet moment, and never -EBADMSG (that
 * would be a false report: the table is sound).  Nobody may crash.  Each
 * part (store mode, cache mode) runs for $SHMKV_CHECK_RACE_SECONDS (default
 * 8) and prints its counts on one line:
 *   CHECK RACE mode=... rw_checks=N rw_ok=N ro_checks=N ro_ok=N ro_eagain=N ro_false=0 ...
 * These are the conditions of issue 18's items 2 and 3 (a read-only check
 * that corrupted its heap and gave false reports, a SIGBUS in the checker).
 */
#include "harness.h"

#include "format.h"
#include "handle.h"
#include "hash.h"
#include "index.h"
#include "shard.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITERS 3
#define RO_CHECKERS 2
#define KEYS 48 /* per writer */

struct counts {
    atomic_bool stop;
    atomic_long rw_checks, rw_ok, ro_checks, ro_ok, ro_eagain, ro_false, other;
    atomic_long puts, dels, nospc, timeouts, expiring, chained, reads_ok;
    atomic_int reports; /* false reports printed */
};
static struct counts *cnt;

static double run_seconds(void)
{
    const char *s = getenv("SHMKV_CHECK_RACE_SECONDS");
    return s && atof(s) > 0 ? atof(s) : 8;
}

/* ---- writers ---------------------------------------------------------------- */

/* A value size: mostly small, some 20 KiB, a few 1 MiB, rarely 2-3 MiB
 * (bigger than any free run of a churned table: chained).  A cache takes
 * pairs of at most an eighth of its max_bytes. */
static size_t pick_size(h_rng *r, bool cache)
{
    unsigned x = (unsigned)h_below(r, 100);
    if (x < 55)
        return H_VAL_MIN + (size_t)h_below(r, 300);
    if (x < 85)
        return 20 * 1024;
    if (x < 96)
        return 1u << 20;
    return cache ? (3u << 19) + (size_t)h_below(r, 4096) : (2u << 20) + (size_t)h_below(r, 1u << 20);
}

/* Is the key's record chained over several runs?  (Internals, under the
 * shard's lock: for the count of chained values the writers made.) */
static bool chained(shmkv *db, const char *k, size_t kl)
{
    uint64_t h = shmkv__hash64(k, kl, db->seed0, db->seed1);
    struct shard *s = shard_of(db, h);
    struct found f;
    bool yes = false;
    if (shmkv__shard_lock(db, s))
        return false;
    if (!shmkv__index_find(db, s, h & TAG_MASK, k, kl, NULL, &f) && f.slot)
        yes = ((struct rec *)at(db, slot_off(f.val)))->dist & REC_CHAIN;
    shmkv__shard_unlock(s);
    return yes;
}

static void writer(const char *name, int id, bool cache)
{
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, &(shmkv_options){0}, &db), 0);
    if (!db)
        h_child_exit();
    h_rng r = h_rng_new(1000 + (uint64_t)id);
    unsigned char *v = malloc(3u << 20), *got = malloc(3u << 20);
    for (uint64_t seq = 1; !atomic_load(&cnt->stop); seq++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "w%d-%u", id, (unsigned)h_below(&r, KEYS)), vl = pick_size(&r, cache);
        unsigned op = (unsigned)h_below(&r, 100);
        int rc;
        if (op < 20) {
            rc = shmkv_del(db, k, kl);
            CHECKF(rc == 0 || rc == -ENOENT || rc == -ETIMEDOUT, "del: %s", h_errname(rc));
            atomic_fetch_add(&cnt->dels, rc == 0);
        } else {
            uint64_t ttl = op < 40 ? 1 + h_below(&r, 30) : 0;
            h_val_make(v, vl, k, kl, seq);
            rc = shmkv_put_ttl(db, k, kl, v, vl, ttl);
            CHECKF(rc == 0 || rc == -ENOSPC || rc == -ETIMEDOUT, "put of %zu bytes: %s", vl, h_errname(rc));
            atomic_fetch_add(&cnt->puts, rc == 0);
            atomic_fetch_add(&cnt->expiring, rc == 0 && ttl);
            if (rc == 0 && vl >= (1u << 20) && !ttl && chained(db, k, kl))
                atomic_fetch_add(&cnt->chained, 1);
            if (rc == -ENOSPC) /* make room: drop a few of this writer's keys */
                for (int i = 0; i < 8; i++) {
                    kl = (size_t)snprintf(k, sizeof k, "w%d-%u", id, (unsigned)h_below(&r, KEYS));
                    shmkv_del(db, k, kl);
                }
            atomic_fetch_add(&cnt->nospc, rc == -ENOSPC);
        }
        atomic_fetch_add(&cnt->timeouts, rc == -ETIMEDOUT);
        if (seq % 8 == 0) { /* what a reader sees is a whole value of this key */
            size_t n = 0;
            rc = shmkv_get(db, k, kl, got, 3u << 20, &n);
            CHECKF(rc == 0 || rc == -ENOENT, "get: %s", h_errname(rc));
            if (rc == 0)
                CHECKF(h_val_check(got, n, k, kl, NULL), "get of %s: a wrong value of %zu bytes", k, n);
            atomic_fetch_add(&cnt->reads_ok, rc == 0);
        }
    }
    free(v);
    free(got);
    shmkv_close(db);
    h_child_exit();
}

/* ---- checkers ---------------------------------------------------------------- */

static void checker(const char *name, bool rdonly)
{
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, &(shmkv_options){.flags = rdonly ? SHMKV_RDONLY : 0}, &db), 0);
    if (!db)
        h_child_exit();
    while (!atomic_load(&cnt->stop)) {
        char *report = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&report, &len);
        int rc = shmkv_check(db, f);
        fclose(f);
        atomic_fetch_add(rdonly ? &cnt->ro_checks : &cnt->rw_checks, 1);
        if (rc == 0)
            atomic_fetch_add(rdonly ? &cnt->ro_ok : &cnt->rw_ok, 1);
        else if (rdonly && rc == -EAGAIN)
            atomic_fetch_add(&cnt->ro_eagain, 1);
        else if (rdonly && rc == -EBADMSG)
            atomic_fetch_add(&cnt->ro_false, 1);
        else
            atomic_fetch_add(&cnt->other, 1);
        if (rc && !(rdonly && rc == -EAGAIN)) {
            h_fail(__FILE__, __LINE__, "a %s check of a sound table returned %s", rdonly ? "read-only" : "writable",
                   h_errname(rc));
            if (atomic_fetch_add(&cnt->reports, 1) < 2)
                h_note("its report:\n%.2000s", report ? report : "");
        }
        free(report);
        /* a writable check holds every lock while it runs: back to back,
         * with the locks' unfair hand-over, it would starve the writers
         * (and leave read-only checks no quiet moment), which is not the
         * race this test is about */
        if (!rdonly)
            usleep(1000);
    }
    shmkv_close(db);
    h_child_exit();
}

/* ---- the race ------------------------------------------------------------------ */

static void race(bool cache)
{
    char name[64];
    h_name(name, sizeof name, cache ? "race-cache" : "race-store");
    /* small enough that big values fill it and fragment it: writes meet
     * -ENOSPC (a store) or evict (a cache), and big values get chained */
    shmkv_options o = {.flags = SHMKV_CREATE | SHMKV_EXCL | (cache ? SHMKV_CACHE : 0), .max_bytes = 16u << 20};
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    if (!db)
        return;
    cnt = h_shm_alloc(sizeof *cnt);
    pid_t pids[WRITERS + RO_CHECKERS + 1];
    int n = 0;
    for (int i = 0; i < WRITERS; i++)
        if ((pids[n++] = h_fork()) == 0)
            writer(name, i, cache);
    for (int i = 0; i <= RO_CHECKERS; i++)
        if ((pids[n++] = h_fork()) == 0)
            checker(name, i < RO_CHECKERS);
    h_sleep(run_seconds());
    atomic_store(&cnt->stop, true);
    for (int i = 0; i < n; i++)
        h_wait(pids[i], i < WRITERS ? "writer" : "checker");
    CHECK_TABLE(db, "after the race");
    printf("CHECK RACE mode=%s seconds=%.0f rw_checks=%ld rw_ok=%ld ro_checks=%ld ro_ok=%ld ro_eagain=%ld "
           "ro_false=%ld other=%ld puts=%ld dels=%ld expiring=%ld chained=%ld nospc=%ld timeouts=%ld\n",
           cache ? "cache" : "store", run_seconds(), atomic_load(&cnt->rw_checks), atomic_load(&cnt->rw_ok),
           atomic_load(&cnt->ro_checks), atomic_load(&cnt->ro_ok), atomic_load(&cnt->ro_eagain),
           atomic_load(&cnt->ro_false), atomic_load(&cnt->other), atomic_load(&cnt->puts), atomic_load(&cnt->dels),
           atomic_load(&cnt->expiring), atomic_load(&cnt->chained), atomic_load(&cnt->nospc),
           atomic_load(&cnt->timeouts));
    /* the race happened: writers wrote, both kinds of check ran, and
     * read-only checks did not only give up */
    CHECKF(atomic_load(&cnt->puts) >= 100 && atomic_load(&cnt->dels) >= 10, "writers made too little progress");
    CHECKF(atomic_load(&cnt->rw_checks) >= 3 && atomic_load(&cnt->ro_checks) >= 3, "too few checks ran");
    CHECKF(atomic_load(&cnt->ro_ok) >= 1, "no read-only check found a quiet moment");
    CHECKF(atomic_load(&cnt->chained) >= 1, "no value was stored chained");
    h_shm_free(cnt, sizeof *cnt);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static void part_store(void) { race(false); }
static void part_cache(void) { race(true); }

static const struct h_part parts[] = {
    {"store", part_store},
    {"cache", part_cache},
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_check_race", parts, H_NPARTS(parts));
}
