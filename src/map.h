/*
 * map.h - mapping the file, and the bounds check every offset read from it
 * goes through.
 *
 * Every process maps the table once at its full reservation, so offsets
 * stay valid while the file grows and nobody ever remaps.  Pages past the
 * end of the file must never be touched (SIGBUS): mem_ok() accepts a range
 * only if it lies below a size this process verified with fstat, never a
 * size the file itself claims.
 */
#ifndef SHMKV_MAP_H
#define SHMKV_MAP_H

#include "handle.h"

#include <stdbool.h>
#include <stdint.h>

/* Map reserve bytes of fd; 0 and *base, or -ENOMEM / -EACCES. */
int shmkv__map_reserve(int fd, uint64_t reserve, bool rdonly, uint8_t **base);

bool shmkv__mem_ok_slow(shmkv *db, uint64_t off, uint64_t len);
bool shmkv__map_refresh(shmkv *db);
void shmkv__map_in(shmkv *db, uint64_t known);

/* true if [off, off+len) lies inside memory this process may touch.  The
 * fast path is a compare with the size this process has verified; past
 * it, shmkv__mem_ok_slow() asks fstat (the file may have grown). */
static inline bool mem_ok(shmkv *db, uint64_t off, uint64_t len)
{
    uint64_t end = off + len;
    if (__builtin_expect(off >= db->data_off && end >= off &&
                         end <= atomic_load_explicit(&db->known_size, memory_order_relaxed), 1))
        return true;
    return shmkv__mem_ok_slow(db, off, len);
}

/* The most runs a list of runs can name: runs tile [data_off, top), each
 * a unit at least.  The bound of every walk of such a list, which damage
 * can make cyclic: a walk that bounded itself by a constant (2^24 steps)
 * instead made every write to a table with a cyclic run list take seconds
 * (found by fuzz_open).  Capped at that constant where top is damaged. */
static inline uint64_t runs_bound(shmkv *db)
{
    uint64_t top = atomic_load_explicit(&db->hdr->top, memory_order_relaxed);
    uint64_t n = top > db->data_off ? ((top - db->data_off) >> UNIT_SHIFT) + 1 : 1;
    return n < (1u << 24) ? n : (1u << 24);
}

#endif
