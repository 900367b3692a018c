/*
 * wait.c - a pop waiting for an element, a bounded push for room (wait.h).
 */
#include "wait.h"

#include "host.h"
#include "list.h"
#include "sleepers.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SLEEP_SLICE_MS 100
_Static_assert(SLEEP_SLICE_MS * 1000000L <= SLEEPERS_NAP_MAX_NS, "a sleeper joins again after each slice");

void shmkv__wait_prepare(struct wait *wt, _Atomic uint32_t *word, _Atomic uint32_t *waiters)
{
    wt->word = word;
    if (wt->counted) {
        wt->waiters = waiters;
        wt->ticket = shmkv__sleepers_join(waiters);
    }
    wt->seen = atomic_load_explicit(word, memory_order_acquire);
}

void shmkv__wait_awake(struct wait *wt)
{
    if (!wt->waiters)
        return;
    shmkv__sleepers_leave(wt->waiters, wt->ticket);
    wt->waiters = NULL;
}

/* Sleeps are sliced so a sleeper also notices a list deleted and made
 * anew elsewhere (queue.c). */
int shmkv__wait_sleep(struct wait *wt, const struct timespec *deadline)
{
    struct timespec now, ts = {0, SLEEP_SLICE_MS * 1000000L};
    if (deadline->tv_sec || deadline->tv_nsec) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t left = (deadline->tv_sec - now.tv_sec) * 1000000000L + (deadline->tv_nsec - now.tv_nsec);
        if (left <= 0)
            return -ETIME;
        if (left < ts.tv_nsec)
            ts.tv_nsec = left;
    }
    long r = syscall(SYS_futex, (uint32_t *)wt->word, FUTEX_WAIT, wt->seen, &ts, NULL, 0);
    return r && errno == EINTR ? -EINTR : 0;
}

void shmkv__wait_deadline(int64_t timeout_ms, struct timespec *d)
{
    d->tv_sec = d->tv_nsec = 0;
    if (timeout_ms <= 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, d);
    d->tv_sec += timeout_ms / 1000;
    d->tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (d->tv_nsec >= 1000000000L) {
        d->tv_sec++;
        d->tv_nsec -= 1000000000L;
    }
}


bool shmkv__wait_spin(const struct wait *wt, int64_t *left)
{
    int64_t t0 = shmkv__host_mono_ns();
    for (unsigned i = 1;; i++) {
        bool moved = racy_u32(wt->word) != wt->seen; /* a hint: the try that follows decides */
        if (!moved && i % 64)
            continue;
        int64_t spent = shmkv__host_mono_ns() - t0;
        if (moved || spent >= *left) {
            *left -= spent;
            return moved;
        }
        sched_yield();
    }
}


/* Run a write that may have to wait (w, whose arg holds wt), waiting
 * between tries as timeout_ms says: first watching the word (wait_spin,
 * SPIN_NS in all per call) and trying again through lane (if given)
 * whenever it moves, then, once the watch is spent, a try that counts
 * itself among the sleepers (under the shard's lock and both lanes) and
 * sleeps in the kernel until the other side wakes it; awake, a try
 * through the lane again.  (A try after a move through the shard's lock
 * would take the lane the other side is using, for every message of a
 * queue that runs empty or full.) */
int shmkv__wait_loop(shmkv *db, const struct wreq *w, struct wait *wt, shmkv__lane_fn lane, int64_t timeout_ms)
{
    struct timespec deadline;
    shmkv__wait_deadline(timeout_ms, &deadline);
    int64_t watch = SPIN_NS;
    wt->counted = false;
    for (;;) {
        int r = LIST_SLOW;
        wt->word = NULL;
        if (lane && !wt->counted)
            r = lane(db, w);
        if (r == LIST_SLOW) {
            struct wreq again = *w;
            r = shmkv__write(db, &again);
        }
        if (r != -EAGAIN || !wt->word || !timeout_ms)
            return r;
        if (!wt->counted) { /* watch while there is watch left; then count, then sleep */
            wt->counted = watch <= 0 || !shmkv__wait_spin(wt, &watch);
            continue;
        }
        r = shmkv__wait_sleep(wt, &deadline);
        shmkv__wait_awake(wt);
        wt->counted = false;
        if (r == -ETIME)
            return -EAGAIN;
        if (r)
            return r;
    }
}

