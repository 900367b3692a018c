/*
 * test_kill.c - writers killed with SIGKILL at random instants.
 *
 * Four writer processes put and delete values on a shared set of keys; the
 * parent kills one at a random instant, again and again (300 kills), and
 * starts a new one each time.  Two worker processes keep working all along
 * (their own keys with exact expectations, reads of the writers' keys,
 * foreach) and time every operation: none may take 1 s or more, i.e. a lock
 * held by a killed writer never blocks anybody for long.  Every value read
 * anywhere must validate.
 *
 * Writers keep a log in shared memory.  A writer first claims a key (so a
 * key has one writer at a time), checks the table holds the key's last
 * acknowledged state, writes the operation it is about to do into the log,
 * does it, then marks it acknowledged.  When the parent has killed a
 * writer, it checks the key that writer held: the table must hold either
 * its last acknowledged state or exactly the result of the interrupted
 * operation (all or nothing), and it records which.  At the end every key
 * must hold its acknowledged state, foreach must agree with count,
 * shmkv_check must find the table sound (also every 50 kills, while the
 * others work), and the table must still work.
 *
 * Then a writer is stopped (SIGSTOP) instead of killed, possibly while it
 * holds its shard's lock: gets and read-only foreach go on undisturbed, a
 * write waiting for that lock returns -ETIMEDOUT as soon as it sees the
 * holder stopped (or succeeds), never hangs; killing the stopped writer
 * frees the lock at once.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NLOGKEYS 4000
#define NWRITERS 4
#define NWORKERS 2
#define WORKER_KEYS 500
#define KILLS 300
#define KILL_PHASE_MAX_S 25.0
#define MAX_OP_S 1.0
#define BIG_MAX (200 * 1024)

enum { OP_NONE = 0, OP_PUT = 1, OP_DEL = 2 };

struct keylog {
    int32_t owner;    /* pid holding the key, 0: free (CAS) */
    uint32_t pend_op; /* OP_*: the operation in flight (release-stored last) */
    uint64_t pend_seq;
    uint64_t pend_vlen;
    uint32_t acked_present;
    uint32_t pad;
    uint64_t acked_seq;
    uint64_t acked_vlen;
};

struct worker_stats {
    long ops, gets, found, bad, foreach_runs;
    double max_lat;
    char max_op[32];
    long present; /* own keys present at the end */
};

struct shared {
    struct keylog keys[NLOGKEYS];
    uint64_t seq;   /* atomic */
    int stop;       /* workers stop */
    long writer_ops; /* atomic */
    long interrupted_old, interrupted_new, interrupted_none;
    struct worker_stats w[NWORKERS];
};

static struct shared *S;
static char g_name[128];
static shmkv *g_db; /* opened before the forks */

static void reap_killed(pid_t pid);

static size_t log_key(char *k, int i)
{
    return (size_t)snprintf(k, 32, "kill-%d", i);
}

/* Does the table hold (present, seq, vlen) for log key i?  1 yes, 0 no;
 * *desc describes what it holds. */
static int holds(shmkv *db, int i, int present, uint64_t seq, uint64_t vlen, unsigned char *buf,
                 char *desc, size_t dcap)
{
    char k[32];
    size_t kl = log_key(k, i);
    return h_val_holds(db, k, kl, present, seq, vlen, buf, BIG_MAX, desc, dcap);
}

