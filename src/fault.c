/*
 * fault.c - fault injection for tests.
 *
 * Built only with SHMKV_TEST_HOOKS (the archive the tests link; the
 * installed libraries have none of this).  A test arms a countdown per
 * kind of call; when it reaches zero that call fails as the real one
 * would on a full disk or exhausted memory, and the countdown disarms.
 * The library's code paths call fault_hit() right before the real call.
 */
#include "internal.h"

#ifdef SHMKV_TEST_HOOKS
static _Atomic long countdown[FAULT_KINDS];

SHMKV_API void shmkv__fault_arm(int kind, long after)
{
    if (kind >= 0 && kind < FAULT_KINDS)
        atomic_store(&countdown[kind], after + 1);
}

bool fault_hit(enum fault kind)
{
    long n = atomic_load_explicit(&countdown[kind], memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak(&countdown[kind], &n, n - 1))
            return n == 1;
    return false;
}
#endif
