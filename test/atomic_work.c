/* atomic_work.c - see atomic_work.h. */
#include "atomic_work.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BARRIER_S 60.0

void note_timeout(void)
{
    h_note("a lock wait timed out (its holder was not running for a second): again");
}

/* ---- results ---- */

struct results *results_new(unsigned nkeys, uint64_t cap)
{
    cap = (cap + 63) & ~63ull;
    struct results *r = h_shm_alloc(sizeof *r + nkeys * cap / 8);
    r->nkeys = nkeys;
    r->cap = cap;
    return r;
}

void results_free(struct results *r)
{
    h_shm_free(r, sizeof *r + r->nkeys * r->cap / 8);
}

int results_claim(struct results *r, unsigned k, uint64_t v)
{
    if (k >= r->nkeys || v == 0 || v >= r->cap) {
        if (__atomic_fetch_add(&r->out_of_range, 1, __ATOMIC_RELAXED) < 5)
            h_fail(__FILE__, __LINE__, "result %" PRIu64 " of key %u: out of range", v, k);
        return 0;
    }
    uint64_t bit = 1ull << (v & 63);
    uint64_t *w = &r->words[k * (r->cap / 64) + v / 64];
    if (__atomic_fetch_or(w, bit, __ATOMIC_RELAXED) & bit) {
        if (__atomic_fetch_add(&r->dups, 1, __ATOMIC_RELAXED) < 5)
            h_fail(__FILE__, __LINE__, "result %" PRIu64 " of key %u handed out twice", v, k);
        return 0;
    }
    return 1;
}

uint64_t results_count(const struct results *r, unsigned k, uint64_t *max)
{
    uint64_t n = 0;
    *max = 0;
    for (uint64_t i = 0; i < r->cap / 64; i++) {
        uint64_t w = __atomic_load_n(&r->words[k * (r->cap / 64) + i], __ATOMIC_RELAXED);
        if (w) {
            n += (uint64_t)__builtin_popcountll(w);
            *max = i * 64 + 63 - (uint64_t)__builtin_clzll(w);
        }
    }
    return n;
}

/* ---- counters ---- */

size_t counter_key(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 32, "counter-%u", i);
}

static int64_t read_number(shmkv *db, const char *k, size_t kl)
{
    char buf[32];
    size_t vl = 0;
    int rc = shmkv_get(db, k, kl, buf, sizeof buf - 1, &vl);
    if (rc) {
        h_fail(__FILE__, __LINE__, "get of %.*s: %s", (int)kl, k, h_errname(rc));
        return 0;
    }
    buf[vl] = 0;
    char *end;
    long long v = strtoll(buf, &end, 10);
    CHECKF(vl > 0 && *end == 0, "%.*s holds \"%s\", no number", (int)kl, k, buf);
    return v;
}

int64_t counter_read(shmkv *db, unsigned i)
{
    char k[32];
    return read_number(db, k, counter_key(k, i));
}

void incr_work(shmkv *db, struct results *r, unsigned w, long n)
{
    char keys[NCOUNTERS][32];
    size_t kl[NCOUNTERS];
    for (unsigned i = 0; i < NCOUNTERS; i++)
        kl[i] = counter_key(keys[i], i);
    long errors = 0;
    for (long j = 0; j < n; j++) {
        unsigned k = (unsigned)((w + (unsigned long)j) % NCOUNTERS);
        int64_t res = 0;
        int rc;
        RETRY_TIMEDOUT(rc, shmkv_incr(db, keys[k], kl[k], k % 2 ? -1 : 1, 0, &res));
        if (rc) {
            if (errors++ < 5)
                h_fail(__FILE__, __LINE__, "incr: %s", h_errname(rc));
            continue;
        }
        results_claim(r, k, (uint64_t)(k % 2 ? -res : res));
    }
}

void check_counters(shmkv *db, struct results *r, uint64_t per_key)
{
    for (unsigned k = 0; k < NCOUNTERS; k++) {
        int64_t v = counter_read(db, k);
        uint64_t max, n = results_count(r, k, &max);
        CHECKF(v == (k % 2 ? -(int64_t)per_key : (int64_t)per_key) && n == per_key && max == per_key,
               "counter %u: %" PRId64 ", %" PRIu64 " results up to %" PRIu64 "; %" PRIu64
               " increments were made", k, v, n, max, per_key);
    }
}

