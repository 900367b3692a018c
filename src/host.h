/*
 * host.h - who and where the caller is: this boot, this PID namespace,
 * this thread (host.c), and the host's monotonic clock.  The lock records its holder with these, so a
 * waiter can tell a holder that is gone from one that is alive, stopped,
 * or out of its sight.
 */
#ifndef SHMKV_HOST_H
#define SHMKV_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds: the waits' and the locks' timeouts. */
static inline int64_t shmkv__host_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* The calling thread, cached per thread (refreshed after fork()). */
struct host_me {
    uint32_t tid;       /* gettid() */
    uint32_t ns;        /* tag of the PID namespace tids are valid in (0: unknown) */
    uint64_t start;     /* the thread's start time, clock ticks after boot (0: unknown) */
    uint64_t boot;      /* tag of this boot (0: unknown) */
};
const struct host_me *shmkv__host_me(void);

/* A 64-bit tag of this boot (never 0), or 0 where it cannot be read. */
uint64_t shmkv__host_boot(void);

/* What became of thread tid (of this PID namespace): */
enum host_thread {
    THREAD_ALIVE,       /* runs, sleeps, or is held by a tracer (state t) */
    THREAD_STOPPED,     /* stopped by a signal (state T) */
    THREAD_GONE,        /* no such thread, a zombie, or another thread now has its tid */
};
/* What /proc said of a live thread, for a waiter to tell a holder that
 * uses its time from one that waits for a CPU (lock.c). */
struct host_seen {
    bool known;         /* /proc could be read (else the rest is 0) */
    bool runnable;      /* state R: on a CPU, or queued for one */
    uint64_t cpu_ns;    /* CPU time it has used, user and system (clock ticks: 10 ms steps) */
};
/* start: the start time recorded for it (0: not known, then a reused tid
 * is not detected).  *seen is filled for a live one. */
enum host_thread shmkv__host_thread(uint32_t tid, uint64_t start, struct host_seen *seen);

#endif
