/*
 * test_sleepers.c - the counts of sleepers that forget the dead
 * (src/sleepers.h), on their own.
 *
 *  count:    a word never used counts nobody, whatever the epoch; a join
 *            counts, its leave uncounts, now or an epoch later; a wake
 *            calls the kernel only while someone is counted.
 *  stamps:   words stamped by hand relative to the clock's epoch: one or
 *            two epochs ahead (a thread that read the clock later) and
 *            one behind still count; two behind, or far ahead (a stamp
 *            of long ago, 8 bits of it), do not, and a look clears them.
 *  expire:   a join left hanging (its sleeper killed) stops counting
 *            within two epochs, and a late leave with its ticket takes
 *            nothing from the joins made since.
 *  saturate: 5000 joins keep the count at its top (4095), and leaves do
 *            not lower it (it lost joins): too high, never too low, until
 *            its epoch passes.
 *  threads:  four threads join and leave 100 000 times while a fifth
 *            stays counted, leaving and joining again every 100 ms like a
 *            sleeper between its naps: while it is counted the count
 *            never reads as nobody; at the end it counts nobody.
 */
#include "harness.h"
#include "sleepers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define EPOCH_NS (1ull << 28)  /* sleepers.c's epoch */
#define EPOCHS2_S 0.6          /* two epochs and some */

static uint64_t epoch_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return ((uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec) / EPOCH_NS;
}

/* Sleep until just after the start of an epoch: the checks that follow
 * then run within one. */
static void epoch_start(void)
{
    uint64_t e = epoch_now();
    while (epoch_now() == e)
        h_sleep(0.002);
}

static _Atomic uint32_t word; /* a futex word nobody sleeps on */

/* Does a wake on c call the kernel? */
static bool wakes(_Atomic uint32_t *c)
{
    long w0 = shmkv__sleepers_wakes();
    shmkv__sleepers_wake(c, &word, 1);
    return shmkv__sleepers_wakes() != w0;
}

static void count(void)
{
    for (int i = 0; i < 3; i++) { /* a fresh word at three epochs' stamps */
        _Atomic uint32_t c = 0;
        CHECK(!shmkv__sleepers_any(&c));
        CHECK(!wakes(&c));
        uint64_t t = shmkv__sleepers_join(&c);
        CHECK(t != 0);
        CHECK(shmkv__sleepers_any(&c));
        CHECK(wakes(&c));
        uint64_t t2 = shmkv__sleepers_join(&c);
        shmkv__sleepers_leave(&c, t);
        CHECKF(shmkv__sleepers_any(&c), "one join of two left: nobody counted");
        shmkv__sleepers_leave(&c, t2);
        CHECKF(!shmkv__sleepers_any(&c), "both joins left: still counted (%08x)", (unsigned)c);
        CHECK(!wakes(&c));
        shmkv__sleepers_leave(&c, 0); /* never joined: nothing */
        CHECK(!shmkv__sleepers_any(&c));
        h_sleep(0.3);
    }
    /* a leave an epoch after its join */
    epoch_start();
    _Atomic uint32_t c = 0;
    uint64_t t = shmkv__sleepers_join(&c);
    epoch_start();
    uint64_t t2 = shmkv__sleepers_join(&c);
    shmkv__sleepers_leave(&c, t);
    CHECKF(shmkv__sleepers_any(&c), "the second join was taken off by the first's leave");
    shmkv__sleepers_leave(&c, t2);
    CHECKF(!shmkv__sleepers_any(&c), "a leave an epoch after its join took nothing off (%08x)", (unsigned)c);
}

/* A word stamped e + d (mod 256), one join of its epoch and one of the
 * epoch before. */
static uint32_t stamped(uint64_t e, int d) { return (uint32_t)((e + (uint64_t)(int64_t)d) & 0xff) << 24 | 1u << 12 | 1u; }

