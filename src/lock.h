/*
 * lock.h - robust process-shared locks that live in the file.
 *
 * The lock knows nothing of what it protects: whoever takes it passes the
 * repair to run when the previous holder died mid-change.
 */
#ifndef SHMKV_LOCK_H
#define SHMKV_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define LOCK_WAIT_NS 1000000000L /* longest wait for a live lock holder */
#define LOCK_SPIN_NS 20000L      /* spin this long on a busy lock before sleeping */

/* Repairs what a dead holder left half done; 0 or a negative errno. */
typedef int (*shmkv__repair_fn)(void *ctx);

int shmkv__lock_init(pthread_mutex_t *m);

/* Take m.  If its last holder died, run repair(ctx) first and count the
 * recovery in *recoveries.  *waited says whether the lock was busy.
 * Returns 0 with the lock held, or a negative errno with it released:
 * -ETIMEDOUT (a live holder kept it for LOCK_WAIT_NS), -EBADMSG (damaged),
 * or what repair returned. */
int shmkv__lock_take(pthread_mutex_t *m, shmkv__repair_fn repair, void *ctx, bool *waited,
                     _Atomic uint64_t *recoveries);

void shmkv__lock_drop(pthread_mutex_t *m);

#endif
