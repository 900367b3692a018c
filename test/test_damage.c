/*
 * test_damage.c - precise kinds of damage a process with write access can
 * do to a table, and what every other process must get: -EBADMSG (the
 * header's word for a damaged table), never another error code, a crash,
 * heap corruption or a giant allocation.  These are the fuzzers' findings
 * (fuzz/) turned into deterministic checks:
 *
 *  1. a damaged lock (every field garbage): the next locker takes it over
 *     and repairs; every call works and the table checks sound; a lock
 *     naming the caller's own thread id for another holder (another boot,
 *     or an earlier thread with the id) is taken over too, and only one
 *     whose every field is the caller's gives -EDEADLK; a gone holder is
 *     taken over even by a waiter whose whole wait went by before it
 *     looked (descheduled);
 *  2. a record whose value length claims 4 GiB: get, get_alloc and foreach,
 *     on read-write and read-only handles, must return -EBADMSG without
 *     first allocating what the record claims (checked with RLIMIT_AS at
 *     1 GiB of headroom; skipped under ASan, which reserves terabytes);
 *     a chained value's head that lost its REC_CHAIN bit or its distance
 *     to its run: every read and write of the key says -EBADMSG; a pair's
 *     record typed as a list's element: reported by check and repair,
 *     and no compaction serves another record's bytes under its slot;
 *  3. the allocator's top mark lowered below records still in use (it
 *     passes open's checks): shmkv_check must report -EBADMSG, and must not
 *     write outside the arrays it sizes by that mark (ASan sees it);
 *  4. the clock's base or high-water mark at the ends of their range: every
 *     call works, with no overflow (UBSan sees it).
 *
 * Each case runs in a child process: a crash fails the test.  The test
 * reads src/format.h for the offsets of the fields it damages.
 */
#include "harness.h"
#include "api_helpers.h"
#include "alloc.h"
#include "fault.h"
#include "format.h"
#include "handle.h"
#include "host.h"
#include "map.h"
#include "shard.h"
#include "stop_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define NKEYS 200

static size_t key_of(char *k, int i)
{
    return (size_t)snprintf(k, 32, "damage-key-%d", i);
}

/* A table with NKEYS pairs (a few of them huge) at path. */
static void make_table(const char *path)
{
    shmkv *db = NULL;
    unlink(path);
    CHECK_RC(shmkv_open(path, NULL, &db), 0);
    if (!db)
        return;
    static unsigned char v[70000];
    for (int i = 0; i < NKEYS; i++) {
        char k[32];
        size_t kl = key_of(k, i), vl = i % 50 == 7 ? 60000 : 100;
        h_val_make(v, vl, k, kl, (uint64_t)i);
        CHECK_RC(shmkv_put(db, k, kl, v, vl), 0);
    }
    shmkv_close(db);
}

static void patch(const char *path, uint64_t off, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, data, len, (off_t)off) == (ssize_t)len);
    close(fd);
}

/* In a child, with a minute to live: the table at path, opened read-write
 * (the child exits if it cannot be). */
static shmkv *open_child(const char *path)
{
    alarm(60);
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(path, NULL, &db), 0);
    if (!db)
        h_child_exit();
    return db;
}

static int count_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    (*(long *)ctx)++;
    return 0;
}

/* ---- 1. a damaged lock ------------------------------------------------------ */

/* Every field of the lock set to garbage: its word names a thread that
 * cannot exist.  The lock is the table's own (format 3), so nothing trusts
 * those bytes: the next locker finds the holder gone, takes the lock over
 * and repairs; every operation works and the table checks sound. */
