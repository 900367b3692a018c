/*
 * list.h - lists under keys (list.c): a list run per list, its elements
 * in a ring of bytes (format.h, struct list).
 *
 * Everything here runs under the list's shard lock and both its lanes,
 * but the lanes' own push and pop (each under one lane), and llen and the
 * copy, which lock-free readers use with their own validation.
 */
#ifndef SHMKV_LIST_H
#define SHMKV_LIST_H

#include "handle.h"
#include "log.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define END_INDEX(w) ((uint32_t)(w))         /* the element index of an end word */
#define END_POS(w)   ((uint32_t)((w) >> 32)) /* its ring position, in 8-byte units */

static inline struct list *list_at(const shmkv *db, uint64_t lrun) { return (struct list *)at(db, lrun + RUN_HDR); }

/* Elements in the list: tail index - head index (mod 2^32). */
static inline uint32_t list_len(uint64_t head, uint64_t tail) { return END_INDEX(tail) - END_INDEX(head); }

/* The list run a REC_LIST record at off names, validated (0: bad). */
uint64_t shmkv__list_run(shmkv *db, struct shard *s, uint64_t off);

/* A new, empty list run, journaled in s->pending_list (the caller
 * publishes the key's REC_LIST record, then clears the journal). */
int shmkv__list_create(shmkv *db, struct shard *s, uint64_t *lrun);

/* Push n elements (vals[i], one piece each) at one end, all or nothing:
 * commits them all with one store.  0, or 1 when some went out of line
 * (records in the log: the caller does the background step); -ENOSPC
 * (nothing pushed), -EOVERFLOW (the list would pass 2^31 elements, or its
 * ring 2^34 bytes), -EBADMSG, or a lock error. */
int shmkv__list_push(shmkv *db, struct shard *s, uint64_t lrun, const struct piece *vals, size_t n, int end);

/* Copy up to max elements from an end into buf, one after the other, as
 * many as fit in cap bytes (lens[k]: the k-th's size); nothing changes.
 * The number copied, or -ENOBUFS (the first alone does not fit: lens[0]
 * its size), -EBADMSG. */
long shmkv__list_peek(shmkv *db, uint64_t lrun, int end, size_t max, void *buf, size_t cap, size_t *lens);

/* Remove n elements from an end (out-of-line ones retired); one store.
 * True if some were out of line (their records are garbage now). */
bool shmkv__list_pop(shmkv *db, struct shard *s, uint64_t lrun, int end, uint32_t n);

/* The lanes (format.h): a push at the tail under the shard's
 * lane[SHMKV_TAIL] alone, a pop at the head under lane[SHMKV_HEAD] alone,
 * for what one store of the end's word commits: elements that lie in the
 * ring, a ring with room for them.  Anything else is LIST_SLOW (nothing
 * done: take the shard's lock and both lanes), as is a list run or ring
 * that does not look sound (the slow way judges it). */
#define LIST_SLOW INT_MIN
/* As LIST_SLOW, where the slow way would grow a ring of 1 MiB or more,
 * or spill the elements to the log (past a ring of 16 MiB: a deep
 * queue): a pop that makes room lets the push into the ring instead. */
#define LIST_DEEP (INT_MIN + 1)

/* 0 (all n pushed, one commit), LIST_SLOW, LIST_DEEP, or -EAGAIN: the
 * list would hold more than max elements (*seen, for both of the last:
 * the head's wake word as it was before the head was read, for a
 * watcher).  slack: LIST_DEEP also unless a big ring has room for a
 * 64th of it more (a pusher that waits for pops then pushes a run of
 * elements for each wait, not one for each pop). */
int shmkv__list_lane_push(shmkv *db, struct shard *s, uint64_t lrun, const struct piece *vals, size_t n,
                          uint64_t max, bool slack, uint32_t *seen);

/* Pop up to max elements from the head into buf (as list_peek): the
 * number popped, 0 when the list is empty (*seen: the tail's wake word as
 * it was before the tail was read, for a watcher), -ENOBUFS (nothing
 * popped, lens[0] the first's size) or LIST_SLOW. */
long shmkv__list_lane_pop(shmkv *db, struct shard *s, uint64_t lrun, size_t max, void *buf, size_t cap,
                          size_t *lens, uint32_t *seen);

/* Room was made in list l of shard s (n elements popped; all: it is
 * deleted): wake the bounded pushers waiting for it. */
void shmkv__list_room(struct shard *s, struct list *l, uint32_t n);

/* Wake sleepers of list l (of shard s): one per element pushed (all, when
 * deleting). */
void shmkv__list_wake(struct shard *s, struct list *l, uint32_t n);

/* A list of shard s that a look could find is going: the lanes' memos
 * of list runs (queue.c) are void.  Moves gen in both lanes (atomically:
 * callers hold both lanes, but for a list never published). */
void shmkv__list_forget(struct shard *s);

/* Delete the list wholesale: free its runs (retire: and retire its
 * out-of-line elements; repair frees lists whose elements were never
 * counted).  The key's slot must already be cleared; journaled in
 * s->pending_list. */
void shmkv__list_free(shmkv *db, struct shard *s, uint64_t lrun, bool retire);

/* Append the elements from index start to stop (from the head, both
 * included; negative: from the tail, -1 the last) to the buffer *p (*len
 * used of *cap, grown with realloc) as [u32 length][bytes]...  Safe on a
 * list writers change (everything bounds-checked): -ESTALE if the list
 * moved while copying; -ENOMEM. */
int shmkv__list_copy(shmkv *db, uint64_t lrun, int64_t start, int64_t stop, uint8_t **p, size_t *len, size_t *cap);

/* Compaction: is the out-of-line element record at off live?  If so,
 * *slot is the ring word that points at it. */
bool shmkv__list_elem_live(shmkv *db, struct shard *s, uint64_t off, _Atomic uint64_t **slot);

/* Compaction moved the element record at off (list_elem_live said it was
 * live) and rewrote its entry: lock-free copies must look again. */
void shmkv__list_elem_moved(shmkv *db, uint64_t off);

/* Repair after a holder of the shard's lock was found gone: finish or
 * forget a half-done ring growth or move, count the live bytes of the
 * out-of-line elements into their runs.  lrun: a list the shard's index
 * reaches. */
void shmkv__list_repair(shmkv *db, struct shard *s, uint64_t lrun);

/* The checker's walk: call fn for each element from the head, with its
 * ring position and, for an out-of-line one, its record's offset (else
 * 0).  Returns the number of elements walked before a bad one (the walk
 * stops there), or the list's length if all are sound. */
uint32_t shmkv__list_walk(shmkv *db, uint64_t lrun, void (*fn)(void *ctx, uint32_t pos, uint64_t out), void *ctx);

#endif
