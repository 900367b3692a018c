/*
 * test_stress.c - 4 processes x 4 threads hammer one table on 5000
 * overlapping keys with put/add/replace/del/get.  Every value carries a
 * checksum of its key (h_val_make), validated on every read; a thread also
 * checks that it never reads back one of its own writes older than its
 * latest write or delete of that key.  Afterwards every key validates,
 * foreach agrees with count and stat, and the put/del counters equal the
 * successful operations.
 *
 * Variants: one handle per process shared by its threads; one handle per
 * thread; one handle opened before fork() and inherited.  A reader thread
 * in each process iterates meanwhile (on a read-only handle in one
 * variant) and checks that keys nobody writes are visited exactly once.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPROC 4
#define NTHR 4
#define NKEYS_MAX 200000
#define NSTABLE 100 /* keys NKEYS .. NKEYS+NSTABLE-1: written once, never changed */
#define OPS_PER_THREAD (H_ASAN ? 30000 : 120000)
#define TIME_LIMIT (H_ASAN ? 8.0 : 6.0) /* seconds of hammering per variant */
#define BUF_CAP (80 * 1024)

enum variant { V_SHARED_HANDLE, V_HANDLE_PER_THREAD, V_INHERITED, V_GROWING };
static const char *variant_name[] = { "one handle per process", "one handle per thread",
                                      "handle inherited across fork",
                                      "growing table, one handle per thread" };
/* The key space: 5000 keys; 200000 in the growing variant, where writers
 * mostly insert, so the index grows while everyone works. */
static int NKEYS = 5000;

struct tstats {
    long ops, gets, found, bad_values, stale, bad_rc, puts_ok, dels_ok;
    long foreach_runs, foreach_ok, foreach_eagain, foreach_bad;
};

struct shared {
    struct tstats t[NPROC][NTHR + 1]; /* [NTHR]: the reader thread */
    int writers_done;
};

static struct shared *S;
static h_barrier *B;
static char g_name[128];
static enum variant g_variant;
static shmkv *g_inherited;

static size_t make_key(char *k, int i)
{
    return (size_t)snprintf(k, 32, "stress-key-%d", i);
}

struct targ {
    int proc, thr;
    shmkv *db; /* shared handle, or NULL: open one */
};

