/*
 * sleepers.c - counts of sleepers that forget the dead (sleepers.h).
 */
#include "sleepers.h"

#include "host.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EPOCH_SHIFT 28                   /* 2^28 ns: 268 ms */
#define SLEEPERS_MAX 0xfffu              /* a count this high stays (12 bits) */
#define COUNTS SLEEPERS_COUNTS

/* a join counts for one whole epoch at least: a nap, and 100 ms between
 * the join and the nap's start, fit in it */
_Static_assert(SLEEPERS_NAP_MAX_NS + 100000000L <= 1L << EPOCH_SHIFT, "a live sleeper stays counted");

static uint64_t epoch_now(void) { return (uint64_t)shmkv__host_mono_ns() >> EPOCH_SHIFT; }
static uint32_t cur(uint32_t w) { return w >> 12 & SLEEPERS_MAX; }
static uint32_t prev(uint32_t w) { return w & SLEEPERS_MAX; }

/* w as of epoch *e: its counts shifted along if its epoch has passed.  A
 * word stamped an epoch or two later (by a thread that read the clock
 * after this one) stays as it is, and *e becomes its epoch.  Any other
 * stamp is of the past: of long ago when it looks far ahead (the stamp
 * keeps only 8 bits of the epoch), or a word never used (0). */
static uint32_t settle(uint32_t w, uint64_t *e)
{
    uint32_t e8 = (uint32_t)*e & 0xff, ahead = ((w >> 24) - e8) & 0xff;
    if (!(w & COUNTS))
        return e8 << 24;
    if (ahead <= 2) {
        *e += ahead;
        return w;
    }
    return e8 << 24 | (ahead == 0xff ? cur(w) : 0); /* one epoch on, or more */
}

uint64_t shmkv__sleepers_join(_Atomic uint32_t *c)
{
    uint64_t now = epoch_now(), e;
    uint32_t w = atomic_load_explicit(c, memory_order_relaxed), n;
    do {
        e = now;
        n = settle(w, &e);
        if (cur(n) < SLEEPERS_MAX)
            n += 1u << 12;
    } while (!atomic_compare_exchange_weak_explicit(c, &w, n, memory_order_relaxed, memory_order_relaxed));
    return e + 1; /* (0 means none) */
}

void shmkv__sleepers_leave(_Atomic uint32_t *c, uint64_t t)
{
    if (!t--)
        return;
    uint64_t now = epoch_now(), e;
    uint32_t w = atomic_load_explicit(c, memory_order_relaxed), n;
    do {
        e = now;
        n = settle(w, &e);
        /* a count that reached SLEEPERS_MAX lost some joins: it stays */
        if (t == e && cur(n) && cur(n) < SLEEPERS_MAX)
            n -= 1u << 12;
        else if (t + 1 == e && prev(n) && prev(n) < SLEEPERS_MAX)
            n -= 1;
        if (n == w)
            return;
    } while (!atomic_compare_exchange_weak_explicit(c, &w, n, memory_order_relaxed, memory_order_relaxed));
}

#ifdef SHMKV_TEST_HOOKS
static _Atomic long wakes;
long shmkv__sleepers_wakes(void) { return atomic_load(&wakes); }
#endif

bool shmkv__sleepers_any(_Atomic uint32_t *c)
{
    uint32_t w = atomic_load_explicit(c, memory_order_relaxed);
    if (!(w & COUNTS)) /* the common case: nobody asleep, no clock read */
        return false;
    uint64_t e = epoch_now();
    uint32_t now = settle(w, &e);
    if (now != w) /* forget expired joins for the next wakers (lost to a join or leave: they did it) */
        atomic_compare_exchange_strong_explicit(c, &w, now, memory_order_relaxed, memory_order_relaxed);
    return now & COUNTS;
}

void shmkv__sleepers_wake_slow(_Atomic uint32_t *c, _Atomic uint32_t *word, uint32_t n)
{
    if (!shmkv__sleepers_any(c))
        return;
#ifdef SHMKV_TEST_HOOKS
    atomic_fetch_add_explicit(&wakes, 1, memory_order_relaxed);
#endif
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n > INT_MAX ? INT_MAX : (int)n, NULL, NULL, 0);
}
