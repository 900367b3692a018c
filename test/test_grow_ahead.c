/*
 * test_grow_ahead.c - writers grow the file ahead of the allocator, with no
 * lock held (alloc.c, "growing ahead").
 *  - ahead: one writer fills a table: after every put the file is at most
 *    half a growth step past top; it grew ahead many times and under the
 *    allocator's lock only where one allocation outran the slack.
 *  - claim: another writer's claim with a fresh stamp stops growing ahead
 *    but no write (the allocator grows under its lock); the claim is taken
 *    over once a second old; a stamp in the future counts as old.
 *  - killed: a writer stopped after fallocate, before the header says so:
 *    others write on, it is killed, the table checks clean and reopens
 *    (its file longer than its header says), every acknowledged put is
 *    there, and growing ahead resumes a second later.
 *  - failed: growing ahead fails (an injected fallocate fault): the put
 *    that tried still succeeds, the handle does not try again at that file
 *    size (no fallocate while the slack lasts), the allocator grows under
 *    its lock when the slack is used up, and growing ahead resumes after.
 *  - procs: 4 processes putting 150 k keys each at once: every key there,
 *    the table checks clean, and most growths were made ahead.
 *  - refresh: a thread of a handle that read the file's size before a
 *    growth and notes it after another thread noted the grown size does
 *    not put the handle's known size back (it did: the other thread then
 *    refused a range it had just verified, and a push under its lock
 *    took a sound record for damage, -EBADMSG).
 */
#include "harness.h"
#include "fault.h"
#include "handle.h"
#include "map.h"
#include "stop_helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MiB (1ull << 20)

/* alloc.c's step: a sixteenth of the file, at least 1 MiB, at most 8 MiB */
static uint64_t step_of(uint64_t size)
{
    uint64_t s = size / 16;
    return s < MiB ? MiB : s > 8 * MiB ? 8 * MiB : s;
}

static uint64_t file_size(shmkv *db) { return atomic_load(&db->hdr->file_size); }
static uint64_t top_of(shmkv *db) { return atomic_load(&db->hdr->top); }
static uint64_t ahead(shmkv *db) { return atomic_load(&db->grew_ahead); }
static uint64_t locked(shmkv *db) { return atomic_load(&db->grew_locked); }

/* A claim stamp as alloc.c makes it: CLOCK_MONOTONIC ms, odd. */
static uint32_t stamp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) | 1;
}

static int put_key(shmkv *db, uint64_t id)
{
    uint64_t v = h_mix64(id);
    return shmkv_put(db, &id, 8, &v, 8);
}

/* Put keys first .. first+n-1; returns how many failed. */
static long put_range(shmkv *db, uint64_t first, uint64_t n)
{
    long bad = 0;
    for (uint64_t i = first; i < first + n; i++)
        bad += put_key(db, i) != 0;
    return bad;
}

/* Keys first .. first+n-1 that are missing or wrong. */
static long missing(shmkv *db, uint64_t first, uint64_t n)
{
    long bad = 0;
    for (uint64_t i = first; i < first + n; i++) {
        uint64_t v = 0;
        size_t vl = 0;
        bad += shmkv_get(db, &i, 8, &v, 8, &vl) != 0 || vl != 8 || v != h_mix64(i);
    }
    return bad;
}

/* A new table, its name made from tag into name[128]. */
static shmkv *create(char *name, const char *tag)
{
    h_name(name, 128, tag);
    shmkv *db = NULL;
    shmkv_options o = {.flags = SHMKV_CREATE | SHMKV_EXCL};
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    return db;
}

/* Keys 0 .. keys-1 are all there and the table checks clean (when);
 * then it is closed and removed. */