__attribute__((noreturn)) static void writer(int serial)
{
    shmkv *db = g_db;
    if (serial % 2) { /* every other writer opens its own handle */
        db = NULL;
        CHECK_RC(shmkv_open(g_name, NULL, &db), 0);
        if (!db)
            h_child_exit();
    }
    const int32_t me = (int32_t)getpid();
    h_rng r = h_rng_new((uint64_t)serial * 7777 + 1);
    unsigned char *val = malloc(BIG_MAX), *buf = malloc(BIG_MAX);
    char desc[96];
    for (;;) {
        int i = (int)h_below(&r, NLOGKEYS);
        struct keylog *L = &S->keys[i];
        int32_t zero = 0;
        if (!__atomic_compare_exchange_n(&L->owner, &zero, me, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue;
        /* the table holds the acknowledged state */
        if (!holds(db, i, (int)L->acked_present, L->acked_seq, L->acked_vlen, buf, desc,
                   sizeof desc))
            CHECKF(0, "writer: key %d holds %s, acknowledged: %s seq %llu, %llu bytes", i,
                   desc, L->acked_present ? "present" : "absent",
                   (unsigned long long)L->acked_seq, (unsigned long long)L->acked_vlen);
        char k[32];
        size_t kl = log_key(k, i);
        int op = h_below(&r, 10) < 7 ? OP_PUT : OP_DEL;
        uint64_t seq = __atomic_add_fetch(&S->seq, 1, __ATOMIC_RELAXED);
        size_t vl = h_below(&r, 100) < 3 ? 65536 + (size_t)h_below(&r, BIG_MAX - 65536)
                                         : H_VAL_MIN + (size_t)h_below(&r, 300);
        L->pend_seq = seq;
        L->pend_vlen = vl;
        __atomic_store_n(&L->pend_op, (uint32_t)op, __ATOMIC_RELEASE);
        if (op == OP_PUT) {
            h_val_make(val, vl, k, kl, seq);
            int rc = shmkv_put(db, k, kl, val, vl);
            CHECKF(rc == 0, "writer: put returned %s", h_errname(rc));
            if (rc == 0) {
                L->acked_seq = seq;
                L->acked_vlen = vl;
                L->acked_present = 1;
            }
        } else {
            int rc = shmkv_del(db, k, kl);
            CHECKF(rc == (L->acked_present ? 0 : -ENOENT), "writer: del of a key %s returned %s",
                   L->acked_present ? "present" : "absent", h_errname(rc));
            if (rc == 0 || rc == -ENOENT) {
                L->acked_present = 0;
                L->acked_seq = 0;
                L->acked_vlen = 0;
            }
        }
        __atomic_store_n(&L->pend_op, OP_NONE, __ATOMIC_RELEASE);
        __atomic_store_n(&L->owner, 0, __ATOMIC_RELEASE);
        __atomic_add_fetch(&S->writer_ops, 1, __ATOMIC_RELAXED);
    }
}

/* After writer pid died: check and release the key it held, if any. */
static void resolve(pid_t pid, unsigned char *buf)
{
    char desc[96], desc2[96];
    for (int i = 0; i < NLOGKEYS; i++) {
        struct keylog *L = &S->keys[i];
        if (__atomic_load_n(&L->owner, __ATOMIC_ACQUIRE) != (int32_t)pid)
            continue;
        uint32_t op = __atomic_load_n(&L->pend_op, __ATOMIC_ACQUIRE);
        if (op == OP_NONE) {
            /* killed before it started (or after it finished) an operation */
            if (!holds(g_db, i, (int)L->acked_present, L->acked_seq, L->acked_vlen, buf, desc,
                       sizeof desc))
                CHECKF(0, "key %d of a killed writer holds %s; acknowledged: %s seq %llu", i,
                       desc, L->acked_present ? "present" : "absent",
                       (unsigned long long)L->acked_seq);
            S->interrupted_none++;
        } else {
            int np = op == OP_PUT;
            int is_new = holds(g_db, i, np, L->pend_seq, L->pend_vlen, buf, desc, sizeof desc);
            int is_old = !is_new && holds(g_db, i, (int)L->acked_present, L->acked_seq,
                                          L->acked_vlen, buf, desc2, sizeof desc2);
            if (is_new) {
                S->interrupted_new++;
                L->acked_present = (uint32_t)np;
                L->acked_seq = np ? L->pend_seq : 0;
                L->acked_vlen = np ? L->pend_vlen : 0;
            } else if (is_old) {
                S->interrupted_old++;
            } else {
                CHECKF(0, "key %d of a writer killed during a %s (seq %llu, %llu bytes) holds "
                       "%s: neither that nor the acknowledged state (%s seq %llu)", i,
                       op == OP_PUT ? "put" : "del", (unsigned long long)L->pend_seq,
                       (unsigned long long)L->pend_vlen, desc,
                       L->acked_present ? "present" : "absent",
                       (unsigned long long)L->acked_seq);
                /* adopt what is there, if it is a valid value, to go on */
                char k[32];
                size_t kl = log_key(k, i);
                size_t vl = 0;
                uint64_t seq = 0;
                int rc = shmkv_get(g_db, k, kl, buf, BIG_MAX, &vl);
                L->acked_present = rc == 0 && h_val_check(buf, vl, k, kl, &seq);
                L->acked_seq = L->acked_present ? seq : 0;
                L->acked_vlen = L->acked_present ? vl : 0;
            }
            __atomic_store_n(&L->pend_op, OP_NONE, __ATOMIC_RELEASE);
        }
        __atomic_store_n(&L->owner, 0, __ATOMIC_RELEASE);
    }
}

/* Workers: never killed; every operation timed. */
static void timed(struct worker_stats *ws, double t0, const char *what)
{
    double dt = h_now() - t0;
    if (dt > ws->max_lat) {
        ws->max_lat = dt;
        snprintf(ws->max_op, sizeof ws->max_op, "%s", what);
    }
}

static int count_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    long *bad = ctx;
    if (!h_val_check(val, vlen, key, klen, NULL))
        (*bad)++;
    return 0;
}

__attribute__((noreturn)) static void worker(int id)
{
    struct worker_stats *ws = &S->w[id];
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(g_name, NULL, &db), 0);
    if (!db)
        h_child_exit();
    h_rng r = h_rng_new((uint64_t)id + 99);
    struct {
        int present;
        uint64_t seq;
        size_t vl;
    } *own = calloc(WORKER_KEYS, sizeof *own);
    unsigned char *val = malloc(BIG_MAX), *buf = malloc(BIG_MAX);
    uint64_t seq = 0;
    while (!__atomic_load_n(&S->stop, __ATOMIC_ACQUIRE)) {
        unsigned kind = (unsigned)h_below(&r, 100);
        char k[32];
        size_t kl, vl = 0;
        double t0 = h_now();
        int rc;
        ws->ops++;
        if (kind < 40) {
            /* read a writer's key: any valid value, or absent */
            kl = log_key(k, (int)h_below(&r, NLOGKEYS));
            rc = shmkv_get(db, k, kl, buf, BIG_MAX, &vl);
            timed(ws, t0, "get");
            ws->gets++;
            if (rc == 0) {
                ws->found++;
                if (!h_val_check(buf, vl, k, kl, NULL) && ws->bad++ < 5)
                    CHECKF(0, "worker: get of %s gave an invalid value (%zu bytes)", k, vl);
            } else if (rc != -ENOENT && ws->bad++ < 5) {
                CHECKF(0, "worker: get of %s returned %s", k, h_errname(rc));
            }
        } else if (kind < 99) {
            /* own keys: exact expectations */
            int i = (int)h_below(&r, WORKER_KEYS);
            kl = (size_t)snprintf(k, sizeof k, "worker-%d-%d", id, i);
            if (kind < 70) {
                vl = H_VAL_MIN + (size_t)h_below(&r, 400);
                h_val_make(val, vl, k, kl, ++seq);
                rc = shmkv_put(db, k, kl, val, vl);
                timed(ws, t0, "put");
                if (rc == 0) {
                    own[i].present = 1;
                    own[i].seq = seq;
                    own[i].vl = vl;
                } else if (ws->bad++ < 5) {
                    CHECKF(0, "worker: put returned %s", h_errname(rc));
                }
            } else if (kind < 80) {
                rc = shmkv_del(db, k, kl);
                timed(ws, t0, "del");
                if (rc != (own[i].present ? 0 : -ENOENT) && ws->bad++ < 5)
                    CHECKF(0, "worker: del returned %s", h_errname(rc));
                own[i].present = 0;
            } else {
                rc = shmkv_get(db, k, kl, buf, BIG_MAX, &vl);
                timed(ws, t0, "get own");
                uint64_t got = 0;
                int ok = own[i].present
                             ? rc == 0 && vl == own[i].vl && h_val_check(buf, vl, k, kl, &got) &&
                                   got == own[i].seq
                             : rc == -ENOENT;
                if (!ok && ws->bad++ < 5)
                    CHECKF(0, "worker: own key %s read back wrong (%s)", k, h_errname(rc));
            }
        } else {
            long bad = 0;
            rc = shmkv_foreach(db, count_visit, &bad);
            timed(ws, t0, "foreach");
            ws->foreach_runs++;
            if ((rc != 0 || bad) && ws->bad++ < 5)
                CHECKF(0, "worker: foreach returned %s, %ld invalid pairs", h_errname(rc), bad);
        }
    }
    for (int i = 0; i < WORKER_KEYS; i++)
        ws->present += own[i].present;
    free(own);
    free(val);
    free(buf);
    shmkv_close(db);
    h_child_exit();
}

