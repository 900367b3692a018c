/*
 * lock.c - the table's own locks: a futex word naming the holder, plus the
 * holder's identity, so a lock is never left held by someone who is gone.
 *
 * Why not glibc's robust mutexes (formats 1 and 2): glibc trusts every
 * byte of a pthread_mutex_t, and a damaged one in the file made glibc
 * abort the process on its own assertions; an image of a table taken
 * while a lock was held (a copy of a live table, a disk table after a
 * power cut) stayed locked for ever, since the kernel's robust list only
 * frees locks of threads that exit on this boot.  Here every field is
 * data the library checks, and "gone" is defined by the lock itself.
 *
 * The word is 0 when free, else the holder's thread id, with LOCK_WAITERS
 * set once someone sleeps on it (the futex protocol of Drepper's "Futexes
 * Are Tricky", mutex 2).  Right after taking the word, the holder writes
 * its boot, its thread's start time and (last) its id with its PID
 * namespace.  A waiter spins briefly, yielding the CPU every few looks
 * (the holder, or a process with other work, may be waiting for this CPU),
 * then sleeps on the futex in short slices, and between slices asks
 * whether the holder is gone (host.c): no such thread, a zombie, a thread
 * whose start time differs (the id was reused), a holder of another boot,
 * or a word naming no thread at all (damage).  A gone holder's lock is
 * taken over with one compare-and-swap on the exact word judged, so two
 * waiters never both take it, and the taker runs the repair its caller
 * passed.  If the repairer dies too, the next waiter repairs again:
 * repairs are idempotent.
 *
 * A holder that is alive but stopped (SIGSTOP) makes waiters give up at
 * once with -ETIMEDOUT; one that is alive and busy for wait_ns (one
 * second for writers) of its own time without progress too (time it is
 * queued for a CPU is not its own: see struct account).  A holder a
 * tracer holds (strace, at each system call it makes; a debugger) counts
 * as busy: it goes on when the tracer lets it.  A holder in another PID
 * namespace cannot be judged (its ids mean nothing here), so it is
 * waited for and never taken over.
 *
 * gen moves on every take and release, odd while held: a reader that
 * cannot lock (the read-only checker) sees from it whether a writer was
 * inside while it looked (the protocol of atomics.h).
 */
#include "lock.h"

#include "atomics.h"
#include "fault.h"
#include "host.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLICE_MIN_NS 1000000L  /* first sleep between looks at the holder */
#define SLICE_MAX_NS 16000000L

/* Sleep while the word is v, for at most ns.  Shared (not private)
 * futexes: the waiters are in other processes. */
static void futex_wait(_Atomic uint32_t *w, uint32_t v, int64_t ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, v, &ts, NULL, 0);
}

static void futex_wake_one(_Atomic uint32_t *w) { syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0); }

/* The word just became ours: say who we are, then move gen to odd. */
static void note_holder(struct lock *l, const struct host_me *me)
{
    atomic_store_explicit(&l->boot, (uint32_t)me->boot, memory_order_relaxed);
    atomic_store_explicit(&l->start, me->start, memory_order_relaxed);
    atomic_store_explicit(&l->owner, (uint64_t)me->ns << 32 | me->tid, memory_order_release);
    uint64_t g = atomic_load_explicit(&l->gen, memory_order_relaxed);
    seq_publish(&l->gen, g + (g & 1 ? 2 : 1)); /* odd; a gone holder left it odd */
}

/* Does the lock say the calling thread holds it?  A holder notes itself
 * right after taking the word, so a word naming this thread's id without
 * its identity is another holder's: of another boot, or a thread gone
 * whose id this one now has. */
static bool held_here(const struct lock *l, const struct host_me *me)
{
    return atomic_load_explicit(&l->owner, memory_order_relaxed) == ((uint64_t)me->ns << 32 | me->tid) &&
           atomic_load_explicit(&l->start, memory_order_relaxed) == me->start &&
           atomic_load_explicit(&l->boot, memory_order_relaxed) == (uint32_t)me->boot;
}

enum holder { HOLDER_HERE, HOLDER_STOPPED, HOLDER_GONE, HOLDER_UNSEEN };

/* Is the holder named by word v still there?  What /proc said of one
 * that is goes into *seen. */
