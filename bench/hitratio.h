/*
 * hitratio.h - what the parts of --hitratio share: hitratio.c (the
 * replay, shmkv, the exact LRU, the reports) and hitratio_mc.c (memcached,
 * in its text protocol).
 */
#ifndef SHMKV_BENCH_HITRATIO_H
#define SHMKV_BENCH_HITRATIO_H

#include "bench.h"

#define HR_KLEN 16
#define HR_VMIN 100
#define HR_VMAX 10240
#define MC_BATCH 32    /* memcached: gets per request */

enum { S_SHMKV, S_LRU, S_MC, NS };

/* One skew's request stream, replayed against each system. */
struct replay {
    const struct config *cfg;
    struct cleanup *cl;
    uint64_t nkeys;
    uint32_t *reqs;                /* warmup + requests key numbers */
    uint64_t nreq, warm;
    unsigned char *vb, *gb, *eb;   /* a value to put, one got, one expected */
};

/* What each system did with one skew and cache size. */
struct cell {
    double skew, pct;
    uint64_t budget;               /* bytes (whole MiB) */
    int have[NS];
    uint64_t hits[NS];             /* of the counted requests */
    double secs[NS];               /* whole replay, warm-up included */
    uint64_t evictions[NS];
    uint64_t keys[NS];             /* held at the end */
    uint64_t bytes[NS];            /* shmkv live_bytes, lru key+value bytes, memcached "bytes" */
    uint64_t sh_used, sh_file, sh_index;   /* shmkv: used_bytes, file_bytes, index_bytes */
    uint64_t mc_limit, mc_set_errors;
};

size_t hr_vlen(uint64_t i);
void hr_key(uint64_t i, char *k);                  /* HR_KLEN bytes */
size_t hr_val(uint64_t i, unsigned char *v);
/* Is (v, len) key i's value?  exp is scratch space. */
int hr_check(uint64_t i, const void *v, size_t len, unsigned char *exp);

#ifdef HAVE_MEMCACHED
int run_memcached(const struct replay *rp, struct cell *c);  /* 0 or -1 */
#endif

#endif /* SHMKV_BENCH_HITRATIO_H */
