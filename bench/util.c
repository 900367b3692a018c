/*
 * util.c - shmkv-bench's keys and values, random numbers, Zipf sampling,
 * latency histograms, clocks and shared memory.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

const char *const ph_name[NPH] = { "PUT", "MIX", "GET", "DEL" };
const char *const op_name[NOPT] = { "get", "put", "del", "incr" };

uint64_t mix64(uint64_t x) /* a bijection of 64-bit integers (splitmix64) */
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double clock_cost_ns(void)
{
    enum { N = 200000 };
    uint64_t t0 = now_ns(), x = 0;
    for (int i = 0; i < N; i++)
        x += now_ns();
    (void)x;
    return (double)(now_ns() - t0) / N;
}

void *shared_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "shmkv-bench: mmap %zu bytes: %s\n", bytes, strerror(errno));
        exit(1);
    }
    return p;
}

/* ---- keys and values ---------------------------------------------------
 *
 * Key i (0 <= i < N) is a pure function of i, unique for every i: its
 * first 8 bytes are mix64(i), a bijection (keys shorter than 8 bytes are
 * i times an odd constant, a bijection modulo 2^(8 length), and main()
 * makes sure N fits).  Its length is fixed or drawn from the key range by
 * a hash of i.
 *
 * Value (i, version v): 4 bytes v XOR a mask derived from i, then bytes
 * derived from (i, v); its length is fixed or drawn from the value range by
 * a hash of (i, v).  So a value read back names its version
 * (val_version), and whether it is exactly version v of key i is one
 * comparison with make_val(i, v): a value of another key, or a mix of two
 * writes, fails it (but for a chance of 2^-32 with 8-byte values).
 */

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t o = 0; o < n; o += 8) {
        seed = mix64(seed + 0x9e3779b97f4a7c15ULL);
        memcpy(p + o, &seed, n - o < 8 ? n - o : 8);
    }
}

size_t key_len(const struct sizes *ks, uint64_t i)
{
    if (ks->max == ks->min)
        return ks->min;
    return ks->min + (size_t)(mix64(i ^ 0x6a09e667f3bcc909ULL) % (ks->max - ks->min + 1));
}

size_t make_key(const struct sizes *ks, uint64_t i, unsigned char *k)
{
    size_t n = key_len(ks, i);
    if (n >= 8) {
        uint64_t h = mix64(i);
        memcpy(k, &h, 8);
        fill(k + 8, n - 8, i);
    } else {
        uint64_t h = i * 0x9e3779b97f4a7c15ULL;
        for (size_t j = 0; j < n; j++)
            k[j] = (unsigned char)(h >> (8 * j));
    }
    return n;
}

static uint32_t ver_mask(uint64_t i)
{
    return (uint32_t)mix64(i ^ 0xa5a5a5a55a5a5a5aULL);
}

size_t val_len(const struct sizes *vs, uint64_t i, uint32_t ver)
{
    if (vs->max == vs->min)
        return vs->min;
    return vs->min + (size_t)(mix64(i * 0x3c6ef372fe94f82bULL + ver) % (vs->max - vs->min + 1));
}

size_t make_val(const struct sizes *vs, uint64_t i, uint32_t ver, unsigned char *v)
{
    size_t n = val_len(vs, i, ver);
    uint32_t h = ver ^ ver_mask(i);
    for (int j = 0; j < 4; j++)
        v[j] = (unsigned char)(h >> (8 * j));
    fill(v + 4, n - 4, mix64(i) ^ ((uint64_t)ver * 0xbb67ae8584caa73bULL));
    return n;
}

uint32_t val_version(uint64_t i, const unsigned char *v, size_t len)
{
    if (len < 4)
        return UINT32_MAX;
    uint32_t h = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
                 (uint32_t)v[3] << 24;
    return h ^ ver_mask(i);
}

/* Counters (--op incr) are decimal text, as the systems' increments want
 * it: key i at version v holds i + v N.  An increment by N is the next
 * version; a counter read back names its key (modulo N) and its version. */
size_t make_counter(uint64_t nkeys, uint64_t i, uint32_t ver, unsigned char *v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRIu64, i + (uint64_t)ver * nkeys);
    memcpy(v, t, (size_t)n);
    return (size_t)n;
}

