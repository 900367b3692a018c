/*
 * stop_torture.h - what test_stop_torture's processes share: the keys'
 * log and the counters (struct shared, in memory all of them map), and
 * the workers (stop_torture_work.c: writers, readers and the key helpers
 * the controller uses too).  test_stop_torture.c explains the test.
 */
#ifndef SHMKV_TEST_STOP_TORTURE_H
#define SHMKV_TEST_STOP_TORTURE_H

#include "harness.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
static const char *const op_names[] __attribute__((unused)) = {"none", "put", "put_ttl", "add", "replace", "del", "expire"};

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

extern struct shared *S;    /* mapped by every process: the keys' log and the figures */

#define FLAG(counter, ...)                                                 \
    do {                                                                   \
        atomic_fetch_add(&S->counter, 1);                                  \
        CHECKF(0, __VA_ARGS__);                                            \
    } while (0)
#define VIOLATION(...) FLAG(violations, __VA_ARGS__)
#define FALSE_REPORT(...) FLAG(false_reports, __VA_ARGS__)

/* foreach's record of the keys it visited (stop_scan_visit) */
struct scan {
    const char *kind;
    uint8_t seen[MAXKEYS];
};

extern int64_t g_clock_applied; /* this process's share of S->clock_adv */

#define DISARM 15 /* a wslot's arm: take back an armed pause point */

/* stop_torture_work.c */
size_t stop_key_of(int i, char *k);
int stop_read_key(shmkv *db, int i, unsigned char *buf, uint64_t *seq, uint64_t *vlen, const char *who);
void stop_expect(const struct state *st, int found, uint64_t seq, uint64_t vlen, uint64_t t0, uint64_t t1, int i,
                 const char *who);
void stop_sync_clock(void);
struct state stop_result_of(const struct keylog *L, int op, uint64_t t0, uint64_t t1);
void stop_release(struct wslot *me, struct keylog *L);
size_t stop_pick_vlen(h_rng *r, int i);
__attribute__((noreturn)) void stop_writer_run(int slot, uint64_t seed);
__attribute__((noreturn)) void stop_reader_run(int id, bool rdonly, uint64_t seed);
bool stop_could_be(const struct state *st, bool found, uint64_t seq, uint64_t vlen, uint64_t t0, uint64_t t1);
int stop_scan_visit(void *ctx, const void *k, size_t kl, const void *v, size_t vl);
void stop_reader_scan(shmkv *db, bool rdonly, bool check);

#endif
