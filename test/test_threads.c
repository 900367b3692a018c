/*
 * test_threads.c - many threads of one process on one handle.
 *
 * The suite's ThreadSanitizer target: TSan cannot follow happens-before
 * across processes, so the multi-process stress tests would drown it in
 * false reports; here every writer and reader is a thread it can see.
 * Writers put/add/replace/del overlapping keys (some values huge, so runs
 * are released and reused under the readers' feet), readers validate
 * every value with single gets and shmkv_get_many(), a thread iterates,
 * and one thread keeps reading a 3 MiB value (a copy long enough to be
 * disturbed by run releases, which must still always finish).
 * Afterwards the checker must find the table sound.  Then the same in
 * cache mode, in a cache too small for the keys (evictions all the time,
 * readers raising read counts in the slots with compare-and-swap), with
 * short lifetimes and a thread clearing the cache now and then.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NWRITERS 4
#define NREADERS 3
#define NKEYS 3000
#define SECONDS (H_ASAN ? 4.0 : 3.0)
#define VMAX (100 * 1024)

static shmkv *db;
static bool cache;
static _Atomic int stop;
static _Atomic long bad, reads, found, batches, big_reads;
#define BIG (3u << 20)

static size_t key_of(char *k, uint64_t i) { return (size_t)snprintf(k, 32, "thr-%llu", (unsigned long long)i); }

static void *writer(void *arg)
{
    h_rng r = h_rng_new((uint64_t)(uintptr_t)arg);
    uint8_t *v = malloc(VMAX);
    char k[32];
    uint64_t seq = 0;
    while (!atomic_load(&stop)) {
        size_t kl = key_of(k, h_below(&r, NKEYS));
        size_t vl = h_below(&r, 64) == 0 ? h_range(&r, 64 * 1024, VMAX) : h_range(&r, H_VAL_MIN, 400);
        h_val_make(v, vl, k, kl, ++seq);
        int rc;
        switch (h_below(&r, cache ? 6 : 5)) {
        case 5: rc = shmkv_put_ttl(db, k, kl, v, vl, 1 + h_below(&r, 20)); break;
        case 0: rc = shmkv_del(db, k, kl); break;
        case 1: rc = shmkv_add(db, k, kl, v, vl); break;
        case 2: rc = shmkv_replace(db, k, kl, v, vl); break;
        default: rc = shmkv_put(db, k, kl, v, vl); break;
        }
        if (rc && rc != -ENOENT && rc != -EEXIST) {
            h_note("writer: %s", h_errname(rc));
            atomic_fetch_add(&bad, 1);
        }
    }
    free(v);
    return NULL;
}

static void *reader(void *arg)
{
    h_rng r = h_rng_new((uint64_t)(uintptr_t)arg);
    uint8_t *buf = malloc(VMAX * 8);
    char keys[8][32];
    while (!atomic_load(&stop)) {
        char k[32];
        size_t kl = key_of(k, h_below(&r, NKEYS)), vl;
        int rc = shmkv_get(db, k, kl, buf, VMAX, &vl);
        atomic_fetch_add(&reads, 1);
        if (rc == 0) {
            atomic_fetch_add(&found, 1);
            if (!h_val_check(buf, vl, k, kl, NULL))
                atomic_fetch_add(&bad, 1);
        } else if (rc != -ENOENT) {
            atomic_fetch_add(&bad, 1);
        }
        shmkv_item it[8];
        for (int j = 0; j < 8; j++) {
            it[j].key = keys[j];
            it[j].klen = key_of(keys[j], h_below(&r, NKEYS));
            it[j].buf = buf + (size_t)j * VMAX;
            it[j].cap = VMAX;
        }
        int n = shmkv_get_many(db, it, 8), hits = 0;
        for (int j = 0; j < 8; j++) {
            if (it[j].rc == 0) {
                hits++;
                if (!h_val_check(it[j].buf, it[j].vlen, it[j].key, it[j].klen, NULL))
                    atomic_fetch_add(&bad, 1);
            } else if (it[j].rc != -ENOENT) {
                atomic_fetch_add(&bad, 1);
            }
        }
        if (n != hits)
            atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&batches, 1);
    }
    free(buf);
    return NULL;
}

static int visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    long *n = ctx;
    (*n)++;
    if (!h_val_check(val, vlen, key, klen, NULL))
        atomic_fetch_add(&bad, 1);
    return 0;
}

static void *big_reader(void *arg)
{
    (void)arg;
    uint8_t *buf = malloc(BIG);
    while (!atomic_load(&stop)) {
        size_t vl;
        int rc = shmkv_get(db, "big", 3, buf, BIG, &vl);
        if (rc || vl != BIG || !h_val_check(buf, vl, "big", 3, NULL))
            atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&big_reads, 1);
    }
    free(buf);
    return NULL;
}

static void *iterator(void *arg)
{
    (void)arg;
    long rounds = 0;
    while (!atomic_load(&stop)) {
        long n = 0;
        int rc = shmkv_foreach(db, visit, &n);
        if (rc || n > NKEYS + 1)
            atomic_fetch_add(&bad, 1);
        rounds++;
    }
    return (void *)(intptr_t)rounds;
}

static void *clearer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        h_sleep(0.7);
        if (shmkv_clear(db))
            atomic_fetch_add(&bad, 1);
    }
    return NULL;
}

/* The count holds expired pairs until a writer meets them (shmkv.h): the
 * clearer usually empties the cache after the writers stop, but when its
 * last clear came just before, a pair put with a lifetime that passed is
 * left over, absent to foreach.  So: foreach sees exactly the keys a get
 * finds, and deleting every key (each an -ENOENT for an expired pair, but
 * a write that meets it) takes the count to 0. */