int parse_counter(const unsigned char *p, size_t len, int64_t *out)
{
    int neg = len > 0 && p[0] == '-';
    size_t digits = len - (size_t)neg;
    if (digits < 1 || digits > 19)
        return -1;
    uint64_t v = 0;
    for (size_t j = (size_t)neg; j < len; j++) {
        if (p[j] < '0' || p[j] > '9')
            return -1;
        v = v * 10 + (uint64_t)(p[j] - '0');
    }
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

uint32_t counter_version(uint64_t nkeys, uint64_t i, const unsigned char *v, size_t len)
{
    int64_t x;
    if (parse_counter(v, len, &x) || x < 0 || (uint64_t)x % nkeys != i ||
        (uint64_t)x / nkeys >= UINT32_MAX)
        return UINT32_MAX;
    return (uint32_t)((uint64_t)x / nkeys);
}

/* ---- random numbers: xoshiro256** ------------------------------------- */

void rng_seed(struct rng *r, uint64_t seed)
{
    for (int j = 0; j < 4; j++) {
        seed += 0x9e3779b97f4a7c15ULL;
        r->s[j] = mix64(seed);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- Zipf: rejection-inversion ------------------------------------------
 * The hat function is h(x) = x^-s; H is its integral, shifted so that the
 * helpers stay accurate near s = 1 (as in Apache Commons' sampler). */

static double helper1(double x) /* log1p(x) / x */
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

static double helper2(double x) /* expm1(x) / x */
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x * (1.0 / 3) * (1 + 0.25 * x));
}

static double zh(const struct zipf *z, double x)
{
    return exp(-z->s * log(x));
}

static double zH(const struct zipf *z, double x)
{
    double lx = log(x);
    return helper2((1 - z->s) * lx) * lx;
}

static double zHinv(const struct zipf *z, double x)
{
    double t = x * (1 - z->s);
    if (t < -1)
        t = -1;
    return exp(helper1(t) * x);
}

void zipf_init(struct zipf *z, uint64_t n, double s)
{
    z->s = s;
    z->n = (double)n;
    z->hx1 = zH(z, 1.5) - 1;
    z->hn = zH(z, z->n + 0.5);
    z->sq = 2 - zHinv(z, zH(z, 2.5) - zh(z, 2));
}

uint64_t zipf_draw(const struct zipf *z, struct rng *r)
{
    for (;;) {
        double u = z->hn + rng_unit(r) * (z->hx1 - z->hn);
        double x = zHinv(z, u);
        double k = floor(x + 0.5);
        if (k < 1)
            k = 1;
        else if (k > z->n)
            k = z->n;
        if (k - x <= z->sq || u >= zH(z, k + 0.5) - zh(z, k))
            return (uint64_t)k;
    }
}

/* ---- histograms --------------------------------------------------------
 * Values below 32 ns have a bucket each; above, 16 buckets per power of
 * two: bucket = shift * 16 + (v >> shift) with v >> shift in [16, 32). */

static unsigned hist_index(uint64_t v)
{
    if (v < 32)
        return (unsigned)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - 4;
    return shift * 16 + (unsigned)(v >> shift);
}

void hist_add(struct hist *h, uint64_t ns)
{
    h->count++;
    h->sum_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->b[hist_index(ns)]++;
}

void hist_merge(struct hist *into, const struct hist *from)
{
    into->count += from->count;
    into->sum_ns += from->sum_ns;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
    for (unsigned j = 0; j < HIST_BUCKETS; j++)
        into->b[j] += from->b[j];
}

double hist_quantile_us(const struct hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->count), seen = 0;
    if (want < 1)
        want = 1;
    for (unsigned j = 0; j < HIST_BUCKETS; j++) {
        seen += h->b[j];
        if (seen >= want) {
            double lo, width;
            if (j < 32) {
                lo = j;
                width = 0;
            } else {
                unsigned shift = j / 16 - 1;
                lo = (double)((uint64_t)(j - 16 * shift) << shift);
                width = (double)(1ULL << shift);
            }
            double mid = lo + width / 2;
            if (mid > (double)h->max_ns)
                mid = (double)h->max_ns;
            return mid / 1000.0;
        }
    }
    return (double)h->max_ns / 1000.0;
}
