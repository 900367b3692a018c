/*
 * test_atomic.c - the atomic writes between processes.
 *
 *  - incr_exact: 4 processes x 4 threads, each doing INCRS shmkv_incr on
 *    the same 8 counters: every count exact, every result handed out once.
 *  - incr_killed: writers killed with SIGKILL again and again while they
 *    increment: every acknowledged increment counted once, none twice, and
 *    the increments in flight at a kill counted at most once each.
 *  - cas: compare-and-swap loops (SHMKV_IF_EQUAL) from several processes
 *    make a counter: exact.
 *  - take: 8 processes take one key at once, round after round: exactly
 *    one winner each time.
 *  - leases_store, leases_cache: 8 processes miss one key at once: exactly
 *    one lease; a put, del or clear after the grant makes its fill return
 *    -ECANCELED and store nothing (atomic_work.c plays these rounds).
 *  - lease_holder_killed: a lease whose holder was killed stays pending
 *    for its lifetime, then lapses and a new one is granted.
 *  - scan_rdonly: full scans from read-only (and writable) handles while
 *    2 processes write: every key present throughout visited exactly once.
 * test_atomic_threads has the same games between the threads of one
 * process, for ThreadSanitizer.
 */
#include "harness.h"
#include "api_helpers.h"
#include "atomic_work.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPROC 4
#define NTHR 4
#define INCRS (H_ASAN ? 20000L : 100000L) /* per thread */

static char g_name[64];
static struct results *g_res;
static long g_n;
static struct game *g_game;

/* ---- processes of threads ---- */

typedef void (*work_fn)(shmkv *db, unsigned worker);
struct job {
    shmkv *db;
    unsigned worker;
    work_fn fn;
};

static void *job_main(void *p)
{
    struct job *j = p;
    j->fn(j->db, j->worker);
    return NULL;
}

/* nproc processes of nthr threads each, every thread running fn with its
 * own worker number; each process opens its own handle. */
static void start_procs(pid_t *pids, int nproc, int nthr, work_fn fn)
{
    for (int p = 0; p < nproc; p++) {
        if ((pids[p] = h_fork()) != 0)
            continue;
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(g_name, NULL, &db), 0);
        pthread_t th[NTHR];
        struct job jobs[NTHR];
        for (int t = 0; t < nthr && db; t++) {
            jobs[t] = (struct job){ db, (unsigned)(p * nthr + t), fn };
            CHECK(pthread_create(&th[t], NULL, job_main, &jobs[t]) == 0);
        }
        for (int t = 0; t < nthr && db; t++)
            pthread_join(th[t], NULL);
        shmkv_close(db);
        h_child_exit();
    }
}

static void wait_procs(const pid_t *pids, int nproc)
{
    for (int p = 0; p < nproc; p++)
        h_wait(pids[p], "worker");
}

static shmkv *create(unsigned flags, uint64_t max_bytes)
{
    return open_with(g_name, sizeof g_name, "atomic", flags, max_bytes);
}

/* ---- increments ---- */

static void incr_job(shmkv *db, unsigned w) { incr_work(db, g_res, w, g_n); }

static void test_incr_exact(void)
{
    shmkv *db = create(0, 0);
    uint64_t per_key = (uint64_t)NPROC * NTHR * INCRS / NCOUNTERS;
    g_res = results_new(NCOUNTERS, per_key + 1);
    g_n = INCRS;
    pid_t pids[NPROC];
    double t0 = h_now();
    start_procs(pids, NPROC, NTHR, incr_job);
    wait_procs(pids, NPROC);
    h_note("%d x %d x %ld increments of %d counters in %.2f s", NPROC, NTHR, g_n, NCOUNTERS,
           h_now() - t0);
    check_counters(db, g_res, per_key);
    CHECK_EQ_U64(shmkv_count(db), NCOUNTERS);
    results_free(g_res);
    FINISH_TABLE(db, g_name, "after the increments");
}

/* ---- increments by writers killed at random instants ---- */

#define KWRITERS 3
#define KTHR 2
#define KILLS (H_ASAN ? 50 : 150)

/* Per writer thread: the counter it is incrementing (+1), 0 between
 * increments.  A writer thread records each result it gets (its
 * acknowledgement) before it clears this; one killed with it set may or
 * may not have made that increment, and may or may not have recorded it,
 * but it made it at most once. */
static uint32_t (*g_inflight)[KTHR];

