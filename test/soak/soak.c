/*
 * soak.c - the soak run behind scripts/soak.sh (read that first).
 *
 *   build/soak SECONDS [KEYS] [WORKERS]
 *
 * One table without max_bytes, preloaded with KEYS pairs (default 200000;
 * values 24 B to 1 KiB, 1% of them 40 to 100 KiB, every value carrying its
 * key, a sequence number and a checksum).  WORKERS processes (default 2)
 * run the MIX workload at full speed for SECONDS: 98% get of a random key,
 * 2% delete + put of one of the worker's own keys with a new random size.
 * Among them, counters (NCTR keys every worker increments, rewritten in
 * place while their length holds): one update in four is an increment of
 * one, one get in fifty reads one, which must never go back.
 * Every value read is validated: it must be a valid value of its key, a
 * worker's own key must read back exactly as it last wrote it, and no key
 * may be missing except while its owner is between the delete and the put.
 * Every 10 s the parent prints the table's figures: the file size must
 * level off (compaction and run reuse keep memory bounded under churn).
 * At the end: shmkv_check, every key validated, one line
 *   SOAK RESULT seconds=... ops=... ops_per_sec=... violations=...
 *   longest_op_ms=... file_start=... file_after_warmup=... file_max=...
 *   file_end=... growth_after_warmup_pct=... live_end=... check=ok|FAILED
 * Exit status 0 only if there were no violations, the check passed and the
 * file grew less than 25% after the first fifth of the run.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VMAX (100 * 1024)

#define NCTR 16

struct wstat {
    uint64_t ops, gets, found, churns, bad;
    uint64_t incrs[NCTR];
    double max_lat;
};

static struct {
    int stop;
    struct wstat w[64];
} *S;

static size_t key_of(char *k, long i)
{
    return (size_t)snprintf(k, 32, "soak-%ld", i);
}

static size_t ctr_key(char *k, unsigned j) { return (size_t)snprintf(k, 32, "soak-ctr-%u", j); }

/* Counter j read as text: never less than the last value this worker saw. */
static void read_counter(shmkv *db, struct wstat *ws, int id, unsigned j, int64_t *last)
{
    char k[32], v[32];
    size_t vl = 0;
    int rc = shmkv_get(db, k, ctr_key(k, j), v, sizeof v - 1, &vl);
    if (rc == -ENOENT)
        return; /* not incremented yet */
    v[rc ? 0 : vl] = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (rc || !vl || *end || x < last[j]) {
        if (ws->bad++ < 5)
            h_note("worker %d: counter %u read as \"%s\" (%s) after %lld", id, j, v, h_errname(rc),
                   (long long)last[j]);
        return;
    }
    last[j] = x;
}

static size_t pick_len(h_rng *r)
{
    return h_below(r, 100) == 0 ? 40960 + (size_t)h_below(r, VMAX - 40960)
                                : H_VAL_MIN + (size_t)h_below(r, 1000);
}

