/*
 * log.h - per-shard record logs (log.c): appending records, the shard's
 * list of runs, live-byte accounting, releasing runs, clearing and
 * repairing a shard's log.  What to clean and when is decided above this
 * layer (clean.c, evict.c).
 */
#ifndef SHMKV_LOG_H
#define SHMKV_LOG_H

#include "handle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A value given in pieces (append writes the old value, then its tail). */
struct piece {
    const void *p;
    size_t len;
};

/* Append a record (ext: its ext word, 0 for a pair that never expires,
 * format.h) whose value is the nval pieces, one after the other, to the
 * shard's log; *off is where it went.  Nothing is published: the caller
 * stores the slot, then adopts.  reserve: may use the allocator's
 * headroom (compaction).  0, -ENOSPC, -EBADMSG, or a lock error. */
/* A hint before a put takes its lock: the open run's header (LOG_PF_RUN),
 * the lines the next record goes to (LOG_PF_TAIL: its first two, for
 * writing), or both. */
enum { LOG_PF_RUN = 1, LOG_PF_TAIL = 2 };
void shmkv__log_prefetch(shmkv *db, struct shard *s, unsigned what);
int shmkv__log_append(shmkv *db, struct shard *s, const void *key, size_t klen, const struct piece *val,
                      unsigned nval, uint64_t ext, bool reserve, uint64_t *off);
void shmkv__log_adopt(shmkv *db, struct shard *s, uint64_t off);   /* the record at off was just published */
void shmkv__log_adopt_new(shmkv *db, struct shard *s, uint64_t off); /* ... and log_append wrote it, under this lock */
void shmkv__log_retire(shmkv *db, struct shard *s, uint64_t off);  /* ... stopped being live */
/* Remove a live record: clear its slot, count it gone, retire it. */
void shmkv__log_drop(shmkv *db, struct shard *s, uint64_t tag, _Atomic uint64_t *slot, uint64_t off);
/* Count a record in (sign 1) or out (-1) of the shard's keys and bytes:
 * pairs only (a lease counted out is voided). */
void shmkv__log_count(struct shard *s, const struct rec *r, int sign);
void shmkv__log_clear(shmkv *db, struct shard *s);
/* Repair after a gone holder: journals, then live bytes recounted from
 * the index (log_repair); the lists add their elements' (list.c); then
 * runs nothing reaches are released (log_repair_end). */
int shmkv__log_repair(shmkv *db, struct shard *s);
void shmkv__log_repair_end(shmkv *db, struct shard *s);

/* The walk of a log run's records from its header, which the cleaner,
 * the checker and repair share: the size of the record at pos in the
 * run at ro (pos < limit) if one starts there and lies wholly below
 * limit, bounds-checked; 0 if not (the walk ends there). */
uint64_t shmkv__log_rec_size(shmkv *db, uint64_t ro, uint64_t pos, uint64_t limit);

/* The run a record lies in, validated (a chained record: with all of its
 * chain); 0 if the record or run is bad. */
uint64_t shmkv__rec_run(shmkv *db, uint64_t off);
/* Copy a record's value (header rh, copied out) to dst, following a
 * chain; bounds-checked, safe on memory a writer is recycling (the caller
 * validates).  False if an offset or length is out of bounds.  dst NULL:
 * only check that the value lies within its runs. */
bool shmkv__rec_value(shmkv *db, uint64_t off, const struct rec *rh, void *dst);

/* ---- the shard's run list, for the cleaner (lock held) ---- */

bool shmkv__run_listed(shmkv *db, uint64_t ro, const struct shard *s); /* a log or huge run of s */
void shmkv__run_list_append(shmkv *db, struct shard *s, uint64_t ro);
void shmkv__run_list_unlink(shmkv *db, struct shard *s, uint64_t ro);
void shmkv__run_release(shmkv *db, struct shard *s, uint64_t ro);    /* unlink and free, journaled */
void shmkv__log_close_open(shmkv *db, struct shard *s);               /* appends go to a new run */
void shmkv__note_expiry(struct shard *s, uint64_t exp_max);

/* Cache ages: is stamp a older than b (run stamps wrap)? */
static inline bool stamp_older(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

#endif