static void *killed_writer_thread(void *p)
{
    struct job *j = p;
    uint32_t *inflight = &g_inflight[j->worker / KTHR][j->worker % KTHR];
    char keys[NCOUNTERS][32];
    size_t kl[NCOUNTERS];
    for (unsigned i = 0; i < NCOUNTERS; i++)
        kl[i] = counter_key(keys[i], i);
    h_rng r = h_rng_new(getpid() * 31 + j->worker);
    for (;;) {
        unsigned k = (unsigned)h_below(&r, NCOUNTERS);
        __atomic_store_n(inflight, k + 1, __ATOMIC_SEQ_CST);
        int64_t res;
        int rc;
        RETRY_TIMEDOUT(rc, shmkv_incr(j->db, keys[k], kl[k], 1, 0, &res));
        if (rc) {
            h_fail(__FILE__, __LINE__, "incr: %s", h_errname(rc));
            h_child_exit();
        }
        results_claim(g_res, k, (uint64_t)res); /* the acknowledgement */
        __atomic_store_n(inflight, 0, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static pid_t start_killed_writer(shmkv *db, unsigned w)
{
    pid_t pid = h_fork();
    if (pid != 0)
        return pid;
    pthread_t th[KTHR];
    struct job jobs[KTHR];
    for (unsigned t = 0; t < KTHR; t++) {
        jobs[t] = (struct job){ db, w * KTHR + t, NULL };
        CHECK(pthread_create(&th[t], NULL, killed_writer_thread, &jobs[t]) == 0);
    }
    for (;;)
        pause(); /* until killed */
}

/* Reap a child that must have died of SIGKILL. */
static void reap_killed(pid_t pid)
{
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    CHECKF(w == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
           "writer %d ended with status %#x before it was killed", (int)pid, status);
}

static void kill_writer(pid_t pid)
{
    kill(pid, SIGKILL);
    reap_killed(pid);
}

static void test_incr_killed(void)
{
    shmkv *db = create(0, 0); /* inherited by the writers */
    g_res = results_new(NCOUNTERS, 1u << 23);
    g_inflight = h_shm_alloc(sizeof(uint32_t[KWRITERS][KTHR]));
    uint64_t unknown[NCOUNTERS] = { 0 };
    pid_t pids[KWRITERS];
    for (unsigned w = 0; w < KWRITERS; w++)
        pids[w] = start_killed_writer(db, w);
    h_rng r = h_rng_new(7);
    double t0 = h_now();
    for (int kill_no = 0; kill_no < KILLS; kill_no++) {
        h_sleep(0.001 + 0.004 * (double)h_below(&r, 1000) / 1000);
        unsigned w = (unsigned)h_below(&r, KWRITERS);
        kill_writer(pids[w]);
        for (unsigned t = 0; t < KTHR; t++) {
            uint32_t k = __atomic_load_n(&g_inflight[w][t], __ATOMIC_SEQ_CST);
            if (k)
                unknown[k - 1]++;
            g_inflight[w][t] = 0;
        }
        pids[w] = start_killed_writer(db, w);
    }
    for (unsigned w = 0; w < KWRITERS; w++) {
        kill_writer(pids[w]);
        for (unsigned t = 0; t < KTHR; t++)
            if (g_inflight[w][t])
                unknown[g_inflight[w][t] - 1]++;
    }
    /* Each counter: its acknowledged results are distinct (results_claim
     * checked it) and none above it, and it exceeds their number by at
     * most the increments in flight at kills: every acknowledged increment
     * counted once, an unknown one at most once, none twice. */
    uint64_t total = 0, acked = 0, in_flight = 0;
    for (unsigned k = 0; k < NCOUNTERS; k++) {
        int64_t v = counter_read(db, k);
        uint64_t max, n = results_count(g_res, k, &max);
        CHECKF(v >= 0 && max <= (uint64_t)v && n <= (uint64_t)v && (uint64_t)v - n <= unknown[k],
               "counter %u: %lld; %llu acknowledged increments up to %llu; %llu in flight at kills",
               k, (long long)v, (unsigned long long)n, (unsigned long long)max,
               (unsigned long long)unknown[k]);
        total += (uint64_t)v;
        acked += n;
        in_flight += unknown[k];
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%d kills in %.1f s: %llu increments, %llu acknowledged, %llu in flight at a kill "
           "(%llu of those made); %llu lock recoveries; file %llu", KILLS, h_now() - t0,
           (unsigned long long)total, (unsigned long long)acked, (unsigned long long)in_flight,
           (unsigned long long)(total - acked), (unsigned long long)st.lock_recoveries, (unsigned long long)st.file_bytes);
    CHECK(acked > 0);
    h_shm_free(g_inflight, sizeof(uint32_t[KWRITERS][KTHR]));
    results_free(g_res);
    FINISH_TABLE(db, g_name, "after killed incrementers");
}

/* ---- compare-and-swap ---- */

#define CAS_PROCS 4
#define CAS_THR 2
#define CAS_EACH (H_ASAN ? 3000L : 15000L)

static long *g_cas_lost;

static void cas_job(shmkv *db, unsigned w)
{
    (void)w;
    __atomic_fetch_add(g_cas_lost, cas_work(db, g_res, g_n), __ATOMIC_RELAXED);
}

static void test_cas(void)
{
    shmkv *db = create(0, 0);
    CHECK_RC(shmkv_put(db, "cas", 3, "0", 1), 0);
    uint64_t total = (uint64_t)CAS_PROCS * CAS_THR * CAS_EACH;
    g_res = results_new(1, total + 1);
    g_cas_lost = h_shm_alloc(sizeof *g_cas_lost);
    g_n = CAS_EACH;
    pid_t pids[CAS_PROCS];
    start_procs(pids, CAS_PROCS, CAS_THR, cas_job);
    wait_procs(pids, CAS_PROCS);
    char v[32];
    size_t vl;
    CHECK_RC(shmkv_get(db, "cas", 3, v, sizeof v - 1, &vl), 0);
    v[vl] = 0;
    uint64_t max, n = results_count(g_res, 0, &max);
    CHECKF(strtoull(v, NULL, 10) == total && n == total && max == total,
           "CAS counter %s, %llu results up to %llu, %llu swaps made", v, (unsigned long long)n,
           (unsigned long long)max, (unsigned long long)total);
    h_note("%llu compare-and-swaps from %d x %d threads, %ld lost to another writer",
           (unsigned long long)total, CAS_PROCS, CAS_THR, *g_cas_lost);
    h_shm_free(g_cas_lost, sizeof *g_cas_lost);
    results_free(g_res);
    FINISH_TABLE(db, g_name, "after compare-and-swap");
}

/* ---- rounds: take, leases ---- */

#define PLAYERS 8
#define ROUNDS (H_ASAN ? 100 : 300)

static void take_job(shmkv *db, unsigned w) { (void)w; take_play(db, g_game); }
static void lease_job(shmkv *db, unsigned w) { (void)w; lease_play(db, g_game); }

/* ROUNDS of a game between PLAYERS processes, this one driving. */
static void game(unsigned flags, uint64_t max_bytes, work_fn play, void (*drive)(shmkv *, struct game *))
{
    shmkv *db = create(flags, max_bytes);
    g_game = game_new(PLAYERS, ROUNDS);
    pid_t pids[PLAYERS];
    start_procs(pids, PLAYERS, 1, play);
    drive(db, g_game);
    wait_procs(pids, PLAYERS);
    game_free(g_game);
    FINISH_TABLE(db, g_name, "after the rounds");
}

static void test_take(void) { game(0, 0, take_job, take_drive); }
static void test_leases_store(void) { game(0, 0, lease_job, lease_drive); }
static void test_leases_cache(void) { game(SHMKV_CACHE, 8u << 20, lease_job, lease_drive); }

/* ---- a lease whose holder was killed ---- */

#define LEASE_MS 100
#define HOLDER_ROUNDS 5

struct holder {
    uint64_t token;
    double before, after; /* h_now() around the grant */
};

static void test_lease_holder_killed(void)
{
    shmkv *db = create(0, 0);
    struct holder *h = h_shm_alloc(sizeof *h);
    int pending_seen = 0;
    for (int round = 0; round < HOLDER_ROUNDS; round++) {
        memset(h, 0, sizeof *h);
        pid_t pid = h_fork();
        if (pid == 0) {
            char buf[8];
            size_t vl;
            h->before = h_now();
            CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, &vl, LEASE_MS, &h->token), -ENOENT);
            h->after = h_now();
            CHECK(h->token != 0);
            raise(SIGKILL); /* dies holding it */
        }
        reap_killed(pid);
        CHECK(h->token != 0);
        /* still pending, unless its lifetime is over already */
        char buf[8];
        size_t vl;
        uint64_t lease = 0;
        double t1 = h_now();
        CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, &vl, LEASE_MS, &lease), -ENOENT);
        double t2 = h_now();
        if (lease == 0) {
            pending_seen++;
            CHECKF(t1 - h->after < LEASE_MS / 1000.0 + 0.002, "pending %.3f s after the grant",
                   t1 - h->after);
            h_sleep(h->after + LEASE_MS / 1000.0 + 0.003 - h_now());
            CHECK_RC(shmkv_get_lease(db, "k", 1, buf, sizeof buf, &vl, LEASE_MS, &lease), -ENOENT);
            CHECKF(lease != 0, "no new lease %.3f s after the grant", h_now() - h->after);
        } else {
            CHECKF(t2 - h->before > LEASE_MS / 1000.0 - 0.002, "lapsed %.3f s after the grant",
                   t2 - h->before);
        }
        CHECK(lease > h->token);
        CHECK_RC(shmkv_put_leased(db, "k", 1, "dead", 4, 0, h->token), -ECANCELED);
        CHECK_RC(shmkv_put_leased(db, "k", 1, "new", 3, 0, lease), 0);
        CHECK_VAL(db, "k", 1, "new", 3);
        CHECK_RC(shmkv_del(db, "k", 1), 0);
    }
    CHECKF(pending_seen > 0, "the killed holder's lease was never seen pending");
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.leases_granted, 2 * HOLDER_ROUNDS);
    CHECK_EQ_U64(st.leases_filled, HOLDER_ROUNDS);
    CHECK_EQ_U64(st.leases_voided, HOLDER_ROUNDS);
    h_shm_free(h, sizeof *h);
    FINISH_TABLE(db, g_name, "after killed lease holders");
}

