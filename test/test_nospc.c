/*
 * test_nospc.c - tables with a small max_bytes (1 MiB, 4 MiB):
 *  - put until -ENOSPC; a failed put/add/replace changes nothing (a new key
 *    stays absent, an existing key keeps its old value, counters unchanged)
 *    and the table stays fully usable;
 *  - a value larger than the whole table gives -ENOSPC, not a crash;
 *  - deleting half the keys makes room: puts succeed again; 50 fill/delete
 *    cycles insert far more than max_bytes in all (space is reused);
 *  - overwriting keys with same-size values again and again never runs out
 *    of space while the table is half full;
 *  - the file never grows past max_bytes.
 * Values of mixed sizes, some larger than 64 KiB.
 * And a full file system (simulated with RLIMIT_FSIZE): -ENOSPC, never
 * SIGBUS or SIGXFSZ, the table unchanged and usable.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#define MAXKEYS 20000

struct ent {
    int present;
    size_t vl;
    uint64_t seq;
};

static struct ent *E;
static int next_id;
static uint64_t next_seq = 1;
static unsigned char *VAL, *BUF;
static size_t VAL_CAP;

static size_t key_of(char *k, int id)
{
    return (size_t)snprintf(k, 32, "nospc-%d", id);
}

static size_t pick_len(h_rng *r, uint64_t max_bytes)
{
    unsigned x = (unsigned)h_below(r, 100);
    size_t len;
    if (x < 70)
        len = H_VAL_MIN + (size_t)h_below(r, 500);
    else if (x < 90)
        len = 512 + (size_t)h_below(r, 8192);
    else if (x < 98)
        len = 8192 + (size_t)h_below(r, 57344);
    else
        len = 65537 + (size_t)h_below(r, 100000); /* larger than 64 KiB */
    if (len > max_bytes / 6)
        len = (size_t)(max_bytes / 6);
    return len;
}

