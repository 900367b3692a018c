/*
 * handle.h - the process-local handle (struct shmkv) and the accessors that
 * turn the file's offsets into addresses.
 *
 * A handle is immutable after shmkv_open except for the sizes this process
 * has verified (known_size, mapped_in), so any number of threads use it
 * without locking.
 */
#ifndef SHMKV_HANDLE_H
#define SHMKV_HANDLE_H

#include "format.h"
#include "hash.h"
#include "shmkv.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Functions of the public API (include/shmkv.h); everything else in the
 * library is hidden from the shared object and named shmkv__*. */
#define SHMKV_API __attribute__((visibility("default")))

struct shmkv {
    int fd;
    bool rdonly;
    bool count_reads;               /* TF_READ_STATS and a writable handle */
    bool cache;                     /* TF_CACHE */
    bool mark_reads;                /* cache mode and a writable handle: gets raise read counts */
    bool prefetchw;                 /* the CPU has PREFETCHW (prefetch_w() uses it) */
    uint8_t *base;                  /* mapping of hdr->reserve bytes */
    uint64_t map_size;
    struct hdr *hdr;
    struct shard *shards;
    uint32_t shard_bits;
    uint32_t base_bits;
    uint64_t seed0, seed1;
    uint64_t seed8;                 /* shmkv__hash_seed(seed0, seed1, 8): 8-byte keys' */
    uint64_t data_off;
    uint64_t reserve;
    uint64_t max_bytes;             /* hdr->max_bytes (0: none) */
    uint64_t run_max;               /* largest log run of this table */
    uint64_t huge_min;              /* records this big get their own run */
    uint64_t low_water;             /* cache mode: evict ahead while free bytes are below this */
    int64_t clock_base;             /* this handle's view of hdr->clock_base */
    /* File size this process has verified with fstat: offsets below it
     * are safe to touch even if the header lies.  Only ever raised
     * (map.c shmkv__map_refresh). */
    _Atomic uint64_t known_size;
    _Atomic uint64_t mapped_in;     /* file bytes mapped into this process by map_in() */
    _Atomic uint64_t grew_ahead;    /* growths this handle made ahead (alloc_ahead), */
    _Atomic uint64_t grew_locked;   /* and under the allocator's lock: for the tests */
    _Atomic uint64_t ahead_failed;  /* file_size at which growing ahead last failed */
    uint64_t serial;                /* this handle among all this process opened (queue.c's memo) */
};

#ifdef SHMKV_TEST_HOOKS
/* Test builds: attach to the table in an open file (table.c). */
int shmkv__open_fd(int fd, bool rdonly, shmkv **out);
#endif

static inline void *at(const shmkv *db, uint64_t off) { return db->base + off; }
static inline struct run *run_at(const shmkv *db, uint64_t off) { return (struct run *)(db->base + off); }
static inline uint64_t off_of(const shmkv *db, const void *p) { return (uint64_t)((const uint8_t *)p - db->base); }

/* A hint: start loading the line at p, for writing.  Writers use it on
 * lines another process wrote last (a shard's lock and counters): a plain
 * prefetch would fetch a shared copy, and the write would then have to
 * take it from the other cache a second time. */
static inline void prefetch_w(const shmkv *db, const void *p)
{
#if defined(__x86_64__)
    if (db->prefetchw) {
        __asm__ volatile("prefetchw %0" ::"m"(*(const char *)p));
        return;
    }
#endif
    (void)db;
    __builtin_prefetch(p, 1);
}

/* Copy the first and the last w bytes of n (w <= n <= 2w): all n of them,
 * both loaded before either is stored (so src and dst may overlap). */
static inline void copy_ends(void *dst, const void *src, size_t n, size_t w)
{
    uint64_t a = 0, b = 0;
    memcpy(&a, src, w);
    memcpy(&b, (const uint8_t *)src + n - w, w);
    memcpy(dst, &a, w);
    memcpy((uint8_t *)dst + n - w, &b, w);
}

/* A key's hash in this table (8-byte keys from the handle's seed word). */
static inline uint64_t shmkv__key_hash(const shmkv *db, const void *key, size_t klen)
{
    return klen == 8 ? shmkv__hash64_8(key, db->seed8) : shmkv__hash64(key, klen, db->seed0, db->seed1);
}

static inline uint64_t nshards(const shmkv *db) { return 1ull << db->shard_bits; }
static inline struct shard *shard_of(const shmkv *db, uint64_t h)
{
    return db->shard_bits ? &db->shards[h >> (64 - db->shard_bits)] : &db->shards[0];
}
static inline uint32_t shard_index(const shmkv *db, const struct shard *s) { return (uint32_t)(s - db->shards); }

#endif