/* ---- scans while other processes write ---- */

/* Keys of three kinds: stable ones nobody writes, overwritten ones the
 * writers rewrite but never remove, churned ones they remove and add. */
enum { STABLE, OVERWRITTEN, CHURNED, KINDS };
#define PER_KIND 2000
#define SCAN_SECONDS (H_ASAN ? 3.0 : 2.0)
static const char *const kind_prefix[KINDS] = { "st", "ow", "ch" };

struct scan_shared {
    int stop;                   /* atomic */
    long scans, retries;        /* atomic */
};
static struct scan_shared *g_scan;

static size_t kind_key(char *k, int kind, int i)
{
    return (size_t)snprintf(k, 32, "%s-%d", kind_prefix[kind], i);
}

static void put_valid(shmkv *db, int kind, int i, uint64_t seq)
{
    char k[32];
    unsigned char v[200];
    size_t kl = kind_key(k, kind, i), vl = H_VAL_MIN + seq % 150;
    h_val_make(v, vl, k, kl, seq);
    CHECK_RC(shmkv_put(db, k, kl, v, vl), 0);
}

static int upd_valid(void *ctx, const void *k, size_t kl, const void *v, size_t vl, shmkv_update_out *o)
{
    unsigned char *buf = ctx;
    (void)v;
    CHECK(v != NULL && vl >= H_VAL_MIN);
    h_val_make(buf, 100, k, kl, 12345);
    o->val = buf;
    o->vlen = 100;
    o->flags = SHMKV_KEEP_TTL;
    return SHMKV_UPDATE_SET;
}

