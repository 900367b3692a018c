/* model.c - see model.h. */
#include "model.h"

#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct model *M;

static int cmp_hash(const void *a, const void *b)
{
    uint64_t x = M->keys[*(const uint32_t *)a].h, y = M->keys[*(const uint32_t *)b].h;
    return x < y ? -1 : x > y;
}

void model_init(uint64_t seed)
{
    if (!M)
        M = calloc(1, sizeof *M);
    model_free();
    h_rng r = h_rng_new(seed ^ 0x1111);
    for (int i = 0; i < NKEYS; i++) {
        struct mkey *k = &M->keys[i];
        for (;;) {
            /* lengths 1..40, short ones rarer (there are only 256 1-byte keys) */
            k->kl = 1 + (size_t)h_below(&r, KEY_MAX_LEN);
            h_fill_random(&r, k->k, k->kl);
            if (i % 5 == 0 && k->kl > 2)
                k->k[k->kl / 2] = 0; /* NUL bytes inside keys */
            int dup = 0;
            for (int j = 0; j < i && !dup; j++)
                dup = M->keys[j].kl == k->kl && memcmp(M->keys[j].k, k->k, k->kl) == 0;
            if (!dup)
                break;
        }
        k->h = h_hash(k->k, k->kl);
        M->by_hash[i] = (uint32_t)i;
    }
    qsort(M->by_hash, NKEYS, sizeof M->by_hash[0], cmp_hash);
}

void model_free(void)
{
    if (!M)
        return;
    for (int i = 0; i < NKEYS; i++)
        free(M->keys[i].v);
    memset(M, 0, sizeof *M);
}

int model_find(const void *key, size_t klen)
{
    uint64_t h = h_hash(key, klen);
    size_t lo = 0, hi = NKEYS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (M->keys[M->by_hash[mid]].h < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < NKEYS && M->keys[M->by_hash[lo]].h == h; lo++) {
        struct mkey *k = &M->keys[M->by_hash[lo]];
        if (k->kl == klen && memcmp(k->k, key, klen) == 0)
            return (int)M->by_hash[lo];
    }
    return -1;
}

static void drop_pair(struct mkey *k)
{
    M->live -= k->kl + k->vl;
    M->count--;
    free(k->v);
    k->v = NULL;
    k->vl = 0;
    k->present = 0;
}

static void void_lease(struct mkey *k)
{
    if (k->lease) {
        k->lease = 0;
        M->voided++;
    }
}

/* The table's expiry is the real instant of the write plus the lifetime,
 * the model's the model instant plus it; both clocks move by the same
 * whole UNITs, the real one by a little more (the run's duration, far
 * below a UNIT), so both agree on "now >= expiry" at every whole UNIT. */
void model_tick(struct mkey *k)
{
    if (k->present && k->exp && M->now >= k->exp) {
        drop_pair(k);
        M->expired++;
    }
    if (k->lease && M->now >= k->lease_exp)
        void_lease(k);
}

void model_tick_all(void)
{
    for (int i = 0; i < NKEYS; i++)
        model_tick(&M->keys[i]);
}

uint64_t model_expiry(uint64_t ttl_ms)
{
    return ttl_ms ? M->now + ttl_ms : 0;
}

void model_fill(struct mkey *k, const void *v, size_t vl, uint64_t exp)
{
    if (k->lease) {
        k->lease = 0;
        M->filled++;
    }
    unsigned char *nv = malloc(vl ? vl : 1);
    memcpy(nv, v, vl); /* v may be k->v itself */
    if (k->present)
        drop_pair(k);
    k->v = nv;
    k->vl = vl;
    k->exp = exp;
    k->present = 1;
    M->count++;
    M->live += k->kl + vl;
    M->puts++;
}

void model_set(struct mkey *k, const void *v, size_t vl, uint64_t exp)
{
    void_lease(k);
    model_fill(k, v, vl, exp);
}

void model_del(struct mkey *k)
{
    if (k->present) {
        drop_pair(k);
        M->dels++;
    }
    void_lease(k);
}

void model_clear(void)
{
    for (int i = 0; i < NKEYS; i++) {
        struct mkey *k = &M->keys[i];
        if (k->present)
            drop_pair(k);
        void_lease(k);
    }
}

int model_number(const unsigned char *p, size_t n, int64_t *v)
{
    size_t neg = n && p[0] == '-';
    if (n - neg < 1 || n - neg > 19)
        return 0;
    for (size_t i = neg; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    char text[24];
    memcpy(text, p, n);
    text[n] = 0;
    errno = 0;
    long long x = strtoll(text, NULL, 10);
    if (errno == ERANGE)
        return 0;
    *v = x;
    return 1;
}
