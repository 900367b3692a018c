/*
 * atomics.h - memory-ordering helpers: fences, ThreadSanitizer shims, the
 * racy copy of optimistic readers, and the version-counter protocol that
 * every lock-free read is built on.
 *
 * The protocol (a seqlock without the odd "writing" state, in the manner of
 * Concurrency Kit's ck_sequence): writers never make readers wait; instead
 * they bump counters that only move forward, and a reader that saw one of
 * them move while it looked throws its look away.
 *
 *   reader                                 writer (holding the shard lock)
 *   v = seq_begin(&c)      (acquire)       ... prepare what is hidden ...
 *   read shared data racily                seq_publish(&c, new) / seq_bump(&c)
 *   seq_end()              (fence)           (release store, then a release
 *   if (seq_changed(&c, v)) retry           fence: the change is visible
 *                                           before any store that follows)
 *                                           ... change what readers may see ...
 *
 * Why each side needs its fence:
 *  - The reader's seq_end() is an acquire fence, so its racy data loads are
 *    ordered before the counter is read again; if a data load saw a store
 *    the writer made after announcing, the re-read sees the announcement.
 *  - The writer's announcement must be visible before the stores it
 *    announces.  A release *store* orders only what comes before it, so a
 *    relaxed store made after it may become visible first (on ARMv8 and
 *    other weakly ordered CPUs; x86 never shows it).  The release fence
 *    after the counter store forbids that: every later store is ordered
 *    after the counter.  (Found in the bucket split: moved slots were
 *    cleared with relaxed stores after the layout's release store.)
 *
 * ThreadSanitizer does not model fences (gcc refuses them under
 * -fsanitize=thread); there the loads that follow a fence are done with
 * acquire ordering instead and the writer's fence is a seq_cst store,
 * which is what TSan does understand.
 */
#ifndef SHMKV_ATOMICS_H
#define SHMKV_ATOMICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define SHMKV_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMKV_TSAN 1
#endif
#endif

#ifdef SHMKV_TSAN
#define fence_acquire() ((void)0)
#define fence_release() ((void)0)
#define AFTER_FENCE memory_order_acquire
#define BEFORE_FENCE memory_order_seq_cst
#else
#define fence_acquire() atomic_thread_fence(memory_order_acquire)
#define fence_release() atomic_thread_fence(memory_order_release)
#define AFTER_FENCE memory_order_relaxed
#define BEFORE_FENCE memory_order_release
#endif

/* ---- the version-counter protocol ---- */

/* Reader: sample a counter before looking. */
static inline uint64_t seq_begin(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_acquire);
}

/* Reader: done looking; order the racy loads before the re-reads. */
static inline void seq_end(void) { fence_acquire(); }

/* Reader, after seq_end(): did the counter move since seq_begin? */
static inline int seq_changed(const _Atomic uint64_t *c, uint64_t seen)
{
    return atomic_load_explicit(c, AFTER_FENCE) != seen;
}

/* Writer (the counter's only writer, under a lock): publish a new value,
 * ordered after every store before it (release) and before every store
 * after it (the fence). */
static inline void seq_publish(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, v, BEFORE_FENCE);
    fence_release();
}

/* Writer: announce a change by moving the counter forward; as
 * seq_publish.  One writer at a time (a lock), so a load and a store. */
static inline void seq_bump(_Atomic uint64_t *c)
{
    seq_publish(c, atomic_load_explicit(c, memory_order_relaxed) + 1);
}

/* Writer without a lock on the counter (several writers): as seq_bump,
 * with an atomic add. */
static inline void seq_bump_shared(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_seq_cst);
    fence_release();
}

/* ---- racy copies ---- */

/* Copies from records that a writer may be recycling at the same moment.
 * The race is intended and detected by the version counters; under
 * ThreadSanitizer the copy is done outside its view so it is not
 * reported. */
#ifdef SHMKV_TSAN
static __attribute__((no_sanitize("thread"), noinline, unused)) void racy_copy(void *dst, const void *src, size_t n)
{
    volatile const uint8_t *s = src;
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}
static __attribute__((no_sanitize("thread"), noinline, unused)) int racy_cmp(const void *a, const void *b, size_t n)
{
    volatile const uint8_t *x = a;
    const uint8_t *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 1;
    return 0;
}
#else
#define racy_copy memcpy
#define racy_cmp memcmp
#endif

/* A 32-bit word watched as a hint in memory that may be freed and reused
 * meanwhile (a popper watching its list's wake word: wait.c shmkv__wait_spin);
 * volatile, so each look loads anew; outside ThreadSanitizer's view. */
#ifdef SHMKV_TSAN
static __attribute__((no_sanitize("thread"), noinline, unused)) uint32_t racy_u32(const void *p)
#else
static inline uint32_t racy_u32(const void *p)
#endif
{
    return *(volatile const uint32_t *)p;
}

/* A 64-bit field readers also read while a writer may be changing it (the
 * reader validates afterwards), read outside ThreadSanitizer's view. */
static inline uint64_t racy_u64(const void *p)
{
    uint64_t v;
    racy_copy(&v, p, sizeof v);
    return v;
}

/* ---- counters ---- */

/* Counters written only under a lock but read lock-free: a relaxed load
 * and store, not a locked read-modify-write. */
static inline void add64(_Atomic uint64_t *p, int64_t d)
{
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + (uint64_t)d, memory_order_relaxed);
}

/* The same, taking d off: in unsigned arithmetic, since d may come from a
 * damaged file (negating 2^63 as a signed value is undefined: fuzz_open). */
static inline void sub64(_Atomic uint64_t *p, uint64_t d)
{
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) - d, memory_order_relaxed);
}

static inline uint64_t ld64(const _Atomic uint64_t *p) { return atomic_load_explicit(p, memory_order_relaxed); }

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
