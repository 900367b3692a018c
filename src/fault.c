/*
 * fault.c - fault injection for tests.
 *
 * Built only with SHMKV_TEST_HOOKS (see fault.h).  A test arms a countdown
 * per kind of call; when it reaches zero that call fails as the real one
 * would on a full disk or exhausted memory, and the countdown disarms.
 */
#include "fault.h"

#include "handle.h"

#include <stdatomic.h>

#ifdef SHMKV_TEST_HOOKS
static _Atomic long countdown[FAULT_KINDS];

SHMKV_API void shmkv__fault_arm(int kind, long after)
{
    if (kind >= 0 && kind < FAULT_KINDS)
        atomic_store(&countdown[kind], after + 1);
}

bool shmkv__fault_hit(enum fault kind)
{
    long n = atomic_load_explicit(&countdown[kind], memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak(&countdown[kind], &n, n - 1))
            return n == 1;
    return false;
}
#endif