/* ---- compare-and-swap ---- */

long cas_work(shmkv *db, struct results *r, long n)
{
    long lost = 0, errors = 0;
    for (long done = 0; done < n;) {
        char old[32], next[32];
        size_t ol = 0;
        int rc = shmkv_get(db, "cas", 3, old, sizeof old - 1, &ol);
        if (rc) {
            if (errors++ < 5)
                h_fail(__FILE__, __LINE__, "get of the CAS counter: %s", h_errname(rc));
            continue;
        }
        old[ol] = 0;
        long long v = strtoll(old, NULL, 10);
        int nl = snprintf(next, sizeof next, "%lld", v + 1);
        shmkv_put_opts o = { .flags = SHMKV_IF_EQUAL, .expected = old, .elen = ol };
        RETRY_TIMEDOUT(rc, shmkv_put_ex(db, "cas", 3, next, (size_t)nl, &o));
        if (rc == 0) {
            results_claim(r, 0, (uint64_t)(v + 1));
            done++;
        } else if (rc == -ECANCELED) {
            lost++;
        } else if (errors++ < 5) {
            h_fail(__FILE__, __LINE__, "put_ex IF_EQUAL: %s", h_errname(rc));
        }
    }
    return lost;
}

/* ---- games ---- */

struct game *game_new(unsigned players, int rounds)
{
    struct game *g = h_shm_alloc(sizeof *g + (size_t)rounds * sizeof g->r[0]);
    g->b = h_barrier_new(players + 1);
    g->rounds = rounds;
    return g;
}

void game_free(struct game *g)
{
    h_shm_free(g->b, sizeof *g->b);
    h_shm_free(g, sizeof *g + (size_t)g->rounds * sizeof g->r[0]);
}

/* ---- take ---- */

void take_play(shmkv *db, struct game *g)
{
    for (int r = 0; r < g->rounds; r++) {
        if (h_barrier_wait(g->b, BARRIER_S) < 0)
            return;
        void *p = NULL;
        size_t vl = 0;
        int rc;
        RETRY_TIMEDOUT(rc, shmkv_take(db, "prize", 5, &p, &vl));
        if (rc == 0) {
            __atomic_fetch_add(&g->r[r].wins, 1, __ATOMIC_RELAXED);
            char want[16];
            int wl = snprintf(want, sizeof want, "%d", r);
            CHECKF(vl == (size_t)wl && memcmp(p, want, vl) == 0, "round %d: took %.*s", r,
                   (int)vl, (char *)p);
            free(p);
        } else {
            CHECK_RC(rc, -ENOENT);
        }
        if (h_barrier_wait(g->b, BARRIER_S) < 0)
            return;
    }
}

void take_drive(shmkv *db, struct game *g)
{
    int bad = 0;
    for (int r = 0; r < g->rounds; r++) {
        char v[16];
        int rc, n = snprintf(v, sizeof v, "%d", r);
        RETRY_TIMEDOUT(rc, shmkv_put(db, "prize", 5, v, (size_t)n));
        CHECK_RC(rc, 0);
        if (h_barrier_wait(g->b, BARRIER_S) < 0 || h_barrier_wait(g->b, BARRIER_S) < 0)
            return;
        int w = __atomic_load_n(&g->r[r].wins, __ATOMIC_RELAXED);
        if (w != 1 && bad++ < 5)
            h_fail(__FILE__, __LINE__, "round %d of take: %d winners", r, w);
        size_t vl;
        CHECK_RC(shmkv_get(db, "prize", 5, v, sizeof v, &vl), -ENOENT);
    }
}

/* ---- leases ---- */

/* What the driver does between the grant and the fill, by round. */
enum { L_NOTHING, L_PUT, L_DEL, L_CLEAR, L_KINDS };