static void *writer_thread(void *p)
{
    struct targ *a = p;
    struct tstats *ts = &S->t[a->proc][a->thr];
    shmkv *db = a->db;
    if (!db) {
        CHECK_RC(shmkv_open(g_name, NULL, &db), 0);
        if (!db) {
            h_barrier_wait(B, 60);
            __atomic_add_fetch(&S->writers_done, 1, __ATOMIC_RELEASE);
            return NULL;
        }
    }
    const uint64_t me = (uint64_t)(a->proc * NTHR + a->thr + 1);
    h_rng r = h_rng_new(me * 1000003u + (uint64_t)g_variant);
    uint64_t *my_last = calloc(NKEYS, sizeof *my_last); /* counter of my latest write/del */
    unsigned char *val = malloc(BUF_CAP), *buf = malloc(BUF_CAP);
    uint64_t counter = 0;

    h_barrier_wait(B, 60);
    double deadline = h_now() + TIME_LIMIT;
    for (long op = 0; op < OPS_PER_THREAD; op++) {
        if ((op & 255) == 0 && h_now() > deadline)
            break;
        int ki = (int)h_below(&r, NKEYS);
        char k[32];
        size_t kl = make_key(k, ki);
        unsigned kind = (unsigned)h_below(&r, 100);
        if (g_variant == V_GROWING) /* mostly put, some del, some get */
            kind = kind < 55 ? 0 : kind < 60 ? 55 : kind < 65 ? 45 : 70 + kind % 30;
        counter++;
        uint64_t seq = (me << 40) | counter;
        size_t vl = h_below(&r, 100) == 0 ? 4096 + (size_t)h_below(&r, 70000)
                                          : H_VAL_MIN + (size_t)h_below(&r, 200);
        int rc;
        ts->ops++;
        if (kind < 30) {
            h_val_make(val, vl, k, kl, seq);
            rc = shmkv_put(db, k, kl, val, vl);
            if (rc == 0) {
                ts->puts_ok++;
                my_last[ki] = counter;
            } else {
                ts->bad_rc++;
                CHECKF(0, "put returned %s", h_errname(rc));
            }
        } else if (kind < 40) {
            h_val_make(val, vl, k, kl, seq);
            rc = shmkv_add(db, k, kl, val, vl);
            if (rc == 0) {
                ts->puts_ok++;
                my_last[ki] = counter;
            } else if (rc != -EEXIST) {
                ts->bad_rc++;
                CHECKF(0, "add returned %s", h_errname(rc));
            }
        } else if (kind < 50) {
            h_val_make(val, vl, k, kl, seq);
            rc = shmkv_replace(db, k, kl, val, vl);
            if (rc == 0) {
                ts->puts_ok++;
                my_last[ki] = counter;
            } else if (rc != -ENOENT) {
                ts->bad_rc++;
                CHECKF(0, "replace returned %s", h_errname(rc));
            }
        } else if (kind < 65) {
            rc = shmkv_del(db, k, kl);
            if (rc == 0) {
                ts->dels_ok++;
                my_last[ki] = counter;
            } else if (rc != -ENOENT) {
                ts->bad_rc++;
                CHECKF(0, "del returned %s", h_errname(rc));
            }
        } else {
            size_t got = 0;
            ts->gets++;
            if (kind < 95) {
                rc = shmkv_get(db, k, kl, buf, BUF_CAP, &got);
            } else {
                void *al = NULL;
                rc = shmkv_get_alloc(db, k, kl, &al, &got);
                if (rc == 0) {
                    memcpy(buf, al, got < BUF_CAP ? got : BUF_CAP);
                    free(al);
                    if (got > BUF_CAP)
                        got = 0; /* cannot be valid: flagged below */
                }
            }
            if (rc == 0) {
                ts->found++;
                uint64_t vseq = 0;
                if (!h_val_check(buf, got, k, kl, &vseq)) {
                    if (ts->bad_values++ < 5)
                        CHECKF(0, "get of %s returned an invalid value (%zu bytes)", k, got);
                } else if ((vseq >> 40) == me && (vseq & ((1ULL << 40) - 1)) < my_last[ki]) {
                    if (ts->stale++ < 5)
                        CHECKF(0, "get of %s returned my own write #%llu after my later "
                               "write/del #%llu", k,
                               (unsigned long long)(vseq & ((1ULL << 40) - 1)),
                               (unsigned long long)my_last[ki]);
                }
            } else if (rc != -ENOENT) {
                ts->bad_rc++;
                CHECKF(0, "get returned %s", h_errname(rc));
            }
        }
    }
    __atomic_add_fetch(&S->writers_done, 1, __ATOMIC_RELEASE);
    free(my_last);
    free(val);
    free(buf);
    if (!a->db)
        shmkv_close(db);
    return NULL;
}

/* The reader: foreach over and over; stable keys exactly once each. */
struct rctx {
    int seen[NSTABLE];
    long bad;
};

static int reader_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct rctx *c = ctx;
    if (!h_val_check(val, vlen, key, klen, NULL)) {
        c->bad++;
        return 0;
    }
    char k[40];
    if (klen < sizeof k) {
        memcpy(k, key, klen);
        k[klen] = 0;
        int i;
        if (sscanf(k, "stress-key-%d", &i) == 1 && i >= NKEYS && i < NKEYS + NSTABLE)
            c->seen[i - NKEYS]++;
    } else {
        c->bad++;
    }
    return 0;
}