static enum holder holder_state(const struct lock *l, uint32_t v, const struct host_me *me, struct host_seen *seen)
{
    *seen = (struct host_seen){0};
    uint32_t tid = v & LOCK_TID;
    if (!tid)
        return HOLDER_GONE; /* a word with no holder in it: damage */
    uint64_t id = atomic_load_explicit(&l->owner, memory_order_acquire), start = 0;
    if ((uint32_t)id == tid) { /* the identity is this holder's */
        uint32_t boot = atomic_load_explicit(&l->boot, memory_order_relaxed), ns = (uint32_t)(id >> 32);
        if (boot && (uint32_t)me->boot && boot != (uint32_t)me->boot)
            return HOLDER_GONE; /* of another boot */
        if (ns && me->ns && ns != me->ns)
            return HOLDER_UNSEEN;
        start = atomic_load_explicit(&l->start, memory_order_relaxed);
    }
    if (tid == (me->tid & LOCK_TID))
        return HOLDER_GONE; /* this thread's id, not its lock (see held_here) */
    switch (shmkv__host_thread(tid, start, seen)) {
    case THREAD_GONE: return HOLDER_GONE;
    case THREAD_STOPPED: return HOLDER_STOPPED;
    default: return HOLDER_HERE;
    }
}

/* Spin for up to ns on a busy word, taking it if it frees.  Every
 * LOCK_YIELD_EVERY looks (about a microsecond: a few times the usual hold
 * of a lane, which copies one element) it yields the CPU: the holder may
 * be off the CPU waiting for it, or, where more processes run than there
 * are CPUs, a process with other work (two producers of a queue spinning
 * in turn on its tail lane kept its consumers off both CPUs until the
 * ring filled). */
#define LOCK_YIELD_EVERY 16
static bool spin_take(struct lock *l, uint32_t mine, int64_t ns)
{
    int64_t t0 = shmkv__host_mono_ns();
    for (unsigned i = 1;; i++) {
        cpu_relax();
        uint32_t v = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (!v && atomic_compare_exchange_weak_explicit(&l->word, &v, mine, memory_order_acquire,
                                                        memory_order_relaxed))
            return true;
        if (i % LOCK_YIELD_EVERY)
            continue;
        if (shmkv__host_mono_ns() - t0 > ns)
            return false;
        sched_yield();
    }
}

/* A waiter's account of one holder's time: what counts against wait_ns.
 * Between two looks at the holder, the wall time counts if /proc showed
 * it asleep or blocked (or showed nothing); if it showed it runnable,
 * only the CPU time it used meanwhile counts, so that the time it spent
 * queued for a CPU does not.  On 2 CPUs with two test programs at once
 * (a load of 15), holders of a shard's lock waited 0.3 to 0.8 s for a
 * CPU, preempted in the middle of a put, and their waiters gave up
 * (-ETIMEDOUT) on holders that were merely not running.  The CPU time is
 * summed over the whole hold (its clock ticks are coarser than a look). */
struct account {
    int64_t at;         /* when the holder was last looked at; 0: not yet */
    uint64_t cpu_ns;    /* its CPU time then */
    int64_t blocked;    /* wall time seen blocked or asleep */
    int64_t runnable;   /* wall time seen runnable */
    int64_t used;       /* CPU time used in the runnable spans */
};

static void account_look(struct account *a, const struct host_seen *seen, int64_t now)
{
    if (a->at && seen->known && seen->runnable) {
        a->runnable += now - a->at;
        a->used += (int64_t)(seen->cpu_ns - a->cpu_ns);
    } else if (a->at) {
        a->blocked += now - a->at;
    }
    a->at = now;
    a->cpu_ns = seen->cpu_ns;
}

static int64_t account_charged(const struct account *a)
{
    return a->blocked + (a->used < a->runnable ? a->used : a->runnable);
}

/* Sleep on a busy lock until it is ours (0), ours by taking it over from
 * a gone holder (1), or one holder has kept it for wait_ns of its own
 * time (-ETIMEDOUT; wait_ns 0: busy at all).  The holder is looked at
 * after every slice slept through in full (a wake from the futex means
 * the lock moved, not that its holder went): a gone holder costs its
 * first waiter about a millisecond.
 *
 * The wait is bounded per holder, not per waiter: whenever gen shows the
 * lock changed hands since the last look, the account starts again.  A
 * waiter that kept losing the lock to a stream of brief holders (a
 * crowded shard: 3 or 4 list tests at once on 2 cores) gave up with
 * -ETIMEDOUT after a second in all, though no holder was stuck; the
 * second is there to catch a holder that is.  So does *progress, when
 * the holder's work moves it on: a growth of the file under a lock, in
 * steps (alloc.c), took over a second on a VM whose host backs freed
 * memory again only when it is touched, and every waiter gave up. */
