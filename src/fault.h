/*
 * fault.h - fault injection (test builds only) and the allocation wrappers
 * that honour it.
 *
 * Built with SHMKV_TEST_HOOKS (the archive the tests link; the installed
 * libraries have none of this), shmkv__fault_arm(kind, n) makes the call
 * after n more of that kind fail as the real one would on a full disk or
 * exhausted memory.  The library calls fault_hit() right before each real
 * call.  shmkv__fault_left(kind) says how many more calls of that kind
 * reach the armed fault, the failing one included (0: it fired, or none
 * is armed): a test learns whether a sequence reached its fault without
 * assuming how many calls the sequence makes (that depends on the table's
 * random hash seed, through its layout and so through when the file
 * grows).
 */
#ifndef SHMKV_FAULT_H
#define SHMKV_FAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

enum fault { FAULT_FALLOCATE, FAULT_MMAP, FAULT_MALLOC, FAULT_KINDS };

/* Named points where a test can have a writer stop itself (SIGSTOP), to
 * test what others see while it is stopped there, or after it is killed
 * there.  shmkv__pause_arm(point, n): the n+1-th pass through point in
 * this process raises SIGSTOP (once; re-arm for more). */
enum pause_point {
    PAUSE_LOCKED,          /* a shard's lock was just taken */
    PAUSE_RECORD_WRITTEN,  /* a record appended (or a list element written), its slot
                            * (or the list's end) not yet published */
    PAUSE_SLOT_PUBLISHED,  /* a slot stored, the old record not yet retired */
    PAUSE_SPLIT_PUBLISHED, /* a split's layout published, moved slots not yet cleared */
    PAUSE_RUN_UNLINKED,    /* a run unlinked from its shard, not yet freed */
    PAUSE_ALLOC_LOCKED,    /* the allocator's lock was just taken */
    PAUSE_EVICTING,        /* cache: an eviction step, its shard locked */
    PAUSE_MOVE_PUSHED,     /* a move's push committed, its pop not yet */
    PAUSE_PIECE_UNLINKED,  /* a chained value's piece unlinked from its head, not yet freed */
    PAUSE_PATCHING,        /* an in-place increment: half of the new digits written */
    PAUSE_LIST_COPYING,    /* a lock-free copy of a list has read its ends, not yet its bytes */
    PAUSE_GROWING_AHEAD,   /* a writer growing the file ahead: fallocated, the header not yet told */
    PAUSE_SPLIT_COMPACTED, /* a split's compaction copied keys into holes, their old slots not yet cleared */
    PAUSE_POINTS
};

/* Named points where a test can hold one thread of its own (the others
 * go on), to set up a race at will: shmkv__stall_set(fn) has every
 * thread that passes a point call fn(point) there (fn decides whether to
 * wait, and for what). */
enum stall_point {
    STALL_SIZE_READ,       /* map_refresh: the file's size read, not yet noted in known_size */
    STALL_GROW_STEP,       /* a growth under the allocator's lock: before each step's fallocate */
    STALL_SPLIT_COMPACTED, /* as PAUSE_SPLIT_COMPACTED: keys in two slots of a chain */
};

#ifdef SHMKV_TEST_HOOKS
void shmkv__stall_at(enum stall_point p);
void shmkv__stall_set(void (*fn)(int point));
bool shmkv__fault_hit(enum fault kind);
void shmkv__fault_arm(int kind, long after);
long shmkv__fault_left(int kind);
void shmkv__pause_at(enum pause_point p);
void shmkv__pause_arm(int point, long after);
/* shmkv__hurry(div): every wait for a lock and every nap of a read-only
 * check lasts 1/div of its time (the fuzzers: a lock word naming a live
 * thread then costs them a millisecond, not a second). */
long shmkv__hurried(long ns);
void shmkv__hurry(long div);
/* With $SHMKV_TEST_TABLE_SEED set (a number, as strtoull reads it), the
 * hash seeds of the next table this process creates, made from it and
 * from how many tables the process created before: a test run again with
 * the value (the harness sets one and prints it when a test fails) puts
 * every key of its tables where the failed run did, as long as it
 * creates them in the same order.  false when it is not set: the seeds
 * are random. */
bool shmkv__table_seed(uint64_t seed[2]);
#else
#define shmkv__table_seed(seed) false
#define shmkv__fault_hit(kind) false
#define shmkv__pause_at(p) ((void)0)
#define shmkv__stall_at(p) ((void)0)
#define shmkv__hurried(ns) (ns)
#endif

static inline void *xmalloc(size_t n) { return shmkv__fault_hit(FAULT_MALLOC) ? NULL : malloc(n); }
static inline void *xcalloc(size_t n, size_t m) { return shmkv__fault_hit(FAULT_MALLOC) ? NULL : calloc(n, m); }
static inline void *xrealloc(void *p, size_t n) { return shmkv__fault_hit(FAULT_MALLOC) ? NULL : realloc(p, n); }

#endif
