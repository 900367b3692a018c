/*
 * test_patch.c - increments that rewrite a counter's digits in place
 * (src/patch.c), and what every reader sees meanwhile.
 *
 *  - in_place: an increment that keeps the text's length leaves no
 *    garbage (the record stays where it was) and keeps the expiry; one
 *    that changes it (9 -> 10, -10 -> -9) writes a new record; in a store
 *    and in a cache; every way of reading gives the new value.
 *  - readers_race: 2 processes increment 16 counters (some crossing a
 *    power of ten, most not) while 2 processes (one read-only) read them
 *    every way there is: get, get_alloc, get_many, a read-only scan.
 *    Every value read is decimal text, never less than the last one read
 *    of that key; the final counts are exact.
 *  - stopped, killed: a writer stopped with half of "2000" written over
 *    "1999" (the record holds "2099": the test looks): every read, from a
 *    writable or read-only handle, returns "2000" at once (a read-only
 *    check says -EAGAIN: a lock is held).  A copy of the file taken then reads
 *    "2000" and repairs to it.  Continued, the writer finishes; killed,
 *    the next writer in the shard writes the journal again.
 *  - damaged: patch fields no writer could have left (text that is not
 *    decimal, a length that is not the record's, a word naming no
 *    record): the checker reports each, reads give the journal's bytes or
 *    -EBADMSG and nothing worse, repair drops the journal and keeps the
 *    pair; a sound rewrite in flight under a lock nobody holds is
 *    reported too, and the next writer in the shard finishes it.
 *
 * The test reads the library's internals (src/) to look at the record's
 * bytes and the shard's patch fields.
 */
#include "harness.h"
#include "api_helpers.h"
#include "format.h"
#include "handle.h"
#include "index.h"
#include "map.h"
#include "stop_helpers.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The bytes of the value of key's record, as they lie in the file. */
static const char *raw_value(shmkv *db, const char *k, size_t *vlen)
{
    uint64_t off = key_record(db, k, strlen(k));
    CHECKF(off, "no record for %s", k);
    if (!off)
        return "";
    const struct rec *r = at(db, off);
    *vlen = r->vlen;
    return (const char *)rec_key(r) + r->klen;
}

static struct shard *shard_of_key(shmkv *db, const char *k) { return &db->shards[key_shard(db, k, strlen(k))]; }

/* Every way a reader has, on db: the value of k is want. */
static void reads_give(shmkv *db, const char *k, const char *want, const char *when)
{
    size_t kl = strlen(k), wl = strlen(want), vl = 0;
    char buf[64];
    int rc = shmkv_get(db, k, kl, buf, sizeof buf, &vl);
    CHECKF(rc == 0 && vl == wl && !memcmp(buf, want, wl), "%s: get %s: %s, %.*s", when, k, h_errname(rc), (int)vl,
           buf);
    void *v = NULL;
    rc = shmkv_get_alloc(db, k, kl, &v, &vl);
    CHECKF(rc == 0 && vl == wl && !memcmp(v, want, wl), "%s: get_alloc %s: %s", when, k, h_errname(rc));
    free(v);
    shmkv_item it = {.key = k, .klen = kl, .buf = buf, .cap = sizeof buf};
    CHECK_RC(shmkv_get_many(db, &it, 1), 1);
    CHECKF(it.rc == 0 && it.vlen == wl && !memcmp(buf, want, wl), "%s: get_many %s: %s", when, k, h_errname(it.rc));
}

/* ---- in_place ---- */