/* One write of a writer: an overwrite or a churn, in every way there is. */
static void scan_write(shmkv *db, h_rng *r, uint64_t seq)
{
    char k[32];
    unsigned char v[200], buf[200];
    int i = (int)h_below(r, PER_KIND);
    int kind = h_below(r, 2) ? OVERWRITTEN : CHURNED;
    size_t kl = kind_key(k, kind, i), vl = H_VAL_MIN + seq % 150;
    h_val_make(v, vl, k, kl, seq);
    shmkv_put_opts o = { .flags = SHMKV_IF_PRESENT | SHMKV_KEEP_TTL };
    shmkv_pair pair = { .key = k, .klen = kl, .val = v, .vlen = vl };
    void *p = NULL;
    int rc = 0;
    switch (h_below(r, 4) + (kind == CHURNED ? 4 : 0)) {
    case 0: rc = shmkv_put(db, k, kl, v, vl); break;
    case 1: rc = shmkv_put_ex(db, k, kl, v, vl, &o); break;
    case 2: rc = shmkv_update(db, k, kl, upd_valid, buf); break;
    case 3: rc = shmkv_put_many(db, &pair, 1) == 1 ? 0 : pair.rc; break;
    case 4: rc = shmkv_add(db, k, kl, v, vl); break;
    case 5: rc = shmkv_del(db, k, kl); break;
    case 6: rc = shmkv_take(db, k, kl, &p, &vl); free(p); break;
    default: rc = shmkv_put_ttl(db, k, kl, v, vl, 60000); break;
    }
    if (rc == -ETIMEDOUT) /* changed nothing (see RETRY_TIMEDOUT): the next write goes on */
        note_timeout();
    else if (rc && !(kind == CHURNED && (rc == -EEXIST || rc == -ENOENT)))
        h_fail(__FILE__, __LINE__, "write of %s: %s", k, h_errname(rc));
}

