/*
 * test_list_space.c - the memory of lists: rings doubling many times
 * (pushes at both ends, indexes wrapping past 0), big elements (in runs of
 * their own, and chained over the holes of a fragmented table), a full
 * table (push_many all or nothing, a move that finds no room, pushes that
 * fail for room keep nothing), and reuse:
 * a queue that carries millions of elements with at most a thousand
 * queued stays within a bounded file; a deep queue, whose elements go to
 * the log past a ring of 16 MiB and are moved there by compaction; and a
 * queue's pushes, which wait for its consumer's pops rather than grow a
 * ring of 1 MiB or spill to the log past 16 MiB while it drains them, and
 * spill at once, without a wait per push, while it does not (and a
 * bounded push with a timeout of 0 never waits so).
 */
#include "harness.h"
#include "api_helpers.h"
#include "list_helpers.h"
#include "handle.h"
#include "hash.h"

#include "list.h"
#include "read.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KEY(s) s, strlen(s)

/* The list's elements are first, first + 1, ..., last (mod nothing). */
static void check_run(shmkv *db, const char *key, uint64_t first, size_t n, const char *when)
{
    uint64_t *want = malloc((n + 1) * sizeof *want);
    for (size_t i = 0; i < n; i++)
        want[i] = first + i;
    CHECK_LIST(db, key, want, n);
    free(want);
    CHECK_TABLE(db, when);
}

/* 256 slots inline, then 512, 1 Ki ... 64 Ki: pushes at the head (index
 * going below 0) and the tail, pops between, a batch that doubles the ring
 * several times at once. */