static void in_place(unsigned flags)
{
    char name[64];
    shmkv *db = open_with(name, sizeof name, "in-place", flags, 8u << 20);
    if (!db)
        return;
    int64_t res;
    CHECK_RC(shmkv_put(db, "c", 1, "1000", 4), 0);
    shmkv_put_opts o = {.ttl_ms = 60000};
    CHECK_RC(shmkv_put_ex(db, "t", 1, "-15", 3, &o), 0);
    shmkv_stats s0 = stats_of(db);
    uint64_t at0 = key_record(db, "c", 1);
    if (flags & SHMKV_CACHE) {
        /* in a cache an increment in place counts as a use of the key (its
         * record stays in its old run): eviction gives it a second chance */
        unsigned si;
        int b = key_place(db, "c", 1, &si);
        CHECK(b == 0);
        struct bucket *bk = b == 0 ? shmkv__bucket_at(db, shard_of_key(db, "c"), key_bucket(db, "c", 1)) : NULL;
        uint64_t v0 = bk ? atomic_load(&bk->slot[si]) : 0;
        CHECK_RC(shmkv_incr(db, "c", 1, 0, 0, NULL), 0);
        CHECK(bk && slot_reads(atomic_load(&bk->slot[si])) == slot_reads(v0) + 1);
        CHECK_RC(shmkv_incr(db, "c", 1, 1, 0, NULL), 0);
        CHECK_RC(shmkv_incr(db, "c", 1, -1, 0, NULL), 0);
        CHECK_EQ_U64(key_record(db, "c", 1), at0);
        CHECK(bk && slot_reads(atomic_load(&bk->slot[si])) >= slot_reads(v0) + 1);
        s0 = stats_of(db);
    }
    for (int i = 0; i < 1999; i++)
        CHECK_RC(shmkv_incr(db, "c", 1, 1, 0, NULL), 0);
    CHECK_RC(shmkv_incr(db, "t", 1, 1, 0, &res), 0);
    CHECK_EQ_INT(res, -14);
    shmkv_stats s1 = stats_of(db);
    CHECK_EQ_U64(key_record(db, "c", 1), at0);         /* the record stayed */
    CHECK_EQ_U64(s1.garbage_bytes, s0.garbage_bytes);  /* and none was left behind */
    CHECK_EQ_U64(s1.log_bytes, s0.log_bytes);
    CHECK_EQ_U64(s1.puts, s0.puts + 2000);
    reads_give(db, "c", "2999", "after 1999 increments in place");
    CHECK_TTL(db, "t", 1, 60000, 5000);                /* kept */
    /* a new length: a new record */
    CHECK_RC(shmkv_incr(db, "c", 1, 7001, 0, &res), 0);
    CHECK_EQ_INT(res, 10000);
    CHECK(key_record(db, "c", 1) != at0);
    CHECK(stats_of(db).garbage_bytes > s1.garbage_bytes);
    reads_give(db, "c", "10000", "after a longer value");
    CHECK_RC(shmkv_incr(db, "t", 1, 5, 0, &res), 0);   /* -14 -> -9: shorter */
    reads_give(db, "t", "-9", "after a shorter value");
    CHECK_TTL(db, "t", 1, 60000, 5000);
    /* not a number: nothing changes, in place or not */
    CHECK_RC(shmkv_put(db, "x", 1, "12a4", 4), 0);
    CHECK_RC(shmkv_incr(db, "x", 1, 1, 0, NULL), -EDOM);
    reads_give(db, "x", "12a4", "after -EDOM");
    /* a read-only handle and a scan see the digits written in place */
    shmkv *ro = open_ro(name);
    if (ro) {
        CHECK_RC(shmkv_incr(db, "c", 1, 1, 0, NULL), 0);
        reads_give(ro, "c", "10001", "read-only");
        shmkv_close(ro);
    }
    FINISH_TABLE(db, name, "after increments in place");
}

static void part_in_place_store(void) { in_place(0); }
static void part_in_place_cache(void) { in_place(SHMKV_CACHE); }

/* ---- readers_race ---- */

#define NKEYS 16
#define RACE_S (H_ASAN ? 1.5 : 3.0)

struct race {
    _Atomic int stop;
    _Atomic long done[2][NKEYS]; /* increments acknowledged, per writer and key */
    _Atomic long reads, bad;
};
static struct race *R;

static size_t race_key(char *k, int i) { return (size_t)snprintf(k, 16, "ctr-%d", i); }
/* a quarter start at 0 and cross powers of ten; the rest keep 7 digits */
static int64_t race_start(int i) { return i % 4 == 0 ? 0 : 1000000 * i; }

static void race_writer(shmkv *db, int w)
{
    h_rng r = h_rng_new(77 + (uint64_t)w);
    while (!atomic_load(&R->stop)) {
        int i = (int)h_below(&r, NKEYS);
        char k[16];
        size_t kl = race_key(k, i);
        int rc = shmkv_incr(db, k, kl, 1, 0, NULL);
        CHECKF(rc == 0, "incr %s: %s", k, h_errname(rc));
        if (rc)
            return;
        atomic_fetch_add(&R->done[w][i], 1);
    }
}