static void stamps(void)
{
    static const struct { int d; bool counts; } cases[] = {
        {0, true}, {1, true}, {2, true}, {-1, true}, {-2, false}, {-3, false}, {3, false}, {100, false}, {-128, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int tries = 0;; tries++) {
            epoch_start();
            uint64_t e = epoch_now();
            _Atomic uint32_t c = stamped(e, cases[i].d);
            bool any = shmkv__sleepers_any(&c), again = shmkv__sleepers_any(&c);
            if (epoch_now() != e && tries < 3)
                continue; /* the epoch ended meanwhile */
            CHECKF(any == cases[i].counts, "a word stamped %+d epochs %s", cases[i].d,
                   any ? "counts" : "counts nobody");
            CHECKF(again == any, "a word stamped %+d epochs changed its mind", cases[i].d);
            if (!cases[i].counts)
                CHECKF(!((uint32_t)c & 0xffffff), "a word stamped %+d epochs was not cleared: %08x", cases[i].d,
                       (unsigned)c);
            break;
        }
    }
}

static void expire(void)
{
    _Atomic uint32_t c = 0;
    uint64_t dead = shmkv__sleepers_join(&c); /* never leaves (until too late) */
    CHECK(wakes(&c));
    h_sleep(EPOCHS2_S);
    CHECKF(!wakes(&c), "a join %.1f s old still counts", EPOCHS2_S);
    uint64_t t = shmkv__sleepers_join(&c);
    shmkv__sleepers_leave(&c, dead);
    CHECKF(shmkv__sleepers_any(&c), "a dead join's late leave took off a live one");
    shmkv__sleepers_leave(&c, t);
    CHECK(!shmkv__sleepers_any(&c));
}

static void saturate(void)
{
    epoch_start();
    _Atomic uint32_t c = 0;
    enum { N = 5000 };
    static uint64_t t[N];
    for (int i = 0; i < N; i++)
        t[i] = shmkv__sleepers_join(&c);
    for (int i = 0; i < N; i++)
        shmkv__sleepers_leave(&c, t[i]);
    CHECKF(shmkv__sleepers_any(&c), "a count that overflowed reads as nobody after its leaves");
    h_sleep(EPOCHS2_S);
    CHECKF(!shmkv__sleepers_any(&c), "an overflowed count still counts after two epochs");
    t[0] = shmkv__sleepers_join(&c);
    shmkv__sleepers_leave(&c, t[0]);
    CHECK(!shmkv__sleepers_any(&c));
}

/* ---- threads ---- */

static _Atomic uint32_t tc;
static _Atomic uint64_t held; /* odd while the holder is counted, moved at each change */
static _Atomic bool stop;
static _Atomic long misses, looks;

static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++)
        shmkv__sleepers_leave(&tc, shmkv__sleepers_join(&tc));
    return NULL;
}

static void *holder(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) { /* a sleeper: naps of 100 ms, joining again between them */
        uint64_t t = shmkv__sleepers_join(&tc);
        atomic_fetch_add(&held, 1);
        h_sleep(0.1);
        atomic_fetch_add(&held, 1);
        shmkv__sleepers_leave(&tc, t);
    }
    return NULL;
}

static void *looker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        uint64_t h = atomic_load(&held); /* the same hold before and after the look: counted throughout */
        bool any = shmkv__sleepers_any(&tc);
        if (h % 2 && atomic_load(&held) == h) {
            atomic_fetch_add(&looks, 1);
            if (!any)
                atomic_fetch_add(&misses, 1);
        }
    }
    return NULL;
}

static void threads(void)
{
    pthread_t c[4], h, l;
    CHECK(pthread_create(&h, NULL, holder, NULL) == 0);
    CHECK(pthread_create(&l, NULL, looker, NULL) == 0);
    double end = h_now() + 4 * EPOCHS2_S;
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&c[i], NULL, churn, NULL) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(c[i], NULL);
    while (h_now() < end) /* the holder through several epochs */
        h_sleep(0.01);
    atomic_store(&stop, true);
    pthread_join(h, NULL);
    pthread_join(l, NULL);
    CHECKF(atomic_load(&looks) > 0, "the looker never saw the holder counted");
    CHECKF(atomic_load(&misses) == 0, "%ld of %ld looks found nobody while a sleeper was counted",
           atomic_load(&misses), atomic_load(&looks));
    CHECKF(!shmkv__sleepers_any(&tc), "every join left: still counted (%08x)", (unsigned)tc);
}

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {
        {"count", count}, {"stamps", stamps}, {"expire", expire}, {"saturate", saturate}, {"threads", threads},
    };
    return h_main(argc, argv, "test_sleepers", parts, H_NPARTS(parts));
}
