/*
 * test_stop.c - writers stopped (SIGSTOP) in the middle of a change, and
 * what everybody else gets meanwhile: the regressions of issue 18 whose
 * trigger is a stopped process (the torture of the same, at random
 * instants and at every pause point, is test_stop_torture.c).
 *
 *  - alloc_cont, alloc_kill (item 6): a writer stopped holding the
 *    allocator's lock while others delete big values: every delete is
 *    done at once (the freed runs wait on their shards' deferred lists),
 *    and after the writer goes on (SIGCONT) or is killed (SIGKILL) the
 *    checker finds no leaked run and all the space is used again;
 *  - split (item 7): a writer stopped after a bucket split published its
 *    layout, before it cleared the moved slots: a read-only foreach visits
 *    every key exactly once, and again after the writer is killed, until
 *    and after another writer takes the shard's lock;
 *  - split_compacted: the same, the writer stopped after the split's
 *    compaction copied keys of the source's overflow buckets into its
 *    holes, before it cleared their old slots (a key is then in two slots
 *    of the chain, seen here); after the kill and the next writer's
 *    repair, no key is in two slots and the checker finds every count
 *    right;
 *  - big_get (item 8): a read-only get of a 256 MiB value (32 MiB under
 *    ASan) completes in bounded time while another process overwrites a
 *    64 KiB value of the same shard hundreds of times a second (every
 *    overwrite releases a run of the shard, which used to make the reader
 *    start over for ever);
 *  - chain_free: a writer stopped releasing a chained value, its first
 *    piece unlinked from the head but not yet freed: a reader's copy of
 *    the value made then fails the reader's validation.
 *
 * The test reads the library's internals (src/) to choose keys by shard
 * and to see the states it means to produce (deferred runs, a pending
 * split).
 */
#include "harness.h"
#include "api_helpers.h"
#include "format.h"
#include "handle.h"
#include "index.h"
#include "log.h"
#include "stop_helpers.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- item 6: the allocator's lock held by a stopped writer -------------------------- */

#define BIG_VAL (200u * 1024)
#define ALLOC_TABLE (16u << 20)

static void put_big(shmkv *db, void *arg)
{
    const char *k = arg;
    static unsigned char v[BIG_VAL];
    h_val_make(v, sizeof v, k, strlen(k), 1);
    CHECK_RC(shmkv_put(db, k, strlen(k), v, sizeof v), 0);
}

/* Put n big values under "<prefix><i>", none in shard avoid; their key
 * lengths in kl, the keys in keys[i]. */
static void put_bigs(shmkv *db, char keys[][32], int n, const char *prefix, unsigned avoid, long *next)
{
    static unsigned char v[BIG_VAL];
    for (int i = 0; i < n; i++) {
        size_t kl;
        do
            kl = key_find(db, keys[i], 32, prefix, next, -1, -1);
        while (key_shard(db, keys[i], kl) == avoid);
        h_val_make(v, sizeof v, keys[i], kl, 1);
        int rc = shmkv_put(db, keys[i], kl, v, sizeof v);
        CHECKF(rc == 0, "big value %d of %d: %s", i, n, h_errname(rc));
    }
}

static unsigned deferred_shards(shmkv *db)
{
    unsigned n = 0;
    for (uint64_t i = 0; i < nshards(db); i++)
        n += db->shards[i].deferred != 0;
    return n;
}