static void ring_growth(void)
{
    char name[64], when[64];
    shmkv *db = open_new(name, sizeof name, "ring");
    uint64_t lo = 1000000, hi = lo; /* the list holds lo .. hi - 1 */
    uint8_t buf[ELEM_MAX];
    size_t vl;
    unsigned step = 0;
    for (size_t cap = 256; cap <= 8192; cap *= 2) {
        while (hi - lo < cap + 1) { /* one past the ring's size: it doubles */
            CHECK_RC(elem_push(db, "r", --lo, SHMKV_HEAD), 0);
            CHECK_RC(elem_push(db, "r", hi++, SHMKV_TAIL), 0);
            if (++step % 7 == 0) { /* and a pop at each end now and then */
                CHECK_RC(shmkv_pop(db, KEY("r"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), 0);
                CHECK_EQ_U64(elem_seq(buf, vl, "r"), lo++);
                CHECK_RC(shmkv_pop(db, KEY("r"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
                CHECK_EQ_U64(elem_seq(buf, vl, "r"), --hi);
            }
        }
        snprintf(when, sizeof when, "past a ring of %zu", cap);
        check_run(db, "r", lo, hi - lo, when);
    }
    /* one batch of 50000 at the tail: several doublings in one push */
    size_t nb = 50000;
    uint8_t *eb = malloc(nb * ELEM_MAX);
    shmkv_elem *el = malloc(nb * sizeof *el);
    for (size_t i = 0; i < nb; i++)
        el[i] = (shmkv_elem){eb + i * ELEM_MAX, elem_make(eb + i * ELEM_MAX, "r", hi + i)};
    CHECK_RC(shmkv_push_many(db, KEY("r"), el, nb, SHMKV_TAIL), 0);
    hi += nb;
    check_run(db, "r", lo, hi - lo, "after a batch of 50000");
    /* survives a reopen; drains from both ends; deletes cleanly */
    shmkv_close(db);
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    check_run(db, "r", lo, hi - lo, "after a reopen");
    while (hi > lo) {
        int end = (int)(hi & 1);
        CHECK_RC(shmkv_pop(db, KEY("r"), end, buf, sizeof buf, &vl, 0), 0);
        CHECK_EQ_U64(elem_seq(buf, vl, "r"), end == SHMKV_TAIL ? --hi : lo++);
    }
    check_run(db, "r", lo, 0, "drained");
    CHECK_RC(elem_push(db, "r", 5, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_del(db, KEY("r")), 0);
    CHECK_TABLE(db, "after deleting a list with a grown ring");
    free(eb);
    free(el);
    close_unlink(db, name);
}

/* A big element of list key, number seq, checked through pop, lrange, move. */
static void big_round(shmkv *db, const char *key, size_t len, uint64_t seq, const char *when)
{
    uint8_t *v = malloc(len), *buf = malloc(len);
    h_val_make(v, len, key, strlen(key), seq);
    CHECK_RC(elem_push(db, key, 1, SHMKV_TAIL), 0);
    int rc = shmkv_push(db, KEY(key), v, len, SHMKV_TAIL);
    CHECKF(rc == 0, "%s: push of %zu bytes: %s", when, len, h_errname(rc));
    CHECK_RC(elem_push(db, key, 2, SHMKV_TAIL), 0);
    CHECK_TABLE(db, when);
    size_t vl = 0;
    /* moved (a new record, as big) to the head of another list and back */
    CHECK_RC(elem_push(db, "other", 3, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_pop(db, KEY(key), SHMKV_HEAD, buf, len, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(buf, vl, key), 1);
    CHECK_RC(shmkv_move(db, KEY(key), SHMKV_HEAD, KEY("other"), SHMKV_HEAD, buf, len - 1, &vl, 0), -ENOBUFS);
    CHECK_EQ_U64(vl, len);
    rc = shmkv_move(db, KEY(key), SHMKV_HEAD, KEY("other"), SHMKV_HEAD, buf, len, &vl, 0);
    CHECKF(rc == 0 && vl == len && h_val_check(buf, vl, key, strlen(key), NULL), "%s: move: %s", when,
           h_errname(rc));
    CHECK_TABLE(db, when);
    memset(buf, 0, len);
    rc = shmkv_pop(db, KEY("other"), SHMKV_HEAD, buf, len, &vl, 0);
    CHECKF(rc == 0 && vl == len && h_val_check(buf, vl, key, strlen(key), NULL), "%s: pop: %s", when,
           h_errname(rc));
    CHECK_RC(shmkv_pop(db, KEY(key), SHMKV_HEAD, buf, len, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(buf, vl, key), 2);
    CHECK_LIST(db, key, NULL, 0);
    CHECK_LIST(db, "other", ((uint64_t[]){3}), 1);
    CHECK_RC(shmkv_del(db, KEY("other")), 0);
    CHECK_TABLE(db, when);
    free(v);
    free(buf);
}

#define MID FRAG_HOLE /* the holes of open_fragmented's table */

static void big_elems(void)
{
    char name[64];
    /* in runs of their own: bigger than any log run */
    shmkv *db = open_new(name, sizeof name, "huge");
    size_t huge[] = {300 * 1024, 3u << 20, 9u << 20};
    for (unsigned i = 0; i < 3; i++)
        big_round(db, "h", huge[i], i, "huge elements");
    close_unlink(db, name);
    /* chained over the holes of a full table, as test_chain does for values */
    int n;
    db = open_fragmented(name, sizeof name, "chained", &n); /* every other value deleted */
    uint8_t *v = malloc(MID);
    char k[32];
    /* each several holes big, so chained (a move needs room for two) */
    size_t chained[] = {3 * MID + 100, 4 * MID + 7};
    for (unsigned i = 0; i < 2; i++)
        big_round(db, "c", chained[i], i, "chained elements");
    for (int i = 1; i < n; i += 2) { /* the pairs around them are intact */
        size_t kl = (size_t)snprintf(k, sizeof k, "mid-%d", i), vl;
        CHECK_RC(shmkv_get(db, k, kl, v, MID, &vl), 0);
        CHECK(vl == MID && h_val_check(v, vl, k, kl, NULL));
    }
    free(v);
    close_unlink(db, name);
}

/* A full table: a batch goes in whole or not at all; a move that finds
 * no room leaves both lists as they were. */
static void full_table(void)
{
    char name[64];
    h_name(name, sizeof name, "full");
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = SHMKV_MIN_BYTES};
    shmkv *db;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    CHECK_RC(shmkv_push(db, KEY("dst"), "d", 1, SHMKV_TAIL), 0);
    uint64_t n = 0;
    int rc;
    while ((rc = elem_push(db, "q", n, SHMKV_TAIL)) == 0)
        n++;
    CHECK_RC(rc, -ENOSPC);
    CHECKF(n > 100, "only %llu elements fit", (unsigned long long)n);
    uint8_t eb[64][ELEM_MAX];
    shmkv_elem el[64];
    for (uint64_t i = 0; i < 64; i++)
        el[i] = (shmkv_elem){eb[i], elem_make(eb[i], "q", n + i)};
    CHECK_RC(shmkv_push_many(db, KEY("q"), el, 64, SHMKV_TAIL), -ENOSPC);
    CHECK_RC(shmkv_push_many(db, KEY("q"), el, 64, SHMKV_HEAD), -ENOSPC);
    /* a new list starts with the ring inside its list run: one free unit
     * takes it, where q's next ring (twice its present one) did not fit */
    rc = shmkv_push_many(db, KEY("new"), el, 64, SHMKV_TAIL);
    CHECK(rc == 0 || rc == -ENOSPC);
    uint64_t nlen = 99;
    CHECK_RC(shmkv_llen(db, KEY("new"), &nlen), 0);
    CHECK_EQ_U64(nlen, rc == 0 ? 64 : 0);
    CHECK_EQ_U64(shmkv_count(db), 2 + (rc == 0)); /* a list "new" only with its batch */
    if (rc == 0)
        CHECK_RC(shmkv_del(db, KEY("new")), 0);
    check_run(db, "q", 0, n, "after batches that did not fit");
    /* a move into another list needs a new record: none fits */
    uint8_t buf[ELEM_MAX];
    size_t vl;
    for (uint64_t i = 0; (rc = shmkv_push(db, KEY("dst"), "d", 1, SHMKV_TAIL)) == 0 && i < 100000; i++)
        ;
    CHECK_RC(rc, -ENOSPC);
    uint64_t dlen = 0;
    CHECK_RC(shmkv_llen(db, KEY("dst"), &dlen), 0);
    rc = shmkv_move(db, KEY("q"), SHMKV_HEAD, KEY("dst"), SHMKV_TAIL, buf, sizeof buf, &vl, 0);
    CHECK(rc == 0 || rc == -ENOSPC);
    uint64_t dlen2 = 0;
    CHECK_RC(shmkv_llen(db, KEY("dst"), &dlen2), 0);
    CHECK_EQ_U64(dlen2, dlen + (rc == 0));
    check_run(db, "q", rc == 0, n - (rc == 0), "after a move on a full table");
    uint64_t lo = rc == 0;
    h_note("%llu elements filled the table; a move there: %s", (unsigned long long)n, h_errname(rc));
    /* room made by pops takes the batch (one push per element) */
    CHECK_RC(shmkv_del(db, KEY("dst")), 0);
    for (int i = 0; i < 100; i++)
        CHECK_RC(shmkv_pop(db, KEY("q"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), 0);
    lo += 100;
    CHECK_RC(shmkv_push_many(db, KEY("q"), el, 64, SHMKV_TAIL), 0);
    check_run(db, "q", lo, n + 64 - lo, "after pops made room for the batch");
    close_unlink(db, name);
}

/* Pushes that fail for room change nothing and keep nothing: big elements
 * of a push_many that did not fit (runs of their own, which once leaked
 * and kept a small table full for good: reliability.md bug 21), and
 * pushes onto new lists in a table full of pairs.  (Bug 22, a push that
 * made its list and then found no room for the list's own record, needs
 * a log run with 24 to 31 bytes left and no free unit: its regression is
 * fuzz_ops' input push-new-list-nospc-leaks-list.) */
static void failed_pushes(void)
{
    char name[64];
    h_name(name, sizeof name, "failed-pushes");
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = SHMKV_MIN_BYTES};
    shmkv *db;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    static uint8_t big[65537];
    memset(big, 'b', sizeof big);
    shmkv_elem el[4];
    for (int i = 0; i < 4; i++)
        el[i] = (shmkv_elem){big, sizeof big};
    for (int round = 0; round < 8; round++)
        CHECK_RC(shmkv_push_many(db, KEY("big"), el, 4, round & 1), -ENOSPC);
    CHECK_EQ_U64(shmkv_count(db), 0);
    CHECK_TABLE(db, "after big batches that did not fit");
    /* their room is free again: a value of a quarter of the table fits */
    CHECK_RC(shmkv_put(db, KEY("quarter"), big, 65536), 0);
    CHECK_RC(shmkv_del(db, KEY("quarter")), 0);
    /* fill with pairs, then pushes of empty elements onto new lists */
    char key[32];
    uint64_t n = 0;
    int rc;
    do
        snprintf(key, sizeof key, "pair-%llu", (unsigned long long)n++);
    while ((rc = shmkv_put(db, KEY(key), big, 100)) == 0);
    CHECK_RC(rc, -ENOSPC);
    uint64_t pairs = shmkv_count(db), made = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "list-%d", i);
        rc = shmkv_push(db, KEY(key), "", 0, SHMKV_TAIL);
        CHECK(rc == 0 || rc == -ENOSPC);
        made += rc == 0;
    }
    CHECK_EQ_U64(shmkv_count(db), pairs + made);
    CHECK_TABLE(db, "after pushes onto new lists in a full table");
    h_note("%llu pairs filled the table; %llu of 200 new lists fit", (unsigned long long)pairs,
           (unsigned long long)made);
    close_unlink(db, name);
}

/* A queue carrying millions of small elements with at most a thousand
 * queued at once: its file stays within REUSE_BOUND.  Elements are 24 to
 * 256 bytes, so the queue holds under 300 KB at once; a table that did
 * not reuse the space of consumed elements would need about 700 MB. */
#define REUSE_ELEMS (H_ASAN ? 500000u : 5000000u)
#define REUSE_MAXQ 1000u
#define REUSE_BOUND (8u << 20) /* seen: 3.4 MB (an empty table is 2.4) */

static void reuse(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "reuse");
    h_rng r = h_rng_new(11);
    uint64_t pushed = 0, popped = 0;
    uint8_t eb[64][ELEM_MAX], out[64 * ELEM_MAX];
    shmkv_elem el[64];
    size_t lens[64], n;
    long long peak = 0;
    double t0 = h_now();
    while (popped < REUSE_ELEMS) {
        /* a batch or a single element in, while under the cap ... */
        size_t want = h_below(&r, 4) ? 1 + (size_t)h_below(&r, 64) : 1;
        if (pushed - popped + want <= REUSE_MAXQ && pushed < REUSE_ELEMS) {
            for (size_t i = 0; i < want; i++)
                el[i] = (shmkv_elem){eb[i], elem_make(eb[i], "q", pushed + i)};
            CHECK_RC(shmkv_push_many(db, KEY("q"), el, want, SHMKV_TAIL), 0);
            pushed += want;
        }
        /* ... and a batch or a single element out, checked */
        size_t max = h_below(&r, 4) ? 1 + (size_t)h_below(&r, 64) : 1;
        int rc = shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, out, sizeof out, lens, max, &n, 0);
        if (rc == -EAGAIN)
            continue;
        CHECK_RC(rc, 0);
        size_t pos = 0;
        long bad = 0;
        for (size_t i = 0; i < n; pos += lens[i++])
            bad += elem_seq(out + pos, lens[i], "q") != popped + i;
        CHECKF(bad == 0, "%ld elements out of order or damaged after %llu", bad, (unsigned long long)popped);
        if (bad)
            break;
        popped += n;
        if (popped % 100000 < n) {
            shmkv_stats st;
            CHECK_RC(shmkv_stat(db, &st), 0);
            peak = st.file_bytes > (uint64_t)peak ? (long long)st.file_bytes : peak;
        }
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%llu elements through a queue of at most %u in %.1f s: file %llu bytes (peak seen %lld), "
           "log %llu, garbage %llu, runs cleaned %llu",
           (unsigned long long)popped, REUSE_MAXQ, h_now() - t0, (unsigned long long)st.file_bytes, peak,
           (unsigned long long)st.log_bytes, (unsigned long long)st.garbage_bytes,
           (unsigned long long)st.runs_cleaned);
    CHECKF(st.file_bytes <= REUSE_BOUND && (uint64_t)peak <= REUSE_BOUND, "the file grew to %llu bytes (peak %lld)",
           (unsigned long long)st.file_bytes, peak);
    CHECK_TABLE(db, "after the queue carried its elements");
    close_unlink(db, name);
}

/* A deep queue: past a ring of 16 MiB the elements' bytes go to the log
 * as records of their own, which compaction moves (rewriting their ring
 * entries) while they wait; pops from the head and pushes at both ends
 * keep their order through all of it. */
static void deep(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "deep");
    uint8_t eb[64][ELEM_MAX], out[64 * ELEM_MAX], v[200];
    shmkv_elem el[64];
    size_t lens[64], n;
    uint64_t pushed = 0, popped = 0;
    while (pushed < 150000) { /* some 23 MB: the last third beyond the ring's 16 MiB */
        for (int i = 0; i < 64; i++)
            el[i] = (shmkv_elem){eb[i], elem_make(eb[i], "q", pushed + (uint64_t)i)};
        CHECK_RC(shmkv_push_many(db, KEY("q"), el, 64, SHMKV_TAIL), 0);
        pushed += 64;
    }
    shmkv_stats st0, st;
    CHECK_RC(shmkv_stat(db, &st0), 0);
    /* pairs of the list's shard: their garbage lies between its elements */
    static char keys[300][32];
    const struct shard *qs = shard_of(db, shmkv__hash64("q", 1, db->seed0, db->seed1));
    for (int i = 0, k = 0; k < 300; i++) {
        snprintf(keys[k], sizeof keys[k], "pair-%d", i);
        k += shard_of(db, shmkv__hash64(keys[k], strlen(keys[k]), db->seed0, db->seed1)) == qs;
    }
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 40000; i++) { /* garbage around the elements: compaction runs */
        const char *key = keys[i % 300];
        CHECK_RC(shmkv_put(db, KEY(key), v, sizeof v), 0);
        if (i % 8)
            continue;
        CHECK_RC(shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, out, sizeof out, lens, 4, &n, 0), 0);
        size_t pos = 0;
        for (size_t k = 0; k < n; pos += lens[k++])
            CHECK_EQ_U64(elem_seq(out + pos, lens[k], "q"), popped + k);
        popped += n;
        CHECK_RC(elem_push(db, "q", pushed++, SHMKV_TAIL), 0);
    }
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECKF(st.runs_cleaned > st0.runs_cleaned, "no compaction ran (%llu runs cleaned)",
           (unsigned long long)st.runs_cleaned);
    check_run(db, "q", popped, pushed - popped, "a deep queue after compaction");
    close_unlink(db, name);
}

