/*
 * clock.c - the table's clock, for expiry times.
 *
 * Expiry must not jump when someone sets the wall clock, and every process
 * must agree on it: table time is CLOCK_BOOTTIME (monotonic, counts
 * suspend, one clock for the whole host) in milliseconds plus a base kept
 * in the header.  The base only matters for a table that outlives a
 * reboot (a file on disk; /dev/shm does not survive one): the header
 * remembers which boot its base belongs to, and the first writable open
 * after a reboot rebases the clock so that table time carries on from the
 * last time a writer noted (clock_hw).  Remaining lifetimes then resume
 * where they were; the time the machine was down does not count.
 *
 * Test builds can move a process's clock forward (shmkv__clock_advance) so
 * expiry tests need not sleep; children forked afterwards inherit it.
 */
#include "clock.h"

#include "alloc.h"
#include "handle.h"
#include "host.h"

#include <time.h>

#ifdef SHMKV_TEST_HOOKS
static _Atomic int64_t test_offset;
SHMKV_API void shmkv__clock_advance(int64_t ms) { atomic_fetch_add(&test_offset, ms); }
#define TEST_OFFSET atomic_load_explicit(&test_offset, memory_order_relaxed)
#else
#define TEST_OFFSET 0
#endif

static int64_t boot_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a + b, held at the ends of the range: the clock's base and high-water
 * mark come from the file, where damage can put any value */
static int64_t add_held(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b < 0 ? INT64_MIN : INT64_MAX) : r;
}

/* The latest table time: now plus the longest lifetime must still fit a
 * record's expiry field (EXT_EXPIRY). */
#define CLOCK_MAX ((int64_t)(EXT_EXPIRY - SHMKV_TTL_MAX))

/* Table time, never 0 (0 means "no expiry" in records), held below
 * CLOCK_MAX, which a damaged base could otherwise pass. */
uint64_t shmkv__clock_now(const shmkv *db)
{
    int64_t t = add_held(add_held(boot_ms(), db->clock_base), TEST_OFFSET);
    return t <= 0 ? 1 : t > CLOCK_MAX ? (uint64_t)CLOCK_MAX : (uint64_t)t;
}

/* Set the handle's clock base at open (and at creation, with the header
 * still zero: then the base makes table time start near 1 s). */
void shmkv__clock_open(shmkv *db)
{
    struct hdr *h = db->hdr;
    uint64_t me = shmkv__host_boot(); /* 0 where unknown: then never rebased */
    if (!h->boot_id || !me || h->boot_id == me) {
        db->clock_base = atomic_load_explicit(&h->clock_base, memory_order_relaxed);
        return;
    }
    /* another boot's base: carry on from the last noted time */
    int64_t base = add_held((int64_t)atomic_load_explicit(&h->clock_hw, memory_order_relaxed), -boot_ms());
    if (!db->rdonly && shmkv__alloc_lock(db) == 0) {
        if (h->boot_id != me) {
            atomic_store_explicit(&h->clock_base, base, memory_order_relaxed);
            h->boot_id = me;
        }
        base = atomic_load_explicit(&h->clock_base, memory_order_relaxed);
        shmkv__alloc_unlock(db);
    }
    db->clock_base = base;
}

/* Initialise a new table's clock (called by the creator, alone). */
void shmkv__clock_init(shmkv *db)
{
    struct hdr *h = db->hdr;
    h->boot_id = shmkv__host_boot();
    atomic_store_explicit(&h->clock_base, 1000 - boot_ms(), memory_order_relaxed);
    atomic_store_explicit(&h->clock_hw, 1000, memory_order_relaxed);
}

/* A writer saw table time now: keep clock_hw within a second of it (one
 * relaxed store a second at most, so the header line stays shared). */
void shmkv__clock_note(shmkv *db, uint64_t now)
{
    if (db->rdonly)
        return;
    uint64_t hw = atomic_load_explicit(&db->hdr->clock_hw, memory_order_relaxed);
    if (now > hw + 1000)
        atomic_store_explicit(&db->hdr->clock_hw, now, memory_order_relaxed);
}
