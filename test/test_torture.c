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
#include "harness.h"
#include "format.h"
#include "handle.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NWRITERS 4
#define NREADERS 2
#define MAXKEYS 50000          /* keys of one table (phase A fills up below) */
#define NKEYS_B 2000           /* keys of the churn phase */
#define BIG_MAX (128 * 1024)
#define TABLE_A (2u << 20)
#define TABLE_B (8u << 20)
#define MAX_OP_S 1.0
#define SLOW_NOTE_S 0.25       /* operations this slow are noted as they happen */
#define CHECK_EVERY 100        /* kills between checks while writers run */
#define VERIFY_EVERY 300       /* kills between full (quiesced) verifications */
#define ROUND_KILLS 100        /* most kills of one insert round */

enum { OP_NONE = 0, OP_PUT, OP_ADD, OP_REPLACE, OP_DEL };
static const char *const op_names[] = { "none", "put", "add", "replace", "del" };

struct keylog {
    int32_t owner;            /* pid holding the key, 0: free (CAS) */
    uint32_t version;         /* bumped when claimed and when released */
    uint32_t pend_op;         /* OP_*: the operation in flight */
    uint32_t acked_present;
    uint64_t pend_seq, pend_vlen;
    uint64_t acked_seq, acked_vlen;
};

struct wslot {
    int32_t pid;
    int32_t claiming;         /* key being claimed or held, -1: none */
    int serial;
};

struct wstats {               /* per writer slot, summed over its writers */
    uint64_t ops, nospc, ops_b, nospc_b;
    double max_lat;
    char max_op[24];
};

struct rstats {
    uint64_t ops, gets, found, exact, foreach_runs, eagain, pairs;
    double max_lat;
    char max_op[24];
    uint32_t parked;          /* the park_epoch this reader has parked for */
};

struct shared {
    char name[128];
    int active;               /* readers may use the table named above */
    uint32_t park_epoch;      /* bumped by every park_readers() */
    uint32_t gen;             /* bumped for every new table */
    int phase;                /* 'A' or 'B' */
    int nkeys;                /* keys in play (phase B); phase A: next_fresh */
    int32_t next_fresh;       /* phase A: next key id to insert */
    int full;                 /* phase A: an insert got -ENOSPC */
    int stop;                 /* readers exit */
    uint64_t seq;
    uint64_t violations;
    struct wslot w[NWRITERS];
    struct wstats ws[NWRITERS];
    struct rstats rs[NREADERS];
    struct keylog keys[MAXKEYS];
};

static struct shared *S;
static shmkv *g_db;           /* the killer's handle on the current table */
static int g_serial;
static unsigned char *g_buf;

/* totals */
static long g_kills, g_targeted, g_quiesces, g_rounds, g_checks;
static long g_new, g_old, g_none;
static uint64_t g_splits, g_keys_a;
static uint64_t g_recoveries, g_alloc_recoveries, g_leaked_runs, g_leaked_bytes;

#define VIOLATION(...)                                                     \
    do {                                                                   \
        __atomic_add_fetch(&S->violations, 1, __ATOMIC_RELAXED);           \
        CHECKF(0, __VA_ARGS__);                                            \
    } while (0)

static uint64_t ld64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static uint32_t ld32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static void st64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static void st32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

/* Key i of the current table: "<phase><gen>-<i>", every 16th padded long. */
static size_t key_of(char *k, uint32_t gen, int phase, int i)
{
    int n = snprintf(k, 160, "%c%u-%d", phase, gen, i);
    if (i % 16 == 5) {
        memset(k + n, 'x', 120);
        n += 120;
        k[n] = 0;
    }
    return (size_t)n;
}

/* Value length for a write. */
static size_t pick_vlen(h_rng *r, int phase)
{
    unsigned x = (unsigned)h_below(r, 1000);
    if (phase == 'A')
        return x < 990 ? H_VAL_MIN + (size_t)h_below(r, 40) : 200 + (size_t)h_below(r, 1800);
    if (x < 700)
        return H_VAL_MIN + (size_t)h_below(r, 280);
    if (x < 940)
        return 300 + (size_t)h_below(r, 6000);
    if (x < 960) /* around the 32 KiB huge-record threshold */
        return 32768 - 64 + (size_t)h_below(r, 128);
    return 40960 + (size_t)h_below(r, BIG_MAX - 40960);
}

