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
 * (each of src/fault.h but EVICTING in the store and SPLIT_PUBLISHED in
 * the full cache, whose index no longer grows), holds it 5 to 100 ms
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
#include "harness.h"
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

#define NWRITERS 3
#define NREADERS 2
#define NWORKERS (NWRITERS + NREADERS)
#define MAXKEYS 36000
#define PRELOAD 18000
#define GROUPS 6
#define GROUP_KEYS 10
#define NGROUPED (GROUPS * GROUP_KEYS) /* keys 0 .. NGROUPED-1 share buckets, by tens */
#define HUGE_MAX (64 * 1024)
#define TTL_MAX_MS 2000
#define CLOCK_STEP_MS 2500              /* at each verification: every lifetime ends */
#define VERIFY_EVERY_S 4.0
#define SLOW (H_ASAN ? 2.0 : 1.0)
#define MAX_GET_S (1.0 * SLOW)   /* a get waits for nobody */
#define MAX_SCAN_S (5.0 * SLOW)  /* a foreach */
#define MAX_WRITE_S (2.5 * SLOW) /* a write done: it may have waited a second for a writable check */
#define GIVEUP_S 0.9             /* -ETIMEDOUT for a stopped holder: before a live one's second is up */
#define LONG_HOLD_S 1.2          /* every 8th stop: longer than any get may take */

enum { OP_NONE, OP_PUT, OP_PUT_TTL, OP_ADD, OP_REPLACE, OP_DEL, OP_EXPIRE };
static const char *const op_names[] = {"none", "put", "put_ttl", "add", "replace", "del", "expire"};

/* A key's state: present with (seq, vlen), expiring somewhere in
 * [exp_lo, exp_hi] of table time (0: never), or absent. */
struct state {
    uint32_t present;
    uint64_t seq, vlen, exp_lo, exp_hi;
};

struct keylog {
    _Atomic int32_t owner;     /* pid of the writer holding the key, 0: free */
    _Atomic uint32_t version;  /* bumped when claimed and when released */
    struct state acked;
    _Atomic uint32_t pend_op;  /* the write in flight */
    uint64_t pend_seq, pend_vlen, pend_ttl, pend_t0;
};

struct wslot {
    _Atomic int32_t pid;
    _Atomic int32_t key;       /* the key being claimed or held, -1: none */
    _Atomic long arm;          /* a request: 1 + point + 16 * passes to let by, or DISARM; 0 once taken */
    _Atomic uint32_t stopped;  /* times the controller saw it stopped */
};

struct shared {
    char name[64];
    int cache;
    _Atomic int stop;          /* workers exit */
    _Atomic uint32_t park;     /* odd: workers park */
    _Atomic uint32_t parked[NWORKERS];
    _Atomic int64_t clock_adv; /* ms every process has moved its clock on */
    _Atomic uint32_t stop_gen; /* odd while a writer is (being) stopped */
    _Atomic uint32_t check_gen; /* bumped as a writable check begins and as it ends */
    _Atomic int checking;       /* writable checks running (they hold every lock) */
    _Atomic int32_t hi;        /* keys in play: 0 .. hi-1 */
    _Atomic uint64_t seq;
#define COUNTERS(X) X(writes) X(giveups) X(nospc) X(gets) X(scans) X(scan_eagain) X(ro_checks) X(ro_eagain) \
    X(rw_checks) X(rw_timeouts) X(violations) X(false_reports)
#define LONGEST(X) X(get) X(scan) X(write) X(giveup) X(check) /* microseconds */
#define FIELD(name) _Atomic uint64_t name;
#define US_FIELD(name) _Atomic uint64_t us_##name;
    COUNTERS(FIELD) LONGEST(US_FIELD)
    struct wslot w[NWRITERS];
    char grouped[NGROUPED][24];
    struct keylog keys[MAXKEYS];
};

static struct shared *S;
static int64_t g_clock_applied; /* this process's share of S->clock_adv */
static struct wslot *g_me;      /* a writer's own slot */

#define FLAG(counter, ...)                                                 \
    do {                                                                   \
        atomic_fetch_add(&S->counter, 1);                                  \
        CHECKF(0, __VA_ARGS__);                                            \
    } while (0)
#define VIOLATION(...) FLAG(violations, __VA_ARGS__)
#define FALSE_REPORT(...) FLAG(false_reports, __VA_ARGS__)