static void damaged_lock(int which, bool no_time)
{
    char path[PATH_MAX];
    h_path(path, sizeof path, which ? "damaged-shard-lock" : "damaged-alloc-lock");
    make_table(path);
    struct hdr h;
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    close(fd);
    unsigned char garbage[sizeof(struct lock)];
    memset(garbage, 0xa5, sizeof garbage);
    uint32_t word = 0x7fffffffu; /* tid 0x3fffffff: above any pid_max */
    memcpy(garbage, &word, 4);
    if (which == 0) {
        patch(path, offsetof(struct hdr, alloc_lock), garbage, sizeof garbage);
    } else {
        for (uint64_t i = 0; i < (1ull << h.shard_bits); i++)
            patch(path, h.shards_off + i * sizeof(struct shard) + offsetof(struct shard, lock), garbage,
                  sizeof garbage);
    }
    const char *what = which ? "damaged shard locks" : "a damaged allocator lock";
    pid_t pid = h_fork();
    if (pid == 0) {
        /* a wait of 1 ns: over before any look at the holder, as for a
         * waiter descheduled for its whole second (found by fuzz_open,
         * whose waits are a millisecond, under load) */
        if (no_time)
            shmkv__hurry(1000000000);
        shmkv *db = open_child(path);
        char k[32];
        size_t kl = key_of(k, 3), vl = 0;
        unsigned char buf[200];
        CHECK_RC(shmkv_get(db, k, kl, buf, sizeof buf, &vl), 0);
        /* writes take the shard lock; a huge value the allocator's too */
        static unsigned char big[100000];
        double t0 = h_now();
        CHECKF(shmkv_put(db, "fresh", 5, big, which ? 10 : sizeof big) == 0, "%s: put failed", what);
        CHECK_RC(shmkv_del(db, k, kl), 0);
        long n = 0;
        CHECK_RC(shmkv_foreach(db, count_visit, &n), 0);
        CHECK_EQ_INT(n, NKEYS);
        /* taken over at once (a slice of a millisecond or so), not a wait
         * of LOCK_WAIT_NS per call; generous for loaded machines */
        CHECKF(h_now() - t0 < 2.0, "%s: recovering took %.3f s", what, h_now() - t0);
        shmkv_stats st;
        CHECK_RC(shmkv_stat(db, &st), 0);
        CHECKF(st.lock_recoveries >= 1, "%s: no recovery counted", what);
        CHECK_RC(shmkv_check(db, stderr), 0);
        shmkv_close(db);
        h_child_exit();
    }
    h_wait(pid, what);
    unlink(path);
}

/* Every lock of the table at path set to name this thread, with this
 * thread's identity except for one field: the boot (a disk table after a
 * power cut; ids repeat from boot to boot), the start time (an image taken
 * while a thread, since gone, with this id held it), or none (then the
 * lock is this thread's own). */
enum own { OWN_OTHER_BOOT, OWN_OTHER_START, OWN_ALL };
static void own_locks(const char *path, enum own which)
{
    const struct host_me *me = shmkv__host_me();
    struct lock l = {
        .word = me->tid,
        .boot = (uint32_t)me->boot ^ (which == OWN_OTHER_BOOT),
        .owner = (uint64_t)me->ns << 32 | me->tid,
        .start = me->start + (which == OWN_OTHER_START),
    };
    struct hdr h;
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    close(fd);
    patch(path, offsetof(struct hdr, alloc_lock), &l, offsetof(struct lock, gen));
    for (uint64_t i = 0; i < (1ull << h.shard_bits); i++)
        patch(path, h.shards_off + i * sizeof(struct shard) + offsetof(struct shard, lock), &l,
              offsetof(struct lock, gen));
}

/* Found by fuzz_open (fuzz/regressions/fuzz_open/lock-self-other-boot):
 * such a lock gave -EDEADLK for ever to the thread with that id. */