void lease_play(shmkv *db, struct game *g)
{
    for (int r = 0; r < g->rounds; r++) {
        struct round *lr = &g->r[r];
        if (h_barrier_wait(g->b, BARRIER_S) < 0)
            return;
        char buf[16];
        size_t vl;
        uint64_t lease = 0;
        int rc;
        RETRY_TIMEDOUT(rc, shmkv_get_lease(db, "leased", 6, buf, sizeof buf, &vl, 0, &lease));
        CHECK_RC(rc, -ENOENT);
        if (lease)
            __atomic_fetch_add(&lr->wins, 1, __ATOMIC_RELAXED);
        else
            __atomic_fetch_add(&lr->misses, 1, __ATOMIC_RELAXED);
        if (h_barrier_wait(g->b, BARRIER_S) < 0 || h_barrier_wait(g->b, BARRIER_S) < 0)
            return;
        if (lease) { /* the driver has done its part: fill */
            char v[16];
            int n = snprintf(v, sizeof v, "fill-%d", r);
            RETRY_TIMEDOUT(lr->fill_rc, shmkv_put_leased(db, "leased", 6, v, (size_t)n, 0, lease));
        }
        if (h_barrier_wait(g->b, BARRIER_S) < 0)
            return;
    }
}

static void lease_check_round(shmkv *db, struct game *g, int r, int players)
{
    struct round *lr = &g->r[r];
    char want[16], buf[16];
    size_t vl = 0;
    int kind = r % L_KINDS;
    int wrc = kind == L_NOTHING ? 0 : -ECANCELED;
    CHECKF(lr->fill_rc == wrc, "round %d (after %d): put_leased %s, expected %s", r, kind,
           h_errname(lr->fill_rc), h_errname(wrc));
    int rc = shmkv_get(db, "leased", 6, buf, sizeof buf, &vl);
    if (kind == L_NOTHING || kind == L_PUT) {
        int wl = snprintf(want, sizeof want, kind == L_PUT ? "put-%d" : "fill-%d", r);
        CHECKF(rc == 0 && vl == (size_t)wl && memcmp(buf, want, vl) == 0,
               "round %d: the key holds %s %.*s, expected %s", r, h_errname(rc), (int)vl, buf, want);
    } else {
        CHECKF(rc == -ENOENT, "round %d: get after a voided lease: %s", r, h_errname(rc));
    }
    CHECKF(lr->misses == players - 1, "round %d: %d misses without a lease", r, lr->misses);
}

void lease_drive(shmkv *db, struct game *g)
{
    shmkv_stats st0, st;
    CHECK_RC(shmkv_stat(db, &st0), 0);
    int players = (int)g->b->n - 1, bad = 0, filled = 0;
    for (int r = 0; r < g->rounds; r++) {
        struct round *lr = &g->r[r];
        int rc;
        RETRY_TIMEDOUT(rc, shmkv_del(db, "leased", 6)); /* absent, and no lease */
        CHECK(rc == 0 || rc == -ENOENT);
        if (h_barrier_wait(g->b, BARRIER_S) < 0 || h_barrier_wait(g->b, BARRIER_S) < 0)
            return;
        if (lr->wins != 1 && bad++ < 5)
            h_fail(__FILE__, __LINE__, "round %d: %d players got a lease", r, lr->wins);
        char v[16];
        int n = snprintf(v, sizeof v, "put-%d", r);
        int want = 0;
        switch (r % L_KINDS) {
        case L_PUT: RETRY_TIMEDOUT(rc, shmkv_put(db, "leased", 6, v, (size_t)n)); break;
        case L_DEL: RETRY_TIMEDOUT(rc, shmkv_del(db, "leased", 6)); want = -ENOENT; break; /* voids it */
        case L_CLEAR: RETRY_TIMEDOUT(rc, shmkv_clear(db)); break;
        default: rc = 0; filled++; break;
        }
        CHECKF(rc == want, "round %d: the driver's write: %s", r, h_errname(rc));
        if (h_barrier_wait(g->b, BARRIER_S) < 0 || h_barrier_wait(g->b, BARRIER_S) < 0)
            return;
        lease_check_round(db, g, r, players);
    }
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.leases_granted - st0.leases_granted, (uint64_t)g->rounds);
    CHECK_EQ_U64(st.leases_filled - st0.leases_filled, (uint64_t)filled);
    CHECK_EQ_U64(st.leases_voided - st0.leases_voided, (uint64_t)(g->rounds - filled));
}