/* ---- a deep queue's pushes (queue.c, lane_push_deep) ---- */

#define BIG 4096u
#define RING_ELEMS 4080u  /* elements of BIG bytes a 16 MiB ring holds (4112 bytes each) */
#define PACE_NS 20000     /* the consumer's work per element: well inside a pusher's 50 us watch */

static void big_make(uint8_t *b, uint64_t seq)
{
    memcpy(b, &seq, 8);
    for (unsigned i = 8; i < BIG; i++)
        b[i] = (uint8_t)(seq * 31 + i);
}

static bool big_is(const uint8_t *b, size_t len, uint64_t seq)
{
    uint8_t want[BIG];
    big_make(want, seq);
    return len == BIG && !memcmp(b, want, BIG);
}

static void busy_ns(long ns)
{
    double end = h_now() + ns / 1e9;
    while (h_now() < end)
        ;
}

/* Out-of-line elements of the list at key (a walk of its ring). */
static void count_out(void *ctx, uint32_t pos, uint64_t out)
{
    (void)pos;
    *(uint64_t *)ctx += out != 0;
}

static uint64_t outs_of(shmkv *db, const char *key)
{
    uint64_t lrun = 0, outs = 0;
    CHECK_RC(shmkv__find_list(db, shmkv__hash64(key, strlen(key), db->seed0, db->seed1), KEY(key), &lrun), 0);
    shmkv__list_walk(db, lrun, count_out, &outs);
    return outs;
}