static void check_all(shmkv *db, const char *when)
{
    long bad = 0, present = 0;
    uint64_t live = 0;
    for (int id = 0; id < next_id; id++) {
        char k[32];
        size_t kl = key_of(k, id);
        size_t vl = 0;
        uint64_t seq = 0;
        int rc = shmkv_get(db, k, kl, BUF, VAL_CAP, &vl);
        if (E[id].present) {
            present++;
            live += kl + E[id].vl;
            if (rc != 0 || vl != E[id].vl || !h_val_check(BUF, vl, k, kl, &seq) ||
                seq != E[id].seq) {
                if (bad++ < 5)
                    CHECKF(0, "%s: key %d: get returned %s, %zu bytes (expected %zu)", when,
                           id, h_errname(rc), vl, E[id].vl);
            }
        } else if (rc != -ENOENT) {
            if (bad++ < 5)
                CHECKF(0, "%s: deleted key %d: get returned %s", when, id, h_errname(rc));
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_U64(shmkv_count(db), (uint64_t)present);
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.live_bytes, live);
}

static void check_file(shmkv *db, const char *path, uint64_t max_bytes, const char *when)
{
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    long long sz = h_file_size(path);
    CHECKF(sz >= 0 && (uint64_t)sz <= max_bytes && st.file_bytes <= max_bytes &&
               st.used_bytes <= max_bytes,
           "%s: file is %lld bytes (stat: file %llu used %llu), max_bytes %llu", when, sz,
           (unsigned long long)st.file_bytes, (unsigned long long)st.used_bytes,
           (unsigned long long)max_bytes);
}

/* A write that fails (with want: -ENOSPC, or -E2BIG for a pair larger than
 * the whole max_bytes) must change nothing. */
static void expect_fail_unchanged(shmkv *db, int id, int op, size_t vl, int want)
{
    char k[32];
    size_t kl = key_of(k, id);
    shmkv_stats before, after;
    CHECK_RC(shmkv_stat(db, &before), 0);
    h_val_make(VAL, vl, k, kl, next_seq++);
    int rc = op == 0 ? shmkv_put(db, k, kl, VAL, vl)
           : op == 1 ? shmkv_add(db, k, kl, VAL, vl)
                     : shmkv_replace(db, k, kl, VAL, vl);
    CHECKF(rc == want, "%s of %zu bytes into a full table returned %s, expected %s",
           op == 0 ? "put" : op == 1 ? "add" : "replace", vl, h_errname(rc),
           h_errname(want));
    if (rc == 0) { /* keep the bookkeeping right anyway */
        E[id].present = 1;
        E[id].vl = vl;
        E[id].seq = next_seq - 1;
    }
    CHECK_RC(shmkv_stat(db, &after), 0);
    if (rc == want)
        CHECKF(before.keys == after.keys && before.live_bytes == after.live_bytes &&
                   before.puts == after.puts,
               "a failed write changed the counters: keys %llu->%llu live %llu->%llu "
               "puts %llu->%llu",
               (unsigned long long)before.keys, (unsigned long long)after.keys,
               (unsigned long long)before.live_bytes, (unsigned long long)after.live_bytes,
               (unsigned long long)before.puts, (unsigned long long)after.puts);
    size_t gl = 0;
    uint64_t seq = 0;
    rc = shmkv_get(db, k, kl, BUF, VAL_CAP, &gl);
    if (E[id].present)
        CHECKF(rc == 0 && gl == E[id].vl && h_val_check(BUF, gl, k, kl, &seq) &&
                   seq == E[id].seq,
               "key %d lost its old value after a failed write (get: %s)", id, h_errname(rc));
    else
        CHECKF(rc == -ENOENT, "key %d appeared after a failed write (get: %s)", id,
               h_errname(rc));
}

/* Put fresh keys until 30 puts in a row fail with -ENOSPC.  Returns the
 * key+value bytes inserted. */
static uint64_t fill(shmkv *db, h_rng *r, uint64_t max_bytes, long *nputs)
{
    uint64_t bytes = 0;
    int fails = 0;
    *nputs = 0;
    while (fails < 30 && next_id < MAXKEYS) {
        int id = next_id++;
        char k[32];
        size_t kl = key_of(k, id);
        size_t vl = pick_len(r, max_bytes);
        uint64_t seq = next_seq++;
        h_val_make(VAL, vl, k, kl, seq);
        int rc = shmkv_put(db, k, kl, VAL, vl);
        if (rc == 0) {
            E[id] = (struct ent){ 1, vl, seq };
            bytes += kl + vl;
            (*nputs)++;
            fails = 0;
        } else {
            CHECKF(rc == -ENOSPC, "put returned %s", h_errname(rc));
            fails++;
            size_t gl;
            CHECK_RC(shmkv_get(db, k, kl, NULL, 0, &gl), -ENOENT);
        }
    }
    CHECKF(next_id < MAXKEYS, "the table never filled up (%d keys)", next_id);
    return bytes;
}

/* Delete about half the present keys, or fewer: none once the bytes
 * freed reach most; returns the bytes freed. */
static uint64_t delete_half(shmkv *db, h_rng *r, uint64_t most)
{
    uint64_t bytes = 0;
    for (int id = 0; id < next_id && bytes < most; id++) {
        if (!E[id].present || (h_rand(r) & 1))
            continue;
        char k[32];
        size_t kl = key_of(k, id);
        CHECK_RC(shmkv_del(db, k, kl), 0);
        E[id].present = 0;
        bytes += kl + E[id].vl;
    }
    return bytes;
}

static void run(uint64_t max_bytes)
{
    char name[128], path[PATH_MAX], when[96];
    h_name(name, sizeof name, "nospc");
    h_path(path, sizeof path, name);
    shmkv_options o = { .flags = SHMKV_CREATE, .max_bytes = max_bytes };
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    if (!db)
        return;
    memset(E, 0, sizeof *E * MAXKEYS);
    next_id = 0;
    h_rng r = h_rng_new(max_bytes);
    const unsigned mib = (unsigned)(max_bytes >> 20);

    /* fill */
    long nputs;
    uint64_t first = fill(db, &r, max_bytes, &nputs);
    uint64_t total = first;
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%u MiB: full after %ld puts, %llu bytes live (%.0f%% of max_bytes), "
           "file %llu used %llu", mib, nputs, (unsigned long long)st.live_bytes,
           100.0 * (double)st.live_bytes / (double)max_bytes,
           (unsigned long long)st.file_bytes, (unsigned long long)st.used_bytes);
    CHECKF(first > max_bytes / 4, "only %llu bytes fit in a %u MiB table",
           (unsigned long long)first, mib);
    snprintf(when, sizeof when, "%u MiB, first fill", mib);
    check_all(db, when);
    check_file(db, path, max_bytes, when);
    CHECK_TABLE(db, when);

    /* failed writes change nothing */
    int victim = -1;
    for (int id = 0; id < next_id && victim < 0; id++)
        if (E[id].present)
            victim = id;
    CHECK(victim >= 0);
    size_t huge = (size_t)max_bytes; /* can never fit: -E2BIG */
    if (VAL_CAP < huge + 1) {
        VAL_CAP = huge + 1;
        VAL = realloc(VAL, VAL_CAP);
        BUF = realloc(BUF, VAL_CAP);
    }
    int fresh = next_id++;
    expect_fail_unchanged(db, fresh, 0, huge, -E2BIG);      /* put, new key */
    expect_fail_unchanged(db, fresh, 1, huge, -E2BIG);      /* add, new key */
    /* would fit in an empty table, not in this full one */
    expect_fail_unchanged(db, fresh, 0, max_bytes / 2, -ENOSPC);
    expect_fail_unchanged(db, fresh, 1, max_bytes / 2, -ENOSPC);
    if (victim >= 0) {
        expect_fail_unchanged(db, victim, 0, huge, -E2BIG); /* put, existing key */
        expect_fail_unchanged(db, victim, 2, huge, -E2BIG); /* replace, existing key */
        expect_fail_unchanged(db, victim, 0, max_bytes / 2, -ENOSPC);
        expect_fail_unchanged(db, victim, 2, max_bytes / 2, -ENOSPC);
    }
    snprintf(when, sizeof when, "%u MiB, after failed writes", mib);
    check_all(db, when);

    /* still fully usable: delete, overwrite, add, replace all work */
    if (victim >= 0) {
        char k[32];
        size_t kl = key_of(k, victim);
        CHECK_RC(shmkv_del(db, k, kl), 0);
        E[victim].present = 0;
        h_val_make(VAL, 100, k, kl, next_seq);
        CHECK_RC(shmkv_add(db, k, kl, VAL, 100), 0);
        E[victim] = (struct ent){ 1, 100, next_seq++ };
        h_val_make(VAL, 100, k, kl, next_seq);
        CHECK_RC(shmkv_replace(db, k, kl, VAL, 100), 0);
        E[victim] = (struct ent){ 1, 100, next_seq++ };
    }

    /* fill/delete cycles */
    int cycles = 50;
    double worst_refill = 1e9;
    for (int c = 0; c < cycles; c++) {
        uint64_t freed = delete_half(db, &r, UINT64_MAX);
        snprintf(when, sizeof when, "%u MiB, cycle %d after delete", mib, c);
        check_all(db, when);
        if (next_id > MAXKEYS - 2000) {
            /* recycle ids of deleted keys: compact the id space */
            int w = 0;
            for (int id = 0; id < next_id; id++)
                if (E[id].present) {
                    char k[32], k2[32];
                    size_t kl = key_of(k, id), kl2 = key_of(k2, w);
                    if (id != w) {
                        uint64_t seq = next_seq++;
                        h_val_make(VAL, E[id].vl, k2, kl2, seq);
                        CHECK_RC(shmkv_del(db, k, kl), 0);
                        CHECK_RC(shmkv_put(db, k2, kl2, VAL, E[id].vl), 0);
                        E[w] = (struct ent){ 1, E[id].vl, seq };
                        E[id].present = 0;
                    }
                    w++;
                }
            for (int id = w; id < next_id; id++)
                E[id].present = 0;
            next_id = w;
        }
        uint64_t added = fill(db, &r, max_bytes, &nputs);
        total += added;
        double ratio = freed ? (double)added / (double)freed : 1.0;
        if (ratio < worst_refill)
            worst_refill = ratio;
        if (added * 4 < freed) {
            CHECK_RC(shmkv_stat(db, &st), 0);
            CHECKF(added * 4 >= freed, "%u MiB cycle %d: freed %llu bytes but could put back "
                   "only %llu (%ld puts); now live %llu used %llu file %llu log %llu "
                   "garbage %llu free %llu index %llu", mib, c, (unsigned long long)freed,
                   (unsigned long long)added, nputs, (unsigned long long)st.live_bytes,
                   (unsigned long long)st.used_bytes, (unsigned long long)st.file_bytes,
                   (unsigned long long)st.log_bytes, (unsigned long long)st.garbage_bytes,
                   (unsigned long long)st.free_bytes, (unsigned long long)st.index_bytes);
        }
        snprintf(when, sizeof when, "%u MiB, cycle %d after refill", mib, c);
        check_all(db, when);
        check_file(db, path, max_bytes, when);
        CHECK_TABLE(db, when);
    }
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%u MiB: %d cycles inserted %llu bytes in all (%.1f x max_bytes); worst refill "
           "%.0f%% of the freed bytes; live now %llu (%.0f%%), garbage %llu, free %llu, "
           "runs_cleaned %llu",
           mib, cycles, (unsigned long long)total, (double)total / (double)max_bytes,
           worst_refill * 100.0, (unsigned long long)st.live_bytes,
           100.0 * (double)st.live_bytes / (double)max_bytes,
           (unsigned long long)st.garbage_bytes, (unsigned long long)st.free_bytes,
           (unsigned long long)st.runs_cleaned);
    CHECKF(total >= 10 * max_bytes, "only %llu bytes inserted over %d cycles",
           (unsigned long long)total, cycles);

    /* half full: overwriting with same-size values must never fail.  Half
     * the live bytes go, give or take the last value deleted: a coin flip
     * per key with no limit once left an eighth of the table when the big
     * values went, and one pass of flips with the limit, passing over the
     * big values, left 83 % (for one table seed in 200, which places the
     * keys), where a big overwrite cannot fit: the flips go on, pass
     * after pass, until half is gone. */
    CHECK_RC(shmkv_stat(db, &st), 0);
    for (uint64_t gone = 0, want = st.live_bytes / 2, n = 0; gone < want && n < 64; n++)
        gone += delete_half(db, &r, want - gone);
    CHECK_RC(shmkv_stat(db, &st), 0);
    uint64_t half = st.live_bytes, overwritten = 0;
    CHECKF(half >= max_bytes / 8, "only %llu live bytes after deleting half", (unsigned long long)half);
    long nospc = 0;
    for (int pass = 0; pass < 30; pass++) {
        for (int id = 0; id < next_id; id++) {
            if (!E[id].present)
                continue;
            char k[32];
            size_t kl = key_of(k, id);
            uint64_t seq = next_seq++;
            h_val_make(VAL, E[id].vl, k, kl, seq);
            int rc = shmkv_put(db, k, kl, VAL, E[id].vl);
            if (rc == 0) {
                E[id].seq = seq;
                overwritten += kl + E[id].vl;
            } else if (nospc++ < 5) {
                CHECKF(0, "%u MiB pass %d: overwriting key %d (%zu bytes) in a half-full "
                       "table returned %s", mib, pass, id, E[id].vl, h_errname(rc));
            }
        }
        snprintf(when, sizeof when, "%u MiB, overwrite pass %d", mib, pass);
        check_all(db, when);
        check_file(db, path, max_bytes, when);
    }
    CHECK_EQ_INT(nospc, 0);
    /* every pass rewrote every pair: the table's space went round many
     * times (how many depends on what the random deletes left) */
    CHECKF(overwritten == 30 * half, "overwrote %llu bytes, not 30 x %llu", (unsigned long long)overwritten,
           (unsigned long long)half);

    /* and after all that, filling up works once more */
    fill(db, &r, max_bytes, &nputs);
    CHECK(nputs > 0);
    snprintf(when, sizeof when, "%u MiB, final", mib);
    check_all(db, when);
    check_file(db, path, max_bytes, when);
    CHECK_TABLE(db, when);

    /* contents survive reopen */
    shmkv_close(db);
    o.flags = 0;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    if (db) {
        snprintf(when, sizeof when, "%u MiB, reopened", mib);
        check_all(db, when);
        shmkv_close(db);
    }
    CHECK_RC(shmkv_unlink(name), 0);
}

