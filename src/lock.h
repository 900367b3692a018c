/*
 * lock.h - the locks that live in the file (lock.c).
 *
 * A lock knows nothing of what it protects: whoever takes it passes the
 * repair to run when the previous holder is found gone mid-change.
 */
#ifndef SHMKV_LOCK_H
#define SHMKV_LOCK_H

#include "format.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define LOCK_WAIT_NS 1000000000L /* longest wait for a live holder */
#define LOCK_SPIN_NS 20000L      /* spin this long on a busy lock before sleeping */

/* Repairs what a gone holder left half done; 0 or a negative errno. */
typedef int (*shmkv__repair_fn)(void *ctx);

/* How a take went, for the table's counters. */
struct lock_note {
    bool waited;                 /* the lock was busy */
    bool recovered;              /* taken over from a holder that was gone */
};

/* Take l, waiting up to wait_ns of a live holder's own time (0: do not
 * sleep): its CPU time while it is runnable, the wall time while it is
 * blocked or asleep, never the time it is queued for a CPU; counted from
 * when the lock last changed hands or *progress (if not NULL) last moved:
 * a word the holder's long work moves on as it goes (a growth of the
 * file).  A holder that is gone (exited, killed, of another
 * boot, or a damaged word naming nobody) is taken over at once and
 * repair(ctx) run.  Returns 0 with the lock held, or with it released:
 *   -ETIMEDOUT  a live holder kept it for wait_ns without progress, or it
 *               is stopped (SIGSTOP), or it cannot be seen (another PID
 *               namespace)
 *   -EDEADLK    the calling thread holds it already
 *   what repair returned. */
int shmkv__lock_take(struct lock *l, int64_t wait_ns, const _Atomic uint64_t *progress, shmkv__repair_fn repair,
                     void *ctx, struct lock_note *note);

void shmkv__lock_drop(struct lock *l);

/* Forget any holder (shmkv_repair, with no other writer attached). */
void shmkv__lock_reset(struct lock *l);

#endif