/* ---- a stopped writer ---------------------------------------------------- */

static int fe_count(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    (*(long *)ctx)++;
    return 0;
}

/* Overwrites one key (one shard) as fast as it can: it holds that shard's
 * lock most of the time. */
__attribute__((noreturn)) static void hot_writer(const char *name)
{
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        h_child_exit();
    unsigned char v[100];
    h_val_make(v, sizeof v, "hot", 3, 1);
    for (;;) {
        int rc = shmkv_put(db, "hot", 3, v, sizeof v);
        if (rc != 0 && rc != -ETIMEDOUT)
            CHECKF(0, "hot writer: put returned %s", h_errname(rc));
    }
}

static void test_stopped_writer(void)
{
    char name[128];
    h_name(name, sizeof name, "stopped");
    shmkv *db = NULL, *ro = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    shmkv_options rdo = { .flags = SHMKV_RDONLY };
    CHECK_RC(shmkv_open(name, &rdo, &ro), 0);
    if (!db || !ro)
        return;
    unsigned char v[100], buf[128];
    h_val_make(v, sizeof v, "hot", 3, 1);
    CHECK_RC(shmkv_put(db, "hot", 3, v, sizeof v), 0);
    for (int i = 0; i < 100; i++) {
        char k[16];
        size_t kl = (size_t)snprintf(k, sizeof k, "other-%d", i);
        CHECK_RC(shmkv_put(db, k, kl, k, kl), 0);
    }
    pid_t pid = h_fork();
    if (pid == 0)
        hot_writer(name);
    h_sleep(0.05);

    int timeouts = 0, successes = 0;
    for (int attempt = 0; attempt < 30 && timeouts < 3; attempt++) {
        CHECK(kill(pid, SIGSTOP) == 0);
        h_sleep(0.01); /* let it stop */
        /* reads never wait for the lock */
        double t0 = h_now();
        size_t vl = 0;
        int rc = shmkv_get(db, "hot", 3, buf, sizeof buf, &vl);
        double dt = h_now() - t0;
        CHECKF(rc == 0 && vl == sizeof v && h_val_check(buf, vl, "hot", 3, NULL) && dt < 0.2,
               "get while a writer is stopped: %s after %.3f s", h_errname(rc), dt);
        t0 = h_now();
        long n = 0;
        rc = shmkv_foreach(ro, fe_count, &n);
        dt = h_now() - t0;
        CHECKF(rc == 0 && n == 101 && dt < 0.5,
               "read-only foreach while a writer is stopped: %s, %ld pairs, %.3f s",
               h_errname(rc), n, dt);
        /* a write to the stopped writer's shard: done, or -ETIMEDOUT as
         * soon as the waiter sees the holder stopped (a millisecond or
         * so: waiting for a stopped process is pointless); never a hang */
        unsigned char v2[100];
        h_val_make(v2, sizeof v2, "hot", 3, 2);
        t0 = h_now();
        rc = shmkv_put(db, "hot", 3, v2, sizeof v2);
        dt = h_now() - t0;
        if (rc == -ETIMEDOUT) {
            timeouts++;
            CHECKF(dt < 0.5, "put gave -ETIMEDOUT after %.3f s", dt);
            /* and changed nothing */
            uint64_t seq = 0;
            CHECK(shmkv_get(db, "hot", 3, buf, sizeof buf, &vl) == 0 &&
                  h_val_check(buf, vl, "hot", 3, &seq) && seq == 1);
            /* foreach on a writable handle needs that lock too */
            n = 0;
            t0 = h_now();
            rc = shmkv_foreach(db, fe_count, &n);
            dt = h_now() - t0;
            CHECKF((rc == -ETIMEDOUT && dt < 3.0) || (rc == 0 && n == 101),
                   "writable foreach while a writer is stopped holding a lock: %s after %.3f s",
                   h_errname(rc), dt);
        } else {
            successes++;
            CHECKF(rc == 0 && dt < 0.5, "put while a writer is stopped: %s after %.3f s",
                   h_errname(rc), dt);
            CHECK_RC(shmkv_put(db, "hot", 3, v, sizeof v), 0); /* back to seq 1 */
        }
        /* other shards are not affected */
        t0 = h_now();
        for (int i = 0; i < 100; i++) {
            char k[16];
            size_t kl = (size_t)snprintf(k, sizeof k, "other-%d", i);
            vl = 0;
            CHECK_RC(shmkv_get(db, k, kl, buf, sizeof buf, &vl), 0);
        }
        CHECK(h_now() - t0 < 0.5);
        CHECK(kill(pid, SIGCONT) == 0);
        h_sleep(0.02);
    }
    h_note("stopped writer: %d writes timed out, %d went through", timeouts, successes);
    CHECKF(timeouts > 0, "a writer stopped 30 times in a tight loop never held its lock "
           "(no -ETIMEDOUT seen)");

    /* a stopped writer that is killed: its lock is free at once */
    CHECK(kill(pid, SIGSTOP) == 0);
    h_sleep(0.01);
    CHECK(kill(pid, SIGKILL) == 0);
    reap_killed(pid);
    double t0 = h_now();
    CHECK_RC(shmkv_put(db, "hot", 3, v, sizeof v), 0);
    CHECKF(h_now() - t0 < 0.5, "put after the stopped writer was killed took %.3f s",
           h_now() - t0);
    CHECK_EQ_U64(shmkv_count(db), 101);
    CHECK_TABLE(db, "after the stopped writer");
    shmkv_close(ro);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static pid_t start_writer(int serial)
{
    pid_t pid = h_fork();
    if (pid == 0)
        writer(serial);
    return pid;
}

static void reap_killed(pid_t pid)
{
    int status;
    pid_t w;
    do {
        w = waitpid(pid, &status, 0);
    } while (w < 0 && errno == EINTR);
    CHECK(w == pid);
    if (w == pid && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        CHECKF(0, "writer %d ended by itself (status %#x) before it was killed", (int)pid,
               status);
}

/* ---- writers killed while workers read and write ------------------------ */

static void test_kills(void)
{
    S = h_shm_alloc(sizeof *S);
    h_name(g_name, sizeof g_name, "kill");
    CHECK_RC(shmkv_open(g_name, NULL, &g_db), 0);
    if (!g_db)
        return;
    unsigned char *buf = malloc(BIG_MAX);

    pid_t workers[NWORKERS];
    for (int w = 0; w < NWORKERS; w++) {
        workers[w] = h_fork();
        if (workers[w] == 0)
            worker(w);
    }
    pid_t writers[NWRITERS];
    int serial = 0;
    for (int i = 0; i < NWRITERS; i++)
        writers[i] = start_writer(serial++);

    h_rng r = h_rng_new(31337);
    double t0 = h_now();
    int kills = 0;
    while (kills < KILLS && h_now() - t0 < KILL_PHASE_MAX_S) {
        /* mostly 0-80 ms after the previous kill; sometimes right away,
         * so some writers die while still opening the table */
        double pause = h_below(&r, 8) == 0 ? 0.0005 * (double)h_below(&r, 4)
                                           : 0.001 * (double)h_below(&r, 80);
        h_sleep(pause);
        int slot = (int)h_below(&r, NWRITERS);
        kill(writers[slot], SIGKILL);
        reap_killed(writers[slot]);
        resolve(writers[slot], buf);
        kills++;
        writers[slot] = start_writer(serial++);
        if (kills % 50 == 0) {
            char when[48];
            snprintf(when, sizeof when, "after %d kills, writers running", kills);
            CHECK_TABLE(g_db, when);
        }
    }
    double kill_secs = h_now() - t0;
    for (int i = 0; i < NWRITERS; i++) {
        kill(writers[i], SIGKILL);
        reap_killed(writers[i]);
        resolve(writers[i], buf);
    }
    __atomic_store_n(&S->stop, 1, __ATOMIC_RELEASE);
    for (int w = 0; w < NWORKERS; w++) {
        char what[32];
        snprintf(what, sizeof what, "worker %d", w);
        h_wait(workers[w], what);
    }

    CHECKF(kills >= KILLS, "only %d kills in %.1f s", kills, kill_secs);
    long writer_ops = __atomic_load_n(&S->writer_ops, __ATOMIC_RELAXED);
    h_note("%d kills in %.1f s; %ld acknowledged writer ops; interrupted ops found done %ld, "
           "not done %ld, none in flight %ld",
           kills, kill_secs, writer_ops, S->interrupted_new, S->interrupted_old,
           S->interrupted_none);
    CHECK(writer_ops > kills);
    long worker_present = 0;
    for (int w = 0; w < NWORKERS; w++) {
        struct worker_stats *ws = &S->w[w];
        h_note("worker %d: %ld ops (%ld gets, %ld found, %ld foreach), longest op %.1f ms (%s)",
               w, ws->ops, ws->gets, ws->found, ws->foreach_runs, ws->max_lat * 1e3,
               ws->max_op);
        CHECKF(ws->max_lat < MAX_OP_S, "worker %d: one %s took %.3f s", w, ws->max_op,
               ws->max_lat);
        CHECK_EQ_INT(ws->bad, 0);
        CHECK(ws->ops > 1000);
        CHECK(ws->found > 0);
        worker_present += ws->present;
    }

    /* every key holds its acknowledged state */
    long wrong = 0, present = 0;
    char desc[96];
    for (int i = 0; i < NLOGKEYS; i++) {
        struct keylog *L = &S->keys[i];
        CHECK(L->owner == 0 && L->pend_op == OP_NONE);
        present += L->acked_present;
        if (!holds(g_db, i, (int)L->acked_present, L->acked_seq, L->acked_vlen, buf, desc,
                   sizeof desc) &&
            wrong++ < 10)
            CHECKF(0, "final: key %d holds %s; acknowledged %s seq %llu", i, desc,
                   L->acked_present ? "present" : "absent", (unsigned long long)L->acked_seq);
    }
    CHECK_EQ_INT(wrong, 0);
    long badpairs = 0;
    CHECK_RC(shmkv_foreach(g_db, count_visit, &badpairs), 0);
    CHECK_EQ_INT(badpairs, 0);
    CHECK_EQ_U64(shmkv_count(g_db), (uint64_t)(present + worker_present));
    shmkv_stats st;
    CHECK_RC(shmkv_stat(g_db, &st), 0);
    CHECK_EQ_U64(st.keys, (uint64_t)(present + worker_present));
    CHECK_TABLE(g_db, "after the kills");
    h_note("final: %llu keys, lock_recoveries %llu, lock_waits %llu, used %llu, file %llu, "
           "garbage %llu", (unsigned long long)st.keys, (unsigned long long)st.lock_recoveries,
           (unsigned long long)st.lock_waits, (unsigned long long)st.used_bytes,
           (unsigned long long)st.file_bytes, (unsigned long long)st.garbage_bytes);

    /* the table is usable: every log key can be written, read, deleted */
    shmkv *db2 = NULL;
    CHECK_RC(shmkv_open(g_name, NULL, &db2), 0);
    long bad = 0;
    for (int i = 0; db2 && i < NLOGKEYS; i++) {
        char k[32];
        size_t kl = log_key(k, i);
        unsigned char v[64];
        h_val_make(v, sizeof v, k, kl, 1);
        bad += shmkv_put(db2, k, kl, v, sizeof v) != 0;
        bad += !holds(g_db, i, 1, 1, sizeof v, buf, desc, sizeof desc);
        if (i % 2)
            bad += shmkv_del(db2, k, kl) != 0;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_U64(shmkv_count(g_db), (uint64_t)(NLOGKEYS / 2 + worker_present));
    CHECK_TABLE(g_db, "at the end");
    shmkv_close(db2);
    shmkv_close(g_db);
    CHECK_RC(shmkv_unlink(g_name), 0);
    free(buf);
    h_shm_free(S, sizeof *S);
}

static const struct h_part parts[] = {
    { "kills", test_kills },
    { "stopped_writer", test_stopped_writer },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_kill", parts, H_NPARTS(parts));
}