static void alloc_stopped(bool kill_it)
{
    char name[64], held[32];
    h_name(name, sizeof name, "alloc-stopped");
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = ALLOC_TABLE};
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    if (!db)
        return;
    long next = 0;
    key_find(db, held, sizeof held, "held-", &next, -1, -1);
    unsigned avoid = key_shard(db, held, strlen(held)); /* the stopped writer holds this shard too */
    enum { N = ALLOC_TABLE / 4 * 3 / BIG_VAL };         /* three quarters of the table */
    static char keys[N][32];
    put_bigs(db, keys, N, "big-", avoid, &next);
    pid_t pid = fork_paused(name, PAUSE_ALLOC_LOCKED, 0, put_big, held);
    if (pid < 0)
        return;
    double longest = 0;
    for (int i = 0; i < N; i++) {
        double t0 = h_now();
        int rc = shmkv_del(db, keys[i], strlen(keys[i]));
        double dt = h_now() - t0;
        longest = dt > longest ? dt : longest;
        CHECKF(rc == 0 && dt < 0.5, "delete %d with the allocator's holder stopped: %s after %.3f s", i,
               h_errname(rc), dt);
    }
    unsigned waiting = deferred_shards(db);
    h_note("%d big values deleted with the allocator's holder stopped, the slowest in %.2f ms; %u shards hold "
           "deferred runs", N, longest * 1e3, waiting);
    CHECKF(waiting > 0, "no run waits on a deferred list: the deletes never met the stopped allocator");
    if (kill_it)
        kill_child(pid);
    else
        cont_child(pid, "the writer stopped in the allocator");
    CHECK_TABLE(db, kill_it ? "after the allocator's holder was killed" : "after the allocator's holder went on");
    if (!kill_it) /* the checker's locking drained them (after a kill, only once the lock it takes last is recovered) */
        CHECK_EQ_INT(deferred_shards(db), 0);
    /* all that space is there again: as much fits as before */
    put_bigs(db, keys, N, "again-", avoid, &next);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK(st.file_bytes <= ALLOC_TABLE);
    CHECK_TABLE(db, "after reusing the space");
    shmkv_close(db);
    shmkv_unlink(name);
}

static void part_alloc_cont(void) { alloc_stopped(false); }
static void part_alloc_kill(void) { alloc_stopped(true); }

/* ---- item 7: a split stopped between publishing and cleaning --------------------------- */

#define PRE 200
#define MOREMAX 20000

struct split_log {
    _Atomic int inflight;  /* the writer's key being put (a plain put splits before it
                            * publishes its slot: write.c, put_lean) */
    int seen_pre[PRE], seen_more[MOREMAX], seen_bad;
};

static struct split_log *SL;

static void insert_until_stopped(shmkv *db, void *arg)
{
    (void)arg;
    for (int i = 0; i < MOREMAX; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "more-%d", i);
        atomic_store(&SL->inflight, i);
        CHECK_RC(shmkv_put(db, k, kl, k, kl), 0);
    }
    CHECKF(0, "%d keys and no split", MOREMAX);
}

static int tally(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)ctx;
    char k[32];
    int i;
    if (klen >= sizeof k || vlen != klen) {
        SL->seen_bad++;
        return 0;
    }
    memcpy(k, key, klen);
    k[klen] = 0;
    if (sscanf(k, "pre-%d", &i) == 1 && i >= 0 && i < PRE)
        SL->seen_pre[i]++;
    else if (sscanf(k, "more-%d", &i) == 1 && i >= 0 && i < MOREMAX)
        SL->seen_more[i]++;
    else
        SL->seen_bad++;
    SL->seen_bad += memcmp(key, val, klen) != 0;
    return 0;
}

/* foreach on db visits pre-0.., more-0..more-<last> once each, nothing
 * else; more-<last> at most once while its put is in flight (stopped in
 * the split before it publishes, or killed there). */
static void once_each(shmkv *db, int last, bool in_flight, const char *when)
{
    memset(SL->seen_pre, 0, sizeof SL->seen_pre);
    memset(SL->seen_more, 0, sizeof SL->seen_more);
    SL->seen_bad = 0;
    CHECK_RC(shmkv_foreach(db, tally, NULL), 0);
    int twice = 0, missed = 0;
    for (int i = 0; i < PRE; i++) {
        twice += SL->seen_pre[i] > 1;
        missed += SL->seen_pre[i] == 0;
    }
    for (int i = 0; i < MOREMAX; i++) {
        twice += SL->seen_more[i] > 1;
        missed += i < last || (i == last && !in_flight) ? SL->seen_more[i] == 0 : i > last && SL->seen_more[i] != 0;
    }
    CHECKF(!twice && !missed && !SL->seen_bad, "%s: foreach visited %d keys twice, missed %d, %d unknown", when,
           twice, missed, SL->seen_bad);
}

static bool split_pending(shmkv *db)
{
    for (uint64_t i = 0; i < nshards(db); i++)
        if (db->shards[i].pending_split)
            return true;
    return false;
}

/* Slots of the pending split's source chain holding a record another
 * slot of it holds too. */
static int pending_twice(shmkv *db)
{
    int twice = 0;
    for (uint64_t si = 0; si < nshards(db); si++) {
        struct shard *s = &db->shards[si];
        if (!s->pending_split)
            continue;
        uint64_t offs[256];
        unsigned n = 0;
        for (struct bucket *bk = shmkv__bucket_at(db, s, s->pending_split - 1); bk && n < 250;
             bk = shmkv__bucket_next(db, bk))
            for (unsigned i = 0; i < SLOTS; i++) {
                uint64_t v = atomic_load(&bk->slot[i]);
                if (!v)
                    continue;
                for (unsigned j = 0; j < n; j++)
                    twice += offs[j] == slot_off(v);
                offs[n++] = slot_off(v);
            }
    }
    return twice;
}