static void own_tid(void)
{
    static const char *const what[] = { "another boot's", "an earlier thread's", "this thread's own" };
    char path[PATH_MAX];
    h_path(path, sizeof path, "own-tid-lock");
    for (int which = OWN_OTHER_BOOT; which <= OWN_ALL; which++) {
        make_table(path);
        pid_t pid = h_fork();
        if (pid == 0) {
            own_locks(path, (enum own)which);
            shmkv *db = open_child(path);
            /* a huge value takes the allocator's lock too */
            static unsigned char big[100000];
            int want = which == OWN_ALL ? -EDEADLK : 0;
            CHECKF(shmkv_put(db, "fresh", 5, big, 10) == want, "%s lock: put", what[which]);
            CHECKF(shmkv_put(db, "huge", 4, big, sizeof big) == want, "%s lock: huge put", what[which]);
            if (want == 0)
                CHECK_RC(shmkv_check(db, stderr), 0);
            shmkv_close(db);
            h_child_exit();
        }
        h_wait(pid, what[which]);
    }
    unlink(path);
}

/* ---- 2. a record claiming a 4 GiB value ------------------------------------ */

static void damaged_length(void)
{
    char path[PATH_MAX];
    h_path(path, sizeof path, "damaged-length");
    make_table(path);
    /* find the record of key 42 by its key bytes: struct rec sits before */
    size_t len = 0;
    unsigned char *f = h_read_file(path, &len);
    char k[32];
    size_t kl = key_of(k, 42);
    unsigned char *hit = f ? memmem(f, len, k, kl) : NULL;
    /* the key bytes also appear nowhere else (values are hashes) */
    CHECK(hit != NULL && hit - f >= (ptrdiff_t)sizeof(struct rec));
    if (!hit) {
        free(f);
        return;
    }
    uint64_t rec_off = (uint64_t)(hit - f) - sizeof(struct rec);
    struct rec r;
    memcpy(&r, f + rec_off, sizeof r);
    CHECK_EQ_INT(r.klen, kl);
    free(f);
    uint32_t huge = 0xffffffffu;
    patch(path, rec_off + offsetof(struct rec, vlen), &huge, 4);

    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        if (!H_ASAN) {
            /* address space for what this process has, the table's
             * reservation, and 1 GiB: not for a 4 GiB value */
            unsigned long pages = 0;
            FILE *st = fopen("/proc/self/statm", "r");
            if (!st || fscanf(st, "%lu", &pages) != 1)
                pages = 0;
            if (st)
                fclose(st);
            shmkv *probe = NULL;
            shmkv_stats s = { 0 };
            if (shmkv_open(path, NULL, &probe) == 0) {
                shmkv_stat(probe, &s);
                shmkv_close(probe);
            }
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = (rlim_t)pages * 4096 + s.max_bytes + (1ull << 30);
            CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
        }
        unsigned flags[] = { 0, SHMKV_RDONLY };
        for (int fi = 0; fi < 2; fi++) {
            shmkv_options o = { .flags = flags[fi] };
            shmkv *db = NULL;
            CHECK_RC(shmkv_open(path, &o, &db), 0);
            if (!db)
                continue;
            const char *h = fi ? "read-only" : "read-write";
            unsigned char buf[200];
            size_t vl = 0;
            int rc = shmkv_get(db, k, kl, buf, sizeof buf, &vl);
            CHECKF(rc == -EBADMSG, "%s: get (200-byte buffer) of a record claiming 4 GiB "
                   "returned %s with length %zu, expected -EBADMSG", h, h_errname(rc), vl);
            void *p = NULL;
            rc = shmkv_get_alloc(db, k, kl, &p, &vl);
            CHECKF(rc == -EBADMSG, "%s: get_alloc of a record claiming 4 GiB returned %s, "
                   "expected -EBADMSG", h, h_errname(rc));
            free(p);
            long n = 0;
            rc = shmkv_foreach(db, count_visit, &n);
            CHECKF(rc == -EBADMSG, "%s: foreach over a record claiming 4 GiB returned %s, "
                   "expected -EBADMSG", h, h_errname(rc));
            /* the other keys are fine */
            char k2[32];
            size_t kl2 = key_of(k2, 41);
            CHECK_RC(shmkv_get(db, k2, kl2, buf, sizeof buf, &vl), 0);
            shmkv_close(db);
        }
        h_child_exit();
    }
    h_wait(pid, "a record claiming 4 GiB");
    unlink(path);
}