struct drain {
    shmkv *db;
    uint64_t start, quota, popped; /* start: pop once the list holds this many */
    long bad;
};

/* Once the list holds start elements, pop quota of them in order, working
 * PACE_NS on each. */
static void *drainer(void *arg)
{
    struct drain *d = arg;
    uint8_t buf[BIG];
    size_t vl;
    for (uint64_t len = 0; len < d->start;)
        CHECK_RC(shmkv_llen(d->db, KEY("d"), &len), 0);
    for (; d->popped < d->quota; d->popped++) {
        int rc = shmkv_pop(d->db, KEY("d"), SHMKV_HEAD, buf, sizeof buf, &vl, 10000);
        CHECK_RC(rc, 0);
        if (rc || !big_is(buf, vl, d->popped)) {
            d->bad++;
            break;
        }
        busy_ns(PACE_NS);
    }
    return NULL;
}

/* Pop the list's n elements, first .. first + n - 1, checking each. */
static void drain_rest(shmkv *db, uint64_t first, uint64_t n)
{
    uint8_t buf[BIG];
    size_t vl;
    long bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        CHECK_RC(shmkv_pop(db, KEY("d"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), 0);
        bad += !big_is(buf, vl, first + i);
    }
    CHECKF(bad == 0, "%ld elements damaged or out of order", bad);
    CHECK_RC(shmkv_pop(db, KEY("d"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EAGAIN);
}

/* A producer far ahead of a consumer that keeps popping: past a full ring
 * of 16 MiB each push waits for the consumer's next pop and lands in the
 * ring.  Without the wait, all but the first RING_ELEMS would go to the
 * log (the producer pushes faster than the consumer pops): so of the last
 * KEEP elements, still queued at the end, at least half must lie in the
 * ring (when the consumer had its CPU throughout, nearly all do).
 * Some may not: those pushed while the consumer was off its CPU for
 * longer than a watch, which on a busy machine can be most of a run; so
 * the run is tried up to three times.  Returns the elements out of line. */
static uint64_t paced_run(uint64_t keep)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "paced");
    const uint64_t total = 2 * RING_ELEMS;
    struct drain d = {.db = db, .start = RING_ELEMS * 3 / 4, .quota = total - keep}; /* (the ring is 16 MiB by then) */
    pthread_t t;
    CHECK_RC(pthread_create(&t, NULL, drainer, &d), 0);
    uint8_t b[BIG];
    double t0 = h_now();
    for (uint64_t seq = 0; seq < total; seq++) {
        big_make(b, seq);
        CHECK_RC(shmkv_push(db, KEY("d"), b, BIG, SHMKV_TAIL), 0);
    }
    pthread_join(t, NULL);
    CHECKF(d.bad == 0 && d.popped == d.quota, "the consumer popped %llu of %llu",
           (unsigned long long)d.popped, (unsigned long long)d.quota);
    uint64_t len = 0, outs = outs_of(db, "d");
    CHECK_RC(shmkv_llen(db, KEY("d"), &len), 0);
    CHECK_EQ_U64(len, keep);
    h_note("%llu pushes of 4 KiB against a consumer at %d us each in %.2f s: %llu of the %llu queued at the end "
           "out of line", (unsigned long long)total, PACE_NS / 1000, h_now() - t0, (unsigned long long)outs,
           (unsigned long long)keep);
    CHECK_TABLE(db, "a paced deep queue");
    drain_rest(db, total - keep, keep);
    close_unlink(db, name);
    return outs;
}