static void *reader_thread(void *p)
{
    struct targ *a = p;
    struct tstats *ts = &S->t[a->proc][NTHR];
    shmkv *db = a->db;
    int own = 0;
    if (!db) {
        shmkv_options o = { .flags = SHMKV_RDONLY };
        CHECK_RC(shmkv_open(g_name, &o, &db), 0);
        own = 1;
    }
    struct rctx *c = malloc(sizeof *c);
    h_barrier_wait(B, 60);
    double deadline = h_now() + TIME_LIMIT;
    while (db && h_now() < deadline &&
           __atomic_load_n(&S->writers_done, __ATOMIC_ACQUIRE) < NPROC * NTHR) {
        memset(c, 0, sizeof *c);
        int rc = shmkv_foreach(db, reader_visit, c);
        ts->foreach_runs++;
        if (rc == -EAGAIN && own) {
            ts->foreach_eagain++; /* allowed on a read-only handle */
            continue;
        }
        if (rc != 0) {
            ts->foreach_bad++;
            CHECKF(0, "foreach returned %s", h_errname(rc));
            continue;
        }
        ts->foreach_ok++;
        int wrong = 0;
        for (int i = 0; i < NSTABLE; i++)
            wrong += c->seen[i] != 1;
        if (wrong || c->bad) {
            ts->foreach_bad++;
            if (ts->foreach_bad < 5)
                CHECKF(0, "concurrent foreach: %d untouched keys not visited exactly once, "
                       "%ld invalid pairs", wrong, c->bad);
        }
        h_sleep(0.002);
    }
    free(c);
    if (own)
        shmkv_close(db);
    return NULL;
}

static void process_main(int proc)
{
    shmkv *shared_db = NULL;
    if (g_variant == V_SHARED_HANDLE)
        CHECK_RC(shmkv_open(g_name, NULL, &shared_db), 0);
    /* V_HANDLE_PER_THREAD and V_GROWING: every thread opens its own */
    else if (g_variant == V_INHERITED)
        shared_db = g_inherited;
    pthread_t th[NTHR + 1];
    struct targ args[NTHR + 1];
    for (int t = 0; t <= NTHR; t++) {
        args[t].proc = proc;
        args[t].thr = t;
        args[t].db = shared_db;
        if (pthread_create(&th[t], NULL, t < NTHR ? writer_thread : reader_thread, &args[t]))
            CHECK(!"pthread_create");
    }
    for (int t = 0; t <= NTHR; t++)
        pthread_join(th[t], NULL);
    if (g_variant == V_SHARED_HANDLE)
        shmkv_close(shared_db);
}

struct final_ctx {
    long visits, bad;
    unsigned char *seen;
};

static int final_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct final_ctx *c = ctx;
    c->visits++;
    char k[40];
    int i = -1;
    if (klen < sizeof k) {
        memcpy(k, key, klen);
        k[klen] = 0;
        if (sscanf(k, "stress-key-%d", &i) != 1)
            i = -1;
    }
    if (i < 0 || i >= NKEYS + NSTABLE || c->seen[i]++ || !h_val_check(val, vlen, key, klen, NULL))
        c->bad++;
    return 0;
}