/* One value read: decimal, and no less than the last one seen of key i. */
static void seen(int64_t *last, int i, const void *v, size_t vl, const char *how)
{
    char t[32];
    int64_t x = 0;
    bool ok = vl > 0 && vl < sizeof t;
    if (ok) {
        memcpy(t, v, vl);
        t[vl] = 0;
        char *end;
        x = strtoll(t, &end, 10);
        ok = *end == 0;
    }
    atomic_fetch_add(&R->reads, 1);
    if (!ok || x < last[i]) {
        if (atomic_fetch_add(&R->bad, 1) < 5)
            CHECKF(0, "%s of ctr-%d gave \"%.*s\" after %" PRId64, how, i, (int)vl, (const char *)v, last[i]);
        return;
    }
    last[i] = x;
}

struct scan_ctx {
    int64_t *last;
};

static int scan_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct scan_ctx *c = ctx;
    int i;
    char k[16];
    if (klen < sizeof k) {
        memcpy(k, key, klen);
        k[klen] = 0;
        if (sscanf(k, "ctr-%d", &i) == 1 && i >= 0 && i < NKEYS)
            seen(c->last, i, val, vlen, "a read-only scan");
    }
    return 0;
}

static void race_reader(shmkv *db, int who)
{
    h_rng r = h_rng_new(99 + (uint64_t)who);
    int64_t last[NKEYS];
    for (int i = 0; i < NKEYS; i++)
        last[i] = race_start(i);
    char buf[4][32], keys[4][16];
    for (long n = 0; !atomic_load(&R->stop); n++) {
        int i = (int)h_below(&r, NKEYS);
        size_t kl = race_key(keys[0], i), vl = 0;
        switch (n % 4) {
        case 0: {
            int rc = shmkv_get(db, keys[0], kl, buf[0], sizeof buf[0], &vl);
            CHECK_RC(rc, 0);
            seen(last, i, buf[0], vl, "get");
            break;
        }
        case 1: {
            void *v = NULL;
            CHECK_RC(shmkv_get_alloc(db, keys[0], kl, &v, &vl), 0);
            seen(last, i, v, vl, "get_alloc");
            free(v);
            break;
        }
        case 2: {
            shmkv_item it[4];
            int idx[4];
            for (int j = 0; j < 4; j++) {
                idx[j] = (i + j) % NKEYS;
                it[j] = (shmkv_item){.key = keys[j], .klen = race_key(keys[j], idx[j]), .buf = buf[j],
                                     .cap = sizeof buf[j]};
            }
            CHECK_RC(shmkv_get_many(db, it, 4), 4);
            for (int j = 0; j < 4; j++)
                seen(last, idx[j], buf[j], it[j].vlen, "get_many");
            break;
        }
        default:
            if (db->rdonly && n % 256 == 3) {
                uint64_t cur = 0;
                struct scan_ctx c = {last};
                do
                    CHECK_RC(shmkv_scan(db, &cur, scan_visit, &c), 0);
                while (cur);
            }
        }
    }
}

static void part_readers_race(void)
{
    char name[64];
    shmkv *db = open_with(name, sizeof name, "patch-race", 0, 16u << 20);
    if (!db)
        return;
    R = h_shm_alloc(sizeof *R);
    for (int i = 0; i < NKEYS; i++) {
        char k[16], v[32];
        size_t kl = race_key(k, i);
        CHECK_RC(shmkv_put(db, k, kl, v, (size_t)snprintf(v, sizeof v, "%" PRId64, race_start(i))), 0);
    }
    pid_t pid[4];
    for (int p = 0; p < 4; p++) {
        if ((pid[p] = h_fork()) != 0)
            continue;
        shmkv *h = p == 3 ? open_ro(name) : child_open(name);
        if (h) {
            if (p < 2)
                race_writer(h, p);
            else
                race_reader(h, p);
            shmkv_close(h);
        }
        h_child_exit();
    }
    h_sleep(RACE_S);
    atomic_store(&R->stop, 1);
    for (int p = 0; p < 4; p++)
        h_wait(pid[p], p < 2 ? "a writer" : "a reader");
    long total = 0;
    for (int i = 0; i < NKEYS; i++) {
        char k[16], want[32];
        long n = atomic_load(&R->done[0][i]) + atomic_load(&R->done[1][i]);
        total += n;
        snprintf(want, sizeof want, "%" PRId64, race_start(i) + n);
        race_key(k, i);
        CHECK_VAL(db, k, strlen(k), want, strlen(want));
    }
    h_note("%ld increments, %ld values read while they ran, %ld wrong", total, atomic_load(&R->reads),
           atomic_load(&R->bad));
    CHECK(total > 1000 && atomic_load(&R->reads) > 1000);
    CHECK_EQ_INT(atomic_load(&R->bad), 0);
    h_shm_free(R, sizeof *R);
    FINISH_TABLE(db, name, "after the race");
}