/* Does the table hold (present, seq, vlen) for key i?  1 yes, 0 no. */
static int holds(shmkv *db, uint32_t gen, int phase, int i, int present, uint64_t seq,
                 uint64_t vlen, unsigned char *buf, char *desc, size_t dcap)
{
    char k[160];
    size_t kl = key_of(k, gen, phase, i);
    size_t vl = 0;
    uint64_t got = 0;
    int rc = shmkv_get(db, k, kl, buf, BIG_MAX, &vl);
    if (rc == -ENOENT) {
        snprintf(desc, dcap, "absent");
        return !present;
    }
    if (rc != 0) {
        snprintf(desc, dcap, "get returned %s", h_errname(rc));
        return 0;
    }
    if (!h_val_check(buf, vl, k, kl, &got)) {
        snprintf(desc, dcap, "an INVALID value of %zu bytes", vl);
        return 0;
    }
    snprintf(desc, dcap, "seq %llu, %zu bytes", (unsigned long long)got, vl);
    return present && got == seq && vl == vlen;
}

/* The state op leaves behind, given the acknowledged state before it. */
static void op_result(uint32_t op, const struct keylog *L, int *present, uint64_t *seq,
                      uint64_t *vlen)
{
    int was = (int)ld32(&L->acked_present);
    int becomes = op == OP_PUT || (op == OP_ADD && !was) || (op == OP_REPLACE && was);
    if (op == OP_DEL) {
        *present = 0;
        *seq = *vlen = 0;
    } else if (becomes) {
        *present = 1;
        *seq = ld64(&L->pend_seq);
        *vlen = ld64(&L->pend_vlen);
    } else {
        *present = was;
        *seq = ld64(&L->acked_seq);
        *vlen = ld64(&L->acked_vlen);
    }
}

static void set_acked(struct keylog *L, int present, uint64_t seq, uint64_t vlen)
{
    st64(&L->acked_seq, present ? seq : 0);
    st64(&L->acked_vlen, present ? vlen : 0);
    st32(&L->acked_present, (uint32_t)present);
}

/* After a violation: take what the table holds as the new truth. */
static void adopt(shmkv *db, uint32_t gen, int phase, int i, unsigned char *buf)
{
    char k[160];
    size_t kl = key_of(k, gen, phase, i), vl = 0;
    uint64_t seq = 0;
    int rc = shmkv_get(db, k, kl, buf, BIG_MAX, &vl);
    int ok = rc == 0 && h_val_check(buf, vl, k, kl, &seq);
    set_acked(&S->keys[i], ok, seq, vl);
}

static void note_lat(double *max, char *what, size_t cap, double dt, const char *op)
{
    if (dt > *max) {
        *max = dt;
        snprintf(what, cap, "%s", op);
    }
}

/* ---- writers --------------------------------------------------------------- */