static int sleep_take(struct lock *l, uint32_t mine, int64_t wait_ns, const _Atomic uint64_t *progress,
                      const struct host_me *me)
{
    int64_t slice = shmkv__hurried(SLICE_MIN_NS), last = shmkv__host_mono_ns();
    uint64_t gen = atomic_load_explicit(&l->gen, memory_order_relaxed); /* hints: moved or not */
    uint64_t prog = progress ? atomic_load_explicit(progress, memory_order_relaxed) : 0;
    struct account acc = {0};
    for (bool look = false;;) {
        uint32_t v = atomic_load_explicit(&l->word, memory_order_relaxed);
        uint64_t g = atomic_load_explicit(&l->gen, memory_order_relaxed);
        uint64_t p = progress ? atomic_load_explicit(progress, memory_order_relaxed) : 0;
        if (g != gen || p != prog) { /* another holder since, or progress: a new account */
            gen = g;
            prog = p;
            acc = (struct account){0};
        }
        if (!v) { /* free: take it, keeping others' wake-up */
            if (atomic_compare_exchange_strong_explicit(&l->word, &v, mine | LOCK_WAITERS, memory_order_acquire,
                                                        memory_order_relaxed))
                return 0;
            continue;
        }
        if (wait_ns <= 0)
            return -ETIMEDOUT;
        if (look) {
            look = false;
            struct host_seen seen;
            enum holder h = holder_state(l, v, me, &seen);
            if (h == HOLDER_GONE && atomic_compare_exchange_strong_explicit(
                                        &l->word, &v, mine | LOCK_WAITERS, memory_order_acquire, memory_order_relaxed))
                return 1;
            if (h == HOLDER_GONE)
                continue; /* someone else moved the word first */
            if (h == HOLDER_STOPPED)
                return -ETIMEDOUT;
            account_look(&acc, &seen, last);
            if (account_charged(&acc) >= wait_ns)
                return -ETIMEDOUT;
        }
        if (!(v & LOCK_WAITERS) &&
            !atomic_compare_exchange_strong_explicit(&l->word, &v, v | LOCK_WAITERS, memory_order_relaxed,
                                                     memory_order_relaxed))
            continue;
        int64_t left = wait_ns - account_charged(&acc);
        futex_wait(&l->word, v | LOCK_WAITERS, left < slice ? left : slice);
        int64_t now = shmkv__host_mono_ns();
        if (now - last >= slice) { /* a slice went by with no change seen: look at the holder */
            look = true;
            last = now;
            slice = slice * 2 < shmkv__hurried(SLICE_MAX_NS) ? slice * 2 : shmkv__hurried(SLICE_MAX_NS);
        }
    }
}

int shmkv__lock_take(struct lock *l, int64_t wait_ns, const _Atomic uint64_t *progress, shmkv__repair_fn repair,
                     void *ctx, struct lock_note *note)
{
    const struct host_me *me = shmkv__host_me();
    uint32_t mine = me->tid & LOCK_TID, v = 0;
    wait_ns = shmkv__hurried(wait_ns);
    note->waited = note->recovered = false;
    if (!atomic_compare_exchange_strong_explicit(&l->word, &v, mine, memory_order_acquire, memory_order_relaxed)) {
        if ((v & LOCK_TID) == mine && held_here(l, me))
            return -EDEADLK;
        note->waited = true;
        int64_t spin = shmkv__hurried(LOCK_SPIN_NS);
        int r = spin_take(l, mine, wait_ns < spin ? wait_ns : spin)
                    ? 0 : sleep_take(l, mine, wait_ns, progress, me);
        if (r < 0)
            return r;
        note->recovered = r == 1;
    }
    note_holder(l, me);
    if (!note->recovered)
        return 0;
    int r = repair(ctx);
    if (r)
        shmkv__lock_drop(l);
    return r;
}

void shmkv__lock_drop(struct lock *l)
{
    seq_bump(&l->gen); /* even: everything this holder did comes before */
    if (atomic_exchange_explicit(&l->word, 0, memory_order_release) & LOCK_WAITERS)
        futex_wake_one(&l->word);
}

void shmkv__lock_reset(struct lock *l)
{
    uint64_t g = atomic_load_explicit(&l->gen, memory_order_relaxed);
    atomic_store_explicit(&l->gen, (g | 1) + 1, memory_order_relaxed);
    atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
    atomic_store_explicit(&l->word, 0, memory_order_release);
}
