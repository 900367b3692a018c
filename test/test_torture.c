/*
 * test_torture.c - crash torture: writers killed with SIGKILL thousands of
 * times while readers validate everything they see.
 *
 * Four writer processes put, add, replace and delete values on one shared
 * set of keys; a killer (the main process) sends SIGKILL to a random writer
 * after a random pause (0 to 4 ms, one time in eight under 0.2 ms) and
 * starts a replacement; one time in three (churn phase) it instead watches
 * the allocator's lock word and kills whichever writer holds that lock the
 * moment it sees one, so deaths inside run allocation are frequent.  Two
 * reader processes (one with a read-write handle, one read-only) are never
 * killed and validate every value they get.
 *
 * Phases, each on a table of its own:
 *  A. insert: rounds on fresh 2 MiB tables (8 shards) where writers mostly
 *     add new small keys, so bucket splits, chunk allocation and overflow
 *     buckets happen all the time, until the table is full (-ENOSPC);
 *  B. churn: one 8 MiB table (32 shards) kept near full by a mix of value
 *     sizes, 7% of them 32 to 160 KiB (records of their own run, chained
 *     over several runs when space is fragmented): compaction, run
 *     allocation, chain allocation/release and -ENOSPC recovery run
 *     constantly.
 *
 * The writers' log.  Values are h_val_make(key, seq): they carry their key,
 * a sequence number and a checksum.  A writer claims a key (CAS, one writer
 * per key at a time, any writer may take any key), checks the table holds
 * the key's acknowledged state, writes the operation it is about to issue
 * into shared memory (op, seq, length), issues it, checks its return code
 * against the acknowledged state (-EEXIST, -ENOENT exactly when due;
 * -ENOSPC allowed for writes, changing nothing), records the result as
 * acknowledged, and releases the key.  After killing a writer, the killer
 * checks the key it held: it must hold either the acknowledged state or
 * exactly the result of the one operation in flight (all or nothing).
 *
 * Readers check that every value they get is a valid value of its key, that
 * the sequence numbers they see for a key never go backwards, and, when a
 * key was not claimed by anyone during the read, that the read returned
 * exactly its acknowledged state (so a lost or resurrected write is seen
 * at once, not only at the end).  They also run get_many, get_alloc and
 * foreach (read-write: locks; read-only: optimistic, may give -EAGAIN).
 *
 * Every 100 kills shmkv_check runs while writers work; every 300 kills (and
 * at the end of each round) all writers are killed at once and everything
 * is verified: every key holds its acknowledged state, foreach agrees with
 * count and stat, shmkv_check finds the table sound.  At the end of the
 * churn phase every key is deleted and the table must have room again for
 * at least half its max_bytes (runs leaked by killed writers would eat
 * it); leaked runs are counted and reported.
 *
 * Every operation of readers and writers is timed: the longest must stay
 * under 1 s (a dead lock holder never blocks anybody for long).
 *
 * Configuration (environment):
 *   SHMKV_TORTURE_KILLS    kills to do (default 2000, ASan 1000)
 *   SHMKV_TORTURE_SECONDS  time limit of the kill phases (default 50, ASan 75)
 *   SHMKV_TORTURE_SEED     random seed (default: fixed)
 * A long run: SHMKV_TORTURE_KILLS=300000 SHMKV_TORTURE_SECONDS=3600
 * build/test/test_torture.  The result is one line:
 *   TORTURE RESULT kills=... ops=... longest_wait_ms=... violations=...
 *   lock_recoveries=... (see the end of main for all fields)
 *
 * The test reads two internals (src/format.h): the allocator's lock word,
 * to aim kills at its holder, and the run headers, to count leaked runs.
 */
#include "torture.h"
#include "format.h"
#include "handle.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared *S;
shmkv *g_db;
int g_serial;
static unsigned char *g_buf;

/* totals */
static long g_kills, g_targeted, g_quiesces, g_rounds, g_checks;
static long g_new, g_old, g_none;
static uint64_t g_splits, g_keys_a;
static uint64_t g_recoveries, g_alloc_recoveries, g_leaked_runs, g_leaked_bytes;

/* ---- the killer ---------------------------------------------------------------- */

