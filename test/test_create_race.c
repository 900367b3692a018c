/*
 * test_create_race.c - many processes create the same new table at once.
 *
 * 8 processes are released together (a futex barrier) to open a fresh name
 * with SHMKV_CREATE, for 50 names in turn, each time with different sizing
 * options.  All must succeed and end up in one table: each puts its own
 * key, and after a second barrier every process sees all 8 keys, the same
 * geometry, and count 8.  Processes that open without SHMKV_CREATE
 * meanwhile get the table or -ENOENT, never a half-made one (-EBADMSG).
 * With SHMKV_CREATE|SHMKV_EXCL exactly one process succeeds and all others
 * get -EEXIST.  No temporary file is left behind.
 *
 * Then: opening a table while another process grows it (fresh tables
 * filled with 60 KB values, so the file grows again and again) always
 * succeeds, read-write and read-only; 8 threads of one process creating
 * one name at once all get the same table; a creator killed at a random
 * instant leaves either no table or a complete one, never a half-made one.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPROCS 8
#define NNAMES 50
#define NPEEKERS 2 /* extra processes opening without CREATE */

struct shared {
    int excl_ok[NNAMES];      /* atomic: EXCL successes per name */
    int excl_eexist[NNAMES];  /* atomic: -EEXIST per name */
    uint64_t max_bytes[NNAMES][NPROCS];
    uint64_t shards[NNAMES][NPROCS];
    long peek_ok, peek_enoent; /* atomic */
};

static struct shared *S;
static h_barrier *B;
static char g_dir[PATH_MAX];

static void name_of(char *buf, size_t cap, const char *kind, int n)
{
    snprintf(buf, cap, "%s/%s-%d", g_dir, kind, n);
}

static void creator(int p)
{
    alarm(200);
    char path[PATH_MAX + 64];
    for (int n = 0; n < NNAMES; n++) {
        /* everybody asks for something different; the winner's geometry is
         * what all get */
        shmkv_options o = { .flags = SHMKV_CREATE,
                            .max_bytes = (uint64_t)(4 + p) << 20,
                            .expected_keys = (uint64_t)p * 1000 };
        name_of(path, sizeof path, "shared", n);
        if (h_barrier_wait(B, 60) < 0)
            break;
        shmkv *db = NULL;
        int rc = shmkv_open(path, &o, &db);
        CHECKF(rc == 0, "name %d: process %d: concurrent CREATE returned %s", n, p,
               h_errname(rc));
        char k[16];
        int kl = snprintf(k, sizeof k, "proc-%d", p);
        if (db)
            CHECK_RC(shmkv_put(db, k, (size_t)kl, &p, sizeof p), 0);
        if (h_barrier_wait(B, 60) < 0)
            break;
        if (db) {
            for (int q = 0; q < NPROCS; q++) {
                kl = snprintf(k, sizeof k, "proc-%d", q);
                int v = -1;
                size_t vl = 0;
                rc = shmkv_get(db, k, (size_t)kl, &v, sizeof v, &vl);
                CHECKF(rc == 0 && vl == sizeof v && v == q,
                       "name %d: process %d does not see process %d's key (%s)", n, p, q,
                       h_errname(rc));
            }
            CHECK_EQ_U64(shmkv_count(db), NPROCS);
            shmkv_stats st;
            CHECK_RC(shmkv_stat(db, &st), 0);
            S->max_bytes[n][p] = st.max_bytes;
            S->shards[n][p] = st.shards;
            shmkv_close(db);
        }

        /* the same with EXCL */
        name_of(path, sizeof path, "excl", n);
        o.flags = SHMKV_CREATE | SHMKV_EXCL;
        if (h_barrier_wait(B, 60) < 0)
            break;
        db = NULL;
        rc = shmkv_open(path, &o, &db);
        if (rc == 0) {
            __atomic_add_fetch(&S->excl_ok[n], 1, __ATOMIC_RELAXED);
            CHECK_RC(shmkv_put(db, "winner", 6, &p, sizeof p), 0);
            shmkv_close(db);
        } else if (rc == -EEXIST) {
            __atomic_add_fetch(&S->excl_eexist[n], 1, __ATOMIC_RELAXED);
        } else {
            CHECKF(0, "name %d: process %d: concurrent CREATE|EXCL returned %s", n, p,
                   h_errname(rc));
        }
    }
    h_child_exit();
}