__attribute__((noreturn)) static void writer(int slot, int serial, uint64_t seed)
{
    const uint32_t gen = S->gen;
    const int phase = S->phase;
    shmkv *db = g_db;
    if (serial % 2) { /* every other writer opens a handle of its own */
        db = NULL;
        int rc = shmkv_open(S->name, NULL, &db);
        if (rc != 0)
            VIOLATION("writer: open returned %s", h_errname(rc));
        if (!db)
            h_child_exit();
    }
    struct wslot *me = &S->w[slot];
    struct wstats *ws = &S->ws[slot];
    const int32_t pid = (int32_t)getpid();
    h_rng r = h_rng_new(seed * 0x9e3779b97f4a7c15ULL + (uint64_t)serial);
    unsigned char *val = malloc(BIG_MAX), *buf = malloc(BIG_MAX);
    char desc[96], k[160];
    for (;;) {
        int i, fresh = 0;
        if (phase == 'A') {
            int32_t nf = __atomic_load_n(&S->next_fresh, __ATOMIC_RELAXED);
            if (h_below(&r, 100) < 85 && nf < MAXKEYS && !__atomic_load_n(&S->full, __ATOMIC_RELAXED)) {
                i = __atomic_fetch_add(&S->next_fresh, 1, __ATOMIC_RELAXED);
                if (i >= MAXKEYS) {
                    __atomic_store_n(&S->full, 1, __ATOMIC_RELAXED);
                    continue;
                }
                fresh = 1;
            } else if (nf > 0) {
                i = (int)h_below(&r, (uint64_t)(nf < MAXKEYS ? nf : MAXKEYS));
            } else {
                continue;
            }
        } else {
            i = (int)h_below(&r, NKEYS_B);
        }
        struct keylog *L = &S->keys[i];
        __atomic_store_n(&me->claiming, i, __ATOMIC_SEQ_CST);
        int32_t zero = 0;
        if (!__atomic_compare_exchange_n(&L->owner, &zero, pid, 0, __ATOMIC_SEQ_CST,
                                         __ATOMIC_RELAXED)) {
            __atomic_store_n(&me->claiming, -1, __ATOMIC_RELAXED);
            continue;
        }
        __atomic_add_fetch(&L->version, 1, __ATOMIC_SEQ_CST);
        int was = (int)ld32(&L->acked_present);
        if (!holds(db, gen, phase, i, was, ld64(&L->acked_seq), ld64(&L->acked_vlen), buf, desc,
                   sizeof desc)) {
            VIOLATION("writer: key %d holds %s; acknowledged: %s seq %llu, %llu bytes", i, desc,
                      was ? "present" : "absent", (unsigned long long)ld64(&L->acked_seq),
                      (unsigned long long)ld64(&L->acked_vlen));
            adopt(db, gen, phase, i, buf);
            was = (int)ld32(&L->acked_present);
        }
        uint32_t op;
        unsigned x = (unsigned)h_below(&r, 100);
        if (fresh)
            op = OP_ADD;
        else if (phase == 'A')
            op = x < 70 ? OP_PUT : OP_DEL;
        else
            op = x < 40 ? OP_PUT : x < 55 ? OP_ADD : x < 70 ? OP_REPLACE : OP_DEL;
        size_t kl = key_of(k, gen, phase, i);
        size_t vl = pick_vlen(&r, phase);
        uint64_t seq = __atomic_add_fetch(&S->seq, 1, __ATOMIC_RELAXED);
        if (op != OP_DEL)
            h_val_make(val, vl, k, kl, seq);
        st64(&L->pend_seq, seq);
        st64(&L->pend_vlen, vl);
        __atomic_store_n(&L->pend_op, op, __ATOMIC_SEQ_CST);

        double t0 = h_now();
        int rc = op == OP_PUT     ? shmkv_put(db, k, kl, val, vl)
               : op == OP_ADD     ? shmkv_add(db, k, kl, val, vl)
               : op == OP_REPLACE ? shmkv_replace(db, k, kl, val, vl)
                                  : shmkv_del(db, k, kl);
        double dt = h_now() - t0;

        int expect_ok = op == OP_PUT || (op == OP_ADD && !was) || (op == OP_REPLACE && was) ||
                        (op == OP_DEL && was);
        int want_err = op == OP_ADD ? -EEXIST : -ENOENT;
        int ok = expect_ok ? rc == 0 || (rc == -ENOSPC && op != OP_DEL) : rc == want_err;
        if (!ok) {
            VIOLATION("writer: %s of key %d (%s, %zu bytes) returned %s", op_names[op], i,
                      was ? "present" : "absent", vl, h_errname(rc));
            adopt(db, gen, phase, i, buf);
        } else if (rc == 0) {
            set_acked(L, op != OP_DEL, seq, vl);
        } else if (rc == -ENOSPC) {
            ws->nospc++;
            ws->nospc_b += phase == 'B';
            if (fresh)
                __atomic_store_n(&S->full, 1, __ATOMIC_RELAXED);
        }
        __atomic_store_n(&L->pend_op, OP_NONE, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&L->version, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&L->owner, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&me->claiming, -1, __ATOMIC_RELAXED);
        ws->ops++;
        ws->ops_b += phase == 'B';
        if (dt > SLOW_NOTE_S)
            h_note("writer: slow %s: %.3f s, phase %c, key %d, %zu bytes, rc %s", op_names[op], dt,
                   phase, i, vl, h_errname(rc));
        note_lat(&ws->max_lat, ws->max_op, sizeof ws->max_op, dt, op_names[op]);
    }
}