/* ---- 2b. a chained value's head made to look like a plain record ------------- */

/* The head of a value chained over several runs, its REC_CHAIN bit
 * cleared (or its distance to its run zeroed): a plain record whose value
 * runs megabytes past its run.  Writers took the record's value from its
 * header and shmkv_expire copied past the end of the file (bug 35, found
 * by test_hostile): every call on the key must say -EBADMSG. */
static void damaged_chain_head(int how)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        char name[64];
        int nmid;
        shmkv *db = open_fragmented(name, sizeof name, "damaged-head", &nmid);
        size_t n = 5 * FRAG_HOLE + 999;
        unsigned char *v = malloc(n);
        h_val_make(v, n, "big", 3, 1);
        CHECK_RC(shmkv_put(db, "big", 3, v, n), 0);
        uint64_t off = key_record(db, "big", 3);
        struct rec *r = at(db, off);
        CHECK(off && (r->dist & REC_CHAIN));
        if (how)
            r->dist &= (uint16_t)~REC_DIST;
        else
            r->dist &= (uint16_t)~REC_CHAIN;
        size_t vl;
        void *p = NULL;
        shmkv_put_opts keep = {.flags = SHMKV_KEEP_TTL};
        /* a reader needs no distance to follow a chain: the value, or -EBADMSG */
        int rc = shmkv_get(db, "big", 3, v, n, &vl);
        CHECKF(how ? rc == -EBADMSG || (rc == 0 && vl == n && h_val_check(v, n, "big", 3, NULL)) : rc == -EBADMSG,
               "get: %s", h_errname(rc));
        rc = shmkv_get_alloc(db, "big", 3, &p, &vl);
        CHECKF(how ? rc == -EBADMSG || (rc == 0 && vl == n) : rc == -EBADMSG, "get_alloc: %s", h_errname(rc));
        free(p);
        p = NULL;
        CHECK_RC(shmkv_expire(db, "big", 3, 60000), -EBADMSG);
        CHECK_RC(shmkv_append(db, "big", 3, "x", 1), -EBADMSG);
        CHECK_RC(shmkv_incr(db, "big", 3, 1, 0, NULL), -EBADMSG);
        CHECK_RC(shmkv_take(db, "big", 3, &p, &vl), -EBADMSG);
        CHECK_RC(shmkv_put_ex(db, "big", 3, "y", 1, &keep), -EBADMSG);
        CHECK_RC(shmkv_del(db, "big", 3), -EBADMSG);
        CHECK_RC(shmkv_check(db, NULL), -EBADMSG);
        rc = shmkv_repair(db, NULL);
        CHECKF(rc == 0 || rc == -EBADMSG, "repair: %s", h_errname(rc));
        CHECK_RC(shmkv_put(db, "after", 5, "ok", 2), 0);
        CHECK_VAL(db, "after", 5, "ok", 2);
        free(v);
        shmkv_close(db);
        shmkv_unlink(name);
        h_child_exit();
    }
    h_wait(pid, how ? "a chain's head with no distance to its run" : "a chain's head without REC_CHAIN");
}

static void damaged_chain_heads(void)
{
    damaged_chain_head(0);
    damaged_chain_head(1);
}

/* A pair's record whose type damage turned into a list's element
 * (REC_ELEM), a slot still pointing at it (bug 32, fuzz_open's
 * check-slot-to-list-element, whose overlay no longer reaches a record
 * since format 5 keeps small elements in their rings): the checker must
 * report it, repair must not call the table sound, and no compaction may
 * then put another record's bytes under the slot.  An out-of-line element (a huge one) lives in the same
 * table, and must come through whole. */