/* Opens the names without CREATE as fast as it can while they are made. */
static void peeker(int id)
{
    alarm(200);
    char path[PATH_MAX + 64];
    shmkv_options o = { .flags = id ? SHMKV_RDONLY : 0 };
    for (int n = 0; n < NNAMES; n++) {
        name_of(path, sizeof path, "shared", n);
        if (h_barrier_wait(B, 60) < 0)
            break;
        /* until the creators are done with this name (they wait for us at
         * the second barrier), open it over and over */
        for (int tries = 0; tries < 100000; tries++) {
            shmkv *db = NULL;
            int rc = shmkv_open(path, &o, &db);
            if (rc == -ENOENT) {
                __atomic_add_fetch(&S->peek_enoent, 1, __ATOMIC_RELAXED);
                continue;
            }
            CHECKF(rc == 0, "name %d: opening a table being created returned %s", n,
                   h_errname(rc));
            if (rc == 0) {
                __atomic_add_fetch(&S->peek_ok, 1, __ATOMIC_RELAXED);
                CHECK(shmkv_count(db) <= NPROCS);
                shmkv_close(db);
            }
            break;
        }
        if (h_barrier_wait(B, 60) < 0)
            break;
        if (h_barrier_wait(B, 60) < 0) /* the EXCL round */
            break;
    }
    h_child_exit();
}

/* ---- open while another process grows the table ------------------------- */

struct grow_shared {
    int current; /* table number being grown, -1 between tables, -2 done */
    long opens, enoent, failures;
};

static void open_while_growing(void)
{
    struct grow_shared *G = h_shm_alloc(sizeof *G);
    G->current = -1;
    char dir[PATH_MAX];
    h_path(dir, sizeof dir, "grow");
    CHECK(mkdir(dir, 0700) == 0);
    pid_t openers[2];
    for (int o = 0; o < 2; o++) {
        openers[o] = h_fork();
        if (openers[o] == 0) {
            alarm(120);
            shmkv_options opt = { .flags = o ? SHMKV_RDONLY : 0 };
            int cur;
            while ((cur = __atomic_load_n(&G->current, __ATOMIC_ACQUIRE)) != -2) {
                if (cur < 0)
                    continue;
                char path[PATH_MAX + 32];
                snprintf(path, sizeof path, "%s/t%d", dir, cur);
                shmkv *db = NULL;
                int rc = shmkv_open(path, &opt, &db);
                __atomic_add_fetch(&G->opens, 1, __ATOMIC_RELAXED);
                if (rc == 0) {
                    shmkv_close(db);
                } else if (rc == -ENOENT) {
                    __atomic_add_fetch(&G->enoent, 1, __ATOMIC_RELAXED);
                } else if (__atomic_add_fetch(&G->failures, 1, __ATOMIC_RELAXED) <= 5) {
                    CHECKF(0, "opening (%s) a table that another process grows returned %s",
                           o ? "read-only" : "read-write", h_errname(rc));
                }
            }
            h_child_exit();
        }
    }
    unsigned char *v = calloc(1, 60000);
    double t0 = h_now();
    int tables = 0;
    for (int t = 0; h_now() - t0 < (H_ASAN ? 4.0 : 3.0); t++, tables++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/t%d", dir, t);
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(path, NULL, &db), 0);
        if (!db)
            break;
        __atomic_store_n(&G->current, t, __ATOMIC_RELEASE);
        for (int i = 0; i < 500; i++) { /* 30 MB: a few dozen growths */
            char k[16];
            int kl = snprintf(k, sizeof k, "k%d", i);
            CHECK_RC(shmkv_put(db, k, (size_t)kl, v, 60000), 0);
        }
        __atomic_store_n(&G->current, -1, __ATOMIC_RELEASE);
        shmkv_close(db);
        CHECK_RC(shmkv_unlink(path), 0);
    }
    __atomic_store_n(&G->current, -2, __ATOMIC_RELEASE);
    for (int o = 0; o < 2; o++)
        h_wait(openers[o], "opener");
    h_note("open while growing: %d tables grown, %ld opens (%ld -ENOENT), %ld failed", tables,
           G->opens, G->enoent, G->failures);
    CHECK_EQ_INT(G->failures, 0);
    CHECK(G->opens > G->enoent);
    free(v);
    h_shm_free(G, sizeof *G);
}