static void split_stopped_at(int point)
{
    char name[64];
    h_name(name, sizeof name, "split-stopped");
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = 1u << 20};
    shmkv *db = NULL, *ro = NULL;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    shmkv_options rdo = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &rdo, &ro), 0);
    if (!db || !ro)
        return;
    SL = h_shm_alloc(sizeof *SL);
    for (int i = 0; i < PRE; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "pre-%d", i);
        CHECK_RC(shmkv_put(db, k, kl, k, kl), 0);
    }
    pid_t pid = fork_paused(name, point, 0, insert_until_stopped, NULL);
    if (pid > 0) {
        int last = atomic_load(&SL->inflight);
        CHECKF(split_pending(db), "the writer stopped, but no split is pending");
        int twice = pending_twice(db);
        h_note("a writer stopped mid-split after %d keys, %d keys in two slots", last + 1, twice);
        CHECK(point == PAUSE_SPLIT_COMPACTED ? twice > 0 : twice == 0);
        once_each(ro, last, true, "read-only, the splitter stopped");
        kill_child(pid);
        once_each(ro, last, true, "read-only, the splitter killed");
        CHECK(split_pending(db));
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "more-%d", last);
        CHECK_RC(shmkv_put(db, k, kl, k, kl), 0); /* in the split's shard: repairs it */
        CHECK(!split_pending(db));
        CHECK_EQ_U64(shmkv_count(db), (uint64_t)(PRE + last + 1));
        once_each(ro, last, false, "read-only, the split repaired");
        once_each(db, last, false, "writable, the split repaired");
        CHECK_TABLE(db, "after a split stopped and killed");
    }
    h_shm_free(SL, sizeof *SL);
    shmkv_close(ro);
    shmkv_close(db);
    shmkv_unlink(name);
}

static void part_split(void) { split_stopped_at(PAUSE_SPLIT_PUBLISHED); }
static void part_split_compacted(void) { split_stopped_at(PAUSE_SPLIT_COMPACTED); }

/* ---- item 8: a long read against many releases in its shard ----------------------------- */

#define SMALL_VAL (64u * 1024)

struct churn {
    _Atomic int stop;
    _Atomic long writes;
};

/* Overwrite key (its own run each time: 64 KiB records are huge) until
 * told to stop, about 400 times a second. */
static void churn(const char *name, const char *k, struct churn *c)
{
    shmkv *db = child_open(name);
    static unsigned char v[SMALL_VAL];
    for (uint64_t seq = 2; !atomic_load(&c->stop); seq++) {
        h_val_make(v, sizeof v, k, strlen(k), seq);
        CHECK_RC(shmkv_put(db, k, strlen(k), v, sizeof v), 0);
        atomic_fetch_add(&c->writes, 1);
        usleep(2000);
    }
    shmkv_close(db);
    h_child_exit();
}