static void run_variant(enum variant v)
{
    g_variant = v;
    NKEYS = v == V_GROWING ? NKEYS_MAX : 5000;
    h_name(g_name, sizeof g_name, "stress");
    memset(S, 0, sizeof *S);
    B = h_barrier_new(NPROC * (NTHR + 1));

    shmkv *db = NULL;
    CHECK_RC(shmkv_open(g_name, NULL, &db), 0);
    if (!db)
        return;
    unsigned char val[64];
    for (int i = NKEYS; i < NKEYS + NSTABLE; i++) {
        char k[32];
        size_t kl = make_key(k, i);
        h_val_make(val, sizeof val, k, kl, (uint64_t)i);
        CHECK_RC(shmkv_put(db, k, kl, val, sizeof val), 0);
    }
    g_inherited = v == V_INHERITED ? db : NULL;

    double t0 = h_now();
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = h_fork();
        if (pids[p] == 0) {
            if (v != V_INHERITED)
                shmkv_close(db); /* the parent's; this process opens its own */
            process_main(p);
            if (v == V_INHERITED)
                shmkv_close(db);
            h_child_exit();
        }
    }
    for (int p = 0; p < NPROC; p++) {
        char what[32];
        snprintf(what, sizeof what, "stress process %d", p);
        h_wait(pids[p], what);
    }
    double secs = h_now() - t0;

    /* totals */
    struct tstats sum = { 0 };
    for (int p = 0; p < NPROC; p++)
        for (int t = 0; t <= NTHR; t++) {
            struct tstats *x = &S->t[p][t];
            if (t < NTHR)
                CHECKF(x->ops >= 1000, "process %d thread %d did only %ld ops", p, t, x->ops);
            sum.ops += x->ops, sum.gets += x->gets, sum.found += x->found;
            sum.bad_values += x->bad_values, sum.stale += x->stale, sum.bad_rc += x->bad_rc;
            sum.puts_ok += x->puts_ok, sum.dels_ok += x->dels_ok;
            sum.foreach_runs += x->foreach_runs, sum.foreach_ok += x->foreach_ok;
            sum.foreach_eagain += x->foreach_eagain, sum.foreach_bad += x->foreach_bad;
        }
    h_note("%s: %ld ops in %.2f s (%ld gets, %ld found), %ld foreach (%ld ok, %ld -EAGAIN)",
           variant_name[v], sum.ops, secs, sum.gets, sum.found, sum.foreach_runs,
           sum.foreach_ok, sum.foreach_eagain);
    CHECK_EQ_INT(sum.bad_values, 0);
    CHECK_EQ_INT(sum.stale, 0);
    CHECK_EQ_INT(sum.bad_rc, 0);
    CHECK_EQ_INT(sum.foreach_bad, 0);
    CHECK(sum.found > 0);
    CHECK(sum.foreach_ok > 0);

    /* quiescent: every key validates, foreach agrees with count and stat */
    long present = 0, bad = 0;
    unsigned char *buf = malloc(BUF_CAP);
    for (int i = 0; i < NKEYS + NSTABLE; i++) {
        char k[32];
        size_t kl = make_key(k, i);
        size_t got = 0;
        int rc = shmkv_get(db, k, kl, buf, BUF_CAP, &got);
        if (rc == 0) {
            present++;
            bad += !h_val_check(buf, got, k, kl, NULL);
        } else {
            bad += rc != -ENOENT || i >= NKEYS;
        }
    }
    free(buf);
    CHECK_EQ_INT(bad, 0);
    struct final_ctx fc = { 0, 0, calloc(NKEYS + NSTABLE, 1) };
    CHECK_RC(shmkv_foreach(db, final_visit, &fc), 0);
    CHECK_EQ_INT(fc.bad, 0);
    CHECK_EQ_INT(fc.visits, present);
    CHECK_EQ_U64(shmkv_count(db), (uint64_t)present);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, (uint64_t)present);
    CHECK_EQ_U64(st.puts, (uint64_t)(sum.puts_ok + NSTABLE));
    CHECK_EQ_U64(st.dels, (uint64_t)sum.dels_ok);
    CHECK_EQ_U64(st.lock_recoveries, 0);
    if (v == V_GROWING)
        CHECKF(st.splits > 0, "the index did not grow (%llu keys)", (unsigned long long)st.keys);
    h_note("%s: %llu keys at the end, lock_waits %llu, splits %llu, runs_cleaned %llu",
           variant_name[v], (unsigned long long)st.keys, (unsigned long long)st.lock_waits,
           (unsigned long long)st.splits, (unsigned long long)st.runs_cleaned);
    free(fc.seen);

    CHECK_TABLE(db, variant_name[v]);
    /* and the table still works */
    CHECK_RC(shmkv_put(db, "after", 5, "x", 1), 0);
    CHECK_RC(shmkv_del(db, "after", 5), 0);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(g_name), 0);
    h_shm_free(B, sizeof *B);
}

static void handle_per_process(void) { run_variant(V_SHARED_HANDLE); }
static void handle_per_thread(void) { run_variant(V_HANDLE_PER_THREAD); }
static void inherited(void) { run_variant(V_INHERITED); }
static void growing(void) { run_variant(V_GROWING); }

static const struct h_part parts[] = {
    { "handle_per_process", handle_per_process },
    { "handle_per_thread", handle_per_thread },
    { "inherited", inherited },
    { "growing", growing },
};

int main(int argc, char **argv)
{
    S = h_shm_alloc(sizeof *S);
    int rc = h_main(argc, argv, "test_stress", parts, H_NPARTS(parts));
    h_shm_free(S, sizeof *S);
    return rc;
}