/* ---- stopped and killed mid-rewrite ---- */

static void incr_one(shmkv *db, void *arg)
{
    const char *k = arg;
    int64_t res = 0;
    CHECK_RC(shmkv_incr(db, k, strlen(k), 1, 0, &res), 0);
    CHECK_EQ_INT(res, 2000);
}

static int scan_find(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    char *got = ctx;
    if (klen == 5 && !memcmp(key, "count", 5) && vlen < 16) {
        memcpy(got, val, vlen);
        got[vlen] = 0;
    }
    return 0;
}

static void mid_rewrite(bool kill_it)
{
    char name[64], copy[64], path[256], cpath[256];
    shmkv *db = open_with(name, sizeof name, kill_it ? "patch-killed" : "patch-stopped", 0, 1u << 20);
    shmkv *ro = db ? open_ro(name) : NULL;
    if (!ro)
        return;
    CHECK_RC(shmkv_put(db, "count", 5, "1999", 4), 0);
    pid_t pid = fork_paused(name, PAUSE_PATCHING, 0, incr_one, "count");
    if (pid < 0)
        return;
    size_t vl = 0;
    const char *raw = raw_value(db, "count", &vl);
    CHECKF(vl == 4 && !memcmp(raw, "2099", 4), "the record holds %.*s, not the half-written 2099", (int)vl, raw);
    CHECK(patch_rec(atomic_load(&shard_of_key(db, "count")->patch)) == key_record(db, "count", 5));
    double t0 = h_now();
    reads_give(db, "count", "2000", "writer stopped mid-rewrite, writable handle");
    reads_give(ro, "count", "2000", "writer stopped mid-rewrite, read-only handle");
    char got[16] = "";
    uint64_t cur = 0;
    do
        CHECK_RC(shmkv_scan(ro, &cur, scan_find, got), 0);
    while (cur);
    CHECKF(!strcmp(got, "2000"), "a read-only scan gave \"%s\"", got);
    CHECKF(h_now() - t0 < 0.5, "the reads took %.3f s", h_now() - t0);
    /* a read-only check cannot look while a writer holds a lock, and says so */
    CHECK_RC(shmkv_check(ro, NULL), -EAGAIN);
    /* a copy of the file now, as a backup or a disk image would take it */
    h_name(copy, sizeof copy, "patch-copy");
    h_path(path, sizeof path, name);
    h_path(cpath, sizeof cpath, copy);
    size_t len = 0;
    void *img = h_read_file(path, &len);
    CHECK(img && h_write_file(cpath, img, len) == 0);
    free(img);

    if (kill_it) {
        kill_child(pid);
        reads_give(ro, "count", "2000", "writer killed mid-rewrite");
        char k[32];
        long next = 0;
        size_t kl = key_find(db, k, sizeof k, "same-shard-", &next, key_shard(db, "count", 5), -1);
        CHECK_RC(shmkv_put(db, k, kl, "x", 1), 0); /* takes the dead writer's lock: repairs */
    } else {
        cont_child(pid, "the writer stopped mid-rewrite");
    }
    raw = raw_value(db, "count", &vl);
    CHECKF(vl == 4 && !memcmp(raw, "2000", 4), "the record holds %.*s after the writer %s", (int)vl, raw,
           kill_it ? "was killed" : "went on");
    CHECK_EQ_U64(patch_rec(atomic_load(&shard_of_key(db, "count")->patch)), 0);
    CHECK_RC(shmkv_incr(db, "count", 5, 1, 0, NULL), 0);
    reads_give(ro, "count", "2001", "the next increment");
    shmkv_close(ro);
    FINISH_TABLE(db, name, kill_it ? "after a writer killed mid-rewrite" : "after a writer stopped mid-rewrite");

    /* the copy: reads take the journal, repair writes it */
    shmkv *cp = NULL;
    CHECK_RC(shmkv_open(copy, NULL, &cp), 0);
    if (!cp)
        return;
    reads_give(cp, "count", "2000", "a copy taken mid-rewrite");
    CHECK_RC(shmkv_repair(cp, NULL), 0);
    raw = raw_value(cp, "count", &vl);
    CHECKF(vl == 4 && !memcmp(raw, "2000", 4), "the repaired copy holds %.*s", (int)vl, raw);
    FINISH_TABLE(cp, copy, "the copy, repaired");
}