/* The thread id in a lock's word (format.h: low 30 bits). */
static int32_t lock_owner(struct lock *l)
{
    return (int32_t)(__atomic_load_n((uint32_t *)&l->word, __ATOMIC_RELAXED) & LOCK_TID);
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
        VIOLATION("writer %d ended by itself (status %#x) before it was killed", (int)pid,
                  status);
}

/* The writer in slot was killed: check and release the key it held. */
static void resolve(int slot)
{
    pid_t pid = S->w[slot].pid;
    int i = __atomic_load_n(&S->w[slot].claiming, __ATOMIC_SEQ_CST);
    if (i < 0 || i >= MAXKEYS)
        return;
    struct keylog *L = &S->keys[i];
    if (__atomic_load_n(&L->owner, __ATOMIC_SEQ_CST) != (int32_t)pid)
        return;
    const uint32_t gen = S->gen;
    const int phase = S->phase;
    char desc[96], desc2[96];
    uint32_t op = __atomic_load_n(&L->pend_op, __ATOMIC_SEQ_CST);
    int ap = (int)ld32(&L->acked_present);
    uint64_t as = ld64(&L->acked_seq), av = ld64(&L->acked_vlen);
    if (op == OP_NONE) {
        if (!torture_holds(g_db, gen, phase, i, ap, as, av, g_buf, desc, sizeof desc)) {
            VIOLATION("key %d of a killed writer holds %s; acknowledged: %s seq %llu", i, desc,
                      ap ? "present" : "absent", (unsigned long long)as);
            torture_adopt(g_db, gen, phase, i, g_buf);
        }
        g_none++;
    } else {
        int np;
        uint64_t ns, nv;
        torture_op_result(op, L, &np, &ns, &nv);
        if (torture_holds(g_db, gen, phase, i, np, ns, nv, g_buf, desc, sizeof desc)) {
            g_new++;
            torture_set_acked(L, np, ns, nv);
        } else if (torture_holds(g_db, gen, phase, i, ap, as, av, g_buf, desc2, sizeof desc2)) {
            g_old++;
        } else {
            VIOLATION("key %d of a writer killed during a %s (seq %llu, %llu bytes) holds %s: "
                      "neither its result nor the acknowledged state (%s seq %llu)", i,
                      op_names[op], (unsigned long long)ld64(&L->pend_seq),
                      (unsigned long long)ld64(&L->pend_vlen), desc, ap ? "present" : "absent",
                      (unsigned long long)as);
            torture_adopt(g_db, gen, phase, i, g_buf);
        }
        __atomic_store_n(&L->pend_op, OP_NONE, __ATOMIC_SEQ_CST);
    }
    __atomic_add_fetch(&L->version, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&L->owner, 0, __ATOMIC_SEQ_CST);
}

/* Kill one writer (at random, or the allocator lock's holder) and start
 * another in its place. */
static void kill_one(h_rng *r, int aim, uint64_t seed)
{
    int slot = -1;
    if (aim) {
        /* watch the allocator lock for up to 4 ms; kill its holder */
        struct lock *m = &g_db->hdr->alloc_lock;
        double until = h_now() + 0.004;
        while (slot < 0 && h_now() < until) {
            int32_t tid = lock_owner(m);
            for (int w = 0; tid && w < NWRITERS; w++)
                if (S->w[w].pid == tid)
                    slot = w;
        }
        if (slot >= 0)
            g_targeted++;
    } else {
        double pause = h_below(r, 8) == 0 ? 0.0002 * (double)h_below(r, 1000) / 1000.0
                                          : 0.004 * (double)h_below(r, 1000) / 1000.0;
        h_sleep(pause);
    }
    if (slot < 0)
        slot = (int)h_below(r, NWRITERS);
    kill(S->w[slot].pid, SIGKILL);
    reap_killed(S->w[slot].pid);
    resolve(slot);
    g_kills++;
    torture_start_writer(slot, seed);
}

/* Kill every writer at once (so their locks are all abandoned together). */
static void kill_all(void)
{
    for (int w = 0; w < NWRITERS; w++)
        kill(S->w[w].pid, SIGKILL);
    for (int w = 0; w < NWRITERS; w++) {
        reap_killed(S->w[w].pid);
        resolve(w);
        g_kills++;
    }
    g_quiesces++;
}