static void check_expired_counted(long visited)
{
    char k[32];
    long gettable = 0, deleted = 0;
    CHECK((uint64_t)visited <= shmkv_count(db));
    for (uint64_t i = 0; i < NKEYS; i++) {
        size_t kl = key_of(k, i), vl;
        int rc = shmkv_get(db, k, kl, NULL, 0, &vl);
        gettable += rc == -ENOBUFS;
        CHECK(rc == -ENOBUFS || rc == -ENOENT);
    }
    CHECK_EQ_INT(gettable, visited);
    for (uint64_t i = 0; i < NKEYS; i++) {
        size_t kl = key_of(k, i);
        int rc = shmkv_del(db, k, kl);
        deleted += rc == 0;
        CHECK(rc == 0 || rc == -ENOENT);
    }
    CHECK_EQ_INT(deleted, visited);
    CHECK_EQ_U64(shmkv_count(db), 0);
}

static void run(bool cache_mode)
{
    char name[64];
    cache = cache_mode;
    atomic_store(&stop, 0);
    atomic_store(&reads, 0), atomic_store(&found, 0), atomic_store(&batches, 0), atomic_store(&big_reads, 0);
    h_name(name, sizeof name, cache ? "threads-cache" : "threads");
    shmkv_options o = {.flags = SHMKV_CREATE | (cache ? SHMKV_CACHE : 0), .max_bytes = cache ? 2u << 20 : 0};
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    pthread_t t[NWRITERS + NREADERS + 2];
    int n = 0;
    if (!cache) {
        uint8_t *big = malloc(BIG);
        h_val_make(big, BIG, "big", 3, 1);
        CHECK_RC(shmkv_put(db, "big", 3, big, BIG), 0);
        free(big);
    }
    pthread_create(&t[n++], NULL, cache ? clearer : big_reader, NULL);
    for (int i = 0; i < NWRITERS; i++)
        pthread_create(&t[n++], NULL, writer, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < NREADERS; i++)
        pthread_create(&t[n++], NULL, reader, (void *)(uintptr_t)(100 + i));
    pthread_create(&t[n++], NULL, iterator, NULL);
    h_sleep(SECONDS);
    atomic_store(&stop, 1);
    void *rounds = NULL;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], i == n - 1 ? &rounds : NULL);
    h_note("%ld gets (%ld found), %ld batches of 8, %ld foreach rounds, %ld reads of 3 MiB, "
           "%ld keys at the end", atomic_load(&reads), atomic_load(&found), atomic_load(&batches),
           (long)(intptr_t)rounds, atomic_load(&big_reads), (long)shmkv_count(db));
    CHECK(cache || atomic_load(&big_reads) > 0);
    CHECK_EQ_INT(atomic_load(&bad), 0);
    CHECK(atomic_load(&found) > 0);
    CHECK(atomic_load(&batches) > 0);
    CHECK_TABLE(db, "after the threads");
    if (cache)
        h_sleep(0.03); /* every lifetime given (20 ms at most) has passed */
    long after = 0;
    CHECK_RC(shmkv_foreach(db, visit, &after), 0);
    if (!cache)
        CHECK_EQ_U64((uint64_t)after, shmkv_count(db));
    else
        check_expired_counted(after);
    size_t vl;
    if (!cache) {
        CHECK_RC(shmkv_get(db, "big", 3, NULL, 0, &vl), -ENOBUFS);
        CHECK_EQ_U64(vl, BIG);
    } else {
        shmkv_stats st;
        CHECK_RC(shmkv_stat(db, &st), 0);
        h_note("cache: %llu evictions, %llu expirations, %llu hits, %llu misses", (unsigned long long)st.evictions,
               (unsigned long long)st.expirations, (unsigned long long)st.hits, (unsigned long long)st.misses);
        CHECK(st.evictions > 0);
    }
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static void store(void)
{
    run(false);
}

static void cache_mode(void)
{
    run(true);
}

static const struct h_part parts[] = {
    { "store", store },
    { "cache", cache_mode },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_threads", parts, H_NPARTS(parts));
}