static void start_writer(int slot, uint64_t seed)
{
    S->w[slot].claiming = -1;
    S->w[slot].serial = g_serial;
    pid_t pid = h_fork();
    if (pid == 0)
        writer(slot, g_serial, seed);
    S->w[slot].pid = pid;
    g_serial++;
}

/* ---- readers ------------------------------------------------------------------ */

struct rctx {
    uint32_t gen;
    int phase;
    uint64_t *last;           /* per key: highest seq seen */
    uint64_t pairs, bad;
};

static int key_id(const struct rctx *c, const void *key, size_t klen)
{
    char k[160];
    if (klen >= sizeof k)
        return -1;
    memcpy(k, key, klen);
    k[klen] = 0;
    char pfx[32];
    int n = snprintf(pfx, sizeof pfx, "%c%u-", c->phase, c->gen);
    if (strncmp(k, pfx, (size_t)n) != 0)
        return -1;
    int i = atoi(k + n);
    return i >= 0 && i < MAXKEYS ? i : -1;
}

/* A value got for key i: valid for its key, and never older than one
 * seen before. */
static void got_value(struct rctx *c, int i, const char *k, size_t kl, const void *v, size_t vl,
                      const char *how)
{
    uint64_t seq = 0;
    if (!h_val_check(v, vl, k, kl, &seq)) {
        if (c->bad++ < 5)
            VIOLATION("reader: %s of key %d gave an invalid value of %zu bytes", how, i, vl);
        return;
    }
    if (seq < c->last[i]) {
        if (c->bad++ < 5)
            VIOLATION("reader: %s of key %d gave seq %llu after seq %llu was seen", how, i,
                      (unsigned long long)seq, (unsigned long long)c->last[i]);
        return;
    }
    c->last[i] = seq;
}

static int reader_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct rctx *c = ctx;
    int i = key_id(c, key, klen);
    c->pairs++;
    if (i < 0) {
        if (c->bad++ < 5)
            VIOLATION("reader: foreach gave a key of %zu bytes not of this table", klen);
        return 0;
    }
    char k[160];
    size_t kl = key_of(k, c->gen, c->phase, i);
    uint64_t seq = 0;
    if (kl != klen || memcmp(k, key, kl) != 0 || !h_val_check(val, vlen, k, kl, &seq)) {
        if (c->bad++ < 5)
            VIOLATION("reader: foreach gave an invalid pair for key %d (%zu bytes)", i, vlen);
    }
    return 0;
}