static void scan_writer(shmkv *db, unsigned w)
{
    h_rng r = h_rng_new(1000 + w);
    for (uint64_t seq = 1; !__atomic_load_n(&g_scan->stop, __ATOMIC_RELAXED); seq++)
        scan_write(db, &r, seq);
}

struct seen {
    unsigned char n[KINDS][PER_KIND];
    long bad, unknown;
};

static int seen_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct seen *s = ctx;
    char z[32] = { 0 }, pre[3] = { 0 };
    int i, kind = -1;
    memcpy(z, key, klen < sizeof z - 1 ? klen : sizeof z - 1);
    if (sscanf(z, "%2[a-z]-%d", pre, &i) == 2 && i >= 0 && i < PER_KIND)
        for (int kd = 0; kd < KINDS; kd++)
            if (strcmp(pre, kind_prefix[kd]) == 0)
                kind = kd;
    if (kind < 0)
        s->unknown++;
    else if (s->n[kind][i] < 255)
        s->n[kind][i]++;
    if (!h_val_check(val, vlen, key, klen, NULL))
        s->bad++;
    return 0;
}

/* Full scans until told to stop; each checked on its own. */
static void scanner(shmkv *db, const char *what)
{
    struct seen *s = malloc(sizeof *s);
    long scans = 0;
    while (!__atomic_load_n(&g_scan->stop, __ATOMIC_RELAXED)) {
        memset(s, 0, sizeof *s);
        uint64_t cur = 0;
        for (;;) {
            int rc = shmkv_scan(db, &cur, seen_visit, s);
            if (rc == -EAGAIN || rc == -ETIMEDOUT) { /* writers changed the piece every
                                                      * time, or held its lock: again */
                __atomic_fetch_add(&g_scan->retries, 1, __ATOMIC_RELAXED);
                continue;
            }
            CHECK_RC(rc, 0);
            if (rc || !cur)
                break;
        }
        long missed = 0, twice = 0;
        for (int kind = 0; kind < KINDS; kind++)
            for (int i = 0; i < PER_KIND; i++) {
                missed += kind != CHURNED && s->n[kind][i] == 0;
                twice += s->n[kind][i] > 1;
            }
        if ((missed || twice || s->bad || s->unknown) && scans < 5)
            h_fail(__FILE__, __LINE__, "%s scan %ld: %ld keys present throughout missed, %ld "
                   "keys visited twice, %ld bad values, %ld unknown keys", what, scans, missed,
                   twice, s->bad, s->unknown);
        scans++;
    }
    __atomic_fetch_add(&g_scan->scans, scans, __ATOMIC_RELAXED);
    free(s);
}

static void scan_reader(void)
{
    shmkv *ro = open_ro(g_name), *rw = NULL;
    CHECK_RC(shmkv_open(g_name, NULL, &rw), 0);
    pid_t other = h_fork(); /* a writable handle's scans alongside */
    if (other == 0) {
        scanner(rw, "writable");
        h_child_exit();
    }
    if (ro)
        scanner(ro, "read-only");
    h_wait(other, "writable scanner");
    shmkv_close(ro);
    shmkv_close(rw);
}

static void test_scan_rdonly(void)
{
    shmkv *db = create(0, 0);
    g_scan = h_shm_alloc(sizeof *g_scan);
    for (int kind = 0; kind < KINDS; kind++)
        for (int i = 0; i < PER_KIND; i++)
            put_valid(db, kind, i, 1);
    pid_t writers[2], reader = h_fork();
    if (reader == 0) {
        scan_reader();
        h_child_exit();
    }
    start_procs(writers, 2, 1, scan_writer);
    h_sleep(SCAN_SECONDS);
    __atomic_store_n(&g_scan->stop, 1, __ATOMIC_RELAXED);
    wait_procs(writers, 2);
    h_wait(reader, "scanners");
    h_note("%ld full scans while 2 processes wrote (%ld pieces retried after -EAGAIN)",
           g_scan->scans, g_scan->retries);
    CHECK(g_scan->scans >= 4);
    h_shm_free(g_scan, sizeof *g_scan);
    FINISH_TABLE(db, g_name, "after scans under writes");
}

static const struct h_part parts[] = {
    { "incr_exact", test_incr_exact },
    { "incr_killed", test_incr_killed },
    { "cas", test_cas },
    { "take", test_take },
    { "leases_store", test_leases_store },
    { "leases_cache", test_leases_cache },
    { "lease_holder_killed", test_lease_holder_killed },
    { "scan_rdonly", test_scan_rdonly },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_atomic", parts, H_NPARTS(parts));
}