static void finish(shmkv *db, const char *name, uint64_t keys, const char *when)
{
    CHECK_EQ_INT(missing(db, 0, keys), 0);
    CHECK_TABLE(db, when);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static void test_ahead(void)
{
    char name[128];
    shmkv *db = create(name, "ahead");

    if (!db)
        return;
    long bad = 0, over = 0;
    const uint64_t n = H_ASAN ? 300000 : 600000;
    uint64_t base = file_size(db), lk = locked(db);
    for (uint64_t i = 0; i < n; i++) {
        bad += put_key(db, i) != 0;
        uint64_t fs = file_size(db), top = top_of(db);
        /* the file as created, or as the allocator grew it, may have up to
         * a step to spare: checked from the next growth ahead on */
        if (locked(db) != lk)
            lk = locked(db), base = fs;
        if (fs > base && (top > fs || fs - top > step_of(fs) / 2) && over++ < 3)
            CHECKF(0, "after put %llu: file %llu bytes, top %llu: more than half a step (%llu) ahead",
                   (unsigned long long)i, (unsigned long long)fs, (unsigned long long)top,
                   (unsigned long long)step_of(fs));
    }
    CHECK_EQ_INT(bad, 0);
    h_note("%llu keys: file %.1f MiB, %llu growths ahead, %llu under the allocator's lock",
           (unsigned long long)n, file_size(db) / (double)MiB, (unsigned long long)ahead(db),
           (unsigned long long)locked(db));
    CHECKF(ahead(db) >= 8, "only %llu growths ahead", (unsigned long long)ahead(db));
    CHECKF(locked(db) * 4 <= ahead(db), "%llu growths under the lock, %llu ahead",
           (unsigned long long)locked(db), (unsigned long long)ahead(db));
    CHECK_EQ_U64(atomic_load(&db->hdr->grow_claim), 0);
    finish(db, name, n, "after growing ahead");
}

/* Put keys from *next until the handle's counter *ctr moves by `by`, at
 * most `max` keys; true if it did. */
static bool put_until(shmkv *db, uint64_t *next, _Atomic uint64_t *ctr, uint64_t by, uint64_t max)
{
    uint64_t c0 = atomic_load(ctr);
    for (uint64_t i = 0; i < max && atomic_load(ctr) < c0 + by; i++)
        if (put_key(db, (*next)++))
            return false;
    return atomic_load(ctr) >= c0 + by;
}

static void test_claim(void)
{
    char name[128];
    shmkv *db = create(name, "claim");

    if (!db)
        return;
    uint64_t next = 0;
    CHECK(put_until(db, &next, &db->grew_ahead, 1, 200000));

    /* a live grower's claim: writes go on, the allocator grows */
    uint32_t stamp = stamp_now();
    atomic_store(&db->hdr->grow_claim, stamp);
    uint64_t a0 = ahead(db);
    CHECK(put_until(db, &next, &db->grew_locked, 2, 200000));
    CHECK_EQ_U64(ahead(db), a0);
    CHECK_EQ_U64(atomic_load(&db->hdr->grow_claim), stamp); /* nobody took it */

    /* a second later it is stale: taken over, and let go after */
    h_sleep(1.05);
    CHECK(put_until(db, &next, &db->grew_ahead, 1, 200000));
    CHECK_EQ_U64(atomic_load(&db->hdr->grow_claim), 0);

    /* a stamp from the future is no live claim */
    atomic_store(&db->hdr->grow_claim, stamp_now() + 60000);
    CHECK(put_until(db, &next, &db->grew_ahead, 1, 200000));
    CHECK_EQ_U64(atomic_load(&db->hdr->grow_claim), 0);

    finish(db, name, next, "after claims");
}

static void test_failed(void)
{
    char name[128];
    shmkv *db = create(name, "failed");

    if (!db)
        return;
    uint64_t next = 0;
    CHECK(put_until(db, &next, &db->grew_ahead, 1, 200000));

    /* the next fallocate fails: growing ahead's, which nobody sees */
    uint64_t a0 = ahead(db), l0 = locked(db), size = file_size(db);
    long bad = 0;
    shmkv__fault_arm(FAULT_FALLOCATE, 0);
    for (int i = 0; i < 200000 && shmkv__fault_left(FAULT_FALLOCATE); i++)
        bad += put_key(db, next++) != 0;
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_U64(shmkv__fault_left(FAULT_FALLOCATE), 0);
    CHECK_EQ_U64(ahead(db), a0);
    CHECK_EQ_U64(locked(db), l0);
    CHECK_EQ_U64(file_size(db), size);
    CHECK_EQ_U64(atomic_load(&db->ahead_failed), size);
    CHECK_EQ_U64(atomic_load(&db->hdr->grow_claim), 0);

    /* not again at this size: while the slack lasts, no fallocate at all
     * (a put here allocates a few KiB at most, log runs of 4-8 KiB, so the
     * 64 KiB kept spare never makes the allocator grow) */
    shmkv__fault_arm(FAULT_FALLOCATE, 0);
    long puts = 0;
    while (file_size(db) == size && top_of(db) + 64 * 1024 < size && puts < 200000)
        bad += put_key(db, next++) != 0, puts++;
    CHECK_EQ_INT(bad, 0);
    CHECKF(puts >= 500, "only %ld puts in the slack", puts);
    CHECK_EQ_U64(shmkv__fault_left(FAULT_FALLOCATE), 1);
    CHECK_EQ_U64(file_size(db), size);
    shmkv__fault_arm(FAULT_FALLOCATE, -1);

    /* the allocator grows under its lock, then growing ahead resumes */
    CHECK(put_until(db, &next, &db->grew_locked, 1, 200000));
    CHECK_EQ_U64(ahead(db), a0);
    CHECK(put_until(db, &next, &db->grew_ahead, 1, 400000));
    finish(db, name, next, "after growing ahead failed");
}

/* What the stopped writer did: its acknowledged puts. */
struct killed_arg {
    _Atomic uint64_t acked;
};

static void put_forever(shmkv *db, void *arg)
{
    struct killed_arg *a = arg;
    for (uint64_t i = 1ull << 40; i < (1ull << 40) + 20000000; i++) {
        if (put_key(db, i))
            return;
        atomic_fetch_add(&a->acked, 1);
    }
}

static void test_killed(void)
{
    char name[128], path[PATH_MAX];
    shmkv *db = create(name, "killed");
    h_path(path, sizeof path, name);
    if (!db)
        return;
    struct killed_arg *a = h_shm_alloc(sizeof *a);
    pid_t pid = fork_paused(name, PAUSE_GROWING_AHEAD, 0, put_forever, a);
    if (pid > 0) {
        /* stopped between its fallocate and telling the header */
        CHECKF((uint64_t)h_file_size(path) > file_size(db), "file %lld bytes, header %llu",
               h_file_size(path), (unsigned long long)file_size(db));
        CHECK(atomic_load(&db->hdr->grow_claim) != 0);
        uint64_t next = 0, a0 = ahead(db);
        CHECK_EQ_INT(put_range(db, 0, 200000), 0); /* others write on */
        next = 200000;
        CHECK_EQ_U64(ahead(db), a0);
        kill_child(pid);
        CHECK_TABLE(db, "after the grower was killed");
        shmkv_close(db);
        db = NULL;
        CHECK_RC(shmkv_open(name, NULL, &db), 0); /* a file longer than its header says */
        if (db) {
            uint64_t acked = atomic_load(&a->acked), count = shmkv_count(db);
            /* the put whose end grew the file was done, not yet counted */
            CHECKF(count == next + acked || count == next + acked + 1, "%llu keys, %llu + %llu acknowledged",
                   (unsigned long long)count, (unsigned long long)next, (unsigned long long)acked);
            CHECK_EQ_INT(missing(db, 0, next), 0);
            CHECK_EQ_INT(missing(db, 1ull << 40, acked), 0);
            /* the dead grower's claim lapses within a second */
            h_sleep(1.05);
            CHECK(put_until(db, &next, &db->grew_ahead, 1, 400000));
            CHECK_EQ_U64(atomic_load(&db->hdr->grow_claim), 0);
            CHECK_TABLE(db, "after growing ahead again");
        }
    }
    h_shm_free(a, sizeof *a);
    if (db)
        shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

#define NPROCS 4
#define PER_PROC (H_ASAN ? 60000u : 150000u)

struct procs_result {
    _Atomic uint64_t ahead, locked;
};

static void test_procs(void)
{
    char name[128];
    shmkv *db = create(name, "procs");

    if (!db)
        return;
    struct procs_result *R = h_shm_alloc(sizeof *R);
    h_barrier *b = h_barrier_new(NPROCS);
    pid_t pids[NPROCS];
    for (int p = 0; p < NPROCS; p++) {
        pids[p] = h_fork();
        if (pids[p] == 0) {
            shmkv *c = child_open(name);
            h_barrier_wait(b, 30);
            CHECK_EQ_INT(put_range(c, (uint64_t)p << 32, PER_PROC), 0);
            atomic_fetch_add(&R->ahead, ahead(c));
            atomic_fetch_add(&R->locked, locked(c));
            shmkv_close(c);
            h_child_exit();
        }
    }
    for (int p = 0; p < NPROCS; p++)
        h_wait(pids[p], "writer");
    CHECK_EQ_U64(shmkv_count(db), (uint64_t)NPROCS * PER_PROC);
    for (int p = 0; p < NPROCS; p++)
        CHECK_EQ_INT(missing(db, (uint64_t)p << 32, PER_PROC), 0);
    h_note("%d processes: %llu growths ahead, %llu under the allocator's lock, file %.1f MiB", NPROCS,
           (unsigned long long)R->ahead, (unsigned long long)R->locked, file_size(db) / (double)MiB);
    CHECKF(R->ahead >= 4 && R->locked * 2 <= R->ahead, "%llu growths ahead, %llu under the lock",
           (unsigned long long)R->ahead, (unsigned long long)R->locked);
    CHECK_EQ_U64(atomic_load(&db->hdr->grow_claim), 0);
    CHECK_TABLE(db, "after 4 writers grew it");
    h_shm_free(R, sizeof *R);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

/* ---- refresh ---- */

static _Thread_local bool stall_here; /* this thread stops at STALL_SIZE_READ */
static _Atomic int stall_state;       /* 1 stopped there, 2 let go */

static void stall_fn(int point)
{
    if (!stall_here || point != STALL_SIZE_READ)
        return;
    atomic_store(&stall_state, 1);
    while (atomic_load(&stall_state) != 2)
        usleep(100);
}

static void *late_refresh(void *arg)
{
    stall_here = true;
    CHECK(shmkv__map_refresh(arg));
    return NULL;
}

static void test_refresh(void)
{
    char name[128], path[PATH_MAX];
    shmkv *db = create(name, "refresh"), *other = NULL;
    if (!db)
        return;
    h_path(path, sizeof path, name);
    CHECK_RC(shmkv_open(name, NULL, &other), 0);
    CHECK_EQ_INT(put_range(db, 0, 1000), 0);
    shmkv__stall_set(stall_fn);
    atomic_store(&stall_state, 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, late_refresh, db) == 0);
    while (atomic_load(&stall_state) != 1) /* it has read the size */
        usleep(100);
    uint64_t before = (uint64_t)h_file_size(path), keys = 1000;
    while ((uint64_t)h_file_size(path) < before + 2 * MiB) { /* another handle grows the file */
        CHECK_EQ_INT(put_range(other, keys, 10000), 0);
        keys += 10000;
    }
    uint64_t grown = (uint64_t)h_file_size(path);
    /* this thread verifies a range of the grown part: known_size moves up */
    CHECK(shmkv__mem_ok_slow(db, grown - 64, 64));
    CHECK(atomic_load(&db->known_size) >= grown);
    atomic_store(&stall_state, 2); /* the stalled thread notes its old size */
    pthread_join(t, NULL);
    shmkv__stall_set(NULL);
    CHECKF(atomic_load(&db->known_size) >= grown, "a late refresh put known_size back from %llu to %llu",
           (unsigned long long)grown, (unsigned long long)atomic_load(&db->known_size));
    CHECK(mem_ok(db, grown - 64, 64));
    h_note("a refresh that read %.1f MiB, noted after one of %.1f MiB: known %.1f MiB", before / (double)MiB,
           grown / (double)MiB, atomic_load(&db->known_size) / (double)MiB);
    shmkv_close(other);
    finish(db, name, keys, "after a late refresh");
}

static const struct h_part parts[] = {
    {"ahead", test_ahead},
    {"claim", test_claim},
    {"failed", test_failed},
    {"killed", test_killed},
    {"procs", test_procs},
    {"refresh", test_refresh},
};

int main(int argc, char **argv) { return h_main(argc, argv, "test_grow_ahead", parts, H_NPARTS(parts)); }