__attribute__((noreturn)) static void reader(int id)
{
    struct rstats *rs = &S->rs[id];
    h_rng r = h_rng_new(0xbeef + (uint64_t)id);
    unsigned char *buf = malloc(BIG_MAX);
    enum { BATCH = 16 };
    unsigned char *bbuf = malloc((size_t)BATCH * BIG_MAX);
    struct rctx c = { .last = calloc(MAXKEYS, sizeof(uint64_t)) };
    shmkv *db = NULL;
    uint32_t gen = 0;
    while (!__atomic_load_n(&S->stop, __ATOMIC_ACQUIRE)) {
        if (!__atomic_load_n(&S->active, __ATOMIC_ACQUIRE)) {
            if (db) {
                shmkv_close(db);
                db = NULL;
            }
            __atomic_store_n(&rs->parked, __atomic_load_n(&S->park_epoch, __ATOMIC_ACQUIRE),
                             __ATOMIC_RELEASE);
            h_sleep(0.0002);
            continue;
        }
        if (!db || gen != S->gen) {
            if (db)
                shmkv_close(db);
            db = NULL;
            gen = S->gen;
            shmkv_options o = { .flags = id == 1 ? SHMKV_RDONLY : 0 };
            int rc = shmkv_open(S->name, &o, &db);
            if (rc != 0) {
                VIOLATION("reader %d: open of %s returned %s", id, S->name, h_errname(rc));
                h_sleep(0.01);
                continue;
            }
            c.gen = gen;
            c.phase = S->phase;
            memset(c.last, 0, MAXKEYS * sizeof(uint64_t));
        }
        int nk = c.phase == 'A' ? __atomic_load_n(&S->next_fresh, __ATOMIC_RELAXED) : NKEYS_B;
        if (nk > MAXKEYS)
            nk = MAXKEYS;
        if (nk <= 0) {
            h_sleep(0.0001);
            continue;
        }
        unsigned kind = (unsigned)h_below(&r, 1000);
        char k[160];
        double t0 = h_now(), dt;
        rs->ops++;
        if (kind < 700) {
            /* one get; exact when nobody held the key meanwhile */
            int i = (int)h_below(&r, (uint64_t)nk);
            struct keylog *L = &S->keys[i];
            size_t kl = key_of(k, gen, c.phase, i), vl = 0;
            uint32_t v1 = __atomic_load_n(&L->version, __ATOMIC_SEQ_CST);
            int32_t o1 = __atomic_load_n(&L->owner, __ATOMIC_SEQ_CST);
            int present = (int)ld32(&L->acked_present);
            uint64_t aseq = ld64(&L->acked_seq), avl = ld64(&L->acked_vlen);
            t0 = h_now();
            int rc = shmkv_get(db, k, kl, buf, BIG_MAX, &vl);
            dt = h_now() - t0;
            note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "get");
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            int quiet = o1 == 0 && __atomic_load_n(&L->owner, __ATOMIC_SEQ_CST) == 0 &&
                        __atomic_load_n(&L->version, __ATOMIC_SEQ_CST) == v1;
            rs->gets++;
            if (rc == 0) {
                rs->found++;
                got_value(&c, i, k, kl, buf, vl, "get");
            } else if (rc != -ENOENT && c.bad++ < 5) {
                VIOLATION("reader %d: get of key %d returned %s", id, i, h_errname(rc));
            }
            if (quiet && (rc == 0 || rc == -ENOENT)) {
                rs->exact++;
                uint64_t seq = 0;
                int same = present ? rc == 0 && vl == avl && h_val_check(buf, vl, k, kl, &seq) &&
                                         seq == aseq
                                   : rc == -ENOENT;
                if (!same && c.bad++ < 5)
                    VIOLATION("reader %d: key %d (not being written) read as %s, %zu bytes; "
                              "acknowledged: %s seq %llu, %llu bytes", id, i, h_errname(rc), vl,
                              present ? "present" : "absent", (unsigned long long)aseq,
                              (unsigned long long)avl);
            }
            continue;
        } else if (kind < 850) {
            shmkv_item it[BATCH];
            char keys[BATCH][160];
            int ids[BATCH];
            for (int j = 0; j < BATCH; j++) {
                ids[j] = (int)h_below(&r, (uint64_t)nk);
                it[j].key = keys[j];
                it[j].klen = key_of(keys[j], gen, c.phase, ids[j]);
                it[j].buf = bbuf + (size_t)j * BIG_MAX;
                it[j].cap = j == 3 ? 100 : BIG_MAX; /* one small buffer: -ENOBUFS */
            }
            t0 = h_now();
            int n = shmkv_get_many(db, it, BATCH);
            dt = h_now() - t0;
            note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "get_many");
            int found = 0;
            for (int j = 0; j < BATCH; j++) {
                rs->gets++;
                if (it[j].rc == 0) {
                    found++;
                    rs->found++;
                    got_value(&c, ids[j], keys[j], it[j].klen, it[j].buf, it[j].vlen,
                              "get_many");
                } else if (it[j].rc != -ENOENT && !(it[j].rc == -ENOBUFS && it[j].vlen > 100) &&
                           c.bad++ < 5) {
                    VIOLATION("reader %d: get_many item returned %s", id, h_errname(it[j].rc));
                }
            }
            if (n != found && c.bad++ < 5)
                VIOLATION("reader %d: get_many returned %d, %d items found", id, n, found);
        } else if (kind < 950) {
            int i = (int)h_below(&r, (uint64_t)nk);
            size_t kl = key_of(k, gen, c.phase, i), vl = 0;
            void *p = NULL;
            t0 = h_now();
            int rc = shmkv_get_alloc(db, k, kl, &p, &vl);
            dt = h_now() - t0;
            note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "get_alloc");
            rs->gets++;
            if (rc == 0) {
                rs->found++;
                got_value(&c, i, k, kl, p, vl, "get_alloc");
                free(p);
            } else if (rc != -ENOENT && c.bad++ < 5) {
                VIOLATION("reader %d: get_alloc returned %s", id, h_errname(rc));
            }
        } else if (kind < 953) {
            uint64_t before = c.pairs;
            t0 = h_now();
            int rc = shmkv_foreach(db, reader_visit, &c);
            dt = h_now() - t0;
            note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "foreach");
            rs->foreach_runs++;
            rs->pairs += c.pairs - before;
            if (dt > SLOW_NOTE_S)
                h_note("reader %d: slow foreach: %.3f s, phase %c, %llu pairs, rc %s", id, dt,
                       c.phase, (unsigned long long)(c.pairs - before), h_errname(rc));
            if (rc == -EAGAIN && id == 1)
                rs->eagain++;
            else if (rc != 0 && c.bad++ < 5)
                VIOLATION("reader %d: foreach returned %s", id, h_errname(rc));
        } else {
            shmkv_stats st;
            t0 = h_now();
            int rc = shmkv_stat(db, &st);
            (void)shmkv_count(db);
            dt = h_now() - t0;
            note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "stat");
            if (rc != 0 && c.bad++ < 5)
                VIOLATION("reader %d: stat returned %s", id, h_errname(rc));
        }
    }
    if (db)
        shmkv_close(db);
    free(c.last);
    free(buf);
    free(bbuf);
    h_child_exit();
}