static void deep_paced(void)
{
    const uint64_t keep = RING_ELEMS - 80;
    uint64_t outs = UINT64_MAX;
    for (int i = 0; i < 3 && outs > keep / 2; i++)
        outs = paced_run(keep);
    CHECKF(outs <= keep / 2, "%llu of %llu queued elements went to the log, in each of three runs",
           (unsigned long long)outs, (unsigned long long)keep);
}

/* A consumer that keeps up from the start: a ring of 1 MiB grows only
 * when no pop comes, so a producer far faster than its consumer waits for
 * it instead of doubling the ring up to 16 MiB (with it the file): the
 * queue's bytes stay in the cores' caches and no doubling stops the
 * consumer.  Returns the file's size at the end. */
static uint64_t kept_small_run(bool now)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "small");
    const uint64_t total = 3000; /* 12 MiB pushed; 20 us a pop, 60 ms */
    struct drain d = {.db = db, .start = 1, .quota = total};
    pthread_t t;
    CHECK_RC(pthread_create(&t, NULL, drainer, &d), 0);
    uint8_t b[BIG];
    for (uint64_t seq = 0; seq < total; seq++) {
        big_make(b, seq);
        shmkv_elem e = {b, BIG};
        CHECK_RC(now ? shmkv_push_bounded(db, KEY("d"), &e, 1, SHMKV_TAIL, 1u << 30, 0)
                     : shmkv_push(db, KEY("d"), b, BIG, SHMKV_TAIL), 0);
    }
    pthread_join(t, NULL);
    CHECKF(d.bad == 0 && d.popped == total, "the consumer popped %llu of %llu", (unsigned long long)d.popped,
           (unsigned long long)total);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%llu %s of 4 KiB against a consumer at %d us each: file %llu bytes", (unsigned long long)total,
           now ? "bounded pushes that may not wait" : "pushes", PACE_NS / 1000, (unsigned long long)st.file_bytes);
    CHECK_TABLE(db, "a queue kept small");
    close_unlink(db, name);
    return st.file_bytes;
}