/* The file system runs out of room (RLIMIT_FSIZE makes fallocate fail with
 * EFBIG) before max_bytes (0: unlimited) is reached. */
static void fs_full(void)
{
    char name[128];
    h_name(name, sizeof name, "fsfull");
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(name, NULL, &db), 0);
        if (!db)
            h_child_exit();
        shmkv_stats st;
        CHECK_RC(shmkv_stat(db, &st), 0);
        /* SIGXFSZ keeps its default action (the process dies): the
         * library must stop at the limit and say -ENOSPC, never cross it */
        struct rlimit rl = { st.file_bytes + (3u << 20), st.file_bytes + (3u << 20) };
        CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
        unsigned char v[4096];
        int n = 0, rc = 0;
        for (; n < 100000; n++) {
            char k[32];
            size_t kl = (size_t)snprintf(k, sizeof k, "fs-%d", n);
            h_val_make(v, sizeof v, k, kl, (uint64_t)n);
            rc = shmkv_put(db, k, kl, v, sizeof v);
            if (rc)
                break;
        }
        CHECKF(rc == -ENOSPC, "put into a table on a full file system returned %s after %d "
               "puts", h_errname(rc), n);
        CHECK(n > 100);
        CHECK_EQ_U64(shmkv_count(db), (uint64_t)n);
        long bad = 0;
        for (int i = 0; i <= n; i++) {
            char k[32];
            size_t kl = (size_t)snprintf(k, sizeof k, "fs-%d", i);
            unsigned char buf[4096];
            size_t vl = 0;
            uint64_t seq = 0;
            rc = shmkv_get(db, k, kl, buf, sizeof buf, &vl);
            if (i < n)
                bad += rc != 0 || !h_val_check(buf, vl, k, kl, &seq) || seq != (uint64_t)i;
            else
                bad += rc != -ENOENT;
        }
        CHECK_EQ_INT(bad, 0);
        /* room again after deletes */
        for (int i = 0; i < n; i += 2) {
            char k[32];
            size_t kl = (size_t)snprintf(k, sizeof k, "fs-%d", i);
            CHECK_RC(shmkv_del(db, k, kl), 0);
        }
        int again = 0;
        for (int i = 0; i < n / 4; i++) {
            char k[32];
            size_t kl = (size_t)snprintf(k, sizeof k, "fs-again-%d", i);
            h_val_make(v, sizeof v, k, kl, 1);
            again += shmkv_put(db, k, kl, v, sizeof v) == 0;
        }
        CHECKF(again == n / 4, "after deleting half, only %d of %d puts succeeded", again, n / 4);
        CHECK_TABLE(db, "after a full file system");
        shmkv_close(db);
        h_child_exit();
    }
    h_wait(pid, "table on a full file system");
    CHECK_RC(shmkv_unlink(name), 0);
}

static void max_1mib(void)
{
    run(1u << 20);
}

static void max_4mib(void)
{
    run(4u << 20);
}

static const struct h_part parts[] = {
    { "max_1mib", max_1mib },
    { "max_4mib", max_4mib },
    { "fs_full", fs_full },
};

int main(int argc, char **argv)
{
    E = calloc(MAXKEYS, sizeof *E);
    VAL_CAP = 1u << 20;
    VAL = malloc(VAL_CAP);
    BUF = malloc(VAL_CAP);
    int rc = h_main(argc, argv, "test_nospc", parts, H_NPARTS(parts));
    free(E);
    free(VAL);
    free(BUF);
    return rc;
}