static void damaged_elem_type(void)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        char name[64];
        h_name(name, sizeof name, "damaged-elem");
        shmkv_options o = {.flags = SHMKV_CREATE};
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(name, &o, &db), 0);
        size_t n = 400000;
        unsigned char *v = malloc(n), *b = malloc(n);
        h_val_make(v, n, "q", 1, 7);
        CHECK_RC(shmkv_push(db, "q", 1, v, n, SHMKV_TAIL), 0);
        CHECK_RC(shmkv_put_ex(db, "p", 1, "pair", 4, &(shmkv_put_opts){.ttl_ms = 600000}), 0);
        uint64_t off = key_record(db, "p", 1);
        struct rec *r = at(db, off);
        CHECK(off && (r->dist & REC_EXT));
        uint64_t ext = ext_make(REC_ELEM, 0);
        memcpy(r + 1, &ext, sizeof ext);
        CHECK_RC(shmkv_check(db, NULL), -EBADMSG);
        CHECK_RC(shmkv_repair(db, NULL), -EBADMSG); /* repair must not call it sound */
        char k[32], pv[8];
        for (int i = 0; i < 20000; i++) { /* writes and overwrites: compaction runs */
            size_t kl = key_of(k, i % 500);
            CHECK_RC(shmkv_put(db, k, kl, v, 100 + (size_t)i % 50), 0);
        }
        size_t vl = 0;
        int rc = shmkv_get(db, "p", 1, pv, sizeof pv, &vl); /* no pair, or its own bytes: never another record's */
        CHECKF(rc == -EBADMSG || rc == -ENOENT || (rc == 0 && vl == 4 && memcmp(pv, "pair", 4) == 0), "get: %s, %zu bytes", h_errname(rc), vl);
        CHECK_RC(shmkv_check(db, NULL), -EBADMSG);
        CHECK_RC(shmkv_pop(db, "q", 1, SHMKV_HEAD, b, n, &vl, 0), 0);
        CHECK(vl == n && memcmp(b, v, n) == 0);
        free(v);
        free(b);
        shmkv_close(db);
        shmkv_unlink(name);
        h_child_exit();
    }
    h_wait(pid, "a slot pointing at a record typed as a list's element");
}

/* ---- 3. the allocator's top lowered ------------------------------------------ */

static void lowered_top(void)
{
    char path[PATH_MAX];
    h_path(path, sizeof path, "lowered-top");
    make_table(path);
    struct hdr h;
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    close(fd);
    uint64_t top = atomic_load(&h.top);
    uint64_t low = h.data_off + ((top - h.data_off) / 4 & ~(UNIT - 1));
    CHECK(low > h.data_off && low < top);
    patch(path, offsetof(struct hdr, top), &low, 8);
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        unsigned flags[] = { SHMKV_RDONLY, 0 };
        for (int fi = 0; fi < 2; fi++) {
            shmkv_options o = { .flags = flags[fi] };
            shmkv *db = NULL;
            int rc = shmkv_open(path, &o, &db);
            CHECKF(rc == 0 || rc == -EBADMSG, "open: %s", h_errname(rc));
            if (!db)
                continue;
            rc = shmkv_check(db, NULL);
            CHECKF(rc == -EBADMSG, "%s: check of a table whose top mark was lowered below "
                   "live records returned %s, expected -EBADMSG",
                   fi ? "read-write" : "read-only", h_errname(rc));
            shmkv_close(db);
        }
        h_child_exit();
    }
    h_wait(pid, "a lowered top mark");
    unlink(path);
}

/* Runs that nothing references (a cut run list, a run allocated and
 * dropped) are reported as leaked by the checker. */
static int leaked_lines(shmkv *db)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = shmkv_check(db, f);
    fclose(f);
    int n = 0;
    for (char *p = buf; p && (p = strstr(p, "(leaked)")); p++)
        n++;
    if (rc == 0 && n)
        n = -1;
    free(buf);
    return n;
}