static void start_all(uint64_t seed)
{
    for (int w = 0; w < NWRITERS; w++)
        torture_start_writer(w, seed);
}

static int count_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct rctx *c = ctx;
    c->pairs++;
    int i = torture_key_id(c, key, klen);
    char k[160];
    if (i < 0 || torture_key_of(k, c->gen, c->phase, i) != klen || memcmp(k, key, klen) != 0 ||
        !h_val_check(val, vlen, key, klen, NULL))
        c->bad++;
    return 0;
}

/* With no writer alive: every key holds its acknowledged state, the table
 * agrees with itself, shmkv_check finds it sound. */
static void verify_all(int nkeys, const char *when)
{
    const uint32_t gen = S->gen;
    const int phase = S->phase;
    long wrong = 0, present = 0;
    char desc[96];
    for (int i = 0; i < nkeys; i++) {
        struct keylog *L = &S->keys[i];
        if (L->owner != 0 || L->pend_op != OP_NONE) {
            VIOLATION("%s: key %d still claimed by %d", when, i, (int)L->owner);
            L->owner = 0;
            L->pend_op = OP_NONE;
        }
        present += L->acked_present;
        if (!torture_holds(g_db, gen, phase, i, (int)L->acked_present, L->acked_seq, L->acked_vlen,
                   g_buf, desc, sizeof desc)) {
            if (wrong++ < 10)
                VIOLATION("%s: key %d holds %s; acknowledged %s seq %llu, %llu bytes", when, i,
                          desc, L->acked_present ? "present" : "absent",
                          (unsigned long long)L->acked_seq, (unsigned long long)L->acked_vlen);
            torture_adopt(g_db, gen, phase, i, g_buf);
        }
    }
    struct rctx c = { .gen = gen, .phase = phase };
    int rc = shmkv_foreach(g_db, count_visit, &c);
    CHECKF(rc == 0, "%s: foreach returned %s", when, h_errname(rc));
    if (c.bad)
        VIOLATION("%s: foreach gave %llu invalid pairs", when, (unsigned long long)c.bad);
    if (c.pairs != (uint64_t)present || shmkv_count(g_db) != (uint64_t)present)
        VIOLATION("%s: %ld keys acknowledged present, foreach visits %llu, count says %llu",
                  when, present, (unsigned long long)c.pairs,
                  (unsigned long long)shmkv_count(g_db));
    shmkv_stats st;
    CHECK_RC(shmkv_stat(g_db, &st), 0);
    CHECK_EQ_U64(st.keys, (uint64_t)present);
    if (CHECK_TABLE(g_db, when) != 0)
        __atomic_add_fetch(&S->violations, 1, __ATOMIC_RELAXED);
    g_checks++;
}

/* Runs of the table no live key and no shard list refers to: every huge run
 * (call with no key present), every log run outside its shard's run list,
 * every run still marked new.  Returns the count; *bytes their size. */
static uint64_t leaked_runs(shmkv *db, uint64_t *bytes, uint64_t kinds[3])
{
    struct hdr *h = db->hdr;
    uint64_t top = atomic_load(&h->top), n = 0;
    *bytes = 0;
    kinds[0] = kinds[1] = kinds[2] = 0;
    for (uint64_t off = db->data_off; off < top;) {
        struct run *r = run_at(db, off);
        if (!r->nunits)
            break;
        int leak = r->kind == RUN_HUGE || r->kind == RUN_NEW;
        if (r->kind == RUN_LOG) {
            leak = 1;
            struct shard *s = &db->shards[r->shard < (1u << db->shard_bits) ? r->shard : 0];
            unsigned steps = 0;
            for (uint64_t ro = s->runs; ro && steps < 100000; ro = run_at(db, ro)->next, steps++)
                if (ro == off) {
                    leak = 0;
                    break;
                }
        }
        if (leak) {
            n++;
            kinds[r->kind == RUN_HUGE ? 0 : r->kind == RUN_LOG ? 1 : 2]++;
            *bytes += r->nunits << UNIT_SHIFT;
        }
        off += r->nunits << UNIT_SHIFT;
    }
    return n;
}