static void part_stopped(void) { mid_rewrite(false); }
static void part_killed(void) { mid_rewrite(true); }

/* ---- damaged patch fields ---- */

enum damage { D_TEXT, D_LEN, D_NOWHERE, D_LOCK_FREE, D_KINDS };

static void damaged(enum damage d)
{
    static const char *const what[D_KINDS] = {"text that is not decimal", "a length not the record's",
                                             "a word naming no record", "a sound rewrite, its lock free"};
    char name[64];
    shmkv *db = open_with(name, sizeof name, "patch-damaged", 0, 1u << 20);
    shmkv *ro = db ? open_ro(name) : NULL;
    if (!ro)
        return;
    CHECK_RC(shmkv_put(db, "count", 5, "1999", 4), 0);
    struct shard *s = shard_of_key(db, "count");
    uint64_t off = key_record(db, "count", 5);
    memcpy(s->patch_text, d == D_TEXT ? "2x00" : "2000", 4);
    s->patch_len = d == D_LEN ? 3 : 4;
    uint64_t target = d == D_NOWHERE ? db->data_off + 8 : off; /* inside a run header */
    atomic_store(&s->patch, 5ull << PATCH_GEN_SHIFT | target >> 3);
    h_note("damage: %s", what[d]);
    CHECK_RC(shmkv_check(ro, NULL), -EBADMSG);
    char buf[16];
    size_t vl = 0;
    int rc = shmkv_get(ro, "count", 5, buf, sizeof buf, &vl);
    if (d == D_LEN)
        CHECK_RC(rc, -EBADMSG);
    else if (d == D_TEXT) /* the journal's bytes: the checker's to report */
        CHECK(rc == 0 && vl == 4 && !memcmp(buf, "2x00", 4));
    else if (d == D_LOCK_FREE)
        CHECK(rc == 0 && vl == 4 && !memcmp(buf, "2000", 4));
    else
        CHECK(rc == 0 && vl == 4 && !memcmp(buf, "1999", 4));
    if (d == D_LOCK_FREE) {
        /* the next writer in the shard finishes it, before its word could
         * name a record that takes this one's place */
        char k[32];
        long next = 0;
        size_t kl = key_find(db, k, sizeof k, "same-shard-", &next, key_shard(db, "count", 5), -1);
        CHECK_RC(shmkv_put(db, k, kl, "x", 1), 0);
        CHECK_EQ_U64(patch_rec(atomic_load(&s->patch)), 0);
        reads_give(ro, "count", "2000", "after the next writer finished the rewrite");
    } else {
        CHECK_RC(shmkv_repair(db, NULL), 0);
        CHECK_EQ_U64(patch_rec(atomic_load(&s->patch)), 0);
        reads_give(ro, "count", "1999", "after repair dropped the journal");
    }
    shmkv_close(ro);
    FINISH_TABLE(db, name, "after a damaged patch journal was repaired");
}

static void part_damaged(void)
{
    for (int d = 0; d < D_KINDS; d++)
        damaged((enum damage)d);
}

static const struct h_part parts[] = {
    {"in_place_store", part_in_place_store},
    {"in_place_cache", part_in_place_cache},
    {"readers_race", part_readers_race},
    {"stopped", part_stopped},
    {"killed", part_killed},
    {"damaged", part_damaged},
};

int main(int argc, char **argv) { return h_main(argc, argv, "test_patch", parts, H_NPARTS(parts)); }