static void leaked_runs(void)
{
    char name[64];
    h_name(name, sizeof name, "leak");
    shmkv *db;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    char k[32], v[2000];
    memset(v, 'x', sizeof v);
    for (int i = 0; i < 3000; i++)
        CHECK_RC(shmkv_put(db, k, (size_t)snprintf(k, sizeof k, "k%d", i), v, 500), 0);
    CHECK_EQ_INT(leaked_lines(db), 0);
    uint64_t off;
    CHECK_RC(shmkv__run_alloc(db, 3, RUN_HUGE, 1 % (1u << db->shard_bits), false, &off), 0); /* dropped on the floor */
    CHECK_EQ_INT(leaked_lines(db), 1);
    struct shard *owner = &db->shards[1 % (1u << db->shard_bits)];
    CHECK_RC(shmkv__shard_lock(db, owner), 0);
    shmkv__run_free(db, owner, off);
    shmkv__shard_unlock(owner);
    CHECK_EQ_INT(leaked_lines(db), 0);
    /* cut a shard's run list after its first run */
    struct shard *s = NULL;
    for (uint64_t i = 0; i < (1ull << db->shard_bits) && !s; i++)
        if (db->shards[i].runs && run_at(db, db->shards[i].runs)->next)
            s = &db->shards[i];
    CHECK(s != NULL);
    if (s) {
        uint64_t first = s->runs, rest = run_at(db, first)->next;
        run_at(db, first)->next = 0;
        CHECK(leaked_lines(db) >= 1);
        run_at(db, first)->next = rest;
        CHECK_EQ_INT(leaked_lines(db), 0);
    }
    shmkv_close(db);
    shmkv_unlink(name);
}

static void damaged_alloc_lock(void)
{
    damaged_lock(0, false);
}

static void damaged_shard_locks(void)
{
    damaged_lock(1, false);
}

static void damaged_locks_no_time(void)
{
    damaged_lock(0, true);
    damaged_lock(1, true);
}

/* ---- 4. the clock's fields at the ends of their range ----------------------- */

/* Found by fuzz_open (fuzz/regressions/fuzz_open/clock-other-boot-hw-max):
 * table time was boot time plus the file's base, a signed overflow. */
static void damaged_clock(void)
{
    char path[PATH_MAX];
    h_path(path, sizeof path, "damaged-clock");
    static const int64_t ends[] = { INT64_MAX, INT64_MIN, INT64_MAX - 5 };
    for (int i = 0; i < 6; i++) {
        make_table(path);
        /* the same boot: the base is used as it is; another: the base is
         * made again from the high-water mark */
        uint64_t boot = i < 3 ? 0 : 0x1234;
        patch(path, offsetof(struct hdr, boot_id), &boot, 8);
        patch(path, i < 3 ? offsetof(struct hdr, clock_base) : offsetof(struct hdr, clock_hw), &ends[i % 3], 8);
        pid_t pid = h_fork();
        if (pid == 0) {
            shmkv *db = open_child(path);
            uint64_t left = 0;
            size_t vl = 0;
            CHECK_RC(shmkv_put_ttl(db, "ttl", 3, "v", 1, 60000), 0);
            CHECK_RC(shmkv_get(db, "ttl", 3, NULL, 0, &vl), -ENOBUFS);
            CHECK_RC(shmkv_ttl(db, "ttl", 3, &left), 0);
            CHECK_RC(shmkv_expire(db, "ttl", 3, 0), 0);
            CHECK_RC(shmkv_check(db, stderr), 0);
            shmkv_close(db);
            h_child_exit();
        }
        h_wait(pid, i < 3 ? "a damaged clock base" : "a damaged high-water mark");
    }
    unlink(path);
}

static const struct h_part parts[] = {
    { "leaked_runs", leaked_runs },
    { "alloc_lock", damaged_alloc_lock },
    { "shard_locks", damaged_shard_locks },
    { "locks_no_time", damaged_locks_no_time },
    { "own_tid", own_tid },
    { "length", damaged_length },
    { "chain_head", damaged_chain_heads },
    { "elem_type", damaged_elem_type },
    { "lowered_top", lowered_top },
    { "clock", damaged_clock },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_damage", parts, H_NPARTS(parts));
}