static void worker(const char *name, int id, int nw, long nkeys)
{
    shmkv *db = NULL;
    if (shmkv_open(name, NULL, &db) != 0)
        _exit(2);
    struct wstat *ws = &S->w[id];
    h_rng r = h_rng_new(77 + (uint64_t)id);
    unsigned char *val = malloc(VMAX), *buf = malloc(VMAX);
    /* what this worker last wrote to its own keys (i % nw == id) */
    uint64_t *own_seq = calloc((size_t)(nkeys / nw + 1), sizeof(uint64_t));
    uint32_t *own_len = calloc((size_t)(nkeys / nw + 1), sizeof(uint32_t));
    uint64_t seq = 1000000000ull * (uint64_t)(id + 1);
    int64_t ctr_seen[NCTR] = {0};
    while (!__atomic_load_n(&S->stop, __ATOMIC_RELAXED)) {
        char k[32];
        double t0 = h_now();
        unsigned pick = (unsigned)h_below(&r, 10000);
        if (pick < 9800 && pick % 50 == 0) {
            read_counter(db, ws, id, pick / 50 % NCTR, ctr_seen);
            ws->gets++;
        } else if (pick >= 9800 && pick % 4 == 0) {
            unsigned j = pick / 4 % NCTR;
            int rc = shmkv_incr(db, k, ctr_key(k, j), 1, 0, NULL);
            if (rc == 0)
                ws->incrs[j]++;
            else if (ws->bad++ < 5)
                h_note("worker %d: incr of counter %u returned %s", id, j, h_errname(rc));
        } else if (pick < 9800) {
            long i = (long)h_below(&r, (uint64_t)nkeys);
            size_t kl = key_of(k, i), vl = 0;
            int rc = shmkv_get(db, k, kl, buf, VMAX, &vl);
            uint64_t got = 0;
            ws->gets++;
            if (rc == 0) {
                ws->found++;
                int own = i % nw == id;
                if (!h_val_check(buf, vl, k, kl, &got) ||
                    (own && own_seq[i / nw] && (got != own_seq[i / nw] || vl != own_len[i / nw])))
                    if (ws->bad++ < 5)
                        h_note("worker %d: key %ld read back wrong (%zu bytes)", id, i, vl);
            } else if (rc != -ENOENT || i % nw == id) {
                /* only another worker's key may be briefly absent */
                if (ws->bad++ < 5)
                    h_note("worker %d: get of key %ld returned %s", id, i, h_errname(rc));
            }
        } else {
            long i = (long)h_below(&r, (uint64_t)(nkeys / nw)) * nw + id;
            if (i >= nkeys)
                continue;
            size_t kl = key_of(k, i), vl = pick_len(&r);
            int rc = shmkv_del(db, k, kl);
            h_val_make(val, vl, k, kl, ++seq);
            int rc2 = shmkv_put(db, k, kl, val, vl);
            if ((rc != 0 || rc2 != 0) && ws->bad++ < 5)
                h_note("worker %d: del/put of key %ld returned %s/%s", id, i, h_errname(rc),
                       h_errname(rc2));
            if (rc2 == 0) {
                own_seq[i / nw] = seq;
                own_len[i / nw] = (uint32_t)vl;
            }
            ws->churns++;
        }
        double dt = h_now() - t0;
        if (dt > ws->max_lat)
            ws->max_lat = dt;
        ws->ops++;
    }
    shmkv_close(db);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SECONDS [KEYS] [WORKERS]\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[1]);
    long nkeys = argc > 2 ? atol(argv[2]) : 200000;
    int nw = argc > 3 ? atoi(argv[3]) : 2;
    if (nw < 1 || nw > 64 || nkeys < nw || seconds <= 0)
        return 2;
    char t[32];
    snprintf(t, sizeof t, "%.0f", seconds + 600);
    setenv("SHMKV_TEST_TIMEOUT", t, 1);
    h_init("soak");
    S = h_shm_alloc(sizeof *S);
    const char *name = "soak-table";
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return h_done();
    unsigned char *val = malloc(VMAX);
    h_rng r = h_rng_new(1);
    double t0 = h_now();
    for (long i = 0; i < nkeys; i++) {
        char k[32];
        size_t kl = key_of(k, i), vl = pick_len(&r);
        h_val_make(val, vl, k, kl, (uint64_t)i + 1);
        CHECK_RC(shmkv_put(db, k, kl, val, vl), 0);
    }
    shmkv_stats st;
    shmkv_stat(db, &st);
    h_note("preloaded %ld keys in %.1f s: %llu live bytes, file %llu bytes", nkeys,
           h_now() - t0, (unsigned long long)st.live_bytes, (unsigned long long)st.file_bytes);
    uint64_t file_start = st.file_bytes, file_warm = 0, file_max = 0;

    pid_t pids[64];
    for (int w = 0; w < nw; w++) {
        pids[w] = h_fork();
        if (pids[w] == 0)
            worker(name, w, nw, nkeys);
    }
    double start = h_now(), next = start + 10;
    uint64_t last_ops = 0;
    printf("%8s %12s %10s %12s %12s %12s %12s %9s\n", "time_s", "ops", "ops/s", "file_bytes",
           "live_bytes", "garbage", "free", "keys");
    for (;;) {
        double now = h_now();
        if (now >= start + seconds)
            break;
        h_sleep(next - now < start + seconds - now ? next - now : start + seconds - now);
        if (h_now() < next)
            continue;
        next += 10;
        uint64_t ops = 0;
        for (int w = 0; w < nw; w++)
            ops += S->w[w].ops;
        shmkv_stat(db, &st);
        double el = h_now() - start;
        if (el > seconds / 5 && !file_warm)
            file_warm = st.file_bytes;
        if (st.file_bytes > file_max)
            file_max = st.file_bytes;
        printf("%8.0f %12llu %10.0f %12llu %12llu %12llu %12llu %9llu\n", el,
               (unsigned long long)ops, (double)(ops - last_ops) / 10.0,
               (unsigned long long)st.file_bytes, (unsigned long long)st.live_bytes,
               (unsigned long long)st.garbage_bytes, (unsigned long long)st.free_bytes,
               (unsigned long long)st.keys);
        fflush(stdout);
        last_ops = ops;
    }
    __atomic_store_n(&S->stop, 1, __ATOMIC_RELAXED);
    for (int w = 0; w < nw; w++)
        h_wait(pids[w], "soak worker");
    double el = h_now() - start;

    int check = CHECK_TABLE(db, "after the soak");
    long bad = 0;
    unsigned char *buf = malloc(VMAX);
    for (long i = 0; i < nkeys; i++) {
        char k[32];
        size_t kl = key_of(k, i), vl = 0;
        int rc = shmkv_get(db, k, kl, buf, VMAX, &vl);
        if (rc != 0 || !h_val_check(buf, vl, k, kl, NULL))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    unsigned counters = 0;
    for (unsigned j = 0; j < NCTR; j++) {
        uint64_t n = 0;
        for (int w = 0; w < nw; w++)
            n += S->w[w].incrs[j];
        char k[32], v[32], want[32];
        size_t vl = 0, wl = (size_t)snprintf(want, sizeof want, "%llu", (unsigned long long)n);
        int rc = shmkv_get(db, k, ctr_key(k, j), v, sizeof v, &vl);
        counters += rc == 0;
        CHECKF(n ? rc == 0 && vl == wl && !memcmp(v, want, wl) : rc == -ENOENT,
               "counter %u: %s, %.*s after %llu increments", j, h_errname(rc), (int)vl, v, (unsigned long long)n);
    }
    CHECK_EQ_U64(shmkv_count(db), (uint64_t)nkeys + counters);
    uint64_t ops = 0, violations = (uint64_t)bad;
    double longest = 0;
    for (int w = 0; w < nw; w++) {
        ops += S->w[w].ops;
        violations += S->w[w].bad;
        if (S->w[w].max_lat > longest)
            longest = S->w[w].max_lat;
    }
    shmkv_stat(db, &st);
    if (!file_warm)
        file_warm = file_start;
    if (st.file_bytes > file_max)
        file_max = st.file_bytes;
    double growth = 100.0 * ((double)file_max - (double)file_warm) / (double)file_warm;
    printf("SOAK RESULT seconds=%.0f ops=%llu ops_per_sec=%.0f violations=%llu "
           "longest_op_ms=%.2f file_start=%llu file_after_warmup=%llu file_max=%llu "
           "file_end=%llu growth_after_warmup_pct=%.1f live_end=%llu check=%s\n",
           el, (unsigned long long)ops, (double)ops / el, (unsigned long long)violations,
           longest * 1e3, (unsigned long long)file_start, (unsigned long long)file_warm,
           (unsigned long long)file_max, (unsigned long long)st.file_bytes, growth,
           (unsigned long long)st.live_bytes, check == 0 ? "ok" : "FAILED");
    CHECK_EQ_U64(violations, 0);
    CHECKF(growth < 25.0, "the file grew from %llu to %llu bytes after the warm-up",
           (unsigned long long)file_warm, (unsigned long long)file_max);
    shmkv_close(db);
    shmkv_unlink(name);
    free(val);
    free(buf);
    return h_done();
}
