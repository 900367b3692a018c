/*
 * list.h - lists under keys (list.c): a list run per list, its elements as
 * records in the shard's log, reached from a ring of offsets.
 *
 * Everything here runs under the list's shard lock, but llen and the
 * element walk, which lock-free readers use with their own validation.
 */
#ifndef SHMKV_LIST_H
#define SHMKV_LIST_H

#include "handle.h"
#include "log.h"

#include <stdbool.h>
#include <stdint.h>

#define END_INDEX(w)  ((uint32_t)(w))
#define END_PUSHES(w) ((uint32_t)((w) >> 32))

static inline struct list *list_at(const shmkv *db, uint64_t lrun) { return (struct list *)at(db, lrun + RUN_HDR); }

/* Elements in the list: tail index - head index (mod 2^32). */
static inline uint32_t list_len(uint64_t head, uint64_t tail) { return END_INDEX(tail) - END_INDEX(head); }

/* The list run a REC_LIST record at off names, validated (0: bad). */
uint64_t shmkv__list_run(shmkv *db, struct shard *s, uint64_t off);

/* A new, empty list run, journaled in s->pending_list (the caller
 * publishes the key's REC_LIST record, then clears the journal). */
int shmkv__list_create(shmkv *db, struct shard *s, uint64_t *lrun);

/* Push n elements (vals[i], one piece each) at one end, all or nothing:
 * commits them all with one store.  0, -ENOSPC (nothing pushed), -EOVERFLOW (the list
 * would pass 2^31 elements), -EBADMSG, or a lock error. */
int shmkv__list_push(shmkv *db, struct shard *s, uint64_t lrun, const struct piece *vals, size_t n, int end);

/* The record of the k-th element from an end (k < len), or 0 if bad. */
uint64_t shmkv__list_elem(shmkv *db, uint64_t lrun, int end, uint32_t k);

/* Remove n elements from an end (their records retired); one store. */
void shmkv__list_pop(shmkv *db, struct shard *s, uint64_t lrun, int end, uint32_t n);

/* Wake sleepers of list l (of shard s): one per element pushed (all, when
 * deleting). */
void shmkv__list_wake(struct shard *s, struct list *l, uint32_t n);

/* Delete the list wholesale: retire its elements (if retire: repair
 * frees lists whose elements were never counted), free its runs.  The
 * key's slot must already be cleared; journaled in s->pending_list. */
void shmkv__list_free(shmkv *db, struct shard *s, uint64_t lrun, bool retire);

/* Append the elements from index start to stop (from the head, both
 * included; negative: from the tail, -1 the last) to the buffer *p (*len
 * used of *cap, grown with realloc) as [u32 length][bytes]...  Safe on a
 * list writers change (records are bounds-checked): -ESTALE if the list
 * moved while copying; -ENOMEM. */
int shmkv__list_copy(shmkv *db, uint64_t lrun, int64_t start, int64_t stop, uint8_t **p, size_t *len, size_t *cap);

/* Compaction: is the element record at off live?  If so, *slot is its
 * ring slot (to move it). */
bool shmkv__list_elem_live(shmkv *db, struct shard *s, uint64_t off, _Atomic uint64_t **slot);

/* Repair after a holder of the shard's lock was found gone: finish or
 * forget a half-done ring growth or move, count the live bytes of the
 * elements into their runs.  lrun: a list the shard's index reaches. */
void shmkv__list_repair(shmkv *db, struct shard *s, uint64_t lrun);

#endif
