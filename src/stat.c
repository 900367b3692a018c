/*
 * stat.c - shmkv_count and shmkv_stat: the table's figures, summed over
 * shards lock-free (each counter exact, not all taken at one instant).
 */
#include "api.h"
#include "index.h"

#include <errno.h>
#include <string.h>

SHMKV_API uint64_t shmkv_count(shmkv *db)
{
    if (!db)
        return 0;
    uint64_t n = 0;
    for (uint64_t i = 0; i < nshards(db); i++)
        n += ld64(&db->shards[i].keys);
    return n;
}

SHMKV_API int shmkv_stat(shmkv *db, shmkv_stats *st)
{
    if (!db || !st)
        return -EINVAL;
    memset(st, 0, sizeof *st);
    struct hdr *h = db->hdr;
    uint64_t rec_live = 0;
    for (uint64_t i = 0; i < nshards(db); i++) {
        struct shard *s = &db->shards[i];
        st->keys += ld64(&s->keys);
        st->live_bytes += ld64(&s->live_bytes);
        st->buckets += shmkv__bucket_count(ld64(&s->layout), db->base_bits);
        st->overflow_buckets += ld64(&s->ov_used);
        st->log_bytes += ld64(&s->log_bytes);
        rec_live += ld64(&s->rec_live);
        st->puts += ld64(&s->puts) + ld64(&s->patches);
        st->dels += ld64(&s->dels);
        st->splits += ld64(&s->splits);
        st->runs_cleaned += ld64(&s->cleaned);
        st->lock_waits += ld64(&s->lock_waits);
        st->lock_recoveries += ld64(&s->recoveries);
        st->evictions += ld64(&s->evictions);
        st->expirations += ld64(&s->expirations);
        st->leases_granted += ld64(&s->leases_granted);
        st->leases_filled += ld64(&s->leases_filled);
        st->leases_voided += ld64(&s->leases_voided);
    }
    for (unsigned i = 0; i < READ_STRIPES; i++) {
        st->hits += ld64(&h->reads[i].hits);
        st->misses += ld64(&h->reads[i].misses);
    }
    st->read_stats = (h->tflags & TF_READ_STATS) != 0;
    st->cache = (h->tflags & TF_CACHE) != 0;
    st->lock_recoveries += ld64(&h->alloc_recoveries);
    st->garbage_bytes = st->log_bytes > rec_live ? st->log_bytes - rec_live : 0;
    st->shards = 1ull << db->shard_bits;
    st->index_bytes = (st->buckets + st->overflow_buckets) * BUCKET_BYTES;
    st->file_bytes = ld64(&h->file_size);
    st->used_bytes = st->file_bytes;
    st->max_bytes = db->reserve;
    st->free_bytes = ld64(&h->free_units) * UNIT + (st->file_bytes - ld64(&h->top));
    st->load_factor = st->buckets ? (double)st->keys / (double)(st->buckets * SLOTS) : 0;
    return 0;
}