/* Readers stop using the table (and close it) / start on the new one. */
static void park_readers(void)
{
    uint32_t epoch = __atomic_add_fetch(&S->park_epoch, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&S->active, 0, __ATOMIC_SEQ_CST);
    double t0 = h_now();
    for (int id = 0; id < NREADERS; id++)
        while (__atomic_load_n(&S->rs[id].parked, __ATOMIC_ACQUIRE) != epoch) {
            if (h_now() - t0 > 30) {
                CHECKF(0, "reader %d did not park within 30 s", id);
                return;
            }
            h_sleep(0.0002);
        }
}

static void unpark_readers(void)
{
    __atomic_store_n(&S->active, 1, __ATOMIC_RELEASE);
}

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
        if (!holds(g_db, gen, phase, i, ap, as, av, g_buf, desc, sizeof desc)) {
            VIOLATION("key %d of a killed writer holds %s; acknowledged: %s seq %llu", i, desc,
                      ap ? "present" : "absent", (unsigned long long)as);
            adopt(g_db, gen, phase, i, g_buf);
        }
        g_none++;
    } else {
        int np;
        uint64_t ns, nv;
        op_result(op, L, &np, &ns, &nv);
        if (holds(g_db, gen, phase, i, np, ns, nv, g_buf, desc, sizeof desc)) {
            g_new++;
            set_acked(L, np, ns, nv);
        } else if (holds(g_db, gen, phase, i, ap, as, av, g_buf, desc2, sizeof desc2)) {
            g_old++;
        } else {
            VIOLATION("key %d of a writer killed during a %s (seq %llu, %llu bytes) holds %s: "
                      "neither its result nor the acknowledged state (%s seq %llu)", i,
                      op_names[op], (unsigned long long)ld64(&L->pend_seq),
                      (unsigned long long)ld64(&L->pend_vlen), desc, ap ? "present" : "absent",
                      (unsigned long long)as);
            adopt(g_db, gen, phase, i, g_buf);
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
    start_writer(slot, seed);
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
        start_writer(w, seed);
}

static int count_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct rctx *c = ctx;
    c->pairs++;
    int i = key_id(c, key, klen);
    char k[160];
    if (i < 0 || key_of(k, c->gen, c->phase, i) != klen || memcmp(k, key, klen) != 0 ||
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
        if (!holds(g_db, gen, phase, i, (int)L->acked_present, L->acked_seq, L->acked_vlen,
                   g_buf, desc, sizeof desc)) {
            if (wrong++ < 10)
                VIOLATION("%s: key %d holds %s; acknowledged %s seq %llu, %llu bytes", when, i,
                          desc, L->acked_present ? "present" : "absent",
                          (unsigned long long)L->acked_seq, (unsigned long long)L->acked_vlen);
            adopt(g_db, gen, phase, i, g_buf);
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
    unpark_readers();
}

static void drop_table(void)
{
    park_readers();
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
            reader(id);
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
        park_readers();
        for (int i = 0; i < NKEYS_B; i++) {
            char k[160];
            size_t kl = key_of(k, S->gen, 'B', i);
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