static void table_figures(void)
{
    shmkv_stats st;
    if (shmkv_stat(g_db, &st) == 0)
        g_recoveries += st.lock_recoveries;
    g_alloc_recoveries += atomic_load(&g_db->hdr->alloc_recoveries);
}

/* A fresh table for the readers and writers. */
static void new_table(int phase, uint64_t max_bytes, int nkeys)
{
    memset(S->keys, 0, sizeof S->keys);
    S->next_fresh = 0;
    S->full = 0;
    S->phase = phase;
    S->nkeys = nkeys;
    S->gen++;
    snprintf(S->name, sizeof S->name, "torture-%c%u", phase, S->gen);
    shmkv_options o = { .flags = SHMKV_CREATE | SHMKV_EXCL, .max_bytes = max_bytes };
    g_db = NULL;
    CHECK_RC(shmkv_open(S->name, &o, &g_db), 0);
    torture_unpark_readers();
}

static void drop_table(void)
{
    torture_park_readers();
    table_figures();
    shmkv_close(g_db);
    g_db = NULL;
    CHECK_RC(shmkv_unlink(S->name), 0);
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v && atol(v) > 0 ? atol(v) : dflt;
}

/* One part: phase B's table and every final figure build on phase A's
 * readers and counters. */
static void torture(void)
{
    const long kills_want = env_long("SHMKV_TORTURE_KILLS", H_ASAN ? 1000 : 2000);
    const long seconds = env_long("SHMKV_TORTURE_SECONDS", H_ASAN ? 75 : 50);
    const uint64_t seed = (uint64_t)env_long("SHMKV_TORTURE_SEED", 20240601);
    S = h_shm_alloc(sizeof *S);
    g_buf = malloc(BIG_MAX);
    h_rng r = h_rng_new(seed);
    const double t_start = h_now();

    pid_t readers[NREADERS];
    for (int id = 0; id < NREADERS; id++) {
        readers[id] = h_fork();
        if (readers[id] == 0)
            torture_reader(id);
    }

    /* ---- phase A: fresh tables, mostly inserts ---- */
    const long kills_a = kills_want * 3 / 10;
    const double until_a = t_start + (double)seconds * 0.3;
    long kills_at_a = 0;
    while (g_kills < kills_a && h_now() < until_a && !h_failures_total()) {
        new_table('A', TABLE_A, 0);
        if (!g_db)
            break;
        g_rounds++;
        start_all(seed);
        long round = 0, full_since = -1;
        while (round < ROUND_KILLS && g_kills < kills_a && h_now() < until_a) {
            kill_one(&r, 0, seed);
            round++;
            if (full_since < 0 && __atomic_load_n(&S->full, __ATOMIC_RELAXED))
                full_since = round;
            if (full_since >= 0 && round - full_since >= 20)
                break; /* full for a while: next round on a fresh table */
        }
        kill_all();
        int nk = S->next_fresh < MAXKEYS ? S->next_fresh : MAXKEYS;
        char when[64];
        snprintf(when, sizeof when, "insert round %ld (%d keys)", g_rounds, nk);
        verify_all(nk, when);
        shmkv_stats st;
        CHECK_RC(shmkv_stat(g_db, &st), 0);
        g_splits += st.splits;
        g_keys_a += st.keys;
        drop_table();
    }
    kills_at_a = g_kills;
    h_note("phase A: %ld rounds, %ld kills in %.1f s; %llu keys inserted, %llu bucket splits",
           g_rounds, kills_at_a, h_now() - t_start, (unsigned long long)g_keys_a,
           (unsigned long long)g_splits);

    /* ---- phase B: one table kept near full ---- */
    const double t_b = h_now();
    const double until_b = t_start + (double)seconds;
    uint64_t leak_n = 0, leak_bytes = 0, refill = 0, kinds[3];
    new_table('B', TABLE_B, NKEYS_B);
    if (g_db) {
        start_all(seed + 1);
        long since_check = 0, since_verify = 0;
        while (g_kills < kills_want && h_now() < until_b && h_failures_total() < 20) {
            kill_one(&r, h_below(&r, 3) == 0, seed + 1);
            if (++since_check >= CHECK_EVERY) {
                since_check = 0;
                char when[64];
                snprintf(when, sizeof when, "after %ld kills, writers running", g_kills);
                if (CHECK_TABLE(g_db, when) != 0)
                    __atomic_add_fetch(&S->violations, 1, __ATOMIC_RELAXED);
                g_checks++;
            }
            if (++since_verify >= VERIFY_EVERY) {
                since_verify = 0;
                kill_all();
                char when[64];
                snprintf(when, sizeof when, "after %ld kills, all writers killed", g_kills);
                verify_all(NKEYS_B, when);
                start_all(seed + 1 + (uint64_t)g_kills);
            }
        }
        kill_all();
        verify_all(NKEYS_B, "end of the churn phase");
        shmkv_stats st;
        CHECK_RC(shmkv_stat(g_db, &st), 0);
        h_note("phase B: %ld kills in %.1f s; table: %llu keys, %llu live bytes, file %llu, "
               "garbage %llu, free %llu, runs cleaned %llu, splits %llu",
               g_kills - kills_at_a, h_now() - t_b, (unsigned long long)st.keys,
               (unsigned long long)st.live_bytes, (unsigned long long)st.file_bytes,
               (unsigned long long)st.garbage_bytes, (unsigned long long)st.free_bytes,
               (unsigned long long)st.runs_cleaned, (unsigned long long)st.splits);

        /* delete everything: no run may be left over, and the room must
         * come back */
        torture_park_readers();
        for (int i = 0; i < NKEYS_B; i++) {
            char k[160];
            size_t kl = torture_key_of(k, S->gen, 'B', i);
            int rc = shmkv_del(g_db, k, kl);
            CHECKF(rc == (S->keys[i].acked_present ? 0 : -ENOENT), "final delete of key %d: %s",
                   i, h_errname(rc));
        }
        CHECK_EQ_U64(shmkv_count(g_db), 0);
        CHECK_TABLE(g_db, "after deleting every key");
        leak_n = leaked_runs(g_db, &leak_bytes, kinds);
        unsigned char v[1000];
        for (int i = 0;; i++) {
            char k[32];
            size_t kl = (size_t)snprintf(k, sizeof k, "refill-%d", i);
            h_val_make(v, sizeof v, k, kl, 1);
            int rc = shmkv_put(g_db, k, kl, v, sizeof v);
            if (rc != 0) {
                CHECKF(rc == -ENOSPC, "refill put returned %s", h_errname(rc));
                break;
            }
            refill += kl + sizeof v;
        }
        CHECK_TABLE(g_db, "after the refill");
        h_note("after deleting every key: %llu runs (%llu bytes) leaked by killed writers "
               "(%llu huge, %llu log, %llu new); refilled %llu bytes (%.0f%% of max_bytes)",
               (unsigned long long)leak_n, (unsigned long long)leak_bytes,
               (unsigned long long)kinds[0], (unsigned long long)kinds[1],
               (unsigned long long)kinds[2], (unsigned long long)refill,
               100.0 * (double)refill / TABLE_B);
        CHECKF(refill >= TABLE_B / 2, "an emptied %u MiB table took only %llu bytes again "
               "(%llu bytes in leaked runs)", TABLE_B >> 20, (unsigned long long)refill,
               (unsigned long long)leak_bytes);
        /* A kill must not cost space for good: nothing reclaims a leaked
         * run (shmkv_check neither reports nor frees it), so leaks add up
         * until a long-lived table is full of them. */
        CHECKF(leak_n == 0, "%llu runs (%llu bytes: %llu huge, %llu log, %llu new) were "
               "leaked by %ld killed writers and are lost for good", (unsigned long long)leak_n,
               (unsigned long long)leak_bytes, (unsigned long long)kinds[0],
               (unsigned long long)kinds[1], (unsigned long long)kinds[2], g_kills - kills_at_a);
        g_leaked_runs += leak_n;
        g_leaked_bytes += leak_bytes;
        drop_table();
    }
    const double elapsed = h_now() - t_start;

    __atomic_store_n(&S->stop, 1, __ATOMIC_RELEASE);
    for (int id = 0; id < NREADERS; id++) {
        char what[32];
        snprintf(what, sizeof what, "reader %d", id);
        h_wait(readers[id], what);
    }

    uint64_t wops = 0, rops = 0, nospc = 0, ops_b = 0, nospc_b = 0;
    double longest = 0;
    char longest_what[64] = "none";
    for (int w = 0; w < NWRITERS; w++) {
        wops += S->ws[w].ops;
        nospc += S->ws[w].nospc;
        ops_b += S->ws[w].ops_b;
        nospc_b += S->ws[w].nospc_b;
        if (S->ws[w].max_lat > longest) {
            longest = S->ws[w].max_lat;
            snprintf(longest_what, sizeof longest_what, "writer %s", S->ws[w].max_op);
        }
    }
    for (int id = 0; id < NREADERS; id++) {
        struct rstats *rs = &S->rs[id];
        rops += rs->ops;
        h_note("reader %d (%s): %llu ops, %llu gets (%llu found, %llu exact), %llu foreach "
               "(%llu -EAGAIN, %llu pairs), longest %.2f ms (%s)", id,
               id == 1 ? "read-only" : "read-write", (unsigned long long)rs->ops,
               (unsigned long long)rs->gets, (unsigned long long)rs->found,
               (unsigned long long)rs->exact, (unsigned long long)rs->foreach_runs,
               (unsigned long long)rs->eagain, (unsigned long long)rs->pairs,
               rs->max_lat * 1e3, rs->max_op);
        if (rs->max_lat > longest) {
            longest = rs->max_lat;
            snprintf(longest_what, sizeof longest_what, "reader %d %s", id, rs->max_op);
        }
        CHECK(rs->gets > 1000 && rs->found > 0 && rs->exact > 0);
    }
    h_note("writers: %llu acknowledged ops, %llu -ENOSPC (churn phase: %llu ops, %llu "
           "-ENOSPC); killed mid-operation: %ld done, %ld not done, %ld between operations; "
           "%ld aimed at the allocator lock's holder; %ld checks", (unsigned long long)wops,
           (unsigned long long)nospc, (unsigned long long)ops_b, (unsigned long long)nospc_b,
           g_new, g_old,
           g_none, g_targeted, g_checks);
    CHECKF(longest < MAX_OP_S, "the longest operation (%s) took %.3f s", longest_what, longest);
    CHECKF(g_kills >= kills_want, "only %ld of %ld kills in %.1f s", g_kills, kills_want,
           elapsed);
    CHECK(wops > (uint64_t)g_kills);
    CHECK(g_targeted > 0 && g_alloc_recoveries > 0);
    CHECK_EQ_U64(S->violations, 0);
    printf("TORTURE RESULT kills=%ld ops=%llu writer_ops=%llu reader_ops=%llu "
           "longest_wait_ms=%.2f violations=%llu lock_recoveries=%llu "
           "alloc_lock_recoveries=%llu aimed_kills=%ld leaked_runs=%llu leaked_bytes=%llu "
           "rounds=%ld seconds=%.1f\n",
           g_kills, (unsigned long long)(wops + rops), (unsigned long long)wops,
           (unsigned long long)rops, longest * 1e3, (unsigned long long)S->violations,
           (unsigned long long)g_recoveries, (unsigned long long)g_alloc_recoveries, g_targeted,
           (unsigned long long)g_leaked_runs, (unsigned long long)g_leaked_bytes, g_rounds,
           elapsed);
    free(g_buf);
    h_shm_free(S, sizeof *S);
}

static const struct h_part parts[] = {
    { "torture", torture },
};

int main(int argc, char **argv)
{
    /* the whole test's time limit follows the asked-for duration */
    const long seconds = env_long("SHMKV_TORTURE_SECONDS", H_ASAN ? 75 : 50);
    if (!getenv("SHMKV_TEST_TIMEOUT")) {
        char t[32];
        snprintf(t, sizeof t, "%ld", seconds * 2 + 120);
        setenv("SHMKV_TEST_TIMEOUT", t, 1);
    }
    return h_main(argc, argv, "test_torture", parts, H_NPARTS(parts));
}
