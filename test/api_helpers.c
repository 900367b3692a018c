/* api_helpers.c - see api_helpers.h. */
#include "api_helpers.h"

#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

shmkv *open_new(char *name, size_t cap, const char *tag)
{
    return open_with(name, cap, tag, 0, 0);
}

int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

void check_val_at(const char *file, int line, shmkv *db, const void *key, size_t klen,
                  const void *val, size_t vlen)
{
    size_t cap = vlen + 16;
    unsigned char *buf = malloc(cap);
    size_t got = (size_t)-1;
    int rc = shmkv_get(db, key, klen, buf, cap, &got);
    if (rc != 0) {
        h_fail(file, line, "get returned %s, expected 0", h_errname(rc));
    } else if (got != vlen) {
        h_fail(file, line, "get length %zu, expected %zu", got, vlen);
    } else if (vlen && memcmp(buf, val, vlen) != 0) {
        h_fail(file, line, "get returned wrong bytes");
    }
    /* exact capacity */
    got = (size_t)-1;
    rc = shmkv_get(db, key, klen, buf, vlen, &got);
    if (rc != 0 || got != vlen || (vlen && memcmp(buf, val, vlen) != 0))
        h_fail(file, line, "get with cap == vlen: rc %s len %zu", h_errname(rc), got);
    free(buf);

    void *a = NULL;
    got = (size_t)-1;
    rc = shmkv_get_alloc(db, key, klen, &a, &got);
    if (rc != 0) {
        h_fail(file, line, "get_alloc returned %s, expected 0", h_errname(rc));
    } else {
        if (a == NULL)
            h_fail(file, line, "get_alloc gave a NULL pointer");
        else if (got != vlen)
            h_fail(file, line, "get_alloc length %zu, expected %zu", got, vlen);
        else if (vlen && memcmp(a, val, vlen) != 0)
            h_fail(file, line, "get_alloc returned wrong bytes");
    }
    free(a);
}

void check_absent_at(const char *file, int line, shmkv *db, const void *key, size_t klen)
{
    unsigned char buf[8];
    size_t got;
    int rc = shmkv_get(db, key, klen, buf, sizeof buf, &got);
    if (rc != -ENOENT)
        h_fail(file, line, "get of an absent key returned %s", h_errname(rc));
    void *a = NULL;
    rc = shmkv_get_alloc(db, key, klen, &a, &got);
    if (rc != -ENOENT)
        h_fail(file, line, "get_alloc of an absent key returned %s", h_errname(rc));
    if (rc == 0)
        free(a);
}

shmkv *open_with(char *name, size_t cap, const char *tag, unsigned flags, uint64_t max_bytes)
{
    shmkv *db = NULL;
    shmkv_options o = { .flags = SHMKV_CREATE | flags, .max_bytes = max_bytes };
    h_name(name, cap, tag);
    int rc = shmkv_open(name, &o, &db);
    CHECK_RC(rc, 0);
    if (rc != 0) {
        h_note("cannot create a table, giving up");
        exit(h_done());
    }
    return db;
}

shmkv *open_ro(const char *name)
{
    shmkv *ro = NULL;
    shmkv_options o = { .flags = SHMKV_RDONLY };
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    return ro;
}

shmkv *open_fragmented(char *name, size_t cap, const char *tag, int *nmid)
{
    shmkv *db = open_with(name, cap, tag, 0, 2u << 20);
    unsigned char *v = malloc(FRAG_HOLE);
    char k[32];
    int n = 0;
    for (;; n++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "mid-%d", n);
        h_val_make(v, FRAG_HOLE, k, kl, (uint64_t)n);
        int rc = shmkv_put(db, k, kl, v, FRAG_HOLE);
        if (rc) {
            CHECK_RC(rc, -ENOSPC);
            break;
        }
    }
    CHECKF(n > 20, "only %d values of %d bytes fit", n, FRAG_HOLE);
    for (int i = 0; i < n; i += 2) {
        size_t kl = (size_t)snprintf(k, sizeof k, "mid-%d", i);
        CHECK_RC(shmkv_del(db, k, kl), 0);
    }
    free(v);
    *nmid = n;
    return db;
}

void check_ttl_at(const char *file, int line, shmkv *db, const void *key, size_t klen,
                  uint64_t want_ms, uint64_t slack)
{
    uint64_t left = 12345;
    int rc = shmkv_ttl(db, key, klen, &left);
    if (rc != 0)
        h_fail(file, line, "ttl returned %s, expected 0", h_errname(rc));
    else if (want_ms == 0 ? left != 0 : left > want_ms || left + slack < want_ms)
        h_fail(file, line, "ttl %llu ms left, expected %llu (slack %llu)",
               (unsigned long long)left, (unsigned long long)want_ms, (unsigned long long)slack);
}

shmkv_stats stats_of(shmkv *db)
{
    shmkv_stats st;
    memset(&st, 0, sizeof st);
    CHECK_RC(shmkv_stat(db, &st), 0);
    return st;
}

void finish_table_at(const char *file, int line, shmkv *db, const char *name, const char *when)
{
    if (when)
        h_check_table_at(file, line, db, when);
    shmkv_close(db);
    int rc = shmkv_unlink(name);
    if (rc != 0)
        h_fail(file, line, "unlink %s: %s", name, h_errname(rc));
}