static void part_big_get(void)
{
    const size_t big = H_ASAN ? 32u << 20 : 256u << 20;
    const int reads = 3;
    char name[64], small[32];
    h_name(name, sizeof name, "big-get");
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return;
    unsigned char *v = malloc(big);
    CHECK(v != NULL);
    if (!v)
        return;
    h_val_make(v, big, "big", 3, 1);
    CHECK_RC(shmkv_put(db, "big", 3, v, big), 0);
    long next = 0;
    key_find(db, small, sizeof small, "small-", &next, key_shard(db, "big", 3), -1);
    struct churn *c = h_shm_alloc(sizeof *c);
    pid_t writer = h_fork();
    if (writer == 0)
        churn(name, small, c);
    while (atomic_load(&c->writes) < 10)
        usleep(1000);
    pid_t reader = h_fork();
    if (reader == 0) { /* read-only: it cannot lock, it must win the race by itself */
        shmkv *ro = NULL;
        shmkv_options rdo = {.flags = SHMKV_RDONLY};
        CHECK_RC(shmkv_open(name, &rdo, &ro), 0);
        for (int i = 0; ro && i < reads; i++) {
            double t0 = h_now();
            size_t vl = 0;
            int rc = shmkv_get(ro, "big", 3, v, big, &vl);
            CHECKF(rc == 0 && vl == big && h_val_check(v, vl, "big", 3, NULL), "read-only get: %s", h_errname(rc));
            h_note("a read-only get of %zu MiB took %.3f s", big >> 20, h_now() - t0);
        }
        shmkv_close(ro);
        h_child_exit();
    }
    long w0 = atomic_load(&c->writes);
    double t0 = h_now(), limit = reads * 10.0;
    int r = 0, status = 0;
    while ((r = waitpid(reader, &status, WNOHANG)) == 0 && h_now() - t0 < limit)
        usleep(1000);
    double dt = h_now() - t0;
    double rate = (double)(atomic_load(&c->writes) - w0) / dt;
    atomic_store(&c->stop, 1);
    h_wait(writer, "the overwriting writer");
    h_note("%d read-only gets of %zu MiB in %.2f s while the same shard was written %.0f times a second", reads,
           big >> 20, dt, rate);
    if (r == 0) {
        CHECKF(0, "%d read-only gets of a %zu MiB value did not finish in %.0f s: starved by the writer", reads,
               big >> 20, limit);
        kill_child(reader);
    } else {
        CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the reader failed (status %#x)", status);
    }
    CHECKF(rate > 100, "the writer managed only %.0f overwrites a second", rate);
    CHECK_TABLE(db, "after the long reads");
    h_shm_free(c, sizeof *c);
    free(v);
    shmkv_close(db);
    shmkv_unlink(name);
}

/* ---- a chained value released while a reader copies it -------------------------------- */

static void del_key(shmkv *db, void *arg)
{
    const char *k = arg;
    CHECK_RC(shmkv_del(db, k, strlen(k)), 0);
}

/* A lock-free reader found a chained value's record, then its writer
 * deleted it and stopped after unlinking the first piece from the head,
 * before freeing it.  The reader's copy, made now, follows the shortened
 * chain: the reader must be told to retry (its validation moved), never
 * handed that copy as the value (it used to be: the epoch only moved when
 * the piece was freed; found by test_torture as -EBADMSG). */
static void part_chain_free(void)
{
    char name[64];
    int nmid = 0;
    shmkv *db = open_fragmented(name, sizeof name, "chain-free", &nmid);
    if (!db)
        return;
    const size_t vl = 4 * FRAG_HOLE + 100;
    unsigned char *v = malloc(vl), *buf = malloc(vl);
    h_val_make(v, vl, "big", 3, 1);
    CHECK_RC(shmkv_put(db, "big", 3, v, vl), 0);
    uint64_t off = key_record(db, "big", 3);
    CHECK(off != 0);
    struct rec rh;
    memcpy(&rh, at(db, off), sizeof rh);
    CHECKF(rh.dist & REC_CHAIN, "a value of %zu bytes in holes of %d is chained", vl, FRAG_HOLE);
    struct shard *s = shard_of(db, key_hash(db, "big", 3));
    struct view vw;
    view_begin(s, &vw); /* the reader's look starts before the delete */
    CHECK(shmkv__rec_value(db, off, &rh, buf) && !memcmp(buf, v, vl));
    CHECK(!view_recycled(s, &vw));
    pid_t w = fork_paused(name, PAUSE_PIECE_UNLINKED, 0, del_key, "big");
    if (w > 0) {
        memset(buf, 0, vl);
        bool copied = shmkv__rec_value(db, off, &rh, buf);
        bool good = copied && !memcmp(buf, v, vl);
        CHECKF(view_recycled(s, &vw) || good,
               "with a piece unlinked, a copy that %s passed the reader's validation (the epoch held)",
               copied ? "took other bytes" : "called the value damaged");
        cont_child(w, "the deleting writer");
    }
    size_t got;
    CHECK_RC(shmkv_get(db, "big", 3, buf, vl, &got), -ENOENT);
    CHECK_RC(shmkv_put(db, "big", 3, v, vl), 0); /* every piece came back */
    free(v);
    free(buf);
    FINISH_TABLE(db, name, "after the chained value was deleted and put again");
}

static const struct h_part parts[] = {
    {"alloc_cont", part_alloc_cont},
    {"alloc_kill", part_alloc_kill},
    {"split", part_split},
    {"split_compacted", part_split_compacted},
    {"big_get", part_big_get},
    {"chain_free", part_chain_free},
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_stop", parts, H_NPARTS(parts));
}