/* ---- threads of one process ------------------------------------------------ */

#define NTHREADS 8
static h_barrier *TB;
static char g_tname[PATH_MAX + 32];

static void *thread_creator(void *arg)
{
    int id = (int)(intptr_t)arg;
    if (h_barrier_wait(TB, 60) < 0)
        return NULL;
    shmkv *db = NULL;
    int rc = shmkv_open(g_tname, NULL, &db);
    CHECKF(rc == 0, "thread %d: concurrent CREATE returned %s", id, h_errname(rc));
    if (db) {
        CHECK_RC(shmkv_put(db, &id, sizeof id, &id, sizeof id), 0);
        h_barrier_wait(TB, 60);
        CHECK_EQ_U64(shmkv_count(db), NTHREADS);
        shmkv_close(db);
    } else {
        h_barrier_wait(TB, 60);
    }
    return NULL;
}

static void threads_create(void)
{
    TB = h_barrier_new(NTHREADS);
    for (int round = 0; round < 20; round++) {
        snprintf(g_tname, sizeof g_tname, "%s/threads-%d", h_dir(), round);
        pthread_t th[NTHREADS];
        for (int i = 0; i < NTHREADS; i++)
            CHECK(pthread_create(&th[i], NULL, thread_creator, (void *)(intptr_t)i) == 0);
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(th[i], NULL);
        shmkv_options o = { 0 };
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(g_tname, &o, &db), 0);
        if (db) {
            CHECK_EQ_U64(shmkv_count(db), NTHREADS);
            shmkv_close(db);
        }
        CHECK_RC(shmkv_unlink(g_tname), 0);
    }
    h_shm_free(TB, sizeof *TB);
}

/* ---- a creator killed at a random instant -------------------------------- */

