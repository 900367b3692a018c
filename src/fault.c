/*
 * fault.c - fault injection for tests.
 *
 * Built only with SHMKV_TEST_HOOKS (see fault.h).  A test arms a countdown
 * per kind of call; when it reaches zero that call fails as the real one
 * would on a full disk or exhausted memory, and the countdown disarms.
 */
#include "fault.h"

#include "handle.h"
#include "hash.h"

#include <signal.h>
#include <stdatomic.h>

#ifdef SHMKV_TEST_HOOKS
static _Atomic long countdown[FAULT_KINDS];

SHMKV_API void shmkv__fault_arm(int kind, long after)
{
    if (kind >= 0 && kind < FAULT_KINDS)
        atomic_store(&countdown[kind], after + 1);
}

SHMKV_API long shmkv__fault_left(int kind)
{
    return kind >= 0 && kind < FAULT_KINDS ? atomic_load(&countdown[kind]) : 0;
}

bool shmkv__fault_hit(enum fault kind)
{
    long n = atomic_load_explicit(&countdown[kind], memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak(&countdown[kind], &n, n - 1))
            return n == 1;
    return false;
}

static _Atomic long pause_countdown[PAUSE_POINTS];

SHMKV_API void shmkv__pause_arm(int point, long after)
{
    if (point >= 0 && point < PAUSE_POINTS)
        atomic_store(&pause_countdown[point], after + 1);
}

void shmkv__pause_at(enum pause_point p)
{
    long n = atomic_load_explicit(&pause_countdown[p], memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak(&pause_countdown[p], &n, n - 1)) {
            if (n == 1)
                raise(SIGSTOP);
            return;
        }
}

static void (*_Atomic stall_fn)(int point);

SHMKV_API void shmkv__stall_set(void (*fn)(int point)) { atomic_store(&stall_fn, fn); }

void shmkv__stall_at(enum stall_point p)
{
    void (*fn)(int) = atomic_load_explicit(&stall_fn, memory_order_acquire);
    if (fn)
        fn((int)p);
}

static _Atomic long hurry = 1;

static _Atomic uint64_t tables_created;

bool shmkv__table_seed(uint64_t seed[2])
{
    const char *e = getenv("SHMKV_TEST_TABLE_SEED");
    if (!e || !*e)
        return false;
    uint64_t base = strtoull(e, NULL, 0), n = atomic_fetch_add(&tables_created, 1);
    seed[0] = hash_mum(base ^ HASH_K0, n ^ HASH_K1); /* the table hash's own mixer */
    seed[1] = hash_mum(seed[0] ^ HASH_K2, n ^ HASH_K0);
    return true;
}

SHMKV_API void shmkv__hurry(long div) { atomic_store(&hurry, div > 0 ? div : 1); }

long shmkv__hurried(long ns) { return ns / atomic_load_explicit(&hurry, memory_order_relaxed); }
#endif
