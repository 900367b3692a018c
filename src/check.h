/*
 * check.h - the checker's state for one pass, shared by check.c (the pass,
 * the read-only look while writers work, the API) and check_leaks.c (what
 * references each run, and the runs nothing does).
 */
#ifndef SHMKV_CHECK_H
#define SHMKV_CHECK_H

#include "handle.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { ROLE_NONE, ROLE_FREE, ROLE_LIST, ROLE_INDEX, ROLE_JOURNAL };
enum { HEAD_NONE, HEAD_FREE, HEAD_LOG, HEAD_HUGE, HEAD_INDEX, HEAD_NEW, HEAD_DEFER, HEAD_LIST, HEAD_RING };

struct chk {
    FILE *out;
    unsigned problems;
    uint64_t top;       /* end of the runs when the pass began (within the file) */
    uint64_t nunits, capunits; /* units up to top; units the arrays hold */
    uint8_t *role;      /* per unit: what references the run starting there (ROLE_*) */
    uint8_t *head;      /* per unit: the kind of the run starting there (HEAD_*) */
    bool heads_now;     /* head is this pass's tiling (not one taken while writers ran on) */
    uint64_t *live;     /* per unit: live bytes found through slots */
    uint8_t *seen;      /* record offsets seen, a bit per 8 bytes of the data area */
    uint8_t *linked;    /* buckets met in chains or the free list, a bit per 64 bytes (leak pass) */
    uint64_t keys, live_bytes;
    /* one shard at a time (read-only, writers busy): what to reset after */
    bool undoing;
    uint64_t *undo;     /* unit indices; seen bits with UNDO_BIT set */
    size_t nundo, capundo;
};

typedef unsigned long long ull; /* for printing */

/* Report a problem: counted; the first 100 are written to c->out. */
__attribute__((format(printf, 2, 3))) void shmkv__check_bad(struct chk *c, const char *fmt, ...);
#define bad(...) shmkv__check_bad(__VA_ARGS__)

static inline uint64_t unit_of(shmkv *db, uint64_t off) { return (off - db->data_off) >> UNIT_SHIFT; }
static inline bool in_runs(shmkv *db, const struct chk *c, uint64_t off)
{
    return off >= db->data_off && off < c->top;
}

/* Every run that is not free must be reachable from something: its
 * shard's run list (log runs, huge values and their pieces), its deferred
 * list, its index, or a journal field.  One that is not has leaked.
 * reclaim (repair, allocator lock held): free it.  Returns how many. */
unsigned shmkv__check_leaks(shmkv *db, struct chk *c, bool reclaim);

#endif