static void amax(_Atomic uint64_t *m, double seconds)
{
    uint64_t v = (uint64_t)(seconds * 1e6), cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v)) {
    }
}

/* Key i into k (96 bytes): a grouped one, or "k<i>", every 16th long. */
static size_t key_of(int i, char *k)
{
    static const char tail[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    if (i < NGROUPED)
        return (size_t)snprintf(k, 96, "%s", S->grouped[i]);
    return (size_t)snprintf(k, 96, "k%d%s", i, i % 16 == 5 ? tail : "");
}

/* The id of a key foreach handed over ("k<id>..." or "g<id>-..."), -1
 * if no key of ours. */
static int id_of(const char *k, size_t kl)
{
    char name[96], own[96];
    if (kl < 2 || kl >= sizeof name)
        return -1;
    memcpy(name, k, kl);
    name[kl] = 0;
    int i = atoi(name + 1);
    return i >= 0 && i < MAXKEYS && key_of(i, own) == kl && !memcmp(own, k, kl) ? i : -1;
}

static size_t pick_vlen(h_rng *r, int i)
{
    unsigned x = (unsigned)h_below(r, 100);
    if (i % 1024 == 7 && x < 30)
        return 40960 + (size_t)h_below(r, HUGE_MAX - 40960);
    if (S->cache)
        return x < 50 ? 24 + (size_t)h_below(r, 476) : x < 95 ? 500 + (size_t)h_below(r, 2500)
                                                              : 3000 + (size_t)h_below(r, 17000);
    return x < 80 ? 24 + (size_t)h_below(r, 76) : x < 98 ? 100 + (size_t)h_below(r, 500)
                                                         : 600 + (size_t)h_below(r, 2400);
}

/* What happened while an operation ran: a writer was stopped (a write
 * may give up with -ETIMEDOUT at once), a writable check held every lock
 * (after a second of waiting, too). */
enum { SEEN_STOP = 1, SEEN_CHECK = 2, SEEN_SELF = 4 /* the writer itself was stopped */ };
struct window {
    uint32_t stop_gen, check_gen;
    int checking;
};

/* locks_all: the operation is a writable check itself */
static void window_open(struct window *w, bool locks_all)
{
    w->stop_gen = atomic_load(&S->stop_gen);
    w->checking = locks_all ? atomic_fetch_add(&S->checking, 1) : atomic_load(&S->checking);
    w->check_gen = atomic_fetch_add(&S->check_gen, locks_all);
}

static unsigned window_close(const struct window *w, bool locks_all)
{
    if (locks_all)
        atomic_fetch_sub(&S->checking, 1);
    uint32_t sg = atomic_load(&S->stop_gen), cg = atomic_fetch_add(&S->check_gen, locks_all) + locks_all;
    return ((w->stop_gen & 1) || sg != w->stop_gen ? SEEN_STOP : 0) |
           (w->checking > 0 || cg - w->check_gen > 2u * locks_all ? SEEN_CHECK : 0);
}

/* Catch up with the clock moves made while this process was parked. */
static void sync_clock(void)
{
    int64_t want = atomic_load(&S->clock_adv);
    shmkv__clock_advance(want - g_clock_applied);
    g_clock_applied = want;
}

/* Between operations: park while asked to. */
static void park_point(int worker)
{
    uint32_t p = atomic_load(&S->park);
    if (!(p & 1))
        return;
    atomic_store(&S->parked[worker], p);
    while (atomic_load(&S->park) == p && !atomic_load(&S->stop))
        usleep(500);
    sync_clock();
}

/* Could a key in state st read as (found, seq, vlen) between table times
 * t0 and t1?  A cache may have evicted anything. */
static bool could_be(const struct state *st, bool found, uint64_t seq, uint64_t vlen, uint64_t t0, uint64_t t1)
{
    if (!found)
        return !st->present || (st->exp_lo && t1 >= st->exp_lo) || S->cache;
    return st->present && (!st->exp_hi || t0 < st->exp_hi) && seq == st->seq && vlen == st->vlen;
}

/* Key i read as (found, seq) between t0 and t1: could it? */
static void expect(const struct state *st, int found, uint64_t seq, uint64_t vlen, uint64_t t0, uint64_t t1, int i,
                   const char *who)
{
    if (found >= 0 && !could_be(st, found, seq, vlen, t0, t1))
        VIOLATION("%s: key %d is %s seq %llu; acknowledged: %s seq %llu", who, i, found ? "present" : "absent",
                  (unsigned long long)seq, st->present ? "present" : "absent", (unsigned long long)st->seq);
}

/* Read key i: 1 found (seq, vlen set), 0 absent, -1 an error or an
 * invalid value (a violation, reported). */
static int read_key(shmkv *db, int i, unsigned char *buf, uint64_t *seq, uint64_t *vlen, const char *who)
{
    char k[96];
    size_t kl = key_of(i, k), vl = 0;
    uint32_t stops0 = g_me ? atomic_load(&g_me->stopped) : 0;
    double t0 = h_now();
    int rc = shmkv_get(db, k, kl, buf, HUGE_MAX, &vl);
    double dt = h_now() - t0;
    atomic_fetch_add(&S->gets, 1);
    if (g_me && atomic_load(&g_me->stopped) != stops0)
        dt = 0; /* this writer was stopped during its own get */
    amax(&S->us_get, dt);
    if (dt > MAX_GET_S)
        VIOLATION("%s: a get took %.3f s", who, dt);
    if (rc == -ENOENT)
        return 0;
    if (rc || !h_val_check(buf, vl, k, kl, seq)) {
        VIOLATION("%s: get of key %d: %s", who, i, rc ? h_errname(rc) : "an invalid value");
        return -1;
    }
    *vlen = vl;
    return 1;
}

/* ---- writers ------------------------------------------------------------ */

#define DISARM 15

/* A worker's own handle (a worker that cannot open one ends there). */
static shmkv *open_table(bool rdonly)
{
    shmkv *db = NULL;
    shmkv_options o = {.flags = rdonly ? SHMKV_RDONLY : 0};
    CHECK_RC(shmkv_open(S->name, &o, &db), 0);
    if (!db)
        h_child_exit();
    return db;
}

/* Arm the pause point the controller asks for, or disarm them all. */
static void take_arm(struct wslot *me)
{
    long a = atomic_exchange(&me->arm, 0);
    for (int q = 0; a && q < PAUSE_POINTS; q++)
        if (a == DISARM || q == a % 16 - 1)
            shmkv__pause_arm(q, a == DISARM ? -1 : a / 16);
}

/* Key to work on: one in play, or now and then a new one. */
static int pick_key(h_rng *r)
{
    int32_t hi = atomic_load(&S->hi);
    if (hi < MAXKEYS && h_below(r, 100) < 12) {
        int i = atomic_fetch_add(&S->hi, 1);
        if (i < MAXKEYS)
            return i;
        atomic_store(&S->hi, MAXKEYS);
    }
    return (int)h_below(r, (uint64_t)(hi < MAXKEYS ? hi : MAXKEYS));
}

static bool claim(struct wslot *me, struct keylog *L, int i)
{
    atomic_store(&me->key, i);
    int32_t zero = 0;
    if (!atomic_compare_exchange_strong(&L->owner, &zero, atomic_load(&me->pid))) {
        atomic_store(&me->key, -1);
        return false;
    }
    atomic_fetch_add(&L->version, 1);
    return true;
}

static void release(struct wslot *me, struct keylog *L)
{
    atomic_fetch_add(&L->version, 1);
    atomic_store(&L->owner, 0);
    atomic_store(&me->key, -1);
}

/* The state write op of key L leaves if it is done between t0 and t1
 * (a failed add or replace leaves the acknowledged one). */
static struct state result_of(const struct keylog *L, int op, uint64_t t0, uint64_t t1)
{
    struct state r = L->acked;
    r.present = op != OP_DEL && (op != OP_EXPIRE || r.present);
    if (op != OP_EXPIRE && op != OP_DEL) {
        r.seq = L->pend_seq;
        r.vlen = L->pend_vlen;
    }
    r.exp_lo = L->pend_ttl ? t0 + L->pend_ttl : 0;
    r.exp_hi = L->pend_ttl ? t1 + L->pend_ttl : 0;
    return r;
}

/* Was rc a result the write could have had, from the acknowledged state
 * and what happened meanwhile?  If it was done, its result becomes the
 * acknowledged state. */
static void judge_write(int op, int rc, unsigned seen, double dt, struct keylog *L, uint64_t t0, uint64_t t1, int i)
{
    struct state *a = &L->acked;
    bool may_absent = could_be(a, false, 0, 0, t0, t1);
    bool may_present = a->present && (!a->exp_hi || t0 < a->exp_hi);
    if (rc == -ETIMEDOUT) {
        atomic_fetch_add(&S->giveups, 1);
        if (seen == SEEN_STOP)
            amax(&S->us_giveup, dt);
        if (!(seen & (SEEN_CHECK | SEEN_SELF)) && (!seen || dt > GIVEUP_S))
            VIOLATION("%s of key %d: -ETIMEDOUT after %.3f s, %s", op_names[op], i, dt,
                      seen ? "too late for a stopped holder" : "with no writer stopped");
        return;
    }
    if (rc == -ENOSPC && op != OP_DEL && (!S->cache || (seen & SEEN_STOP))) {
        atomic_fetch_add(&S->nospc, 1);
        return;
    }
    bool needs_key = op == OP_REPLACE || op == OP_DEL || op == OP_EXPIRE;
    bool ok = rc == 0 ? (op == OP_ADD ? may_absent : !needs_key || may_present)
            : rc == -EEXIST ? op == OP_ADD && may_present
            : rc == -ENOENT ? needs_key && may_absent : false;
    if (!ok) {
        VIOLATION("%s of key %d returned %s; acknowledged: %s seq %llu", op_names[op], i, h_errname(rc),
                  a->present ? "present" : "absent", (unsigned long long)a->seq);
        return;
    }
    if (!rc)
        *a = result_of(L, op, t0, t1);
}

/* One write of key i (claimed), checked against the key's log. */
static void write_once(shmkv *db, struct wslot *me, h_rng *r, int i, unsigned char *val, unsigned char *buf)
{
    struct keylog *L = &S->keys[i];
    uint64_t seq = 0, vlen = 0, t0 = shmkv__clock_now(db);
    int found = read_key(db, i, buf, &seq, &vlen, "writer");
    uint64_t t1 = shmkv__clock_now(db);
    expect(&L->acked, found, seq, vlen, t0, t1, i, "writer");
    unsigned x = (unsigned)h_below(r, 100);
    int op = x < 35 ? OP_PUT : x < 55 ? OP_PUT_TTL : x < 65 ? OP_ADD : x < 72 ? OP_REPLACE : x < 88 ? OP_DEL
                                                                                          : OP_EXPIRE;
    char k[96];
    size_t kl = key_of(i, k), vl = pick_vlen(r, i);
    L->pend_seq = atomic_fetch_add(&S->seq, 1) + 1;
    L->pend_vlen = vl;
    L->pend_ttl = op == OP_PUT_TTL || (op == OP_EXPIRE && h_below(r, 4)) ? 20 + h_below(r, TTL_MAX_MS - 20) : 0;
    h_val_make(val, vl, k, kl, L->pend_seq);
    struct window win;
    window_open(&win, false);
    uint32_t stops0 = atomic_load(&me->stopped);
    L->pend_t0 = t0 = shmkv__clock_now(db);
    atomic_store(&L->pend_op, (uint32_t)op);
    double w0 = h_now();
    int rc = op == OP_PUT       ? shmkv_put(db, k, kl, val, vl)
           : op == OP_PUT_TTL   ? shmkv_put_ttl(db, k, kl, val, vl, L->pend_ttl)
           : op == OP_ADD       ? shmkv_add(db, k, kl, val, vl)
           : op == OP_REPLACE   ? shmkv_replace(db, k, kl, val, vl)
           : op == OP_DEL       ? shmkv_del(db, k, kl)
                                : shmkv_expire(db, k, kl, L->pend_ttl);
    double dt = h_now() - w0;
    t1 = shmkv__clock_now(db);
    unsigned seen = window_close(&win, false);
    bool victim = atomic_load(&me->stopped) != stops0; /* the write spans a stop of its own */
    atomic_fetch_add(&S->writes, 1);
    if (!victim && rc != -ETIMEDOUT) {
        amax(&S->us_write, dt);
        if (dt > MAX_WRITE_S)
            VIOLATION("%s of key %d took %.3f s (%s)", op_names[op], i, dt, h_errname(rc));
    }
    judge_write(op, rc, seen | (victim ? SEEN_SELF : 0), dt, L, t0, t1, i);
    atomic_store(&L->pend_op, OP_NONE);
}

__attribute__((noreturn)) static void writer(int slot, uint64_t seed)
{
    struct wslot *me = g_me = &S->w[slot];
    atomic_store(&me->pid, (int32_t)getpid());
    shmkv *db = open_table(false);
    h_rng r = h_rng_new(seed);
    unsigned char *val = malloc(HUGE_MAX), *buf = malloc(HUGE_MAX);
    while (!atomic_load(&S->stop)) {
        park_point(slot);
        take_arm(me);
        int i = pick_key(&r);
        if (!claim(me, &S->keys[i], i))
            continue;
        write_once(db, me, &r, i, val, buf);
        release(me, &S->keys[i]);
    }
    free(val);
    free(buf);
    shmkv_close(db);
    h_child_exit();
}

/* ---- readers ------------------------------------------------------------ */

struct scan {
    const char *kind;
    uint8_t seen[MAXKEYS];
};

/* foreach hands over each pair at most once, even while others write
 * (each shard is copied whole), and only valid ones. */
static int scan_visit(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    struct scan *sc = ctx;
    int i = id_of(k, kl);
    if (i < 0 || !h_val_check(v, vl, k, kl, NULL))
        VIOLATION("foreach on a %s handle: %s", sc->kind, i < 0 ? "a key never written" : "an invalid value");
    else if (sc->seen[i]++)
        VIOLATION("foreach on a %s handle visited key %d twice", sc->kind, i);
    return 0;
}

/* A get of a random key: the value must be valid, and exactly the
 * acknowledged state if no writer held the key meanwhile. */
static void reader_get(shmkv *db, h_rng *r, unsigned char *buf)
{
    int32_t hi = atomic_load(&S->hi);
    int i = (int)h_below(r, (uint64_t)(hi < MAXKEYS ? hi : MAXKEYS));
    struct keylog *L = &S->keys[i];
    uint32_t v0 = atomic_load(&L->version);
    bool free0 = atomic_load(&L->owner) == 0;
    uint64_t seq = 0, vlen = 0, t0 = shmkv__clock_now(db);
    int found = read_key(db, i, buf, &seq, &vlen, "reader");
    uint64_t t1 = shmkv__clock_now(db);
    atomic_thread_fence(memory_order_acquire);
    struct state a = L->acked;
    atomic_thread_fence(memory_order_acquire);
    if (free0 && atomic_load(&L->owner) == 0 && atomic_load(&L->version) == v0)
        expect(&a, found, seq, vlen, t0, t1, i, "reader");
}

/* foreach or shmkv_check, timed, with the results each handle may give. */
static void reader_scan(shmkv *db, bool rdonly, bool check)
{
    const char *kind = rdonly ? "read-only" : "writable";
    bool locks_all = check && !rdonly;
    struct window win;
    window_open(&win, locks_all);
    double t0 = h_now();
    char *report = NULL;
    size_t len = 0;
    FILE *f = check ? open_memstream(&report, &len) : NULL;
    static struct scan sc;
    sc.kind = kind;
    memset(sc.seen, 0, sizeof sc.seen);
    int rc = check ? shmkv_check(db, f) : shmkv_foreach(db, scan_visit, &sc);
    if (f)
        fclose(f);
    double dt = h_now() - t0;
    unsigned seen = window_close(&win, locks_all);
    bool stopped = seen & SEEN_STOP, timeout_ok = !rdonly && seen;
    amax(check ? &S->us_check : &S->us_scan, dt);
    atomic_fetch_add(check ? (rdonly ? &S->ro_checks : &S->rw_checks) : &S->scans, 1);
    if (rc == -EAGAIN && rdonly)
        atomic_fetch_add(check ? &S->ro_eagain : &S->scan_eagain, 1);
    if (rc == -ETIMEDOUT && timeout_ok)
        atomic_fetch_add(&S->rw_timeouts, 1);
    if (check && rc == -EBADMSG)
        FALSE_REPORT("%s check on a sound table: -EBADMSG%s\n%s", kind, stopped ? " (a writer stopped)" : "",
                     report ? report : "");
    else if (rc && !(rc == -EAGAIN && rdonly) && !(rc == -ETIMEDOUT && timeout_ok))
        VIOLATION("%s %s: %s", kind, check ? "check" : "foreach", h_errname(rc));
    else if (dt > MAX_SCAN_S)
        VIOLATION("%s %s took %.3f s", kind, check ? "check" : "foreach", dt);
    free(report);
}

__attribute__((noreturn)) static void reader(int id, bool rdonly, uint64_t seed)
{
    shmkv *db = open_table(rdonly);
    h_rng r = h_rng_new(seed);
    unsigned char *buf = malloc(HUGE_MAX);
    double next_scan = h_now() + 0.2, next_check = h_now() + 0.4;
    while (!atomic_load(&S->stop)) {
        park_point(NWRITERS + id);
        if (h_now() > next_scan) {
            reader_scan(db, rdonly, false);
            next_scan = h_now() + 0.3 + 0.4 * (double)h_below(&r, 100) / 100;
        } else if (h_now() > next_check) {
            reader_scan(db, rdonly, true);
            next_check = h_now() + 0.5 + 0.5 * (double)h_below(&r, 100) / 100;
        } else {
            reader_get(db, &r, buf);
        }
    }
    free(buf);
    shmkv_close(db);
    h_child_exit();
}

/* ---- the controller (the test's main process) ---------------------------- */

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
                                                      "list_copying", "growing_ahead"};

