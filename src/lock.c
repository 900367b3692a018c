/*
 * lock.c - robust process-shared mutexes.
 *
 * Writers serialise on pthread mutexes that live in the shared file, made
 * PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST.  When a holder dies the
 * kernel walks its robust list at exit, marks the lock owner-dead and wakes
 * one waiter, which gets EOWNERDEAD while holding the lock.  That waiter
 * repairs the structure the lock protects (every multi-step change is
 * journaled or idempotent: the repair callback its taker passes), then marks
 * the mutex consistent.  A waiter therefore waits at most for the kernel
 * to reap the dead process: no timeouts, no guessing from pids.
 *
 * If a repairer itself dies before calling pthread_mutex_consistent, the
 * next locker sees EOWNERDEAD again and repeats the (idempotent) repair.
 *
 * Critical sections are short and bounded (one write plus bounded
 * background work), so a lock held for LOCK_WAIT_NS means the holder is
 * stopped (SIGSTOP, a debugger) or the lock word is damaged: the waiter
 * gives up with -ETIMEDOUT rather than hang.
 */
#include "lock.h"

#include "atomics.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

int shmkv__lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!r)
        r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!r)
        r = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return -r;
}

/* After a timeout: does the thread the lock word names still exist?  A
 * robust lock's owner that died was released by the kernel, so a word
 * naming no thread at all was damaged.  (glibc keeps the owner's thread
 * id in the low 30 bits of __lock, the futex word.) */
static bool owner_alive(pthread_mutex_t *m)
{
#ifdef __GLIBC__
    pid_t tid = (pid_t)((unsigned)atomic_load_explicit((_Atomic int *)&m->__data.__lock, memory_order_relaxed) &
                        0x3fffffffu);
    return tid > 0 && (kill(tid, 0) == 0 || errno != ESRCH);
#else
    (void)m;
    return true;
#endif
}

/* Is m visibly free (no owner; maybe owner-dead)?  A plain read of
 * glibc's futex word, so spinners wait on a shared cache line instead of
 * bouncing it with CASes; any answer is only a hint for the trylock that
 * follows. */
static bool looks_free(pthread_mutex_t *m)
{
#if defined(__GLIBC__) && !defined(SHMKV_TSAN)
    return (atomic_load_explicit((_Atomic unsigned *)&m->__data.__lock, memory_order_relaxed) & 0x3fffffffu) == 0;
#else
    (void)m;
    return true;
#endif
}

/* A busy lock is usually held for a microsecond or two (one write and a
 * bounded step of background work), while sleeping in the kernel costs
 * a futex wait, a wake-up syscall in the holder and a cross-CPU wake of
 * the sleeper: tens of microseconds on a VM, and it was the 1-in-1000
 * slow write.  So spin first, for up to LOCK_SPIN_NS; a holder that is
 * descheduled or doing a long step (file growth) still gets the sleep. */
static int spin_trylock(pthread_mutex_t *m)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 1;; i++) {
        cpu_relax();
        if (looks_free(m)) {
            int r = pthread_mutex_trylock(m);
            if (r != EBUSY)
                return r;
        }
        if (i % 64 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > LOCK_SPIN_NS)
                return EBUSY;
        }
    }
}

/* Take m; on EOWNERDEAD run repair(ctx) before declaring it consistent. */
int shmkv__lock_take(pthread_mutex_t *m, shmkv__repair_fn repair, void *ctx, bool *waited,
                     _Atomic uint64_t *recoveries)
{
    int r = pthread_mutex_trylock(m);
    *waited = false;
    if (r == EBUSY) {
        *waited = true;
        r = spin_trylock(m);
    }
    if (r == EBUSY) {
        /* Wait, but not forever: a dead holder is handed to us by the
         * kernel at once (EOWNERDEAD); a holder that is alive but stopped,
         * or a lock word damaged in the file, yields -ETIMEDOUT instead of
         * a hang. */
        /* Waited in 10 ms slices up to one overall deadline: a wake-up
         * lost when a holder dies (the kernel hands the lock over with
         * one wake) then costs a slice, not the whole second. */
#ifdef SHMKV_TSAN /* TSan intercepts timedlock, not clocklock */
        const clockid_t clk = CLOCK_REALTIME;
#else
        const clockid_t clk = CLOCK_MONOTONIC;
#endif
        struct timespec now, end, dl;
        clock_gettime(clk, &end);
        end.tv_sec += LOCK_WAIT_NS / 1000000000L;
        end.tv_nsec += LOCK_WAIT_NS % 1000000000L;
        end.tv_sec += end.tv_nsec / 1000000000L;
        end.tv_nsec %= 1000000000L;
        do {
            clock_gettime(clk, &now);
            dl = now;
            dl.tv_nsec += 10000000L;
            dl.tv_sec += dl.tv_nsec / 1000000000L;
            dl.tv_nsec %= 1000000000L;
            if (dl.tv_sec > end.tv_sec || (dl.tv_sec == end.tv_sec && dl.tv_nsec > end.tv_nsec))
                dl = end;
#ifdef SHMKV_TSAN
            r = pthread_mutex_timedlock(m, &dl);
#else
            r = pthread_mutex_clocklock(m, clk, &dl);
#endif
        } while (r == ETIMEDOUT && (dl.tv_sec < end.tv_sec || (dl.tv_sec == end.tv_sec && dl.tv_nsec < end.tv_nsec)));
    }
    if (r == 0)
        return 0;
    if (r == ETIMEDOUT && !owner_alive(m))
        return -EBADMSG; /* the lock word names no live thread: damaged */
    if (r == EINVAL)
        return -EBADMSG; /* glibc's word for a mutex whose type is damaged */
    if (r != EOWNERDEAD)
        return -r; /* ETIMEDOUT, ENOTRECOVERABLE */
    int rr = repair(ctx);
    pthread_mutex_consistent(m);
    atomic_fetch_add_explicit(recoveries, 1, memory_order_relaxed);
    if (rr) {
        pthread_mutex_unlock(m);
        return rr;
    }
    return 0;
}

void shmkv__lock_drop(pthread_mutex_t *m) { pthread_mutex_unlock(m); }