/* (Tried up to three times, as deep_paced, for a consumer kept off its
 * CPU; without the wait the ring reaches 16 MiB in every run.) */
static void kept_small(void)
{
    uint64_t file = UINT64_MAX;
    for (int i = 0; i < 3 && file >= (8u << 20); i++)
        file = kept_small_run(false);
    CHECKF(file < (8u << 20), "the file grew to %llu bytes in each of three runs", (unsigned long long)file);
}

/* A bounded push with a timeout of 0 never waits, also not for room in a
 * big ring: the same producer, pushing so (with a bound it never meets),
 * grows the ring as far as it gets ahead. */
static void now_grows(void)
{
    uint64_t file = 0;
    for (int i = 0; i < 3 && file < (8u << 20); i++) {
        uint64_t f = kept_small_run(true);
        file = f > file ? f : file;
    }
    CHECKF(file >= (8u << 20), "the file stayed at %llu bytes: a bounded push with timeout 0 waited",
           (unsigned long long)file);
}

/* Nobody pops: past the full ring each push spills to the log as before,
 * and a pusher watches for a pop once, not once per push (which would
 * cost each push 50 us of CPU). */
static void deep_idle(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, "idle");
    const uint64_t spills = 2000;
    uint8_t b[BIG];
    double c0 = 0;
    for (uint64_t seq = 0; seq < RING_ELEMS + spills; seq++) {
        if (seq == RING_ELEMS)
            c0 = h_thread_cpu_s();
        big_make(b, seq);
        CHECK_RC(shmkv_push(db, KEY("d"), b, BIG, SHMKV_TAIL), 0);
    }
    double per = (h_thread_cpu_s() - c0) * 1e6 / (double)spills;
    uint64_t outs = outs_of(db, "d");
    h_note("%llu pushes past the full ring: %.1f us of CPU each, %llu out of line", (unsigned long long)spills, per,
           (unsigned long long)outs);
    CHECK_EQ_U64(outs, spills);
    CHECKF(per < 35, "a push past the full ring took %.1f us of CPU: a watch per push", per);
    CHECK_TABLE(db, "an idle deep queue");
    drain_rest(db, 0, RING_ELEMS + spills);
    close_unlink(db, name);
}

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {
        {"ring_growth", ring_growth},
        {"big_elems", big_elems},
        {"full_table", full_table},
        {"failed_pushes", failed_pushes},
        {"reuse", reuse},
        {"deep", deep},
        {"deep_paced", deep_paced},
        {"kept_small", kept_small},
        {"now_grows", now_grows},
        {"deep_idle", deep_idle},
    };
    return h_main(argc, argv, "test_list_space", parts, H_NPARTS(parts));
}