static void killed_creators(void)
{
    char dir[PATH_MAX];
    h_path(dir, sizeof dir, "killed");
    CHECK(mkdir(dir, 0700) == 0);
    h_rng r = h_rng_new(77);
    int complete = 0, absent = 0;
    int rounds = H_ASAN ? 60 : 150;
    for (int round = 0; round < rounds; round++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/t%d", dir, round);
        pid_t pid = h_fork();
        if (pid == 0) {
            shmkv *db = NULL;
            shmkv_options o = { .flags = SHMKV_CREATE, .expected_keys = 100000 };
            if (shmkv_open(path, &o, &db) == 0)
                for (int i = 0;; i++)
                    shmkv_put(db, &i, sizeof i, &i, sizeof i);
            h_child_exit();
        }
        h_sleep(1e-6 * (double)h_below(&r, 12000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        shmkv_options o = { 0 };
        shmkv *db = NULL;
        int rc = shmkv_open(path, &o, &db);
        CHECKF(rc == 0 || rc == -ENOENT, "round %d: the table of a creator killed at a random "
               "instant: open returned %s", round, h_errname(rc));
        if (rc == 0) {
            complete++;
            CHECK_TABLE(db, "table of a killed creator");
            int i = 0;
            CHECK_RC(shmkv_put(db, &i, sizeof i, "x", 1), 0);
            shmkv_close(db);
        } else if (rc == -ENOENT) {
            absent++;
        }
    }
    /* what is left besides the tables: temporary files of killed creators */
    int entries = h_dir_entries(dir);
    h_note("killed creators: %d left a complete table, %d none; %d other files left behind",
           complete, absent, entries - complete);
}

/* ---- 8 processes creating each of 50 names at once ----------------------- */

static void processes_create(void)
{
    S = h_shm_alloc(sizeof *S);
    B = h_barrier_new(NPROCS + NPEEKERS);
    h_path(g_dir, sizeof g_dir, "race");
    CHECK(mkdir(g_dir, 0700) == 0);

    double t0 = h_now();
    pid_t pids[NPROCS + NPEEKERS];
    for (int p = 0; p < NPROCS + NPEEKERS; p++) {
        pids[p] = h_fork();
        if (pids[p] == 0) {
            if (p < NPROCS)
                creator(p);
            else
                peeker(p - NPROCS);
        }
    }
    for (int p = 0; p < NPROCS + NPEEKERS; p++) {
        char what[32];
        snprintf(what, sizeof what, p < NPROCS ? "creator %d" : "peeker %d", p);
        h_wait(pids[p], what);
    }
    h_note("%d names x %d processes in %.2f s; openers without CREATE: %ld opened, %ld "
           "-ENOENT", NNAMES, NPROCS, h_now() - t0, S->peek_ok, S->peek_enoent);

    for (int n = 0; n < NNAMES; n++) {
        CHECKF(S->excl_ok[n] == 1 && S->excl_eexist[n] == NPROCS - 1,
               "name %d: CREATE|EXCL: %d succeeded, %d got -EEXIST", n, S->excl_ok[n],
               S->excl_eexist[n]);
        int same = 1;
        for (int p = 1; p < NPROCS; p++)
            same &= S->max_bytes[n][p] == S->max_bytes[n][0] && S->shards[n][p] == S->shards[n][0];
        CHECKF(same, "name %d: processes see different geometries", n);
        /* the winner's options: one of the max_bytes asked for */
        CHECKF(S->max_bytes[n][0] >= 4u << 20 && S->max_bytes[n][0] <= (uint64_t)(3 + NPROCS) << 20,
               "name %d: max_bytes %llu was asked by nobody", n,
               (unsigned long long)S->max_bytes[n][0]);

        char path[PATH_MAX + 64];
        name_of(path, sizeof path, "shared", n);
        shmkv_options o = { 0 };
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(path, &o, &db), 0);
        if (db) {
            CHECK_EQ_U64(shmkv_count(db), NPROCS);
            CHECK_TABLE(db, "a table created by 8 processes at once");
            shmkv_close(db);
        }
        name_of(path, sizeof path, "excl", n);
        CHECK_RC(shmkv_open(path, &o, &db), 0);
        if (db) {
            CHECK_EQ_U64(shmkv_count(db), 1);
            int w = -1;
            size_t vl = 0;
            CHECK_RC(shmkv_get(db, "winner", 6, &w, sizeof w, &vl), 0);
            CHECK(w >= 0 && w < NPROCS);
            shmkv_close(db);
        }
    }
    /* exactly the 2 x 50 tables; no temporary files left */
    CHECK_EQ_INT(h_dir_entries(g_dir), 2 * NNAMES);
    /* nor in the test directory itself */
    CHECK_EQ_INT(h_dir_entries(h_dir()), 1);
    h_shm_free(S, sizeof *S);
}

static const struct h_part parts[] = {
    { "processes", processes_create },
    { "threads", threads_create },
    { "killed", killed_creators },
    { "while_growing", open_while_growing },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_create_race", parts, H_NPARTS(parts));
}