static void start_worker(int w)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        uint64_t seed = h_mix64(g_seed ^ (uint64_t)getpid());
        if (w < NWRITERS)
            writer(w, seed);
        reader(w - NWRITERS, w == NWRITERS + 1, seed);
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
    int found = read_key(g_db, i, buf, &seq, &vlen, "after a kill");
    uint64_t t1 = shmkv__clock_now(g_db), left = 0;
    int op = (int)atomic_load(&L->pend_op);
    struct state p = result_of(L, op, L->pend_t0, t0);
    char who[48];
    snprintf(who, sizeof who, "a writer killed in a %s", op_names[op]);
    if (!op || !could_be(&p, found, seq, vlen, t0, t1))
        expect(&L->acked, found, seq, vlen, t0, t1, i, who);
    char k[96];
    size_t kl = key_of(i, k);
    t0 = shmkv__clock_now(g_db);
    int rc = found > 0 ? shmkv_ttl(g_db, k, kl, &left) : -ENOENT;
    t1 = shmkv__clock_now(g_db);
    L->acked = (struct state){rc == 0, seq, vlen, left ? t0 + left : 0, left ? t1 + left : 0};
    atomic_store(&L->pend_op, OP_NONE);
    release(me, L);
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
    if (g_t.stops % 2 == 0 || point == PAUSE_SPLIT_PUBLISHED)
        reader_scan(g_ro, true, false); /* what the stopped writer left half done is seen once */
    if (g_t.stops % 4 == 1)
        reader_scan(g_ro, true, true);
    if (g_t.stops % 6 == 3)
        reader_scan(g_db, false, true);
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
    CHECK_RC(shmkv_foreach(db, scan_visit, &sc), 0);
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
    sync_clock();
    static unsigned char buf[HUGE_MAX];
    static uint8_t found[MAXKEYS];
    memset(found, 0, sizeof found);
    int32_t hi = atomic_load(&S->hi);
    for (int i = 0; i < (hi < MAXKEYS ? hi : MAXKEYS); i++) {
        uint64_t seq = 0, vlen = 0, t0 = shmkv__clock_now(g_db);
        int got = read_key(g_db, i, buf, &seq, &vlen, when);
        expect(&S->keys[i].acked, got, seq, vlen, t0, shmkv__clock_now(g_db), i, when);
        found[i] = got > 0;
    }
    for (int i = 0; i < NGROUPED; i++) {
        char k[96];
        unsigned slot;
        g_t.in_overflow += key_place(g_db, k, key_of(i, k), &slot) > 0;
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
        size_t kl = key_of(i, k), vl = pick_vlen(&g_r, i);
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

/* The pause points of a part, stopped at in turn: a store never evicts,
 * and a full cache's index no longer splits (the store's does). */
#define NPOINTS 6
static const int store_points[NPOINTS] = {PAUSE_LOCKED, PAUSE_RECORD_WRITTEN, PAUSE_SLOT_PUBLISHED,
                                          PAUSE_SPLIT_PUBLISHED, PAUSE_RUN_UNLINKED, PAUSE_ALLOC_LOCKED};
static const int cache_points[NPOINTS] = {PAUSE_EVICTING, PAUSE_LOCKED, PAUSE_RECORD_WRITTEN,
                                          PAUSE_SLOT_PUBLISHED, PAUSE_RUN_UNLINKED, PAUSE_ALLOC_LOCKED};

/* Every point stopped at twice (continued, then killed), a few random stops. */
static bool covered(const int *points)
{
    for (int j = 0; j < NPOINTS; j++)
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
        int w = (int)h_below(&g_r, NWRITERS), point = turn % 3 == 2 ? -1 : points[(turn / 3 * 2 + turn % 3) % NPOINTS];
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
    for (int j = 0; j < NPOINTS; j++)
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
