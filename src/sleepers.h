/*
 * sleepers.h - a count of the threads that may be asleep on futex words,
 * which forgets those that died asleep.
 *
 * A waker (a push, a pop) asks the kernel to wake anyone only while the
 * count says someone may sleep: in a busy queue nobody does, and a
 * FUTEX_WAKE for nobody would cost every element a system call.  A plain
 * count, added to before sleeping and taken from after, stays too high
 * for ever when a sleeper is killed in its sleep (a worker blocked on its
 * queue is the usual victim of SIGKILL): from then on every element paid
 * that system call, for the life of the file.
 *
 * So a count remembers when each sleeper joined, in epochs of the
 * monotonic clock (EPOCH_SHIFT: 268 ms), and counts only the joins of the
 * current epoch and the one before it.  A sleeper never sleeps for longer
 * than SLEEPERS_NAP_MAX_NS at a time without leaving and joining again,
 * so a live one is always counted while it is asleep, and a dead one's
 * join is forgotten within two epochs, by the next waker that looks.
 * (A sleeper held up for most of an epoch between its join and its sleep
 * may sleep uncounted: it then misses wakes for one nap at most, which
 * its nap's end makes up for.)
 *
 * The word: epoch (its low 8 bits) << 24 | joins of that epoch << 12 |
 * joins of the epoch before.  A count that reaches SLEEPERS_MAX stays
 * there (too high, never too low) until its epoch passes.  Joins are
 * ordered against a waker's look by the caller (its lock); leaves are
 * not, since a count a little too high only costs a wasted wake.
 */
#ifndef SHMKV_SLEEPERS_H
#define SHMKV_SLEEPERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SLEEPERS_NAP_MAX_NS 150000000L /* the longest sleep between a leave and a join */

/* Count the caller on c; returns its ticket for sleepers_leave. */
uint64_t shmkv__sleepers_join(_Atomic uint32_t *c);

/* Uncount the caller that joined with ticket t (0: never joined). */
void shmkv__sleepers_leave(_Atomic uint32_t *c, uint64_t t);

/* May anyone counted on c be asleep (forgetting joins whose time is up)? */
bool shmkv__sleepers_any(_Atomic uint32_t *c);

#define SLEEPERS_COUNTS 0xffffffu /* both counts of a word */

/* sleepers_wake when c counts anyone, current or not. */
void shmkv__sleepers_wake_slow(_Atomic uint32_t *c, _Atomic uint32_t *word, uint32_t n);

/* Wake up to n threads asleep on word if c says anyone may be (forgetting
 * joins whose time is up).  Every push and pop calls it: inline, one load
 * when nobody is counted (no clock read, no call). */
static inline void shmkv__sleepers_wake(_Atomic uint32_t *c, _Atomic uint32_t *word, uint32_t n)
{
    if (atomic_load_explicit(c, memory_order_relaxed) & SLEEPERS_COUNTS)
        shmkv__sleepers_wake_slow(c, word, n);
}

#ifdef SHMKV_TEST_HOOKS
/* The FUTEX_WAKE calls sleepers_wake made in this process. */
long shmkv__sleepers_wakes(void);
#endif

#endif
