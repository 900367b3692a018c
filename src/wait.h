/*
 * wait.h - how a pop waits for an element and a bounded push for room
 * (wait.c): the other side of a queue moves a futex word; the waiter
 * notes the word's value under the lock (and the lanes) that decided it
 * must wait, watches the word for a while (a steady stream brings the
 * next element within microseconds), then counts itself among the
 * shard's sleepers and sleeps on the word in the kernel.  queue.c's top
 * comment says why no wake-up can be lost in between.
 */
#ifndef SHMKV_WAIT_H
#define SHMKV_WAIT_H

#include "write.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A caller that may have to wait. */
struct wait {
    bool counted;               /* count this caller among the sleepers if it must wait */
    _Atomic uint32_t *word;     /* must wait: the word the awaited change moves (sleep on it) */
    _Atomic uint32_t *waiters;  /* counted among these (its shard's), or NULL */
    uint64_t ticket;            /* its join's (sleepers.h) */
    uint32_t seen;              /* the word's value when it found it must wait */
};

/* Before sleeping, a caller that must wait watches the word it would
 * sleep on for a while (SPIN_NS) without being counted among the
 * sleepers (a list's word, or the shard's while the list does not exist;
 * reading a list's word is harmless even if a delete freed and reused its
 * memory meanwhile: the mapping stays, and the locked try that follows
 * looks again): in a steady stream the next push (or pop) comes within
 * microseconds, and a waiter that catches it awake spares the other side
 * its futex wake and itself two context switches (the cost of every
 * element otherwise, as it is for POSIX message queues).  It yields the
 * CPU now and then, so that on a busy machine the other side gets it. */
#define SPIN_NS 50000

/* Must wait: note where to sleep (under the lock and the lanes, see
 * queue.c's top), joining waiters if counted.  Sleepers count in their
 * shard, never in their list: a list may be deleted and its memory reused
 * while they sleep, and what they write when they wake must not land in
 * it.  (Waiting on its futex word so is harmless: the kernel only reads
 * it.) */
void shmkv__wait_prepare(struct wait *wt, _Atomic uint32_t *word, _Atomic uint32_t *waiters);

/* Awake again: no longer counted. */
void shmkv__wait_awake(struct wait *wt);

/* Sleep until the word moves off seen, a slice ends or the deadline
 * passes (deadline 0: none).  0, -ETIME (the deadline passed) or -EINTR
 * (a signal came). */
int shmkv__wait_sleep(struct wait *wt, const struct timespec *deadline);

/* The CLOCK_MONOTONIC time timeout_ms from now (0 or less: none, 0). */
void shmkv__wait_deadline(int64_t timeout_ms, struct timespec *d);

/* Watch until the word moves (true) or *left (ns) runs out (false),
 * taking what it spent off *left.  The try that follows tells which
 * mattered. */
bool shmkv__wait_spin(const struct wait *wt, int64_t *left);

/* A try through a lane: as the write w would do, or LIST_SLOW. */
typedef int (*shmkv__lane_fn)(shmkv *db, const struct wreq *w);

/* Run a write that may have to wait (w, whose arg holds wt), waiting
 * between tries as timeout_ms says (0: not at all; < 0: for ever).
 * Returns what the last try returned (-EAGAIN when the time ran out), or
 * -EINTR. */
int shmkv__wait_loop(shmkv *db, const struct wreq *w, struct wait *wt, shmkv__lane_fn lane, int64_t timeout_ms);

#endif
