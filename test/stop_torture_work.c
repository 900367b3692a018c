/*
 * stop_torture_work.c - test_stop_torture's workers: writers (stopped,
 * continued and killed by the controller, test_stop_torture.c) that log
 * every key's acknowledged state, readers that check what they read
 * against it, and the key helpers both sides use.
 */
#include "stop_torture.h"
#include "clock.h"
#include "fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int64_t g_clock_applied;
static struct wslot *g_me;      /* a writer's own slot */

static void amax(_Atomic uint64_t *m, double seconds)
{
    uint64_t v = (uint64_t)(seconds * 1e6), cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v)) {
    }
}

/* Key i into k (96 bytes): a grouped one, or "k<i>", every 16th long. */
size_t stop_key_of(int i, char *k)
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
    return i >= 0 && i < MAXKEYS && stop_key_of(i, own) == kl && !memcmp(own, k, kl) ? i : -1;
}

size_t stop_pick_vlen(h_rng *r, int i)
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
void stop_sync_clock(void)
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
    stop_sync_clock();
}

/* Could a key in state st read as (found, seq, vlen) between table times
 * t0 and t1?  A cache may have evicted anything. */
bool stop_could_be(const struct state *st, bool found, uint64_t seq, uint64_t vlen, uint64_t t0, uint64_t t1)
{
    if (!found)
        return !st->present || (st->exp_lo && t1 >= st->exp_lo) || S->cache;
    return st->present && (!st->exp_hi || t0 < st->exp_hi) && seq == st->seq && vlen == st->vlen;
}

/* Key i read as (found, seq) between t0 and t1: could it? */
void stop_expect(const struct state *st, int found, uint64_t seq, uint64_t vlen, uint64_t t0, uint64_t t1, int i,
                 const char *who)
{
    if (found >= 0 && !stop_could_be(st, found, seq, vlen, t0, t1))
        VIOLATION("%s: key %d is %s seq %llu; acknowledged: %s seq %llu", who, i, found ? "present" : "absent",
                  (unsigned long long)seq, st->present ? "present" : "absent", (unsigned long long)st->seq);
}

/* Read key i: 1 found (seq, vlen set), 0 absent, -1 an error or an
 * invalid value (a violation, reported). */
int stop_read_key(shmkv *db, int i, unsigned char *buf, uint64_t *seq, uint64_t *vlen, const char *who)
{
    char k[96];
    size_t kl = stop_key_of(i, k), vl = 0;
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

void stop_release(struct wslot *me, struct keylog *L)
{
    atomic_fetch_add(&L->version, 1);
    atomic_store(&L->owner, 0);
    atomic_store(&me->key, -1);
}

/* The state write op of key L leaves if it is done between t0 and t1
 * (a failed add or replace leaves the acknowledged one). */
struct state stop_result_of(const struct keylog *L, int op, uint64_t t0, uint64_t t1)
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
    bool may_absent = stop_could_be(a, false, 0, 0, t0, t1);
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
        *a = stop_result_of(L, op, t0, t1);
}

/* One write of key i (claimed), checked against the key's log. */
static void write_once(shmkv *db, struct wslot *me, h_rng *r, int i, unsigned char *val, unsigned char *buf)
{
    struct keylog *L = &S->keys[i];
    uint64_t seq = 0, vlen = 0, t0 = shmkv__clock_now(db);
    int found = stop_read_key(db, i, buf, &seq, &vlen, "writer");
    uint64_t t1 = shmkv__clock_now(db);
    stop_expect(&L->acked, found, seq, vlen, t0, t1, i, "writer");
    unsigned x = (unsigned)h_below(r, 100);
    int op = x < 35 ? OP_PUT : x < 55 ? OP_PUT_TTL : x < 65 ? OP_ADD : x < 72 ? OP_REPLACE : x < 88 ? OP_DEL
                                                                                          : OP_EXPIRE;
    char k[96];
    size_t kl = stop_key_of(i, k), vl = stop_pick_vlen(r, i);
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

__attribute__((noreturn)) void stop_writer_run(int slot, uint64_t seed)
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
        stop_release(me, &S->keys[i]);
    }
    free(val);
    free(buf);
    shmkv_close(db);
    h_child_exit();
}

/* ---- readers ------------------------------------------------------------ */

/* foreach hands over each pair at most once, even while others write
 * (each shard is copied whole), and only valid ones. */
int stop_scan_visit(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
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
    int found = stop_read_key(db, i, buf, &seq, &vlen, "reader");
    uint64_t t1 = shmkv__clock_now(db);
    atomic_thread_fence(memory_order_acquire);
    struct state a = L->acked;
    atomic_thread_fence(memory_order_acquire);
    if (free0 && atomic_load(&L->owner) == 0 && atomic_load(&L->version) == v0)
        stop_expect(&a, found, seq, vlen, t0, t1, i, "reader");
}

/* foreach or shmkv_check, timed, with the results each handle may give. */
void stop_reader_scan(shmkv *db, bool rdonly, bool check)
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
    int rc = check ? shmkv_check(db, f) : shmkv_foreach(db, stop_scan_visit, &sc);
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

__attribute__((noreturn)) void stop_reader_run(int id, bool rdonly, uint64_t seed)
{
    shmkv *db = open_table(rdonly);
    h_rng r = h_rng_new(seed);
    unsigned char *buf = malloc(HUGE_MAX);
    double next_scan = h_now() + 0.2, next_check = h_now() + 0.4;
    while (!atomic_load(&S->stop)) {
        park_point(NWRITERS + id);
        if (h_now() > next_scan) {
            stop_reader_scan(db, rdonly, false);
            next_scan = h_now() + 0.3 + 0.4 * (double)h_below(&r, 100) / 100;
        } else if (h_now() > next_check) {
            stop_reader_scan(db, rdonly, true);
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

